//! IPFIX export against a real collector: nfcapd (Debian's nfdump) stores
//! what vepa exports while iperf3 runs between two VMs; nfdump's records
//! must match iperf3's own counts (±5%) at sampling 1, and a tenth of them
//! at 1:10.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::{ping, require_root, uid, Netns};

/// nfcapd listening in namespace `ns` on 127.0.0.1:`port`, storing into `dir`.
struct Nfcapd {
    child: Child,
}

impl Nfcapd {
    fn start(ns: &str, port: u16, dir: &Path) -> Nfcapd {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "nfcapd", "-b", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("-w")
            .arg(dir)
            .args(["-t", "3600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nfcapd (Debian package nfdump)");
        std::thread::sleep(Duration::from_millis(500));
        Nfcapd { child }
    }

    /// Stops it (it writes out what it holds), then lists what it stored:
    /// protocol (its number), source and destination address and port,
    /// packets, bytes, ingress and egress port.
    fn stop_and_read(mut self, dir: &Path) -> Vec<Flow> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let out = Command::new("nfdump")
            .arg("-R")
            .arg(dir)
            .args([
                "-q",
                "-N",
                "-o",
                "fmt:%pr|%sa|%sp|%da|%dp|%pkt|%byt|%in|%out",
            ])
            .output()
            .expect("nfdump");
        let text = String::from_utf8_lossy(&out.stdout);
        let flows: Vec<Flow> = text.lines().filter_map(Flow::parse).collect();
        if flows.is_empty() {
            eprintln!("nfdump: {out:?}");
        }
        flows
    }
}

impl Drop for Nfcapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Flow {
    proto: String,
    src: String,
    dst: String,
    dport: u16,
    packets: u64,
    bytes: u64,
    ingress: u32,
    egress: u32,
}

impl Flow {
    fn parse(line: &str) -> Option<Flow> {
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        if f.len() < 9 {
            return None;
        }
        Some(Flow {
            proto: f[0].to_string(),
            src: f[1].to_string(),
            dst: f[3].to_string(),
            dport: f[4].parse().ok()?,
            packets: f[5].parse().ok()?,
            bytes: f[6].parse().ok()?,
            ingress: f[7].parse().ok()?,
            egress: f[8].parse().ok()?,
        })
    }
}

/// Sum of packets and bytes nfdump stored for one direction of a flow.
fn total(flows: &[Flow], proto: &str, src: &str, dst: &str, dport: u16) -> (u64, u64, usize) {
    let mine: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.proto == proto && f.src == src && f.dst == dst && f.dport == dport)
        .collect();
    (
        mine.iter().map(|f| f.packets).sum(),
        mine.iter().map(|f| f.bytes).sum(),
        mine.len(),
    )
}

/// iperf3's own count of what its client sent: (packets, bytes). UDP has
/// both; TCP only bytes (packets 0).
fn iperf3(client: &str, server: &str, ip: &str, port: u16, udp: bool) -> (u64, u64) {
    let mut srv = Command::new("ip")
        .args(["netns", "exec", server, "iperf3", "-s", "-1", "-p"])
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    let mut args = vec!["netns", "exec", client, "iperf3", "-J", "-t", "3", "-c", ip];
    let port_s = port.to_string();
    args.extend(["-p", &port_s]);
    if udp {
        args.extend(["-u", "-b", "40M", "-l", "1200"]);
    }
    let out = Command::new("ip").args(&args).output().expect("iperf3");
    let _ = srv.wait();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("iperf3 -J: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    if udp {
        let s = &j["end"]["sum"];
        (
            s["packets"].as_u64().expect("packets"),
            s["bytes"].as_u64().expect("bytes"),
        )
    } else {
        (0, j["end"]["sum_sent"]["bytes"].as_u64().expect("bytes"))
    }
}

/// The first record of the UDP flow to `dport`.
fn udp_record(flows: &[Flow], dport: u16) -> &Flow {
    flows
        .iter()
        .find(|f| f.proto == "17" && f.dport == dport)
        .unwrap_or_else(|| panic!("no UDP record to port {dport}: {flows:?}"))
}

fn within(got: u64, want: u64, pct: f64) -> bool {
    (got as f64 - want as f64).abs() <= want as f64 * pct / 100.0
}

#[test]
fn a_collector_stores_what_iperf3_sent_at_sampling_1_and_a_tenth_at_1_in_10() {
    require_root();
    let id = uid();
    let host = Netns::new(&format!("ih{id}"));
    let [vm1, vm2] = ["a", "b"].map(|t| Netns::new(&format!("i{t}{id}")));
    let mut d = Daemon::start_in(&host.name);
    d.links = Vec::new();
    let sw = format!("is{id}");
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    for (i, ns) in [&vm1, &vm2].into_iter().enumerate() {
        d.ok(&[
            "port",
            "add",
            &sw,
            &format!("v{i}{id}"),
            "--type",
            "veth",
            "--netns",
            &ns.name,
            "--address",
            &format!("10.46.0.{}/24", i + 1),
        ]);
    }
    assert!(ping(&vm1.name, "10.46.0.2"), "vm1 reaches vm2");
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Nfcapd::start(&host.name, 4739, dir.path());
    let addr = "127.0.0.1:4739";
    d.ok(&[
        "ipfix",
        "set",
        &sw,
        "--collector",
        addr,
        "--idle-timeout",
        "1",
        "--active-timeout",
        "2",
    ]);
    let (udp_pkts, udp_bytes) = iperf3(&vm1.name, &vm2.name, "10.46.0.2", 5201, true);
    let (_, tcp_bytes) = iperf3(&vm1.name, &vm2.name, "10.46.0.2", 5202, false);
    // Idle timeout 1 s, expiry checked every second: 3 s covers it.
    std::thread::sleep(Duration::from_secs(3));
    let shown = d.json(&["ipfix", "show"]);
    let flows = collector.stop_and_read(dir.path());

    let (pkts, bytes, n) = total(&flows, "17", "10.46.0.1", "10.46.0.2", 5201);
    eprintln!(
        "UDP: iperf3 {udp_pkts} packets, {udp_bytes} bytes; collector {pkts} packets, {bytes} bytes in {n} records"
    );
    assert!(
        within(pkts, udp_pkts, 5.0),
        "packets {pkts} vs iperf3's {udp_pkts}: {flows:?}"
    );
    assert!(
        within(bytes, udp_bytes, 5.0),
        "bytes {bytes} vs iperf3's {udp_bytes}"
    );
    // IP bytes: iperf3's payload and 28 bytes of IPv4 and UDP headers each
    // (iperf3's few handshake datagrams are smaller).
    assert!(
        within(bytes, pkts * 1228, 0.1),
        "{bytes} IP bytes for {pkts} datagrams"
    );
    // An active timeout of 2 s cut the 3-s stream into more than one record.
    assert!(
        n >= 2,
        "{n} records for a 3-s flow with a 2-s active timeout"
    );
    let (_, tbytes, _) = total(&flows, "6", "10.46.0.1", "10.46.0.2", 5202);
    eprintln!("TCP: iperf3 {tcp_bytes} bytes; collector {tbytes} bytes");
    assert!(
        within(tbytes, tcp_bytes, 5.0),
        "TCP bytes {tbytes} vs iperf3's {tcp_bytes}"
    );
    // Ports as OpenFlow numbers them: vm1's is 1, vm2's 2.
    let f = udp_record(&flows, 5201);
    assert_eq!((f.ingress, f.egress), (1, 2), "{f:?}");
    assert!(
        shown[0]["exported"].as_u64().unwrap_or(0) >= n as u64,
        "{shown}"
    );

    // 1:10: a new collector directory, the same stream, and a mirror of
    // vm1's port: its copies are not where the flow went.
    d.ok(&[
        "port",
        "add",
        &format!("{sw}/m{id}"),
        "--type",
        "veth",
        "--peer-name",
        &format!("mp{id}"),
    ]);
    d.ok(&[
        "mirror",
        "add",
        &sw,
        "watch",
        "--select",
        &format!("v0{id}"),
        "--output-port",
        &format!("m{id}"),
    ]);
    let dir10 = tempfile::tempdir().expect("tempdir");
    let collector = Nfcapd::start(&host.name, 4739, dir10.path());
    d.ok(&[
        "ipfix",
        "set",
        &sw,
        "--collector",
        addr,
        "--idle-timeout",
        "1",
        "--sampling",
        "10",
    ]);
    let (udp_pkts, _) = iperf3(&vm1.name, &vm2.name, "10.46.0.2", 5203, true);
    std::thread::sleep(Duration::from_secs(3));
    let flows = collector.stop_and_read(dir10.path());
    let (pkts, bytes, _) = total(&flows, "17", "10.46.0.1", "10.46.0.2", 5203);
    eprintln!("UDP 1:10: iperf3 {udp_pkts} packets; collector {pkts} packets, {bytes} bytes");
    assert!(
        within(pkts, udp_pkts / 10, 5.0),
        "1:10 stored {pkts} of iperf3's {udp_pkts}"
    );
    let f = udp_record(&flows, 5203);
    assert_eq!((f.ingress, f.egress), (1, 2), "mirrored: {f:?}");
    assert!(
        within(bytes, pkts * 1228, 1.0),
        "{bytes} IP bytes for {pkts} datagrams"
    );
    let (_, metrics) = d.http("GET", "/metrics", None).expect("GET /metrics");
    assert!(
        metrics.contains("vepa_ipfix_exported_records_total{switch="),
        "{metrics}"
    );
    d.ok(&["ipfix", "del", &sw]);
    assert!(d.fails(&["ipfix", "del", &sw]).contains("exports no flows"));
}
