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

/// UDP segmentation offload: a sender using UDP_SEGMENT behind a tap that
/// takes USO hands vepa 12 kB super-frames; a plain tap gets them as 1200-byte
/// datagrams, each checked by its kernel and by the receiver.
#[test]
fn uso_frames_are_cut_into_datagrams() {
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    require_root();
    let id = uid();
    let a = Netns::new(&format!("us{id}a"));
    let b = Netns::new(&format!("us{id}b"));
    let (pa, pb) = (format!("u{id}a"), format!("u{id}b"));
    let topo = format!(
        "[[switch]]\nname = \"s\"\n\
         [[switch.port]]\nname = \"{pa}\"\ntype = \"tap\"\nnetns = \"{}\"\naddress = [\"10.5.0.1/24\"]\n\
         [[switch.port]]\nname = \"{pb}\"\ntype = \"tap\"\noffload = false\nnetns = \"{}\"\naddress = [\"10.5.0.2/24\"]\n",
        a.name, b.name
    );
    let vepa = Vepa::start(&topo, &[]);
    assert!(vepa_itest::wait_reachable(&a.name, "10.5.0.2"));

    const SENDS: usize = 50;
    const SEG: usize = 1200;
    const PER_SEND: usize = 10 * SEG;
    let receiver = vepa_itest::in_netns(&b.name, || {
        let s = UdpSocket::bind("10.5.0.2:7000").expect("bind");
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 65536];
        let mut got = 0usize;
        while let Ok(n) = s.recv(&mut buf) {
            assert_eq!(n, SEG, "each datagram is one segment");
            assert!(buf[..n].iter().all(|x| *x == buf[0]), "payload intact");
            got += 1;
        }
        got
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    vepa_itest::in_netns(&a.name, || {
        let s = UdpSocket::bind("10.5.0.1:0").expect("bind");
        let seg: libc::c_int = SEG as libc::c_int;
        // SAFETY: setsockopt with a live int of the stated size.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_UDP,
                103, /* UDP_SEGMENT */
                &seg as *const _ as *const libc::c_void,
                4,
            )
        };
        assert_eq!(rc, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
        for i in 0..SENDS {
            let mut msg = vec![0u8; PER_SEND];
            for (k, chunk) in msg.chunks_mut(SEG).enumerate() {
                chunk.fill((i * 10 + k) as u8);
            }
            s.send_to(&msg, "10.5.0.2:7000").expect("send");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    })
    .join()
    .unwrap();
    let got = receiver.join().unwrap();
    let stats = vepa.stop();
    assert!(
        got * 10 >= SENDS * 10 * 9,
        "{got} of {} datagrams arrived",
        SENDS * 10
    );
    let avg = counter(&stats, "s", &pa, "rx_bytes") / counter(&stats, "s", &pa, "rx_frames").max(1);
    assert!(
        avg > 3000,
        "the sender's tap passed USO super-frames (average {avg} bytes): {stats}"
    );
    assert_eq!(counter(&stats, "s", &pb, "tx_errors"), 0);
}
