//! The forwarding contract (docs/design.md §2) as tables: for each topology, a
//! sequence of (ingress port, source, destination) frames and the exact
//! set of ports each must reach, or the reason it is dropped.

mod common;
use common::*;
use vepa_dataplane::{
    DropReason, Egress, LinkFacts, PortId, PortMode, StaticFdbEntry, Switch, SwitchConfig,
    NO_MAC_LIMIT,
};
use vepa_packet::MacAddr;

/// X is a station beyond the uplink; U is never seen.
const X: u8 = 0x50;
const U: u8 = 0x99;

enum Expect {
    To(&'static [&'static str]),
    Tagged(&'static [(&'static str, Option<u16>)]),
    Drop(DropReason),
}
use Expect::*;

struct Step {
    at: &'static str,
    src: MacAddr,
    dst: MacAddr,
    tag: Option<u16>,
    expect: Expect,
}

fn step(at: &'static str, src: MacAddr, dst: MacAddr, expect: Expect) -> Step {
    Step {
        at,
        src,
        dst,
        tag: None,
        expect,
    }
}

fn tagged(at: &'static str, src: MacAddr, dst: MacAddr, tag: u16, expect: Expect) -> Step {
    Step {
        at,
        src,
        dst,
        tag: Some(tag),
        expect,
    }
}

/// Every VM says hello once through a veb-free path so the FDB knows where they are.
fn learn_vms(sw: &mut Switch, names: &[&str]) {
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let id = sw.config().port_id(n).unwrap();
        let _ = sw.process(id, &frame(mac(X), mac(i as u8 + 1), None), 0, &mut out);
    }
    if let Some(up) = sw.config().uplink() {
        let _ = sw.process(up, &frame(mac(U), mac(X), None), 0, &mut out);
    }
}

fn run(cfg: SwitchConfig, learn: &[&str], steps: &[Step]) {
    let mut sw = Switch::new(cfg).expect("valid config");
    learn_vms(&mut sw, learn);
    let mut out: Vec<Egress> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let id = sw.config().port_id(s.at).unwrap();
        let res = sw.process(id, &frame(s.dst, s.src, s.tag), 1, &mut out);
        let mut got: Vec<(String, Option<u16>)> = out
            .iter()
            .map(|e| (port_name(&sw.config(), e.port).to_string(), e.tag))
            .collect();
        got.sort();
        let ctx = format!("{}: step {i}: {} {} -> {}", sw.name(), s.at, s.src, s.dst);
        let want: Vec<(String, Option<u16>)> = match &s.expect {
            To(names) => names.iter().map(|n| (n.to_string(), None)).collect(),
            Tagged(list) => list.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            Drop(reason) => {
                assert_eq!(res, Err(*reason), "{ctx}");
                assert!(got.is_empty(), "{ctx}");
                continue;
            }
        };
        let mut want = want;
        want.sort();
        assert_eq!(res, Ok(()), "{ctx}");
        assert_eq!(got, want, "{ctx}");
    }
}

const VMS: &[&str] = &["vm1", "vm2", "vm3"];

#[test]
fn veb_switches_locally() {
    run(
        host(PortMode::Veb),
        VMS,
        &[
            step("vm1", mac(1), BCAST, To(&["up", "vm2", "vm3"])),
            // the relay hands it back: vm2 and vm3 already had it
            step("up", mac(1), BCAST, Drop(DropReason::AlreadyDelivered)),
            step("up", mac(X), BCAST, To(&["vm1", "vm2", "vm3"])),
            step("vm2", mac(2), mac(1), To(&["vm1"])),
            step("vm1", mac(1), mac(X), To(&["up"])),
            step("vm1", mac(1), mac(U), To(&["up", "vm2", "vm3"])),
            step("up", mac(1), mac(2), Drop(DropReason::AlreadyDelivered)),
            step("up", mac(X), mac(2), To(&["vm2"])),
            step("vm1", mac(1), mac(1), Drop(DropReason::NoHairpin)),
        ],
    );
}

#[test]
fn vepa_sends_everything_to_the_uplink() {
    run(
        host(PortMode::Vepa),
        VMS,
        &[
            step("vm1", mac(1), BCAST, To(&["up"])),
            step("up", mac(1), BCAST, To(&["vm2", "vm3"])),
            step("up", mac(X), BCAST, To(&["vm1", "vm2", "vm3"])),
            step("vm1", mac(1), mac(2), To(&["up"])),
            step("up", mac(1), mac(2), To(&["vm2"])),
            step("up", mac(X), mac(2), To(&["vm2"])),
            step("up", mac(1), mac(U), To(&["vm2", "vm3"])),
            step("up", mac(X), mac(X), Drop(DropReason::NoHairpin)),
        ],
    );
}

#[test]
fn private_never_reaches_another_downlink() {
    run(
        host(PortMode::Private),
        VMS,
        &[
            step("vm1", mac(1), BCAST, To(&["up"])),
            // kernel: a private port's reflected broadcast goes back to it alone
            step("up", mac(1), BCAST, To(&["vm1"])),
            step("up", mac(X), BCAST, To(&["vm1", "vm2", "vm3"])),
            step("vm1", mac(1), mac(2), To(&["up"])),
            // the deliberate difference from the kernel: reflected unicast is dropped too
            step("up", mac(1), mac(2), Drop(DropReason::PrivateIsolation)),
            step("up", mac(1), mac(U), Drop(DropReason::NoDestination)),
            step("up", mac(X), mac(2), To(&["vm2"])),
        ],
    );
}

#[test]
fn mixed_modes_follow_the_kernel_reflection_rules() {
    let cfg = SwitchConfig::new(
        "mixed",
        vec![
            uplink("up"),
            down("vm1", PortMode::Veb),
            down("vm2", PortMode::Vepa),
            down("vm3", PortMode::Veb),
            down("vm4", PortMode::Private),
        ],
    );
    run(
        cfg,
        &["vm1", "vm2", "vm3", "vm4"],
        &[
            step("vm1", mac(1), BCAST, To(&["up", "vm3"])),
            step("up", mac(1), BCAST, To(&["vm2"])),
            step("up", mac(2), BCAST, To(&["vm1", "vm3"])),
            step("up", mac(4), BCAST, To(&["vm4"])),
            step("up", mac(X), BCAST, To(&["vm1", "vm2", "vm3", "vm4"])),
            step("vm1", mac(1), mac(2), To(&["up"])),
            step("vm1", mac(1), mac(3), To(&["vm3"])),
            step("up", mac(2), mac(4), Drop(DropReason::PrivateIsolation)),
            step("up", mac(4), mac(1), Drop(DropReason::PrivateIsolation)),
        ],
    );
}

#[test]
fn passthru_hands_the_uplink_to_one_port() {
    let cfg = SwitchConfig::new("pt", vec![uplink("up"), down("vm1", PortMode::Passthru)]);
    run(
        cfg,
        &["vm1"],
        &[
            step("up", mac(X), mac(U), To(&["vm1"])),
            step("up", mac(X), mac(0x77), To(&["vm1"])),
            step("up", mac(X), BCAST, To(&["vm1"])),
            step("vm1", mac(1), mac(U), To(&["up"])),
            step("vm1", mac(1), BCAST, To(&["up"])),
        ],
    );
}

#[test]
fn source_ports_get_copies_by_source_mac() {
    let mut src = down("tap", PortMode::Source);
    src.source_macs = vec![mac(X)];
    let cfg = SwitchConfig::new("src", vec![uplink("up"), down("vm1", PortMode::Vepa), src]);
    run(
        cfg,
        &["vm1"],
        &[
            step("up", mac(X), mac(1), To(&["vm1", "tap"])),
            step("up", mac(X), BCAST, To(&["vm1", "tap"])),
            step("up", mac(0x51), BCAST, To(&["vm1"])),
            step("up", mac(0x51), mac(U), To(&["vm1"])),
            step("tap", mac(9), mac(X), To(&["up"])),
            // learned on the source port, but never chosen by destination
            step("up", mac(X), mac(9), To(&["tap"])),
            step("up", mac(0x51), mac(9), Drop(DropReason::NoDestination)),
        ],
    );
}

#[test]
fn reflective_relay_sends_back_out_the_ingress_port() {
    let on = SwitchConfig::new(
        "relay",
        vec![
            with_relay(down("host", PortMode::Veb)),
            down("outside", PortMode::Veb),
        ],
    );
    let off = SwitchConfig::new(
        "plain",
        vec![down("host", PortMode::Veb), down("outside", PortMode::Veb)],
    );
    let learn = |sw: SwitchConfig| -> Switch {
        let mut s = Switch::new(sw).unwrap();
        let mut out = Vec::new();
        for (p, m) in [("host", 1), ("host", 2), ("outside", X)] {
            let id = s.config().port_id(p).unwrap();
            let _ = s.process(id, &frame(mac(U), mac(m), None), 0, &mut out);
        }
        s
    };
    let mut out = Vec::new();
    let mut s = learn(on);
    let host = s.config().port_id("host").unwrap();
    let outside = s.config().port_id("outside").unwrap();
    s.process(host, &frame(mac(2), mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(host, None)]);
    s.process(host, &frame(BCAST, mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out.len(), 2, "flooded to both ports, the ingress included");
    s.process(outside, &frame(mac(1), mac(X), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(host, None)]);

    let mut s = learn(off);
    assert_eq!(
        s.process(host, &frame(mac(2), mac(1), None), 1, &mut out),
        Err(DropReason::NoHairpin)
    );
    s.process(host, &frame(BCAST, mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(outside, None)]);
    assert_eq!(s.counters(host).drop_count(DropReason::NoHairpin), 1);
}

#[test]
fn fallback_veb_switches_vepa_ports_locally_until_the_bridge_reflects() {
    let mut cfg = host(PortMode::Vepa);
    cfg.ports.push(down("p1", PortMode::Private));
    cfg.fallback_veb = true;
    let mut sw = Switch::new(cfg).unwrap();
    learn_vms(&mut sw, &["vm1", "vm2", "vm3", "p1"]);
    let id = |sw: &Switch, n: &str| sw.config().port_id(n).unwrap();
    let (vm1, vm2, up) = (id(&sw, "vm1"), id(&sw, "vm2"), id(&sw, "up"));
    let mut out = Vec::new();
    // No relay known: vm1 -> vm2 is switched here, a broadcast reaches
    // the other vepa ports and the uplink (as veb), never the private port.
    assert!(sw.config().falls_back());
    sw.process(vm1, &frame(mac(2), mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(vm2, None)], "switched locally");
    sw.process(vm1, &frame(BCAST, mac(1), None), 1, &mut out)
        .unwrap();
    let cfg = sw.config();
    let mut to: Vec<&str> = out.iter().map(|e| port_name(&cfg, e.port)).collect();
    to.sort();
    assert_eq!(to, ["up", "vm2", "vm3"]);
    // The private port stays private.
    let p1 = id(&sw, "p1");
    sw.process(p1, &frame(mac(2), mac(4), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(up, None)]);
    // The bridge grants relay: pure VEPA from the next frame.
    let granted = LinkFacts {
        relay_granted: true,
        ..LinkFacts::default()
    };
    assert!(sw.core().set_link_facts(granted.clone()));
    assert!(
        !sw.core().set_link_facts(granted),
        "no change, no new snapshot"
    );
    assert!(!sw.config().falls_back());
    sw.process(vm1, &frame(mac(2), mac(1), None), 2, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(up, None)], "up the uplink again");
    // A new configuration keeps what the agent knows.
    let mut again = host(PortMode::Vepa);
    again.ports.push(down("p1", PortMode::Private));
    again.fallback_veb = true;
    sw.core().set_config(again).unwrap();
    assert!(!sw.config().falls_back());
    // Without fallback_veb nothing changes whatever the bridge says.
    let mut plain = Switch::new(host(PortMode::Vepa)).unwrap();
    learn_vms(&mut plain, VMS);
    assert!(!plain.config().falls_back());
    plain
        .process(vm1, &frame(mac(2), mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(up, None)]);
}

#[test]
fn relay_on_request_reflects_only_while_the_station_asks() {
    let mut station = down("station", PortMode::Veb);
    station.relay_on_request = true;
    let cfg = SwitchConfig::new("bridge", vec![station, down("outside", PortMode::Veb)]);
    assert!(
        cfg.ports[0].runs_link_agent(),
        "its agent hears the station"
    );
    let mut sw = Switch::new(cfg).unwrap();
    let mut out = Vec::new();
    let st = sw.config().port_id("station").unwrap();
    for m in [1, 2] {
        let _ = sw.process(st, &frame(mac(U), mac(m), None), 0, &mut out);
    }
    assert_eq!(
        sw.process(st, &frame(mac(2), mac(1), None), 1, &mut out),
        Err(DropReason::NoHairpin),
        "not asked: no hairpin"
    );
    assert!(!sw.config().relay_in_force(st));
    sw.core().set_link_facts(LinkFacts {
        relay_requested: vec![st],
        ..LinkFacts::default()
    });
    assert!(sw.config().relay_in_force(st));
    sw.process(st, &frame(mac(2), mac(1), None), 2, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(st, None)], "asked: reflected");
    sw.core().set_link_facts(LinkFacts::default());
    assert_eq!(
        sw.process(st, &frame(mac(2), mac(1), None), 3, &mut out),
        Err(DropReason::NoHairpin),
        "withdrawn: no hairpin"
    );
}

#[test]
fn vlans_keep_flooding_and_learning_apart() {
    let cfg = SwitchConfig::new(
        "vlan",
        vec![
            trunk(uplink("up"), &[10, 20], None),
            access(down("a1", PortMode::Veb), 10),
            access(down("a2", PortMode::Veb), 10),
            access(down("b1", PortMode::Veb), 20),
            trunk(down("t", PortMode::Veb), &[10, 20], Some(20)),
        ],
    );
    run(
        cfg,
        &[],
        &[
            step(
                "a1",
                mac(1),
                BCAST,
                Tagged(&[("up", Some(10)), ("a2", None), ("t", Some(10))]),
            ),
            step(
                "b1",
                mac(3),
                BCAST,
                Tagged(&[("up", Some(20)), ("t", None)]),
            ),
            tagged(
                "up",
                mac(X),
                BCAST,
                10,
                Tagged(&[("a1", None), ("a2", None), ("t", Some(10))]),
            ),
            tagged("up", mac(X), mac(1), 10, Tagged(&[("a1", None)])),
            // the same MAC in another VLAN is another entry: unknown there
            tagged(
                "up",
                mac(X),
                mac(1),
                20,
                Tagged(&[("b1", None), ("t", None)]),
            ),
            tagged("up", mac(X), BCAST, 30, Drop(DropReason::VlanIngress)),
            step("up", mac(X), BCAST, Drop(DropReason::VlanIngress)),
            tagged("a1", mac(1), BCAST, 10, Drop(DropReason::VlanIngress)),
            // a priority tag (VID 0) is untagged traffic
            tagged(
                "a1",
                mac(1),
                mac(2),
                0,
                Tagged(&[("up", Some(10)), ("a2", None), ("t", Some(10))]),
            ),
            step("t", mac(5), mac(3), Tagged(&[("b1", None)])),
        ],
    );
}

#[test]
fn learning_limits_moves_and_static_entries() {
    let mut cfg = host(PortMode::Veb);
    cfg.ports[1].mac_limit = 1;
    cfg.static_fdb.push(StaticFdbEntry {
        mac: mac(9),
        vid: 1,
        port: "vm3".into(),
    });
    run(
        cfg,
        &["vm1", "vm2"],
        &[
            // over the limit: forwarded, not learned (a reply floods)
            step("vm1", mac(0x11), BCAST, To(&["up", "vm2", "vm3"])),
            step("up", mac(X), mac(0x11), To(&["vm1", "vm2", "vm3"])),
            // a MAC seen on a new port moves
            step("vm2", mac(1), mac(X), To(&["up"])),
            step("up", mac(X), mac(1), To(&["vm2"])),
            // a static MAC does not move
            step("vm1", mac(9), mac(X), To(&["up"])),
            step("vm2", mac(2), mac(9), To(&["vm3"])),
        ],
    );
}

#[test]
fn entries_age_out() {
    let mut sw = Switch::new(host(PortMode::Veb)).unwrap();
    let mut out = Vec::new();
    let vm1 = sw.config().port_id("vm1").unwrap();
    let vm2 = sw.config().port_id("vm2").unwrap();
    sw.process(vm1, &frame(BCAST, mac(1), None), 0, &mut out)
        .unwrap();
    sw.process(vm2, &frame(mac(1), mac(2), None), 299_999, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    sw.process(vm2, &frame(mac(1), mac(2), None), 300_000, &mut out)
        .unwrap();
    assert_eq!(out.len(), 3, "aged out: unknown unicast floods");
    assert_eq!(sw.tick(300_000), 1);
}

#[test]
fn garbage_is_counted_never_panics() {
    let mut sw = Switch::new(host(PortMode::Vepa)).unwrap();
    let mut out = Vec::new();
    let vm1 = sw.config().port_id("vm1").unwrap();
    for len in 0..18 {
        let mut f = frame(BCAST, mac(1), Some(5));
        f.truncate(len);
        let r = sw.process(vm1, &f, 0, &mut out);
        if len < 18 {
            assert_eq!(r, Err(DropReason::Malformed), "len {len}");
        }
    }
    assert_eq!(
        sw.process(vm1, &frame(mac(2), BCAST, None), 0, &mut out),
        Err(DropReason::InvalidSource)
    );
    let c = sw.counters(vm1);
    assert_eq!(c.drop_count(DropReason::Malformed), 18);
    assert_eq!(c.drop_count(DropReason::InvalidSource), 1);
    assert_eq!(c.rx_frames, 19);
    assert_eq!(c.tx_frames, 0);
}

#[test]
fn invalid_configs_name_the_field() {
    let cases: Vec<(SwitchConfig, &str)> = vec![
        (
            SwitchConfig::new("s", vec![down("vm1", PortMode::Vepa)]),
            "switch 's', port 'vm1': mode: mode \"vepa\" sends frames to the uplink",
        ),
        (
            SwitchConfig::new(
                "s",
                vec![
                    uplink("up"),
                    down("a", PortMode::Veb),
                    down("a", PortMode::Veb),
                ],
            ),
            "port 'a': name: duplicate",
        ),
        (
            SwitchConfig::new("s", vec![uplink("u1"), uplink("u2")]),
            "uplink: 2 uplinks",
        ),
        (
            SwitchConfig::new(
                "s",
                vec![
                    uplink("up"),
                    down("a", PortMode::Passthru),
                    down("b", PortMode::Vepa),
                ],
            ),
            "must be the only downlink",
        ),
        (
            SwitchConfig::new(
                "s",
                vec![uplink("up"), access(down("a", PortMode::Veb), 4095)],
            ),
            "vlan: VLAN ID 4095 is out of range",
        ),
    ];
    for (cfg, want) in cases {
        let e = Switch::new(cfg).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
    assert!("hairpin"
        .parse::<PortMode>()
        .unwrap_err()
        .to_string()
        .contains("expected one of"));
}

#[test]
fn a_new_snapshot_applies_to_the_next_frame() {
    let mut sw = Switch::new(host(PortMode::Veb)).unwrap();
    let mut out = Vec::new();
    let vm1 = sw.config().port_id("vm1").unwrap();
    let vm2 = sw.config().port_id("vm2").unwrap();
    let up = sw.config().uplink().unwrap();
    sw.process(vm2, &frame(BCAST, mac(2), None), 0, &mut out)
        .unwrap();
    sw.process(vm1, &frame(mac(2), mac(1), None), 0, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(vm2, None)], "veb: switched locally");
    // Same ports, now vepa: learned state stays, forwarding changes at once.
    sw.core().set_config(host(PortMode::Vepa)).unwrap();
    sw.process(vm1, &frame(mac(2), mac(1), None), 1, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(up, None)], "vepa: up the uplink");
    let mut fewer = host(PortMode::Vepa);
    fewer.ports.pop();
    assert!(sw
        .core()
        .set_config(fewer)
        .unwrap_err()
        .to_string()
        .contains("ports cannot be added"));
}

#[test]
fn cached_decisions_follow_moves_and_ageing() {
    let mut sw = Switch::new(host(PortMode::Veb)).unwrap();
    let mut out = Vec::new();
    let (vm1, vm2, vm3) = (PortId(1), PortId(2), PortId(3));
    sw.process(vm2, &frame(BCAST, mac(2), None), 0, &mut out)
        .unwrap();
    for t in 1..100 {
        sw.process(vm1, &frame(mac(2), mac(1), None), t, &mut out)
            .unwrap();
        assert_eq!(out, vec![Egress::new(vm2, None)]);
    }
    let hits = sw.cache().unwrap().hits;
    assert!(
        hits >= 90,
        "a repeated flow is served from the cache ({hits} hits)"
    );
    // mac(2) moves to vm3: the very next frame follows it.
    sw.process(vm3, &frame(BCAST, mac(2), None), 100, &mut out)
        .unwrap();
    sw.process(vm1, &frame(mac(2), mac(1), None), 101, &mut out)
        .unwrap();
    assert_eq!(out, vec![Egress::new(vm3, None)]);
    // mac(2) last seen at 100 ages out at 300_100 even though nothing swept it.
    sw.process(vm1, &frame(mac(2), mac(1), None), 300_099, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    sw.process(vm1, &frame(mac(2), mac(1), None), 300_100, &mut out)
        .unwrap();
    assert_eq!(out.len(), 3, "aged out: flooded");
}

#[test]
fn a_source_over_the_limit_is_forwarded_unlearned_and_counted() {
    let mut cfg = host(PortMode::Veb);
    cfg.ports[1].mac_limit = 2;
    assert_eq!(
        cfg.ports[0].mac_limit, NO_MAC_LIMIT,
        "an uplink has no limit"
    );
    let mut sw = Switch::new(cfg).expect("valid config");
    let (up, vm1) = (PortId(0), PortId(1));
    let mut out = Vec::new();
    for i in 0..3 {
        let r = sw.process(vm1, &frame(mac(X), mac(0x20 + i), None), 0, &mut out);
        assert_eq!(r, Ok(()), "source {i} is forwarded");
        assert!(!out.is_empty());
    }
    assert_eq!(sw.fdb().learned_on(vm1), 2);
    assert_eq!(sw.counters(vm1).mac_limit_unlearned, 1);
    // Counted on every frame from it: such a decision is never cached.
    sw.process(vm1, &frame(mac(X), mac(0x22), None), 0, &mut out)
        .expect("forwarded");
    assert_eq!(sw.counters(vm1).mac_limit_unlearned, 2);
    assert_eq!(sw.counters(vm1).drops_total(), 0);
    // The uplink learns a busy segment's stations without a port limit.
    for i in 0..3000u16 {
        let [a, b] = i.to_be_bytes();
        let src = MacAddr([0x02, 0x33, 0, 0, a, b]);
        sw.process(up, &frame(mac(0x20), src, None), 0, &mut out)
            .expect("delivered");
        assert_eq!(out, vec![Egress::new(vm1, None)]);
    }
    assert_eq!(sw.fdb().learned_on(up), 3000);
    assert_eq!(sw.counters(up).mac_limit_unlearned, 0);
}

#[test]
fn reserved_link_addresses_are_not_bridged_unless_the_mask_says() {
    let group = |b: u8| MacAddr([0x01, 0x80, 0xc2, 0, 0, b]);
    // STP, LACP, 802.1X, LLDP: from a VM and from the uplink alike.
    let mut steps = Vec::new();
    for b in [0x00, 0x02, 0x03, 0x0e] {
        steps.push(step(
            "vm1",
            mac(1),
            group(b),
            Drop(DropReason::ReservedGroup),
        ));
        steps.push(step(
            "up",
            mac(X),
            group(b),
            Drop(DropReason::ReservedGroup),
        ));
    }
    // A multicast just past the range is an ordinary one.
    steps.push(step("vm1", mac(1), group(0x10), To(&["up", "vm2", "vm3"])));
    run(host(PortMode::Veb), &["vm1", "vm2", "vm3"], &steps);

    // The mask lets 802.1X through, and nothing else.
    let mut cfg = host(PortMode::Veb);
    cfg.group_fwd_mask = 0x0008;
    run(
        cfg,
        &["vm1", "vm2", "vm3"],
        &[
            step("vm1", mac(1), group(0x03), To(&["up", "vm2", "vm3"])),
            step("vm1", mac(1), group(0x00), Drop(DropReason::ReservedGroup)),
        ],
    );
    let mut cfg = host(PortMode::Veb);
    cfg.group_fwd_mask = 0x0004;
    assert!(
        Switch::new(cfg).is_err(),
        "LACP can never be forwarded (restricted bits)"
    );
}

#[test]
fn storm_control_bounds_each_kind_of_flood_per_port() {
    use vepa_dataplane::storm::StormLimits;
    let mut cfg = host(PortMode::Veb);
    cfg.ports[1].storm = StormLimits {
        broadcast: Some(100),
        multicast: Some(50),
        unknown_unicast: Some(40),
    };
    let mut sw = Switch::new(cfg).expect("valid config");
    learn_vms(&mut sw, &["vm1", "vm2", "vm3"]);
    let (vm1, vm2) = (PortId(1), PortId(2));
    let mut out = Vec::new();
    let mut offer = |sw: &mut Switch, port: PortId, dst: MacAddr, n: usize, at: u64| {
        (0..n)
            .filter(|_| {
                sw.process(port, &frame(dst, mac(port.0 as u8), None), at, &mut out)
                    .is_ok()
            })
            .count()
    };
    // The burst is a tenth of a second's worth (at least 4).
    assert_eq!(offer(&mut sw, vm1, BCAST, 1000, 1000), 10);
    let mcast = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
    assert_eq!(offer(&mut sw, vm1, mcast, 1000, 1000), 5);
    assert_eq!(
        offer(&mut sw, vm1, mac(U), 1000, 1000),
        4,
        "unknown unicast"
    );
    // Known unicast is no flood, and another port has no limit.
    assert_eq!(offer(&mut sw, vm1, mac(2), 1000, 1000), 1000);
    assert_eq!(offer(&mut sw, vm2, BCAST, 1000, 1000), 1000);
    let c = sw.counters(vm1);
    assert_eq!(c.drop_count(DropReason::StormBroadcast), 990);
    assert_eq!(c.drop_count(DropReason::StormMulticast), 995);
    assert_eq!(c.drop_count(DropReason::StormUnknownUnicast), 996);
    assert_eq!(
        c.rx_frames, 4001,
        "dropped frames were received (and learn_vms sent one)"
    );
    // A second later the rate is back.
    assert_eq!(offer(&mut sw, vm1, BCAST, 1000, 2000), 10);
}

#[test]
fn a_bpdu_from_a_guarded_port_blocks_it_for_a_while() {
    use vepa_dataplane::storm::BPDU_GUARD_MS;
    let stp = MacAddr([0x01, 0x80, 0xc2, 0, 0, 0]);
    let mut cfg = host(PortMode::Veb);
    cfg.ports[1].bpdu_guard = true;
    let mut sw = Switch::new(cfg).expect("valid config");
    learn_vms(&mut sw, &["vm1", "vm2", "vm3"]);
    let (vm1, vm2) = (PortId(1), PortId(2));
    let mut out = Vec::new();
    let mut send = |sw: &mut Switch, p: PortId, dst: MacAddr, at: u64| {
        sw.process(p, &frame(dst, mac(p.0 as u8), None), at, &mut out)
    };
    assert_eq!(send(&mut sw, vm1, mac(2), 10), Ok(()));
    // vm2 has no guard: its BPDU is only not bridged.
    assert_eq!(send(&mut sw, vm2, stp, 10), Err(DropReason::ReservedGroup));
    assert_eq!(send(&mut sw, vm2, mac(1), 11), Ok(()));
    // vm1's BPDU blocks vm1: everything it sends is dropped...
    assert_eq!(send(&mut sw, vm1, stp, 20), Err(DropReason::BpduGuard));
    assert_eq!(sw.core().blocked_until(vm1, 21), Some(20 + BPDU_GUARD_MS));
    assert_eq!(send(&mut sw, vm1, mac(2), 30), Err(DropReason::BpduGuard));
    assert_eq!(send(&mut sw, vm1, BCAST, 30), Err(DropReason::BpduGuard));
    // ...and the others are not affected.
    assert_eq!(send(&mut sw, vm2, mac(3), 30), Ok(()));
    // Until the time is up.
    let later = 20 + BPDU_GUARD_MS;
    assert_eq!(sw.core().blocked_until(vm1, later), None);
    assert_eq!(send(&mut sw, vm1, mac(2), later), Ok(()));
    assert_eq!(sw.counters(vm1).drop_count(DropReason::BpduGuard), 3);
}

#[test]
fn link_protocols_go_to_the_agent_of_an_uplink_or_relay_port_and_nowhere_else() {
    let group = |b: u8| MacAddr([0x01, 0x80, 0xc2, 0, 0, b]);
    let typed = |dst: MacAddr, src: MacAddr, ethertype: u16| {
        let mut f = frame(dst, src, None);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        f
    };
    const LLDP: u16 = 0x88cc;
    const ECP: u16 = 0x8940;
    // Even a mask that would bridge LLDP's address does not bridge LLDP.
    let mut cfg = host(PortMode::Vepa);
    cfg.group_fwd_mask = 0x4000;
    cfg.ports.push(with_relay(down("relay", PortMode::Veb)));
    let mut sw = Switch::new(cfg).expect("valid config");
    let (up, vm1, relay) = (PortId(0), PortId(1), PortId(4));
    // (port, frame, for the agent?, else the drop), in order.
    let cases = [
        (up, typed(group(0x0e), mac(X), LLDP), true),
        (up, typed(group(0x00), mac(X), LLDP), true),
        (up, typed(group(0x00), mac(X), ECP), true),
        (relay, typed(group(0x00), mac(7), ECP), true),
        (relay, typed(group(0x0e), mac(7), LLDP), true),
        (vm1, typed(group(0x0e), mac(1), LLDP), false),
        (vm1, typed(mac(2), mac(1), LLDP), false),
        (vm1, typed(group(0x00), mac(1), ECP), false),
    ];
    for (i, (port, f, agent)) in cases.iter().enumerate() {
        let before = sw.counters(*port).clone();
        let r = sw.decide(*port, f, 0);
        let after = sw.counters(*port);
        assert_eq!(
            after.rx_frames,
            before.rx_frames + 1,
            "case {i}: counted as received"
        );
        if *agent {
            assert_eq!(r, Ok(()), "case {i}");
            assert!(sw.decision().link, "case {i}: for the agent");
            assert!(
                sw.decision().egress.is_empty(),
                "case {i}: and not forwarded"
            );
        } else {
            assert_eq!(r, Err(DropReason::LinkProtocol), "case {i}");
            assert_eq!(
                after.drop_count(DropReason::LinkProtocol),
                before.drop_count(DropReason::LinkProtocol) + 1,
                "case {i}: the drop counted"
            );
        }
    }
    // ECP to a unicast address is an ordinary frame: vepa does not speak it there.
    sw.decide(vm1, &typed(mac(X), mac(1), ECP), 0)
        .expect("forwarded");
    assert!(!sw.decision().link);
    assert_eq!(sw.decision().egress, vec![Egress::new(up, None)]);
    // The relay probe: for the agent when it comes back up the uplink;
    // bridged at a relay port (it reflects another host's), dropped from a VM.
    use vepa_packet::relay_probe::RelayProbe;
    let probe = RelayProbe { seq: 1, nonce: 7 }.frame(mac(1), mac(2));
    sw.decide(up, &probe, 0).expect("for the agent");
    assert!(sw.decision().link && sw.decision().egress.is_empty());
    assert_eq!(
        sw.decide(vm1, &probe, 0),
        Err(DropReason::LinkProtocol),
        "a VM's probe is dropped: reflected, it would spend the uplink agent's budget"
    );
    let _ = sw.decide(
        relay,
        &RelayProbe { seq: 0, nonce: 1 }.frame(mac(8), mac(9)),
        0,
    );
    assert!(
        !sw.decision().link,
        "a station's probe at a relay port is bridged"
    );
}
