//! AF_XDP ports: an XDP program on the device hands every received frame
//! to an AF_XDP socket, whose rings and frame memory (the UMEM) are
//! mapped into vepa. A frame arrives without a receive call or a socket
//! buffer; sending is a descriptor in the transmit ring and one wakeup
//! per batch.
//!
//! Copy mode only: the kernel copies frames into and out of the UMEM
//! (veth has no zero-copy path, and the ports this serves are veths).
//! One socket serves one receive queue, so a device with more than one
//! is refused and the caller falls back to AF_PACKET; so is a device with
//! the host's own addresses on it (a NIC the host talks through), whose
//! frames AF_PACKET shares with the host and XDP would take away. The
//! program drops what no socket takes, so no frame reaches the host
//! around the switch.
//!
//! What the kernel no longer does for us once XDP owns the device:
//! - a veth's sender leaves TCP/UDP checksums to "hardware" (its skb is
//!   CHECKSUM_PARTIAL) and XDP drops that note. Each such frame from a
//!   veth is made partial again here, which costs a pseudo-header sum,
//!   and is marked `NEEDS_CSUM`: the forwarder finishes it for a port
//!   that needs it whole; a tap or an offloading port takes it as is.
//! - the sender's GSO: a veth whose peer runs XDP sends wire-sized frames
//!   (the kernel turns GSO off on it), so TCP pays per segment.

use crate::batch::{RxBatch, MAX_BATCH};
use crate::port::{recv_one, Port};
use crate::sys::{getsockopt, setsockopt};
use crate::IoError;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use vepa_kernel::xdp::XskRedirect;
use vepa_packet::virtio::VIRTIO_NET_HDR_F_NEEDS_CSUM;

mod ring;
use ring::Ring;
use vepa_packet::{checksum, valid_ifname, VirtioNetHdr};

/// Bytes per UMEM frame: one page, so any frame a veth running XDP
/// passes (its MTU is capped near 3.5 KB) fits.
const FRAME: u64 = 4096;
/// Frames for receiving (all in the fill ring when idle), then as many for sending.
const RX_FRAMES: u32 = 2048;
const TX_FRAMES: u32 = 2048;

struct RxSide {
    rx: Ring,
    fill: Ring,
}

struct TxSide {
    tx: Ring,
    comp: Ring,
    /// UMEM frames not in flight.
    free: Vec<u64>,
}

pub struct XdpPort {
    name: String,
    // Field order is drop order: the program leaves the device before the
    // socket closes, and the rings are unmapped before the UMEM.
    _redirect: XskRedirect,
    rx: Mutex<RxSide>,
    tx: Mutex<TxSide>,
    fd: OwnedFd,
    umem: *mut u8,
    umem_len: usize,
    /// Frames come from a veth, whose sender may have left checksums partial.
    veth: bool,
    tx_no_frame: AtomicU64,
    tx_oversize: AtomicU64,
}

// SAFETY: the raw pointers are this port's own mappings (UMEM, rings);
// each side's ring state is behind its mutex, and a UMEM frame is touched
// only by the side that owns it (fill/rx frames by the receiver, free/tx
// frames by the sender), handed over through the rings' indices.
unsafe impl Send for XdpPort {}
// SAFETY: as above.
unsafe impl Sync for XdpPort {}

impl XdpPort {
    /// Opens interface `name` through AF_XDP: makes the socket and its
    /// UMEM, loads and attaches the redirecting program. Fails, leaving
    /// the device as it was, where XDP cannot attach natively (the
    /// caller then uses AF_PACKET).
    pub fn open(name: &str) -> Result<XdpPort, IoError> {
        if !valid_ifname(name) {
            return Err(IoError::BadInterfaceName(name.to_string()));
        }
        let ifindex = crate::packet_socket::ifindex(name)
            .ok_or_else(|| IoError::NoSuchInterface(name.to_string()))?;
        let refuse = |why: String| IoError::Os {
            what: "use AF_XDP on",
            name: name.to_string(),
            source: io::Error::other(why),
        };
        let queues = vepa_kernel::xdp::rx_queues(name);
        if queues != 1 {
            return Err(refuse(format!(
                "it has {queues} receive queues; vepa's AF_XDP ports serve one"
            )));
        }
        if vepa_kernel::xdp::carries_host_addresses(name) {
            return Err(refuse(
                "it carries the host's own addresses, and XDP would take its traffic from the host"
                    .into(),
            ));
        }
        let os = |what| {
            let name = name.to_string();
            move |source| IoError::Os { what, name, source }
        };
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(IoError::os("open an AF_XDP socket for", name));
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let frames = RX_FRAMES + TX_FRAMES;
        let umem_len = frames as usize * FRAME as usize;
        // SAFETY: an anonymous private mapping; checked below.
        let umem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                umem_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if umem == libc::MAP_FAILED {
            return Err(IoError::os("map the UMEM for", name));
        }
        // From here the port owns the mapping (its Drop unmaps it), so the
        // remaining steps build it in place.
        let mut guard = XdpPortBuilder {
            umem: umem as *mut u8,
            umem_len,
        };
        let reg = libc::xdp_umem_reg {
            addr: umem as u64,
            len: umem_len as u64,
            chunk_size: FRAME as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        let s = fd.as_raw_fd();
        setsockopt(s, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg)
            .map_err(os("register the UMEM of"))?;
        setsockopt(s, libc::SOL_XDP, libc::XDP_UMEM_FILL_RING, &RX_FRAMES)
            .map_err(os("size the fill ring of"))?;
        setsockopt(s, libc::SOL_XDP, libc::XDP_UMEM_COMPLETION_RING, &TX_FRAMES)
            .map_err(os("size the completion ring of"))?;
        setsockopt(s, libc::SOL_XDP, libc::XDP_RX_RING, &RX_FRAMES)
            .map_err(os("size the receive ring of"))?;
        setsockopt(s, libc::SOL_XDP, libc::XDP_TX_RING, &TX_FRAMES)
            .map_err(os("size the transmit ring of"))?;
        // SAFETY: all-zero is a valid xdp_mmap_offsets.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        getsockopt(s, libc::SOL_XDP, libc::XDP_MMAP_OFFSETS, &mut off)
            .map_err(os("read the ring offsets of"))?;
        let rx = Ring::map(s, &off.rx, RX_FRAMES, 16, libc::XDP_PGOFF_RX_RING as u64)
            .map_err(os("map the receive ring of"))?;
        let tx = Ring::map(s, &off.tx, TX_FRAMES, 16, libc::XDP_PGOFF_TX_RING as u64)
            .map_err(os("map the transmit ring of"))?;
        let fill = Ring::map(s, &off.fr, RX_FRAMES, 8, libc::XDP_UMEM_PGOFF_FILL_RING)
            .map_err(os("map the fill ring of"))?;
        let comp = Ring::map(
            s,
            &off.cr,
            TX_FRAMES,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )
        .map_err(os("map the completion ring of"))?;
        // Every receive frame to the kernel; the send frames wait here.
        for i in 0..RX_FRAMES {
            fill.set_addr(i, i as u64 * FRAME);
        }
        fill.producer().store(RX_FRAMES, Ordering::Release);
        let free = (RX_FRAMES..frames)
            .rev()
            .map(|i| i as u64 * FRAME)
            .collect();
        let sxdp = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: libc::XDP_COPY | libc::XDP_USE_NEED_WAKEUP,
            sxdp_ifindex: ifindex as u32,
            sxdp_queue_id: 0,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `sxdp` is a valid sockaddr_xdp and its size is passed.
        let rc = unsafe {
            libc::bind(
                s,
                &sxdp as *const libc::sockaddr_xdp as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_xdp>() as u32,
            )
        };
        if rc < 0 {
            return Err(IoError::os("bind the AF_XDP socket to", name));
        }
        let redirect = XskRedirect::attach(name, ifindex as u32, 1).map_err(|e| IoError::Os {
            what: "attach XDP to",
            name: name.to_string(),
            source: io::Error::other(e.to_string()),
        })?;
        redirect
            .set(0, s)
            .map_err(os("put the AF_XDP socket in the XSKMAP of"))?;
        let veth = vepa_kernel::nic::driver(name).as_deref() == Some("veth");
        let (umem, umem_len) = guard.take();
        Ok(XdpPort {
            name: name.to_string(),
            _redirect: redirect,
            rx: Mutex::new(RxSide { rx, fill }),
            tx: Mutex::new(TxSide { tx, comp, free }),
            fd,
            umem,
            umem_len,
            veth,
            tx_no_frame: AtomicU64::new(0),
            tx_oversize: AtomicU64::new(0),
        })
    }

    fn frame(&self, addr: u64, len: usize) -> Option<*mut u8> {
        let end = addr.checked_add(len as u64)?;
        // A frame never spans two UMEM chunks.
        (end as usize <= self.umem_len && addr / FRAME == (end.max(1) - 1) / FRAME)
            .then(|| self.umem.wrapping_add(addr as usize))
    }

    /// Tells the kernel to transmit what the tx ring holds.
    fn kick(&self) {
        for _ in 0..64 {
            // SAFETY: sendto(2) with no data on this port's socket.
            let rc = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if rc >= 0 {
                return;
            }
            // EAGAIN: the kernel sent a budget and more is queued; EBUSY:
            // the device dropped one; anything else: try with the next batch.
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EBUSY) => continue,
                _ => return,
            }
        }
    }

    fn stats(&self) -> Option<libc::xdp_statistics> {
        // SAFETY: all-zero is a valid xdp_statistics.
        let mut st: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        getsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_XDP,
            libc::XDP_STATISTICS,
            &mut st,
        )
        .ok()?;
        Some(st)
    }
}

/// The UMEM while the port around it is being made: unmapped if making
/// it fails.
struct XdpPortBuilder {
    umem: *mut u8,
    umem_len: usize,
}

impl XdpPortBuilder {
    fn take(&mut self) -> (*mut u8, usize) {
        let out = (self.umem, self.umem_len);
        self.umem = std::ptr::null_mut();
        out
    }
}

impl Drop for XdpPortBuilder {
    fn drop(&mut self) {
        if !self.umem.is_null() {
            // SAFETY: the mapping made in `open`, not handed to a port.
            unsafe { libc::munmap(self.umem as *mut libc::c_void, self.umem_len) };
        }
    }
}

impl Drop for XdpPort {
    fn drop(&mut self) {
        // The rings and the socket go first (fields drop after this), but
        // the kernel holds its own reference to the UMEM's pages, so
        // unmapping our view of it now is safe.
        // SAFETY: the mapping made in `open`; nothing reads it after drop.
        unsafe { libc::munmap(self.umem as *mut libc::c_void, self.umem_len) };
    }
}

impl Port for XdpPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        false
    }

    fn status(&self) -> Option<String> {
        Some("AF_XDP, copy mode".into())
    }

    fn device_drops(&self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if let Some(st) = self.stats() {
            out.push(("xsk_rx_ring_full", st.rx_ring_full));
            out.push(("xsk_fill_ring_empty", st.rx_fill_ring_empty_descs));
            out.push(("xsk_rx_dropped", st.rx_dropped));
        }
        out.push(("xsk_tx_no_frame", self.tx_no_frame.load(Ordering::Relaxed)));
        out.push(("xsk_tx_oversize", self.tx_oversize.load(Ordering::Relaxed)));
        out.retain(|(_, n)| *n > 0);
        out
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        recv_one(self, buf)
    }

    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        let side = self.rx.lock().map_err(|_| io::Error::other("poisoned"))?;
        let cons = side.rx.consumer().load(Ordering::Relaxed);
        let prod = side.rx.producer().load(Ordering::Acquire);
        let n = prod
            .wrapping_sub(cons)
            .min(batch.capacity().min(MAX_BATCH) as u32);
        if n == 0 {
            batch.set_len(0);
            return Ok(0);
        }
        let fill_prod = side.fill.producer().load(Ordering::Relaxed);
        let mut kept = 0;
        for i in 0..n {
            let d = side.rx.desc(cons.wrapping_add(i));
            let len = d.len as usize;
            let slot = batch.slot_mut(kept);
            if let Some(src) = self.frame(d.addr, len).filter(|_| len <= slot.buf.len()) {
                // SAFETY: `frame` checked the range lies in the UMEM; the
                // kernel handed this frame to us through the rx ring and
                // does not touch it until it is back in the fill ring.
                let bytes = unsafe { std::slice::from_raw_parts(src, len) };
                slot.buf[..len].copy_from_slice(bytes);
                let mut vnet = VirtioNetHdr::default();
                if self.veth {
                    if let Some((start, off)) = checksum::make_partial(&mut slot.buf[..len]) {
                        vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                        vnet.csum_start = start as u16;
                        vnet.csum_offset = off as u16;
                    }
                }
                slot.set(0, len, vnet);
                kept += 1;
            }
            // The frame goes back to the kernel for the next arrival.
            side.fill
                .set_addr(fill_prod.wrapping_add(i), d.addr - d.addr % FRAME);
        }
        side.rx
            .consumer()
            .store(cons.wrapping_add(n), Ordering::Release);
        side.fill
            .producer()
            .store(fill_prod.wrapping_add(n), Ordering::Release);
        if side.fill.needs_wakeup() {
            // SAFETY: recvfrom(2) with no buffer, only to wake the kernel.
            unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
        batch.set_len(kept);
        Ok(kept)
    }

    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        let mut side = self.tx.lock().map_err(|_| io::Error::other("poisoned"))?;
        // Frames the kernel is done with come back first.
        let ccons = side.comp.consumer().load(Ordering::Relaxed);
        let cprod = side.comp.producer().load(Ordering::Acquire);
        for i in 0..cprod.wrapping_sub(ccons) {
            let a = side.comp.addr(ccons.wrapping_add(i));
            side.free.push(a - a % FRAME);
        }
        side.comp.consumer().store(cprod, Ordering::Release);
        let prod = side.tx.producer().load(Ordering::Relaxed);
        let room = TX_FRAMES - prod.wrapping_sub(side.tx.consumer().load(Ordering::Acquire));
        let mut n = 0u32;
        for (_, frame) in frames {
            if frame.len() > FRAME as usize {
                self.tx_oversize.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let addr = match side.free.pop() {
                Some(a) if n < room => a,
                Some(a) => {
                    side.free.push(a);
                    self.tx_no_frame.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                None => {
                    self.tx_no_frame.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let Some(dst) = self.frame(addr, frame.len()) else {
                side.free.push(addr);
                continue;
            };
            // SAFETY: `frame` checked the range; the frame came off the free
            // list, so the kernel is not reading it.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), dst, frame.len()) };
            side.tx.set_desc(
                prod.wrapping_add(n),
                libc::xdp_desc {
                    addr,
                    len: frame.len() as u32,
                    options: 0,
                },
            );
            n += 1;
        }
        if n > 0 {
            side.tx
                .producer()
                .store(prod.wrapping_add(n), Ordering::Release);
            drop(side);
            self.kick();
        }
        Ok(n as usize)
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let n = self.send_batch(&mut std::iter::once((*vnet, frame)))?;
        if n == 1 {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "no AF_XDP transmit frame free",
            ))
        }
    }
}
