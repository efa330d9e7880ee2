//! The way from the forwarding threads to the controllers: a queue of
//! controller copies (PACKET_IN) per switch, each bounded in length and
//! in rate (as Open vSwitch's `controller_rate_limit`), read round-robin
//! by the OpenFlow side. One switch whose flows send everything to its
//! controller fills its own queue and spends its own rate; the others'
//! copies keep going through.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use vepa_dataplane::flow::PacketInReason;
use vepa_dataplane::storm::Bucket;
use vepa_dataplane::PortId;

/// A frame the flow tables sent to the controller.
#[derive(Debug, Clone)]
pub struct PacketIn {
    /// The switch's name.
    pub switch: Arc<str>,
    pub in_port: PortId,
    pub reason: PacketInReason,
    pub table: u8,
    pub cookie: u64,
    pub metadata: u64,
    /// Bytes of the frame the controller asked for (the output action's
    /// `max_len`; 0xffff: all of it).
    pub max_len: u16,
    /// The frame as the flow's actions made it.
    pub frame: Vec<u8>,
}

/// Where controller copies go: a queue per switch, bounded in length and
/// rate, which drops rather than slow forwarding down.
pub type PacketInSink = Arc<PacketInQueues>;

/// Copies one switch's queue holds at most.
pub const QUEUE_PER_SWITCH: usize = 256;
/// Copies a second a switch sends its controllers unless told otherwise.
pub const DEFAULT_RATE: u32 = 1000;

struct SwitchQueue {
    name: Arc<str>,
    rate: u32,
    bucket: Bucket,
    queue: VecDeque<PacketIn>,
    dropped: Arc<AtomicU64>,
}

struct Inner {
    switches: Vec<SwitchQueue>,
    /// Where the round-robin reader takes from next.
    next: usize,
    closed: bool,
}

/// Every switch's controller queue.
pub struct PacketInQueues {
    inner: Mutex<Inner>,
    ready: Condvar,
    epoch: Instant,
}

impl std::fmt::Debug for PacketInQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketInQueues").finish_non_exhaustive()
    }
}

impl Default for PacketInQueues {
    fn default() -> Self {
        PacketInQueues {
            inner: Mutex::new(Inner {
                switches: Vec::new(),
                next: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            epoch: Instant::now(),
        }
    }
}

impl PacketInQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets `switch`'s rate (copies a second), making its queue if new.
    pub fn set_rate(&self, switch: &str, rate: u32) {
        let mut i = self.lock();
        match i.switches.iter_mut().find(|q| &*q.name == switch) {
            Some(q) => q.rate = rate,
            None => i.switches.push(SwitchQueue {
                name: Arc::from(switch),
                rate,
                bucket: Bucket::default(),
                queue: VecDeque::new(),
                dropped: Arc::default(),
            }),
        }
    }

    /// Copies of `switch` dropped so far (over its rate, or its queue full).
    pub fn dropped(&self, switch: &str) -> u64 {
        self.lock()
            .switches
            .iter()
            .find(|q| &*q.name == switch)
            .map_or(0, |q| q.dropped.load(Ordering::Relaxed))
    }

    /// Queues a copy for its switch's controllers; false if it was dropped
    /// (over the switch's rate, or its queue full). Never blocks on a reader.
    pub fn push(&self, p: PacketIn) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let mut i = self.lock();
        let at = match i.switches.iter().position(|q| q.name == p.switch) {
            Some(at) => at,
            None => {
                i.switches.push(SwitchQueue {
                    name: Arc::clone(&p.switch),
                    rate: DEFAULT_RATE,
                    bucket: Bucket::default(),
                    queue: VecDeque::new(),
                    dropped: Arc::default(),
                });
                i.switches.len() - 1
            }
        };
        let q = &mut i.switches[at];
        if q.queue.len() >= QUEUE_PER_SWITCH || !q.bucket.take(q.rate, now) {
            q.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        q.queue.push_back(p);
        drop(i);
        self.ready.notify_one();
        true
    }

    /// The next copy, taking from each switch in turn; waits up to
    /// `timeout` for one. `None` on timeout or once closed and empty.
    pub fn pop(&self, timeout: Duration) -> Option<PacketIn> {
        let deadline = Instant::now() + timeout;
        let mut i = self.lock();
        loop {
            let n = i.switches.len();
            for k in 0..n {
                let at = (i.next + k) % n;
                if let Some(p) = i.switches[at].queue.pop_front() {
                    i.next = (at + 1) % n;
                    return Some(p);
                }
            }
            if i.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            i = self
                .ready
                .wait_timeout(i, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// No more copies will be read: readers end once the queues are empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(switch: &Arc<str>, n: u8) -> PacketIn {
        PacketIn {
            switch: Arc::clone(switch),
            in_port: PortId(0),
            reason: PacketInReason::Action,
            table: 0,
            cookie: 0,
            metadata: 0,
            max_len: 0xffff,
            frame: vec![n; 60],
        }
    }

    #[test]
    fn a_flooding_switch_fills_its_own_queue_and_rate_only() {
        let q = PacketInQueues::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        q.set_rate("a", 100_000);
        let pushed = (0..10_000).filter(|_| q.push(copy(&a, 1))).count();
        assert_eq!(pushed, QUEUE_PER_SWITCH, "a's queue is bounded");
        assert!(q.push(copy(&b, 2)), "b's copy still gets in");
        // Read round-robin: b's comes second, not after a's 256.
        let first = q.pop(Duration::ZERO).map(|p| p.switch);
        let second = q.pop(Duration::ZERO).map(|p| p.switch);
        assert_eq!(
            (first.as_deref(), second.as_deref()),
            (Some("a"), Some("b"))
        );
        assert_eq!(q.dropped("a"), 10_000 - QUEUE_PER_SWITCH as u64);
        assert_eq!(q.dropped("b"), 0);
    }

    #[test]
    fn each_switch_has_a_rate() {
        let q = PacketInQueues::default();
        let a: Arc<str> = Arc::from("a");
        q.set_rate("a", 100);
        // A tenth of a second's burst (10) and then nothing this instant.
        let pushed = (0..1000).filter(|_| q.push(copy(&a, 1))).count();
        assert!((10..=11).contains(&pushed), "{pushed}");
        q.close();
        let mut read = 0;
        while q.pop(Duration::from_millis(10)).is_some() {
            read += 1;
        }
        assert_eq!(read, pushed);
    }
}
