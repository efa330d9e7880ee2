//! The daemon as systemd runs it from dist/vepa.service, without systemd
//! being PID 1 here: under the unit's NoNewPrivileges and capability
//! bounding set (setpriv applies both, read from the unit file), with a
//! NOTIFY_SOCKET of the test's own. READY=1 arrives only once the API
//! socket answers; the confined daemon makes a switch, a namespace, veth
//! and tap ports, and forwards pings; SIGTERM sends STOPPING=1.

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use vepa_itest::daemon::{http_on, Daemon};
use vepa_itest::{netns_exists, ping, require_root, sh_quiet, uid, wait_reachable, Netns};

fn unit() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/vepa.service");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The value of `key=` in the unit (the last one, as systemd takes it).
fn directive(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
}

/// setpriv's arguments for the unit's NoNewPrivileges= and CapabilityBoundingSet=.
fn confinement(unit: &str) -> Vec<String> {
    let mut wrap = vec!["setpriv".to_string()];
    if directive(unit, "NoNewPrivileges").as_deref() == Some("yes") {
        wrap.push("--no-new-privs".into());
    }
    let caps = directive(unit, "CapabilityBoundingSet").expect("the unit bounds capabilities");
    let mut set = String::from("-all");
    for c in caps.split_whitespace() {
        let c = c.strip_prefix("CAP_").expect("CAP_ names");
        set += &format!(",+{}", c.to_ascii_lowercase());
    }
    wrap.extend(["--bounding-set".into(), set, "--".into()]);
    wrap
}

/// What the test's notify socket heard: each message, and for READY=1
/// whether the API socket named in its STATUS answered at that moment.
enum Heard {
    Ready {
        socket: PathBuf,
        answered: Option<u16>,
    },
    Other(String),
}

fn listen(notify: UnixDatagram, tx: mpsc::Sender<Heard>) {
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    while let Ok(n) = notify.recv(&mut buf) {
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        let heard = if msg.lines().any(|l| l == "READY=1") {
            let socket = msg
                .lines()
                .find_map(|l| l.strip_prefix("STATUS=serving on "))
                .map(PathBuf::from)
                .unwrap_or_default();
            // Asked at once, before anything else runs in the test.
            let answered = UnixStream::connect(&socket)
                .ok()
                .and_then(|s| http_on(s, "GET", "/v1/switches", None, None).ok())
                .map(|(status, _)| status);
            Heard::Ready { socket, answered }
        } else {
            Heard::Other(msg)
        };
        if tx.send(heard).is_err() {
            return;
        }
    }
}

#[test]
fn the_unit_confines_the_daemon_and_ready_means_the_socket_answers() {
    require_root();
    let unit = unit();
    assert_eq!(directive(&unit, "Type").as_deref(), Some("notify"));
    let id = uid();
    let dir = tempfile::tempdir().expect("tempdir");
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || listen(notify, tx));

    let wrap = confinement(&unit);
    let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
    let notify_env = notify_path.to_string_lossy().into_owned();
    let mut d = Daemon::start_wrapped(&wrap, &[("NOTIFY_SOCKET", &notify_env)], &[]);

    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Heard::Ready { socket, answered }) => {
            assert_eq!(socket, d.socket, "READY names the API socket");
            assert_eq!(answered, Some(200), "the socket answered when READY=1 came");
        }
        Ok(Heard::Other(m)) => panic!("the first notification is not READY=1: {m:?}"),
        Err(e) => panic!("no READY=1 from the daemon ({e}):\n{}", d.log()),
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid().expect("pid")))
        .expect("daemon status");
    assert!(
        status.lines().any(|l| l == "NoNewPrivs:\t1"),
        "the daemon runs with no_new_privs"
    );

    // Confined, it still does its job: a namespace of its own making, veth
    // ports in namespaces, a VM's tap, forwarding.
    let vm1 = Netns::new(&format!("sva{id}"));
    let vm2 = format!("svb{id}");
    let sw = format!("s{id}");
    let (p1, p2, tap) = (format!("s1{id}"), format!("s2{id}"), format!("st{id}"));
    d.links = vec![p1.clone(), p2.clone(), tap.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    for (p, ns, ip) in [
        (&p1, &vm1.name, "10.63.0.1/24"),
        (&p2, &vm2, "10.63.0.2/24"),
    ] {
        d.ok(&[
            "port",
            "add",
            &sw,
            p,
            "--type",
            "veth",
            "--netns",
            ns,
            "--address",
            ip,
        ]);
    }
    d.ok(&["port", "add", &sw, &tap, "--type", "tap"]);
    assert!(
        netns_exists(&vm2),
        "the confined daemon made namespace {vm2}"
    );
    assert!(
        wait_reachable(&vm1.name, "10.63.0.2"),
        "the confined daemon forwards:\n{}",
        d.log()
    );
    assert!(ping(&vm2, "10.63.0.1"));

    // Everything it made goes with an empty topology; then SIGTERM.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").expect("empty topology");
    d.ok(&["apply", "-f", empty.to_str().expect("path")]);
    d.stop();
    let mut stopping = false;
    while let Ok(h) = rx.recv_timeout(Duration::from_secs(5)) {
        if let Heard::Other(m) = h {
            stopping |= m.lines().any(|l| l == "STOPPING=1");
        }
    }
    assert!(stopping, "SIGTERM: STOPPING=1 sent");
    if netns_exists(&vm2) {
        sh_quiet(&["ip", "netns", "del", &vm2]);
    }
}
