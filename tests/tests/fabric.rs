//! Hosts that find each other through etcd: each "host" is a namespace
//! with a vepa daemon (`--etcd`), a VM behind a switch whose uplink is a
//! fabric VXLAN port (VNI 100), and a leg on the underlay bridge
//! (192.0.2.0/24, a documentation range, in a namespace of the test's own,
//! where a real etcd listens on 192.0.2.250). No host names another: the
//! store is how they meet.

use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::etcd::{Etcd, EtcdTls};
use vepa_itest::{
    arp_requests_for, ns_sh, ping, require_root, sh, uid, wait_reachable, Capture, Netns,
};

const ETCD_IP: &str = "192.0.2.250";
/// Leases short enough for the test to watch one run out.
const TTL: &str = "3";

/// The underlay (a bridge in a namespace) and etcd on it.
struct Underlay {
    id: String,
    etcd: Etcd,
    ns: Netns,
    /// Per host: the daemon's extra etcd flags (certificates, user).
    auth: std::collections::HashMap<u8, Vec<String>>,
}

struct Host {
    daemon: Daemon,
    vms: Vec<Netns>,
    /// The host's namespace, removed with it.
    _ns: Netns,
}

fn vm_ip(n: u8, k: u8) -> String {
    format!("10.90.{k}.{n}")
}

impl Underlay {
    fn new(id: &str) -> Underlay {
        Underlay::new_with(id, None)
    }

    fn new_with(id: &str, tls: Option<EtcdTls>) -> Underlay {
        let ns = Netns::new(&format!("fu{id}"));
        ns_sh(
            &ns.name,
            &format!("ip link add br0 type bridge && ip addr add {ETCD_IP}/24 dev br0 && ip link set br0 up"),
        );
        let etcd = Etcd::start_with(&ns.name, ETCD_IP, 2379, tls);
        Underlay {
            id: id.to_string(),
            etcd,
            ns,
            auth: Default::default(),
        }
    }

    /// The topology of host `n`: switch `fab` in `mode`, its uplink the
    /// fabric port, and `vms` VMs (VM k at 10.90.0.{n + 10k}, MTU 1450).
    fn topology(&self, n: u8, vms: u8, mode: &str, uplink: &str) -> String {
        let id = &self.id;
        let mut t = format!(
            "[[switch]]\nname = \"fab\"\nmode = \"{mode}\"\n\
             [switch.uplink]\nname = \"fabric\"\ntype = \"vxlan\"\nvni = 100\nfabric = true\n{uplink}\n"
        );
        for k in 0..vms {
            t += &format!(
                "[[switch.port]]\nname = \"f{k}{n}{id}\"\ntype = \"veth\"\nnetns = \"fv{k}{n}{id}\"\n\
                 address = [\"10.90.0.{}/24\"]\nmtu = 1450\n",
                n + 10 * k
            );
        }
        t
    }

    /// Host `n` at 192.0.2.n on the underlay, its daemon up (not yet applied).
    fn host(&self, n: u8, vms: u8) -> Host {
        let id = &self.id;
        let ns = Netns::new(&format!("fh{n}{id}"));
        sh(&[
            "ip",
            "-n",
            &ns.name,
            "link",
            "add",
            "und",
            "type",
            "veth",
            "peer",
            "name",
            &format!("u{n}"),
            "netns",
            &self.ns.name,
        ]);
        ns_sh(&self.ns.name, &format!("ip link set u{n} master br0 up"));
        ns_sh(
            &ns.name,
            &format!("ip addr add 192.0.2.{n}/24 dev und && ip link set und up"),
        );
        let vms = (0..vms)
            .map(|k| Netns::new(&format!("fv{k}{n}{id}")))
            .collect();
        let url = self.etcd.url();
        let (hid, under) = (format!("h{n}"), format!("192.0.2.{n}"));
        let mut args = vec![
            "--etcd",
            &url,
            "--host-id",
            &hid,
            "--underlay-ip",
            &under,
            "--etcd-lease-ttl",
            TTL,
        ];
        let auth = self.auth.get(&n).cloned().unwrap_or_default();
        args.extend(auth.iter().map(String::as_str));
        let mut daemon = Daemon::start_in_with(&ns.name, &args);
        daemon.links = Vec::new();
        Host {
            daemon,
            vms,
            _ns: ns,
        }
    }

    fn apply(&self, h: &Host, n: u8, mode: &str, relay: bool) {
        self.apply_with(h, n, mode, &format!("relay = {relay}"));
    }

    /// Applies host `n`'s topology with `uplink` lines added to the fabric port.
    fn apply_with(&self, h: &Host, n: u8, mode: &str, uplink: &str) {
        let file = h.daemon.dir.path().join("fabric.toml");
        std::fs::write(&file, self.topology(n, h.vms.len() as u8, mode, uplink)).expect("write");
        h.daemon.ok(&["apply", "-f", file.to_str().expect("path")]);
    }
}

/// Polls `f` every 100 ms for up to `secs`; true once it holds.
fn within(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hosts_listed(d: &Daemon) -> Vec<String> {
    d.json(&["hosts", "show"])["hosts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["host"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn members(d: &Daemon) -> Vec<String> {
    d.json(&["tunnel", "show"])[0]["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn hosts_meet_through_etcd_and_leave_with_their_lease() {
    require_root();
    let id = uid();
    let mut u = Underlay::new(&id);
    let mut hosts: Vec<Host> = (1..=3).map(|n| u.host(n, 1)).collect();
    for (i, h) in hosts.iter().enumerate() {
        u.apply(h, i as u8 + 1, "veb", false);
    }
    // Every VM reaches every other, with no peer configured anywhere.
    for (a, from) in hosts.iter().enumerate() {
        for b in (1..=3u8).filter(|b| *b as usize != a + 1) {
            let to = vm_ip(b, 0);
            assert!(
                wait_reachable(&from.vms[0].name, &to),
                "VM {} reaches {to}:\n{}",
                a + 1,
                from.daemon.log()
            );
        }
    }
    let v = hosts[0].daemon.json(&["hosts", "show"]);
    assert_eq!(v["state"], "connected", "{v}");
    assert_eq!(hosts_listed(&hosts[0].daemon), ["h1", "h2", "h3"]);
    // Host 1's tunnel: the others as members, VM 2's MAC published by host 2.
    assert_eq!(members(&hosts[0].daemon), ["192.0.2.2", "192.0.2.3"]);
    let mac2 = hosts[1].vms[0].mac("eth0").to_string();
    let t = hosts[0].daemon.json(&["tunnel", "show"]);
    assert!(
        t[0]["published"].as_array().is_some_and(|p| p
            .iter()
            .any(|m| m["mac"] == mac2.as_str() && m["vtep"] == "192.0.2.2")),
        "{t}"
    );
    let (status, metrics) = hosts[0]
        .daemon
        .http("GET", "/metrics", None)
        .expect("metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("vepa_fabric_hosts 3") && metrics.contains("vepa_fabric_connected 1"),
        "{metrics}"
    );
    let table = hosts[0].daemon.ok(&["hosts", "show"]);
    assert!(
        table.contains("h2") && table.contains("192.0.2.2:4789"),
        "{table}"
    );

    // A fourth host joins: reachable within 5 s of its daemon's start.
    let t0 = Instant::now();
    let h4 = u.host(4, 1);
    u.apply(&h4, 4, "veb", false);
    assert!(wait_reachable(&hosts[0].vms[0].name, &vm_ip(4, 0)));
    let joined = t0.elapsed();
    assert!(
        joined < Duration::from_secs(5),
        "host 4 reachable after {joined:?}"
    );
    assert!(ping(&h4.vms[0].name, &vm_ip(2, 0)));
    hosts.push(h4);

    // Host 3 is killed: it leaves the others' tables when its lease runs out.
    hosts[2].daemon.kill9();
    let t0 = Instant::now();
    assert!(
        within(12, || !members(&hosts[0].daemon)
            .contains(&"192.0.2.3".to_string())),
        "host 3 still a member: {:?}",
        members(&hosts[0].daemon)
    );
    let gone = t0.elapsed();
    assert!(!hosts_listed(&hosts[1].daemon).contains(&"h3".to_string()));
    assert!(!u
        .etcd
        .keys("/vepa/hosts/")
        .iter()
        .any(|k| k.ends_with("/h3")));
    eprintln!("host 4 reachable {joined:?} after its daemon started; host 3 gone {gone:?} after SIGKILL (lease {TTL} s)");

    // etcd goes away: the fabric forwards with what it knows...
    u.etcd.stop();
    assert!(
        within(15, || hosts[0].daemon.json(&["hosts", "show"])["state"]
            != "connected"),
        "host 1 notices etcd is gone"
    );
    assert!(ping(&hosts[0].vms[0].name, &vm_ip(2, 0)));
    assert!(ping(&hosts[3].vms[0].name, &vm_ip(1, 0)));
    let v = hosts[0].daemon.json(&["hosts", "show"]);
    assert_eq!(hosts_listed(&hosts[0].daemon), ["h1", "h2", "h4"], "{v}");
    assert!(v["last_error"].as_str().is_some(), "{v}");
    // A daemon restarted while etcd is away starts with the hosts it knew.
    hosts[1].daemon.stop();
    hosts[1].daemon.launch();
    assert!(
        wait_reachable(&hosts[1].vms[0].name, &vm_ip(4, 0)),
        "host 2, restarted without etcd, still reaches host 4:\n{}",
        hosts[1].daemon.log()
    );
    assert_eq!(hosts_listed(&hosts[1].daemon), ["h1", "h2", "h4"]);
    // ...and resyncs when it is back: host 3 starts again and is reached.
    u.etcd.launch();
    for h in [&hosts[0], &hosts[1], &hosts[3]] {
        assert!(
            within(40, || h.daemon.json(&["hosts", "show"])["state"]
                == "connected"),
            "reconnected: {}",
            h.daemon.json(&["hosts", "show"])
        );
    }
    hosts[2].daemon.launch();
    assert!(
        within(10, || members(&hosts[0].daemon)
            .contains(&"192.0.2.3".to_string())),
        "host 3 back in host 1's tunnel"
    );
    assert!(wait_reachable(&hosts[0].vms[0].name, &vm_ip(3, 0)));
    assert!(ping(&hosts[2].vms[0].name, &vm_ip(4, 0)));
    drop(hosts);
    drop(u);
}

fn counter(d: &Daemon, key: &str) -> u64 {
    d.json(&["tunnel", "show"])[0]["counters"][key]
        .as_u64()
        .unwrap_or(0)
}

/// VEPA semantics across hosts. Two hosts, two VMs each (host n's at
/// 10.90.0.n and 10.90.0.n+10), one switch spanning both:
/// `private` — no VM reaches another, and the frames host 1's VMs send
/// do cross and are refused on host 2; `vepa` — VMs on different hosts
/// talk, VMs on one host do not (nothing reflects); `vepa` with the
/// fabric's relay — they do; `veb` — all do.
#[test]
fn a_switch_spanning_hosts_keeps_its_mode() {
    require_root();
    let id = uid();
    let u = Underlay::new(&id);
    let hosts: Vec<Host> = (1..=2).map(|n| u.host(n, 2)).collect();
    let apply_all = |mode: &str, relay: bool| {
        for (i, h) in hosts.iter().enumerate() {
            u.apply(h, i as u8 + 1, mode, relay);
        }
        for h in &hosts {
            assert!(
                within(10, || members(&h.daemon).len() == 1),
                "fabric programmed: {}",
                h.daemon.json(&["tunnel", "show"])
            );
        }
    };
    let (a1, a2) = (&hosts[0].vms[0].name, &hosts[0].vms[1].name);
    let (b1, b2) = (&hosts[1].vms[0].name, &hosts[1].vms[1].name);
    let (ip_a2, ip_b1, ip_b2) = ("10.90.0.11", "10.90.0.2", "10.90.0.12");

    apply_all("private", false);
    let refused = counter(&hosts[1].daemon, "rx_isolated");
    assert!(!ping(a1, ip_b1), "private: across hosts");
    assert!(!ping(a1, ip_a2), "private: on one host");
    assert!(!ping(b2, "10.90.0.1"), "private: back across");
    let t = hosts[1].daemon.json(&["tunnel", "show"]);
    assert_eq!(t[0]["isolate"], true, "{t}");
    assert!(
        counter(&hosts[1].daemon, "rx_isolated") > refused,
        "host 1's frames reached host 2 and were refused: {t}"
    );

    apply_all("vepa", false);
    assert!(wait_reachable(a1, ip_b1), "vepa: across hosts");
    assert!(ping(b1, "10.90.0.11"), "vepa: across hosts, back");
    assert!(!ping(a1, ip_a2), "vepa without relay: not on one host");
    assert!(!ping(b1, ip_b2), "vepa without relay: not on one host");

    apply_all("vepa", true);
    assert!(wait_reachable(a1, ip_a2), "vepa with relay: on one host");
    assert!(wait_reachable(b2, ip_b1), "vepa with relay: on one host");
    assert!(ping(a2, ip_b2), "vepa with relay: across hosts");
    let t = hosts[0].daemon.json(&["tunnel", "show"]);
    assert_eq!(t[0]["reflect"], true, "{t}");

    apply_all("veb", false);
    for (from, to) in [(a1, ip_a2), (a1, ip_b2), (b1, ip_b2)] {
        assert!(wait_reachable(from, to), "veb: {from} reaches {to}");
    }
}

/// etcd cannot be reached at start: the daemon says so, serves its API,
/// retries with a growing backoff, and joins once etcd is there. Bad
/// control-plane flags are refused before anything starts.
#[test]
fn etcd_unreachable_at_start_is_retried() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("fe{id}"));
    let d = Daemon::start_in_with(
        &ns.name,
        &[
            "--etcd",
            "http://127.0.0.1:23790",
            "--host-id",
            "lonely",
            "--underlay-ip",
            "192.0.2.1",
        ],
    );
    assert!(
        within(10, || d.log().contains("retrying in 2 s")),
        "two attempts logged:\n{}",
        d.log()
    );
    let log = d.log();
    assert!(
        log.contains("etcd http://127.0.0.1:23790: unreachable") && log.contains("retrying in 1 s"),
        "{log}"
    );
    let v = d.json(&["hosts", "show"]);
    assert_eq!(v["state"], "retrying", "{v}");
    assert!(
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable")),
        "{v}"
    );
    let table = d.ok(&["hosts", "show"]);
    assert!(
        table.contains("retrying") && table.contains("last error"),
        "{table}"
    );
    // The daemon works meanwhile, and joins when etcd comes.
    let etcd = Etcd::start(&ns.name, "127.0.0.1", 23790);
    assert!(
        within(40, || d.json(&["hosts", "show"])["state"] == "connected"),
        "{}",
        d.json(&["hosts", "show"])
    );
    assert_eq!(hosts_listed(&d), ["lonely"]);
    assert_eq!(etcd.keys("/vepa/hosts/"), ["/vepa/hosts/lonely"]);
    drop(d);
    // A daemon stopped cleanly takes its record with it.
    assert!(etcd.keys("/vepa/hosts/").is_empty());

    // Flags: each refusal names the flag.
    for (args, expect) in [
        (vec!["--etcd", "http://127.0.0.1:1"], "--underlay-ip"),
        (
            vec!["--etcd", "127.0.0.1:2379", "--underlay-ip", "192.0.2.1"],
            "--etcd",
        ),
        (
            vec!["--etcd", "http://127.0.0.1:1", "--underlay-ip", "127.0.0.1"],
            "--underlay-ip",
        ),
        (
            vec![
                "--etcd",
                "http://127.0.0.1:1",
                "--underlay-ip",
                "192.0.2.1",
                "--host-id",
                "a/b",
            ],
            "--host-id",
        ),
        (vec!["--host-id", "x"], "--etcd"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(vepa_itest::vepa_bin())
            .arg("--socket")
            .arg(dir.path().join("s"))
            .arg("daemon")
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(&args)
            .output()
            .expect("vepa daemon");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{args:?}: {err}"
        );
    }
    // Without --etcd, `hosts show` says what is missing.
    let plain = Daemon::start_in(&ns.name);
    let err = plain.fails(&["hosts", "show"]);
    assert!(err.contains("--etcd"), "{err}");
}

/// ARP suppression: once host 2's VM has announced its address (in its ARP
/// reply), host 1 answers requests for it itself; host 2's VM sees no
/// request for its address, and traffic flows.
#[test]
fn arp_for_another_hosts_vm_is_answered_locally() {
    require_root();
    let id = uid();
    let u = Underlay::new(&id);
    let hosts: Vec<Host> = (1..=2).map(|n| u.host(n, 1)).collect();
    for (i, h) in hosts.iter().enumerate() {
        u.apply_with(h, i as u8 + 1, "veb", "arp_suppress = true");
    }
    let (a, b) = (&hosts[0].vms[0].name, &hosts[1].vms[0].name);
    assert!(wait_reachable(a, "10.90.0.2"));
    let published = || {
        let t = hosts[0].daemon.json(&["tunnel", "show"]);
        t[0]["published_ips"]
            .as_array()
            .is_some_and(|v| v.iter().any(|e| e["ip"] == "10.90.0.2"))
    };
    assert!(
        within(10, published),
        "{}",
        hosts[0].daemon.json(&["tunnel", "show"])
    );
    sh(&["ip", "-n", a, "neigh", "flush", "all"]);
    let cap = Capture::start(b, "eth0");
    assert!(ping(a, "10.90.0.2"), "answered locally, then reached");
    std::thread::sleep(Duration::from_millis(200));
    let seen = cap.finish();
    assert!(
        arp_requests_for(&seen, [10, 90, 0, 2]).is_empty(),
        "no request for VM 2's address reached it"
    );
    let t = hosts[0].daemon.json(&["tunnel", "show"]);
    assert!(
        t[0]["counters"]["tx_arp_suppressed"].as_u64() >= Some(1),
        "{t}"
    );
    assert_eq!(t[0]["arp_suppress"], true);
    let v = hosts[1].daemon.json(&["hosts", "show"]);
    assert!(
        v.to_string().contains("10.90.0.1"),
        "host 1's VM address published: {v}"
    );
}

/// A trunk's VLANs across hosts, each in its own VNI (`vlan_vni` on the
/// fabric port): hosts 1 and 2 carry VLAN 10 in VNI 1010 and VLAN 20 in
/// VNI 1020, host 3 only VNI 1010 (on an access switch). Each VLAN's VMs
/// meet across hosts; VLANs stay apart though they share a subnet; each
/// VNI's floods go only to the hosts that carry it.
#[test]
fn vlans_span_hosts_in_their_own_vnis() {
    require_root();
    let id = uid();
    let u = Underlay::new(&id);
    let hosts: Vec<Host> = (1..=3)
        .map(|n| u.host(n, if n == 3 { 1 } else { 2 }))
        .collect();
    let topo = |n: u8| {
        let mut t = String::from("[[switch]]\nname = \"fab\"\n[switch.uplink]\nname = \"fabric\"\ntype = \"vxlan\"\nfabric = true\n");
        if n == 3 {
            t += "vni = 1010\n";
        } else {
            t += "trunk = [10, 20]\nvlan_vni = [\"10:1010\", \"20:1020\"]\n";
        }
        let vms: &[(u8, u16)] = if n == 3 {
            &[(0, 1)]
        } else {
            &[(0, 10), (1, 20)]
        };
        for (k, vlan) in vms {
            t += &format!(
                "[[switch.port]]\nname = \"f{k}{n}{id}\"\ntype = \"veth\"\nnetns = \"fv{k}{n}{id}\"\n\
                 address = [\"10.90.0.{}/24\"]\nmtu = 1450\nvlan = {vlan}\n",
                n + 10 * k
            );
        }
        t
    };
    for (i, h) in hosts.iter().enumerate() {
        let file = h.daemon.dir.path().join("trunk.toml");
        std::fs::write(&file, topo(i as u8 + 1)).expect("write");
        h.daemon.ok(&["apply", "-f", file.to_str().expect("path")]);
    }
    let flood = |d: &Daemon| d.json(&["tunnel", "show"])[0]["flood"].clone();
    assert!(
        within(10, || flood(&hosts[0].daemon)
            == serde_json::json!({"1010": ["192.0.2.2", "192.0.2.3"], "1020": ["192.0.2.2"]})),
        "{}",
        hosts[0].daemon.json(&["tunnel", "show"])
    );
    let (a10, a20) = (&hosts[0].vms[0].name, &hosts[0].vms[1].name);
    assert!(wait_reachable(a10, "10.90.0.2"), "VLAN 10 across hosts");
    assert!(wait_reachable(a20, "10.90.0.12"), "VLAN 20 across hosts");
    assert!(
        wait_reachable(a10, "10.90.0.3"),
        "VNI 1010 to host 3's access VM"
    );
    assert!(!ping(a20, "10.90.0.3"), "VLAN 20 does not reach VNI 1010");
    assert!(!ping(a10, "10.90.0.12"), "VLAN 10 does not reach VLAN 20");
}

/// etcd as a production fabric runs it: TLS with client certificates
/// required, and RBAC (each host's user writes only its own key). Hosts
/// join and reach each other; a rogue holder of valid credentials cannot
/// write another host's key, and its own record is refused where it claims
/// a host's VTEP, its claims of a host's VMs' MACs unused; all counted.
#[test]
fn hosts_meet_over_tls_with_rbac_and_a_rogue_record_is_refused() {
    require_root();
    let id = uid();
    let pki = tempfile::tempdir().expect("tempdir");
    let (ca, tls) = EtcdTls::new(pki.path(), ETCD_IP);
    let ca_cert = tls.ca.display().to_string();
    let mut u = Underlay::new_with(&id, Some(tls));
    u.etcd.enable_rbac(
        "/vepa",
        &[("h1", "pw-h1"), ("h2", "pw-h2"), ("rogue", "pw-rogue")],
    );
    for n in [1u8, 2] {
        // No CommonName: etcd's gateway refuses one (identity is the user).
        let leaf = ca.leaf_without_cn(&format!("h{n}"), &[&format!("192.0.2.{n}")]);
        let pw = pki.path().join(format!("h{n}.pw"));
        std::fs::write(&pw, format!("pw-h{n}\n")).expect("password file");
        u.auth.insert(
            n,
            [
                "--etcd-cacert",
                &ca_cert,
                "--etcd-cert",
                &leaf.cert.display().to_string(),
                "--etcd-key",
                &leaf.key.display().to_string(),
                "--etcd-user",
                &format!("h{n}"),
                "--etcd-password-file",
                &pw.display().to_string(),
            ]
            .map(str::to_string)
            .to_vec(),
        );
    }
    let hosts: Vec<Host> = (1..=2).map(|n| u.host(n, 1)).collect();
    for (i, h) in hosts.iter().enumerate() {
        u.apply(h, i as u8 + 1, "veb", false);
    }
    assert!(
        wait_reachable(&hosts[0].vms[0].name, &vm_ip(2, 0)),
        "VM 1 reaches VM 2 over TLS and RBAC:\n{}",
        hosts[0].daemon.log()
    );
    assert_eq!(hosts_listed(&hosts[1].daemon), ["h1", "h2"]);

    // The rogue has its own user: another host's key is not its to write.
    let record = |host: &str, vtep: &str, mac: &str| {
        format!(
            r#"{{"host":"{host}","underlay":"{vtep}","version":"x","networks":[{{"vni":100,"switch":"fab","mode":"veb","vtep":"{vtep}","dstport":4789,"macs":["{mac}"]}}]}}"#
        )
    };
    let mac1 = hosts[0].vms[0].mac("eth0").to_string();
    for key in ["/vepa/hosts/h1", "/vepa/hosts/h2"] {
        let o = u.etcd.etcdctl_as(
            "rogue:pw-rogue",
            &["put", key, &record("h1", "192.0.2.66", "02:00:00:00:00:66")],
        );
        assert!(
            !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("permission denied"),
            "{key}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Its own key, claiming host 1's VTEP: refused by both hosts.
    let o = u.etcd.etcdctl_as(
        "rogue:pw-rogue",
        &[
            "put",
            "/vepa/hosts/rogue",
            &record("rogue", "192.0.2.1", "02:00:00:00:00:66"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for h in &hosts {
        assert!(
            within(5, || h.daemon.json(&["hosts", "show"])["refused"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x["host"] == "rogue"
                    && x["why"]
                        .as_str()
                        .is_some_and(|w| w.contains("VTEP 192.0.2.1"))))),
            "{}",
            h.daemon.json(&["hosts", "show"])
        );
        assert_eq!(hosts_listed(&h.daemon), ["h1", "h2"]);
    }
    assert_eq!(members(&hosts[1].daemon), ["192.0.2.1"]);
    // Its own VTEP, claiming VM 1's MAC: host 1 does not use the claim.
    let o = u.etcd.etcdctl_as(
        "rogue:pw-rogue",
        &[
            "put",
            "/vepa/hosts/rogue",
            &record("rogue", "192.0.2.66", &mac1),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        within(5, || hosts[0].daemon.json(&["hosts", "show"])
            ["claims_refused"]
            .as_u64()
            .is_some_and(|n| n >= 1)),
        "{}",
        hosts[0].daemon.json(&["hosts", "show"])
    );
    let (_, metrics) = hosts[0]
        .daemon
        .http("GET", "/metrics", None)
        .expect("metrics");
    assert!(
        metrics.contains("vepa_fabric_records_refused_total 1")
            && metrics.contains("vepa_fabric_claims_refused 1"),
        "{metrics}"
    );
    // Host 2 sees VM 1's MAC claimed twice: it steers it to neither, and
    // the VMs still reach each other.
    let t = hosts[1].daemon.json(&["tunnel", "show"]);
    assert!(
        !t[0]["published"]
            .as_array()
            .is_some_and(|p| p.iter().any(|m| m["mac"] == mac1.as_str())),
        "{t}"
    );
    assert!(ping(&hosts[1].vms[0].name, &vm_ip(1, 0)));
    assert!(ping(&hosts[0].vms[0].name, &vm_ip(2, 0)));
}
