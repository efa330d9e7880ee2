//! Changes at run time: a new snapshot swapped under a switch that has
//! learned and cached decisions, and a switch rebuilt with other ports.

mod common;
use common::*;
use vepa_dataplane::{PortMode, StaticFdbEntry, Switch};

fn names(sw: &Switch, out: &[vepa_dataplane::Egress]) -> Vec<String> {
    let cfg = sw.config();
    out.iter()
        .map(|e| port_name(&cfg, e.port).to_string())
        .collect()
}

#[test]
fn a_mode_change_applies_to_the_next_frame_despite_the_cache() {
    let mut sw = Switch::new(host(PortMode::Veb)).unwrap();
    let cfg = sw.config();
    let (vm1, vm2) = (cfg.port_id("vm1").unwrap(), cfg.port_id("vm2").unwrap());
    let mut out = Vec::new();
    sw.process(vm2, &frame(mac(9), mac(2), None), 0, &mut out)
        .unwrap();
    for _ in 0..3 {
        sw.process(vm1, &frame(mac(2), mac(1), None), 10, &mut out)
            .unwrap();
        assert_eq!(names(&sw, &out), ["vm2"]);
    }
    sw.core().set_config(host(PortMode::Vepa)).unwrap();
    sw.process(vm1, &frame(mac(2), mac(1), None), 20, &mut out)
        .unwrap();
    assert_eq!(names(&sw, &out), ["up"], "vepa: to the uplink, not to vm2");
    assert_eq!(
        sw.fdb().lookup(mac(2), 1, 20),
        Some(vm2),
        "learned state survives the swap"
    );
}

#[test]
fn static_entries_follow_the_config_and_a_rebuilt_switch_keeps_what_it_learned() {
    let mut cfg = host(PortMode::Veb);
    cfg.static_fdb.push(StaticFdbEntry {
        mac: mac(0x70),
        vid: 1,
        port: "vm3".into(),
    });
    let mut sw = Switch::new(cfg.clone()).unwrap();
    let vm3 = sw.config().port_id("vm3").unwrap();
    assert_eq!(sw.fdb().lookup(mac(0x70), 1, 0), Some(vm3));
    let mut out = Vec::new();
    let vm1 = sw.config().port_id("vm1").unwrap();
    sw.process(vm1, &frame(mac(9), mac(1), None), 0, &mut out)
        .unwrap();

    let mut moved = cfg.clone();
    moved.static_fdb[0].port = "vm2".into();
    moved.static_fdb.push(StaticFdbEntry {
        mac: mac(0x71),
        vid: 1,
        port: "vm1".into(),
    });
    sw.core().set_config(moved).unwrap();
    let vm2 = sw.config().port_id("vm2").unwrap();
    assert_eq!(sw.fdb().lookup(mac(0x70), 1, 0), Some(vm2));
    assert_eq!(sw.fdb().lookup(mac(0x71), 1, 0), Some(vm1));
    sw.core().set_config(cfg.clone()).unwrap();
    assert_eq!(
        sw.fdb().lookup(mac(0x71), 1, 0),
        None,
        "a removed static entry goes"
    );

    // The port list changes: a new switch, vm2 gone, vm1 now at another index.
    let mut fewer = cfg.clone();
    fewer.ports.retain(|p| p.name != "vm2");
    fewer.ports.swap(1, 2);
    fewer.static_fdb.clear();
    let rebuilt = Switch::new(fewer).unwrap();
    rebuilt.core().restore_learned(sw.core());
    let id = rebuilt.config().port_id("vm1").unwrap();
    assert_ne!(id, vm1, "the test moves vm1 to another index");
    assert_eq!(rebuilt.fdb().lookup(mac(1), 1, 0), Some(id));
    assert_eq!(rebuilt.fdb().learning_events(), sw.fdb().learning_events());
}

#[test]
fn set_config_refuses_another_port_list() {
    let sw = Switch::new(host(PortMode::Veb)).unwrap();
    let mut other = host(PortMode::Veb);
    other.ports.pop();
    assert!(sw.core().set_config(other).is_err());
}
