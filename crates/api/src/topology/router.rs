//! Routers in the topology file: ports on switches with addresses, and
//! static routes.
//!
//! ```toml
//! [[router]]
//! name = "r1"
//! [[router.port]]
//! name = "a"
//! switch = "net-a"
//! address = ["10.1.0.1/24", "fd00:1::1/64"]
//! [[router.route]]
//! prefix = "default"
//! via = "10.9.0.254"
//! ```
//!
//! Each router port becomes a port named `ROUTER:PORT` on its switch (in
//! `veb` mode, on its access VLAN, its MAC pinned there), after the
//! switch's own ports.

use super::error::{invalid, TopologyError};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use utoipa::ToSchema;
use vepa_dataplane::router::{IfAddr, Prefix, RouteConfig, RouterConfig, RouterPortConfig};
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    pub name: String,
    #[serde(default, rename = "port")]
    pub ports: Vec<RouterPortSpec>,
    #[serde(default, rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterPortSpec {
    pub name: String,
    /// `switch` (default: a port on `switch`) or `tun`: a point-to-point
    /// port over a TUN device vepa makes (IP packets, no Ethernet), for a
    /// namespace or a userspace VPN to join the fabric at L3.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "RouterPortKind::is_default"
    )]
    pub kind: RouterPortKind,
    /// The switch this port sits on (a `switch` port's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub switch: String,
    /// `tun`: the device's name (default: the port's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// `tun`: the namespace the device goes into, addressed there with
    /// `peer_address` and routed through this port (made if missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// `tun`: the far end's addresses, on the device in `netns`
    /// (`10.8.0.2/30`); its default routes go through this port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_address: Vec<String>,
    /// `tun`: pass partial checksums and GSO super-packets through the
    /// device (virtio-net header); default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offload: Option<bool>,
    /// `tun`: make the device persistent, for a VPN daemon (OpenVPN, or
    /// any program that opens a TUN device by name) in `netns` (default: vepa's
    /// namespace) to open by name. vepa takes its packets at the device,
    /// and nothing that comes in reaches that namespace's own stack.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persist: bool,
    /// `tun` with `persist`: the uid that may open the device without
    /// CAP_NET_ADMIN (default: only a privileged process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
    /// The router's addresses on this port, with their subnet length
    /// (`10.1.0.1/24`, `fd00:1::1/64`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
    /// Default: a locally administered MAC derived from the router and port names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mac: Option<MacAddr>,
    /// The largest IP packet sent out of this port; default 1500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The access VLAN on the switch; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// What a router port is on.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouterPortKind {
    /// A port of a switch (Ethernet: ARP, ND, the switch's VLAN).
    #[default]
    Switch,
    /// A TUN device: IP packets to and from the far end, nothing else.
    Tun,
}

impl RouterPortKind {
    pub fn is_default(&self) -> bool {
        *self == RouterPortKind::Switch
    }
}

impl RouterPortSpec {
    /// A TUN port's device.
    pub fn tun_ifname(&self) -> &str {
        self.ifname.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// `10.0.0.0/8`, `fd00::/16`, or `default` (the family of `via`).
    pub prefix: String,
    /// The gateway, on one of the router's subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The router port to send out of (required without `via`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

impl RouteSpec {
    /// The prefix as a value: `default` is `0.0.0.0/0`, or `::/0` when
    /// `via` is an IPv6 address.
    pub fn prefix_value(&self) -> Result<Prefix, String> {
        let text = if self.prefix == "default" {
            let v6 = self
                .via
                .as_deref()
                .and_then(|v| v.parse::<IpAddr>().ok())
                .is_some_and(|v| v.is_ipv6());
            if v6 {
                "::/0"
            } else {
                "0.0.0.0/0"
            }
        } else {
            &self.prefix
        };
        text.parse::<Prefix>().map_err(|e| e.to_string())
    }
}

impl RouterSpec {
    pub fn new(name: &str) -> RouterSpec {
        RouterSpec {
            name: name.to_string(),
            ports: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// The dataplane configuration; every error names the router, the port
    /// or route, and the field.
    pub fn config(&self) -> Result<RouterConfig, TopologyError> {
        let at = format!("router '{}'", self.name);
        let mut ports = Vec::new();
        for p in &self.ports {
            let pat = format!("router '{}', port '{}'", self.name, p.name);
            let mut addresses = Vec::new();
            for a in &p.address {
                let ifa: IfAddr = a
                    .parse()
                    .map_err(|e| invalid(&pat, "address", format!("'{a}': {e}")))?;
                addresses.push(ifa);
            }
            let mtu = p.mtu.unwrap_or(1500);
            let mtu = u16::try_from(mtu)
                .ok()
                .filter(|m| *m >= 68)
                .ok_or_else(|| {
                    invalid(
                        &pat,
                        "mtu",
                        format!("{mtu} is out of range; expected 68 to 65535"),
                    )
                })?;
            ports.push(RouterPortConfig {
                name: p.name.clone(),
                mac: p.mac.unwrap_or_else(|| derived_mac(&self.name, &p.name)),
                addresses,
                mtu,
                peer_mac: (p.kind == RouterPortKind::Tun)
                    .then(|| tun_peer_mac(&self.name, &p.name)),
            });
        }
        let mut routes = Vec::new();
        for r in &self.routes {
            let rat = format!("router '{}', route '{}'", self.name, r.prefix);
            let via: Option<IpAddr> = match &r.via {
                Some(v) => Some(
                    v.parse()
                        .map_err(|_| invalid(&rat, "via", format!("'{v}' is not an IP address")))?,
                ),
                None => None,
            };
            let prefix = r.prefix_value().map_err(|e| invalid(&rat, "prefix", e))?;
            routes.push(RouteConfig {
                prefix,
                via,
                port: r.port.clone(),
            });
        }
        let cfg = RouterConfig {
            name: self.name.clone(),
            ports,
            routes,
        };
        cfg.build().map_err(|e| invalid(&at, e.field, e.problem))?;
        Ok(cfg)
    }
}

/// A stable, locally administered MAC for a router port.
pub fn derived_mac(router: &str, port: &str) -> MacAddr {
    // FNV-1a: stable across releases, unlike std's hasher.
    let mut h: u32 = 0x811c9dc5;
    for b in router.bytes().chain([0u8]).chain(port.bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    let b = h.to_be_bytes();
    MacAddr([0x02, 0x76, b[0], b[1], b[2], b[3]])
}

/// The MAC standing for the far end of TUN port `port` of `router` (the
/// device has none: its packets carry no Ethernet header).
pub fn tun_peer_mac(router: &str, port: &str) -> MacAddr {
    derived_mac(router, &format!("{port}/tun"))
}

/// The name a router port has on its switch.
pub fn switch_port_name(router: &str, port: &str) -> String {
    format!("{router}:{port}")
}

/// A router port as its switch sees it.
pub struct OnSwitch {
    pub name: String,
    pub mac: MacAddr,
    pub vlan: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn topo(extra: &str) -> Topology {
        let text = format!(
            r#"
[[switch]]
name = "net-a"
[[switch.port]]
name = "vm1"
type = "veth"
netns = "a1"
[[switch]]
name = "net-b"
[[switch.port]]
name = "vm2"
type = "veth"
netns = "b1"
[[router]]
name = "r1"
[[router.port]]
name = "a"
switch = "net-a"
address = ["10.1.0.1/24", "fd00:1::1/64"]
[[router.port]]
name = "b"
switch = "net-b"
address = ["10.2.0.1/24"]
{extra}
"#
        );
        Topology::parse("t.toml", &text).unwrap()
    }

    #[test]
    fn router_ports_join_their_switches() {
        let t = topo("[[router.route]]\nprefix = \"default\"\nvia = \"10.2.0.254\"\n");
        let configs = t.check().unwrap();
        let a = &configs[0];
        assert_eq!(
            a.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["vm1", "r1:a"]
        );
        assert_eq!(a.static_fdb[0].mac, derived_mac("r1", "a"));
        let r = t.router_configs().unwrap();
        assert_eq!(r[0].routes[0].prefix.to_string(), "0.0.0.0/0");
        let again = Topology::parse("t.toml", &t.to_toml().unwrap()).unwrap();
        assert_eq!(again, t, "export reads back the same");
    }

    #[test]
    fn a_tun_port_has_a_link_of_its_own() {
        let t = topo(
            "[[router.port]]\nname = \"vpn\"\ntype = \"tun\"\nnetns = \"v1\"\naddress = [\"10.8.0.1/30\"]\npeer_address = [\"10.8.0.2/30\"]\n",
        );
        let configs = t.check().unwrap();
        assert!(
            configs.iter().all(|c| c.port_id("r1:vpn").is_none()),
            "on no switch of the file"
        );
        let links = t.tun_links();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].name, "r1:vpn");
        assert!(links[0].port_id(super::super::TUN_DEVICE_PORT).is_some());
        let r = t.router_configs().unwrap();
        let vpn = r[0].ports.iter().find(|p| p.name == "vpn").unwrap();
        assert_eq!(vpn.peer_mac, Some(tun_peer_mac("r1", "vpn")));
        let again = Topology::parse("t.toml", &t.to_toml().unwrap()).unwrap();
        assert_eq!(again, t, "export reads back the same");
    }

    #[test]
    fn bad_tun_ports_name_the_field() {
        let tun = |extra: &str| {
            format!("[[router.port]]\nname = \"vpn\"\ntype = \"tun\"\naddress = [\"10.8.0.1/30\"]\n{extra}")
        };
        let cases = [
            (
                tun("switch = \"net-a\"\n"),
                "switch: a tun port is a device of its own",
            ),
            (tun("vlan = 5\n"), "vlan:"),
            (
                tun("netns = \"/proc/1/ns/net\"\n"),
                "netns: '/proc/1/ns/net' is not a namespace name",
            ),
            (
                tun("netns = \"v\\u0007x\"\n"),
                "netns: 'v\\u{7}x' is not a namespace name",
            ),
            (
                tun("netns = \"v\"\npeer_address = [\"10.9.0.2/30\"]\n"),
                "peer_address: '10.9.0.2/30'",
            ),
            (
                tun("peer_address = [\"10.8.0.2/30\"]\n"),
                "peer_address: the far end's addresses go on the device inside netns",
            ),
            (tun("ifname = \"much-too-long-name\"\n"), "ifname:"),
            (
                tun("persist = true\nnetns = \"v\"\npeer_address = [\"10.8.0.2/30\"]\n"),
                "peer_address: the far end's addresses are the VPN peer's own",
            ),
            (
                tun("persist = true\noffload = false\n"),
                "offload: the VPN daemon that opens a persistent device chooses",
            ),
            (tun("owner = 1000\n"), "owner: only a persistent device"),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-a\"\npersist = true\n".to_string(),
                "persist: only a port of type \"tun\"",
            ),
            (
                "[[router.port]]\nname = \"vpn\"\ntype = \"tun\"\n".to_string(),
                "address: a tun port routes",
            ),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-a\"\nnetns = \"x\"\n".to_string(),
                "netns: only a port of type \"tun\"",
            ),
            (
                "[[router.port]]\nname = \"c\"\n".to_string(),
                "switch: a router port sits on a switch",
            ),
        ];
        for (extra, want) in cases {
            let e = topo(&extra).check().unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn bad_routers_name_the_field() {
        let cases = [
            (
                "[[router.route]]\nprefix = \"default\"\nvia = \"192.168.1.1\"\n",
                "unreachable",
            ),
            (
                "[[router.route]]\nprefix = \"10.0.0.1/8\"\nvia = \"10.2.0.9\"\n",
                "host bits",
            ),
            (
                "[[router.route]]\nprefix = \"10.0.0.0/8\"\nvia = \"nope\"\n",
                "via",
            ),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-z\"\n",
                "no switch 'net-z'",
            ),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-a\"\naddress = [\"10.1.0.9/16\"]\n",
                "overlaps",
            ),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-a\"\naddress = [\"10.9.0.1\"]\n",
                "ADDRESS/LENGTH",
            ),
            (
                "[[router.port]]\nname = \"c\"\nswitch = \"net-a\"\nmtu = 20\n",
                "mtu",
            ),
        ];
        for (extra, want) in cases {
            let e = topo(extra).check().unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }
}
