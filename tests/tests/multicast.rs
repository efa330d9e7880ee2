//! IGMP/MLD snooping with real hosts. Three VMs (namespaces) on a switch
//! whose uplink leads to a "router" namespace that sends the queries (the
//! querier) and a multicast stream; two VMs join 239.1.1.1 and ff3e::1
//! with the kernel's own IGMPv3/MLDv2 (`ip addr add ... autojoin`), the
//! third does not. What each VM receives is counted, on vepa and on the
//! Linux bridge with `multicast_snooping` (unregistered groups not
//! flooded: `mcast_flood off` on its ports), and the two matrices must be
//! the same and the expected one. A VM's leave takes effect at once (the
//! bridge's ports get `fastleave`, which is what vepa does on VM ports).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, send_frames, sh, uid, Capture, Netns};
use vepa_packet::ip::{icmpv6, push_ipv4, push_ipv6, udp_datagram, write_ethernet};
use vepa_packet::{EtherType, MacAddr};

const ROUTER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0x88, 0xfe]);
const G4: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
const UNREGISTERED: Ipv4Addr = Ipv4Addr::new(239, 9, 9, 9);

fn g6() -> Ipv6Addr {
    "ff3e::1".parse().expect("ff3e::1")
}

fn mac_of_v4(g: Ipv4Addr) -> MacAddr {
    let o = g.octets();
    MacAddr([0x01, 0, 0x5e, o[1] & 0x7f, o[2], o[3]])
}

fn mac_of_v6(g: Ipv6Addr) -> MacAddr {
    let o = g.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// A UDP datagram to an IPv4 group, carrying `marker`.
fn udp4(src_mac: MacAddr, src: Ipv4Addr, group: Ipv4Addr, marker: &str) -> Vec<u8> {
    let mut f = Vec::new();
    write_ethernet(&mut f, mac_of_v4(group), src_mac, EtherType::IPV4);
    let udp = udp_datagram(src.into(), group.into(), 5000, 5001, marker.as_bytes());
    push_ipv4(&mut f, src, group, 17, 8, 1, &udp);
    f
}

fn udp6(src_mac: MacAddr, group: Ipv6Addr, marker: &str) -> Vec<u8> {
    let src: Ipv6Addr = "fd88::fe".parse().expect("src");
    let mut f = Vec::new();
    write_ethernet(&mut f, mac_of_v6(group), src_mac, EtherType::IPV6);
    let udp = udp_datagram(src.into(), group.into(), 5000, 5001, marker.as_bytes());
    push_ipv6(&mut f, src, group, 17, 8, &udp);
    f
}

/// The router's IGMPv2 and MLDv1 general queries.
fn queries() -> Vec<Vec<u8>> {
    let all = Ipv4Addr::new(224, 0, 0, 1);
    let mut q4 = Vec::new();
    write_ethernet(&mut q4, mac_of_v4(all), ROUTER_MAC, EtherType::IPV4);
    // Max response 1 s: a snooping switch counts the querier as heard once
    // that has passed (the hosts have reported by then).
    let igmp = vepa_packet::igmp::igmp_message(0x11, 10, Ipv4Addr::UNSPECIFIED, &[]);
    push_ipv4(&mut q4, Ipv4Addr::new(10, 88, 0, 254), all, 2, 1, 2, &igmp);
    let (src, dst): (Ipv6Addr, Ipv6Addr) = (
        "fe80::88fe".parse().expect("src"),
        "ff02::1".parse().expect("dst"),
    );
    let mut q6 = Vec::new();
    write_ethernet(&mut q6, mac_of_v6(dst), ROUTER_MAC, EtherType::IPV6);
    let mld = icmpv6(src, dst, 130, 0, [0x03, 0xe8, 0, 0], &[0; 16]);
    // MLD rides behind a hop-by-hop header with the router alert (RFC
    // 2710); the Linux bridge ignores an MLD query without one.
    let mut hbh = vec![58, 0, 5, 2, 0, 0, 1, 0];
    hbh.extend_from_slice(&mld);
    push_ipv6(&mut q6, src, dst, 0, 1, &hbh);
    vec![q4, q6]
}

/// Frames in `got` that carry `marker`.
fn count(got: &[Vec<u8>], marker: &str) -> usize {
    got.iter()
        .filter(|f| f.windows(marker.len()).any(|w| w == marker.as_bytes()))
        .count()
}

/// The hosts of one run: VMs `vms` (each with `eth0` on the switch) and
/// the router namespace (`eth0` on the uplink).
struct Hosts<'a> {
    vms: [&'a Netns; 3],
    router: &'a Netns,
}

/// How many of each stream's 10 frames each VM received.
type Matrix = Vec<(String, [usize; 3])>;

/// Queries, joins, streams, a leave: the delivery matrix.
fn run(h: &Hosts<'_>, tag: &str) -> Matrix {
    for ns in h.vms.iter().chain([&h.router]) {
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"]);
    }
    send_frames(&h.router.name, "eth0", queries());
    std::thread::sleep(Duration::from_millis(300));
    for vm in &h.vms[..2] {
        vm.exec(&[
            "ip",
            "addr",
            "add",
            "239.1.1.1/32",
            "dev",
            "eth0",
            "autojoin",
        ]);
        vm.exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            "ff3e::1/128",
            "dev",
            "eth0",
            "autojoin",
        ]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let vm3_mac = h.vms[2].mac("eth0");
    let mut matrix = Matrix::new();
    // Each stream: 10 UDP datagrams with a marker of their own, counted in
    // each VM.
    let mut stream = |name: &str, from: &Netns, frame: &dyn Fn(&str) -> Vec<u8>| {
        let marker = format!("mc-{tag}-{}", matrix.len());
        let caps: Vec<Capture> = h
            .vms
            .iter()
            .map(|v| Capture::start(&v.name, "eth0"))
            .collect();
        send_frames(&from.name, "eth0", vec![frame(&marker); 10]);
        std::thread::sleep(Duration::from_millis(300));
        let got: Vec<usize> = caps
            .into_iter()
            .map(|c| count(&c.finish(), &marker))
            .collect();
        matrix.push((name.to_string(), [got[0], got[1], got[2]]));
    };
    let router_ip = Ipv4Addr::new(10, 88, 0, 254);
    let (router, vm3) = (h.router, h.vms[2]);
    stream("router -> 239.1.1.1", router, &|m| {
        udp4(ROUTER_MAC, router_ip, G4, m)
    });
    stream("router -> ff3e::1", router, &|m| udp6(ROUTER_MAC, g6(), m));
    let vm3_ip = Ipv4Addr::new(10, 88, 0, 3);
    stream("vm3 -> 239.1.1.1", vm3, &|m| udp4(vm3_mac, vm3_ip, G4, m));
    stream("router -> 239.9.9.9 (no member)", router, &|m| {
        udp4(ROUTER_MAC, router_ip, UNREGISTERED, m)
    });
    // vm2 leaves (an IGMPv2 leave: the hosts answer the router's v2 query
    // in kind).
    h.vms[1].exec(&["ip", "addr", "del", "239.1.1.1/32", "dev", "eth0"]);
    std::thread::sleep(Duration::from_millis(500));
    stream("router -> 239.1.1.1 after vm2 left", router, &|m| {
        udp4(ROUTER_MAC, router_ip, G4, m)
    });
    matrix
}

fn expected() -> Matrix {
    [
        ("router -> 239.1.1.1", [10, 10, 0]),
        ("router -> ff3e::1", [10, 10, 0]),
        ("vm3 -> 239.1.1.1", [10, 10, 0]),
        ("router -> 239.9.9.9 (no member)", [0, 0, 0]),
        ("router -> 239.1.1.1 after vm2 left", [10, 0, 0]),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect()
}

fn topology(sw: &str, mode: &str, id: &str, names: &[String; 4], ns: &[&Netns; 4]) -> String {
    let mut t = format!(
        "[[switch]]\nname = \"{sw}\"\nmode = \"{mode}\"\n[switch.multicast]\n\
         [switch.uplink]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\nmac = \"{ROUTER_MAC}\"\n",
        names[3], ns[3].name
    );
    for i in 0..3 {
        t += &format!(
            "[[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.88.0.{}/24\", \"fd88::{}/64\"]\n",
            names[i],
            ns[i].name,
            i + 1,
            i + 1
        );
    }
    let _ = id;
    t
}

/// A daemon with switch `{prefix}{id}` in `mode` (its `[switch.multicast]`
/// table given `multicast` too), three VMs and the router namespace.
fn vepa_hosts(
    prefix: &str,
    mode: &str,
    multicast: &str,
) -> (Daemon, String, Vec<Netns>, [String; 4]) {
    let id = uid();
    let mut d = Daemon::start();
    let sw = format!("{prefix}{id}");
    let names = ["a", "b", "c", "r"].map(|t| format!("{prefix}{t}{id}"));
    let ns: Vec<Netns> = names.iter().map(|n| Netns::new(n)).collect();
    d.links = names.to_vec();
    let refs = [&ns[0], &ns[1], &ns[2], &ns[3]];
    let text = topology(&sw, mode, &id, &names, &refs).replace(
        "[switch.multicast]\n",
        &format!("[switch.multicast]\n{multicast}"),
    );
    let file = d.dir.path().join("mc.toml");
    std::fs::write(&file, text).expect("topology");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    (d, sw, ns, names)
}

fn vepa_run(mode: &str) -> (Matrix, u64) {
    let (d, sw, ns, names) = vepa_hosts("mc", mode, "");
    let id = &sw[2..];
    let hosts = Hosts {
        vms: [&ns[0], &ns[1], &ns[2]],
        router: &ns[3],
    };
    let m = run(&hosts, &format!("v{mode}{id}"));
    // `vepa mdb show` names what is left: vm1's membership and the router.
    let mdb = d.json(&["mdb", "show", &sw]);
    let rows: Vec<(String, String, String)> = mdb
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["group"].as_str().unwrap_or("").to_string(),
                r["port"].as_str().unwrap_or("").to_string(),
                r["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for want in [
        ("239.1.1.1", &names[0], "member"),
        ("ff3e::1", &names[0], "member"),
        ("ff3e::1", &names[1], "member"),
        ("router", &names[3], "router"),
        ("router", &names[3], "router (static)"),
    ] {
        assert!(
            rows.iter()
                .any(|(g, p, k)| g == want.0 && p == want.1 && k == want.2),
            "{want:?} not in {rows:?}"
        );
    }
    assert!(
        !rows
            .iter()
            .any(|(g, p, _)| g == "239.1.1.1" && p == &names[1]),
        "vm2 left: {rows:?}"
    );
    // A report that does not read is dropped and counted.
    let mut bad = udp4(
        hosts.vms[2].mac("eth0"),
        Ipv4Addr::new(10, 88, 0, 3),
        Ipv4Addr::new(224, 0, 0, 22),
        "x",
    );
    bad[14 + 9] = 2; // IGMP, with a UDP body: its checksum does not hold
    bad[14 + 10] = 0;
    bad[14 + 11] = 0;
    let ck = vepa_packet::checksum::finish(vepa_packet::checksum::sum_words(0, &bad[14..34]));
    bad[24..26].copy_from_slice(&ck.to_be_bytes());
    send_frames(&hosts.vms[2].name, "eth0", vec![bad]);
    std::thread::sleep(Duration::from_millis(600));
    let stats = d.json(&["stats"]);
    let bad_count = stats["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"] == names[2].as_str())
        .and_then(|p| p["drops"]["bad_group_message"].as_u64())
        .unwrap_or(0);
    (m, bad_count)
}

#[test]
fn snooping_delivers_a_group_to_its_members_as_the_linux_bridge_does() {
    require_root();
    let (vepa, bad) = vepa_run("veb");
    assert_eq!(vepa, expected(), "vepa's delivery matrix");
    assert_eq!(bad, 1, "the unreadable IGMP message is counted");

    // The Linux bridge, the same hosts and frames.
    let id = uid();
    let br = Netns::new(&format!("mcB{id}"));
    let ns: Vec<Netns> = ["a", "b", "c", "r"]
        .iter()
        .map(|t| Netns::new(&format!("mL{t}{id}")))
        .collect();
    br.exec(&[
        "ip",
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "1",
    ]);
    for (i, n) in ns.iter().enumerate() {
        let p = format!("p{i}");
        br.exec(&[
            "ip", "link", "add", &p, "type", "veth", "peer", "name", "eth0", "netns", &n.name,
        ]);
        br.exec(&["ip", "link", "set", &p, "master", "br0", "up"]);
        if i < 3 {
            // vepa's VM ports leave at once (one host behind each), as the
            // bridge's fastleave ports do.
            br.exec(&[
                "bridge",
                "link",
                "set",
                "dev",
                &p,
                "mcast_flood",
                "off",
                "fastleave",
                "on",
            ]);
            n.exec(&[
                "ip",
                "addr",
                "add",
                &format!("10.88.0.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
        } else {
            n.exec(&[
                "ip",
                "link",
                "set",
                "eth0",
                "address",
                &ROUTER_MAC.to_string(),
            ]);
        }
        n.exec(&["ip", "link", "set", "eth0", "up"]);
    }
    br.exec(&["ip", "link", "set", "br0", "up"]);
    let hosts = Hosts {
        vms: [&ns[0], &ns[1], &ns[2]],
        router: &ns[3],
    };
    let linux = run(&hosts, &format!("l{id}"));
    assert_eq!(linux, expected(), "the Linux bridge's delivery matrix");
    assert_eq!(vepa, linux);
    let _ = sh(&["true"]);
}

#[test]
fn a_private_switch_delivers_no_group_traffic_between_its_vms() {
    require_root();
    let (m, _) = vepa_run("private");
    // From the router: members only, as on veb; between VMs: nothing.
    let vm_to_vm = m
        .iter()
        .find(|(n, _)| n == "vm3 -> 239.1.1.1")
        .expect("stream");
    assert_eq!(vm_to_vm.1, [0, 0, 0], "{m:?}");
    let from_router = m
        .iter()
        .find(|(n, _)| n == "router -> 239.1.1.1")
        .expect("stream");
    assert_eq!(from_router.1, [10, 10, 0], "{m:?}");
}

#[test]
fn the_switch_s_own_querier_lets_snooping_filter_where_no_router_queries() {
    require_root();
    // No namespace queries here: the switch does.
    let (d, sw, ns, names) = vepa_hosts("mq", "veb", "querier = true\nquery_interval_secs = 5\n");
    let id = &sw[2..];
    let started = std::time::Instant::now();
    let cap = Capture::start(&ns[2].name, "eth0");
    for vm in &ns[..2] {
        vm.exec(&[
            "ip",
            "addr",
            "add",
            "239.1.1.1/32",
            "dev",
            "eth0",
            "autojoin",
        ]);
    }
    // The querier listens for an interval (5 s) first, then queries every
    // 5 s asking for answers within 2.5 s; snooping filters from then on.
    std::thread::sleep(Duration::from_secs(12).saturating_sub(started.elapsed()));
    let queries = cap
        .finish()
        .iter()
        .filter(|f| f.len() > 34 && f[12..14] == [0x08, 0x00] && f[23] == 2 && f[34] == 0x11)
        .filter(|f| f.len() >= 34 + 12)
        .count();
    let caps: Vec<Capture> = ns[..3]
        .iter()
        .map(|v| Capture::start(&v.name, "eth0"))
        .collect();
    let marker = format!("mq-{id}");
    let frame = udp4(ROUTER_MAC, Ipv4Addr::new(10, 88, 0, 254), G4, &marker);
    send_frames(&ns[3].name, "eth0", vec![frame; 10]);
    std::thread::sleep(Duration::from_millis(300));
    let got: Vec<usize> = caps
        .into_iter()
        .map(|c| count(&c.finish(), &marker))
        .collect();
    assert_eq!(got, vec![10, 10, 0], "only the members hear the group");
    assert!(queries >= 1, "the third VM heard the switch's IGMP queries");
    let mdb = d.json(&["mdb", "show", &sw]).to_string();
    assert!(mdb.contains(&names[0]) && mdb.contains(&names[1]), "{mdb}");
}
