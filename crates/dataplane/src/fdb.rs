//! The filtering database: which port a (MAC, VLAN) was last seen on.
//!
//! Entries age out after the switch's ageing time unless static; each port
//! may hold a bounded number of learned MACs, so a port cannot exhaust the
//! table for the others.

use crate::PortId;
use rustc_hash::FxHashMap;
use vepa_packet::MacAddr;

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
    /// The port is at its MAC limit; the address was not learned.
    LimitReached,
}

#[derive(Debug, Clone)]
pub struct Fdb {
    map: FxHashMap<(MacAddr, u16), FdbEntry>,
    learned_per_port: Vec<u32>,
    ageing_ms: u64,
}

impl Fdb {
    pub fn new(ports: usize, ageing_ms: u64) -> Fdb {
        Fdb {
            map: FxHashMap::default(),
            learned_per_port: vec![0; ports],
            ageing_ms,
        }
    }

    fn live(&self, e: &FdbEntry, now_ms: u64) -> bool {
        e.is_static || now_ms.saturating_sub(e.last_seen_ms) < self.ageing_ms
    }

    /// The port a live entry points to.
    pub fn lookup(&self, mac: MacAddr, vid: u16, now_ms: u64) -> Option<PortId> {
        self.map
            .get(&(mac, vid))
            .filter(|e| self.live(e, now_ms))
            .map(|e| e.port)
    }

    pub fn insert_static(&mut self, mac: MacAddr, vid: u16, port: PortId) {
        if let Some(old) = self.map.insert(
            (mac, vid),
            FdbEntry {
                port,
                last_seen_ms: 0,
                is_static: true,
            },
        ) {
            if !old.is_static {
                self.learned_per_port[old.port.index()] -= 1;
            }
        }
    }

    /// Records that `mac` was seen as a source on `port` in VLAN `vid`.
    pub fn learn(
        &mut self,
        mac: MacAddr,
        vid: u16,
        port: PortId,
        now_ms: u64,
        limit: u32,
    ) -> LearnOutcome {
        let ageing = self.ageing_ms;
        match self.map.get_mut(&(mac, vid)) {
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
                let expired = now_ms.saturating_sub(e.last_seen_ms) >= ageing;
                if self.learned_per_port[port.index()] >= limit {
                    return LearnOutcome::LimitReached;
                }
                e.port = port;
                e.last_seen_ms = now_ms;
                self.learned_per_port[from.index()] -= 1;
                self.learned_per_port[port.index()] += 1;
                if expired {
                    LearnOutcome::Learned
                } else {
                    LearnOutcome::Moved { from }
                }
            }
            None => {
                if self.learned_per_port[port.index()] >= limit {
                    return LearnOutcome::LimitReached;
                }
                self.map.insert(
                    (mac, vid),
                    FdbEntry {
                        port,
                        last_seen_ms: now_ms,
                        is_static: false,
                    },
                );
                self.learned_per_port[port.index()] += 1;
                LearnOutcome::Learned
            }
        }
    }

    /// Removes learned entries older than the ageing time; returns how many.
    pub fn age(&mut self, now_ms: u64) -> usize {
        let before = self.map.len();
        let ageing = self.ageing_ms;
        let counts = &mut self.learned_per_port;
        self.map.retain(|_, e| {
            let keep = e.is_static || now_ms.saturating_sub(e.last_seen_ms) < ageing;
            if !keep {
                counts[e.port.index()] -= 1;
            }
            keep
        });
        before - self.map.len()
    }

    /// How many learned (non-static) MACs a port holds, expired ones included until aged.
    pub fn learned_on(&self, port: PortId) -> u32 {
        self.learned_per_port[port.index()]
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entry, sorted by VLAN then MAC, for display.
    pub fn entries(&self) -> Vec<(MacAddr, u16, FdbEntry)> {
        let mut v: Vec<_> = self
            .map
            .iter()
            .map(|((m, vid), e)| (*m, *vid, *e))
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
    fn learns_moves_and_ages() {
        let mut f = Fdb::new(3, 1000);
        assert_eq!(f.learn(mac(1), 1, PortId(0), 0, 10), LearnOutcome::Learned);
        assert_eq!(
            f.learn(mac(1), 1, PortId(0), 500, 10),
            LearnOutcome::Refreshed
        );
        assert_eq!(f.lookup(mac(1), 1, 1400), Some(PortId(0)));
        assert_eq!(f.lookup(mac(1), 2, 1400), None, "keyed by VLAN too");
        assert_eq!(
            f.learn(mac(1), 1, PortId(1), 600, 10),
            LearnOutcome::Moved { from: PortId(0) }
        );
        assert_eq!((f.learned_on(PortId(0)), f.learned_on(PortId(1))), (0, 1));
        assert_eq!(f.lookup(mac(1), 1, 1600), None, "aged out");
        assert_eq!(f.age(1600), 1);
        assert!(f.is_empty());
        assert_eq!(f.learned_on(PortId(1)), 0);
    }

    #[test]
    fn limit_and_static() {
        let mut f = Fdb::new(2, 1000);
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
}
