//! A bonded uplink's control: which members are up, which carry traffic,
//! and what LACP says to each partner. Pure: the I/O layer hands in link
//! states, received LACPDUs, ARP replies and the time, sends what
//! [`Bond::tick`] returns and forwards on the members [`Bond::enabled`]
//! names.
//!
//! - *active-backup*: one member carries everything; when it fails the
//!   next eligible one (lowest index) takes over and [`Bond::take_failover`]
//!   tells the caller to announce every local MAC on it.
//! - *balance-tcp* / *balance-slb*: every eligible member carries the
//!   flows its hash picks.
//!
//! A member is eligible when its carrier is up, its ARP targets answer
//! (when ARP monitoring is on), and, with LACP, it is collecting and
//! distributing in the bond's one aggregator: the members whose partner
//! names the same system and key (the largest such group; the one in use
//! is kept while any of its members is current).

use crate::lacp::{LacpConfig, LacpPort, Mux, Receive};
use vepa_packet::lacp::{Lacpdu, PortInfo};

/// The most members a bond has (an eligibility mask is a `u64`).
pub const MAX_MEMBERS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BondMode {
    ActiveBackup,
    /// Hash of addresses, VLAN and L4 ports: one flow, one member.
    BalanceTcp,
    /// Hash of the source MAC and VLAN: one VM, one member.
    BalanceSlb,
}

impl BondMode {
    pub fn name(self) -> &'static str {
        match self {
            BondMode::ActiveBackup => "active-backup",
            BondMode::BalanceTcp => "balance-tcp",
            BondMode::BalanceSlb => "balance-slb",
        }
    }
}

/// How often ARP monitoring asks, and how many unanswered rounds fail a member.
pub const ARP_MISSED_MAX: u64 = 3;

#[derive(Debug, Clone)]
struct Member {
    link_up: bool,
    lacp: Option<LacpPort>,
    /// When an ARP target last answered on this member.
    arp_seen_ms: Option<u64>,
    /// Times this member stopped being eligible.
    failures: u64,
    eligible: bool,
}

/// What one member looks like now, for `switch show` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub link_up: bool,
    /// Carries traffic now.
    pub enabled: bool,
    /// The active member of an active-backup bond.
    pub active: bool,
    pub failures: u64,
    /// `None` without LACP.
    pub lacp: Option<LacpView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LacpView {
    pub receive: Receive,
    pub mux: Mux,
    pub actor: PortInfo,
    pub partner: Option<PortInfo>,
}

#[derive(Debug, Clone)]
pub struct Bond {
    mode: BondMode,
    lacp: Option<LacpConfig>,
    /// ARP monitoring's interval, when on.
    arp_interval_ms: Option<u64>,
    members: Vec<Member>,
    active: Option<usize>,
    /// The partner (system priority, system, key) the aggregator formed with.
    aggregator: Option<(u16, vepa_packet::MacAddr, u16)>,
    failover: bool,
    /// The carrying mask the last selection published.
    last_mask: u64,
}

impl Bond {
    /// A bond of `members` members (at most [`MAX_MEMBERS`]), all down.
    pub fn new(
        mode: BondMode,
        lacp: Option<LacpConfig>,
        arp_interval_ms: Option<u64>,
        members: usize,
    ) -> Bond {
        let members = (0..members.min(MAX_MEMBERS))
            .map(|i| Member {
                link_up: false,
                lacp: lacp.map(|c| LacpPort::new(c, i as u16 + 1)),
                arp_seen_ms: None,
                failures: 0,
                eligible: false,
            })
            .collect();
        Bond {
            mode,
            lacp,
            arp_interval_ms,
            members,
            active: None,
            aggregator: None,
            failover: false,
            last_mask: 0,
        }
    }

    pub fn mode(&self) -> BondMode {
        self.mode
    }

    pub fn lacp(&self) -> Option<&LacpConfig> {
        self.lacp.as_ref()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`'s carrier came or went.
    pub fn link(&mut self, i: usize, up: bool, now_ms: u64) {
        let Some(m) = self.members.get_mut(i) else {
            return;
        };
        m.link_up = up;
        if let Some(l) = m.lacp.as_mut() {
            l.link(up, now_ms);
        }
        self.select(now_ms);
    }

    /// A LACPDU arrived on member `i` (ignored without LACP).
    pub fn receive(&mut self, i: usize, pdu: &Lacpdu, now_ms: u64) {
        if let Some(l) = self.members.get_mut(i).and_then(|m| m.lacp.as_mut()) {
            l.receive(pdu, now_ms);
        }
        self.select(now_ms);
    }

    /// An ARP target answered on member `i`.
    pub fn arp_seen(&mut self, i: usize, now_ms: u64) {
        if let Some(m) = self.members.get_mut(i) {
            m.arp_seen_ms = Some(now_ms);
        }
        self.select(now_ms);
    }

    /// Runs the timers; returns the LACPDUs due, each with its member.
    pub fn tick(&mut self, now_ms: u64) -> Vec<(usize, Lacpdu)> {
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if let Some(pdu) = m.lacp.as_mut().and_then(|l| l.tick(now_ms)) {
                out.push((i, pdu));
            }
        }
        self.select(now_ms);
        // Selection may have changed what a member says (in sync or not):
        // the machines send that at once, within their rate.
        for (i, m) in self.members.iter_mut().enumerate() {
            if out.iter().any(|(j, _)| *j == i) {
                continue;
            }
            if let Some(pdu) = m.lacp.as_mut().and_then(|l| l.tick(now_ms)) {
                out.push((i, pdu));
            }
        }
        out
    }

    fn arp_ok(&self, m: &Member, now_ms: u64) -> bool {
        match self.arp_interval_ms {
            None => true,
            Some(iv) => m
                .arp_seen_ms
                .is_some_and(|t| now_ms.saturating_sub(t) <= iv * ARP_MISSED_MAX),
        }
    }

    /// Picks the aggregator, then who is eligible and who is active.
    fn select(&mut self, now_ms: u64) {
        if self.lacp.is_some() {
            let key = |l: &LacpPort| l.partner().map(|p| (p.system_priority, p.system, p.key));
            let candidates: Vec<_> = self
                .members
                .iter()
                .filter_map(|m| m.lacp.as_ref())
                .filter(|l| l.aggregatable())
                .filter_map(key)
                .collect();
            let keep = self.aggregator.filter(|a| candidates.contains(a));
            self.aggregator = keep.or_else(|| {
                // The partner most members share; the first on a tie.
                let mut best: Option<((u16, vepa_packet::MacAddr, u16), usize)> = None;
                for c in &candidates {
                    let n = candidates.iter().filter(|x| *x == c).count();
                    if best.is_none_or(|(_, b)| n > b) {
                        best = Some((*c, n));
                    }
                }
                best.map(|(c, _)| c)
            });
            let agg = self.aggregator;
            for m in &mut self.members {
                if let Some(l) = m.lacp.as_mut() {
                    let mine = key(l);
                    l.set_selectable(mine.is_none() || mine == agg, now_ms);
                }
            }
        }
        let flags: Vec<bool> = self
            .members
            .iter()
            .map(|m| {
                m.link_up
                    && self.arp_ok(m, now_ms)
                    && m.lacp.as_ref().is_none_or(LacpPort::distributing)
            })
            .collect();
        for (m, e) in self.members.iter_mut().zip(&flags) {
            if m.eligible && !e {
                m.failures += 1;
            }
            m.eligible = *e;
        }
        let keep = self.active.filter(|&a| flags[a]);
        let next = keep.or_else(|| flags.iter().position(|e| *e));
        if next != self.active {
            // A new active member: the network must learn where the
            // local MACs are now (active-backup).
            if next.is_some() && self.mode == BondMode::ActiveBackup {
                self.failover = true;
            }
            self.active = next;
        }
        // Static balance-slb: the switch beyond sees separate links, and
        // a changed set of members moves MACs between them; an LACP
        // partner sees one aggregated link and needs no telling.
        let mask = self.enabled();
        if mask != self.last_mask
            && mask != 0
            && self.mode == BondMode::BalanceSlb
            && self.lacp.is_none()
        {
            self.failover = true;
        }
        self.last_mask = mask;
    }

    /// The members frames are taken from: those that carry traffic, and
    /// with LACP in active-backup every member collecting (the partner
    /// spreads its frames over the whole aggregation; the bond sends on
    /// the active member only).
    pub fn collecting(&self) -> u64 {
        if self.mode == BondMode::ActiveBackup && self.lacp.is_some() {
            return self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.eligible)
                .fold(0, |acc, (i, _)| acc | 1 << i);
        }
        self.enabled()
    }

    /// The members that carry traffic now, as a mask (bit i: member i).
    pub fn enabled(&self) -> u64 {
        match self.mode {
            BondMode::ActiveBackup => self.active.map(|a| 1u64 << a).unwrap_or(0),
            _ => self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.eligible)
                .fold(0, |acc, (i, _)| acc | 1 << i),
        }
    }

    /// The member that carries everything (active-backup), or, in a
    /// balance bond, the one that receives flooded frames when no partner
    /// aggregates the links (static bonding).
    pub fn active(&self) -> Option<usize> {
        self.active
    }

    /// Whether the local MACs must be announced again (a new active
    /// member, or a static balance-slb bond's members changed) since the
    /// last call.
    pub fn take_failover(&mut self) -> bool {
        std::mem::take(&mut self.failover)
    }

    pub fn member(&self, i: usize) -> Option<MemberView> {
        let m = self.members.get(i)?;
        Some(MemberView {
            link_up: m.link_up,
            enabled: self.enabled() & (1 << i) != 0,
            active: self.mode == BondMode::ActiveBackup && self.active == Some(i),
            failures: m.failures,
            lacp: m.lacp.as_ref().map(|l| LacpView {
                receive: l.receive_state(),
                mux: l.mux_state(),
                actor: l.actor_info(),
                partner: l.partner().copied(),
            }),
        })
    }
}

/// Picks member `hash` among the members set in `mask`: the same hash
/// keeps its member while the mask stays.
pub fn pick(mask: u64, hash: u32) -> Option<usize> {
    let n = mask.count_ones();
    if n == 0 {
        return None;
    }
    let mut k = hash % n;
    let mut m = mask;
    loop {
        let i = m.trailing_zeros();
        if k == 0 {
            return Some(i as usize);
        }
        k -= 1;
        m &= m - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vepa_packet::MacAddr;

    fn lacp(n: u8) -> LacpConfig {
        LacpConfig {
            system: MacAddr([2, 0, 0, 0, 0, n]),
            system_priority: 65534,
            key: 1,
            active: true,
            fast: true,
        }
    }

    /// Two bonds wired member to member; `wires[i]`: member i carries.
    fn run(a: &mut Bond, b: &mut Bond, from: u64, ms: u64, wires: &[bool]) -> u64 {
        let mut now = from;
        while now < from + ms {
            for (i, pdu) in a.tick(now) {
                if wires[i] {
                    b.receive(i, &pdu, now);
                }
            }
            for (i, pdu) in b.tick(now) {
                if wires[i] {
                    a.receive(i, &pdu, now);
                }
            }
            now += 100;
        }
        now
    }

    #[test]
    fn pick_spreads_and_keeps_a_hash_on_its_member() {
        assert_eq!(pick(0, 7), None);
        assert_eq!(pick(0b100, 7), Some(2));
        assert_eq!(pick(0b1010, 0), Some(1));
        assert_eq!(pick(0b1010, 1), Some(3));
        assert_eq!(pick(0b1010, 2), Some(1));
        let used: std::collections::HashSet<_> = (0..100).filter_map(|h| pick(0b111, h)).collect();
        assert_eq!(used.len(), 3);
    }

    #[test]
    fn active_backup_fails_over_to_the_next_member_and_stays_there() {
        let mut b = Bond::new(BondMode::ActiveBackup, None, None, 2);
        assert_eq!(b.enabled(), 0);
        b.link(0, true, 0);
        b.link(1, true, 0);
        assert_eq!(b.enabled(), 0b01);
        assert!(b.take_failover());
        assert!(!b.take_failover());
        b.link(0, false, 10);
        assert_eq!(b.enabled(), 0b10);
        assert!(b.take_failover());
        // The first member comes back: no flap back to it.
        b.link(0, true, 20);
        assert_eq!(b.enabled(), 0b10);
        assert!(!b.take_failover());
        assert_eq!(b.member(1).map(|m| m.active), Some(true));
        assert_eq!(b.member(0).map(|m| m.failures), Some(1));
    }

    #[test]
    fn arp_monitoring_fails_a_member_whose_targets_stop_answering() {
        let mut b = Bond::new(BondMode::ActiveBackup, None, Some(100), 2);
        b.link(0, true, 0);
        b.link(1, true, 0);
        assert_eq!(b.enabled(), 0, "no member is up before a target answers");
        b.arp_seen(0, 0);
        b.arp_seen(1, 0);
        assert_eq!(b.enabled(), 0b01);
        b.arp_seen(1, 250);
        b.tick(301);
        assert_eq!(b.enabled(), 0b10);
    }

    #[test]
    fn lacp_members_aggregate_only_with_a_partner_that_answers() {
        let mut a = Bond::new(BondMode::BalanceTcp, Some(lacp(1)), None, 2);
        let mut b = Bond::new(BondMode::BalanceTcp, Some(lacp(2)), None, 2);
        for i in 0..2 {
            a.link(i, true, 0);
            b.link(i, true, 0);
        }
        let now = run(&mut a, &mut b, 0, 3_000, &[true, true]);
        assert_eq!(a.enabled(), 0b11);
        assert_eq!(b.enabled(), 0b11);
        // Member 1's partner falls silent (a cable cut the carrier does
        // not show): out after the short timeout.
        let now = run(&mut a, &mut b, now, 3_200, &[true, false]);
        assert_eq!(a.enabled(), 0b01);
        // It answers again: back in.
        run(&mut a, &mut b, now, 3_000, &[true, true]);
        assert_eq!(a.enabled(), 0b11);
        // A bond whose partner never speaks carries nothing.
        let mut lone = Bond::new(BondMode::BalanceTcp, Some(lacp(3)), None, 2);
        lone.link(0, true, 0);
        for t in (0..10_000).step_by(100) {
            lone.tick(t);
        }
        assert_eq!(lone.enabled(), 0);
    }

    #[test]
    fn members_facing_two_different_partners_do_not_aggregate_together() {
        let mut a = Bond::new(BondMode::BalanceTcp, Some(lacp(1)), None, 2);
        let mut b = Bond::new(BondMode::BalanceTcp, Some(lacp(2)), None, 1);
        let mut c = Bond::new(BondMode::BalanceTcp, Some(lacp(3)), None, 1);
        a.link(0, true, 0);
        a.link(1, true, 0);
        b.link(0, true, 0);
        c.link(0, true, 0);
        let mut now = 0;
        while now < 4_000 {
            for (i, pdu) in a.tick(now) {
                match i {
                    0 => b.receive(0, &pdu, now),
                    _ => c.receive(0, &pdu, now),
                }
            }
            for (_, pdu) in b.tick(now) {
                a.receive(0, &pdu, now);
            }
            for (_, pdu) in c.tick(now) {
                a.receive(1, &pdu, now);
            }
            now += 100;
        }
        assert_eq!(a.enabled().count_ones(), 1, "{:?}", a.enabled());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use vepa_packet::lacp::{LacpState, PortInfo};
    use vepa_packet::MacAddr;

    fn info() -> impl Strategy<Value = PortInfo> {
        (
            any::<u16>(),
            any::<[u8; 6]>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
        )
            .prop_map(|(prio, sys, key, port, state)| PortInfo {
                system_priority: prio,
                system: MacAddr(sys),
                key,
                port_priority: 0,
                port,
                state: LacpState(state),
            })
    }

    #[derive(Debug, Clone)]
    enum Ev {
        Link(usize, bool),
        Pdu(usize, PortInfo, PortInfo),
        Arp(usize),
        Tick(u64),
    }

    fn ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0..5usize, any::<bool>()).prop_map(|(i, u)| Ev::Link(i, u)),
            (0..5usize, info(), info()).prop_map(|(i, a, p)| Ev::Pdu(i, a, p)),
            (0..5usize).prop_map(Ev::Arp),
            (0..5_000u64).prop_map(Ev::Tick),
        ]
    }

    proptest! {
        /// Whatever a partner says (any state bits, systems, keys, on any
        /// member, even one past the last), the bond never panics, carries
        /// traffic only on members whose link is up, one member at most in
        /// active-backup, and with LACP only on members in sync with a
        /// partner that answers.
        #[test]
        fn any_partner_input_keeps_the_bond_sound(
            events in proptest::collection::vec(ev(), 0..200),
            lacp in any::<bool>(),
            backup in any::<bool>(),
        ) {
            let mode = if backup { BondMode::ActiveBackup } else { BondMode::BalanceTcp };
            let cfg = lacp.then_some(LacpConfig {
                system: MacAddr([2, 0, 0, 0, 0, 1]),
                system_priority: 1,
                key: 1,
                active: true,
                fast: true,
            });
            let mut b = Bond::new(mode, cfg, None, 4);
            let mut now = 0;
            for e in events {
                match e {
                    Ev::Link(i, up) => b.link(i, up, now),
                    Ev::Pdu(i, actor, partner) => b.receive(i, &Lacpdu { actor, partner, collector_max_delay: 0 }, now),
                    Ev::Arp(i) => b.arp_seen(i, now),
                    Ev::Tick(dt) => {
                        now += dt;
                        for (i, pdu) in b.tick(now) {
                            prop_assert!(i < 4);
                            prop_assert_eq!(pdu.actor.port, i as u16 + 1);
                        }
                    }
                }
                let mask = b.enabled();
                prop_assert_eq!(mask >> 4, 0);
                if backup {
                    prop_assert!(mask.count_ones() <= 1);
                }
                for i in 0..4 {
                    if mask & (1 << i) == 0 {
                        continue;
                    }
                    let m = b.member(i).expect("member");
                    prop_assert!(m.link_up);
                    if let Some(l) = m.lacp {
                        prop_assert_eq!(l.receive, Receive::Current);
                        prop_assert_eq!(l.mux, Mux::CollectingDistributing);
                    }
                }
            }
        }
    }
}
