//! A topology's routers: looked up, and made into the dataplane's router
//! configs and the switch ports they sit on.

use super::error::{invalid, TopologyError};
use super::router::*;
use super::spec::{SwitchSpec, Topology, MAX_NAME};
use vepa_dataplane::router::RouterConfig;
use vepa_dataplane::{PortConfig, PortMode, PortRole, StaticFdbEntry, SwitchConfig, VlanMode};

impl Topology {
    pub fn router(&self, name: &str) -> Option<&RouterSpec> {
        self.routers.iter().find(|r| r.name == name)
    }

    pub fn router_mut(&mut self, name: &str) -> Option<&mut RouterSpec> {
        self.routers.iter_mut().find(|r| r.name == name)
    }

    /// The router ports on switch `s`, in the order they follow its own ports.
    pub fn router_ports_on<'t>(
        &'t self,
        s: &'t str,
    ) -> impl Iterator<Item = (&'t RouterSpec, &'t RouterPortSpec)> + 't {
        self.routers.iter().flat_map(move |r| {
            r.ports
                .iter()
                .filter(move |p| p.kind == RouterPortKind::Switch && p.switch == s)
                .map(move |p| (r, p))
        })
    }

    /// The router ports of switch `s` as dataplane ports (after its own),
    /// with the static entries that pin their MACs.
    pub(super) fn router_switch_ports(&self, s: &SwitchSpec) -> Vec<(PortConfig, StaticFdbEntry)> {
        self.router_ports_on(&s.name)
            .map(|(r, p)| {
                let name = switch_port_name(&r.name, &p.name);
                let vid = p.vlan.unwrap_or(1);
                let mut c = PortConfig::new(name.clone(), PortRole::Downlink(PortMode::Veb));
                c.vlan = VlanMode::Access { vid };
                let mac = p.mac.unwrap_or_else(|| derived_mac(&r.name, &p.name));
                (
                    c,
                    StaticFdbEntry {
                        mac,
                        vid,
                        port: name,
                    },
                )
            })
            .collect()
    }

    /// Checks routers: names, the switches their ports are on, and each
    /// router's own configuration. Returns the dataplane configurations.
    pub fn router_configs(&self) -> Result<Vec<RouterConfig>, TopologyError> {
        let mut out: Vec<RouterConfig> = Vec::new();
        for r in &self.routers {
            let at = format!("router '{}'", r.name);
            if r.name.is_empty() || r.name.len() > MAX_NAME || r.name.contains(['/', ':']) {
                return Err(invalid(
                    at,
                    "name",
                    format!(
                        "expected a non-empty name of at most {MAX_NAME} bytes without '/' or ':'"
                    ),
                ));
            }
            if out.iter().any(|o| o.name == r.name) {
                return Err(invalid(at, "name", "duplicate router name"));
            }
            for p in &r.ports {
                let pat = format!("router '{}', port '{}'", r.name, p.name);
                if p.name.is_empty() || p.name.len() > MAX_NAME || p.name.contains(['/', ':']) {
                    return Err(invalid(pat, "name", format!("expected a non-empty name of at most {MAX_NAME} bytes without '/' or ':'")));
                }
                if p.kind == RouterPortKind::Tun {
                    check_tun(&pat, p)?;
                    continue;
                }
                for (field, set) in [
                    ("ifname", p.ifname.is_some()),
                    ("netns", p.netns.is_some()),
                    ("peer_address", !p.peer_address.is_empty()),
                    ("offload", p.offload.is_some()),
                    ("persist", p.persist),
                    ("owner", p.owner.is_some()),
                ] {
                    if set {
                        return Err(invalid(
                            pat,
                            field,
                            "only a port of type \"tun\" has one (this port sits on a switch)",
                        ));
                    }
                }
                if p.switch.is_empty() {
                    return Err(invalid(
                        pat,
                        "switch",
                        "a router port sits on a switch: name it (or set type = \"tun\" for a point-to-point TUN device)",
                    ));
                }
                let Some(s) = self.switch(&p.switch) else {
                    return Err(invalid(pat, "switch", format!("no switch '{}'", p.switch)));
                };
                if s.backend == super::Backend::Kernel {
                    return Err(invalid(
                        pat,
                        "switch",
                        format!("switch '{}' uses the kernel backend; a router port needs vepa's userspace dataplane (backend = \"userspace\" or \"auto\")", s.name),
                    ));
                }
                if let Some(v) = p.vlan.filter(|v| !(1..=4094).contains(v)) {
                    return Err(invalid(
                        pat,
                        "vlan",
                        format!("VLAN ID {v} is out of range; expected 1 to 4094"),
                    ));
                }
                let name = switch_port_name(&r.name, &p.name);
                if s.uplink.iter().chain(&s.ports).any(|q| q.name == name) {
                    return Err(invalid(
                        pat,
                        "name",
                        format!("switch '{}' has a port named '{name}' already, the name this router port takes there", s.name),
                    ));
                }
            }
            out.push(r.config()?);
        }
        Ok(out)
    }

    /// The TUN ports of the routers: router, port.
    pub fn tun_ports(&self) -> impl Iterator<Item = (&RouterSpec, &RouterPortSpec)> + '_ {
        self.routers.iter().flat_map(|r| {
            r.ports
                .iter()
                .filter(|p| p.kind == RouterPortKind::Tun)
                .map(move |p| (r, p))
        })
    }

    /// Each TUN port's link, as the dataplane runs it: a switch of its own
    /// named `ROUTER:PORT` (no switch of the file can have the name) with
    /// the device's port ([`TUN_DEVICE_PORT`]) and the router's, each
    /// MAC pinned. The device puts the far end's MAC on what it reads.
    pub fn tun_links(&self) -> Vec<SwitchConfig> {
        self.tun_ports()
            .map(|(r, p)| {
                let name = switch_port_name(&r.name, &p.name);
                let device = PortConfig::new(TUN_DEVICE_PORT, PortRole::Downlink(PortMode::Veb));
                let router = PortConfig::new(name.clone(), PortRole::Downlink(PortMode::Veb));
                let mut c = SwitchConfig::new(name.clone(), vec![device, router]);
                c.static_fdb = vec![
                    StaticFdbEntry {
                        mac: p.mac.unwrap_or_else(|| derived_mac(&r.name, &p.name)),
                        vid: 1,
                        port: name,
                    },
                    StaticFdbEntry {
                        mac: tun_peer_mac(&r.name, &p.name),
                        vid: 1,
                        port: TUN_DEVICE_PORT.into(),
                    },
                ];
                c
            })
            .collect()
    }
}

/// The device's port on a TUN link (see [`Topology::tun_links`]).
pub const TUN_DEVICE_PORT: &str = "tun";

/// A TUN router port: a device name, its namespace, the far end's
/// addresses; nothing of a switch's.
fn check_tun(at: &str, p: &RouterPortSpec) -> Result<(), TopologyError> {
    if !p.switch.is_empty() {
        return Err(invalid(
            at,
            "switch",
            "a tun port is a device of its own, on no switch: remove switch",
        ));
    }
    if p.vlan.is_some() {
        return Err(invalid(
            at,
            "vlan",
            "a tun port carries IP packets, untagged",
        ));
    }
    if let Some(ns) = &p.netns {
        super::check::check_netns(at, ns)?;
    }
    let ifname = p.tun_ifname();
    if !vepa_packet::valid_ifname(ifname) {
        return Err(invalid(
            at,
            if p.ifname.is_some() { "ifname" } else { "name" },
            format!("'{ifname}' is not an interface name (1 to 15 bytes, no '/', ':' or spaces): set ifname"),
        ));
    }
    if p.address.is_empty() {
        return Err(invalid(
            at,
            "address",
            "a tun port routes by its addresses: give it at least one (10.8.0.1/30)",
        ));
    }
    for a in &p.peer_address {
        use vepa_dataplane::router::IfAddr;
        let ok = a.parse::<IfAddr>().is_ok_and(|x| {
            p.address.iter().any(|m| {
                m.parse::<IfAddr>()
                    .is_ok_and(|m| m.subnet().contains(&x.addr) && m.addr != x.addr)
            })
        });
        if !ok {
            return Err(invalid(
                at,
                "peer_address",
                format!("'{a}': expected ADDRESS/LENGTH on one of the port's subnets ({}), other than the port's own", p.address.join(", ")),
            ));
        }
    }
    if p.persist {
        // The device is a pipe between the VPN's descriptor and vepa; an
        // address on it would hand the namespace's stack a part in it.
        for (field, set, why) in [
            ("peer_address", !p.peer_address.is_empty(), "the far end's addresses are the VPN peer's own, beyond the VPN; vepa puts none on a persistent device"),
            ("offload", p.offload.is_some(), "the VPN daemon that opens a persistent device chooses its virtio-net header; remove offload"),
        ] {
            if set {
                return Err(invalid(at, field, why));
            }
        }
    } else if p.owner.is_some() {
        return Err(invalid(
            at,
            "owner",
            "only a persistent device (persist = true) is opened by another program",
        ));
    }
    if !p.peer_address.is_empty() && p.netns.is_none() {
        return Err(invalid(
            at,
            "peer_address",
            "the far end's addresses go on the device inside netns: set netns (without it, the far end is whatever opens the device)",
        ));
    }
    Ok(())
}
