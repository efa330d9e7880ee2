//! The relay probe's state on one uplink (see `vepa_packet::relay_probe`
//! for the frames): when the next one is due, the one in flight, and what
//! the last one saw.
//!
//! A probe runs when the switch needs reflective relay and no EVB peer
//! speaks for the bridge: first a few seconds after the port appears (an
//! 802.1Qbg bridge answers our first LLDPDUs well within that), then once
//! a minute, as a bridge's hairpin can be turned on or off at any time.
//! A probe whose test frame is not back within [`WAIT_MS`] saw no relay.

use vepa_packet::relay_probe::{probe_macs, RelayProbe};

/// After a port appears, how long the agent waits for an EVB peer before
/// probing.
pub const FIRST_MS: u64 = 3_000;
/// Between probes while no EVB peer answers.
pub const EVERY_MS: u64 = 60_000;
/// How long a test frame has to come back.
pub const WAIT_MS: u64 = 800;

#[derive(Debug, Default)]
pub struct Probe {
    next_ms: u64,
    /// The test frame's nonce, and when it was sent.
    in_flight: Option<(u64, u64)>,
    /// The last outcome: reflecting or not, and when the probe started.
    last: Option<(bool, u64)>,
}

impl Probe {
    pub fn new(now_ms: u64) -> Probe {
        Probe {
            next_ms: now_ms + FIRST_MS,
            ..Probe::default()
        }
    }

    /// Whether a scheduled probe is due (none in flight).
    pub fn due(&self, now_ms: u64) -> bool {
        self.in_flight.is_none() && now_ms >= self.next_ms
    }

    /// Starts one now (replacing any in flight); the two frames to send.
    pub fn start(&mut self, switch: &str, now_ms: u64) -> Vec<Vec<u8>> {
        let (a, b) = probe_macs(switch);
        let nonce = unpredictable();
        self.in_flight = Some((nonce, now_ms));
        self.next_ms = now_ms + EVERY_MS;
        vec![
            // The bridge learns B on our port (its nonce proves nothing:
            // a bridge may flood it where others see it).
            RelayProbe {
                seq: 0,
                nonce: unpredictable(),
            }
            .frame(b, a),
            // A known unicast back to our port: only a hairpin returns it.
            RelayProbe { seq: 1, nonce }.frame(a, b),
        ]
    }

    /// A probe frame came back up the uplink. Ours: the bridge reflects.
    /// The teaching frame is expected back from a flooding hairpin bridge
    /// and proves nothing; a test frame that is not ours is an error.
    pub fn returned(&mut self, p: RelayProbe, _now_ms: u64) -> Result<(), String> {
        if p.seq == 0 {
            return Ok(());
        }
        match self.in_flight {
            Some((nonce, started)) if nonce == p.nonce => {
                self.in_flight = None;
                self.last = Some((true, started));
                Ok(())
            }
            _ => Err("not the probe in flight (a late or forged reflection)".into()),
        }
    }

    /// A probe in flight for [`WAIT_MS`] saw no reflection.
    pub fn expire(&mut self, now_ms: u64) {
        if let Some((_, started)) = self.in_flight {
            if now_ms >= started + WAIT_MS {
                self.in_flight = None;
                self.last = Some((false, started));
            }
        }
    }

    /// What the last probe saw.
    pub fn last(&self) -> Option<bool> {
        self.last.map(|(r, _)| r)
    }

    /// The outcome of a probe started at or after `since_ms`, once known.
    pub fn outcome_since(&self, since_ms: u64) -> Option<bool> {
        self.last
            .filter(|(_, started)| *started >= since_ms)
            .map(|(r, _)| r)
    }

    /// As `vepa lldp show` says it.
    pub fn view(&self, now_ms: u64) -> Option<String> {
        if self.in_flight.is_some() {
            return Some("in flight".into());
        }
        self.last.map(|(r, at)| {
            format!(
                "{} ({} s ago)",
                if r { "reflecting" } else { "not reflecting" },
                now_ms.saturating_sub(at) / 1000
            )
        })
    }
}

/// 64 bits an onlooker cannot predict: std's hasher keys are random per
/// process, and each `RandomState` differs.
fn unpredictable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn back(frames: &[Vec<u8>], i: usize) -> RelayProbe {
        RelayProbe::parse(&frames[i][14..]).expect("a probe")
    }

    #[test]
    fn a_reflected_test_frame_means_reflecting_and_silence_means_not() {
        let mut p = Probe::new(0);
        assert!(!p.due(2_999));
        assert!(p.due(3_000));
        let f = p.start("s", 3_000);
        assert_eq!(f.len(), 2);
        assert!(!p.due(3_000), "in flight");
        assert_eq!(p.view(3_100).as_deref(), Some("in flight"));
        // The teaching frame coming back says nothing.
        p.returned(back(&f, 0), 3_010).unwrap();
        assert_eq!(p.last(), None);
        p.returned(back(&f, 1), 3_020).unwrap();
        assert_eq!(p.last(), Some(true));
        assert_eq!(p.outcome_since(3_000), Some(true));
        assert_eq!(p.outcome_since(3_001), None);
        // A second copy, or a forged one, is not ours.
        assert!(p.returned(back(&f, 1), 3_030).is_err());
        assert!(!p.due(62_999));
        assert!(p.due(63_000), "again a minute later");
        let _ = p.start("s", 63_000);
        p.expire(63_000 + WAIT_MS - 1);
        assert_eq!(p.last(), Some(true), "still waiting");
        p.expire(63_000 + WAIT_MS);
        assert_eq!(p.last(), Some(false));
        assert_eq!(p.view(65_000).as_deref(), Some("not reflecting (2 s ago)"));
    }

    #[test]
    fn nonces_differ() {
        let mut p = Probe::new(0);
        let a = back(&p.start("s", 0), 1).nonce;
        let b = back(&p.start("s", 0), 1).nonce;
        assert_ne!(a, b);
    }
}
