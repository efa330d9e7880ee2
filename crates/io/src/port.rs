//! The one interface every port backend implements.

use std::io;
use std::os::fd::RawFd;
use vepa_packet::VirtioNetHdr;

/// A source and sink of Ethernet frames, driven by a poll loop.
///
/// A port with [`offloads`](Port::offloads) speaks the virtio-net header:
/// it receives and sends frames whose checksum is left partial and GSO
/// super-frames (up to 64 KiB), as a virtio NIC does. A port without it
/// sees only complete, wire-sized frames; the forwarder finishes checksums
/// and segments for it.
pub trait Port: Send {
    /// The interface name, for logs and counters.
    fn name(&self) -> &str;

    /// The descriptor to poll for readability.
    fn fd(&self) -> RawFd;

    /// Whether the port takes partial checksums and GSO super-frames.
    fn offloads(&self) -> bool;

    /// Reads one waiting frame into `buf` and returns it with its offload
    /// state (the frame may not start at `buf[0]`); `Ok(None)` when nothing
    /// is waiting.
    fn recv<'a>(&mut self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>>;

    /// Sends one frame; `vnet` must be plain unless the port has offloads.
    fn send(&mut self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()>;
}

/// The would-block and interrupted cases a poll loop simply retries later.
pub(crate) fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// An I/O vector over a buffer the kernel fills (readv, recvmsg).
pub(crate) fn iovec_mut(b: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: b.as_mut_ptr() as *mut libc::c_void,
        iov_len: b.len(),
    }
}

/// An I/O vector over a buffer the kernel only reads (writev, sendmsg): the
/// raw pointer is cast, no mutable reference is made.
pub(crate) fn iovec(b: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: b.as_ptr() as *mut libc::c_void,
        iov_len: b.len(),
    }
}
