//! 802.1Q membership rules: which VLAN a received frame belongs to, and in
//! what form (tagged or not) a port sends a frame of a given VLAN.

use crate::VlanMode;
use vepa_packet::VlanTag;

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
