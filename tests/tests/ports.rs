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

/// vepa runs inside a namespace of its own and attaches to a persistent TAP
/// device that already exists there (as a VM manager would leave it), and
/// leaves that device in place when it stops.
#[test]
fn attaches_to_an_existing_tap_from_inside_a_namespace() {
    require_root();
    let id = uid();
    let t = Netns::new(&format!("pt{id}t"));
    let b = Netns::new(&format!("pt{id}v"));
    let tap = format!("tp{id}");
    sh(&[
        "ip", "-n", &t.name, "tuntap", "add", "dev", &tap, "mode", "tap",
    ]);
    t.exec(&["ip", "addr", "add", "10.8.1.1/24", "dev", &tap]);
    t.exec(&["ip", "link", "set", &tap, "up"]);
    let veth = format!("w{id}");
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{tap}\"\ntype = \"tap\"\n\
         [[switch.port]]\nname = \"{veth}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.8.1.2/24\"]\n",
        b.name
    );
    let vepa = Vepa::start_in(Some(&t.name), &topo, std::slice::from_ref(&veth));
    assert!(
        vepa_itest::ping(&t.name, "10.8.1.2"),
        "the attached tap forwards"
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
