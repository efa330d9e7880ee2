//! ipvlan switches in the topology file (`kind = "ipvlan"`): what their
//! ports may be, which addresses each owns, and the one MAC they share.
//!
//! ```toml
//! [[switch]]
//! name = "edge"
//! kind = "ipvlan"
//! ipvlan_mode = "l2"      # l2 (default), l3, l3s
//! mode = "bridge"         # the flag: bridge (default), private, vepa
//! [switch.uplink]
//! name = "up"
//! type = "netdev"
//! ifname = "eth1"         # its MAC is every port's on the wire
//! [[switch.port]]
//! name = "c1"
//! type = "veth"
//! netns = "c1"
//! address = ["10.0.0.11/24"]   # owned: the switch delivers 10.0.0.11 here
//! ```

use super::error::{invalid, TopologyError};
use super::spec::{PortKind, PortSpec, SwitchKind, SwitchSpec};
use std::net::IpAddr;
use vepa_dataplane::ipvlan::{derived_mac, IpvlanConfig};
use vepa_packet::MacAddr;

/// The dataplane's ipvlan settings of `s` (`None` for a macvlan switch),
/// after the checks only an ipvlan switch has. `router_ports`: how many
/// routers have a port on it.
pub(super) fn ipvlan_config(
    s: &SwitchSpec,
    router_ports: usize,
) -> Result<Option<IpvlanConfig>, TopologyError> {
    let at = format!("switch '{}'", s.name);
    if s.kind != SwitchKind::Ipvlan {
        if let Some(p) = s.uplink.iter().chain(&s.ports).find(|p| p.learn_addresses) {
            return Err(invalid(
                format!("switch '{}', port '{}'", s.name, p.name),
                "learn_addresses",
                "only an ipvlan switch's ports own addresses (a macvlan switch learns MACs)",
            ));
        }
        if s.ipvlan_mode.is_some() {
            return Err(invalid(
                at,
                "ipvlan_mode",
                "only an ipvlan switch has one: set kind = \"ipvlan\" (or remove ipvlan_mode)",
            ));
        }
        return Ok(None);
    }
    if router_ports > 0 {
        return Err(invalid(
            at,
            "kind",
            "a router port has a MAC of its own, and every port of an ipvlan switch carries the uplink's: put the router on a macvlan switch",
        ));
    }
    if !s.static_fdb.is_empty() {
        return Err(invalid(
            at,
            "static_fdb",
            "an ipvlan switch tells its ports apart by address and has no MAC table",
        ));
    }
    if s.multicast.is_some() {
        return Err(invalid(
            at,
            "multicast",
            "an ipvlan switch gives every port the group frames (l2) or none (l3); snooping is a MAC-learning switch's",
        ));
    }
    if let Some(u) = s.uplink.as_ref().filter(|u| u.learn_addresses) {
        return Err(invalid(
            format!("switch '{}', port '{}'", s.name, u.name),
            "learn_addresses",
            "the uplink owns no address of the switch's ports",
        ));
    }
    let mut addresses = Vec::new();
    let mut learn = Vec::new();
    for p in &s.ports {
        if p.learn_addresses {
            if !p.guard || p.allowed_ips.is_empty() {
                return Err(invalid(
                    format!("switch '{}', port '{}'", s.name, p.name),
                    "learn_addresses",
                    "a learning port claims only what its guard lets it send from: set guard = true and allowed_ips (the addresses or prefixes it may claim)",
                ));
            }
            learn.push(p.name.clone());
        }
        let pat = format!("switch '{}', port '{}'", s.name, p.name);
        if matches!(p.kind, PortKind::Patch | PortKind::Vxlan | PortKind::Bond) {
            return Err(invalid(
                pat,
                "type",
                "an ipvlan port is one station, told apart by its addresses; a patch or a tunnel carries many MACs (veth, tap, netdev and vhost-user ports fit)",
            ));
        }
        if p.mac.is_some() {
            return Err(invalid(
                pat,
                "mac",
                "an ipvlan port carries the switch's one MAC (the uplink's); remove mac",
            ));
        }
        if p.relay.any() {
            return Err(invalid(
                pat,
                "relay",
                "an ipvlan port reflects nothing; with mode = \"vepa\" the bridge beyond the uplink does",
            ));
        }
        for a in &p.address {
            let ip = owned_address(a).ok_or_else(|| {
                invalid(
                    &pat,
                    "address",
                    format!("'{a}': expected an address with prefix length, such as 10.0.0.1/24"),
                )
            })?;
            addresses.push((ip, p.name.clone()));
        }
    }
    Ok(Some(IpvlanConfig {
        mode: s.ipvlan_mode.unwrap_or_default().into(),
        mac: ipvlan_mac(s),
        addresses,
        learn,
    }))
}

/// The address part of `10.0.0.1/24` (or a bare address).
fn owned_address(a: &str) -> Option<IpAddr> {
    a.split('/').next()?.trim().parse().ok()
}

/// The one MAC an ipvlan switch's ports carry: its uplink interface's
/// (a `netdev` uplink, or a bond's first `netdev` member), as the kernel's
/// ipvlan devices take their master's; otherwise (an uplink vepa makes,
/// or none) a stable one derived from the switch's name.
pub fn ipvlan_mac(s: &SwitchSpec) -> MacAddr {
    ipvlan_mac_with(s, &|ifname| {
        std::fs::read_to_string(format!("/sys/class/net/{ifname}/address"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

fn ipvlan_mac_with(s: &SwitchSpec, read: &dyn Fn(&str) -> Option<MacAddr>) -> MacAddr {
    let uplink = s.uplink.as_ref().and_then(|u: &PortSpec| match u.kind {
        PortKind::Netdev => read(u.host_ifname()),
        PortKind::Bond => u
            .member_ports()
            .iter()
            .find(|m| m.kind == PortKind::Netdev)
            .and_then(|m| read(m.host_ifname())),
        _ => None,
    });
    uplink
        .filter(|m| !m.is_multicast() && !m.is_zero())
        .unwrap_or_else(|| derived_mac(&s.name))
}

/// Whether port `p` of `s` is one of an ipvlan switch's stations (not its
/// uplink).
pub fn shares_mac(s: &SwitchSpec, p: &PortSpec) -> bool {
    s.kind == SwitchKind::Ipvlan && s.uplink.as_ref().is_none_or(|u| u.name != p.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn topo(switch_extra: &str, port_extra: &str) -> Topology {
        let text = format!(
            r#"
[[switch]]
name = "edge"
kind = "ipvlan"
{switch_extra}
[switch.uplink]
name = "up"
type = "netdev"
ifname = "nic9"
[[switch.port]]
name = "c1"
type = "veth"
netns = "c1"
address = ["10.0.0.11/24", "fd00::11/64"]
[[switch.port]]
name = "c2"
type = "veth"
netns = "c2"
{port_extra}
"#
        );
        Topology::parse("t.toml", &text).unwrap()
    }

    #[test]
    fn an_ipvlan_switch_reads_back_and_knows_its_owners() {
        let t = topo(
            "ipvlan_mode = \"l2\"\nmode = \"private\"",
            "address = [\"10.0.0.12/24\"]",
        );
        let cfg = t.check().unwrap();
        let i = cfg[0].ipvlan.as_ref().unwrap();
        assert_eq!(i.addresses.len(), 3);
        assert_eq!(
            i.addresses[2],
            ("10.0.0.12".parse().unwrap(), "c2".to_string())
        );
        let again = Topology::parse("t.toml", &t.to_toml().unwrap()).unwrap();
        assert_eq!(again, t, "export reads back the same");
    }

    #[test]
    fn the_shared_mac_is_the_uplinks() {
        let t = topo("", "");
        let nic: MacAddr = "52:54:00:12:34:56".parse().unwrap();
        let s = &t.switches[0];
        assert_eq!(ipvlan_mac_with(s, &|n| (n == "nic9").then_some(nic)), nic);
        assert_eq!(ipvlan_mac_with(s, &|_| None), derived_mac("edge"));
        assert!(shares_mac(s, &s.ports[0]));
        assert!(!shares_mac(s, s.uplink.as_ref().unwrap()));
    }

    #[test]
    fn bad_ipvlan_switches_name_the_field() {
        let cases = [
            (
                "",
                "address = [\"10.0.0.11/24\"]",
                "port 'c2': address: 10.0.0.11 is port 'c1''s",
            ),
            (
                "ipvlan_mode = \"l3\"",
                "",
                "port 'c2': address: an l3 ipvlan port",
            ),
            (
                "",
                "mac = \"02:00:00:00:00:09\"",
                "port 'c2': mac: an ipvlan port carries",
            ),
            (
                "mode = \"passthru\"",
                "",
                "mode: an ipvlan switch's ports are bridge, private or vepa",
            ),
            (
                "",
                "mode = \"vepa\"",
                "port 'c2': mode: an ipvlan switch has one flag",
            ),
            ("", "relay = true", "port 'c2': relay:"),
            (
                "",
                "learn_addresses = true",
                "port 'c2': learn_addresses: a learning port claims only",
            ),
            (
                "[[switch.static_fdb]]\nmac = \"02:00:00:00:00:01\"\nport = \"c1\"",
                "",
                "static_fdb:",
            ),
        ];
        for (sw, port, want) in cases {
            let e = topo(sw, port).check().unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
        let mut t = topo("", "learn_addresses = true");
        t.switches[0].kind = SwitchKind::Macvlan;
        let e = t.check().unwrap_err().to_string();
        assert!(
            e.contains("port 'c2': learn_addresses: only an ipvlan switch"),
            "{e}"
        );
        t.switches[0].ports[1].learn_addresses = false;
        t.switches[0].ipvlan_mode = Some(super::super::spec::IpvlanModeName::L3);
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("ipvlan_mode: only an ipvlan switch"), "{e}");
    }
}
