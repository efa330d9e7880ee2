//! A topology's routers: looked up, and made into the dataplane's router
//! configs and the switch ports they sit on.

use super::error::{invalid, TopologyError};
use super::router::*;
use super::spec::{SwitchSpec, Topology, MAX_NAME};
use vepa_dataplane::router::RouterConfig;
use vepa_dataplane::{PortConfig, PortMode, PortRole, StaticFdbEntry, VlanMode};

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
                .filter(move |p| p.switch == s)
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
}
