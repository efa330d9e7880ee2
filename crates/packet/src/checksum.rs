//! Internet checksums, and completing the TCP/UDP checksum of a frame whose
//! sender left it to the hardware (Linux CHECKSUM_PARTIAL: the field holds
//! only the pseudo-header sum). A frame forwarded as it is would be
//! dropped by its receiver.

use crate::{EtherType, EthernetFrame};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Adds `data` as big-endian 16-bit words to a running one's-complement sum.
///
/// The bytes are summed four at a time in the machine's own order into a
/// 64-bit sum, which is then folded to 16 bits and put in network order:
/// 2^16 is 1 modulo 0xffff, so the folded sum is the sum of 16-bit words,
/// and a one's-complement sum of byte-swapped words is the byte-swapped sum
/// (RFC 1071, 2(B)). No byte is swapped in the loop, so it vectorizes.
/// The result is folded to 16 bits, so callers may add to it freely.
pub fn sum_words(sum: u32, data: &[u8]) -> u32 {
    let mut quads = data.chunks_exact(4);
    let mut native = 0u64;
    for q in &mut quads {
        native += u32::from_ne_bytes([q[0], q[1], q[2], q[3]]) as u64;
    }
    let mut acc = sum as u64 + u16::from_be(fold(native) as u16) as u64;
    let mut words = quads.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u16::from_be_bytes([w[0], w[1]]) as u64;
    }
    if let [last] = words.remainder() {
        acc += (*last as u64) << 8;
    }
    fold(acc) as u32
}

/// Folds a 64-bit one's-complement sum to 16 bits (zero only if it was).
fn fold(mut acc: u64) -> u64 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Folds a running sum into the 16-bit one's-complement checksum.
pub fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Computes and stores the TCP or UDP checksum of an IPv4 or IPv6 frame in
/// place. Returns false (and changes nothing) for anything else or for a
/// frame too short for the headers it claims.
pub fn fill_l4_checksum(frame: &mut [u8]) -> bool {
    let Some((proto, pseudo, l4)) = l4_layout(frame) else {
        return false;
    };
    let at = match proto {
        TCP => 16,
        UDP => 6,
        _ => return false,
    };
    let Some(seg) = frame.get_mut(l4) else {
        return false;
    };
    if seg.len() < at + 2 || (proto == TCP && seg.len() < 20) {
        return false;
    }
    seg[at] = 0;
    seg[at + 1] = 0;
    let mut c = finish(sum_words(pseudo, seg));
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Turns a TCP or UDP frame's checksum into a partial one, as a Linux
/// sender leaves it for the hardware: the field gets the pseudo-header
/// sum, and the virtio `(csum_start, csum_offset)` that finish it are
/// returned. Whatever the field held (a complete checksum, or already a
/// partial one) the frame is then partial. None, and nothing changed, for
/// other frames, for a UDP/IPv4 datagram sent without a checksum, and for
/// frames with bytes after the IP packet (padding a partial sum would
/// take in).
pub fn make_partial(frame: &mut [u8]) -> Option<(usize, usize)> {
    let (proto, pseudo, l4) = l4_layout(frame)?;
    let at = match proto {
        TCP => 16,
        UDP => 6,
        _ => return None,
    };
    if l4.end != frame.len() || l4.len() < at + 2 || (proto == TCP && l4.len() < 20) {
        return None;
    }
    let field = l4.start + at;
    if proto == UDP && frame[field] == 0 && frame[field + 1] == 0 && is_ipv4(frame) {
        return None;
    }
    let mut s = pseudo;
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    frame[field..field + 2].copy_from_slice(&(s as u16).to_be_bytes());
    Some((l4.start, at))
}

fn is_ipv4(frame: &[u8]) -> bool {
    EthernetFrame::new_checked(frame).is_ok_and(|e| e.ethertype() == EtherType::IPV4)
}

/// A TCP/UDP-carrying frame's protocol, pseudo-header sum and the range
/// of its L4 segment (by the IP header's length), if its headers fit.
fn l4_layout(frame: &[u8]) -> Option<(u8, u32, std::ops::Range<usize>)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let l3 = eth.header_len();
    let (proto, pseudo, l4) = match eth.ethertype() {
        EtherType::IPV4 => {
            let ip = frame.get(l3..l3 + 20)?;
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            // Fragments beyond the first carry no L4 header.
            if ihl < 20 || u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
                return None;
            }
            let proto = ip[9];
            let l4_len = total.checked_sub(ihl)?;
            let mut s = sum_words(0, &ip[12..20]);
            s += proto as u32 + l4_len as u32;
            (proto, s, l3 + ihl..l3 + ihl + l4_len)
        }
        EtherType::IPV6 => {
            let ip = frame.get(l3..l3 + 40)?;
            let proto = ip[6];
            let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let mut s = sum_words(0, &ip[8..40]);
            s += proto as u32 + len as u32;
            (proto, s, l3 + 40..l3 + 40 + len)
        }
        _ => return None,
    };
    (l4.end <= frame.len()).then_some((proto, pseudo, l4))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4/UDP frame whose checksum a receiver would verify.
    fn udp4(payload: &[u8]) -> Vec<u8> {
        let ulen = (8 + payload.len()) as u16;
        let mut udp = vec![0x30, 0x39, 0x00, 0x35];
        udp.extend_from_slice(&ulen.to_be_bytes());
        udp.extend_from_slice(&[0xde, 0xad]);
        udp.extend_from_slice(payload);
        crate::ip::test_ipv4_frame(UDP, 0, &udp)
    }

    fn verifies(frame: &[u8]) -> bool {
        // A correct checksum makes the sum over pseudo-header and segment all ones.
        let ip = &frame[14..34];
        let seg = &frame[34..];
        let mut s = sum_words(0, &ip[12..20]);
        s += ip[9] as u32 + seg.len() as u32;
        finish(sum_words(s, seg)) == 0
    }

    #[test]
    fn fills_udp_over_ipv4() {
        for payload in [&b""[..], b"a", b"hello, vepa", &[0xffu8; 301][..]] {
            let mut f = udp4(payload);
            assert!(!verifies(&f));
            assert!(fill_l4_checksum(&mut f));
            assert!(verifies(&f), "payload {} bytes", payload.len());
        }
    }

    #[test]
    fn leaves_other_frames_alone() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1]);
        let before = arp.clone();
        assert!(!fill_l4_checksum(&mut arp));
        assert_eq!(arp, before);
        let mut short = udp4(b"x");
        short.truncate(40);
        assert!(!fill_l4_checksum(&mut short), "claims more than it has");
    }

    #[test]
    fn a_frame_made_partial_completes_to_its_full_checksum() {
        for payload in [&b""[..], b"a", b"hello, vepa", &[0x5au8; 301][..]] {
            let mut full = udp4(payload);
            assert!(fill_l4_checksum(&mut full));
            let mut f = full.clone();
            let (start, off) = make_partial(&mut f).expect("UDP over IPv4");
            assert_eq!((start, off), (34, 6));
            assert!(complete_partial(&mut f, start, off));
            assert_eq!(f, full, "payload {} bytes", payload.len());
            // Already partial: made partial again, it stays the same.
            let mut twice = full.clone();
            make_partial(&mut twice);
            let once = twice.clone();
            make_partial(&mut twice);
            assert_eq!(twice, once);
        }
    }

    #[test]
    fn padding_and_checksumless_udp_stay_as_they_are() {
        let mut padded = udp4(b"x");
        padded.extend_from_slice(&[0; 8]);
        let before = padded.clone();
        assert_eq!(make_partial(&mut padded), None);
        assert_eq!(padded, before);
        let mut none = udp4(b"x");
        none[40] = 0;
        none[41] = 0;
        let before = none.clone();
        assert_eq!(make_partial(&mut none), None, "UDP/IPv4 without a checksum");
        assert_eq!(none, before);
    }

    /// The plain sum of 16-bit words, as RFC 1071 gives it.
    fn reference(mut sum: u32, data: &[u8]) -> u32 {
        for (i, b) in data.iter().enumerate() {
            sum += if i % 2 == 0 {
                (*b as u32) << 8
            } else {
                *b as u32
            };
        }
        sum
    }

    proptest::proptest! {
        #[test]
        fn sums_as_the_reference(
            start in 0u32..0x2_0000,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            ones in proptest::prelude::any::<bool>(),
        ) {
            // All-ones data is where a sum can end at 0xffff rather than 0.
            let data = if ones { vec![0xff; data.len()] } else { data };
            proptest::prop_assert_eq!(
                finish(sum_words(start, &data)),
                finish(reference(start, &data))
            );
        }
    }

    #[test]
    fn folds_to_sixteen_bits() {
        let big = vec![0xffu8; 200_000];
        assert_eq!(sum_words(0, &big), 0xffff);
        assert_eq!(sum_words(0, &[0u8; 9]), 0);
        assert_eq!(finish(sum_words(0, &[])), 0xffff);
    }

    #[test]
    fn known_vector() {
        // RFC 1071's example words sum to 0xddf2 before complement.
        let words = [0x00u8, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(sum_words(0, &words)), !0xddf2);
    }
}

/// Completes a checksum left partial by its sender (virtio `NEEDS_CSUM`):
/// the field at `start + offset` holds the pseudo-header sum, and the
/// checksum over everything from `start` to the end goes there.
/// Returns false if the offsets do not fit the frame.
pub fn complete_partial(frame: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if start >= frame.len() || at + 2 > frame.len() {
        return false;
    }
    let c = finish(sum_words(0, &frame[start..]));
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod partial_tests {
    use super::*;

    #[test]
    fn completing_a_partial_sum_matches_a_full_fill() {
        // Build an IPv4/UDP frame, fill it fully, then recreate the partial
        // state (pseudo-header sum in the field) and complete it.
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[
            0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[
            0x30, 0x39, 0x00, 0x35, 0, 13, 0, 0, b'h', b'e', b'l', b'l', b'o',
        ]);
        let mut full = f.clone();
        assert!(fill_l4_checksum(&mut full));
        let pseudo = sum_words(0, &f[26..34]) + 17 + 13;
        let mut folded = pseudo;
        while folded >> 16 != 0 {
            folded = (folded & 0xffff) + (folded >> 16);
        }
        f[40..42].copy_from_slice(&(folded as u16).to_be_bytes());
        assert!(complete_partial(&mut f, 34, 6));
        assert_eq!(f, full);
        assert!(!complete_partial(&mut f, 60, 6));
    }
}
