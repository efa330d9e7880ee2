//! ECP (IEEE 802.1Qbg clause 43) on one port: the acknowledged transport
//! under VDP. Transmit is stop-and-wait: one data unit in flight, sent
//! again after the ACK timer (10 µs × 2^RTE) up to R times, then given up;
//! the next waits at least [`GAP_MS`] after the last (lldpad reads VDP
//! from a single buffer 2 ms after ECP hands it over, so two requests
//! closer than that lose one). Receive ACKs every request and hands the
//! payload up unless it repeats the previous sequence number.
//!
//! Pure: payloads and the clock go in, data units to send come out.

use std::collections::VecDeque;
use vepa_packet::ecp::{EcpHeader, EcpOp, ULP_VDP};

/// Least time between two requests (ms).
pub const GAP_MS: u64 = 10;
/// Payloads one port may have waiting; more are refused (a VM churning
/// ports cannot grow the queue without bound).
pub const QUEUE: usize = 256;

/// 10 µs × 2^exp, in whole milliseconds (at least 1): 802.1Qbg's timer unit.
pub fn exp_ms(exp: u8) -> u64 {
    ((10u64 << exp.min(31)) / 1000).max(1)
}

#[derive(Debug)]
struct InFlight {
    seq: u16,
    payload: Vec<u8>,
    sends: u8,
    resend_ms: u64,
}

/// One port's ECP, with its counters.
#[derive(Debug, Default)]
pub struct Ecp {
    queue: VecDeque<Vec<u8>>,
    in_flight: Option<InFlight>,
    last_seq: u16,
    /// The sequence number of the last request received (duplicates).
    last_rx: Option<u16>,
    not_before_ms: u64,
    pub tx: u64,
    pub retransmits: u64,
    pub acked: u64,
    pub gave_up: u64,
    pub rx: u64,
    pub duplicates: u64,
}

/// What a received data unit asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Received<'a> {
    /// An ACK to send back.
    pub ack: Option<EcpHeader>,
    /// A VDP payload to hand to VDP.
    pub deliver: Option<&'a [u8]>,
}

impl Ecp {
    /// Queues a VDP payload; false when the queue is full.
    pub fn send(&mut self, payload: Vec<u8>) -> bool {
        if self.queue.len() >= QUEUE {
            return false;
        }
        self.queue.push_back(payload);
        true
    }

    /// When `poll` next has something to do (ms), if ever.
    pub fn next_ms(&self) -> Option<u64> {
        match &self.in_flight {
            Some(f) => Some(f.resend_ms),
            None if !self.queue.is_empty() => Some(self.not_before_ms),
            None => None,
        }
    }

    /// The request to put on the wire now, if any: a retransmission when
    /// the ACK timer ran out, else the next payload once the gap allows.
    /// `retries` (R) and `rte` are the negotiated values.
    pub fn poll(&mut self, now_ms: u64, retries: u8, rte: u8) -> Option<(EcpHeader, Vec<u8>)> {
        let timer = exp_ms(rte);
        if let Some(f) = &mut self.in_flight {
            if now_ms < f.resend_ms {
                return None;
            }
            if f.sends > retries {
                self.gave_up += 1;
                self.in_flight = None;
                self.not_before_ms = now_ms;
            } else {
                f.sends += 1;
                f.resend_ms = now_ms + timer;
                self.retransmits += 1;
                self.tx += 1;
                return Some((request(f.seq), f.payload.clone()));
            }
        }
        if now_ms < self.not_before_ms {
            return None;
        }
        let payload = self.queue.pop_front()?;
        // Sequence numbers start at 1 and skip 0 on wrap, as lldpad's do.
        self.last_seq = self.last_seq.wrapping_add(1).max(1);
        self.in_flight = Some(InFlight {
            seq: self.last_seq,
            payload: payload.clone(),
            sends: 1,
            resend_ms: now_ms + timer,
        });
        self.tx += 1;
        Some((request(self.last_seq), payload))
    }

    /// A data unit from the peer (its header parsed, `payload` after it).
    pub fn receive<'a>(&mut self, h: EcpHeader, payload: &'a [u8], now_ms: u64) -> Received<'a> {
        let none = Received {
            ack: None,
            deliver: None,
        };
        if h.subtype != ULP_VDP {
            return none;
        }
        match h.op {
            EcpOp::Ack => {
                if self.in_flight.as_ref().is_some_and(|f| f.seq == h.seq) {
                    self.in_flight = None;
                    self.acked += 1;
                    self.not_before_ms = now_ms + GAP_MS;
                }
                none
            }
            EcpOp::Request => {
                self.rx += 1;
                let repeat = self.last_rx == Some(h.seq);
                if repeat {
                    self.duplicates += 1;
                }
                self.last_rx = Some(h.seq);
                Received {
                    ack: Some(EcpHeader {
                        op: EcpOp::Ack,
                        ..h
                    }),
                    deliver: (!repeat).then_some(payload),
                }
            }
            EcpOp::Other(_) => none,
        }
    }
}

fn request(seq: u16) -> EcpHeader {
    EcpHeader {
        op: EcpOp::Request,
        subtype: ULP_VDP,
        seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_and_wait_with_retransmission_and_a_gap() {
        let mut e = Ecp::default();
        assert_eq!(exp_ms(8), 2);
        assert_eq!(exp_ms(14), 163);
        assert_eq!(exp_ms(20), 10_485);
        assert!(e.send(vec![1]) && e.send(vec![2]));
        let (h, p) = e.poll(0, 3, 14).expect("the first goes at once");
        assert_eq!((h.seq, h.op, p), (1, EcpOp::Request, vec![1]));
        assert!(e.poll(100, 3, 14).is_none(), "one in flight");
        // No ACK: sent again after 163 ms, three times, then given up.
        for (i, at) in [163, 326, 489].into_iter().enumerate() {
            let (h, _) = e.poll(at, 3, 14).expect("retransmitted");
            assert_eq!(h.seq, 1, "retry {i} keeps the seq");
        }
        assert_eq!(
            e.poll(652, 3, 14).map(|(h, p)| (h.seq, p)),
            Some((2, vec![2]))
        );
        assert_eq!((e.retransmits, e.gave_up), (3, 1));
        // Its ACK: the next payload waits GAP_MS.
        e.receive(
            EcpHeader {
                op: EcpOp::Ack,
                subtype: ULP_VDP,
                seq: 2,
            },
            &[],
            660,
        );
        assert_eq!(e.next_ms(), None, "nothing waits");
        assert!(e.send(vec![3]));
        assert!(e.poll(660 + GAP_MS - 1, 3, 14).is_none());
        assert_eq!(e.poll(660 + GAP_MS, 3, 14).map(|(h, _)| h.seq), Some(3));
        assert_eq!(e.acked, 1);
    }

    #[test]
    fn requests_are_acked_and_repeats_not_delivered() {
        let mut e = Ecp::default();
        let req = |seq| EcpHeader {
            op: EcpOp::Request,
            subtype: ULP_VDP,
            seq,
        };
        let r = e.receive(req(7), &[9], 0);
        assert_eq!(r.ack.map(|a| (a.op, a.seq)), Some((EcpOp::Ack, 7)));
        assert_eq!(r.deliver, Some(&[9][..]));
        let again = e.receive(req(7), &[9], 1);
        assert!(again.ack.is_some() && again.deliver.is_none());
        assert_eq!(e.duplicates, 1);
        // PE-CSP and unknown operations: nothing.
        let other = e.receive(
            EcpHeader {
                subtype: 2,
                ..req(8)
            },
            &[],
            2,
        );
        assert_eq!(
            other,
            Received {
                ack: None,
                deliver: None
            }
        );
    }

    #[test]
    fn the_queue_is_bounded_and_seqs_skip_zero() {
        let mut e = Ecp {
            last_seq: u16::MAX,
            ..Ecp::default()
        };
        for i in 0..QUEUE {
            assert!(e.send(vec![i as u8]));
        }
        assert!(!e.send(vec![0]), "full");
        assert_eq!(e.poll(0, 0, 0).map(|(h, _)| h.seq), Some(1));
    }
}
