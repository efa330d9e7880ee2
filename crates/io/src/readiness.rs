//! Which of a worker's ports have frames waiting: one epoll set per
//! worker, level-triggered, each port registered under its index.
//!
//! `poll(2)` looks at every descriptor on every call, and a worker spins
//! on it between frames: at 1,000 ports that walk was most of the
//! worker's time (bench/scale). An epoll set costs per ready port, not
//! per port. Ports that share a descriptor (tunnels on one socket) are
//! all reported when it is readable, as poll would.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Most ports one wait reports; the rest are reported by the next.
const MAX_EVENTS: usize = 256;

pub(crate) struct Readiness {
    ep: OwnedFd,
    events: Vec<libc::epoll_event>,
    /// The ports watched on each descriptor.
    keys: HashMap<RawFd, Vec<usize>>,
}

impl Readiness {
    pub(crate) fn new() -> io::Result<Readiness> {
        // SAFETY: epoll_create1 takes no pointers; a valid descriptor it
        // returns is owned by nobody else.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned here alone.
        let ep = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Readiness {
            ep,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            keys: HashMap::new(),
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd) -> io::Result<()> {
        ctl(self.ep.as_raw_fd(), op, fd)
    }

    /// Watches `fd` for frames, reported as `key`.
    pub(crate) fn add(&mut self, fd: RawFd, key: usize) -> io::Result<()> {
        let keys = self.keys.entry(fd).or_default();
        if keys.contains(&key) {
            return Ok(());
        }
        if keys.is_empty() {
            ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd)?;
        }
        keys.push(key);
        Ok(())
    }

    /// Stops watching `fd` for port `key` (a resting port).
    pub(crate) fn remove(&mut self, fd: RawFd, key: usize) -> io::Result<()> {
        let Some(keys) = self.keys.get_mut(&fd) else {
            return Ok(());
        };
        keys.retain(|k| *k != key);
        if keys.is_empty() {
            self.keys.remove(&fd);
            return self.ctl(libc::EPOLL_CTL_DEL, fd);
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (0: just looks) and calls `ready` with
    /// the key of each port that has frames; returns how many.
    pub(crate) fn wait(
        &mut self,
        timeout_ms: i32,
        mut ready: impl FnMut(usize),
    ) -> io::Result<usize> {
        // SAFETY: `events` is a live buffer of MAX_EVENTS epoll_event the
        // kernel fills at most that many of.
        let n = unsafe {
            libc::epoll_wait(
                self.ep.as_raw_fd(),
                self.events.as_mut_ptr(),
                MAX_EVENTS as libc::c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut count = 0;
        for ev in &self.events[..n as usize] {
            let fd = ev.u64 as RawFd;
            for &key in self.keys.get(&fd).map(Vec::as_slice).unwrap_or_default() {
                ready(key);
                count += 1;
            }
        }
        Ok(count)
    }
}

/// One change to epoll set `ep`: `fd` watched for input, reported as itself.
fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a live epoll_event the call only reads; both
    // descriptors are open.
    let r = unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
