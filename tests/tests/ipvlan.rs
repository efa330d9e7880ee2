//! ipvlan switches with real traffic: three containers behind one uplink
//! into a Linux bridge, where an outside host sits. The network beyond the
//! uplink must only ever see the uplink's MAC; each flag's reachability is
//! the kernel documentation's (Documentation/networking/ipvlan.rst); L3
//! mode carries no broadcast to a port.

use std::collections::BTreeSet;
use std::fmt::Write;
use vepa_itest::{
    reach_matrix, require_root, send_frames, sh, uid, wait_reachable, Capture, Links, Netns, Vepa,
};
use vepa_packet::MacAddr;

/// p1, p2, p3 (vepa's ports) and the outside host, each a namespace with
/// eth0 in 10.0.0.0/24 (and fd00::/64).
struct Rig {
    hosts: Vec<Netns>,
    relay: Netns,
    /// The uplink: our end of a veth pair whose far end is on the bridge.
    uplink: String,
    vepa: Option<Vepa>,
    _links: Links,
}

const IPS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.100"];

impl Rig {
    fn build(ipvlan_mode: &str, flag: &str, hairpin: bool) -> Rig {
        let id = uid();
        let hosts: Vec<Netns> = ["1", "2", "3", "o"]
            .iter()
            .map(|h| Netns::new(&format!("ipv{id}{h}")))
            .collect();
        let relay = Netns::new(&format!("ipv{id}r"));
        let r = relay.name.clone();
        let uplink = format!("ipv{id}u");
        let links = Links(vec![uplink.clone()]);
        sh(&[
            "ip", "link", "add", &uplink, "type", "veth", "peer", "name", "rl", "netns", &r,
        ]);
        // Nothing of the host's own on the wire: the switch alone speaks there.
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{uplink}/disable_ipv6"),
            "1",
        );
        sh(&["ip", "link", "set", &uplink, "up"]);
        sh(&["ip", "-n", &r, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &r, "link", "set", "rl", "master", "br0"]);
        let out = &hosts[3].name;
        sh(&[
            "ip", "-n", &r, "link", "add", "ro", "type", "veth", "peer", "name", "eth0", "netns",
            out,
        ]);
        sh(&["ip", "-n", &r, "link", "set", "ro", "master", "br0"]);
        for l in ["rl", "ro", "br0"] {
            sh(&["ip", "-n", &r, "link", "set", l, "up"]);
        }
        sh(&[
            "ip",
            "-n",
            out,
            "addr",
            "add",
            "10.0.0.100/24",
            "dev",
            "eth0",
        ]);
        sh(&[
            "ip",
            "-n",
            out,
            "addr",
            "add",
            "fd00::100/64",
            "dev",
            "eth0",
            "nodad",
        ]);
        sh(&["ip", "-n", out, "link", "set", "eth0", "up"]);
        let mut rig = Rig {
            hosts,
            relay,
            uplink,
            vepa: None,
            _links: links,
        };
        rig.hairpin(hairpin);
        let mut t = String::new();
        let _ = write!(
            t,
            "[[switch]]\nname = \"edge\"\nkind = \"ipvlan\"\nipvlan_mode = \"{ipvlan_mode}\"\nmode = \"{flag}\"\n[switch.uplink]\nname = \"up\"\ntype = \"netdev\"\nifname = \"{}\"\n",
            rig.uplink
        );
        let mut ports = Vec::new();
        for (i, ip) in IPS[..3].iter().enumerate() {
            let port = format!("ipv{id}p{}", i + 1);
            let _ = write!(
                t,
                "[[switch.port]]\nname = \"{port}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"{}/24\", \"fd00::{}/64\"]\n",
                rig.hosts[i].name,
                ip,
                i + 1
            );
            ports.push(port);
        }
        rig.vepa = Some(Vepa::start(&t, &ports));
        assert!(
            wait_reachable(&rig.hosts[0].name, IPS[3]),
            "{ipvlan_mode} {flag}: p1 never reached the outside host"
        );
        rig
    }

    fn hairpin(&self, on: bool) {
        sh(&[
            "ip",
            "-n",
            &self.relay.name,
            "link",
            "set",
            "rl",
            "type",
            "bridge_slave",
            "hairpin",
            if on { "on" } else { "off" },
        ]);
    }

    fn endpoints(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .map(|h| h.name.clone())
            .zip(IPS.iter().map(|s| s.to_string()))
            .collect()
    }

    /// The uplink's MAC: the one the wire may see.
    fn shared_mac(&self) -> MacAddr {
        std::fs::read_to_string(format!("/sys/class/net/{}/address", self.uplink))
            .expect("uplink MAC")
            .trim()
            .parse()
            .expect("a MAC")
    }

    /// The outside host's neighbour table: address → MAC.
    fn outside_neighbours(&self) -> Vec<(String, String)> {
        let out = self.hosts[3].exec(&["ip", "neigh", "show", "dev", "eth0"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let at = w.iter().position(|x| *x == "lladdr")?;
                Some((w[0].to_string(), w.get(at + 1)?.to_string()))
            })
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        drop(self.vepa.take());
    }
}

/// The link-local address of `h`'s eth0, once it is no longer tentative.
fn link_local(h: &Netns) -> String {
    for _ in 0..100 {
        let out = h.exec(&[
            "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !text.contains("tentative") {
            if let Some(a) = text
                .split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)
                .and_then(|a| a.split('/').next())
            {
                return a.to_string();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{}: no link-local address on eth0", h.name);
}

fn show(m: &[Vec<bool>]) -> String {
    vepa_itest::evb::show_named(&["p1", "p2", "p3", "out"], m)
}

#[test]
fn l2_bridge_shows_the_wire_one_mac() {
    require_root();
    let rig = Rig::build("l2", "bridge", false);
    let shared = rig.shared_mac();
    for h in &rig.hosts[..3] {
        assert_eq!(
            h.mac("eth0"),
            shared,
            "{}: a port carries the uplink's MAC",
            h.name
        );
    }
    let wire = Capture::start(&rig.relay.name, "rl");
    let m = reach_matrix(&rig.endpoints());
    assert!(
        m.iter().flatten().all(|ok| *ok),
        "bridge: all reach{}",
        show(&m)
    );
    // IPv6 too: the switch answers the outside's solicitations, the
    // ports' own go out and their answers come back by address.
    for (i, h) in rig.hosts[..3].iter().enumerate() {
        let ip6 = format!("fd00::{}", i + 1);
        // (Its address may still be tentative: DAD takes a second.)
        assert!(
            wait_reachable(&rig.hosts[3].name, &ip6),
            "outside cannot ping {ip6}"
        );
        let addrs = h.exec(&["ip", "-6", "addr", "show", "dev", "eth0"]);
        let text = String::from_utf8_lossy(&addrs.stdout);
        assert!(
            !text.contains("dadfailed"),
            "{}: an address failed DAD although the ports share a MAC:\n{text}",
            h.name
        );
    }
    // Link-local addresses too: each port owns the ones it sends from, as
    // a router's neighbor discovery and routes via link-local need.
    let out_ll = link_local(&rig.hosts[3]);
    for h in &rig.hosts[..3] {
        let mine = link_local(h);
        assert!(
            wait_reachable(&h.name, &format!("{out_ll}%eth0")),
            "{} cannot ping the outside's link-local {out_ll}",
            h.name
        );
        assert!(
            wait_reachable(&rig.hosts[3].name, &format!("{mine}%eth0")),
            "the outside cannot ping {}'s link-local {mine}",
            h.name
        );
    }
    let frames = wire.finish();
    let sources: BTreeSet<String> = frames
        .iter()
        .map(|f| MacAddr::from_slice(&f[6..12]).to_string())
        .collect();
    assert!(
        frames.len() > 20,
        "the wire saw the traffic ({} frames)",
        frames.len()
    );
    assert_eq!(
        sources,
        BTreeSet::from([shared.to_string()]),
        "the far side saw only the uplink's MAC"
    );
    let neigh = rig.outside_neighbours();
    for ip in &IPS[..3] {
        let mac = neigh.iter().find(|(a, _)| a == ip).map(|(_, m)| m.clone());
        assert_eq!(
            mac.as_deref(),
            Some(shared.to_string().as_str()),
            "outside's neighbour entry for {ip}: {neigh:?}"
        );
    }
}

/// The kernel's reachability for each flag: the outside always; ports
/// with each other in bridge mode, in vepa mode only where the bridge
/// hairpins, in private mode never.
fn expected(flag: &str, hairpin: bool, a: usize, b: usize) -> bool {
    let outside = a == 3 || b == 3;
    match flag {
        "bridge" => true,
        "vepa" => outside || hairpin,
        _ => outside,
    }
}

#[test]
fn each_flag_reaches_what_the_kernel_documents() {
    require_root();
    for (mode, flag) in ["l2", "l3"]
        .into_iter()
        .flat_map(|m| ["bridge", "private", "vepa"].map(|f| (m, f)))
    {
        let rig = Rig::build(mode, flag, false);
        for hairpin in [false, true] {
            rig.hairpin(hairpin);
            let m = reach_matrix(&rig.endpoints());
            for (a, row) in m.iter().enumerate() {
                for (b, ok) in row.iter().enumerate() {
                    if a != b {
                        assert_eq!(
                            *ok,
                            expected(flag, hairpin, a, b),
                            "{mode} {flag}, hairpin {hairpin}: {a}->{b}{}",
                            show(&m)
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn l3_carries_no_broadcast_to_a_port() {
    require_root();
    let rig = Rig::build("l3", "bridge", false);
    let m = reach_matrix(&rig.endpoints());
    assert!(
        m.iter().flatten().all(|ok| *ok),
        "l3 bridge: all reach{}",
        show(&m)
    );
    let p2 = Capture::start(&rig.hosts[1].name, "eth0");
    // A broadcast ping from a port, an ARP request for nobody and a UDP
    // broadcast from the outside host.
    for h in [&rig.hosts[0], &rig.hosts[3]] {
        // No host answers a broadcast ping by default: it fails, and sends.
        let _ = std::process::Command::new("ip")
            .args([
                "netns", "exec", &h.name, "ping", "-b", "-c", "2", "-i", "0.2", "-W", "1",
            ])
            .arg("10.0.0.255")
            .output();
    }
    let asks = vepa_itest::arp_request(
        rig.hosts[3].mac("eth0"),
        [10, 0, 0, 100],
        [10, 0, 0, 77],
        None,
    );
    send_frames(&rig.hosts[3].name, "eth0", vec![asks.clone(), asks]);
    let got = p2.finish();
    let group: Vec<String> = got
        .iter()
        .filter(|f| f[0] & 1 == 1)
        .map(|f| format!("{:02x?}", &f[..14]))
        .collect();
    assert!(
        group.is_empty(),
        "p2 received group frames in l3 mode: {group:?}"
    );
    let shared = rig.shared_mac().to_string();
    let neigh = rig.outside_neighbours();
    for ip in &IPS[..3] {
        assert!(
            neigh.iter().any(|(a, m)| a == ip && *m == shared),
            "outside's neighbour entry for {ip} is the uplink's MAC: {neigh:?}"
        );
    }
}

/// Through the daemon: the API takes an ipvlan switch, `switch show` has its
/// MAC and owners, a VM's port is handed the shared MAC, export applies
/// back as no change, and bad ports are refused naming the field.
#[test]
fn the_daemon_keeps_an_ipvlan_switch() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("ipd{id}"));
    let relay = Netns::new(&format!("ipd{id}r"));
    let uplink = format!("ipd{id}u");
    let (c1, vm) = (format!("ipd{id}c"), format!("ipd{id}v"));
    let mut d = vepa_itest::daemon::Daemon::start();
    d.links = vec![uplink.clone(), c1.clone(), vm.clone()];
    sh(&[
        "ip",
        "link",
        "add",
        &uplink,
        "type",
        "veth",
        "peer",
        "name",
        "rl",
        "netns",
        &relay.name,
    ]);
    sh(&["ip", "link", "set", &uplink, "up"]);
    let shared = std::fs::read_to_string(format!("/sys/class/net/{uplink}/address"))
        .expect("uplink MAC")
        .trim()
        .to_string();
    let sw = format!("ipd{id}");
    let file = d.dir.path().join("ipvlan.toml");
    std::fs::write(
        &file,
        format!(
            "[[switch]]\nname = \"{sw}\"\nkind = \"ipvlan\"\nipvlan_mode = \"l3\"\nmode = \"private\"\n\
             [switch.uplink]\nname = \"up\"\ntype = \"netdev\"\nifname = \"{uplink}\"\n\
             [[switch.port]]\nname = \"{c1}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.9.0.1/24\"]\n\
             [[switch.port]]\nname = \"{vm}\"\ntype = \"tap\"\naddress = [\"10.9.0.2/24\"]\n",
            ns.name
        ),
    )
    .expect("write topology");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    let show = d.json(&["switch", "show", &sw]);
    assert_eq!(show["kind"], "ipvlan", "{show}");
    assert_eq!(show["ipvlan"]["mode"], "l3", "{show}");
    assert_eq!(show["ipvlan"]["flag"], "private", "{show}");
    assert_eq!(show["ipvlan"]["mac"], shared.as_str(), "{show}");
    let owners = show["ipvlan"]["addresses"].to_string();
    assert!(
        owners.contains("10.9.0.1") && owners.contains(&c1),
        "{owners}"
    );
    let table = d.ok(&["switch", "show", &sw]);
    assert!(
        table.contains(&format!("l3 private, every port as {shared}")),
        "{table}"
    );
    assert_eq!(
        ns.mac("eth0").to_string(),
        shared,
        "the container's device carries it"
    );
    let args = d.ok(&["vm-args", &vm]);
    assert!(args.contains(&format!("mac={shared}")), "{args}");
    // A learning port: its address is the one it sends from.
    let ns3 = Netns::new(&format!("ipd{id}l"));
    let c3 = format!("ipd{id}l");
    d.links.push(c3.clone());
    d.ok(&[
        "port",
        "add",
        &format!("{sw}/{c3}"),
        "--type",
        "veth",
        "--netns",
        &ns3.name,
        "--learn-addresses",
        "on",
        "--guard",
        "on",
        "--allowed-ip",
        "10.9.0.0/28",
    ]);
    ns3.exec(&["ip", "addr", "add", "10.9.0.3/24", "dev", "eth0"]);
    let _ = std::process::Command::new("ip")
        .args([
            "netns", "exec", &ns3.name, "ping", "-c", "1", "-W", "1", "10.9.0.1",
        ])
        .output();
    let show = d.json(&["switch", "show", &sw]);
    let learned = show["ipvlan"]["learned"].to_string();
    assert!(
        learned.contains("10.9.0.3") && learned.contains(&c3),
        "{show}"
    );
    // Export, apply again: nothing to do.
    d.export_reapplies();
    // Bad ports, refused whole, naming the field.
    let dup = d.fails(&[
        "port",
        "add",
        &format!("{sw}/x{id}"),
        "--type",
        "veth",
        "--netns",
        &ns.name,
        "--address",
        "10.9.0.1/24",
        "--peer-name",
        "eth1",
    ]);
    assert!(
        dup.contains("address") && dup.contains(&format!("port '{c1}''s")),
        "{dup}"
    );
    let mac = d.fails(&[
        "port",
        "add",
        &format!("{sw}/y{id}"),
        "--type",
        "tap",
        "--mac",
        "02:00:00:00:00:07",
        "--address",
        "10.9.0.7/24",
    ]);
    assert!(mac.contains("mac: an ipvlan port carries"), "{mac}");
    let unbounded = d.fails(&[
        "port",
        "add",
        &format!("{sw}/w{id}"),
        "--type",
        "tap",
        "--learn-addresses",
        "on",
    ]);
    assert!(
        unbounded.contains("learn_addresses: a learning port claims only"),
        "{unbounded}"
    );
    let bare = d.fails(&["port", "add", &format!("{sw}/z{id}"), "--type", "tap"]);
    assert!(bare.contains("address: an l3 ipvlan port"), "{bare}");
    let ports = d.json(&["port", "show"]).to_string();
    for p in [format!("x{id}"), format!("y{id}"), format!("z{id}")] {
        assert!(
            !ports.contains(&format!("\"{p}\"")),
            "{p} half-added: {ports}"
        );
    }
}

/// The guest's topology: an ipvlan switch of kernel devices on a veth whose
/// far end (namespace `out`, 10.0.0.100) stands for the wire.
fn kernel_topology(ipvlan_mode: &str, flag: &str) -> String {
    let port = |n: &str, ip: &str| {
        format!("[[switch.port]]\nname = \"{n}\"\ntype = \"veth\"\nnetns = \"{n}\"\naddress = [\"{ip}/24\"]\n")
    };
    format!(
        "[[switch]]\nname = \"kv\"\nkind = \"ipvlan\"\nbackend = \"kernel\"\nipvlan_mode = \"{ipvlan_mode}\"\nmode = \"{flag}\"\n\
         [switch.uplink]\nname = \"up\"\ntype = \"veth\"\nifname = \"kvup\"\nnetns = \"out\"\naddress = [\"10.0.0.100/24\"]\n{}{}",
        port("c1", "10.0.0.1"),
        port("c2", "10.0.0.2")
    )
}

/// This kernel has no ipvlan module: `backend = "kernel"` is refused
/// naming what is missing (`vepa doctor`'s row says the userspace switch
/// provides ipvlan; `tests/tests/doctor.rs`).
#[test]
fn without_the_module_the_userspace_switch_is_the_ipvlan_switch() {
    require_root();
    let id = uid();
    let text = kernel_topology("l2", "bridge")
        .replace("\"kv\"", &format!("\"kv{id}\""))
        .replace("\"kvup\"", &format!("\"kv{id}u\""))
        .replace("\"out\"", &format!("\"kv{id}o\""))
        .replace("\"c1\"\n", &format!("\"kv{id}a\"\n"))
        .replace("\"c2\"\n", &format!("\"kv{id}b\"\n"));
    let err = vepa_itest::run_refused(&text);
    assert!(
        err.contains(&format!(
            "switch 'kv{id}': backend: this kernel lacks ipvlan"
        )),
        "{err}"
    );
}

/// The kernel backend makes real ipvlan devices where the module is: a
/// QEMU guest running Debian's kernel (which has it) runs `vepa run` with
/// `backend = "kernel"`. Both containers' devices are ipvlan devices
/// carrying the uplink's MAC; bridge lets them reach each other and the
/// wire, private only the wire, and l3 carries unicast between them.
#[test]
fn the_kernel_backend_makes_ipvlan_devices_in_a_guest() {
    use std::time::Duration;
    use vepa_itest::guest::{image_with, Extra, Guest};
    require_root();
    let bin = vepa_itest::vepa_bin().display().to_string();
    let cases = [("l2", "bridge"), ("l2", "private"), ("l3", "bridge")];
    let extra = Extra {
        modules: vec!["veth".into(), "ipvlan".into()],
        // iproute2's ip, which (unlike busybox's) names a link's kind.
        programs: vec![bin.clone(), "/usr/sbin/ip".into()],
        files: cases
            .iter()
            .map(|(m, f)| {
                (
                    format!("/t-{m}-{f}.toml"),
                    kernel_topology(m, f).into_bytes(),
                )
            })
            .collect(),
    };
    let img = image_with(&extra).unwrap_or_else(|e| {
        panic!("guest image ({e}); scripts/test.sh installs qemu-system-x86, linux-image-amd64 and busybox-static")
    });
    let mut g = Guest::boot_image("kernel-ipvlan", &img, 512);
    g.ready(Duration::from_secs(120));
    let t = Duration::from_secs(60);
    let reaches = |g: &mut Guest, from: &str, to: &str| {
        g.run(
            &format!("nsenter --net=/run/netns/{from} ping -c 2 -W 1 {to} >/dev/null 2>&1"),
            Duration::from_secs(20),
        ) == Some(0)
    };
    let mac_of = |g: &mut Guest, ns: Option<&str>, dev: &str| -> String {
        let enter = ns.map_or(String::new(), |n| format!("nsenter --net=/run/netns/{n} "));
        let line = g
            .value(&format!("{enter}ip link show {dev}"), t)
            .unwrap_or_default();
        line.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    for (mode, flag) in cases {
        let what = format!("{mode} {flag}");
        assert_eq!(
            g.run(
                &format!(
                    "{bin} run --file /t-{mode}-{flag}.toml >/tmp/v.log 2>&1 & echo $! >/tmp/v.pid"
                ),
                t
            ),
            Some(0)
        );
        let up = g.run(
            "i=0; until grep -q forwarding /tmp/v.log || ! kill -0 $(cat /tmp/v.pid) || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done; grep -q forwarding /tmp/v.log",
            Duration::from_secs(90),
        );
        let log = g.value("tr '\\n' '|' </tmp/v.log", t).unwrap_or_default();
        assert_eq!(up, Some(0), "{what}: vepa run did not start: {log}");
        assert!(
            log.contains(&format!(
                "switch kv: kernel: ipvlan devices ({mode}) on the uplink"
            )),
            "{what}: {log}"
        );
        let kind = g
            .value(
                "nsenter --net=/run/netns/c1 /usr/sbin/ip -d link show eth0 | grep -o 'ipvlan .*'",
                t,
            )
            .unwrap_or_default();
        let words: Vec<&str> = kind.split_whitespace().collect();
        assert!(
            words.starts_with(&["ipvlan", "mode", mode, flag]),
            "{what}: c1's eth0 is no such ipvlan device: {kind:?}"
        );
        let shared = mac_of(&mut g, None, "kvup");
        assert!(!shared.is_empty(), "{what}: the uplink's MAC");
        for c in ["c1", "c2"] {
            assert_eq!(
                mac_of(&mut g, Some(c), "eth0"),
                shared,
                "{what}: {c} carries the uplink's MAC"
            );
        }
        let got = [
            reaches(&mut g, "c1", "10.0.0.2"),
            reaches(&mut g, "c2", "10.0.0.1"),
            mode == "l2" && reaches(&mut g, "c1", "10.0.0.100"),
            mode == "l2" && reaches(&mut g, "out", "10.0.0.2"),
        ];
        let want = match (mode, flag) {
            ("l2", "bridge") => [true, true, true, true],
            ("l2", _) => [false, false, true, true],
            _ => [true, true, false, false],
        };
        assert_eq!(got, want, "{what}: c1->c2, c2->c1, c1->wire, wire->c2");
        // Stopping removes the devices and namespaces it made.
        assert_eq!(
            g.run(
                "p=$(cat /tmp/v.pid); kill -INT $p; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; ! kill -0 $p 2>/dev/null",
                Duration::from_secs(60)
            ),
            Some(0),
            "{what}: vepa run stops"
        );
        assert_eq!(
            g.run(
                "[ ! -e /run/netns/c1 ] && ! ip link show kvup >/dev/null 2>&1",
                t
            ),
            Some(0),
            "{what}: all removed"
        );
    }
    // The daemon makes the same devices (its own kernel-switch path) and
    // shows the switch: kernel backend, mode, flag, the uplink's MAC, owners.
    let cli = format!("{bin} --socket /run/v.sock");
    assert_eq!(
        g.run(
            &format!("{cli} daemon --state-dir /tmp/state --workers 1 --vhost-user-dir /tmp/vh >/tmp/d.log 2>&1 & echo $! >/tmp/d.pid"),
            t
        ),
        Some(0)
    );
    let up = g.run(
        "i=0; until [ -S /run/v.sock ] || ! kill -0 $(cat /tmp/d.pid) || [ $i -ge 300 ]; do sleep 0.2; i=$((i+1)); done; [ -S /run/v.sock ]",
        Duration::from_secs(90),
    );
    let log = [
        "tail -n 20 /tmp/d.log | tr '\\n' '|'",
        "kill -0 $(cat /tmp/d.pid) && echo alive || echo dead",
        "ls /run /tmp | tr '\\n' ' '",
    ]
    .map(|c| g.value(c, t).unwrap_or_default())
    .join(" / ");
    assert_eq!(up, Some(0), "the daemon did not start: {log}");
    assert_eq!(
        g.run(
            &format!("{cli} apply -f /t-l2-bridge.toml >/tmp/a.log 2>&1"),
            t
        ),
        Some(0),
        "apply: {}",
        g.value("tr '\\n' '|' </tmp/a.log", t).unwrap_or_default()
    );
    let show = g
        .value(&format!("{cli} switch show kv -o json"), t)
        .unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(&show).unwrap_or_else(|e| panic!("switch show: {e}: {show}"));
    let shared = mac_of(&mut g, None, "kvup");
    assert_eq!(v["backend"], "kernel", "{v}");
    assert_eq!(v["ipvlan"]["mode"], "l2", "{v}");
    assert_eq!(v["ipvlan"]["flag"], "bridge", "{v}");
    assert_eq!(v["ipvlan"]["mac"], shared.as_str(), "{v}");
    assert!(
        v["ipvlan"]["addresses"].to_string().contains("10.0.0.2"),
        "{v}"
    );
    assert!(reaches(&mut g, "c1", "10.0.0.2"), "daemon: c1 -> c2");
    assert_eq!(
        mac_of(&mut g, Some("c2"), "eth0"),
        shared,
        "daemon: c2 carries it"
    );
    g.stop();
}
