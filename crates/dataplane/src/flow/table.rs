//! One flow table: a tuple-space classifier.
//!
//! Flows are grouped by mask (a "subtable"); each subtable is a hash map
//! from the masked key to its flows, highest priority first. A lookup masks
//! the packet's key once per subtable, visiting subtables in order of the
//! highest priority they hold and stopping as soon as none left could beat
//! the best match so far (Open vSwitch's classifier does the same). With
//! equal priorities the flow added first wins, so a lookup is deterministic
//! (OpenFlow leaves that case undefined).
//!
//! Each subtable's map is cut into shards behind `Arc`s: publishing a
//! table to the dataplane copies a few dozen pointers, and a change copies
//! only the shard it touches, so a controller adding flows one at a time
//! (each followed by a barrier) costs the same at the ten-thousandth flow
//! as at the first.

use super::action::Instruction;
use super::matcher::Match;
use crate::key::{Key, KEY_WORDS};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `OFPFF_SEND_FLOW_REM`: tell the controller when the flow goes.
pub const FLAG_SEND_FLOW_REM: u16 = 1 << 0;
/// `OFPFF_CHECK_OVERLAP`: refuse an add that overlaps a flow of the same priority.
pub const FLAG_CHECK_OVERLAP: u16 = 1 << 1;
/// `OFPFF_RESET_COUNTS`: a modify zeroes the counters.
pub const FLAG_RESET_COUNTS: u16 = 1 << 2;

/// Counters of one flow, shared by every snapshot that holds it and by the
/// decision caches, so they survive other flows being changed.
#[derive(Debug, Default)]
pub struct RuleStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// When a packet last matched (the switch clock, ms).
    pub last_used_ms: AtomicU64,
}

impl RuleStats {
    #[inline]
    pub fn hit(&self, bytes: usize, now_ms: u64) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        if self.last_used_ms.load(Ordering::Relaxed) != now_ms {
            self.last_used_ms.store(now_ms, Ordering::Relaxed);
        }
    }

    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// One flow entry.
#[derive(Debug)]
pub struct Rule {
    /// Unique in its pipeline; orders equal priorities by age.
    pub id: u64,
    pub table: u8,
    pub priority: u16,
    pub matcher: Match,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub instructions: Vec<Instruction>,
    /// When it was added (the switch clock, ms).
    pub installed_ms: u64,
    pub stats: Arc<RuleStats>,
}

impl Rule {
    /// When the flow's timeouts remove it, as of `now_ms`; `None` while it stays.
    pub fn expired(&self, now_ms: u64) -> Option<RemovedReason> {
        if self.hard_timeout > 0 && now_ms >= self.installed_ms + self.hard_timeout as u64 * 1000 {
            return Some(RemovedReason::HardTimeout);
        }
        if self.idle_timeout > 0 {
            let used = self
                .stats
                .last_used_ms
                .load(Ordering::Relaxed)
                .max(self.installed_ms);
            if now_ms >= used + self.idle_timeout as u64 * 1000 {
                return Some(RemovedReason::IdleTimeout);
            }
        }
        None
    }

    /// Whether an action of this flow outputs to `port` (OpenFlow's
    /// `out_port` filter on modify, delete and stats).
    pub fn outputs_to(&self, port: super::OutPort) -> bool {
        use super::OutPort::Controller;
        super::action::all_actions(&self.instructions).any(|a| match (a, port) {
            // The filter names the port; how much of the packet goes there is not part of it.
            (super::Action::Output(Controller { .. }), Controller { .. }) => true,
            (super::Action::Output(p), q) => *p == q,
            _ => false,
        })
    }

    pub fn outputs_to_group(&self, group: u32) -> bool {
        super::action::all_actions(&self.instructions)
            .any(|a| matches!(a, super::Action::Group(g) if *g == group))
    }
}

/// Why a flow left its table (OpenFlow's `ofp_flow_removed_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
    GroupDelete,
}

/// Shards per subtable.
const SHARDS: usize = 32;

type Shard = FxHashMap<Key, Vec<Arc<Rule>>>;

#[derive(Debug, Clone)]
struct Subtable {
    mask: Key,
    /// Priorities present, with how many flows hold each.
    priorities: BTreeMap<u16, u32>,
    max_priority: u16,
    /// Masked key → flows with that masked match, best first; sharded by
    /// the masked key.
    shards: Vec<Arc<Shard>>,
    len: usize,
}

impl Subtable {
    fn new(mask: Key) -> Subtable {
        Subtable {
            mask,
            priorities: BTreeMap::new(),
            max_priority: 0,
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
            len: 0,
        }
    }

    #[inline]
    fn get(&self, masked: &Key) -> Option<&Vec<Arc<Rule>>> {
        self.shards[shard_of(masked)].get(masked)
    }

    fn values(&self) -> impl Iterator<Item = &Vec<Arc<Rule>>> {
        self.shards.iter().flat_map(|s| s.values())
    }
}

/// A cheap mix of the key's words, for picking a shard.
#[inline]
fn shard_of(k: &Key) -> usize {
    let mut h: u64 = 0;
    for w in k {
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    (h >> 59) as usize % SHARDS
}

#[inline]
fn masked(key: &Key, mask: &Key) -> Key {
    let mut m = [0u64; KEY_WORDS];
    for i in 0..KEY_WORDS {
        m[i] = key[i] & mask[i];
    }
    m
}

/// The flows of one table.
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    /// Highest `max_priority` first.
    subtables: Vec<Subtable>,
    len: usize,
}

impl FlowTable {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The highest-priority flow that matches `key`.
    #[inline]
    pub fn lookup(&self, key: &Key) -> Option<&Arc<Rule>> {
        let mut best: Option<&Arc<Rule>> = None;
        for st in &self.subtables {
            if let Some(b) = best {
                if b.priority > st.max_priority {
                    break;
                }
            }
            if let Some(rules) = st.get(&masked(key, &st.mask)) {
                let r = &rules[0];
                if best.is_none_or(|b| {
                    (r.priority, std::cmp::Reverse(r.id)) > (b.priority, std::cmp::Reverse(b.id))
                }) {
                    best = Some(r);
                }
            }
        }
        best
    }

    /// Every flow, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.subtables
            .iter()
            .flat_map(|s| s.values().flat_map(|v| v.iter()))
    }

    /// The flow with exactly this match and priority.
    pub fn find_strict(&self, m: &Match, priority: u16) -> Option<&Arc<Rule>> {
        let st = self.subtables.iter().find(|s| s.mask == *m.mask())?;
        st.get(m.value())?.iter().find(|r| r.priority == priority)
    }

    /// Whether a flow of `priority` could match a packet `m` matches too
    /// (`OFPFF_CHECK_OVERLAP`).
    pub fn overlaps(&self, m: &Match, priority: u16) -> bool {
        self.iter().any(|r| {
            r.priority == priority
                && (0..KEY_WORDS).all(|i| {
                    let both = r.matcher.mask()[i] & m.mask()[i];
                    r.matcher.value()[i] & both == m.value()[i] & both
                })
        })
    }

    /// Adds a flow; a flow with the same match and priority is replaced and returned.
    pub fn insert(&mut self, rule: Arc<Rule>) -> Option<Arc<Rule>> {
        let mask = *rule.matcher.mask();
        let at = match self.subtables.iter().position(|s| s.mask == mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[at];
        let value = *rule.matcher.value();
        let shard = Arc::make_mut(&mut st.shards[shard_of(&value)]);
        let list = shard.entry(value).or_default();
        let mut replaced = None;
        if let Some(i) = list.iter().position(|r| r.priority == rule.priority) {
            replaced = Some(list.remove(i));
        } else {
            *st.priorities.entry(rule.priority).or_default() += 1;
            st.len += 1;
            self.len += 1;
        }
        let pos = list
            .iter()
            .position(|r| {
                (r.priority, std::cmp::Reverse(r.id)) < (rule.priority, std::cmp::Reverse(rule.id))
            })
            .unwrap_or(list.len());
        list.insert(pos, rule);
        self.resort(at);
        replaced
    }

    /// Removes the flow with this match and priority.
    pub fn remove(&mut self, m: &Match, priority: u16) -> Option<Arc<Rule>> {
        let at = self.subtables.iter().position(|s| s.mask == *m.mask())?;
        let st = &mut self.subtables[at];
        let si = shard_of(m.value());
        // Look before copying the shard.
        st.shards[si]
            .get(m.value())?
            .iter()
            .position(|r| r.priority == priority)?;
        let shard = Arc::make_mut(&mut st.shards[si]);
        let list = shard.get_mut(m.value())?;
        let i = list.iter().position(|r| r.priority == priority)?;
        let rule = list.remove(i);
        if list.is_empty() {
            shard.remove(m.value());
        }
        st.len -= 1;
        if let Some(n) = st.priorities.get_mut(&priority) {
            *n -= 1;
            if *n == 0 {
                st.priorities.remove(&priority);
            }
        }
        self.len -= 1;
        if st.len == 0 {
            self.subtables.remove(at);
        } else {
            self.resort(at);
        }
        Some(rule)
    }

    /// Keeps subtables ordered by their highest priority after subtable `at` changed.
    fn resort(&mut self, at: usize) {
        let st = &mut self.subtables[at];
        st.max_priority = st.priorities.keys().next_back().copied().unwrap_or(0);
        // One element moved: an insertion-sort pass is linear at worst.
        self.subtables
            .sort_by_key(|s| std::cmp::Reverse(s.max_priority));
    }
}
