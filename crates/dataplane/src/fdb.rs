//! The filtering database: which port a (MAC, VLAN) was last seen on.
//!
//! Entries age out after the switch's ageing time unless static; each port
//! may hold a bounded number of learned MACs, so a port cannot exhaust the
//! table for the others, and the whole table is bounded too
//! ([`TABLE_LIMIT`], as Open vSwitch's `mac-table-size`), so a port without
//! a limit (an uplink, a tunnel) cannot grow it without end. A source over
//! either bound is forwarded, just not learned. The table is shared by every forwarding thread:
//! it is split into shards, each behind its own reader-writer lock, and the
//! common case (a known source, seen again) takes only a read lock, since
//! an entry's age is refreshed at most once a second.

use crate::PortId;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use vepa_packet::MacAddr;

const SHARDS: usize = 16;
/// A refresh of an entry's age closer than this to the last one is skipped.
pub(crate) const REFRESH_MS: u64 = 1000;
/// Most learned entries one switch holds at once, whatever the ports' limits:
/// room for a fabric of 100,000 VMs (bench/scale), about 30 MiB at most;
/// per-port limits keep any one tenant far below it.
pub const TABLE_LIMIT: u32 = 262_144;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdbEntry {
    pub port: PortId,
    pub last_seen_ms: u64,
    pub is_static: bool,
}

/// What learning a source address did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnOutcome {
    /// Already known on this port; its age was refreshed.
    Refreshed,
    Learned,
    Moved {
        from: PortId,
    },
    /// A static entry holds this MAC on another port; nothing changed.
    Pinned {
        to: PortId,
    },
    /// The port is at its MAC limit (or the table is full); the address
    /// was not learned, and the frame is forwarded all the same.
    LimitReached,
    /// Seen on the uplink while learned on a local port: a frame the relay
    /// reflected back. Nothing is learned.
    Reflected {
        sender: PortId,
    },
}

type Shard = FxHashMap<(MacAddr, u16), FdbEntry>;

#[derive(Debug)]
pub struct Fdb {
    /// Bumped whenever an entry appears, moves or goes: a decision cached
    /// under one generation is exact while the generation stays.
    generation: AtomicU64,
    shards: Box<[RwLock<Shard>]>,
    learned_per_port: Box<[AtomicU32]>,
    /// The sum of `learned_per_port`.
    learned_total: AtomicU32,
    /// Addresses learned or moved since the table was made.
    learning_events: AtomicU64,
    ageing_ms: AtomicU64,
}

impl Fdb {
    pub fn new(ports: usize, ageing_ms: u64) -> Fdb {
        Fdb {
            generation: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            learned_per_port: (0..ports).map(|_| AtomicU32::new(0)).collect(),
            learned_total: AtomicU32::new(0),
            learning_events: AtomicU64::new(0),
            ageing_ms: AtomicU64::new(ageing_ms),
        }
    }

    fn learned(&self, port: PortId) {
        self.learned_per_port[port.index()].fetch_add(1, Ordering::Relaxed);
        self.learned_total.fetch_add(1, Ordering::Relaxed);
    }

    fn unlearned(&self, port: PortId) {
        self.learned_per_port[port.index()].fetch_sub(1, Ordering::Relaxed);
        self.learned_total.fetch_sub(1, Ordering::Relaxed);
    }

    fn ageing_ms(&self) -> u64 {
        self.ageing_ms.load(Ordering::Relaxed)
    }

    /// A table of its own holding the same entries (a trace learns in it).
    pub fn copy(&self) -> Fdb {
        let fdb = Fdb::new(self.learned_per_port.len(), self.ageing_ms());
        for (mac, vid, e) in self.entries() {
            if e.is_static {
                fdb.insert_static(mac, vid, e.port);
            } else if e.port.index() < self.learned_per_port.len() {
                fdb.restore(mac, vid, e.port, e.last_seen_ms);
            }
        }
        fdb
    }

    /// Changes the ageing time; entries keep their last-seen time.
    pub fn set_ageing_ms(&self, ms: u64) {
        self.ageing_ms.store(ms, Ordering::Relaxed);
        self.bump();
    }

    /// Adds to the learning count (a rebuilt switch keeps its history).
    pub fn carry_learning_events(&self, n: u64) {
        self.learning_events.fetch_add(n, Ordering::Relaxed);
    }

    /// How many addresses were learned or moved since the table was made.
    pub fn learning_events(&self) -> u64 {
        self.learning_events.load(Ordering::Relaxed)
    }

    fn shard_of(mac: MacAddr, vid: u16) -> usize {
        let mut h = FxHasher::default();
        (mac, vid).hash(&mut h);
        (h.finish() >> 32) as usize % SHARDS
    }

    // A panic while holding a shard cannot leave an entry half-written
    // (entries are plain values), so a poisoned lock is still usable.
    fn read(&self, i: usize) -> RwLockReadGuard<'_, Shard> {
        self.shards[i].read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, i: usize) -> RwLockWriteGuard<'_, Shard> {
        self.shards[i].write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The entry for (mac, vid), live or not.
    pub fn entry(&self, mac: MacAddr, vid: u16) -> Option<FdbEntry> {
        self.read(Self::shard_of(mac, vid))
            .get(&(mac, vid))
            .copied()
    }

    /// Until when (ms) an entry seen at `e` stays live without being seen again.
    pub fn live_until(&self, e: &FdbEntry) -> u64 {
        if e.is_static {
            u64::MAX
        } else {
            e.last_seen_ms.saturating_add(self.ageing_ms())
        }
    }

    fn live(&self, e: &FdbEntry, now_ms: u64) -> bool {
        e.is_static || now_ms.saturating_sub(e.last_seen_ms) < self.ageing_ms()
    }

    /// The port a live entry points to.
    pub fn lookup(&self, mac: MacAddr, vid: u16, now_ms: u64) -> Option<PortId> {
        let shard = self.read(Self::shard_of(mac, vid));
        shard
            .get(&(mac, vid))
            .filter(|e| self.live(e, now_ms))
            .map(|e| e.port)
    }

    pub fn insert_static(&self, mac: MacAddr, vid: u16, port: PortId) {
        let entry = FdbEntry {
            port,
            last_seen_ms: 0,
            is_static: true,
        };
        if let Some(old) = self
            .write(Self::shard_of(mac, vid))
            .insert((mac, vid), entry)
        {
            if !old.is_static {
                self.unlearned(old.port);
            }
        }
    }

    /// The per-frame source step, with one shard lookup in the common case:
    /// on the uplink, a source live on another port is a reflection (not
    /// learned); anywhere else, the source is learned on `port`.
    pub fn observe(
        &self,
        mac: MacAddr,
        vid: u16,
        port: PortId,
        on_uplink: bool,
        now_ms: u64,
        limit: u32,
    ) -> LearnOutcome {
        let si = Self::shard_of(mac, vid);
        if let Some(e) = self.read(si).get(&(mac, vid)) {
            if self.live(e, now_ms) {
                if e.port != port && on_uplink {
                    return LearnOutcome::Reflected { sender: e.port };
                }
                if e.port == port
                    && (e.is_static || now_ms.saturating_sub(e.last_seen_ms) < REFRESH_MS)
                {
                    return LearnOutcome::Refreshed;
                }
            }
        }
        self.learn(mac, vid, port, now_ms, limit)
    }

    /// Records that `mac` was seen as a source on `port` in VLAN `vid`.
    pub fn learn(
        &self,
        mac: MacAddr,
        vid: u16,
        port: PortId,
        now_ms: u64,
        limit: u32,
    ) -> LearnOutcome {
        let si = Self::shard_of(mac, vid);
        // The common case under a read lock: known here, and refreshed recently.
        if let Some(e) = self.read(si).get(&(mac, vid)) {
            if e.port == port && (e.is_static || now_ms.saturating_sub(e.last_seen_ms) < REFRESH_MS)
            {
                return LearnOutcome::Refreshed;
            }
        }
        let mut shard = self.write(si);
        let count = |p: PortId| self.learned_per_port[p.index()].load(Ordering::Relaxed);
        match shard.get_mut(&(mac, vid)) {
            Some(e) if e.is_static => {
                if e.port == port {
                    LearnOutcome::Refreshed
                } else {
                    LearnOutcome::Pinned { to: e.port }
                }
            }
            Some(e) if e.port == port => {
                e.last_seen_ms = now_ms;
                LearnOutcome::Refreshed
            }
            Some(e) => {
                let from = e.port;
                let expired = now_ms.saturating_sub(e.last_seen_ms) >= self.ageing_ms();
                if count(port) >= limit {
                    return LearnOutcome::LimitReached;
                }
                e.port = port;
                e.last_seen_ms = now_ms;
                self.unlearned(from);
                self.learned(port);
                self.learning_events.fetch_add(1, Ordering::Relaxed);
                self.bump();
                if expired {
                    LearnOutcome::Learned
                } else {
                    LearnOutcome::Moved { from }
                }
            }
            None => {
                if count(port) >= limit || self.learned_total.load(Ordering::Relaxed) >= TABLE_LIMIT
                {
                    return LearnOutcome::LimitReached;
                }
                shard.insert(
                    (mac, vid),
                    FdbEntry {
                        port,
                        last_seen_ms: now_ms,
                        is_static: false,
                    },
                );
                self.learned(port);
                self.learning_events.fetch_add(1, Ordering::Relaxed);
                self.bump();
                LearnOutcome::Learned
            }
        }
    }

    /// Removes learned entries older than the ageing time; returns how many.
    pub fn age(&self, now_ms: u64) -> usize {
        let ageing_ms = self.ageing_ms();
        self.remove_learned(|e| now_ms.saturating_sub(e.last_seen_ms) >= ageing_ms)
    }

    /// Removes the learned (never static) entries `doomed` picks; returns how many.
    fn remove_learned(&self, doomed: impl Fn(&FdbEntry) -> bool) -> usize {
        let mut removed = 0;
        for i in 0..SHARDS {
            self.write(i).retain(|_, e| {
                let keep = e.is_static || !doomed(e);
                if !keep {
                    self.unlearned(e.port);
                    removed += 1;
                }
                keep
            });
        }
        if removed > 0 {
            self.bump();
        }
        removed
    }

    /// Removes the entry for (mac, vid), static or learned; true if there was one.
    pub fn remove(&self, mac: MacAddr, vid: u16) -> bool {
        let old = self.write(Self::shard_of(mac, vid)).remove(&(mac, vid));
        if let Some(e) = old {
            if !e.is_static {
                self.unlearned(e.port);
            }
            self.bump();
        }
        old.is_some()
    }

    /// Removes learned entries (all, or those on one port); static ones stay.
    /// Returns how many went.
    pub fn flush(&self, port: Option<PortId>) -> usize {
        self.remove_learned(|e| port.is_none_or(|p| p == e.port))
    }

    /// Puts back a learned entry as it was (a switch rebuilt with other
    /// ports keeps what it had learned on the ports it kept).
    pub fn restore(&self, mac: MacAddr, vid: u16, port: PortId, last_seen_ms: u64) {
        let entry = FdbEntry {
            port,
            last_seen_ms,
            is_static: false,
        };
        let mut shard = self.write(Self::shard_of(mac, vid));
        if shard.contains_key(&(mac, vid)) {
            return;
        }
        shard.insert((mac, vid), entry);
        self.learned(port);
        self.bump();
    }

    /// How many learned (non-static) MACs a port holds, expired ones included until aged.
    pub fn learned_on(&self, port: PortId) -> u32 {
        self.learned_per_port[port.index()].load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.read(i).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, sorted by VLAN then MAC, for display.
    pub fn entries(&self) -> Vec<(MacAddr, u16, FdbEntry)> {
        let mut v: Vec<_> = (0..SHARDS)
            .flat_map(|i| {
                self.read(i)
                    .iter()
                    .map(|((m, vid), e)| (*m, *vid, *e))
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort_by_key(|(m, vid, _)| (*vid, *m));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    #[test]
    fn the_table_is_bounded_whatever_the_port_limits() {
        let f = Fdb::new(2, 10_000);
        let nth = |i: u32| {
            let b = i.to_be_bytes();
            MacAddr([2, 1, b[0], b[1], b[2], b[3]])
        };
        for i in 0..TABLE_LIMIT {
            assert_eq!(
                f.learn(nth(i), 1, PortId(0), 0, u32::MAX),
                LearnOutcome::Learned
            );
        }
        assert_eq!(
            f.learn(nth(TABLE_LIMIT), 1, PortId(1), 0, u32::MAX),
            LearnOutcome::LimitReached
        );
        // Ageing frees room for new stations.
        assert_eq!(f.age(20_000), TABLE_LIMIT as usize);
        assert_eq!(
            f.learn(nth(TABLE_LIMIT), 1, PortId(1), 20_000, u32::MAX),
            LearnOutcome::Learned
        );
    }

    #[test]
    fn learns_moves_and_ages() {
        let f = Fdb::new(3, 10_000);
        assert_eq!(f.learn(mac(1), 1, PortId(0), 0, 10), LearnOutcome::Learned);
        assert_eq!(
            f.learn(mac(1), 1, PortId(0), 5000, 10),
            LearnOutcome::Refreshed
        );
        assert_eq!(
            f.lookup(mac(1), 1, 14_000),
            Some(PortId(0)),
            "refreshed at 5000"
        );
        assert_eq!(f.lookup(mac(1), 2, 14_000), None, "keyed by VLAN too");
        assert_eq!(
            f.learn(mac(1), 1, PortId(1), 6000, 10),
            LearnOutcome::Moved { from: PortId(0) }
        );
        assert_eq!((f.learned_on(PortId(0)), f.learned_on(PortId(1))), (0, 1));
        assert_eq!(f.lookup(mac(1), 1, 16_000), None, "aged out");
        assert_eq!(f.age(16_000), 1);
        assert!(f.is_empty());
        assert_eq!(f.learned_on(PortId(1)), 0);
    }

    #[test]
    fn refresh_is_coarse() {
        let f = Fdb::new(1, 10_000);
        f.learn(mac(1), 1, PortId(0), 0, 10);
        // Within a second the age is not rewritten.
        f.learn(mac(1), 1, PortId(0), 999, 10);
        assert_eq!(f.entries()[0].2.last_seen_ms, 0);
        f.learn(mac(1), 1, PortId(0), 1000, 10);
        assert_eq!(f.entries()[0].2.last_seen_ms, 1000);
    }

    #[test]
    fn limit_and_static() {
        let f = Fdb::new(2, 1000);
        assert_eq!(f.learn(mac(1), 1, PortId(0), 0, 1), LearnOutcome::Learned);
        assert_eq!(
            f.learn(mac(2), 1, PortId(0), 0, 1),
            LearnOutcome::LimitReached
        );
        f.insert_static(mac(9), 1, PortId(1));
        assert_eq!(
            f.learn(mac(9), 1, PortId(0), 0, 5),
            LearnOutcome::Pinned { to: PortId(1) }
        );
        assert_eq!(
            f.lookup(mac(9), 1, u64::MAX / 2),
            Some(PortId(1)),
            "static never ages"
        );
        assert_eq!(f.age(u64::MAX / 2), 1);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn shared_between_threads() {
        let f = std::sync::Arc::new(Fdb::new(2, 300_000));
        let handles: Vec<_> = (0..2u16)
            .map(|t| {
                let f = std::sync::Arc::clone(&f);
                std::thread::spawn(move || {
                    for i in 0..500u16 {
                        let m = MacAddr([2, 0, t as u8, 0, (i >> 8) as u8, i as u8]);
                        f.learn(m, 1, PortId(t), i as u64, 1024);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(f.len(), 1000);
        assert_eq!(
            (f.learned_on(PortId(0)), f.learned_on(PortId(1))),
            (500, 500)
        );
    }

    #[test]
    fn remove_flush_restore_and_the_learning_count() {
        let f = Fdb::new(3, 10_000);
        f.learn(mac(1), 1, PortId(0), 0, 10);
        f.learn(mac(2), 1, PortId(1), 0, 10);
        f.learn(mac(2), 1, PortId(0), 2000, 10); // a move
        f.insert_static(mac(3), 1, PortId(2));
        assert_eq!(f.learning_events(), 3);
        assert_eq!(f.flush(Some(PortId(1))), 0);
        assert_eq!(f.flush(Some(PortId(0))), 2);
        assert_eq!(f.learned_on(PortId(0)), 0);
        assert_eq!(f.len(), 1, "the static entry stays");
        assert!(f.remove(mac(3), 1));
        assert!(!f.remove(mac(3), 1));
        assert!(f.is_empty());
        f.restore(mac(4), 7, PortId(1), 5000);
        assert_eq!(f.lookup(mac(4), 7, 14_999), Some(PortId(1)));
        assert_eq!(f.lookup(mac(4), 7, 15_000), None, "restored with its age");
        assert_eq!(f.learned_on(PortId(1)), 1);
        f.set_ageing_ms(20_000);
        assert_eq!(f.lookup(mac(4), 7, 15_000), Some(PortId(1)));
        f.carry_learning_events(10);
        assert_eq!(f.learning_events(), 13);
    }
}
