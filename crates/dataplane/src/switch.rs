//! One switch: the forwarding decision for each frame.
//!
//! The rules follow Linux macvlan (`drivers/net/macvlan.c`) for the port
//! modes and the Linux bridge with hairpin for reflective relay, plus
//! learning and 802.1Q, which macvlan does not have (it knows its ports'
//! MACs; we learn them). docs/design.md §2 is the contract; the unit tests in
//! `tests/modes.rs` state it as tables.
//!
//! Frames arriving on the uplink whose source MAC is learned on a local
//! downlink are *reflections* (the adjacent relay hairpinned them). They are
//! never learned on the uplink (that would steal the VM's entry) and are
//! delivered by the kernel's reflection rules, keyed on the sender's mode.

use crate::cache::{
    FlowCache, FlowKey, PipelineCache, PipelineEntry, ANY_GENERATION, CACHED_EGRESS, CACHED_RULES,
};
use crate::counters::{DropReason, PortCounters};
use crate::egress::Egress;
use crate::fdb::{Fdb, LearnOutcome};
use crate::filter::{FilterVerdict, PortFilter};
use crate::flow::Generated;
use crate::flow::{Decision, Exec, Pipeline};
use crate::mdb::{Delivery, Mdb};
use crate::parsed::{Network, Parsed};
use crate::storm::{
    is_link_protocol, is_relay_probe, reserved_group, Flood, PortBuckets, BPDU_GUARD_MS,
};
use crate::trace::{Branch, NormalNotes};
use crate::vlan::{egress_tag, ingress_vid};
use crate::{ConfigError, LinkFacts, PortConfig, PortId, PortMode, PortRole, SwitchConfig};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::Arc;
use vepa_packet::MacAddr;

/// The part of a switch the control plane replaces whole: its ports and
/// their modes, with what is derived from them. Forwarding threads read it
/// through [`SwitchCore::snapshot`] without locks; a new one is swapped in
/// atomically and picked up by the next frame.
#[derive(Debug)]
pub struct Forwarding {
    /// Unique among every snapshot this process makes: decision caches
    /// follow it (an address could be reused by the next snapshot).
    id: u64,
    config: SwitchConfig,
    /// What the link agent knew when this snapshot was made.
    facts: LinkFacts,
    /// The ports as they forward under `facts` (see
    /// [`SwitchConfig::in_force`]); `config` keeps them as configured.
    in_force: Vec<PortConfig>,
    /// `vepa` ports switch locally: the bridge does not reflect.
    fallback: bool,
    uplink: Option<PortId>,
    /// The downlink that owns the uplink, on a `passthru` switch.
    passthru: Option<PortId>,
    /// The flow tables in front of the L2 forwarding.
    flows: Arc<Pipeline>,
    mirrors: crate::mirror::Mirrors,
    /// IPFIX export, when on.
    ipfix: Option<Arc<crate::export::IpfixExport>>,
    /// An ipvlan switch's address owners; `None`: a MAC-learning switch.
    by_address: Option<crate::ipvlan::Ipvlan>,
}

impl Forwarding {
    fn new(
        config: SwitchConfig,
        flows: Arc<Pipeline>,
        facts: LinkFacts,
    ) -> Result<Forwarding, ConfigError> {
        config.validate()?;
        let mirrors = crate::mirror::Mirrors::new(&config)?;
        let ipfix = config.ipfix.clone().map(|config| {
            Arc::new(crate::export::IpfixExport {
                config,
                stats: Arc::default(),
            })
        });
        let (in_force, fallback) = config.in_force(&facts);
        let uplink = config.uplink();
        let passthru = config
            .ports
            .iter()
            .position(|p| p.role == PortRole::Downlink(PortMode::Passthru))
            .map(|i| PortId(i as u16));
        let by_address = config
            .ipvlan
            .as_ref()
            .map(|i| crate::ipvlan::Ipvlan::new(i, &config));
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Forwarding {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            config,
            facts,
            in_force,
            fallback,
            uplink,
            passthru,
            flows,
            mirrors,
            ipfix,
            by_address,
        })
    }

    /// A snapshot replacing `old`: mirrors keep their counts.
    fn after(mut self, old: &Forwarding) -> Forwarding {
        self.mirrors.adopt_stats(&old.mirrors);
        // The export keeps its counts; meters see a new export (and report
        // what they hold) only when its settings changed.
        if let (Some(new), Some(old)) = (&mut self.ipfix, &old.ipfix) {
            *new = if new.config == old.config {
                Arc::clone(old)
            } else {
                Arc::new(crate::export::IpfixExport {
                    config: new.config.clone(),
                    stats: Arc::clone(&old.stats),
                })
            };
        }
        self
    }

    /// The switch's IPFIX export, when on.
    pub fn ipfix(&self) -> Option<&Arc<crate::export::IpfixExport>> {
        self.ipfix.as_ref()
    }

    /// Each mirror's name and what it sent: packets, bytes.
    pub fn mirror_stats(&self) -> Vec<(String, u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.mirrors
            .list
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    m.stats.packets.load(Relaxed),
                    m.stats.bytes.load(Relaxed),
                )
            })
            .collect()
    }

    /// The flow tables in force.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.flows
    }

    /// What the link agent knew when this snapshot was made.
    pub fn link_facts(&self) -> &LinkFacts {
        &self.facts
    }

    /// Whether this switch's `vepa` ports switch locally now, because its
    /// bridge does not reflect (`fallback_veb`).
    pub fn falls_back(&self) -> bool {
        self.fallback
    }

    /// Whether `id` reflects frames now (its `relay`, or its station's request).
    pub fn relay_in_force(&self, id: PortId) -> bool {
        self.in_force.get(id.index()).is_some_and(|p| p.relay)
    }

    /// A port as it forwards now.
    fn port(&self, id: PortId) -> &PortConfig {
        &self.in_force[id.index()]
    }

    fn mode(&self, id: PortId) -> Option<PortMode> {
        self.port(id).mode()
    }
}

impl std::ops::Deref for Forwarding {
    type Target = SwitchConfig;
    fn deref(&self) -> &SwitchConfig {
        &self.config
    }
}

/// Whether a frame leaves the pipeline for the link agent (or, from a port
/// without one, is dropped): a link protocol's, or a relay probe coming
/// back up the uplink or sent by a VM (a VM has no business sending
/// vepa's probes, and reflected ones would spend the uplink agent's
/// budget, its LLDP with it). A relay port bridges probes.
fn for_link_agent(fw: &Forwarding, in_port: PortId, frame: &Parsed<'_>) -> bool {
    if is_link_protocol(frame) {
        return true;
    }
    is_relay_probe(frame)
        && (fw.uplink == Some(in_port)
            || fw
                .config
                .ports
                .get(in_port.index())
                .is_some_and(|p| !p.runs_link_agent()))
}

/// A switch as every forwarding thread shares it: the swappable forwarding
/// snapshot and the learned state. Counters are the caller's (one set per
/// thread, summed for display), so the per-frame path writes no shared line.
#[derive(Debug)]
pub struct SwitchCore {
    forwarding: Arc<ArcSwap<Forwarding>>,
    fdb: Fdb,
    /// Each port's filters (ACLs, anti-spoofing), when any port has some.
    filters: ArcSwapOption<Vec<Option<Arc<PortFilter>>>>,
    /// Each port's storm-control buckets (the port list never changes on
    /// a running switch, so neither does this).
    storm: Box<[PortBuckets]>,
    /// Until when (ms) each port's BPDU guard blocks it; 0: not blocked.
    blocked: Box<[std::sync::atomic::AtomicU64]>,
    /// IGMP/MLD snooping's memberships and router ports.
    mdb: Mdb,
    /// The addresses an ipvlan switch's learning ports were seen using.
    addresses: crate::ipvlan::LearnedAddresses,
}

/// Every port's filters, by port index (`None`: none on that port).
pub type PortFilters = Vec<Option<Arc<PortFilter>>>;

impl SwitchCore {
    pub fn new(config: SwitchConfig) -> Result<SwitchCore, ConfigError> {
        let fw = Forwarding::new(config, Arc::default(), LinkFacts::default())?;
        let fdb = Fdb::new(fw.config.ports.len(), fw.config.ageing_ms);
        for s in &fw.config.static_fdb {
            if let Some(id) = fw.config.port_id(&s.port) {
                fdb.insert_static(s.mac, s.vid, id);
            }
        }
        let storm = (0..fw.config.ports.len())
            .map(|_| PortBuckets::default())
            .collect();
        let blocked = (0..fw.config.ports.len())
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect();
        Ok(SwitchCore {
            forwarding: Arc::new(ArcSwap::from_pointee(fw)),
            fdb,
            filters: ArcSwapOption::empty(),
            storm,
            blocked,
            mdb: Mdb::new(),
            addresses: Default::default(),
        })
    }

    /// A switch with the same forwarding state and copies of what it
    /// learned (FDB, filters' lists and connections, storm buckets, BPDU
    /// blocks), for a trace: what the copy does to its state stays there.
    pub fn shadow(&self, copies: &mut crate::filter::Copies) -> SwitchCore {
        let filters = self.filters.load_full().map(|f| {
            Arc::new(
                f.iter()
                    .map(|p| p.as_ref().map(|p| Arc::new(p.copy(copies))))
                    .collect::<PortFilters>(),
            )
        });
        SwitchCore {
            forwarding: Arc::new(ArcSwap::new(self.forwarding.load_full())),
            fdb: self.fdb.copy(),
            filters: ArcSwapOption::new(filters),
            storm: self.storm.clone(),
            blocked: self
                .blocked
                .iter()
                .map(|b| {
                    std::sync::atomic::AtomicU64::new(b.load(std::sync::atomic::Ordering::Relaxed))
                })
                .collect(),
            mdb: self.mdb.copy(),
            addresses: self.addresses.copy(),
        }
    }

    /// The forwarding state now in force.
    pub fn snapshot(&self) -> Arc<Forwarding> {
        self.forwarding.load_full()
    }

    /// The IPFIX export in force, read without taking a reference to the
    /// whole snapshot (a worker asks once per receive batch).
    pub fn ipfix(&self) -> Option<Arc<crate::export::IpfixExport>> {
        self.forwarding.load().ipfix.clone()
    }

    /// Until when (ms on the forwarding clock) `port`'s BPDU guard blocks
    /// it, if it does at `now_ms`.
    pub fn blocked_until(&self, port: PortId, now_ms: u64) -> Option<u64> {
        let until = self
            .blocked
            .get(port.index())?
            .load(std::sync::atomic::Ordering::Relaxed);
        (until > now_ms).then_some(until)
    }

    /// Lifts a port's BPDU guard block now.
    pub fn unblock(&self, port: PortId) {
        if let Some(b) = self.blocked.get(port.index()) {
            b.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Replaces the ports' modes, relay flags, VLANs and limits at run time.
    /// The port list itself (names, order, roles' count) must stay the same.
    pub fn set_config(&self, config: SwitchConfig) -> Result<(), ConfigError> {
        let old = self.forwarding.load();
        let same_ports = old.config.ports.len() == config.ports.len()
            && old
                .config
                .ports
                .iter()
                .zip(&config.ports)
                .all(|(a, b)| a.name == b.name);
        if !same_ports {
            return Err(ConfigError::Invalid {
                switch: config.name.clone(),
                port: String::new(),
                field: "ports",
                problem: "ports cannot be added, removed or reordered on a running switch".into(),
            });
        }
        let fw = Forwarding::new(config, Arc::clone(&old.flows), old.facts.clone())?.after(&old);
        // Static entries follow the new list: gone ones removed (before the
        // new snapshot, so no frame is sent by an entry the list dropped),
        // new ones pinned.
        for s in &old.config.static_fdb {
            if !fw.config.static_fdb.contains(s) {
                self.fdb.remove(s.mac, s.vid);
            }
        }
        for s in &fw.config.static_fdb {
            if let Some(id) = fw.config.port_id(&s.port) {
                self.fdb.insert_static(s.mac, s.vid, id);
            }
        }
        if fw.config.ageing_ms != old.config.ageing_ms {
            self.fdb.set_ageing_ms(fw.config.ageing_ms);
        }
        // A guard turned off lifts its block (off and on again: early).
        for (i, p) in fw.config.ports.iter().enumerate() {
            if !p.bpdu_guard {
                self.unblock(PortId(i as u16));
            }
        }
        self.forwarding.store(Arc::new(fw));
        Ok(())
    }

    /// Puts new flow tables in force; the next frame sees them. The
    /// control plane serialises this with [`set_config`](Self::set_config).
    pub fn set_pipeline(&self, flows: Arc<Pipeline>) {
        let old = self.forwarding.load();
        let fw = match Forwarding::new(old.config.clone(), flows, old.facts.clone()) {
            Ok(fw) => fw.after(&old),
            // The config was valid when it went in; it still is.
            Err(_) => return,
        };
        self.forwarding.store(Arc::new(fw));
    }

    /// Puts what the link agent now knows in force (relay granted or not,
    /// which stations ask for relay); the next frame sees it. Returns
    /// whether anything changed. Serialised with
    /// [`set_config`](Self::set_config) by the control plane.
    pub fn set_link_facts(&self, facts: LinkFacts) -> bool {
        let old = self.forwarding.load();
        if old.facts == facts {
            return false;
        }
        match Forwarding::new(old.config.clone(), Arc::clone(&old.flows), facts) {
            Ok(fw) => {
                self.forwarding.store(Arc::new(fw.after(&old)));
                true
            }
            Err(_) => false,
        }
    }

    /// Takes over what `old` (the same switch before its port list changed)
    /// learned on the ports both have, so a new port does not make the
    /// switch flood again for addresses it knew.
    pub fn restore_learned(&self, old: &SwitchCore) {
        let (was, now) = (old.snapshot(), self.snapshot());
        self.fdb.carry_learning_events(old.fdb.learning_events());
        for (mac, vid, e) in old.fdb.entries() {
            if e.is_static {
                continue;
            }
            let name = &was.config.ports[e.port.index()].name;
            if let Some(id) = now.config.port_id(name) {
                self.fdb.restore(mac, vid, id, e.last_seen_ms);
            }
        }
        self.mdb.restore_from(&old.mdb, |p| {
            was.config
                .ports
                .get(p.index())
                .and_then(|c| now.config.port_id(&c.name))
        });
        // Learned addresses stay with their port, while it still learns.
        let learns = now
            .config
            .ipvlan
            .as_ref()
            .map(|i| i.learn.clone())
            .unwrap_or_default();
        // A learning port's addresses, and every link-local owner's
        // (ports' and the wire's), by port name.
        self.addresses.restore_from(&old.addresses, |ip, p| {
            let name = &was.config.ports.get(p.index())?.name;
            (learns.contains(name) || crate::ipvlan::is_link_local(ip))
                .then(|| now.config.port_id(name))
                .flatten()
        });
    }

    /// The addresses an ipvlan switch's learning ports were seen using
    /// (and the link-local ones of any port), by port name.
    pub fn learned_addresses(&self) -> Vec<(std::net::IpAddr, String)> {
        let fw = self.snapshot();
        self.addresses
            .entries()
            .into_iter()
            .filter(|(_, p)| Some(*p) != fw.uplink)
            .filter_map(|(ip, p)| Some((ip, fw.config.ports.get(p.index())?.name.clone())))
            .collect()
    }

    /// IGMP/MLD snooping's table.
    pub fn mdb(&self) -> &Mdb {
        &self.mdb
    }

    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// Ages the FDB; call about once a second (from one thread).
    pub fn tick(&self, now_ms: u64) -> usize {
        self.mdb.expire(now_ms);
        self.addresses
            .age(now_ms, self.forwarding.load().config.ageing_ms);
        self.fdb.age(now_ms)
    }

    /// Decides where `frame`, received on `in_port` at `now_ms`, goes, under
    /// forwarding state `fw`. `d` is cleared and filled with the egress
    /// copies (and what else the flow tables decided); on a drop its egress
    /// is left empty and the reason is counted on the ingress port in
    /// `counters` (one entry per port) and returned.
    pub fn process(
        &self,
        fw: &Forwarding,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        self.storm_gate(fw, counters, in_port, frame, now_ms, d)?;
        if for_link_agent(fw, in_port, frame) {
            return self.to_link_agent(fw, counters, in_port, frame.len(), d);
        }
        self.process_keyed(fw, counters, in_port, frame, now_ms, d, None)
    }

    /// A frame too short for its Ethernet header (no [`Parsed`] could be
    /// made of it): received, and dropped as malformed.
    pub fn malformed(
        &self,
        counters: &mut [PortCounters],
        in_port: PortId,
        len: usize,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        self.gate_drop(counters, in_port, len, d, DropReason::Malformed)
    }

    /// Storm control for group frames, before anything else looks at
    /// them: over the port's rate, the frame is counted (received, and
    /// dropped) and goes no further. Unknown unicast is judged where it
    /// would flood ([`Self::l2`]).
    fn storm_gate(
        &self,
        fw: &Forwarding,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        let (Some(port), Some(buckets)) = (
            fw.config.ports.get(in_port.index()),
            self.storm.get(in_port.index()),
        ) else {
            return Ok(());
        };
        if fw.mirrors.is_monitor(in_port) {
            return self.gate_drop(counters, in_port, frame.len(), d, DropReason::MirrorPort);
        }
        if port.bpdu_guard && self.blocked_until(in_port, now_ms).is_some() {
            return self.gate_drop(counters, in_port, frame.len(), d, DropReason::BpduGuard);
        }
        // The station's own LLDP and ECP (how it associates) always pass.
        if port.vdp_enforce && !is_link_protocol(frame) {
            let vid = ingress_vid(&port.vlan, frame.vlan()).unwrap_or(0);
            if !fw.facts.associated(in_port, frame.src(), vid) {
                return self.gate_drop(
                    counters,
                    in_port,
                    frame.len(),
                    d,
                    DropReason::VdpUnassociated,
                );
            }
        }
        let dst = frame.dst();
        if !dst.is_multicast() || port.storm.is_unlimited() {
            return Ok(());
        }
        let (kind, reason) = if dst.is_broadcast() {
            (Flood::Broadcast, DropReason::StormBroadcast)
        } else {
            (Flood::Multicast, DropReason::StormMulticast)
        };
        if buckets.admit(&port.storm, kind, now_ms) {
            return Ok(());
        }
        self.gate_drop(counters, in_port, frame.len(), d, reason)
    }

    /// A frame the gate drops: received, and dropped for `reason`.
    /// A link protocol's frame, or vepa's relay probe anywhere but at a
    /// relay port (which reflects a station's probes like any frame):
    /// for the port's agent if it has one
    /// (counted as received), dropped otherwise. Never forwarded, whatever
    /// the flows or `group_fwd_mask` say.
    fn to_link_agent(
        &self,
        fw: &Forwarding,
        counters: &mut [PortCounters],
        in_port: PortId,
        len: usize,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        let agent = fw
            .config
            .ports
            .get(in_port.index())
            .is_some_and(PortConfig::runs_link_agent);
        if !agent {
            return self.gate_drop(counters, in_port, len, d, DropReason::LinkProtocol);
        }
        d.clear();
        d.link = true;
        if let Some(c) = counters.get_mut(in_port.index()) {
            c.rx_frames += 1;
            c.rx_bytes += len as u64;
        }
        Ok(())
    }

    fn gate_drop(
        &self,
        counters: &mut [PortCounters],
        in_port: PortId,
        len: usize,
        d: &mut Decision,
        reason: DropReason,
    ) -> Result<(), DropReason> {
        d.clear();
        if let Some(c) = counters.get_mut(in_port.index()) {
            c.rx_frames += 1;
            c.rx_bytes += len as u64;
            c.count_drop(reason);
        }
        Err(reason)
    }

    /// [`process`](Self::process) past the storm gate; `key`: the
    /// frame's flow key, when the caller packed it already.
    #[allow(clippy::too_many_arguments)]
    fn process_keyed(
        &self,
        fw: &Forwarding,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
        key: Option<&crate::flow::Key>,
    ) -> Result<(), DropReason> {
        d.clear();
        if in_port.index() >= fw.config.ports.len() || counters.len() < fw.config.ports.len() {
            return Err(DropReason::Malformed);
        }
        let c = &mut counters[in_port.index()];
        c.rx_frames += 1;
        c.rx_bytes += frame.len() as u64;
        let mut notes = Notes::default();
        let result = if fw.flows.is_active() {
            self.run_flows(fw, in_port, frame, now_ms, d, key, &mut notes)
        } else {
            self.l2(fw, in_port, frame, now_ms, &mut d.egress, &mut notes)
        };
        if notes.unlearned {
            // Counted on every frame from that source: not cached.
            counters[in_port.index()].mac_limit_unlearned += 1;
            d.uncacheable = true;
        }
        if notes.flooded && fw.port(in_port).storm.unknown_unicast.is_some() {
            // Each such frame takes a token.
            d.uncacheable = true;
        }
        if notes.snooped || fw.by_address.is_some() {
            // An ipvlan switch decides by address, which the cache's
            // MAC key does not hold.
            d.uncacheable = true;
        }
        if let Some(frame) = notes.answer.take() {
            d.generated.push(Generated {
                port: in_port,
                tag: notes
                    .normal
                    .vid
                    .and_then(|vid| egress_tag(&fw.port(in_port).vlan, vid))
                    .flatten(),
                frame,
            });
        }
        if let Some(t) = d.trace.as_mut() {
            let name = |p: PortId| {
                fw.config
                    .ports
                    .get(p.index())
                    .map_or_else(|| format!("#{}", p.0), |c| c.name.clone())
            };
            let mode = |p: PortId| fw.mode(p);
            t.extend(
                notes
                    .normal
                    .steps(in_port, &name, &mode, fw.relay_in_force(in_port)),
            );
            if let (Some(rule), Some(i)) = (notes.ipvlan_rule, fw.by_address.as_ref()) {
                t.push(crate::trace::Step::new(
                    crate::trace::Stage::Normal,
                    format!(
                        "ipvlan {} {}: {rule}",
                        i.mode.as_str(),
                        i.flag.kernel_name()
                    ),
                ));
            }
        }
        match result {
            Ok(()) => count_egress(counters, frame, &d.egress),
            Err(reason) => {
                d.egress.clear();
                counters[in_port.index()].count_drop(reason);
            }
        }
        result
    }

    /// The switch's own (mode-aware L2) forwarding: what `NORMAL` does.
    fn l2(
        &self,
        fw: &Forwarding,
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        out: &mut Vec<Egress>,
        notes: &mut Notes,
    ) -> Result<(), DropReason> {
        let first = out.len();
        let forwarded = self.forward(fw, in_port, frame, now_ms, out, notes);
        let limits = &fw.port(in_port).storm;
        if forwarded.is_ok()
            && notes.flooded
            && !self.storm[in_port.index()].admit(limits, Flood::UnknownUnicast, now_ms)
        {
            out.truncate(first);
            return Err(DropReason::StormUnknownUnicast);
        }
        match forwarded {
            // Nothing left to send to: a broadcast the relay reflected from a
            // veb port reached every port already on its way out.
            Ok(Some(sender)) if out.len() == first && fw.mode(sender) == Some(PortMode::Veb) => {
                Err(DropReason::AlreadyDelivered)
            }
            Ok(_) if out.len() == first && notes.answer.is_some() => Ok(()),
            Ok(_) if out.len() == first => Err(DropReason::NoDestination),
            Ok(_) => Ok(()),
            Err(e) => {
                out.truncate(first);
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_flows(
        &self,
        fw: &Forwarding,
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
        key: Option<&crate::flow::Key>,
        notes: &mut Notes,
    ) -> Result<(), DropReason> {
        let key = match key {
            Some(k) => *k,
            None => frame
                .key(in_port.0 as u32 + 1)
                .ok_or(DropReason::Malformed)?,
        };
        let mut exec = Exec {
            pipeline: &fw.flows,
            in_port,
            ports: fw.config.ports.len(),
            frame,
            now_ms,
            d,
            miss_entry: false,
        };
        exec.run(&key, &mut |out: &mut Vec<Egress>| {
            self.l2(fw, in_port, frame, now_ms, out, notes)
        })
    }

    /// A frame the controller sends (OpenFlow PACKET_OUT) as if it came in
    /// on `in_port`: `actions` run on it (an output to `TABLE` runs it
    /// through the flow tables; `NORMAL` through the switch's own
    /// forwarding, learning its source on `in_port`). Fills `d`; nothing is
    /// counted on the ports but what the switch forwards.
    pub fn packet_out(
        &self,
        fw: &Forwarding,
        in_port: PortId,
        frame: &[u8],
        actions: &[crate::flow::Action],
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        use crate::flow::{Action, FlowSpec, Instruction, OutPort};
        d.clear();
        let ports = fw.config.ports.len();
        if in_port.index() >= ports {
            return Err(DropReason::Malformed);
        }
        let frame = &Parsed::new(frame).ok_or(DropReason::Malformed)?;
        let key = frame
            .key(in_port.0 as u32 + 1)
            .ok_or(DropReason::Malformed)?;
        let to_table = actions.contains(&Action::Output(OutPort::Table));
        let rest: Vec<Action> = actions
            .iter()
            .filter(|a| **a != Action::Output(OutPort::Table))
            .cloned()
            .collect();
        let mut once = fw.flows.groups_only();
        once.add(
            FlowSpec {
                priority: 1,
                instructions: vec![Instruction::Apply(rest)],
                ..FlowSpec::default()
            },
            ports,
            now_ms,
        )
        .map_err(|_| DropReason::Malformed)?;
        let mut exec = Exec {
            pipeline: &once,
            in_port,
            ports,
            frame,
            now_ms,
            d,
            miss_entry: false,
        };
        let _ = exec.run(&key, &mut |out: &mut Vec<Egress>| {
            self.l2(fw, in_port, frame, now_ms, out, &mut Notes::default())
        });
        if to_table {
            let mut more = Decision::default();
            let mut scratch = vec![PortCounters::default(); ports];
            if self
                .process_keyed(
                    fw,
                    &mut scratch,
                    in_port,
                    frame,
                    now_ms,
                    &mut more,
                    Some(&key),
                )
                .is_ok()
            {
                // Rewrite indexes are a byte: copies whose rewrite would not
                // fit are dropped rather than sent changed wrongly.
                let base = d.rewrites.len();
                let shift = |r: u8| -> Option<u8> {
                    if r == 0 {
                        Some(0)
                    } else {
                        u8::try_from(r as usize + base).ok()
                    }
                };
                d.egress.extend(
                    more.egress
                        .iter()
                        .filter_map(|e| shift(e.rewrite).map(|rewrite| Egress { rewrite, ..*e })),
                );
                d.rewrites.extend(more.rewrites);
                d.controller.extend(more.controller.iter().filter_map(|c| {
                    shift(c.rewrite).map(|rewrite| crate::flow::ToController { rewrite, ..*c })
                }));
            }
        }
        Ok(())
    }

    /// [`process`](Self::process) through a decision cache: a frame whose
    /// headers were decided before, under the same snapshot and FDB
    /// generation, gets the same egress without the pipeline.
    // The per-thread pieces (cache, counters) come separately so a caller
    // can hold them in disjoint fields while it borrows its buffers.
    ///
    /// Ports' filters run around the decision: the sending port's guard and
    /// inbound list first, each receiving port's outbound list on its copy.
    ///
    /// Mirrors come last: on a drop, `d.egress` may still hold the
    /// mirrors' copies of what the port sent.
    #[allow(clippy::too_many_arguments)]
    pub fn process_cached(
        &self,
        fw: &Arc<Forwarding>,
        cache: &mut FlowCache,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        d.forwarded = 0;
        self.storm_gate(fw, counters, in_port, frame, now_ms, d)?;
        if for_link_agent(fw, in_port, frame) {
            return self.to_link_agent(fw, counters, in_port, frame.len(), d);
        }
        let r = self.process_filtered(fw, cache, counters, in_port, frame, now_ms, d);
        d.forwarded = if r.is_ok() { d.egress.len() } else { 0 };
        if !fw.mirrors.is_empty() {
            let vid = ingress_vid(&fw.port(in_port).vlan, frame.vlan());
            fw.mirrors
                .apply(counters, in_port, vid, frame, &mut d.egress);
            if let Some(t) = d.trace.as_mut() {
                // The copies themselves show as outputs to their ports.
                t.push(crate::trace::Step::new(
                    crate::trace::Stage::Mirror,
                    "monitor ports take no forwarded copy; each mirror selecting the frame adds one",
                ));
            }
        }
        r
    }

    /// [`process_cached`](Self::process_cached) past the gate: the
    /// port's filters around the decision.
    #[allow(clippy::too_many_arguments)]
    fn process_filtered(
        &self,
        fw: &Arc<Forwarding>,
        cache: &mut FlowCache,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        let filters = self.filters.load();
        let Some(filters) = filters.as_ref() else {
            return self.decide_cached(fw, cache, counters, in_port, frame, now_ms, d);
        };
        if let (Some(Some(f)), Some(c)) = (
            filters.get(in_port.index()),
            counters.get_mut(in_port.index()),
        ) {
            let before = d.trace.as_ref().and(f.acl_in.as_ref()).map(|a| a.hits());
            let verdict = f.ingress(frame, now_ms);
            if let Some(t) = d.trace.as_mut() {
                t.extend(filter_steps(f, frame, &verdict, before.as_deref(), None));
            }
            if verdict != FilterVerdict::Pass {
                c.rx_frames += 1;
                c.rx_bytes += frame.len() as u64;
                d.clear();
                let tag = frame.vid();
                return match verdict {
                    FilterVerdict::Drop(r) => {
                        c.count_drop(r);
                        Err(r)
                    }
                    FilterVerdict::Reject(reply) => {
                        c.count_drop(DropReason::AclDrop);
                        d.generated.push(Generated {
                            port: in_port,
                            tag,
                            frame: reply,
                        });
                        Ok(())
                    }
                    FilterVerdict::Pass => Ok(()),
                };
            }
        }
        let r = self.decide_cached(fw, cache, counters, in_port, frame, now_ms, d);
        if r.is_ok() {
            self.filter_egress(filters, counters, in_port, frame, now_ms, d);
        }
        r
    }

    /// Takes the copies the receiving ports' outbound lists refuse out of
    /// `d` (uncounting their transmission, counting the drop on the port).
    /// A copy a flow rewrote is judged as it will leave, rewritten.
    fn filter_egress(
        &self,
        filters: &PortFilters,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) {
        let tag = frame.vid();
        let len = frame.len() as u64 - if tag.is_some() { 4 } else { 0 };
        let mut generated = Vec::new();
        let rewritten = &mut d.scratch;
        let rewrites = &d.rewrites;
        let trace = &mut d.trace;
        let fw = trace.is_some().then(|| self.forwarding.load_full());
        d.egress.retain(|e| {
            let Some(Some(f)) = filters.get(e.port.index()) else {
                return true;
            };
            let before = trace.as_ref().and(f.acl_out.as_ref()).map(|a| a.hits());
            let verdict = match (e.rewrite as usize)
                .checked_sub(1)
                .and_then(|i| rewrites.get(i))
            {
                // A rewritten copy is a new frame, judged as it will leave.
                Some(r) => {
                    r.write(frame, e.tag, false, rewritten);
                    match Parsed::new(rewritten) {
                        Some(copy) => f.egress(&copy, now_ms),
                        None => FilterVerdict::Drop(DropReason::Malformed),
                    }
                }
                None => f.egress(frame, now_ms),
            };
            if let (Some(t), Some(fw)) = (trace.as_mut(), fw.as_ref()) {
                let name = fw
                    .config
                    .ports
                    .get(e.port.index())
                    .map_or("?", |p| p.name.as_str());
                t.extend(filter_steps(
                    f,
                    frame,
                    &verdict,
                    before.as_deref(),
                    Some(name),
                ));
            }
            if verdict == FilterVerdict::Pass {
                return true;
            }
            if let Some(c) = counters.get_mut(e.port.index()) {
                c.tx_frames = c.tx_frames.saturating_sub(1);
                c.tx_bytes = c
                    .tx_bytes
                    .saturating_sub(len + if e.tag.is_some() { 4 } else { 0 });
                c.count_drop(match &verdict {
                    FilterVerdict::Drop(r) => *r,
                    _ => DropReason::AclDrop,
                });
            }
            if let FilterVerdict::Reject(reply) = verdict {
                generated.push(Generated {
                    port: in_port,
                    tag,
                    frame: reply,
                });
            }
            false
        });
        d.generated.extend(generated);
    }

    /// Installs the ports' filters (`None`: no port has any).
    pub fn set_filters(&self, filters: Option<PortFilters>) {
        self.filters.store(filters.map(Arc::new));
    }

    /// The filters in force.
    pub fn filters(&self) -> Option<Arc<PortFilters>> {
        self.filters.load_full()
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_cached(
        &self,
        fw: &Arc<Forwarding>,
        cache: &mut FlowCache,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        // A trace takes the whole pipeline every time: a cached decision
        // says nothing of why (and would count its flows' hits for real).
        if in_port.index() >= fw.config.ports.len()
            || counters.len() < fw.config.ports.len()
            || d.trace.is_some()
        {
            return self.process_keyed(fw, counters, in_port, frame, now_ms, d, None);
        }
        if fw.flows.is_active() {
            return self.process_flows_cached(fw, cache, counters, in_port, frame, now_ms, d);
        }
        let key = ingress_vid(&fw.port(in_port).vlan, frame.vlan()).map(|vid| FlowKey {
            in_port,
            src: frame.src(),
            dst: frame.dst(),
            vid,
        });
        let Some(key) = key else {
            return self.process_keyed(fw, counters, in_port, frame, now_ms, d, None);
        };
        cache.follow(fw.id);
        let generation = self.fdb.generation();
        d.clear();
        if cache.get(&key, generation, now_ms, &mut d.egress) {
            let c = &mut counters[in_port.index()];
            c.rx_frames += 1;
            c.rx_bytes += frame.len() as u64;
            count_egress(counters, frame, &d.egress);
            return Ok(());
        }
        let result = self.process_keyed(fw, counters, in_port, frame, now_ms, d, None);
        if result.is_ok() && !d.uncacheable && d.egress.len() <= CACHED_EGRESS {
            let until = self.valid_until(key.src, key.dst, key.vid);
            cache.put(key, generation, until, &d.egress);
        }
        result
    }

    /// How long a decision that used the FDB for `src`/`dst` stays exact:
    /// until an entry it relied on could age out, or the source is due to
    /// have its age refreshed.
    fn valid_until(&self, src: MacAddr, dst: MacAddr, vid: u16) -> u64 {
        let mut until = u64::MAX;
        if let Some(e) = self.fdb.entry(src, vid) {
            until = until.min(self.fdb.live_until(&e));
            if !e.is_static {
                until = until.min(e.last_seen_ms.saturating_add(crate::fdb::REFRESH_MS));
            }
        }
        if !dst.is_multicast() {
            if let Some(e) = self.fdb.entry(dst, vid) {
                until = until.min(self.fdb.live_until(&e));
            }
        }
        until
    }

    /// The flow-table path through the cache, keyed by every header field.
    #[allow(clippy::too_many_arguments)]
    fn process_flows_cached(
        &self,
        fw: &Arc<Forwarding>,
        cache: &mut FlowCache,
        counters: &mut [PortCounters],
        in_port: PortId,
        frame: &Parsed<'_>,
        now_ms: u64,
        d: &mut Decision,
    ) -> Result<(), DropReason> {
        let Some(key) = frame.key(in_port.0 as u32 + 1) else {
            return self.process_keyed(fw, counters, in_port, frame, now_ms, d, None);
        };
        cache.follow(fw.id);
        let generation = self.fdb.generation();
        let slot = PipelineCache::slot_of(&key);
        d.clear();
        {
            let pc = cache.pipeline.get_or_insert_with(PipelineCache::new);
            let e = &pc.slots[slot];
            if e.valid
                && e.key == key
                && (e.generation == ANY_GENERATION || e.generation == generation)
                && now_ms < e.valid_until_ms
            {
                d.egress.extend_from_slice(&e.out[..e.n as usize]);
                if let Some(r) = &e.rewrite {
                    d.rewrites.push(r.clone());
                }
                for r in e.rules.iter().flatten() {
                    r.hit(frame.len(), now_ms);
                }
                cache.hits += 1;
                let c = &mut counters[in_port.index()];
                c.rx_frames += 1;
                c.rx_bytes += frame.len() as u64;
                count_egress(counters, frame, &d.egress);
                return Ok(());
            }
        }
        cache.misses += 1;
        let result = self.process_keyed(fw, counters, in_port, frame, now_ms, d, Some(&key));
        let cacheable = result.is_ok()
            && !d.uncacheable
            && d.controller.is_empty()
            && !d.egress.is_empty()
            && d.egress.len() <= CACHED_EGRESS
            && d.rewrites.len() <= 1
            && d.rules.len() <= CACHED_RULES;
        if !cacheable {
            return result;
        }
        let (generation, until) = if d.used_normal {
            match ingress_vid(&fw.port(in_port).vlan, frame.vlan()) {
                Some(vid) => (generation, self.valid_until(frame.src(), frame.dst(), vid)),
                None => return result,
            }
        } else {
            (ANY_GENERATION, u64::MAX)
        };
        let mut entry = PipelineEntry {
            valid: true,
            key,
            generation,
            valid_until_ms: until,
            n: d.egress.len() as u8,
            out: [d.egress[0]; CACHED_EGRESS],
            rewrite: d.rewrites.first().cloned(),
            rules: Default::default(),
        };
        entry.out[..d.egress.len()].copy_from_slice(&d.egress);
        for (slot, r) in entry.rules.iter_mut().zip(&d.rules) {
            *slot = Some(Arc::clone(r));
        }
        if let Some(pc) = cache.pipeline.as_mut() {
            pc.slots[slot] = entry;
        }
        result
    }

    /// Fills `out`; returns the local sender of a reflected frame, if it was one.
    fn forward(
        &self,
        fw: &Forwarding,
        in_port: PortId,
        frame: &Parsed<'_>,
        now: u64,
        out: &mut Vec<Egress>,
        notes: &mut Notes,
    ) -> Result<Option<PortId>, DropReason> {
        let (src, dst) = (frame.src(), frame.dst());
        if src.is_multicast() {
            return Err(DropReason::InvalidSource);
        }
        let first = out.len();
        if let Some(n) = reserved_group(dst) {
            if n == 0 && fw.port(in_port).bpdu_guard {
                // Something behind this edge port bridges: block it.
                if let Some(b) = self.blocked.get(in_port.index()) {
                    b.store(now + BPDU_GUARD_MS, std::sync::atomic::Ordering::Relaxed);
                }
                return Err(DropReason::BpduGuard);
            }
            // For the link only: bridged, a VM's BPDU would make the
            // physical switch shut the host's port (BPDU guard).
            if fw.config.group_fwd_mask & (1 << n) == 0 {
                return Err(DropReason::ReservedGroup);
            }
        }
        let port = fw.port(in_port);
        let vid = ingress_vid(&port.vlan, frame.vlan()).ok_or(DropReason::VlanIngress)?;
        notes.normal.vid = Some(vid);
        if let Some(ipvlan) = &fw.by_address {
            let verdict = ipvlan.decide(&self.addresses, now, fw.uplink, in_port, frame);
            return forward_ipvlan(fw, verdict, vid, out, notes);
        }
        let from_uplink = Some(in_port) == fw.uplink;
        let snooped = if fw.config.snoop.enabled && dst.is_multicast() && !dst.is_broadcast() {
            notes.snooped = true;
            self.snoop(fw, in_port, vid, frame, now)?
        } else {
            None
        };

        // Who really sent it: a frame from the uplink whose source is one of
        // our downlinks came back from the relay.
        let limit = fw.port(in_port).mac_limit;
        let learned = self.fdb.observe(src, vid, in_port, from_uplink, now, limit);
        notes.normal.learned = Some(learned);
        let reflected_from = match learned {
            LearnOutcome::Reflected { sender } => Some(sender),
            // Forwarded all the same: a full port (a busy uplink above all)
            // must not blackhole new stations, only stop remembering them.
            LearnOutcome::LimitReached => {
                notes.unlearned = true;
                None
            }
            _ => None,
        };
        let mut out = Out { fw, vid, out };

        if let Some(owner) = out.fw.passthru {
            // The passthru port and the uplink are one wire.
            let to = if from_uplink {
                owner
            } else {
                out.fw.uplink.ok_or(DropReason::NoUplink)?
            };
            out.push(to);
            notes.normal.branch = Some(Branch::Passthru);
            return Ok(reflected_from);
        }
        notes.normal.reflected_from = reflected_from;
        let unicast = !dst.is_multicast();
        let role = out.fw.port(in_port).role;
        let looks_up = matches!(role, PortRole::Uplink | PortRole::Downlink(PortMode::Veb));
        let found = if unicast && looks_up {
            let found = self.fdb.lookup(dst, vid, now);
            notes.normal.lookup = Some(found);
            found
        } else {
            None
        };

        match (role, dst.is_multicast()) {
            (PortRole::Downlink(PortMode::Veb), true) => {
                notes.normal.branch = Some(Branch::VebGroup);
                if out.fw.uplink.is_some() {
                    out.push_uplink()?;
                }
                out.push_mode(PortMode::Veb, in_port);
            }
            (PortRole::Downlink(_), true) => {
                notes.normal.branch = Some(Branch::GroupToUplink);
                out.push_uplink()?
            }
            (PortRole::Downlink(PortMode::Veb), false) => match found {
                Some(q) if q == in_port => {
                    notes.normal.branch = Some(Branch::Hairpin);
                    out.hairpin(in_port)?
                }
                Some(q) if out.fw.mode(q) == Some(PortMode::Veb) => {
                    notes.normal.branch = Some(Branch::VebLocal);
                    out.push(q)
                }
                // The uplink, or a local port that is not ours to switch to (kernel: xmit_world).
                Some(_) => {
                    notes.normal.branch = Some(Branch::VebNotLocal);
                    out.push_uplink()?
                }
                None => {
                    notes.normal.branch = Some(Branch::VebFlood);
                    notes.flooded = true;
                    if out.fw.uplink.is_some() {
                        out.push_uplink()?;
                    }
                    out.push_mode(PortMode::Veb, in_port);
                }
            },
            (PortRole::Downlink(_), false) => {
                notes.normal.branch = Some(Branch::ToUplink);
                out.push_uplink()?
            }
            (PortRole::Uplink, true) => {
                notes.normal.branch = Some(Branch::UplinkGroup);
                out.flood_from_uplink(reflected_from, false);
                if out.fw.port(in_port).relay {
                    out.push(in_port);
                }
            }
            (PortRole::Uplink, false) => match found {
                Some(q) if q == in_port => {
                    notes.normal.branch = Some(Branch::Hairpin);
                    out.hairpin(in_port)?
                }
                Some(q) => {
                    notes.normal.branch = Some(Branch::UplinkKnown);
                    out.deliver_reflected_unicast(reflected_from, q)?
                }
                None => {
                    notes.normal.branch = Some(Branch::UplinkFlood);
                    notes.flooded = true;
                    out.flood_from_uplink(reflected_from, true);
                    if out.fw.port(in_port).relay {
                        out.push(in_port);
                    }
                }
            },
        }
        if let Some(kind) = snooped {
            self.narrow(fw, kind, vid, now, out.out, first);
        }
        if from_uplink {
            out.source_copies(src);
        }
        Ok(reflected_from)
    }

    /// Reads a group frame for snooping: learns from an IGMP/MLD message
    /// (a report or leave joins or takes `in_port` out of its groups; a
    /// query from a router port marks it heard) and says how the frame's
    /// copies are to be narrowed. `None`: as the modes say (a query, a
    /// link-local group, non-IP multicast).
    fn snoop(
        &self,
        fw: &Forwarding,
        in_port: PortId,
        vid: u16,
        frame: &Parsed<'_>,
        now: u64,
    ) -> Result<Option<Snooped>, DropReason> {
        use vepa_packet::igmp::{self, GroupMessage, Membership};
        let (msg, group) = match frame.network() {
            Network::Ipv4(Some(v)) => {
                let group = std::net::IpAddr::V4(v.dst());
                if v.protocol() == igmp::PROTO_IGMP && v.fragment_offset() == 0 {
                    (Some(igmp::parse_igmp(v.payload())), group)
                } else {
                    (None, group)
                }
            }
            Network::Ipv6(Some(v)) => {
                let group = std::net::IpAddr::V6(v.dst());
                match v.upper() {
                    Some((vepa_packet::ip::PROTO_ICMPV6, msg)) => {
                        match igmp::parse_mld(v.src(), v.dst(), msg) {
                            Err(igmp::GroupError::NotGroup) => (None, group),
                            m => (Some(m), group),
                        }
                    }
                    _ => (None, group),
                }
            }
            _ => return Ok(None),
        };
        let snoop = &fw.config.snoop;
        let mdb = &self.mdb;
        let apply = |m: Membership| match m {
            Membership::Join(g) if !igmp::always_flooded(g) => mdb.join(vid, g, in_port, now),
            Membership::Leave(g) => mdb.leave(vid, g, in_port),
            Membership::Join(_) => {}
        };
        match msg {
            None if igmp::always_flooded(group) => Ok(None),
            None => Ok(Some(Snooped::Data(group))),
            Some(Err(_)) => Err(DropReason::BadGroupMessage),
            Some(Ok(GroupMessage::Query { max_resp_ms, .. })) => {
                let src = frame.src();
                // The switch's own query reflected back: not another
                // querier, and the VMs had it already.
                if snoop.querier.is_some_and(|m| src == m) {
                    return Ok(Some(Snooped::Report));
                }
                // A query from a MAC learned on another port (a tenant's,
                // reflected by the adjacent bridge) is no router's.
                let elsewhere = self.fdb.lookup(src, vid, now).is_some_and(|p| p != in_port);
                if !elsewhere
                    && (snoop.routers_from_any_port || snoop.router_ports.contains(&in_port))
                {
                    mdb.query_from(vid, in_port, now, max_resp_ms as u64);
                }
                Ok(None)
            }
            Some(Ok(GroupMessage::One(m))) => {
                apply(m);
                Ok(Some(Snooped::Report))
            }
            Some(Ok(GroupMessage::Records(r))) => {
                r.iter().for_each(apply);
                Ok(Some(Snooped::Report))
            }
        }
    }

    /// Keeps, of the copies `forward` made from `first` on, those snooping
    /// lets through: a group's members and router ports (all of them while
    /// no querier is heard), and reports to router ports only.
    fn narrow(
        &self,
        fw: &Forwarding,
        kind: Snooped,
        vid: u16,
        now: u64,
        egress: &mut Vec<Egress>,
        first: usize,
    ) {
        let snoop = &fw.config.snoop;
        let mut ports: Vec<PortId> = egress[first..].iter().map(|e| e.port).collect();
        let delivery = match kind {
            Snooped::Data(g) => self.mdb.narrow(snoop, vid, g, now, &mut ports),
            // Reports only ever go to router ports, querier or not: a host
            // that heard another's IGMPv2/MLDv1 report for its group would
            // hold back its own, and the switch would never learn it.
            Snooped::Report => {
                ports.retain(|q| self.mdb.is_router(snoop, vid, *q, now));
                Delivery::Snooped
            }
        };
        if delivery == Delivery::Snooped {
            let kept: Vec<Egress> = egress
                .drain(first..)
                .filter(|e| ports.contains(&e.port))
                .collect();
            egress.extend(kept);
        }
    }
}

/// How snooping treats a group frame.
#[derive(Debug, Clone, Copy)]
enum Snooped {
    /// Traffic for a group: to its members and router ports.
    Data(std::net::IpAddr),
    /// A report or leave: to router ports.
    Report,
}

/// What a port's filters did with a frame, for a trace: the guard's and
/// the list's verdicts, naming the rule that decided. `out`: the
/// receiving port, for an outbound list (`None`: the inbound side).
fn filter_steps(
    f: &PortFilter,
    frame: &Parsed<'_>,
    verdict: &FilterVerdict,
    before: Option<&[(u64, u64)]>,
    out: Option<&str>,
) -> Vec<crate::trace::Step> {
    use crate::trace::{Stage, Step};
    let mut v = Vec::new();
    let word = |verdict: &FilterVerdict| match verdict {
        FilterVerdict::Pass => "allowed".to_string(),
        FilterVerdict::Drop(r) => format!("dropped ({})", r.as_str()),
        FilterVerdict::Reject(_) => {
            "rejected (an ICMP error or TCP reset answers the sender)".to_string()
        }
    };
    if out.is_none() {
        if let Some(g) = &f.guard {
            if let Err(r) = g.check(frame) {
                v.push(Step::new(Stage::Guard, format!("dropped: {}", r.as_str())));
                return v;
            }
            v.push(Step::new(
                Stage::Guard,
                "source MAC and address are the port's own",
            ));
        }
    }
    let acl = if out.is_some() { &f.acl_out } else { &f.acl_in };
    let (stage, side) = match out {
        Some(p) => (Stage::AclOut, format!("to port {p}: ")),
        None => (Stage::AclIn, String::new()),
    };
    match (acl, before) {
        (Some(acl), Some(before)) => {
            let which = if frame.l3().is_none() {
                "not IP: lists judge IP only".to_string()
            } else {
                crate::trace::acl_rule(acl, before)
            };
            v.push(Step::new(
                stage,
                format!("{side}{}: {which}", word(verdict)),
            ));
        }
        _ if *verdict != FilterVerdict::Pass => {
            v.push(Step::new(stage, format!("{side}{}", word(verdict))));
        }
        _ => {}
    }
    v
}

/// What the switch's own forwarding noticed about a frame besides where
/// it goes.
#[derive(Debug, Default)]
struct Notes {
    /// Its source was not learned: the port (or the table) is full.
    unlearned: bool,
    /// A group frame a snooping switch judged by its memberships (which
    /// the decision cache does not key on).
    snooped: bool,
    /// An unknown unicast, flooded.
    flooded: bool,
    /// Which rule applied, for a trace.
    normal: NormalNotes,
    /// An ipvlan switch's rule, for a trace.
    ipvlan_rule: Option<&'static str>,
    /// A frame the switch answers with (an ipvlan switch's ARP or ND
    /// answer), out the ingress port.
    answer: Option<Vec<u8>>,
}

/// One switch for one thread: a [`SwitchCore`] with its own counters. The
/// forwarder's threads share the core and keep counters each; tests and
/// benchmarks use this directly.
#[derive(Debug)]
pub struct Switch {
    core: Arc<SwitchCore>,
    /// The snapshot, re-read only when a new one was stored.
    cached: arc_swap::Cache<Arc<ArcSwap<Forwarding>>, Arc<Forwarding>>,
    counters: Vec<PortCounters>,
    flows: Option<FlowCache>,
    decision: Decision,
}

impl Switch {
    pub fn new(config: SwitchConfig) -> Result<Switch, ConfigError> {
        let counters = vec![PortCounters::default(); config.ports.len()];
        let core = Arc::new(SwitchCore::new(config)?);
        Ok(Switch {
            cached: arc_swap::Cache::new(Arc::clone(&core.forwarding)),
            core,
            counters,
            flows: Some(FlowCache::default()),
            decision: Decision::default(),
        })
    }

    pub fn core(&self) -> &Arc<SwitchCore> {
        &self.core
    }

    /// The forwarding state now in force (derefs to the [`SwitchConfig`]).
    pub fn config(&self) -> Arc<Forwarding> {
        self.core.snapshot()
    }

    pub fn name(&self) -> String {
        self.core.snapshot().config.name.clone()
    }

    pub fn fdb(&self) -> &Fdb {
        &self.core.fdb
    }

    pub fn counters(&self, port: PortId) -> &PortCounters {
        &self.counters[port.index()]
    }

    /// Turns the decision cache off (on by default), to compare.
    pub fn without_cache(mut self) -> Switch {
        self.flows = None;
        self
    }

    /// The decision cache's hits and misses, when it is on.
    pub fn cache(&self) -> Option<&FlowCache> {
        self.flows.as_ref()
    }

    /// Adds counters kept elsewhere (another thread's) to this switch's.
    pub fn absorb(&mut self, other: &[PortCounters]) {
        for (c, o) in self.counters.iter_mut().zip(other) {
            c.add(o);
        }
    }

    pub fn tick(&mut self, now_ms: u64) -> usize {
        self.core.tick(now_ms)
    }

    /// See [`SwitchCore::process`]: the egress copies land in `out`.
    pub fn process(
        &mut self,
        in_port: PortId,
        frame: &[u8],
        now_ms: u64,
        out: &mut Vec<Egress>,
    ) -> Result<(), DropReason> {
        let r = self.decide(in_port, frame, now_ms);
        out.clear();
        out.extend_from_slice(&self.decision.egress);
        r
    }

    /// See [`SwitchCore::process`]; the whole decision is [`Self::decision`].
    pub fn decide(&mut self, in_port: PortId, frame: &[u8], now_ms: u64) -> Result<(), DropReason> {
        let fw = self.cached.load();
        let d = &mut self.decision;
        let Some(frame) = &Parsed::new(frame) else {
            return self
                .core
                .malformed(&mut self.counters, in_port, frame.len(), d);
        };
        match self.flows.as_mut() {
            Some(cache) => {
                self.core
                    .process_cached(fw, cache, &mut self.counters, in_port, frame, now_ms, d)
            }
            None => self
                .core
                .process(fw, &mut self.counters, in_port, frame, now_ms, d),
        }
    }

    /// What the last [`decide`](Self::decide) or [`process`](Self::process) decided.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// Puts new flow tables in force (see [`SwitchCore::set_pipeline`]).
    pub fn set_pipeline(&self, flows: Arc<Pipeline>) {
        self.core.set_pipeline(flows);
    }
}

/// An ipvlan switch's forwarding (see [`crate::ipvlan`]): no learning,
/// no FDB; the frame goes where its addresses say.
fn forward_ipvlan(
    fw: &Forwarding,
    verdict: crate::ipvlan::Verdict,
    vid: u16,
    out: &mut Vec<Egress>,
    notes: &mut Notes,
) -> Result<Option<PortId>, DropReason> {
    use crate::ipvlan::Verdict;
    notes.ipvlan_rule = Some(verdict.rule());
    let mut out = Out { fw, vid, out };
    match verdict {
        // A port's frame to its own address comes back to it, as the
        // kernel's ipvlan_rcv_frame does.
        Verdict::To(q) => out.push(q),
        Verdict::Uplink => out.push_uplink()?,
        Verdict::Flood { except, uplink } => {
            for i in 0..fw.config.ports.len() {
                let q = PortId(i as u16);
                if Some(q) != except && fw.mode(q).is_some() {
                    out.push(q);
                }
            }
            if uplink {
                out.push_uplink()?;
            }
        }
        Verdict::Answer(f) => notes.answer = Some(f),
        Verdict::Drop(r) => return Err(r),
    }
    Ok(None)
}

/// Counts the copies of a forwarded frame on their ports (a tag pushed or
/// popped changes their size).
fn count_egress(counters: &mut [PortCounters], frame: &Parsed<'_>, out: &[Egress]) {
    let untagged = frame.len() as u64 - (if frame.vlan().is_some() { 4 } else { 0 });
    for e in out {
        let c = &mut counters[e.port.index()];
        c.tx_frames += 1;
        c.tx_bytes += untagged + if e.tag.is_some() { 4 } else { 0 };
    }
}

/// The egress list under construction for one frame in one VLAN.
struct Out<'a> {
    fw: &'a Forwarding,
    vid: u16,
    out: &'a mut Vec<Egress>,
}

impl Out<'_> {
    /// Adds `port` if it is a member of the frame's VLAN (flooding stays within it).
    fn push(&mut self, port: PortId) {
        if let Some(tag) = egress_tag(&self.fw.port(port).vlan, self.vid) {
            self.out.push(Egress::new(port, tag));
        }
    }

    fn push_uplink(&mut self) -> Result<(), DropReason> {
        let up = self.fw.uplink.ok_or(DropReason::NoUplink)?;
        self.push(up);
        Ok(())
    }

    /// Back out of the ingress port: only with reflective relay on it.
    fn hairpin(&mut self, port: PortId) -> Result<(), DropReason> {
        if !self.fw.port(port).relay {
            return Err(DropReason::NoHairpin);
        }
        self.push(port);
        Ok(())
    }

    /// Every downlink in `mode` but the sender, and the sender too when it has relay on.
    fn push_mode(&mut self, mode: PortMode, sender: PortId) {
        for i in 0..self.fw.config.ports.len() {
            let q = PortId(i as u16);
            if self.fw.mode(q) == Some(mode) && (q != sender || self.fw.port(q).relay) {
                self.push(q);
            }
        }
    }

    /// `source` ports receive a copy of what their allow-listed MACs send
    /// (once, even when the frame already reaches them otherwise).
    fn source_copies(&mut self, src: MacAddr) {
        for i in 0..self.fw.config.ports.len() {
            let q = PortId(i as u16);
            let p = self.fw.port(q);
            if p.mode() == Some(PortMode::Source)
                && p.source_macs.contains(&src)
                && !self.out.iter().any(|e| e.port == q)
            {
                self.push(q);
            }
        }
    }

    /// A group frame (or unknown unicast) from the uplink, by the kernel's
    /// `macvlan_process_broadcast` rules when it is a reflection.
    fn flood_from_uplink(&mut self, reflected_from: Option<PortId>, unicast: bool) {
        let Some(sender) = reflected_from else {
            for i in 0..self.fw.config.ports.len() {
                let q = PortId(i as u16);
                if matches!(self.fw.mode(q), Some(m) if m != PortMode::Source) {
                    self.push(q);
                }
            }
            return;
        };
        match self.fw.mode(sender) {
            Some(PortMode::Vepa) => {
                self.push_mode_except(PortMode::Vepa, sender);
                self.push_mode_except(PortMode::Veb, sender);
            }
            // veb ports already had it on the way out.
            Some(PortMode::Veb) => self.push_mode_except(PortMode::Vepa, sender),
            // private, passthru, source: a broadcast goes back to its sender
            // alone; an unknown unicast to nobody.
            _ if unicast => {}
            _ => self.push(sender),
        }
    }

    fn push_mode_except(&mut self, mode: PortMode, except: PortId) {
        for i in 0..self.fw.config.ports.len() {
            let q = PortId(i as u16);
            if q != except && self.fw.mode(q) == Some(mode) {
                self.push(q);
            }
        }
    }

    /// A unicast frame from the uplink to a known local port `to`.
    fn deliver_reflected_unicast(
        &mut self,
        reflected_from: Option<PortId>,
        to: PortId,
    ) -> Result<(), DropReason> {
        let to_mode = self.fw.mode(to);
        if to_mode == Some(PortMode::Source) {
            // Source ports are never chosen by destination MAC.
            return Ok(());
        }
        if let Some(sender) = reflected_from.filter(|s| *s != to) {
            let from_mode = self.fw.mode(sender);
            if from_mode == Some(PortMode::Private) || to_mode == Some(PortMode::Private) {
                return Err(DropReason::PrivateIsolation);
            }
            if from_mode == Some(PortMode::Veb) && to_mode == Some(PortMode::Veb) {
                return Err(DropReason::AlreadyDelivered);
            }
        }
        self.push(to);
        Ok(())
    }
}
