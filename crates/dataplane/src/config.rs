//! What a switch is made of: ports, their roles and modes, VLAN membership.
//!
//! The configuration is validated once when a switch is built, so the
//! per-frame path can trust it (one uplink at most, modes that need an
//! uplink have one, VIDs in range, static entries on known ports).

use crate::storm::{StormLimits, GROUP_FWD_RESTRICTED};
use crate::vlan::{egress_tag, VlanMode};
use crate::{PortId, DEFAULT_AGEING_MS, DEFAULT_MAC_LIMIT, NO_MAC_LIMIT};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use vepa_packet::MacAddr;

/// The forwarding mode of a downlink port, as Linux macvlan defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortMode {
    /// Local switching between `veb` ports (macvlan "bridge").
    Veb,
    /// Every frame goes to the uplink; the adjacent switch reflects it back.
    Vepa,
    /// To the uplink only, and never to or from another local port.
    Private,
    /// The one downlink owns the uplink and receives everything.
    Passthru,
    /// Receives copies of frames whose source MAC is on its allow list.
    Source,
}

impl PortMode {
    pub const ALL: [PortMode; 5] = [
        PortMode::Veb,
        PortMode::Vepa,
        PortMode::Private,
        PortMode::Passthru,
        PortMode::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PortMode::Veb => "veb",
            PortMode::Vepa => "vepa",
            PortMode::Private => "private",
            PortMode::Passthru => "passthru",
            PortMode::Source => "source",
        }
    }

    /// The macvlan mode name the kernel uses for the same behaviour.
    pub fn kernel_name(self) -> &'static str {
        match self {
            PortMode::Veb => "bridge",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for PortMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PortMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "veb" | "bridge" => Ok(PortMode::Veb),
            "vepa" => Ok(PortMode::Vepa),
            "private" => Ok(PortMode::Private),
            "passthru" => Ok(PortMode::Passthru),
            "source" => Ok(PortMode::Source),
            other => Err(ConfigError::UnknownMode(other.to_string())),
        }
    }
}

/// Where a port sits on the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    /// The one port towards the adjacent (relay) switch or the physical network.
    Uplink,
    /// A VM or container port with its forwarding mode.
    Downlink(PortMode),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    pub name: String,
    pub role: PortRole,
    /// Reflective relay (hairpin): a frame may leave by the port it came in on.
    pub relay: bool,
    /// Reflective relay follows the station behind this port: on while its
    /// 802.1Qbg EVB TLV asks for it (RRREQ), as the link agent reports in
    /// [`LinkFacts::relay_requested`]; `relay = "evb"` in a topology.
    pub relay_on_request: bool,
    /// Only sources the station associated over VDP (a VSI's MAC and VLAN,
    /// [`LinkFacts::vdp_associated`]) may send into the switch from here.
    pub vdp_enforce: bool,
    pub vlan: VlanMode,
    /// How many MACs this port may have learned at once; a source beyond
    /// it is forwarded but not learned.
    pub mac_limit: u32,
    /// For `source` ports: the source MACs whose frames this port receives.
    pub source_macs: Vec<MacAddr>,
    /// Bounds on the floods this port may send into the switch.
    pub storm: StormLimits,
    /// A spanning-tree BPDU from this port blocks it for
    /// [`BPDU_GUARD_MS`](crate::storm::BPDU_GUARD_MS) (an edge port has
    /// no bridge behind it; one that does can close a loop).
    pub bpdu_guard: bool,
}

impl PortConfig {
    pub fn new(name: impl Into<String>, role: PortRole) -> PortConfig {
        PortConfig {
            name: name.into(),
            role,
            relay: false,
            relay_on_request: false,
            vdp_enforce: false,
            vlan: VlanMode::default(),
            mac_limit: match role {
                PortRole::Uplink => NO_MAC_LIMIT,
                PortRole::Downlink(_) => DEFAULT_MAC_LIMIT,
            },
            source_macs: Vec::new(),
            storm: StormLimits::default(),
            bpdu_guard: false,
        }
    }

    pub fn mode(&self) -> Option<PortMode> {
        match self.role {
            PortRole::Uplink => None,
            PortRole::Downlink(m) => Some(m),
        }
    }

    /// Whether vepa's link agent (LLDP, and 802.1Qbg's EVB, ECP and VDP)
    /// runs on this port: an uplink faces the adjacent bridge, a relay
    /// port is that bridge for the station behind it. A VM's port has no
    /// agent; what it sends to these protocols is dropped.
    pub fn runs_link_agent(&self) -> bool {
        self.role == PortRole::Uplink || self.relay || self.relay_on_request
    }
}

/// A MAC pinned to a port: never aged, never moved by learning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFdbEntry {
    pub mac: MacAddr,
    pub vid: u16,
    pub port: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchConfig {
    pub name: String,
    pub ports: Vec<PortConfig>,
    pub ageing_ms: u64,
    pub static_fdb: Vec<StaticFdbEntry>,
    /// Which of the reserved group addresses 01:80:C2:00:00:00–0F the
    /// switch forwards (bit n: …0n), as the Linux bridge's
    /// `group_fwd_mask`; 0, the default, forwards none.
    pub group_fwd_mask: u16,
    /// While the adjacent bridge does not reflect frames back down the
    /// uplink ([`LinkFacts::relay_granted`] false), `vepa` ports switch
    /// frames between them locally, as `veb` ports do, so VMs keep
    /// reaching each other (`relay_required = "fallback-veb"`).
    pub fallback_veb: bool,
    /// Port mirrors (see [`crate::mirror`]).
    pub mirrors: Vec<MirrorConfig>,
    /// IPFIX flow export (see [`crate::export`]); `None`: off.
    pub ipfix: Option<IpfixConfig>,
    /// IGMP/MLD snooping (see [`crate::mdb`]).
    pub snoop: crate::mdb::SnoopConfig,
    /// An ipvlan switch (see [`crate::ipvlan`]): its ports share one MAC
    /// and are told apart by address. `None`: a MAC-learning switch.
    pub ipvlan: Option<IpvlanConfig>,
}

/// IPFIX flow export from a switch: where records go and how flows are
/// metered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfixConfig {
    pub collector: std::net::SocketAddr,
    /// One packet in `sampling` is metered (1: every packet).
    pub sampling: u32,
    /// A flow still active is reported every this often.
    pub active_timeout_ms: u64,
    /// A flow is reported and forgotten after this long without packets.
    pub idle_timeout_ms: u64,
    /// The observation domain ID the collector files records under.
    pub domain: u32,
}

/// A port mirror: which frames it copies, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorConfig {
    pub name: String,
    /// Ports whose received frames are copied.
    pub select_in: Vec<String>,
    /// Ports whose sent frames are copied.
    pub select_out: Vec<String>,
    /// Only frames switched in these VLANs (empty: every VLAN).
    pub vlans: Vec<u16>,
    pub output: MirrorOutput,
}

/// Where a mirror's copies go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorOutput {
    /// A monitor port (SPAN), which then carries nothing else.
    Port(String),
    /// The uplink, tagged with this VLAN (RSPAN).
    UplinkVlan(u16),
}

/// What the link agent knows of the bridges on a switch's edges, which the
/// switch's 802.1Qbg settings ([`SwitchConfig::fallback_veb`],
/// [`PortConfig::relay_on_request`]) follow at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFacts {
    /// The adjacent bridge reflects frames back down the uplink: it granted
    /// reflective relay in its EVB TLV, or the relay probe came back.
    pub relay_granted: bool,
    /// The `relay_on_request` ports whose station asks for reflective relay.
    pub relay_requested: Vec<PortId>,
    /// The VSIs stations associated over VDP on relay ports: port, MAC,
    /// VLAN (0: any VLAN). What a `vdp_enforce` port admits.
    pub vdp_associated: Vec<(PortId, MacAddr, u16)>,
}

impl LinkFacts {
    /// Whether a VSI on `port` covers a frame from `src` in VLAN `vid`.
    pub fn associated(&self, port: PortId, src: MacAddr, vid: u16) -> bool {
        self.vdp_associated
            .iter()
            .any(|&(p, m, v)| p == port && m == src && (v == 0 || v == vid))
    }
}

impl SwitchConfig {
    pub fn new(name: impl Into<String>, ports: Vec<PortConfig>) -> SwitchConfig {
        SwitchConfig {
            name: name.into(),
            ports,
            ageing_ms: DEFAULT_AGEING_MS,
            static_fdb: Vec::new(),
            group_fwd_mask: 0,
            fallback_veb: false,
            mirrors: Vec::new(),
            ipfix: None,
            snoop: crate::mdb::SnoopConfig::default(),
            ipvlan: None,
        }
    }

    pub fn port_id(&self, name: &str) -> Option<PortId> {
        self.ports
            .iter()
            .position(|p| p.name == name)
            .map(|i| PortId(i as u16))
    }

    pub fn uplink(&self) -> Option<PortId> {
        self.ports
            .iter()
            .position(|p| p.role == PortRole::Uplink)
            .map(|i| PortId(i as u16))
    }

    /// The ports as they forward given what the link agent knows: relay on
    /// for the ports whose station asks, and `vepa` ports as `veb` while a
    /// `fallback_veb` switch's bridge does not reflect. Whether the
    /// fallback is in force is the second value.
    pub fn in_force(&self, facts: &LinkFacts) -> (Vec<PortConfig>, bool) {
        let fallback = self.fallback_veb && !facts.relay_granted;
        let ports = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut p = p.clone();
                if p.relay_on_request && facts.relay_requested.contains(&PortId(i as u16)) {
                    p.relay = true;
                }
                if fallback && p.role == PortRole::Downlink(PortMode::Vepa) {
                    p.role = PortRole::Downlink(PortMode::Veb);
                }
                p
            })
            .collect();
        (ports, fallback)
    }

    /// Checks every rule the forwarding path relies on; the error names the
    /// switch, the port and the field that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sw = &self.name;
        let err = |port: &str, field: &'static str, problem: String| ConfigError::Invalid {
            switch: sw.clone(),
            port: port.to_string(),
            field,
            problem,
        };
        if self.ports.len() > u16::MAX as usize {
            return Err(err(
                "",
                "ports",
                format!("{} ports; at most {} fit", self.ports.len(), u16::MAX),
            ));
        }
        if let Some(ipvlan) = &self.ipvlan {
            ipvlan.validate(self)?;
        }
        if self.group_fwd_mask & GROUP_FWD_RESTRICTED != 0 {
            return Err(err(
                "",
                "group_fwd_mask",
                format!(
                    "{:#06x} names STP, pause or LACP (bits 0-2, {GROUP_FWD_RESTRICTED:#06x}), which are never forwarded",
                    self.group_fwd_mask
                ),
            ));
        }
        let mut uplinks = 0;
        for (i, p) in self.ports.iter().enumerate() {
            if p.name.is_empty() {
                return Err(err("", "name", "a port needs a non-empty name".into()));
            }
            if self.ports[..i].iter().any(|q| q.name == p.name) {
                return Err(err(
                    &p.name,
                    "name",
                    "duplicate port name on this switch".into(),
                ));
            }
            check_vlan(&p.vlan).map_err(|problem| err(&p.name, "vlan", problem))?;
            match p.role {
                PortRole::Uplink => uplinks += 1,
                PortRole::Downlink(PortMode::Source) => {}
                PortRole::Downlink(_) if !p.source_macs.is_empty() => {
                    return Err(err(
                        &p.name,
                        "source_macs",
                        "only a port in mode \"source\" takes an allow list".into(),
                    ))
                }
                PortRole::Downlink(_) => {}
            }
            if let Some(m) = p.source_macs.iter().find(|m| m.is_multicast()) {
                return Err(err(
                    &p.name,
                    "source_macs",
                    format!("{m} is a group address; expected a unicast MAC"),
                ));
            }
        }
        if uplinks > 1 {
            return Err(err(
                "",
                "uplink",
                format!("{uplinks} uplinks; a switch has at most one"),
            ));
        }
        let downlinks: Vec<&PortConfig> = self
            .ports
            .iter()
            .filter(|p| p.role != PortRole::Uplink)
            .collect();
        for p in &downlinks {
            let Some(mode) = p.mode() else { continue };
            if mode != PortMode::Veb && uplinks == 0 {
                return Err(err(
                    &p.name,
                    "mode",
                    format!("mode \"{mode}\" sends frames to the uplink, and this switch has none (add an uplink or use \"veb\")"),
                ));
            }
            if mode == PortMode::Passthru && downlinks.len() > 1 {
                return Err(err(
                    &p.name,
                    "mode",
                    format!("a \"passthru\" port owns the uplink, so it must be the only downlink (found {})", downlinks.len()),
                ));
            }
        }
        for s in &self.static_fdb {
            let port = s.port.as_str();
            let Some(id) = self.port_id(port) else {
                return Err(err(
                    port,
                    "static_fdb.port",
                    format!("no port named '{port}' on this switch"),
                ));
            };
            if s.mac.is_multicast() {
                return Err(err(
                    port,
                    "static_fdb.mac",
                    format!("{} is a group address; expected a unicast MAC", s.mac),
                ));
            }
            if egress_tag(&self.ports[id.index()].vlan, s.vid).is_none() {
                return Err(err(
                    port,
                    "static_fdb.vlan",
                    format!("the port is not a member of VLAN {}", s.vid),
                ));
            }
        }
        Ok(())
    }
}

/// How an ipvlan switch carries its ports' traffic, as the kernel's
/// `mode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvlanMode {
    /// Ports see broadcast and multicast; unicast is told apart by IP.
    L2,
    /// No broadcast or multicast to or from a port; unicast by IP.
    L3,
    /// L3 where the kernel would run the host's netfilter hooks on the
    /// ports' traffic; vepa forwards as L3 and filters with the ports'
    /// own access lists and guards, which apply in every mode.
    L3s,
}

impl IpvlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IpvlanMode::L2 => "l2",
            IpvlanMode::L3 => "l3",
            IpvlanMode::L3s => "l3s",
        }
    }

    pub(crate) fn routed(self) -> bool {
        self != IpvlanMode::L2
    }
}

/// An ipvlan switch's settings (see [`crate::SwitchConfig::ipvlan`]); the
/// flag (`bridge`, `private`, `vepa`) is its ports' mode (`veb`,
/// `private`, `vepa`), one for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvlanConfig {
    pub mode: IpvlanMode,
    /// The one MAC of the switch's ports and its uplink on the wire.
    pub mac: MacAddr,
    /// Which port owns which address (port names, as the switch has them).
    pub addresses: Vec<(IpAddr, String)>,
    /// Ports that also own the addresses they are seen sending from (up
    /// to [`LEARNED_PER_PORT`](crate::ipvlan::LEARNED_PER_PORT) each,
    /// aged as the FDB is).
    pub learn: Vec<String>,
}

impl IpvlanConfig {
    /// Checks the ipvlan rules on top of the switch's own: one flag that
    /// is bridge, private or vepa; each address owned once, by a port
    /// that is there; every port addressed in L3.
    pub(crate) fn validate(&self, sw: &SwitchConfig) -> Result<(), ConfigError> {
        let err = |port: &str, field: &'static str, problem: String| ConfigError::Invalid {
            switch: sw.name.clone(),
            port: port.to_string(),
            field,
            problem,
        };
        if self.mac.is_multicast() || self.mac == MacAddr::ZERO {
            return Err(err(
                "",
                "mac",
                format!("{} is not a station's MAC", self.mac),
            ));
        }
        let mut flag = None;
        for p in &sw.ports {
            let Some(mode) = p.mode() else { continue };
            if !matches!(mode, PortMode::Veb | PortMode::Vepa | PortMode::Private) {
                return Err(err(
                    &p.name,
                    "mode",
                    format!("an ipvlan switch's ports are bridge, private or vepa, not \"{mode}\""),
                ));
            }
            match flag {
                None => flag = Some(mode),
                Some(f) if f != mode => {
                    return Err(err(
                        &p.name,
                        "mode",
                        format!(
                            "an ipvlan switch has one flag for all its ports (\"{}\" on the others, \"{}\" here)",
                            f.kernel_name(),
                            mode.kernel_name()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        let mut seen: HashMap<IpAddr, &str> = HashMap::new();
        for (ip, port) in &self.addresses {
            let Some(id) = sw.port_id(port) else {
                return Err(err(
                    port,
                    "address",
                    format!("no port named '{port}' on this switch"),
                ));
            };
            if sw.ports[id.index()].mode().is_none() {
                return Err(err(
                    port,
                    "address",
                    "the uplink owns no ports' address".into(),
                ));
            }
            if !is_station_address(*ip) {
                return Err(err(
                    port,
                    "address",
                    format!("{ip} is not a station's address"),
                ));
            }
            if let Some(other) = seen.insert(*ip, port) {
                return Err(err(
                    port,
                    "address",
                    format!("{ip} is port '{other}''s already; an address has one owner on an ipvlan switch"),
                ));
            }
        }
        for port in &self.learn {
            match sw.port_id(port) {
                Some(id) if sw.ports[id.index()].mode().is_some() => {}
                _ => {
                    return Err(err(
                        port,
                        "learn_addresses",
                        "only a port of the switch other than its uplink learns its addresses"
                            .into(),
                    ))
                }
            }
        }
        if self.mode.routed() {
            for p in &sw.ports {
                if p.mode().is_some()
                    && !self.learn.contains(&p.name)
                    && !self.addresses.iter().any(|(_, q)| *q == p.name)
                {
                    return Err(err(
                        &p.name,
                        "address",
                        format!("an {} ipvlan port is reached by its addresses alone; give it at least one (or learn_addresses = true)", self.mode.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An address a station may own: not unspecified, multicast or broadcast.
pub(crate) fn is_station_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

fn check_vid(vid: u16) -> Result<(), String> {
    if (1..=4094).contains(&vid) {
        Ok(())
    } else {
        Err(format!("VLAN ID {vid} is out of range; expected 1 to 4094"))
    }
}

fn check_vlan(v: &VlanMode) -> Result<(), String> {
    match v {
        VlanMode::Access { vid } => check_vid(*vid),
        VlanMode::Trunk { allowed, native } => {
            if allowed.contains(0) || allowed.contains(4095) {
                return Err("VLAN IDs 0 and 4095 are reserved; expected 1 to 4094".into());
            }
            if let Some(n) = native {
                check_vid(*n)?;
            }
            if allowed.iter().next().is_none() && native.is_none() {
                return Err("a trunk needs at least one allowed VLAN or a native VLAN".into());
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "unknown mode '{0}': expected one of veb (or bridge), vepa, private, passthru, source"
    )]
    UnknownMode(String),
    #[error("switch '{switch}'{}: {field}: {problem}", if port.is_empty() { String::new() } else { format!(", port '{port}'") })]
    Invalid {
        switch: String,
        port: String,
        field: &'static str,
        problem: String,
    },
}
