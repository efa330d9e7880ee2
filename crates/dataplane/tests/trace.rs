//! `vepa trace` against forwarding itself: over random frame sequences
//! through the model topologies (a VEPA fabric in each mode, a routed
//! pair of switches with filters), the copies a trace says would leave
//! are exactly the copies forwarding then sends, byte for byte, and a
//! trace changes nothing real (FDB, filters' counters, connections).

mod common;
use common::*;
use proptest::prelude::*;
use std::sync::Arc;
use vepa_dataplane::datapath::{DeviceCopy, RouterAttachment, Sink};
use vepa_dataplane::filter::{Acl, AclAction, AclRule, PortFilter, Zone};
use vepa_dataplane::router::{Router, RouterConfig, RouterPortConfig};
use vepa_dataplane::trace::{Stage, Trace};
use vepa_dataplane::{Datapath, PortCounters, PortId, PortMode, SwitchConfig, SwitchCore};
use vepa_packet::{ip, MacAddr};

/// What left, device by device.
#[derive(Default)]
struct Deliveries(Vec<(usize, Vec<u8>)>);

impl Sink for Deliveries {
    fn device(&mut self, dev: usize, copy: DeviceCopy<'_>, _: &mut PortCounters) {
        self.0.push((dev, copy.frame.to_vec()));
    }
}

fn core(cfg: SwitchConfig) -> Arc<SwitchCore> {
    Arc::new(SwitchCore::new(cfg).expect("valid switch"))
}

const OUTSIDE: u8 = 0x50;
const RA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 1]);
const RB: MacAddr = MacAddr([2, 0, 0, 0, 0xb, 1]);

/// A host switch (three VMs in `mode` and an uplink) wired to the
/// adjacent bridge (hairpin on the port facing the host when `relay`),
/// which has one more port to the outside. Devices: 0 the host's uplink
/// end, 1–3 the VMs, 4 the bridge's end, 5 the outside.
fn fabric(mode: PortMode, relay: bool) -> (Datapath, Vec<Arc<SwitchCore>>) {
    let host = core(host(mode));
    let mut facing = down("to-host", PortMode::Veb);
    facing.relay = relay;
    let bridge = core(SwitchConfig::new(
        "bridge",
        vec![facing, down("outside", PortMode::Veb)],
    ));
    let devices = [
        (0, PortId(0)),
        (0, PortId(1)),
        (0, PortId(2)),
        (0, PortId(3)),
        (1, PortId(0)),
        (1, PortId(1)),
    ];
    let cores = vec![host, bridge];
    let mut dp = Datapath::new(cores.clone(), &devices);
    dp.set_wires(&[(0, 4)]);
    (dp, cores)
}

/// Two veb switches joined by a router; vm3 (on b) has a stateful
/// inbound and outbound list. Devices: 0 vm1, 1 vm2 (on a), 2 vm3 (on b).
fn routed() -> (Datapath, Vec<Arc<SwitchCore>>) {
    let a = core(SwitchConfig::new(
        "a",
        vec![
            down("vm1", PortMode::Veb),
            down("vm2", PortMode::Veb),
            down("ra", PortMode::Veb),
        ],
    ));
    let b = core(SwitchConfig::new(
        "b",
        vec![down("vm3", PortMode::Veb), down("rb", PortMode::Veb)],
    ));
    let rules =
        |r: &[&str]| -> Vec<AclRule> { r.iter().map(|t| t.parse().expect("rule")).collect() };
    let acl_out = Acl::new(
        "web-in",
        rules(&[
            "allow state established,related",
            "allow tcp dport 80",
            "allow icmp",
        ]),
        AclAction::Drop,
        true,
    );
    let acl_in = Acl::new(
        "vm3-out",
        rules(&["drop udp dport 53"]),
        AclAction::Allow,
        true,
    );
    b.set_filters(Some(vec![
        Some(Arc::new(PortFilter {
            guard: None,
            acl_in: Some(Arc::new(acl_in)),
            acl_out: Some(Arc::new(acl_out)),
            zone: Arc::new(Zone::new(64)),
            stateful: true,
        })),
        None,
    ]));
    let mut dp = Datapath::new(
        vec![Arc::clone(&a), Arc::clone(&b)],
        &[(0, PortId(0)), (0, PortId(1)), (1, PortId(0))],
    );
    let port = |name: &str, mac, addr: &str| RouterPortConfig {
        name: name.into(),
        mac,
        addresses: vec![addr.parse().expect("address")],
        mtu: 1500,
        peer_mac: None,
    };
    let router = Router::new(&RouterConfig {
        name: "r".into(),
        ports: vec![port("a", RA, "10.1.0.1/24"), port("b", RB, "10.2.0.1/24")],
        routes: Vec::new(),
    })
    .expect("router");
    dp.set_routers(vec![RouterAttachment {
        router: Arc::new(router),
        ports: vec![Some((0, PortId(2))), Some((1, PortId(1)))],
    }]);
    (dp, vec![a, b])
}

/// Where a device is: switch and port.
fn place(dp_devices: &[(usize, PortId)], dev: usize) -> (usize, PortId) {
    dp_devices[dev]
}

/// The frames the test sends: ARP-typed frames between stations (the
/// model's), and IP packets of every kind between the routed subnets.
#[derive(Debug, Clone)]
enum Kind {
    L2,
    Udp { dport: u16 },
    Tcp { dport: u16, flags: u8 },
    Ping,
}

fn station(n: u8) -> MacAddr {
    match n {
        0 => BCAST,
        4 => MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]),
        5 => mac(OUTSIDE),
        6 => RA,
        7 => RB,
        8 => mac(0x77), // never seen
        n => mac(n),
    }
}

fn addr(n: u8) -> [u8; 4] {
    match n % 4 {
        0 => [10, 1, 0, 11],
        1 => [10, 1, 0, 12],
        2 => [10, 2, 0, 13],
        _ => [10, 3, 0, 1], // no route
    }
}

fn build(src: MacAddr, dst: MacAddr, tag: Option<u16>, kind: &Kind, a: u8, b: u8) -> Vec<u8> {
    let l4 = |proto: u8, body: Vec<u8>| {
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, dst, src, 0x0800);
        ip::push_ipv4(&mut f, addr(a).into(), addr(b).into(), proto, 64, 7, &body);
        f
    };
    let mut f = match kind {
        Kind::L2 => frame(dst, src, None),
        Kind::Udp { dport } => {
            let mut body = vec![0x13, 0x88];
            body.extend_from_slice(&dport.to_be_bytes());
            body.extend_from_slice(&[0, 12, 0, 0, 1, 2, 3, 4]);
            l4(ip::PROTO_UDP, body)
        }
        Kind::Tcp { dport, flags } => l4(
            ip::PROTO_TCP,
            ip::tcp_segment(
                std::net::Ipv4Addr::from(addr(a)).into(),
                std::net::Ipv4Addr::from(addr(b)).into(),
                4000,
                *dport,
                1,
                0,
                *flags,
            ),
        ),
        Kind::Ping => l4(1, ip::icmpv4(8, 0, [0, 1, 0, 1], b"trace")),
    };
    if let Some(vid) = tag {
        f.splice(12..12, [0x81, 0x00, (vid >> 8) as u8, vid as u8]);
    }
    f
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::L2),
        1 => prop::sample::select(vec![53u16, 5000]).prop_map(|dport| Kind::Udp { dport }),
        1 => (prop::sample::select(vec![80u16, 22]), prop::sample::select(vec![0x02u8, 0x12, 0x10]))
            .prop_map(|(dport, flags)| Kind::Tcp { dport, flags }),
        1 => Just(Kind::Ping),
    ]
}

type Frame = (usize, u8, u8, Option<u16>, Kind, u8, u8);

fn frames(devices: usize) -> impl Strategy<Value = Vec<Frame>> {
    prop::collection::vec(
        (
            0..devices,
            0u8..9,
            0u8..9,
            prop::option::weighted(0.1, prop::sample::select(vec![1u16, 7])),
            kind(),
            0u8..4,
            0u8..4,
        ),
        1..40,
    )
}

/// Every list's rule counters and every connection, switch by switch.
fn filter_state(cores: &[Arc<SwitchCore>]) -> Vec<(Vec<(u64, u64)>, usize)> {
    let mut v = Vec::new();
    for c in cores {
        for f in c
            .filters()
            .iter()
            .flat_map(|f| f.iter().flatten().cloned().collect::<Vec<_>>())
        {
            for acl in [&f.acl_in, &f.acl_out].into_iter().flatten() {
                v.push((acl.hits(), f.zone.len()));
            }
        }
    }
    v
}

/// Traces each frame, checks nothing real changed, then forwards it and
/// compares.
fn agree(dp: &Datapath, devices: &[(usize, PortId)], cores: &[Arc<SwitchCore>], seq: &[Frame]) {
    let mut lane = dp.lane();
    for (i, (dev, s, d, tag, kind, a, b)) in seq.iter().enumerate() {
        let src = station(*s);
        let dst = station(*d);
        let bytes = build(src, dst, *tag, kind, *a, *b);
        let (si, id) = place(devices, *dev);
        let now = 1_000 + i as u64 * 10;
        let fdb_before: Vec<_> = cores.iter().map(|c| c.fdb().entries()).collect();
        let filters_before = filter_state(cores);
        let trace: Trace = dp.trace(si, id, &bytes, now);
        let fdb_after: Vec<_> = cores.iter().map(|c| c.fdb().entries()).collect();
        assert_eq!(
            fdb_before, fdb_after,
            "frame {i}: the trace learned for real"
        );
        assert_eq!(
            filters_before,
            filter_state(cores),
            "frame {i}: the trace counted or tracked for real"
        );
        let mut real = Deliveries::default();
        dp.receive(
            &mut lane,
            si,
            id,
            &bytes,
            Default::default(),
            now,
            &mut real,
        );
        let traced: Vec<(usize, Vec<u8>)> = trace
            .deliveries
            .iter()
            .map(|d| (d.device, d.frame.clone()))
            .collect();
        assert_eq!(
            traced, real.0,
            "frame {i} ({kind:?} {src} > {dst} tag {tag:?} on device {dev}): the trace said {:#?}",
            trace.hops
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_trace_says_what_the_fabric_delivers(
        mode in prop::sample::select(vec![PortMode::Veb, PortMode::Vepa, PortMode::Private]),
        relay in any::<bool>(),
        seq in frames(6),
    ) {
        let (dp, cores) = fabric(mode, relay);
        let devices = [(0, PortId(0)), (0, PortId(1)), (0, PortId(2)), (0, PortId(3)), (1, PortId(0)), (1, PortId(1))];
        agree(&dp, &devices, &cores, &seq);
    }

    #[test]
    fn a_trace_says_what_routers_and_filters_deliver(seq in frames(3)) {
        let (dp, cores) = routed();
        let devices = [(0, PortId(0)), (0, PortId(1)), (1, PortId(0))];
        agree(&dp, &devices, &cores, &seq);
    }
}

/// Steps of a trace, as `stage: detail` lines.
fn lines(t: &Trace) -> Vec<String> {
    t.hops
        .iter()
        .flat_map(|h| {
            h.steps.iter().map(move |s| {
                format!(
                    "{} {}/{}: {}: {}",
                    if h.kind == vepa_dataplane::trace::HopKind::Router {
                        "router"
                    } else {
                        "switch"
                    },
                    h.node,
                    h.port,
                    s.stage.as_str(),
                    s.detail
                )
            })
        })
        .collect()
}

fn has(t: &Trace, stage: Stage, words: &str) -> bool {
    t.hops
        .iter()
        .flat_map(|h| &h.steps)
        .any(|s| s.stage == stage && s.detail.contains(words))
}

#[test]
fn a_vepa_frame_is_traced_up_the_uplink_and_back_through_the_relay() {
    let (dp, _) = fabric(PortMode::Vepa, true);
    // vm2 speaks first, so the host knows where it is.
    let mut lane = dp.lane();
    let hello = frame(BCAST, mac(2), None);
    dp.receive(
        &mut lane,
        0,
        PortId(2),
        &hello,
        Default::default(),
        1,
        &mut Deliveries::default(),
    );
    let t = dp.trace(0, PortId(1), &frame(mac(2), mac(1), None), 2);
    let l = lines(&t);
    assert!(
        has(&t, Stage::Normal, "vepa: every frame goes to the uplink"),
        "{l:#?}"
    );
    assert!(
        has(
            &t,
            Stage::Normal,
            "sent back only where reflective relay is on (on)"
        ),
        "{l:#?}"
    );
    assert!(
        has(&t, Stage::Normal, "reflected from vm1 (vepa)"),
        "{l:#?}"
    );
    let to: Vec<&str> = t.deliveries.iter().map(|d| d.port.as_str()).collect();
    assert_eq!(to, ["vm2"], "{l:#?}");
    assert_eq!(t.hops.len(), 3, "host, bridge, host: {l:#?}");
}

#[test]
fn a_private_frame_is_traced_to_its_drop_reason() {
    let (dp, _) = fabric(PortMode::Private, true);
    let mut lane = dp.lane();
    dp.receive(
        &mut lane,
        0,
        PortId(2),
        &frame(BCAST, mac(2), None),
        Default::default(),
        1,
        &mut Deliveries::default(),
    );
    let t = dp.trace(0, PortId(1), &frame(mac(2), mac(1), None), 2);
    assert!(t.deliveries.is_empty(), "{:#?}", lines(&t));
    assert!(
        has(&t, Stage::Drop, "private_isolation"),
        "{:#?}",
        lines(&t)
    );
}

#[test]
fn a_routed_packet_shows_route_ttl_and_the_list_that_drops_it() {
    let (dp, _) = routed();
    let mut lane = dp.lane();
    // vm3 (10.2.0.13) answers ARP for itself so the router can resolve it:
    // say hello from vm3 with an ARP reply to the router first.
    let reply = {
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, RB, mac(3), 0x0806);
        f.extend_from_slice(&ip::arp(
            2,
            mac(3),
            addr(2).into(),
            RB,
            [10, 2, 0, 1].into(),
        ));
        f
    };
    dp.receive(
        &mut lane,
        1,
        PortId(0),
        &reply,
        Default::default(),
        1,
        &mut Deliveries::default(),
    );
    let ssh = build(
        mac(1),
        RA,
        None,
        &Kind::Tcp {
            dport: 22,
            flags: 0x02,
        },
        0,
        2,
    );
    let t = dp.trace(0, PortId(0), &ssh, 2);
    let l = lines(&t);
    assert!(
        has(&t, Stage::Router, "route 10.2.0.0/24 on-link out port b"),
        "{l:#?}"
    );
    assert!(has(&t, Stage::Router, "TTL 64 → 63"), "{l:#?}");
    assert!(
        has(
            &t,
            Stage::AclOut,
            "to port vm3: dropped (acl_drop): list web-in default drop"
        ),
        "{l:#?}"
    );
    assert!(t.deliveries.iter().all(|d| d.port != "vm3"), "{l:#?}");
    let web = build(
        mac(1),
        RA,
        None,
        &Kind::Tcp {
            dport: 80,
            flags: 0x02,
        },
        0,
        2,
    );
    let t = dp.trace(0, PortId(0), &web, 3);
    let l = lines(&t);
    assert!(
        has(
            &t,
            Stage::AclOut,
            "allowed: list web-in rule 2 `allow tcp dport 80`"
        ),
        "{l:#?}"
    );
    assert!(t.deliveries.iter().any(|d| d.port == "vm3"), "{l:#?}");
}
