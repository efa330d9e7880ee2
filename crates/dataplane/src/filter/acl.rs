//! An access list: rules in order, the first match decides, a default for
//! the rest; with connection tracking when it is stateful.
//!
//! A stateful list classifies each packet against its zone's connection
//! table first (new, established, related, invalid), so a rule can say
//! `allow state established,related`; a packet a rule allows that opens
//! a connection is tracked from then on. A full table refuses the new
//! connection, which the caller counts as its own drop reason, while
//! connections already tracked carry on.

use super::rule::{AclAction, AclRule, StateSet};
use crate::conntrack::{Conn, Conntrack, Side, TrackError, Verdict};
use crate::l3::L3Packet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What an ACL decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclVerdict {
    Allow,
    Drop,
    Reject,
    /// Allowed, but the connection table is full.
    TableFull,
}

/// A connection table and what was refused for lack of room in it. One
/// per place filters sit (a switch port, a router).
#[derive(Debug)]
pub struct Zone {
    ct: Mutex<Conntrack>,
    pub full_drops: AtomicU64,
}

impl Zone {
    pub fn new(limit: usize) -> Zone {
        Zone {
            ct: Mutex::new(Conntrack::new(limit)),
            full_drops: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Conntrack> {
        self.ct.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn limit(&self) -> usize {
        self.lock().limit()
    }

    pub fn set_limit(&self, limit: usize) {
        self.lock().set_limit(limit);
    }

    pub fn expire(&self, now: u64) -> usize {
        self.lock().expire(now)
    }

    pub fn flush(&self) -> usize {
        let mut ct = self.lock();
        let n = ct.len();
        ct.flush();
        n
    }

    /// Records (or follows) the connection of a packet let through
    /// without a list; a full table just leaves it untracked.
    pub fn commit(&self, p: &L3Packet, now: u64, side: Side) {
        if p.related.is_none() && !p.fragment {
            let _ = self.lock().track(&p.tuple(), p.tcp_flags, now, true, side);
        }
    }

    /// A table of its own holding the same connections, for a trace to
    /// change without touching this one.
    pub fn copy(&self) -> Zone {
        Zone {
            ct: Mutex::new(self.lock().clone()),
            full_drops: AtomicU64::new(0),
        }
    }

    /// Every connection, for `vepa conntrack show`.
    pub fn connections(&self) -> Vec<Conn> {
        self.lock().connections()
    }
}

#[derive(Debug, Default)]
pub struct Hits {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

impl Hits {
    fn copy(&self, o: &Hits) {
        self.packets
            .store(o.packets.load(Ordering::Relaxed), Ordering::Relaxed);
        self.bytes
            .store(o.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    fn add(&self, len: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub struct Acl {
    pub name: String,
    pub rules: Vec<AclRule>,
    pub default: AclAction,
    pub stateful: bool,
    /// One per rule, then the default's.
    hits: Vec<Hits>,
}

impl Acl {
    pub fn new(name: &str, rules: Vec<AclRule>, default: AclAction, stateful: bool) -> Acl {
        let hits = (0..=rules.len()).map(|_| Hits::default()).collect();
        Acl {
            name: name.to_string(),
            rules,
            default,
            stateful,
            hits,
        }
    }

    /// The same list with counters of its own, all zero (a trace reads
    /// which rule it counted).
    pub fn copy(&self) -> Acl {
        Acl::new(&self.name, self.rules.clone(), self.default, self.stateful)
    }

    /// Whether any rule asks for a connection state (which makes tracking necessary).
    pub fn uses_state(rules: &[AclRule]) -> bool {
        rules.iter().any(|r| r.state.is_some())
    }

    /// Packets and bytes each rule matched, then the default's.
    pub fn hits(&self) -> Vec<(u64, u64)> {
        self.hits
            .iter()
            .map(|h| {
                (
                    h.packets.load(Ordering::Relaxed),
                    h.bytes.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Judges `p`; a connection it opens counts as opened from `side`.
    pub fn evaluate(&self, p: &L3Packet, zone: &Zone, now: u64, side: Side) -> AclVerdict {
        if p.opaque {
            // Headers that cannot be read to the ports cannot be judged.
            self.hits[self.rules.len()].add(p.len);
            return AclVerdict::Drop;
        }
        let mut opens = false;
        // Later fragments carry no ports: never tracked, never "established"
        // (no reassembly here; a rule without ports can still allow them).
        let state = if !self.stateful || p.fragment {
            StateSet::NEW
        } else {
            let ct = zone.lock();
            match p.related {
                Some(t) if ct.knows(&t) => StateSet::RELATED,
                _ => match ct.peek(&p.tuple(), p.tcp_flags) {
                    Verdict::Established => StateSet::ESTABLISHED,
                    Verdict::Pending => StateSet::NEW,
                    Verdict::New => {
                        opens = true;
                        StateSet::NEW
                    }
                    Verdict::Invalid => StateSet::INVALID,
                },
            }
        };
        let (i, action) = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(p, state))
            .map(|(i, r)| (i, r.action))
            .unwrap_or((self.rules.len(), self.default));
        self.hits[i].add(p.len);
        if action == AclAction::Allow
            && self.stateful
            && !p.fragment
            && state != StateSet::RELATED
            && state != StateSet::INVALID
        {
            // Only what is let through moves its connection on.
            let r = zone.lock().track(&p.tuple(), p.tcp_flags, now, opens, side);
            if let Err(TrackError::TableFull(_)) = r {
                zone.full_drops.fetch_add(1, Ordering::Relaxed);
                return AclVerdict::TableFull;
            }
        }
        match action {
            AclAction::Allow => AclVerdict::Allow,
            AclAction::Drop => AclVerdict::Drop,
            AclAction::Reject => AclVerdict::Reject,
        }
    }

    /// Carries the counters of rules that stay (same text) over from the
    /// list this one replaces, and the default's.
    pub fn inherit(&self, old: &Acl) {
        let mut used = vec![false; old.rules.len()];
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(j) = (0..old.rules.len()).find(|&j| !used[j] && old.rules[j] == *r) {
                used[j] = true;
                self.hits[i].copy(&old.hits[j]);
            }
        }
        if self.default == old.default {
            self.hits[self.rules.len()].copy(&old.hits[old.rules.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use vepa_packet::ip;

    fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> L3Packet {
        let (a, b) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let seg = ip::tcp_segment(a.into(), b.into(), sport, dport, 1, 1, flags);
        let mut pkt = Vec::new();
        ip::push_ipv4(&mut pkt, a, b, ip::PROTO_TCP, 64, 1, &seg);
        L3Packet::from_ip(&pkt).unwrap()
    }

    fn acl(rules: &[&str], stateful: bool) -> Acl {
        let rules: Vec<AclRule> = rules.iter().map(|r| r.parse().unwrap()).collect();
        Acl::new("t", rules, AclAction::Drop, stateful)
    }

    const A: [u8; 4] = [10, 1, 0, 2];
    const B: [u8; 4] = [10, 2, 0, 2];

    #[test]
    fn established_return_traffic_needs_no_rule() {
        let a = acl(
            &[
                "allow state established,related",
                "allow tcp src 10.1.0.0/24 dport 80",
            ],
            true,
        );
        let z = Zone::new(16);
        use ip::{TCP_ACK as K, TCP_SYN as S};
        let table = [
            (tcp(A, B, 4000, 80, S), AclVerdict::Allow, "A opens to B:80"),
            (
                tcp(B, A, 80, 4000, S | K),
                AclVerdict::Allow,
                "B's SYN-ACK is the reply",
            ),
            (tcp(A, B, 4000, 80, K), AclVerdict::Allow, "handshake done"),
            (tcp(B, A, 80, 4000, K), AclVerdict::Allow, "data back"),
            (
                tcp(B, A, 5000, 22, S),
                AclVerdict::Drop,
                "B may not open to A",
            ),
            (
                tcp(A, B, 4001, 22, S),
                AclVerdict::Drop,
                "A may open port 80 only",
            ),
            (
                tcp(B, A, 80, 4999, K),
                AclVerdict::Drop,
                "an ACK of no connection is invalid",
            ),
        ];
        for (p, want, why) in table {
            assert_eq!(a.evaluate(&p, &z, 0, Side::Own), want, "{why}");
        }
        let hits = a.hits();
        assert_eq!((hits[0].0, hits[1].0, hits[2].0), (3, 1, 3));
    }

    #[test]
    fn a_full_table_refuses_new_connections_only() {
        let a = acl(&["allow state established", "allow tcp"], true);
        let z = Zone::new(2);
        // Established connections are never dropped for new ones: one
        // opened from each side (each within its share), both established.
        use ip::{TCP_ACK as K, TCP_SYN as S};
        for (open, answer, ack, side) in [
            (
                tcp(A, B, 1, 80, S),
                tcp(B, A, 80, 1, S | K),
                tcp(A, B, 1, 80, K),
                Side::Own,
            ),
            (
                tcp(B, A, 7, 22, S),
                tcp(A, B, 22, 7, S | K),
                tcp(B, A, 7, 22, K),
                Side::Others,
            ),
        ] {
            assert_eq!(a.evaluate(&open, &z, 0, side), AclVerdict::Allow);
            assert_eq!(a.evaluate(&answer, &z, 0, side), AclVerdict::Allow);
            assert_eq!(a.evaluate(&ack, &z, 0, side), AclVerdict::Allow);
        }
        assert_eq!(
            a.evaluate(&tcp(A, B, 3, 80, S), &z, 0, Side::Own),
            AclVerdict::TableFull
        );
        assert_eq!(z.full_drops.load(Ordering::Relaxed), 1);
        assert_eq!(
            a.evaluate(&tcp(A, B, 1, 80, K), &z, 0, Side::Own),
            AclVerdict::Allow,
            "existing ones continue"
        );
    }

    #[test]
    fn stateless_lists_never_track() {
        let a = acl(&["allow tcp dport 80"], false);
        let z = Zone::new(1);
        for port in 1..10 {
            assert_eq!(
                a.evaluate(&tcp(A, B, port, 80, ip::TCP_SYN), &z, 0, Side::Own),
                AclVerdict::Allow
            );
        }
        assert!(z.is_empty());
        assert_eq!(
            a.evaluate(&tcp(A, B, 1, 81, ip::TCP_SYN), &z, 0, Side::Own),
            AclVerdict::Drop
        );
    }
}
