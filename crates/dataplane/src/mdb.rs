//! The multicast group database of a snooping switch (IGMP and MLD
//! snooping, as the Linux bridge's `multicast_snooping` and Open vSwitch's
//! `mcast_snooping_enable`): which ports asked for which group in which
//! VLAN, and which ports lead to a multicast router (a querier).
//!
//! Learned from what the ports send: a report joins its port to a group
//! until the membership interval passes without another; a leave (or a v3
//! record asking for no source) takes it out at once; a query marks its
//! port as a router port. Snooping narrows only what the switch's modes
//! already send: it never makes a frame reach a port the mode rules keep
//! it from. While no querier is heard in a VLAN, nobody would refresh
//! memberships, so its group traffic is forwarded as if unsnooped (the
//! Linux bridge does the same).
//!
//! Bounded: each port holds at most [`PORT_GROUP_LIMIT`] memberships and
//! the switch [`TABLE_LIMIT`], so one tenant's joins cannot crowd out
//! another's; a join past a bound is not learned and is counted.

use crate::PortId;
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Memberships one port may hold at once.
pub const PORT_GROUP_LIMIT: usize = 256;
/// Memberships one switch holds at once (the Linux bridge's `hash_max`).
pub const TABLE_LIMIT: usize = 4096;
/// RFC 3376's group membership interval: robustness 2 × query interval
/// 125 s + query response interval 10 s.
pub const MEMBERSHIP_MS: u64 = 260_000;
/// How long a port stays a router port after its last query (RFC 3376's
/// other querier present interval: 2 × 125 s + 10 s / 2).
pub const ROUTER_MS: u64 = 255_000;

/// What snooping is told by the switch's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnoopConfig {
    pub enabled: bool,
    /// Group traffic no port asked for goes to every port the mode rules
    /// allow (true) or to router ports only (false, the default).
    pub flood_unregistered: bool,
    /// Ports that always lead to a multicast router (and so receive every
    /// group's traffic and every report): the uplink, tunnels and patches
    /// by default, plus those named in the topology.
    pub router_ports: Vec<PortId>,
    /// Filter group traffic even while no querier is heard (a switch
    /// whose querier is known to be elsewhere on a static router port).
    pub without_querier: bool,
    /// Believe queries from any port, not only from router ports: off by
    /// default, so a tenant cannot make its port a router port (which
    /// hears every group and every report of the VLAN).
    pub routers_from_any_port: bool,
    /// The switch queries while no other querier is heard; its queries
    /// come from this MAC (one reflected back is not another querier).
    pub querier: Option<vepa_packet::MacAddr>,
}

/// One (VLAN, group)'s members: a port and when its membership lapses.
type Members = Vec<(PortId, u64)>;

#[derive(Debug, Default)]
struct Tables {
    groups: FxHashMap<(u16, IpAddr), Members>,
    /// Ports that sent a query, per VLAN, and until when they count.
    routers: FxHashMap<u16, Vec<(PortId, u64)>>,
    /// Per VLAN, when a querier that appeared counts as heard: after its
    /// first query's response time, once the hosts had time to report
    /// (before, memberships are not all known; the Linux bridge waits so).
    heard_from: FxHashMap<u16, u64>,
    /// Per VLAN, until when the switch's own last query counts.
    own: FxHashMap<u16, u64>,
    per_port: FxHashMap<PortId, usize>,
    total: usize,
}

/// What the table decides for one group frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// No querier in the VLAN (or snooping off): as the modes say.
    Unsnooped,
    /// Members and router ports only.
    Snooped,
}

#[derive(Debug, Default)]
pub struct Mdb {
    tables: RwLock<Tables>,
    /// Bumped when a membership or router port appears or goes.
    generation: AtomicU64,
    /// Joins not learned because a bound was reached.
    over_limit: AtomicU64,
}

/// One row of `vepa mdb show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdbRow {
    pub vid: u16,
    pub group: IpAddr,
    pub port: PortId,
    /// Milliseconds until the membership lapses.
    pub expires_in_ms: u64,
}

impl Mdb {
    pub fn new() -> Mdb {
        Mdb::default()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Memberships held.
    pub fn len(&self) -> usize {
        self.read().total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn over_limit(&self) -> u64 {
        self.over_limit.load(Ordering::Relaxed)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    /// `port` reported `group` in `vid`: a member until `now + MEMBERSHIP_MS`.
    pub fn join(&self, vid: u16, group: IpAddr, port: PortId, now: u64) {
        let until = now + MEMBERSHIP_MS;
        let mut t = self.write();
        let at_limit = t.total >= TABLE_LIMIT
            || t.per_port.get(&port).copied().unwrap_or(0) >= PORT_GROUP_LIMIT;
        let known = t
            .groups
            .get(&(vid, group))
            .is_some_and(|m| m.iter().any(|(p, _)| *p == port));
        if known {
            if let Some(m) = t.groups.get_mut(&(vid, group)) {
                for e in m.iter_mut().filter(|(p, _)| *p == port) {
                    e.1 = until;
                }
            }
            return;
        }
        if at_limit {
            self.over_limit.fetch_add(1, Ordering::Relaxed);
            return;
        }
        t.groups
            .entry((vid, group))
            .or_default()
            .push((port, until));
        *t.per_port.entry(port).or_default() += 1;
        t.total += 1;
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// `port` left `group` in `vid`.
    pub fn leave(&self, vid: u16, group: IpAddr, port: PortId) {
        let mut t = self.write();
        let Some(m) = t.groups.get_mut(&(vid, group)) else {
            return;
        };
        let before = m.len();
        m.retain(|(p, _)| *p != port);
        let gone = before - m.len();
        if m.is_empty() {
            t.groups.remove(&(vid, group));
        }
        if gone > 0 {
            if let Some(n) = t.per_port.get_mut(&port) {
                *n = n.saturating_sub(gone);
            }
            t.total = t.total.saturating_sub(gone);
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A query came in on `port` in `vid`, asking for answers within
    /// `max_resp_ms`: a router port for a while.
    pub fn query_from(&self, vid: u16, port: PortId, now: u64, max_resp_ms: u64) {
        let until = now + ROUTER_MS;
        let mut t = self.write();
        let alive = Self::other_querier(&t, vid, now) || t.own.get(&vid).is_some_and(|u| *u > now);
        if !alive {
            t.heard_from.insert(vid, now + max_resp_ms);
        }
        let r = t.routers.entry(vid).or_default();
        match r.iter_mut().find(|(p, _)| *p == port) {
            Some(e) => e.1 = until,
            None => {
                r.push((port, until));
                self.generation.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Forgets lapsed memberships and router ports; how many went.
    pub fn expire(&self, now: u64) -> usize {
        let mut t = self.write();
        let mut gone = 0;
        let mut freed: Vec<PortId> = Vec::new();
        t.groups.retain(|_, m| {
            m.retain(|(p, until)| {
                let keep = *until > now;
                if !keep {
                    freed.push(*p);
                }
                keep
            });
            !m.is_empty()
        });
        for p in freed {
            if let Some(n) = t.per_port.get_mut(&p) {
                *n = n.saturating_sub(1);
            }
            t.total = t.total.saturating_sub(1);
            gone += 1;
        }
        t.routers.retain(|_, r| {
            let before = r.len();
            r.retain(|(_, until)| *until > now);
            gone += before - r.len();
            !r.is_empty()
        });
        let Tables {
            routers,
            heard_from,
            own,
            ..
        } = &mut *t;
        own.retain(|_, until| *until > now);
        heard_from.retain(|vid, _| routers.contains_key(vid) || own.contains_key(vid));
        if gone > 0 {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
        gone
    }

    /// Whether a querier is heard in `vid`: a port sent a query lately,
    /// and the first one's response time has passed.
    pub fn querier_present(&self, vid: u16, now: u64) -> bool {
        Self::heard(&self.read(), vid, now)
    }

    fn heard(t: &Tables, vid: u16, now: u64) -> bool {
        (Self::other_querier(t, vid, now) || t.own.get(&vid).is_some_and(|u| *u > now))
            && t.heard_from.get(&vid).is_some_and(|at| now >= *at)
    }

    fn other_querier(t: &Tables, vid: u16, now: u64) -> bool {
        t.routers
            .get(&vid)
            .is_some_and(|r| r.iter().any(|(_, until)| *until > now))
    }

    /// Whether a querier other than the switch itself is heard in `vid`
    /// (the switch's own querier then keeps quiet).
    pub fn other_querier_present(&self, vid: u16, now: u64) -> bool {
        Self::other_querier(&self.read(), vid, now)
    }

    /// The switch sent its own general query in `vid`, asking for answers
    /// within `max_resp_ms`: a querier is heard as from a port's query.
    pub fn own_query(&self, vid: u16, now: u64, max_resp_ms: u64) {
        let mut t = self.write();
        let alive = Self::other_querier(&t, vid, now) || t.own.get(&vid).is_some_and(|u| *u > now);
        if !alive {
            t.heard_from.insert(vid, now + max_resp_ms);
        }
        t.own.insert(vid, now + ROUTER_MS);
    }

    /// Narrows `ports` (what the modes would send a frame for `group` in
    /// `vid` to) to those that should hear it: members, router ports
    /// (static or learned), or everyone when the group is unregistered
    /// and `flood_unregistered`. Returns how the frame was treated.
    pub fn narrow(
        &self,
        config: &SnoopConfig,
        vid: u16,
        group: IpAddr,
        now: u64,
        ports: &mut Vec<PortId>,
    ) -> Delivery {
        let t = self.read();
        let routers = t.routers.get(&vid);
        let querier = Self::heard(&t, vid, now);
        if !config.enabled || !(querier || config.without_querier) {
            return Delivery::Unsnooped;
        }
        let members = t.groups.get(&(vid, group));
        let registered = members.is_some_and(|m| m.iter().any(|(_, until)| *until > now));
        if !registered && config.flood_unregistered {
            return Delivery::Snooped;
        }
        ports.retain(|q| {
            config.router_ports.contains(q)
                || routers.is_some_and(|r| r.iter().any(|(p, until)| p == q && *until > now))
                || members.is_some_and(|m| m.iter().any(|(p, until)| p == q && *until > now))
        });
        Delivery::Snooped
    }

    /// Whether `port` leads to a multicast router in `vid` (reports go
    /// to those only).
    pub fn is_router(&self, config: &SnoopConfig, vid: u16, port: PortId, now: u64) -> bool {
        config.router_ports.contains(&port)
            || self
                .read()
                .routers
                .get(&vid)
                .is_some_and(|r| r.iter().any(|(p, until)| *p == port && *until > now))
    }

    /// A copy, for a trace.
    pub fn copy(&self) -> Mdb {
        let t = self.read();
        Mdb {
            tables: RwLock::new(Tables {
                groups: t.groups.clone(),
                routers: t.routers.clone(),
                heard_from: t.heard_from.clone(),
                own: t.own.clone(),
                per_port: t.per_port.clone(),
                total: t.total,
            }),
            generation: AtomicU64::new(self.generation()),
            over_limit: AtomicU64::new(self.over_limit()),
        }
    }

    /// Takes over `old`'s memberships and router ports (the same switch
    /// before its port list changed), renumbered by `map`; ports `map`
    /// drops are forgotten.
    pub fn restore_from(&self, old: &Mdb, map: impl Fn(PortId) -> Option<PortId>) {
        let o = old.read();
        let mut t = self.write();
        for ((vid, group), m) in &o.groups {
            for (p, until) in m {
                if let Some(q) = map(*p) {
                    t.groups
                        .entry((*vid, *group))
                        .or_default()
                        .push((q, *until));
                    *t.per_port.entry(q).or_default() += 1;
                    t.total += 1;
                }
            }
        }
        t.heard_from
            .extend(o.heard_from.iter().map(|(v, at)| (*v, *at)));
        t.own.extend(o.own.iter().map(|(v, u)| (*v, *u)));
        for (vid, r) in &o.routers {
            for (p, until) in r {
                if let Some(q) = map(*p) {
                    t.routers.entry(*vid).or_default().push((q, *until));
                }
            }
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Every membership, for `vepa mdb show`.
    pub fn rows(&self, now: u64) -> Vec<MdbRow> {
        let t = self.read();
        let mut rows: Vec<MdbRow> = t
            .groups
            .iter()
            .flat_map(|((vid, group), m)| {
                m.iter()
                    .filter(|(_, u)| *u > now)
                    .map(move |(port, until)| MdbRow {
                        vid: *vid,
                        group: *group,
                        port: *port,
                        expires_in_ms: until - now,
                    })
            })
            .collect();
        rows.sort_by_key(|r| (r.vid, r.group, r.port.0));
        rows
    }

    /// Router ports learned from queries, per VLAN, for `vepa mdb show`.
    pub fn routers(&self, now: u64) -> Vec<(u16, PortId, u64)> {
        let t = self.read();
        let mut out: Vec<_> = t
            .routers
            .iter()
            .flat_map(|(vid, r)| {
                r.iter()
                    .filter(|(_, u)| *u > now)
                    .map(move |(p, u)| (*vid, *p, u - now))
            })
            .collect();
        out.sort_by_key(|(v, p, _)| (*v, p.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> IpAddr {
        s.parse().expect("group")
    }

    fn on() -> SnoopConfig {
        SnoopConfig {
            enabled: true,
            router_ports: vec![PortId(0)],
            ..SnoopConfig::default()
        }
    }

    #[test]
    fn the_switch_s_own_querier_counts_until_another_is_heard() {
        let m = Mdb::new();
        let c = SnoopConfig {
            enabled: true,
            ..SnoopConfig::default()
        };
        let g: IpAddr = "239.1.1.1".parse().unwrap();
        m.join(1, g, PortId(2), 0);
        m.own_query(1, 0, 1000);
        let mut ports = vec![PortId(1), PortId(2), PortId(3)];
        assert_eq!(m.narrow(&c, 1, g, 500, &mut ports), Delivery::Unsnooped);
        assert_eq!(m.narrow(&c, 1, g, 1000, &mut ports), Delivery::Snooped);
        assert_eq!(ports, vec![PortId(2)]);
        assert!(!m.other_querier_present(1, 1000));
        m.query_from(1, PortId(1), 2000, 1000);
        assert!(m.other_querier_present(1, 2000));
        // Its own query lapses; another VLAN never heard one.
        m.expire(ROUTER_MS + 1);
        assert!(!m.querier_present(2, 10));
    }

    #[test]
    fn members_and_routers_hear_a_group_once_a_querier_is_heard() {
        let m = Mdb::new();
        let all = || vec![PortId(0), PortId(1), PortId(2), PortId(3)];
        m.join(1, g("239.1.1.1"), PortId(1), 0);
        m.join(1, g("239.1.1.1"), PortId(2), 0);
        // No querier yet: as the modes say.
        let mut ports = all();
        assert_eq!(
            m.narrow(&on(), 1, g("239.1.1.1"), 10, &mut ports),
            Delivery::Unsnooped
        );
        assert_eq!(ports, all());
        m.query_from(1, PortId(0), 10, 5);
        // Until the query's response time is over, hosts may still report.
        let mut ports = all();
        assert_eq!(
            m.narrow(&on(), 1, g("239.1.1.1"), 14, &mut ports),
            Delivery::Unsnooped
        );
        let mut ports = all();
        assert_eq!(
            m.narrow(&on(), 1, g("239.1.1.1"), 20, &mut ports),
            Delivery::Snooped
        );
        assert_eq!(ports, vec![PortId(0), PortId(1), PortId(2)]);
        // Unregistered: router ports only; with flood_unregistered, all.
        let mut ports = all();
        m.narrow(&on(), 1, g("239.9.9.9"), 20, &mut ports);
        assert_eq!(ports, vec![PortId(0)]);
        let flood = SnoopConfig {
            flood_unregistered: true,
            ..on()
        };
        let mut ports = all();
        m.narrow(&flood, 1, g("239.9.9.9"), 20, &mut ports);
        assert_eq!(ports, all());
        // Another VLAN's querier and members are its own.
        let mut ports = all();
        assert_eq!(
            m.narrow(&on(), 2, g("239.1.1.1"), 20, &mut ports),
            Delivery::Unsnooped
        );
        // A leave, and a lapse.
        m.leave(1, g("239.1.1.1"), PortId(2));
        let mut ports = all();
        m.narrow(&on(), 1, g("239.1.1.1"), 30, &mut ports);
        assert_eq!(ports, vec![PortId(0), PortId(1)]);
        // The querier is heard again; port 1's membership lapses unrefreshed.
        // (Its router port had lapsed: a querier anew, heard after 5 ms.)
        m.query_from(1, PortId(0), MEMBERSHIP_MS - 1, 5);
        assert_eq!(m.expire(MEMBERSHIP_MS + 1), 1);
        let mut ports = all();
        m.narrow(&on(), 1, g("239.1.1.1"), MEMBERSHIP_MS + 10, &mut ports);
        assert_eq!(ports, vec![PortId(0)]);
    }

    #[test]
    fn a_port_cannot_hold_more_than_its_share() {
        let m = Mdb::new();
        for i in 0..(PORT_GROUP_LIMIT + 10) {
            let a = IpAddr::V4(std::net::Ipv4Addr::new(239, 2, (i >> 8) as u8, i as u8));
            m.join(1, a, PortId(1), 0);
        }
        assert_eq!(m.rows(1).len(), PORT_GROUP_LIMIT);
        assert_eq!(m.over_limit(), 10);
        // Another port still joins.
        m.join(1, g("239.1.1.1"), PortId(2), 0);
        assert_eq!(m.rows(1).len(), PORT_GROUP_LIMIT + 1);
        // Leaves free the share.
        m.leave(
            1,
            IpAddr::V4(std::net::Ipv4Addr::new(239, 2, 0, 0)),
            PortId(1),
        );
        m.join(1, g("239.3.3.3"), PortId(1), 0);
        assert_eq!(m.over_limit(), 10);
    }
}
