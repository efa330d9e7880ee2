//! The neighbor table: which MAC answers for an IP address on a router
//! port, learned from ARP and neighbor discovery, with the packets that
//! wait for an answer.
//!
//! States follow the kernel's in a smaller form: an entry is *incomplete*
//! while solicitations go out (one a second, three in all; then the
//! waiting packets get "host unreachable" and the entry goes), *reachable*
//! for [`REACHABLE_MS`] after an answer, then *stale*: still used, but each
//! use sends a unicast probe (one a second); three unanswered probes make
//! it incomplete again, and a broadcast solicitation asks anew. Entries
//! unconfirmed for [`GC_MS`] are forgotten.
//!
//! The table is shared by the router's ports, so no port may fill it: each
//! port holds at most [`PORT_LIMIT`] entries, and a new entry on a port
//! at its quota (or in a full table, on the port holding most) takes the
//! place of that port's oldest entry that is not reachable (incomplete,
//! stale or in doubt). Each port keeps its entries in the order they came,
//! so finding that one looks at a bounded few ([`EVICT_SCAN`]), whatever
//! the table's size.

use rustc_hash::FxHashMap;
use std::net::IpAddr;
use vepa_packet::{MacAddr, VirtioNetHdr};

pub const REACHABLE_MS: u64 = 30_000;
pub const RETRANS_MS: u64 = 1_000;
pub const MAX_SOLICIT: u8 = 3;
pub const GC_MS: u64 = 300_000;
/// Packets kept per unresolved neighbor (the first of a flow, mostly).
pub const QUEUE_LEN: usize = 8;
/// Bytes kept per unresolved neighbor, and for all of them together
/// (GSO frames are up to 64 KiB: the packet count alone bounds little).
pub const QUEUE_BYTES: usize = 256 * 1024;
pub const MAX_QUEUED_BYTES: usize = 8 << 20;
/// Entries per router.
pub const DEFAULT_LIMIT: usize = 16_384;
/// Entries one port may hold.
pub const PORT_LIMIT: usize = 4096;
/// Entries an eviction looks at, at most.
pub const EVICT_SCAN: usize = 64;

/// A packet waiting for its next hop's MAC: the whole frame (Ethernet
/// header to be filled in), its offload header, and the port it came in
/// on (for the "host unreachable" if nobody answers).
#[derive(Debug, Clone)]
pub struct Queued {
    pub frame: Vec<u8>,
    pub hdr: VirtioNetHdr,
    pub ingress: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborState {
    Incomplete,
    Reachable,
    Stale,
}

impl NeighborState {
    pub fn as_str(self) -> &'static str {
        match self {
            NeighborState::Incomplete => "incomplete",
            NeighborState::Reachable => "reachable",
            NeighborState::Stale => "stale",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Entry {
    mac: Option<MacAddr>,
    confirmed_ms: u64,
    /// Known but unconfirmed (an unsolicited or non-override answer).
    doubted: bool,
    /// When the last solicitation or probe left, and how many since the last answer.
    sent_ms: u64,
    tries: u8,
    queue: Vec<Queued>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Send to this MAC; `probe` asks to confirm it with a unicast solicitation first.
    Known { mac: MacAddr, probe: bool },
    /// Unknown; the packet waits. `solicit` asks for a broadcast solicitation now.
    Waiting { solicit: bool },
    /// The packet was dropped: its queue or the table is full.
    Dropped,
}

/// What the one-second tick asks the router to do.
#[derive(Debug, Default)]
pub struct Due {
    /// Solicit these again (port, address).
    pub solicit: Vec<(usize, IpAddr)>,
    /// Nobody answered for (port, address): these packets are undeliverable.
    pub failed: Vec<(usize, IpAddr, Vec<Queued>)>,
}

/// A row of `vepa router show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborRow {
    pub port: usize,
    pub ip: IpAddr,
    pub mac: Option<MacAddr>,
    pub state: NeighborState,
    pub age_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Neighbors {
    map: FxHashMap<(usize, IpAddr), Entry>,
    limit: usize,
    port_limit: usize,
    /// Per port: how many entries it holds, and their addresses oldest
    /// first (an address whose entry went is skipped when met).
    ports: Vec<PortEntries>,
    /// Bytes of every waiting packet.
    queued: usize,
}

#[derive(Debug, Default, Clone)]
struct PortEntries {
    count: usize,
    order: std::collections::VecDeque<IpAddr>,
}

/// How an answer names a MAC (RFC 4861 7.2.5): solicited answers confirm
/// reachability; one without the override flag does not replace a MAC
/// the entry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub solicited: bool,
    pub override_: bool,
}

impl Answer {
    /// ARP replies and requests carry no flags: they are taken as both.
    pub const FULL: Answer = Answer {
        solicited: true,
        override_: true,
    };
}

fn bytes(q: &[Queued]) -> usize {
    q.iter().map(|p| p.frame.len()).sum()
}

impl Default for Neighbors {
    fn default() -> Self {
        Neighbors::new(DEFAULT_LIMIT)
    }
}

impl Neighbors {
    pub fn new(limit: usize) -> Neighbors {
        Neighbors::with_port_limit(limit, PORT_LIMIT)
    }

    pub fn with_port_limit(limit: usize, port_limit: usize) -> Neighbors {
        Neighbors {
            map: FxHashMap::default(),
            limit,
            port_limit,
            ports: Vec::new(),
            queued: 0,
        }
    }

    fn port_entries(&mut self, port: usize) -> &mut PortEntries {
        if self.ports.len() <= port {
            self.ports.resize_with(port + 1, PortEntries::default);
        }
        &mut self.ports[port]
    }

    /// Whether a new entry for (port, ip) may be made, making room if it
    /// must: on the port at its quota, or (the table full) on the port
    /// holding most. Records it as the port's newest when it may.
    fn admit(&mut self, port: usize, ip: IpAddr, now: u64) -> bool {
        if self.map.contains_key(&(port, ip)) {
            return true;
        }
        let count = self.ports.get(port).map_or(0, |p| p.count);
        let room = if count >= self.port_limit {
            self.evict_from(port, now)
        } else if self.map.len() >= self.limit {
            let hog = (0..self.ports.len())
                .max_by_key(|&p| self.ports[p].count)
                .unwrap_or(port);
            self.evict_from(hog, now)
        } else {
            true
        };
        if room {
            let p = self.port_entries(port);
            p.count += 1;
            p.order.push_back(ip);
        }
        room
    }

    /// Forgets `port`'s oldest entry that is not reachable, looking at
    /// [`EVICT_SCAN`] entries at most (reachable ones go to the back).
    fn evict_from(&mut self, port: usize, now: u64) -> bool {
        for _ in 0..EVICT_SCAN {
            let Some(ip) = self.ports.get_mut(port).and_then(|p| p.order.pop_front()) else {
                return false;
            };
            let Some(e) = self.map.get(&(port, ip)) else {
                continue;
            };
            let reachable =
                e.mac.is_some() && !e.doubted && now.saturating_sub(e.confirmed_ms) < REACHABLE_MS;
            if reachable {
                self.ports[port].order.push_back(ip);
                continue;
            }
            self.remove(port, ip);
            return true;
        }
        false
    }

    /// Removes one entry (its place in the port's order is skipped later).
    fn remove(&mut self, port: usize, ip: IpAddr) -> Option<Entry> {
        let e = self.map.remove(&(port, ip))?;
        self.queued -= bytes(&e.queue).min(self.queued);
        if let Some(p) = self.ports.get_mut(port) {
            p.count = p.count.saturating_sub(1);
        }
        Some(e)
    }

    /// Rebuilds the per-port counts and orders from the map (after removals
    /// in bulk), oldest-first order kept for the addresses still there.
    fn recount(&mut self) {
        let map = &self.map;
        for (port, p) in self.ports.iter_mut().enumerate() {
            p.order.retain(|ip| map.contains_key(&(port, *ip)));
            let mut seen = std::collections::HashSet::new();
            p.order.retain(|ip| seen.insert(*ip));
            p.count = p.order.len();
        }
        self.queued = self.map.values().map(|e| bytes(&e.queue)).sum();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The MAC for `ip` on `port`, or the packet queued until it is known.
    pub fn resolve(
        &mut self,
        port: usize,
        ip: IpAddr,
        now: u64,
        packet: impl FnOnce() -> Queued,
    ) -> Resolved {
        if !self.admit(port, ip, now) {
            return Resolved::Dropped;
        }
        let e = self.map.entry((port, ip)).or_default();
        if let Some(mac) = e.mac {
            if !e.doubted && now.saturating_sub(e.confirmed_ms) < REACHABLE_MS {
                return Resolved::Known { mac, probe: false };
            }
            if e.tries < MAX_SOLICIT {
                let probe = now.saturating_sub(e.sent_ms) >= RETRANS_MS;
                if probe {
                    e.sent_ms = now;
                    e.tries += 1;
                }
                return Resolved::Known { mac, probe };
            }
            // Probes went unanswered: ask everyone again.
            e.mac = None;
            e.tries = 0;
        }
        let solicit = e.tries == 0;
        if solicit {
            e.tries = 1;
            e.sent_ms = now;
        }
        if e.queue.len() >= QUEUE_LEN {
            return Resolved::Dropped;
        }
        let q = packet();
        let n = q.frame.len();
        if bytes(&e.queue) + n > QUEUE_BYTES || self.queued + n > MAX_QUEUED_BYTES {
            return Resolved::Dropped;
        }
        e.queue.push(q);
        self.queued += n;
        Resolved::Waiting { solicit }
    }

    /// Records an answer (or any message the router trusts to name the
    /// MAC of `ip`); returns the packets that waited for it. `create`
    /// false only updates an entry that exists (a gratuitous ARP for an
    /// address the router never asked about is not taken).
    pub fn confirm(
        &mut self,
        port: usize,
        ip: IpAddr,
        mac: MacAddr,
        now: u64,
        create: bool,
        how: Answer,
    ) -> Vec<Queued> {
        if !create && !self.map.contains_key(&(port, ip)) {
            return Vec::new();
        }
        if !self.admit(port, ip, now) {
            return Vec::new();
        }
        let e = self.map.entry((port, ip)).or_default();
        match e.mac {
            // Another MAC without the override flag: kept, but in doubt.
            Some(old) if old != mac && !how.override_ => {
                e.doubted = true;
                return Vec::new();
            }
            Some(old) if old == mac && !how.solicited => return Vec::new(),
            _ => {}
        }
        e.mac = Some(mac);
        e.confirmed_ms = now;
        e.doubted = !how.solicited;
        e.tries = 0;
        let q = std::mem::take(&mut e.queue);
        self.queued -= bytes(&q).min(self.queued);
        q
    }

    /// The MAC an entry holds.
    pub fn mac_of(&self, port: usize, ip: &IpAddr) -> Option<MacAddr> {
        self.map.get(&(port, *ip)).and_then(|e| e.mac)
    }

    /// Retransmissions, failures and forgetting, once a second.
    pub fn tick(&mut self, now: u64) -> Due {
        let mut due = Due::default();
        let mut gone = Vec::new();
        for (&(port, ip), e) in self.map.iter_mut() {
            if e.mac.is_some() {
                if now.saturating_sub(e.confirmed_ms) >= GC_MS {
                    gone.push((port, ip));
                }
                continue;
            }
            if now.saturating_sub(e.sent_ms) < RETRANS_MS {
                continue;
            }
            if e.tries >= MAX_SOLICIT {
                let q = std::mem::take(&mut e.queue);
                self.queued -= bytes(&q).min(self.queued);
                due.failed.push((port, ip, q));
                gone.push((port, ip));
            } else {
                e.tries += 1;
                e.sent_ms = now;
                due.solicit.push((port, ip));
            }
        }
        for (port, ip) in gone {
            self.remove(port, ip);
        }
        // Addresses whose entries went linger in the orders until met;
        // keep them from outgrowing the table.
        let lingering: usize = self.ports.iter().map(|p| p.order.len()).sum();
        if lingering > 2 * self.map.len() + 64 {
            self.recount();
        }
        due
    }

    /// Forgets every entry of `port` (all ports with `None`).
    pub fn flush(&mut self, port: Option<usize>) -> usize {
        let before = self.map.len();
        self.map.retain(|(p, _), _| port.is_some_and(|x| x != *p));
        self.recount();
        before - self.map.len()
    }

    /// Drops entries of ports at or beyond `ports` (after a port went away).
    pub fn retain_ports(&mut self, ports: usize) {
        self.map.retain(|(p, _), _| *p < ports);
        self.ports.truncate(ports);
        self.recount();
    }

    pub fn rows(&self, now: u64) -> Vec<NeighborRow> {
        let mut rows: Vec<NeighborRow> = self
            .map
            .iter()
            .map(|(&(port, ip), e)| NeighborRow {
                port,
                ip,
                mac: e.mac,
                state: match e.mac {
                    None => NeighborState::Incomplete,
                    Some(_) if !e.doubted && now.saturating_sub(e.confirmed_ms) < REACHABLE_MS => {
                        NeighborState::Reachable
                    }
                    Some(_) => NeighborState::Stale,
                },
                age_ms: now.saturating_sub(if e.mac.is_some() {
                    e.confirmed_ms
                } else {
                    e.sent_ms
                }),
            })
            .collect();
        rows.sort_by_key(|r| (r.port, r.ip));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> Queued {
        Queued {
            frame: vec![0; 60],
            hdr: VirtioNetHdr::default(),
            ingress: Some(0),
        }
    }

    const IP: &str = "10.0.0.2";
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    #[test]
    fn each_port_has_a_quota_and_eviction_takes_the_oldest_unreachable() {
        let mut n = Neighbors::with_port_limit(10, 4);
        let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
        // Port 0 fills its quota with reachable entries: nothing more fits.
        for i in 1..=4 {
            n.confirm(0, ip(i), MAC, 0, true, Answer::FULL);
        }
        n.confirm(0, ip(5), MAC, 10, true, Answer::FULL);
        assert_eq!(n.mac_of(0, &ip(5)), None, "no room: all reachable");
        assert_eq!(n.resolve(0, ip(6), 10, q), Resolved::Dropped);
        // Stale later: the oldest goes for the newcomer.
        let later = REACHABLE_MS + 10;
        n.confirm(0, ip(5), MAC, later, true, Answer::FULL);
        assert_eq!(n.mac_of(0, &ip(5)), Some(MAC));
        assert_eq!(n.mac_of(0, &ip(1)), None, "the oldest went");
        assert_eq!(n.len(), 4);
        // Port 1 has a quota of its own.
        for i in 1..=4 {
            assert_eq!(
                n.resolve(1, ip(i), later, q),
                Resolved::Waiting { solicit: true }
            );
        }
        assert_eq!(n.len(), 8);
        // The table (10) full: a third port's entry takes the place of an
        // unreachable one of the port holding most.
        n.confirm(2, ip(1), MAC, later, true, Answer::FULL);
        n.confirm(2, ip(2), MAC, later, true, Answer::FULL);
        n.confirm(2, ip(3), MAC, later, true, Answer::FULL);
        assert_eq!(n.len(), 10);
        assert_eq!(n.mac_of(2, &ip(3)), Some(MAC));
        assert_eq!(n.rows(later).iter().filter(|r| r.port == 1).count(), 3);
        // Flushing a port frees its quota.
        n.flush(Some(0));
        for i in 10..14 {
            n.confirm(0, ip(i), MAC, later, true, Answer::FULL);
        }
        assert_eq!(n.rows(later).iter().filter(|r| r.port == 0).count(), 4);
    }

    #[test]
    fn resolves_queues_and_releases() {
        let mut n = Neighbors::new(4);
        let ip: IpAddr = IP.parse().unwrap();
        assert_eq!(n.resolve(1, ip, 0, q), Resolved::Waiting { solicit: true });
        assert_eq!(
            n.resolve(1, ip, 10, q),
            Resolved::Waiting { solicit: false }
        );
        let released = n.confirm(1, ip, MAC, 20, false, Answer::FULL);
        assert_eq!(released.len(), 2);
        assert_eq!(
            n.resolve(1, ip, 30, q),
            Resolved::Known {
                mac: MAC,
                probe: false
            }
        );
        // Stale: still used, probed once a second, three times, then asked anew.
        let t = 20 + REACHABLE_MS;
        assert_eq!(
            n.resolve(1, ip, t, q),
            Resolved::Known {
                mac: MAC,
                probe: true
            }
        );
        assert_eq!(
            n.resolve(1, ip, t + 10, q),
            Resolved::Known {
                mac: MAC,
                probe: false
            }
        );
        assert_eq!(
            n.resolve(1, ip, t + 1000, q),
            Resolved::Known {
                mac: MAC,
                probe: true
            }
        );
        assert_eq!(
            n.resolve(1, ip, t + 2000, q),
            Resolved::Known {
                mac: MAC,
                probe: true
            }
        );
        assert_eq!(
            n.resolve(1, ip, t + 3000, q),
            Resolved::Waiting { solicit: true }
        );
    }

    #[test]
    fn gives_up_after_three_solicitations() {
        let mut n = Neighbors::new(4);
        let ip: IpAddr = IP.parse().unwrap();
        n.resolve(0, ip, 0, q);
        assert_eq!(n.tick(500).solicit.len(), 0);
        assert_eq!(n.tick(1000).solicit, vec![(0, ip)]);
        assert_eq!(n.tick(2000).solicit, vec![(0, ip)]);
        let due = n.tick(3000);
        assert_eq!((due.failed.len(), due.failed[0].2.len()), (1, 1));
        assert!(n.is_empty());
    }

    #[test]
    fn bounds_queue_and_table() {
        let mut n = Neighbors::new(1);
        let ip: IpAddr = IP.parse().unwrap();
        for _ in 0..QUEUE_LEN {
            assert!(matches!(n.resolve(0, ip, 0, q), Resolved::Waiting { .. }));
        }
        assert_eq!(n.resolve(0, ip, 0, q), Resolved::Dropped);
        // A full table gives the longest-unanswered incomplete entry's place away.
        assert_eq!(
            n.resolve(0, "10.0.0.3".parse().unwrap(), 5, q),
            Resolved::Waiting { solicit: true }
        );
        assert_eq!(n.len(), 1);
        // An unsolicited answer creates nothing; a solicited one does.
        assert!(n
            .confirm(0, "10.0.0.9".parse().unwrap(), MAC, 0, false, Answer::FULL)
            .is_empty());
        assert_eq!(n.len(), 1);
    }

    #[test]
    fn queued_bytes_are_bounded() {
        let mut n = Neighbors::new(64);
        let big = || Queued {
            frame: vec![0; 65_000],
            hdr: VirtioNetHdr::default(),
            ingress: None,
        };
        let ip: IpAddr = IP.parse().unwrap();
        let kept = (0..8)
            .filter(|_| n.resolve(0, ip, 0, big) != Resolved::Dropped)
            .count();
        assert_eq!(kept, QUEUE_BYTES / 65_000, "per neighbor");
        let mut total = 0;
        for i in 0..40u8 {
            let other = IpAddr::from([10, 0, 1, i]);
            total += (0..4)
                .filter(|_| n.resolve(0, other, 0, big) != Resolved::Dropped)
                .count();
        }
        assert!((total + kept) * 65_000 <= MAX_QUEUED_BYTES, "overall");
        n.confirm(0, ip, MAC, 1, false, Answer::FULL);
        assert!(
            n.resolve(0, IpAddr::from([10, 0, 2, 1]), 2, big) != Resolved::Dropped,
            "room again"
        );
    }

    #[test]
    fn advertisements_follow_their_flags() {
        let mut n = Neighbors::new(4);
        let ip: IpAddr = IP.parse().unwrap();
        let other = MacAddr([2, 0, 0, 0, 0, 9]);
        n.confirm(0, ip, MAC, 0, true, Answer::FULL);
        let weak = Answer {
            solicited: true,
            override_: false,
        };
        n.confirm(0, ip, other, 10, false, weak);
        let row = &n.rows(10)[0];
        assert_eq!(
            (row.mac, row.state),
            (Some(MAC), NeighborState::Stale),
            "kept, in doubt"
        );
        let unsolicited = Answer {
            solicited: false,
            override_: true,
        };
        n.confirm(0, ip, other, 20, false, unsolicited);
        let row = &n.rows(20)[0];
        assert_eq!(
            (row.mac, row.state),
            (Some(other), NeighborState::Stale),
            "replaced, unconfirmed"
        );
    }
}
