//! TCP with TSO through vepa: the sender's stack hands 64 KiB super-frames
//! to its veth, vepa carries them whole to a port with offloads, and cuts
//! them into wire-sized segments (checksums filled) for a port without.
//! Every byte is checked at the receiver. The port without offloads is a
//! plain TAP device, whose kernel verifies every checksum it is given (a
//! veth would trust frames injected on its peer and hide a wrong one).

use vepa_itest::{counter, require_root, tcp_transfer, uid, Netns, Vepa};

const BYTES: u64 = 64 << 20;

#[test]
fn tso_frames_pass_whole_or_are_segmented() {
    require_root();
    let id = uid();
    let names = ["a", "b", "c"];
    let ns: Vec<Netns> = names
        .iter()
        .map(|n| Netns::new(&format!("of{id}{n}")))
        .collect();
    let ports: Vec<String> = names.iter().map(|n| format!("o{id}{n}")).collect();
    // a and b are veths with offloads; c is a TAP without (vepa must segment for it).
    let kind = [
        "type = \"veth\"\n",
        "type = \"veth\"\n",
        "type = \"tap\"\noffload = false\n",
    ];
    let mut topo = String::from("[[switch]]\nname = \"s\"\n");
    for i in 0..3 {
        topo.push_str(&format!(
            "[[switch.port]]\nname = \"{}\"\n{}netns = \"{}\"\naddress = [\"10.6.0.{}/24\"]\n",
            ports[i],
            kind[i],
            ns[i].name,
            i + 1
        ));
    }
    let vepa = Vepa::start(&topo, &ports[..2]);
    assert!(vepa_itest::wait_reachable(&ns[0].name, "10.6.0.3"));
    assert!(vepa_itest::wait_reachable(&ns[0].name, "10.6.0.2"));

    // a → b: super-frames pass whole.
    let got = tcp_transfer(&ns[0].name, &ns[1].name, "10.6.0.2", 5201, BYTES);
    assert_eq!(got, BYTES, "a → b (offload to offload)");
    // a → c: vepa segments for the port without offloads.
    let got = tcp_transfer(&ns[0].name, &ns[2].name, "10.6.0.3", 5202, BYTES);
    assert_eq!(got, BYTES, "a → c (segmented by vepa)");
    // c → a: plain frames into an offload port.
    let got = tcp_transfer(&ns[2].name, &ns[0].name, "10.6.0.1", 5203, BYTES / 4);
    assert_eq!(got, BYTES / 4, "c → a");

    let stats = vepa.stop();
    let (rx_frames, rx_bytes) = (
        counter(&stats, "s", &ports[0], "rx_frames"),
        counter(&stats, "s", &ports[0], "rx_bytes"),
    );
    assert!(
        rx_bytes / rx_frames.max(1) > 3000,
        "a sent super-frames (average {} bytes): {stats}",
        rx_bytes / rx_frames.max(1)
    );
    let c_rx = counter(&stats, "s", &ports[2], "rx_bytes")
        / counter(&stats, "s", &ports[2], "rx_frames").max(1);
    assert!(
        c_rx <= 1514,
        "c, without offloads, sent wire-sized frames (average {c_rx})"
    );
    for p in &ports {
        assert_eq!(counter(&stats, "s", p, "tx_errors"), 0, "{stats}");
    }
}
