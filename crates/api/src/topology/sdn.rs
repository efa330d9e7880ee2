//! A switch's SDN part in the topology: its flows and groups (in
//! `ovs-ofctl` syntax) and its OpenFlow endpoints.

use super::{invalid, SwitchSpec, TopologyError};
use crate::flowtext::{format_flow, parse_flow, parse_group, parse_meter, PortNames};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use utoipa::ToSchema;
use vepa_dataplane::flow::{FlowFilter, Pipeline};

/// The port OpenFlow 1.3 assigned (IANA).
pub const OPENFLOW_PORT: u16 = 6653;

/// A switch's OpenFlow endpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenFlowSpec {
    /// Passive listener for `ovs-ofctl` and controllers that dial in:
    /// `ptcp:[PORT][:IP]`, default port 6653 on 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// A controller to connect to: `tcp:HOST:PORT` (port default 6653).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// What the switch does while no controller is connected.
    #[serde(default, skip_serializing_if = "FailMode::is_default")]
    pub fail_mode: FailMode,
}

/// Behaviour without a controller (Open vSwitch's `fail_mode`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Frames no flow matches take the switch's own forwarding (NORMAL).
    #[default]
    Standalone,
    /// Flows stay; frames no flow matches are dropped.
    Secure,
}

impl FailMode {
    pub fn is_default(&self) -> bool {
        *self == FailMode::Standalone
    }
}

/// Reads `ptcp:[PORT][:IP]` into the address to bind.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let rest = s
        .strip_prefix("ptcp:")
        .or_else(|| (s == "ptcp").then_some(""))
        .ok_or_else(|| format!("'{s}': expected ptcp:[PORT][:IP], e.g. ptcp:6653"))?;
    let (port, ip) = match rest.split_once(':') {
        Some((p, ip)) => (p, Some(ip)),
        None => (rest, None),
    };
    let port = if port.is_empty() {
        OPENFLOW_PORT
    } else {
        port.parse::<u16>()
            .map_err(|_| format!("'{port}' is not a TCP port (1 to 65535)"))?
    };
    let ip: IpAddr = match ip {
        None | Some("") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(ip) => ip
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .map_err(|_| format!("'{ip}' is not an IP address"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Reads `tcp:HOST[:PORT]` into a host and port to dial.
pub fn parse_controller(s: &str) -> Result<(String, u16), String> {
    let rest = s
        .strip_prefix("tcp:")
        .ok_or_else(|| format!("'{s}': expected tcp:HOST[:PORT], e.g. tcp:127.0.0.1:6653"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.ends_with(':') => (
            h.trim_matches(|c| c == '[' || c == ']'),
            p.parse::<u16>()
                .map_err(|_| format!("'{p}' is not a TCP port (1 to 65535)"))?,
        ),
        _ => (rest, OPENFLOW_PORT),
    };
    if host.is_empty() {
        return Err(format!("'{s}': the controller's host is missing"));
    }
    Ok((host.to_string(), port))
}

impl SwitchSpec {
    /// The switch's port names in dataplane order (OpenFlow port n is `[n-1]`).
    pub fn port_names(&self) -> Vec<String> {
        self.uplink
            .iter()
            .chain(&self.ports)
            .map(|p| p.name.clone())
            .collect()
    }

    /// The switch's groups and flows as a pipeline; the error names the
    /// entry (`flows[2]`) and the part of its text at fault.
    pub fn pipeline(&self, now_ms: u64) -> Result<Pipeline, TopologyError> {
        let at = format!("switch '{}'", self.name);
        let names = self.port_names();
        let ports = PortNames(&names);
        let mut p = Pipeline::default();
        for (i, text) in self.meters.iter().enumerate() {
            let m = parse_meter(text)
                .map_err(|e| invalid(&at, format!("meters[{i}]"), e.to_string()))?;
            p.add_meter(m, false, now_ms)
                .map_err(|e| invalid(&at, format!("meters[{i}]"), e.to_string()))?;
        }
        for (i, text) in self.groups.iter().enumerate() {
            let g = parse_group(text, ports)
                .map_err(|e| invalid(&at, format!("groups[{i}]"), e.to_string()))?;
            p.add_group(g, names.len())
                .map_err(|e| invalid(&at, format!("groups[{i}]"), e.to_string()))?;
        }
        for (i, text) in self.flows.iter().enumerate() {
            let f = parse_flow(text, ports)
                .map_err(|e| invalid(&at, format!("flows[{i}]"), e.to_string()))?;
            if !f.has_actions {
                return Err(invalid(
                    &at,
                    format!("flows[{i}]"),
                    "a flow needs actions= (actions=drop to drop)",
                ));
            }
            let strict = FlowFilter {
                table: Some(f.spec.table),
                matcher: f.spec.matcher.clone(),
                strict_priority: Some(f.spec.priority),
                ..FlowFilter::default()
            };
            if let Some(prev) = p.flows(&strict).first() {
                let before = self
                    .flows
                    .iter()
                    .position(|t| {
                        parse_flow(t, ports).is_ok_and(|q| {
                            q.spec.table == prev.table
                                && q.spec.priority == prev.priority
                                && q.spec.matcher == prev.matcher
                        })
                    })
                    .unwrap_or(0);
                return Err(invalid(
                    &at,
                    format!("flows[{i}]"),
                    format!("same table, priority and match as flows[{before}]"),
                ));
            }
            p.add(f.spec, names.len(), now_ms)
                .map_err(|e| invalid(&at, format!("flows[{i}]"), e.to_string()))?;
        }
        Ok(p)
    }

    /// Checks the OpenFlow endpoints' syntax.
    pub(super) fn check_openflow(&self) -> Result<Option<SocketAddr>, TopologyError> {
        let at = format!("switch '{}'", self.name);
        let Some(of) = &self.openflow else {
            return Ok(None);
        };
        if let Some(c) = &of.controller {
            parse_controller(c).map_err(|e| invalid(&at, "openflow.controller", e))?;
        }
        of.listen
            .as_deref()
            .map(|l| parse_listen(l).map_err(|e| invalid(&at, "openflow.listen", e)))
            .transpose()
    }
}

/// The canonical text of a flow (what the store keeps), or why it is wrong.
pub fn canonical_flow(
    s: &SwitchSpec,
    text: &str,
) -> Result<String, crate::flowtext::FlowTextError> {
    let names = s.port_names();
    let f = parse_flow(text, PortNames(&names))?;
    Ok(format_flow(&f.spec, PortNames(&names)))
}
