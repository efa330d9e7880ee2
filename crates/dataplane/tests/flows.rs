//! Flow tables in front of the switch, as specifications: what each kind
//! of flow does to real frames, and that an empty pipeline is the plain
//! switch.

mod common;

use common::*;
use std::sync::Arc;
use vepa_dataplane::flow::{
    Action, Band, Bucket, Field, FlowFilter, FlowSpec, Group, GroupKind, Instruction, Match, Meter,
    MeterUnit, Miss, OutPort, PacketInReason, Pipeline,
};
use vepa_dataplane::{DropReason, Egress, PortId, PortMode, Switch, SwitchConfig};
use vepa_packet::MacAddr;

/// vm1, vm2, mon on one veb switch (ports 1, 2, 3 in OpenFlow numbers).
fn three() -> Switch {
    Switch::new(SwitchConfig::new(
        "sdn",
        vec![
            down("vm1", PortMode::Veb),
            down("vm2", PortMode::Veb),
            down("mon", PortMode::Veb),
        ],
    ))
    .expect("valid")
}

const VM1: PortId = PortId(0);
const VM2: PortId = PortId(1);
const MON: PortId = PortId(2);

fn ipv4(dst: MacAddr, src: MacAddr, proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    match proto {
        1 => f.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]),
        _ => {
            f.extend_from_slice(&sport.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend_from_slice(&[0; 16]);
        }
    }
    f.resize(60, 0);
    f
}

fn flow(priority: u16, fields: &[(Field, u128)], actions: Vec<Action>) -> FlowSpec {
    let mut m = Match::any();
    for &(f, v) in fields {
        m.exact(f, v).expect("field");
    }
    FlowSpec {
        priority,
        matcher: m,
        instructions: vec![Instruction::Apply(actions)],
        ..FlowSpec::default()
    }
}

fn install(sw: &Switch, flows: Vec<FlowSpec>) -> Pipeline {
    let mut p = Pipeline::default();
    for f in flows {
        p.add(f, sw.config().ports.len(), 0).expect("valid flow");
    }
    sw.set_pipeline(Arc::new(p.clone()));
    p
}

fn ports(out: &[Egress]) -> Vec<PortId> {
    let mut v: Vec<PortId> = out.iter().map(|e| e.port).collect();
    v.sort();
    v
}

/// Teaches the switch where vm1 and vm2 are.
fn learn(sw: &mut Switch) {
    let mut out = Vec::new();
    let _ = sw.process(VM1, &frame(BCAST, mac(1), None), 0, &mut out);
    let _ = sw.process(VM2, &frame(BCAST, mac(2), None), 0, &mut out);
}

#[test]
fn an_empty_pipeline_is_the_plain_switch() {
    let mut plain = three();
    let mut sdn = three();
    install(&sdn, vec![]);
    for sw in [&mut plain, &mut sdn] {
        learn(sw);
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    for f in [
        ipv4(mac(2), mac(1), 1, 0, 0),
        frame(BCAST, mac(1), None),
        frame(mac(9), mac(1), None),
    ] {
        assert_eq!(
            plain.process(VM1, &f, 1, &mut a),
            sdn.process(VM1, &f, 1, &mut b)
        );
        assert_eq!(ports(&a), ports(&b));
    }
}

#[test]
fn a_flow_drops_icmp_while_tcp_still_passes() {
    let mut sw = three();
    learn(&mut sw);
    install(
        &sw,
        vec![
            flow(
                100,
                &[
                    (Field::EthType, 0x800),
                    (Field::IpProto, 1),
                    (Field::InPort, 1),
                ],
                vec![],
            ),
            flow(0, &[], vec![Action::Output(OutPort::Normal)]),
        ],
    );
    let mut out = Vec::new();
    assert_eq!(
        sw.process(VM1, &ipv4(mac(2), mac(1), 1, 0, 0), 1, &mut out),
        Err(DropReason::FlowDrop)
    );
    sw.process(VM1, &ipv4(mac(2), mac(1), 6, 40000, 22), 1, &mut out)
        .expect("tcp passes");
    assert_eq!(ports(&out), [VM2]);
    // ICMP the other way is not matched.
    sw.process(VM2, &ipv4(mac(1), mac(2), 1, 0, 0), 1, &mut out)
        .expect("icmp from vm2 passes");
    assert_eq!(ports(&out), [VM1]);
    assert_eq!(sw.counters(VM1).drop_count(DropReason::FlowDrop), 1);
}

#[test]
fn a_flow_steers_a_copy_to_a_monitor_port() {
    let mut sw = three();
    learn(&mut sw);
    install(
        &sw,
        vec![flow(
            50,
            &[(Field::InPort, 1)],
            vec![
                Action::Output(OutPort::Normal),
                Action::Output(OutPort::Port(MON)),
            ],
        )],
    );
    let mut out = Vec::new();
    sw.process(VM1, &ipv4(mac(2), mac(1), 6, 1, 2), 1, &mut out)
        .expect("forwarded");
    assert_eq!(ports(&out), [VM2, MON]);
    // Twice: the second comes from the cache, and both count on the flow.
    sw.process(VM1, &ipv4(mac(2), mac(1), 6, 1, 2), 1, &mut out)
        .expect("forwarded");
    assert_eq!(ports(&out), [VM2, MON]);
    let p = sw.config().pipeline().clone();
    assert_eq!(p.flows(&FlowFilter::default())[0].stats.packets(), 2);
    assert!(sw.cache().expect("cache on").hits >= 1);
}

#[test]
fn goto_table_metadata_and_the_action_set() {
    let mut sw = three();
    let mut p = Pipeline::default();
    // Table 0: tag the packet's origin in metadata, queue an output to vm2,
    // and go on; table 1 adds the monitor only for metadata 7.
    p.add(
        FlowSpec {
            matcher: {
                let mut m = Match::any();
                m.exact(Field::InPort, 1).expect("port");
                m
            },
            instructions: vec![
                Instruction::Write(vec![Action::Output(OutPort::Port(VM2))]),
                Instruction::WriteMetadata {
                    value: 7,
                    mask: 0xff,
                },
                Instruction::Goto(1),
            ],
            ..FlowSpec::default()
        },
        3,
        0,
    )
    .expect("t0");
    p.add(
        FlowSpec {
            table: 1,
            matcher: {
                let mut m = Match::any();
                m.exact(Field::Metadata, 7).expect("meta");
                m
            },
            instructions: vec![Instruction::Apply(vec![Action::Output(OutPort::Port(MON))])],
            ..FlowSpec::default()
        },
        3,
        0,
    )
    .expect("t1");
    sw.set_pipeline(Arc::new(p.clone()));
    let mut out = Vec::new();
    sw.process(VM1, &frame(mac(9), mac(1), None), 0, &mut out)
        .expect("out");
    // Apply-actions run at once, the action set at the end.
    assert_eq!(out.iter().map(|e| e.port).collect::<Vec<_>>(), [MON, VM2]);
    // A clear_actions in table 1 would have dropped the queued output.
    p.modify(
        &FlowFilter {
            table: Some(1),
            ..FlowFilter::default()
        },
        &[Instruction::Clear],
        false,
        3,
    )
    .expect("modify");
    sw.set_pipeline(Arc::new(p));
    assert_eq!(
        sw.process(VM1, &frame(mac(9), mac(1), None), 0, &mut out),
        Err(DropReason::FlowDrop)
    );
}

#[test]
fn set_field_and_vlan_actions_are_recorded_per_copy() {
    let mut sw = three();
    install(
        &sw,
        vec![flow(
            10,
            &[(Field::InPort, 1)],
            vec![
                Action::Output(OutPort::Port(VM2)),
                Action::SetField(Field::EthDst, 0x0200_0000_0042),
                Action::PushVlan(0x8100),
                Action::SetField(Field::VlanVid, 0x1000 | 30),
                Action::Output(OutPort::Port(MON)),
            ],
        )],
    );
    sw.decide(VM1, &frame(mac(2), mac(1), None), 0)
        .expect("out");
    let d = sw.decision();
    assert_eq!(d.egress[0], Egress::new(VM2, None), "first copy as it came");
    assert_eq!(d.egress[1].port, MON);
    assert_eq!(d.egress[1].tag, Some(30));
    let r = d.rewrite_of(&d.egress[1]).expect("rewritten");
    let mut bytes = Vec::new();
    let f = frame(mac(2), mac(1), None);
    let parsed = vepa_dataplane::Parsed::new(&f).expect("ethernet");
    r.write(&parsed, Some(30), false, &mut bytes);
    assert_eq!(&bytes[0..6], &[2, 0, 0, 0, 0, 0x42]);
    assert_eq!(&bytes[12..16], &[0x81, 0x00, 0, 30]);
}

#[test]
fn misses_follow_the_policy_and_controller_gets_copies() {
    let mut sw = three();
    let mut p = Pipeline::default();
    p.miss = Miss::Drop;
    sw.set_pipeline(Arc::new(p.clone()));
    let mut out = Vec::new();
    assert_eq!(
        sw.process(VM1, &frame(BCAST, mac(1), None), 0, &mut out),
        Err(DropReason::TableMiss)
    );
    // simple_switch_13's table-miss flow: everything to the controller.
    p.add(
        flow(
            0,
            &[],
            vec![Action::Output(OutPort::Controller { max_len: 0xffff })],
        ),
        3,
        0,
    )
    .expect("miss flow");
    sw.set_pipeline(Arc::new(p));
    for _ in 0..2 {
        sw.decide(VM1, &frame(BCAST, mac(1), None), 0)
            .expect("to controller");
        let d = sw.decision();
        assert!(d.egress.is_empty());
        assert_eq!(d.controller.len(), 1, "every packet goes up, none cached");
        // OpenFlow 1.3: what the table-miss entry sends says "no match".
        assert_eq!(d.controller[0].reason, PacketInReason::NoMatch);
    }
}

#[test]
fn groups_all_and_select() {
    let mut sw = three();
    let mut p = Pipeline::default();
    p.add_group(
        Group {
            id: 1,
            kind: GroupKind::All,
            buckets: vec![
                Bucket {
                    weight: 0,
                    watch_port: None,
                    watch_group: None,
                    actions: vec![Action::Output(OutPort::Port(VM2))],
                },
                Bucket {
                    weight: 0,
                    watch_port: None,
                    watch_group: None,
                    actions: vec![Action::Output(OutPort::Port(MON))],
                },
            ],
        },
        3,
    )
    .expect("group");
    p.add_group(
        Group {
            id: 2,
            kind: GroupKind::Select,
            buckets: vec![
                Bucket {
                    weight: 1,
                    watch_port: None,
                    watch_group: None,
                    actions: vec![Action::Output(OutPort::Port(VM1))],
                },
                Bucket {
                    weight: 1,
                    watch_port: None,
                    watch_group: None,
                    actions: vec![Action::Output(OutPort::Port(MON))],
                },
            ],
        },
        3,
    )
    .expect("group");
    p.add(flow(5, &[(Field::InPort, 1)], vec![Action::Group(1)]), 3, 0)
        .expect("flow");
    p.add(flow(5, &[(Field::InPort, 2)], vec![Action::Group(2)]), 3, 0)
        .expect("flow");
    sw.set_pipeline(Arc::new(p.clone()));
    let mut out = Vec::new();
    sw.process(VM1, &frame(mac(2), mac(1), None), 0, &mut out)
        .expect("all");
    assert_eq!(ports(&out), [VM2, MON]);
    // Select spreads different flows over its buckets, each flow sticking to one.
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..32u8 {
        sw.process(VM2, &frame(mac(100 + n), mac(2), None), 0, &mut out)
            .expect("select");
        assert_eq!(out.len(), 1);
        seen.insert(out[0].port);
    }
    assert_eq!(seen.len(), 2, "both buckets used");
    // Deleting the group takes its flows with it.
    assert_eq!(p.delete_group(Some(1)).len(), 1);
}

#[test]
fn a_meter_drops_what_exceeds_its_rate_and_deleting_it_takes_its_flows() {
    let mut sw = three();
    let mut p = Pipeline::default();
    p.add_meter(
        Meter {
            id: 1,
            unit: MeterUnit::Pktps,
            burst: true,
            stats: true,
            bands: vec![Band { rate: 10, burst: 5 }],
        },
        false,
        0,
    )
    .expect("meter");
    let mut spec = flow(
        5,
        &[(Field::InPort, 1)],
        vec![Action::Output(OutPort::Port(VM2))],
    );
    spec.instructions.push(Instruction::Meter(1));
    p.add(spec, 3, 0).expect("metered flow");
    sw.set_pipeline(Arc::new(p.clone()));
    let mut out = Vec::new();
    let passed = (0..20)
        .filter(|_| {
            sw.process(VM1, &frame(mac(2), mac(1), None), 0, &mut out)
                .is_ok()
        })
        .count();
    assert_eq!(passed, 5, "a burst of 5 passes, the rest is over the rate");
    assert_eq!(sw.counters(VM1).drop_count(DropReason::MeterDrop), 15);
    // A second later the bucket is full again (the cache never kept a verdict).
    let passed = (0..20)
        .filter(|_| {
            sw.process(VM1, &frame(mac(2), mac(1), None), 1000, &mut out)
                .is_ok()
        })
        .count();
    assert_eq!(passed, 5);
    let missing = flow(6, &[(Field::InPort, 2)], vec![]);
    let mut missing = missing;
    missing.instructions.push(Instruction::Meter(9));
    assert!(p.add(missing, 3, 0).is_err(), "a flow needs its meter");
    assert_eq!(
        p.delete_meter(Some(1)).len(),
        1,
        "the metered flow goes with its meter"
    );
    assert!(p.is_empty());
}

/// An IPv6 TCP SYN to `dport` from fd00::1 to fd00::2, behind `ext`
/// extension headers (each an empty Destination Options header).
fn tcp6_behind(dst: MacAddr, src: MacAddr, dport: u16, ext: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&[0x86, 0xdd]);
    let payload = ext * 8 + 20;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload as u16).to_be_bytes());
    f.push(if ext > 0 { 60 } else { 6 });
    f.push(64);
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = 1;
    f.extend_from_slice(&a);
    a[15] = 2;
    f.extend_from_slice(&a);
    for i in 0..ext {
        // next header, length 0 (8 bytes), a PadN option filling the rest
        f.extend_from_slice(&[if i + 1 < ext { 60 } else { 6 }, 0, 1, 4, 0, 0, 0, 0]);
    }
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

#[test]
fn ipv6_rules_see_the_ports_behind_extension_headers() {
    let mut sw = three();
    learn(&mut sw);
    install(
        &sw,
        vec![
            flow(
                100,
                &[
                    (Field::EthType, 0x86dd),
                    (Field::IpProto, 6),
                    (Field::TcpDst, 22),
                ],
                vec![],
            ),
            flow(0, &[], vec![Action::Output(OutPort::Normal)]),
        ],
    );
    let mut out = Vec::new();
    for ext in [0, 1, 3, 32] {
        let r = sw.process(VM1, &tcp6_behind(mac(2), mac(1), 22, ext), 1, &mut out);
        assert_eq!(
            r,
            Err(DropReason::FlowDrop),
            "TCP/22 behind {ext} extension headers"
        );
        let r = sw.process(VM1, &tcp6_behind(mac(2), mac(1), 23, ext), 1, &mut out);
        assert_eq!(r, Ok(()), "TCP/23 behind {ext} passes");
        assert_eq!(ports(&out), vec![VM2]);
    }
    // A chain too long to walk cannot be judged: dropped as malformed.
    let r = sw.process(VM1, &tcp6_behind(mac(2), mac(1), 23, 40), 1, &mut out);
    assert_eq!(r, Err(DropReason::Malformed));
}

#[test]
fn an_outbound_list_judges_the_copy_as_a_flow_rewrote_it() {
    use vepa_dataplane::filter::{Acl, AclAction, PortFilter, Zone};
    let mut sw = three();
    learn(&mut sw);
    // vm1's TCP to 80 leaves for vm2 as TCP to 22.
    install(
        &sw,
        vec![
            flow(
                100,
                &[
                    (Field::EthType, 0x800),
                    (Field::IpProto, 6),
                    (Field::TcpDst, 80),
                ],
                vec![
                    Action::SetField(Field::TcpDst, 22),
                    Action::Output(OutPort::Port(VM2)),
                ],
            ),
            flow(0, &[], vec![Action::Output(OutPort::Normal)]),
        ],
    );
    let acl = Acl::new(
        "vm2-out",
        vec!["drop tcp dport 22".parse().expect("rule")],
        AclAction::Allow,
        false,
    );
    let mut filters = vec![None; 3];
    filters[VM2.index()] = Some(Arc::new(PortFilter {
        guard: None,
        acl_in: None,
        acl_out: Some(Arc::new(acl)),
        zone: Arc::new(Zone::new(16)),
        stateful: false,
    }));
    sw.core().set_filters(Some(filters));
    let mut out = Vec::new();
    let r = sw.process(VM1, &ipv4(mac(2), mac(1), 6, 5000, 80), 1, &mut out);
    assert!(
        out.is_empty(),
        "the rewritten copy (TCP/22) is refused: {r:?} {out:?}"
    );
    assert_eq!(sw.counters(VM2).drop_count(DropReason::AclDrop), 1);
    // Unrewritten TCP/81 passes the same list.
    sw.process(VM1, &ipv4(mac(2), mac(1), 6, 5000, 81), 1, &mut out)
        .expect("forwarded");
    assert_eq!(ports(&out), vec![VM2]);
}
