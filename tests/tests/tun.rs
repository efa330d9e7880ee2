//! TUN router ports: a namespace behind a TUN device (what a userspace VPN
//! is to the fabric) routes through a vepa router to a container on a
//! switch, ping and TCP both ways; a tun port on a switch is refused.

use vepa_itest::{free_port, ping, require_root, tcp_transfer, uid, wait_reachable, Netns, Vepa};

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
    let err = vepa_itest::run_refused(
        "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"t0\"\ntype = \"tun\"\n",
    );
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
    let cut = lan_only(&text);
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

/// A real OpenVPN tunnel (point-to-point, static key) between namespace
/// `host`, where it opens vepa's persistent device by name, and `remote`,
/// whose own tun device is the far end: 10.8.0.2 and fd08::2, routed to
/// the LAN 10.60.0.0/24 and fd60::/64 through the tunnel. Both processes
/// are killed on drop.
struct OpenVpn {
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl OpenVpn {
    /// The UDP underlay between the namespaces (192.168.77.1 and .2 on a
    /// veth pair made inside them), then both ends.
    fn start(id: &str, host: &Netns, remote: &Netns, device: &str) -> OpenVpn {
        assert!(
            std::path::Path::new("/usr/sbin/openvpn").exists(),
            "openvpn is missing; scripts/test.sh installs the openvpn package"
        );
        let (x, y) = (format!("ov{id}x"), format!("ov{id}y"));
        vepa_itest::sh(&[
            "ip",
            "link",
            "add",
            &x,
            "netns",
            &host.name,
            "type",
            "veth",
            "peer",
            "name",
            &y,
            "netns",
            &remote.name,
        ]);
        for (ns, dev, ip) in [
            (host, &x, "192.168.77.1/24"),
            (remote, &y, "192.168.77.2/24"),
        ] {
            ns.exec(&["ip", "addr", "add", ip, "dev", dev]);
            ns.exec(&["ip", "link", "set", dev, "up"]);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key").display().to_string();
        vepa_itest::sh(&["openvpn", "--genkey", "secret", &key]);
        let common = [
            "--dev-type",
            "tun",
            "--proto",
            "udp",
            "--port",
            "11940",
            "--cipher",
            "AES-256-CBC",
            "--auth",
            "SHA256",
            "--verb",
            "1",
            "--ping",
            "1",
        ];
        let run = |ns: &Netns, args: &[&str]| {
            std::process::Command::new("ip")
                .args(["netns", "exec", &ns.name, "openvpn"])
                .args(common)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start openvpn")
        };
        let children = vec![
            // vepa's side: the device exists; openvpn only opens it.
            run(
                host,
                &[
                    "--dev",
                    device,
                    "--local",
                    "192.168.77.1",
                    "--remote",
                    "192.168.77.2",
                    "--secret",
                    &key,
                    "0",
                ],
            ),
            run(
                remote,
                &[
                    "--dev",
                    &format!("ovt{id}"),
                    "--local",
                    "192.168.77.2",
                    "--remote",
                    "192.168.77.1",
                    "--secret",
                    &key,
                    "1",
                    "--ifconfig",
                    "10.8.0.2",
                    "10.8.0.1",
                    "--route",
                    "10.60.0.0",
                    "255.255.255.0",
                    "--ifconfig-ipv6",
                    "fd08::2/64",
                    "fd08::1",
                    "--route-ipv6",
                    "fd60::/64",
                ],
            ),
        ];
        OpenVpn {
            children,
            _dir: dir,
        }
    }
}

impl Drop for OpenVpn {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Where `text`'s tun port starts: what comes before is the LAN and the
/// router's port on it.
fn lan_only(text: &str) -> usize {
    text.find("[[router.port]]\nname = \"vpn\"")
        .expect("the tun port")
}

/// [`topology`], its tun port persistent (`pt{id}` in `host`) for OpenVPN.
fn persistent_topology(id: &str, host: &str, vm: &str) -> String {
    let text = topology(id, host, vm, true);
    let cut = lan_only(&text);
    format!(
        "{}[[router.port]]\nname = \"vpn\"\ntype = \"tun\"\npersist = true\nifname = \"pt{id}\"\nnetns = \"{host}\"\naddress = [\"10.8.0.1/24\", \"fd08::1/64\"]\n",
        &text[..cut]
    )
}

/// Waits until `ns` has interface `dev`.
fn wait_link(ns: &Netns, dev: &str) -> bool {
    (0..100).any(|_| {
        let ok = std::process::Command::new("ip")
            .args(["-n", &ns.name, "link", "show", dev])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ok
    })
}

/// Runs `args` in `ns`, whatever its exit status.
fn try_exec(ns: &Netns, args: &[&str]) -> std::process::Output {
    std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .args(args)
        .output()
        .expect("ip netns exec")
}

/// What `ip -d link show dev` says in `ns` (empty: no such device).
fn link_text(ns: &Netns, dev: &str) -> String {
    String::from_utf8_lossy(&try_exec(ns, &["ip", "-d", "link", "show", "dev", dev]).stdout)
        .into_owned()
}

/// The namespace behind a persistent device gets nothing of what comes in
/// through it: an address of its own (on lo, routed back through the
/// tunnel) does not answer, while the router does ("unreachable"), so the
/// packets did arrive.
fn assert_isolated(host: &Netns, remote: &Netns, device: &str) {
    host.exec(&["ip", "addr", "add", "10.99.0.1/32", "dev", "lo"]);
    host.exec(&["ip", "route", "add", "10.8.0.2/32", "dev", device]);
    remote.exec(&["ip", "route", "add", "10.99.0.1/32", "via", "10.8.0.1"]);
    let out = try_exec(remote, &["ping", "-c", "2", "-W", "1", "10.99.0.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the namespace's own stack answered through the device: {text}"
    );
    assert!(
        text.contains("From 10.8.0.1") && text.contains("Unreachable"),
        "the router should answer: {text}"
    );
}

/// OpenVPN opens a persistent TUN device vepa made, and the namespace
/// beyond the tunnel routes through a vepa router to a container: ping,
/// IPv6 and 8 MiB of TCP each way. The namespace the device is in gets
/// none of the tunnel's packets, and the device goes with vepa.
#[test]
fn openvpn_opens_a_persistent_tun_port() {
    require_root();
    let id = uid();
    let host = Netns::new(&format!("tp{id}h"));
    let remote = Netns::new(&format!("tp{id}r"));
    let vm = Netns::new(&format!("tp{id}m"));
    let device = format!("pt{id}");
    let vepa = Vepa::start(
        &persistent_topology(&id, &host.name, &vm.name),
        &[format!("tv{id}")],
    );
    assert!(
        wait_link(&host, &device),
        "the persistent device in its namespace"
    );
    let text = link_text(&host, &device);
    assert!(
        text.contains("tun type tun")
            && text.contains("persist on")
            && text.contains(&format!("alias vepa run tun r{id}:vpn")),
        "{text}"
    );
    let _vpn = OpenVpn::start(&id, &host, &remote, &device);
    assert!(
        vepa_itest::wait_reachable_for(
            &remote.name,
            "10.60.0.10",
            std::time::Duration::from_secs(20)
        ),
        "the VPN's far end never reached the container"
    );
    assert!(ping(&vm.name, "10.8.0.2"), "container -> the VPN's far end");
    assert!(
        wait_reachable(&remote.name, "fd60::10"),
        "IPv6 far end -> container"
    );
    assert!(
        wait_reachable(&vm.name, "fd08::2"),
        "IPv6 container -> far end"
    );
    let len = 8 << 20;
    let got = tcp_transfer(&remote.name, &vm.name, "10.60.0.10", free_port(), len);
    assert_eq!(got, len, "TCP far end -> container");
    let got = tcp_transfer(&vm.name, &remote.name, "10.8.0.2", free_port(), len);
    assert_eq!(got, len, "TCP container -> far end");
    assert_isolated(&host, &remote, &device);
    drop(vepa);
    assert_eq!(link_text(&host, &device), "", "the device goes with vepa");
}

/// Through the daemon: `router port add --tun --persist`; OpenVPN opens
/// the device; a restart of the daemon (even a crash) adopts the device
/// with OpenVPN still holding it, and traffic flows again without
/// touching the VPN; a name that is taken, and a peer address, are
/// refused naming the field with nothing added; removing the port removes
/// the device.
#[test]
fn the_daemon_keeps_a_persistent_tun_port_across_restarts() {
    require_root();
    let id = uid();
    let host = Netns::new(&format!("tq{id}h"));
    let remote = Netns::new(&format!("tq{id}r"));
    let vm = Netns::new(&format!("tq{id}m"));
    let device = format!("pt{id}");
    let mut d = vepa_itest::daemon::Daemon::start();
    d.links = vec![format!("tv{id}")];
    let text = persistent_topology(&id, &host.name, &vm.name);
    let cut = lan_only(&text);
    let file = d.dir.path().join("lan.toml");
    std::fs::write(&file, &text[..cut]).expect("write");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    let r = format!("r{id}");
    let add = |extra: &[&str]| -> Vec<String> {
        [
            "router",
            "port",
            "add",
            &r,
            "vpn",
            "--tun",
            "--persist",
            "--netns",
            &host.name,
            "--address",
            "10.8.0.1/24",
            "--address",
            "fd08::1/64",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(extra.iter().map(|s| s.to_string()))
        .collect()
    };
    let run = |d: &vepa_itest::daemon::Daemon, v: Vec<String>, ok: bool| -> String {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        if ok {
            d.ok(&a)
        } else {
            d.fails(&a)
        }
    };
    // The loopback is taken in every namespace.
    let err = run(&d, add(&["--ifname", "lo"]), false);
    assert!(err.contains("interface 'lo' exists already"), "{err}");
    assert!(err.contains("ifname"), "{err}");
    assert!(
        !d.ok(&["router", "show", &r]).contains("vpn"),
        "nothing half-added"
    );
    let err = d.fails(&[
        "router",
        "port",
        "add",
        &r,
        "vpn",
        "--tun",
        "--persist",
        "--address",
        "10.8.0.1/24",
        "--peer-address",
        "10.8.0.2/24",
    ]);
    assert!(err.contains("--peer-address"), "{err}");
    run(&d, add(&["--ifname", &device]), true);
    assert!(wait_link(&host, &device), "the persistent device");
    let show = d.ok(&["router", "show", &r]);
    assert!(
        show.contains(&format!("tun {device}@{}, persistent", host.name)),
        "{show}"
    );
    assert_eq!(d.json(&["router", "show", &r])["ports"][1]["persist"], true);
    d.export_reapplies();
    let _vpn = OpenVpn::start(&id, &host, &remote, &device);
    let far = |d: &vepa_itest::daemon::Daemon, what: &str| {
        assert!(
            vepa_itest::wait_reachable_for(
                &remote.name,
                "10.60.0.10",
                std::time::Duration::from_secs(20)
            ),
            "{what}: far end -> container\n{}",
            d.log()
        );
        assert!(ping(&vm.name, "10.8.0.2"), "{what}: container -> far end");
    };
    far(&d, "first start");
    // A crash, then a start on the stored state: the device (and the VPN
    // holding it) is adopted, not made again.
    d.kill9();
    assert!(
        link_text(&host, &device).contains("persist on"),
        "the device outlives the daemon"
    );
    d.launch();
    far(&d, "after a crash");
    d.stop();
    d.launch();
    far(&d, "after a restart");
    // A change to the router's side of the port (here its MTU) adopts the
    // same device again: the VPN keeps it, and traffic flows on.
    let export = d.ok(&["export"]);
    assert!(export.contains("persist = true"), "{export}");
    let changed = d.dir.path().join("mtu.toml");
    std::fs::write(
        &changed,
        export.replace("persist = true", "persist = true\nmtu = 1400"),
    )
    .expect("write");
    d.ok(&["apply", "-f", &changed.to_string_lossy()]);
    assert!(
        link_text(&host, &device).contains("mtu 1400"),
        "{}",
        link_text(&host, &device)
    );
    far(&d, "after a change to the port");
    assert_isolated(&host, &remote, &device);
    d.ok(&["router", "port", "del", &r, "vpn"]);
    assert_eq!(
        link_text(&host, &device),
        "",
        "the device goes with its port"
    );
}

/// A VM (a QEMU guest on a tap port of the LAN switch) and the far end of
/// a real OpenVPN tunnel reach each other through the vepa router and the
/// persistent TUN port: ping both ways, and TCP both ways (iperf3 in the
/// guest, 2 MiB each way).
#[test]
fn a_vm_reaches_the_vpn_through_the_router() {
    use std::time::Duration;
    use vepa_itest::guest::{image, Guest};
    require_root();
    if let Err(e) = image() {
        panic!("guest image ({e}); scripts/test.sh installs qemu-system-x86, linux-image-amd64 and busybox-static");
    }
    let id = uid();
    let host = Netns::new(&format!("tg{id}h"));
    let remote = Netns::new(&format!("tg{id}r"));
    let vm = Netns::new(&format!("tg{id}m"));
    let device = format!("pt{id}");
    let mut d = vepa_itest::daemon::Daemon::start();
    let tap = format!("tg{id}g");
    d.links = vec![format!("tv{id}"), tap.clone()];
    let text = persistent_topology(&id, &host.name, &vm.name).replacen(
        "[[router]]",
        &format!("[[switch.port]]\nname = \"{tap}\"\ntype = \"tap\"\n\n[[router]]"),
        1,
    );
    let file = d.dir.path().join("vm.toml");
    std::fs::write(&file, &text).expect("write");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    assert!(wait_link(&host, &device), "the persistent device");
    let _vpn = OpenVpn::start(&id, &host, &remote, &device);
    let args = d.ok(&["vm-args", &tap]);
    let net: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let mut g = Guest::boot("tun-vm", "10.60.0.20/24", &net);
    g.ready(Duration::from_secs(120));
    let t = Duration::from_secs(30);
    assert_eq!(g.run("ip route add default via 10.60.0.1", t), Some(0));
    assert!(
        vepa_itest::wait_reachable_for(&remote.name, "10.60.0.20", Duration::from_secs(30)),
        "the VPN's far end never reached the VM"
    );
    assert!(g.reaches("10.8.0.2"), "VM -> the VPN's far end");
    // TCP both ways: a one-off iperf3 server beyond the VPN, the client in
    // the VM sending (then, with -R, receiving) 2 MiB.
    for (what, reverse) in [("VM -> far end", ""), ("far end -> VM", " -R")] {
        let port = free_port();
        let mut server = std::process::Command::new("ip")
            .args(["netns", "exec", &remote.name, "iperf3", "-s", "-1", "-p"])
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 server");
        std::thread::sleep(Duration::from_millis(500));
        let rc = g.run(
            &format!("iperf3 -c 10.8.0.2 -p {port} -n 2M{reverse} >/dev/null 2>&1"),
            Duration::from_secs(120),
        );
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(rc, Some(0), "TCP {what}");
    }
    g.stop();
}
