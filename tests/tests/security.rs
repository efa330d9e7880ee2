//! The channels that steer vepa refuse whoever is not allowed: vhost-user
//! sockets stay in their directory and serve only their group, and an
//! apply cannot silently undo changes it never saw.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, uid};

/// Connects to a vhost-user socket as `uid`/`gid` (with supplementary
/// `groups`, none if empty), sends GET_FEATURES and says how many bytes of
/// answer came back, or `closed` when the daemon hung up unanswered.
fn vhost_user_answer(socket: &std::path::Path, gid: u32, groups: &str) -> String {
    let py = "import socket,struct,sys\n\
              s=socket.socket(socket.AF_UNIX)\n\
              s.settimeout(5)\n\
              try:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print('connect', e.errno); sys.exit()\n\
              try:\n s.sendall(struct.pack('<III',1,1,0))\n d=s.recv(64)\n print(len(d) if d else 'closed')\nexcept (ConnectionResetError, BrokenPipeError):\n print('closed')\n";
    let out = vepa_itest::as_nobody(gid, groups)
        .args(["/usr/bin/python3", "-c", py])
        .arg(socket)
        .output()
        .expect("setpriv python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn vhost_user_sockets_stay_in_their_directory_and_names_stay_names() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let sw = format!("vs{id}");
    d.ok(&["switch", "add", &sw]);
    let victim_dir = tempfile::tempdir().expect("tempdir");
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("victim");
    let before = d.topology();
    let add = |socket: &str| {
        d.fails(&[
            "port",
            "add",
            &sw,
            &format!("vp{id}"),
            "--type",
            "vhost-user",
            "--vhost-socket",
            socket,
        ])
    };
    // Outside the daemon's vhost-user directory: refused, by field.
    let err = add(&victim.display().to_string());
    assert!(
        err.contains("socket") && err.contains("outside the daemon's vhost-user directory"),
        "{err}"
    );
    // Inside it by text, out of it by `..`.
    let dotdot = format!("{}/../vepa.sock", d.vhost_dir().display());
    let err = add(&dotdot);
    assert!(err.contains("socket") && err.contains("'..'"), "{err}");
    // A switch named `..` (its default socket dir would be the parent),
    // a port name with '/': refused by field.
    let file = d.dir.path().join("dotdot.toml");
    std::fs::write(
        &file,
        "[[switch]]\nname = \"..\"\n[[switch.port]]\nname = \"vepa\"\ntype = \"vhost-user\"\n",
    )
    .expect("write");
    let err = d.fails(&["apply", "-f", file.to_str().expect("path")]);
    assert!(
        err.contains("switch '..'") && err.contains("name") && err.contains("'..'"),
        "{err}"
    );
    let err = d.fails(&["port", "add", &sw, "a/b", "--type", "vhost-user"]);
    assert!(err.contains("name") && err.contains("'/'"), "{err}");
    // A file (not a socket) where a port's socket goes is not replaced.
    let squatter_dir = d.vhost_dir().join(&sw);
    std::fs::create_dir_all(&squatter_dir).expect("mkdir");
    let squatter = squatter_dir.join(format!("vq{id}.sock"));
    std::fs::write(&squatter, "not a socket").expect("squatter");
    let err = d.fails(&[
        "port",
        "add",
        &sw,
        &format!("vq{id}"),
        "--type",
        "vhost-user",
    ]);
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&squatter).expect("squatter kept"),
        "not a socket"
    );
    // A switch directory others can write in: a socket there could be
    // swapped for a link before it is chmod'ed, so no port is made there.
    let loose = d.vhost_dir().join(format!("vl{id}"));
    std::fs::create_dir_all(&loose).expect("mkdir");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    d.ok(&["switch", "add", &format!("vl{id}")]);
    let err = d.fails(&[
        "port",
        "add",
        &format!("vl{id}"),
        &format!("vm{id}"),
        "--type",
        "vhost-user",
    ]);
    assert!(err.contains("only root can write"), "{err}");
    d.ok(&["switch", "del", &format!("vl{id}")]);
    // Nothing changed; the victim and the API socket are untouched.
    assert_eq!(d.topology()["switch"], before["switch"]);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim kept"),
        "precious"
    );
    assert!(d.socket.exists());
    // Under the directory, by default or named: served.
    d.ok(&[
        "port",
        "add",
        &sw,
        &format!("vd{id}"),
        "--type",
        "vhost-user",
    ]);
    let named = d.vhost_dir().join(format!("n{id}.sock"));
    d.ok(&[
        "port",
        "add",
        &sw,
        &format!("vn{id}"),
        "--type",
        "vhost-user",
        "--vhost-socket",
        named.to_str().expect("path"),
    ]);
    for s in [squatter_dir.join(format!("vd{id}.sock")), named] {
        let m = std::fs::metadata(&s).expect("socket made");
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
    }
}

/// QEMU's group may connect guests and do nothing else; others may not
/// even when the socket's mode lets them reach it.
#[test]
fn vhost_user_peers_outside_the_vhost_group_are_refused() {
    require_root();
    let id = uid();
    // Group 1 steers the daemon; group 2 only connects guests.
    let d = Daemon::start_with(&["--group", "1", "--vhost-group", "2"]);
    let sw = format!("vg{id}");
    d.ok(&["switch", "add", &sw]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &format!("vg{id}"),
        "--type",
        "vhost-user",
    ]);
    let socket = d.vhost_dir().join(&sw).join(format!("vg{id}.sock"));
    let meta = std::fs::metadata(&socket).expect("vhost-user socket");
    assert_eq!(meta.gid(), 2);
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    // Loosen every mode on the way: the daemon's own check must refuse.
    for p in [
        d.dir.path().to_path_buf(),
        d.vhost_dir(),
        d.vhost_dir().join(&sw),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    assert_eq!(
        vhost_user_answer(&socket, 65534, ""),
        "closed",
        "nobody is hung up on, unanswered"
    );
    assert_eq!(
        vhost_user_answer(&socket, 1, ""),
        "closed",
        "the API's group is not the vhost-user group"
    );
    assert!(d.log().contains("refused a peer"), "{}", d.log());
    // The vhost group, primary or supplementary: answered (header + u64).
    assert_eq!(vhost_user_answer(&socket, 2, ""), "20");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(vhost_user_answer(&socket, 65534, "2"), "20");
    // ...but the vhost group does not get the API.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = vepa_itest::as_nobody(2, "")
        .arg(vepa_itest::vepa_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["switch", "add", "intruder"])
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("403"), "{err}");
}

#[test]
fn an_apply_of_an_old_export_is_refused_unless_forced() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let sw = format!("ga{id}");
    d.ok(&["switch", "add", &sw]);
    let exported = d.ok(&["export"]);
    assert!(exported.starts_with("generation = "), "{exported}");
    let file = d.dir.path().join("export.toml");
    std::fs::write(&file, &exported).expect("write");
    let path = file.to_str().expect("path");
    // The export applies as is: nothing changed since.
    let out = d.ok(&["apply", "-f", path]);
    assert!(out.contains("no change"), "{out}");
    // A flow added since (as a controller would): the old export would
    // drop it, so it is refused, naming the field, and nothing changes.
    d.ok(&["flow", "add", &sw, "priority=7,icmp,actions=drop"]);
    let mut edited = exported.clone();
    edited.push_str(&format!("\n[[switch]]\nname = \"gb{id}\"\n"));
    std::fs::write(&file, &edited).expect("write");
    let err = d.fails(&["apply", "-f", path]);
    assert!(
        err.contains("409") && err.contains("generation") && err.contains("--force"),
        "{err}"
    );
    let flows = d.ok(&["flow", "dump", &sw]);
    assert!(flows.contains("priority=7"), "{flows}");
    assert!(!d.ok(&["switch", "show"]).contains(&format!("gb{id}")));
    // --force applies it: the flow is gone, the new switch is there.
    d.ok(&["apply", "-f", path, "--force"]);
    let flows = d.ok(&["flow", "dump", &sw]);
    assert!(!flows.contains("priority=7"), "{flows}");
    assert!(d.ok(&["switch", "show"]).contains(&format!("gb{id}")));
    // A file without a generation (hand-written) applies as before.
    let hand = exported
        .lines()
        .filter(|l| !l.starts_with("generation"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&file, hand).expect("write");
    d.ok(&["apply", "-f", path]);
    assert!(!d.ok(&["switch", "show"]).contains(&format!("gb{id}")));
}

/// The daemon's TLS, etcd and vhost-user flags: each mistake is refused at
/// start with the flag named, before anything is made.
#[test]
fn bad_channel_flags_are_refused_by_name() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = vepa_itest::pki::Ca::new(dir.path(), "flags-ca");
    let leaf = pki.leaf("flags", &[]);
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a PEM file\n").expect("write");
    let (ca, cert, key, junk) = (
        pki.cert.display().to_string(),
        leaf.cert.display().to_string(),
        leaf.key.display().to_string(),
        junk.display().to_string(),
    );
    let state = dir.path().join("state").display().to_string();
    let socket = dir.path().join("s.sock").display().to_string();
    // A daemon on a plain-http etcd, plus what each case adds.
    let http = |more: &[&'static str]| -> Vec<String> {
        [
            "--etcd",
            "http://192.0.2.1:2379",
            "--underlay-ip",
            "192.0.2.2",
        ]
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .collect()
    };
    let owned = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
    let of_tls = |k: &str, c: &str, a: &str| {
        owned(&[
            "--openflow-private-key",
            k,
            "--openflow-certificate",
            c,
            "--openflow-ca-cert",
            a,
        ])
    };
    let etcd_tls = [
        "--etcd-cacert".to_string(),
        ca.clone(),
        "--etcd-cert".into(),
        cert.clone(),
        "--etcd-key".into(),
        key.clone(),
    ];
    let cases: Vec<(Vec<String>, &str)> = vec![
        (owned(&["--vhost-user-dir", "run/vu"]), "--vhost-user-dir"),
        (
            owned(&["--vhost-user-dir", "/run/../etc"]),
            "--vhost-user-dir",
        ),
        (
            owned(&["--vhost-group", "no-such-group-x"]),
            "--vhost-group",
        ),
        (
            owned(&["--openflow-private-key", &key]),
            "--openflow-certificate",
        ),
        (of_tls(&junk, &cert, &ca), "--openflow-private-key"),
        (of_tls(&key, &cert, &junk), "--openflow-ca-cert"),
        (
            owned(&[
                "--etcd",
                "https://192.0.2.1:2379",
                "--underlay-ip",
                "192.0.2.2",
            ]),
            "--etcd-cacert",
        ),
        (
            [http(&[]), etcd_tls.to_vec()].concat(),
            "every endpoint must be https://",
        ),
        (http(&["--etcd-user", "h1"]), "--etcd-password-file"),
        (
            [
                http(&["--etcd-user", "h1", "--etcd-password-file"]),
                vec![ca.clone()],
            ]
            .concat(),
            "in the clear",
        ),
    ];
    for (args, want) in cases {
        let out = Command::new(vepa_itest::vepa_bin())
            .args(["--socket", &socket, "daemon", "--state-dir", &state])
            .args(&args)
            .output()
            .expect("vepa daemon");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: wanted {want}: {err}"
        );
        assert!(
            !std::path::Path::new(&socket).exists(),
            "{args:?}: nothing served"
        );
    }
}
