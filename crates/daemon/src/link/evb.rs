//! 802.1Qbg's EVB TLV, station side: what an uplink tells the adjacent
//! bridge, and what the bridge's answer means for reflective relay.
//!
//! The station asks for reflective relay (RRREQ) when its switch has `vepa`
//! or `private` ports, and reports what it last heard (RRSTAT: unknown until
//! a bridge answers, then on or off as the bridge's RRCTR says). The
//! timers (ECP retries R and RTE, VDP's RWD and RKA) are negotiated as
//! lldpad does: each side uses the larger of the two values, and ROL says
//! the value came from the remote side.

use vepa_packet::lldp::{EvbMode, EvbTlv, RrStatus};

/// ECP retransmissions, and the exponents of ECP's retransmission timer
/// and VDP's resource-wait and keep-alive timers (10 µs × 2^x): lldpad's
/// defaults.
pub const LOCAL_R: u8 = 3;
pub const LOCAL_RTE: u8 = 8;
pub const LOCAL_RWD: u8 = 20;
pub const LOCAL_RKA: u8 = 20;

/// The larger of the local value and the peer's, and whether it is the
/// peer's (ROL; equal counts as the peer's, as lldpad does).
fn pick(local: u8, remote: Option<u8>) -> (u8, bool) {
    match remote {
        Some(r) if r >= local => (r, true),
        _ => (local, false),
    }
}

/// An EVB TLV in `mode` with the timers negotiated against `peer`'s and
/// every status bit clear: the part both roles share.
fn negotiated(mode: EvbMode, peer: Option<&EvbTlv>) -> EvbTlv {
    let remote = |f: fn(&EvbTlv) -> u8| peer.map(f);
    let (rwd, rwd_remote) = pick(LOCAL_RWD, remote(|p| p.rwd));
    let (rka, rka_remote) = pick(LOCAL_RKA, remote(|p| p.rka));
    EvbTlv {
        bgid: false,
        rrcap: false,
        rrctr: false,
        sgid: false,
        rrreq: false,
        rrstat: RrStatus::Off,
        retries: pick(LOCAL_R, remote(|p| p.retries)).0,
        rte: pick(LOCAL_RTE, remote(|p| p.rte)).0,
        mode,
        rwd_remote,
        rwd,
        rka_remote,
        rka,
    }
}

/// A relay port's EVB TLV, given the station's last one: capable of
/// reflective relay, and reporting it on (RRCTR) once the station asks, as
/// the port reflects whatever it is asked. The station's status is echoed.
pub fn bridge(station: Option<&EvbTlv>) -> EvbTlv {
    EvbTlv {
        rrcap: true,
        rrctr: station.is_some_and(|s| s.rrreq),
        sgid: station.is_some_and(|s| s.sgid),
        rrreq: station.is_some_and(|s| s.rrreq),
        rrstat: station.map_or(RrStatus::Off, |s| s.rrstat),
        ..negotiated(EvbMode::Bridge, station)
    }
}

/// The station's EVB TLV, given the bridge's last one.
pub fn station(rr_request: bool, bridge: Option<&EvbTlv>) -> EvbTlv {
    EvbTlv {
        // The bridge's status, echoed as it last sent it.
        bgid: bridge.is_some_and(|b| b.bgid),
        rrcap: bridge.is_some_and(|b| b.rrcap),
        rrctr: bridge.is_some_and(|b| b.rrctr),
        rrreq: rr_request,
        rrstat: match bridge {
            None => RrStatus::Unknown,
            Some(b) if b.rrctr => RrStatus::On,
            Some(_) => RrStatus::Off,
        },
        ..negotiated(EvbMode::Station, bridge)
    }
}

/// Reflective relay on an uplink with no EVB peer, as the probe saw it.
pub fn probed_state(reflecting: bool) -> &'static str {
    if reflecting {
        "reflecting (probe; no EVB peer)"
    } else {
        "not reflecting (probe; no EVB peer)"
    }
}

/// Whether an uplink's relay state says the bridge reflects.
pub fn reflects(state: &str) -> bool {
    state == "granted" || state.starts_with("reflecting")
}

/// Reflective relay on a relay port: always on (`relay = true`), or as the
/// station asks (`relay = "evb"`).
pub fn relay_port_state(on_request: bool, asked: bool) -> &'static str {
    match (on_request, asked) {
        (false, _) => "on (relay = true)",
        (true, true) => "on (the station asks, EVB)",
        (true, false) => "off (relay = \"evb\": the station has not asked)",
    }
}

/// Reflective relay on an uplink, as the bridge's EVB TLV says.
pub fn relay_state(rr_request: bool, bridge: Option<&EvbTlv>) -> &'static str {
    match bridge {
        None => "no EVB peer",
        Some(b) if b.rrctr => "granted",
        Some(_) if !rr_request => "not requested",
        Some(b) if b.rrcap => "refused (the bridge can relay, but has not turned it on)",
        Some(_) => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_bridge(rrcap: bool, rrctr: bool, rte: u8) -> EvbTlv {
        let mut b = station(false, None);
        b.mode = EvbMode::Bridge;
        (b.rrcap, b.rrctr, b.rte, b.rrreq, b.rrstat) = (rrcap, rrctr, rte, false, RrStatus::Off);
        b
    }

    #[test]
    fn the_station_asks_and_reports_what_it_heard() {
        let alone = station(true, None);
        // As lldpad's station sends it before hearing a bridge: 00 07 .. 94 14.
        assert_eq!(alone.to_bytes()[4..6], [0x00, 0x07]);
        assert_eq!(alone.to_bytes()[7..], [0x94, 0x14]);
        let granted = station(true, Some(&a_bridge(true, true, 14)));
        assert_eq!(
            (granted.rrstat, granted.rrctr, granted.rte),
            (RrStatus::On, true, 14)
        );
        assert!(
            granted.rwd_remote && granted.rka_remote,
            "equal values count as remote"
        );
        let refused = station(true, Some(&a_bridge(false, false, 2)));
        assert_eq!((refused.rrstat, refused.rte), (RrStatus::Off, LOCAL_RTE));
        assert!(!station(false, None).rrreq);
    }

    #[test]
    fn a_relay_port_answers_as_lldpads_bridge_does() {
        // lldpad's station before hearing a bridge: RRREQ, RRSTAT unknown,
        // R 3, RTE 14, RWD 20, RKA 20.
        let st = EvbTlv::parse(&[0x00, 0x80, 0xc2, 0x0d, 0x00, 0x07, 0x6e, 0x94, 0x14]).unwrap();
        // lldpad's bridge (relay capable) answered it with 03 07 6e 74 34.
        assert_eq!(
            bridge(Some(&st)).to_bytes()[4..],
            [0x03, 0x07, 0x6e, 0x74, 0x34]
        );
        let quiet = bridge(None);
        assert_eq!(
            (quiet.rrcap, quiet.rrctr, quiet.rrreq),
            (true, false, false)
        );
    }

    #[test]
    fn relay_states() {
        let cases = [
            (true, None, "no EVB peer"),
            (true, Some(a_bridge(true, true, 8)), "granted"),
            (true, Some(a_bridge(false, false, 8)), "refused"),
            (false, Some(a_bridge(true, false, 8)), "not requested"),
        ];
        for (req, b, want) in cases {
            assert_eq!(relay_state(req, b.as_ref()), want);
        }
        assert!(relay_state(true, Some(&a_bridge(true, false, 8))).starts_with("refused"));
    }
}
