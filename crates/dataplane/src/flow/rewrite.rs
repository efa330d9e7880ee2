//! Writing a frame with the header changes a flow's actions made.
//!
//! The executor records the changed packet key; the datapath calls
//! [`Rewrite::write`] for each copy that refers to it, with the frame's
//! [`Parsed`] headers (nothing is read again). MAC addresses, the
//! VLAN tag (its TPID and priority), IPv4 addresses, DSCP/ECN, TTL and TCP/UDP
//! ports are written; the IPv4 header checksum is recomputed and the
//! TCP/UDP checksum adjusted incrementally (RFC 1624), also when the
//! sender left it for the hardware to finish (the field then holds the
//! pseudo-header sum, which only the address changes touch).

use crate::key::{Field, Key, IPPROTO_TCP, IPPROTO_UDP};
use crate::parsed::Parsed;
use vepa_packet::checksum;

/// The packet a flow's actions made, for the copies sent after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub key: Key,
    /// The TPID a pushed tag gets.
    pub tpid: u16,
    /// How many times the TTL / hop limit was decremented.
    pub ttl_dec: u8,
}

/// One's-complement add of 16-bit words.
fn add(a: u32, b: u16) -> u32 {
    a + b as u32
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Adjusts a checksum field for `old` bytes becoming `new` (same length,
/// even). `stored_inverted`: the field holds a finished checksum (else a
/// partial, not inverted, sum).
fn adjust(field: u16, old: &[u8], new: &[u8], stored_inverted: bool) -> u16 {
    let mut s: u32 = if stored_inverted { !field } else { field } as u32;
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        s = add(s, !u16::from_be_bytes([o[0], o[1]]));
        s = add(s, u16::from_be_bytes([n[0], n[1]]));
    }
    let f = fold(s);
    if stored_inverted {
        !f
    } else {
        f
    }
}

impl Rewrite {
    /// Writes `frame` changed as this rewrite says, tagged `tag` (a VID,
    /// or untagged for `None`), into `out`. `partial_csum`: the frame's
    /// TCP/UDP checksum is left for the hardware (virtio `NEEDS_CSUM`).
    pub fn write(
        &self,
        parsed: &Parsed<'_>,
        tag: Option<u16>,
        partial_csum: bool,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let frame = parsed.as_bytes();
        let hl = parsed.header_len();
        let k = &self.key;
        out.extend_from_slice(&(Field::EthDst.get(k) as u64).to_be_bytes()[2..]);
        out.extend_from_slice(&(Field::EthSrc.get(k) as u64).to_be_bytes()[2..]);
        if let Some(vid) = tag {
            let pcp = Field::VlanPcp.get(k) as u16;
            out.extend_from_slice(&self.tpid.to_be_bytes());
            out.extend_from_slice(&((pcp << 13) | (vid & 0x0fff)).to_be_bytes());
        }
        out.extend_from_slice(&frame[hl - 2..]);
        let l3 = out.len() - (frame.len() - hl);
        match parsed.ethertype() {
            0x0800 => self.ipv4(out, l3, partial_csum),
            0x86dd => self.ipv6(out, l3, parsed.ipv6_upper(), partial_csum),
            _ => {}
        }
    }

    fn ipv4(&self, out: &mut [u8], l3: usize, partial: bool) {
        let Some(ip) = out.get(l3..l3 + 20) else {
            return;
        };
        let ihl = (ip[0] & 0x0f) as usize * 4;
        if ip[0] >> 4 != 4 || ihl < 20 || out.len() < l3 + ihl {
            return;
        }
        let k = &self.key;
        let tos = ((Field::IpDscp.get(k) as u8) << 2) | Field::IpEcn.get(k) as u8;
        let ttl = out[l3 + 8].saturating_sub(self.ttl_dec);
        let src = (Field::Ipv4Src.get(k) as u32).to_be_bytes();
        let dst = (Field::Ipv4Dst.get(k) as u32).to_be_bytes();
        let mut old_addrs = [0u8; 8];
        old_addrs.copy_from_slice(&out[l3 + 12..l3 + 20]);
        let mut new_addrs = [0u8; 8];
        new_addrs[..4].copy_from_slice(&src);
        new_addrs[4..].copy_from_slice(&dst);
        let changed = out[l3 + 1] != tos || out[l3 + 8] != ttl || old_addrs != new_addrs;
        if !changed && !self.ports_differ(out, l3 + ihl, out[l3 + 9]) {
            return;
        }
        out[l3 + 1] = tos;
        out[l3 + 8] = ttl;
        out[l3 + 12..l3 + 20].copy_from_slice(&new_addrs);
        out[l3 + 10] = 0;
        out[l3 + 11] = 0;
        let c = checksum::finish(checksum::sum_words(0, &out[l3..l3 + ihl]));
        out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        // Later fragments carry no transport header.
        if u16::from_be_bytes([out[l3 + 6], out[l3 + 7]]) & 0x1fff != 0 {
            return;
        }
        self.transport(out, l3 + ihl, out[l3 + 9], &old_addrs, &new_addrs, partial);
    }

    /// `upper`: the upper-layer protocol and its offset, as the frame's
    /// headers were read.
    fn ipv6(&self, out: &mut [u8], l3: usize, upper: Option<(u8, usize)>, partial: bool) {
        if out.len() < l3 + 40 || out[l3] >> 4 != 6 {
            return;
        }
        let k = &self.key;
        let tc = ((Field::IpDscp.get(k) as u16) << 2) | Field::IpEcn.get(k) as u16;
        let w = u16::from_be_bytes([out[l3], out[l3 + 1]]);
        let w = (w & 0xf00f) | (tc << 4);
        out[l3..l3 + 2].copy_from_slice(&w.to_be_bytes());
        out[l3 + 7] = out[l3 + 7].saturating_sub(self.ttl_dec);
        // The ports are past the extension headers, where the key found them.
        if let Some((proto, at)) = upper {
            self.transport(out, l3 + at, proto, &[], &[], partial);
        }
    }

    fn ports_differ(&self, out: &[u8], l4: usize, proto: u8) -> bool {
        if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
            return false;
        }
        let Some(p) = out.get(l4..l4 + 4) else {
            return false;
        };
        let (s, d) = (Field::TcpSrc.get(&self.key), Field::TcpDst.get(&self.key));
        u16::from_be_bytes([p[0], p[1]]) as u128 != s
            || u16::from_be_bytes([p[2], p[3]]) as u128 != d
    }

    /// New ports, and the checksum adjusted for them and for the
    /// pseudo-header's addresses (`old_addrs` → `new_addrs`).
    fn transport(
        &self,
        out: &mut [u8],
        l4: usize,
        proto: u8,
        old_addrs: &[u8],
        new_addrs: &[u8],
        partial: bool,
    ) {
        let at = match proto {
            IPPROTO_TCP => 16,
            IPPROTO_UDP => 6,
            _ => return,
        };
        if out.len() < l4 + at + 2 || out.len() < l4 + 4 {
            return;
        }
        let mut old_ports = [0u8; 4];
        old_ports.copy_from_slice(&out[l4..l4 + 4]);
        let mut new_ports = [0u8; 4];
        new_ports[..2].copy_from_slice(&(Field::TcpSrc.get(&self.key) as u16).to_be_bytes());
        new_ports[2..].copy_from_slice(&(Field::TcpDst.get(&self.key) as u16).to_be_bytes());
        out[l4..l4 + 4].copy_from_slice(&new_ports);
        let field = u16::from_be_bytes([out[l4 + at], out[l4 + at + 1]]);
        if proto == IPPROTO_UDP && field == 0 && !partial {
            return; // no checksum
        }
        let mut c = adjust(field, old_addrs, new_addrs, !partial);
        if !partial {
            c = adjust(c, &old_ports, &new_ports, true);
            if proto == IPPROTO_UDP && c == 0 {
                c = 0xffff;
            }
        }
        out[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::extract;

    /// An untagged IPv4/UDP frame with a correct checksum.
    fn udp() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]);
        let c = checksum::finish(checksum::sum_words(0, &f[14..34]));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert!(checksum::fill_l4_checksum(&mut f));
        f
    }

    #[test]
    fn rewritten_fields_keep_checksums_right() {
        let f = udp();
        let mut key = extract(&f, 1).expect("eth");
        Field::EthDst.put(&mut key, 0x0200_0000_0009);
        Field::Ipv4Dst.put(&mut key, 0xc0a8_0101);
        Field::UdpDst.put(&mut key, 5353);
        Field::IpDscp.put(&mut key, 46);
        let r = Rewrite {
            key,
            tpid: 0x8100,
            ttl_dec: 1,
        };
        let mut out = Vec::new();
        r.write(&Parsed::new(&f).expect("eth"), Some(7), false, &mut out);
        let k = extract(&out, 1).expect("eth");
        assert_eq!(Field::VlanVid.get(&k), 0x1000 | 7);
        assert_eq!(Field::EthDst.get(&k), 0x0200_0000_0009);
        assert_eq!(Field::Ipv4Dst.get(&k), 0xc0a8_0101);
        assert_eq!(Field::UdpDst.get(&k), 5353);
        assert_eq!(Field::IpDscp.get(&k), 46);
        assert_eq!(out[18 + 8], 63, "ttl");
        // Both checksums verify: recomputing them changes nothing.
        let ip = &out[18..38];
        assert_eq!(checksum::finish(checksum::sum_words(0, ip)), 0);
        let mut again = out.clone();
        assert!(checksum::fill_l4_checksum(&mut again));
        assert_eq!(again, out);
    }

    #[test]
    fn untouched_key_writes_the_same_frame() {
        let f = udp();
        let key = extract(&f, 1).expect("eth");
        let r = Rewrite {
            key,
            tpid: 0x8100,
            ttl_dec: 0,
        };
        let mut out = Vec::new();
        r.write(&Parsed::new(&f).expect("eth"), None, false, &mut out);
        assert_eq!(out, f);
    }
}
