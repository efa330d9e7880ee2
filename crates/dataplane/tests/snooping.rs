//! IGMP/MLD snooping against a reference model: any sequence of joins,
//! leaves, queries and group traffic from any port of a `veb` switch
//! (uplink + four VMs) delivers each group frame to exactly the ports the
//! model says: while a querier is heard, the group's members and the
//! router port (the uplink); before, every port the mode floods to. Frames
//! that are IGMP in name only are dropped and counted, never a panic.

mod common;
use common::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use vepa_dataplane::mdb::SnoopConfig;
use vepa_dataplane::{DropReason, Egress, PortId, PortMode, Switch, SwitchConfig};
use vepa_packet::igmp::igmp_message;
use vepa_packet::ip::{push_ipv4, write_ethernet};
use vepa_packet::MacAddr;

const GROUPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(239, 1, 1, 1),
    Ipv4Addr::new(239, 1, 1, 2),
    // Another group on the same MAC as the first (32 groups share one).
    Ipv4Addr::new(239, 129, 1, 1),
];

fn group_mac(g: Ipv4Addr) -> MacAddr {
    let o = g.octets();
    MacAddr([0x01, 0, 0x5e, o[1] & 0x7f, o[2], o[3]])
}

fn ipv4(dst_mac: MacAddr, src_port: u16, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    write_ethernet(&mut f, dst_mac, mac(src_port as u8 + 1), 0x0800);
    push_ipv4(
        &mut f,
        Ipv4Addr::new(10, 0, 0, src_port as u8 + 1),
        dst,
        proto,
        1,
        7,
        payload,
    );
    f
}

#[derive(Debug, Clone)]
enum Op {
    Join(u16, usize),
    Leave(u16, usize),
    Query,
    Data(u16, usize),
    Garbage(u16, Vec<u8>),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let port = 1u16..5;
    let group = 0usize..GROUPS.len();
    prop_oneof![
        3 => (port.clone(), group.clone()).prop_map(|(p, g)| Op::Join(p, g)),
        2 => (port.clone(), group.clone()).prop_map(|(p, g)| Op::Leave(p, g)),
        1 => Just(Op::Query),
        4 => (0u16..5, group).prop_map(|(p, g)| Op::Data(p, g)),
        1 => (port, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(p, b)| Op::Garbage(p, b)),
        1 => (0u64..3000).prop_map(Op::Wait),
    ]
}

fn switch() -> Switch {
    let mut cfg: SwitchConfig = host(PortMode::Veb);
    cfg.ports.push(down("vm4", PortMode::Veb));
    cfg.snoop = SnoopConfig {
        enabled: true,
        router_ports: vec![PortId(0)],
        ..SnoopConfig::default()
    };
    Switch::new(cfg).expect("switch").without_cache()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn deliveries_follow_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut sw = switch();
        let mut now = 0u64;
        // The model: members per group; when the querier was first heard
        // and when it counts (its response time later).
        let mut members: Vec<BTreeSet<u16>> = vec![BTreeSet::new(); GROUPS.len()];
        let mut heard_at: Option<u64> = None;
        let mut out: Vec<Egress> = Vec::new();
        let mut bad = 0u64;
        for op in ops {
            now += 1;
            match op {
                Op::Wait(ms) => now += ms,
                Op::Join(p, g) => {
                    let m = igmp_message(0x16, 0, GROUPS[g], &[]);
                    let r = sw.process(PortId(p), &ipv4(group_mac(GROUPS[g]), p, GROUPS[g], 2, &m), now, &mut out);
                    prop_assert!(r.is_ok());
                    // A report goes to router ports only.
                    prop_assert_eq!(out.iter().map(|e| e.port).collect::<Vec<_>>(), vec![PortId(0)]);
                    members[g].insert(p);
                }
                Op::Leave(p, g) => {
                    let m = igmp_message(0x17, 0, GROUPS[g], &[]);
                    let all_routers = Ipv4Addr::new(224, 0, 0, 2);
                    let r = sw.process(PortId(p), &ipv4(group_mac(all_routers), p, all_routers, 2, &m), now, &mut out);
                    prop_assert!(r.is_ok());
                    members[g].remove(&p);
                }
                Op::Query => {
                    // 1 s to answer (code 10).
                    let all = Ipv4Addr::new(224, 0, 0, 1);
                    let m = igmp_message(0x11, 10, Ipv4Addr::UNSPECIFIED, &[]);
                    let r = sw.process(PortId(0), &ipv4(group_mac(all), 0, all, 2, &m), now, &mut out);
                    prop_assert!(r.is_ok());
                    // A query floods.
                    prop_assert_eq!(out.len(), 4);
                    if heard_at.is_none() {
                        heard_at = Some(now + 1000);
                    }
                }
                Op::Data(p, g) => {
                    let r = sw.process(PortId(p), &ipv4(group_mac(GROUPS[g]), p, GROUPS[g], 17, &[0; 8]), now, &mut out);
                    let got: BTreeSet<u16> = out.iter().map(|e| e.port.0).collect();
                    let flood: BTreeSet<u16> = (0u16..5).filter(|q| *q != p).collect();
                    let want: BTreeSet<u16> = if heard_at.is_some_and(|at| now >= at) {
                        flood.iter().copied().filter(|q| *q == 0 || members[g].contains(q)).collect()
                    } else {
                        flood
                    };
                    if want.is_empty() {
                        // Nobody to send it to: dropped, and counted so.
                        prop_assert_eq!(r, Err(DropReason::NoDestination));
                    } else {
                        prop_assert!(r.is_ok());
                    }
                    prop_assert_eq!(got, want, "{:?} at {}", GROUPS[g], now);
                }
                Op::Garbage(p, body) => {
                    // IGMP by its IP header, anything inside.
                    let r = sw.process(PortId(p), &ipv4(group_mac(GROUPS[0]), p, Ipv4Addr::new(224, 0, 0, 22), 2, &body), now, &mut out);
                    let reads = vepa_packet::igmp::parse_igmp(&body).is_ok();
                    if r == Err(DropReason::BadGroupMessage) {
                        bad += 1;
                    }
                    prop_assert_eq!(r.is_err(), !reads);
                    if reads {
                        // It may have been a real join or leave: the model
                        // cannot follow it, so start over.
                        return Ok(());
                    }
                }
            }
        }
        prop_assert_eq!(
            (0..5).map(|p| sw.counters(PortId(p)).drop_count(DropReason::BadGroupMessage)).sum::<u64>(),
            bad
        );
    }
}
