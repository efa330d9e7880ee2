//! A real etcd (Debian's `etcd-server`) of a test's own: in a namespace
//! the test made, on an address there, its data in a temporary directory;
//! stopped, started again on the same data, and killed on drop.

use crate::pki::{Ca, Leaf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Etcd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub netns: String,
    pub ip: String,
    pub port: u16,
    tls: Option<EtcdTls>,
    /// `user:password` etcdctl uses once auth is on.
    root: Option<String>,
}

/// etcd with TLS on its client port and client certificates required
/// (`--client-cert-auth`): its CA, its own certificate, and the one
/// etcdctl presents.
pub struct EtcdTls {
    pub ca: std::path::PathBuf,
    pub server: Leaf,
    pub admin: Leaf,
}

impl EtcdTls {
    /// A CA in `dir` and etcd's and etcdctl's certificates (etcd's valid for `ip`).
    pub fn new(dir: &std::path::Path, ip: &str) -> (Ca, EtcdTls) {
        let ca = Ca::new(dir, "etcd-ca");
        let tls = EtcdTls {
            ca: ca.cert.clone(),
            server: ca.leaf("etcd-server", &[ip]),
            admin: ca.leaf("etcd-admin", &[]),
        };
        (ca, tls)
    }
}

impl Etcd {
    /// Starts etcd in `netns`, listening for clients on `ip:port` (and its
    /// peer port on the namespace's loopback), and waits until it answers.
    pub fn start(netns: &str, ip: &str, port: u16) -> Etcd {
        Etcd::start_with(netns, ip, port, None)
    }

    /// [`Etcd::start`] with TLS and client certificates required.
    pub fn start_with(netns: &str, ip: &str, port: u16, tls: Option<EtcdTls>) -> Etcd {
        let mut e = Etcd {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            netns: netns.to_string(),
            ip: ip.to_string(),
            port,
            tls,
            root: None,
        };
        e.launch();
        e
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.ip, self.port)
    }

    /// The RBAC layout the README gives: every host's user may write its
    /// own key `PREFIX/hosts/HOST` and read the whole prefix; then auth is
    /// turned on (etcdctl goes on as root).
    pub fn enable_rbac(&mut self, prefix: &str, hosts: &[(&str, &str)]) {
        let ok = |e: &Etcd, args: &[&str]| {
            let out = e.etcdctl(args).output().expect("etcdctl");
            assert!(
                out.status.success(),
                "etcdctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ok(
            self,
            &[
                "user",
                "add",
                "root",
                "--new-user-password",
                "rootpw",
                "--interactive=false",
            ],
        );
        ok(self, &["user", "grant-role", "root", "root"]);
        ok(self, &["role", "add", "vepa-read"]);
        ok(
            self,
            &[
                "role",
                "grant-permission",
                "vepa-read",
                "--prefix=true",
                "read",
                &format!("{prefix}/"),
            ],
        );
        for (user, password) in hosts {
            let role = format!("vepa-host-{user}");
            ok(
                self,
                &[
                    "user",
                    "add",
                    user,
                    "--new-user-password",
                    password,
                    "--interactive=false",
                ],
            );
            ok(self, &["role", "add", &role]);
            ok(
                self,
                &[
                    "role",
                    "grant-permission",
                    &role,
                    "readwrite",
                    &format!("{prefix}/hosts/{user}"),
                ],
            );
            ok(self, &["user", "grant-role", user, &role]);
            ok(self, &["user", "grant-role", user, "vepa-read"]);
        }
        ok(self, &["auth", "enable"]);
        self.root = Some("root:rootpw".into());
    }

    /// `etcdctl` as `user:password` (no root), for what a rogue host tries.
    pub fn etcdctl_as(&self, user: &str, args: &[&str]) -> std::process::Output {
        let mut c = self.etcdctl_base();
        c.args(["--user", user]).args(args);
        c.output().expect("etcdctl")
    }

    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "etcd already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .expect("log");
        let url = self.url();
        let peer = format!("http://127.0.0.1:{}", self.port + 1);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns, "etcd"]);
        if let Some(t) = &self.tls {
            cmd.arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--cert-file")
                .arg(&t.server.cert)
                .arg("--key-file")
                .arg(&t.server.key);
        }
        let child = cmd
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("t={peer}")])
            .env("ETCD_UNSUPPORTED_ARCH", "")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd (Debian's etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.healthy() {
            assert!(
                Instant::now() < deadline,
                "etcd did not come up in 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `etcdctl ARGS` in the namespace, against this etcd (as root once
    /// auth is on).
    fn etcdctl(&self, args: &[&str]) -> Command {
        let mut c = self.etcdctl_base();
        if let Some(root) = &self.root {
            c.args(["--user", root]);
        }
        c.args(args);
        c
    }

    fn etcdctl_base(&self) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, "etcdctl", "--endpoints"])
            .arg(self.url())
            .env("ETCDCTL_API", "3");
        if let Some(t) = &self.tls {
            c.arg("--cacert")
                .arg(&t.ca)
                .arg("--cert")
                .arg(&t.admin.cert)
                .arg("--key")
                .arg(&t.admin.key);
        }
        c
    }

    /// `etcdctl endpoint health` in the namespace.
    pub fn healthy(&self) -> bool {
        self.etcdctl(&["--dial-timeout", "1s", "endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops etcd (SIGKILL: what an outage looks like to clients).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// Keys under `prefix`, as etcdctl lists them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .etcdctl(&["get", "--prefix", "--keys-only", prefix])
            .output()
            .expect("etcdctl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
