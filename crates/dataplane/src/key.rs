//! The header fields a flow can match, packed into a fixed array of words
//! (filled from a frame's [`Parsed`](crate::parsed::Parsed) headers).
//!
//! A flow's match is a (value, mask) pair over the same words, so matching
//! is twelve AND-and-compare steps and a classifier can hash a masked key.
//! Fields that never appear together share a slot, as Open vSwitch's
//! `tp_src`/`nw_src` do: TCP, UDP and ICMP ports/types live in one pair of
//! slots, and ARP's protocol addresses in the IPv4 address slots. A match
//! says which one it means through its prerequisites (IP protocol,
//! EtherType), which [`Match::check`](crate::flow::Match::check) enforces.

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

#[cfg(test)]
mod tests {
    use super::*;

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
