//! IP filtering with real traffic.
//!
//! - A differential test: the same two-subnet scenario built (a) with a
//!   Linux namespace as the router (`ip_forward`, nftables forward rules)
//!   and (b) with vepa's router and an ACL; one table of probes (ping, TCP
//!   to an open and a filtered port, UDP, traceroute by UDP and ICMP,
//!   IPv4 and IPv6) must give the same results on both, and the results
//!   the rules call for.
//! - Connection tracking: return traffic of an allowed connection passes
//!   with no rule for it; unsolicited traffic back does not; a full table
//!   refuses new connections (counted) while existing ones go on.
//! - Anti-spoofing: a VM that changes its IP or MAC, or forges an ARP
//!   reply for another VM's address, reaches nobody with it, and the drop
//!   is counted on its port; rogue router advertisements and DHCP server
//!   replies are dropped too.
//! - A port ACL that rejects: the client gets a reset at once.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::topo::TwoSubnetsSpec;
use vepa_itest::{
    in_netns, ns_sh, ping, require_root, send_frames, sh, uid, wait_reachable, Netns,
};
use vepa_packet::MacAddr;

const RULES: [&str; 5] = [
    "allow state established,related",
    "allow tcp src 10.72.1.0/24 dst 10.72.2.0/24 dport 80",
    "allow icmp src 10.72.1.0/24 dst 10.72.2.0/24",
    "allow tcp src fd72:1::/64 dst fd72:2::/64 dport 80",
    "allow icmp6 src fd72:1::/64 dst fd72:2::/64",
];

/// The same policy for the kernel's router.
const NFT: &str = r#"
table inet vepa_test {
  chain forward_filter {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ip saddr 10.72.1.0/24 ip daddr 10.72.2.0/24 tcp dport 80 accept
    ip saddr 10.72.1.0/24 ip daddr 10.72.2.0/24 meta l4proto icmp accept
    ip6 saddr fd72:1::/64 ip6 daddr fd72:2::/64 tcp dport 80 accept
    ip6 saddr fd72:1::/64 ip6 daddr fd72:2::/64 meta l4proto ipv6-icmp accept
  }
}
"#;

/// TCP listeners on 80 and 22 and a UDP echo on 53, in a namespace, until dropped.
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Servers {
    fn start(ns: &str) -> Servers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for port in [80u16, 22] {
            let stop = Arc::clone(&stop);
            threads.push(in_netns(ns, move || {
                let l = TcpListener::bind(("::", port)).expect("listen");
                l.set_nonblocking(true).expect("nonblocking");
                let mut open = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((s, _)) = l.accept() {
                        open.push(s);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }));
        }
        let stop2 = Arc::clone(&stop);
        threads.push(in_netns(ns, move || {
            let u = UdpSocket::bind(("::", 53)).expect("udp");
            u.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
            let mut buf = [0u8; 512];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(&buf[..n], from);
                }
            }
        }));
        std::thread::sleep(Duration::from_millis(100));
        Servers { stop, threads }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn tcp_ok(ns: &str, to: &str) -> bool {
    let addr: SocketAddr = to.parse().expect("address");
    in_netns(ns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(1500)).is_ok()
    })
    .join()
    .unwrap_or(false)
}

fn udp_answered(ns: &str, to: &str) -> bool {
    let addr: SocketAddr = to.parse().expect("address");
    in_netns(ns, move || {
        let u = UdpSocket::bind(if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .expect("udp");
        u.set_read_timeout(Some(Duration::from_millis(1200)))
            .expect("timeout");
        let _ = u.send_to(b"probe", addr);
        let mut buf = [0u8; 16];
        u.recv_from(&mut buf).is_ok()
    })
    .join()
    .unwrap_or(false)
}

/// Each hop as "N ADDRESS" or "N *".
fn traceroute(ns: &str, ip: &str, icmp: bool) -> Vec<String> {
    let mut args = vec![
        "netns",
        "exec",
        ns,
        "traceroute",
        "-n",
        "-q",
        "1",
        "-w",
        "1",
        "-m",
        "3",
    ];
    if icmp {
        args.push("-I");
    }
    if ip.contains(':') {
        args.push("-6");
    }
    args.push(ip);
    let out = Command::new("ip").args(&args).output().expect("traceroute");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// The probe table, run from A (and B for the unsolicited direction).
fn probes(a: &str, b: &str) -> Vec<(&'static str, String)> {
    let yes = |v: bool| v.to_string();
    vec![
        ("ping A->B", yes(ping(a, "10.72.2.2"))),
        ("ping B->A", yes(ping(b, "10.72.1.2"))),
        ("tcp A->B:80", yes(tcp_ok(a, "10.72.2.2:80"))),
        ("tcp A->B:22", yes(tcp_ok(a, "10.72.2.2:22"))),
        ("tcp B->A:80", yes(tcp_ok(b, "10.72.1.2:80"))),
        ("udp A->B:53", yes(udp_answered(a, "10.72.2.2:53"))),
        (
            "traceroute udp",
            traceroute(a, "10.72.2.2", false).join(", "),
        ),
        (
            "traceroute icmp",
            traceroute(a, "10.72.2.2", true).join(", "),
        ),
        ("ping6 A->B", yes(ping(a, "fd72:2::2"))),
        ("ping6 B->A", yes(ping(b, "fd72:1::2"))),
        ("tcp6 A->B:80", yes(tcp_ok(a, "[fd72:2::2]:80"))),
        ("tcp6 A->B:22", yes(tcp_ok(a, "[fd72:2::2]:22"))),
        ("udp6 A->B:53", yes(udp_answered(a, "[fd72:2::2]:53"))),
        (
            "traceroute6 icmp",
            traceroute(a, "fd72:2::2", true).join(", "),
        ),
    ]
}

fn expected() -> Vec<(&'static str, String)> {
    [
        ("ping A->B", "true"),
        ("ping B->A", "false"),
        ("tcp A->B:80", "true"),
        ("tcp A->B:22", "false"),
        ("tcp B->A:80", "false"),
        ("udp A->B:53", "false"),
        ("traceroute udp", "1 10.72.1.1, 2 *, 3 *"),
        ("traceroute icmp", "1 10.72.1.1, 2 10.72.2.2"),
        ("ping6 A->B", "true"),
        ("ping6 B->A", "false"),
        ("tcp6 A->B:80", "true"),
        ("tcp6 A->B:22", "false"),
        ("udp6 A->B:53", "false"),
        ("traceroute6 icmp", "1 fd72:1::1, 2 fd72:2::2"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

/// Waits up to three seconds for `f` (counters are published a few times a second).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// (a) The kernel: a namespace routes between A and B, nftables filters.
fn kernel_probes(id: &str) -> Vec<(&'static str, String)> {
    let (a, b, r) = (
        Netns::new(&format!("kfa{id}")),
        Netns::new(&format!("kfb{id}")),
        Netns::new(&format!("kfr{id}")),
    );
    sh(&[
        "ip", "-n", &a.name, "link", "add", "eth0", "type", "veth", "peer", "name", "lana",
        "netns", &r.name,
    ]);
    sh(&[
        "ip", "-n", &b.name, "link", "add", "eth0", "type", "veth", "peer", "name", "lanb",
        "netns", &r.name,
    ]);
    ns_sh(
        &r.name,
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && \
        ip addr add 10.72.1.1/24 dev lana && ip addr add 10.72.2.1/24 dev lanb && \
        ip addr add fd72:1::1/64 dev lana nodad && ip addr add fd72:2::1/64 dev lanb nodad && \
        ip link set lana up && ip link set lanb up",
    );
    for (ns, four, six, gw4, gw6) in [
        (
            &a.name,
            "10.72.1.2/24",
            "fd72:1::2/64",
            "10.72.1.1",
            "fd72:1::1",
        ),
        (
            &b.name,
            "10.72.2.2/24",
            "fd72:2::2/64",
            "10.72.2.1",
            "fd72:2::1",
        ),
    ] {
        ns_sh(ns, &format!("ip addr add {four} dev eth0 && ip addr add {six} dev eth0 nodad && \
            ip link set eth0 up && ip route add default via {gw4} && ip -6 route add default via {gw6}"));
    }
    let nft = Command::new("ip")
        .args(["netns", "exec", &r.name, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(NFT.as_bytes())?;
            c.wait()
        })
        .expect("nft");
    assert!(nft.success(), "nftables ruleset");
    assert!(wait_reachable(&a.name, "10.72.2.2"), "kernel: A reaches B");
    assert!(
        wait_reachable(&a.name, "fd72:2::2"),
        "kernel: A reaches B over IPv6"
    );
    let _servers = (Servers::start(&a.name), Servers::start(&b.name));
    probes(&a.name, &b.name)
}

/// Two switches and a router with `acl` (a TOML table) between them:
/// A (10.72.1.0/24) and B (10.72.2.0/24), their VMs in namespaces
/// `vfa{id}` and `vfb{id}`, the router [`router`]`(id)`.
fn vepa_net(id: &str, acl: &str) -> (Daemon, Netns, Netns) {
    let n = TwoSubnetsSpec {
        tag: "vf",
        net: 72,
        mtu_b: None,
        extra: acl,
        port_a: "",
    }
    .build(id);
    debug_assert_eq!(n.router, router(id));
    (n.d, n.a, n.b)
}

/// The router of [`vepa_net`]`(id, ..)`.
fn router(id: &str) -> String {
    format!("vfr{id}")
}

/// Switch B of [`vepa_net`]`(id, ..)`.
fn switch_b(id: &str) -> String {
    format!("vfsb{id}")
}

fn router_acl(id: &str, extra: &str) -> String {
    let rules: Vec<String> = RULES.iter().map(|r| format!("  \"{r}\",")).collect();
    format!(
        "[[acl]]\nname = \"fw{id}\"\nrouter = \"{}\"\ndefault = \"drop\"\n{extra}rules = [\n{}\n]\n",
        router(id),
        rules.join("\n")
    )
}

#[test]
fn kernel_and_vepa_filter_alike() {
    require_root();
    let id = uid();
    let kernel = kernel_probes(&id);
    let (d, a, b) = vepa_net(&id, &router_acl(&id, ""));
    // ICMP from A to B is allowed, so reachability can be awaited.
    assert!(wait_reachable(&a.name, "10.72.2.2"), "vepa: A reaches B");
    assert!(
        wait_reachable(&a.name, "fd72:2::2"),
        "vepa: A reaches B over IPv6"
    );
    let ours = {
        let _servers = (Servers::start(&a.name), Servers::start(&b.name));
        probes(&a.name, &b.name)
    };
    assert_eq!(ours, kernel, "vepa (left) and the kernel (right) differ");
    assert_eq!(ours, expected(), "the rules' intent");
    // Every rule that should have matched did, and the default dropped the rest.
    let acl = d.json(&["acl", "show", &format!("fw{id}")]);
    let rules = acl["rules"].as_array().cloned().unwrap_or_default();
    assert!(
        rules.iter().all(|r| r["packets"].as_u64().unwrap_or(0) > 0),
        "{acl}"
    );
    assert!(acl["default_packets"].as_u64().unwrap_or(0) > 0, "{acl}");
    assert_eq!(acl["stateful"], true);
}

#[test]
fn conntrack_allows_replies_refuses_strangers_and_counts_a_full_table() {
    require_root();
    let id = uid();
    let (d, a, b) = vepa_net(&id, &router_acl(&id, "conntrack_limit = 6\n"));
    let _servers = (Servers::start(&a.name), Servers::start(&b.name));
    assert!(wait_reachable(&a.name, "10.72.2.2"));
    let zone = format!("router {}", router(&id));
    d.ok(&["conntrack", "flush", &zone]);
    // An allowed connection: its replies come back with no rule for them,
    // and data flows both ways.
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<bool>();
    let holder = in_netns(&a.name, move || {
        use std::io::{Read, Write};
        let mut conns = Vec::new();
        for _ in 0..6 {
            if let Ok(s) = TcpStream::connect_timeout(
                &"10.72.2.2:80".parse().expect("addr"),
                Duration::from_secs(2),
            ) {
                conns.push(s);
            }
        }
        let _ = ready_tx.send(conns.len() == 6);
        let _ = held_rx.recv();
        // The tracked connections still carry data.
        let mut ok = true;
        for s in &mut conns {
            ok &= s.write_all(b"ping").is_ok();
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut b = [0u8; 4];
            let _ = s.read(&mut b);
        }
        ok
    });
    assert!(
        ready_rx.recv().unwrap_or(false),
        "six connections through a six-entry table"
    );
    let z = &d.json(&["conntrack", "show", &zone])[0];
    assert_eq!(z["connections"].as_array().map(Vec::len), Some(6), "{z}");
    assert!(
        z["connections"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["state"] == "established")),
        "{z}"
    );
    // Full: a seventh connection is refused and counted.
    assert!(!tcp_ok(&a.name, "10.72.2.2:80"), "table full");
    let r = d.json(&["router", "show", &router(&id)]);
    assert!(
        r["counters"]["drops"]["conntrack_full"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{r}"
    );
    let z = &d.json(&["conntrack", "show", &zone])[0];
    assert!(z["full_drops"].as_u64().unwrap_or(0) >= 1, "{z}");
    let _ = held_tx.send(());
    assert!(
        holder.join().unwrap_or(false),
        "existing connections continue"
    );
    // Unsolicited from B: dropped, whatever the table holds.
    d.ok(&["conntrack", "flush"]);
    assert!(!tcp_ok(&b.name, "10.72.1.2:80"), "B may not open to A");
    assert!(!ping(&b.name, "10.72.1.2"), "nor ping A");
    assert!(
        tcp_ok(&a.name, "10.72.2.2:80"),
        "room again after the flush"
    );
}

/// Three VMs on one switch, each guarded (bound to its MAC and address).
#[test]
fn spoofed_sources_forged_arp_and_rogue_servers_are_dropped_and_counted() {
    require_root();
    let id = uid();
    let ns: Vec<Netns> = (1..=3).map(|i| Netns::new(&format!("gs{i}{id}"))).collect();
    let ports: Vec<String> = (1..=3).map(|i| format!("gs{i}{id}")).collect();
    let mut d = Daemon::start();
    d.links = ports.clone();
    let sw = format!("gs{id}");
    let mut text = format!("[[switch]]\nname = \"{sw}\"\n");
    for i in 0..3 {
        text.push_str(&format!(
            "[[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\nmac = \"02:47:00:00:00:0{}\"\naddress = [\"10.73.0.{}/24\", \"fd73::{}/64\"]\nguard = true\n",
            ports[i],
            ns[i].name,
            i + 1,
            i + 1,
            i + 1
        ));
    }
    let file = d.dir.path().join("guard.toml");
    std::fs::write(&file, text).expect("write");
    d.ok(&["apply", "-f", file.to_str().expect("path")]);
    let (n1, n3) = (&ns[0].name, &ns[2].name);
    assert!(
        wait_reachable(n1, "10.73.0.2"),
        "guarded VMs talk with their own addresses"
    );
    assert!(
        wait_reachable(n1, "fd73::3"),
        "and over IPv6 (ND passes the guard)"
    );
    let drops = |d: &Daemon, reason: &str| -> u64 {
        let s = d.json(&["stats"]);
        s["ports"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["port"] == ports[0].as_str()))
            .and_then(|p| p["drops"][reason].as_u64())
            .unwrap_or(0)
    };

    // vm1 takes another address: nobody hears it.
    ns_sh(n1, "ip addr add 10.73.0.77/24 dev eth0");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            n1,
            "ping",
            "-c",
            "2",
            "-W",
            "1",
            "-I",
            "10.73.0.77",
            "10.73.0.2",
        ])
        .output()
        .expect("ping");
    assert!(!out.status.success(), "a spoofed source reaches nobody");
    assert!(
        drops(&d, "spoofed_ip") + drops(&d, "spoofed_arp") > 0,
        "counted"
    );
    ns_sh(n1, "ip addr del 10.73.0.77/24 dev eth0");
    // The same with IPv6 (nodad: the address is usable at once).
    ns_sh(n1, "ip addr add fd73::77/64 dev eth0 nodad");
    let before6 = drops(&d, "spoofed_ip");
    let out = Command::new("ip")
        .args([
            "netns", "exec", n1, "ping", "-6", "-c", "2", "-W", "1", "-I", "fd73::77", "fd73::2",
        ])
        .output()
        .expect("ping");
    assert!(
        !out.status.success(),
        "a spoofed IPv6 source reaches nobody"
    );
    assert!(eventually(|| drops(&d, "spoofed_ip") > before6), "counted");
    ns_sh(n1, "ip addr del fd73::77/64 dev eth0");

    // vm1 changes its MAC: nothing it sends gets through.
    ns_sh(
        n1,
        "ip link set eth0 address 02:47:00:00:00:99 && ip neigh flush dev eth0",
    );
    assert!(!ping(n1, "10.73.0.2"), "a spoofed MAC reaches nobody");
    assert!(eventually(|| drops(&d, "spoofed_mac") > 0));
    ns_sh(n1, "ip link set eth0 address 02:47:00:00:00:01");
    assert!(wait_reachable(n1, "10.73.0.2"), "back to its own MAC");

    // vm1 forges an ARP reply telling vm3 that vm2's address is at vm1's MAC.
    ns_sh(n3, "ip neigh flush dev eth0");
    let before = drops(&d, "spoofed_arp");
    let vm1 = MacAddr([2, 0x47, 0, 0, 0, 1]);
    let vm3 = MacAddr([2, 0x47, 0, 0, 0, 3]);
    let mut forged = Vec::new();
    vepa_packet::ip::write_ethernet(&mut forged, vm3, vm1, 0x0806);
    forged.extend_from_slice(&vepa_packet::ip::arp(
        2,
        vm1,
        [10, 73, 0, 2].into(),
        vm3,
        [10, 73, 0, 3].into(),
    ));
    send_frames(n1, "eth0", vec![forged.clone(), forged]);
    std::thread::sleep(Duration::from_millis(200));
    let neigh = sh(&["ip", "-n", n3, "neigh", "show", "10.73.0.2"]);
    assert!(
        !String::from_utf8_lossy(&neigh.stdout).contains("02:47:00:00:00:01"),
        "vm3's cache was not poisoned"
    );
    assert!(eventually(|| drops(&d, "spoofed_arp") >= before + 2));
    assert!(ping(n3, "10.73.0.2"), "vm3 still reaches the real vm2");

    // A router advertisement and a DHCP server reply from vm1: dropped, counted.
    let ra = {
        let src: std::net::Ipv6Addr = "fe80::47:1".parse().expect("ip");
        let dst: std::net::Ipv6Addr = "ff02::1".parse().expect("ip");
        let m = vepa_packet::ip::icmpv6(src, dst, 134, 0, [64, 0, 0x07, 0x08], &[0; 8]);
        let mut f = Vec::new();
        vepa_packet::ip::write_ethernet(&mut f, MacAddr([0x33, 0x33, 0, 0, 0, 1]), vm1, 0x86dd);
        vepa_packet::ip::push_ipv6(&mut f, src, dst, 58, 255, &m);
        f
    };
    let offer = {
        let mut udp = vec![0, 67, 0, 68, 0, 8 + 240, 0, 0];
        udp.extend_from_slice(&[0u8; 240]);
        let mut f = Vec::new();
        vepa_packet::ip::write_ethernet(&mut f, MacAddr::BROADCAST, vm1, 0x0800);
        vepa_packet::ip::push_ipv4(
            &mut f,
            [10, 73, 0, 1].into(),
            [255, 255, 255, 255].into(),
            17,
            64,
            1,
            &udp,
        );
        f
    };
    send_frames(n1, "eth0", vec![ra, offer]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(eventually(
        || drops(&d, "rogue_ra") >= 1 && drops(&d, "rogue_dhcp") >= 1
    ));
}

#[test]
fn a_port_acl_rejects_with_a_reset_and_filters_both_ways() {
    require_root();
    let id = uid();
    let (mut d, a, b) = vepa_net(&id, "");
    let _servers = (Servers::start(&a.name), Servers::start(&b.name));
    assert!(wait_reachable(&a.name, "10.72.2.2"));
    let port = format!("{}/vfb{id}", switch_b(&id));
    // What reaches B's VM: web only, SSH refused with a reset.
    d.ok(&[
        "acl",
        "add",
        &format!("in{id}"),
        "--port",
        &port,
        "--direction",
        "out",
        "--default",
        "drop",
        "allow state established,related",
        "allow tcp dport 80",
        "reject tcp dport 22",
        "allow icmp",
        "allow icmp6",
    ]);
    assert!(tcp_ok(&a.name, "10.72.2.2:80"));
    let started = std::time::Instant::now();
    let refused = {
        let addr: SocketAddr = "10.72.2.2:22".parse().expect("addr");
        in_netns(&a.name, move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.kind())
        })
        .join()
        .expect("probe")
    };
    assert_eq!(
        refused.err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "a reset, not a timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        !udp_answered(&a.name, "10.72.2.2:53"),
        "UDP falls to the default"
    );
    assert!(ping(&a.name, "10.72.2.2"));
    // B's own connections out come back (the out list sees their replies as established).
    assert!(tcp_ok(&b.name, "10.72.1.2:80"));
    let acl = d.json(&["acl", "show", &format!("in{id}")]);
    assert_eq!(acl["place"], format!("port {port} out"));
    assert!(
        acl["rules"][2]["packets"].as_u64().unwrap_or(0) >= 1,
        "{acl}"
    );
    // Rules can go at run time: without the reject, SSH times out under the default.
    d.ok(&["acl", "del", &format!("in{id}"), "--rule", "3"]);
    assert!(!tcp_ok(&a.name, "10.72.2.2:22"));
    // Durable: in the export (which applies as no change), back after a restart.
    let export = d.export_reapplies();
    assert!(
        export.contains("[[acl]]") && !export.contains("reject"),
        "{export}"
    );
    d.stop();
    d.launch();
    assert!(
        wait_reachable(&a.name, "10.72.2.2"),
        "ICMP allowed after the restart"
    );
    assert!(
        !tcp_ok(&a.name, "10.72.2.2:22"),
        "the list is back in force"
    );
    assert!(tcp_ok(&a.name, "10.72.2.2:80"));
    // Bad input names the field and changes nothing.
    let before = d.topology();
    for (args, want) in [
        (
            vec!["acl", "add", "x", "--port", "nosuch/p", "allow"],
            "no switch 'nosuch'",
        ),
        (
            vec![
                "acl",
                "add",
                "x",
                "--port",
                &format!("{}/ghost", switch_b(&id)),
                "allow",
            ],
            "has no port 'ghost'",
        ),
        (
            vec!["acl", "add", "x", "--router", "ghost", "allow"],
            "no router 'ghost'",
        ),
        (
            vec!["acl", "add", &format!("in{id}"), "allow tcp dport 99999"],
            "dport '99999'",
        ),
        (
            vec![
                "acl",
                "add",
                "x",
                "--port",
                &port,
                "--direction",
                "out",
                "allow",
            ],
            "filters there already",
        ),
        (
            vec!["acl", "del", &format!("in{id}"), "--rule", "9"],
            "no rule 9",
        ),
    ] {
        let err = d.fails(&args);
        assert!(err.contains(want), "{args:?}: {err} (wanted {want})");
    }
    assert_eq!(d.topology(), before);
}
