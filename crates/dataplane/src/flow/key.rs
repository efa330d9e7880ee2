//! The header fields a flow can match, extracted once per frame into a
//! fixed array of words.
//!
//! A flow's match is a (value, mask) pair over the same words, so matching
//! is twelve AND-and-compare steps and a classifier can hash a masked key.
//! Fields that never appear together share a slot, as Open vSwitch's
//! `tp_src`/`nw_src` do: TCP, UDP and ICMP ports/types live in one pair of
//! slots, and ARP's protocol addresses in the IPv4 address slots. A match
//! says which one it means through its prerequisites (IP protocol,
//! EtherType), which [`Match::check`](super::Match::check) enforces.

use vepa_packet::ip::Ipv6Chain;
use vepa_packet::EtherType;

/// Words in a [`Key`].
pub const KEY_WORDS: usize = 12;

/// Every matchable field of one frame, packed (see [`Field`] for the layout).
pub type Key = [u64; KEY_WORDS];

/// The `vlan_vid` bit that says a tag is present (OpenFlow's `OFPVID_PRESENT`).
pub const VID_PRESENT: u16 = 0x1000;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
/// IPv6 "no next header".
pub const IPPROTO_NONE: u8 = 59;

/// A matchable header field, named as OpenFlow 1.3's OXM basic class does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    InPort,
    Metadata,
    TunnelId,
    EthDst,
    EthSrc,
    EthType,
    /// 12-bit VID plus [`VID_PRESENT`]; 0 means untagged.
    VlanVid,
    VlanPcp,
    IpDscp,
    IpEcn,
    IpProto,
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    Icmpv4Type,
    Icmpv4Code,
    Icmpv6Type,
    Icmpv6Code,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
}

/// Where a field lives in a [`Key`]: `bits` bits at `shift` in word `word`
/// (128-bit fields take `word` and the next one, high half first).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub word: usize,
    pub shift: u32,
    pub bits: u32,
}

const fn slot(word: usize, shift: u32, bits: u32) -> Slot {
    Slot { word, shift, bits }
}

/// What a field needs the match to say first (OpenFlow 1.3 §7.2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    None,
    VlanPresent,
    EthType(&'static [u16]),
    IpProto(u16, u8),
}

impl Field {
    pub const ALL: [Field; 28] = [
        Field::InPort,
        Field::Metadata,
        Field::TunnelId,
        Field::EthDst,
        Field::EthSrc,
        Field::EthType,
        Field::VlanVid,
        Field::VlanPcp,
        Field::IpDscp,
        Field::IpEcn,
        Field::IpProto,
        Field::Ipv4Src,
        Field::Ipv4Dst,
        Field::Ipv6Src,
        Field::Ipv6Dst,
        Field::TcpSrc,
        Field::TcpDst,
        Field::UdpSrc,
        Field::UdpDst,
        Field::Icmpv4Type,
        Field::Icmpv4Code,
        Field::Icmpv6Type,
        Field::Icmpv6Code,
        Field::ArpOp,
        Field::ArpSpa,
        Field::ArpTpa,
        Field::ArpSha,
        Field::ArpTha,
    ];

    pub(crate) fn slot(self) -> Slot {
        match self {
            Field::InPort => slot(0, 32, 32),
            Field::EthType => slot(0, 16, 16),
            Field::VlanVid => slot(0, 3, 13),
            Field::VlanPcp => slot(0, 0, 3),
            Field::EthDst => slot(1, 16, 48),
            Field::IpProto => slot(1, 8, 8),
            Field::IpDscp => slot(1, 2, 6),
            Field::IpEcn => slot(1, 0, 2),
            Field::EthSrc => slot(2, 16, 48),
            Field::ArpOp => slot(2, 0, 16),
            Field::TcpSrc | Field::UdpSrc => slot(3, 48, 16),
            Field::TcpDst | Field::UdpDst => slot(3, 32, 16),
            Field::Icmpv4Type | Field::Icmpv6Type => slot(3, 48, 8),
            Field::Icmpv4Code | Field::Icmpv6Code => slot(3, 32, 8),
            Field::Metadata => slot(4, 0, 64),
            Field::TunnelId => slot(5, 0, 64),
            Field::Ipv6Src => slot(6, 0, 128),
            Field::Ipv4Src | Field::ArpSpa => slot(7, 0, 32),
            Field::Ipv6Dst => slot(8, 0, 128),
            Field::Ipv4Dst | Field::ArpTpa => slot(9, 0, 32),
            Field::ArpSha => slot(10, 0, 48),
            Field::ArpTha => slot(11, 0, 48),
        }
    }

    /// Width of the field in bits.
    pub fn bits(self) -> u32 {
        self.slot().bits
    }

    /// Width on the wire (OXM payload without mask), in bytes.
    pub fn wire_len(self) -> usize {
        match self {
            Field::VlanVid => 2,
            Field::VlanPcp | Field::IpDscp | Field::IpEcn | Field::IpProto => 1,
            Field::Icmpv4Type | Field::Icmpv4Code | Field::Icmpv6Type | Field::Icmpv6Code => 1,
            f => f.bits().div_ceil(8) as usize,
        }
    }

    /// All ones over the field's width.
    pub fn full_mask(self) -> u128 {
        let b = self.bits();
        if b >= 128 {
            u128::MAX
        } else {
            (1u128 << b) - 1
        }
    }

    /// Whether OpenFlow lets a match give this field a partial mask.
    pub fn maskable(self) -> bool {
        matches!(
            self,
            Field::Metadata
                | Field::TunnelId
                | Field::EthDst
                | Field::EthSrc
                | Field::VlanVid
                | Field::Ipv4Src
                | Field::Ipv4Dst
                | Field::Ipv6Src
                | Field::Ipv6Dst
                | Field::ArpSpa
                | Field::ArpTpa
                | Field::ArpSha
                | Field::ArpTha
        )
    }

    pub fn prerequisite(self) -> Prerequisite {
        const IP: &[u16] = &[EtherType::IPV4, EtherType::IPV6];
        const V4: &[u16] = &[EtherType::IPV4];
        const V6: &[u16] = &[EtherType::IPV6];
        const ARP: &[u16] = &[EtherType::ARP];
        match self {
            Field::VlanPcp => Prerequisite::VlanPresent,
            Field::IpDscp | Field::IpEcn | Field::IpProto => Prerequisite::EthType(IP),
            Field::Ipv4Src | Field::Ipv4Dst => Prerequisite::EthType(V4),
            Field::Ipv6Src | Field::Ipv6Dst => Prerequisite::EthType(V6),
            Field::ArpOp | Field::ArpSpa | Field::ArpTpa | Field::ArpSha | Field::ArpTha => {
                Prerequisite::EthType(ARP)
            }
            Field::TcpSrc | Field::TcpDst => Prerequisite::IpProto(0, IPPROTO_TCP),
            Field::UdpSrc | Field::UdpDst => Prerequisite::IpProto(0, IPPROTO_UDP),
            Field::Icmpv4Type | Field::Icmpv4Code => {
                Prerequisite::IpProto(EtherType::IPV4, IPPROTO_ICMP)
            }
            Field::Icmpv6Type | Field::Icmpv6Code => {
                Prerequisite::IpProto(EtherType::IPV6, IPPROTO_ICMPV6)
            }
            _ => Prerequisite::None,
        }
    }

    /// Whether a `set_field` action may write it (the pipeline's own
    /// fields and the ones we cannot rewrite in a frame are refused).
    pub fn settable(self) -> bool {
        matches!(
            self,
            Field::Metadata
                | Field::TunnelId
                | Field::EthDst
                | Field::EthSrc
                | Field::VlanVid
                | Field::VlanPcp
                | Field::IpDscp
                | Field::IpEcn
                | Field::Ipv4Src
                | Field::Ipv4Dst
                | Field::TcpSrc
                | Field::TcpDst
                | Field::UdpSrc
                | Field::UdpDst
        )
    }

    /// Reads the field from a key (or from a match's value or mask).
    pub fn get(self, key: &Key) -> u128 {
        let s = self.slot();
        if s.bits == 128 {
            return ((key[s.word] as u128) << 64) | key[s.word + 1] as u128;
        }
        let m = if s.bits == 64 {
            u64::MAX
        } else {
            (1u64 << s.bits) - 1
        };
        ((key[s.word] >> s.shift) & m) as u128
    }

    /// Writes the field into a key; bits beyond its width are dropped.
    pub fn put(self, key: &mut Key, value: u128) {
        let s = self.slot();
        if s.bits == 128 {
            key[s.word] = (value >> 64) as u64;
            key[s.word + 1] = value as u64;
            return;
        }
        let m = if s.bits == 64 {
            u64::MAX
        } else {
            (1u64 << s.bits) - 1
        };
        key[s.word] = (key[s.word] & !(m << s.shift)) | (((value as u64) & m) << s.shift);
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be48(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v[2..].copy_from_slice(&b[at..at + 6]);
    u64::from_be_bytes(v)
}

fn be128(b: &[u8], at: usize) -> u128 {
    let mut v = [0u8; 16];
    v.copy_from_slice(&b[at..at + 16]);
    u128::from_be_bytes(v)
}

/// Parses the headers of `frame`, received on OpenFlow port `in_port`, into
/// a key. Layers that are cut short are left zero, as a switch sees them:
/// a truncated TCP header has no ports to match. `None` when the frame is
/// too short to be Ethernet, or is IPv6 whose extension headers cannot be
/// walked to the transport layer.
pub fn extract(frame: &[u8], in_port: u32) -> Option<Key> {
    if frame.len() < 14 {
        return None;
    }
    let mut k: Key = [0; KEY_WORDS];
    let mut at = 12;
    let mut ethertype = be16(frame, at);
    let mut vlan: u64 = 0;
    if ethertype == EtherType::VLAN {
        if frame.len() < 18 {
            return None;
        }
        let tci = be16(frame, 14);
        vlan = (((VID_PRESENT | (tci & 0x0fff)) as u64) << 3) | (tci >> 13) as u64;
        at = 16;
        ethertype = be16(frame, at);
    }
    at += 2;
    k[0] = ((in_port as u64) << 32) | ((ethertype as u64) << 16) | vlan;
    k[1] = be48(frame, 0) << 16;
    k[2] = be48(frame, 6) << 16;
    let l3 = &frame[at..];
    match ethertype {
        EtherType::IPV4 if l3.len() >= 20 && l3[0] >> 4 == 4 => {
            let ihl = ((l3[0] & 0x0f) as usize) * 4;
            let proto = l3[9];
            k[1] |= ((proto as u64) << 8) | l3[1] as u64;
            k[7] = be32(l3, 12) as u64;
            k[9] = be32(l3, 16) as u64;
            // Only the first fragment carries the transport header.
            let first = be16(l3, 6) & 0x1fff == 0;
            if first && ihl >= 20 {
                k[3] = transport(proto, l3.get(ihl..).unwrap_or(&[]), IPPROTO_ICMP);
            }
        }
        EtherType::IPV6 if l3.len() >= 40 && l3[0] >> 4 == 6 => {
            // Past the extension headers, as the access lists see it: a
            // Destination Options header must not hide TCP port 22.
            let l3 = &l3[..l3.len().min(40 + be16(l3, 4) as usize)];
            let chain = Ipv6Chain::walk(l3);
            if chain.opaque {
                // Unreadable to the transport layer, so no rule could be
                // judged on it: dropped as malformed (the lists drop it too).
                return None;
            }
            let (proto, l4) = match (chain.upper, chain.fragment) {
                (Some((p, at)), _) => (p, l3.get(at..).unwrap_or(&[])),
                // A later fragment: its protocol, and no ports.
                (None, Some((p, true))) => (p, &[][..]),
                _ => (IPPROTO_NONE, &[][..]),
            };
            let tc = (be16(l3, 0) >> 4) as u8;
            k[1] |= ((proto as u64) << 8) | tc as u64;
            let (s, d) = (be128(l3, 8), be128(l3, 24));
            k[6] = (s >> 64) as u64;
            k[7] = s as u64;
            k[8] = (d >> 64) as u64;
            k[9] = d as u64;
            k[3] = transport(proto, l4, IPPROTO_ICMPV6);
        }
        EtherType::ARP if l3.len() >= 28 && be16(l3, 0) == 1 && be16(l3, 2) == 0x0800 => {
            k[2] |= be16(l3, 6) as u64;
            k[10] = be48(l3, 8);
            k[7] = be32(l3, 14) as u64;
            k[11] = be48(l3, 18);
            k[9] = be32(l3, 24) as u64;
        }
        _ => {}
    }
    Some(k)
}

/// The transport word: ports for TCP/UDP, type and code for ICMP.
fn transport(proto: u8, l4: &[u8], icmp: u8) -> u64 {
    match proto {
        IPPROTO_TCP | IPPROTO_UDP if l4.len() >= 4 => {
            ((be16(l4, 0) as u64) << 48) | ((be16(l4, 2) as u64) << 32)
        }
        p if p == icmp && l4.len() >= 2 => ((l4[0] as u64) << 48) | ((l4[1] as u64) << 32),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_frame() -> Vec<u8> {
        let mut f = vec![
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0, 0xa0, 0x0a, 0x08, 0x00,
        ];
        let mut ip = vec![0x45, 0xb8, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
        f
    }

    #[test]
    fn every_field_of_a_tagged_udp_frame() {
        let k = extract(&udp_frame(), 3).expect("ethernet");
        assert_eq!(Field::InPort.get(&k), 3);
        assert_eq!(Field::EthDst.get(&k), 0x0200_0000_0002);
        assert_eq!(Field::EthSrc.get(&k), 0x0200_0000_0001);
        assert_eq!(Field::EthType.get(&k), 0x0800);
        assert_eq!(Field::VlanVid.get(&k), 0x1000 | 10);
        assert_eq!(Field::VlanPcp.get(&k), 5);
        assert_eq!(Field::IpProto.get(&k), 17);
        assert_eq!(Field::IpDscp.get(&k), 0xb8 >> 2);
        assert_eq!(Field::IpEcn.get(&k), 0);
        assert_eq!(Field::Ipv4Src.get(&k), 0x0a00_0001);
        assert_eq!(Field::Ipv4Dst.get(&k), 0x0a00_0002);
        assert_eq!(Field::UdpSrc.get(&k), 5000);
        assert_eq!(Field::UdpDst.get(&k), 53);
    }

    #[test]
    fn truncated_layers_stay_zero() {
        let f = udp_frame();
        let k = extract(&f[..f.len() - 6], 1).expect("ethernet");
        assert_eq!(Field::Ipv4Src.get(&k), 0x0a00_0001);
        assert_eq!(Field::UdpSrc.get(&k), 0);
        assert!(extract(&f[..13], 1).is_none());
        assert!(extract(&f[..15], 1).is_none());
    }

    #[test]
    fn put_and_get_round_trip_without_touching_neighbours() {
        for f in Field::ALL {
            let mut k = [u64::MAX; KEY_WORDS];
            f.put(&mut k, 0);
            assert_eq!(f.get(&k), 0, "{f:?}");
            f.put(&mut k, f.full_mask());
            assert_eq!(k, [u64::MAX; KEY_WORDS], "{f:?}");
        }
    }
}
