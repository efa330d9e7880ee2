//! The topology file: switches, their ports and how each port is realized.
//!
//! Parsing (serde, unknown fields refused) gives the shape; [`Topology::validate`]
//! then checks what serde cannot (names, references, combinations) and turns
//! each switch into the dataplane's [`SwitchConfig`]. Every error names the
//! switch, the port and the field, and what was expected.

mod check;
mod check_filter;
mod check_ipvlan;
pub use check_ipvlan::{ipvlan_mac, shares_mac};
mod check_ipfix;
pub use check_ipfix::{domain_of as ipfix_domain_of, IPFIX_PORT};
mod check_mirror;
mod check_router;
pub use check_router::TUN_DEVICE_PORT;
mod check_sdn;
mod error;
pub mod filter;
pub mod kernel;
pub mod router;
pub mod sdn;
mod spec;
#[cfg(test)]
mod tests;

pub use check::path_component as check_path_component;
use check::{check_port, switch_config};
pub use check_filter::port_guard;
use error::invalid;
pub use error::TopologyError;
pub use spec::{querier_mac, spelled};
pub use spec::{
    Backend, BondModeName, BondSpec, IpfixSpec, IpvlanModeName, LacpMode, LacpRate, MemberKind,
    MemberSpec, MirrorDirection, MirrorSpec, ModeName, MulticastSpec, PortKind, PortSpec, Relay,
    RelayRequired, StaticFdbSpec, StormSpec, SwitchKind, SwitchSpec, Topology, VsiSpec, MAX_NAME,
    MAX_SOCKET_PATH, VHOST_USER_DIR,
};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use vepa_dataplane::SwitchConfig;

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            file: file.clone(),
            source,
        })?;
        Topology::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Topology, TopologyError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
                    (line, column)
                })
                .unwrap_or((0, 0));
            TopologyError::Syntax {
                file: file.to_string(),
                line,
                column,
                message: e.message().trim().replace('\n', " "),
            }
        })
    }

    /// The topology as a file `parse` reads back to the same value.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    pub fn switch(&self, name: &str) -> Option<&SwitchSpec> {
        self.switches.iter().find(|s| s.name == name)
    }

    pub fn switch_mut(&mut self, name: &str) -> Option<&mut SwitchSpec> {
        self.switches.iter_mut().find(|s| s.name == name)
    }

    /// Every port with the index of its switch, uplink first within a switch
    /// (the order of the dataplane's port IDs).
    pub fn ports(&self) -> impl Iterator<Item = (usize, &SwitchSpec, &PortSpec)> {
        self.switches.iter().enumerate().flat_map(|(i, s)| {
            s.uplink
                .iter()
                .chain(s.ports.iter())
                .map(move |p| (i, s, p))
        })
    }

    /// Checks that every vhost-user socket is inside `dir`, the only
    /// directory where the daemon makes and replaces sockets: a socket
    /// path elsewhere would let an API caller have root unlink or chown
    /// any file. (Names and paths are already known to have no `..`.)
    pub fn check_vhost_user_dir(&self, dir: &str) -> Result<(), TopologyError> {
        let dir = dir.trim_end_matches('/');
        for (_, s, p) in self.ports() {
            if p.kind != PortKind::VhostUser {
                continue;
            }
            let at = format!("switch '{}', port '{}'", s.name, p.name);
            let path = p.vhost_user_socket_in(dir, &s.name);
            let field = if p.socket.is_some() { "socket" } else { "name" };
            let inside = path
                .strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty());
            if !inside {
                return Err(invalid(
                    at,
                    field,
                    format!("'{path}' is outside the daemon's vhost-user directory {dir}: sockets are made and replaced only there (use a path under {dir}/, or leave socket unset for {dir}/SWITCH/PORT.sock)"),
                ));
            }
            if path.len() > MAX_SOCKET_PATH {
                return Err(invalid(
                    at,
                    field,
                    format!("the socket {path} is longer than a unix socket address holds ({MAX_SOCKET_PATH} bytes): set a shorter socket"),
                ));
            }
        }
        Ok(())
    }

    /// Checks the whole file and builds one dataplane config per switch.
    pub fn validate(&self) -> Result<Vec<SwitchConfig>, TopologyError> {
        if self.switches.is_empty() {
            return Err(invalid(
                "topology",
                "switch",
                "no switches; expected at least one [[switch]] table",
            ));
        }
        self.check()
    }

    /// [`Topology::validate`] for a daemon's desired state, which may hold no switch at all.
    pub fn check(&self) -> Result<Vec<SwitchConfig>, TopologyError> {
        let mut names = HashSet::new();
        for s in &self.switches {
            if s.name.len() > MAX_NAME || !check::path_component(&s.name) {
                return Err(invalid(
                    format!("switch '{}'", s.name.escape_debug()),
                    "name",
                    format!("expected a non-empty name of at most {MAX_NAME} bytes without '/' or control characters, and not '.' or '..' (it names files, such as its vhost-user directory)"),
                ));
            }
            if !names.insert(s.name.as_str()) {
                return Err(invalid(
                    format!("switch '{}'", s.name),
                    "name",
                    "duplicate switch name",
                ));
            }
        }
        let by_name: HashMap<(&str, &str), &PortSpec> = self
            .ports()
            .map(|(_, s, p)| ((s.name.as_str(), p.name.as_str()), p))
            .collect();
        let mut ifnames: HashMap<&str, String> = HashMap::new();
        // A tunnel's socket: its local address (a fabric port without one
        // takes the daemon's underlay address) and UDP port.
        let mut sockets: HashMap<(Option<&str>, u16), String> = HashMap::new();
        let mut unix_sockets: HashMap<String, String> = HashMap::new();
        let mut seen = HashSet::new();
        for (_, s, p) in self.ports() {
            let at = format!("switch '{}', port '{}'", s.name, p.name);
            if !seen.insert((s.name.as_str(), p.name.as_str())) {
                return Err(invalid(at, "name", "duplicate port name on this switch"));
            }
            if p.name.len() > MAX_NAME {
                return Err(invalid(
                    at,
                    "name",
                    format!("expected at most {MAX_NAME} bytes"),
                ));
            }
            check_port(&at, s, p, &by_name)?;
            if p.kind == PortKind::VhostUser {
                // A socket, not an interface.
                let path = p.vhost_user_socket(&s.name);
                let field = if p.socket.is_some() { "socket" } else { "name" };
                if path.len() > MAX_SOCKET_PATH {
                    return Err(invalid(
                        at,
                        field,
                        format!("the socket {path} is longer than a unix socket address holds ({MAX_SOCKET_PATH} bytes): set a shorter socket"),
                    ));
                }
                if let Some(prev) = unix_sockets.insert(path.clone(), at.clone()) {
                    return Err(invalid(
                        at,
                        field,
                        format!("the socket {path} is already {prev}'s"),
                    ));
                }
                continue;
            }
            if p.kind == PortKind::Vxlan {
                // A socket, not an interface.
                let port = p.dstport.unwrap_or(4789);
                if let Some(prev) = sockets.insert((p.local.as_deref(), port), at.clone()) {
                    let local = p.local.as_deref().unwrap_or("the underlay address");
                    return Err(invalid(
                        at,
                        if p.local.is_some() { "local" } else { "dstport" },
                        format!("{local} port {port} is already {prev}'s tunnel socket; one VXLAN port per address and UDP port (a trunk with vlan_vni carries several VNIs)"),
                    ));
                }
                continue;
            }
            if p.kind == PortKind::Bond {
                // No interface of its own; its members' are.
                for m in p.bond.iter().flat_map(|b| &b.members) {
                    let ifname = m.ifname.as_deref().unwrap_or(&m.name);
                    let mat = format!("{at}, member '{}'", m.name);
                    if let Some(prev) = ifnames.insert(ifname, mat.clone()) {
                        let field = if m.ifname.is_some() { "ifname" } else { "name" };
                        return Err(invalid(
                            mat,
                            field,
                            format!("interface '{ifname}' is already used by {prev}"),
                        ));
                    }
                }
                continue;
            }
            let ifname = p.host_ifname();
            if let Some(prev) = ifnames.insert(ifname, at.clone()) {
                let field = if p.ifname.is_some() { "ifname" } else { "name" };
                return Err(invalid(
                    at,
                    field,
                    format!("interface '{ifname}' is already used by {prev}"),
                ));
            }
        }
        // A kernel bridge switch is a device named after the switch.
        for s in &self.switches {
            if s.backend != Backend::Userspace && s.uplink.is_none() {
                if let Some(prev) = ifnames.get(s.name.as_str()) {
                    return Err(invalid(
                        format!("switch '{}'", s.name),
                        "name",
                        format!(
                            "a kernel bridge switch is a device named after the switch, and interface '{}' is already used by {prev}",
                            s.name
                        ),
                    ));
                }
            }
        }
        let mut listeners: HashMap<std::net::SocketAddr, &str> = HashMap::new();
        for s in &self.switches {
            if let Some(addr) = s.check_openflow()? {
                if let Some(prev) = listeners.insert(addr, &s.name) {
                    return Err(invalid(
                        format!("switch '{}'", s.name),
                        "openflow.listen",
                        format!("{addr} is already switch '{prev}'s listener"),
                    ));
                }
            }
            s.pipeline(0)?;
        }
        self.router_configs()?;
        self.check_acls()?;
        self.switches
            .iter()
            .map(|s| switch_config(s, self.router_switch_ports(s)))
            .collect()
    }
}
