//! vepa's reflective-relay probe: a frame an uplink sends to find out
//! whether the adjacent bridge hands frames back down the port they came
//! in on, when no 802.1Qbg EVB peer says so.
//!
//! It is an Ethernet frame with the IEEE's local experimental EtherType
//! (0x88B5, IEEE 802 clause 9.2.4, for exactly this kind of private
//! protocol), a 16-byte magic and a nonce, padded to the minimum frame
//! size. Two are sent from a pair of locally administered MACs: the first
//! (B to A) makes the bridge learn B on our port, the second (A to B) is
//! a known unicast to that same port, which a bridge forwards back only
//! with hairpin on and floods nowhere else. The nonce ties a reflection
//! to the probe that sent it.

use crate::MacAddr;

/// IEEE 802's "local experimental EtherType 1".
pub const PROBE_ETHERTYPE: u16 = 0x88b5;
/// What the payload opens with.
pub const MAGIC: &[u8; 16] = b"vepa-relay-probe";
/// Ethernet header, magic, one byte of which frame of the pair, the nonce.
const LEN: usize = 14 + 16 + 1 + 8;
/// The minimum Ethernet frame (without FCS).
const MIN_FRAME: usize = 60;

/// A probe frame's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayProbe {
    /// 0 for the frame that teaches the bridge, 1 for the one that tests it.
    pub seq: u8,
    pub nonce: u64,
}

impl RelayProbe {
    /// The frame from `src` to `dst`.
    pub fn frame(&self, src: MacAddr, dst: MacAddr) -> Vec<u8> {
        let mut f = Vec::with_capacity(MIN_FRAME);
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&PROBE_ETHERTYPE.to_be_bytes());
        f.extend_from_slice(MAGIC);
        f.push(self.seq);
        f.extend_from_slice(&self.nonce.to_be_bytes());
        debug_assert_eq!(f.len(), LEN);
        f.resize(MIN_FRAME, 0);
        f
    }

    /// Reads an Ethernet payload (after the EtherType) as a probe.
    pub fn parse(payload: &[u8]) -> Option<RelayProbe> {
        let rest = payload.strip_prefix(MAGIC.as_slice())?;
        let (&seq, rest) = rest.split_first()?;
        let nonce = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        Some(RelayProbe { seq, nonce })
    }

    /// Whether an Ethernet payload of EtherType `ethertype` is a probe.
    pub fn is_probe(ethertype: u16, payload: &[u8]) -> bool {
        ethertype == PROBE_ETHERTYPE && payload.starts_with(MAGIC)
    }
}

/// The probe's two MACs for a switch: locally administered unicast
/// addresses (02:...) derived from its name, so each switch has its own
/// pair and keeps it across restarts (a bridge's table is not filled with
/// new ones on every probe).
pub fn probe_macs(switch: &str) -> (MacAddr, MacAddr) {
    let mut h: u32 = 0x811c_9dc5;
    for b in switch.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let b = h.to_be_bytes();
    let a = MacAddr([0x06, 0x76, b[0], b[1], b[2], b[3] & 0xfe]);
    let mut other = a;
    other.0[5] |= 1;
    (a, other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_probe_round_trips_and_is_a_minimum_frame() {
        let (a, b) = probe_macs("host");
        assert_ne!(a, b);
        assert!(!a.is_multicast() && !b.is_multicast());
        assert_eq!(a.0[0] & 0x02, 0x02, "locally administered");
        let p = RelayProbe {
            seq: 1,
            nonce: 0x0102_0304_0506_0708,
        };
        let f = p.frame(a, b);
        assert_eq!(f.len(), 60);
        assert_eq!((&f[..6], &f[6..12]), (&b.0[..], &a.0[..]));
        assert!(RelayProbe::is_probe(0x88b5, &f[14..]));
        assert_eq!(RelayProbe::parse(&f[14..]), Some(p));
        assert_eq!(RelayProbe::parse(&f[14..30]), None, "no nonce");
        assert!(!RelayProbe::is_probe(0x88b6, &f[14..]));
    }

    proptest! {
        #[test]
        fn any_payload_parses_or_not_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RelayProbe::parse(&b);
            let mut m = MAGIC.to_vec();
            m.extend_from_slice(&b);
            let _ = RelayProbe::parse(&m);
        }
    }
}
