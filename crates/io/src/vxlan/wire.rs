//! The VXLAN header (RFC 7348 5) and encapsulation.

pub(super) const HEADER: usize = 8;
/// The I flag: the VNI is valid (RFC 7348 5).
pub(super) const FLAG_VNI: u8 = 0x08;

/// The VXLAN header for `vni`.
pub(super) fn header(vni: u32) -> [u8; HEADER] {
    let v = vni.to_be_bytes();
    [FLAG_VNI, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// Appends `header` and `frame`, without its 802.1Q tag when `strip`.
pub(super) fn encap(out: &mut Vec<u8>, header: &[u8; HEADER], frame: &[u8], strip: bool) {
    out.extend_from_slice(header);
    if strip {
        out.extend_from_slice(&frame[..12]);
        out.extend_from_slice(&frame[16..]);
    } else {
        out.extend_from_slice(frame);
    }
}
