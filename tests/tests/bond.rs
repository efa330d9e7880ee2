//! Bonded uplinks against real partners: Open vSwitch's userspace bond
//! (LACP, balance-tcp) and a Linux bridge on two links (active-backup).
//! A VM (namespace) on a vepa switch pings a server behind the partner at
//! 100 packets a second while a member's link goes down; the loss is
//! counted from ping's own report. The member links are veth pairs vepa
//! makes, their far ends in the partner's namespace; a link goes down
//! from the partner's side (`ip link set m0 down`), as a pulled cable.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::{iperf3, require_root, send_frames, uid, Netns};

/// Most pings of 100 a second a member's failure may cost (≤ 1 s).
const MAX_LOST: u64 = 100;

/// A ping of `count` packets 10 ms apart from `ns` to `ip`, running.
fn ping_100pps(ns: &str, ip: &str, count: u32) -> Child {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-q", "-n", "-i", "0.01", "-W", "1",
        ])
        .args(["-c", &count.to_string(), ip])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ping")
}

/// Transmitted and received, from ping's summary.
fn ping_result(c: Child) -> (u64, u64) {
    let out = c.wait_with_output().expect("ping output");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {text:?}"));
    let num = |word: &str| -> u64 {
        line.split(',')
            .find(|p| p.contains(word))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (num("transmitted"), num("received"))
}

/// The bond's entry of `vepa stats -o json`.
fn bond(d: &Daemon, sw: &str) -> serde_json::Value {
    let stats = d.json(&["stats"]);
    stats["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["switch"] == sw && p["bond"].is_object())
        .map(|p| {
            let mut b = p["bond"].clone();
            b["drops"] = p["drops"].clone();
            b
        })
        .unwrap_or(serde_json::Value::Null)
}

/// The member interfaces carrying traffic now.
fn carrying(b: &serde_json::Value) -> Vec<String> {
    b["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["carrying"] == true)
        .filter_map(|m| m["ifname"].as_str().map(str::to_string))
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < end, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tx_packets(ifname: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/statistics/tx_packets"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A vepa switch `sw` with one VM (`vm`, 10.77.0.1) and a bonded uplink
/// of two veth members whose far ends are `m0`/`m1` in `partner`.
fn topology(sw: &str, id: &str, vm: &Netns, partner: &Netns, bond: &str) -> String {
    let mut t = format!(
        "[[switch]]\nname = \"{sw}\"\nmode = \"veb\"\n[switch.uplink]\nname = \"up\"\ntype = \"bond\"\n\
         offload = false\n[switch.uplink.bond]\n{bond}\n"
    );
    for m in ["m0", "m1"] {
        t += &format!(
            "[[switch.uplink.bond.member]]\nname = \"{m}\"\ntype = \"veth\"\nifname = \"b{m}{id}\"\n\
             netns = \"{}\"\npeer_name = \"{m}\"\n",
            partner.name
        );
    }
    t += &format!(
        "[[switch.port]]\nname = \"bv{id}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.77.0.1/24\"]\n",
        vm.name
    );
    t
}

/// A server namespace on `partner`'s interface `s0`, at 10.77.0.100,
/// sending complete checksums (Open vSwitch's userspace datapath passes a
/// veth's partial ones on as they are).
fn server(partner: &Netns, id: &str) -> Netns {
    let srv = Netns::new(&format!("bS{id}"));
    partner.exec(&[
        "ip", "link", "add", "s0", "type", "veth", "peer", "name", "eth0", "netns", &srv.name,
    ]);
    partner.exec(&["ip", "link", "set", "s0", "up"]);
    srv.exec(&["ip", "addr", "add", "10.77.0.100/24", "dev", "eth0"]);
    srv.exec(&["ip", "link", "set", "eth0", "up"]);
    srv.exec(&["ethtool", "-K", "eth0", "tx", "off"]);
    srv
}

fn apply(d: &mut Daemon, text: &str, links: Vec<String>) {
    d.links = links;
    let file = d.dir.path().join("bond.toml");
    std::fs::write(&file, text).expect("topology");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
}

/// Open vSwitch in a namespace of its own, with a private run directory:
/// ovsdb-server and ovs-vswitchd (userspace datapath), stopped on drop.
struct Ovs {
    ns: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Ovs {
    fn start(ns: &str) -> Ovs {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let db = dir.join("conf.db");
        let run = |args: &[&str]| {
            let out = Command::new(args[0])
                .args(&args[1..])
                .env("OVS_RUNDIR", &dir)
                .env("OVS_DBDIR", &dir)
                .env("OVS_LOGDIR", &dir)
                .output()
                .expect("run an Open vSwitch command");
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
        run(&[
            "ovsdb-tool",
            "create",
            &d("conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]);
        let _ = db;
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "ovsdb-server",
            &d("conf.db"),
            &format!("--remote=punix:{}", d("db.sock")),
            &format!("--pidfile={}", d("ovsdb-server.pid")),
            "--detach",
            &format!("--log-file={}", d("ovsdb.log")),
        ]);
        let ovs = Ovs {
            ns: ns.to_string(),
            dir: dir.clone(),
            _tmp: tmp,
        };
        ovs.vsctl(&["--no-wait", "init"]);
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "ovs-vswitchd",
            &format!("unix:{}", d("db.sock")),
            &format!("--pidfile={}", d("ovs-vswitchd.pid")),
            "--detach",
            &format!("--log-file={}", d("vswitchd.log")),
        ]);
        ovs.vsctl(&[
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
        ]);
        ovs
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new("ovs-vsctl")
            .arg(format!("--db=unix:{}", self.dir.join("db.sock").display()))
            .arg("--timeout=10")
            .args(args)
            .output()
            .expect("ovs-vsctl");
        assert!(
            out.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pid(&self, daemon: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(format!("{daemon}.pid")))
            .ok()
            .map(|p| p.trim().to_string())
    }

    fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.dir.join(format!(
            "ovs-vswitchd.{}.ctl",
            self.pid("ovs-vswitchd").unwrap_or_default()
        ));
        let out = Command::new("ovs-appctl")
            .arg("-t")
            .arg(&ctl)
            .args(args)
            .output()
            .expect("ovs-appctl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for d in ["ovs-vswitchd", "ovsdb-server"] {
            if let Some(pid) = self.pid(d) {
                let _ = Command::new("kill").arg(&pid).status();
            }
        }
        let _ = &self.ns;
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn dir_has(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// What `ovs-appctl lacp/show bond0` says of the bond and each member.
fn ovs_lacp(ovs: &Ovs) -> (String, Vec<String>) {
    let text = ovs.appctl(&["lacp/show", "bond0"]);
    let status = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("status: "))
        .unwrap_or("")
        .to_string();
    let members = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("member: ")
                .or_else(|| l.strip_prefix("slave: "))
        })
        .map(str::to_string)
        .collect();
    (status, members)
}

#[test]
fn lacp_bond_forms_with_open_vswitch_carries_tcp_and_survives_a_member() {
    require_root();
    let id = uid();
    let partner = Netns::new(&format!("bO{id}"));
    let vm = Netns::new(&format!("bV{id}"));
    let ovs = Ovs::start(&partner.name);
    assert!(dir_has(&ovs.dir, "db.sock"), "ovsdb-server runs");
    let srv = server(&partner, &id);
    ovs.vsctl(&["add-port", "br0", "s0"]);
    let mut d = Daemon::start();
    let sw = format!("bl{id}");
    apply(
        &mut d,
        &topology(
            &sw,
            &id,
            &vm,
            &partner,
            "mode = \"balance-tcp\"\nlacp = \"active\"\nlacp_rate = \"fast\"",
        ),
        vec![format!("bm0{id}"), format!("bm1{id}"), format!("bv{id}")],
    );
    for m in ["m0", "m1"] {
        partner.exec(&["ip", "link", "set", m, "up"]);
    }
    ovs.vsctl(&[
        "add-bond",
        "br0",
        "bond0",
        "m0",
        "m1",
        "lacp=active",
        "bond_mode=balance-tcp",
        "other_config:lacp-time=fast",
    ]);
    // Both ends say the aggregation formed.
    let both = [format!("bm0{id}"), format!("bm1{id}")];
    wait_until(
        "vepa's two members carrying",
        Duration::from_secs(15),
        || carrying(&bond(&d, &sw)) == both,
    );
    wait_until("OVS's bond negotiated", Duration::from_secs(10), || {
        let (status, members) = ovs_lacp(&ovs);
        status.contains("negotiated")
            && members.len() == 2
            && members.iter().all(|m| m.contains("current attached"))
    });
    let b = bond(&d, &sw);
    let ovs_sys = ovs.appctl(&["lacp/show", "bond0"]);
    let partner_sys = b["members"][0]["lacp"]["partner_system"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let partner_mac = partner_sys.split(',').nth(1).unwrap_or("?").to_string();
    assert!(
        ovs_sys.contains(&format!("sys_id: {partner_mac}")),
        "vepa's partner {partner_sys} is OVS's system:\n{ovs_sys}"
    );
    assert_eq!(
        b["members"][1]["lacp"]["mux"], "collecting-distributing",
        "{b}"
    );

    // TCP across the bond.
    let r = iperf3(&vm.name, &srv.name, "10.77.0.100", &["-t", "2", "-P", "4"]);
    let bps = r["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    eprintln!("iperf3 TCP across the LACP bond: {:.2} Gbit/s", bps / 1e9);
    assert!(bps > 1e6, "iperf3 across the bond: {r}");

    // Which member carries the VM's pings out: that one goes down.
    let before: Vec<u64> = both.iter().map(|m| tx_packets(m)).collect();
    assert!(vepa_itest::ping(&vm.name, "10.77.0.100"));
    let p = ping_100pps(&vm.name, "10.77.0.100", 20);
    let _ = ping_result(p);
    let after: Vec<u64> = both.iter().map(|m| tx_packets(m)).collect();
    let busy = if after[0] - before[0] >= after[1] - before[1] {
        0
    } else {
        1
    };
    let (down_if, down_m) = (&both[busy], ["m0", "m1"][busy]);
    let ping = ping_100pps(&vm.name, "10.77.0.100", 300);
    std::thread::sleep(Duration::from_secs(1));
    partner.exec(&["ip", "link", "set", down_m, "down"]);
    let (sent, got) = ping_result(ping);
    let lost = sent - got;
    eprintln!("LACP bond: {down_if} down under a 100 pkt/s ping: {lost} of {sent} lost");
    assert!(lost <= MAX_LOST, "lost {lost} of {sent} pings");
    let b = bond(&d, &sw);
    assert_eq!(carrying(&b), vec![both[1 - busy].clone()], "{b}");

    // A malformed LACPDU (a TLV of the wrong length) and a truncated one
    // are counted and dropped; the bond goes on.
    let other = ["m0", "m1"][1 - busy];
    let src = partner.mac(other);
    let mut bad = Vec::new();
    bad.extend_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0x02]);
    bad.extend_from_slice(&src.0);
    bad.extend_from_slice(&[0x88, 0x09, 1, 1, 1, 19]);
    bad.resize(124, 0);
    let short = bad[..20].to_vec();
    let drops = |b: &serde_json::Value| b["drops"]["bad_lacpdu"].as_u64().unwrap_or(0);
    let was = drops(&bond(&d, &sw));
    send_frames(&partner.name, other, vec![bad, short]);
    wait_until("two bad LACPDUs counted", Duration::from_secs(3), || {
        drops(&bond(&d, &sw)) >= was + 2
    });
    assert!(
        vepa_itest::ping(&vm.name, "10.77.0.100"),
        "the bond goes on"
    );

    // The member comes back: it rejoins on both sides.
    partner.exec(&["ip", "link", "set", down_m, "up"]);
    wait_until(
        "the member rejoins on vepa's side",
        Duration::from_secs(15),
        || carrying(&bond(&d, &sw)) == both,
    );
    wait_until(
        "the member rejoins on OVS's side",
        Duration::from_secs(10),
        || {
            let (_, members) = ovs_lacp(&ovs);
            members.len() == 2 && members.iter().all(|m| m.contains("current attached"))
        },
    );
    let r = iperf3(&vm.name, &srv.name, "10.77.0.100", &["-t", "1", "-P", "2"]);
    assert!(
        r["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            > 1e6,
        "iperf3 after the rejoin: {r}"
    );
    let metrics = d
        .http("GET", "/metrics", None)
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert!(
        metrics.contains(&format!(
            "vepa_bond_member_carrying{{switch=\"{sw}\",port=\"up\",member=\"m0\"}} 1"
        )),
        "{metrics}"
    );
    drop(d);
    drop(ovs);
}

/// A Linux bridge `br0` in `partner` with the server on it, and a vepa
/// switch with one VM whose bond (`bond` options) has its two members on
/// the bridge. Dropped in field order: the daemon first.
struct BridgeRig {
    d: Daemon,
    sw: String,
    m0: String,
    m1: String,
    _srv: Netns,
    vm: Netns,
    partner: Netns,
}

fn bridge_rig(tag: &str, bond: &str) -> BridgeRig {
    let id = uid();
    let partner = Netns::new(&format!("b{tag}{id}"));
    let vm = Netns::new(&format!("b{tag}v{id}"));
    partner.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    partner.exec(&["ip", "link", "set", "br0", "up"]);
    let srv = server(&partner, &id);
    partner.exec(&["ip", "link", "set", "s0", "master", "br0"]);
    let mut d = Daemon::start();
    let sw = format!("b{tag}s{id}");
    apply(
        &mut d,
        &topology(&sw, &id, &vm, &partner, bond),
        vec![format!("bm0{id}"), format!("bm1{id}"), format!("bv{id}")],
    );
    for m in ["m0", "m1"] {
        partner.exec(&["ip", "link", "set", m, "master", "br0", "up"]);
    }
    BridgeRig {
        d,
        sw,
        m0: format!("bm0{id}"),
        m1: format!("bm1{id}"),
        _srv: srv,
        vm,
        partner,
    }
}

#[test]
fn active_backup_fails_over_and_the_linux_bridge_relearns_at_once() {
    require_root();
    let r = bridge_rig("B", "mode = \"active-backup\"");
    let (partner, vm, d, sw, m0, m1) = (&r.partner, &r.vm, &r.d, &r.sw, &r.m0, &r.m1);
    vm.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1"]);
    wait_until("the first member active", Duration::from_secs(5), || {
        carrying(&bond(d, sw)) == vec![m0.clone()]
    });
    assert!(vepa_itest::wait_reachable(&vm.name, "10.77.0.100"));
    let vm_mac = vm.mac("eth0").to_string();
    let fdb_port = || -> Option<String> {
        let out = partner.exec(&["bridge", "fdb", "show", "br", "br0"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with(&vm_mac) && !l.contains("permanent"))
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
    };
    assert_eq!(fdb_port().as_deref(), Some("m0"));

    // Pull the active member under a 100 pkt/s ping.
    let ping = ping_100pps(&vm.name, "10.77.0.100", 300);
    std::thread::sleep(Duration::from_secs(1));
    partner.exec(&["ip", "link", "set", "m0", "down"]);
    let (sent, got) = ping_result(ping);
    let lost = sent - got;
    eprintln!("active-backup: active member down under a 100 pkt/s ping: {lost} of {sent} lost");
    assert!(lost <= MAX_LOST, "lost {lost} of {sent} pings");
    let b = bond(d, sw);
    assert_eq!(carrying(&b), vec![m1.clone()], "{b}");
    assert_eq!(b["failovers"], 1, "{b}");
    assert_eq!(fdb_port().as_deref(), Some("m1"));

    // The first member comes back as the backup (no flap back); then the
    // active one goes with no traffic at all: only the bond's RARP can
    // move the VM's MAC in the bridge, and it does so at once.
    partner.exec(&["ip", "link", "set", "m0", "up"]);
    wait_until("m0 up again", Duration::from_secs(3), || {
        bond(d, sw)["members"][0]["link_up"] == true
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(carrying(&bond(d, sw)), vec![m1.clone()]);
    let announced = bond(d, sw)["announced"].as_u64().unwrap_or(0);
    let t0 = Instant::now();
    partner.exec(&["ip", "link", "set", "m1", "down"]);
    wait_until(
        "the bridge relearns the VM's MAC on m0",
        Duration::from_secs(1),
        || fdb_port().as_deref() == Some("m0"),
    );
    eprintln!(
        "active-backup: the bridge's FDB moved to the new member {} ms after the link went down",
        t0.elapsed().as_millis()
    );
    let b = bond(d, sw);
    assert!(b["announced"].as_u64().unwrap_or(0) > announced, "{b}");
    assert!(vepa_itest::ping(&vm.name, "10.77.0.100"));
    let show = d.ok(&["switch", "show", sw]);
    assert!(
        show.contains("MEMBER") && show.contains(m0.as_str()),
        "{show}"
    );
}

/// A MAC whose balance-slb hash puts its frames on member `want` of two.
fn mac_on_member(prefix: u8, want: usize) -> String {
    use vepa_dataplane::bond::{pick, BondMode};
    (1..=255u8)
        .map(|n| [0x02, 0x77, prefix, 0, 0, n])
        .find(|m| {
            let mut f = vec![0xffu8; 6];
            f.extend_from_slice(m);
            f.extend_from_slice(&[0x08, 0x06]);
            pick(0b11, vepa_io::bond::flow_hash(BondMode::BalanceSlb, &f)) == Some(want)
        })
        .map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .expect("a MAC on that member")
}

fn rx_packets(ifname: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/statistics/rx_packets"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn reflections_come_back_on_either_member_of_a_balance_slb_bond() {
    require_root();
    let id = uid();
    let partner = Netns::new(&format!("bR{id}"));
    let vm1 = Netns::new(&format!("bX{id}"));
    let vm2 = Netns::new(&format!("bY{id}"));
    // The adjacent bridge reflects (hairpin) on both links.
    partner.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    partner.exec(&["ip", "link", "set", "br0", "up"]);
    let mut d = Daemon::start();
    let sw = format!("br{id}");
    // vm1's frames leave by member 0, vm2's by member 1: each reply and
    // each echo comes back on the other member than it left by.
    let (mac1, mac2) = (mac_on_member(1, 0), mac_on_member(2, 1));
    let mut text = format!(
        "[[switch]]\nname = \"{sw}\"\nmode = \"vepa\"\n[switch.uplink]\nname = \"up\"\ntype = \"bond\"\n\
         [switch.uplink.bond]\nmode = \"balance-slb\"\n"
    );
    for m in ["m0", "m1"] {
        text += &format!(
            "[[switch.uplink.bond.member]]\nname = \"{m}\"\ntype = \"veth\"\nifname = \"b{m}{id}\"\n\
             netns = \"{}\"\npeer_name = \"{m}\"\n",
            partner.name
        );
    }
    for (i, (vm, mac)) in [(&vm1, &mac1), (&vm2, &mac2)].into_iter().enumerate() {
        text += &format!(
            "[[switch.port]]\nname = \"b{}{id}\"\ntype = \"veth\"\nnetns = \"{}\"\nmac = \"{mac}\"\naddress = [\"10.77.0.{}/24\"]\n",
            ["x", "y"][i],
            vm.name,
            i + 1
        );
    }
    let (m0, m1) = (format!("bm0{id}"), format!("bm1{id}"));
    apply(
        &mut d,
        &text,
        vec![m0.clone(), m1.clone(), format!("bx{id}"), format!("by{id}")],
    );
    for m in ["m0", "m1"] {
        partner.exec(&["ip", "link", "set", m, "master", "br0", "up"]);
        partner.exec(&["bridge", "link", "set", "dev", m, "hairpin", "on"]);
    }
    wait_until("both members carrying", Duration::from_secs(5), || {
        carrying(&bond(&d, &sw)) == vec![m0.clone(), m1.clone()]
    });
    let before = (rx_packets(&m0), rx_packets(&m1));
    assert!(
        vepa_itest::wait_reachable(&vm1.name, "10.77.0.2"),
        "vm1 reaches vm2 through the bridge's reflection"
    );
    let p = ping_100pps(&vm1.name, "10.77.0.2", 50);
    let (sent, got) = ping_result(p);
    assert_eq!(sent, got, "every echo and reply comes back");
    let after = (rx_packets(&m0), rx_packets(&m1));
    // Replies to vm1 come back on member 0, echoes to vm2 on member 1.
    assert!(after.0 - before.0 >= 50, "{before:?} -> {after:?}");
    assert!(after.1 - before.1 >= 50, "{before:?} -> {after:?}");
    // vm1's MAC stays on its own port: a reflection is not a move.
    let fdb = d.json(&["fdb", "show", &sw]).to_string();
    assert!(fdb.contains(&format!("\"port\":\"bx{id}\"")), "{fdb}");
}

#[test]
fn arp_monitoring_fails_over_from_a_link_whose_carrier_stays_up() {
    require_root();
    let r = bridge_rig(
        "A",
        "mode = \"active-backup\"\narp_targets = [\"10.77.0.100\"]\narp_interval_ms = 100",
    );
    let (partner, vm, d, sw, m0, m1) = (&r.partner, &r.vm, &r.d, &r.sw, &r.m0, &r.m1);
    wait_until("the server answers on m0", Duration::from_secs(5), || {
        carrying(&bond(d, sw)) == vec![m0.clone()]
    });
    assert!(vepa_itest::wait_reachable(&vm.name, "10.77.0.100"));
    // m0's path dies with its carrier up: the bridge stops forwarding on it.
    partner.exec(&["bridge", "link", "set", "dev", "m0", "state", "0"]);
    wait_until("ARP monitoring moves to m1", Duration::from_secs(2), || {
        carrying(&bond(d, sw)) == vec![m1.clone()]
    });
    let b = bond(d, sw);
    assert_eq!(
        b["members"][0]["link_up"], true,
        "the carrier stayed up: {b}"
    );
    assert!(vepa_itest::ping(&vm.name, "10.77.0.100"));
}
