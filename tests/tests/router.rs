//! The router through the daemon, with real traffic between namespaces on
//! two subnets: IPv4 and IPv6 forwarding, ARP/ND, TTL expiry seen by
//! traceroute, "net unreachable", fragmentation needed / packet too big,
//! a byte-exact TCP transfer (offloaded: GSO super-frames cross the
//! router), routes added and removed at run time, state kept over a
//! restart, and bad input refused with nothing applied.

use std::process::Command;
use vepa_itest::topo::{TwoSubnets, TwoSubnetsSpec};
use vepa_itest::{ping, require_root, tcp_transfer, uid, wait_reachable};

/// Subnet A (10.71.1.0/24, fd71:1::/64) with one VM, subnet B
/// (10.71.2.0/24, fd71:2::/64, MTU 1400 on the router's side) with one VM,
/// a router between them.
fn net(id: &str) -> TwoSubnets {
    TwoSubnetsSpec {
        tag: "r",
        net: 71,
        mtu_b: Some(1400),
        extra: "",
        port_a: "",
    }
    .build(id)
}

fn run_in(ns: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("run in namespace");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn routes_ipv4_and_ipv6_between_subnets_and_answers_what_it_cannot_forward() {
    require_root();
    let id = uid();
    let n = net(&id);
    let (a, b) = (&n.a.name, &n.b.name);
    assert!(
        wait_reachable(a, "10.71.2.2"),
        "A reaches B through the router"
    );
    assert!(ping(b, "10.71.1.2"), "B reaches A");
    assert!(ping(a, "10.71.1.1"), "the gateway answers");
    assert!(ping(a, "10.71.2.1"), "the far side's address answers too");
    assert!(
        wait_reachable(a, "fd71:2::2"),
        "IPv6: A reaches B (ND both sides)"
    );
    assert!(ping(b, "fd71:1::2"), "IPv6: B reaches A");

    // TTL expiry: traceroute sees the router, then the host.
    let (_, out) = run_in(
        a,
        &[
            "traceroute",
            "-n",
            "-q",
            "1",
            "-w",
            "1",
            "-m",
            "4",
            "10.71.2.2",
        ],
    );
    let hops: Vec<&str> = out.lines().skip(1).map(str::trim).collect();
    assert!(
        hops.first().is_some_and(|h| h.starts_with("1  10.71.1.1")),
        "{out}"
    );
    assert!(
        hops.get(1).is_some_and(|h| h.starts_with("2  10.71.2.2")),
        "{out}"
    );
    let (_, out) = run_in(
        a,
        &[
            "traceroute",
            "-6",
            "-n",
            "-q",
            "1",
            "-w",
            "1",
            "-m",
            "4",
            "fd71:2::2",
        ],
    );
    assert!(
        out.contains(" 1  fd71:1::1") && out.contains(" 2  fd71:2::2"),
        "{out}"
    );

    // No route: net unreachable, from the gateway.
    let (ok, out) = run_in(a, &["ping", "-c", "1", "-W", "1", "192.0.2.7"]);
    assert!(
        !ok && out.contains("From 10.71.1.1") && out.contains("Net Unreachable"),
        "{out}"
    );
    let (ok, out) = run_in(a, &["ping", "-6", "-c", "1", "-W", "1", "2001:db8::7"]);
    assert!(
        !ok && out.contains("From fd71:1::1") && out.contains("No route"),
        "{out}"
    );

    // Too big for port b's MTU with DF: fragmentation needed, MTU 1400.
    let (ok, out) = run_in(
        a,
        &[
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "-M",
            "do",
            "-s",
            "1450",
            "10.71.2.2",
        ],
    );
    assert!(!ok && out.contains("mtu = 1400"), "{out}");
    let (ok, out) = run_in(
        a,
        &[
            "ping",
            "-6",
            "-c",
            "1",
            "-W",
            "1",
            "-M",
            "do",
            "-s",
            "1450",
            "fd71:2::2",
        ],
    );
    assert!(!ok && out.contains("mtu=1400"), "{out}");
    // Without DF the router fragments.
    let (ok, out) = run_in(
        a,
        &[
            "ping",
            "-c",
            "2",
            "-W",
            "1",
            "-M",
            "dont",
            "-s",
            "1450",
            "10.71.2.2",
        ],
    );
    assert!(ok, "fragmented echo answered: {out}");

    // TCP across the router: GSO super-frames from the veth, segments
    // checked against the 1400-byte MTU (the path MTU is learned).
    let len = 20 << 20;
    assert_eq!(
        tcp_transfer(a, b, "10.71.2.2", 5201, len),
        len,
        "IPv4 transfer intact"
    );
    assert_eq!(
        tcp_transfer(a, b, "[fd71:2::2]", 5202, len),
        len,
        "IPv6 transfer intact"
    );

    // What the router knows and did.
    let r = n.d.json(&["router", "show", &n.router]);
    let neigh = r["neighbors"].as_array().expect("neighbors");
    for ip in ["10.71.1.2", "10.71.2.2", "fd71:2::2"] {
        assert!(
            neigh.iter().any(|x| x["ip"] == ip && x["mac"].is_string()),
            "{ip} resolved: {r}"
        );
    }
    // 40 MiB went through in super-frames of 64 KiB at most: 640 and
    // more, the ACKs besides (how many depends on the batching, which
    // the machine's load changes).
    assert!(
        r["counters"]["forwarded"].as_u64().unwrap_or(0) >= 640,
        "{r}"
    );
    assert!(
        r["counters"]["icmp_errors"].as_u64().unwrap_or(0) >= 6,
        "{r}"
    );
    assert!(
        r["counters"]["drops"]["too_big"].as_u64().unwrap_or(0) >= 2,
        "{r}"
    );
    let table = n.d.ok(&["router", "show", &n.router]);
    assert!(
        table.contains("10.71.1.0/24") && table.contains("reachable"),
        "{table}"
    );
    // Router ports are switch ports: counted in stats, under ROUTER:PORT
    // (workers publish their counters a few times a second; a loaded
    // machine may take a moment longer).
    let rp = format!("{}:a", n.router);
    let rx_of = |stats: &serde_json::Value| {
        stats["ports"]
            .as_array()
            .and_then(|p| {
                p.iter()
                    .find(|p| p["switch"] == n.switch_a.as_str() && p["port"] == rp.as_str())
            })
            .and_then(|p| p["rx_frames"].as_u64())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut stats = n.d.json(&["stats"]);
    while rx_of(&stats) <= 100 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        stats = n.d.json(&["stats"]);
    }
    assert!(rx_of(&stats) > 100, "{stats}");
    let metrics = n.d.http("GET", "/metrics", None).expect("metrics").1;
    assert!(
        metrics.contains(&format!(
            "vepa_router_forwarded_total{{router=\"{}\"}}",
            n.router
        )),
        "metrics"
    );
}

#[test]
fn routes_change_at_run_time_persist_and_refuse_bad_input_whole() {
    require_root();
    let id = uid();
    let n = net(&id);
    let r = n.router.clone();
    let (a, b) = (&n.a.name, &n.b.name);
    assert!(wait_reachable(a, "10.71.2.2"));

    // A static route: 192.0.2.0/24 lives behind B (B answers for it on lo).
    run_in(b, &["ip", "addr", "add", "192.0.2.9/32", "dev", "lo"]);
    assert!(!ping(a, "192.0.2.9"), "no route yet");
    n.d.ok(&["route", "add", &r, "192.0.2.0/24", "--via", "10.71.2.2"]);
    assert!(ping(a, "192.0.2.9"), "reached through the static route");
    let routes = n.d.json(&["route", "show", &r]);
    assert!(
        routes.as_array().is_some_and(|v| v
            .iter()
            .any(|x| x["prefix"] == "192.0.2.0/24" && x["kind"] == "static")),
        "{routes}"
    );

    // Bad input: each refused naming the field, nothing applied.
    let before = n.d.topology();
    for (args, want) in [
        (
            vec!["route", "add", &r, "198.51.100.0/24", "--via", "10.99.0.1"],
            "unreachable",
        ),
        (
            vec!["route", "add", &r, "198.51.100.1/24", "--via", "10.71.2.2"],
            "host bits",
        ),
        (
            vec!["route", "add", &r, "198.51.100.0/33", "--via", "10.71.2.2"],
            "prefix length",
        ),
        (
            vec!["route", "add", &r, "192.0.2.0/24", "--via", "10.71.2.2"],
            "already",
        ),
        (vec!["route", "add", &r, "198.51.100.0/24"], "next hop"),
        (
            vec![
                "router",
                "port",
                "add",
                &r,
                "c",
                "--switch",
                &n.switch_a,
                "--address",
                "10.71.1.200/16",
            ],
            "overlaps",
        ),
        (
            vec![
                "router",
                "port",
                "add",
                &r,
                "c",
                "--switch",
                "nosuch",
                "--address",
                "10.80.0.1/24",
            ],
            "no switch",
        ),
        (
            vec![
                "router",
                "port",
                "add",
                &r,
                "c",
                "--switch",
                &n.switch_b,
                "--address",
                "10.80.0.1",
            ],
            "ADDRESS/LENGTH",
        ),
        (
            vec!["route", "del", &r, "203.0.113.0/24"],
            "no static route",
        ),
        (vec!["router", "show", "nosuch"], "no router"),
    ] {
        let err = n.d.fails(&args);
        assert!(err.contains(want), "{args:?}: {err} (wanted {want})");
    }
    assert_eq!(n.d.topology(), before, "nothing half-applied");
    assert!(ping(a, "10.71.2.2"), "still routing");

    // Default routes of both families live side by side; `default` alone
    // is then ambiguous, the prefixes are not.
    n.d.ok(&["route", "add", &r, "default", "--via", "10.71.2.2"]);
    n.d.ok(&["route", "add", &r, "default", "--via", "fd71:2::2"]);
    let err = n.d.fails(&["route", "del", &r, "default"]);
    assert!(err.contains("say 0.0.0.0/0 or ::/0"), "{err}");
    n.d.ok(&["route", "del", &r, "::/0"]);
    n.d.ok(&["route", "del", &r, "default"]);
    // Export reproduces it; a restart brings the router back as it was.
    let export = n.d.export_reapplies();
    assert!(
        export.contains("[[router]]") && export.contains("192.0.2.0/24"),
        "{export}"
    );
    let mut d = n.d;
    d.stop();
    d.launch();
    assert!(
        wait_reachable(a, "192.0.2.9"),
        "static route back after a restart"
    );
    d.ok(&["route", "del", &r, "192.0.2.0/24"]);
    assert!(!ping(a, "192.0.2.9"), "route gone");
    // The router goes: the subnets are cut off from each other.
    d.ok(&["router", "del", &r]);
    assert!(!ping(a, "10.71.2.2"), "no router, no path");
}
