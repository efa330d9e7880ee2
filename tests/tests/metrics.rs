//! Metrics an operator scrapes: served read-only on their own address
//! (`--metrics-listen`) for a Prometheus on another host, lint clean by
//! `promtool check metrics`, with the kernel's drops on AF_PACKET ports
//! (the loss a userspace switch otherwise never sees).

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use vepa_itest::daemon::{http_on, Daemon};
use vepa_itest::{free_port, in_netns, ping, require_root, uid, wait_listening, Netns};

#[test]
fn an_unread_packet_socket_counts_the_kernels_drops() {
    require_root();
    let ns = Netns::new(&format!("kd{}", uid()));
    for cmd in [
        "ip link add va type veth peer name vb",
        "ip link set va up",
        "ip link set vb up",
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        assert!(ns.exec(&args).status.success(), "{cmd}");
    }
    let drops = in_netns(&ns.name, || {
        use vepa_io::Port;
        let a = vepa_io::PacketPort::open("va", false).expect("open va");
        let b = vepa_io::PacketPort::open("vb", false).expect("open vb");
        assert_eq!(a.kernel_drops(), 0);
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x88, 0xb6]);
        f.resize(1400, 0);
        // Nobody reads `va`: its receive queue (4 MiB asked, rmem_max
        // allowed) fills, and the kernel drops the rest.
        let mut sent = 0;
        for _ in 0..20_000 {
            sent += usize::from(b.send(&Default::default(), &f).is_ok());
        }
        assert!(sent > 10_000, "only {sent} frames went out");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let first = a.kernel_drops();
        let again = a.kernel_drops();
        let listed = a.device_drops();
        (first, again, listed)
    })
    .join()
    .expect("the namespace thread");
    let (first, again, listed) = drops;
    assert!(first > 0, "no kernel drops counted");
    assert_eq!(again, first, "a read resets the kernel's count; ours sums");
    assert_eq!(listed, vec![(vepa_io::KERNEL_DROPS, first)]);
}

#[test]
fn metrics_serve_read_only_on_their_own_address_and_lint_clean() {
    require_root();
    let id = uid();
    let (vm1, vm2) = (
        Netns::new(&format!("mta{id}")),
        Netns::new(&format!("mtb{id}")),
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut d = Daemon::start_with(&["--metrics-listen", &addr]);
    let sw = format!("m{id}");
    let (p1, p2) = (format!("m1{id}"), format!("m2{id}"));
    d.links = vec![p1.clone(), p2.clone()];
    d.ok(&["switch", "add", &sw]);
    for (p, vm, ip) in [(&p1, &vm1, "10.9.4.1/24"), (&p2, &vm2, "10.9.4.2/24")] {
        d.ok(&[
            "port",
            "add",
            &sw,
            p,
            "--type",
            "veth",
            "--netns",
            &vm.name,
            "--address",
            ip,
        ]);
    }
    // A stateful ACL (a conntrack zone, rule hits) on vm2's port.
    d.ok(&[
        "acl",
        "add",
        &format!("a{id}"),
        "--port",
        &format!("{sw}/{p2}"),
        "allow state established,related",
        "allow icmp",
    ]);
    assert!(ping(&vm1.name, "10.9.4.2"));
    assert!(wait_listening(port), "the metrics listener");

    let get = |method: &str, path: &str| {
        let s = TcpStream::connect(&addr).expect("connect to --metrics-listen");
        http_on(s, method, path, None, None).expect("HTTP")
    };
    let (status, text) = get("GET", "/metrics");
    assert_eq!(status, 200);
    for want in [
        format!(
            "vepa_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
        format!("vepa_port_kernel_drops_total{{switch=\"{sw}\",port=\"{p1}\"}} 0"),
        format!("vepa_port_rx_packets_total{{switch=\"{sw}\",port=\"{p1}\"}}"),
        "# TYPE vepa_conntrack_entries gauge".to_string(),
        format!("vepa_acl_rule_packets_total{{acl=\"a{id}\",rule=\"default\"}}"),
        "# TYPE vepa_capture_dropped_total counter".to_string(),
        "# TYPE vepa_tunnel_drops_total counter".to_string(),
        "vepa_worker_busy_seconds_total{worker=\"0\"}".to_string(),
        "vepa_worker_busy_ratio{worker=\"0\"}".to_string(),
        "vepa_flow_cache_hit_ratio{worker=\"0\"}".to_string(),
        "# TYPE vepa_mirror_packets_total counter".to_string(),
    ] {
        assert!(text.contains(&want), "{want} not in the metrics");
    }
    // The ping went through the pipeline: the worker was busy, and its
    // cache saw the frames (the first of each flow a miss).
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    let busy = value("vepa_worker_busy_seconds_total{worker=\"0\"}");
    let misses = value("vepa_flow_cache_misses_total{worker=\"0\"}");
    let ratio = value("vepa_flow_cache_hit_ratio{worker=\"0\"}");
    assert!(
        busy > 0.0 && misses >= 1.0 && (0.0..=1.0).contains(&ratio),
        "{text}"
    );
    // Nothing else is served there: no way to change anything.
    let (status, _) = get("GET", "/v1/topology");
    assert_eq!(status, 404);
    let (status, _) = get("POST", "/v1/switches");
    assert_eq!(status, 404);
    let (status, _) = get("POST", "/metrics");
    assert_eq!(status, 405);

    // Lint clean: promtool reads the exposition from stdin and says
    // nothing when every family follows Prometheus' conventions.
    let promtool = ["/var/lib/vepa-test-tools/promtool", "/usr/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("promtool is missing: scripts/test.sh puts it in /var/lib/vepa-test-tools");
    let mut lint = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    let body = text
        .split_once("\r\n\r\n")
        .map_or(text.as_str(), |(_, b)| b);
    lint.stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = lint.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
    d.ok(&["acl", "del", &format!("a{id}")]);

    // `stats --watch`: rates from two snapshots, against the rate ping
    // really sent at (20 a second asked: a timer a busy VM keeps).
    let started = std::time::Instant::now();
    let flood = Command::new("ip")
        .args([
            "netns", "exec", &vm1.name, "ping", "-q", "-i", "0.05", "-c", "100", "10.9.4.2",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("ping");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let watch = d.ok(&["stats", "--watch", "1", "--count", "2", "-o", "json"]);
    let _ = flood.wait_with_output();
    let sent_per_s = 100.0 / started.elapsed().as_secs_f64();
    let last: serde_json::Value =
        serde_json::from_str(watch.lines().last().expect("two lines")).expect("JSON lines");
    let row = last["ports"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["port"] == format!("{sw}/{p1}")))
        .expect("vm1's port");
    let rx = row["rx_pps"].as_f64().unwrap_or(0.0);
    assert!(
        (rx - sent_per_s).abs() <= sent_per_s * 0.3,
        "rx_pps {rx} while ping sent {sent_per_s:.0} a second: {row}"
    );
    assert!(
        row["rx_bps"].as_f64().unwrap_or(0.0) > rx * 8.0 * 60.0,
        "{row}"
    );
    let table = d.ok(&["stats", "--watch", "1", "--count", "1"]);
    assert!(
        table.contains("RX PPS") && table.contains(&format!("{sw}/{p1}")),
        "{table}"
    );
    d.ok(&["switch", "del", &sw]);
}
