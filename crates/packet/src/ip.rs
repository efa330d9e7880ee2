//! IPv4 and IPv6 headers as the router sees them: checked views over the
//! Ethernet payload, the in-place changes forwarding makes (TTL and hop
//! limit), and builders for the few packets a router originates (ICMP and
//! ICMPv6 messages, neighbor discovery, ARP, TCP resets).
//!
//! Views validate once in `parse`; a header that claims more bytes than the
//! buffer holds, a bad version or IHL, is an error, never a panic.

use crate::checksum::{finish, sum_words};
use crate::{EtherType, MacAddr, ParseError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// A checked IPv4 header (and what follows it, up to its total length).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4View<'a> {
    b: &'a [u8],
}

impl<'a> Ipv4View<'a> {
    /// `b` starts at the IPv4 header; bytes past its total length (Ethernet
    /// padding) are ignored.
    #[inline]
    pub fn parse(b: &'a [u8]) -> Result<Ipv4View<'a>, ParseError> {
        if b.len() < 20 {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: 20,
            });
        }
        if b[0] >> 4 != 4 {
            return Err(ParseError::Unsupported {
                field: "ipv4.version",
                value: (b[0] >> 4) as u16,
            });
        }
        let ihl = (b[0] & 0x0f) as usize * 4;
        let total = u16::from_be_bytes([b[2], b[3]]) as usize;
        if ihl < 20 || total < ihl {
            return Err(ParseError::Unsupported {
                field: "ipv4.ihl",
                value: ihl as u16,
            });
        }
        if total > b.len() {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: total,
            });
        }
        Ok(Ipv4View { b: &b[..total] })
    }

    /// A view of `b`, which a [`parse`](Self::parse) returned (its
    /// [`as_bytes`](Self::as_bytes)): for a caller that keeps what it
    /// parsed as offsets. Anything else may make the accessors panic.
    #[inline]
    pub fn reparsed(b: &'a [u8]) -> Ipv4View<'a> {
        Ipv4View { b }
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        (self.b[0] & 0x0f) as usize * 4
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        self.b.len()
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b[8]
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b[9]
    }
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.b[12], self.b[13], self.b[14], self.b[15])
    }
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.b[16], self.b[17], self.b[18], self.b[19])
    }
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.b[6] & 0x40 != 0
    }
    /// Offset in 8-byte units; a non-zero offset has no L4 header.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        u16::from_be_bytes([self.b[6], self.b[7]]) & 0x1fff
    }
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.b[6] & 0x20 != 0
    }
    #[inline]
    pub fn checksum_ok(&self) -> bool {
        finish(sum_words(0, &self.b[..self.header_len()])) == 0
    }
    /// The whole packet, header included.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.b
    }
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.b[self.header_len()..]
    }
}

/// Most extension headers walked before a chain counts as opaque: real
/// packets carry a handful; a hostile one could carry thousands.
pub const MAX_EXTENSION_HEADERS: usize = 32;

/// Where an IPv6 packet's extension-header chain leads: the one walk the
/// router, the access lists and the flow tables all use, so that no
/// header (a Destination Options one, say) hides a port from one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Chain {
    /// The upper-layer protocol and its offset from the IPv6 header, when
    /// reachable (not in a later fragment).
    pub upper: Option<(u8, usize)>,
    /// A fragment header's protocol, and whether this is a later fragment.
    pub fragment: Option<(u8, bool)>,
    /// The chain could not be walked to its end: cut short, or longer
    /// than [`MAX_EXTENSION_HEADERS`].
    pub opaque: bool,
}

impl Ipv6Chain {
    /// Walks the hop-by-hop, routing, destination options and fragment
    /// headers of `b`, an IPv6 packet of at least 40 bytes (fewer: opaque).
    pub fn walk(b: &[u8]) -> Ipv6Chain {
        let mut chain = Ipv6Chain {
            upper: None,
            fragment: None,
            opaque: true,
        };
        let Some(&first) = b.get(6).filter(|_| b.len() >= 40) else {
            return chain;
        };
        let mut next = first;
        let mut at = 40;
        for _ in 0..=MAX_EXTENSION_HEADERS {
            match next {
                0 | 43 | 60 => {
                    let Some(h) = b.get(at..at + 2) else { break };
                    next = h[0];
                    at += (h[1] as usize + 1) * 8;
                }
                44 => {
                    let Some(h) = b.get(at..at + 8) else { break };
                    let later = u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0;
                    chain.fragment = Some((h[0], later));
                    if later {
                        chain.opaque = false;
                        break;
                    }
                    next = h[0];
                    at += 8;
                }
                59 => {
                    chain.opaque = false;
                    break;
                }
                p => {
                    if at <= b.len() {
                        chain.upper = Some((p, at));
                        chain.opaque = false;
                    }
                    break;
                }
            }
        }
        chain
    }
}

/// A checked IPv6 header with the upper-layer protocol found past the
/// extension headers the router may meet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6View<'a> {
    b: &'a [u8],
    /// Upper-layer protocol and its offset, when reachable (not a later fragment).
    upper: Option<(u8, usize)>,
    /// A fragment header was seen: the protocol it carries, and whether
    /// this is a later fragment (no upper-layer header in it).
    fragment: Option<(u8, bool)>,
    /// The extension header chain could not be walked to its end (too
    /// long, or cut short): nothing past the fixed header can be trusted.
    opaque: bool,
}

impl<'a> Ipv6View<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Ipv6View<'a>, ParseError> {
        if b.len() < 40 {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: 40,
            });
        }
        if b[0] >> 4 != 6 {
            return Err(ParseError::Unsupported {
                field: "ipv6.version",
                value: (b[0] >> 4) as u16,
            });
        }
        let total = 40 + u16::from_be_bytes([b[4], b[5]]) as usize;
        if total > b.len() {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: total,
            });
        }
        let b = &b[..total];
        let chain = Ipv6Chain::walk(b);
        Ok(Ipv6View {
            b,
            upper: chain.upper,
            fragment: chain.fragment,
            opaque: chain.opaque,
        })
    }

    #[inline]
    pub fn total_len(&self) -> usize {
        self.b.len()
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.b[6]
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.b[7]
    }
    #[inline]
    pub fn src(&self) -> Ipv6Addr {
        ipv6_at(self.b, 8)
    }
    #[inline]
    pub fn dst(&self) -> Ipv6Addr {
        ipv6_at(self.b, 24)
    }
    /// A fragment header's protocol, and whether this is a later fragment.
    #[inline]
    pub fn fragment(&self) -> Option<(u8, bool)> {
        self.fragment
    }
    /// A view of `b` with its `chain`, as a [`parse`](Self::parse) returned
    /// them (its [`as_bytes`](Self::as_bytes) and [`chain`](Self::chain)):
    /// for a caller that keeps what it parsed as offsets. Anything else
    /// may make the accessors panic.
    #[inline]
    pub fn reparsed(b: &'a [u8], chain: Ipv6Chain) -> Ipv6View<'a> {
        Ipv6View {
            b,
            upper: chain.upper,
            fragment: chain.fragment,
            opaque: chain.opaque,
        }
    }

    /// Where the extension-header chain led, as [`Ipv6Chain::walk`] found it.
    #[inline]
    pub fn chain(&self) -> Ipv6Chain {
        Ipv6Chain {
            upper: self.upper,
            fragment: self.fragment,
            opaque: self.opaque,
        }
    }
    /// The extension headers could not be walked to the upper layer.
    #[inline]
    pub fn is_opaque(&self) -> bool {
        self.opaque
    }
    /// The upper-layer protocol and its bytes, past extension headers.
    #[inline]
    pub fn upper(&self) -> Option<(u8, &'a [u8])> {
        self.upper.map(|(p, at)| (p, &self.b[at..]))
    }
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.b
    }
}

fn ipv6_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

/// Decrements the TTL of the IPv4 header at the start of `ip` and updates
/// its checksum incrementally (RFC 1624), as a router does per hop.
pub fn decrement_ttl(ip: &mut [u8]) {
    if ip.len() < 20 || ip[8] == 0 {
        return;
    }
    let old = u16::from_be_bytes([ip[8], ip[9]]);
    ip[8] -= 1;
    let new = u16::from_be_bytes([ip[8], ip[9]]);
    let hc = u16::from_be_bytes([ip[10], ip[11]]);
    let sum = (!hc as u32) + (!old as u32) + new as u32;
    let c = finish(sum);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Writes a fresh IPv4 header checksum.
pub fn fill_ipv4_checksum(ip: &mut [u8]) {
    let ihl = (ip[0] & 0x0f) as usize * 4;
    ip[10] = 0;
    ip[11] = 0;
    let c = finish(sum_words(0, &ip[..ihl]));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Cuts the IPv4 packet `ip` into fragments of at most `mtu` bytes (its
/// header, options included, on each) and calls `emit` with each. Returns
/// false, emitting nothing, when the MTU leaves no room for 8 bytes of data.
pub fn fragment_ipv4(ip: &[u8], mtu: usize, mut emit: impl FnMut(&[u8])) -> bool {
    let Ok(v) = Ipv4View::parse(ip) else {
        return false;
    };
    let ihl = v.header_len();
    let step = mtu.saturating_sub(ihl) / 8 * 8;
    if step == 0 {
        return false;
    }
    let data = v.payload();
    let base = v.fragment_offset() as usize;
    let last_mf = v.more_fragments();
    let mut buf = Vec::with_capacity(mtu);
    let mut at = 0;
    while at < data.len() || (at == 0 && data.is_empty()) {
        let end = (at + step).min(data.len());
        let more = end < data.len() || last_mf;
        buf.clear();
        buf.extend_from_slice(&ip[..ihl]);
        buf.extend_from_slice(&data[at..end]);
        let total = buf.len() as u16;
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        let off = ((base + at / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
        buf[6..8].copy_from_slice(&off.to_be_bytes());
        fill_ipv4_checksum(&mut buf);
        emit(&buf);
        if end == at {
            break;
        }
        at = end;
    }
    true
}

/// Starts a frame in `out` (cleared): Ethernet header, no tag.
pub fn write_ethernet(out: &mut Vec<u8>, dst: MacAddr, src: MacAddr, ethertype: u16) {
    out.clear();
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// Appends an IPv4 header and `payload` (whose checksums the caller has
/// filled or fills after; `payload` is written as given).
pub fn push_ipv4(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    ident: u16,
    payload: &[u8],
) {
    let start = out.len();
    let total = (20 + payload.len()) as u16;
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&[0, 0, ttl, proto, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    fill_ipv4_checksum(&mut out[start..start + 20]);
    out.extend_from_slice(payload);
}

/// For tests: 02:00:00:00:00:01 to …:02, 10.0.0.1 to 10.0.0.2, protocol
/// `proto`, IP id `ident`, then `l4` as given.
#[cfg(test)]
pub(crate) fn test_ipv4_frame(proto: u8, ident: u16, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    write_ethernet(
        &mut f,
        MacAddr([2, 0, 0, 0, 0, 2]),
        MacAddr([2, 0, 0, 0, 0, 1]),
        0x0800,
    );
    let (src, dst) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    push_ipv4(&mut f, src, dst, proto, 64, ident, l4);
    f
}

/// Appends an IPv6 header and an upper-layer `payload` of protocol `next`.
pub fn push_ipv6(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(&[next, hop_limit]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    out.extend_from_slice(payload);
}

/// The pseudo-header sum of an upper-layer packet (TCP, UDP, ICMPv6).
fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let mut s = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => sum_words(sum_words(0, &a.octets()), &b.octets()),
        (IpAddr::V6(a), IpAddr::V6(b)) => sum_words(sum_words(0, &a.octets()), &b.octets()),
        _ => 0,
    };
    s += proto as u32 + (len as u32 >> 16) + (len as u32 & 0xffff);
    s
}

/// An ICMP (v4) message: type, code, the four "rest of header" bytes, data.
pub fn icmpv4(ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + data.len());
    m.extend_from_slice(&[ty, code, 0, 0]);
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = finish(sum_words(0, &m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv6 message with its checksum over the pseudo-header.
pub fn icmpv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ty: u8,
    code: u8,
    rest: [u8; 4],
    data: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + data.len());
    m.extend_from_slice(&[ty, code, 0, 0]);
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let s = pseudo_sum(src.into(), dst.into(), PROTO_ICMPV6, m.len());
    let c = finish(sum_words(s, &m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Whether an ICMPv6 message's checksum holds.
pub fn icmpv6_checksum_ok(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
    let s = pseudo_sum(src.into(), dst.into(), PROTO_ICMPV6, msg.len());
    finish(sum_words(s, msg)) == 0
}

/// A TCP segment (no options, no data) with its checksum.
pub fn tcp_segment(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20);
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0, 0, 0, 0, 0, 0]);
    let s = pseudo_sum(src, dst, PROTO_TCP, t.len());
    let c = finish(sum_words(s, &t));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// A UDP datagram with its checksum (0 computed is sent as 0xffff).
pub fn udp_datagram(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let s = pseudo_sum(src, dst, PROTO_UDP, u.len());
    let c = match finish(sum_words(s, &u)) {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// The reset a host sends for a segment no socket takes (RFC 9293 3.10.7.1):
/// with the segment's ACK as our sequence if it had one, else acknowledging
/// everything it carried. `seg` is the offending TCP segment.
pub fn tcp_reset_for(src: IpAddr, dst: IpAddr, seg: &[u8]) -> Option<Vec<u8>> {
    if seg.len() < 20 {
        return None;
    }
    let flags = seg[13];
    if flags & TCP_RST != 0 {
        return None;
    }
    let sport = u16::from_be_bytes([seg[0], seg[1]]);
    let dport = u16::from_be_bytes([seg[2], seg[3]]);
    let seq = u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]);
    let ack = u32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]);
    let off = ((seg[12] >> 4) as usize * 4).clamp(20, seg.len());
    if flags & TCP_ACK != 0 {
        return Some(tcp_segment(src, dst, dport, sport, ack, 0, TCP_RST));
    }
    let mut len = (seg.len() - off) as u32;
    if flags & TCP_SYN != 0 {
        len += 1;
    }
    if flags & TCP_FIN != 0 {
        len += 1;
    }
    Some(tcp_segment(
        src,
        dst,
        dport,
        sport,
        0,
        seq.wrapping_add(len),
        TCP_RST | TCP_ACK,
    ))
}

/// An ARP packet for Ethernet/IPv4 (the Ethernet payload).
pub fn arp(op: u16, sha: MacAddr, spa: Ipv4Addr, tha: MacAddr, tpa: Ipv4Addr) -> [u8; 28] {
    let mut a = [0u8; 28];
    a[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, op as u8]);
    a[8..14].copy_from_slice(&sha.0);
    a[14..18].copy_from_slice(&spa.octets());
    a[18..24].copy_from_slice(&tha.0);
    a[24..28].copy_from_slice(&tpa.octets());
    a
}

/// The solicited-node multicast group of `a` (ff02::1:ffXX:XXXX).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet group an IPv6 multicast address maps to (33:33 + low 32 bits).
pub fn ipv6_multicast_mac(a: Ipv6Addr) -> MacAddr {
    let o = a.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The modified EUI-64 link-local address of a MAC (fe80::/64).
pub fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 2,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

pub const ND_ROUTER_SOLICIT: u8 = 133;
pub const ND_ROUTER_ADVERT: u8 = 134;
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
pub const ND_REDIRECT: u8 = 137;

/// A neighbor solicitation or advertisement as read from an ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdMessage {
    pub ty: u8,
    /// The NA flags byte (router, solicited, override), zero for an NS.
    pub flags: u8,
    pub target: Ipv6Addr,
    /// The source (NS) or target (NA) link-layer address option.
    pub lladdr: Option<MacAddr>,
}

impl NdMessage {
    /// Reads an NS or NA (`msg` is the ICMPv6 message); anything else, or a
    /// malformed option, is `None`.
    pub fn parse(msg: &[u8]) -> Option<NdMessage> {
        let ty = *msg.first()?;
        if !(ty == ND_NEIGHBOR_SOLICIT || ty == ND_NEIGHBOR_ADVERT) || msg.len() < 24 || msg[1] != 0
        {
            return None;
        }
        let target = ipv6_at(msg, 8);
        let want = if ty == ND_NEIGHBOR_SOLICIT { 1 } else { 2 };
        let mut lladdr = None;
        let mut at = 24;
        while at + 2 <= msg.len() {
            let (t, len) = (msg[at], msg[at + 1] as usize * 8);
            if len == 0 || at + len > msg.len() {
                return None;
            }
            if t == want && len >= 8 {
                lladdr = Some(MacAddr::from_slice(&msg[at + 2..at + 8]));
            }
            at += len;
        }
        Some(NdMessage {
            ty,
            flags: if ty == ND_NEIGHBOR_ADVERT { msg[4] } else { 0 },
            target,
            lladdr,
        })
    }
}

pub const NA_ROUTER: u8 = 0x80;
pub const NA_SOLICITED: u8 = 0x40;
pub const NA_OVERRIDE: u8 = 0x20;

/// The body (after the 4-byte ICMPv6 header) of an NS or NA: target and one
/// link-layer address option (source for an NS, target for an NA).
pub fn nd_body(ty: u8, target: Ipv6Addr, lladdr: MacAddr) -> Vec<u8> {
    let mut d = Vec::with_capacity(24);
    d.extend_from_slice(&target.octets());
    d.push(if ty == ND_NEIGHBOR_SOLICIT { 1 } else { 2 });
    d.push(1);
    d.extend_from_slice(&lladdr.0);
    d
}

/// Whether `ethertype` is one the router reads (IPv4, IPv6, ARP).
pub fn is_l3(ethertype: u16) -> bool {
    matches!(
        ethertype,
        EtherType::IPV4 | EtherType::IPV6 | EtherType::ARP
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4_packet(ttl: u8) -> Vec<u8> {
        let mut out = Vec::new();
        push_ipv4(
            &mut out,
            Ipv4Addr::new(10, 1, 0, 2),
            Ipv4Addr::new(10, 2, 0, 2),
            PROTO_UDP,
            ttl,
            7,
            &[1, 2, 3, 4, 0, 12, 0, 0, 9, 9, 9, 9],
        );
        out
    }

    #[test]
    fn ttl_decrement_keeps_the_checksum_right() {
        for ttl in [1u8, 2, 64, 128, 255] {
            let mut p = v4_packet(ttl);
            assert!(Ipv4View::parse(&p).unwrap().checksum_ok());
            decrement_ttl(&mut p);
            let v = Ipv4View::parse(&p).unwrap();
            assert_eq!(v.ttl(), ttl - 1);
            assert!(v.checksum_ok(), "ttl {ttl}");
        }
    }

    #[test]
    fn rejects_bad_headers() {
        let p = v4_packet(64);
        assert!(Ipv4View::parse(&p[..19]).is_err());
        assert!(
            Ipv4View::parse(&p[..30]).is_err(),
            "total length beyond the buffer"
        );
        let mut bad = p.clone();
        bad[0] = 0x44;
        assert!(Ipv4View::parse(&bad).is_err(), "IHL below 5");
        let mut v6 = Vec::new();
        push_ipv6(
            &mut v6,
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            59,
            64,
            &[],
        );
        assert!(Ipv4View::parse(&v6).is_err());
        assert!(Ipv6View::parse(&v6).unwrap().upper().is_none());
    }

    #[test]
    fn finds_the_upper_layer_past_extension_headers() {
        let mut payload = vec![PROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, 8 bytes
        payload.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
        let mut p = Vec::new();
        push_ipv6(
            &mut p,
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            0,
            64,
            &payload,
        );
        let v = Ipv6View::parse(&p).unwrap();
        let (proto, body) = v.upper().unwrap();
        assert_eq!((proto, body[0]), (PROTO_ICMPV6, 128));
    }

    #[test]
    fn icmpv6_and_nd_round_trip() {
        let src = "fe80::1".parse().unwrap();
        let dst = solicited_node("2001:db8::abcd:1234".parse().unwrap());
        assert_eq!(dst, "ff02::1:ffcd:1234".parse::<Ipv6Addr>().unwrap());
        let mac = MacAddr([2, 0, 0, 0, 0, 9]);
        let target = "2001:db8::abcd:1234".parse().unwrap();
        let m = icmpv6(
            src,
            dst,
            ND_NEIGHBOR_SOLICIT,
            0,
            [0; 4],
            &nd_body(ND_NEIGHBOR_SOLICIT, target, mac),
        );
        assert!(icmpv6_checksum_ok(src, dst, &m));
        let nd = NdMessage::parse(&m).unwrap();
        assert_eq!(
            (nd.ty, nd.target, nd.lladdr),
            (ND_NEIGHBOR_SOLICIT, target, Some(mac))
        );
        assert_eq!(
            link_local(MacAddr([0, 0x11, 0x22, 0x33, 0x44, 0x55])),
            "fe80::211:22ff:fe33:4455".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn resets_answer_the_segment() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let syn = tcp_segment(a, b, 4000, 80, 1000, 0, TCP_SYN);
        let rst = tcp_reset_for(b, a, &syn).unwrap();
        assert_eq!(u16::from_be_bytes([rst[0], rst[1]]), 80);
        assert_eq!(u32::from_be_bytes([rst[8], rst[9], rst[10], rst[11]]), 1001);
        assert_eq!(rst[13], TCP_RST | TCP_ACK);
        let s = pseudo_sum(b, a, PROTO_TCP, rst.len());
        assert_eq!(finish(sum_words(s, &rst)), 0);
        assert!(
            tcp_reset_for(b, a, &rst).is_none(),
            "never a reset for a reset"
        );
    }

    #[test]
    fn fragments_cover_the_payload() {
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut p = Vec::new();
        push_ipv4(
            &mut p,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            PROTO_UDP,
            64,
            9,
            &payload,
        );
        let mut got = Vec::new();
        let mut frags = Vec::new();
        assert!(fragment_ipv4(&p, 576, |f| frags.push(f.to_vec())));
        assert_eq!(frags.len(), 2);
        for f in &frags {
            let v = Ipv4View::parse(f).unwrap();
            assert!(v.checksum_ok() && f.len() <= 576);
            assert_eq!(v.fragment_offset() as usize * 8, got.len());
            got.extend_from_slice(v.payload());
        }
        assert!(Ipv4View::parse(&frags[0]).unwrap().more_fragments());
        assert!(!Ipv4View::parse(&frags[1]).unwrap().more_fragments());
        assert_eq!(got, payload);
        assert!(!fragment_ipv4(&p, 24, |_| {}));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(v) = Ipv4View::parse(&bytes) {
                let _ = (v.payload().len(), v.checksum_ok(), v.src(), v.fragment_offset());
            }
            if let Ok(v) = Ipv6View::parse(&bytes) {
                if let Some((_, body)) = v.upper() {
                    let _ = NdMessage::parse(body);
                }
            }
            let _ = NdMessage::parse(&bytes);
            let _ = tcp_reset_for(Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into(), &bytes);
        }
    }
}
