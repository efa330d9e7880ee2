//! AF_PACKET ports on an existing interface (a NIC, a veth end).
//!
//! The socket is bound to one interface, sees every frame in promiscuous
//! mode, and ignores the frames it sent itself. The kernel strips the 802.1Q
//! tag of received frames into metadata (VLAN acceleration happens in the
//! core, whether or not 802.1Q devices exist), so the tag is read back from
//! `PACKET_AUXDATA` and put back in place before the switch sees the frame.

use crate::port::{iovec, iovec_mut, is_retry, Port};
use crate::{valid_ifname, IoError};
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use vepa_packet::{checksum, VirtioNetHdr};

const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

#[derive(Debug)]
pub struct PacketPort {
    name: String,
    fd: OwnedFd,
    ifindex: i32,
    vnet: bool,
}

/// The kernel's index for interface `name`, if it exists in this namespace.
pub fn ifindex(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx as i32)
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: val points to a live T and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            val as *const T as *const libc::c_void,
            size_of::<T>() as u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl PacketPort {
    /// Opens interface `name` for raw frames; with `offloads`, frames carry
    /// a virtio-net header (`PACKET_VNET_HDR`) and GSO super-frames pass whole.
    pub fn open(name: &str, offloads: bool) -> Result<PacketPort, IoError> {
        if !valid_ifname(name) {
            return Err(IoError::BadInterfaceName(name.to_string()));
        }
        let ifindex = ifindex(name).ok_or_else(|| IoError::NoSuchInterface(name.to_string()))?;
        // Protocol 0 receives nothing until bind names the interface, so no
        // frame of another interface slips in between.
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
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
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
        })
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }
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

    fn recv<'a>(&mut self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        // Leave four bytes in front so a stripped tag can be put back without a copy of the payload.
        if buf.len() < 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffer too small",
            ));
        }
        let mut hdr = [0u8; VirtioNetHdr::LEN];
        loop {
            let mut iov = [iovec_mut(&mut hdr), iovec_mut(&mut buf[4..])];
            let (iov_ptr, iov_len) = if self.vnet {
                (iov.as_mut_ptr(), 2)
            } else {
                (iov[1..].as_mut_ptr(), 1)
            };
            // u64 keeps the control buffer aligned for cmsghdr.
            let mut control = [0u64; 16];
            // SAFETY: all-zero is a valid sockaddr_ll and msghdr.
            let mut from: libc::sockaddr_ll = unsafe { zeroed() };
            // SAFETY: as above.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = &mut from as *mut libc::sockaddr_ll as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = iov_ptr;
            msg.msg_iovlen = iov_len;
            msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = size_of::<[u64; 16]>();
            // SAFETY: msg points at live buffers (iov, from, control) for the call's duration.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return if is_retry(&e) { Ok(None) } else { Err(e) };
            }
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let skip = if self.vnet { VirtioNetHdr::LEN } else { 0 };
            let n = (n as usize).saturating_sub(skip);
            if n > buf.len() - 4 {
                // Larger than our buffer: a super-frame on a port without offloads.
                tracing::debug!(port = %self.name, len = n, "dropping oversized frame");
                continue;
            }
            let mut vnet = if self.vnet {
                VirtioNetHdr::parse(&hdr)
            } else {
                VirtioNetHdr::default()
            };
            let mut vlan: Option<(u16, u16)> = None;
            let mut csum_partial = false;
            // SAFETY: the CMSG_* helpers walk the control buffer the kernel just filled,
            // bounded by msg_controllen; tpacket_auxdata is read unaligned.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA
                    {
                        let aux = std::ptr::read_unaligned(
                            libc::CMSG_DATA(c) as *const libc::tpacket_auxdata
                        );
                        csum_partial = aux.tp_status & TP_STATUS_CSUMNOTREADY != 0;
                        if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
                            let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                                aux.tp_vlan_tpid
                            } else {
                                0x8100
                            };
                            vlan = Some((tpid, aux.tp_vlan_tci));
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            let frame = match vlan {
                Some((tpid, tci)) if n >= 12 => {
                    buf.copy_within(4..16, 0);
                    buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                    buf[14..16].copy_from_slice(&tci.to_be_bytes());
                    // The kernel's offsets count from the frame without its tag.
                    vnet = vnet.shifted(4);
                    &mut buf[..n + 4]
                }
                _ => &mut buf[4..4 + n],
            };
            // Without the vnet header, a local sender (a veth with checksum
            // offload on) left the TCP/UDP checksum to "hardware": we are that
            // hardware now. With it, the header says so and the frame stays partial.
            if csum_partial && !self.vnet {
                checksum::fill_l4_checksum(frame);
            }
            return Ok(Some((vnet, frame)));
        }
    }

    fn send(&mut self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
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
