//! The daemon driven only through its CLI and API, against real
//! namespaces: ports added at run time, a mode changed under traffic,
//! export/apply round trips, an apply that fails half-way, capture and
//! metrics.

use std::process::{Command, Stdio};
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::{link_exists, netns_exists, ping, require_root, sh, uid, wait_reachable, Netns};

#[test]
fn ports_added_at_run_time_forward_and_a_mode_change_takes_effect_under_traffic() {
    require_root();
    let id = uid();
    let (vm1, vm2, out) = (
        Netns::new(&format!("dva{id}")),
        Netns::new(&format!("dvb{id}")),
        Netns::new(&format!("dvo{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("s{id}");
    let (up, p1, p2) = (format!("du{id}"), format!("d1{id}"), format!("d2{id}"));
    d.links = vec![up.clone(), p1.clone(), p2.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &up,
        "--type",
        "veth",
        "--uplink",
        "--netns",
        &out.name,
        "--address",
        "10.61.0.100/24",
    ]);
    for (p, ns, ip) in [(&p1, &vm1, "10.61.0.1/24"), (&p2, &vm2, "10.61.0.2/24")] {
        let said = d.ok(&[
            "port",
            "add",
            &sw,
            p,
            "--type",
            "veth",
            "--netns",
            &ns.name,
            "--address",
            ip,
        ]);
        assert!(said.contains(&format!("+ port {sw}/{p}")), "{said}");
    }
    assert!(
        wait_reachable(&vm1.name, "10.61.0.2"),
        "veb: vm1 reaches vm2"
    );
    assert!(
        wait_reachable(&vm1.name, "10.61.0.100"),
        "vm1 reaches the outside"
    );

    // A steady ping to the outside runs across the change: it stays allowed.
    let bg = Command::new("ip")
        .args([
            "netns",
            "exec",
            &vm1.name,
            "ping",
            "-i",
            "0.02",
            "-c",
            "150",
            "-W",
            "1",
            "10.61.0.100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("background ping");
    std::thread::sleep(Duration::from_millis(800));
    let said = d.ok(&["switch", "set", &sw, "--mode", "vepa"]);
    assert!(said.contains("mode: \"veb\" -> \"vepa\""), "{said}");
    assert!(
        !ping(&vm1.name, "10.61.0.2"),
        "vepa without relay: vm1 must not reach vm2"
    );
    assert!(
        ping(&vm1.name, "10.61.0.100"),
        "vepa: the outside stays reachable"
    );
    let bg = bg.wait_with_output().expect("background ping");
    let text = String::from_utf8_lossy(&bg.stdout);
    assert!(
        text.contains("150 packets transmitted, 150 received"),
        "traffic that stays allowed lost frames across the change:\n{text}"
    );

    // Back to veb at run time, and per-port overrides.
    d.ok(&["switch", "set", &sw, "--mode", "veb"]);
    assert!(
        wait_reachable(&vm1.name, "10.61.0.2"),
        "veb again: vm1 reaches vm2"
    );
    d.ok(&["port", "set", &sw, &p2, "--vlan", "20"]);
    assert!(!ping(&vm1.name, "10.61.0.2"), "vm2 moved to VLAN 20");
    d.ok(&["port", "set", &sw, &p2, "--vlan", "1"]);
    assert!(wait_reachable(&vm1.name, "10.61.0.2"));

    // Show commands, as JSON.
    let s = d.json(&["switch", "show", &sw]);
    assert_eq!(s["mode"], "veb");
    assert!(d.ok(&["switch", "show"]).contains("userspace (asked for)"));
    let ports = d.json(&["port", "show", &sw]);
    assert_eq!(ports.as_array().map(|a| a.len()), Some(3), "{ports}");
    assert_eq!(ports[0]["role"], "uplink");
    let mac1 = vm1.mac("eth0").to_string();
    let fdb = d.json(&["fdb", "show", &sw]);
    assert!(
        fdb.as_array()
            .unwrap()
            .iter()
            .any(|r| r["mac"] == mac1.as_str() && r["port"] == p1.as_str()),
        "vm1 learned on its port: {fdb}"
    );
    let stats = d.json(&["stats"]);
    let vm1_rx = stats["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == p1.as_str())
        .map(|p| p["rx_frames"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(vm1_rx >= 150, "vm1's port counted its frames: {stats}");
    assert!(d.ok(&["stats"]).contains("RX PKTS"));

    // Static FDB entries: stored, shown, removed.
    d.ok(&["fdb", "add", &sw, "02:00:00:00:aa:01", "--port", &p2]);
    let fdb = d.json(&["fdb", "show", &sw]);
    assert!(fdb
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["mac"] == "02:00:00:00:aa:01" && r["static"] == true));
    d.ok(&["fdb", "del", &sw, "02:00:00:00:aa:01"]);
    assert!(d.ok(&["fdb", "flush", &sw]).contains("removed"));

    // Export, then apply of the export: an empty plan.
    let exported = d.ok(&["export"]);
    let file = d.dir.path().join("export.toml");
    std::fs::write(&file, &exported).unwrap();
    let f = file.to_str().unwrap();
    assert!(d.ok(&["apply", "-f", f, "--dry-run"]).contains("no change"));
    assert!(d.ok(&["apply", "-f", f]).contains("no change"));

    // A bigger file: one more VM in a namespace the daemon makes.
    let (p3, ns3) = (format!("d3{id}"), format!("dvc{id}"));
    d.links.push(p3.clone());
    let bigger = format!(
        "{exported}\n[[switch.port]]\nname = \"{p3}\"\ntype = \"veth\"\nnetns = \"{ns3}\"\naddress = [\"10.61.0.3/24\"]\n"
    );
    let file2 = d.dir.path().join("bigger.toml");
    std::fs::write(&file2, &bigger).unwrap();
    let f2 = file2.to_str().unwrap();
    let plan = d.ok(&["apply", "-f", f2, "--dry-run"]);
    assert_eq!(
        plan.lines().next(),
        Some(format!("+ port {sw}/{p3}").as_str()),
        "{plan}"
    );
    assert!(!link_exists(&p3), "a dry run makes nothing");
    d.ok(&["apply", "-f", f2]);
    assert!(netns_exists(&ns3), "the daemon made the namespace");
    assert!(wait_reachable(&ns3, "10.61.0.1"), "the new VM reaches vm1");
    let again = d.ok(&["export"]);
    std::fs::write(&file2, &again).unwrap();
    assert!(
        d.ok(&["apply", "-f", f2]).contains("no change"),
        "export of the bigger state round-trips"
    );
    // Back to the first file: the port, its device and the namespace it
    // made go. (An export from before that change: only with --force.)
    let said = d.ok(&["apply", "-f", f, "--force"]);
    assert!(said.contains(&format!("- port {sw}/{p3}")), "{said}");
    assert!(
        !link_exists(&p3) && !netns_exists(&ns3),
        "removed with its namespace"
    );
    assert!(
        wait_reachable(&vm1.name, "10.61.0.2"),
        "the others still forward"
    );
}

#[test]
fn an_apply_that_fails_half_way_changes_nothing() {
    require_root();
    let id = uid();
    let vm1 = Netns::new(&format!("dfa{id}"));
    let mut d = Daemon::start();
    let sw = format!("f{id}");
    let p1 = format!("f1{id}");
    d.links = vec![p1.clone()];
    d.ok(&["switch", "add", &sw]);
    d.ok(&[
        "port", "add", &sw, &p1, "--type", "veth", "--netns", &vm1.name,
    ]);
    let before = d.topology();
    // A link the daemon does not own, in the way of the second new port.
    let (blocker, blocker_peer) = (format!("fb{id}"), format!("fc{id}"));
    sh(&[
        "ip",
        "link",
        "add",
        &blocker,
        "type",
        "veth",
        "peer",
        "name",
        &blocker_peer,
    ]);
    let _guard = vepa_itest::Links(vec![blocker.clone()]);
    let (p2, ns2) = (format!("f2{id}"), format!("dfb{id}"));
    d.links.push(p2.clone());
    let file = d.dir.path().join("half.toml");
    std::fs::write(
        &file,
        format!(
            "{}\n[[switch.port]]\nname = \"{p2}\"\ntype = \"veth\"\nnetns = \"{ns2}\"\n\n[[switch.port]]\nname = \"x{id}\"\ntype = \"veth\"\nifname = \"{blocker}\"\nnetns = \"{ns2}\"\n",
            d.ok(&["export"])
        ),
    )
    .unwrap();
    let err = d.fails(&["apply", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains(&blocker) && err.contains("409") && err.contains("field 'ifname'"),
        "{err}"
    );
    assert_eq!(d.topology(), before, "the store is unchanged");
    assert!(
        !link_exists(&p2),
        "the port made before the failure is gone again"
    );
    assert!(!netns_exists(&ns2), "so is the namespace made for it");
    assert!(
        link_exists(&blocker),
        "what vepa does not own is left alone"
    );
    assert!(link_exists(&p1), "the existing port is still there");
    // And the daemon still takes changes.
    d.ok(&["switch", "set", &sw, "--ageing-secs", "60"]);
}

#[test]
fn capture_writes_pcap_that_tcpdump_reads_and_metrics_count() {
    require_root();
    let id = uid();
    let (vm1, vm2) = (
        Netns::new(&format!("dca{id}")),
        Netns::new(&format!("dcb{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("c{id}");
    let (p1, p2) = (format!("c1{id}"), format!("c2{id}"));
    d.links = vec![p1.clone(), p2.clone()];
    d.ok(&["switch", "add", &sw]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &p1,
        "--type",
        "veth",
        "--netns",
        &vm1.name,
        "--address",
        "10.62.0.1/24",
    ]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &p2,
        "--type",
        "veth",
        "--netns",
        &vm2.name,
        "--address",
        "10.62.0.2/24",
    ]);
    assert!(wait_reachable(&vm1.name, "10.62.0.2"));
    let pcap = d.dir.path().join("vm1.pcap");
    let target = format!("{sw}/{p1}");
    let cap = Command::new(vepa_itest::vepa_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args([
            "capture",
            &target,
            "-w",
            pcap.to_str().unwrap(),
            "-c",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vepa capture");
    std::thread::sleep(Duration::from_millis(500));
    assert!(ping(&vm1.name, "10.62.0.2"), "ping while capturing");
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl-C: what was captured is on disk already.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(cap.id() as i32, libc::SIGINT) };
    let _ = cap.wait_with_output();
    let read = sh(&["tcpdump", "-nr", pcap.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(
        text.contains("10.62.0.1 > 10.62.0.2: ICMP echo request"),
        "{text}"
    );
    assert!(
        text.contains("10.62.0.2 > 10.62.0.1: ICMP echo reply"),
        "{text}"
    );

    let (status, metrics) = d.http("GET", "/metrics", None).expect("GET /metrics");
    assert_eq!(status, 200);
    let line = |prefix: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
    };
    assert!(
        line(&format!(
            "vepa_port_rx_packets_total{{switch=\"{sw}\",port=\"{p1}\"}}"
        )) >= 3
    );
    assert!(
        line(&format!(
            "vepa_port_tx_bytes_total{{switch=\"{sw}\",port=\"{p2}\"}}"
        )) > 0
    );
    assert!(line(&format!("vepa_fdb_entries{{switch=\"{sw}\"}}")) >= 2);
    assert!(
        line(&format!(
            "vepa_fdb_learning_events_total{{switch=\"{sw}\"}}"
        )) >= 2
    );
    assert!(
        line(&format!(
            "vepa_port_drops_total{{switch=\"{sw}\",port=\"{p1}\",reason=\"no_hairpin\"}}"
        )) < u64::MAX
    );
    assert!(line("vepa_api_requests_total{method=\"POST\",route=\"/v1/switches/{switch}/ports\",status=\"201\"}") >= 2);
    assert!(metrics.contains("# TYPE vepa_port_drops_total counter"));
}

#[test]
fn the_embedded_default_forwards_and_the_api_describes_itself() {
    require_root();
    let mut d = Daemon::start_with(&["--default"]);
    d.links = vec!["vepa0-vm1".into(), "vepa0-vm2".into(), "vepa0-up".into()];
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"), "{}", d.log());
    assert!(d.ok(&["port", "show"]).contains("vepa0-vm2"));
    // What the file's comment promises: in vepa mode with nothing on the
    // wire to reflect, vm1 and vm2 stop talking; back in veb they talk.
    d.ok(&["switch", "set", "vepa0", "--mode", "vepa"]);
    let uplink_tx = |d: &Daemon| {
        let (_, body) = d.http("GET", "/v1/stats", None).expect("stats");
        let stats: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        stats["ports"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["port"] == "vepa0-up"))
            .and_then(|p| p["tx_frames"].as_u64())
            .expect("the uplink's counters")
    };
    let sent = uplink_tx(&d);
    assert!(!ping("vepa-vm1", "10.77.0.2"), "vepa mode without relay");
    // ...because the frames went up the uplink, not for any other reason.
    std::thread::sleep(Duration::from_millis(600));
    assert!(uplink_tx(&d) > sent, "vm1's frames went out the uplink");
    d.ok(&["switch", "set", "vepa0", "--mode", "veb"]);
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"), "{}", d.log());
    // Its one OpenFlow channel is the management socket: root's (and the
    // group's), nobody's even with every mode loosened.
    let mgmt = d.socket.with_file_name("vepa0.mgmt");
    let show = d.ok(&["switch", "show"]);
    assert!(
        show.contains(&format!("OpenFlow: punix:{}", mgmt.display())),
        "{show}"
    );
    assert!(!show.contains("ptcp"), "{show}");
    {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o777);
        std::fs::set_permissions(d.dir.path(), open.clone()).expect("chmod");
        std::fs::set_permissions(&mgmt, open).expect("chmod");
    }
    let target = format!("unix:{}", mgmt.display());
    let ofctl = |setpriv: &[&str]| {
        std::process::Command::new("setpriv")
            .args(setpriv)
            .args(["ovs-ofctl", "-O", "OpenFlow13", "show", &target])
            .output()
            .expect("setpriv ovs-ofctl")
    };
    let nobody = ofctl(&["--reuid=65534", "--regid=65534", "--clear-groups"]);
    assert!(!nobody.status.success(), "nobody is refused");
    let root = ofctl(&["--reuid=0"]);
    assert!(
        root.status.success(),
        "{}",
        String::from_utf8_lossy(&root.stderr)
    );
    let (status, doc) = d.http("GET", "/v1/openapi.json", None).expect("openapi");
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/v1/switches",
        "/v1/switches/{switch}",
        "/v1/switches/{switch}/ports/{port}",
        "/v1/switches/{switch}/fdb",
        "/v1/switches/{switch}/ports/{port}/capture",
        "/v1/apply",
        "/v1/stats",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("PortSpec").is_some());
    // A second start on the same state keeps the state (no second seeding) and adopts the devices.
    d.stop();
    d.launch();
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"));
    assert!(d.log().contains("adopted"), "{}", d.log());
}

#[test]
fn a_patch_wire_comes_and_goes_whole() {
    require_root();
    let id = uid();
    let (vm1, out) = (
        Netns::new(&format!("dpa{id}")),
        Netns::new(&format!("dpo{id}")),
    );
    let mut d = Daemon::start();
    let (h, r) = (format!("h{id}"), format!("r{id}"));
    let (up, rel, v1, o) = (
        format!("pu{id}"),
        format!("pr{id}"),
        format!("pv{id}"),
        format!("po{id}"),
    );
    d.links = vec![up.clone(), rel.clone(), v1.clone(), o.clone()];
    let file = d.dir.path().join("wired.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[switch]]
name = "{h}"
[switch.uplink]
name = "{up}"
type = "patch"
peer = "{r}/{rel}"
[[switch.port]]
name = "{v1}"
type = "veth"
netns = "{vm1}"
address = ["10.64.0.1/24"]

[[switch]]
name = "{r}"
[[switch.port]]
name = "{rel}"
type = "patch"
peer = "{h}/{up}"
relay = true
[[switch.port]]
name = "{o}"
type = "veth"
netns = "{out}"
address = ["10.64.0.100/24"]
"#,
            vm1 = vm1.name,
            out = out.name
        ),
    )
    .unwrap();
    d.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(wait_reachable(&vm1.name, "10.64.0.100"), "across the patch");
    // Deleting one end of the wire takes the other with it.
    let said = d.ok(&["port", "del", &r, &rel]);
    assert!(
        said.contains(&format!("- port {h}/{up}")) && said.contains(&format!("- port {r}/{rel}")),
        "{said}"
    );
    assert!(!link_exists(&up) && !link_exists(&rel));
    assert!(!ping(&vm1.name, "10.64.0.100"), "no wire, no way out");
    // Back whole, then the relay switch deleted: the host switch's uplink goes too.
    d.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(wait_reachable(&vm1.name, "10.64.0.100"));
    let said = d.ok(&["switch", "del", &r]);
    assert!(said.contains(&format!("- port {h}/{up}")), "{said}");
    assert!(!link_exists(&up) && !link_exists(&rel) && !link_exists(&o));
    assert!(link_exists(&v1));
}
