//! A VXLAN tunnel port (RFC 7348): Ethernet frames in UDP to remote
//! tunnel endpoints (VTEPs), one VNI per port.
//!
//! The port receives on a UDP socket bound to the local VTEP address and
//! the VXLAN port (4789 by default; the Linux kernel's own default is 8472
//! unless a device is made with `dstport 4789`). Each remote VTEP's inner
//! source MACs are learned, so a unicast frame goes to the one VTEP that
//! has its destination; broadcast, multicast and unknown unicast are
//! replicated to every static remote (head-end replication). Frames are
//! sent from a small pool of sockets with their own source ports, picked
//! by a hash of the inner flow, so the underlay's ECMP sees the flows
//! apart. GSO super-frames come to the port whole: it cuts them into
//! inner frames of the tunnel's size and hands them to the kernel in one
//! UDP GSO send (`UDP_SEGMENT`) per up to 64 KiB. A frame that would not fit the underlay MTU with
//! its encapsulation (36 bytes of IPv4, UDP and VXLAN headers, 56 over
//! IPv6: an inner IP MTU of 1450 on a 1500-byte IPv4 underlay, as the
//! kernel's vxlan) is dropped and counted, as are packets with a bad
//! header, another VNI, or a cut inner frame.

use crate::port::{is_retry, Port};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use vepa_packet::{checksum, MacAddr, VirtioNetHdr};

pub const VXLAN_PORT: u16 = 4789;
const HEADER: usize = 8;
/// The I flag: the VNI is valid (RFC 7348 5).
const FLAG_VNI: u8 = 0x08;
/// Sockets frames leave from (source-port entropy).
const SENDERS: usize = 8;
/// The receive buffer asked for (root may exceed `rmem_max`).
const RCVBUF: libc::c_int = 8 << 20;
/// MACs learned behind remote VTEPs at most.
const LEARN_LIMIT: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanConfig {
    pub name: String,
    pub vni: u32,
    /// The local VTEP address (bound).
    pub local: IpAddr,
    /// The UDP port of every VTEP, ours included.
    pub port: u16,
    /// Static remote VTEPs: where flooded frames go.
    pub remotes: Vec<IpAddr>,
    /// MTU of the underlay path.
    pub underlay_mtu: u32,
    /// For a trunk port: each VLAN's VNI (frames leave untagged in their
    /// VLAN's VNI and come back tagged). Empty: every frame in `vni`.
    pub vlan_vni: Vec<(u16, u32)>,
}

impl VxlanConfig {
    /// Bytes a frame gains on the underlay: IP, UDP and VXLAN headers.
    pub fn overhead(&self) -> usize {
        if self.local.is_ipv4() {
            20 + 8 + HEADER
        } else {
            40 + 8 + HEADER
        }
    }

    /// The largest inner frame (Ethernet header included) that fits.
    pub fn max_inner(&self) -> usize {
        (self.underlay_mtu as usize).saturating_sub(self.overhead())
    }
}

/// What the tunnel counted (besides the switch's port counters).
#[derive(Debug, Default)]
pub struct VxlanCounters {
    pub rx_bad_header: AtomicU64,
    pub rx_unknown_vni: AtomicU64,
    pub rx_truncated: AtomicU64,
    pub tx_too_big: AtomicU64,
    /// Received inner frames too big for the tunnel that are not TCP.
    pub rx_too_big: AtomicU64,
    pub tx_flooded: AtomicU64,
    /// Frames of a VLAN the port maps to no VNI (or untagged, on a mapped port).
    pub tx_no_vni: AtomicU64,
}

/// A tunnel port as `vepa tunnel show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelState {
    pub vni: u32,
    pub local: IpAddr,
    pub port: u16,
    pub remotes: Vec<IpAddr>,
    /// The largest inner frame the underlay MTU leaves room for.
    pub max_inner: usize,
    /// Remote MACs and the VTEP each is behind.
    pub learned: Vec<(MacAddr, IpAddr)>,
    /// Each VLAN's VNI on a trunk port.
    pub vlan_vni: Vec<(u16, u32)>,
    /// bad header, unknown VNI, truncated, too big (in), too big (out), flooded, no VNI.
    pub counts: [(&'static str, u64); 7],
}

pub struct VxlanPort {
    cfg: VxlanConfig,
    rx: UdpSocket,
    tx: Vec<UdpSocket>,
    /// Inner MAC → the VTEP it was last seen behind.
    /// Read on every frame sent and received; written only when a MAC
    /// appears or moves.
    learned: RwLock<HashMap<MacAddr, IpAddr>>,
    pub counters: VxlanCounters,
}

impl VxlanPort {
    pub fn open(cfg: VxlanConfig) -> io::Result<VxlanPort> {
        let with = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("{what}: {e}"));
        let rx = UdpSocket::bind(SocketAddr::new(cfg.local, cfg.port))
            .map_err(|e| with(e, &format!("bind {}", SocketAddr::new(cfg.local, cfg.port))))?;
        rx.set_nonblocking(true)?;
        // Room for bursts of 64 KiB super-frames between two polls.
        set_rcvbuf(&rx, RCVBUF);
        let mut tx = Vec::with_capacity(SENDERS);
        for _ in 0..SENDERS {
            let s = UdpSocket::bind(SocketAddr::new(cfg.local, 0))
                .map_err(|e| with(e, "bind a sender"))?;
            s.set_nonblocking(true)?;
            tx.push(s);
        }
        Ok(VxlanPort {
            cfg,
            rx,
            tx,
            learned: RwLock::new(HashMap::new()),
            counters: VxlanCounters::default(),
        })
    }

    pub fn config(&self) -> &VxlanConfig {
        &self.cfg
    }

    /// The remote MACs learned and their VTEPs.
    pub fn learned(&self) -> Vec<(MacAddr, IpAddr)> {
        let l = self.learned.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = l.iter().map(|(m, ip)| (*m, *ip)).collect();
        v.sort_by_key(|(m, _)| m.0);
        v
    }

    /// Checks a received datagram; the inner frame's range when it is
    /// ours, and the VLAN its VNI maps to on a trunk port.
    fn inner(&self, d: &[u8]) -> Option<(std::ops::Range<usize>, Option<u16>)> {
        if d.len() < HEADER {
            self.counters.rx_truncated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if d[0] & FLAG_VNI == 0 {
            self.counters.rx_bad_header.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let vni = u32::from_be_bytes([0, d[4], d[5], d[6]]);
        let vid = match self.cfg.vlan_vni.iter().find(|(_, n)| *n == vni) {
            Some((vid, _)) => Some(*vid),
            None if self.cfg.vlan_vni.is_empty() && vni == self.cfg.vni => None,
            None => {
                self.counters.rx_unknown_vni.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        if d.len() < HEADER + 14 {
            self.counters.rx_truncated.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some((HEADER..d.len(), vid))
    }

    fn learn(&self, src: MacAddr, vtep: IpAddr) {
        if src.is_multicast() || src.is_zero() {
            return;
        }
        let known = self
            .learned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&src)
            .copied();
        if known == Some(vtep) {
            return;
        }
        let mut l = self.learned.write().unwrap_or_else(|e| e.into_inner());
        if l.len() >= LEARN_LIMIT && !l.contains_key(&src) {
            return;
        }
        l.insert(src, vtep);
    }

    /// A hash of the inner flow (MACs, addresses, protocol, ports — nothing
    /// that changes per packet) picks the sender, and so the source port:
    /// one flow, one path, in order.
    fn sender(&self, frame: &[u8]) -> &UdpSocket {
        let mut h: u32 = 0x811c_9dc5;
        let mut mix = |bytes: &[u8]| {
            for b in bytes {
                h ^= *b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
        };
        mix(frame.get(..14).unwrap_or(frame));
        match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 if frame.len() >= 34 => {
                let ihl = (frame[14] & 0x0f) as usize * 4;
                mix(&frame[23..24]);
                mix(&frame[26..34]);
                mix(frame.get(14 + ihl..14 + ihl + 4).unwrap_or(&[]));
            }
            0x86dd if frame.len() >= 54 => {
                mix(&frame[20..21]);
                mix(&frame[22..54]);
                mix(frame.get(54..58).unwrap_or(&[]));
            }
            _ => {}
        }
        &self.tx[h as usize % self.tx.len()]
    }
}

/// The GSO header for an oversized inner TCP frame (IPv4, or IPv6 without
/// extension headers): segments of the size the tunnel carries, the
/// checksum left partial (its field set to the pseudo-header sum, as the
/// kernel leaves it for an offload).
fn super_frame(f: &mut [u8], max: usize) -> Option<VirtioNetHdr> {
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

/// Sets the socket's receive buffer, beyond `net.core.rmem_max` when
/// allowed (CAP_NET_ADMIN), else as far as it goes.
fn set_rcvbuf(s: &UdpSocket, bytes: libc::c_int) {
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt on a socket we own, with a c_int value and its size.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &bytes as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

thread_local! {
    static OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Port for VxlanPort {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Super-frames come whole and leave as UDP GSO sends; partial
    /// checksums are finished here.
    fn offloads(&self) -> bool {
        true
    }

    fn tunnel(&self) -> Option<TunnelState> {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(TunnelState {
            vni: self.cfg.vni,
            local: self.cfg.local,
            port: self.cfg.port,
            remotes: self.cfg.remotes.clone(),
            max_inner: self.cfg.max_inner(),
            learned: self.learned(),
            vlan_vni: self.cfg.vlan_vni.clone(),
            counts: [
                ("rx_bad_header", n(&c.rx_bad_header)),
                ("rx_unknown_vni", n(&c.rx_unknown_vni)),
                ("rx_truncated", n(&c.rx_truncated)),
                ("rx_too_big", n(&c.rx_too_big)),
                ("tx_too_big", n(&c.tx_too_big)),
                ("tx_flooded", n(&c.tx_flooded)),
                ("tx_no_vni", n(&c.tx_no_vni)),
            ],
        })
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        let (hdr, r) = loop {
            let (n, from) = match self.rx.recv_from(buf) {
                Ok(x) => x,
                Err(e) if is_retry(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            let Some((r, vid)) = self.inner(&buf[..n]) else {
                continue;
            };
            self.learn(
                MacAddr::from_slice(&buf[r.start + 6..r.start + 12]),
                from.ip(),
            );
            let untagged_len = r.len();
            let r = match vid {
                // The VLAN's tag goes back in, in the room of the VXLAN header.
                Some(vid) => {
                    let at = r.start;
                    buf.copy_within(at..at + 12, at - 4);
                    buf[at + 8..at + 10].copy_from_slice(&[0x81, 0x00]);
                    buf[at + 10..at + 12].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
                    at - 4..r.end
                }
                None => r,
            };
            let inner = &mut buf[r.clone()];
            if untagged_len > self.cfg.max_inner() {
                // A TCP super-frame the sender's stack left whole (tunnel
                // GSO between namespaces): passed on as GSO, cut to the
                // tunnel's MTU, for the forwarder or the receiving port.
                match super_frame(inner, self.cfg.max_inner()) {
                    Some(hdr) => break (hdr, r),
                    None => {
                        self.counters.rx_too_big.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            // A sender on this host (the kernel's vxlan over a veth) may
            // leave the inner TCP/UDP checksum to an offload that never
            // happens; the outer checksum was verified on receipt, so the
            // inner one is written afresh rather than trusted.
            checksum::fill_l4_checksum(inner);
            break (VirtioNetHdr::default(), r);
        };
        Ok(Some((hdr, &buf[r])))
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Ok(());
        }
        // The VNI, and whether the frame's tag comes off (a mapped trunk).
        let (vni, strip) = if self.cfg.vlan_vni.is_empty() {
            (self.cfg.vni, false)
        } else {
            let tagged = frame.len() >= 18 && frame[12..14] == [0x81, 0x00];
            let vid = tagged.then(|| u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff);
            match vid.and_then(|v| self.cfg.vlan_vni.iter().find(|(x, _)| *x == v)) {
                Some((_, vni)) => (*vni, true),
                None => {
                    self.counters.tx_no_vni.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
        };
        let dst = MacAddr::from_slice(&frame[..6]);
        let known = if dst.is_multicast() {
            None
        } else {
            self.learned
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&dst)
                .copied()
        };
        let sock = self.sender(frame);
        let header = header(vni);
        let r = if vnet.is_gso() {
            self.send_gso(sock, known, vnet, frame, header, strip)
        } else {
            let cut = if strip { 4 } else { 0 };
            if frame.len() - cut > self.cfg.max_inner() {
                self.counters.tx_too_big.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            OUT.with(|out| {
                let mut out = out.borrow_mut();
                out.clear();
                encap(&mut out, &header, frame, strip);
                if vnet.needs_csum() {
                    let start = (HEADER + vnet.csum_start as usize).saturating_sub(cut);
                    checksum::complete_partial(&mut out, start, vnet.csum_offset as usize);
                }
                self.deliver(sock, known, &out, None)
            })
        };
        r.or_else(|e| if is_retry(&e) { Ok(()) } else { Err(e) })
    }
}

/// The VXLAN header for `vni`.
fn header(vni: u32) -> [u8; HEADER] {
    let v = vni.to_be_bytes();
    [FLAG_VNI, 0, 0, 0, v[1], v[2], v[3], 0]
}

/// Appends `header` and `frame`, without its 802.1Q tag when `strip`.
fn encap(out: &mut Vec<u8>, header: &[u8; HEADER], frame: &[u8], strip: bool) {
    out.extend_from_slice(header);
    if strip {
        out.extend_from_slice(&frame[..12]);
        out.extend_from_slice(&frame[16..]);
    } else {
        out.extend_from_slice(frame);
    }
}

/// `SOL_UDP` / `UDP_SEGMENT` (linux/udp.h): one send, many datagrams.
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
/// A UDP GSO send carries at most this much (the datagram length field).
const GSO_BYTES: usize = 65_000;

impl VxlanPort {
    /// Sends `out` (one datagram, or equal-sized ones of `seg` bytes with
    /// a shorter last) to the VTEP that has the destination, or to every
    /// remote.
    fn deliver(
        &self,
        sock: &UdpSocket,
        known: Option<IpAddr>,
        out: &[u8],
        seg: Option<usize>,
    ) -> io::Result<()> {
        let send = |ip: IpAddr| match seg {
            Some(n) if out.len() > n => {
                send_segmented(sock, SocketAddr::new(ip, self.cfg.port), out, n)
            }
            _ => sock
                .send_to(out, SocketAddr::new(ip, self.cfg.port))
                .map(|_| ()),
        };
        match known {
            Some(vtep) => send(vtep),
            None => {
                self.counters.tx_flooded.fetch_add(1, Ordering::Relaxed);
                let mut first_err = None;
                for r in &self.cfg.remotes {
                    if let Err(e) = send(*r) {
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
        }
    }

    /// A GSO super-frame: cut into wire-sized inner frames (checksums
    /// finished), each behind its VXLAN header, and handed to the kernel in
    /// as few UDP GSO sends as fit (one datagram per inner frame on the wire).
    fn send_gso(
        &self,
        sock: &UdpSocket,
        known: Option<IpAddr>,
        vnet: &VirtioNetHdr,
        frame: &[u8],
        header: [u8; HEADER],
        strip: bool,
    ) -> io::Result<()> {
        let max = self.cfg.max_inner();
        let cut = if strip { 4 } else { 0 };
        OUT.with(|out| {
            SEG.with(|scratch| {
                let (mut out, mut scratch) = (out.borrow_mut(), scratch.borrow_mut());
                out.clear();
                let mut seg_len = 0usize;
                let mut result = Ok(());
                let mut too_big = false;
                let mut flush = |out: &mut Vec<u8>, seg_len: usize| {
                    if !out.is_empty() {
                        if let Err(e) = self.deliver(sock, known, out, Some(seg_len)) {
                            if result.is_ok() {
                                result = Err(e);
                            }
                        }
                        out.clear();
                    }
                };
                let cut = vepa_packet::gso::segment(frame, vnet, &mut scratch, |inner| {
                    if inner.len() - cut > max {
                        too_big = true;
                        return;
                    }
                    let unit = HEADER + inner.len() - cut;
                    let fits = out.len() + unit <= GSO_BYTES;
                    if !out.is_empty() && (!fits || unit > seg_len) {
                        flush(&mut out, seg_len);
                    }
                    if out.is_empty() {
                        seg_len = unit;
                    }
                    encap(&mut out, &header, inner, strip);
                    if unit < seg_len {
                        // A shorter datagram ends a GSO send.
                        flush(&mut out, seg_len);
                    }
                });
                flush(&mut out, seg_len);
                if too_big {
                    self.counters.tx_too_big.fetch_add(1, Ordering::Relaxed);
                }
                match cut {
                    Ok(_) => result,
                    Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                }
            })
        })
    }
}

thread_local! {
    static SEG: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One `sendmsg` with a `UDP_SEGMENT` control message: the kernel cuts
/// `data` into datagrams of `seg` bytes (the last may be shorter).
fn send_segmented(sock: &UdpSocket, to: SocketAddr, data: &[u8], seg: usize) -> io::Result<()> {
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
    let mut iov = crate::port::iovec(data);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn port(local: &str, port: u16, remotes: &[&str], vni: u32) -> VxlanPort {
        VxlanPort::open(VxlanConfig {
            name: "vx".into(),
            vni,
            local: local.parse().unwrap(),
            port,
            remotes: remotes.iter().map(|r| r.parse().unwrap()).collect(),
            underlay_mtu: 1500,
            vlan_vni: Vec::new(),
        })
        .unwrap()
    }

    fn frame(dst: [u8; 6], src: [u8; 6], len: usize) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x08, 0x00]);
        f.resize(len, 0xab);
        f
    }

    fn wait_recv(p: &VxlanPort) -> Option<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut buf = vec![0u8; 2048];
        while Instant::now() < deadline {
            if let Some((_, f)) = p.recv(&mut buf).unwrap() {
                return Some(f.to_vec());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn floods_learns_and_refuses_what_is_not_its_own() {
        // Two VTEPs on loopback addresses, same UDP port.
        let a = port("127.0.0.1", 47891, &["127.0.0.2"], 42);
        let b = port("127.0.0.2", 47891, &["127.0.0.1"], 42);
        let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        // Broadcast from A's side: flooded to B.
        a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 60))
            .unwrap();
        assert_eq!(wait_recv(&b).unwrap(), frame([0xff; 6], ma, 60));
        assert_eq!(
            b.learned(),
            vec![(MacAddr(ma), "127.0.0.1".parse().unwrap())]
        );
        // B answers by unicast to the learned VTEP.
        b.send(&VirtioNetHdr::default(), &frame(ma, mb, 100))
            .unwrap();
        assert_eq!(wait_recv(&a).unwrap(), frame(ma, mb, 100));
        assert_eq!(b.counters.tx_flooded.load(Ordering::Relaxed), 0);
        // Too big for a 1500-byte underlay: dropped and counted.
        a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 1465))
            .unwrap();
        assert_eq!(a.counters.tx_too_big.load(Ordering::Relaxed), 1);
        // Another VNI, a bad header, a cut frame: counted, not delivered.
        let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = "127.0.0.2:47891";
        let mut other = vec![FLAG_VNI, 0, 0, 0, 0, 0, 7, 0];
        other.extend_from_slice(&frame(mb, ma, 60));
        raw.send_to(&other, to).unwrap();
        let mut bad = other.clone();
        bad[0] = 0;
        raw.send_to(&bad, to).unwrap();
        raw.send_to(&[FLAG_VNI, 0, 0, 0, 0, 0, 42, 0, 1, 2, 3], to)
            .unwrap();
        assert!(wait_recv(&b).is_none());
        assert_eq!(b.counters.rx_unknown_vni.load(Ordering::Relaxed), 1);
        assert_eq!(b.counters.rx_bad_header.load(Ordering::Relaxed), 1);
        assert_eq!(b.counters.rx_truncated.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn super_frames_leave_as_wire_sized_datagrams() {
        use vepa_packet::virtio::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
        let a = port("127.0.0.1", 47892, &["127.0.0.3"], 9);
        let b = port("127.0.0.3", 47892, &["127.0.0.1"], 9);
        let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        let mut f = frame(mb, ma, 14);
        let payload = 10_000usize;
        let total = (20 + 20 + payload) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[
            0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        f.extend((0..payload).map(|i| i as u8));
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1398,
            csum_start: 34,
            csum_offset: 16,
        };
        a.send(&hdr, &f).unwrap();
        let mut got = Vec::new();
        while let Some(x) = wait_recv(&b) {
            assert!(x.len() <= b.config().max_inner(), "wire-sized");
            got.extend_from_slice(&x[54..]);
            if got.len() >= payload {
                break;
            }
        }
        assert_eq!(
            got,
            (0..payload).map(|i| i as u8).collect::<Vec<_>>(),
            "the stream, in order"
        );
    }

    #[test]
    fn vlans_map_to_vnis_and_back() {
        let mapped = |local: &str, vid: u16| {
            VxlanPort::open(VxlanConfig {
                name: "vx".into(),
                vni: 0,
                local: local.parse().unwrap(),
                port: 47893,
                remotes: vec![if local == "127.0.0.1" {
                    "127.0.0.4"
                } else {
                    "127.0.0.1"
                }
                .parse()
                .unwrap()],
                underlay_mtu: 1500,
                vlan_vni: vec![(vid, 1010)],
            })
            .unwrap()
        };
        // VLAN 10 here and VLAN 30 there are both VNI 1010.
        let (a, b) = (mapped("127.0.0.1", 10), mapped("127.0.0.4", 30));
        let plain = frame([0xff; 6], [2, 0, 0, 0, 0, 1], 60);
        let tagged = |vid: u16| {
            let mut f = plain.clone();
            f.splice(12..12, [0x81, 0x00, 0, vid as u8]);
            f
        };
        a.send(&VirtioNetHdr::default(), &tagged(10)).unwrap();
        assert_eq!(
            wait_recv(&b).unwrap(),
            tagged(30),
            "tag off at one end, the other's on at the other"
        );
        // Untagged, or of an unmapped VLAN: not sent.
        a.send(&VirtioNetHdr::default(), &plain).unwrap();
        a.send(&VirtioNetHdr::default(), &tagged(20)).unwrap();
        assert_eq!(a.counters.tx_no_vni.load(Ordering::Relaxed), 2);
        assert!(wait_recv(&b).is_none());
    }
}
