//! The receive side's coalescing. The tunnel socket asks for UDP GRO, so
//! one read brings a run of equal-sized datagrams from one sender (a
//! kernel GRO batch, or another vepa's `UDP_SEGMENT` send delivered
//! whole). Consecutive inner TCP segments of one flow in such a run are
//! joined back into one GSO super-frame (as the kernel's TCP GRO would),
//! so the switch and the receiving port handle one frame, not forty.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;
use vepa_packet::{checksum, VirtioNetHdr};

/// `SOL_UDP` / `UDP_GRO` (linux/udp.h).
const SOL_UDP: libc::c_int = 17;
const UDP_GRO: libc::c_int = 104;
/// The largest coalesced read (a UDP datagram's length field).
const GRO_BYTES: usize = 65_535;

/// Asks the kernel to hand over coalesced datagrams; false where it cannot.
pub(super) fn enable(s: &UdpSocket) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with a c_int value and its size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            SOL_UDP,
            UDP_GRO,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// The datagrams of the last read, taken one at a time.
pub(super) struct GroBuf {
    data: Vec<u8>,
    len: usize,
    /// Each datagram's size (the last may be shorter).
    seg: usize,
    off: usize,
    pub from: SocketAddr,
}

impl GroBuf {
    pub fn new() -> GroBuf {
        GroBuf {
            data: vec![0; GRO_BYTES],
            len: 0,
            seg: 0,
            off: 0,
            from: SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.off >= self.len
    }

    /// The next datagram's range in [`GroBuf::bytes`], without taking it.
    pub fn peek(&self) -> Option<Range<usize>> {
        (!self.is_empty()).then(|| self.off..(self.off + self.seg).min(self.len))
    }

    pub fn take(&mut self) -> Option<Range<usize>> {
        let r = self.peek()?;
        self.off = r.end;
        Some(r)
    }

    pub fn bytes(&self, r: Range<usize>) -> &[u8] {
        &self.data[r]
    }

    /// Reads the next (possibly coalesced) datagram; false when none waits.
    pub fn fill(&mut self, sock: &UdpSocket) -> io::Result<bool> {
        // SAFETY: all-zero bytes are a valid sockaddr_storage.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut iov = crate::sys::iovec_mut(&mut self.data);
        let mut control = [0u64; 8];
        // SAFETY: an all-zero msghdr is valid; every pointer set below
        // outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = &mut addr as *mut libc::sockaddr_storage as *mut libc::c_void;
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: msg refers to live buffers of the sizes it states.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if crate::sys::is_retry(&e) {
                Ok(false)
            } else {
                Err(e)
            };
        }
        let n = n as usize;
        let mut seg = n;
        // SAFETY: the kernel filled msg_control with msg_controllen bytes of
        // cmsghdrs; CMSG_FIRSTHDR/CMSG_NXTHDR stay within them.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == SOL_UDP && (*c).cmsg_type == UDP_GRO {
                    let v = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::c_int);
                    if v > 0 {
                        seg = v as usize;
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        self.from = sockaddr(&addr);
        self.len = n;
        self.seg = seg.max(1);
        self.off = 0;
        Ok(true)
    }
}

fn sockaddr(a: &libc::sockaddr_storage) -> SocketAddr {
    match a.ss_family as libc::c_int {
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a6 = unsafe { &*(a as *const libc::sockaddr_storage as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a6.sin6_addr.s6_addr);
            // An IPv4 peer of a dual-stack socket reads as a mapped address.
            let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
            SocketAddr::new(ip, u16::from_be(a6.sin6_port))
        }
        _ => {
            // SAFETY: otherwise the socket (bound to an IPv4 address) filled a sockaddr_in.
            let a4 = unsafe { &*(a as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(u32::from_be(a4.sin_addr.s_addr))),
                u16::from_be(a4.sin_port),
            )
        }
    }
}

/// Where a coalescable TCP segment's fields are in an inner frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct TcpSeg {
    l3: usize,
    l4: usize,
    /// Start of the payload.
    data: usize,
    v6: bool,
    pub seq: u32,
    pub flags: u8,
}

const ACK: u8 = 0x10;
pub(super) const PSH: u8 = 0x08;

impl TcpSeg {
    /// A plain data segment (ACK, maybe PSH; no IP options or extension
    /// headers, not a fragment) of an untagged frame, or None.
    pub fn parse(f: &[u8]) -> Option<TcpSeg> {
        let (l3, v6) = match f.get(12..14)? {
            [0x08, 0x00] => (14, false),
            [0x86, 0xdd] => (14, true),
            _ => return None,
        };
        let l4 = if v6 {
            let ip = f.get(l3..l3 + 40)?;
            let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            if ip[0] >> 4 != 6 || ip[6] != 6 || len + 40 + l3 != f.len() {
                return None;
            }
            l3 + 40
        } else {
            let ip = f.get(l3..l3 + 20)?;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
            if ip[0] != 0x45 || ip[9] != 6 || frag != 0 || total + l3 != f.len() {
                return None;
            }
            l3 + 20
        };
        let tcp = f.get(l4..l4 + 20)?;
        let doff = (tcp[12] >> 4) as usize * 4;
        let flags = tcp[13];
        if doff < 20 || flags & !(ACK | PSH) != 0 || flags & ACK == 0 || tcp[18..20] != [0, 0] {
            return None;
        }
        let data = l4 + doff;
        if data >= f.len() {
            return None;
        }
        Some(TcpSeg {
            l3,
            l4,
            data,
            v6,
            seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
            flags,
        })
    }

    pub fn payload(&self, f: &[u8]) -> usize {
        f.len() - self.data
    }

    /// Whether `b` continues the flow of `a` (whose next byte is `next`):
    /// the same addresses, ports, ack, window, options and IP fields that
    /// must not vary (whether `a` was pushed is the caller's to check).
    pub fn continues(&self, a: &[u8], next: u32, b: &[u8], bs: &TcpSeg) -> bool {
        if self.v6 != bs.v6 || self.data != bs.data || bs.seq != next {
            return false;
        }
        let (l3, l4) = (self.l3, self.l4);
        let ip_same = if self.v6 {
            // Version, class, flow label; next header and hop limit; addresses.
            a[l3..l3 + 4] == b[l3..l3 + 4] && a[l3 + 6..l3 + 40] == b[l3 + 6..l3 + 40]
        } else {
            // Version, IHL, TOS; flags; TTL, protocol; addresses.
            a[l3..l3 + 2] == b[l3..l3 + 2]
                && a[l3 + 6] & 0xe0 == b[l3 + 6] & 0xe0
                && a[l3 + 8..l3 + 10] == b[l3 + 8..l3 + 10]
                && a[l3 + 12..l3 + 20] == b[l3 + 12..l3 + 20]
        };
        // MACs; ports; ack, offset; window; options.
        a[..12] == b[..12]
            && ip_same
            && a[l4..l4 + 4] == b[l4..l4 + 4]
            && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
            && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
            && a[l4 + 20..self.data] == b[l4 + 20..bs.data]
    }

    /// Makes the joined frame `f` (its headers the first segment's, PSH if
    /// the last had it) one GSO super-frame of `mss`-byte segments: lengths
    /// set, the IPv4 header checksum redone, the TCP checksum left partial.
    pub fn finish(&self, f: &mut [u8], mss: usize, last_flags: u8) -> VirtioNetHdr {
        use vepa_packet::virtio::{
            VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
        };
        let (l3, l4) = (self.l3, self.l4);
        let l4_len = f.len() - l4;
        let (gso, pseudo) = if self.v6 {
            f[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            (
                VIRTIO_NET_HDR_GSO_TCPV6,
                checksum::sum_words(0, &f[l3 + 8..l3 + 40]) + 6 + l4_len as u32,
            )
        } else {
            let total = (f.len() - l3) as u16;
            f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let c = checksum::finish(checksum::sum_words(0, &f[l3..l4]));
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
            (
                VIRTIO_NET_HDR_GSO_TCPV4,
                checksum::sum_words(0, &f[l3 + 12..l3 + 20]) + 6 + l4_len as u32,
            )
        };
        f[l4 + 13] |= last_flags & PSH;
        let mut folded = pseudo;
        while folded >> 16 != 0 {
            folded = (folded & 0xffff) + (folded >> 16);
        }
        f[l4 + 16..l4 + 18].copy_from_slice(&(folded as u16).to_be_bytes());
        VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: gso,
            hdr_len: self.data as u16,
            gso_size: mss as u16,
            csum_start: l4 as u16,
            csum_offset: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vepa_packet::MacAddr;

    /// An untagged IPv4 TCP segment: `seq`, `flags`, `payload` bytes of `fill`.
    fn seg(seq: u32, flags: u8, payload: usize, fill: u8) -> Vec<u8> {
        let mut tcp = vec![0x30, 0x39, 0x00, 0x50];
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 9, 0x50, flags, 0x10, 0, 0, 0, 0, 0]);
        tcp.resize(tcp.len() + payload, fill);
        let mut f = Vec::new();
        let (ma, mb) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        vepa_packet::ip::write_ethernet(&mut f, MacAddr(mb), MacAddr(ma), 0x0800);
        let (src, dst) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        vepa_packet::ip::push_ipv4(&mut f, src, dst, 6, 64, 7, &tcp);
        f
    }

    #[test]
    fn only_the_next_segment_of_the_flow_continues_it() {
        let a = seg(1000, ACK, 100, 1);
        let sa = TcpSeg::parse(&a).expect("a data segment");
        assert_eq!((sa.payload(&a), sa.seq), (100, 1000));
        let next = |s: u32, fl: u8| {
            let b = seg(s, fl, 100, 2);
            let sb = TcpSeg::parse(&b);
            sb.is_some_and(|sb| sa.continues(&a, 1100, &b, &sb))
        };
        assert!(next(1100, ACK));
        assert!(
            next(1100, ACK | PSH),
            "a pushed segment ends a run, but joins it"
        );
        assert!(!next(1200, ACK), "a gap");
        assert!(!next(1100, ACK | 0x01), "FIN is not joined");
        let mut other_port = seg(1100, ACK, 100, 2);
        other_port[35] = 0x51;
        let so = TcpSeg::parse(&other_port).expect("parse");
        assert!(!sa.continues(&a, 1100, &other_port, &so), "another flow");
        // Not data segments: SYN, no payload, IP options, a fragment.
        assert!(TcpSeg::parse(&seg(1, 0x02, 10, 0)).is_none());
        assert!(TcpSeg::parse(&seg(1, ACK, 0, 0)).is_none());
        let mut frag = seg(1, ACK, 10, 0);
        frag[20] = 0x20;
        assert!(TcpSeg::parse(&frag).is_none());
    }

    #[test]
    fn a_joined_frame_is_a_valid_super_frame() {
        let mut f = seg(1000, ACK, 100, 1);
        let s = TcpSeg::parse(&f).expect("parse");
        f.extend_from_slice(&[2; 60]);
        let hdr = s.finish(&mut f, 100, ACK | PSH);
        assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, f.len() - 14);
        assert_eq!(checksum::finish(checksum::sum_words(0, &f[14..34])), 0);
        assert_eq!(f[47] & PSH, PSH, "the last segment's push is kept");
        assert_eq!((hdr.gso_size, hdr.hdr_len, hdr.csum_start), (100, 54, 34));
        // Cut again, each segment carries a valid checksum.
        let mut out = Vec::new();
        vepa_packet::gso::segment(&f, &hdr, &mut Vec::new(), |s| out.push(s.to_vec()))
            .expect("segment");
        assert_eq!(out.len(), 2);
        for mut s in out {
            let before = s.clone();
            assert!(checksum::fill_l4_checksum(&mut s));
            assert_eq!(s, before, "checksums already right");
        }
    }
}
