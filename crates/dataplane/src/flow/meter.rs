//! Meters: rate limits a flow's packets pass through (OpenFlow 1.3 §5.7),
//! with drop bands.
//!
//! Each band is a token bucket filled at its rate (kbit/s or packets/s)
//! up to its burst size. A packet that finds a band's bucket short is over
//! that band's rate; of the bands it exceeds, the one with the highest rate
//! applies (OpenFlow's rule), and a drop band drops it. The buckets are
//! shared by every forwarding thread behind one small lock per meter; a
//! metered decision is never cached, since it depends on time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What a meter's rates count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterUnit {
    Kbps,
    Pktps,
}

/// A drop band: over `rate`, packets are dropped. `burst` is in kbit or
/// packets; without one (or without the meter's burst flag) the bucket
/// holds one second's worth of the rate, and never less than one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Band {
    pub rate: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Meter {
    pub id: u32,
    pub unit: MeterUnit,
    /// The bands' burst sizes were given (OpenFlow's `OFPMF_BURST`).
    pub burst: bool,
    /// Counters kept (`OFPMF_STATS`); vepa keeps them either way.
    pub stats: bool,
    pub bands: Vec<Band>,
}

/// Largest meter id (`OFPM_MAX`).
pub const METER_MAX: u32 = 0xffff_0000;
/// Meters a switch may hold.
pub const MAX_METERS: usize = 4096;
/// Bands one meter may have.
pub const MAX_BANDS: usize = 8;

/// A meter's buckets and counters.
#[derive(Debug)]
pub struct MeterState {
    /// Per band: tokens in thousandths of a bit or of a packet, and when
    /// they were last filled (ms).
    buckets: Mutex<Vec<(u64, u64)>>,
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    /// Per band: packets and bytes it dropped.
    pub band_packets: Vec<AtomicU64>,
    pub band_bytes: Vec<AtomicU64>,
    /// When it was added (switch clock, ms).
    pub installed_ms: u64,
}

impl Meter {
    /// A band's bucket size, in thousandths of its unit.
    fn depth(&self, b: &Band) -> u64 {
        let size = if self.burst && b.burst > 0 {
            b.burst as u64
        } else {
            b.rate as u64
        };
        let floor = match self.unit {
            // One full-size frame, in kbit.
            MeterUnit::Kbps => 13,
            MeterUnit::Pktps => 1,
        };
        size.max(floor) * 1000
    }

    pub fn new_state(&self, now_ms: u64) -> MeterState {
        MeterState {
            buckets: Mutex::new(self.bands.iter().map(|b| (self.depth(b), now_ms)).collect()),
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            band_packets: self.bands.iter().map(|_| AtomicU64::new(0)).collect(),
            band_bytes: self.bands.iter().map(|_| AtomicU64::new(0)).collect(),
            installed_ms: now_ms,
        }
    }

    /// Whether a packet of `bytes` at `now_ms` passes; counts it.
    pub fn admit(&self, st: &MeterState, bytes: usize, now_ms: u64) -> bool {
        st.packets_in.fetch_add(1, Ordering::Relaxed);
        st.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        let cost = match self.unit {
            // Bits, in thousandths of a kbit: bits × 1000 / 1000.
            MeterUnit::Kbps => bytes as u64 * 8,
            MeterUnit::Pktps => 1000,
        };
        let mut buckets = st.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut applied: Option<usize> = None;
        for (i, b) in self.bands.iter().enumerate() {
            let Some((tokens, last)) = buckets.get_mut(i) else {
                continue;
            };
            let elapsed = now_ms.saturating_sub(*last);
            // rate per second × elapsed ms = thousandths of the unit.
            *tokens = tokens
                .saturating_add((b.rate as u64).saturating_mul(elapsed))
                .min(self.depth(b));
            *last = now_ms.max(*last);
            if *tokens < cost && applied.is_none_or(|a| self.bands[a].rate < b.rate) {
                applied = Some(i);
            }
        }
        match applied {
            Some(i) => {
                if let (Some(p), Some(y)) = (st.band_packets.get(i), st.band_bytes.get(i)) {
                    p.fetch_add(1, Ordering::Relaxed);
                    y.fetch_add(bytes as u64, Ordering::Relaxed);
                }
                false
            }
            None => {
                for (t, _) in buckets.iter_mut() {
                    *t -= cost;
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_rate_band_passes_its_rate_and_drops_the_rest() {
        let m = Meter {
            id: 1,
            unit: MeterUnit::Pktps,
            burst: true,
            stats: true,
            bands: vec![Band {
                rate: 100,
                burst: 10,
            }],
        };
        let st = m.new_state(0);
        // A burst of 50 at once: the bucket holds 10.
        let passed = (0..50).filter(|_| m.admit(&st, 64, 0)).count();
        assert_eq!(passed, 10);
        // One second later, 100 more tokens, capped at the burst of 10.
        let passed = (0..50).filter(|_| m.admit(&st, 64, 1000)).count();
        assert_eq!(passed, 10);
        // Steady 100/s over 2 s: one packet every 10 ms all passes.
        let passed = (1..=200)
            .filter(|i| m.admit(&st, 64, 1000 + i * 10))
            .count();
        assert_eq!(passed, 200);
        assert_eq!(st.band_packets[0].load(Ordering::Relaxed), 80);
    }

    #[test]
    fn a_kbps_band_counts_bits() {
        let m = Meter {
            id: 2,
            unit: MeterUnit::Kbps,
            burst: false,
            stats: true,
            bands: vec![Band {
                rate: 1000,
                burst: 0,
            }],
        };
        let st = m.new_state(0);
        // 1 Mbit/s, bucket one second deep: 125 kB at once, then nothing.
        let passed = (0..200).filter(|_| m.admit(&st, 1000, 0)).count();
        assert_eq!(passed, 125);
    }
}
