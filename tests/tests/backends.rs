//! The same topology file realized by the kernel's devices (`backend =
//! "kernel"`: macvlans on a patch wire, a Linux bridge with hairpin as the
//! relay) and by vepa's dataplane (`backend = "userspace"`): the same
//! reachability matrix, and the kernel devices carry the requested modes.

use vepa_itest::{reach_matrix, require_root, uid, wait_reachable, Netns, Vepa};

fn topology(id: &str, backend: &str, mode: &str, relay: bool, ns: &[String]) -> String {
    let vm = |i: usize| {
        format!(
            "[[switch.port]]\nname = \"k{id}v{i}\"\ntype = \"veth\"\nnetns = \"{}\"\nmac = \"02:00:00:00:0{i}:01\"\naddress = [\"10.70.0.{i}/24\"]\n",
            ns[i - 1]
        )
    };
    format!(
        r#"
[[switch]]
name = "h{id}"
mode = "{mode}"
backend = "{backend}"
[switch.uplink]
name = "k{id}up"
type = "patch"
peer = "r{id}/k{id}rl"
{}{}{}
[[switch]]
name = "r{id}"
backend = "{backend}"
[[switch.port]]
name = "k{id}rl"
type = "patch"
peer = "h{id}/k{id}up"
relay = {relay}
[[switch.port]]
name = "k{id}o"
type = "veth"
netns = "{}"
address = ["10.70.0.100/24"]
"#,
        vm(1),
        vm(2),
        vm(3),
        ns[3]
    )
}

fn matrix(backend: &str, mode: &str, relay: bool) -> Vec<Vec<bool>> {
    let id = uid();
    let hosts: Vec<Netns> = ["a", "b", "c", "o"]
        .iter()
        .map(|h| Netns::new(&format!("kb{id}{h}")))
        .collect();
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let text = topology(&id, backend, mode, relay, &names);
    // Only the kernel's patch wire is a device (a veth pair); vepa's
    // own is crossed in memory.
    let links: Vec<String> = match backend {
        "kernel" => vec![format!("k{id}up")],
        _ => Vec::new(),
    };
    let v = Vepa::start(&text, &links);
    if backend != "kernel" {
        assert!(
            !vepa_itest::link_exists(&format!("k{id}up")),
            "userspace patch wires make no device"
        );
    }
    assert!(
        wait_reachable(&names[0], "10.70.0.100"),
        "{backend} {mode}: vm1 reaches the outside"
    );
    if backend == "kernel" {
        // The VMs' eth0 are macvlans in the requested mode; the relay is a bridge.
        let out = vepa_itest::sh(&["ip", "-n", &names[0], "-d", "-j", "link", "show", "eth0"]);
        let link: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let kmode = if mode == "veb" { "bridge" } else { mode };
        assert_eq!(link[0]["linkinfo"]["info_kind"], "macvlan", "{link}");
        assert_eq!(link[0]["linkinfo"]["info_data"]["mode"], kmode, "{link}");
        let out = vepa_itest::sh(&["ip", "-d", "-j", "link", "show", &format!("k{id}rl")]);
        let port: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(port[0]["linkinfo"]["info_slave_kind"], "bridge", "{port}");
        assert_eq!(
            port[0]["linkinfo"]["info_slave_data"]["hairpin"], relay,
            "{port}"
        );
    }
    let ips = ["10.70.0.1", "10.70.0.2", "10.70.0.3", "10.70.0.100"];
    let m = reach_matrix(
        &names
            .iter()
            .zip(ips)
            .map(|(n, ip)| (n.clone(), ip.to_string()))
            .collect::<Vec<_>>(),
    );
    drop(v);
    m
}

#[test]
fn kernel_and_userspace_backends_reach_alike() {
    require_root();
    for (mode, relay) in [
        ("veb", true),
        ("vepa", true),
        ("vepa", false),
        ("private", true),
    ] {
        let k = matrix("kernel", mode, relay);
        let u = matrix("userspace", mode, relay);
        assert_eq!(
            k, u,
            "{mode} relay={relay}: kernel {k:?} vs userspace {u:?}"
        );
    }
}

#[test]
fn asking_the_kernel_for_what_it_lacks_fails_clearly_and_makes_nothing() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("kn{id}"));
    // VLANs need 802.1Q, absent here (and done in userspace anyway).
    let text = format!(
        "[[switch]]\nname = \"n{id}\"\nbackend = \"kernel\"\n[[switch.port]]\nname = \"n{id}a\"\ntype = \"veth\"\nnetns = \"{}\"\nvlan = 10\n",
        ns.name
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.toml");
    std::fs::write(&f, &text).unwrap();
    let out = std::process::Command::new(vepa_itest::vepa_bin())
        .args(["run", "-f", f.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("vlan") && err.contains("userspace"), "{err}");
    assert!(
        !vepa_itest::link_exists(&format!("n{id}a")) && !vepa_itest::link_exists(&format!("n{id}"))
    );
}

/// Links in vepa's namespace whose name contains `part`.
fn links_named(part: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(part))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_daemon_keeps_kernel_switches_across_kill_9_and_removes_them_whole() {
    require_root();
    let id = uid();
    let hosts: Vec<Netns> = ["a", "b", "c", "o"]
        .iter()
        .map(|h| Netns::new(&format!("kd{id}{h}")))
        .collect();
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let mut d = vepa_itest::daemon::Daemon::start();
    d.links = vec![
        format!("k{id}up"),
        format!("k{id}rl"),
        format!("k{id}o"),
        format!("r{id}"),
    ];
    // Someone else's link with a similar name: never touched.
    let stranger = format!("k{id}x");
    vepa_itest::sh(&[
        "ip",
        "link",
        "add",
        &stranger,
        "type",
        "veth",
        "peer",
        "name",
        &format!("k{id}y"),
    ]);
    let _guard = vepa_itest::Links(vec![stranger.clone()]);
    let file = d.dir.path().join("kernel.toml");
    std::fs::write(&file, topology(&id, "kernel", "vepa", true, &names)).unwrap();
    d.ok(&["apply", "-f", file.to_str().unwrap()]);
    assert!(d
        .ok(&["switch", "show"])
        .contains("kernel (kernel: macvlan/macvtap on the uplink)"));
    assert!(
        wait_reachable(&names[0], "10.70.0.2"),
        "vm1 → vm2 through the kernel bridge's hairpin"
    );
    let eth0 = |ns: &str| -> String {
        String::from_utf8_lossy(
            &vepa_itest::sh(&["ip", "-n", ns, "-o", "link", "show", "eth0"]).stdout,
        )
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string()
    };
    let before = (links_named(&id), eth0(&names[0]));
    for _ in 0..3 {
        d.kill9();
        d.launch();
        assert_eq!(
            (links_named(&id), eth0(&names[0])),
            before,
            "adopted, not made twice:\n{}",
            d.log()
        );
        assert!(d.log().contains("adopted device=kernel:h"), "{}", d.log());
        assert!(wait_reachable(&names[0], "10.70.0.2"));
    }
    // A kernel feature gone since the state was stored: the daemon still
    // starts, adopts the switch's devices and says what is missing; edits
    // are refused until the switch's backend changes.
    d.stop();
    d.env = vec![("VEPA_DOCTOR_ABSENT".into(), "macvlan vepa".into())];
    d.launch();
    let show = d.ok(&["switch", "show"]);
    assert!(show.contains("now lacks macvlan vepa"), "{show}");
    assert!(
        wait_reachable(&names[0], "10.70.0.2"),
        "adopted devices forward"
    );
    let err = d.fails(&["switch", "set", &format!("h{id}"), "--ageing-secs", "100"]);
    assert!(err.contains("lacks macvlan vepa"), "{err}");
    d.stop();
    d.env.clear();
    d.launch();
    // Deleting the host switch takes its macvlans and its wire (and the
    // relay's end of it); deleting the relay takes the bridge and its port.
    d.ok(&["switch", "del", &format!("h{id}")]);
    for n in &names[..3] {
        let out = std::process::Command::new("ip")
            .args(["-n", n, "link", "show", "eth0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{n}: eth0 removed with its switch");
    }
    d.ok(&["switch", "del", &format!("r{id}")]);
    let mut left = links_named(&id);
    left.sort();
    let mut expect = vec![stranger.clone(), format!("k{id}y")];
    expect.sort();
    assert_eq!(left, expect, "only the stranger's pair is left");
}
