//! Flow tables driven through `vepa flow`, with real traffic between
//! namespaces: a flow that drops ICMP while TCP passes, a flow that copies
//! a VM's traffic to a monitor port, flows kept across a daemon restart
//! and in `export`.

use vepa_itest::daemon::Daemon;
use vepa_itest::{ping, require_root, tcp_transfer, uid, wait_reachable, Capture, Netns};

/// A veb switch with vm1, vm2 and a monitor, each a veth into its namespace.
fn topology(sw: &str, names: &[(&str, &Netns, &str)]) -> String {
    let mut t = format!("[[switch]]\nname = \"{sw}\"\nmode = \"veb\"\n");
    for (port, ns, ip) in names {
        t.push_str(&format!(
            "[[switch.port]]\nname = \"{port}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"{ip}\"]\n",
            ns.name
        ));
    }
    t
}

#[test]
fn flows_from_the_cli_drop_icmp_steer_to_a_monitor_and_survive_a_restart() {
    require_root();
    let id = uid();
    let (n1, n2, nm) = (
        Netns::new(&format!("fa{id}")),
        Netns::new(&format!("fb{id}")),
        Netns::new(&format!("fm{id}")),
    );
    let sw = format!("f{id}");
    let (p1, p2, pm) = (format!("f1{id}"), format!("f2{id}"), format!("fm{id}"));
    let mut d = Daemon::start();
    d.links = vec![p1.clone(), p2.clone(), pm.clone()];
    let file = d.dir.path().join("sdn.toml");
    std::fs::write(
        &file,
        topology(
            &sw,
            &[
                (&p1, &n1, "10.62.0.1/24"),
                (&p2, &n2, "10.62.0.2/24"),
                (&pm, &nm, "10.62.0.3/24"),
            ],
        ),
    )
    .expect("write topology");
    d.ok(&["apply", "-f", file.to_str().expect("path")]);
    assert!(
        wait_reachable(&n1.name, "10.62.0.2"),
        "no flows: plain veb switch"
    );

    // Copy vm1's traffic to the monitor as well as forwarding it.
    d.ok(&[
        "flow",
        "add",
        &sw,
        &format!("priority=50,in_port={p1},actions=NORMAL,output:{pm}"),
    ]);
    let cap = Capture::start(&nm.name, "eth0");
    assert!(ping(&n1.name, "10.62.0.2"), "vm1 still reaches vm2");
    let seen = cap.finish();
    let (vm1_mac, vm2_mac) = (n1.mac("eth0"), n2.mac("eth0"));
    let requests = seen
        .iter()
        .filter(|f| f.len() >= 35 && f[6..12] == vm1_mac.0 && f[23] == 1 && f[34] == 8)
        .count();
    assert!(
        requests >= 1,
        "the monitor got vm1's echo requests: {} frames",
        seen.len()
    );
    // vm2's answers (unicast to vm1), which no flow steers, are not copied.
    assert!(!seen
        .iter()
        .any(|f| f.len() > 12 && f[6..12] == vm2_mac.0 && f[0..6] == vm1_mac.0));

    // Drop ICMP from vm1; everything else takes the switch's own forwarding.
    let said = d.ok(&[
        "flow",
        "add",
        &sw,
        &format!("priority=100,icmp,in_port={p1},actions=drop"),
    ]);
    assert!(said.contains("added 1"), "{said}");
    assert!(!ping(&n1.name, "10.62.0.2"), "ICMP from vm1 is dropped");
    assert_eq!(
        tcp_transfer(&n1.name, &n2.name, "10.62.0.2", 5201, 200_000),
        200_000,
        "TCP from vm1 still passes"
    );
    let dump = d.ok(&["flow", "dump", &sw]);
    let line = dump
        .lines()
        .find(|l| l.contains("icmp"))
        .unwrap_or_else(|| panic!("{dump}"));
    let n: u64 = line
        .split("n_packets=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(n >= 1, "the drop flow counted the pings: {line}");

    // Flows are desired state: in export, and back after a restart.
    let export = d.ok(&["export"]);
    assert!(export.contains("actions=drop"), "{export}");
    d.stop();
    d.launch();
    let dump = d.ok(&["flow", "dump", &sw]);
    assert_eq!(dump.lines().count(), 2, "{dump}");
    assert!(!ping(&n1.name, "10.62.0.2"), "the drop flow is back");

    // Deleting by match: ICMP passes again.
    let said = d.ok(&["flow", "del", &sw, "icmp"]);
    assert!(said.contains("deleted 1"), "{said}");
    assert!(wait_reachable(&n1.name, "10.62.0.2"));

    // Bad input names the part at fault and changes nothing.
    let err = d.fails(&[
        "flow",
        "add",
        &sw,
        "priority=1,tcp,tp_dst=99999,actions=drop",
    ]);
    assert!(err.contains("tp_dst"), "{err}");
    let err = d.fails(&["flow", "add", &sw, "in_port=nowhere,actions=drop"]);
    assert!(err.contains("in_port"), "{err}");
    assert_eq!(d.ok(&["flow", "dump", &sw]).lines().count(), 1);
}
