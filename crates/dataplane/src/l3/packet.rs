//! What a filter looks at in a packet: family, protocol, addresses, ports,
//! ICMP type and code, TCP flags, and for an ICMP error the connection it
//! is about (so "related" can be told). Read once from the IP header on;
//! anything that does not parse is `None`, never a panic.

use crate::conntrack::Tuple;
use std::net::IpAddr;
use vepa_packet::ip::{self, Ipv4View, Ipv6View};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3Packet {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP/UDP ports (0 when absent).
    pub sport: u16,
    pub dport: u16,
    /// ICMP/ICMPv6 type and code.
    pub icmp: Option<(u8, u8)>,
    pub tcp_flags: u8,
    /// A later fragment: no transport header to look at.
    pub fragment: bool,
    /// For an ICMP error: the connection of the packet it quotes, in that
    /// packet's direction.
    pub related: Option<Tuple>,
    /// IP packet length.
    pub len: usize,
    /// Headers that cannot be read to the transport layer (an IPv6
    /// extension chain too long or cut short, a first fragment too short
    /// for its transport header): lists drop it, guards refuse it.
    pub opaque: bool,
}

impl L3Packet {
    /// Reads an IP packet (v4 or v6, by its version nibble).
    pub fn from_ip(b: &[u8]) -> Option<L3Packet> {
        match b.first()? >> 4 {
            4 => Ipv4View::parse(b).ok().map(|v| L3Packet::from_ipv4(&v)),
            6 => Ipv6View::parse(b).ok().map(|v| L3Packet::from_ipv6(&v)),
            _ => None,
        }
    }

    /// What a filter sees of a checked IPv4 header.
    pub fn from_ipv4(v: &Ipv4View<'_>) -> L3Packet {
        let fragment = v.fragment_offset() != 0;
        let l4 = if fragment { &[][..] } else { v.payload() };
        let (src, dst) = (v.src().into(), v.dst().into());
        let mut p = L3Packet::with_l4(v.protocol(), src, dst, l4, fragment, v.total_len(), true);
        p.opaque = !fragment && too_short(p.proto, l4);
        p
    }

    /// What a filter sees of a checked IPv6 header.
    pub fn from_ipv6(v: &Ipv6View<'_>) -> L3Packet {
        let (proto, l4, fragment) = match (v.upper(), v.fragment()) {
            (Some((p, body)), _) => (p, body, false),
            // A later fragment: the protocol its fragment header names.
            (None, Some((p, true))) => (p, &[][..], true),
            // No upper layer (59), or a chain that cannot be walked.
            (None, _) => (v.next_header(), &[][..], false),
        };
        let (src, dst) = (v.src().into(), v.dst().into());
        let mut p = L3Packet::with_l4(proto, src, dst, l4, fragment, v.total_len(), true);
        p.opaque = v.is_opaque() || (v.upper().is_some() && too_short(proto, l4));
        p
    }

    /// `outer`: also read the packet an ICMP error quotes (one level only).
    fn with_l4(
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        l4: &[u8],
        fragment: bool,
        len: usize,
        outer: bool,
    ) -> L3Packet {
        let mut p = L3Packet {
            proto,
            src,
            dst,
            sport: 0,
            dport: 0,
            icmp: None,
            tcp_flags: 0,
            fragment,
            related: None,
            len,
            opaque: false,
        };
        let be = |i: usize| l4.get(i..i + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
        match proto {
            ip::PROTO_TCP | ip::PROTO_UDP => {
                p.sport = be(0).unwrap_or(0);
                p.dport = be(2).unwrap_or(0);
                if proto == ip::PROTO_TCP {
                    p.tcp_flags = l4.get(13).copied().unwrap_or(0);
                }
            }
            ip::PROTO_ICMP | ip::PROTO_ICMPV6 => {
                if let [ty, code, ..] = *l4 {
                    p.icmp = Some((ty, code));
                    let v6 = proto == ip::PROTO_ICMPV6;
                    if is_echo(ty, v6) {
                        // Request and reply share the identifier: the
                        // tuple is symmetric, so the reply is the reverse.
                        let id = be(4).unwrap_or(0);
                        p.sport = id;
                        p.dport = id;
                    } else if is_error(ty, v6) && outer {
                        p.related = l4.get(8..).and_then(L3Packet::quoted).map(|q| q.tuple());
                    }
                }
            }
            _ => {}
        }
        p
    }

    /// The packet an ICMP error quotes: its header and the first bytes of
    /// its transport header (lengths may be cut short, so read leniently).
    fn quoted(b: &[u8]) -> Option<L3Packet> {
        match b.first()? >> 4 {
            4 => {
                let ihl = (b[0] & 0x0f) as usize * 4;
                let h = b.get(..ihl.max(20))?;
                let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
                let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
                Some(L3Packet::with_l4(
                    h[9],
                    src,
                    dst,
                    b.get(ihl..).unwrap_or(&[]),
                    false,
                    0,
                    false,
                ))
            }
            6 => {
                let h = b.get(..40)?;
                let mut s = [0u8; 16];
                let mut d = [0u8; 16];
                s.copy_from_slice(&h[8..24]);
                d.copy_from_slice(&h[24..40]);
                Some(L3Packet::with_l4(
                    h[6],
                    IpAddr::from(s),
                    IpAddr::from(d),
                    &b[40..],
                    false,
                    0,
                    false,
                ))
            }
            _ => None,
        }
    }

    /// The connection tuple, in this packet's direction.
    pub fn tuple(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
        }
    }

    /// An ICMP or ICMPv6 error message (never answered with another).
    pub fn is_icmp_error(&self) -> bool {
        match (self.proto, self.icmp) {
            (ip::PROTO_ICMP, Some((t, _))) => is_error(t, false),
            (ip::PROTO_ICMPV6, Some((t, _))) => is_error(t, true),
            _ => false,
        }
    }

    pub fn is_nd(&self) -> bool {
        self.proto == ip::PROTO_ICMPV6
            && self
                .icmp
                .is_some_and(|(t, _)| (ip::ND_ROUTER_SOLICIT..=ip::ND_REDIRECT).contains(&t))
    }
}

/// Whether `l4` is too short for the transport header a filter reads.
fn too_short(proto: u8, l4: &[u8]) -> bool {
    match proto {
        ip::PROTO_TCP => l4.len() < 20,
        ip::PROTO_UDP => l4.len() < 8,
        ip::PROTO_ICMP | ip::PROTO_ICMPV6 => l4.len() < 4,
        _ => false,
    }
}

fn is_echo(ty: u8, v6: bool) -> bool {
    if v6 {
        ty == 128 || ty == 129
    } else {
        ty == 8 || ty == 0
    }
}

fn is_error(ty: u8, v6: bool) -> bool {
    if v6 {
        ty < 128
    } else {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn reads_tcp_icmp_and_errors() {
        let a = Ipv4Addr::new(10, 1, 0, 2);
        let b = Ipv4Addr::new(10, 2, 0, 2);
        let syn = ip::tcp_segment(a.into(), b.into(), 4000, 80, 1, 0, ip::TCP_SYN);
        let mut pkt = Vec::new();
        ip::push_ipv4(&mut pkt, a, b, ip::PROTO_TCP, 64, 1, &syn);
        let p = L3Packet::from_ip(&pkt).unwrap();
        assert_eq!((p.sport, p.dport, p.tcp_flags), (4000, 80, ip::TCP_SYN));
        // An error about that segment names its connection.
        let err = ip::icmpv4(3, 3, [0; 4], &pkt[..28]);
        let mut e = Vec::new();
        ip::push_ipv4(&mut e, b, a, ip::PROTO_ICMP, 64, 2, &err);
        let q = L3Packet::from_ip(&e).unwrap();
        assert_eq!(q.icmp, Some((3, 3)));
        assert_eq!(q.related, Some(p.tuple()));
        // Echo request and reply are each other's reverse.
        let req = ip::icmpv4(8, 0, [0, 7, 0, 1], b"x");
        let rep = ip::icmpv4(0, 0, [0, 7, 0, 1], b"x");
        let (mut r1, mut r2) = (Vec::new(), Vec::new());
        ip::push_ipv4(&mut r1, a, b, ip::PROTO_ICMP, 64, 3, &req);
        ip::push_ipv4(&mut r2, b, a, ip::PROTO_ICMP, 64, 4, &rep);
        let (x, y) = (
            L3Packet::from_ip(&r1).unwrap(),
            L3Packet::from_ip(&r2).unwrap(),
        );
        assert_eq!(x.tuple().reverse(), y.tuple());
        // A first fragment cut before its TCP header cannot be judged.
        let mut tiny = Vec::new();
        ip::push_ipv4(&mut tiny, a, b, ip::PROTO_TCP, 64, 5, &syn[..8]);
        tiny[6] = 0x20; // more fragments
        ip::fill_ipv4_checksum(&mut tiny);
        assert!(L3Packet::from_ip(&tiny).unwrap().opaque);
        assert!(!p.opaque);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_not_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120), v in 0u8..3) {
            let mut b = bytes;
            if let Some(x) = b.first_mut() {
                *x = (*x & 0x0f) | [0x40, 0x60, 0x50][v as usize];
            }
            let _ = L3Packet::from_ip(&b);
            let _ = crate::parsed::Parsed::new(&b).map(|p| p.l3().copied());
        }
    }
}
