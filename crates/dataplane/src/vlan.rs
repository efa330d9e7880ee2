//! 802.1Q membership (a port's VLANs) and its rules: which VLAN a received frame belongs to, and in
//! what form (tagged or not) a port sends a frame of a given VLAN.

use std::fmt;
use vepa_packet::VlanTag;

/// A set of 802.1Q VLAN IDs (1..=4094) as a 4096-bit map.
#[derive(Clone, PartialEq, Eq)]
pub struct VidSet([u64; 64]);

impl VidSet {
    pub fn empty() -> VidSet {
        VidSet([0; 64])
    }

    pub fn insert(&mut self, vid: u16) {
        let v = (vid & 0x0fff) as usize;
        self.0[v / 64] |= 1 << (v % 64);
    }

    pub fn contains(&self, vid: u16) -> bool {
        let v = (vid & 0x0fff) as usize;
        self.0[v / 64] & (1 << (v % 64)) != 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0u16..4096).filter(|v| self.contains(*v))
    }
}

impl FromIterator<u16> for VidSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut s = VidSet::empty();
        for v in iter {
            s.insert(v);
        }
        s
    }
}

impl fmt::Debug for VidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A port's 802.1Q membership.
// The trunk's 512-byte bitmap is inline on purpose: there is one per port,
// and membership is then a single load on the per-frame path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VlanMode {
    /// Untagged frames belong to `vid`; tagged frames (other than priority tags) are refused.
    Access { vid: u16 },
    /// Tagged frames of the allowed VIDs; untagged frames belong to `native`, if set.
    Trunk {
        allowed: VidSet,
        native: Option<u16>,
    },
}

impl Default for VlanMode {
    fn default() -> Self {
        VlanMode::Access { vid: 1 }
    }
}

/// The VLAN a frame received on a port with membership `mode` belongs to,
/// or `None` when the port must refuse it. A priority tag (VID 0) counts as
/// untagged, as 802.1Q says.
pub fn ingress_vid(mode: &VlanMode, tag: Option<VlanTag>) -> Option<u16> {
    let tagged_vid = tag.map(|t| t.vid).filter(|v| *v != 0);
    match (mode, tagged_vid) {
        (VlanMode::Access { vid }, None) => Some(*vid),
        (VlanMode::Access { .. }, Some(_)) => None,
        (VlanMode::Trunk { native, .. }, None) => *native,
        (VlanMode::Trunk { allowed, native }, Some(v)) => {
            (allowed.contains(v) || *native == Some(v)).then_some(v)
        }
    }
}

/// How a port sends a frame of VLAN `vid`: `Some(None)` untagged,
/// `Some(Some(vid))` tagged, `None` when the port is not a member.
pub fn egress_tag(mode: &VlanMode, vid: u16) -> Option<Option<u16>> {
    match mode {
        VlanMode::Access { vid: v } => (*v == vid).then_some(None),
        VlanMode::Trunk { native, .. } if *native == Some(vid) => Some(None),
        VlanMode::Trunk { allowed, .. } => allowed.contains(vid).then_some(Some(vid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VidSet;

    fn tag(vid: u16) -> Option<VlanTag> {
        Some(VlanTag {
            pcp: 0,
            dei: false,
            vid,
        })
    }

    #[test]
    fn access_ports() {
        let a = VlanMode::Access { vid: 10 };
        assert_eq!(ingress_vid(&a, None), Some(10));
        assert_eq!(
            ingress_vid(&a, tag(0)),
            Some(10),
            "priority tag is untagged"
        );
        assert_eq!(ingress_vid(&a, tag(10)), None);
        assert_eq!(egress_tag(&a, 10), Some(None));
        assert_eq!(egress_tag(&a, 20), None);
    }

    #[test]
    fn trunk_ports() {
        let t = VlanMode::Trunk {
            allowed: [10, 20].into_iter().collect::<VidSet>(),
            native: Some(1),
        };
        assert_eq!(ingress_vid(&t, None), Some(1));
        assert_eq!(ingress_vid(&t, tag(20)), Some(20));
        assert_eq!(ingress_vid(&t, tag(30)), None);
        assert_eq!(egress_tag(&t, 1), Some(None));
        assert_eq!(egress_tag(&t, 10), Some(Some(10)));
        assert_eq!(egress_tag(&t, 30), None);
        let no_native = VlanMode::Trunk {
            allowed: [10].into_iter().collect(),
            native: None,
        };
        assert_eq!(ingress_vid(&no_native, None), None);
    }
}
