//! The topology file: switches, their ports and how each port is realized.
//!
//! Parsing (serde, unknown fields refused) gives the shape; [`Topology::validate`]
//! then checks what serde cannot (names, references, combinations) and turns
//! each switch into the dataplane's [`SwitchConfig`]. Every error names the
//! switch, the port and the field, and what was expected.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use vepa_dataplane::{
    PortConfig, PortMode, PortRole, StaticFdbEntry, SwitchConfig, VidSet, VlanMode,
    DEFAULT_AGEING_MS,
};
use vepa_io::valid_ifname;
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    #[serde(default, rename = "switch")]
    pub switches: Vec<SwitchSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SwitchSpec {
    pub name: String,
    /// The mode of every downlink that does not set its own.
    #[serde(default)]
    pub mode: ModeName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ageing_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<PortSpec>,
    #[serde(default, rename = "port")]
    pub ports: Vec<PortSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_fdb: Vec<StaticFdbSpec>,
}

/// Port modes as written in the file (`bridge` is accepted for `veb`, as the kernel calls it).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    #[default]
    #[serde(alias = "bridge")]
    Veb,
    Vepa,
    Private,
    Passthru,
    Source,
}

impl From<ModeName> for PortMode {
    fn from(m: ModeName) -> PortMode {
        match m {
            ModeName::Veb => PortMode::Veb,
            ModeName::Vepa => PortMode::Vepa,
            ModeName::Private => PortMode::Private,
            ModeName::Passthru => PortMode::Passthru,
            ModeName::Source => PortMode::Source,
        }
    }
}

/// How a port is realized on the host.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// vepa creates a veth pair, keeps one end and moves the other into `netns`.
    Veth,
    /// vepa creates a TAP device and owns it (optionally moved into `netns`).
    Tap,
    /// An interface that already exists (a NIC, a veth end), used through AF_PACKET.
    Netdev,
    /// A wire to a port of another switch in this file (a veth pair vepa creates).
    Patch,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PortKind,
    /// The host interface; defaults to the port name (required for `netdev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// Namespace for the far end (`veth`) or the device itself (`tap`); created if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The far end's name inside `netns` (`veth`; default `eth0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_name: Option<String>,
    /// For `patch`: the other end, as `switch/port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Addresses with prefix length for the far end, e.g. `10.0.0.1/24`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeName>,
    /// Reflective relay (hairpin) on this port.
    #[serde(default)]
    pub relay: bool,
    /// Access VLAN (untagged); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Trunk: the tagged VLANs allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<Vec<u16>>,
    /// Trunk: the VLAN of untagged frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_vlan: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_macs: Vec<MacAddr>,
}

impl PortSpec {
    pub fn new(name: &str, kind: PortKind) -> PortSpec {
        PortSpec {
            name: name.to_string(),
            kind,
            ifname: None,
            netns: None,
            peer_name: None,
            peer: None,
            mac: None,
            address: Vec::new(),
            mtu: None,
            mode: None,
            relay: false,
            vlan: None,
            trunk: None,
            native_vlan: None,
            mac_limit: None,
            source_macs: Vec::new(),
        }
    }

    /// The interface vepa reads and writes for this port.
    pub fn host_ifname(&self) -> &str {
        self.ifname.as_deref().unwrap_or(&self.name)
    }

    pub fn peer_ifname(&self) -> &str {
        self.peer_name.as_deref().unwrap_or("eth0")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticFdbSpec {
    pub mac: MacAddr,
    #[serde(default = "default_vid")]
    pub vlan: u16,
    pub port: String,
}

fn default_vid() -> u16 {
    1
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{at}: {field}: {problem}")]
    Invalid {
        at: String,
        field: String,
        problem: String,
    },
}

fn invalid(
    at: impl Into<String>,
    field: impl Into<String>,
    problem: impl Into<String>,
) -> TopologyError {
    TopologyError::Invalid {
        at: at.into(),
        field: field.into(),
        problem: problem.into(),
    }
}

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

    #[cfg(test)]
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
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

    /// Checks the whole file and builds one dataplane config per switch.
    pub fn validate(&self) -> Result<Vec<SwitchConfig>, TopologyError> {
        if self.switches.is_empty() {
            return Err(invalid(
                "topology",
                "switch",
                "no switches; expected at least one [[switch]] table",
            ));
        }
        let mut names = HashSet::new();
        for s in &self.switches {
            if s.name.is_empty() || s.name.contains('/') {
                return Err(invalid(
                    format!("switch '{}'", s.name),
                    "name",
                    "expected a non-empty name without '/'",
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
        let mut seen = HashSet::new();
        for (_, s, p) in self.ports() {
            let at = format!("switch '{}', port '{}'", s.name, p.name);
            if !seen.insert((s.name.as_str(), p.name.as_str())) {
                return Err(invalid(at, "name", "duplicate port name on this switch"));
            }
            check_port(&at, s, p, &by_name)?;
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
        self.switches.iter().map(switch_config).collect()
    }
}

fn check_port(
    at: &str,
    s: &SwitchSpec,
    p: &PortSpec,
    by_name: &HashMap<(&str, &str), &PortSpec>,
) -> Result<(), TopologyError> {
    let not_for = |field: &str, set: bool| -> Result<(), TopologyError> {
        if set {
            Err(invalid(
                at,
                field,
                format!("not used by a port of type \"{}\"", kind_name(p.kind)),
            ))
        } else {
            Ok(())
        }
    };
    if p.name.is_empty() {
        return Err(invalid(at, "name", "a port needs a name"));
    }
    if p.ifname.is_none() && p.kind != PortKind::Netdev && !valid_ifname(&p.name) {
        return Err(invalid(
            at,
            "name",
            "the port name becomes the interface name: expected 1 to 15 characters without '/', ':' or spaces (or set ifname)",
        ));
    }
    if let Some(i) = &p.ifname {
        if !valid_ifname(i) {
            return Err(invalid(
                at,
                "ifname",
                format!(
                    "'{i}' is not an interface name (1 to 15 characters, no '/', ':' or spaces)"
                ),
            ));
        }
    }
    if let Some(ns) = &p.netns {
        if ns.is_empty() || ns.contains('/') || ns.len() > 200 || ns == "." || ns == ".." {
            return Err(invalid(
                at,
                "netns",
                format!("'{ns}' is not a namespace name"),
            ));
        }
    }
    if let Some(n) = &p.peer_name {
        if !valid_ifname(n) {
            return Err(invalid(
                at,
                "peer_name",
                format!("'{n}' is not an interface name"),
            ));
        }
    }
    for a in &p.address {
        check_address(a).map_err(|problem| invalid(at, "address", problem))?;
    }
    if let Some(m) = p.mtu {
        if !(68..=9216).contains(&m) {
            return Err(invalid(
                at,
                "mtu",
                format!("{m} is out of range; expected 68 to 9216"),
            ));
        }
    }
    if p.mac.is_some_and(|m| m.is_multicast() || m.is_zero()) {
        return Err(invalid(at, "mac", "expected a unicast, non-zero MAC"));
    }
    match p.kind {
        PortKind::Veth => not_for("peer", p.peer.is_some())?,
        PortKind::Tap => {
            not_for("peer", p.peer.is_some())?;
            not_for("peer_name", p.peer_name.is_some())?;
        }
        PortKind::Netdev => {
            if p.ifname.is_none() {
                return Err(invalid(
                    at,
                    "ifname",
                    "a netdev port names the existing interface it uses",
                ));
            }
            for (field, set) in [
                ("netns", p.netns.is_some()),
                ("peer_name", p.peer_name.is_some()),
                ("peer", p.peer.is_some()),
                ("mac", p.mac.is_some()),
                ("address", !p.address.is_empty()),
                ("mtu", p.mtu.is_some()),
            ] {
                not_for(field, set)?;
            }
        }
        PortKind::Patch => {
            for (field, set) in [
                ("netns", p.netns.is_some()),
                ("peer_name", p.peer_name.is_some()),
                ("mac", p.mac.is_some()),
                ("address", !p.address.is_empty()),
            ] {
                not_for(field, set)?;
            }
            let Some(peer) = &p.peer else {
                return Err(invalid(
                    at,
                    "peer",
                    "a patch port names the other end as \"switch/port\"",
                ));
            };
            let Some((ps, pp)) = peer.split_once('/') else {
                return Err(invalid(
                    at,
                    "peer",
                    format!("'{peer}': expected \"switch/port\""),
                ));
            };
            let Some(other) = by_name.get(&(ps, pp)) else {
                return Err(invalid(
                    at,
                    "peer",
                    format!("no port '{pp}' on a switch '{ps}'"),
                ));
            };
            let back = format!("{}/{}", s.name, p.name);
            if other.kind != PortKind::Patch || other.peer.as_deref() != Some(back.as_str()) {
                return Err(invalid(
                    at,
                    "peer",
                    format!("'{peer}' must be a patch port whose peer is \"{back}\""),
                ));
            }
            if ps == s.name {
                return Err(invalid(at, "peer", "a patch joins two different switches"));
            }
        }
    }
    Ok(())
}

fn kind_name(k: PortKind) -> &'static str {
    match k {
        PortKind::Veth => "veth",
        PortKind::Tap => "tap",
        PortKind::Netdev => "netdev",
        PortKind::Patch => "patch",
    }
}

fn check_address(a: &str) -> Result<(), String> {
    let expected = || {
        format!("'{a}': expected an address with prefix length, such as 10.0.0.1/24 or fd00::1/64")
    };
    let (ip, len) = a.split_once('/').ok_or_else(expected)?;
    let ip: IpAddr = ip.parse().map_err(|_| expected())?;
    let len: u8 = len.parse().map_err(|_| expected())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("'{a}': prefix length {len} is longer than {max}"));
    }
    Ok(())
}

fn vlan_mode(at: &str, p: &PortSpec) -> Result<VlanMode, TopologyError> {
    match (&p.trunk, p.vlan, p.native_vlan) {
        (Some(_), Some(_), _) => Err(invalid(
            at,
            "vlan",
            "a port is either access (vlan) or trunk (trunk), not both",
        )),
        (None, _, Some(_)) => Err(invalid(
            at,
            "native_vlan",
            "only a trunk port has a native VLAN (set trunk too)",
        )),
        (None, vid, None) => Ok(VlanMode::Access {
            vid: vid.unwrap_or(1),
        }),
        (Some(vids), None, native) => Ok(VlanMode::Trunk {
            allowed: vids.iter().copied().collect::<VidSet>(),
            native,
        }),
    }
}

fn switch_config(s: &SwitchSpec) -> Result<SwitchConfig, TopologyError> {
    let mut ports = Vec::new();
    for (p, is_uplink) in s
        .uplink
        .iter()
        .map(|p| (p, true))
        .chain(s.ports.iter().map(|p| (p, false)))
    {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        if is_uplink && (p.mode.is_some() || !p.source_macs.is_empty()) {
            return Err(invalid(
                at,
                "mode",
                "the uplink has no mode; modes belong to downlinks",
            ));
        }
        for vid in p
            .trunk
            .iter()
            .flatten()
            .chain(p.vlan.iter())
            .chain(p.native_vlan.iter())
        {
            if !(1..=4094).contains(vid) {
                return Err(invalid(
                    at,
                    "vlan",
                    format!("VLAN ID {vid} is out of range; expected 1 to 4094"),
                ));
            }
        }
        let role = if is_uplink {
            PortRole::Uplink
        } else {
            PortRole::Downlink(p.mode.unwrap_or(s.mode).into())
        };
        let mut c = PortConfig::new(p.name.clone(), role);
        c.relay = p.relay;
        c.vlan = vlan_mode(&at, p)?;
        if let Some(l) = p.mac_limit {
            c.mac_limit = l;
        }
        c.source_macs = p.source_macs.clone();
        ports.push(c);
    }
    let mut cfg = SwitchConfig::new(s.name.clone(), ports);
    cfg.ageing_ms = s
        .ageing_secs
        .map(|a| a.saturating_mul(1000))
        .unwrap_or(DEFAULT_AGEING_MS);
    cfg.static_fdb = s
        .static_fdb
        .iter()
        .map(|e| StaticFdbEntry {
            mac: e.mac,
            vid: e.vlan,
            port: e.port.clone(),
        })
        .collect();
    cfg.validate().map_err(|e| match e {
        vepa_dataplane::ConfigError::Invalid {
            port,
            field,
            problem,
            ..
        } => {
            let at = if port.is_empty() {
                format!("switch '{}'", s.name)
            } else {
                format!("switch '{}', port '{port}'", s.name)
            };
            invalid(at, field, problem)
        }
        other => invalid(format!("switch '{}'", s.name), "mode", other.to_string()),
    })?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[switch]]
name = "host"
mode = "vepa"
[switch.uplink]
name = "h-up"
type = "patch"
peer = "relay/r-host"
[[switch.port]]
name = "h-vm1"
type = "veth"
netns = "vm1"
address = ["10.0.0.1/24"]

[[switch]]
name = "relay"
[[switch.port]]
name = "r-host"
type = "patch"
peer = "host/h-up"
relay = true
"#;

    fn err(text: &str) -> String {
        match Topology::parse("t.toml", text).and_then(|t| t.validate().map(|_| t)) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_validates() {
        let t = Topology::parse("t.toml", GOOD).unwrap();
        let cfgs = t.validate().unwrap();
        assert_eq!(cfgs.len(), 2);
        assert_eq!(cfgs[0].ports[0].role, PortRole::Uplink);
        assert_eq!(cfgs[0].ports[1].role, PortRole::Downlink(PortMode::Vepa));
        assert!(cfgs[1].ports[0].relay);
        // what we print, we read back the same
        assert_eq!(Topology::parse("x", &t.to_toml()).unwrap(), t);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (GOOD.replace("mode = \"vepa\"", "mode = \"hairpin\""), "t.toml:4:8: unknown variant `hairpin`"),
            (GOOD.replace("relay = true", "relay = true\nhairpin = 1"), "unknown field `hairpin`"),
            (GOOD.replace("name = \"h-vm1\"", "name = \"h-up\""), "port 'h-up': name: duplicate port name"),
            (GOOD.replace("type = \"veth\"", "type = \"veth\"\nifname = \"r-host\""), "port 'r-host': name: interface 'r-host' is already used by switch 'host', port 'h-vm1'"),
            (GOOD.replace("peer = \"host/h-up\"", "peer = \"host/nope\""), "port 'h-up': peer: 'relay/r-host' must be a patch port whose peer is \"host/h-up\""),
            (GOOD.replace("10.0.0.1/24", "10.0.0.1"), "port 'h-vm1': address: '10.0.0.1': expected an address"),
            (GOOD.replace("name = \"h-vm1\"", "name = \"a-very-long-port-name\""), "name: the port name becomes the interface name"),
            (GOOD.replace("netns = \"vm1\"", "netns = \"vm1\"\nvlan = 5000"), "vlan: VLAN ID 5000 is out of range"),
            (GOOD.replace("type = \"veth\"", "type = \"netdev\""), "ifname: a netdev port names the existing interface"),
            ("[[switch]]\nname = \"s\"\nmode = \"vepa\"\n[[switch.port]]\nname = \"a\"\ntype = \"tap\"\n".to_string(), "switch 's', port 'a': mode: mode \"vepa\" sends frames to the uplink"),
            ("[[switch]\n".to_string(), "t.toml:1:"),
            (String::new(), "no switches"),
        ];
        for (text, want) in cases {
            let e = err(&text);
            assert!(e.contains(want), "{e:?} should contain {want:?}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }
}

#[cfg(test)]
mod examples {
    use super::Topology;

    /// Every file in examples/ is a valid topology.
    #[test]
    fn examples_validate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let t = Topology::load(&path).unwrap_or_else(|e| panic!("{e}"));
                t.validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 6, "found {n} examples");
    }
}
