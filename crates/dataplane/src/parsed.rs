//! A frame's headers, read once where it enters a switch or a router and
//! handed to everything that looks at it there: the storm gate, the
//! decision cache, the port's guard and access lists, the flow tables
//! (their key), NORMAL, the rewrites, the router and the emitter.
//!
//! Two reads, each done at most once per frame and element:
//! - the link layer ([`Parsed::new`]): MACs, the outer 802.1Q tag, the
//!   EtherType and where the payload starts. Every frame needs it.
//! - the network layer ([`Parsed::network`]): the checked IPv4, IPv6 or
//!   ARP header, with the IPv6 extension chain walked. Only frames that
//!   meet the flow tables, a filter or a router need it, so it is read on
//!   first use and kept. The flow key and the filters' [`L3Packet`] are
//!   packed from it (fields at the offsets it found).
//!
//! No other code in this crate reads a frame's headers from its bytes
//! (`scripts/layers.py` checks it); in tests, [`counts`] tells how often
//! each read ran, which is how the "once" is held to.

use crate::key::{self, Key, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_NONE, KEY_WORDS};
use crate::l3::L3Packet;
use std::cell::{Cell, OnceCell};
use vepa_packet::ip::{Ipv4View, Ipv6Chain, Ipv6View};
use vepa_packet::{ArpPacket, EtherType, MacAddr, VlanTag, ETH_HEADER_LEN, VLAN_TAG_LEN};

/// What the network-layer read found, as offsets (small enough to live
/// in registers: views are made of it on demand).
#[derive(Debug, Clone, Copy)]
struct Net {
    kind: Kind,
    /// IP: the packet's length from its header on, as checked.
    end: u32,
    /// IPv6: the extension chain.
    upper: Option<(u8, u32)>,
    fragment: Option<(u8, bool)>,
    opaque: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Other,
    Ipv4,
    Ipv6,
    Arp,
    /// An IP or ARP header that did not check out.
    BadIpv4,
    BadIpv6,
    BadArp,
}

/// One frame's headers; borrows the frame.
#[derive(Debug)]
pub struct Parsed<'f> {
    frame: &'f [u8],
    tagged: bool,
    ethertype: u16,
    /// The network layer, once read.
    net: Cell<Option<Net>>,
    l3: OnceCell<Option<L3Packet>>,
}

/// The network layer as it parsed.
#[derive(Debug, Clone, Copy)]
pub enum Network<'f> {
    /// Neither IP nor ARP.
    Other,
    /// ARP; `None` when it is not Ethernet/IPv4 ARP or is cut short.
    Arp(Option<ArpPacket<&'f [u8]>>),
    /// IPv4; `None` when the header does not check out.
    Ipv4(Option<Ipv4View<'f>>),
    /// IPv6; `None` when the header does not check out.
    Ipv6(Option<Ipv6View<'f>>),
}

impl<'f> Parsed<'f> {
    /// Reads the link layer; `None` when `frame` is too short for its
    /// Ethernet header (and tag, if it says it has one).
    #[inline]
    pub fn new(frame: &'f [u8]) -> Option<Parsed<'f>> {
        count::link();
        if frame.len() < ETH_HEADER_LEN {
            return None;
        }
        let outer = u16::from_be_bytes([frame[12], frame[13]]);
        let tagged = outer == EtherType::VLAN;
        if tagged && frame.len() < ETH_HEADER_LEN + VLAN_TAG_LEN {
            return None;
        }
        let at = if tagged { 16 } else { 12 };
        Some(Parsed {
            frame,
            tagged,
            ethertype: u16::from_be_bytes([frame[at], frame[at + 1]]),
            net: Cell::new(None),
            l3: OnceCell::new(),
        })
    }

    /// The whole frame.
    #[inline]
    pub fn as_bytes(&self) -> &'f [u8] {
        self.frame
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    #[inline]
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_slice(&self.frame[0..6])
    }

    #[inline]
    pub fn src(&self) -> MacAddr {
        MacAddr::from_slice(&self.frame[6..12])
    }

    /// The outer 802.1Q tag.
    #[inline]
    pub fn vlan(&self) -> Option<VlanTag> {
        self.tagged
            .then(|| VlanTag::from_tci(u16::from_be_bytes([self.frame[14], self.frame[15]])))
    }

    /// The outer tag's VID.
    #[inline]
    pub fn vid(&self) -> Option<u16> {
        self.vlan().map(|t| t.vid)
    }

    /// The payload's EtherType, past the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// Bytes before the payload: 14, or 18 with a tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.tagged {
            ETH_HEADER_LEN + VLAN_TAG_LEN
        } else {
            ETH_HEADER_LEN
        }
    }

    #[inline]
    pub fn payload(&self) -> &'f [u8] {
        &self.frame[self.header_len()..]
    }

    /// Writes the frame into `out` with its outer tag replaced by `tag`
    /// (`None`: untagged); a tag that is rewritten keeps its priority.
    pub fn write_retagged(&self, tag: Option<u16>, out: &mut Vec<u8>) {
        vepa_packet::retag(self.frame, self.vlan(), self.header_len(), tag, out)
    }

    /// The network layer.
    #[inline]
    pub fn network(&self) -> Network<'f> {
        let n = self.net();
        let l3 = self.payload();
        match n.kind {
            Kind::Other => Network::Other,
            Kind::Ipv4 => Network::Ipv4(Some(Ipv4View::reparsed(&l3[..n.end as usize]))),
            Kind::Ipv6 => Network::Ipv6(Some(Ipv6View::reparsed(&l3[..n.end as usize], n.chain()))),
            Kind::Arp => Network::Arp(Some(ArpPacket::reparsed(l3))),
            Kind::BadIpv4 => Network::Ipv4(None),
            Kind::BadIpv6 => Network::Ipv6(None),
            Kind::BadArp => Network::Arp(None),
        }
    }

    #[inline]
    fn net(&self) -> Net {
        if let Some(n) = self.net.get() {
            return n;
        }
        let n = self.read_network();
        self.net.set(Some(n));
        n
    }

    #[inline]
    pub fn ipv4(&self) -> Option<Ipv4View<'f>> {
        match self.network() {
            Network::Ipv4(v) => v,
            _ => None,
        }
    }

    #[inline]
    pub fn ipv6(&self) -> Option<Ipv6View<'f>> {
        match self.network() {
            Network::Ipv6(v) => v,
            _ => None,
        }
    }

    #[inline]
    pub fn arp(&self) -> Option<ArpPacket<&'f [u8]>> {
        match self.network() {
            Network::Arp(a) => a,
            _ => None,
        }
    }

    /// What a filter judges; `None` for frames that are not IP or whose
    /// IP header does not check out.
    pub fn l3(&self) -> Option<&L3Packet> {
        self.l3
            .get_or_init(|| match self.network() {
                Network::Ipv4(Some(v)) => Some(L3Packet::from_ipv4(&v)),
                Network::Ipv6(Some(v)) => Some(L3Packet::from_ipv6(&v)),
                _ => None,
            })
            .as_ref()
    }

    /// The flow key of this frame received on OpenFlow port `in_port`;
    /// `None` when the headers cannot be read to the transport layer.
    /// Packed anew from the network layer as read (a switch asks once
    /// per frame and hands the key on).
    #[inline]
    pub fn key(&self, in_port: u32) -> Option<Key> {
        self.pack_key(in_port)
    }

    /// IPv6: the upper-layer protocol and its offset from the IP header
    /// (also in a packet cut short).
    pub fn ipv6_upper(&self) -> Option<(u8, usize)> {
        let n = self.net();
        match n.kind {
            Kind::Ipv6 => n.chain().upper,
            Kind::BadIpv6 => self.ipv6_cut().and_then(|(_, c)| c.upper),
            _ => None,
        }
    }

    /// IPv6 whose header did not check out (cut short) but is long
    /// enough to walk: its bytes and chain, as a switch sees them.
    fn ipv6_cut(&self) -> Option<(&'f [u8], Ipv6Chain)> {
        let l3 = self.payload();
        if l3.len() < 40 || l3[0] >> 4 != 6 {
            return None;
        }
        let b = &l3[..l3.len().min(40 + be16(l3, 4) as usize)];
        Some((b, Ipv6Chain::walk(b)))
    }

    /// The IPv4 TTL or IPv6 hop limit, read where the header has it.
    #[inline]
    pub fn ttl(&self) -> Option<u8> {
        let l3 = self.header_len();
        match self.ethertype {
            EtherType::IPV4 => self.frame.get(l3 + 8).copied(),
            EtherType::IPV6 => self.frame.get(l3 + 7).copied(),
            _ => None,
        }
    }

    /// The one read of the network layer: the header checked, the IPv6
    /// chain walked.
    fn read_network(&self) -> Net {
        count::network();
        let l3 = self.payload();
        let mut n = Net {
            kind: Kind::Other,
            end: 0,
            upper: None,
            fragment: None,
            opaque: false,
        };
        match self.ethertype {
            EtherType::IPV4 => match Ipv4View::parse(l3) {
                Ok(v) => {
                    n.kind = Kind::Ipv4;
                    n.end = v.total_len() as u32;
                }
                Err(_) => n.kind = Kind::BadIpv4,
            },
            EtherType::IPV6 => match Ipv6View::parse(l3) {
                Ok(v) => {
                    let c = v.chain();
                    n.kind = Kind::Ipv6;
                    n.end = v.total_len() as u32;
                    n.upper = c.upper.map(|(p, at)| (p, at as u32));
                    n.fragment = c.fragment;
                    n.opaque = c.opaque;
                }
                Err(_) => n.kind = Kind::BadIpv6,
            },
            EtherType::ARP => {
                n.kind = match ArpPacket::new_checked(l3) {
                    Ok(_) => Kind::Arp,
                    Err(_) => Kind::BadArp,
                }
            }
            _ => {}
        }
        n
    }

    /// The flow key packed from the headers as read.
    #[inline]
    fn pack_key(&self, in_port: u32) -> Option<Key> {
        let f = self.frame;
        let mut k: Key = [0; KEY_WORDS];
        let vlan = if self.tagged {
            let tci = be16(f, 14);
            (((key::VID_PRESENT | (tci & 0x0fff)) as u64) << 3) | (tci >> 13) as u64
        } else {
            0
        };
        k[0] = ((in_port as u64) << 32) | ((self.ethertype as u64) << 16) | vlan;
        k[1] = be48(f, 0) << 16;
        k[2] = be48(f, 6) << 16;
        let n = self.net();
        let l3 = self.payload();
        match n.kind {
            Kind::Ipv4 => {
                let b = &l3[..n.end as usize];
                let proto = b[9];
                k[1] |= ((proto as u64) << 8) | b[1] as u64;
                k[7] = be32(b, 12) as u64;
                k[9] = be32(b, 16) as u64;
                if be16(b, 6) & 0x1fff == 0 {
                    let ihl = (b[0] & 0x0f) as usize * 4;
                    k[3] = transport(proto, &b[ihl..], IPPROTO_ICMP);
                }
            }
            Kind::BadIpv4 => ipv4_lenient(l3, &mut k),
            Kind::Ipv6 => ipv6_key(&l3[..n.end as usize], n.chain(), &mut k)?,
            Kind::BadIpv6 => {
                if let Some((b, chain)) = self.ipv6_cut() {
                    ipv6_key(b, chain, &mut k)?;
                }
            }
            Kind::Arp | Kind::BadArp => {
                let l3 = self.payload();
                if l3.len() >= 28 && be16(l3, 0) == 1 && be16(l3, 2) == 0x0800 {
                    k[2] |= be16(l3, 6) as u64;
                    k[10] = be48(l3, 8);
                    k[7] = be32(l3, 14) as u64;
                    k[11] = be48(l3, 18);
                    k[9] = be32(l3, 24) as u64;
                }
            }
            Kind::Other => {}
        }
        Some(k)
    }
}

impl Net {
    fn chain(&self) -> Ipv6Chain {
        Ipv6Chain {
            upper: self.upper.map(|(p, at)| (p, at as usize)),
            fragment: self.fragment,
            opaque: self.opaque,
        }
    }
}

/// The IPv6 words of a key; `None` when the chain cannot be walked to
/// the transport layer (no rule could be judged on it: the lists drop
/// it too).
fn ipv6_key(b: &[u8], chain: Ipv6Chain, k: &mut Key) -> Option<()> {
    if chain.opaque {
        return None;
    }
    let (proto, l4) = match (chain.upper, chain.fragment) {
        (Some((p, at)), _) => (p, b.get(at..).unwrap_or(&[])),
        // A later fragment: its protocol, and no ports.
        (None, Some((p, true))) => (p, &[][..]),
        _ => (IPPROTO_NONE, &[][..]),
    };
    let tc = (be16(b, 0) >> 4) as u8;
    k[1] |= ((proto as u64) << 8) | tc as u64;
    let (s, d) = (be128(b, 8), be128(b, 24));
    k[6] = (s >> 64) as u64;
    k[7] = s as u64;
    k[8] = (d >> 64) as u64;
    k[9] = d as u64;
    k[3] = transport(proto, l4, IPPROTO_ICMPV6);
    Some(())
}

/// An IPv4 header that did not check out (cut short, say): the key gets
/// what can be read, layers cut short left zero.
fn ipv4_lenient(l3: &[u8], k: &mut Key) {
    if l3.len() < 20 || l3[0] >> 4 != 4 {
        return;
    }
    let ihl = ((l3[0] & 0x0f) as usize) * 4;
    let proto = l3[9];
    k[1] |= ((proto as u64) << 8) | l3[1] as u64;
    k[7] = be32(l3, 12) as u64;
    k[9] = be32(l3, 16) as u64;
    // Only the first fragment carries the transport header.
    if be16(l3, 6) & 0x1fff == 0 && ihl >= 20 {
        k[3] = transport(proto, l3.get(ihl..).unwrap_or(&[]), IPPROTO_ICMP);
    }
}

/// The transport word: ports for TCP/UDP, type and code for ICMP.
fn transport(proto: u8, l4: &[u8], icmp: u8) -> u64 {
    match proto {
        key::IPPROTO_TCP | key::IPPROTO_UDP if l4.len() >= 4 => {
            ((be16(l4, 0) as u64) << 48) | ((be16(l4, 2) as u64) << 32)
        }
        p if p == icmp && l4.len() >= 2 => ((l4[0] as u64) << 48) | ((l4[1] as u64) << 32),
        _ => 0,
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

/// How many times, on this thread, each layer was read (tests only; a
/// no-op otherwise).
pub mod counts {
    #[cfg(test)]
    thread_local! {
        static READS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }

    /// Link-layer and network-layer reads since the last call; resets both.
    #[cfg(test)]
    pub fn take() -> (u64, u64) {
        READS.with(|c| c.replace((0, 0)))
    }

    #[cfg(test)]
    pub(super) fn bump(link: u64, network: u64) {
        READS.with(|c| {
            let (a, b) = c.get();
            c.set((a + link, b + network));
        });
    }
}

mod count {
    #[inline]
    pub fn link() {
        #[cfg(test)]
        super::counts::bump(1, 0);
    }

    #[inline]
    pub fn network() {
        #[cfg(test)]
        super::counts::bump(0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Field;

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
        let f = udp_frame();
        let k = Parsed::new(&f).and_then(|p| p.key(3)).expect("ethernet");
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
        let k = Parsed::new(&f[..f.len() - 6])
            .and_then(|p| p.key(1))
            .expect("ethernet");
        assert_eq!(Field::Ipv4Src.get(&k), 0x0a00_0001);
        assert_eq!(Field::UdpSrc.get(&k), 0);
        assert!(Parsed::new(&f[..13]).is_none());
        assert!(Parsed::new(&f[..15]).is_none());
    }

    #[test]
    fn each_layer_is_read_once_however_often_it_is_asked() {
        let f = udp_frame();
        counts::take();
        let p = Parsed::new(&f).expect("ethernet");
        for _ in 0..3 {
            let _ = (p.key(1), p.l3(), p.ipv4(), p.dst(), p.vid());
        }
        assert_eq!(counts::take(), (1, 1));
        // A frame nobody asks about past the link layer is read no further.
        let p = Parsed::new(&f).expect("ethernet");
        let _ = (p.dst(), p.src(), p.vid(), p.ethertype());
        assert_eq!(counts::take(), (1, 0));
    }
}
