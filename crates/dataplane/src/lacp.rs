//! One bond member's LACP (IEEE 802.1AX-2014, clause 6.4): what it
//! tells its partner, what it heard, and whether it may carry traffic.
//! Pure: the caller hands in received LACPDUs and the time, and sends what
//! [`LacpPort::tick`] returns.
//!
//! The machines, as the standard names them, kept to what one member
//! needs (the bond picks the aggregator: members whose partners name the
//! same system and key):
//! - *Receive*: CURRENT while LACPDUs keep coming, EXPIRED after the
//!   timeout (3 s short, 90 s long, by what the actor asked for), then
//!   DEFAULTED (no partner) after one more short timeout.
//! - *Periodic transmission*: every second when the partner asked for the
//!   short timeout, else every 30 s; only when either end is active.
//! - *Mux* (coupled control): DETACHED, WAITING (2 s, for other members
//!   to be selected too), ATTACHED (in sync), COLLECTING_DISTRIBUTING once
//!   the partner says it is in sync as well.
//! - A state change is sent at once ("need to transmit"), at most three
//!   LACPDUs a second.

use vepa_packet::lacp::{LacpState, Lacpdu, PortInfo};
use vepa_packet::MacAddr;

pub const FAST_PERIODIC_MS: u64 = 1_000;
pub const SLOW_PERIODIC_MS: u64 = 30_000;
pub const SHORT_TIMEOUT_MS: u64 = 3_000;
pub const LONG_TIMEOUT_MS: u64 = 90_000;
pub const AGGREGATE_WAIT_MS: u64 = 2_000;
/// At most this many LACPDUs a second (802.1AX's Tx machine).
const TX_PER_SECOND: u32 = 3;

/// What a bond says of itself on every member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LacpConfig {
    pub system: MacAddr,
    pub system_priority: u16,
    pub key: u16,
    /// Active LACP (speaks first); passive answers an active partner.
    pub active: bool,
    /// Ask the partner for a LACPDU every second (short timeout).
    pub fast: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receive {
    Current,
    Expired,
    Defaulted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mux {
    Detached,
    Waiting { until_ms: u64 },
    Attached,
    CollectingDistributing,
}

#[derive(Debug, Clone)]
pub struct LacpPort {
    config: LacpConfig,
    port: u16,
    link_up: bool,
    actor: LacpState,
    /// What we last heard of the partner (its own actor information).
    partner: Option<PortInfo>,
    receive: Receive,
    /// When the receive machine's timer runs out.
    current_until_ms: u64,
    mux: Mux,
    next_periodic_ms: u64,
    need_to_transmit: bool,
    tx_window_ms: u64,
    tx_in_window: u32,
    /// The bond chose this member's partner as its aggregator's (members
    /// whose partner is another system or key stay out).
    selectable: bool,
    /// The partner's last LACPDU described us as we are (802.1AX's
    /// "matched"): its sync bit counts only then.
    matched: bool,
}

impl LacpPort {
    pub fn new(config: LacpConfig, port: u16) -> LacpPort {
        let actor = LacpState::default()
            .with(LacpState::ACTIVITY, config.active)
            .with(LacpState::TIMEOUT, config.fast)
            .with(LacpState::AGGREGATION, true)
            .with(LacpState::DEFAULTED, true);
        LacpPort {
            config,
            port,
            link_up: false,
            actor,
            partner: None,
            receive: Receive::Defaulted,
            current_until_ms: 0,
            mux: Mux::Detached,
            next_periodic_ms: 0,
            need_to_transmit: false,
            tx_window_ms: 0,
            tx_in_window: 0,
            selectable: true,
            matched: false,
        }
    }

    pub fn actor_state(&self) -> LacpState {
        self.actor
    }

    pub fn partner(&self) -> Option<&PortInfo> {
        self.partner.as_ref()
    }

    pub fn receive_state(&self) -> Receive {
        self.receive
    }

    pub fn mux_state(&self) -> Mux {
        self.mux
    }

    /// Whether the bond lets this member join its aggregator (its partner
    /// is the one the aggregator chose); the mux machine runs at `now_ms`.
    pub fn set_selectable(&mut self, on: bool, now_ms: u64) {
        if self.selectable != on {
            self.selectable = on;
            self.run_mux(now_ms);
        }
    }

    /// A current partner that aggregates: the member could join an
    /// aggregator with it.
    pub fn aggregatable(&self) -> bool {
        self.link_up
            && self.receive == Receive::Current
            && self
                .partner
                .is_some_and(|p| p.state.has(LacpState::AGGREGATION))
    }

    /// Whether frames may be sent and received on this member.
    pub fn distributing(&self) -> bool {
        self.link_up && self.mux == Mux::CollectingDistributing
    }

    /// What this member says of itself.
    pub fn actor_info(&self) -> PortInfo {
        PortInfo {
            system_priority: self.config.system_priority,
            system: self.config.system,
            key: self.config.key,
            port_priority: 255,
            port: self.port,
            state: self.actor,
        }
    }

    /// The carrier came or went. Down, the member forgets its partner.
    pub fn link(&mut self, up: bool, now_ms: u64) {
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        if !up {
            self.default_partner();
            self.mux = Mux::Detached;
            self.set_sync(false);
        } else {
            self.next_periodic_ms = now_ms;
            self.need_to_transmit = true;
        }
    }

    fn default_partner(&mut self) {
        self.partner = None;
        self.matched = false;
        self.receive = Receive::Defaulted;
        self.actor = self
            .actor
            .with(LacpState::DEFAULTED, true)
            .with(LacpState::EXPIRED, false);
    }

    fn set_sync(&mut self, on: bool) {
        let collecting = self.mux == Mux::CollectingDistributing;
        let before = self.actor;
        self.actor = self
            .actor
            .with(LacpState::SYNCHRONIZATION, on)
            .with(LacpState::COLLECTING, collecting)
            .with(LacpState::DISTRIBUTING, collecting);
        if self.actor != before {
            self.need_to_transmit = true;
        }
    }

    /// A LACPDU arrived on this member.
    pub fn receive(&mut self, pdu: &Lacpdu, now_ms: u64) {
        if !self.link_up {
            return;
        }
        let changed = self.partner.map(|p| (p.system, p.key, p.port))
            != Some((pdu.actor.system, pdu.actor.key, pdu.actor.port));
        self.partner = Some(pdu.actor);
        self.receive = Receive::Current;
        self.actor = self
            .actor
            .with(LacpState::DEFAULTED, false)
            .with(LacpState::EXPIRED, false);
        let timeout = if self.config.fast {
            SHORT_TIMEOUT_MS
        } else {
            LONG_TIMEOUT_MS
        };
        self.current_until_ms = now_ms + timeout;
        if changed {
            self.mux = Mux::Detached;
            self.set_sync(false);
        }
        // What the partner believes of us is stale: tell it again.
        let mine = self.actor_info();
        let theirs = pdu.partner;
        self.matched = (
            theirs.system_priority,
            theirs.system,
            theirs.key,
            theirs.port_priority,
            theirs.port,
            theirs.state.has(LacpState::AGGREGATION),
        ) == (
            mine.system_priority,
            mine.system,
            mine.key,
            mine.port_priority,
            mine.port,
            mine.state.has(LacpState::AGGREGATION),
        );
        if (theirs.system, theirs.key, theirs.port, theirs.state)
            != (mine.system, mine.key, mine.port, mine.state)
        {
            self.need_to_transmit = true;
        }
        // The machines run as soon as something changes, not only on ticks.
        self.run_mux(now_ms);
    }

    /// Runs the timers and machines; returns a LACPDU to send, if one is due.
    pub fn tick(&mut self, now_ms: u64) -> Option<Lacpdu> {
        if !self.link_up {
            return None;
        }
        // Receive: CURRENT -> EXPIRED -> DEFAULTED.
        if now_ms >= self.current_until_ms {
            match self.receive {
                Receive::Current => {
                    self.receive = Receive::Expired;
                    self.actor = self.actor.with(LacpState::EXPIRED, true);
                    self.current_until_ms = now_ms + SHORT_TIMEOUT_MS;
                    if let Some(p) = self.partner.as_mut() {
                        p.state = p
                            .state
                            .with(LacpState::SYNCHRONIZATION, false)
                            .with(LacpState::TIMEOUT, true);
                    }
                    self.need_to_transmit = true;
                }
                Receive::Expired => {
                    self.default_partner();
                    self.need_to_transmit = true;
                }
                Receive::Defaulted => {}
            }
        }
        self.run_mux(now_ms);
        // Periodic transmission, when someone is active.
        let partner_active = self
            .partner
            .is_some_and(|p| p.state.has(LacpState::ACTIVITY));
        if !(self.config.active || partner_active) {
            return None;
        }
        let period = match self.partner {
            Some(p) if !p.state.has(LacpState::TIMEOUT) => SLOW_PERIODIC_MS,
            _ => FAST_PERIODIC_MS,
        };
        if now_ms >= self.next_periodic_ms {
            self.need_to_transmit = true;
            self.next_periodic_ms = now_ms + period;
        }
        if !self.need_to_transmit {
            return None;
        }
        if now_ms >= self.tx_window_ms + 1000 {
            self.tx_window_ms = now_ms;
            self.tx_in_window = 0;
        }
        if self.tx_in_window >= TX_PER_SECOND {
            return None;
        }
        self.tx_in_window += 1;
        self.need_to_transmit = false;
        Some(Lacpdu {
            actor: self.actor_info(),
            partner: self.partner.unwrap_or_default(),
            collector_max_delay: 0,
        })
    }

    /// Selected: a current partner that aggregates, as we do.
    fn selected(&self) -> bool {
        self.selectable && self.aggregatable()
    }

    fn run_mux(&mut self, now_ms: u64) {
        let selected = self.selected();
        let partner_sync = self.matched
            && self
                .partner
                .is_some_and(|p| p.state.has(LacpState::SYNCHRONIZATION));
        let next = match self.mux {
            Mux::Detached if selected => Mux::Waiting {
                until_ms: now_ms + AGGREGATE_WAIT_MS,
            },
            Mux::Waiting { .. } if !selected => Mux::Detached,
            Mux::Waiting { until_ms } if now_ms >= until_ms => Mux::Attached,
            Mux::Attached if !selected => Mux::Detached,
            Mux::Attached if partner_sync => Mux::CollectingDistributing,
            Mux::CollectingDistributing if !selected || !partner_sync => Mux::Attached,
            m => m,
        };
        if next != self.mux {
            self.mux = next;
            let sync = matches!(next, Mux::Attached | Mux::CollectingDistributing);
            self.set_sync(sync);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(n: u8, active: bool) -> LacpConfig {
        LacpConfig {
            system: MacAddr([2, 0, 0, 0, 0, n]),
            system_priority: 65534,
            key: 1,
            active,
            fast: true,
        }
    }

    /// Runs two ends for `ms`, in 100 ms steps, delivering what each
    /// sends when `wire` says the link carries it.
    fn run(a: &mut LacpPort, b: &mut LacpPort, from: u64, ms: u64, wire: bool) -> u64 {
        let mut now = from;
        while now < from + ms {
            if let Some(p) = a.tick(now) {
                if wire {
                    b.receive(&p, now);
                }
            }
            if let Some(p) = b.tick(now) {
                if wire {
                    a.receive(&p, now);
                }
            }
            now += 100;
        }
        now
    }

    #[test]
    fn two_active_ends_aggregate_and_time_out() {
        let (mut a, mut b) = (
            LacpPort::new(config(1, true), 1),
            LacpPort::new(config(2, true), 7),
        );
        a.link(true, 0);
        b.link(true, 0);
        let now = run(&mut a, &mut b, 0, 3_000, true);
        assert!(a.distributing() && b.distributing(), "{a:?} {b:?}");
        assert_eq!(a.partner().map(|p| p.port), Some(7));
        assert!(a.actor_state().has(LacpState::SYNCHRONIZATION));
        assert!(a.actor_state().has(LacpState::DISTRIBUTING));
        // The partner falls silent: expired after 3 s, defaulted 3 s later.
        let now = run(&mut a, &mut b, now, 3_100, false);
        assert_eq!(a.receive_state(), Receive::Expired);
        assert!(!a.distributing());
        let now = run(&mut a, &mut b, now, 3_100, false);
        assert_eq!(a.receive_state(), Receive::Defaulted);
        assert!(a.partner().is_none());
        // It speaks again: back in less than the wait and a few PDUs.
        run(&mut a, &mut b, now, 3_000, true);
        assert!(a.distributing() && b.distributing(), "{a:?}\n{b:?}");
    }

    #[test]
    fn an_active_end_brings_a_passive_one_up_but_two_passive_ones_stay_silent() {
        let (mut a, mut b) = (
            LacpPort::new(config(1, true), 1),
            LacpPort::new(config(2, false), 2),
        );
        a.link(true, 0);
        b.link(true, 0);
        run(&mut a, &mut b, 0, 3_000, true);
        assert!(a.distributing() && b.distributing());
        let (mut c, mut d) = (
            LacpPort::new(config(3, false), 1),
            LacpPort::new(config(4, false), 2),
        );
        c.link(true, 0);
        d.link(true, 0);
        let mut sent = 0;
        for now in (0..5_000).step_by(100) {
            sent += usize::from(c.tick(now).is_some()) + usize::from(d.tick(now).is_some());
        }
        assert_eq!(sent, 0);
        assert!(!c.distributing());
    }

    #[test]
    fn link_down_detaches_at_once_and_no_more_than_three_pdus_a_second_go_out() {
        let (mut a, mut b) = (
            LacpPort::new(config(1, true), 1),
            LacpPort::new(config(2, true), 2),
        );
        a.link(true, 0);
        b.link(true, 0);
        let now = run(&mut a, &mut b, 0, 3_000, true);
        a.link(false, now);
        assert!(!a.distributing());
        assert_eq!(a.tick(now), None);
        // Asked to transmit on every tick, a port still sends 3 a second.
        let mut c = LacpPort::new(config(3, true), 1);
        c.link(true, 0);
        let mut sent = 0;
        for now in (0..1000).step_by(10) {
            c.need_to_transmit = true;
            sent += usize::from(c.tick(now).is_some());
        }
        assert_eq!(sent, 3);
    }
}
