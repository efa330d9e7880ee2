//! Batches: the frames one receive call brought in, each in its own buffer,
//! and the frames waiting to leave by one port until the batch is done,
//! each queued as its port can take it (offloads kept, or checksums
//! finished and super-frames cut for a port without them).

use crate::MAX_FRAME;
use std::io;
use vepa_packet::{checksum, gso, VirtioNetHdr};

/// The most frames one receive or send call moves.
pub const MAX_BATCH: usize = 32;

/// One received frame: `buf[start..start + len]`, with its offload state.
pub struct RxSlot {
    pub(crate) buf: Box<[u8]>,
    start: usize,
    len: usize,
    pub vnet: VirtioNetHdr,
}

impl RxSlot {
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    pub(crate) fn set(&mut self, start: usize, len: usize, vnet: VirtioNetHdr) {
        self.start = start;
        self.len = len;
        self.vnet = vnet;
    }
}

/// Up to `capacity` received frames; the buffers are allocated once.
pub struct RxBatch {
    slots: Vec<RxSlot>,
    len: usize,
}

impl RxBatch {
    /// A batch of `n` slots big enough for GSO super-frames.
    pub fn new(n: usize) -> RxBatch {
        RxBatch::with_buffer_len(n, MAX_FRAME + 4)
    }

    pub fn with_buffer_len(n: usize, buf_len: usize) -> RxBatch {
        let slots = (0..n.max(1))
            .map(|_| RxSlot {
                buf: vec![0u8; buf_len].into_boxed_slice(),
                start: 0,
                len: 0,
                vnet: VirtioNetHdr::default(),
            })
            .collect();
        RxBatch { slots, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn slot(&self, i: usize) -> &RxSlot {
        &self.slots[i]
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> &mut RxSlot {
        &mut self.slots[i]
    }

    pub(crate) fn slot_buf(&mut self, i: usize) -> &mut [u8] {
        &mut self.slots[i].buf
    }

    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        self.slots.swap(a, b);
    }

    pub(crate) fn set_len(&mut self, n: usize) {
        self.len = n.min(self.slots.len());
    }
}

/// Arena bytes a queue keeps between batches.
const ARENA_KEEP: usize = 256 << 10;

/// Where a queued frame's bytes are.
#[derive(Clone, Copy)]
enum TxFrom {
    /// Unchanged, still in the receive batch.
    Rx(usize),
    /// Changed (retagged, checksummed, segmented): a range of the arena.
    Arena(usize, usize),
}

/// Frames waiting to leave by one port until the end of the batch.
#[derive(Default)]
pub(crate) struct TxQueue {
    items: Vec<(VirtioNetHdr, TxFrom)>,
    arena: Vec<u8>,
}

impl TxQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes of copies held (changed frames and segments).
    pub(crate) fn held_bytes(&self) -> usize {
        self.arena.len()
    }

    pub(crate) fn push_rx(&mut self, slot: usize, vnet: VirtioNetHdr) {
        self.items.push((vnet, TxFrom::Rx(slot)));
    }

    pub(crate) fn push_copy(&mut self, frame: &[u8], vnet: VirtioNetHdr) {
        let start = self.arena.len();
        self.arena.extend_from_slice(frame);
        self.items.push((vnet, TxFrom::Arena(start, frame.len())));
    }

    /// Queues a copy for a port as the port can take it: as it is when the
    /// port has offloads (or the frame needs none), with its checksum
    /// finished, or cut into wire-sized segments.
    /// `slot`: the frame is that receive slot's, unchanged (no copy).
    pub(crate) fn push_for(
        &mut self,
        offloads: bool,
        slot: Option<usize>,
        vnet: &VirtioNetHdr,
        frame: &[u8],
        seg: &mut Vec<u8>,
    ) -> io::Result<()> {
        let plain = VirtioNetHdr::default();
        if offloads || vnet.is_plain() {
            let hdr = if offloads { *vnet } else { plain };
            if let Some(slot) = slot {
                self.push_rx(slot, hdr);
            } else {
                self.push_copy(frame, hdr);
            }
            return Ok(());
        }
        if !vnet.is_gso() {
            seg.clear();
            seg.extend_from_slice(frame);
            if !checksum::complete_partial(seg, vnet.csum_start as usize, vnet.csum_offset as usize)
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "checksum offsets outside the frame",
                ));
            }
            self.push_copy(seg, plain);
            return Ok(());
        }
        let mut scratch = std::mem::take(seg);
        let r = gso::segment(frame, vnet, &mut scratch, |s| self.push_copy(s, plain));
        *seg = scratch;
        r.map(|_| ())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The queued frames, resolved against the batch they came from.
    pub(crate) fn frames<'a>(
        &'a self,
        rx: &'a RxBatch,
    ) -> impl Iterator<Item = (VirtioNetHdr, &'a [u8])> + 'a {
        self.items.iter().map(move |(vnet, from)| match *from {
            TxFrom::Rx(i) => (*vnet, rx.slot(i).frame()),
            TxFrom::Arena(s, l) => (*vnet, &self.arena[s..s + l]),
        })
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.arena.clear();
        // A burst of changed super-frames may have grown the arena to
        // megabytes; with a hundred ports that adds up, so give most back.
        if self.arena.capacity() > ARENA_KEEP {
            self.arena.shrink_to(ARENA_KEEP);
        }
    }
}
