//! The way from the forwarding threads to the link agent: frames of the
//! link protocols (LLDP, and 802.1Qbg's ECP) that arrived on a port the
//! agent runs on. Each port has its own bound, in frames queued and in
//! frames a second, so a peer that floods LLDP or ECP at one port fills
//! and spends that port's budget only: the others' neighbours and
//! associations keep being heard. The forwarding threads never wait on
//! the agent; what does not fit is dropped and counted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use vepa_dataplane::storm::Bucket;
use vepa_dataplane::PortId;

/// A link protocol's frame, as received.
#[derive(Debug, Clone)]
pub struct LinkFrame {
    pub switch: Arc<str>,
    pub port: PortId,
    pub frame: Vec<u8>,
}

/// Frames of one port waiting at most; an agent reads many a second, and a
/// well-behaved peer sends a few.
pub const QUEUE_PER_PORT: usize = 64;
/// Frames a second one port may hand its agent: LLDP is one every few
/// seconds, ECP a request and an ack per VSI change or keep-alive.
pub const RATE_PER_PORT: u32 = 200;
/// Longest frame kept (LLDPDUs and ECP data units fit a standard frame).
pub const MAX_FRAME: usize = 1518;

#[derive(Default)]
struct PortBudget {
    queued: usize,
    bucket: Bucket,
    dropped: u64,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<LinkFrame>,
    ports: HashMap<(Arc<str>, PortId), PortBudget>,
    closed: bool,
}

/// Where link frames wait for the agent.
pub struct LinkInbox {
    inner: Mutex<Inner>,
    ready: Condvar,
    epoch: Instant,
}

/// Shared by the forwarder (writing) and the agent (reading).
pub type LinkSink = Arc<LinkInbox>;

impl Default for LinkInbox {
    fn default() -> Self {
        LinkInbox {
            inner: Mutex::default(),
            ready: Condvar::new(),
            epoch: Instant::now(),
        }
    }
}

impl std::fmt::Debug for LinkInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkInbox").finish_non_exhaustive()
    }
}

impl LinkInbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame for the agent; false if it was dropped (its port's
    /// queue full or rate spent, or longer than [`MAX_FRAME`]). Never
    /// blocks on the reader.
    pub fn push(&self, switch: &Arc<str>, port: PortId, frame: &[u8]) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let mut i = self.lock();
        if i.closed {
            return false;
        }
        let b = i.ports.entry((Arc::clone(switch), port)).or_default();
        if frame.len() > MAX_FRAME
            || b.queued >= QUEUE_PER_PORT
            || !b.bucket.take(RATE_PER_PORT, now)
        {
            b.dropped += 1;
            return false;
        }
        b.queued += 1;
        i.queue.push_back(LinkFrame {
            switch: Arc::clone(switch),
            port,
            frame: frame.to_vec(),
        });
        drop(i);
        self.ready.notify_one();
        true
    }

    /// The next frame; waits up to `timeout`. `None` on timeout or once
    /// closed.
    pub fn pop(&self, timeout: Duration) -> Option<LinkFrame> {
        let deadline = Instant::now() + timeout;
        let mut i = self.lock();
        loop {
            if i.closed {
                return None;
            }
            if let Some(f) = i.queue.pop_front() {
                if let Some(b) = i.ports.get_mut(&(Arc::clone(&f.switch), f.port)) {
                    b.queued = b.queued.saturating_sub(1);
                }
                return Some(f);
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

    /// Frames of a port dropped so far.
    pub fn dropped(&self, switch: &str, port: PortId) -> u64 {
        self.lock()
            .ports
            .iter()
            .find(|((s, p), _)| &**s == switch && *p == port)
            .map_or(0, |(_, b)| b.dropped)
    }

    /// No more frames will be read.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_port_spends_its_own_budget_only() {
        let inbox = LinkInbox::default();
        let s: Arc<str> = Arc::from("s");
        let (noisy, quiet) = (PortId(0), PortId(1));
        let pushed = (0..10_000)
            .filter(|_| inbox.push(&s, noisy, &[0u8; 60]))
            .count();
        assert!(pushed <= QUEUE_PER_PORT, "{pushed} queued");
        assert!(inbox.dropped("s", noisy) >= 10_000 - QUEUE_PER_PORT as u64);
        assert!(inbox.push(&s, quiet, &[1u8; 60]), "the other port is heard");
        assert!(!inbox.push(&s, quiet, &[0u8; MAX_FRAME + 1]), "too long");
        let mut got = Vec::new();
        while let Some(f) = inbox.pop(Duration::from_millis(1)) {
            got.push(f.port);
        }
        assert_eq!(got.len(), pushed + 1);
        assert!(got.contains(&quiet));
        inbox.close();
        assert!(!inbox.push(&s, quiet, &[1u8; 60]));
        assert!(inbox.pop(Duration::from_millis(1)).is_none());
    }
}
