//! Small helpers over the C interface that several backends share.

use std::io;

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
