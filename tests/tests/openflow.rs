//! The OpenFlow 1.3 endpoint, driven by real clients against real
//! namespaces: `ovs-ofctl` on the passive listener, an os-ken learning
//! switch on the active connection (both fail modes), and a raw client
//! sending malformed messages.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::pki::{Ca, Leaf};
use vepa_itest::{
    free_port, ping, require_root, sh, tcp_transfer, uid, wait_listening, wait_listening_for,
    wait_reachable, Capture, Netns,
};

/// A daemon with one veb switch whose ports are veths into namespaces
/// (OpenFlow ports 1, 2, 3... in this order).
struct Fixture {
    d: Daemon,
    sw: String,
    ns: Vec<Netns>,
    /// The topology, `@OPENFLOW@` where the switch's openflow table goes.
    topology: String,
}

/// The switch's management socket as ovs-ofctl names it, once it is there.
fn mgmt(f: &Fixture) -> String {
    let path =
        f.d.socket
            .parent()
            .expect("socket dir")
            .join(format!("{}.mgmt", f.sw));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} appears", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    format!("unix:{}", path.display())
}

fn tcp_target(port: u16) -> String {
    format!("tcp:127.0.0.1:{port}")
}

/// A plain TCP listener on loopback, allowed in so many words.
fn plain_tcp(port: u16) -> String {
    format!("{{ listen = \"ptcp:{port}\", allow_plain_tcp = true }}")
}

fn setup(openflow: &str, hosts: usize, net: u8) -> Fixture {
    setup_with(&[], openflow, hosts, net)
}

/// [`setup`] with extra daemon arguments.
fn setup_with(args: &[&str], openflow: &str, hosts: usize, net: u8) -> Fixture {
    let id = uid();
    let sw = format!("o{id}");
    let ns: Vec<Netns> = (0..hosts)
        .map(|i| Netns::new(&format!("of{i}{id}")))
        .collect();
    let mut d = Daemon::start_with(args);
    let mut t = format!("[[switch]]\nname = \"{sw}\"\nmode = \"veb\"\nopenflow = @OPENFLOW@\n");
    for (i, n) in ns.iter().enumerate() {
        let port = format!("p{i}{id}");
        d.links.push(port.clone());
        t.push_str(&format!(
            "[[switch.port]]\nname = \"{port}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.{net}.0.{}/24\"]\n",
            n.name,
            i + 1
        ));
    }
    let f = Fixture {
        d,
        sw,
        ns,
        topology: t,
    };
    f.apply_openflow(openflow)
        .unwrap_or_else(|e| panic!("apply: {e}"));
    f
}

impl Fixture {
    /// Applies the topology with the switch's `openflow` table set to
    /// `openflow`; the CLI's error if refused.
    fn apply_openflow(&self, openflow: &str) -> Result<(), String> {
        let file = self.d.dir.path().join("of.toml");
        std::fs::write(&file, self.topology.replace("@OPENFLOW@", openflow))
            .expect("write topology");
        let out = self.d.cli(&["apply", "-f", file.to_str().expect("path")]);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// `ovs-ofctl -O OpenFlow13 CMD TARGET ARGS...`; the target is the
/// switch's management socket (`unix:PATH`) or a `tcp:` listener.
fn ofctl(target: &str, args: &[&str]) -> Output {
    let mut full = vec!["-O", "OpenFlow13", args[0], target];
    full.extend_from_slice(&args[1..]);
    Command::new("ovs-ofctl")
        .args(&full)
        .output()
        .expect("run ovs-ofctl (openvswitch-common)")
}

fn ofctl_ok(target: &str, args: &[&str]) -> String {
    let o = ofctl(target, args);
    assert!(
        o.status.success(),
        "ovs-ofctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn n_packets(line: &str) -> u64 {
    line.split("n_packets=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn ovs_ofctl_adds_dumps_and_deletes_flows_that_move_real_traffic() {
    require_root();
    let f = setup("{}", 3, 65);
    let of = mgmt(&f);
    let of = of.as_str();
    let (vm1, vm2, mon) = (&f.ns[0], &f.ns[1], &f.ns[2]);
    assert!(
        wait_reachable(&vm1.name, "10.65.0.2"),
        "no flows: a plain switch"
    );

    let show = ofctl_ok(of, &["show"]);
    assert!(show.contains("n_tables:254"), "{show}");
    for i in 0..3 {
        assert!(show.contains(&format!(" {}(p{i}", i + 1)), "{show}");
    }

    // Drop ICMP from vm1 while TCP still passes.
    ofctl_ok(
        of,
        &["add-flow", "priority=100,icmp,in_port=1,actions=drop"],
    );
    assert!(!ping(&vm1.name, "10.65.0.2"), "ICMP from vm1 is dropped");
    assert_eq!(
        tcp_transfer(&vm1.name, &vm2.name, "10.65.0.2", 5301, 100_000),
        100_000,
        "TCP passes"
    );
    let dump = ofctl_ok(of, &["dump-flows"]);
    let line = dump
        .lines()
        .find(|l| l.contains("icmp"))
        .unwrap_or_else(|| panic!("{dump}"));
    assert!(n_packets(line) >= 1, "{line}");

    // Steer a copy of vm1's traffic to the monitor.
    ofctl_ok(
        of,
        &["add-flow", "priority=50,in_port=1,actions=NORMAL,output:3"],
    );
    let cap = Capture::start(&mon.name, "eth0");
    assert_eq!(
        tcp_transfer(&vm1.name, &vm2.name, "10.65.0.2", 5302, 50_000),
        50_000
    );
    let seen = cap.finish();
    let vm1_mac = vm1.mac("eth0");
    let tcp_to_5302 = seen
        .iter()
        .filter(|x| {
            x.len() >= 38
                && x[6..12] == vm1_mac.0
                && x[23] == 6
                && x[36..38] == 5302u16.to_be_bytes()
        })
        .count();
    assert!(
        tcp_to_5302 >= 1,
        "the monitor saw vm1's TCP ({} frames)",
        seen.len()
    );

    // The daemon's own view is the same table.
    let ours = f.d.ok(&["flow", "dump", &f.sw]);
    assert_eq!(ours.lines().count(), 2, "{ours}");
    assert!(ours.contains("priority=100,icmp"), "{ours}");

    let ports = ofctl_ok(of, &["dump-ports"]);
    assert!(ports.contains("3 ports"), "{ports}");
    let agg = ofctl_ok(of, &["dump-aggregate"]);
    assert!(agg.contains("flow_count=2"), "{agg}");

    // del-flows by match, then all.
    ofctl_ok(of, &["del-flows", "icmp"]);
    assert!(wait_reachable(&vm1.name, "10.65.0.2"), "ICMP passes again");
    ofctl_ok(of, &["del-flows"]);
    let dump = ofctl_ok(of, &["dump-flows"]);
    assert_eq!(dump.lines().count(), 1, "only the reply header: {dump}");
    assert!(f.d.ok(&["flow", "dump", &f.sw]).trim().is_empty());

    // A meter: ICMP from vm1 limited to 5 packets/s (burst 2).
    ofctl_ok(
        of,
        &[
            "add-meter",
            "meter=1,pktps,burst,stats,bands=type=drop,rate=5,burst_size=2",
        ],
    );
    ofctl_ok(
        of,
        &[
            "add-flow",
            "priority=10,icmp,in_port=1,actions=meter:1,NORMAL",
        ],
    );
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &vm1.name,
            "ping",
            "-c",
            "20",
            "-i",
            "0.05",
            "-W",
            "1",
            "10.65.0.2",
        ])
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&o.stdout);
    let received: u32 = text
        .split(", ")
        .find_map(|p| p.strip_suffix(" received"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        (2..=12).contains(&received),
        "metered to ~5/s over ~1 s: {text}"
    );
    let stats = ofctl_ok(of, &["meter-stats"]);
    assert!(stats.contains("packet_in_count:20"), "{stats}");
    assert!(
        f.d.ok(&["export"]).contains("meter=1,pktps"),
        "meters are desired state"
    );
}

/// Reads one OpenFlow message (blocking, with the stream's timeout).
fn read_msg(s: &mut TcpStream) -> Option<(vepa_openflow::Header, vepa_openflow::Message)> {
    vepa_itest::read_openflow(s)
}

/// The next ERROR (skipping echo requests), as (xid, type, code).
fn next_error(s: &mut TcpStream) -> (u32, u16, u16) {
    loop {
        let (h, m) = read_msg(s).expect("a reply");
        if let vepa_openflow::Message::Error { err_type, code, .. } = m {
            return (h.xid, err_type, code);
        }
    }
}

#[test]
fn malformed_messages_get_an_error_and_the_connection_survives() {
    use vepa_openflow::err::*;
    use vepa_openflow::Message;
    require_root();
    let of = free_port();
    let f = setup(&plain_tcp(of), 2, 66);
    assert!(wait_listening(of));
    let mut s = TcpStream::connect(("127.0.0.1", of)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let (_, hello) = read_msg(&mut s).expect("the switch's hello");
    assert!(matches!(hello, Message::Hello { .. }));
    s.write_all(
        &Message::Hello {
            versions: Some(vec![1 << 4]),
        }
        .to_bytes(1),
    )
    .expect("hello");

    // A FLOW_MOD cut short (its header says 24 bytes).
    let mut short = vec![4, 14, 0, 24, 0, 0, 0, 7];
    short.extend_from_slice(&[0u8; 16]);
    s.write_all(&short).expect("send");
    assert_eq!(next_error(&mut s), (7, BAD_REQUEST, BAD_REQUEST_BAD_LEN));

    // An unknown message type.
    s.write_all(&[4, 99, 0, 8, 0, 0, 0, 8]).expect("send");
    assert_eq!(next_error(&mut s), (8, BAD_REQUEST, BAD_REQUEST_BAD_TYPE));

    // A match on a field vepa lacks (SCTP destination port).
    let fm = Message::FlowMod(vepa_openflow::FlowMod {
        cookie: 0,
        cookie_mask: 0,
        table_id: 0,
        command: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 1,
        buffer_id: vepa_openflow::NO_BUFFER,
        out_port: vepa_openflow::port::ANY,
        out_group: vepa_openflow::GROUP_ANY,
        flags: 0,
        matcher: vepa_openflow::Match {
            fields: vec![vepa_openflow::Oxm::basic(18, vec![0, 80], None)],
        },
        instructions: vec![],
    });
    s.write_all(&fm.to_bytes(9)).expect("send");
    assert_eq!(next_error(&mut s), (9, BAD_MATCH, BAD_MATCH_BAD_FIELD));

    // A meter band vepa lacks (DSCP remark): drop bands only.
    let remark = vec![0u8, 2, 0, 16, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0];
    let meter = Message::MeterMod {
        command: 0,
        flags: 2,
        meter_id: 1,
        bands: remark,
    };
    s.write_all(&meter.to_bytes(10)).expect("send");
    assert_eq!(
        next_error(&mut s),
        (10, METER_MOD_FAILED, METER_MOD_FAILED_BAD_BAND)
    );

    // Still talking.
    s.write_all(&Message::EchoRequest(b"alive".to_vec()).to_bytes(11))
        .expect("send");
    let (h, m) = read_msg(&mut s).expect("echo reply");
    assert_eq!((h.xid, m), (11, Message::EchoReply(b"alive".to_vec())));

    // A length below the header's: the stream cannot be cut any more, so
    // the switch says why and closes.
    s.write_all(&[4, 2, 0, 4, 0, 0, 0, 12]).expect("send");
    assert_eq!(next_error(&mut s), (12, BAD_REQUEST, BAD_REQUEST_BAD_LEN));
    let mut rest = [0u8; 8];
    assert!(matches!(s.read(&mut rest), Ok(0)), "closed cleanly");

    // The switch still serves others, and nothing was installed.
    let show = ofctl_ok(&tcp_target(of), &["show"]);
    assert!(show.contains("n_tables:254"));
    assert!(f.d.ok(&["flow", "dump", &f.sw]).trim().is_empty());
}

/// An os-ken learning switch listening on loopback `port`, killed on drop.
struct Controller {
    child: Child,
    log: std::path::PathBuf,
}

impl Controller {
    fn start(port: u16, dir: &std::path::Path) -> Controller {
        Controller::start_with(
            port,
            dir,
            &["--ofp-tcp-listen-port".into(), port.to_string()],
        )
    }

    /// os-ken listening for TLS on `port` with `leaf`'s key and
    /// certificate, switches' certificates checked against `ca`.
    fn start_ssl(port: u16, dir: &std::path::Path, leaf: &Leaf, ca: &Ca) -> Controller {
        let p = |x: &std::path::Path| x.display().to_string();
        Controller::start_with(
            port,
            dir,
            &[
                // Its plain listener, unused, kept off 6653.
                "--ofp-tcp-listen-port".into(),
                free_port().to_string(),
                "--ofp-ssl-listen-port".into(),
                port.to_string(),
                "--ctl-privkey".into(),
                p(&leaf.key),
                "--ctl-cert".into(),
                p(&leaf.cert),
                "--ca-certs".into(),
                p(&ca.cert),
            ],
        )
    }

    fn start_with(port: u16, dir: &std::path::Path, args: &[String]) -> Controller {
        let app = concat!(env!("CARGO_MANIFEST_DIR"), "/osken/learning_switch.py");
        let log = dir.join("osken.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = Command::new("osken-manager")
            .args(["--ofp-listen-host", "127.0.0.1"])
            .args(args)
            .arg(app)
            .stdout(Stdio::from(out.try_clone().expect("log")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("run osken-manager (python3-os-ken)");
        assert!(wait_listening(port), "os-ken listens on {port}");
        Controller { child, log }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn packet_ins_for(&self, pair: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("packet in") && l.contains(pair))
            .count()
    }

    fn packet_ins(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("packet in")
            .count()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Runs the learning switch against vepa, then stops it; returns the
/// fixture for the fail-mode checks.
fn controller_drives(fail_mode: &str, net: u8) -> (Fixture, Controller) {
    let cport = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Controller::start(cport, dir.path());
    let f = setup(
        &format!("{{ controller = \"tcp:127.0.0.1:{cport}\", fail_mode = \"{fail_mode}\" }}"),
        3,
        net,
    );
    // The app installs its table-miss flow when the switch connects.
    wait_for("the controller's table-miss flow", || {
        f.d.ok(&["flow", "dump", &f.sw]).contains("CONTROLLER")
    });
    assert!(f.d.ok(&["stats"]).contains("controller connected"));
    let (vm1, vm2) = (&f.ns[0], &f.ns[1]);
    assert!(
        wait_reachable(&vm1.name, &format!("10.{net}.0.2")),
        "vm1 reaches vm2 through the controller"
    );
    assert!(c.packet_ins() >= 2, "the controller saw packet-ins");
    let vm2_mac = vm2.mac("eth0").to_string();
    wait_for("a learned flow", || {
        f.d.ok(&["flow", "dump", &f.sw])
            .contains(&format!("dl_dst={vm2_mac}"))
    });
    // Learned flows carry the pair now: no more packet-ins for it.
    let vm1_mac = vm1.mac("eth0").to_string();
    let pair = format!(" {vm1_mac} {vm2_mac} ");
    let before = c.packet_ins_for(&pair);
    assert!(ping(&vm1.name, &format!("10.{net}.0.2")));
    assert_eq!(
        c.packet_ins_for(&pair),
        before,
        "forwarded by the installed flows"
    );
    c.stop();
    wait_for("the switch to see its controller go", || {
        f.d.ok(&["stats"]).contains("controller not connected")
    });
    std::mem::forget(dir);
    (f, c)
}

#[test]
fn a_controller_drives_the_switch_and_standalone_falls_back_to_normal() {
    require_root();
    if Command::new("osken-manager")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("osken-manager missing: scripts/test.sh installs python3-os-ken");
    }
    let (f, _c) = controller_drives("standalone", 67);
    let vm1 = &f.ns[0];
    // vm3 was never learned; without the controller the switch forwards as
    // a plain one (the flows stay, unused).
    let _ = sh(&[
        "ip", "netns", "exec", &vm1.name, "ip", "neigh", "flush", "all",
    ]);
    assert!(
        wait_reachable(&vm1.name, "10.67.0.3"),
        "standalone: NORMAL forwarding"
    );
    assert!(
        f.d.ok(&["flow", "dump", &f.sw]).contains("CONTROLLER"),
        "the controller's flows stay"
    );
}

#[test]
fn a_controller_drives_the_switch_and_secure_keeps_flows_and_drops_misses() {
    require_root();
    let (f, _c) = controller_drives("secure", 68);
    let vm1 = &f.ns[0];
    // The learned pair still works on its flows...
    assert!(
        ping(&vm1.name, "10.68.0.2"),
        "secure: installed flows keep forwarding"
    );
    // ...a destination no flow covers does not.
    assert!(!ping(&vm1.name, "10.68.0.3"), "secure: misses are dropped");
}

#[test]
fn controller_copies_of_offloaded_tcp_come_as_wire_sized_segments() {
    use vepa_openflow::Message;
    require_root();
    let of = free_port();
    let f = setup(&plain_tcp(of), 2, 69);
    assert!(wait_listening(of));
    let (vm1, vm2) = (&f.ns[0], &f.ns[1]);
    assert!(wait_reachable(&vm1.name, "10.69.0.2"));
    let mut s = TcpStream::connect(("127.0.0.1", of)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    read_msg(&mut s).expect("hello");
    s.write_all(
        &Message::Hello {
            versions: Some(vec![1 << 4]),
        }
        .to_bytes(1),
    )
    .expect("hello");
    ofctl_ok(
        &tcp_target(of),
        &[
            "add-flow",
            "priority=100,tcp,in_port=1,actions=NORMAL,CONTROLLER:65535",
        ],
    );
    // A bulk transfer: vm1's stack hands the switch 64 KiB super-frames.
    assert_eq!(
        tcp_transfer(&vm1.name, &vm2.name, "10.69.0.2", 5401, 300_000),
        300_000
    );
    let mut sizes = Vec::new();
    while let Some((_, m)) = read_msg(&mut s) {
        if let Message::PacketIn(p) = m {
            sizes.push(p.data.len());
        }
    }
    assert!(
        sizes.len() > 50,
        "packet-ins for the transfer: {}",
        sizes.len()
    );
    let largest = sizes.iter().max().copied().unwrap_or(0);
    assert!(
        largest <= 1514,
        "every copy is wire-sized; the largest was {largest} bytes"
    );
}

/// `ovs-ofctl` as another user (`setpriv`): uid nobody, group `gid`,
/// supplementary `groups` (none if empty).
fn ofctl_as(gid: u32, groups: &str, target: &str, args: &[&str]) -> Output {
    vepa_itest::as_nobody(gid, groups)
        .args(["ovs-ofctl", "-O", "OpenFlow13", args[0], target])
        .args(&args[1..])
        .output()
        .expect("setpriv ovs-ofctl")
}

/// The management socket serves root and the daemon's group, whatever its
/// file mode says; a flow ovs-ofctl was told is done survives kill -9;
/// plain TCP is loopback-only and opt-in, and flagged when it is on; TLS
/// channels need the daemon's TLS files.
#[test]
fn the_management_socket_serves_root_and_the_group_and_plain_tcp_is_opt_in() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    require_root();
    let mut f = setup_with(&["--group", "1"], "{}", 2, 70);
    let target = mgmt(&f);
    let path = std::path::PathBuf::from(target.trim_start_matches("unix:"));
    let meta = std::fs::metadata(&path).expect("management socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), 1);
    // Loosen the modes on the way: the daemon's own check must refuse.
    std::fs::set_permissions(f.d.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let o = ofctl_as(65534, "", &target, &["add-flow", "priority=5,actions=drop"]);
    assert!(!o.status.success(), "nobody is refused");
    assert!(f.d.log().contains("refused a peer"), "{}", f.d.log());
    for (gid, groups) in [(1, ""), (65534, "1")] {
        let o = ofctl_as(gid, groups, &target, &["dump-flows"]);
        assert!(
            o.status.success(),
            "group 1 ({gid}/{groups}): {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        f.d.ok(&["flow", "dump", &f.sw]).trim().is_empty(),
        "nothing added"
    );

    // ovs-ofctl add-flow waits for its barrier: once answered, the flow is
    // stored, and a kill -9 right after does not lose it.
    ofctl_ok(&target, &["add-flow", "priority=77,icmp,actions=drop"]);
    f.d.kill9();
    f.d.launch();
    assert!(f.d.ok(&["flow", "dump", &f.sw]).contains("priority=77"));
    let target = mgmt(&f);
    assert!(ofctl_ok(&target, &["dump-flows"]).contains("priority=77"));

    // Plain TCP: never beyond loopback, on loopback only when allowed;
    // TLS only with the daemon's files. Each refused by field, nothing
    // changed.
    let port = free_port();
    for (spec, want) in [
        (
            format!("{{ listen = \"ptcp:{port}:0.0.0.0\", allow_plain_tcp = true }}"),
            "anyone who reaches it",
        ),
        (format!("{{ listen = \"ptcp:{port}\" }}"), "allow_plain_tcp"),
        (
            format!("{{ listen = \"pssl:{port}\" }}"),
            "--openflow-private-key",
        ),
        (
            "{ controller = \"ssl:127.0.0.1:6653\" }".to_string(),
            "--openflow-certificate",
        ),
    ] {
        let err = f.apply_openflow(&spec).expect_err(&spec);
        assert!(
            err.contains("openflow.") && err.contains(want),
            "{spec}: {err}"
        );
    }
    assert!(!wait_listening_for(port, Duration::from_millis(300)));
    f.apply_openflow(&plain_tcp(port)).expect("opted in");
    assert!(wait_listening(port));
    // (The file has no flows: applying it removed priority=77.)
    assert!(ofctl_ok(&tcp_target(port), &["show"]).contains("n_tables:254"));
    let show = f.d.ok(&["switch", "show"]);
    assert!(
        show.contains(&format!("ptcp:127.0.0.1:{port} (UNAUTHENTICATED")),
        "{show}"
    );
    assert!(
        show.contains(&format!("punix:{}", path.display())),
        "{show}"
    );
    assert!(f.d.log().contains("UNAUTHENTICATED"));
}

/// pssl: and ssl: as ovs-ofctl and os-ken use them: certificates from the
/// daemon's CA both ways; a client whose certificate another CA signed is
/// refused.
#[test]
fn openflow_over_tls_takes_certificates_from_the_ca_only() {
    require_root();
    let pki = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new(pki.path(), "fabric-ca");
    let (vepa, ofctl, osken) = (
        ca.leaf("vepa", &[]),
        ca.leaf("ofctl", &[]),
        ca.leaf("osken", &[]),
    );
    let rogue_ca = Ca::new(pki.path(), "rogue-ca");
    let rogue = rogue_ca.leaf("rogue", &[]);
    let p = |x: &std::path::Path| x.display().to_string();
    let port = free_port();
    let f = setup_with(
        &[
            "--openflow-private-key",
            &p(&vepa.key),
            "--openflow-certificate",
            &p(&vepa.cert),
            "--openflow-ca-cert",
            &p(&ca.cert),
        ],
        &format!("{{ listen = \"pssl:{port}\" }}"),
        2,
        71,
    );
    assert!(wait_listening(port));
    let ssl = format!("ssl:127.0.0.1:{port}");
    let ofctl_tls = |leaf: &Leaf, args: &[&str]| {
        Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13"])
            .arg(format!("--private-key={}", p(&leaf.key)))
            .arg(format!("--certificate={}", p(&leaf.cert)))
            .arg(format!("--ca-cert={}", p(&ca.cert)))
            .args([args[0], &ssl])
            .args(&args[1..])
            .output()
            .expect("ovs-ofctl")
    };
    let o = ofctl_tls(&ofctl, &["add-flow", "priority=9,arp,actions=NORMAL"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = ofctl_tls(&ofctl, &["dump-flows"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("priority=9"));
    let o = ofctl_tls(&rogue, &["add-flow", "priority=66,actions=drop"]);
    assert!(!o.status.success(), "another CA's client is refused");
    assert!(f.d.log().contains("TLS handshake refused"), "{}", f.d.log());
    assert!(!f.d.ok(&["flow", "dump", &f.sw]).contains("priority=66"));
    // Strangers holding TCP connections open without a handshake take no
    // session slot, and the management socket has slots of its own.
    let idle: Vec<TcpStream> = (0..20)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(ofctl_ok(&mgmt(&f), &["show"]).contains("n_tables:254"));
    drop(idle);

    // os-ken over TLS: vepa dials it with its certificate and checks
    // os-ken's against the CA; the learning switch then forwards.
    let cport = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let _c = Controller::start_ssl(cport, dir.path(), &osken, &ca);
    f.apply_openflow(&format!(
        "{{ listen = \"pssl:{port}\", controller = \"ssl:127.0.0.1:{cport}\" }}"
    ))
    .expect("apply");
    wait_for("the controller's table-miss flow over TLS", || {
        f.d.ok(&["flow", "dump", &f.sw]).contains("CONTROLLER")
    });
    assert!(f.d.ok(&["stats"]).contains("controller connected"));
    assert!(
        wait_reachable(&f.ns[0].name, "10.71.0.2"),
        "vm1 reaches vm2 through the controller"
    );
    // A controller whose certificate another CA signed is not obeyed.
    let rport = free_port();
    let rdir = tempfile::tempdir().expect("tempdir");
    let mut r = Controller::start_ssl(rport, rdir.path(), &rogue, &ca);
    f.apply_openflow(&format!(
        "{{ listen = \"pssl:{port}\", controller = \"ssl:127.0.0.1:{rport}\" }}"
    ))
    .expect("apply");
    wait_for("vepa to refuse the rogue controller", || {
        f.d.log().contains("controller TLS handshake failed")
    });
    assert!(f.d.ok(&["stats"]).contains("controller not connected"));
    assert_eq!(r.packet_ins(), 0);
    r.stop();
}
