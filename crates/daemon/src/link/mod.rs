//! The link agent: LLDP (IEEE 802.1AB) on every port that faces another
//! bridge, an uplink or a relay port, so an operator sees who is on the
//! other end of each, and 802.1Qbg's EVB TLV in it, so the uplink learns
//! whether the adjacent bridge reflects frames (reflective relay) and a
//! relay port turns relay on for a station that asks. Where no EVB peer
//! answers, a probe (`probe`) finds out whether the bridge reflects.
//!
//! The forwarding threads hand it the link protocols' frames (never
//! forwarded; see `vepa_dataplane::storm::is_link_protocol`) through a
//! bounded inbox; it keeps a neighbour table with ageing and sends its own
//! LLDPDUs: four a second apart when a port starts or a new neighbour
//! appears, then one every 30 s (802.1AB's txFast and msgTxInterval).
//!
//! The table is pure ([`LinkTable`]): frames and the clock go in, views and
//! facts come out, so it is tested without a network. The thread
//! ([`spawn`]) does the I/O: it reads the inbox, and once a second asks the
//! engine which ports the agent runs on, sends what is due, and hands the
//! engine what the switches' 802.1Qbg settings follow.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vepa_api::topology::RelayRequired;
use vepa_io::LinkInbox;

mod ecp;
mod evb;
mod probe;
mod table;
mod vdp;
pub use table::{LinkTable, RelayChange, Role};
pub use vdp::VsiWant;
use vepa_packet::lldp::{EvbTlv, LldpId, Lldpdu, NEAREST_BRIDGE, NEAREST_CUSTOMER_BRIDGE};
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
/// How long a relay probe the API asked for may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(probe::WAIT_MS + 400);

/// A port the agent runs on, as the engine has it now.
#[derive(Clone)]
pub struct AgentPort {
    pub switch: String,
    pub port: String,
    pub id: vepa_dataplane::PortId,
    /// A relay port: the agent is the bridge for the station behind it.
    pub relay: bool,
    /// A relay port with `relay = "evb"`: relay follows the station's request.
    pub on_request: bool,
    /// An uplink of a switch with `vepa` or `private` ports: it asks the
    /// adjacent bridge for reflective relay (EVB TLV, RRREQ).
    pub rr_request: bool,
    /// The switch's `relay_required`.
    pub policy: RelayRequired,
    /// Send LLDPDUs (the switch's `lldp`); received ones are read either way.
    pub lldp: bool,
    /// On an uplink: the VMs to associate with the bridge over VDP.
    pub vsis: Vec<VsiWant>,
    /// On a relay port: `vdp_enforce`.
    pub vdp_enforce: bool,
    pub device: Arc<dyn vepa_io::Port>,
}

/// The source address of what the agent sends on a port (LLDPDUs, ECP):
/// stable per port, locally administered, from the switch and port names.
pub fn agent_mac(switch: &str, port: &str) -> MacAddr {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (switch, port).hash(&mut h);
    MacAddr::local_from_seed(h.finish() as u32)
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
    let src = agent_mac(&p.switch, &p.port);
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
                // ECP's timers are milliseconds: wake for them too.
                let wait = {
                    let t = lock(&table);
                    let now = t.clock_ms();
                    let ecp = t.next_wake_ms().map(|at| at.saturating_sub(now));
                    let tick = next_tick.saturating_duration_since(Instant::now());
                    ecp.map_or(tick, |ms| tick.min(Duration::from_millis(ms)))
                };
                if let Some(f) = inbox.pop(wait) {
                    let now = lock(&table).clock_ms();
                    let from = known
                        .iter()
                        .find(|(s, _, id)| **s == *f.switch && *id == f.port);
                    if let Some((s, p, _)) = from {
                        lock(&table).receive(s, p, &f.frame, now);
                    }
                }
                let out = {
                    let mut t = lock(&table);
                    let now = t.clock_ms();
                    t.vdp_step(now);
                    t.take_outbox()
                };
                if !out.is_empty() {
                    with_ports(&mut |ports| send_all(ports, &out));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the link agent; no LLDP");
    }
}

/// Says what a change of reflective relay on an uplink means: a switch
/// with `vepa` or `private` ports whose bridge does not reflect cannot
/// switch VM to VM, and that must not be silent (unless the switch says
/// `relay_required = "ignore"`). With `fallback-veb` it says that the
/// switch now switches locally, or is back to pure VEPA.
fn log_relay(c: &RelayChange) {
    let (switch, port, state) = (&c.switch, &c.port, &c.state);
    if !c.needed || c.policy == RelayRequired::Ignore {
        tracing::debug!(%switch, %port, %state, "reflective relay");
        return;
    }
    let fallback = c.policy == RelayRequired::FallbackVeb;
    if evb::reflects(state) {
        if fallback {
            tracing::info!(%switch, %port, %state, "the adjacent bridge reflects: back to pure VEPA (relay_required = \"fallback-veb\")");
        } else {
            tracing::info!(%switch, %port, %state, "the adjacent bridge reflects frames (reflective relay)");
        }
    } else if state == "no EVB peer" {
        if fallback {
            tracing::info!(%switch, %port, "no 802.1Qbg EVB peer on the uplink yet: frames between vepa ports are switched locally until the bridge grants reflective relay or the probe sees it reflect (relay_required = \"fallback-veb\")");
        } else {
            tracing::info!(%switch, %port, "no 802.1Qbg EVB peer on the uplink: whether the adjacent bridge reflects frames is unknown until the probe runs");
        }
    } else if fallback {
        tracing::warn!(%switch, %port, %state, "the adjacent bridge does not reflect: frames between this switch's vepa ports are switched locally until it does (relay_required = \"fallback-veb\")");
    } else {
        tracing::warn!(%switch, %port, %state, "the adjacent bridge does not reflect: frames between this switch's vepa ports will not come back, so its VMs cannot reach each other (relay_required = \"warn\"; \"fallback-veb\" would switch them locally)");
    }
}

/// Sends frames the table made (ECP, VDP) on their ports; a port gone
/// meanwhile drops its frames.
fn send_all(ports: &[AgentPort], frames: &[(String, String, Vec<u8>)]) {
    for (s, port, f) in frames {
        let Some(p) = ports.iter().find(|p| p.switch == *s && p.port == *port) else {
            continue;
        };
        if let Err(e) = p.device.send(&Default::default(), f) {
            tracing::debug!(switch = %s, port = %port, error = %e, "link agent frame not sent");
        }
    }
}

/// What [`LinkTable::follow`] takes of the ports.
pub fn roles(ports: &[AgentPort]) -> Vec<Role> {
    ports
        .iter()
        .map(|p| Role {
            switch: p.switch.clone(),
            port: p.port.clone(),
            relay: p.relay,
            on_request: p.on_request,
            rr_request: p.rr_request,
            policy: p.policy,
            vsis: p.vsis.clone(),
            vdp_enforce: p.vdp_enforce,
        })
        .collect()
}

/// One second of the agent: follow the ports, age neighbours and probes,
/// send the LLDPDUs and probes that are due.
fn tick(host: &str, ports: &[AgentPort], table: &Mutex<LinkTable>) {
    let frames: Vec<(&AgentPort, Vec<Vec<u8>>)> = {
        let mut t = lock(table);
        let now = t.clock_ms();
        t.follow(&roles(ports), now);
        t.age(now);
        for c in t.relay_changes() {
            log_relay(&c);
        }
        let mut out = Vec::new();
        for p in ports.iter().filter(|p| p.lldp) {
            if t.due(&p.switch, &p.port, now) {
                let peer = t.peer_evb(&p.switch, &p.port);
                out.push((p, lldp_frames(host, p, peer.as_ref())));
            }
        }
        for (s, port, frames) in t.probes_due(now) {
            if let Some(p) = ports.iter().find(|p| p.switch == s && p.port == port) {
                out.push((p, frames));
            }
        }
        out
    };
    for (p, frames) in frames {
        for f in frames {
            if let Err(e) = p.device.send(&Default::default(), &f) {
                tracing::debug!(switch = %p.switch, port = %p.port, error = %e, "link agent frame not sent");
            }
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
