//! Each port type carries real traffic: a TAP device vepa owns (moved into a
//! namespace), a veth vepa creates, and an existing interface attached as a
//! netdev. Pings between all three, a TCP stream (iperf3) through the tap
//! and veth ports, and UDP from the netdev to the tap. The tap and the
//! netdev run without offloads: the tap's kernel verifies every checksum
//! it is handed, and the netdev's far end leaves its checksums partial, so
//! vepa must complete them.

use std::process::Command;
use vepa_itest::{counter, iperf3, reach_matrix, require_root, sh, uid, Links, Netns, Vepa};

#[test]
fn tap_veth_and_netdev_ports_forward() {
    require_root();
    let id = uid();
    let a = Netns::new(&format!("pt{id}a"));
    let b = Netns::new(&format!("pt{id}b"));
    let c = Netns::new(&format!("pt{id}c"));
    // The netdev port: a veth the test makes, far end in c.
    let existing = format!("x{id}n");
    sh(&[
        "ip", "link", "add", &existing, "type", "veth", "peer", "name", "eth0", "netns", &c.name,
    ]);
    let _existing = Links(vec![existing.clone()]);
    sh(&["ip", "link", "set", &existing, "up"]);
    c.exec(&["ip", "addr", "add", "10.8.0.3/24", "dev", "eth0"]);
    c.exec(&["ip", "link", "set", "eth0", "up"]);

    let (tap, veth) = (format!("t{id}"), format!("v{id}"));
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{tap}\"\ntype = \"tap\"\noffload = false\nnetns = \"{}\"\naddress = [\"10.8.0.1/24\"]\n\
         [[switch.port]]\nname = \"{veth}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.8.0.2/24\"]\n\
         [[switch.port]]\nname = \"nd\"\ntype = \"netdev\"\nifname = \"{existing}\"\noffload = false\n",
        a.name, b.name
    );
    // The tap moves into namespace a, so only the veth shows in ours.
    let vepa = Vepa::start(&topo, std::slice::from_ref(&veth));
    let hosts = vec![
        (a.name.clone(), "10.8.0.1".to_string()),
        (b.name.clone(), "10.8.0.2".to_string()),
        (c.name.clone(), "10.8.0.3".to_string()),
    ];
    let m = reach_matrix(&hosts);
    assert!(
        m.iter().flatten().all(|ok| *ok),
        "every port reaches every other: {m:?}"
    );

    // A TCP stream from the tap to the veth, checked by the receiver.
    let report = iperf3(&a.name, &b.name, "10.8.0.2", &["-t", "2"]);
    let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(
        received > 1_000_000,
        "TCP through tap and veth ports: {received} bytes arrived\n{report}"
    );

    // UDP from the netdev side, whose veth leaves checksums to "hardware"
    // (offload on, as the kernel sets it up), to the tap, whose kernel checks them.
    let (sent, lost) = iperf3_udp(&c.name, &a.name, "10.8.0.1");
    assert!(
        sent > 100 && lost * 10 < sent,
        "UDP from the netdev port: {lost} of {sent} datagrams lost"
    );

    let stats = vepa.stop();
    assert_eq!(counter(&stats, "s", &tap, "tx_errors"), 0, "{stats}");
    assert_eq!(counter(&stats, "s", &veth, "tx_errors"), 0, "{stats}");
    assert!(counter(&stats, "s", "nd", "rx_frames") > 0, "{stats}");
}

/// One second of UDP from `client_ns` to `server_ip` in `server_ns`: (datagrams sent, lost).
fn iperf3_udp(client_ns: &str, server_ns: &str, server_ip: &str) -> (u64, u64) {
    let r = iperf3(
        client_ns,
        server_ns,
        server_ip,
        &["-u", "-b", "20M", "-l", "1200", "-t", "1"],
    );
    let sum = &r["end"]["sum"];
    (
        sum["packets"].as_u64().unwrap_or(0),
        sum["lost_packets"].as_u64().unwrap_or(0),
    )
}

/// vepa runs inside a namespace of its own and switches the host side of
/// a persistent TAP device a VM manager made there (a `tap` port without
/// netns is a VM's), while the "VM" — this test, holding the tap's file
/// descriptor as QEMU would — sends and receives through it; the device
/// stays when vepa stops.
#[test]
fn switches_an_existing_vm_tap_from_inside_a_namespace() {
    require_root();
    let id = uid();
    let t = Netns::new(&format!("pt{id}t"));
    let b = Netns::new(&format!("pt{id}v"));
    let tap = format!("tp{id}");
    sh(&[
        "ip", "-n", &t.name, "tuntap", "add", "dev", &tap, "mode", "tap",
    ]);
    let veth = format!("w{id}");
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{tap}\"\ntype = \"tap\"\n\
         [[switch.port]]\nname = \"{veth}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.8.1.2/24\"]\n",
        b.name
    );
    let vepa = Vepa::start_in(Some(&t.name), &topo, std::slice::from_ref(&veth));
    // The VM asks for 10.8.1.2; the namespace behind the veth answers.
    let vm_mac = vepa_packet::MacAddr([0x52, 0x54, 0, 0, 0, 1]);
    let name = tap.clone();
    let answered = vepa_itest::in_netns(&t.name, move || {
        let port = vepa_io::TapPort::attach(&name, false).expect("open the tap as the VM");
        let request = vepa_itest::arp_request(vm_mac, [10, 8, 1, 1], [10, 8, 1, 2], None);
        let mut buf = vec![0u8; 2048];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut last_sent = None::<std::time::Instant>;
        while std::time::Instant::now() < deadline {
            if last_sent.is_none_or(|s| s.elapsed() > std::time::Duration::from_millis(500)) {
                vepa_io::Port::send(&port, &vepa_packet::VirtioNetHdr::default(), &request)
                    .expect("send");
                last_sent = Some(std::time::Instant::now());
            }
            if let Ok(Some((_, f))) = vepa_io::Port::recv(&port, &mut buf) {
                // An ARP reply (opcode 2) to the VM's MAC.
                if f.len() >= 42 && f[..6] == vm_mac.0 && f[12..14] == [8, 6] && f[20..22] == [0, 2]
                {
                    return true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    })
    .join()
    .expect("vm thread");
    assert!(
        answered,
        "the VM's request went out and the answer came back"
    );
    let stats = vepa.stop();
    assert!(counter(&stats, "s", &tap, "rx_frames") > 0, "{stats}");
    t.exec(&["ip", "link", "show", "dev", &tap]); // still there: not ours to remove
    let gone = Command::new("ip")
        .args(["-n", &t.name, "link", "show", "dev", &veth])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the veth vepa made is removed");
}

/// The experimental TPACKET_V3 receive ring forwards too (slowly for a lone
/// ping: a block waits for its 1 ms timer), VLAN tags and all.
#[test]
fn the_receive_ring_forwards() {
    require_root();
    let id = uid();
    let a = Netns::new(&format!("rg{id}a"));
    let b = Netns::new(&format!("rg{id}b"));
    let (pa, pb) = (format!("r{id}a"), format!("r{id}b"));
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{pa}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.4.0.1/24\"]\n\
         [[switch.port]]\nname = \"{pb}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.4.0.2/24\"]\n",
        a.name, b.name
    );
    let vepa = Vepa::start_with(
        None,
        &["--rx-ring", "--workers", "1"],
        &topo,
        &[pa.clone(), pb.clone()],
    );
    assert!(vepa_itest::wait_reachable(&a.name, "10.4.0.2"));
    let got = vepa_itest::tcp_transfer(&a.name, &b.name, "10.4.0.2", 5300, 8 << 20);
    assert_eq!(got, 8 << 20, "TCP through ring ports");
    let stats = vepa.stop();
    assert!(counter(&stats, "s", &pa, "rx_frames") > 0);
}

/// With `--xdp`, veth and netdev ports go through AF_XDP: a tap (with
/// offloads), two veths and an existing veth as a netdev all reach each
/// other; TCP crosses from an XDP port to the tap (the veth's sender left
/// its checksums partial: vepa marks them so and the tap's kernel takes
/// them) and from the tap's GSO frames to an XDP port (cut to wire size
/// and finished by vepa), UDP from the netdev to a veth. A veth at MTU
/// 9000, where XDP cannot attach, stays on AF_PACKET and forwards too.
#[test]
fn xdp_ports_forward_and_fall_back_where_xdp_cannot_attach() {
    require_root();
    let id = uid();
    let ns: Vec<Netns> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|h| Netns::new(&format!("xp{id}{h}")))
        .collect();
    let existing = format!("x{id}d");
    sh(&[
        "ip",
        "link",
        "add",
        &existing,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &ns[3].name,
    ]);
    let _existing = Links(vec![existing.clone()]);
    sh(&["ip", "link", "set", &existing, "up"]);
    ns[3].exec(&["ip", "addr", "add", "10.8.1.4/24", "dev", "eth0"]);
    ns[3].exec(&["ip", "link", "set", "eth0", "up"]);
    let (tap, vb, vc, ve) = (
        format!("t{id}a"),
        format!("v{id}b"),
        format!("v{id}c"),
        format!("v{id}e"),
    );
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{tap}\"\ntype = \"tap\"\nnetns = \"{a}\"\naddress = [\"10.8.1.1/24\"]\n\
         [[switch.port]]\nname = \"{vb}\"\ntype = \"veth\"\nnetns = \"{b}\"\naddress = [\"10.8.1.2/24\"]\n\
         [[switch.port]]\nname = \"{vc}\"\ntype = \"veth\"\nnetns = \"{c}\"\naddress = [\"10.8.1.3/24\"]\n\
         [[switch.port]]\nname = \"nd\"\ntype = \"netdev\"\nifname = \"{existing}\"\n\
         [[switch.port]]\nname = \"{ve}\"\ntype = \"veth\"\nnetns = \"{e}\"\nmtu = 9000\naddress = [\"10.8.1.5/24\"]\n",
        a = ns[0].name,
        b = ns[1].name,
        c = ns[2].name,
        e = ns[4].name,
    );
    let vepa = Vepa::start_with(
        None,
        &["--xdp"],
        &topo,
        &[vb.clone(), vc.clone(), ve.clone()],
    );
    for l in [&vb, &vc, &existing] {
        assert!(vepa_itest::has_xdp(l), "{l} is an AF_XDP port");
    }
    let shown = Command::new("ip")
        .args(["link", "show", "dev", &ve])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&shown.stdout).contains("vepa_xsk"),
        "XDP cannot attach to a veth at MTU 9000: AF_PACKET"
    );
    let hosts: Vec<(String, String)> = ns
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), format!("10.8.1.{}", i + 1)))
        .collect();
    let m = reach_matrix(&hosts);
    assert!(
        m.iter().flatten().all(|ok| *ok),
        "every port reaches every other: {m:?}"
    );
    for (from, to, ip) in [(1, 0, "10.8.1.1"), (0, 2, "10.8.1.3")] {
        let report = iperf3(&ns[from].name, &ns[to].name, ip, &["-t", "2"]);
        let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
        assert!(
            received > 1_000_000,
            "TCP {from} -> {to}: {received} bytes arrived\n{report}"
        );
    }
    let (sent, lost) = iperf3_udp(&ns[3].name, &ns[1].name, "10.8.1.2");
    assert!(
        sent > 100 && lost * 10 < sent,
        "UDP from the netdev port to an XDP veth: {lost} of {sent} datagrams lost"
    );
    let stats = vepa.stop();
    for p in [&tap, &vb, &vc, &ve] {
        assert_eq!(counter(&stats, "s", p, "tx_errors"), 0, "{p}: {stats}");
    }
    assert!(counter(&stats, "s", "nd", "rx_frames") > 0, "{stats}");
}
