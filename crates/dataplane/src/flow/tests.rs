//! The classifier against a reference model: a linear scan that picks the
//! highest priority, the oldest flow among equals.

use super::*;
use proptest::prelude::*;

/// A small field universe so random flows and keys collide often.
fn arb_match() -> impl Strategy<Value = Match> {
    (
        prop::option::of(1u128..4),
        prop::option::of((0u128..4, prop::sample::select(vec![0xffu128, 0xfc, 0xf0]))),
        prop::option::of(0u128..3),
        prop::option::of((
            0u128..8,
            prop::sample::select(vec![0xffff_ffffu128, 0xffff_fffc, 0xffff_ff00]),
        )),
    )
        .prop_map(|(port, mac, proto, dst)| {
            let mut m = Match::any();
            if let Some(p) = port {
                m.exact(Field::InPort, p).expect("port");
            }
            if let Some((v, k)) = mac {
                m.set(Field::EthDst, v & k, k).expect("mac");
            }
            if proto.is_some() || dst.is_some() {
                m.exact(Field::EthType, 0x0800).expect("eth");
            }
            if let Some(p) = proto {
                m.exact(Field::IpProto, [1u128, 6, 17][p as usize])
                    .expect("proto");
            }
            if let Some((v, k)) = dst {
                m.set(Field::Ipv4Dst, (0x0a00_0000 | v) & k, k)
                    .expect("dst");
            }
            m
        })
}

fn arb_key() -> impl Strategy<Value = Key> {
    (1u128..4, 0u128..6, any::<bool>(), 0usize..3, 0u128..10).prop_map(
        |(port, mac, ip, proto, dst)| {
            let mut k = [0; KEY_WORDS];
            Field::InPort.put(&mut k, port);
            Field::EthDst.put(&mut k, mac);
            if ip {
                Field::EthType.put(&mut k, 0x0800);
                Field::IpProto.put(&mut k, [1u128, 6, 17][proto]);
                Field::Ipv4Dst.put(&mut k, 0x0a00_0000 | dst);
            } else {
                Field::EthType.put(&mut k, 0x0806);
            }
            k
        },
    )
}

#[derive(Debug, Clone)]
enum Op {
    Add(Match, u16),
    DeleteStrict(Match, u16),
    Delete(Match),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (arb_match(), 0u16..5).prop_map(|(m, p)| Op::Add(m, p)),
        1 => (arb_match(), 0u16..5).prop_map(|(m, p)| Op::DeleteStrict(m, p)),
        1 => arb_match().prop_map(Op::Delete),
    ]
}

/// The model: a list of (id, match, priority).
fn model_lookup(flows: &[(u64, Match, u16)], key: &Key) -> Option<u64> {
    flows
        .iter()
        .filter(|(_, m, _)| m.matches(key))
        .min_by_key(|(id, _, p)| (std::cmp::Reverse(*p), *id))
        .map(|(id, _, _)| *id)
}

proptest! {
    #[test]
    fn classifier_agrees_with_a_linear_scan(
        ops in prop::collection::vec(arb_op(), 1..60),
        keys in prop::collection::vec(arb_key(), 1..40),
    ) {
        let mut p = Pipeline::default();
        let mut model: Vec<(u64, Match, u16)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(m, prio) => {
                    let spec = FlowSpec { priority: prio, matcher: m.clone(), ..FlowSpec::default() };
                    p.add(spec, 4, 0).expect("valid flow");
                    // A replaced flow keeps no identity: the new one is newest.
                    model.retain(|(_, mm, pp)| !(mm == &m && *pp == prio));
                    let id = p.flows(&FlowFilter { strict_priority: Some(prio), matcher: m.clone(), ..FlowFilter::default() })[0].id;
                    model.push((id, m, prio));
                }
                Op::DeleteStrict(m, prio) => {
                    p.delete(&FlowFilter { strict_priority: Some(prio), matcher: m.clone(), ..FlowFilter::default() });
                    model.retain(|(_, mm, pp)| !(mm == &m && *pp == prio));
                }
                Op::Delete(m) => {
                    p.delete(&FlowFilter { matcher: m.clone(), ..FlowFilter::default() });
                    model.retain(|(_, mm, _)| !m.covers(mm));
                }
            }
            prop_assert_eq!(p.len(), model.len());
        }
        let table = p.table(0);
        for k in &keys {
            let got = table.and_then(|t| t.lookup(k)).map(|r| r.id);
            prop_assert_eq!(got, model_lookup(&model, k), "key {:x?}", k);
        }
    }

    #[test]
    fn covers_agrees_with_packets(a in arb_match(), b in arb_match(), keys in prop::collection::vec(arb_key(), 1..60)) {
        // If a covers b, no packet b matches escapes a.
        if a.covers(&b) {
            for k in &keys {
                prop_assert!(!b.matches(k) || a.matches(k));
            }
        }
    }
}

#[test]
fn add_replaces_identical_and_modify_keeps_counters() {
    let mut p = Pipeline::default();
    let mut m = Match::any();
    m.exact(Field::InPort, 1).expect("port");
    let spec = FlowSpec {
        priority: 10,
        matcher: m.clone(),
        instructions: vec![Instruction::Apply(vec![Action::Output(OutPort::Normal)])],
        ..FlowSpec::default()
    };
    assert!(p.add(spec.clone(), 2, 0).expect("add").is_none());
    let first = p.flows(&FlowFilter::default())[0].clone();
    first.stats.hit(100, 1);
    let filter = FlowFilter {
        matcher: m.clone(),
        strict_priority: Some(10),
        ..FlowFilter::default()
    };
    let n = p
        .modify(&filter, &[Instruction::Apply(vec![])], false, 2)
        .expect("modify");
    assert_eq!(n.len(), 1);
    let now = p.flows(&FlowFilter::default())[0].clone();
    assert_eq!(now.stats.packets(), 1, "modify keeps the counters");
    assert!(now.instructions == vec![Instruction::Apply(vec![])]);
    assert!(
        p.add(spec, 2, 5).expect("add").is_some(),
        "identical match and priority replaces"
    );
    assert_eq!(p.len(), 1);
    assert_eq!(
        p.flows(&FlowFilter::default())[0].stats.packets(),
        0,
        "add resets the counters"
    );
}

#[test]
fn refuses_bad_flows_naming_what_is_wrong() {
    let mut p = Pipeline::default();
    let goto_back = FlowSpec {
        table: 3,
        instructions: vec![Instruction::Goto(2)],
        ..FlowSpec::default()
    };
    assert!(matches!(
        p.add(goto_back, 2, 0),
        Err(FlowError::BadTable { table: 2, .. })
    ));
    let bad_port = FlowSpec {
        instructions: vec![Instruction::Apply(vec![Action::Output(OutPort::Port(
            crate::PortId(7),
        ))])],
        ..FlowSpec::default()
    };
    assert_eq!(p.add(bad_port, 2, 0).err(), Some(FlowError::BadPort(8)));
    let mut m = Match::any();
    m.exact(Field::TcpDst, 80).expect("field");
    let no_prereq = FlowSpec {
        matcher: m,
        ..FlowSpec::default()
    };
    assert!(p.add(no_prereq, 2, 0).is_err());
    let no_group = FlowSpec {
        instructions: vec![Instruction::Apply(vec![Action::Group(5)])],
        ..FlowSpec::default()
    };
    assert_eq!(
        p.add(no_group, 2, 0).err(),
        Some(FlowError::UnknownGroup(5))
    );
    assert!(p.is_empty());
}

#[test]
fn timeouts_expire_flows() {
    let mut p = Pipeline::default();
    let mut m = Match::any();
    m.exact(Field::InPort, 1).expect("port");
    p.add(
        FlowSpec {
            idle_timeout: 2,
            matcher: m.clone(),
            ..FlowSpec::default()
        },
        2,
        1000,
    )
    .expect("idle");
    m.exact(Field::InPort, 2).expect("port");
    p.add(
        FlowSpec {
            hard_timeout: 5,
            matcher: m,
            ..FlowSpec::default()
        },
        2,
        1000,
    )
    .expect("hard");
    assert_eq!(p.next_expiry(), Some(3000));
    // Used at 2500: idle flow lives until 4500.
    p.flows(&FlowFilter::default())
        .iter()
        .for_each(|r| r.stats.hit(60, 2500));
    assert!(p.expire(4000).is_empty());
    let gone = p.expire(4500);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].1, RemovedReason::IdleTimeout);
    let gone = p.expire(6000);
    assert_eq!(gone[0].1, RemovedReason::HardTimeout);
    assert!(p.is_empty());
}

#[test]
fn groups_cannot_reach_themselves_and_filters_ignore_controller_max_len() {
    let mut p = Pipeline::default();
    let g = |id: u32, to: Option<u32>| Group {
        id,
        kind: GroupKind::All,
        buckets: vec![Bucket {
            weight: 0,
            watch_port: None,
            watch_group: None,
            actions: to.map(Action::Group).into_iter().collect(),
        }],
    };
    p.add_group(g(2, None), 2).expect("2");
    p.add_group(g(1, Some(2)), 2).expect("1 -> 2");
    assert_eq!(
        p.modify_group(g(2, Some(1)), 2),
        Err(FlowError::GroupLoop(2))
    );
    assert_eq!(p.add_group(g(3, Some(3)), 2), Err(FlowError::GroupLoop(3)));

    let to_controller = FlowSpec {
        instructions: vec![Instruction::Apply(vec![Action::Output(
            OutPort::Controller { max_len: 0xffff },
        )])],
        ..FlowSpec::default()
    };
    p.add(to_controller, 2, 0).expect("flow");
    let f = FlowFilter {
        out_port: Some(OutPort::Controller { max_len: 0 }),
        ..FlowFilter::default()
    };
    assert_eq!(p.flows(&f).len(), 1);
    // A modify's instructions run in OpenFlow's order too.
    p.modify(
        &FlowFilter::default(),
        &[Instruction::Write(vec![]), Instruction::Clear],
        false,
        2,
    )
    .expect("modify");
    let r = &p.flows(&FlowFilter::default())[0];
    assert_eq!(
        r.instructions,
        vec![Instruction::Clear, Instruction::Write(vec![])]
    );
}
