//! The router as a specification: frames in, frames out.

use super::*;
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use vepa_packet::ip::NdMessage;
use vepa_packet::ip::{Ipv4View, Ipv6View};
use vepa_packet::virtio::VIRTIO_NET_HDR_GSO_TCPV4;
use vepa_packet::{ArpOperation, ArpPacket, EthernetFrame, MacAddr};

const RA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 1]);
const RB: MacAddr = MacAddr([2, 0, 0, 0, 0xb, 1]);
const HA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 2]);
const HB: MacAddr = MacAddr([2, 0, 0, 0, 0xb, 2]);

fn addrs(list: &[&str]) -> Vec<IfAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

fn router(mtu_b: u16, default: bool) -> Router {
    Router::new(&config(mtu_b, default)).unwrap()
}

fn config(mtu_b: u16, default: bool) -> RouterConfig {
    RouterConfig {
        name: "r1".into(),
        ports: vec![
            RouterPortConfig {
                name: "a".into(),
                mac: RA,
                addresses: addrs(&["10.1.0.1/24", "fd00:1::1/64"]),
                mtu: 1500,
                peer_mac: None,
            },
            RouterPortConfig {
                name: "b".into(),
                mac: RB,
                addresses: addrs(&["10.2.0.1/24", "fd00:2::1/64"]),
                mtu: mtu_b,
                peer_mac: None,
            },
        ],
        routes: if default {
            vec![RouteConfig {
                prefix: "0.0.0.0/0".parse().unwrap(),
                via: Some("10.2.0.254".parse().unwrap()),
                port: None,
            }]
        } else {
            vec![]
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn v4(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: &str,
    dst: &str,
    ttl: u8,
    proto: u8,
    payload: &[u8],
    df: bool,
) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, dst_mac, src_mac, EtherType::IPV4);
    ip::push_ipv4(
        &mut f,
        src.parse().unwrap(),
        dst.parse().unwrap(),
        proto,
        ttl,
        1,
        payload,
    );
    if df {
        f[20] |= 0x40;
        ip::fill_ipv4_checksum(&mut f[14..34]);
    }
    f
}

fn v6(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: &str,
    dst: &str,
    hop: u8,
    proto: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, dst_mac, src_mac, EtherType::IPV6);
    ip::push_ipv6(
        &mut f,
        src.parse().unwrap(),
        dst.parse().unwrap(),
        proto,
        hop,
        payload,
    );
    f
}

fn arp(op: u16, sha: MacAddr, spa: &str, tpa: &str, to: MacAddr) -> Vec<u8> {
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, to, sha, EtherType::ARP);
    f.extend_from_slice(&ip::arp(
        op,
        sha,
        spa.parse().unwrap(),
        MacAddr::ZERO,
        tpa.parse().unwrap(),
    ));
    f
}

fn echo() -> Vec<u8> {
    ip::icmpv4(8, 0, [0, 1, 0, 1], b"ping")
}

fn run(r: &Router, port: usize, frame: &[u8], now: u64) -> Vec<RouterTx> {
    run_with(r, port, frame, &VirtioNetHdr::default(), now)
}

fn run_with(r: &Router, port: usize, frame: &[u8], hdr: &VirtioNetHdr, now: u64) -> Vec<RouterTx> {
    let mut out = Vec::new();
    if let Some(p) = crate::parsed::Parsed::new(frame) {
        r.receive(port, &p, hdr, now, &mut out);
    }
    out
}

fn eth(tx: &RouterTx) -> EthernetFrame<&[u8]> {
    EthernetFrame::new_checked(&tx.frame[..]).unwrap()
}

/// Host A (10.1.0.2) introduces itself by asking for its gateway.
fn learn_a(r: &Router) {
    let out = run(
        r,
        0,
        &arp(1, HA, "10.1.0.2", "10.1.0.1", MacAddr::BROADCAST),
        0,
    );
    assert_eq!(out.len(), 1);
}

/// The ICMP message in an IPv4 frame the router sent.
fn icmp_of(tx: &RouterTx) -> (Ipv4Addr, Ipv4Addr, u8, u8, Vec<u8>) {
    let v = Ipv4View::parse(&tx.frame[14..]).unwrap();
    assert!(v.checksum_ok());
    assert_eq!(v.protocol(), ip::PROTO_ICMP);
    let m = v.payload();
    assert_eq!(
        vepa_packet::checksum::finish(vepa_packet::checksum::sum_words(0, m)),
        0,
        "ICMP checksum"
    );
    (v.src(), v.dst(), m[0], m[1], m.to_vec())
}

#[test]
fn answers_arp_for_its_own_addresses_only() {
    let r = router(1500, false);
    let out = run(
        &r,
        0,
        &arp(1, HA, "10.1.0.2", "10.1.0.1", MacAddr::BROADCAST),
        0,
    );
    assert_eq!(out.len(), 1);
    let e = eth(&out[0]);
    assert_eq!(
        (out[0].port, e.dst(), e.src(), e.ethertype()),
        (0, HA, RA, EtherType::ARP)
    );
    let a = ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!(
        (a.operation(), a.sender_mac(), a.sender_ip()),
        (
            ArpOperation::Reply,
            RA,
            "10.1.0.1".parse::<Ipv4Addr>().unwrap()
        )
    );
    // Port b's address asked on port a, or a stranger's address: no answer.
    assert!(run(
        &r,
        0,
        &arp(1, HA, "10.1.0.2", "10.2.0.1", MacAddr::BROADCAST),
        0
    )
    .is_empty());
    assert!(run(
        &r,
        0,
        &arp(1, HA, "10.1.0.2", "10.1.0.77", MacAddr::BROADCAST),
        0
    )
    .is_empty());
    // The asker was learned.
    let n = r.neighbors(0);
    assert_eq!((n.len(), n[0].mac), (1, Some(HA)));
}

#[test]
fn forwards_after_resolving_the_next_hop() {
    let r = router(1500, false);
    let pkt = v4(
        HA,
        RA,
        "10.1.0.2",
        "10.2.0.2",
        64,
        ip::PROTO_ICMP,
        &echo(),
        true,
    );
    let out = run(&r, 0, &pkt, 0);
    // The packet waits; an ARP request asks for 10.2.0.2 on port b.
    assert_eq!(out.len(), 1);
    let e = eth(&out[0]);
    assert_eq!(
        (out[0].port, e.dst(), e.ethertype()),
        (1, MacAddr::BROADCAST, EtherType::ARP)
    );
    let a = ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!(
        (a.sender_ip(), a.target_ip()),
        ("10.2.0.1".parse().unwrap(), "10.2.0.2".parse().unwrap())
    );
    // The answer releases it, TTL one less, checksum still right.
    let out = run(&r, 1, &arp(2, HB, "10.2.0.2", "10.2.0.1", RB), 5);
    assert_eq!(out.len(), 1);
    let e = eth(&out[0]);
    assert_eq!((out[0].port, e.dst(), e.src()), (1, HB, RB));
    let v = Ipv4View::parse(e.payload()).unwrap();
    assert_eq!((v.ttl(), v.checksum_ok()), (63, true));
    assert_eq!(v.payload(), &pkt[34..]);
    // Now known: straight through.
    let out = run(&r, 0, &pkt, 10);
    assert_eq!((out.len(), eth(&out[0]).dst()), (1, HB));
    assert_eq!(r.counters.forwarded.load(Ordering::Relaxed), 2);
    // A frame to another MAC (flooded unicast) is not the router's business.
    assert!(run(
        &r,
        0,
        &v4(HA, HB, "10.1.0.2", "10.2.0.2", 64, 1, &echo(), false),
        10
    )
    .is_empty());
}

#[test]
fn answers_what_it_cannot_forward() {
    let r = router(1400, false);
    learn_a(&r);
    // TTL 1: time exceeded, from the address facing the sender.
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.2.0.2",
            1,
            ip::PROTO_UDP,
            &[0; 16],
            false,
        ),
        1,
    );
    assert_eq!(out.len(), 1);
    let (src, dst, ty, code, m) = icmp_of(&out[0]);
    assert_eq!(
        (src, dst, ty, code),
        (
            "10.1.0.1".parse().unwrap(),
            "10.1.0.2".parse().unwrap(),
            11,
            0
        )
    );
    assert_eq!(
        &m[8..28],
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.2.0.2",
            1,
            ip::PROTO_UDP,
            &[0; 16],
            false
        )[14..34],
        "quotes the header"
    );
    // No route: net unreachable.
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "192.0.2.9",
            64,
            ip::PROTO_UDP,
            &[0; 16],
            false,
        ),
        2,
    );
    let (_, _, ty, code, _) = icmp_of(&out[0]);
    assert_eq!((ty, code), (3, 0));
    // Too big with DF: fragmentation needed, with the next-hop MTU.
    let big = v4(
        HA,
        RA,
        "10.1.0.2",
        "10.2.0.2",
        64,
        ip::PROTO_UDP,
        &[7; 1460],
        true,
    );
    let out = run(&r, 0, &big, 3);
    let (_, _, ty, code, m) = icmp_of(&out[0]);
    assert_eq!((ty, code, u16::from_be_bytes([m[6], m[7]])), (3, 4, 1400));
    assert_eq!(r.counters.dropped(RouterDrop::TooBig), 1);
    // Never an error about an error.
    let err = v4(
        HA,
        RA,
        "10.1.0.2",
        "10.2.0.2",
        1,
        ip::PROTO_ICMP,
        &ip::icmpv4(3, 1, [0; 4], &[0; 28]),
        false,
    );
    assert!(run(&r, 0, &err, 4).is_empty());
    // Echo to the router itself is answered; UDP to it is port-unreachable; TCP gets a reset.
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.2.0.1",
            64,
            ip::PROTO_ICMP,
            &echo(),
            false,
        ),
        5,
    );
    let (src, _, ty, _, m) = icmp_of(&out[0]);
    assert_eq!(
        (src, ty, &m[8..]),
        ("10.2.0.1".parse().unwrap(), 0, &b"ping"[..])
    );
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.1.0.1",
            64,
            ip::PROTO_UDP,
            &[0; 8],
            false,
        ),
        6,
    );
    let (_, _, ty, code, _) = icmp_of(&out[0]);
    assert_eq!((ty, code), (3, 3));
    let syn = ip::tcp_segment(
        "10.1.0.2".parse().unwrap(),
        "10.1.0.1".parse().unwrap(),
        4000,
        80,
        9,
        0,
        ip::TCP_SYN,
    );
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.1.0.1",
            64,
            ip::PROTO_TCP,
            &syn,
            false,
        ),
        7,
    );
    let v = Ipv4View::parse(&out[0].frame[14..]).unwrap();
    assert_eq!(
        (v.protocol(), v.payload()[13]),
        (ip::PROTO_TCP, ip::TCP_RST | ip::TCP_ACK)
    );
}

#[test]
fn fragments_when_df_is_clear() {
    let mut cfg = config(576, false);
    cfg.ports[1].addresses.truncate(1);
    let r = Router::new(&cfg).unwrap();
    run(
        &r,
        1,
        &arp(1, HB, "10.2.0.2", "10.2.0.1", MacAddr::BROADCAST),
        0,
    );
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.2.0.2",
            64,
            ip::PROTO_UDP,
            &[7; 1000],
            false,
        ),
        1,
    );
    assert_eq!(out.len(), 2);
    let mut data = Vec::new();
    for tx in &out {
        let v = Ipv4View::parse(&tx.frame[14..]).unwrap();
        assert!(v.checksum_ok() && v.total_len() <= 576 && v.ttl() == 63);
        data.extend_from_slice(v.payload());
    }
    assert_eq!(data, vec![7u8; 1000], "the whole payload, in order");
}

#[test]
fn gso_frames_are_checked_per_segment() {
    let r = router(1500, false);
    learn_a(&r);
    run(
        &r,
        1,
        &arp(1, HB, "10.2.0.2", "10.2.0.1", MacAddr::BROADCAST),
        0,
    );
    let mut seg = ip::tcp_segment(
        "10.1.0.2".parse().unwrap(),
        "10.2.0.2".parse().unwrap(),
        4000,
        5201,
        1,
        1,
        ip::TCP_ACK,
    );
    seg.extend_from_slice(&vec![1u8; 60_000]);
    let frame = v4(
        HA,
        RA,
        "10.1.0.2",
        "10.2.0.2",
        64,
        ip::PROTO_TCP,
        &seg,
        true,
    );
    let mut hdr = VirtioNetHdr {
        flags: vepa_packet::virtio::VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    };
    let out = run_with(&r, 0, &frame, &hdr, 1);
    assert_eq!(out.len(), 1, "forwarded whole");
    assert_eq!((out[0].hdr, out[0].frame.len()), (hdr, frame.len()));
    hdr.gso_size = 1500;
    let out = run_with(&r, 0, &frame, &hdr, 2);
    let (_, _, ty, code, m) = icmp_of(&out[0]);
    assert_eq!((ty, code, u16::from_be_bytes([m[6], m[7]])), (3, 4, 1500));
}

#[test]
fn gives_up_on_a_silent_next_hop() {
    let r = router(1500, false);
    learn_a(&r);
    run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "10.2.0.9",
            64,
            ip::PROTO_ICMP,
            &echo(),
            false,
        ),
        0,
    );
    let mut out = Vec::new();
    r.tick(1000, &mut out);
    r.tick(2000, &mut out);
    assert_eq!(out.len(), 2, "two more ARP requests");
    out.clear();
    r.tick(3000, &mut out);
    let (_, dst, ty, code, _) = icmp_of(&out[0]);
    assert_eq!((dst, ty, code), ("10.1.0.2".parse().unwrap(), 3, 1));
    assert_eq!(r.counters.dropped(RouterDrop::Unresolved), 1);
}

#[test]
fn static_route_via_a_gateway() {
    let r = router(1500, true);
    let out = run(
        &r,
        0,
        &v4(
            HA,
            RA,
            "10.1.0.2",
            "198.51.100.7",
            64,
            ip::PROTO_UDP,
            &[0; 8],
            false,
        ),
        0,
    );
    let a = ArpPacket::new_checked(&out[0].frame[14..]).unwrap();
    assert_eq!(a.target_ip(), "10.2.0.254".parse::<Ipv4Addr>().unwrap());
}

fn ns(src_mac: MacAddr, src: &str, target: &str) -> Vec<u8> {
    let s: Ipv6Addr = src.parse().unwrap();
    let t: Ipv6Addr = target.parse().unwrap();
    let dst = ip::solicited_node(t);
    let m = ip::icmpv6(
        s,
        dst,
        ip::ND_NEIGHBOR_SOLICIT,
        0,
        [0; 4],
        &ip::nd_body(ip::ND_NEIGHBOR_SOLICIT, t, src_mac),
    );
    let mut f = Vec::new();
    ip::write_ethernet(
        &mut f,
        ip::ipv6_multicast_mac(dst),
        src_mac,
        EtherType::IPV6,
    );
    ip::push_ipv6(&mut f, s, dst, ip::PROTO_ICMPV6, 255, &m);
    f
}

fn na(src_mac: MacAddr, target: &str, to: &str, to_mac: MacAddr) -> Vec<u8> {
    let t: Ipv6Addr = target.parse().unwrap();
    let d: Ipv6Addr = to.parse().unwrap();
    let m = ip::icmpv6(
        t,
        d,
        ip::ND_NEIGHBOR_ADVERT,
        0,
        [ip::NA_SOLICITED | ip::NA_OVERRIDE, 0, 0, 0],
        &ip::nd_body(ip::ND_NEIGHBOR_ADVERT, t, src_mac),
    );
    let mut f = Vec::new();
    ip::write_ethernet(&mut f, to_mac, src_mac, EtherType::IPV6);
    ip::push_ipv6(&mut f, t, d, ip::PROTO_ICMPV6, 255, &m);
    f
}

#[test]
fn ipv6_neighbor_discovery_and_forwarding() {
    let r = router(1500, false);
    // NS for the router's address: a solicited NA with the router flag.
    let out = run(&r, 0, &ns(HA, "fd00:1::2", "fd00:1::1"), 0);
    assert_eq!(out.len(), 1);
    let e = eth(&out[0]);
    assert_eq!((e.dst(), e.src()), (HA, RA));
    let v = Ipv6View::parse(e.payload()).unwrap();
    let (proto, m) = v.upper().unwrap();
    assert_eq!(
        (proto, v.hop_limit(), v.dst()),
        (ip::PROTO_ICMPV6, 255, "fd00:1::2".parse().unwrap())
    );
    assert!(ip::icmpv6_checksum_ok(v.src(), v.dst(), m));
    let nd = NdMessage::parse(m).unwrap();
    assert_eq!(
        (nd.ty, nd.flags & ip::NA_ROUTER != 0, nd.lladdr),
        (ip::ND_NEIGHBOR_ADVERT, true, Some(RA))
    );
    // An NS with a hop limit below 255 came from off-link: ignored.
    let mut far = ns(HA, "fd00:1::2", "fd00:1::1");
    far[21] = 254;
    assert!(run(&r, 0, &far, 0).is_empty());
    // Forwarding: an NS to the solicited-node group first, the NA releases.
    let ping = ip::icmpv6(
        "fd00:1::2".parse().unwrap(),
        "fd00:2::2".parse().unwrap(),
        128,
        0,
        [0, 1, 0, 1],
        b"six",
    );
    let pkt = v6(
        HA,
        RA,
        "fd00:1::2",
        "fd00:2::2",
        64,
        ip::PROTO_ICMPV6,
        &ping,
    );
    let out = run(&r, 0, &pkt, 1);
    let e = eth(&out[0]);
    assert_eq!(
        (out[0].port, e.dst()),
        (1, MacAddr([0x33, 0x33, 0xff, 0, 0, 2]))
    );
    let out = run(&r, 1, &na(HB, "fd00:2::2", "fd00:2::1", RB), 2);
    assert_eq!(out.len(), 1);
    let v = Ipv6View::parse(&out[0].frame[14..]).unwrap();
    assert_eq!((eth(&out[0]).dst(), v.hop_limit()), (HB, 63));
    // Hop limit 1: time exceeded; no route: unreachable; too big: packet too big.
    let cases = [
        (
            v6(HA, RA, "fd00:1::2", "fd00:2::2", 1, ip::PROTO_ICMPV6, &ping),
            3u8,
            0u8,
        ),
        (
            v6(
                HA,
                RA,
                "fd00:1::2",
                "2001:db8::1",
                64,
                ip::PROTO_ICMPV6,
                &ping,
            ),
            1,
            0,
        ),
        (
            v6(HA, RA, "fd00:1::2", "fd00:2::2", 64, 59, &[0; 1500]),
            2,
            0,
        ),
    ];
    for (i, (pkt, ty, code)) in cases.iter().enumerate() {
        let out = run(&r, 0, pkt, 3 + i as u64);
        assert_eq!(out.len(), 1, "case {i}");
        let v = Ipv6View::parse(&out[0].frame[14..]).unwrap();
        let (_, m) = v.upper().unwrap();
        assert_eq!(
            (v.src(), m[0], m[1]),
            ("fd00:1::1".parse().unwrap(), *ty, *code),
            "case {i}"
        );
        assert!(ip::icmpv6_checksum_ok(v.src(), v.dst(), m));
        assert!(m.len() <= 1280 - 40);
    }
    // Echo to the router.
    let to_r = ip::icmpv6(
        "fd00:1::2".parse().unwrap(),
        "fd00:2::1".parse().unwrap(),
        128,
        0,
        [0, 1, 0, 1],
        b"six",
    );
    let out = run(
        &r,
        0,
        &v6(
            HA,
            RA,
            "fd00:1::2",
            "fd00:2::1",
            64,
            ip::PROTO_ICMPV6,
            &to_r,
        ),
        9,
    );
    let v = Ipv6View::parse(&out[0].frame[14..]).unwrap();
    assert_eq!(v.upper().unwrap().1[0], 129);
}

#[test]
fn icmp_errors_are_rate_limited() {
    let r = router(1500, false);
    learn_a(&r);
    let pkt = v4(
        HA,
        RA,
        "10.1.0.2",
        "192.0.2.1",
        64,
        ip::PROTO_UDP,
        &[0; 8],
        false,
    );
    let sent: usize = (0..300).map(|_| run(&r, 0, &pkt, 10).len()).sum();
    assert_eq!(
        sent, 100,
        "the burst, then nothing within the same millisecond"
    );
    assert_eq!(run(&r, 0, &pkt, 11).len(), 1, "a token a millisecond");
}

#[test]
fn new_config_keeps_neighbors_of_unchanged_ports() {
    let r = router(1500, false);
    learn_a(&r);
    run(
        &r,
        1,
        &arp(1, HB, "10.2.0.2", "10.2.0.1", MacAddr::BROADCAST),
        0,
    );
    let mut cfg = r.tables().config.clone();
    cfg.ports[1].addresses = addrs(&["10.3.0.1/24"]);
    r.set_config(&cfg).unwrap();
    let n = r.neighbors(0);
    assert_eq!((n.len(), n[0].port), (1, 0));
    cfg.routes.push(RouteConfig {
        prefix: "0.0.0.0/0".parse().unwrap(),
        via: Some("10.9.9.9".parse().unwrap()),
        port: None,
    });
    assert!(r.set_config(&cfg).is_err());
    assert_eq!(
        r.tables().config.ports[1].addresses,
        addrs(&["10.3.0.1/24"]),
        "a refused config changes nothing"
    );
}

proptest! {
    #[test]
    fn any_frame_is_survived(bytes in proptest::collection::vec(any::<u8>(), 0..200), port in 0usize..3, kind in 0u8..3) {
        let r = router(1280, true);
        let mut f = bytes;
        // Steer some inputs past the Ethernet checks.
        if f.len() >= 14 {
            f[..6].copy_from_slice(&RA.0);
            let et = [EtherType::IPV4, EtherType::IPV6, EtherType::ARP][kind as usize];
            f[12..14].copy_from_slice(&et.to_be_bytes());
            if f.len() > 14 {
                f[14] = (f[14] & 0x0f) | if kind == 1 { 0x60 } else { 0x40 };
            }
        }
        let mut out = Vec::new();
        if let Some(p) = crate::parsed::Parsed::new(&f) {
            r.receive(port, &p, &VirtioNetHdr::default(), 0, &mut out);
        }
        r.tick(5000, &mut out);
    }
}

#[test]
fn a_port_cannot_fill_the_neighbor_table_for_the_others() {
    let r = router(1500, false);
    let mac = |i: u32| {
        let b = i.to_be_bytes();
        MacAddr([2, 0x55, b[0], b[1], b[2], b[3]])
    };
    // 20,000 ARP requests for the router from off-subnet senders on port a:
    // answered (the router's address is public), but nobody is learned.
    for i in 0..20_000u32 {
        let b = i.to_be_bytes();
        let spa = format!("172.{}.{}.{}", 16 + b[1] % 16, b[2], b[3].max(1));
        run(
            &r,
            0,
            &arp(1, mac(i), &spa, "10.1.0.1", MacAddr::BROADCAST),
            i as u64,
        );
    }
    assert!(
        r.neighbors(0).is_empty(),
        "off-subnet senders are not learned"
    );
    // 20,000 on-subnet-looking ones (a /16 would hold them): the port's
    // quota caps them, oldest first out.
    let big = RouterConfig {
        ports: vec![
            RouterPortConfig {
                addresses: addrs(&["10.1.0.1/16"]),
                ..config(1500, false).ports[0].clone()
            },
            config(1500, false).ports[1].clone(),
        ],
        ..config(1500, false)
    };
    let r = Router::new(&big).unwrap();
    for i in 0..20_000u32 {
        let b = i.to_be_bytes();
        let spa = format!("10.1.{}.{}", b[2], b[3].max(2));
        run(
            &r,
            0,
            &arp(1, mac(i), &spa, "10.1.0.1", MacAddr::BROADCAST),
            1000 + i as u64,
        );
    }
    let held = r.neighbors(0).len();
    assert!(
        held <= super::neighbor::PORT_LIMIT,
        "port a holds {held} entries"
    );
    // A host on port b still resolves, and packets reach it.
    let pkt = v4(
        HA,
        RA,
        "10.1.0.2",
        "10.2.0.2",
        64,
        ip::PROTO_ICMP,
        &echo(),
        true,
    );
    let out = run(&r, 0, &pkt, 30_000);
    assert_eq!(out.len(), 1, "an ARP request for 10.2.0.2 on port b");
    assert_eq!(out[0].port, 1);
    let out = run(&r, 1, &arp(2, HB, "10.2.0.2", "10.2.0.1", RB), 30_005);
    assert_eq!(out.len(), 1, "the waiting packet goes out");
    assert_eq!(eth(&out[0]).dst(), HB);
}

#[test]
fn a_point_to_point_port_sends_to_its_peer_without_asking() {
    // Port b is a TUN device's: what leaves it goes to the far end's MAC
    // at once, whatever the next hop, and no ARP or ND is ever sent there.
    let peer = MacAddr([2, 0, 0, 0, 0xb, 0xee]);
    let mut cfg = config(1500, false);
    cfg.ports[1].peer_mac = Some(peer);
    cfg.routes.push(RouteConfig {
        prefix: "192.168.50.0/24".parse().unwrap(),
        via: None,
        port: Some("b".into()),
    });
    let r = Router::new(&cfg).unwrap();
    for dst in ["10.2.0.9", "192.168.50.7"] {
        let out = run(
            &r,
            0,
            &v4(HA, RA, "10.1.0.2", dst, 64, 1, &echo(), false),
            0,
        );
        assert_eq!(out.len(), 1, "{dst}: one packet, no solicitation");
        assert_eq!(out[0].port, 1);
        assert_eq!(&out[0].frame[..6], &peer.0, "{dst}: to the peer");
        assert_eq!(&out[0].frame[6..12], &RB.0);
    }
    let out = run(&r, 0, &v6(HA, RA, "fd00:1::2", "fd00:2::9", 64, 59, b""), 0);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].frame[..6], &peer.0, "IPv6 too");
}
