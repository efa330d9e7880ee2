//! Connection tracking: which packets belong to a connection one side
//! opened, so a stateful filter can allow "established" return traffic
//! without a rule for it.
//!
//! A connection is keyed by its original direction's 5-tuple; a packet
//! matching the reversed tuple is the reply direction. TCP follows a
//! simplified version of the kernel's state machine (SYN, SYN-ACK, ACK,
//! FIN, RST); UDP and ICMP echo are pseudo-connections established by the
//! first reply. Every state has a timeout; the table has a size limit, and
//! a new connection past it is refused with [`TrackError::TableFull`] so the
//! caller can count the drop under its own reason.
//!
//! The table is a port's, and others can open connections to that port's
//! VM, so it is kept from being filled from outside:
//! - on a port, each [`Side`] (the port's own end, everyone else) may hold
//!   at most [`SIDE_SHARE`] of the table, so a flood from one side leaves
//!   room for the other's connections;
//! - when there is no room, the oldest connection still unanswered (a
//!   handshake never finished, a datagram never replied to) is dropped for
//!   the new one, as the kernel's `early_drop` does; established ones never
//!   are;
//! - when the table is more than three quarters full, unanswered
//!   connections expire after [`PRESSURE_TIMEOUT_SECS`] instead of minutes.

use rustc_hash::FxHashMap;
use std::net::IpAddr;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// The part of the table one side may hold (in quarters).
pub const SIDE_SHARE: (usize, usize) = (3, 4);
/// Unanswered connections live this long when the table is under pressure.
pub const PRESSURE_TIMEOUT_SECS: u64 = 5;
/// Connections an early drop looks at, at most.
const EARLY_DROP_SCAN: usize = 64;

/// Which side of the place a filter sits a connection was opened from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The port's own VM or container.
    Own,
    /// Everyone else.
    Others,
    /// Not told apart (a router's table): no share applies.
    Any,
}

/// One direction of a connection: protocol, addresses and ports (for ICMP
/// echo, the identifier in `sport` and 0 in `dport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    pub fn reverse(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    SynSent,
    SynReceived,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN; waiting out stray segments.
    TimeWait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Tcp(TcpState),
    /// UDP, ICMP and other protocols: `replied` once the reply direction was seen.
    Datagram {
        replied: bool,
    },
}

/// What a packet is to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first packet of a connection (tracked now if it was asked to be).
    New,
    /// A packet of a connection that has seen traffic both ways (or, for
    /// TCP, finished its handshake).
    Established,
    /// A packet of a known connection that is not yet established (a
    /// retransmitted SYN, or more datagrams before any reply).
    Pending,
    /// Fits no connection and cannot open one (a TCP segment without SYN).
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    #[error("the connection table is full ({0} connections)")]
    TableFull(usize),
}

/// Seconds each state lives without traffic (the kernel's defaults, but a
/// shorter established TCP timeout than its five days).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub tcp_syn: u64,
    pub tcp_established: u64,
    pub tcp_closing: u64,
    pub datagram: u64,
    pub datagram_replied: u64,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            tcp_syn: 120,
            tcp_established: 86_400,
            tcp_closing: 120,
            datagram: 30,
            datagram_replied: 120,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Conn {
    pub orig: Tuple,
    /// Who opened it.
    pub side: Side,
    pub state: State,
    pub last_seen_ms: u64,
    /// Packets in the original and reply directions.
    pub packets: [u64; 2],
}

/// TCP flag bits.
pub mod tcp {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone)]
pub struct Conntrack {
    conns: FxHashMap<Tuple, Conn>,
    /// Reply tuple → original tuple.
    replies: FxHashMap<Tuple, Tuple>,
    limit: usize,
    /// Connections each side opened (by `Side as usize`).
    opened: [usize; 3],
    /// Connections in the order they were opened, while unanswered (an
    /// answered or gone one is skipped when met).
    unanswered: std::collections::VecDeque<Tuple>,
    pub timeouts: Timeouts,
}

impl State {
    /// Not yet a connection both ends confirmed: a handshake not finished
    /// (the kernel's "not assured"), a datagram never replied to.
    pub fn unanswered(self) -> bool {
        matches!(
            self,
            State::Tcp(TcpState::SynSent | TcpState::SynReceived)
                | State::Datagram { replied: false }
        )
    }
}

impl Conntrack {
    pub fn new(limit: usize) -> Conntrack {
        Conntrack {
            conns: FxHashMap::default(),
            replies: FxHashMap::default(),
            limit,
            opened: [0; 3],
            unanswered: std::collections::VecDeque::new(),
            timeouts: Timeouts::default(),
        }
    }

    /// Connections `side` opened that are tracked now.
    pub fn opened_by(&self, side: Side) -> usize {
        self.opened[side as usize]
    }

    /// Makes room for one connection from `side`, if it must: the table
    /// full, or `side` at its share. Drops the oldest unanswered one (of
    /// `side`, when its share is what is full); false if there is none.
    fn room_for(&mut self, side: Side) -> bool {
        let share = (self.limit * SIDE_SHARE.0 / SIDE_SHARE.1).max(1);
        let side_full = side != Side::Any && self.opened[side as usize] >= share;
        if self.conns.len() < self.limit && !side_full {
            return true;
        }
        for _ in 0..EARLY_DROP_SCAN {
            let Some(t) = self.unanswered.pop_front() else {
                return false;
            };
            let Some(c) = self.conns.get(&t) else {
                continue;
            };
            if !c.state.unanswered() {
                continue;
            }
            if side_full && c.side != side {
                self.unanswered.push_back(t);
                continue;
            }
            self.remove(&t);
            return true;
        }
        false
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    pub fn get(&self, orig: &Tuple) -> Option<&Conn> {
        self.conns.get(orig)
    }

    /// Whether `t` is either direction of a tracked connection.
    pub fn knows(&self, t: &Tuple) -> bool {
        self.conns.contains_key(t) || self.replies.contains_key(t)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A new limit; connections beyond it stay until they end.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Every tracked connection, oldest tuple order aside.
    pub fn connections(&self) -> Vec<Conn> {
        self.conns.values().cloned().collect()
    }

    pub fn flush(&mut self) {
        self.conns.clear();
        self.replies.clear();
        self.opened = [0; 3];
        self.unanswered.clear();
    }

    /// What `track` would say of a packet with tuple `t` and TCP `flags`,
    /// changing nothing: a filter classifies first and lets only what it
    /// allows move a connection on (a forged RST it drops must not end one).
    pub fn peek(&self, t: &Tuple, flags: u8) -> Verdict {
        let (orig, reply) = if self.conns.contains_key(t) {
            (*t, false)
        } else if let Some(o) = self.replies.get(t) {
            (*o, true)
        } else {
            return if opens(t, flags) {
                Verdict::New
            } else {
                Verdict::Invalid
            };
        };
        match self.conns.get(&orig) {
            Some(c) => transition(c.state, reply, flags).1,
            None => Verdict::Invalid,
        }
    }

    /// Classifies a packet with tuple `t` (and TCP `flags`, 0 for other
    /// protocols) at `now_ms`, updating its connection. With `create`, a
    /// packet that may open a connection is tracked from now on, as opened
    /// from `side`.
    pub fn track(
        &mut self,
        t: &Tuple,
        flags: u8,
        now_ms: u64,
        create: bool,
        side: Side,
    ) -> Result<Verdict, TrackError> {
        let (orig, reply) = if self.conns.contains_key(t) {
            (*t, false)
        } else if let Some(o) = self.replies.get(t) {
            (*o, true)
        } else {
            if !opens(t, flags) {
                return Ok(Verdict::Invalid);
            }
            if create {
                if !self.room_for(side) {
                    return Err(TrackError::TableFull(self.limit));
                }
                let state = if t.proto == IPPROTO_TCP {
                    State::Tcp(TcpState::SynSent)
                } else {
                    State::Datagram { replied: false }
                };
                self.conns.insert(
                    *t,
                    Conn {
                        orig: *t,
                        side,
                        state,
                        last_seen_ms: now_ms,
                        packets: [1, 0],
                    },
                );
                self.replies.insert(t.reverse(), *t);
                self.opened[side as usize] += 1;
                self.unanswered.push_back(*t);
            }
            return Ok(Verdict::New);
        };
        let Some(c) = self.conns.get_mut(&orig) else {
            return Ok(Verdict::Invalid);
        };
        c.last_seen_ms = now_ms;
        c.packets[reply as usize] += 1;
        let (state, verdict, ends) = transition(c.state, reply, flags);
        c.state = state;
        if ends {
            self.remove(&orig);
        }
        Ok(verdict)
    }

    fn remove(&mut self, orig: &Tuple) {
        if let Some(c) = self.conns.remove(orig) {
            self.replies.remove(&orig.reverse());
            let n = &mut self.opened[c.side as usize];
            *n = n.saturating_sub(1);
        }
    }

    fn timeout_ms(&self, s: State, pressure: bool) -> u64 {
        let t = &self.timeouts;
        if pressure && s.unanswered() {
            return 1000 * PRESSURE_TIMEOUT_SECS.min(t.tcp_syn).min(t.datagram);
        }
        1000 * match s {
            State::Tcp(TcpState::SynSent | TcpState::SynReceived) => t.tcp_syn,
            State::Tcp(TcpState::Established) => t.tcp_established,
            State::Tcp(TcpState::Closing | TcpState::TimeWait) => t.tcp_closing,
            State::Datagram { replied: false } => t.datagram,
            State::Datagram { replied: true } => t.datagram_replied,
        }
    }

    /// Removes connections idle past their state's timeout; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let pressure = self.conns.len() * 4 > self.limit * 3;
        let gone: Vec<Tuple> = self
            .conns
            .values()
            .filter(|c| now_ms.saturating_sub(c.last_seen_ms) >= self.timeout_ms(c.state, pressure))
            .map(|c| c.orig)
            .collect();
        for t in &gone {
            self.remove(t);
        }
        // Answered and gone connections linger in the queue until met.
        if self.unanswered.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.unanswered
                .retain(|t| conns.get(t).is_some_and(|c| c.state.unanswered()));
        }
        gone.len()
    }
}

/// Whether a packet that fits no connection may open one.
fn opens(t: &Tuple, flags: u8) -> bool {
    t.proto != IPPROTO_TCP || (flags & tcp::SYN != 0 && flags & (tcp::ACK | tcp::RST) == 0)
}

/// A connection's next state on a packet in direction `reply`, what the
/// packet is to it, and whether the connection ends (a reset).
fn transition(s: State, reply: bool, flags: u8) -> (State, Verdict, bool) {
    match s {
        State::Datagram { replied } => {
            let replied = replied || reply;
            let v = if replied {
                Verdict::Established
            } else {
                Verdict::Pending
            };
            (State::Datagram { replied }, v, false)
        }
        State::Tcp(t) => {
            if flags & tcp::RST != 0 {
                let v = if t == TcpState::SynSent && !reply {
                    Verdict::Pending
                } else {
                    Verdict::Established
                };
                return (s, v, true);
            }
            let next = match (t, reply) {
                (TcpState::SynSent, true)
                    if flags & (tcp::SYN | tcp::ACK) == tcp::SYN | tcp::ACK =>
                {
                    TcpState::SynReceived
                }
                (TcpState::SynReceived, false) if flags & tcp::ACK != 0 => TcpState::Established,
                (TcpState::Established, _) if flags & tcp::FIN != 0 => TcpState::Closing,
                (TcpState::Closing, _) if flags & tcp::FIN != 0 => TcpState::TimeWait,
                (other, _) => other,
            };
            let v = match next {
                TcpState::SynSent => Verdict::Pending,
                // The SYN-ACK itself is the first reply: it passes as established.
                TcpState::SynReceived if reply => Verdict::Established,
                TcpState::SynReceived => Verdict::Pending,
                _ => Verdict::Established,
            };
            (State::Tcp(next), v, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tcp::*;
    use super::*;

    fn tuple(proto: u8, sport: u16, dport: u16) -> Tuple {
        Tuple {
            proto,
            src: "10.0.1.2".parse().expect("ip"),
            dst: "10.0.2.2".parse().expect("ip"),
            sport,
            dport,
        }
    }

    #[test]
    fn a_tcp_handshake_makes_return_traffic_established() {
        let mut ct = Conntrack::new(16);
        let t = tuple(IPPROTO_TCP, 40000, 80);
        let r = t.reverse();
        // (direction, flags, expected) — a table of one connection's life.
        let steps = [
            (t, SYN, Verdict::New),
            (t, SYN, Verdict::Pending),
            (r, SYN | ACK, Verdict::Established),
            (t, ACK, Verdict::Established),
            (r, ACK, Verdict::Established),
            (t, FIN | ACK, Verdict::Established),
            (r, FIN | ACK, Verdict::Established),
        ];
        for (i, (pkt, flags, want)) in steps.iter().enumerate() {
            assert_eq!(
                ct.track(pkt, *flags, 1, true, Side::Own),
                Ok(*want),
                "step {i}"
            );
        }
        assert_eq!(
            ct.get(&t).map(|c| c.state),
            Some(State::Tcp(TcpState::TimeWait))
        );
        // An unsolicited segment from the other side opens nothing.
        let other = tuple(IPPROTO_TCP, 5000, 40001).reverse();
        assert_eq!(
            ct.track(&other, ACK, 1, true, Side::Own),
            Ok(Verdict::Invalid)
        );
        assert_eq!(
            ct.track(&r, RST, 2, true, Side::Own),
            Ok(Verdict::Established)
        );
        assert!(ct.is_empty(), "RST ends it");
    }

    #[test]
    fn datagrams_are_established_by_a_reply_and_time_out() {
        let mut ct = Conntrack::new(16);
        let t = tuple(IPPROTO_UDP, 5353, 53);
        assert_eq!(ct.track(&t, 0, 0, true, Side::Own), Ok(Verdict::New));
        assert_eq!(ct.track(&t, 0, 10, true, Side::Own), Ok(Verdict::Pending));
        assert_eq!(
            ct.track(&t.reverse(), 0, 20, true, Side::Own),
            Ok(Verdict::Established)
        );
        assert_eq!(ct.expire(20 + 119_000), 0);
        assert_eq!(ct.expire(20 + 120_000), 1);
        assert!(ct.is_empty());
    }

    #[test]
    fn a_full_table_drops_the_oldest_unanswered_and_refuses_when_all_are_answered() {
        let mut ct = Conntrack::new(4);
        let u = |p: u16| tuple(IPPROTO_UDP, p, 53);
        // Two answered (from either side), two not.
        for (p, side) in [(1, Side::Own), (2, Side::Others)] {
            ct.track(&u(p), 0, 0, true, side).expect("open");
            ct.track(&u(p).reverse(), 0, 1, true, side).expect("answer");
        }
        ct.track(&u(3), 0, 2, true, Side::Own).expect("3");
        ct.track(&u(4), 0, 3, true, Side::Own).expect("4");
        // Full: the oldest unanswered (3) makes room for 5, then 4 for 6.
        assert_eq!(ct.track(&u(5), 0, 4, true, Side::Own), Ok(Verdict::New));
        assert!(ct.get(&u(3)).is_none() && ct.get(&u(4)).is_some());
        assert_eq!(ct.track(&u(6), 0, 5, true, Side::Own), Ok(Verdict::New));
        assert!(ct.get(&u(4)).is_none());
        // Answered ones stay; with every one answered, a new one is refused.
        for p in [5, 6] {
            ct.track(&u(p).reverse(), 0, 6, true, Side::Own)
                .expect("answer");
        }
        assert_eq!(
            ct.track(&u(7), 0, 7, true, Side::Own),
            Err(TrackError::TableFull(4))
        );
        assert_eq!(
            ct.track(&u(1).reverse(), 0, 8, true, Side::Own),
            Ok(Verdict::Established)
        );
        // Without `create`, nothing is tracked and nothing is refused.
        assert_eq!(ct.track(&u(7), 0, 0, false, Side::Own), Ok(Verdict::New));
        assert_eq!(ct.len(), 4);
    }

    #[test]
    fn a_syn_flood_from_outside_leaves_the_vm_room_and_expires_fast() {
        let mut ct = Conntrack::new(100);
        let syn = |sport: u16, dport: u16| tuple(IPPROTO_TCP, sport, dport);
        // Outsiders open 1000 half-open connections to the VM.
        for p in 0..1000u16 {
            ct.track(&syn(10_000 + p, 80).reverse(), SYN, 0, true, Side::Others)
                .expect("a flood SYN is tracked, pushing out older ones");
        }
        assert_eq!(ct.opened_by(Side::Others), 75, "three quarters at most");
        // The VM's own connection opens and completes.
        let mine = syn(40_000, 443);
        assert_eq!(ct.track(&mine, SYN, 1, true, Side::Own), Ok(Verdict::New));
        assert_eq!(
            ct.track(&mine.reverse(), SYN | ACK, 2, true, Side::Own),
            Ok(Verdict::Established)
        );
        assert_eq!(
            ct.track(&mine, ACK, 2, true, Side::Own),
            Ok(Verdict::Established)
        );
        // More flood: it replaces its own half-open entries, never the VM's.
        for p in 0..1000u16 {
            let _ = ct.track(&syn(20_000 + p, 80).reverse(), SYN, 3, true, Side::Others);
        }
        assert!(ct.get(&mine).is_some());
        // Under pressure (76 of 100 held), half-open entries go in seconds.
        assert_eq!(ct.expire(3 + PRESSURE_TIMEOUT_SECS * 1000), 75);
        assert_eq!(ct.len(), 1);
        assert_eq!(ct.opened_by(Side::Others), 0);
    }
}
