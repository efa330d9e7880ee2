//! Port mirrors as tables: which copies a frame makes, where, tagged how.

mod common;
use common::*;
use std::sync::Arc;
use vepa_dataplane::datapath::{DeviceCopy, Sink};
use vepa_dataplane::{
    Datapath, DropReason, MirrorConfig, MirrorOutput, PortCounters, PortId, PortMode, SwitchConfig,
    SwitchCore,
};
use vepa_packet::MacAddr;

#[derive(Default)]
struct Got(Vec<(usize, Vec<u8>)>);

impl Sink for Got {
    fn device(&mut self, dev: usize, copy: DeviceCopy<'_>, _: &mut PortCounters) {
        self.0.push((dev, copy.frame.to_vec()));
    }
}

/// up, vm1, vm2, vm3 (veb), mon; devices in that order.
fn switch(mirrors: Vec<MirrorConfig>) -> (Datapath, Arc<SwitchCore>) {
    let mut cfg = SwitchConfig::new(
        "s",
        vec![
            trunk(uplink("up"), &[1, 20], Some(1)),
            down("vm1", PortMode::Veb),
            down("vm2", PortMode::Veb),
            access(down("vm3", PortMode::Veb), 20),
            down("mon", PortMode::Veb),
        ],
    );
    cfg.mirrors = mirrors;
    let core = Arc::new(SwitchCore::new(cfg).expect("valid switch"));
    let devices: Vec<(usize, PortId)> = (0..5).map(|i| (0, PortId(i))).collect();
    (Datapath::new(vec![Arc::clone(&core)], &devices), core)
}

fn span(select_in: &[&str], select_out: &[&str]) -> MirrorConfig {
    MirrorConfig {
        name: "m".into(),
        select_in: select_in.iter().map(|s| s.to_string()).collect(),
        select_out: select_out.iter().map(|s| s.to_string()).collect(),
        vlans: Vec::new(),
        output: MirrorOutput::Port("mon".into()),
    }
}

/// Sends `frame` in on device `dev`; the devices that got a copy, with the
/// copy's VLAN tag.
fn send(dp: &Datapath, dev: u16, frame: &[u8]) -> Vec<(usize, Option<u16>)> {
    let mut lane = dp.lane();
    let mut got = Got::default();
    dp.receive(
        &mut lane,
        0,
        PortId(dev),
        frame,
        Default::default(),
        1,
        &mut got,
    );
    let mut v: Vec<(usize, Option<u16>)> = got
        .0
        .iter()
        .map(|(d, f)| {
            let tag = (f[12] == 0x81).then(|| u16::from_be_bytes([f[14], f[15]]) & 0xfff);
            (*d, tag)
        })
        .collect();
    v.sort();
    v
}

const UP: usize = 0;
const VM1: usize = 1;
const VM2: usize = 2;
const MON: usize = 4;

#[test]
fn span_both_ways_copies_each_frame_once_and_the_monitor_is_the_mirrors_alone() {
    let (dp, core) = switch(vec![span(&["vm1"], &["vm1"])]);
    let m1 = mac(1);
    let m2 = mac(2);
    // vm1's broadcast: floods to up and vm2 (never to mon), one copy to mon.
    assert_eq!(
        send(&dp, 1, &frame(BCAST, m1, None)),
        [(UP, None), (VM2, None), (MON, None)]
    );
    // vm2 answers vm1: to vm1, and a copy of what vm1 was sent.
    assert_eq!(
        send(&dp, 2, &frame(m1, m2, None)),
        [(VM1, None), (MON, None)]
    );
    // vm2 to the outside (known up there): not selected.
    send(&dp, 0, &frame(BCAST, mac(0x50), None));
    assert_eq!(send(&dp, 2, &frame(mac(0x50), m2, None)), [(UP, None)]);
    // The monitor port sends nothing into the switch.
    assert_eq!(send(&dp, 4, &frame(BCAST, mac(9), None)), []);
    let stats = core.snapshot().mirror_stats();
    assert_eq!(
        stats[0].1, 3,
        "vm1's broadcast, the answer, the outside's broadcast: {stats:?}"
    );
    // A frame selected twice (in on vm1, out to vm2) is copied once.
    let (dp, _) = switch(vec![span(&["vm1", "vm2"], &["vm1", "vm2"])]);
    send(&dp, 2, &frame(BCAST, m2, None));
    assert_eq!(
        send(&dp, 1, &frame(m2, m1, None)),
        [(VM2, None), (MON, None)]
    );
}

#[test]
fn rspan_tags_copies_up_the_uplink_and_vlans_select() {
    let mut m = span(&["vm1", "vm3"], &[]);
    m.output = MirrorOutput::UplinkVlan(999);
    m.vlans = vec![20];
    let (dp, _) = switch(vec![m]);
    send(&dp, 0, &frame(BCAST, mac(0x50), None));
    send(&dp, 0, &frame(BCAST, mac(0x50), Some(20)));
    // vm1 is in VLAN 1: not selected.
    assert_eq!(send(&dp, 1, &frame(mac(0x50), mac(1), None)), [(UP, None)]);
    // vm3 (VLAN 20): forwarded up tagged 20, and its copy tagged 999.
    assert_eq!(
        send(&dp, 3, &frame(mac(0x50), mac(3), None)),
        [(UP, Some(20)), (UP, Some(999))]
    );
}

#[test]
fn what_a_mirror_cannot_be_is_refused_naming_it() {
    let bad = |m: MirrorConfig| {
        let mut cfg = SwitchConfig::new(
            "s",
            vec![
                uplink("up"),
                down("vm1", PortMode::Veb),
                down("mon", PortMode::Veb),
            ],
        );
        cfg.mirrors = vec![m];
        SwitchCore::new(cfg)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(bad(span(&["vm9"], &[])).contains("no port 'vm9'"));
    assert!(bad(span(&["mon"], &[])).contains("cannot watch its own output"));
    let mut up = span(&["vm1"], &[]);
    up.output = MirrorOutput::Port("up".into());
    assert!(bad(up).contains("output_vlan"));
    let mut v = span(&["vm1"], &[]);
    v.output = MirrorOutput::UplinkVlan(5000);
    assert!(bad(v).contains("out of range"));
    let _ = DropReason::MirrorPort;
    let _ = MacAddr::ZERO;
}
