//! What the engine shows of itself: counters per switch and port (the
//! `stats` every show command, `/v1/stats` and the metrics read), and the
//! link agent's ports and their neighbours.

use super::*;

impl Engine {
    pub fn stats(&self) -> Stats {
        let relay: HashMap<String, String> = self
            .link_view()
            .into_iter()
            .filter(|p| p.role == "uplink")
            .filter_map(|p| p.reflective_relay.map(|r| (p.switch, r)))
            .collect();
        let live = self.running.as_ref().map(|r| (r.live.sum(), &r.layout));
        let live_of = |si: usize, pi: usize, s: &str, p: &str| -> Option<PortCounters> {
            let (sum, layout) = live.as_ref()?;
            let (name, ports) = layout.get(si)?;
            (name == s && ports.get(pi).map(String::as_str) == Some(p))
                .then(|| sum.get(si).and_then(|v| v.get(pi)).cloned())
                .flatten()
        };
        let mut out = Stats::default();
        for (si, s) in self.desired.switches.iter().enumerate() {
            let core = self.cores.get(&s.name);
            out.switches.push(SwitchStats {
                switch: s.name.clone(),
                backend: match self.choices.get(&s.name) {
                    Some((true, _)) => "kernel".into(),
                    _ => "userspace".into(),
                },
                why: self
                    .choices
                    .get(&s.name)
                    .map(|(_, why)| why.clone())
                    .unwrap_or_default(),
                fdb_entries: core.map(|c| c.fdb().len()).unwrap_or(0),
                learning_events: core.map(|c| c.fdb().learning_events()).unwrap_or(0),
                mdb_memberships: core.map(|c| c.mdb().len()).unwrap_or(0),
                mdb_over_limit: core.map(|c| c.mdb().over_limit()).unwrap_or(0),
                flows: self.sdn.get(&s.name).map_or(0, |x| x.pipeline.len()),
                controller_connected: s
                    .openflow
                    .as_ref()
                    .and_then(|o| o.controller.as_ref())
                    .map(|_| self.sdn.get(&s.name).is_some_and(|x| x.controller_up)),
                openflow: self.openflow_channels(s),
                packet_in_dropped: self.packet_in.as_ref().map_or(0, |q| q.dropped(&s.name)),
                reflective_relay: relay.get(&s.name).cloned(),
                relay_fallback: core.is_some_and(|c| c.snapshot().falls_back()),
                // A kernel switch's devices are the truth (its core, if
                // any, forwards nothing).
                ipvlan: match self.choices.get(&s.name) {
                    Some((true, _)) => kernel_ipvlan_view(s),
                    _ => core.and_then(|c| ipvlan_view(c)),
                },
            });
            let names = s
                .uplink
                .iter()
                .chain(&s.ports)
                .map(|p| p.name.clone())
                .chain(
                    self.desired
                        .router_ports_on(&s.name)
                        .map(|(r, p)| switch_port_name(&r.name, &p.name)),
                );
            for (pi, port) in names.enumerate() {
                let key = (s.name.clone(), port.clone());
                let mut c = self.base.get(&key).cloned().unwrap_or_default();
                if let Some(l) = live_of(si, pi, &s.name, &port) {
                    c.add(&l);
                }
                let opened = self
                    .devices
                    .values()
                    .flat_map(|d| &d.ports)
                    .find(|(k, _)| *k == key)
                    .map(|(_, p)| p);
                let dev_key = format!("{}/{}", s.name, port);
                let kernel_unit = format!("kernel:{}", s.name);
                let state = self
                    .failed
                    .iter()
                    .find(|(k, (d, _))| {
                        **k == dev_key || **k == kernel_unit || d.members.contains(&key)
                    })
                    .map(|(_, (_, why))| format!("down: {why}"))
                    .unwrap_or_else(|| match opened.and_then(|p| p.status()) {
                        Some(s) => format!("up ({s})"),
                        None => "up".into(),
                    });
                let now = self.epoch.elapsed().as_millis() as u64;
                let blocked = self.cores.get(&s.name).and_then(|c| {
                    let id = c.snapshot().port_id(&port)?;
                    c.blocked_until(id, now)
                });
                let state = match blocked {
                    Some(until) => format!(
                        "blocked: BPDU guard ({} s left; `vepa port set {} {port} --bpdu-guard off` lifts it)",
                        (until - now).div_ceil(1000),
                        s.name
                    ),
                    None => state,
                };
                let mut drops: std::collections::BTreeMap<String, u64> = c
                    .drops()
                    .map(|(r, n)| (r.as_str().to_string(), n))
                    .collect();
                let mut kernel_drops = None;
                for (r, n) in opened.map(|p| p.device_drops()).unwrap_or_default() {
                    if r == vepa_io::KERNEL_DROPS {
                        kernel_drops = Some(n);
                    }
                    if n > 0 {
                        *drops.entry(r.to_string()).or_default() += n;
                    }
                }
                out.ports.push(PortStats {
                    switch: s.name.clone(),
                    port,
                    state,
                    rx_frames: c.rx_frames,
                    rx_bytes: c.rx_bytes,
                    tx_frames: c.tx_frames,
                    tx_bytes: c.tx_bytes,
                    tx_errors: c.tx_errors,
                    mac_limit_unlearned: c.mac_limit_unlearned,
                    drops,
                    kernel_drops,
                    bond: opened
                        .and_then(|p| vepa_io::BondPort::of(p.as_ref()))
                        .map(|b| bond_stats(&b.status())),
                });
            }
        }
        if let Some(r) = &self.running {
            let loads = r.live.workers();
            let published: Vec<u64> = loads
                .iter()
                .map(|w| w.published_ms)
                .filter(|&t| t > 0)
                .collect();
            if !published.is_empty() {
                out.as_of_ms = Some(published.iter().sum::<u64>() / published.len() as u64);
            }
            out.workers = r
                .live
                .workers()
                .iter()
                .enumerate()
                .map(|(i, w)| vepa_api::wire::WorkerStats {
                    worker: i,
                    busy_seconds: w.busy_ns as f64 / 1e9,
                    seconds: w.alive_ns as f64 / 1e9,
                    cache_hits: w.cache_hits,
                    cache_misses: w.cache_misses,
                })
                .collect();
        }
        out
    }

    /// The ports the link agent runs on: uplinks and relay ports of the
    /// switches with a userspace dataplane running, with their devices.
    pub fn link_agent_ports(&self) -> Vec<crate::link::AgentPort> {
        let mut out = Vec::new();
        for s in &self.desired.switches {
            if !self.cores.contains_key(&s.name) {
                continue;
            }
            // Port IDs count the uplink first, then the ports, as the
            // switch's configuration does.
            for (i, p) in s.uplink.iter().chain(&s.ports).enumerate() {
                let uplink = i == 0 && s.uplink.is_some();
                // A tunnel or a guest's socket faces no bridge of its own:
                // LLDP over a fabric would reach every host.
                let interface = !matches!(p.kind, PortKind::Vxlan | PortKind::VhostUser);
                if (!uplink && !p.relay.any()) || !interface {
                    continue;
                }
                let Some(device) = self.port_device(&s.name, &p.name) else {
                    continue;
                };
                // A VEPA or private port's VM-to-VM traffic needs the
                // adjacent bridge to reflect: the uplink asks for it.
                let reflects = |m: Option<vepa_api::topology::ModeName>| {
                    use vepa_api::topology::ModeName::{Private, Vepa};
                    matches!(m.unwrap_or(s.mode), Vepa | Private)
                };
                out.push(crate::link::AgentPort {
                    rr_request: uplink && s.ports.iter().any(|q| reflects(q.mode)),
                    switch: s.name.clone(),
                    port: p.name.clone(),
                    id: vepa_dataplane::PortId(i as u16),
                    relay: !uplink,
                    on_request: !uplink && p.relay == vepa_api::topology::Relay::Evb,
                    policy: s.relay_required,
                    lldp: s.lldp(),
                    vsis: if uplink {
                        self.vsi_wants(s)
                    } else {
                        Vec::new()
                    },
                    vdp_enforce: !uplink && p.vdp_enforce,
                    device,
                });
            }
        }
        out
    }

    /// Puts what the link agent knows in force on every switch it runs on
    /// (relay granted or not, stations asking for relay): a
    /// `fallback-veb` switch switches locally or stops (the agent logs
    /// that with the relay state), an `"evb"` relay port reflects or
    /// stops (logged here).
    pub fn apply_link_facts(&self) {
        let Some((_, table)) = &self.link else {
            return;
        };
        let t = crate::link::lock(table);
        for (name, core) in &self.cores {
            let fw = core.snapshot();
            let facts = t.facts(name, |p| fw.port_id(p));
            if core.set_link_facts(facts) {
                let now = core.snapshot();
                for (i, p) in now.ports.iter().enumerate() {
                    let id = vepa_dataplane::PortId(i as u16);
                    if p.relay_on_request && fw.relay_in_force(id) != now.relay_in_force(id) {
                        let on = if now.relay_in_force(id) { "on" } else { "off" };
                        tracing::info!(switch = %name, port = %p.name, relay = on, "reflective relay follows the station's EVB request");
                    }
                }
            }
        }
    }

    /// Sends a relay probe up `switch`'s uplink now; the uplink's name and
    /// when the probe started (on the agent's clock).
    pub fn start_relay_probe(&self, switch: &str) -> Result<(String, u64), ChangeError> {
        let s = self.switch_spec(switch)?;
        let refuse = |why: String| ChangeError::Conflict {
            field: "switch".into(),
            message: why,
        };
        let Some(up) = &s.uplink else {
            return Err(refuse(format!(
                "switch '{switch}' has no uplink: there is no adjacent bridge to probe"
            )));
        };
        let Some((_, table)) = &self.link else {
            return Err(refuse("this daemon runs no link agent".into()));
        };
        let ports = self.link_agent_ports();
        let Some(port) = ports.iter().find(|p| p.switch == switch && !p.relay) else {
            return Err(refuse(format!(
                "vepa's link agent does not run on switch '{switch}''s uplink '{}': it runs on interfaces of userspace switches (not a kernel switch, a vxlan or vhost-user uplink, or one whose device is down)",
                up.name
            )));
        };
        let mut t = crate::link::lock(table);
        let now = t.clock_ms();
        t.follow(&crate::link::roles(&ports), now);
        let frames = t
            .start_relay_probe(switch, &port.port, now)
            .ok_or_else(|| refuse(format!("uplink '{}' is not the link agent's", port.port)))?;
        drop(t);
        for f in frames {
            port.device
                .send(&Default::default(), &f)
                .map_err(|e| refuse(format!("cannot send the probe on '{}': {e}", port.port)))?;
        }
        Ok((port.port.clone(), now))
    }

    /// The outcome of the relay probe started at `since_ms` on `switch`'s
    /// `uplink`, once known, with the agent's clock now.
    pub fn relay_probe_outcome(
        &self,
        switch: &str,
        uplink: &str,
        since_ms: u64,
    ) -> (Option<bool>, u64) {
        let Some((_, table)) = &self.link else {
            return (Some(false), since_ms);
        };
        let mut t = crate::link::lock(table);
        let now = t.clock_ms();
        t.expire_probes(now);
        (t.probe_outcome(switch, uplink, since_ms), now)
    }

    /// The VMs of switch `s` that its uplink associates over VDP: each
    /// port with a `vsi`, its guest's MAC, and the VLAN its frames carry
    /// on the uplink (0 when they leave untagged).
    fn vsi_wants(&self, s: &vepa_api::topology::SwitchSpec) -> Vec<crate::link::VsiWant> {
        let fw = self.cores.get(&s.name).map(|c| c.snapshot());
        let uplink_vlan = fw
            .as_ref()
            .and_then(|fw| Some(fw.ports.get(fw.uplink()?.index())?.vlan.clone()));
        s.ports
            .iter()
            .filter_map(|p| {
                let v = p.vsi.as_ref()?;
                let vid = p.vlan.or(p.native_vlan).unwrap_or(1);
                let wire = uplink_vlan
                    .as_ref()
                    .and_then(|m| vepa_dataplane::egress_tag(m, vid))
                    .flatten()
                    .unwrap_or(0);
                Some(crate::link::VsiWant {
                    port: p.name.clone(),
                    mac: p.guest_mac(&s.name),
                    vid: wire,
                    type_id: v.type_id,
                    version: v.version,
                    uuid: v.uuid_bytes()?,
                })
            })
            .collect()
    }

    /// Every agent port's VDP (empty without an agent).
    pub fn vdp_view(&self) -> Vec<vepa_api::wire::VdpPortView> {
        let Some((_, table)) = &self.link else {
            return Vec::new();
        };
        let ports = self.link_agent_ports();
        let mut t = crate::link::lock(table);
        let now = t.clock_ms();
        t.follow(&crate::link::roles(&ports), now);
        t.vdp_view()
    }

    /// Every agent port with its neighbours (empty without an agent).
    pub fn link_view(&self) -> Vec<vepa_api::wire::LinkPortView> {
        let Some((inbox, table)) = &self.link else {
            return Vec::new();
        };
        let ports = self.link_agent_ports();
        let mut t = crate::link::lock(table);
        let now = t.clock_ms();
        // The ports as they are now, even before the agent's next tick.
        t.follow(&crate::link::roles(&ports), now);
        let ids: std::collections::BTreeMap<(String, String), vepa_dataplane::PortId> = ports
            .into_iter()
            .map(|p| ((p.switch, p.port), p.id))
            .collect();
        t.view(now, |s, p| {
            ids.get(&(s.to_string(), p.to_string()))
                .map_or(0, |id| inbox.dropped(s, *id))
        })
    }

    /// Every mirror of the desired state with what it has sent.
    pub fn mirror_views(&self) -> Vec<vepa_api::wire::MirrorView> {
        let mut v = Vec::new();
        for s in &self.desired.switches {
            let stats = self
                .cores
                .get(&s.name)
                .map(|c| c.snapshot().mirror_stats())
                .unwrap_or_default();
            for m in &s.mirrors {
                let (packets, bytes) = stats
                    .iter()
                    .find(|(n, _, _)| *n == m.name)
                    .map_or((0, 0), |(_, p, b)| (*p, *b));
                v.push(vepa_api::wire::MirrorView {
                    switch: s.name.clone(),
                    mirror: m.clone(),
                    packets,
                    bytes,
                });
            }
        }
        v
    }

    /// Every switch's IPFIX export with what it did.
    pub fn ipfix_views(&self) -> Vec<vepa_api::wire::IpfixView> {
        use vepa_dataplane::export::IpfixStats;
        let mut v = Vec::new();
        for s in &self.desired.switches {
            let Some(spec) = &s.ipfix else { continue };
            let export = self
                .cores
                .get(&s.name)
                .and_then(|c| c.snapshot().ipfix().cloned());
            let get = |f: fn(&IpfixStats) -> &std::sync::atomic::AtomicU64| {
                export.as_ref().map_or(0, |e| IpfixStats::get(f(&e.stats)))
            };
            v.push(vepa_api::wire::IpfixView {
                switch: s.name.clone(),
                ipfix: spec.clone(),
                observation_domain: spec
                    .observation_domain
                    .unwrap_or_else(|| vepa_api::topology::ipfix_domain_of(&s.name)),
                sampled_packets: get(|s| &s.sampled),
                records: get(|s| &s.records),
                exported: get(|s| &s.exported),
                dropped: get(|s| &s.dropped),
                messages: get(|s| &s.messages),
                send_errors: get(|s| &s.send_errors),
            });
        }
        v
    }
}

/// A bond's state as the API shows it.
fn bond_stats(b: &vepa_io::BondStatus) -> vepa_api::wire::BondStats {
    use vepa_dataplane::lacp::{Mux, Receive};
    use vepa_packet::lacp::LacpState;
    let flags = |s: LacpState| -> Vec<String> {
        [
            (LacpState::ACTIVITY, "activity"),
            (LacpState::TIMEOUT, "timeout"),
            (LacpState::AGGREGATION, "aggregation"),
            (LacpState::SYNCHRONIZATION, "synchronization"),
            (LacpState::COLLECTING, "collecting"),
            (LacpState::DISTRIBUTING, "distributing"),
            (LacpState::DEFAULTED, "defaulted"),
            (LacpState::EXPIRED, "expired"),
        ]
        .into_iter()
        .filter(|(bit, _)| s.has(*bit))
        .map(|(_, n)| n.to_string())
        .collect()
    };
    vepa_api::wire::BondStats {
        mode: b.mode.name().into(),
        lacp: match b.lacp {
            None => "off".into(),
            Some(c) if c.active => "active".into(),
            Some(_) => "passive".into(),
        },
        system: b
            .lacp
            .map(|c| format!("{},{} key {}", c.system_priority, c.system, c.key)),
        failovers: b.failovers,
        announced: b.announced,
        members: b
            .members
            .iter()
            .map(|m| vepa_api::wire::BondMemberStats {
                member: m.name.clone(),
                ifname: m.ifname.clone(),
                link_up: m.view.link_up,
                carrying: m.view.enabled,
                active: m.view.active,
                failures: m.view.failures,
                lacp: m
                    .view
                    .lacp
                    .as_ref()
                    .map(|l| vepa_api::wire::LacpMemberStats {
                        receive: match l.receive {
                            Receive::Current => "current",
                            Receive::Expired => "expired",
                            Receive::Defaulted => "defaulted",
                        }
                        .into(),
                        mux: match l.mux {
                            Mux::Detached => "detached",
                            Mux::Waiting { .. } => "waiting",
                            Mux::Attached => "attached",
                            Mux::CollectingDistributing => "collecting-distributing",
                        }
                        .into(),
                        actor_port: l.actor.port,
                        actor_state: flags(l.actor.state),
                        partner_system: l
                            .partner
                            .map(|p| format!("{},{}", p.system_priority, p.system)),
                        partner_key: l.partner.map(|p| p.key),
                        partner_port: l.partner.map(|p| p.port),
                        partner_state: l.partner.map(|p| flags(p.state)).unwrap_or_default(),
                    }),
            })
            .collect(),
    }
}

/// A kernel ipvlan switch's settings: the devices own the addresses
/// configured on them and carry their uplink interface's MAC.
fn kernel_ipvlan_view(s: &vepa_api::topology::SwitchSpec) -> Option<vepa_api::wire::IpvlanView> {
    if s.kind != vepa_api::topology::SwitchKind::Ipvlan {
        return None;
    }
    let up = s.uplink.as_ref()?.host_ifname();
    let mac = std::fs::read_to_string(format!("/sys/class/net/{up}/address"))
        .map(|m| m.trim().to_string())
        .unwrap_or_default();
    Some(vepa_api::wire::IpvlanView {
        mode: s.ipvlan_mode.unwrap_or_default().as_str().into(),
        flag: vepa_api::topology::kernel::kernel_mode(s.mode).into(),
        mac,
        addresses: s
            .ports
            .iter()
            .flat_map(|p| {
                p.address.iter().map(|a| vepa_api::wire::OwnedAddress {
                    address: a.split('/').next().unwrap_or(a).to_string(),
                    port: p.name.clone(),
                })
            })
            .collect(),
        learned: Vec::new(),
    })
}

/// An ipvlan switch's settings as its snapshot holds them.
fn ipvlan_view(core: &vepa_dataplane::SwitchCore) -> Option<vepa_api::wire::IpvlanView> {
    let fw = core.snapshot();
    let i = fw.ipvlan.as_ref()?;
    let flag = fw
        .ports
        .iter()
        .find_map(|p| p.mode())
        .map_or("bridge", |m| m.kernel_name());
    Some(vepa_api::wire::IpvlanView {
        mode: i.mode.as_str().into(),
        flag: flag.into(),
        mac: i.mac.to_string(),
        addresses: i
            .addresses
            .iter()
            .map(|(ip, port)| vepa_api::wire::OwnedAddress {
                address: ip.to_string(),
                port: port.clone(),
            })
            .collect(),
        learned: core
            .learned_addresses()
            .into_iter()
            .map(|(ip, port)| vepa_api::wire::OwnedAddress {
                address: ip.to_string(),
                port,
            })
            .collect(),
    })
}
