//! The GSO side of a VXLAN port: super-frames cut into tunnel-sized inner
//! frames and handed to the kernel as UDP GSO sends, and oversized TCP
//! frames received from the kernel passed on whole.

use super::wire::{encap, HEADER};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use vepa_packet::{checksum, VirtioNetHdr};

/// The GSO header for an oversized inner TCP frame (IPv4, or IPv6 without
/// extension headers): segments of the size the tunnel carries, the
/// checksum left partial (its field set to the pseudo-header sum, as the
/// kernel leaves it for an offload).
pub(super) fn super_frame(f: &mut [u8], max: usize) -> Option<VirtioNetHdr> {
    use vepa_packet::virtio::{
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    };
    let eth = vepa_packet::EthernetFrame::new_checked(&*f).ok()?;
    let l3 = eth.header_len();
    let (l4, gso, pseudo) = match eth.ethertype() {
        vepa_packet::EtherType::IPV4 => {
            let ip = f.get(l3..l3 + 20)?;
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            if ip[9] != 6 || ihl < 20 || total != f.len() - l3 {
                return None;
            }
            let l4_len = total.checked_sub(ihl)?;
            let sum = checksum::sum_words(0, &ip[12..20]) + 6 + l4_len as u32;
            (l3 + ihl, VIRTIO_NET_HDR_GSO_TCPV4, sum)
        }
        vepa_packet::EtherType::IPV6 => {
            let ip = f.get(l3..l3 + 40)?;
            let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            if ip[6] != 6 || len != f.len() - l3 - 40 {
                return None;
            }
            let sum = checksum::sum_words(0, &ip[8..40]) + 6 + len as u32;
            (l3 + 40, VIRTIO_NET_HDR_GSO_TCPV6, sum)
        }
        _ => return None,
    };
    let tcp_len = (*f.get(l4 + 12)? >> 4) as usize * 4;
    let headers = l4 + tcp_len;
    if tcp_len < 20 || headers >= max || headers > f.len() {
        return None;
    }
    let mut folded = pseudo;
    while folded >> 16 != 0 {
        folded = (folded & 0xffff) + (folded >> 16);
    }
    f[l4 + 16..l4 + 18].copy_from_slice(&(folded as u16).to_be_bytes());
    Some(VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: gso,
        hdr_len: headers as u16,
        gso_size: (max - headers) as u16,
        csum_start: l4 as u16,
        csum_offset: 16,
    })
}

/// `SOL_UDP` / `UDP_SEGMENT` (linux/udp.h): one send, many datagrams.
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
/// A UDP GSO send carries at most this much (the datagram length field).
const GSO_BYTES: usize = 65_000;

/// Cuts a GSO super-frame into wire-sized inner frames (checksums
/// finished), each behind VXLAN `header` (its 802.1Q tag stripped when
/// `strip`), and packs them into `out` as UDP GSO sends: `deliver` gets
/// each send and its datagram size (one datagram per inner frame on the
/// wire). An inner frame longer than `max` is skipped; the second value
/// says whether one was.
pub(super) fn pack_gso(
    vnet: &VirtioNetHdr,
    frame: &[u8],
    header: [u8; HEADER],
    strip: bool,
    max: usize,
    out: &mut Vec<u8>,
    mut deliver: impl FnMut(&[u8], usize) -> io::Result<()>,
) -> (io::Result<()>, bool) {
    let cut = if strip { 4 } else { 0 };
    SEG.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        out.clear();
        let mut seg_len = 0usize;
        let mut result = Ok(());
        let mut too_big = false;
        let mut flush = |out: &mut Vec<u8>, seg_len: usize| {
            if !out.is_empty() {
                if let Err(e) = deliver(out, seg_len) {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
                out.clear();
            }
        };
        let segmented = vepa_packet::gso::segment(frame, vnet, &mut scratch, |inner| {
            if inner.len() - cut > max {
                too_big = true;
                return;
            }
            let unit = HEADER + inner.len() - cut;
            let fits = out.len() + unit <= GSO_BYTES;
            if !out.is_empty() && (!fits || unit > seg_len) {
                flush(out, seg_len);
            }
            if out.is_empty() {
                seg_len = unit;
            }
            encap(out, &header, inner, strip);
            if unit < seg_len {
                // A shorter datagram ends a GSO send.
                flush(out, seg_len);
            }
        });
        flush(out, seg_len);
        let r = match segmented {
            Ok(_) => result,
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        (r, too_big)
    })
}

thread_local! {
    static SEG: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One `sendmsg` with a `UDP_SEGMENT` control message: the kernel cuts
/// `data` into datagrams of `seg` bytes (the last may be shorter).
pub(super) fn send_segmented(
    sock: &UdpSocket,
    to: SocketAddr,
    data: &[u8],
    seg: usize,
) -> io::Result<()> {
    let (mut v4, mut v6): (libc::sockaddr_in, libc::sockaddr_in6) =
        // SAFETY: plain C structs for which all-zero bytes are a valid value.
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    let (name, len) = match to {
        SocketAddr::V4(a) => {
            v4.sin_family = libc::AF_INET as libc::sa_family_t;
            v4.sin_port = a.port().to_be();
            v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            (
                &mut v4 as *mut libc::sockaddr_in as *mut libc::c_void,
                std::mem::size_of::<libc::sockaddr_in>(),
            )
        }
        SocketAddr::V6(a) => {
            v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            v6.sin6_port = a.port().to_be();
            v6.sin6_addr.s6_addr = a.ip().octets();
            (
                &mut v6 as *mut libc::sockaddr_in6 as *mut libc::c_void,
                std::mem::size_of::<libc::sockaddr_in6>(),
            )
        }
    };
    let mut iov = crate::sys::iovec(data);
    // Room for one cmsghdr carrying a u16, aligned as the kernel wants.
    let mut control = [0u64; 4];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as usize;
    // SAFETY: an all-zero msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name;
    msg.msg_namelen = len as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space.min(std::mem::size_of_val(&control));
    // SAFETY: msg_control points at a buffer of msg_controllen bytes, large
    // enough for one cmsghdr with a u16 (CMSG_SPACE); CMSG_FIRSTHDR and
    // CMSG_DATA stay within it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = SOL_UDP;
        (*c).cmsg_type = UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, seg as u16);
    }
    // SAFETY: msg is fully initialised and refers to live buffers.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
