//! Captures: the pcap-filter subset agrees with tcpdump's own compiler on
//! many frames; a pcapng capture of two ports shows both interfaces and
//! both directions to tshark; a `--drops` capture of an ACL-dropped ping
//! shows the reason.

use std::process::{Command, Stdio};
use std::time::Duration;
use vepa_dataplane::pcap_filter::Filter;
use vepa_itest::daemon::Daemon;
use vepa_itest::{ping, require_root, sh, uid, Netns, Rng};

/// Frames of every kind the filters name, from small pools of addresses
/// and ports so that expressions match some and miss others.
fn frames(n: usize) -> Vec<Vec<u8>> {
    let mut r = Rng(0x5eed_cafe_f00d_1234);
    let macs: [[u8; 6]; 4] = [
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 2],
        [0xff; 6],
        [0x01, 0x00, 0x5e, 0, 0, 9],
    ];
    let v4: [[u8; 4]; 4] = [
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        [10, 1, 2, 3],
        [192, 168, 1, 1],
    ];
    let v6: [[u8; 16]; 2] = [
        [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    ];
    let ports = [22u16, 80, 443, 1000, 1500, 5201];
    let mut out = Vec::new();
    for i in 0..n {
        let mut f = Vec::new();
        f.extend_from_slice(&r.pick(&macs));
        f.extend_from_slice(&macs[(r.next() % 2) as usize]);
        let kind = r.next() % 3;
        let proto = r.pick(&[6u8, 17, 1, 58, 47]);
        let mut l4 = Vec::new();
        match proto {
            6 => {
                l4.extend_from_slice(&r.pick(&ports).to_be_bytes());
                l4.extend_from_slice(&r.pick(&ports).to_be_bytes());
                l4.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
            }
            17 => {
                l4.extend_from_slice(&r.pick(&ports).to_be_bytes());
                l4.extend_from_slice(&r.pick(&ports).to_be_bytes());
                l4.extend_from_slice(&[0, 8, 0, 0]);
            }
            _ => l4.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]),
        }
        l4.resize(l4.len() + (r.next() % 200) as usize, 0xab);
        match kind {
            0 => {
                f.extend_from_slice(&[0x08, 0x00]);
                let total = (20 + l4.len()) as u16;
                let mut ip = vec![0x45, 0];
                ip.extend_from_slice(&total.to_be_bytes());
                ip.extend_from_slice(&(i as u16).to_be_bytes());
                ip.extend_from_slice(&[0, 0, 64, proto, 0, 0]);
                ip.extend_from_slice(&r.pick(&v4));
                ip.extend_from_slice(&r.pick(&v4));
                let sum = vepa_packet::checksum::finish(vepa_packet::checksum::sum_words(0, &ip));
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                f.extend_from_slice(&ip);
                f.extend_from_slice(&l4);
            }
            1 => {
                f.extend_from_slice(&[0x86, 0xdd]);
                f.extend_from_slice(&[0x60, 0, (i >> 8) as u8, i as u8]);
                f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                f.extend_from_slice(&[proto, 64]);
                f.extend_from_slice(&r.pick(&v6));
                f.extend_from_slice(&r.pick(&v6));
                f.extend_from_slice(&l4);
            }
            _ => {
                f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
                f.extend_from_slice(&macs[0]);
                f.extend_from_slice(&r.pick(&v4));
                f.extend_from_slice(&[0; 6]);
                f.extend_from_slice(&r.pick(&v4));
                f.resize(f.len() + (i % 30), 0);
            }
        }
        if f.len() < 60 {
            f.resize(60, 0);
        }
        out.push(f);
    }
    out
}

#[test]
fn the_filter_subset_agrees_with_tcpdump_on_every_frame() {
    let frames = frames(400);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f.pcap");
    let mut pcap = vepa_io::pcap_header().to_vec();
    for f in &frames {
        let c = vepa_io::CapturedFrame {
            at: std::time::SystemTime::now(),
            direction: vepa_io::Direction::In,
            frame: f.clone(),
            len: f.len(),
            interface: 0,
            drop: None,
        };
        vepa_io::pcap_record(&c, &mut pcap);
    }
    std::fs::write(&file, pcap).expect("write pcap");
    let exprs = [
        "icmp",
        "icmp6",
        "arp",
        "ip",
        "ip6",
        "tcp",
        "udp",
        "host 10.0.0.1",
        "src host 10.0.0.1",
        "dst host 10.1.2.3",
        "src and dst host 10.0.0.1",
        "src or dst host 192.168.1.1",
        "host fd00::1",
        "dst host fd00:1::2",
        "net 10.0.0.0/8",
        "src net 10.0.0.0/24",
        "net fd00:1::/32",
        "port 80",
        "tcp port 22",
        "udp dst port 5201",
        "src port 1000 or dst port 1500",
        "portrange 80-1000",
        "tcp src portrange 443-1500",
        "ether host 02:00:00:00:00:02",
        "ether src 02:00:00:00:00:01",
        "ether dst 02:00:00:00:00:01",
        "ether proto 0x86dd",
        "broadcast",
        "multicast",
        "not multicast and not arp",
        "less 100",
        "greater 200",
        "ip proto 47",
        "ip6 proto 17",
        "ip and udp or icmp",
        "icmp or tcp and port 80",
        "not (tcp or udp) and !arp",
        "ip host 10.0.0.2 and not port 22",
        "arp host 10.0.0.2",
        "ip6 and (tcp port 443 || udp port 443)",
    ];
    for e in exprs {
        let filter = Filter::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        let ours: Vec<usize> = (0..frames.len())
            .filter(|&i| filter.matches(&frames[i]))
            .map(|i| i + 1)
            .collect();
        // tcpdump writes what passes its own compiled filter; those frames,
        // in order, are a subsequence of ours to be found again.
        let kept = dir.path().join("kept.pcap");
        let out = Command::new("tcpdump")
            .arg("-r")
            .arg(&file)
            .arg("-w")
            .arg(&kept)
            .arg(e)
            .output()
            .expect("tcpdump");
        assert!(out.status.success(), "tcpdump '{e}': {out:?}");
        let mut theirs = Vec::new();
        let mut next = 0;
        for f in pcap_frames(&std::fs::read(&kept).expect("read kept")) {
            while next < frames.len() && frames[next] != f {
                next += 1;
            }
            assert!(next < frames.len(), "tcpdump kept a frame not sent");
            theirs.push(next + 1);
            next += 1;
        }
        assert_eq!(ours, theirs, "'{e}': ours vs tcpdump's");
        assert!(
            !ours.is_empty() || e == "ip proto 47",
            "'{e}' matched nothing"
        );
    }
}

/// The frames of a classic pcap file (tcpdump's, little-endian).
fn pcap_frames(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let caplen = u32::from_le_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]) as usize;
        out.push(b[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    out
}

fn tshark(file: &std::path::Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-r", file.to_str().expect("path"), "-T", "fields"];
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = Command::new("tshark").args(&args).output().expect("tshark");
    assert!(out.status.success(), "tshark: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Runs `vepa capture ARGS -w FILE` while `during` runs, then stops it.
fn capture_while(d: &Daemon, args: &[&str], file: &std::path::Path, during: impl FnOnce()) {
    let child = Command::new(vepa_itest::vepa_bin())
        .arg("--socket")
        .arg(&d.socket)
        .arg("capture")
        .args(args)
        .arg("-w")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vepa capture");
    std::thread::sleep(Duration::from_millis(500));
    during();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("capture ends");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pcapng_of_two_ports_names_them_and_their_directions_and_drops_say_why() {
    require_root();
    let id = uid();
    let [vm1, vm2] = ["a", "b"].map(|t| Netns::new(&format!("k{t}{id}")));
    let mut d = Daemon::start();
    let sw = format!("k{id}");
    let names = [format!("ka{id}"), format!("kb{id}")];
    d.links = names.to_vec();
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    for (i, ns) in [&vm1, &vm2].into_iter().enumerate() {
        d.ok(&[
            "port",
            "add",
            &sw,
            &names[i],
            "--type",
            "veth",
            "--netns",
            &ns.name,
            "--address",
            &format!("10.47.0.{}/24", i + 1),
        ]);
    }
    assert!(ping(&vm1.name, "10.47.0.2"), "vm1 reaches vm2");
    let dir = tempfile::tempdir().expect("tempdir");
    let both = dir.path().join("both.pcapng");
    let (p1, p2) = (format!("{sw}/{}", names[0]), format!("{sw}/{}", names[1]));
    capture_while(&d, &[&p1, &p2, "--filter", "icmp"], &both, || {
        // A fresh neighbour entry is not needed: ARP stays out of the
        // capture by the filter either way.
        sh(&["ip", "-n", &vm1.name, "neigh", "flush", "all"]);
        assert!(ping(&vm1.name, "10.47.0.2"));
    });
    let rows = tshark(
        &both,
        &[
            "frame.interface_name",
            "frame.packet_flags_direction",
            "icmp.type",
            "arp.opcode",
        ],
    );
    let seen = |iface: &str, dir: &str, icmp: &str| {
        rows.iter()
            .any(|r| r[0] == iface && r[1] == dir && r[2] == icmp)
    };
    // The echo request enters on vm1's port and leaves by vm2's; the reply
    // the other way. tshark prints the flags word: 1 inbound, 2 outbound.
    const IN: &str = "0x00000001";
    const OUT: &str = "0x00000002";
    for (iface, dir, icmp) in [
        (&p1, IN, "8"),
        (&p2, OUT, "8"),
        (&p2, IN, "0"),
        (&p1, OUT, "0"),
    ] {
        assert!(
            seen(iface, dir, icmp),
            "{iface} dir {dir} icmp {icmp} missing: {rows:?}"
        );
    }
    assert!(
        rows.iter().all(|r| r[3].is_empty()),
        "the filter let ARP in: {rows:?}"
    );
    let read = sh(&["tcpdump", "-nr", both.to_str().expect("path")]);
    assert!(
        String::from_utf8_lossy(&read.stdout).contains("ICMP echo request"),
        "tcpdump reads the pcapng"
    );

    // An ACL drops ICMP from vm1 as it enters: the drop capture says so.
    d.ok(&[
        "acl",
        "add",
        "no-ping",
        "--port",
        &p1,
        "--direction",
        "in",
        "drop icmp",
    ]);
    let drops = dir.path().join("drops.pcapng");
    capture_while(&d, &[&p1, "--drops", "--filter", "icmp"], &drops, || {
        assert!(!ping(&vm1.name, "10.47.0.2"), "the ACL drops the ping");
    });
    let rows = tshark(
        &drops,
        &["frame.comment", "icmp.type", "frame.packet_flags_direction"],
    );
    assert!(
        rows.iter()
            .any(|r| r[0].contains("dropped: acl_drop") && r[1] == "8" && r[2] == "0x00000001"),
        "no drop with its reason: {rows:?}"
    );
    // A bad filter is refused naming the word.
    let err = d.fails(&["capture", &p1, "--filter", "tcp port http"]);
    assert!(err.contains("filter") && err.contains("'http'"), "{err}");
}
