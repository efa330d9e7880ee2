//! The virtio-net header that TAP devices (`IFF_VNET_HDR`) and AF_PACKET
//! sockets (`PACKET_VNET_HDR`) put in front of a frame to describe its
//! offload state: a checksum left for "hardware" to fill, or a GSO
//! super-frame to be cut into MSS-sized segments. Passing it through lets
//! 64 KiB TCP frames cross the switch whole, as they do through virtio-net.

/// The checksum from `csum_start` to the end still has to be filled in.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// The checksum was already checked.
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;

pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// `struct virtio_net_hdr` (10 bytes; little-endian, as Linux uses on the hosts we run on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    pub const LEN: usize = 10;

    pub fn parse(b: &[u8; 10]) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_le_bytes([b[2], b[3]]),
            gso_size: u16::from_le_bytes([b[4], b[5]]),
            csum_start: u16::from_le_bytes([b[6], b[7]]),
            csum_offset: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    pub fn to_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// The GSO kind without the ECN bit.
    pub fn gso(&self) -> u8 {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN
    }

    pub fn is_gso(&self) -> bool {
        self.gso() != VIRTIO_NET_HDR_GSO_NONE
    }

    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }

    /// Whether a port without offloads can send the frame as it is.
    pub fn is_plain(&self) -> bool {
        !self.is_gso() && !self.needs_csum()
    }

    /// The same header for the frame after an 802.1Q tag was pushed
    /// (`delta` = 4) or popped (`delta` = -4): offsets into the frame move.
    pub fn shifted(&self, delta: i32) -> VirtioNetHdr {
        let mv = |v: u16| {
            if v == 0 {
                0
            } else {
                (v as i32 + delta).clamp(0, i32::from(u16::MAX)) as u16
            }
        };
        VirtioNetHdr {
            hdr_len: mv(self.hdr_len),
            csum_start: if self.needs_csum() {
                mv(self.csum_start)
            } else {
                self.csum_start
            },
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_shifts() {
        let h = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        assert_eq!(VirtioNetHdr::parse(&h.to_bytes()), h);
        assert_eq!(h.gso(), VIRTIO_NET_HDR_GSO_TCPV4);
        let t = h.shifted(4);
        assert_eq!((t.hdr_len, t.csum_start, t.csum_offset), (70, 38, 16));
        assert_eq!(t.shifted(-4), h);
        assert!(VirtioNetHdr::default().is_plain());
    }
}
