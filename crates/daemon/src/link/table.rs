//! The link agent's table: what each agent port heard (neighbours, their
//! EVB TLVs, relay probes), what it is due to send, and the facts the
//! switches' 802.1Qbg settings follow. Pure: frames and the clock go in,
//! views and frames to send come out.

use super::ecp::Ecp;
use super::evb;
use super::probe::Probe;
use super::vdp::{BridgeSide, StationSide, Timers, VsiWant};
use super::{MAX_NEIGHBOURS, TX_FAST, TX_INTERVAL_S};
use std::collections::BTreeMap;
use std::time::Instant;
use vepa_api::topology::RelayRequired;
use vepa_api::wire::{EvbView, LinkPortView, LldpNeighbour, VdpPortView};
use vepa_dataplane::{LinkFacts, PortId};
use vepa_packet::ecp::{EcpHeader, VdpPdu, ECP_ETHERTYPE};
use vepa_packet::lldp::{
    EvbMode, EvbTlv, Lldpdu, RrStatus, LLDP_ETHERTYPE, NEAREST_BRIDGE, NEAREST_CUSTOMER_BRIDGE,
    NEAREST_NON_TPMR_BRIDGE,
};
use vepa_packet::relay_probe::{RelayProbe, PROBE_ETHERTYPE};
use vepa_packet::MacAddr;

/// What the agent is to do on a port: the engine's view of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub switch: String,
    pub port: String,
    /// A relay port (the bridge for the station behind it); else an uplink.
    pub relay: bool,
    /// A relay port whose relay follows its station's request (`"evb"`).
    pub on_request: bool,
    /// An uplink of a switch with `vepa` or `private` ports: it asks the
    /// adjacent bridge for reflective relay (EVB TLV, RRREQ).
    pub rr_request: bool,
    /// The switch's policy when the bridge does not reflect.
    pub policy: RelayRequired,
    /// On an uplink: the VMs to associate over VDP.
    pub vsis: Vec<VsiWant>,
    /// On a relay port: only associated sources may send.
    pub vdp_enforce: bool,
}

struct Neighbour {
    du: Lldpdu,
    /// The group address it was sent to: LLDP agents are per address, and
    /// 802.1Qbg's EVB TLV travels to the nearest customer bridge only.
    to: MacAddr,
    expires_ms: u64,
}

#[derive(Default)]
struct PortState {
    relay: bool,
    on_request: bool,
    rr_request: bool,
    policy: RelayRequired,
    /// The relay probe (uplinks that need relay and hear no EVB peer).
    probe: Probe,
    /// ECP, and VDP's station side (uplinks) or bridge side (relay ports).
    ecp: Ecp,
    station: StationSide,
    bridge: BridgeSide,
    wants: Vec<VsiWant>,
    vdp_enforce: bool,
    vdp_errors: u64,
    /// ECP's give-ups the station side has heard of.
    gave_up_seen: u64,
    lldp_tx: u64,
    lldp_rx: u64,
    rx_errors: u64,
    last_error: Option<String>,
    aged_out: u64,
    neighbours: Vec<Neighbour>,
    /// The reflective relay state last logged, and under which policy
    /// (uplinks): a new policy says anew what the state means.
    relay_logged: Option<(String, RelayRequired)>,
    /// When the next LLDPDU is due (ms), and how many fast ones are left.
    next_tx_ms: u64,
    fast_left: u32,
}

impl PortState {
    /// Counts a frame that could not be read, and why.
    fn fail(&mut self, why: String) {
        self.rx_errors += 1;
        self.last_error = Some(why);
    }

    /// The EVB TLV of the bridge on the other end, from its latest LLDPDU to
    /// the nearest customer bridge (where 802.1Qbg sends it).
    fn bridge_evb(&self) -> Option<&EvbTlv> {
        self.peer_evb(EvbMode::Bridge)
    }

    /// The negotiated timers ECP and VDP run on (as our EVB TLV says them).
    fn timers(&self) -> Timers {
        let t = if self.relay {
            evb::bridge(self.peer_evb(EvbMode::Station))
        } else {
            evb::station(self.rr_request, self.bridge_evb())
        };
        Timers {
            retries: t.retries,
            rte: t.rte,
            rwd: t.rwd,
            rka: t.rka,
        }
    }

    /// Reflective relay on an uplink: what the bridge's EVB TLV says, else
    /// what the probe saw.
    fn relay_state(&self) -> String {
        let evb = self.bridge_evb();
        match (evb, self.probe.last()) {
            (None, Some(reflecting)) => evb::probed_state(reflecting).to_string(),
            _ => evb::relay_state(self.rr_request, evb).to_string(),
        }
    }

    /// The EVB TLV of the peer in `mode`, from its latest LLDPDU to the
    /// nearest customer bridge.
    fn peer_evb(&self, mode: EvbMode) -> Option<&EvbTlv> {
        self.neighbours
            .iter()
            .filter(|n| n.to == NEAREST_CUSTOMER_BRIDGE)
            .find_map(|n| n.du.evb.as_ref().filter(|e| e.mode == mode))
    }
}

/// Every agent port's neighbours and counters.
pub struct LinkTable {
    ports: BTreeMap<(String, String), PortState>,
    /// Frames to send now (ECP acknowledgements, VDP): switch, port, frame.
    outbox: Vec<(String, String, Vec<u8>)>,
    epoch: Instant,
}

impl Default for LinkTable {
    fn default() -> Self {
        LinkTable {
            ports: BTreeMap::new(),
            outbox: Vec::new(),
            epoch: Instant::now(),
        }
    }
}

impl LinkTable {
    /// The agent's clock (ms).
    pub fn clock_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Makes the table follow the engine's ports: new ones start with fast
    /// transmission, gone ones are forgotten.
    pub fn follow(&mut self, ports: &[Role], now_ms: u64) {
        self.ports
            .retain(|k, _| ports.iter().any(|r| (&r.switch, &r.port) == (&k.0, &k.1)));
        for r in ports {
            let st = self
                .ports
                .entry((r.switch.clone(), r.port.clone()))
                .or_insert_with(|| PortState {
                    next_tx_ms: now_ms,
                    fast_left: TX_FAST,
                    probe: Probe::new(now_ms),
                    ..PortState::default()
                });
            st.relay = r.relay;
            st.on_request = r.on_request;
            st.wants = r.vsis.clone();
            st.vdp_enforce = r.vdp_enforce;
            st.rr_request = r.rr_request;
            st.policy = r.policy;
        }
    }

    /// Reads a frame the port's peer sent its agent. Anything unreadable is
    /// counted, with why, and otherwise ignored.
    pub fn receive(&mut self, switch: &str, port: &str, frame: &[u8], now_ms: u64) {
        let Some(st) = self.ports.get_mut(&(switch.to_string(), port.to_string())) else {
            return;
        };
        let (Some(src), Some(ethertype)) = (frame.get(6..12), frame.get(12..14)) else {
            return st.fail(format!("a {}-byte frame", frame.len()));
        };
        let src = MacAddr::from_slice(src);
        let to = MacAddr::from_slice(&frame[..6]);
        let ethertype = u16::from_be_bytes([ethertype[0], ethertype[1]]);
        if ethertype == PROBE_ETHERTYPE && !st.relay {
            return match RelayProbe::parse(&frame[14..]) {
                Some(p) => {
                    if let Err(why) = st.probe.returned(p, now_ms) {
                        st.fail(format!("relay probe from {src}: {why}"));
                    }
                }
                None => st.fail(format!("relay probe from {src}: unreadable")),
            };
        }
        if ethertype == ECP_ETHERTYPE {
            let (h, payload) = match EcpHeader::parse(&frame[14..]) {
                Ok(x) => x,
                Err(e) => return st.fail(format!("ECP from {src}: {e}")),
            };
            let r = st.ecp.receive(h, payload, now_ms);
            let me = super::agent_mac(switch, port);
            if let Some(ack) = r.ack {
                let f = ack.frame(NEAREST_CUSTOMER_BRIDGE, me, &[]);
                self.outbox.push((switch.to_string(), port.to_string(), f));
            }
            let Some(p) = r.deliver else { return };
            match VdpPdu::parse(p) {
                Ok(pdu) if st.relay => {
                    for answer in st.bridge.request(&pdu, now_ms) {
                        if !st.ecp.send(answer.to_bytes()) {
                            st.fail("VDP: ECP queue full; an answer was dropped".into());
                        }
                    }
                }
                Ok(pdu) => st.station.response(&pdu, now_ms),
                Err(e) => {
                    st.vdp_errors += 1;
                    st.fail(format!("VDP from {src}: {e}"));
                }
            }
            return;
        }
        if ethertype != LLDP_ETHERTYPE {
            return st.fail(format!(
                "EtherType {ethertype:#06x} from {src}: ECP and VDP are not spoken yet"
            ));
        }
        let du = match Lldpdu::parse(&frame[14..]) {
            Ok(du) => du,
            Err(e) => return st.fail(format!("LLDPDU from {src}: {e}")),
        };
        st.lldp_rx += 1;
        let peer_mode = if st.relay {
            EvbMode::Station
        } else {
            EvbMode::Bridge
        };
        let peer_was = st.peer_evb(peer_mode).copied();
        let at = st
            .neighbours
            .iter()
            .position(|n| n.du.chassis == du.chassis && n.du.port == du.port && n.to == to);
        if du.ttl == 0 {
            // Shutdown: the neighbour asks to be forgotten now.
            if let Some(i) = at {
                st.neighbours.remove(i);
            }
            return;
        }
        let expires_ms = now_ms + u64::from(du.ttl) * 1000;
        let evb_now = du.evb.filter(|e| e.mode == peer_mode);
        if to == NEAREST_CUSTOMER_BRIDGE && evb_now != peer_was {
            // What the peer said changes our EVB TLV (a station's RRSTAT,
            // a bridge's RRCTR): say so now, not in up to 30 s.
            st.next_tx_ms = now_ms;
        }
        match at {
            Some(i) => st.neighbours[i] = Neighbour { du, to, expires_ms },
            None if st.neighbours.len() >= MAX_NEIGHBOURS => {
                st.fail(format!(
                    "LLDPDU from {src}: a {}th neighbour on one port (at most {MAX_NEIGHBOURS} are kept)",
                    MAX_NEIGHBOURS + 1
                ));
            }
            None => {
                st.neighbours.push(Neighbour { du, to, expires_ms });
                // A new neighbour hears about us quickly (802.1AB's
                // newNeighbour: fast transmission again).
                st.fast_left = TX_FAST;
                st.next_tx_ms = now_ms;
            }
        }
    }

    /// The EVB TLV the peer on a port's other end last sent, if any: a
    /// bridge's on an uplink, a station's on a relay port.
    pub fn peer_evb(&self, switch: &str, port: &str) -> Option<EvbTlv> {
        let st = self.ports.get(&(switch.to_string(), port.to_string()))?;
        let mode = if st.relay {
            EvbMode::Station
        } else {
            EvbMode::Bridge
        };
        st.peer_evb(mode).copied()
    }

    /// Uplinks whose reflective relay state (or policy) changed since the
    /// last call.
    pub fn relay_changes(&mut self) -> Vec<RelayChange> {
        let mut out = Vec::new();
        for ((s, p), st) in &mut self.ports {
            if st.relay {
                continue;
            }
            let now = (st.relay_state(), st.policy);
            if st.relay_logged.as_ref() != Some(&now) {
                st.relay_logged = Some(now.clone());
                let (now, _) = now;
                out.push(RelayChange {
                    switch: s.clone(),
                    port: p.clone(),
                    state: now,
                    needed: st.rr_request,
                    policy: st.policy,
                });
            }
        }
        out
    }

    /// What a switch's 802.1Qbg settings follow now: whether its uplink's
    /// bridge reflects (EVB granted, or the probe came back), and which of
    /// its relay ports' stations ask for relay. `port_id` names the ports.
    pub fn facts(&self, switch: &str, port_id: impl Fn(&str) -> Option<PortId>) -> LinkFacts {
        let mut f = LinkFacts::default();
        for ((s, p), st) in self.ports.range((switch.to_string(), String::new())..) {
            if s != switch {
                break;
            }
            if !st.relay {
                f.relay_granted = evb::reflects(&st.relay_state());
                continue;
            }
            let Some(id) = port_id(p) else { continue };
            if st.peer_evb(EvbMode::Station).is_some_and(|e| e.rrreq) {
                f.relay_requested.push(id);
            }
            f.vdp_associated.extend(
                st.bridge
                    .associated()
                    .into_iter()
                    .map(|(mac, vid)| (id, mac, vid)),
            );
        }
        f
    }

    /// VDP's and ECP's work that is due: a station's associations (once a
    /// bridge's EVB TLV was heard: lldpad's VDP runs on the timers it
    /// gives), keep-alives, a bridge's expiries, and the ECP data units
    /// that may go now, into the outbox.
    pub fn vdp_step(&mut self, now_ms: u64) {
        for ((s, p), st) in &mut self.ports {
            let t = st.timers();
            let pdus = if st.relay {
                st.bridge.expire(&t, now_ms)
            } else if st.bridge_evb().is_some() {
                if st.ecp.gave_up != st.gave_up_seen {
                    st.gave_up_seen = st.ecp.gave_up;
                    st.station.unacknowledged(now_ms);
                }
                let mut v = st.station.follow(&st.wants, &t, now_ms);
                v.extend(st.station.due(&t, now_ms));
                v
            } else {
                Vec::new()
            };
            for pdu in pdus {
                if !st.ecp.send(pdu.to_bytes()) {
                    st.fail("VDP: ECP queue full; a request was dropped".into());
                }
            }
            while let Some((h, payload)) = st.ecp.poll(now_ms, t.retries, t.rte) {
                let f = h.frame(NEAREST_CUSTOMER_BRIDGE, super::agent_mac(s, p), &payload);
                self.outbox.push((s.clone(), p.clone(), f));
            }
        }
    }

    /// When ECP next needs the agent (ms), if it does.
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.ports.values().filter_map(|st| st.ecp.next_ms()).min()
    }

    /// Frames to send now, and forgets them.
    pub fn take_outbox(&mut self) -> Vec<(String, String, Vec<u8>)> {
        std::mem::take(&mut self.outbox)
    }

    /// Every agent port's VDP, as `vepa vdp show` lists it.
    pub fn vdp_view(&self) -> Vec<VdpPortView> {
        self.ports
            .iter()
            .map(|((s, p), st)| VdpPortView {
                switch: s.clone(),
                port: p.clone(),
                role: if st.relay { "bridge" } else { "station" }.into(),
                enforce: st.relay && st.vdp_enforce,
                vsis: if st.relay {
                    st.bridge.view()
                } else {
                    st.station.view()
                },
                ecp_tx: st.ecp.tx,
                ecp_retransmits: st.ecp.retransmits,
                ecp_acked: st.ecp.acked,
                ecp_gave_up: st.ecp.gave_up,
                ecp_rx: st.ecp.rx,
                ecp_duplicates: st.ecp.duplicates,
                vdp_errors: st.vdp_errors,
                refused: if st.relay {
                    st.bridge.refused
                } else {
                    st.station.refused
                },
            })
            .collect()
    }

    /// Starts a relay probe on an uplink now; the frames to send on it.
    pub fn start_relay_probe(
        &mut self,
        switch: &str,
        port: &str,
        now_ms: u64,
    ) -> Option<Vec<Vec<u8>>> {
        let st = self
            .ports
            .get_mut(&(switch.to_string(), port.to_string()))?;
        if st.relay {
            return None;
        }
        Some(st.probe.start(switch, now_ms))
    }

    /// Uplinks due for a relay probe: they need relay, no EVB peer speaks
    /// for the bridge, and the last probe is old. Notes each as started;
    /// the frames to send on each.
    pub fn probes_due(&mut self, now_ms: u64) -> Vec<(String, String, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for ((s, p), st) in &mut self.ports {
            if st.relay || !st.rr_request || st.bridge_evb().is_some() {
                continue;
            }
            if st.probe.due(now_ms) {
                out.push((s.clone(), p.clone(), st.probe.start(s, now_ms)));
            }
        }
        out
    }

    /// A probe's outcome on an uplink once it has one, if it started at
    /// or after `since_ms`: reflecting or not.
    pub fn probe_outcome(&self, switch: &str, port: &str, since_ms: u64) -> Option<bool> {
        let st = self.ports.get(&(switch.to_string(), port.to_string()))?;
        st.probe.outcome_since(since_ms)
    }

    /// A probe unanswered for long enough did not come back.
    pub fn expire_probes(&mut self, now_ms: u64) {
        for st in self.ports.values_mut() {
            st.probe.expire(now_ms);
        }
    }

    /// Forgets neighbours past their TTL, and expires probes.
    pub fn age(&mut self, now_ms: u64) {
        self.expire_probes(now_ms);
        for st in self.ports.values_mut() {
            let before = st.neighbours.len();
            st.neighbours.retain(|n| n.expires_ms > now_ms);
            st.aged_out += (before - st.neighbours.len()) as u64;
        }
    }

    /// Whether an LLDPDU is due on the port now; if so, notes it as sent
    /// and schedules the next.
    pub fn due(&mut self, switch: &str, port: &str, now_ms: u64) -> bool {
        let Some(st) = self.ports.get_mut(&(switch.to_string(), port.to_string())) else {
            return false;
        };
        if now_ms < st.next_tx_ms {
            return false;
        }
        st.lldp_tx += 1;
        st.next_tx_ms = if st.fast_left > 0 {
            st.fast_left -= 1;
            now_ms + 1000
        } else {
            now_ms + TX_INTERVAL_S * 1000
        };
        true
    }

    /// Every agent port, as the API shows it; `over_budget` gives the
    /// frames each dropped before the agent could read them.
    pub fn view(&self, now_ms: u64, over_budget: impl Fn(&str, &str) -> u64) -> Vec<LinkPortView> {
        self.ports
            .iter()
            .map(|((s, p), st)| LinkPortView {
                switch: s.clone(),
                port: p.clone(),
                role: if st.relay { "relay" } else { "uplink" }.into(),
                reflective_relay: if st.relay {
                    let asked = st.peer_evb(EvbMode::Station).is_some_and(|e| e.rrreq);
                    Some(evb::relay_port_state(st.on_request, asked).to_string())
                } else {
                    Some(st.relay_state())
                },
                relay_required: (!st.relay && st.rr_request).then(|| st.policy.as_str().into()),
                probe: st.probe.view(now_ms),
                lldp_tx: st.lldp_tx,
                lldp_rx: st.lldp_rx,
                rx_errors: st.rx_errors,
                last_error: st.last_error.clone(),
                rx_over_budget: over_budget(s, p),
                aged_out: st.aged_out,
                neighbours: st
                    .neighbours
                    .iter()
                    .map(|n| neighbour_view(n, n.expires_ms.saturating_sub(now_ms) / 1000))
                    .collect(),
            })
            .collect()
    }
}

fn neighbour_view(n: &Neighbour, expires_in: u64) -> LldpNeighbour {
    let du = &n.du;
    LldpNeighbour {
        agent: match n.to {
            NEAREST_BRIDGE => "nearest bridge".into(),
            NEAREST_CUSTOMER_BRIDGE => "nearest customer bridge".into(),
            NEAREST_NON_TPMR_BRIDGE => "nearest non-TPMR bridge".into(),
            other => other.to_string(),
        },
        chassis_id: du.chassis.display(),
        chassis_subtype: du.chassis.subtype,
        port_id: du.port.display(),
        port_subtype: du.port.subtype,
        ttl: du.ttl,
        expires_in,
        system_name: du.system_name.clone(),
        system_description: du.system_description.clone(),
        port_description: du.port_description.clone(),
        management: du.management.iter().map(|m| m.display()).collect(),
        evb: du.evb.map(|e| EvbView {
            mode: match e.mode {
                EvbMode::Bridge => "bridge",
                EvbMode::Station => "station",
                EvbMode::NotSupported => "none",
                EvbMode::Reserved => "reserved",
            }
            .into(),
            rrcap: e.rrcap,
            rrctr: e.rrctr,
            rrreq: e.rrreq,
            rrstat: match e.rrstat {
                RrStatus::Off => "off",
                RrStatus::On => "on",
                RrStatus::Unknown => "unknown",
                RrStatus::Reserved => "reserved",
            }
            .into(),
            ecp_retries: e.retries,
            ecp_rte: e.rte,
            vdp_rwd: e.rwd,
            vdp_rka: e.rka,
        }),
    }
}

/// An uplink's reflective relay state, changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayChange {
    pub switch: String,
    pub port: String,
    pub state: String,
    /// The switch has ports that need relay (`vepa`, `private`).
    pub needed: bool,
    pub policy: RelayRequired,
}
