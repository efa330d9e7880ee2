//! ipvlan switches as tables: for each mode and flag, frames from a port or
//! from the wire and the ports each must reach, the answer the switch
//! makes, or the reason it is dropped. The rules are the kernel's
//! (`drivers/net/ipvlan/ipvlan_core.c`; see `vepa_dataplane::ipvlan`).

mod common;
use common::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vepa_dataplane::ipvlan::{IpvlanConfig, IpvlanMode};
use vepa_dataplane::{DropReason, PortMode, Switch, SwitchConfig};
use vepa_packet::ip;
use vepa_packet::MacAddr;

/// The one MAC of the switch; O is a station on the wire.
const S: MacAddr = MacAddr([0x02, 0xaa, 0, 0, 0, 1]);
const O: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x50]);

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last)
}

/// p1 owns .1, p2 owns .2 and fd00::2, p3 owns .3; the station O is .9.
fn switch(mode: IpvlanMode, flag: PortMode) -> Switch {
    Switch::new(config(mode, flag)).unwrap()
}

fn config(mode: IpvlanMode, flag: PortMode) -> SwitchConfig {
    let mut cfg = SwitchConfig::new(
        "ipv",
        vec![
            uplink("up"),
            down("p1", flag),
            down("p2", flag),
            down("p3", flag),
        ],
    );
    cfg.ipvlan = Some(IpvlanConfig {
        mode,
        mac: S,
        addresses: vec![
            (v4(1).into(), "p1".into()),
            (v4(2).into(), "p2".into()),
            (v6(2).into(), "p2".into()),
            (v4(3).into(), "p3".into()),
        ],
        learn: Vec::new(),
    });
    cfg
}

fn udp(dst_mac: MacAddr, src_mac: MacAddr, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, dst_mac, src_mac, 0x0800);
    let seg = ip::udp_datagram(src.into(), dst.into(), 1000, 2000, b"hello");
    ip::push_ipv4(&mut f, src, dst, 17, 64, 1, &seg);
    f
}

fn arp_request(sha: MacAddr, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, MacAddr::BROADCAST, sha, 0x0806);
    f.extend_from_slice(&ip::arp(1, sha, spa, MacAddr::ZERO, tpa));
    f
}

fn neighbor_solicitation(from: MacAddr, src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = ip::solicited_node(target);
    let mut body = target.octets().to_vec();
    if !src.is_unspecified() {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&from.0);
    }
    let msg = ip::icmpv6(src, group, 135, 0, [0; 4], &body);
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, ip::ipv6_multicast_mac(group), from, 0x86dd);
    ip::push_ipv6(&mut f, src, group, 58, 255, &msg);
    f
}

#[derive(Debug)]
enum Expect {
    To(&'static [&'static str]),
    /// The switch answers out the ingress port with a frame to this MAC.
    Answer(MacAddr),
    Drop(DropReason),
}
use Expect::*;

fn check(sw: &mut Switch, case: &str, at: &str, frame: &[u8], want: &Expect) {
    let id = sw.config().port_id(at).unwrap();
    let r = sw.decide(id, frame, 0);
    let cfg = sw.config();
    let d = sw.decision();
    let mut got: Vec<&str> = d
        .egress
        .iter()
        .map(|e| cfg.ports[e.port.index()].name.as_str())
        .collect();
    got.sort();
    match want {
        To(ports) => {
            assert_eq!(r, Ok(()), "{case}");
            assert_eq!(got, *ports, "{case}");
            assert!(d.generated.is_empty(), "{case}: no answer");
        }
        Answer(to) => {
            assert_eq!(r, Ok(()), "{case}");
            assert!(got.is_empty(), "{case}: answered, not forwarded: {got:?}");
            assert_eq!(d.generated.len(), 1, "{case}");
            let g = &d.generated[0];
            assert_eq!(g.port, id, "{case}: out the ingress port");
            assert_eq!(&g.frame[..6], &to.0, "{case}: to the asker");
            assert_eq!(&g.frame[6..12], &S.0, "{case}: from the shared MAC");
        }
        Drop(reason) => {
            assert_eq!(r, Err(*reason), "{case}: {got:?}");
            assert!(d.generated.is_empty(), "{case}");
        }
    }
}

const FLAGS: [PortMode; 3] = [PortMode::Veb, PortMode::Private, PortMode::Vepa];

/// Picks the expectation for the switch's flag: bridge, private, vepa.
fn by_flag(flag: PortMode, bridge: Expect, private: Expect, vepa: Expect) -> Expect {
    match flag {
        PortMode::Veb => bridge,
        PortMode::Private => private,
        _ => vepa,
    }
}

#[test]
fn l2_mode_by_flag() {
    for flag in FLAGS {
        let mut sw = switch(IpvlanMode::L2, flag);
        let cases: Vec<(&str, &str, Vec<u8>, Expect)> = vec![
            (
                "port to a sibling's address, to the shared MAC",
                "p1",
                udp(S, S, v4(1), v4(2)),
                by_flag(
                    flag,
                    To(&["p2"]),
                    Drop(DropReason::PrivateIsolation),
                    To(&["up"]),
                ),
            ),
            (
                "port to a station on the wire",
                "p1",
                udp(O, S, v4(1), v4(9)),
                To(&["up"]),
            ),
            (
                "port to the shared MAC, an address nobody owns",
                "p1",
                udp(S, S, v4(1), v4(77)),
                by_flag(
                    flag,
                    Drop(DropReason::IpvlanNoOwner),
                    Drop(DropReason::IpvlanNoOwner),
                    To(&["up"]),
                ),
            ),
            (
                "port's broadcast reaches every other port whatever the flag",
                "p1",
                arp_request(S, v4(1), v4(2)),
                To(&["p2", "p3", "up"]),
            ),
            (
                "port sending from its own MAC",
                "p1",
                udp(O, mac(1), v4(1), v4(9)),
                Drop(DropReason::IpvlanMac),
            ),
            (
                "wire to a port's address",
                "up",
                udp(S, O, v4(9), v4(2)),
                To(&["p2"]),
            ),
            (
                "wire unicast to another station's MAC",
                "up",
                udp(mac(7), O, v4(9), v4(2)),
                Drop(DropReason::NoDestination),
            ),
            (
                "wire to the shared MAC, an address nobody owns",
                "up",
                udp(S, O, v4(9), v4(77)),
                Drop(DropReason::IpvlanNoOwner),
            ),
            (
                "wire asks for a port's address: the switch answers",
                "up",
                arp_request(O, v4(9), v4(2)),
                Answer(O),
            ),
            (
                "wire probes a port's address (DAD): defended",
                "up",
                arp_request(O, Ipv4Addr::UNSPECIFIED, v4(3)),
                Answer(O),
            ),
            (
                "wire asks for another address: every port hears it",
                "up",
                arp_request(O, v4(9), v4(77)),
                To(&["p1", "p2", "p3"]),
            ),
            (
                "wire broadcast",
                "up",
                udp(MacAddr::BROADCAST, O, v4(9), Ipv4Addr::BROADCAST),
                To(&["p1", "p2", "p3"]),
            ),
            (
                "a port's unicast reflected by the bridge",
                "up",
                udp(S, S, v4(1), v4(2)),
                by_flag(
                    flag,
                    To(&["p2"]),
                    Drop(DropReason::PrivateIsolation),
                    To(&["p2"]),
                ),
            ),
            (
                "a port's broadcast reflected by the bridge",
                "up",
                arp_request(S, v4(1), v4(2)),
                Drop(DropReason::AlreadyDelivered),
            ),
            (
                "wire solicits a port's IPv6 address",
                "up",
                neighbor_solicitation(O, v6(9), v6(2)),
                Answer(O),
            ),
            (
                "wire's DAD for a port's IPv6 address: answered to all nodes",
                "up",
                neighbor_solicitation(O, Ipv6Addr::UNSPECIFIED, v6(2)),
                Answer(MacAddr([0x33, 0x33, 0, 0, 0, 1])),
            ),
        ];
        for (what, at, frame, want) in &cases {
            let case = format!("l2 {}: {what}", flag.kernel_name());
            check(&mut sw, &case, at, frame, want);
        }
    }
}

#[test]
fn l3_modes_carry_no_group_frames() {
    for mode in [IpvlanMode::L3, IpvlanMode::L3s] {
        for flag in FLAGS {
            let mut sw = switch(mode, flag);
            let cases: Vec<(&str, &str, Vec<u8>, Expect)> = vec![
                (
                    "port asks for a sibling's address: the switch answers",
                    "p1",
                    arp_request(S, v4(1), v4(2)),
                    by_flag(
                        flag,
                        Answer(S),
                        Drop(DropReason::PrivateIsolation),
                        Answer(S),
                    ),
                ),
                (
                    "port asks for a station's: the wire alone hears it",
                    "p1",
                    arp_request(S, v4(1), v4(9)),
                    To(&["up"]),
                ),
                (
                    "port probes its own address: nobody answers",
                    "p1",
                    arp_request(S, Ipv4Addr::UNSPECIFIED, v4(1)),
                    Drop(DropReason::IpvlanGroup),
                ),
                (
                    "port's broadcast",
                    "p1",
                    udp(MacAddr::BROADCAST, S, v4(1), Ipv4Addr::BROADCAST),
                    Drop(DropReason::IpvlanGroup),
                ),
                (
                    "port to a sibling",
                    "p1",
                    udp(S, S, v4(1), v4(3)),
                    by_flag(
                        flag,
                        To(&["p3"]),
                        Drop(DropReason::PrivateIsolation),
                        To(&["up"]),
                    ),
                ),
                (
                    "port to a station",
                    "p1",
                    udp(O, S, v4(1), v4(9)),
                    To(&["up"]),
                ),
                (
                    "wire broadcast",
                    "up",
                    udp(MacAddr::BROADCAST, O, v4(9), Ipv4Addr::BROADCAST),
                    Drop(DropReason::IpvlanGroup),
                ),
                (
                    "wire asks for another address",
                    "up",
                    arp_request(O, v4(9), v4(77)),
                    Drop(DropReason::IpvlanGroup),
                ),
                (
                    "wire asks for a port's address",
                    "up",
                    arp_request(O, v4(9), v4(3)),
                    Answer(O),
                ),
                ("wire to a port", "up", udp(S, O, v4(9), v4(3)), To(&["p3"])),
            ];
            for (what, at, frame, want) in &cases {
                let case = format!("{} {}: {what}", mode.as_str(), flag.kernel_name());
                check(&mut sw, &case, at, frame, want);
            }
        }
    }
}

#[test]
fn a_port_tells_no_lies_in_arp_or_nd() {
    for mode in [IpvlanMode::L2, IpvlanMode::L3] {
        let mut sw = switch(mode, PortMode::Veb);
        let p1 = sw.config().port_id("p1").unwrap();
        let cases: Vec<(&str, Vec<u8>, DropReason)> = vec![
            (
                "ARP from the shared MAC, sender MAC another",
                {
                    let mut f = arp_request(S, v4(1), v4(9));
                    f[22..28].copy_from_slice(&mac(7).0);
                    f
                },
                DropReason::IpvlanMac,
            ),
            (
                "ARP claiming a sibling's address",
                arp_request(S, v4(2), v4(9)),
                DropReason::SpoofedArp,
            ),
            (
                "a solicitation with another link-layer address",
                neighbor_solicitation(mac(7), v6(1), v6(9)),
                DropReason::IpvlanMac,
            ),
        ];
        for (what, frame, reason) in cases {
            let mut f = frame;
            // From the port, whatever the builder put as the source MAC.
            f[6..12].copy_from_slice(&S.0);
            assert_eq!(
                sw.decide(p1, &f, 0),
                Err(reason),
                "{}: {what}",
                mode.as_str()
            );
        }
    }
    // L3 carries no ARP reply and nothing that is neither IP nor ARP.
    let mut sw = switch(IpvlanMode::L3, PortMode::Veb);
    let p1 = sw.config().port_id("p1").unwrap();
    let mut reply = arp_request(S, v4(1), v4(9));
    reply[21] = 2;
    reply[..6].copy_from_slice(&O.0);
    assert_eq!(sw.decide(p1, &reply, 0), Err(DropReason::IpvlanGroup));
    let mut other = frame(O, S, None);
    other[12..14].copy_from_slice(&[0x88, 0xb5]);
    assert_eq!(sw.decide(p1, &other, 0), Err(DropReason::IpvlanGroup));
}

#[test]
fn answers_are_well_formed() {
    let mut sw = switch(IpvlanMode::L2, PortMode::Veb);
    let up = sw.config().port_id("up").unwrap();
    sw.decide(up, &arp_request(O, v4(9), v4(2)), 0).unwrap();
    let reply = sw.decision().generated[0].frame.clone();
    let p = vepa_dataplane::Parsed::new(&reply).unwrap();
    let a = p.arp().unwrap();
    assert_eq!(a.operation(), vepa_packet::ArpOperation::Reply);
    assert_eq!(a.sender_mac(), S);
    assert_eq!(a.sender_ip(), v4(2));
    assert_eq!(a.target_ip(), v4(9));

    sw.decide(up, &neighbor_solicitation(O, v6(9), v6(2)), 0)
        .unwrap();
    let na = sw.decision().generated[0].frame.clone();
    let p = vepa_dataplane::Parsed::new(&na).unwrap();
    let v = p.ipv6().unwrap();
    assert_eq!((v.src(), v.dst(), v.hop_limit()), (v6(2), v6(9), 255));
    let (proto, msg) = v.upper().unwrap();
    assert_eq!(proto, 58);
    assert!(ip::icmpv6_checksum_ok(v.src(), v.dst(), msg));
    let nd = ip::NdMessage::parse(msg).unwrap();
    assert_eq!((nd.ty, nd.target, nd.lladdr), (136, v6(2), Some(S)));
    assert_eq!(nd.flags, ip::NA_SOLICITED | ip::NA_OVERRIDE);
}

#[test]
fn bad_configurations_name_the_field() {
    let base = || {
        let mut c = config(IpvlanMode::L2, PortMode::Veb);
        c.ipvlan.as_mut().unwrap().addresses.truncate(1);
        c
    };
    let dup = {
        let mut c = base();
        let i = c.ipvlan.as_mut().unwrap();
        i.addresses.push((v4(1).into(), "p2".into()));
        c
    };
    let l3_bare = {
        let mut c = base();
        c.ipvlan.as_mut().unwrap().mode = IpvlanMode::L3;
        c
    };
    let mixed = {
        let mut c = base();
        c.ports[2].role = vepa_dataplane::PortRole::Downlink(PortMode::Vepa);
        c
    };
    let passthru = {
        let mut c = base();
        c.ports.truncate(2);
        c.ports[1].role = vepa_dataplane::PortRole::Downlink(PortMode::Passthru);
        c
    };
    let multicast: IpAddr = "224.0.0.1".parse().unwrap();
    let group = {
        let mut c = base();
        c.ipvlan
            .as_mut()
            .unwrap()
            .addresses
            .push((multicast, "p2".into()));
        c
    };
    for (cfg, want) in [
        (dup, "port 'p2': address: 10.0.0.1 is port 'p1''s already"),
        (l3_bare, "port 'p2': address: an l3 ipvlan port"),
        (mixed, "port 'p2': mode: an ipvlan switch has one flag"),
        (
            passthru,
            "mode: an ipvlan switch's ports are bridge, private or vepa",
        ),
        (group, "224.0.0.1 is not a station's address"),
    ] {
        let e = Switch::new(cfg).unwrap_err().to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
    }
}

/// What the switch does with `frame` from `at` at `now`: the result and
/// the ports it goes to.
fn outcome(
    sw: &mut Switch,
    at: vepa_dataplane::PortId,
    frame: &[u8],
    now: u64,
) -> (Result<(), DropReason>, Vec<String>) {
    let r = sw.decide(at, frame, now);
    let names = sw
        .decision()
        .egress
        .iter()
        .map(|e| sw.config().ports[e.port.index()].name.clone())
        .collect();
    (r, names)
}

#[test]
fn learning_ports_own_what_they_send_from_until_it_ages() {
    // p3 learns; p1 and p2 own what they are configured with.
    let mut cfg = config(IpvlanMode::L2, PortMode::Veb);
    cfg.ageing_ms = 10_000;
    cfg.ipvlan.as_mut().unwrap().learn = vec!["p3".into()];
    let mut sw = Switch::new(cfg).unwrap();
    let up = sw.config().port_id("up").unwrap();
    let p3 = sw.config().port_id("p3").unwrap();
    let to = |sw: &mut Switch, ip: Ipv4Addr, now: u64| outcome(sw, up, &udp(S, O, v4(9), ip), now);
    assert_eq!(
        to(&mut sw, v4(33), 0),
        (Err(DropReason::IpvlanNoOwner), vec![]),
        "nobody owns .33 yet"
    );
    sw.decide(p3, &udp(O, S, v4(33), v4(9)), 100).unwrap();
    assert_eq!(
        to(&mut sw, v4(33), 200),
        (Ok(()), vec!["p3".to_string()]),
        "learned"
    );
    // A configured address is never taken by learning.
    sw.decide(p3, &udp(O, S, v4(2), v4(9)), 300).unwrap();
    assert_eq!(
        to(&mut sw, v4(2), 400).1,
        vec!["p2".to_string()],
        "p2's stays p2's"
    );
    // Unseen for the ageing time, it is forgotten.
    sw.tick(20_000);
    assert_eq!(
        to(&mut sw, v4(33), 20_001).0,
        Err(DropReason::IpvlanNoOwner),
        "aged out"
    );
    // At most LEARNED_PER_PORT addresses per port.
    for i in 0..(vepa_dataplane::ipvlan::LEARNED_PER_PORT + 10) {
        let ip = Ipv4Addr::new(10, 1, (i / 200) as u8, (i % 200) as u8 + 1);
        sw.decide(p3, &udp(O, S, ip, v4(9)), 30_000).unwrap();
    }
    assert_eq!(
        sw.core().learned_addresses().len(),
        vepa_dataplane::ipvlan::LEARNED_PER_PORT
    );
}

fn udp6(dst_mac: MacAddr, src_mac: MacAddr, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, dst_mac, src_mac, 0x86dd);
    let seg = ip::udp_datagram(src.into(), dst.into(), 1000, 2000, b"hello");
    ip::push_ipv6(&mut f, src, dst, 17, 64, &seg);
    f
}

#[test]
fn every_port_owns_the_link_local_addresses_it_sends_from() {
    // No port learns; link-local addresses are owned all the same, as
    // the kernel's ipvlan owns every address of a slave.
    let mut cfg = config(IpvlanMode::L2, PortMode::Veb);
    cfg.ageing_ms = 10_000;
    let mut sw = Switch::new(cfg).unwrap();
    let id = |sw: &Switch, n: &str| sw.config().port_id(n).unwrap();
    let (up, p1, p2) = (id(&sw, "up"), id(&sw, "p1"), id(&sw, "p2"));
    let ll = |x: u16| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, x);
    let router = ll(0x99);
    let to =
        |sw: &mut Switch, dst: Ipv6Addr, now: u64| outcome(sw, up, &udp6(S, O, router, dst), now);
    assert_eq!(
        to(&mut sw, ll(1), 0),
        (Err(DropReason::IpvlanNoOwner), vec![]),
        "unseen yet"
    );
    // p1 asks for the router's link-local address from its own.
    sw.decide(p1, &neighbor_solicitation(S, ll(1), router), 100)
        .unwrap();
    assert_eq!(to(&mut sw, ll(1), 200), (Ok(()), vec!["p1".to_string()]));
    // p2 cannot take it while p1 holds it.
    sw.decide(p2, &udp6(O, S, ll(1), router), 300).unwrap();
    assert_eq!(to(&mut sw, ll(1), 400).1, vec!["p1".to_string()]);
    // A global address is still not learned by a port that does not learn.
    sw.decide(p2, &udp6(O, S, v6(77), v6(9)), 500).unwrap();
    assert_eq!(
        sw.decide(up, &udp6(S, O, v6(9), v6(77)), 600),
        Err(DropReason::IpvlanNoOwner)
    );
    // Unseen for the ageing time, it goes; then p2 may have it.
    sw.tick(20_000);
    assert_eq!(to(&mut sw, ll(1), 20_001).0, Err(DropReason::IpvlanNoOwner));
    sw.decide(p2, &udp6(O, S, ll(1), router), 20_100).unwrap();
    assert_eq!(to(&mut sw, ll(1), 20_200).1, vec!["p2".to_string()]);
}

fn neighbor_advertisement(
    from: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
) -> Vec<u8> {
    let mut body = target.octets().to_vec();
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&from.0);
    let msg = ip::icmpv6(src, dst, 136, 0, [0x60, 0, 0, 0], &body);
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, O, from, 0x86dd);
    ip::push_ipv6(&mut f, src, dst, 58, 255, &msg);
    f
}

#[test]
fn no_port_can_claim_a_link_local_address_it_does_not_hold() {
    let mut sw = switch(IpvlanMode::L2, PortMode::Veb);
    let id = |sw: &Switch, n: &str| sw.config().port_id(n).unwrap();
    let (up, p1, p2) = (id(&sw, "up"), id(&sw, "p1"), id(&sw, "p2"));
    let ll = |x: u16| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, x);
    let router = ll(0x99);
    // p2 sends from the router's link-local before the router speaks...
    sw.decide(p2, &udp6(O, S, router, ll(0x50)), 0).unwrap();
    // ...and loses it the moment the router does.
    sw.decide(up, &udp6(S, O, router, ll(1)), 10).ok();
    assert!(
        sw.core().learned_addresses().is_empty(),
        "the wire's address is no port's: {:?}",
        sw.core().learned_addresses()
    );
    // Now p2 cannot take it back, and cannot advertise it.
    sw.decide(p2, &udp6(O, S, router, ll(0x50)), 20).unwrap();
    assert!(sw.core().learned_addresses().is_empty());
    assert_eq!(
        sw.decide(p2, &neighbor_advertisement(S, router, ll(0x50), router), 30),
        Err(DropReason::SpoofedArp),
        "an advertisement for another's address"
    );
    // A port's own link-local: advertised, and learned by sending it.
    sw.decide(p1, &neighbor_advertisement(S, ll(1), router, ll(1)), 40)
        .unwrap();
    assert_eq!(
        sw.core().learned_addresses(),
        vec![(IpAddr::V6(ll(1)), "p1".to_string())]
    );
    // The wire's solicitation for it is not answered by the switch (the
    // claim is unvetted): it reaches the ports, and p1 answers itself.
    check(
        &mut sw,
        "NS from the wire for a port's link-local",
        "up",
        &neighbor_solicitation(O, router, ll(1)),
        &To(&["p1", "p2", "p3"]),
    );
    // One for a configured address is answered by the switch.
    check(
        &mut sw,
        "NS from the wire for a configured address",
        "up",
        &neighbor_solicitation(O, ll(0x99), v6(2)),
        &Answer(O),
    );
}
