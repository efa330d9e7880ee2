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
use vepa_dataplane::DropReason;

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
    /// The listener's number for the port (its pcapng interface).
    pub interface: u32,
    /// Why the switch dropped it, for a frame captured as a drop.
    pub drop: Option<DropReason>,
}

#[derive(Debug)]
struct Listener {
    tx: SyncSender<CapturedFrame>,
    interface: u32,
    /// Also wants the frames the switch drops on entering this port.
    drops: bool,
}

#[derive(Debug, Default)]
pub struct CapturePoint {
    active: AtomicBool,
    drops_wanted: AtomicBool,
    sinks: Mutex<Vec<Listener>>,
    /// Copies a full listener queue could not take.
    dropped: AtomicU64,
}

impl CapturePoint {
    /// Starts a listener with room for `depth` frames not yet read.
    pub fn subscribe(&self, depth: usize) -> Receiver<CapturedFrame> {
        let (tx, rx) = sync_channel(depth.max(1));
        self.attach(tx, 0, false);
        rx
    }

    /// Adds a listener whose queue may be shared with other ports'
    /// (`interface` tells its frames apart); with `drops`, it also gets
    /// the frames the switch drops as they enter this port.
    pub fn attach(&self, tx: SyncSender<CapturedFrame>, interface: u32, drops: bool) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks.push(Listener {
            tx,
            interface,
            drops,
        });
        self.update(&sinks);
    }

    fn update(&self, sinks: &[Listener]) {
        self.active.store(!sinks.is_empty(), Ordering::Relaxed);
        self.drops_wanted
            .store(sinks.iter().any(|l| l.drops), Ordering::Relaxed);
    }

    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether a listener wants this port's dropped frames.
    #[inline]
    pub fn wants_drops(&self) -> bool {
        self.drops_wanted.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hands a copy of `frame` to every listener; forgets listeners that left.
    pub fn deliver(&self, direction: Direction, frame: &[u8]) {
        self.hand(direction, frame, None);
    }

    /// Hands a frame the switch dropped with `reason` to the listeners
    /// that want drops.
    pub fn deliver_drop(&self, reason: DropReason, frame: &[u8]) {
        self.hand(Direction::In, frame, Some(reason));
    }

    fn hand(&self, direction: Direction, frame: &[u8], drop: Option<DropReason>) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let at = SystemTime::now();
        let before = sinks.len();
        sinks.retain(|l| {
            if drop.is_some() && !l.drops {
                return true;
            }
            match l.tx.try_send(CapturedFrame {
                at,
                direction,
                frame: frame[..frame.len().min(SNAPLEN)].to_vec(),
                len: frame.len(),
                interface: l.interface,
                drop,
            }) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
        if sinks.len() != before {
            self.update(&sinks);
        }
    }
}

/// A pcapng section header block (little-endian, version 1.0, length
/// unknown): what a pcapng stream starts with.
pub fn pcapng_section() -> Vec<u8> {
    let mut b = Vec::with_capacity(28);
    b.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    b
}

/// A pcapng interface description block: Ethernet, [`SNAPLEN`], named
/// `name` (`if_name`), microsecond timestamps (the default).
pub fn pcapng_interface(name: &str, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(SNAPLEN as u32).to_le_bytes());
    option(&mut body, 2, name.as_bytes()); // if_name
    end_options(&mut body);
    block(1, &body, out);
}

/// A pcapng enhanced packet block: the frame on interface
/// `f.interface`, its direction in `epb_flags`, and `comment` (a drop's
/// reason) as `opt_comment`.
pub fn pcapng_packet(f: &CapturedFrame, comment: Option<&str>, out: &mut Vec<u8>) {
    let since =
        f.at.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
    let micros = since.as_micros() as u64;
    let mut body = Vec::with_capacity(f.frame.len() + 64);
    body.extend_from_slice(&f.interface.to_le_bytes());
    body.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(micros as u32).to_le_bytes());
    body.extend_from_slice(&(f.frame.len() as u32).to_le_bytes());
    body.extend_from_slice(&(f.len as u32).to_le_bytes());
    body.extend_from_slice(&f.frame);
    pad(&mut body);
    // epb_flags bits 0-1: 01 inbound, 10 outbound.
    let flags: u32 = match f.direction {
        Direction::In => 1,
        Direction::Out => 2,
    };
    option(&mut body, 2, &flags.to_le_bytes());
    if let Some(c) = comment {
        option(&mut body, 1, c.as_bytes());
    }
    end_options(&mut body);
    block(6, &body, out);
}

fn pad(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

fn option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = &value[..value.len().min(u16::MAX as usize - 3)];
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&(value.len() as u16).to_le_bytes());
    b.extend_from_slice(value);
    pad(b);
}

fn end_options(b: &mut Vec<u8>) {
    b.extend_from_slice(&[0, 0, 0, 0]);
}

fn block(kind: u32, body: &[u8], out: &mut Vec<u8>) {
    let total = (body.len() + 12) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
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
            interface: 0,
            drop: None,
        };
        let mut out = Vec::new();
        pcap_record(&f, &mut out);
        assert_eq!(out.len(), 16 + 60);
        assert_eq!(&out[..12], &[3, 0, 0, 0, 7, 0, 0, 0, 60, 0, 0, 0]);
    }

    #[test]
    fn pcapng_blocks_are_whole_padded_and_carry_flags_and_comments() {
        let shb = pcapng_section();
        assert_eq!(shb.len(), 28);
        let mut idb = Vec::new();
        pcapng_interface("s1/vm1", &mut idb);
        // 8 header + 8 fields + (4 + 8 name) + 4 end + 4 trailer.
        assert_eq!(idb.len(), 36);
        assert_eq!(&idb[4..8], &36u32.to_le_bytes());
        let f = CapturedFrame {
            at: std::time::UNIX_EPOCH + std::time::Duration::from_micros((1 << 32) + 5),
            direction: Direction::Out,
            frame: vec![9; 61],
            len: 61,
            interface: 3,
            drop: None,
        };
        let mut epb = Vec::new();
        pcapng_packet(&f, Some("dropped: acl"), &mut epb);
        assert_eq!(epb.len() % 4, 0);
        let n = epb.len();
        assert_eq!(&epb[4..8], &epb[n - 4..]);
        assert_eq!(&epb[8..20], &[3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0]);
        // The frame padded to 64, then epb_flags = outbound.
        let opts = 8 + 20 + 64;
        assert_eq!(&epb[opts..opts + 8], &[2, 0, 4, 0, 2, 0, 0, 0]);
        assert_eq!(&epb[opts + 8..opts + 10], &[1, 0]);
    }
}
