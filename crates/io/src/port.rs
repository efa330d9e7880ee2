//! The one interface every port backend implements.

use std::io;
use std::os::fd::RawFd;

/// A source and sink of Ethernet frames, driven by a poll loop.
pub trait Port: Send {
    /// The interface name, for logs and counters.
    fn name(&self) -> &str;

    /// The descriptor to poll for readability.
    fn fd(&self) -> RawFd;

    /// Reads one waiting frame into `buf` and returns it (the frame may not
    /// start at `buf[0]`); `Ok(None)` when nothing is waiting.
    fn recv<'a>(&mut self, buf: &'a mut [u8]) -> io::Result<Option<&'a [u8]>>;

    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
}

/// The would-block and interrupted cases a poll loop simply retries later.
pub(crate) fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
