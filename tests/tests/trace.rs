//! `vepa trace` against real deliveries: a daemon's switch in each mode
//! (veb, vepa, private) with three VMs and an uplink in namespaces. For
//! each frame, the trace (from a pcap file, `--pcap`) says which ports a
//! copy leaves by; the same frame, then sent for real from the port's far
//! end, must arrive at exactly those ports' far ends. The trace itself
//! must send nothing.

use std::collections::BTreeSet;
use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, send_frames, uid, Capture, Netns};
use vepa_packet::{ip, MacAddr};

struct Bench {
    d: Daemon,
    sw: String,
    /// Port name and the namespace at its far end (`eth0` there); the
    /// uplink first.
    ports: Vec<(String, Netns)>,
    dir: tempfile::TempDir,
}

impl Bench {
    fn build() -> Bench {
        let id = uid();
        let mut d = Daemon::start();
        let sw = format!("ts{id}");
        d.ok(&["switch", "add", &sw, "--mode", "vepa"]);
        let mut ports = Vec::new();
        for (i, role) in ["up", "a", "b", "c"].iter().enumerate() {
            let name = format!("t{role}{id}");
            let ns = Netns::new(&format!("tn{role}{id}"));
            let mut args = vec![
                "port", "add", &sw, &name, "--type", "veth", "--netns", &ns.name,
            ];
            let addr = format!("10.31.0.{i}/24");
            if i == 0 {
                args.push("--uplink");
            } else {
                args.extend(["--address", &addr]);
            }
            d.ok(&args);
            // No IPv6 chatter: the only frames are the test's (and ARP).
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            ports.push((name, ns));
        }
        d.links = ports.iter().map(|(p, _)| p.clone()).collect();
        Bench {
            d,
            sw,
            ports,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn mac(&self, i: usize) -> MacAddr {
        self.ports[i].1.mac("eth0")
    }

    /// The ports a trace of `frame` entering port `at` says copies leave by.
    fn traced(&self, at: usize, frame: &[u8], n: usize) -> (BTreeSet<String>, serde_json::Value) {
        let file = self.dir.path().join(format!("f{n}.pcap"));
        std::fs::write(&file, pcap(frame)).expect("write pcap");
        let port = format!("{}/{}", self.sw, self.ports[at].0);
        let v = self
            .d
            .json(&["trace", &port, "--pcap", file.to_str().expect("path")]);
        let outs = v["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .map(|o| o["port"].as_str().unwrap_or_default().to_string())
            .collect();
        (outs, v)
    }

    /// The ports whose far end received `frame` when sent into port `at`
    /// (nothing else sent meanwhile).
    fn delivered(&self, at: usize, frame: &[u8]) -> BTreeSet<String> {
        let caps: Vec<Capture> = self
            .ports
            .iter()
            .map(|(_, ns)| Capture::start(&ns.name, "eth0"))
            .collect();
        send_frames(&self.ports[at].1.name, "eth0", vec![frame.to_vec()]);
        caps.into_iter()
            .zip(&self.ports)
            .map(|(c, (p, _))| (c.finish(), p))
            .filter(|(got, _)| got.iter().any(|f| same(f, frame)))
            .map(|(_, p)| p.clone())
            .collect()
    }
}

/// The frame as sent, or as vepa forwards it (the kernel may pad a short
/// frame on the way: compare what the frame carries).
fn same(got: &[u8], sent: &[u8]) -> bool {
    got.len() >= sent.len() && got[..sent.len()] == *sent
}

/// A classic pcap file of one frame.
fn pcap(frame: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    f.extend_from_slice(frame);
    f
}

/// A UDP datagram to the discard port carrying a marker, so each test
/// frame is told apart from the namespaces' own traffic.
fn datagram(src: MacAddr, dst: MacAddr, marker: u32) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, dst, src, 0x0800);
    let (a, b) = ([10, 31, 0, 200].into(), [10, 31, 0, 201].into());
    let mut data = b"vepa-trace-test-".to_vec();
    data.extend_from_slice(&marker.to_be_bytes());
    let body = ip::udp_datagram(
        std::net::IpAddr::V4(a),
        std::net::IpAddr::V4(b),
        4000,
        9,
        &data,
    );
    ip::push_ipv4(&mut f, a, b, ip::PROTO_UDP, 64, 1, &body);
    f
}

#[test]
fn a_trace_names_the_ports_a_frame_really_reaches_in_every_mode() {
    require_root();
    let b = Bench::build();
    let outside = MacAddr([0x02, 0, 0, 0, 0x31, 0x50]);
    let unknown = MacAddr([0x02, 0, 0, 0, 0x31, 0x99]);
    let bcast = MacAddr::BROADCAST;
    let mut n = 0u32;
    let mut reached = 0;
    for mode in ["veb", "vepa", "private"] {
        b.d.ok(&["switch", "set", &b.sw, "--mode", mode]);
        let (m1, m2, m3) = (b.mac(1), b.mac(2), b.mac(3));
        // (ingress port, source, destination): the VMs' own traffic, the
        // outside's, and reflections (a VM's source arriving on the uplink).
        let cases: Vec<(usize, MacAddr, MacAddr)> = vec![
            (1, m1, bcast),
            (2, m2, bcast),
            (3, m3, bcast),
            (0, outside, bcast),
            (1, m1, m2),
            (2, m2, m3),
            (1, m1, outside),
            (1, m1, unknown),
            (0, outside, m1),
            (0, outside, unknown),
            (0, m1, m2),
            (0, m2, bcast),
            (0, m3, m3),
        ];
        for (at, src, dst) in cases {
            n += 1;
            let frame = datagram(src, dst, n);
            let (traced, v) = b.traced(at, &frame, n as usize);
            let real = b.delivered(at, &frame);
            reached += usize::from(!real.is_empty());
            assert_eq!(
                traced, real,
                "{mode}: frame {n} {src} > {dst} into {}: trace {traced:?}, real {real:?}; the trace said {v:#}",
                b.ports[at].0
            );
        }
    }
    assert!(
        reached >= 20,
        "only {reached} frames reached anyone: the bench is broken"
    );
    // The trace sent nothing: a frame only traced reaches no one.
    let caps: Vec<Capture> = b
        .ports
        .iter()
        .map(|(_, ns)| Capture::start(&ns.name, "eth0"))
        .collect();
    let frame = datagram(b.mac(1), MacAddr::BROADCAST, 0xffff);
    let _ = b.traced(1, &frame, 0);
    for c in caps {
        assert!(
            !c.finish().iter().any(|f| same(f, &frame)),
            "a trace sent its frame"
        );
    }
}

#[test]
fn a_trace_reads_a_flow_and_explains_each_stage() {
    require_root();
    let b = Bench::build();
    let (m1, m2) = (b.mac(1), b.mac(2));
    // Every VM says something, so the switch knows where they are.
    for i in 1..4 {
        send_frames(
            &b.ports[i].1.name,
            "eth0",
            vec![datagram(b.mac(i), MacAddr::BROADCAST, 0)],
        );
    }
    let port = format!("{}/{}", b.sw, b.ports[1].0);
    let flow = format!("icmp,dl_src={m1},dl_dst={m2},nw_src=10.31.0.1,nw_dst=10.31.0.2");
    let text = b.d.ok(&["trace", &port, &flow]);
    for want in [
        "Frame: ",
        "icmp type 8 code 0 ttl 64",
        "vepa: every frame goes to the uplink",
        &format!("port {} untagged: sent on its device", b.ports[0].0),
        &format!("Result: 1 copy leaves:\n  {}/{}", b.sw, b.ports[0].0),
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    b.d.ok(&["switch", "set", &b.sw, "--mode", "veb"]);
    let text = b.d.ok(&["trace", &port, &flow]);
    assert!(
        text.contains("veb: switched locally to another veb port"),
        "{text}"
    );
    assert!(
        text.contains(&format!("destination is behind port {}", b.ports[2].0)),
        "{text}"
    );
    // A flow that matches is named as ovs-ofctl writes it, and its
    // counters do not move: a trace is not traffic.
    b.d.ok(&[
        "flow",
        "add",
        &b.sw,
        "priority=300,icmp,nw_dst=10.31.0.2,actions=drop",
    ]);
    let text = b.d.ok(&["trace", &port, &flow]);
    assert!(
        text.contains("flow       table 0: priority=300,icmp,nw_dst=10.31.0.2"),
        "{text}"
    );
    assert!(text.contains("Result: nothing leaves: flow_drop"), "{text}");
    let dump = b.d.ok(&["flow", "dump", &b.sw]);
    assert!(dump.contains("n_packets=0"), "{dump}");
    // A bad field is named, and the exit code says the request was refused.
    let out = b.d.cli(&["trace", &port, "icmp,nw_dst=10.0.0.300"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nw_dst"),
        "{out:?}"
    );
    let out = b.d.cli(&["trace", &format!("{}/nosuch", b.sw), "icmp"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}
