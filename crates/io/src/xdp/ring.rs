//! One ring of an AF_XDP socket, mapped into vepa: a producer index, a
//! consumer index and a flags word the kernel shares with us, then the
//! entries (UMEM addresses for the fill and completion rings, frame
//! descriptors for rx and tx). Each side only writes its own index and
//! publishes it with release ordering after the entries it covers.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// One of the four rings, mapped from the socket.
pub(super) struct Ring {
    map: *mut libc::c_void,
    map_len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
}

impl Ring {
    pub(super) fn map(
        fd: RawFd,
        off: &libc::xdp_ring_offset,
        entries: u32,
        elem: usize,
        pgoff: u64,
    ) -> io::Result<Ring> {
        let map_len = off.desc as usize + entries as usize * elem;
        // SAFETY: maps the ring the kernel made for this socket at `pgoff`;
        // the result is checked before use.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff as libc::off_t,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let at = |o: u64| (map as *mut u8).wrapping_add(o as usize);
        Ok(Ring {
            map,
            map_len,
            producer: at(off.producer) as *const AtomicU32,
            consumer: at(off.consumer) as *const AtomicU32,
            flags: at(off.flags) as *const AtomicU32,
            desc: at(off.desc),
            mask: entries - 1,
        })
    }

    pub(super) fn producer(&self) -> &AtomicU32 {
        // SAFETY: the producer index lies in the live mapping, 4-byte
        // aligned; the kernel and this side only touch it atomically.
        unsafe { &*self.producer }
    }

    pub(super) fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    pub(super) fn needs_wakeup(&self) -> bool {
        // SAFETY: as for `producer`.
        unsafe { &*self.flags }.load(Ordering::Acquire) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// The slot of entry `i` (wrapped), `elem` bytes wide.
    pub(super) fn slot(&self, i: u32, elem: usize) -> *mut u8 {
        self.desc.wrapping_add((i & self.mask) as usize * elem)
    }

    /// An address ring (fill, completion) entry.
    pub(super) fn addr(&self, i: u32) -> u64 {
        // SAFETY: entry `i & mask` is inside the mapped descriptor array.
        unsafe { std::ptr::read_volatile(self.slot(i, 8) as *const u64) }
    }

    pub(super) fn set_addr(&self, i: u32, addr: u64) {
        // SAFETY: as for `addr`; this side owns the entry until it
        // publishes the producer index past it.
        unsafe { std::ptr::write_volatile(self.slot(i, 8) as *mut u64, addr) }
    }

    /// A packet ring (rx, tx) entry.
    pub(super) fn desc(&self, i: u32) -> libc::xdp_desc {
        // SAFETY: as for `addr`, with 16-byte entries.
        unsafe { std::ptr::read_volatile(self.slot(i, 16) as *const libc::xdp_desc) }
    }

    pub(super) fn set_desc(&self, i: u32, d: libc::xdp_desc) {
        // SAFETY: as for `set_addr`, with 16-byte entries.
        unsafe { std::ptr::write_volatile(self.slot(i, 16) as *mut libc::xdp_desc, d) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `map` mapped; nothing uses it after.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}
