//! TUN router ports: a namespace behind a TUN device (what a userspace VPN
//! is to the fabric) routes through a vepa router to a container on a
//! switch, ping and TCP both ways; a tun port on a switch is refused.

use vepa_itest::{
    free_port, ping, require_root, tcp_transfer, uid, vepa_bin, wait_reachable, Netns, Vepa,
};

fn topology(id: &str, vpn: &str, vm: &str, offload: bool) -> String {
    format!(
        r#"
[[switch]]
name = "lan{id}"
[[switch.port]]
name = "tv{id}"
type = "veth"
netns = "{vm}"
address = ["10.60.0.10/24", "fd60::10/64"]
gateway = ["10.60.0.1", "fd60::1"]

[[router]]
name = "r{id}"
[[router.port]]
name = "lan"
switch = "lan{id}"
address = ["10.60.0.1/24", "fd60::1/64"]
[[router.port]]
name = "vpn"
type = "tun"
ifname = "tun{id}"
netns = "{vpn}"
address = ["10.8.0.1/30", "fd08::1/64"]
peer_address = ["10.8.0.2/30", "fd08::2/64"]
offload = {offload}
"#
    )
}

#[test]
fn a_tun_namespace_routes_to_a_container_both_ways() {
    require_root();
    for offload in [true, false] {
        let id = uid();
        let vpn = Netns::new(&format!("tn{id}v"));
        let vm = Netns::new(&format!("tn{id}m"));
        let _vepa = Vepa::start(
            &topology(&id, &vpn.name, &vm.name, offload),
            &[format!("tv{id}")],
        );
        assert!(
            wait_reachable(&vm.name, "10.8.0.2"),
            "offload {offload}: the container never reached the tun namespace"
        );
        assert!(
            ping(&vpn.name, "10.60.0.10"),
            "offload {offload}: tun -> container"
        );
        assert!(
            wait_reachable(&vpn.name, "fd60::10"),
            "offload {offload}: IPv6 tun -> container"
        );
        // The device is a TUN (no Ethernet), in its namespace.
        let link = vpn.exec(&["ip", "-d", "link", "show", "dev", &format!("tun{id}")]);
        let text = String::from_utf8_lossy(&link.stdout);
        assert!(text.contains("tun type tun"), "{text}");
        let len = 8 << 20;
        let got = tcp_transfer(&vpn.name, &vm.name, "10.60.0.10", free_port(), len);
        assert_eq!(got, len, "offload {offload}: TCP tun -> container");
        let got = tcp_transfer(&vm.name, &vpn.name, "10.8.0.2", free_port(), len);
        assert_eq!(got, len, "offload {offload}: TCP container -> tun");
    }
}

#[test]
fn a_tun_port_on_a_switch_is_refused() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"t0\"\ntype = \"tun\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(vepa_bin())
        .args(["run", "-f"])
        .arg(&file)
        .output()
        .expect("run vepa");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("port 't0': type: a tun device carries IP packets"),
        "{err}"
    );
}

/// The daemon makes the TUN device (`router port add --tun`), routes
/// through it, refuses a device name that is taken, and removes the device
/// when the port goes.
#[test]
fn the_daemon_serves_a_tun_port() {
    require_root();
    let id = uid();
    let vpn = Netns::new(&format!("td{id}v"));
    let vm = Netns::new(&format!("td{id}m"));
    let mut d = vepa_itest::daemon::Daemon::start();
    d.links = vec![format!("tv{id}")];
    let text = topology(&id, &vpn.name, &vm.name, true);
    let cut = text
        .find("[[router.port]]\nname = \"vpn\"")
        .expect("the tun port");
    let file = d.dir.path().join("lan.toml");
    std::fs::write(&file, &text[..cut]).expect("write");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    let r = format!("r{id}");
    // A taken name is refused, and nothing is added.
    let err = d.fails(&[
        "router",
        "port",
        "add",
        &r,
        "vpn",
        "--tun",
        "--ifname",
        &format!("tv{id}"),
        "--address",
        "10.8.0.1/30",
    ]);
    assert!(
        err.contains(&format!("interface 'tv{id}' exists already")),
        "{err}"
    );
    assert!(
        !d.ok(&["router", "show", &r]).contains("vpn"),
        "nothing half-added"
    );
    d.ok(&[
        "router",
        "port",
        "add",
        &r,
        "vpn",
        "--tun",
        "--ifname",
        &format!("tun{id}"),
        "--netns",
        &vpn.name,
        "--address",
        "10.8.0.1/30",
        "--address",
        "fd08::1/64",
        "--peer-address",
        "10.8.0.2/30",
        "--peer-address",
        "fd08::2/64",
    ]);
    assert!(wait_reachable(&vm.name, "10.8.0.2"), "container -> tun");
    assert!(ping(&vpn.name, "10.60.0.10"), "tun -> container");
    let show = d.ok(&["router", "show", &r]);
    assert!(
        show.contains(&format!("tun tun{id}@{}", vpn.name)),
        "{show}"
    );
    // Export and apply: no change (the port is in the desired state whole).
    d.export_reapplies();
    // A namespace the daemon makes for a tun port stays while the port
    // does (the sweep after each change counts it), and goes with it.
    let made = format!("td{id}n");
    d.ok(&[
        "router",
        "port",
        "add",
        &r,
        "vpn2",
        "--tun",
        "--ifname",
        &format!("tuo{id}"),
        "--netns",
        &made,
        "--address",
        "10.8.1.1/30",
        "--peer-address",
        "10.8.1.2/30",
    ]);
    d.ok(&[
        "port",
        "set",
        &format!("lan{id}/tv{id}"),
        "--mac-limit",
        "9",
    ]);
    assert!(
        vepa_itest::netns_exists(&made),
        "the daemon's namespace stays"
    );
    assert!(
        wait_reachable(&vm.name, "10.8.1.2"),
        "container -> the second tun"
    );
    d.ok(&["router", "port", "del", &r, "vpn2"]);
    assert!(!vepa_itest::netns_exists(&made), "and goes with its port");
    // Without the port, the device goes.
    d.ok(&["router", "port", "del", &r, "vpn"]);
    let left = vpn.exec(&["ip", "-o", "link", "show"]);
    let links = String::from_utf8_lossy(&left.stdout);
    assert!(
        !links.contains(&format!("tun{id}")),
        "the tun device went: {links}"
    );
}
