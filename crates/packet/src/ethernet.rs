//! Ethernet II frames with an optional 802.1Q tag.
//!
//! vepa does VLANs in userspace (this kernel family may lack 802.1Q devices),
//! so the view exposes the outer tag and where the payload starts, and
//! [`write_retagged`] produces the egress form (tag pushed, popped or
//! rewritten) into a reusable buffer without a per-frame allocation.

use crate::{MacAddr, ParseError};

pub const ETH_HEADER_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;

/// EtherType values the switch looks at.
pub struct EtherType;
impl EtherType {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
}

/// The 802.1Q tag control information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
}

impl VlanTag {
    #[inline]
    pub fn from_tci(tci: u16) -> VlanTag {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    #[inline]
    pub fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

/// A checked view of an Ethernet frame.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buf: T,
    tagged: bool,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Validates that the buffer holds a full Ethernet header, and the whole
    /// 802.1Q tag when the frame says it has one.
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        let b = buf.as_ref();
        if b.len() < ETH_HEADER_LEN {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: ETH_HEADER_LEN,
            });
        }
        let outer = u16::from_be_bytes([b[12], b[13]]);
        let tagged = outer == EtherType::VLAN;
        if tagged && b.len() < ETH_HEADER_LEN + VLAN_TAG_LEN {
            return Err(ParseError::Truncated {
                len: b.len(),
                need: ETH_HEADER_LEN + VLAN_TAG_LEN,
            });
        }
        Ok(EthernetFrame { buf, tagged })
    }

    #[inline]
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[0..6])
    }

    #[inline]
    pub fn src(&self) -> MacAddr {
        MacAddr::from_slice(&self.buf.as_ref()[6..12])
    }

    /// The outer 802.1Q tag, if the frame carries one.
    #[inline]
    pub fn vlan(&self) -> Option<VlanTag> {
        let b = self.buf.as_ref();
        self.tagged
            .then(|| VlanTag::from_tci(u16::from_be_bytes([b[14], b[15]])))
    }

    /// The EtherType of the payload, after the tag if there is one.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buf.as_ref();
        let at = self.header_len() - 2;
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        if self.tagged {
            ETH_HEADER_LEN + VLAN_TAG_LEN
        } else {
            ETH_HEADER_LEN
        }
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.buf.as_ref().len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `frame` into `out` with its outer 802.1Q tag replaced by `tag`
/// (`None` sends it untagged). An existing tag's priority bits are kept when
/// a tag is rewritten. `out` is cleared first and only grows, so a buffer
/// reused across frames stops allocating once it has seen the largest one.
pub fn write_retagged<T: AsRef<[u8]>>(
    frame: &EthernetFrame<T>,
    tag: Option<u16>,
    out: &mut Vec<u8>,
) {
    retag(frame.as_bytes(), frame.vlan(), frame.header_len(), tag, out)
}

/// [`write_retagged`] for a caller that parsed the frame its own way:
/// `current` is its outer tag and `header_len` where its payload starts.
pub fn retag(
    frame: &[u8],
    current: Option<VlanTag>,
    header_len: usize,
    tag: Option<u16>,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(&frame[..12]);
    if let Some(vid) = tag {
        let mut t = current.unwrap_or(VlanTag {
            pcp: 0,
            dei: false,
            vid,
        });
        t.vid = vid;
        out.extend_from_slice(&EtherType::VLAN.to_be_bytes());
        out.extend_from_slice(&t.tci().to_be_bytes());
    }
    out.extend_from_slice(&frame[header_len - 2..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: Option<u16>) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        if let Some(t) = tag {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&t.to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x06, 1, 2, 3]);
        f
    }

    #[test]
    fn untagged_view() {
        let b = frame(None);
        let f = EthernetFrame::new_checked(&b[..]).unwrap();
        assert!(f.dst().is_broadcast());
        assert_eq!(f.src().to_string(), "02:00:00:00:00:01");
        assert_eq!(f.vlan(), None);
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert_eq!(f.payload(), &[1, 2, 3]);
    }

    #[test]
    fn tagged_view() {
        let b = frame(Some(0xa00a)); // pcp 5, vid 10
        let f = EthernetFrame::new_checked(&b[..]).unwrap();
        assert_eq!(
            f.vlan(),
            Some(VlanTag {
                pcp: 5,
                dei: false,
                vid: 10
            })
        );
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert_eq!(f.payload(), &[1, 2, 3]);
    }

    #[test]
    fn truncated_frames_are_errors() {
        for len in 0..14 {
            assert!(EthernetFrame::new_checked(&frame(None)[..len]).is_err());
        }
        let tagged = frame(Some(10));
        for len in 14..18 {
            assert!(EthernetFrame::new_checked(&tagged[..len]).is_err());
        }
    }

    #[test]
    fn retagging_round_trips() {
        let untagged = frame(None);
        let f = EthernetFrame::new_checked(&untagged[..]).unwrap();
        let mut out = Vec::new();
        write_retagged(&f, Some(20), &mut out);
        assert_eq!(out, frame(Some(20)));
        let g = EthernetFrame::new_checked(&out[..]).unwrap();
        let mut back = Vec::new();
        write_retagged(&g, None, &mut back);
        assert_eq!(back, untagged);
        // rewriting keeps the priority bits
        let prio = frame(Some(0xa00a));
        let p = EthernetFrame::new_checked(&prio[..]).unwrap();
        write_retagged(&p, Some(30), &mut out);
        assert_eq!(out, frame(Some(0xa01e)));
    }
}
