//! Whether a switch can be made of the kernel's own devices, and of which.
//!
//! A switch with an uplink becomes macvlan devices (veth ports: moved into
//! their namespace) or macvtap devices (tap ports) on the uplink's
//! interface, each in its port's mode; an ipvlan switch becomes ipvlan
//! devices there, one per (veth) port, in the switch's mode and flag. A switch without one becomes a
//! Linux bridge with hairpin on the ports that have relay. What the kernel
//! devices cannot do (VLANs here, MAC limits, static entries, relay on a
//! macvlan port) keeps the switch in userspace, and the reason names the
//! field.

use super::spec::{ModeName, PortKind, Relay, RelayRequired, SwitchSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelShape {
    Macvlan,
    Bridge,
    /// ipvlan devices on the uplink's interface, one per (veth) port, in
    /// the switch's ipvlan mode and flag.
    Ipvlan,
}

/// Why a switch cannot be a kernel switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    pub port: Option<String>,
    pub field: &'static str,
    pub why: String,
}

fn unfit(port: Option<&str>, field: &'static str, why: impl Into<String>) -> Unfit {
    Unfit {
        port: port.map(str::to_string),
        field,
        why: why.into(),
    }
}

/// The kernel's name for a mode.
pub fn kernel_mode(m: ModeName) -> &'static str {
    match m {
        ModeName::Veb => "bridge",
        ModeName::Vepa => "vepa",
        ModeName::Private => "private",
        ModeName::Passthru => "passthru",
        ModeName::Source => "source",
    }
}

pub fn kernel_shape(s: &SwitchSpec) -> Result<KernelShape, Unfit> {
    if !s.flows.is_empty() || !s.groups.is_empty() || !s.meters.is_empty() {
        return Err(unfit(
            None,
            if !s.flows.is_empty() {
                "flows"
            } else if !s.groups.is_empty() {
                "groups"
            } else {
                "meters"
            },
            "flow tables are vepa's userspace dataplane",
        ));
    }
    if s.openflow.is_some() {
        return Err(unfit(
            None,
            "openflow",
            "an OpenFlow endpoint drives vepa's userspace flow tables",
        ));
    }
    if !s.mirrors.is_empty() {
        return Err(unfit(
            None,
            "mirror",
            "port mirrors are vepa's userspace dataplane's",
        ));
    }
    if s.ipfix.is_some() {
        return Err(unfit(
            None,
            "ipfix",
            "flow export meters vepa's userspace dataplane",
        ));
    }
    if s.multicast.is_some() {
        return Err(unfit(
            None,
            "multicast",
            "IGMP/MLD snooping is vepa's userspace dataplane's",
        ));
    }
    if s.group_fwd_mask.is_some() {
        return Err(unfit(
            None,
            "group_fwd_mask",
            "vepa does not set a kernel bridge's group_fwd_mask",
        ));
    }
    if s.relay_required == RelayRequired::FallbackVeb {
        return Err(unfit(
            None,
            "relay_required",
            "switching vepa ports locally while the bridge does not reflect is vepa's userspace dataplane's",
        ));
    }
    if !s.static_fdb.is_empty() {
        return Err(unfit(
            None,
            "static_fdb",
            "kernel macvlan and bridge switches take no static entries from vepa",
        ));
    }
    for p in s.uplink.iter().chain(&s.ports) {
        let at = Some(p.name.as_str());
        if p.kind == PortKind::VhostUser {
            return Err(unfit(
                at,
                "type",
                "a vhost-user port is served by vepa's userspace dataplane",
            ));
        }
        if p.kind == PortKind::Bond {
            return Err(unfit(
                at,
                "type",
                "vepa's kernel backend makes no bond device (this kernel has no bonding driver): a bonded uplink is vepa's userspace dataplane's",
            ));
        }
        if p.kind == PortKind::Vxlan {
            return Err(unfit(
                at,
                "type",
                "vepa's vxlan ports are its userspace dataplane's (a kernel vxlan device is not made for them yet)",
            ));
        }
        if p.vlan.is_some_and(|v| v != 1) || p.trunk.is_some() || p.native_vlan.is_some() {
            return Err(unfit(
                at,
                "vlan",
                "VLANs need 802.1Q, which vepa does in userspace",
            ));
        }
        if p.mac_limit.is_some() {
            return Err(unfit(
                at,
                "mac_limit",
                "kernel devices have no per-port MAC limit",
            ));
        }
        if p.bpdu_guard {
            return Err(unfit(
                at,
                "bpdu_guard",
                "vepa's BPDU guard is its userspace dataplane's",
            ));
        }
        if p.storm.is_some() {
            return Err(unfit(at, "storm", "kernel devices have no storm control"));
        }
        if p.vsi.is_some() || p.vdp_enforce {
            return Err(unfit(
                at,
                if p.vdp_enforce { "vdp_enforce" } else { "vsi" },
                "802.1Qbg's VDP is spoken by vepa's link agent, which runs on userspace switches",
            ));
        }
        if p.relay == Relay::Evb {
            return Err(unfit(
                at,
                "relay",
                "relay on a station's request follows vepa's link agent (LLDP), which runs on userspace switches",
            ));
        }
    }
    if s.kind == super::spec::SwitchKind::Ipvlan {
        return ipvlan_shape(s);
    }
    match &s.uplink {
        Some(up) => {
            kernel_uplink(up)?;
            for p in &s.ports {
                let at = Some(p.name.as_str());
                if !matches!(p.kind, PortKind::Veth | PortKind::Tap) {
                    return Err(unfit(
                        at,
                        "type",
                        "a kernel macvlan switch's ports are veth (macvlan) or tap (macvtap)",
                    ));
                }
                if p.relay.any() {
                    return Err(unfit(at, "relay", "a macvlan port cannot hairpin; reflective relay is the adjacent (bridge) switch's"));
                }
                if p.kind == PortKind::Tap && p.netns.is_some() {
                    return Err(unfit(
                        at,
                        "netns",
                        "a macvtap stays in vepa's namespace for its VM; remove netns",
                    ));
                }
            }
            Ok(KernelShape::Macvlan)
        }
        None => {
            for p in &s.ports {
                let at = Some(p.name.as_str());
                if p.mode.unwrap_or(s.mode) != ModeName::Veb {
                    return Err(unfit(
                        at,
                        "mode",
                        "a switch without an uplink is a Linux bridge: veb only",
                    ));
                }
                if p.kind == PortKind::Tap {
                    return Err(unfit(
                        at,
                        "type",
                        "tap ports of a kernel bridge are not supported; use veth",
                    ));
                }
                // Enslaving an interface vepa does not own would take it
                // from whoever configured it, and not give it back.
                if p.kind == PortKind::Netdev {
                    return Err(unfit(
                        at,
                        "type",
                        "a kernel bridge takes veth and patch ports, not an existing interface; use the userspace backend",
                    ));
                }
            }
            Ok(KernelShape::Bridge)
        }
    }
}

/// What a kernel switch's devices can hang on.
fn kernel_uplink(up: &super::spec::PortSpec) -> Result<(), Unfit> {
    if matches!(up.kind, PortKind::Netdev | PortKind::Veth | PortKind::Patch) {
        Ok(())
    } else {
        Err(unfit(
            Some(&up.name),
            "type",
            "a kernel switch's uplink must be a netdev, veth or patch",
        ))
    }
}

/// An ipvlan switch as the kernel's ipvlan devices: a container's port
/// (veth) becomes an ipvlan device made in its namespace on the uplink's
/// interface, owning the addresses configured on it, as the kernel's
/// ipvlan owns every address of a slave. The kernel learns nothing else.
fn ipvlan_shape(s: &SwitchSpec) -> Result<KernelShape, Unfit> {
    let Some(up) = &s.uplink else {
        return Err(unfit(
            None,
            "uplink",
            "the kernel's ipvlan devices hang on an interface: give the switch an uplink",
        ));
    };
    kernel_uplink(up)?;
    for p in &s.ports {
        let at = Some(p.name.as_str());
        if p.kind != PortKind::Veth {
            return Err(unfit(
                at,
                "type",
                "a kernel ipvlan switch's ports are veth (an ipvlan device in the container); vepa makes no ipvtap for a VM",
            ));
        }
        if p.learn_addresses {
            return Err(unfit(
                at,
                "learn_addresses",
                "the kernel's ipvlan owns the addresses configured on a port and learns none",
            ));
        }
    }
    Ok(KernelShape::Ipvlan)
}

/// The kernel features (as `vepa doctor` names them) a kernel switch of this shape needs.
pub fn features_needed(s: &SwitchSpec, shape: KernelShape) -> Vec<String> {
    let mut out: Vec<String> = match shape {
        KernelShape::Bridge => vec!["bridge hairpin".into()],
        KernelShape::Ipvlan => vec!["ipvlan".into()],
        KernelShape::Macvlan => s
            .ports
            .iter()
            .map(|p| {
                let mode = kernel_mode(p.mode.unwrap_or(s.mode));
                if p.kind == PortKind::Tap {
                    "macvtap".to_string()
                } else {
                    format!("macvlan {mode}")
                }
            })
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn switch(text: &str) -> SwitchSpec {
        Topology::parse("t", text).unwrap().switches.remove(0)
    }

    const HOST: &str = "[[switch]]\nname = \"h\"\nmode = \"vepa\"\n[switch.uplink]\nname = \"up\"\ntype = \"netdev\"\nifname = \"eth9\"\n[[switch.port]]\nname = \"vm1\"\ntype = \"veth\"\n";

    #[test]
    fn shapes_and_what_keeps_a_switch_in_userspace() {
        assert_eq!(kernel_shape(&switch(HOST)), Ok(KernelShape::Macvlan));
        let bridge = "[[switch]]\nname = \"r\"\n[[switch.port]]\nname = \"a\"\ntype = \"veth\"\nrelay = true\n";
        assert_eq!(kernel_shape(&switch(bridge)), Ok(KernelShape::Bridge));
        // (text to add, field named)
        let cases = [
            ("vlan = 10\n", "vlan"),
            ("trunk = [10]\n", "vlan"),
            ("mac_limit = 5\n", "mac_limit"),
            ("relay = true\n", "relay"),
        ];
        for (extra, field) in cases {
            let e = kernel_shape(&switch(&format!("{HOST}{extra}"))).unwrap_err();
            assert_eq!(
                (e.field, e.port.as_deref()),
                (field, Some("vm1")),
                "{extra}"
            );
        }
        let e = kernel_shape(&switch(&format!("{bridge}mode = \"vepa\"\n"))).unwrap_err();
        assert_eq!(e.field, "mode");
        // A bridge never enslaves an interface it does not own.
        let nic = format!(
            "{bridge}[[switch.port]]\nname = \"n\"\ntype = \"netdev\"\nifname = \"eth9\"\n"
        );
        let e = kernel_shape(&switch(&nic)).unwrap_err();
        assert_eq!((e.field, e.port.as_deref()), ("type", Some("n")));
        // Flow tables keep a switch in userspace.
        let flows = bridge.replacen(
            "name = \"r\"\n",
            "name = \"r\"\nflows = [\"priority=1,actions=drop\"]\n",
            1,
        );
        assert_eq!(kernel_shape(&switch(&flows)).unwrap_err().field, "flows");
        let with_static =
            format!("{HOST}[[switch.static_fdb]]\nmac = \"02:00:00:00:00:01\"\nport = \"vm1\"\n");
        assert_eq!(
            kernel_shape(&switch(&with_static)).unwrap_err().field,
            "static_fdb"
        );
    }

    #[test]
    fn ipvlan_switches_are_ipvlan_devices() {
        let ipv = HOST.replacen(
            "mode = \"vepa\"\n",
            "mode = \"vepa\"\nkind = \"ipvlan\"\nipvlan_mode = \"l3\"\n",
            1,
        ) + "address = [\"10.0.0.2/24\"]\n";
        let s = switch(&ipv);
        assert_eq!(kernel_shape(&s), Ok(KernelShape::Ipvlan));
        assert_eq!(features_needed(&s, KernelShape::Ipvlan), ["ipvlan"]);
        let tap = format!(
            "{ipv}[[switch.port]]\nname = \"vm2\"\ntype = \"tap\"\naddress = [\"10.0.0.3/24\"]\n"
        );
        let e = kernel_shape(&switch(&tap)).unwrap_err();
        assert_eq!((e.field, e.port.as_deref()), ("type", Some("vm2")));
        let none = "[[switch]]\nname = \"i\"\nkind = \"ipvlan\"\n[[switch.port]]\nname = \"a\"\ntype = \"veth\"\n";
        assert_eq!(kernel_shape(&switch(none)).unwrap_err().field, "uplink");
    }

    #[test]
    fn features_follow_the_ports_modes() {
        let s = switch(&format!("{HOST}[[switch.port]]\nname = \"vm2\"\ntype = \"tap\"\n[[switch.port]]\nname = \"vm3\"\ntype = \"veth\"\nmode = \"private\"\n"));
        assert_eq!(
            features_needed(&s, KernelShape::Macvlan),
            ["macvlan private", "macvlan vepa", "macvtap"]
        );
    }
}
