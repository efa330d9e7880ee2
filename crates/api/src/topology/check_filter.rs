//! A topology's access lists and port guards, checked, and a port's guard
//! made into the dataplane's.

use super::error::{invalid, TopologyError};
use super::filter::*;
use super::spec::{Backend, PortSpec, Topology};
use vepa_dataplane::filter::PortGuard;
use vepa_dataplane::router::Prefix;

/// The addresses a port `p` of switch `s` may send from, when it has a
/// guard (an ipvlan switch's port is bound to the switch's one MAC).
pub fn port_guard(
    at: &str,
    s: &super::spec::SwitchSpec,
    p: &PortSpec,
) -> Result<Option<PortGuard>, TopologyError> {
    if !p.guard {
        if !p.allowed_macs.is_empty() || !p.allowed_ips.is_empty() {
            return Err(invalid(
                at,
                "guard",
                "allowed_macs and allowed_ips take effect with guard = true",
            ));
        }
        return Ok(None);
    }
    let mut macs = p.allowed_macs.clone();
    if macs.is_empty() && super::check_ipvlan::shares_mac(s, p) {
        macs.push(super::check_ipvlan::ipvlan_mac(s));
    }
    if macs.is_empty() {
        match p.mac {
            Some(m) => macs.push(m),
            None => {
                return Err(invalid(
                    at,
                    "guard",
                    "a guard binds the port to its MACs: set mac (or allowed_macs)",
                ))
            }
        }
    }
    if let Some(m) = macs.iter().find(|m| m.is_multicast()) {
        return Err(invalid(
            at,
            "allowed_macs",
            format!("{m} is a group address; expected a unicast MAC"),
        ));
    }
    let mut ips = Vec::new();
    let host = |a: std::net::IpAddr| Prefix {
        addr: a,
        len: if a.is_ipv4() { 32 } else { 128 },
    };
    if p.allowed_ips.is_empty() {
        for a in &p.address {
            if let Some(ip) = a.split_once('/').and_then(|(ip, _)| ip.parse().ok()) {
                ips.push(host(ip));
            }
        }
    }
    for a in &p.allowed_ips {
        let prefix = match a.parse::<std::net::IpAddr>() {
            Ok(ip) => host(ip),
            Err(_) => a
                .parse::<Prefix>()
                .map_err(|e| invalid(at, "allowed_ips", format!("'{a}': {e}")))?,
        };
        ips.push(prefix);
    }
    Ok(Some(PortGuard { macs, ips }))
}

impl Topology {
    pub fn acl(&self, name: &str) -> Option<&AclSpec> {
        self.acls.iter().find(|a| a.name == name)
    }

    pub fn acl_mut(&mut self, name: &str) -> Option<&mut AclSpec> {
        self.acls.iter_mut().find(|a| a.name == name)
    }

    /// Whether the lists at `zone` track connections.
    pub fn zone_stateful(&self, zone: &str) -> bool {
        self.acls.iter().filter(|a| a.zone() == zone).any(|a| {
            a.parsed_rules()
                .is_ok_and(|r| vepa_dataplane::filter::Acl::uses_state(&r))
        })
    }

    /// Checks every ACL: its name, where it sits, its rules.
    pub fn check_acls(&self) -> Result<(), TopologyError> {
        let mut places: Vec<(String, Direction, &str)> = Vec::new();
        for (i, a) in self.acls.iter().enumerate() {
            let at = format!("acl '{}'", a.name);
            if a.name.is_empty() || a.name.len() > super::MAX_NAME || a.name.contains('/') {
                return Err(invalid(
                    at,
                    "name",
                    format!(
                        "expected a non-empty name of at most {} bytes without '/'",
                        super::MAX_NAME
                    ),
                ));
            }
            if self.acls[..i].iter().any(|b| b.name == a.name) {
                return Err(invalid(at, "name", "duplicate ACL name"));
            }
            let dir = a.direction.unwrap_or_default();
            let place = match (&a.port, &a.router) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(invalid(
                        at,
                        "port",
                        "an ACL sits on one place: set port (SWITCH/PORT) or router",
                    ))
                }
                (Some(sp), None) => {
                    let Some((sw, port)) = sp.split_once('/') else {
                        return Err(invalid(at, "port", format!("'{sp}': expected SWITCH/PORT")));
                    };
                    let Some(s) = self.switch(sw) else {
                        return Err(invalid(at, "port", format!("no switch '{sw}'")));
                    };
                    let own = s.uplink.iter().chain(&s.ports).any(|p| p.name == port);
                    let routed = self
                        .router_ports_on(sw)
                        .any(|(r, p)| super::router::switch_port_name(&r.name, &p.name) == port);
                    if !own && !routed {
                        return Err(invalid(
                            at,
                            "port",
                            format!("switch '{sw}' has no port '{port}'"),
                        ));
                    }
                    if s.backend == Backend::Kernel {
                        return Err(invalid(
                            at,
                            "port",
                            format!("switch '{sw}' uses the kernel backend; ACLs need vepa's userspace dataplane (backend = \"userspace\" or \"auto\")"),
                        ));
                    }
                    a.zone()
                }
                (None, Some(r)) => {
                    if a.direction.is_some() {
                        return Err(invalid(
                            at,
                            "direction",
                            "a router's list filters what it forwards; direction is for ports",
                        ));
                    }
                    if self.router(r).is_none() {
                        return Err(invalid(at, "router", format!("no router '{r}'")));
                    }
                    a.zone()
                }
            };
            if let Some((_, _, other)) = places.iter().find(|(z, d, _)| *z == place && *d == dir) {
                return Err(invalid(
                    at,
                    if a.port.is_some() { "port" } else { "router" },
                    format!(
                        "ACL '{other}' filters there already; one list per place and direction"
                    ),
                ));
            }
            places.push((place, dir, &a.name));
            if a.conntrack_limit == Some(0) {
                return Err(invalid(at, "conntrack_limit", "expected at least 1"));
            }
            a.parsed_rules()?;
        }
        for (_, s, p) in self.ports() {
            port_guard(&format!("switch '{}', port '{}'", s.name, p.name), s, p)?;
        }
        Ok(())
    }
}
