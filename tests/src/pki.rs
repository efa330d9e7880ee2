//! Test certificates made with `openssl`: a CA and the leaf certificates it
//! signs (ECDSA P-256, valid two days, usable as server and client), for
//! OpenFlow over TLS and etcd with client-certificate auth.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Ca {
    pub cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

/// A key and the certificate a [`Ca`] signed for it.
pub struct Leaf {
    pub key: PathBuf,
    pub cert: PathBuf,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req`: a new P-256 key in `key` and, with `extra`, a
/// certificate or request for `subject` in `out`.
fn new_key(key: &Path, out: &Path, subject: &str, extra: &[&str]) {
    let mut args = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(key),
        "-out",
        s(out),
        "-subj",
        subject,
    ];
    args.extend_from_slice(extra);
    openssl(&args);
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

impl Ca {
    /// A self-signed CA named `name`, its files in `dir`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        new_key(
            &key,
            &cert,
            &format!("/CN={name}"),
            &[
                "-x509",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Ca {
            cert,
            key,
            dir: dir.to_path_buf(),
        }
    }

    /// A certificate for `cn`, valid for 127.0.0.1, `ips` and localhost.
    pub fn leaf(&self, cn: &str, ips: &[&str]) -> Leaf {
        self.leaf_subject(cn, &format!("/CN={cn}"), ips)
    }

    /// A certificate with no CommonName (`/O=vepa/OU=name`): what etcd's
    /// JSON gateway accepts from a client (it refuses a CN it cannot use).
    pub fn leaf_without_cn(&self, name: &str, ips: &[&str]) -> Leaf {
        self.leaf_subject(name, &format!("/O=vepa/OU={name}"), ips)
    }

    fn leaf_subject(&self, cn: &str, subject: &str, ips: &[&str]) -> Leaf {
        let (key, cert, csr, ext) = (
            self.dir.join(format!("{cn}.key")),
            self.dir.join(format!("{cn}.crt")),
            self.dir.join(format!("{cn}.csr")),
            self.dir.join(format!("{cn}.ext")),
        );
        new_key(&key, &csr, subject, &["-new"]);
        let mut san = String::from("DNS:localhost,IP:127.0.0.1");
        for ip in ips {
            san.push_str(&format!(",IP:{ip}"));
        }
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName={san}\n"
            ),
        )
        .expect("write extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            s(&csr),
            "-CA",
            s(&self.cert),
            "-CAkey",
            s(&self.key),
            "-CAcreateserial",
            "-out",
            s(&cert),
            "-days",
            "2",
            "-extfile",
            s(&ext),
        ]);
        Leaf { key, cert }
    }
}
