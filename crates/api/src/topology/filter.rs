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

use super::error::{invalid, TopologyError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vepa_dataplane::filter::{AclAction, AclRule};

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

#[cfg(test)]
mod tests {
    use crate::topology::{port_guard, Topology};

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
        let g = port_guard("x", &ok.switches[0], &ok.switches[0].ports[0])
            .unwrap()
            .unwrap();
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
