//! The fabric as a picture: switches with their ports (kind, mode, VLANs,
//! relay), routers and the switches they sit on, and what lies beyond
//! each uplink (the wire, a namespace, a patch's far switch, the VTEPs of
//! a VXLAN tunnel or an etcd fabric). One model for `vepa graph` (JSON, or
//! Graphviz DOT for `dot`) and for pages drawing the daemon's state.
//!
//! Built from the desired state ([`Graph::from_topology`]); the daemon's
//! counters add each port's state, traffic and drops ([`Graph::add_stats`]),
//! and two samples add rates ([`Graph::add_rates`]).

use crate::topology::router::{switch_port_name, RouterPortKind};
use crate::topology::{spelled, PortKind, PortSpec, SwitchKind, SwitchSpec, Topology};
use crate::wire::Stats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Graph {
    pub switches: Vec<GraphSwitch>,
    #[serde(default)]
    pub routers: Vec<GraphRouter>,
    /// What lies beyond uplinks and tunnels: the wire, namespaces, VTEPs.
    #[serde(default)]
    pub remotes: Vec<GraphRemote>,
    /// Who is wired to whom, by node id (a port's, a router's, a remote's).
    #[serde(default)]
    pub links: Vec<GraphLink>,
    /// When the counters were published (ms on the daemon's clock, as
    /// `Stats::as_of_ms`): a client that polls takes rates over this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphSwitch {
    /// `switch:NAME`.
    pub id: String,
    pub name: String,
    /// `macvlan` or `ipvlan`.
    pub kind: String,
    /// The mode of its ports that set none (`veb`, `vepa`, `private`, ...).
    pub mode: String,
    /// As asked (`auto`, `kernel`, `userspace`), or as realized once the
    /// daemon says.
    pub backend: String,
    /// Whether the adjacent bridge reflects (the link agent's view), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflective_relay: Option<String>,
    pub ports: Vec<GraphPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphPort {
    /// `port:SWITCH/PORT`.
    pub id: String,
    pub name: String,
    /// `uplink`, `port`, or `router` (a router's port on the switch).
    pub role: String,
    /// `veth`, `tap`, `netdev`, `vxlan`, `patch`, `vhost-user`, `bond`, `router`.
    pub kind: String,
    /// Its mode (the switch's unless it sets its own); none on the uplink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `10`, `trunk 10,20`, `trunk 10,20 native 10`; none for VLAN 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<String>,
    /// Reflective relay: `on`, `evb`; none when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// `up ...` or `down: why`, from the daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<GraphTraffic>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphTraffic {
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Frames per second over the last interval, when two samples were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_fps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_fps: Option<f64>,
    /// Drops with this port as the ingress, by reason (none when there are none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drops: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphRouter {
    /// `router:NAME`.
    pub id: String,
    pub name: String,
    pub ports: Vec<GraphRouterPort>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphRouterPort {
    pub name: String,
    pub addresses: Vec<String>,
    /// The switch it sits on, or none for a TUN port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<String>,
    /// A TUN port's device (`IFNAME` or `IFNAME@NETNS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphRemote {
    /// `remote:...`.
    pub id: String,
    /// `wire` (an interface's network), `netns`, `vtep`, `fabric`, `tun`.
    pub kind: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GraphLink {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn port_id(s: &str, p: &str) -> String {
    format!("port:{s}/{p}")
}

/// A port's VLANs, when they are other than access VLAN 1.
fn vlan_of(p: &PortSpec) -> Option<String> {
    (p.trunk.is_some() || p.vlan.is_some_and(|v| v != 1)).then(|| p.vlan_text())
}

impl Graph {
    /// The picture of `topo` as desired (no state, no traffic).
    pub fn from_topology(topo: &Topology) -> Graph {
        let mut g = Graph::default();
        for s in &topo.switches {
            g.add_switch(topo, s);
        }
        for r in &topo.routers {
            let rid = format!("router:{}", r.name);
            let mut ports = Vec::new();
            for p in &r.ports {
                let tun = (p.kind == RouterPortKind::Tun).then(|| match &p.netns {
                    Some(ns) => format!("{}@{ns}", p.tun_ifname()),
                    None => p.tun_ifname().to_string(),
                });
                if let Some(t) = &tun {
                    let remote = format!("remote:tun:{}:{}", r.name, p.name);
                    g.remote(&remote, "tun", &format!("tun {t}"));
                    g.link(&rid, &remote, Some(p.name.clone()));
                } else {
                    g.link(
                        &rid,
                        &port_id(&p.switch, &switch_port_name(&r.name, &p.name)),
                        None,
                    );
                }
                ports.push(GraphRouterPort {
                    name: p.name.clone(),
                    addresses: p.address.clone(),
                    switch: (!p.switch.is_empty()).then(|| p.switch.clone()),
                    tun,
                });
            }
            g.routers.push(GraphRouter {
                id: rid,
                name: r.name.clone(),
                ports,
            });
        }
        g
    }

    fn remote(&mut self, id: &str, kind: &str, label: &str) {
        if !self.remotes.iter().any(|r| r.id == id) {
            self.remotes.push(GraphRemote {
                id: id.into(),
                kind: kind.into(),
                label: label.into(),
            });
        }
    }

    fn link(&mut self, from: &str, to: &str, label: Option<String>) {
        // A patch is seen from both ends: one line.
        if self
            .links
            .iter()
            .any(|l| (l.from == to && l.to == from) || (l.from == from && l.to == to))
        {
            return;
        }
        self.links.push(GraphLink {
            from: from.into(),
            to: to.into(),
            label,
        });
    }

    fn add_switch(&mut self, topo: &Topology, s: &SwitchSpec) {
        let mut ports = Vec::new();
        for (role, p) in s
            .uplink
            .iter()
            .map(|p| ("uplink", p))
            .chain(s.ports.iter().map(|p| ("port", p)))
        {
            let id = port_id(&s.name, &p.name);
            self.beyond(&s.name, &id, p);
            ports.push(GraphPort {
                id,
                name: p.name.clone(),
                role: role.into(),
                kind: spelled(p.kind),
                mode: (role == "port").then(|| spelled(p.mode.unwrap_or(s.mode))),
                vlan: vlan_of(p),
                relay: p.relay.any().then(|| p.relay.as_str().to_string()),
                netns: p.netns.clone(),
                state: None,
                traffic: None,
            });
        }
        for (r, p) in topo.router_ports_on(&s.name) {
            ports.push(GraphPort {
                id: port_id(&s.name, &switch_port_name(&r.name, &p.name)),
                name: switch_port_name(&r.name, &p.name),
                role: "router".into(),
                kind: "router".into(),
                mode: Some(spelled(s.mode)),
                vlan: p.vlan.filter(|v| *v != 1).map(|v| v.to_string()),
                ..Default::default()
            });
        }
        self.switches.push(GraphSwitch {
            id: format!("switch:{}", s.name),
            name: s.name.clone(),
            kind: match s.kind {
                SwitchKind::Macvlan => "macvlan",
                SwitchKind::Ipvlan => "ipvlan",
            }
            .into(),
            mode: spelled(s.mode),
            backend: spelled(s.backend),
            reflective_relay: None,
            ports,
        });
    }

    /// What lies beyond port `p` (id `id`) of switch `sw`, linked to it.
    fn beyond(&mut self, sw: &str, id: &str, p: &PortSpec) {
        match p.kind {
            PortKind::Netdev => {
                let r = format!("remote:wire:{}", p.host_ifname());
                self.remote(&r, "wire", &format!("network on {}", p.host_ifname()));
                self.link(id, &r, None);
            }
            PortKind::Patch => {
                if let Some(peer) = &p.peer {
                    if let Some((s2, p2)) = peer.split_once('/') {
                        self.link(id, &port_id(s2, p2), Some("patch".into()));
                    }
                }
            }
            PortKind::Vxlan => {
                // One VNI, or a trunk's VLAN:VNI pairs.
                let vnis: Vec<u32> = p
                    .vni
                    .into_iter()
                    .chain(p.vlan_vnis().into_iter().map(|(_, n)| n))
                    .collect();
                let vni = (!vnis.is_empty()).then(|| {
                    let list: Vec<String> = vnis.iter().map(u32::to_string).collect();
                    format!("VNI {}", list.join(","))
                });
                if p.fabric {
                    let r = format!("remote:fabric:{}", sw);
                    self.remote(&r, "fabric", "fabric hosts (etcd)");
                    self.link(id, &r, vni.clone());
                }
                for v in &p.remote {
                    let r = format!("remote:vtep:{v}");
                    self.remote(&r, "vtep", &format!("VTEP {v}"));
                    self.link(id, &r, vni.clone());
                }
            }
            PortKind::Bond => {
                for m in p.member_ports() {
                    let (r, label) = match &m.netns {
                        // A veth member's far end is in its namespace.
                        Some(ns) => (format!("remote:netns:{ns}"), format!("netns {ns}")),
                        None => (
                            format!("remote:wire:{}", m.host_ifname()),
                            format!("network on {}", m.host_ifname()),
                        ),
                    };
                    let kind = if m.netns.is_some() { "netns" } else { "wire" };
                    self.remote(&r, kind, &label);
                    self.link(id, &r, Some(format!("member {}", m.name)));
                }
            }
            _ => {
                if let Some(ns) = &p.netns {
                    let r = format!("remote:netns:{ns}");
                    self.remote(&r, "netns", &format!("netns {ns}"));
                    self.link(id, &r, None);
                }
            }
        }
    }

    /// Adds what the daemon's counters say: each port's state, traffic and
    /// drops, each switch's realized backend and reflective relay.
    pub fn add_stats(&mut self, stats: &Stats) {
        self.as_of_ms = stats.as_of_ms;
        for s in &mut self.switches {
            if let Some(x) = stats.switches.iter().find(|x| x.switch == s.name) {
                s.backend = x.backend.clone();
                s.reflective_relay = x.reflective_relay.clone();
            }
            for p in &mut s.ports {
                if let Some(x) = stats
                    .ports
                    .iter()
                    .find(|x| x.switch == s.name && x.port == p.name)
                {
                    p.state = Some(x.state.clone());
                    p.traffic = Some(GraphTraffic {
                        rx_frames: x.rx_frames,
                        tx_frames: x.tx_frames,
                        rx_bytes: x.rx_bytes,
                        tx_bytes: x.tx_bytes,
                        rx_fps: None,
                        tx_fps: None,
                        drops: x
                            .drops
                            .iter()
                            .filter(|(_, n)| **n > 0)
                            .map(|(r, n)| (r.clone(), *n))
                            .collect(),
                    });
                }
            }
        }
    }

    /// Adds rates from an earlier sample `before`, `secs` seconds back.
    pub fn add_rates(&mut self, before: &Stats, secs: f64) {
        if secs <= 0.0 {
            return;
        }
        for s in &mut self.switches {
            for p in &mut s.ports {
                let Some(t) = p.traffic.as_mut() else {
                    continue;
                };
                if let Some(x) = before
                    .ports
                    .iter()
                    .find(|x| x.switch == s.name && x.port == p.name)
                {
                    t.rx_fps = Some(t.rx_frames.saturating_sub(x.rx_frames) as f64 / secs);
                    t.tx_fps = Some(t.tx_frames.saturating_sub(x.tx_frames) as f64 / secs);
                }
            }
        }
    }

    /// Graphviz DOT: a cluster per switch holding its ports, a box per
    /// router, an ellipse per remote.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph vepa {\n  rankdir=LR;\n  compound=true;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [dir=none, fontname=\"Helvetica\", fontsize=9];\n",
        );
        for (i, s) in self.switches.iter().enumerate() {
            // Escaped part by part: the line break is DOT's own.
            let mut title = esc(&format!(
                "{} ({} {}, {})",
                s.name, s.kind, s.mode, s.backend
            ));
            if let Some(r) = &s.reflective_relay {
                let _ = write!(title, "\\nadjacent bridge reflects: {}", esc(r));
            }
            let _ = writeln!(
                out,
                "  subgraph cluster_{i} {{\n    label=\"{title}\";\n    style=rounded;\n    color=\"#3465a4\";"
            );
            for p in &s.ports {
                let mut label = format!("{}\\n{}", esc(&p.name), esc(&p.kind));
                for extra in [
                    &p.mode,
                    &p.vlan.as_ref().map(|v| format!("vlan {v}")),
                    &p.relay.as_ref().map(|r| format!("relay {r}")),
                ]
                .into_iter()
                .flatten()
                {
                    let _ = write!(label, " {}", esc(extra));
                }
                if let Some(st) = &p.state {
                    let _ = write!(label, "\\n{}", esc(st));
                }
                if let Some(t) = &p.traffic {
                    if let (Some(rx), Some(tx)) = (t.rx_fps, t.tx_fps) {
                        let _ = write!(label, "\\nrx {rx:.0}/s tx {tx:.0}/s");
                    }
                    let drops: u64 = t.drops.values().sum();
                    if drops > 0 {
                        let _ = write!(label, "\\ndrops {drops}");
                    }
                }
                let (shape, fill) = match p.role.as_str() {
                    "uplink" => ("box", "#fce94f"),
                    "router" => ("box", "#e9b96e"),
                    _ => ("box", "#d3d7cf"),
                };
                let down = p.state.as_deref().is_some_and(|s| s.starts_with("down"));
                let _ = writeln!(
                    out,
                    "    \"{}\" [label=\"{label}\", shape={shape}, style=\"rounded,filled\", fillcolor=\"{}\"];",
                    esc(&p.id),
                    if down { "#ef2929" } else { fill }
                );
            }
            out.push_str("  }\n");
        }
        for r in &self.routers {
            let addrs: Vec<String> = r
                .ports
                .iter()
                .map(|p| format!("{} {}", p.name, p.addresses.join(" ")))
                .collect();
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"router {}\\n{}\", shape=box3d];",
                esc(&r.id),
                esc(&r.name),
                esc(&addrs.join("\n"))
            );
        }
        for x in &self.remotes {
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\", shape=ellipse, style=dashed];",
                esc(&x.id),
                esc(&x.label)
            );
        }
        for l in &self.links {
            match &l.label {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "  \"{}\" -> \"{}\" [label=\"{}\"];",
                        esc(&l.from),
                        esc(&l.to),
                        esc(t)
                    );
                }
                None => {
                    let _ = writeln!(out, "  \"{}\" -> \"{}\";", esc(&l.from), esc(&l.to));
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT string's contents: quotes and backslashes escaped, newlines as
/// `\n`, any other control character a space.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace(|c: char| c.is_control(), " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_break_lines_once_and_escape_the_rest() {
        let mut g = Graph::default();
        g.switches.push(GraphSwitch {
            id: "switch:s".into(),
            name: "s".into(),
            kind: "macvlan".into(),
            mode: "vepa".into(),
            backend: "userspace".into(),
            reflective_relay: Some("on".into()),
            ports: vec![GraphPort {
                id: "port:s/a".into(),
                name: "a\"b\\c\u{7}".into(),
                role: "port".into(),
                kind: "veth".into(),
                ..Default::default()
            }],
        });
        let dot = g.to_dot();
        assert!(
            dot.contains("label=\"s (macvlan vepa, userspace)\\nadjacent bridge reflects: on\""),
            "{dot}"
        );
        assert!(dot.contains("label=\"a\\\"b\\\\c \\nveth\""), "{dot}");
    }
}
