//! The decision cache: what the pipeline decided for a (port, source,
//! destination, VLAN), reused for the next frame with the same headers.
//!
//! An entry is exact, not a guess: it is kept only while the forwarding
//! snapshot and the FDB generation it was made under are current, and only
//! until the earliest moment one of the FDB entries it relied on could age
//! out or the source is due a refresh of its age. Anything else (a drop, a
//! frame that is not cacheable) takes the full pipeline.

use crate::flow::{Key, Rewrite, RuleStats};
use crate::{Egress, PortId};
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
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
    /// Decisions of the flow tables, made when the switch has flows.
    pub(crate) pipeline: Option<Box<PipelineCache>>,
    /// The snapshot the entries belong to (its id).
    snapshot: u64,
    pub hits: u64,
    pub misses: u64,
}

impl Default for FlowCache {
    fn default() -> Self {
        FlowCache {
            slots: vec![None; SLOTS].into_boxed_slice(),
            pipeline: None,
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
            if let Some(p) = self.pipeline.as_mut() {
                p.slots.iter_mut().for_each(|s| s.valid = false);
            }
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

/// Flows one cached pipeline decision may have matched (goto chains).
pub(crate) const CACHED_RULES: usize = 4;
const PIPELINE_SLOTS: usize = 4096;
/// `generation` of a decision that did not consult the FDB.
pub(crate) const ANY_GENERATION: u64 = u64::MAX;

/// A flow-table decision for one exact packet key. Like the L2 entries it
/// is exact: the snapshot (flows, ports) and, when `NORMAL` took part, the
/// FDB generation and the entries' ages bound it.
#[derive(Clone)]
pub(crate) struct PipelineEntry {
    pub valid: bool,
    pub key: Key,
    pub generation: u64,
    pub valid_until_ms: u64,
    pub n: u8,
    pub out: [Egress; CACHED_EGRESS],
    pub rewrite: Option<Rewrite>,
    pub rules: [Option<Arc<RuleStats>>; CACHED_RULES],
}

pub(crate) struct PipelineCache {
    pub slots: Box<[PipelineEntry]>,
}

impl PipelineCache {
    pub fn new() -> Box<PipelineCache> {
        let empty = PipelineEntry {
            valid: false,
            key: [0; crate::flow::KEY_WORDS],
            generation: 0,
            valid_until_ms: 0,
            n: 0,
            out: [Egress {
                port: PortId(0),
                tag: None,
                rewrite: 0,
            }; CACHED_EGRESS],
            rewrite: None,
            rules: Default::default(),
        };
        Box::new(PipelineCache {
            slots: vec![empty; PIPELINE_SLOTS].into_boxed_slice(),
        })
    }

    #[inline]
    pub fn slot_of(key: &Key) -> usize {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        (h.finish() >> 20) as usize & (PIPELINE_SLOTS - 1)
    }
}
