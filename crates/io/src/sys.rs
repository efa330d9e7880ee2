//! Small helpers over the C interface that several backends share.

use std::io;
use std::mem::size_of;
use std::os::fd::RawFd;

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

/// Sets socket option `opt` at `level` to `val`.
pub(crate) fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: &T,
) -> io::Result<()> {
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

/// Reads socket option `opt` at `level` into `val`.
pub(crate) fn getsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: &mut T,
) -> io::Result<()> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` is a live T and `len` says its size.
    let rc =
        unsafe { libc::getsockopt(fd, level, opt, val as *mut T as *mut libc::c_void, &mut len) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
