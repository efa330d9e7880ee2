//! The decision cache: what the pipeline decided for a (port, source,
//! destination, VLAN), reused for the next frame with the same headers.
//!
//! An entry is exact, not a guess: it is kept only while the forwarding
//! snapshot and the FDB generation it was made under are current, and only
//! until the earliest moment one of the FDB entries it relied on could age
//! out or the source is due a refresh of its age. Anything else (a drop, a
//! frame that is not cacheable) takes the full pipeline.

use crate::{Egress, PortId};
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use vepa_packet::MacAddr;

/// Egress copies one entry holds; larger floods are not cached.
pub const CACHED_EGRESS: usize = 8;
const SLOTS: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    pub in_port: PortId,
    pub src: MacAddr,
    pub dst: MacAddr,
    pub vid: u16,
}

#[derive(Clone, Copy)]
struct Flow {
    key: FlowKey,
    generation: u64,
    valid_until_ms: u64,
    n: u8,
    out: [Egress; CACHED_EGRESS],
}

/// One thread's cache for one switch.
pub struct FlowCache {
    slots: Box<[Option<Flow>]>,
    /// The snapshot the entries belong to (its id).
    snapshot: u64,
    pub hits: u64,
    pub misses: u64,
}

impl Default for FlowCache {
    fn default() -> Self {
        FlowCache {
            slots: vec![None; SLOTS].into_boxed_slice(),
            snapshot: 0,
            hits: 0,
            misses: 0,
        }
    }
}

impl std::fmt::Debug for FlowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FlowCache {{ hits: {}, misses: {} }}",
            self.hits, self.misses
        )
    }
}

fn slot_of(key: &FlowKey) -> usize {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    (h.finish() >> 20) as usize & (SLOTS - 1)
}

impl FlowCache {
    /// Forgets everything if the snapshot changed.
    pub(crate) fn follow(&mut self, snapshot: u64) {
        if self.snapshot != snapshot {
            self.slots.iter_mut().for_each(|s| *s = None);
            self.snapshot = snapshot;
        }
    }

    pub(crate) fn get(
        &mut self,
        key: &FlowKey,
        generation: u64,
        now_ms: u64,
        out: &mut Vec<Egress>,
    ) -> bool {
        match &self.slots[slot_of(key)] {
            Some(f) if f.key == *key && f.generation == generation && now_ms < f.valid_until_ms => {
                out.extend_from_slice(&f.out[..f.n as usize]);
                self.hits += 1;
                true
            }
            _ => {
                self.misses += 1;
                false
            }
        }
    }

    pub(crate) fn put(
        &mut self,
        key: FlowKey,
        generation: u64,
        valid_until_ms: u64,
        egress: &[Egress],
    ) {
        if egress.len() > CACHED_EGRESS || egress.is_empty() {
            return;
        }
        let mut out = [egress[0]; CACHED_EGRESS];
        out[..egress.len()].copy_from_slice(egress);
        self.slots[slot_of(&key)] = Some(Flow {
            key,
            generation,
            valid_until_ms,
            n: egress.len() as u8,
            out,
        });
    }
}
