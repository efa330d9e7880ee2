//! An experimental receive path for AF_PACKET ports: a TPACKET_V3 ring
//! mapped into our memory, so frames under load arrive without a receive
//! call each. Transmit stays on `sendmmsg`. `vepa run --rx-ring` selects it;
//! bench/RESULTS.md says how it compares with `recvmmsg`.

use crate::batch::RxBatch;
use crate::packet_socket::PacketPort;
use crate::port::{recv_one, Port};
use crate::IoError;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use vepa_packet::{checksum, VirtioNetHdr};

const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Blocks of 256 KiB hold three 64 KiB GSO frames; four of them per port.
const BLOCK_SIZE: u32 = 256 << 10;
const BLOCKS: u32 = 4;

#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// Where reading stopped: the block, and (frames left, offset of the next)
/// when a batch filled up in the middle of one.
#[derive(Default)]
struct Cursor {
    block: u32,
    next: Option<(u32, u32)>,
}

pub struct RingPort {
    sock: PacketPort,
    ring: *mut u8,
    /// Only the worker owning the receive side takes it, once per batch.
    cursor: std::sync::Mutex<Cursor>,
}

// SAFETY: the ring is a private mapping of this port's socket; only the
// worker that owns the port's receive side reads it (recv_batch), and the
// kernel synchronises through each block's status word.
unsafe impl Send for RingPort {}
// SAFETY: as above; the shared methods (send, fd, name) do not touch the ring.
unsafe impl Sync for RingPort {}

fn rd32(p: *const u8, off: usize) -> u32 {
    // SAFETY: callers pass offsets inside the mapped block they are reading.
    unsafe { std::ptr::read_unaligned(p.add(off) as *const u32) }
}

fn rd16(p: *const u8, off: usize) -> u16 {
    // SAFETY: as for rd32.
    unsafe { std::ptr::read_unaligned(p.add(off) as *const u16) }
}

impl RingPort {
    pub fn open(name: &str, offloads: bool) -> Result<RingPort, IoError> {
        let sock = PacketPort::open(name, offloads)?;
        let fd = sock.fd();
        let os = |what| IoError::os(what, name);
        let set = |opt: libc::c_int, val: *const libc::c_void, len: usize| {
            // SAFETY: val points at a live value of `len` bytes.
            unsafe { libc::setsockopt(fd, libc::SOL_PACKET, opt, val, len as u32) }
        };
        let v = TPACKET_V3;
        if set(
            libc::PACKET_VERSION,
            &v as *const _ as *const libc::c_void,
            4,
        ) < 0
        {
            return Err(os("select TPACKET_V3 on"));
        }
        let req = TpacketReq3 {
            block_size: BLOCK_SIZE,
            block_nr: BLOCKS,
            frame_size: 2048,
            frame_nr: BLOCK_SIZE / 2048 * BLOCKS,
            retire_blk_tov: 1,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        if set(
            libc::PACKET_RX_RING,
            &req as *const _ as *const libc::c_void,
            std::mem::size_of::<TpacketReq3>(),
        ) < 0
        {
            return Err(os("set up the receive ring of"));
        }
        let len = (BLOCK_SIZE * BLOCKS) as usize;
        // SAFETY: maps the ring the kernel just made for this socket; checked below.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(os("map the receive ring of"));
        }
        Ok(RingPort {
            sock,
            ring: ring as *mut u8,
            cursor: std::sync::Mutex::new(Cursor::default()),
        })
    }

    fn block_ptr(&self, i: u32) -> *mut u8 {
        // SAFETY: i < BLOCKS, so the block lies inside the mapping.
        unsafe { self.ring.add((i * BLOCK_SIZE) as usize) }
    }

    /// The status word of block `b`, shared with the kernel.
    fn status(b: *mut u8) -> &'static AtomicU32 {
        // SAFETY: offset 8 of a block descriptor is its aligned u32 status,
        // which lives as long as the mapping (the port); the kernel and we
        // hand the block back and forth through it.
        unsafe { &*(b.add(8) as *const AtomicU32) }
    }
}

impl Drop for RingPort {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in open.
        unsafe {
            libc::munmap(
                self.ring as *mut libc::c_void,
                (BLOCK_SIZE * BLOCKS) as usize,
            )
        };
    }
}

impl Port for RingPort {
    fn name(&self) -> &str {
        self.sock.name()
    }

    fn fd(&self) -> RawFd {
        self.sock.fd()
    }

    fn offloads(&self) -> bool {
        self.sock.offloads()
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        recv_one(self, buf)
    }

    fn recv_batch(&self, batch: &mut RxBatch) -> io::Result<usize> {
        let mut cur = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        while n < batch.capacity() {
            let b = self.block_ptr(cur.block);
            // Acquire: the frames are complete once the kernel hands the block over.
            if Self::status(b).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                break;
            }
            let (mut left, mut off) = cur.next.unwrap_or((rd32(b, 12), rd32(b, 16)));
            while left > 0 && n < batch.capacity() {
                // SAFETY: the kernel's offsets stay inside the block.
                let h = unsafe { b.add(off as usize) };
                let (snaplen, len, st, mac) =
                    (rd32(h, 12), rd32(h, 16), rd32(h, 20), rd16(h, 24) as usize);
                left -= 1;
                off += rd32(h, 0);
                if snaplen != len || snaplen as usize + 4 > batch.slot_buf(n).len() {
                    continue;
                }
                let mut vnet = VirtioNetHdr::default();
                if self.sock.offloads() {
                    let mut hb = [0u8; VirtioNetHdr::LEN];
                    // SAFETY: the kernel writes the vnet header just before the frame.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            h.add(mac - VirtioNetHdr::LEN),
                            hb.as_mut_ptr(),
                            VirtioNetHdr::LEN,
                        )
                    };
                    vnet = VirtioNetHdr::parse(&hb);
                }
                let buf = batch.slot_buf(n);
                let len = snaplen as usize;
                // SAFETY: the frame's bytes lie inside the block (snaplen from the kernel).
                unsafe { std::ptr::copy_nonoverlapping(h.add(mac), buf[4..].as_mut_ptr(), len) };
                let (start, flen) = if st & TP_STATUS_VLAN_VALID != 0 && len >= 12 {
                    let tpid = if st & TP_STATUS_VLAN_TPID_VALID != 0 {
                        rd16(h, 36)
                    } else {
                        0x8100
                    };
                    let tci = rd32(h, 32) as u16;
                    buf.copy_within(4..16, 0);
                    buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                    buf[14..16].copy_from_slice(&tci.to_be_bytes());
                    vnet = vnet.shifted(4);
                    (0, len + 4)
                } else {
                    (4, len)
                };
                if st & TP_STATUS_CSUMNOTREADY != 0 && !self.sock.offloads() {
                    checksum::fill_l4_checksum(&mut buf[start..start + flen]);
                }
                batch.slot_mut(n).set(start, flen, vnet);
                n += 1;
            }
            if left == 0 {
                // Give the block back and move on.
                Self::status(b).store(TP_STATUS_KERNEL, Ordering::Release);
                cur.block = (cur.block + 1) % BLOCKS;
                cur.next = None;
            } else {
                cur.next = Some((left, off));
            }
        }
        batch.set_len(n);
        Ok(n)
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        self.sock.send(vnet, frame)
    }

    fn send_batch(
        &self,
        frames: &mut dyn Iterator<Item = (VirtioNetHdr, &[u8])>,
    ) -> io::Result<usize> {
        self.sock.send_batch(frames)
    }
}
