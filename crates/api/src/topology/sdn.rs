//! A switch's SDN part in the topology: its flows and groups (in
//! `ovs-ofctl` syntax) and its OpenFlow endpoints.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use utoipa::ToSchema;
use vepa_dataplane::flow::{Miss, Pipeline};

/// A switch's management socket in `dir` (the API socket's directory).
pub fn mgmt_path(dir: &std::path::Path, switch: &str) -> std::path::PathBuf {
    dir.join(format!("{switch}.mgmt"))
}

/// The port OpenFlow 1.3 assigned (IANA).
pub const OPENFLOW_PORT: u16 = 6653;

/// A switch's OpenFlow endpoints. A switch with this table always has its
/// management socket (`SWITCH.mgmt` beside the API socket, like Open
/// vSwitch's `punix:` per bridge): mode 0660, the daemon's group, peer
/// credentials checked. `listen` and `controller` add network channels.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenFlowSpec {
    /// A network listener besides the management socket:
    /// `pssl:[PORT][:IP]` (TLS, the client's certificate verified against
    /// the daemon's CA) or `ptcp:[PORT][:IP]` (plain TCP, loopback only and
    /// only with `allow_plain_tcp`); port 6653, IP 127.0.0.1 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Accept a plain `ptcp:` listener on loopback, which authenticates
    /// nobody: every local user can then add flows, send frames out of any
    /// port and read every packet-in of this switch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plain_tcp: bool,
    /// A controller to connect to: `ssl:HOST[:PORT]` (TLS both ways) or
    /// `tcp:HOST[:PORT]` (port default 6653).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// What the switch does while no controller is connected.
    #[serde(default, skip_serializing_if = "FailMode::is_default")]
    pub fail_mode: FailMode,
    /// Most packet-ins a second this switch sends its controllers (as Open
    /// vSwitch's `controller_rate_limit`); default 1000. The excess, and
    /// what its queue (256) cannot hold, is dropped and counted, and other
    /// switches' packet-ins are not held up by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_in_rate: Option<u32>,
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

/// How an OpenFlow network channel is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP: nobody is authenticated.
    Tcp,
    /// TLS with certificates verified against the daemon's CA both ways.
    Ssl,
}

impl OpenFlowSpec {
    /// For a state stored before plain TCP became opt-in: drops a `ptcp:`
    /// listener the checks now refuse (beyond loopback, or without
    /// `allow_plain_tcp`) and returns it, so the daemon starts and says so
    /// rather than keep an unauthenticated listener nobody asked for.
    pub fn drop_refused_plain_tcp(&mut self) -> Option<String> {
        let refused = self.listen.as_deref().is_some_and(|l| {
            matches!(parse_listen(l), Ok((Transport::Tcp, a)) if !a.ip().is_loopback() || !self.allow_plain_tcp)
        });
        if refused {
            self.allow_plain_tcp = false;
            return self.listen.take();
        }
        if self.allow_plain_tcp
            && !self
                .listen
                .as_deref()
                .is_some_and(|l| matches!(parse_listen(l), Ok((Transport::Tcp, _))))
        {
            self.allow_plain_tcp = false;
        }
        None
    }

    /// Whether a channel needs the daemon's TLS files.
    pub fn uses_tls(&self) -> bool {
        let ssl = |r: Result<Transport, String>| r == Ok(Transport::Ssl);
        self.listen
            .as_deref()
            .is_some_and(|l| ssl(parse_listen(l).map(|(t, _)| t)))
            || self
                .controller
                .as_deref()
                .is_some_and(|c| ssl(parse_controller(c).map(|(t, _, _)| t)))
    }
}

/// Reads `ptcp:[PORT][:IP]` or `pssl:[PORT][:IP]` into the transport and
/// the address to bind.
pub fn parse_listen(s: &str) -> Result<(Transport, SocketAddr), String> {
    let (transport, rest) = if let Some(r) = s.strip_prefix("ptcp:") {
        (Transport::Tcp, r)
    } else if let Some(r) = s.strip_prefix("pssl:") {
        (Transport::Ssl, r)
    } else if s == "ptcp" || s == "pssl" {
        (
            if s == "ptcp" {
                Transport::Tcp
            } else {
                Transport::Ssl
            },
            "",
        )
    } else {
        return Err(format!(
            "'{s}': expected pssl:[PORT][:IP] or ptcp:[PORT][:IP], e.g. pssl:6653 (the management socket needs no listen)"
        ));
    };
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
    Ok((transport, SocketAddr::new(ip, port)))
}

/// Reads `tcp:HOST[:PORT]` or `ssl:HOST[:PORT]` into the transport, host
/// and port to dial.
pub fn parse_controller(s: &str) -> Result<(Transport, String, u16), String> {
    let (transport, rest) = if let Some(r) = s.strip_prefix("tcp:") {
        (Transport::Tcp, r)
    } else if let Some(r) = s.strip_prefix("ssl:") {
        (Transport::Ssl, r)
    } else {
        return Err(format!(
            "'{s}': expected ssl:HOST[:PORT] or tcp:HOST[:PORT], e.g. ssl:10.0.0.5:6653"
        ));
    };
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
    Ok((transport, host.to_string(), port))
}

/// How a switch's flows apply, from its OpenFlow settings and whether its
/// controller is connected: the miss policy, and whether flows are
/// bypassed altogether.
///
/// - no controller configured: flows apply; misses take the switch's own
///   forwarding, or are dropped in `secure` mode;
/// - controller connected: flows apply, misses are dropped (OpenFlow 1.3);
/// - controller configured but gone: `standalone` forwards every frame as
///   a plain switch (flows kept, unused), `secure` keeps using the flows
///   and drops misses.
pub fn flow_mode(of: Option<&OpenFlowSpec>, controller_up: bool) -> (Miss, bool) {
    let Some(o) = of else {
        return (Miss::Normal, false);
    };
    let secure = o.fail_mode == FailMode::Secure;
    match (o.controller.is_some(), controller_up) {
        (_, true) => (Miss::Drop, false),
        (true, false) if !secure => (Miss::Normal, true),
        (_, false) if secure => (Miss::Drop, false),
        _ => (Miss::Normal, false),
    }
}

/// A pipeline with the mode `flow_mode` gives it.
pub fn with_mode(mut p: Pipeline, of: Option<&OpenFlowSpec>, controller_up: bool) -> Pipeline {
    (p.miss, p.bypass) = flow_mode(of, controller_up);
    p
}
