//! Access lists and port guards in the topology file.
//!
//! ```toml
//! [[acl]]
//! name = "fw"
//! router = "r1"              # what r1 forwards; or port = "net-b/vm2", direction = "in"|"out"
//! default = "drop"           # for packets no rule matches (default: allow)
//! rules = [
//!   "allow state established,related",
//!   "allow tcp src 10.1.0.0/24 dst 10.2.0.0/24 dport 80",
//! ]
//! ```
//!
//! A list is stateful (tracks connections) when one of its rules asks for
//! a state, or when the list on the other direction of the same port does:
//! the two share the port's connection table.

use super::{invalid, Backend, PortSpec, Topology, TopologyError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vepa_dataplane::filter::{AclAction, AclRule, PortGuard};
use vepa_dataplane::router::Prefix;

/// Connections a zone tracks at most unless an ACL says otherwise.
pub const DEFAULT_CONNTRACK_LIMIT: u32 = 65_536;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Frames the port sends into the switch (from the VM).
    #[default]
    In,
    /// Frames the switch sends to the port (to the VM).
    Out,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAction {
    #[default]
    Allow,
    Drop,
    Reject,
}

impl DefaultAction {
    pub fn is_default(&self) -> bool {
        *self == DefaultAction::Allow
    }
}

impl From<DefaultAction> for AclAction {
    fn from(d: DefaultAction) -> AclAction {
        match d {
            DefaultAction::Allow => AclAction::Allow,
            DefaultAction::Drop => AclAction::Drop,
            DefaultAction::Reject => AclAction::Reject,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AclSpec {
    pub name: String,
    /// The switch port it filters, as `SWITCH/PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// For a port: `in` (from the VM, default) or `out` (to the VM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The router whose forwarded packets it filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// What a packet no rule matches gets.
    #[serde(default, skip_serializing_if = "DefaultAction::is_default")]
    pub default: DefaultAction,
    /// Most connections tracked at this place (default 65536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_limit: Option<u32>,
    /// In order; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<String>,
}

impl AclSpec {
    /// Where the list sits, as a zone name: `port S/P` or `router R`.
    pub fn zone(&self) -> String {
        match (&self.port, &self.router) {
            (Some(p), _) => format!("port {p}"),
            (None, Some(r)) => format!("router {r}"),
            (None, None) => String::new(),
        }
    }

    pub fn parsed_rules(&self) -> Result<Vec<AclRule>, TopologyError> {
        let at = format!("acl '{}'", self.name);
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.parse::<AclRule>()
                    .map_err(|e| invalid(&at, format!("rules[{}]", i + 1), format!("'{r}': {e}")))
            })
            .collect()
    }
}

/// The addresses a port may send from, when it has a guard.
pub fn port_guard(at: &str, p: &PortSpec) -> Result<Option<PortGuard>, TopologyError> {
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
            port_guard(&format!("switch '{}', port '{}'", s.name, p.name), p)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(extra: &str) -> Topology {
        let text = format!(
            r#"
[[switch]]
name = "s"
[[switch.port]]
name = "vm1"
type = "veth"
netns = "n1"
mac = "02:00:00:00:00:01"
address = ["10.0.0.1/24"]
{extra}
"#
        );
        Topology::parse("t.toml", &text).unwrap()
    }

    #[test]
    fn acls_are_checked_where_they_sit() {
        let ok = topo("guard = true\n[[acl]]\nname = \"a\"\nport = \"s/vm1\"\ndefault = \"drop\"\nrules = [\"allow state established\", \"allow tcp dport 80\"]\n");
        ok.check().unwrap();
        assert!(ok.zone_stateful("port s/vm1"));
        let g = port_guard("x", &ok.switches[0].ports[0]).unwrap().unwrap();
        assert_eq!(g.ips[0].to_string(), "10.0.0.1/32");
        let cases = [
            ("[[acl]]\nname = \"a\"\nport = \"s/vm9\"\n", "no port 'vm9'"),
            ("[[acl]]\nname = \"a\"\nport = \"x/vm1\"\n", "no switch 'x'"),
            ("[[acl]]\nname = \"a\"\nport = \"vm1\"\n", "SWITCH/PORT"),
            ("[[acl]]\nname = \"a\"\n", "one place"),
            ("[[acl]]\nname = \"a\"\nrouter = \"r\"\n", "no router 'r'"),
            ("[[acl]]\nname = \"a\"\nport = \"s/vm1\"\nrules = [\"allow tcp dport 99999\"]\n", "rules[1]"),
            ("[[acl]]\nname = \"a\"\nport = \"s/vm1\"\n[[acl]]\nname = \"b\"\nport = \"s/vm1\"\n", "filters there already"),
            ("allowed_ips = [\"10.0.0.0/33\"]\nguard = true\n", "allowed_ips"),
            ("allowed_ips = [\"10.0.0.2\"]\n", "guard = true"),
        ];
        for (extra, want) in cases {
            let e = topo(extra).check().unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }
}
