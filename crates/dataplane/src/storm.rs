//! Storm control and reserved group addresses: what keeps one port's
//! floods from becoming everyone's problem.
//!
//! Each port may bound the broadcast, multicast and unknown-unicast frames
//! it sends into the switch, in frames per second, with a token bucket per
//! kind (a tenth of a second's worth of burst). The buckets are the
//! switch's, shared by every forwarding thread, and lock-free: a port is
//! received by one thread, so the compare-and-swap almost never retries.
//!
//! Frames to the IEEE 802.1D reserved addresses 01:80:C2:00:00:00–0F
//! (STP, pause, LACP, 802.1X, LLDP, ...) are for the link, never to be
//! bridged; like the Linux bridge's `group_fwd_mask`, a switch forwards
//! only the ones its mask names, and never STP, pause or LACP.
//!
//! A port with a BPDU guard that sends a spanning-tree BPDU is blocked
//! for a while, everything it sends dropped: a VM bridging two of its
//! interfaces would otherwise loop the switch's floods through itself.

use std::sync::atomic::{AtomicU64, Ordering};
use vepa_packet::MacAddr;

/// A port's flood limits in frames per second (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StormLimits {
    pub broadcast: Option<u32>,
    pub multicast: Option<u32>,
    pub unknown_unicast: Option<u32>,
}

impl StormLimits {
    /// A VM or container port's default: generous for ARP, ND, DHCP and
    /// mDNS, and for multicast streams, yet a small share of a core.
    pub const VM_DEFAULT: StormLimits = StormLimits {
        broadcast: Some(1_000),
        multicast: Some(10_000),
        unknown_unicast: Some(10_000),
    };

    pub fn is_unlimited(&self) -> bool {
        self.broadcast.is_none() && self.multicast.is_none() && self.unknown_unicast.is_none()
    }
}

/// How long a port's BPDU guard keeps it blocked (Cisco's errdisable
/// recovery default); a BPDU while blocked starts it again.
pub const BPDU_GUARD_MS: u64 = 300_000;

/// The reserved group addresses' bits that can never be set in a mask:
/// STP (…00), MAC pause (…01) and LACP (…02), as the Linux bridge's
/// `BR_GROUPFWD_RESTRICTED`.
pub const GROUP_FWD_RESTRICTED: u16 = 0x0007;

/// Whether `dst` is one of 01:80:C2:00:00:00–0F; if so, its last byte.
pub fn reserved_group(dst: MacAddr) -> Option<u8> {
    let d = dst.0;
    (d[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && d[5] <= 0x0f).then_some(d[5])
}

/// Whether a frame belongs to a link protocol vepa's agent speaks, never
/// to be bridged: LLDP (to any address), or 802.1Qbg's ECP to one of the
/// reserved group addresses (where a station and its bridge send it).
pub fn is_link_protocol(frame: &crate::parsed::Parsed<'_>) -> bool {
    match frame.ethertype() {
        vepa_packet::lldp::LLDP_ETHERTYPE => true,
        vepa_packet::ecp::ECP_ETHERTYPE => reserved_group(frame.dst()).is_some(),
        _ => false,
    }
}

/// Whether a frame is vepa's reflective-relay probe
/// (`vepa_packet::relay_probe`): for the link agent when it comes back up
/// an uplink; bridged like any frame elsewhere (a relay port reflects
/// another host's probe).
pub fn is_relay_probe(frame: &crate::parsed::Parsed<'_>) -> bool {
    vepa_packet::relay_probe::RelayProbe::is_probe(frame.ethertype(), frame.payload())
}

/// The kinds of flood a port's limits bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    Broadcast,
    Multicast,
    UnknownUnicast,
}

/// One port's buckets, one per kind.
#[derive(Debug, Default, Clone)]
pub(crate) struct PortBuckets {
    broadcast: Bucket,
    multicast: Bucket,
    unknown_unicast: Bucket,
}

impl PortBuckets {
    /// Whether a frame of kind `kind` may pass under `limits` at `now_ms`
    /// (taking a token when it may).
    pub(crate) fn admit(&self, limits: &StormLimits, kind: Flood, now_ms: u64) -> bool {
        let (rate, bucket) = match kind {
            Flood::Broadcast => (limits.broadcast, &self.broadcast),
            Flood::Multicast => (limits.multicast, &self.multicast),
            Flood::UnknownUnicast => (limits.unknown_unicast, &self.unknown_unicast),
        };
        match rate {
            None => true,
            Some(rate) => bucket.take(rate, now_ms),
        }
    }
}

/// A token bucket in thousandths of a frame, refilled by the millisecond;
/// lock-free, so any thread may take from it.
#[derive(Debug)]
pub struct Bucket {
    /// The last refill (ms).
    stamp: AtomicU64,
    /// Starts "full" whatever the rate: the first take clamps it.
    tokens: AtomicU64,
}

impl Clone for Bucket {
    /// A bucket holding what this one holds now.
    fn clone(&self) -> Bucket {
        Bucket {
            stamp: AtomicU64::new(self.stamp.load(Ordering::Relaxed)),
            tokens: AtomicU64::new(self.tokens.load(Ordering::Relaxed)),
        }
    }
}

impl Default for Bucket {
    fn default() -> Bucket {
        Bucket {
            stamp: AtomicU64::new(0),
            tokens: AtomicU64::new(u64::MAX),
        }
    }
}

const ONE: u64 = 1000;

impl Bucket {
    /// Takes one token at `rate` a second (a tenth of a second's burst, at
    /// least four); false when there is none.
    pub fn take(&self, rate: u32, now_ms: u64) -> bool {
        // A tenth of a second's worth, and at least a few frames.
        let cap = (u64::from(rate) / 10).max(4) * ONE;
        let last = self.stamp.load(Ordering::Relaxed);
        if now_ms > last
            && self
                .stamp
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // `rate` frames a second is `rate` thousandths a millisecond.
            let add = (now_ms - last).saturating_mul(u64::from(rate));
            let _ = self
                .tokens
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                    Some(t.min(cap).saturating_add(add).min(cap))
                });
        }
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.min(cap).checked_sub(ONE)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_passes_its_rate_and_burst_then_refuses() {
        let b = PortBuckets::default();
        let limits = StormLimits {
            broadcast: Some(1000),
            ..StormLimits::default()
        };
        // Full at the start: the burst (100) passes at once.
        let burst = (0..1000)
            .filter(|_| b.admit(&limits, Flood::Broadcast, 5))
            .count();
        assert_eq!(burst, 100);
        // A second later: a second's worth, capped at the burst again.
        let later = (0..1000)
            .filter(|_| b.admit(&limits, Flood::Broadcast, 1005))
            .count();
        assert_eq!(later, 100);
        // Over ten seconds at 10 frames a millisecond offered: 1000 a second.
        let mut passed = 0;
        for ms in 2000..12_000 {
            passed += (0..10)
                .filter(|_| b.admit(&limits, Flood::Broadcast, ms))
                .count();
        }
        assert!((9_900..=10_110).contains(&passed), "{passed}");
        // Other kinds are unlimited here.
        assert!((0..10_000).all(|_| b.admit(&limits, Flood::Multicast, 12_000)));
    }

    #[test]
    fn slow_rates_refill_in_fractions() {
        let b = PortBuckets::default();
        let limits = StormLimits {
            multicast: Some(10),
            ..StormLimits::default()
        };
        let first = (0..100)
            .filter(|_| b.admit(&limits, Flood::Multicast, 1))
            .count();
        assert_eq!(first, 4, "the smallest burst");
        // 10 a second: one per 100 ms.
        let mut passed = 0;
        for ms in (2..10_002).step_by(10) {
            passed += usize::from(b.admit(&limits, Flood::Multicast, ms));
        }
        assert!((98..=102).contains(&passed), "{passed}");
    }

    #[test]
    fn reserved_groups_are_the_sixteen_link_addresses() {
        let m = |b: u8| MacAddr([0x01, 0x80, 0xc2, 0, 0, b]);
        assert_eq!(reserved_group(m(0)), Some(0));
        assert_eq!(reserved_group(m(0x0e)), Some(0x0e));
        assert_eq!(reserved_group(m(0x0f)), Some(0x0f));
        assert_eq!(reserved_group(m(0x10)), None);
        assert_eq!(reserved_group(MacAddr::BROADCAST), None);
        assert_eq!(reserved_group(MacAddr([0x01, 0, 0x5e, 0, 0, 1])), None);
    }
}
