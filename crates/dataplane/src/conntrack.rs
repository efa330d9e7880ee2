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

use rustc_hash::FxHashMap;
use std::net::IpAddr;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

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

#[derive(Debug)]
pub struct Conntrack {
    conns: FxHashMap<Tuple, Conn>,
    /// Reply tuple → original tuple.
    replies: FxHashMap<Tuple, Tuple>,
    limit: usize,
    pub timeouts: Timeouts,
}

impl Conntrack {
    pub fn new(limit: usize) -> Conntrack {
        Conntrack {
            conns: FxHashMap::default(),
            replies: FxHashMap::default(),
            limit,
            timeouts: Timeouts::default(),
        }
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
    /// packet that may open a connection is tracked from now on.
    pub fn track(
        &mut self,
        t: &Tuple,
        flags: u8,
        now_ms: u64,
        create: bool,
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
                if self.conns.len() >= self.limit {
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
                        state,
                        last_seen_ms: now_ms,
                        packets: [1, 0],
                    },
                );
                self.replies.insert(t.reverse(), *t);
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
        if self.conns.remove(orig).is_some() {
            self.replies.remove(&orig.reverse());
        }
    }

    fn timeout_ms(&self, s: State) -> u64 {
        let t = &self.timeouts;
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
        let gone: Vec<Tuple> = self
            .conns
            .values()
            .filter(|c| now_ms.saturating_sub(c.last_seen_ms) >= self.timeout_ms(c.state))
            .map(|c| c.orig)
            .collect();
        for t in &gone {
            self.remove(t);
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
            assert_eq!(ct.track(pkt, *flags, 1, true), Ok(*want), "step {i}");
        }
        assert_eq!(
            ct.get(&t).map(|c| c.state),
            Some(State::Tcp(TcpState::TimeWait))
        );
        // An unsolicited segment from the other side opens nothing.
        let other = tuple(IPPROTO_TCP, 5000, 40001).reverse();
        assert_eq!(ct.track(&other, ACK, 1, true), Ok(Verdict::Invalid));
        assert_eq!(ct.track(&r, RST, 2, true), Ok(Verdict::Established));
        assert!(ct.is_empty(), "RST ends it");
    }

    #[test]
    fn datagrams_are_established_by_a_reply_and_time_out() {
        let mut ct = Conntrack::new(16);
        let t = tuple(IPPROTO_UDP, 5353, 53);
        assert_eq!(ct.track(&t, 0, 0, true), Ok(Verdict::New));
        assert_eq!(ct.track(&t, 0, 10, true), Ok(Verdict::Pending));
        assert_eq!(
            ct.track(&t.reverse(), 0, 20, true),
            Ok(Verdict::Established)
        );
        assert_eq!(ct.expire(20 + 119_000), 0);
        assert_eq!(ct.expire(20 + 120_000), 1);
        assert!(ct.is_empty());
    }

    #[test]
    fn a_full_table_refuses_new_connections_and_keeps_the_old() {
        let mut ct = Conntrack::new(2);
        let a = tuple(IPPROTO_UDP, 1, 53);
        let b = tuple(IPPROTO_UDP, 2, 53);
        let c = tuple(IPPROTO_UDP, 3, 53);
        ct.track(&a, 0, 0, true).expect("a");
        ct.track(&b, 0, 0, true).expect("b");
        assert_eq!(ct.track(&c, 0, 0, true), Err(TrackError::TableFull(2)));
        assert_eq!(ct.track(&a.reverse(), 0, 1, true), Ok(Verdict::Established));
        // Without `create`, nothing is tracked and nothing is refused.
        assert_eq!(ct.track(&c, 0, 0, false), Ok(Verdict::New));
        assert_eq!(ct.len(), 2);
    }
}
