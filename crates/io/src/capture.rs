//! Copies of the frames a port sends and receives, for `vepa capture`.
//!
//! A [`CapturePoint`] sits on every port. While nobody listens it costs the
//! forwarding path one relaxed load per batch; a listener gets copies
//! through a bounded queue, and when the queue is full the copy is dropped
//! and counted rather than slowing forwarding down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::SystemTime;

/// Which way a captured frame went through the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the port's device.
    In,
    /// Sent to the port's device.
    Out,
}

/// A captured frame keeps at most this many bytes (pcap's snap length):
/// a listener's queue then holds at most `depth` × 16 KiB, GSO super-frames
/// or not.
pub const SNAPLEN: usize = 16384;

#[derive(Debug, Clone)]
pub struct CapturedFrame {
    pub at: SystemTime,
    pub direction: Direction,
    /// The first [`SNAPLEN`] bytes.
    pub frame: Vec<u8>,
    /// The frame's whole length.
    pub len: usize,
}

#[derive(Debug, Default)]
pub struct CapturePoint {
    active: AtomicBool,
    sinks: Mutex<Vec<SyncSender<CapturedFrame>>>,
    /// Copies a full listener queue could not take.
    dropped: AtomicU64,
}

impl CapturePoint {
    /// Starts a listener with room for `depth` frames not yet read.
    pub fn subscribe(&self, depth: usize) -> Receiver<CapturedFrame> {
        let (tx, rx) = sync_channel(depth.max(1));
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks.push(tx);
        self.active.store(true, Ordering::Relaxed);
        rx
    }

    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hands a copy of `frame` to every listener; forgets listeners that left.
    pub fn deliver(&self, direction: Direction, frame: &[u8]) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let at = SystemTime::now();
        sinks.retain(|s| {
            match s.try_send(CapturedFrame {
                at,
                direction,
                frame: frame[..frame.len().min(SNAPLEN)].to_vec(),
                len: frame.len(),
            }) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
        if sinks.is_empty() {
            self.active.store(false, Ordering::Relaxed);
        }
    }
}

/// The pcap file header (microsecond timestamps, Ethernet frames).
pub fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&(SNAPLEN as u32).to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    h
}

/// One pcap record: its header, then the frame.
pub fn pcap_record(f: &CapturedFrame, out: &mut Vec<u8>) {
    let since =
        f.at.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
    out.extend_from_slice(&(since.as_secs() as u32).to_le_bytes());
    out.extend_from_slice(&since.subsec_micros().to_le_bytes());
    out.extend_from_slice(&(f.frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(f.len as u32).to_le_bytes());
    out.extend_from_slice(&f.frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_get_copies_and_leaving_turns_it_off() {
        let p = CapturePoint::default();
        assert!(!p.is_active());
        let rx = p.subscribe(1);
        assert!(p.is_active());
        p.deliver(Direction::In, &[1, 2, 3]);
        p.deliver(Direction::Out, &[4]);
        assert_eq!(p.dropped(), 1);
        let got = rx.try_recv().unwrap();
        assert_eq!((got.direction, got.frame), (Direction::In, vec![1, 2, 3]));
        let rx2 = p.subscribe(1);
        p.deliver(Direction::In, &vec![7; SNAPLEN + 100]);
        let big = rx2.try_recv().unwrap();
        assert_eq!((big.frame.len(), big.len), (SNAPLEN, SNAPLEN + 100));
        drop(rx);
        drop(rx2);
        p.deliver(Direction::In, &[5]);
        assert!(!p.is_active());
    }

    #[test]
    fn pcap_layout() {
        let h = pcap_header();
        assert_eq!(&h[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(h[20], 1);
        let f = CapturedFrame {
            at: std::time::UNIX_EPOCH + std::time::Duration::from_micros(3_000_007),
            direction: Direction::In,
            frame: vec![9; 60],
            len: 60,
        };
        let mut out = Vec::new();
        pcap_record(&f, &mut out);
        assert_eq!(out.len(), 16 + 60);
        assert_eq!(&out[..12], &[3, 0, 0, 0, 7, 0, 0, 0, 60, 0, 0, 0]);
    }
}
