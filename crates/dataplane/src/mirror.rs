//! Port mirroring (SPAN and RSPAN), as Open vSwitch's mirrors do it: a
//! mirror selects the frames some ports receive, send or both (and, if it
//! says so, only those in some VLANs), and sends one copy of each to its
//! output: a monitor port (SPAN), or the uplink tagged with a VLAN of its
//! own (RSPAN, for an analyzer elsewhere on the fabric).
//!
//! A frame a mirror selects several times (received on one selected port
//! and sent to another) is copied once. A copy received on a selected port
//! is the frame as it came in, tagged as it came in; a copy sent to one is
//! the copy as it left. A monitor port is the mirror's alone: nothing is
//! forwarded to it and what it sends is dropped (`mirror_port`), so the
//! analyzer sees each frame once and cannot inject into the switch.
//! Mirrors run after the filters: an outbound list's drop is not mirrored
//! as sent; an inbound drop is mirrored as received (the port did send it).

use crate::config::{MirrorConfig, MirrorOutput};
use crate::counters::PortCounters;
use crate::parsed::Parsed;
use crate::{ConfigError, Egress, PortId, SwitchConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Whether `cfg`'s mirrors can run (ports that exist, an output that is
/// not watched and not the uplink, VLANs in range), as the switch checks
/// them when it is made.
pub fn check(cfg: &SwitchConfig) -> Result<(), ConfigError> {
    Mirrors::new(cfg).map(|_| ())
}

/// What a mirror sent, counted across snapshots.
#[derive(Debug, Default)]
pub struct MirrorStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

/// A mirror as the switch runs it: ports by index.
#[derive(Debug)]
pub(crate) struct Mirror {
    pub name: String,
    /// Per port: copy what it receives / what it sends.
    select_in: Vec<bool>,
    select_out: Vec<bool>,
    vlans: Vec<u16>,
    /// Where copies go, and with which tag (`None`: as the frame has it).
    port: PortId,
    tag: Option<u16>,
    pub stats: Arc<MirrorStats>,
}

/// A switch's mirrors, resolved.
#[derive(Debug, Default)]
pub(crate) struct Mirrors {
    pub list: Vec<Mirror>,
    /// Per port: a monitor port (a SPAN mirror's output).
    pub monitor: Vec<bool>,
}

impl Mirrors {
    pub fn new(cfg: &SwitchConfig) -> Result<Mirrors, ConfigError> {
        let n = cfg.ports.len();
        let mut m = Mirrors {
            list: Vec::new(),
            monitor: vec![false; n],
        };
        let err =
            |mirror: &MirrorConfig, field: &'static str, problem: String| ConfigError::Invalid {
                switch: cfg.name.clone(),
                port: String::new(),
                field,
                problem: format!("mirror '{}': {problem}", mirror.name),
            };
        for mc in &cfg.mirrors {
            let id = |name: &str, field| {
                cfg.port_id(name)
                    .ok_or_else(|| err(mc, field, format!("no port '{name}' on this switch")))
            };
            let mut select_in = vec![false; n];
            let mut select_out = vec![false; n];
            for p in &mc.select_in {
                select_in[id(p, "mirror.select")?.index()] = true;
            }
            for p in &mc.select_out {
                select_out[id(p, "mirror.select")?.index()] = true;
            }
            let (port, tag) = match &mc.output {
                MirrorOutput::Port(p) => {
                    let port = id(p, "mirror.output")?;
                    if Some(port) == cfg.uplink() {
                        return Err(err(
                            mc,
                            "mirror.output",
                            format!("'{p}' is the uplink, which forwards; to mirror onto the uplink give output_vlan (RSPAN)"),
                        ));
                    }
                    if select_in[port.index()] || select_out[port.index()] {
                        return Err(err(
                            mc,
                            "mirror.output",
                            format!("'{p}' is also selected; a mirror cannot watch its own output"),
                        ));
                    }
                    m.monitor[port.index()] = true;
                    (port, None)
                }
                MirrorOutput::UplinkVlan(vid) => {
                    let Some(up) = cfg.uplink() else {
                        return Err(err(
                            mc,
                            "mirror.output_vlan",
                            "RSPAN sends copies up the uplink, and this switch has none".into(),
                        ));
                    };
                    if !(1..=4094).contains(vid) {
                        return Err(err(
                            mc,
                            "mirror.output_vlan",
                            format!("VLAN ID {vid} is out of range; expected 1 to 4094"),
                        ));
                    }
                    (up, Some(*vid))
                }
            };
            if mc.vlans.iter().any(|v| !(1..=4094).contains(v)) {
                return Err(err(
                    mc,
                    "mirror.vlans",
                    "VLAN IDs run from 1 to 4094".into(),
                ));
            }
            if m.list.iter().any(|o| o.name == mc.name) {
                return Err(err(mc, "mirror.name", "two mirrors have this name".into()));
            }
            m.list.push(Mirror {
                name: mc.name.clone(),
                select_in,
                select_out,
                vlans: mc.vlans.clone(),
                port,
                tag,
                stats: Arc::default(),
            });
        }
        for mir in &m.list {
            if m.monitor
                .iter()
                .enumerate()
                .any(|(i, &mon)| mon && (mir.select_in[i] || mir.select_out[i]))
            {
                return Err(ConfigError::Invalid {
                    switch: cfg.name.clone(),
                    port: String::new(),
                    field: "mirror.select",
                    problem: format!(
                        "mirror '{}' selects another mirror's monitor port, which forwards nothing",
                        mir.name
                    ),
                });
            }
        }
        Ok(m)
    }

    /// Keeps the counts of mirrors `old` had by the same name.
    pub fn adopt_stats(&mut self, old: &Mirrors) {
        for m in &mut self.list {
            if let Some(o) = old.list.iter().find(|o| o.name == m.name) {
                m.stats = Arc::clone(&o.stats);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether `port` is a monitor port.
    pub fn is_monitor(&self, port: PortId) -> bool {
        self.monitor.get(port.index()).copied().unwrap_or(false)
    }

    /// Takes monitor ports out of `egress` (uncounting them) and adds each
    /// mirror's copy of a frame received on `in_port` in VLAN `vid`
    /// (counting it on its output port).
    pub fn apply(
        &self,
        counters: &mut [PortCounters],
        in_port: PortId,
        vid: Option<u16>,
        frame: &Parsed<'_>,
        egress: &mut Vec<Egress>,
    ) {
        let untagged = frame.len() as u64 - if frame.vlan().is_some() { 4 } else { 0 };
        let len = |tag: Option<u16>| untagged + if tag.is_some() { 4 } else { 0 };
        egress.retain(|e| {
            if !self.is_monitor(e.port) {
                return true;
            }
            if let Some(c) = counters.get_mut(e.port.index()) {
                c.tx_frames = c.tx_frames.saturating_sub(1);
                c.tx_bytes = c.tx_bytes.saturating_sub(len(e.tag));
            }
            false
        });
        let sent = egress.len();
        for m in &self.list {
            if !m.vlans.is_empty() && !vid.is_some_and(|v| m.vlans.contains(&v)) {
                continue;
            }
            let copy = if m.select_in.get(in_port.index()).copied().unwrap_or(false) {
                Some(Egress {
                    port: m.port,
                    tag: m.tag.or(frame.vid()),
                    rewrite: 0,
                })
            } else {
                egress[..sent]
                    .iter()
                    .find(|e| m.select_out.get(e.port.index()).copied().unwrap_or(false))
                    .map(|e| Egress {
                        port: m.port,
                        tag: m.tag.or(e.tag),
                        rewrite: e.rewrite,
                    })
            };
            let Some(copy) = copy else {
                continue;
            };
            let bytes = len(copy.tag);
            if let Some(c) = counters.get_mut(copy.port.index()) {
                c.tx_frames += 1;
                c.tx_bytes += bytes;
            }
            m.stats.packets.fetch_add(1, Ordering::Relaxed);
            m.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
            egress.push(copy);
        }
    }
}
