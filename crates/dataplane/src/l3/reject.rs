//! The answer a filter or router gives to a packet it rejects.

use crate::l3::L3Packet;
use vepa_packet::ip::{self, Ipv4View, Ipv6View};

/// The answer to a rejected packet, as if from its destination: a TCP
/// reset for TCP, ICMP port unreachable otherwise (as nftables' `reject`
/// does). None for what must not be answered (an ICMP error, a group
/// destination, a later fragment).
pub fn reject_ip(packet: &[u8], p: &L3Packet) -> Option<Vec<u8>> {
    if p.fragment
        || p.opaque
        || p.is_icmp_error()
        || p.src.is_unspecified()
        || p.src.is_multicast()
        || p.dst.is_multicast()
    {
        return None;
    }
    let mut out = Vec::new();
    match (p.src, p.dst) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => {
            if d.is_broadcast() {
                return None;
            }
            let v = Ipv4View::parse(packet).ok()?;
            if p.proto == ip::PROTO_TCP {
                let rst = ip::tcp_reset_for(d.into(), s.into(), v.payload())?;
                ip::push_ipv4(&mut out, d, s, ip::PROTO_TCP, 64, 0, &rst);
            } else {
                let quote = &packet[..packet.len().min(548)];
                let m = ip::icmpv4(3, 3, [0; 4], quote);
                ip::push_ipv4(&mut out, d, s, ip::PROTO_ICMP, 64, 0, &m);
            }
        }
        (std::net::IpAddr::V6(s), std::net::IpAddr::V6(d)) => {
            let v = Ipv6View::parse(packet).ok()?;
            if p.proto == ip::PROTO_TCP {
                let (_, seg) = v.upper()?;
                let rst = ip::tcp_reset_for(d.into(), s.into(), seg)?;
                ip::push_ipv6(&mut out, d, s, ip::PROTO_TCP, 64, &rst);
            } else {
                let quote = &packet[..packet.len().min(1232)];
                let m = ip::icmpv6(d, s, 1, 4, [0; 4], quote);
                ip::push_ipv6(&mut out, d, s, ip::PROTO_ICMPV6, 64, &m);
            }
        }
        _ => return None,
    }
    Some(out)
}
