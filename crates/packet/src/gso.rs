//! Software segmentation: cutting a GSO super-frame (TCP over IPv4/IPv6, or
//! UDP with `UDP_L4` segmentation) into wire-sized frames with every length,
//! sequence number and checksum right, for a port that cannot take the
//! super-frame whole (a device without offloads).
//!
//! The segment size comes from whoever sent the frame (a guest's virtio-net
//! header), so it is bounded: one 64 KiB frame cut at `gso_size = 1` would
//! be 65,000 frames on every port it goes to. [`within_bounds`] is what the
//! switch checks as a frame comes in; [`segment`] checks it again.

use crate::checksum::{finish, sum_words};
use crate::virtio::{
    VirtioNetHdr, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
};
use crate::{EtherType, EthernetFrame};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// The smallest TCP segment size accepted (real stacks' smallest MSS is
/// larger; Linux's `tcp_min_snd_mss` is 48 with options).
pub const MIN_TCP_GSO_SIZE: u16 = 64;
/// The smallest UDP (`UDP_L4`) segment size accepted.
pub const MIN_UDP_GSO_SIZE: u16 = 8;
/// Most segments one frame may become (64 KiB at the TCP floor).
pub const MAX_SEGMENTS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GsoError {
    #[error("GSO frame headers are truncated or inconsistent")]
    BadHeaders,
    #[error("GSO type {0} is not segmented in software")]
    Unsupported(u8),
    #[error("GSO segment size {gso_size} is under the floor of {least}")]
    TooSmall { gso_size: u16, least: u16 },
    #[error("a {len}-byte frame cut at {gso_size} would be over {MAX_SEGMENTS} segments")]
    TooManySegments { len: usize, gso_size: u16 },
}

/// Whether a GSO frame of `len` bytes described by `hdr` stays within the
/// bounds: a segment size at or above the floor for its kind, and at most
/// [`MAX_SEGMENTS`] segments (counted generously, on the whole frame).
/// Frames without GSO always are.
pub fn within_bounds(len: usize, hdr: &VirtioNetHdr) -> Result<(), GsoError> {
    if !hdr.is_gso() {
        return Ok(());
    }
    let least = match hdr.gso() {
        VIRTIO_NET_HDR_GSO_UDP_L4 => MIN_UDP_GSO_SIZE,
        _ => MIN_TCP_GSO_SIZE,
    };
    let gso_size = hdr.gso_size;
    if gso_size < least {
        return Err(GsoError::TooSmall { gso_size, least });
    }
    if len.div_ceil(gso_size as usize) > MAX_SEGMENTS {
        return Err(GsoError::TooManySegments { len, gso_size });
    }
    Ok(())
}

struct Layout {
    l3: usize,
    l4: usize,
    payload: usize,
    ipv4: bool,
    proto: u8,
}

fn layout(frame: &[u8], gso: u8) -> Result<Layout, GsoError> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| GsoError::BadHeaders)?;
    let l3 = eth.header_len();
    let (ipv4, l4, proto) = match eth.ethertype() {
        EtherType::IPV4 => {
            let ip = frame.get(l3..l3 + 20).ok_or(GsoError::BadHeaders)?;
            let ihl = (ip[0] & 0x0f) as usize * 4;
            if ihl < 20 {
                return Err(GsoError::BadHeaders);
            }
            (true, l3 + ihl, ip[9])
        }
        EtherType::IPV6 => {
            let ip = frame.get(l3..l3 + 40).ok_or(GsoError::BadHeaders)?;
            (false, l3 + 40, ip[6])
        }
        _ => return Err(GsoError::BadHeaders),
    };
    let l4_len = match (gso, proto) {
        (VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6, TCP) => {
            let off = *frame.get(l4 + 12).ok_or(GsoError::BadHeaders)?;
            ((off >> 4) as usize) * 4
        }
        (VIRTIO_NET_HDR_GSO_UDP_L4, UDP) => 8,
        (g, _) => return Err(GsoError::Unsupported(g)),
    };
    let payload = l4 + l4_len;
    // A TCP header is 20 bytes at least (segments rewrite its flags and
    // checksum, at 13 and 16).
    let least = if proto == TCP { 20 } else { 8 };
    if l4_len < least || payload > frame.len() {
        return Err(GsoError::BadHeaders);
    }
    Ok(Layout {
        l3,
        l4,
        payload,
        ipv4,
        proto,
    })
}

/// Cuts `frame` (described by `hdr`) into segments of at most
/// `hdr.gso_size` payload bytes and calls `emit` with each finished frame
/// (built in `scratch`, valid during the call). Returns how many.
pub fn segment(
    frame: &[u8],
    hdr: &VirtioNetHdr,
    scratch: &mut Vec<u8>,
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, GsoError> {
    let gso = hdr.gso();
    let lay = layout(frame, gso)?;
    let mss = hdr.gso_size as usize;
    if mss == 0 {
        return Err(GsoError::BadHeaders);
    }
    within_bounds(frame.len(), hdr)?;
    let headers = &frame[..lay.payload];
    let data = &frame[lay.payload..];
    let l4_hdr_len = lay.payload - lay.l4;
    let (ip_id, seq) = (
        u16::from_be_bytes([frame[lay.l3 + 4], frame[lay.l3 + 5]]),
        if lay.proto == TCP {
            u32::from_be_bytes([
                frame[lay.l4 + 4],
                frame[lay.l4 + 5],
                frame[lay.l4 + 6],
                frame[lay.l4 + 7],
            ])
        } else {
            0
        },
    );
    let count = data.len().div_ceil(mss).max(1);
    for i in 0..count {
        let chunk = &data[(i * mss).min(data.len())..((i + 1) * mss).min(data.len())];
        scratch.clear();
        scratch.extend_from_slice(headers);
        scratch.extend_from_slice(chunk);
        let l4_len = l4_hdr_len + chunk.len();
        let (l3, l4) = (lay.l3, lay.l4);
        if lay.ipv4 {
            let total = (l4 - l3 + l4_len) as u16;
            scratch[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            if lay.proto == TCP {
                scratch[l3 + 4..l3 + 6]
                    .copy_from_slice(&ip_id.wrapping_add(i as u16).to_be_bytes());
            }
            scratch[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let c = finish(sum_words(0, &scratch[l3..l4]));
            scratch[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            scratch[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        }
        let pseudo = if lay.ipv4 {
            sum_words(0, &scratch[l3 + 12..l3 + 20])
        } else {
            sum_words(0, &scratch[l3 + 8..l3 + 40])
        } + lay.proto as u32
            + l4_len as u32;
        let csum_at = if lay.proto == TCP {
            let s = seq.wrapping_add((i * mss) as u32);
            scratch[l4 + 4..l4 + 8].copy_from_slice(&s.to_be_bytes());
            let mut flags = scratch[l4 + 13];
            if i + 1 < count {
                flags &= !(0x01 | 0x08); // FIN, PSH only on the last
            }
            if i > 0 {
                flags &= !0x80; // CWR only on the first
            }
            scratch[l4 + 13] = flags;
            l4 + 16
        } else {
            scratch[l4 + 4..l4 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            l4 + 6
        };
        scratch[csum_at..csum_at + 2].copy_from_slice(&[0, 0]);
        let mut c = finish(sum_words(pseudo, &scratch[l4..]));
        if lay.proto == UDP && c == 0 {
            c = 0xffff;
        }
        scratch[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        emit(scratch);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtio::VIRTIO_NET_HDR_F_NEEDS_CSUM;

    fn tcp4(payload_len: usize, flags: u8) -> Vec<u8> {
        let mut tcp = vec![
            0x30, 0x39, 0x14, 0x51, 0, 0, 0x10, 0, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0,
        ];
        tcp.extend((0..payload_len).map(|i| (i % 251) as u8));
        crate::ip::test_ipv4_frame(TCP, 0x1234, &tcp)
    }

    fn l4_ok(seg: &[u8]) -> bool {
        let ihl = (seg[14] & 0x0f) as usize * 4;
        let ip_ok = finish(sum_words(0, &seg[14..14 + ihl])) == 0;
        let l4 = &seg[14 + ihl..];
        let pseudo = sum_words(0, &seg[26..34]) + seg[23] as u32 + l4.len() as u32;
        ip_ok && finish(sum_words(pseudo, l4)) == 0
    }

    #[test]
    fn tcp_segments_carry_the_stream() {
        let frame = tcp4(4000, 0x18 | 0x01); // PSH|ACK|FIN
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut scratch = Vec::new();
        let mut segs: Vec<Vec<u8>> = Vec::new();
        let n = segment(&frame, &hdr, &mut scratch, |s| segs.push(s.to_vec())).unwrap();
        assert_eq!(n, 3);
        let mut stream = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert!(l4_ok(s), "segment {i} checksums");
            let total = u16::from_be_bytes([s[16], s[17]]) as usize;
            assert_eq!(total + 14, s.len());
            assert_eq!(u16::from_be_bytes([s[18], s[19]]), 0x1234 + i as u16);
            let seq = u32::from_be_bytes([s[38], s[39], s[40], s[41]]);
            assert_eq!(seq as usize, 0x1000 + i * 1448);
            let last = i == 2;
            assert_eq!(s[47] & 0x09 != 0, last, "FIN/PSH only on the last");
            stream.extend_from_slice(&s[54..]);
        }
        assert_eq!(stream, frame[54..]);
    }

    #[test]
    fn udp_segments_are_datagrams() {
        // IPv6/UDP with 3000 bytes cut at 1200: three datagrams, each with its own length and checksum.
        let payload: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        let plen = 8 + payload.len();
        f.extend_from_slice(&[0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, UDP, 64]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, (plen >> 8) as u8, plen as u8, 0, 0]);
        f.extend_from_slice(&payload);
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
            hdr_len: 62,
            gso_size: 1200,
            csum_start: 54,
            csum_offset: 6,
        };
        let mut scratch = Vec::new();
        let mut segs: Vec<Vec<u8>> = Vec::new();
        assert_eq!(
            segment(&f, &hdr, &mut scratch, |s| segs.push(s.to_vec())).unwrap(),
            3
        );
        let mut data = Vec::new();
        for s in &segs {
            let l4 = &s[54..];
            let len = u16::from_be_bytes([l4[4], l4[5]]) as usize;
            assert_eq!(len, l4.len());
            assert_eq!(
                u16::from_be_bytes([s[18], s[19]]) as usize,
                l4.len(),
                "IPv6 payload length"
            );
            let pseudo = sum_words(0, &s[22..54]) + UDP as u32 + l4.len() as u32;
            assert_eq!(finish(sum_words(pseudo, l4)), 0, "UDP checksum");
            data.extend_from_slice(&l4[8..]);
        }
        assert_eq!(data, payload);
    }

    #[test]
    fn segment_sizes_and_counts_are_bounded() {
        let tcp = |gso_size| VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size,
            ..Default::default()
        };
        let udp = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
            gso_size: 8,
            ..Default::default()
        };
        assert_eq!(within_bounds(65_000, &VirtioNetHdr::default()), Ok(()));
        assert_eq!(within_bounds(65_000, &tcp(1448)), Ok(()));
        assert_eq!(within_bounds(65_536, &tcp(64)), Ok(()), "1024 segments");
        assert!(matches!(
            within_bounds(65_537, &tcp(64)),
            Err(GsoError::TooManySegments { .. })
        ));
        assert!(matches!(
            within_bounds(1000, &tcp(63)),
            Err(GsoError::TooSmall { least: 64, .. })
        ));
        assert_eq!(within_bounds(8000, &udp), Ok(()));
        assert!(within_bounds(65_000, &udp).is_err());
        // The largest TCP frame at the floor cuts into at most MAX_SEGMENTS.
        let frame = tcp4(65_000, 0x10);
        let mut scratch = Vec::new();
        let mut n = 0;
        let r = segment(&frame, &tcp(64), &mut scratch, |_| n += 1);
        assert_eq!(r, Ok(1016));
        assert_eq!(n, 1016);
    }

    #[test]
    fn refuses_what_it_cannot_cut() {
        let frame = tcp4(100, 0x10);
        let mut scratch = Vec::new();
        let ufo = VirtioNetHdr {
            gso_type: crate::virtio::VIRTIO_NET_HDR_GSO_UDP,
            gso_size: 50,
            ..Default::default()
        };
        assert_eq!(
            segment(&frame, &ufo, &mut scratch, |_| {}),
            Err(GsoError::Unsupported(3))
        );
        let tiny = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size: 1,
            ..Default::default()
        };
        assert_eq!(
            segment(&frame, &tiny, &mut scratch, |_| panic!("no segment")),
            Err(GsoError::TooSmall {
                gso_size: 1,
                least: MIN_TCP_GSO_SIZE
            })
        );
        let zero = VirtioNetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            ..Default::default()
        };
        assert_eq!(
            segment(&frame, &zero, &mut scratch, |_| {}),
            Err(GsoError::BadHeaders)
        );
        assert!(segment(
            &frame[..40],
            &VirtioNetHdr {
                gso_type: 1,
                gso_size: 10,
                ..Default::default()
            },
            &mut scratch,
            |_| {}
        )
        .is_err());
        // A TCP data offset under five words (here two: 8 bytes, then a
        // few bytes of "payload") is refused, not indexed past.
        for offset in [0x00u8, 0x20, 0x40] {
            let mut short = tcp4(0, 0x10);
            short[14 + 20 + 12] = offset;
            short.truncate(14 + 20 + 9);
            let gso = VirtioNetHdr {
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                gso_size: 1448,
                ..Default::default()
            };
            assert_eq!(
                segment(&short, &gso, &mut scratch, |_| {}),
                Err(GsoError::BadHeaders),
                "data offset {offset:#x}"
            );
        }
    }
}
