//! The link agent: LLDP (IEEE 802.1AB) on every port that faces another
//! bridge, an uplink or a relay port, so an operator sees who is on the
//! other end of each. The forwarding threads hand it the link protocols'
//! frames (never forwarded; see `vepa_dataplane::storm::is_link_protocol`)
//! through a bounded inbox; it keeps a neighbour table with ageing and
//! sends its own LLDPDUs: four a second apart when a port starts or a new
//! neighbour appears, then one every 30 s (802.1AB's txFast and
//! msgTxInterval).
//!
//! The table is pure ([`LinkTable`]): frames and the clock go in, views come
//! out, so it is tested without a network. The thread ([`spawn`]) does the
//! I/O: it reads the inbox, and once a second asks the engine which ports
//! the agent runs on and sends what is due.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vepa_api::wire::{EvbView, LinkPortView, LldpNeighbour};
use vepa_io::LinkInbox;

mod evb;
use vepa_packet::lldp::{
    EvbMode, EvbTlv, LldpId, Lldpdu, RrStatus, LLDP_ETHERTYPE, NEAREST_BRIDGE,
    NEAREST_CUSTOMER_BRIDGE, NEAREST_NON_TPMR_BRIDGE,
};
use vepa_packet::MacAddr;

/// Seconds between LLDPDUs once settled (msgTxInterval).
pub const TX_INTERVAL_S: u64 = 30;
/// LLDPDUs sent a second apart when a port starts or a neighbour appears
/// (txFastInit).
pub const TX_FAST: u32 = 4;
/// The TTL vepa announces: four intervals (msgTxHold × msgTxInterval).
pub const TTL_S: u16 = 120;
/// Neighbours one port keeps at most: a peer inventing chassis IDs fills
/// its own port's table, nothing else.
pub const MAX_NEIGHBOURS: usize = 8;

/// A port the agent runs on, as the engine has it now.
#[derive(Clone)]
pub struct AgentPort {
    pub switch: String,
    pub port: String,
    pub id: vepa_dataplane::PortId,
    pub relay: bool,
    /// An uplink of a switch with `vepa` or `private` ports: it asks the
    /// adjacent bridge for reflective relay (EVB TLV, RRREQ).
    pub rr_request: bool,
    pub device: Arc<dyn vepa_io::Port>,
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
    rr_request: bool,
    lldp_tx: u64,
    lldp_rx: u64,
    rx_errors: u64,
    last_error: Option<String>,
    aged_out: u64,
    neighbours: Vec<Neighbour>,
    /// The reflective relay state last logged (uplinks).
    relay_logged: Option<&'static str>,
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
    epoch: Instant,
}

impl Default for LinkTable {
    fn default() -> Self {
        LinkTable {
            ports: BTreeMap::new(),
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
    /// `ports`: switch, port, relay port?, asks for reflective relay?
    pub fn follow(&mut self, ports: &[(String, String, bool, bool)], now_ms: u64) {
        self.ports
            .retain(|k, _| ports.iter().any(|(s, p, _, _)| (s, p) == (&k.0, &k.1)));
        for (s, p, relay, rr_request) in ports {
            let st = self
                .ports
                .entry((s.clone(), p.clone()))
                .or_insert_with(|| PortState {
                    next_tx_ms: now_ms,
                    fast_left: TX_FAST,
                    ..PortState::default()
                });
            st.relay = *relay;
            st.rr_request = *rr_request;
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

    /// Uplinks whose reflective relay state changed since the last call:
    /// switch, port, the new state, and whether the switch needs relay.
    pub fn relay_changes(&mut self) -> Vec<(String, String, &'static str, bool)> {
        let mut out = Vec::new();
        for ((s, p), st) in &mut self.ports {
            if st.relay {
                continue;
            }
            let now = evb::relay_state(st.rr_request, st.bridge_evb());
            if st.relay_logged != Some(now) {
                st.relay_logged = Some(now);
                out.push((s.clone(), p.clone(), now, st.rr_request));
            }
        }
        out
    }

    /// Forgets neighbours past their TTL.
    pub fn age(&mut self, now_ms: u64) {
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
                reflective_relay: (!st.relay)
                    .then(|| evb::relay_state(st.rr_request, st.bridge_evb()).to_string()),
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

/// This host's name, for the chassis ID and system name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vepa".into())
}

/// The LLDPDUs vepa sends on a port, as frames: one to the nearest bridge,
/// and one to the nearest customer bridge carrying the EVB TLV: on an
/// uplink a station's (asking for reflective relay if `rr_request`), on a
/// relay port a bridge's (relay capable, and on for a station that asks).
/// `peer` is the other end's last EVB TLV. The source address is stable
/// per port (locally administered, from the switch and port names).
pub fn lldp_frames(host: &str, p: &AgentPort, peer: Option<&EvbTlv>) -> Vec<Vec<u8>> {
    let mut du = Lldpdu::new(
        LldpId::local(host),
        LldpId {
            subtype: 5, // interface name
            id: format!("{}/{}", p.switch, p.port).into_bytes(),
        },
        TTL_S,
    );
    du.system_name = Some(host.to_string());
    du.system_description = Some(format!("vepa {}", env!("CARGO_PKG_VERSION")));
    du.port_description = Some(format!(
        "vepa switch {}, {} {}",
        p.switch,
        if p.relay { "relay port" } else { "uplink" },
        p.port
    ));
    let seed = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&p.switch, &p.port).hash(&mut h);
        h.finish() as u32
    };
    let src = MacAddr::local_from_seed(seed);
    let mut out: Vec<Vec<u8>> = du.frame(NEAREST_BRIDGE, src).into_iter().collect();
    du.evb = Some(if p.relay {
        evb::bridge(peer)
    } else {
        evb::station(p.rr_request, peer)
    });
    out.extend(du.frame(NEAREST_CUSTOMER_BRIDGE, src));
    out
}

/// Runs the agent until the process ends: reads `inbox` into `table`, and
/// once a second sends what is due. `with_ports` calls its argument with
/// the ports the agent runs on (the engine's uplinks and relay ports, with
/// their devices) while the engine cannot change them: a device is used
/// only then, never kept, so a port the engine replaces closes at once (a
/// VXLAN socket, a tap).
pub fn spawn(
    with_ports: impl Fn(&mut dyn FnMut(&[AgentPort])) + Send + 'static,
    inbox: Arc<LinkInbox>,
    table: Arc<Mutex<LinkTable>>,
) {
    let host = hostname();
    let spawned = std::thread::Builder::new()
        .name("vepa-link".into())
        .spawn(move || {
            // Which switch port each agent port is, for frames read
            // between ticks.
            let mut known: Vec<(String, String, vepa_dataplane::PortId)> = Vec::new();
            let mut next_tick = Instant::now();
            loop {
                // The tick first: a flood of frames must not stop our own
                // LLDPDUs (the inbox bounds what one port can queue).
                if Instant::now() >= next_tick {
                    next_tick = Instant::now() + Duration::from_secs(1);
                    with_ports(&mut |ports| {
                        known = ports
                            .iter()
                            .map(|p| (p.switch.clone(), p.port.clone(), p.id))
                            .collect();
                        tick(&host, ports, &table);
                    });
                }
                let wait = next_tick.saturating_duration_since(Instant::now());
                if let Some(f) = inbox.pop(wait) {
                    let now = lock(&table).clock_ms();
                    let from = known
                        .iter()
                        .find(|(s, _, id)| **s == *f.switch && *id == f.port);
                    if let Some((s, p, _)) = from {
                        lock(&table).receive(s, p, &f.frame, now);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the link agent; no LLDP");
    }
}

/// Says what a change of reflective relay on an uplink means: a switch
/// with `vepa` or `private` ports whose bridge refuses relay cannot switch
/// VM to VM, and that must not be silent.
fn log_relay(switch: &str, port: &str, state: &str, needed: bool) {
    match state {
        "granted" => {
            tracing::info!(%switch, %port, "reflective relay granted by the adjacent bridge (EVB)")
        }
        "no EVB peer" if needed => tracing::info!(
            %switch, %port,
            "no 802.1Qbg EVB peer on the uplink: whether the adjacent bridge reflects frames is unknown"
        ),
        s if needed && s.starts_with("refused") => tracing::warn!(
            %switch, %port, state = %s,
            "the adjacent bridge refuses reflective relay: frames between this switch's vepa ports will not come back"
        ),
        _ => tracing::debug!(%switch, %port, %state, "reflective relay"),
    }
}

/// What [`LinkTable::follow`] takes of the ports.
pub fn roles(ports: &[AgentPort]) -> Vec<(String, String, bool, bool)> {
    ports
        .iter()
        .map(|p| (p.switch.clone(), p.port.clone(), p.relay, p.rr_request))
        .collect()
}

/// One second of the agent: follow the ports, age neighbours, send the
/// LLDPDUs that are due.
fn tick(host: &str, ports: &[AgentPort], table: &Mutex<LinkTable>) {
    let frames: Vec<(&AgentPort, Vec<Vec<u8>>)> = {
        let mut t = lock(table);
        let now = t.clock_ms();
        t.follow(&roles(ports), now);
        t.age(now);
        for (s, p, state, needed) in t.relay_changes() {
            log_relay(&s, &p, state, needed);
        }
        let mut out = Vec::new();
        for p in ports {
            if t.due(&p.switch, &p.port, now) {
                let peer = t.peer_evb(&p.switch, &p.port);
                out.push((p, lldp_frames(host, p, peer.as_ref())));
            }
        }
        out
    };
    for (p, frames) in frames {
        for f in frames {
            if let Err(e) = p.device.send(&Default::default(), &f) {
                tracing::debug!(switch = %p.switch, port = %p.port, error = %e, "LLDPDU not sent");
            }
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
