//! AF_PACKET ports on an existing interface (a NIC, a veth end).
//!
//! The socket is bound to one interface, sees every frame in promiscuous
//! mode, and ignores the frames it sent itself. The kernel strips the 802.1Q
//! tag of received frames into metadata (VLAN acceleration happens in the
//! core, whether or not 802.1Q devices exist), so the tag is read back from
//! `PACKET_AUXDATA` and put back in place before the switch sees the frame.

use crate::batch::{RxBatch, MAX_BATCH};
use crate::port::{recv_one, Port};
use crate::sys::{iovec, iovec_mut, is_retry, setsockopt};
use crate::IoError;
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use vepa_packet::valid_ifname;
use vepa_packet::{checksum, VirtioNetHdr};

const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// The device-drop reason of frames the kernel dropped before vepa read them.
pub const KERNEL_DROPS: &str = "kernel_rx_dropped";

#[derive(Debug)]
pub struct PacketPort {
    name: String,
    fd: OwnedFd,
    ifindex: i32,
    vnet: bool,
    /// Frames the kernel dropped before we read them (its receive queue
    /// was full), summed: `PACKET_STATISTICS` resets on each read.
    kernel_drops: std::sync::atomic::AtomicU64,
}

/// The kernel's index for interface `name`, if it exists in this namespace.
pub fn ifindex(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx as i32)
}

/// A raw, non-blocking AF_PACKET socket for interface `name` (in the
/// calling thread's namespace), not bound yet, and the interface's index.
/// Its protocol is 0, which receives nothing until bind names the
/// interface, so no frame of another interface slips in between.
pub(crate) fn unbound_socket(name: &str) -> Result<(OwnedFd, i32), IoError> {
    if !valid_ifname(name) {
        return Err(IoError::BadInterfaceName(name.to_string()));
    }
    let ifindex = ifindex(name).ok_or_else(|| IoError::NoSuchInterface(name.to_string()))?;
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(IoError::os("open AF_PACKET socket on", name));
    }
    // SAFETY: raw is a fresh descriptor that nothing else owns.
    Ok((unsafe { OwnedFd::from_raw_fd(raw) }, ifindex))
}

impl PacketPort {
    /// Opens interface `name` for raw frames; with `offloads`, frames carry
    /// a virtio-net header (`PACKET_VNET_HDR`) and GSO super-frames pass whole.
    pub fn open(name: &str, offloads: bool) -> Result<PacketPort, IoError> {
        let (fd, ifindex) = unbound_socket(name)?;
        let os = |what| {
            let e = IoError::os(what, name);
            move |_| e
        };
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_AUXDATA,
            &1i32,
        )
        .map_err(os("enable PACKET_AUXDATA on"))?;
        // Best effort: kernels before 4.20 lack it, and recv also checks the packet type.
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &1i32,
        );
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &(4i32 << 20),
        );
        // SAFETY: all-zero is a valid sockaddr_ll; fields are set below.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: sll is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(IoError::os("bind AF_PACKET socket to", name));
        }
        // SAFETY: all-zero is a valid packet_mreq.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
        )
        .map_err(os("set promiscuous mode on"))?;
        if offloads {
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_VNET_HDR,
                &1i32,
            )
            .map_err(os("enable PACKET_VNET_HDR on"))?;
        }
        // Best effort: straight to the driver, skipping the qdisc layer.
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &1i32,
        );
        Ok(PacketPort {
            name: name.to_string(),
            fd,
            ifindex,
            vnet: offloads,
            kernel_drops: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Frames the kernel dropped on this socket because vepa did not read
    /// them in time, since the port was opened.
    pub fn kernel_drops(&self) -> u64 {
        let mut st = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `st` is a tpacket_stats the call may fill, and `len` its
        // size; the fd is this port's open AF_PACKET socket.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        let sum = &self.kernel_drops;
        if r == 0 {
            sum.fetch_add(u64::from(st.tp_drops), std::sync::atomic::Ordering::Relaxed);
        }
        sum.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }
}

/// What PACKET_AUXDATA says about a received frame.
struct Aux {
    vlan: Option<(u16, u16)>,
    csum_partial: bool,
}

fn auxdata(msg: &libc::msghdr) -> Aux {
    let mut aux = Aux {
        vlan: None,
        csum_partial: false,
    };
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel just
    // filled, bounded by msg_controllen; tpacket_auxdata is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let a =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::tpacket_auxdata);
                aux.csum_partial = a.tp_status & TP_STATUS_CSUMNOTREADY != 0;
                if a.tp_status & TP_STATUS_VLAN_VALID != 0 {
                    let tpid = if a.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                        a.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    aux.vlan = Some((tpid, a.tp_vlan_tci));
                }
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    aux
}

impl Port for PacketPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        self.vnet
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        recv_one(self, buf)
    }

    fn device_drops(&self) -> Vec<(&'static str, u64)> {
        vec![(KERNEL_DROPS, self.kernel_drops())]
    }

    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        const N: usize = MAX_BATCH;
        let want = batch.capacity().min(N);
        let mut hdrs = [[0u8; VirtioNetHdr::LEN]; N];
        // u64 keeps each control buffer aligned for cmsghdr.
        let mut control = [[0u64; 8]; N];
        // SAFETY: all-zero is a valid sockaddr_ll, iovec and mmsghdr.
        let mut from: [libc::sockaddr_ll; N] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut iovs: [[libc::iovec; 2]; N] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; N] = unsafe { zeroed() };
        for i in 0..want {
            // Four bytes stay free in front so a stripped tag can be put back in place.
            let buf = &mut batch.slot_buf(i)[4..];
            iovs[i] = [iovec_mut(&mut hdrs[i]), iovec_mut(buf)];
            let m = &mut msgs[i].msg_hdr;
            m.msg_name = &mut from[i] as *mut libc::sockaddr_ll as *mut libc::c_void;
            m.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            m.msg_iov = if self.vnet {
                iovs[i].as_mut_ptr()
            } else {
                iovs[i][1..].as_mut_ptr()
            };
            m.msg_iovlen = if self.vnet { 2 } else { 1 };
            m.msg_control = control[i].as_mut_ptr() as *mut libc::c_void;
            m.msg_controllen = size_of::<[u64; 8]>();
        }
        // SAFETY: every mmsghdr points at live iovecs, addresses and control
        // buffers for the call's duration; `want` of them are initialised.
        let got = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                want as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            return if is_retry(&e) { Ok(0) } else { Err(e) };
        }
        let skip = if self.vnet { VirtioNetHdr::LEN } else { 0 };
        let mut kept = 0;
        for i in 0..got as usize {
            let m = &msgs[i];
            if from[i].sll_pkttype == libc::PACKET_OUTGOING
                || m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0
            {
                // Our own transmissions, or larger than a buffer: a
                // super-frame on a port without offloads.
                continue;
            }
            let n = (m.msg_len as usize).saturating_sub(skip);
            let aux = auxdata(&m.msg_hdr);
            let vnet = if self.vnet {
                VirtioNetHdr::parse(&hdrs[i])
            } else {
                VirtioNetHdr::default()
            };
            // Frames are compacted towards the front when some were skipped.
            if kept != i {
                batch.swap(kept, i);
            }
            let slot = batch.slot_mut(kept);
            let buf = &mut slot.buf[..];
            let (start, len, mut vnet) = match aux.vlan {
                Some((tpid, tci)) if n >= 12 => {
                    buf.copy_within(4..16, 0);
                    buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                    buf[14..16].copy_from_slice(&tci.to_be_bytes());
                    // The kernel's offsets count from the frame without its tag.
                    (0, n + 4, vnet.shifted(4))
                }
                _ => (4, n, vnet),
            };
            // Without the vnet header, a local sender (a veth with checksum
            // offload on) left the TCP/UDP checksum to "hardware": we are that
            // hardware now. With it, the header says so and the frame stays partial.
            if aux.csum_partial && !self.vnet {
                checksum::fill_l4_checksum(&mut buf[start..start + len]);
                vnet = VirtioNetHdr::default();
            }
            slot.set(start, len, vnet);
            kept += 1;
        }
        batch.set_len(kept);
        Ok(kept)
    }

    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        const N: usize = MAX_BATCH;
        let mut hdrs = [[0u8; VirtioNetHdr::LEN]; N];
        // SAFETY: all-zero is a valid iovec and mmsghdr.
        let mut iovs: [[libc::iovec; 2]; N] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; N] = unsafe { zeroed() };
        let mut sent = 0;
        loop {
            let mut n = 0;
            for (vnet, frame) in (&mut *frames).take(N) {
                hdrs[n] = vnet.to_bytes();
                iovs[n] = [iovec(&hdrs[n]), iovec(frame)];
                let m = &mut msgs[n].msg_hdr;
                m.msg_iov = if self.vnet {
                    iovs[n].as_mut_ptr()
                } else {
                    iovs[n][1..].as_mut_ptr()
                };
                m.msg_iovlen = if self.vnet { 2 } else { 1 };
                n += 1;
            }
            if n == 0 {
                return Ok(sent);
            }
            let mut done = 0;
            while done < n {
                // SAFETY: msgs[done..n] point at live headers and frames for the call's duration.
                let r = unsafe {
                    libc::sendmmsg(
                        self.fd.as_raw_fd(),
                        msgs[done..].as_mut_ptr(),
                        (n - done) as u32,
                        0,
                    )
                };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if sent + done == 0 {
                        return Err(e);
                    }
                    // Count what went; the rest of this batch is lost (the caller counts errors).
                    return Ok(sent + done);
                }
                done += r as usize;
                if r == 0 {
                    break;
                }
            }
            sent += done;
        }
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let hdr = vnet.to_bytes();
        let mut iov = [iovec(&hdr), iovec(frame)];
        let (iov_ptr, iov_len) = if self.vnet {
            (iov.as_mut_ptr(), 2)
        } else {
            (iov[1..].as_mut_ptr(), 1)
        };
        // SAFETY: all-zero is a valid msghdr; the socket is bound, so no address is needed.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = iov_ptr;
        msg.msg_iovlen = iov_len;
        // SAFETY: msg points at live iovecs over live buffers for the call's duration.
        let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}
