//! A patch wire between two switches of one forwarder, with no kernel
//! device under it.
//!
//! The forwarder finds both ends among its ports and tells the datapath,
//! which then takes a frame across in memory: the copy for one end enters
//! the other end's switch on the same thread, with no syscall, no wakeup
//! and one copy (`Datapath::set_wires`). The two ends are also a real pair
//! of ports over a datagram socket pair, each datagram a virtio-net
//! header and the frame: that carries what is sent to an end from outside
//! the forwarding loop (an OpenFlow packet-out), and it is the whole wire
//! when only one end runs in this forwarder.

use crate::port::Port;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use vepa_packet::VirtioNetHdr;

/// The socket buffers: room for a few GSO super-frames in flight.
const SOCKET_BUFFER: usize = 1 << 20;

/// One end of a wire.
#[derive(Debug)]
pub struct WirePort {
    name: String,
    sock: UnixDatagram,
    /// The wire (the same for both ends, unique in the process) and which end.
    wire: u64,
    end: u8,
}

/// Makes a wire; its ends are named for logs and counters.
pub fn wire(a: &str, b: &str) -> io::Result<(WirePort, WirePort)> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let wire = NEXT.fetch_add(1, Ordering::Relaxed);
    let (x, y) = UnixDatagram::pair()?;
    let end = |name: &str, sock: UnixDatagram, end: u8| -> io::Result<WirePort> {
        sock.set_nonblocking(true)?;
        set_buffers(&sock);
        Ok(WirePort {
            name: name.to_string(),
            sock,
            wire,
            end,
        })
    };
    Ok((end(a, x, 0)?, end(b, y, 1)?))
}

/// Larger socket buffers than the default, best effort (a smaller buffer
/// only drops sooner).
fn set_buffers(sock: &UnixDatagram) {
    let size = SOCKET_BUFFER as libc::c_int;
    for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live
        // c_int; the descriptor is the socket's own.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

impl WirePort {
    /// The port as a wire end, if it is one.
    pub fn of(port: &dyn Port) -> Option<&WirePort> {
        port.as_any()?.downcast_ref::<WirePort>()
    }

    /// The wire, the same for both ends.
    pub fn wire(&self) -> u64 {
        self.wire
    }

    /// Which end: 0 or 1.
    pub fn end(&self) -> u8 {
        self.end
    }
}

impl Port for WirePort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        true
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        let n = match self.sock.recv(buf) {
            Ok(n) => n,
            Err(e) if crate::sys::is_retry(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Only the other end writes here, always a header first; anything
        // shorter (or cut by a short buffer) is not a frame.
        let Some((head, frame)) = buf[..n].split_first_chunk::<{ VirtioNetHdr::LEN }>() else {
            return Ok(None);
        };
        Ok(Some((VirtioNetHdr::parse(head), frame)))
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        let head = vnet.to_bytes();
        let iov = [crate::sys::iovec(&head), crate::sys::iovec(frame)];
        // SAFETY: a zeroed msghdr is valid; it points at `iov`, which
        // outlives the call, and sendmsg only reads the buffers.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len();
            libc::sendmsg(self.sock.as_raw_fd(), &msg, libc::MSG_DONTWAIT)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_crosses_with_its_header() {
        let (a, b) = wire("a", "b").expect("socket pair");
        assert_eq!(a.wire(), b.wire());
        assert_ne!(a.end(), b.end());
        let hdr = VirtioNetHdr {
            flags: 1,
            csum_start: 34,
            csum_offset: 16,
            ..Default::default()
        };
        a.send(&hdr, &[7u8; 60]).expect("send");
        let mut buf = vec![0u8; crate::MAX_FRAME];
        let (h, f) = b.recv(&mut buf).expect("recv").expect("a frame");
        assert_eq!((h, f), (hdr, &[7u8; 60][..]));
        assert!(b.recv(&mut buf).expect("recv").is_none());
        // A GSO super-frame passes whole.
        a.send(&VirtioNetHdr::default(), &vec![1u8; 65_000])
            .expect("send");
        let (_, f) = b.recv(&mut buf).expect("recv").expect("a frame");
        assert_eq!(f.len(), 65_000);
    }
}
