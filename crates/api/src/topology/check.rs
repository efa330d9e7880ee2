//! The checks serde cannot do: names, references between ports, field
//! combinations per port type, and the dataplane's own rules, each reported
//! with the switch, port and field.

use super::error::{invalid, TopologyError};
use super::spec::{PortKind, PortSpec, Relay, RelayRequired, StormSpec, SwitchSpec};
use std::collections::HashMap;
use std::net::IpAddr;
use vepa_dataplane::storm::StormLimits;
use vepa_dataplane::{
    PortConfig, PortRole, StaticFdbEntry, SwitchConfig, VidSet, VlanMode, DEFAULT_AGEING_MS,
};
use vepa_packet::valid_ifname;

/// Checks port `p` of switch `s` (`at` names it in errors); `by_name`
/// finds the other ports, for a patch's far end.
pub(super) fn check_port(
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
    check_names(at, p)?;
    check_addressing(at, p)?;
    // An ipvlan port's addresses say what it owns, whoever sets them on
    // the device (vepa, or the guest behind a VM's tap or socket).
    let owned_only;
    let p = if super::check_ipvlan::shares_mac(s, p) && p.netns.is_none() && !p.address.is_empty() {
        owned_only = PortSpec {
            address: Vec::new(),
            ..p.clone()
        };
        &owned_only
    } else {
        p
    };
    if p.bond.is_some() && p.kind != PortKind::Bond {
        return not_for("bond", true);
    }
    match p.kind {
        PortKind::Tun => Err(invalid(
            at,
            "type",
            "a tun device carries IP packets without Ethernet headers, which no switch can forward: make it a router's port ([[router.port]] type = \"tun\")",
        )),
        PortKind::Vxlan => check_vxlan(at, p, &not_for),
        PortKind::VhostUser => check_vhost_user(at, p, &not_for),
        _ if p.socket.is_some() => not_for("socket", true),
        _ if p.fabric || p.arp_suppress => {
            not_for(if p.fabric { "fabric" } else { "arp_suppress" }, true)
        }
        PortKind::Veth => not_for("peer", p.peer.is_some()),
        PortKind::Tap => check_tap(at, p, &not_for),
        PortKind::Netdev => check_netdev(at, p, &not_for),
        PortKind::Patch => check_patch(at, s, p, by_name, &not_for),
        PortKind::Bond => check_bond(at, s, p, by_name, &not_for),
    }
}

/// A bond: a switch's uplink, with its members (each checked as a port of
/// its kind), a mode LACP can serve and ARP monitoring's addresses.
fn check_bond(
    at: &str,
    s: &SwitchSpec,
    p: &PortSpec,
    by_name: &HashMap<(&str, &str), &PortSpec>,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    use super::spec::{BondModeName, LacpMode};
    if s.uplink.as_ref().is_none_or(|u| u.name != p.name) {
        return Err(invalid(
            at,
            "type",
            "a bond is a switch's uplink: put it in [switch.uplink]",
        ));
    }
    for (field, set) in [
        ("ifname", p.ifname.is_some()),
        ("netns", p.netns.is_some()),
        ("peer_name", p.peer_name.is_some()),
        ("peer", p.peer.is_some()),
        ("mac", p.mac.is_some()),
        ("address", !p.address.is_empty()),
        ("gateway", !p.gateway.is_empty()),
        ("mtu", p.mtu.is_some()),
    ] {
        not_for(field, set)?;
    }
    let Some(b) = &p.bond else {
        return Err(invalid(
            at,
            "bond",
            "a bond needs its [switch.uplink.bond] table with at least one [[switch.uplink.bond.member]]",
        ));
    };
    let max = vepa_dataplane::bond::MAX_MEMBERS;
    if b.members.is_empty() || b.members.len() > max {
        return Err(invalid(
            at,
            "bond.member",
            format!("expected 1 to {max} members, got {}", b.members.len()),
        ));
    }
    if b.mode == BondModeName::BalanceTcp && b.lacp == LacpMode::Off {
        return Err(invalid(
            at,
            "bond.lacp",
            "balance-tcp spreads one VM's flows over several members, which only a partner that aggregates them (LACP) takes without relearning its MAC at every flow: set lacp = \"active\" or \"passive\", or use balance-slb",
        ));
    }
    let mut targets = Vec::new();
    for t in &b.arp_targets {
        let ip: std::net::Ipv4Addr = t.parse().map_err(|_| {
            invalid(
                at,
                "bond.arp_targets",
                format!("'{t}' is not an IPv4 address"),
            )
        })?;
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
            return Err(invalid(
                at,
                "bond.arp_targets",
                format!("'{t}' is not a host's address"),
            ));
        }
        targets.push(ip);
    }
    if targets.len() > 16 {
        return Err(invalid(at, "bond.arp_targets", "at most 16 targets"));
    }
    if targets.is_empty() && (b.arp_interval_ms.is_some() || b.arp_source.is_some()) {
        let field = if b.arp_source.is_some() {
            "bond.arp_source"
        } else {
            "bond.arp_interval_ms"
        };
        return Err(invalid(
            at,
            field,
            "ARP monitoring is on only with arp_targets",
        ));
    }
    if let Some(ms) = b.arp_interval_ms {
        if !(10..=60_000).contains(&ms) {
            return Err(invalid(
                at,
                "bond.arp_interval_ms",
                format!("expected 10 to 60000 milliseconds, got {ms}"),
            ));
        }
    }
    if let Some(src) = &b.arp_source {
        src.parse::<std::net::Ipv4Addr>().map_err(|_| {
            invalid(
                at,
                "bond.arp_source",
                format!("'{src}' is not an IPv4 address"),
            )
        })?;
    }
    let mut names = std::collections::HashSet::new();
    for m in &b.members {
        let mat = format!("{at}, member '{}'", m.name);
        if !names.insert(m.name.as_str()) {
            return Err(invalid(mat, "name", "duplicate member name in this bond"));
        }
        check_port(&mat, s, &m.port(p), by_name)?;
    }
    Ok(())
}

/// The port's own name, its interface's, its namespace's and its peer's.
fn check_names(at: &str, p: &PortSpec) -> Result<(), TopologyError> {
    if p.name.is_empty() {
        return Err(invalid(at, "name", "a port needs a name"));
    }
    if !path_component(&p.name) {
        return Err(invalid(
            at,
            "name",
            "expected a name without '/' or control characters, and not '.' or '..' (it names files, such as a vhost-user socket)",
        ));
    }
    if p.ifname.is_none()
        && !matches!(
            p.kind,
            PortKind::Netdev | PortKind::Vxlan | PortKind::VhostUser | PortKind::Bond
        )
        && !valid_ifname(&p.name)
    {
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
        check_netns(at, ns)?;
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
    Ok(())
}

/// Addresses, gateways (one per family, on a subnet of the port's), MTU, MAC.
fn check_addressing(at: &str, p: &PortSpec) -> Result<(), TopologyError> {
    for a in &p.address {
        check_address(a).map_err(|problem| invalid(at, "address", problem))?;
    }
    let mut families = Vec::new();
    for g in &p.gateway {
        let ip: IpAddr = g
            .parse()
            .map_err(|_| invalid(at, "gateway", format!("'{g}' is not an IP address")))?;
        if p.netns.is_none() {
            return Err(invalid(
                at,
                "gateway",
                "a gateway is a default route inside the port's namespace; set netns (vepa never changes the host's own routes)",
            ));
        }
        if families.contains(&ip.is_ipv4()) {
            return Err(invalid(
                at,
                "gateway",
                format!("'{g}': one gateway per address family"),
            ));
        }
        families.push(ip.is_ipv4());
        let on_link = p.address.iter().any(|a| {
            a.parse::<vepa_dataplane::router::IfAddr>()
                .is_ok_and(|x| x.subnet().contains(&ip))
        });
        if !on_link {
            return Err(invalid(
                at,
                "gateway",
                format!(
                    "{g} is on none of the port's subnets ({})",
                    p.address.join(", ")
                ),
            ));
        }
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
    Ok(())
}

/// A vhost-user port: no interface of its own; its socket's path.
fn check_vhost_user(
    at: &str,
    p: &PortSpec,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    // The guest's MAC (`mac`) is what vm-args gives QEMU.
    no_interface_fields(p, not_for)?;
    match &p.socket {
        Some(s) if !s.starts_with('/') || !s[1..].split('/').all(path_component) => {
            return Err(invalid(
                at,
                "socket",
                format!("'{}': expected an absolute path to a socket file, without '.', '..', '//' or control characters", s.escape_debug()),
            ));
        }
        Some(_) => {}
        // The name is then a file name in the default directory.
        None if p.name.contains('/') || p.name == "." || p.name == ".." => {
            return Err(invalid(
                at,
                "name",
                "a vhost-user port's socket is named after it (/run/vepa/vhost-user/SWITCH/PORT.sock): expected a name without '/' (or set socket)",
            ));
        }
        None => {}
    }
    Ok(())
}

/// A tap: without netns it is a VM's, and the guest sets its addresses.
fn check_tap(
    at: &str,
    p: &PortSpec,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    not_for("peer", p.peer.is_some())?;
    not_for("peer_name", p.peer_name.is_some())?;
    if p.netns.is_none() {
        // A VM's tap: the guest owns the far side.
        for (field, set) in [
            ("address", !p.address.is_empty()),
            ("gateway", !p.gateway.is_empty()),
        ] {
            if set {
                return Err(invalid(
                    at,
                    field,
                    "a tap without netns is a VM's: the guest sets its own addresses (give netns for a container's tap)",
                ));
            }
        }
    }
    Ok(())
}

/// A netdev port: an existing interface, used as it is.
fn check_netdev(
    at: &str,
    p: &PortSpec,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
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
    Ok(())
}

/// A patch port: its peer is a patch port of another switch that names it back.
fn check_patch(
    at: &str,
    s: &SwitchSpec,
    p: &PortSpec,
    by_name: &HashMap<(&str, &str), &PortSpec>,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    for (field, set) in [
        ("netns", p.netns.is_some()),
        ("peer_name", p.peer_name.is_some()),
        ("mac", p.mac.is_some()),
        ("address", !p.address.is_empty()),
        // Both ends of a wire must agree; a patch always passes offloads.
        ("offload", p.offload.is_some()),
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
    Ok(())
}

fn kind_name(k: PortKind) -> &'static str {
    match k {
        PortKind::Veth => "veth",
        PortKind::Tap => "tap",
        PortKind::Netdev => "netdev",
        PortKind::Patch => "patch",
        PortKind::Vxlan => "vxlan",
        PortKind::VhostUser => "vhost-user",
        PortKind::Bond => "bond",
        PortKind::Tun => "tun",
    }
}

/// A port that is a socket, not an interface, has none of an interface's
/// fields.
fn no_interface_fields(
    p: &PortSpec,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    for (field, set) in [
        ("ifname", p.ifname.is_some()),
        ("netns", p.netns.is_some()),
        ("peer_name", p.peer_name.is_some()),
        ("peer", p.peer.is_some()),
        ("address", !p.address.is_empty()),
        ("gateway", !p.gateway.is_empty()),
        ("offload", p.offload.is_some()),
    ] {
        not_for(field, set)?;
    }
    Ok(())
}

/// A VXLAN port: a VNI, a local VTEP address, remotes of its family, and
/// none of what makes an interface.
fn check_vxlan(
    at: &str,
    p: &PortSpec,
    not_for: &dyn Fn(&str, bool) -> Result<(), TopologyError>,
) -> Result<(), TopologyError> {
    not_for("mac", p.mac.is_some())?;
    no_interface_fields(p, not_for)?;
    let vni_ok = |v: u32| (1..=0xff_ffff).contains(&v);
    if p.vlan_vni.is_empty() {
        match p.vni {
            Some(v) if vni_ok(v) => {}
            Some(v) => {
                return Err(invalid(
                    at,
                    "vni",
                    format!("{v} is out of range; expected 1 to 16777215"),
                ))
            }
            None => {
                return Err(invalid(
                    at,
                    "vni",
                    "a vxlan port needs its VNI (or vlan_vni on a trunk)",
                ))
            }
        }
    } else {
        if p.vni.is_some() || p.native_vlan.is_some() {
            return Err(invalid(
                at,
                if p.vni.is_some() {
                    "vni"
                } else {
                    "native_vlan"
                },
                "a port with vlan_vni carries tagged VLANs only, each in its own VNI",
            ));
        }
        let mut vids = Vec::new();
        let mut vnis = Vec::new();
        for m in &p.vlan_vni {
            let bad = || {
                invalid(
                    at,
                    "vlan_vni",
                    format!(
                        "'{m}': expected VID:VNI, e.g. \"10:1010\" (VID 1-4094, VNI 1-16777215)"
                    ),
                )
            };
            let (v, n) = m.split_once(':').ok_or_else(bad)?;
            let v: u16 = v.trim().parse().map_err(|_| bad())?;
            let n: u32 = n.trim().parse().map_err(|_| bad())?;
            if !(1..=4094).contains(&v) || !vni_ok(n) {
                return Err(bad());
            }
            if vids.contains(&v) || vnis.contains(&n) {
                return Err(invalid(
                    at,
                    "vlan_vni",
                    format!("'{m}': each VLAN and each VNI once"),
                ));
            }
            vids.push(v);
            vnis.push(n);
        }
        let mut trunk = p.trunk.clone().unwrap_or_default();
        trunk.sort_unstable();
        vids.sort_unstable();
        if trunk != vids {
            return Err(invalid(
                at,
                "trunk",
                format!("a port with vlan_vni is a trunk of exactly its VLANs ({vids:?})"),
            ));
        }
    }
    if p.arp_suppress && !p.vlan_vni.is_empty() {
        return Err(invalid(
            at,
            "arp_suppress",
            "not on a trunk with vlan_vni (yet): only on a fabric port with one `vni`",
        ));
    }
    if p.arp_suppress && !p.fabric {
        return Err(invalid(
            at,
            "arp_suppress",
            "answers from what the fabric publishes: only on a port with `fabric = true`",
        ));
    }
    let local = match &p.local {
        Some(l) => l,
        // The daemon fills in its --underlay-ip.
        None if p.fabric => return check_remotes(at, p, None),
        None => return Err(invalid(
            at,
            "local",
            "a vxlan port needs its local VTEP address (on the underlay), or `fabric = true` under a daemon with --underlay-ip",
        )),
    };
    let local: IpAddr = local
        .parse()
        .map_err(|_| invalid(at, "local", format!("'{local}' is not an IP address")))?;
    if local.is_unspecified() || local.is_multicast() {
        return Err(invalid(
            at,
            "local",
            format!("{local} is not a unicast address"),
        ));
    }
    check_remotes(at, p, Some(local))
}

/// Remote VTEPs: unicast, of the local VTEP's family, not the local one.
fn check_remotes(at: &str, p: &PortSpec, local: Option<IpAddr>) -> Result<(), TopologyError> {
    let family = local.or_else(|| p.remote.first().and_then(|r| r.parse().ok()));
    for r in &p.remote {
        let ip: IpAddr = r
            .parse()
            .map_err(|_| invalid(at, "remote", format!("'{r}' is not an IP address")))?;
        if family.is_some_and(|f| f.is_ipv4() != ip.is_ipv4())
            || ip.is_multicast()
            || ip.is_unspecified()
            || Some(ip) == local
        {
            return Err(invalid(
                at,
                "remote",
                format!("{ip}: expected a unicast address of the local VTEP's family, not the local one"),
            ));
        }
    }
    if p.dstport == Some(0) {
        return Err(invalid(at, "dstport", "expected a UDP port 1 to 65535"));
    }
    Ok(())
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

/// The dataplane config of `s`, with `routers`' ports (and their pinned
/// MACs) after its own.
pub(super) fn switch_config(
    s: &SwitchSpec,
    routers: Vec<(PortConfig, StaticFdbEntry)>,
) -> Result<SwitchConfig, TopologyError> {
    let ipvlan = super::check_ipvlan::ipvlan_config(s, routers.len())?;
    let mut ports = Vec::new();
    for (p, is_uplink) in s
        .uplink
        .iter()
        .map(|p| (p, true))
        .chain(s.ports.iter().map(|p| (p, false)))
    {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        if is_uplink && p.mode.is_some() {
            return Err(invalid(
                at,
                "mode",
                "the uplink has no mode; modes belong to downlinks",
            ));
        }
        if is_uplink && !p.source_macs.is_empty() {
            return Err(invalid(
                at,
                "source_macs",
                "the uplink takes no allow list; source_macs belong to downlinks in mode \"source\"",
            ));
        }
        let vids = p
            .trunk
            .iter()
            .flatten()
            .map(|v| ("trunk", v))
            .chain(p.vlan.iter().map(|v| ("vlan", v)))
            .chain(p.native_vlan.iter().map(|v| ("native_vlan", v)));
        for (field, vid) in vids {
            if !(1..=4094).contains(vid) {
                return Err(invalid(
                    at,
                    field,
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
        // A fabric port's relay is the fabric's (the tunnel reflects to
        // this host); hairpin here would send members' floods back to all.
        c.relay = p.relay == Relay::On && !p.fabric;
        if p.relay == Relay::Evb {
            if is_uplink || matches!(p.kind, PortKind::Vxlan | PortKind::VhostUser) {
                return Err(invalid(
                    at,
                    "relay",
                    "\"evb\" follows the 802.1Qbg station on an interface facing it; an uplink, a tunnel or a vhost-user socket has none (use true or false)",
                ));
            }
            if !s.lldp() {
                return Err(invalid(
                    at,
                    "relay",
                    "\"evb\" follows the station's EVB TLV, which travels in LLDP, and the switch has lldp = false",
                ));
            }
            c.relay_on_request = true;
        }
        if let Some(v) = &p.vsi {
            if is_uplink || s.uplink.is_none() {
                return Err(invalid(
                    at,
                    "vsi",
                    "a VSI is a VM's, associated over the switch's uplink: it belongs to a downlink of a switch with an uplink",
                ));
            }
            if v.type_id > 0x00ff_ffff {
                return Err(invalid(
                    at,
                    "vsi.type_id",
                    format!("{} does not fit 24 bits; expected 0 to 16777215", v.type_id),
                ));
            }
            match v.uuid_bytes() {
                None => {
                    return Err(invalid(
                        at,
                        "vsi.uuid",
                        format!(
                            "'{}': expected a UUID, 32 hex digits (dashes allowed)",
                            v.uuid
                        ),
                    ))
                }
                Some(b) if b[..8] == [0; 8] => {
                    return Err(invalid(
                        at,
                        "vsi.uuid",
                        format!(
                        "'{}': its first half is zero, which bridges (lldpad) refuse as no UUID",
                        v.uuid
                    ),
                    ))
                }
                Some(_) => {}
            }
            if p.mac.is_none() && !matches!(p.kind, PortKind::Tap | PortKind::VhostUser) {
                return Err(invalid(
                    at,
                    "vsi",
                    "the VSI's filter is the VM's MAC: give the port a mac (a tap or vhost-user port's guest MAC is known without one)",
                ));
            }
        }
        if p.vdp_enforce {
            if !p.relay.any() || p.fabric {
                return Err(invalid(
                    at,
                    "vdp_enforce",
                    "VDP associations are made with the bridge on a relay port (relay = true or \"evb\"), which this is not",
                ));
            }
            c.vdp_enforce = true;
        }
        c.vlan = vlan_mode(&at, p)?;
        match p.mac_limit {
            Some(l) => c.mac_limit = l,
            // A tunnel carries other hosts' stations, not one tenant's.
            None if p.kind == PortKind::Vxlan => c.mac_limit = vepa_dataplane::NO_MAC_LIMIT,
            None => {}
        }
        // Floods are bounded by default where one tenant sends them: a VM
        // or container, not the uplink, a tunnel or another switch.
        let tenant = !is_uplink && !matches!(p.kind, PortKind::Vxlan | PortKind::Patch);
        c.storm = storm_limits(&at, p.storm.as_ref(), tenant)?;
        c.bpdu_guard = p.bpdu_guard;
        c.source_macs = p.source_macs.clone();
        ports.push(c);
    }
    for e in &s.static_fdb {
        if !(1..=4094).contains(&e.vlan) {
            return Err(invalid(
                format!("switch '{}'", s.name),
                "static_fdb.vlan",
                format!("VLAN ID {} is out of range; expected 1 to 4094", e.vlan),
            ));
        }
    }
    let mut uuids: HashMap<[u8; 16], &str> = HashMap::new();
    for p in &s.ports {
        if let Some(id) = p.vsi.as_ref().and_then(|v| v.uuid_bytes()) {
            if let Some(other) = uuids.insert(id, &p.name) {
                return Err(invalid(
                    format!("switch '{}', port '{}'", s.name, p.name),
                    "vsi.uuid",
                    format!("port '{other}' has the same VSI UUID; each VM's is its own"),
                ));
            }
        }
    }
    if s.relay_required != RelayRequired::Warn && s.uplink.is_none() {
        return Err(invalid(
            format!("switch '{}'", s.name),
            "relay_required",
            format!(
                "\"{}\" is about the adjacent bridge on the uplink, and this switch has none",
                s.relay_required.as_str()
            ),
        ));
    }
    let mut cfg = SwitchConfig::new(s.name.clone(), ports);
    cfg.fallback_veb = s.relay_required == RelayRequired::FallbackVeb;
    cfg.group_fwd_mask = s.group_fwd_mask.unwrap_or(0);
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
    for (port, pin) in routers {
        cfg.ports.push(port);
        cfg.static_fdb.push(pin);
    }
    cfg.ipvlan = ipvlan;
    cfg.mirrors = super::check_mirror::mirrors(s)?;
    cfg.ipfix = s
        .ipfix
        .as_ref()
        .map(|x| super::check_ipfix::ipfix(&s.name, x))
        .transpose()?;
    if let Some(m) = s.multicast.as_ref().filter(|m| m.snooping) {
        cfg.snoop = snoop_config(s, m, &cfg)?;
    }
    cfg.validate()
        .and_then(|()| vepa_dataplane::mirror::check(&cfg))
        .map_err(|e| match e {
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

/// A port's storm-control limits: its `storm` rates over the default
/// (VM ports' when `tenant`, else none).
fn storm_limits(
    at: &str,
    spec: Option<&StormSpec>,
    tenant: bool,
) -> Result<StormLimits, TopologyError> {
    let mut limits = if tenant {
        StormLimits::VM_DEFAULT
    } else {
        StormLimits::default()
    };
    let Some(spec) = spec else {
        return Ok(limits);
    };
    let kinds = [
        ("storm.broadcast", &spec.broadcast, &mut limits.broadcast),
        ("storm.multicast", &spec.multicast, &mut limits.multicast),
        (
            "storm.unknown_unicast",
            &spec.unknown_unicast,
            &mut limits.unknown_unicast,
        ),
    ];
    for (field, text, limit) in kinds {
        if let Some(t) = text {
            *limit = parse_rate(t).map_err(|problem| invalid(at, field, problem))?;
        }
    }
    Ok(limits)
}

/// `"NNNpps"` (frames per second, 1 or more) or `"off"` (no limit).
pub fn parse_rate(text: &str) -> Result<Option<u32>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let digits = t
        .strip_suffix("pps")
        .ok_or_else(|| format!("'{text}': expected a rate like \"1000pps\", or \"off\""))?
        .trim();
    match digits.parse::<u32>() {
        Ok(0) => Err(format!(
            "'{text}': a rate of 0 would stop ARP and ND too; use at least 1pps, or \"off\""
        )),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!(
            "'{text}': expected a whole number of frames per second (1 to {}) before \"pps\"",
            u32::MAX
        )),
    }
}

/// Whether `s` can be one component of a path vepa makes: not empty, not
/// `.` or `..`, no `/` and no control characters (NUL included).
pub fn path_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.chars().any(|c| c == '/' || c.is_control())
}

/// A switch's `[switch.multicast]` as its dataplane takes it: the router
/// ports are the uplink, tunnels and patches (they face other switches,
/// which snoop for themselves) and those named.
fn snoop_config(
    s: &SwitchSpec,
    m: &super::MulticastSpec,
    cfg: &SwitchConfig,
) -> Result<vepa_dataplane::mdb::SnoopConfig, TopologyError> {
    let at = format!("switch '{}'", s.name);
    let mut routers = Vec::new();
    for p in s.uplink.iter().chain(&s.ports) {
        if s.uplink.as_ref().is_some_and(|u| u.name == p.name)
            || matches!(p.kind, PortKind::Vxlan | PortKind::Patch)
        {
            routers.extend(cfg.port_id(&p.name));
        }
    }
    for (i, name) in m.router_ports.iter().enumerate() {
        let id = cfg.port_id(name).ok_or_else(|| {
            invalid(
                &at,
                format!("multicast.router_ports[{}]", i + 1),
                format!("switch '{}' has no port '{name}'", s.name),
            )
        })?;
        if !routers.contains(&id) {
            routers.push(id);
        }
    }
    if let Some(secs) = m.query_interval_secs {
        if !m.querier {
            return Err(invalid(
                &at,
                "multicast.query_interval_secs",
                "used only with querier = true",
            ));
        }
        // Memberships last 260 s (two default intervals and the response
        // time): a longer interval would let them lapse between queries.
        if !(2..=125).contains(&secs) {
            return Err(invalid(
                &at,
                "multicast.query_interval_secs",
                format!("expected 2 to 125 seconds, got {secs}"),
            ));
        }
    }
    Ok(vepa_dataplane::mdb::SnoopConfig {
        enabled: true,
        flood_unregistered: m.flood_unregistered,
        router_ports: routers,
        without_querier: false,
        routers_from_any_port: m.routers_from_any_port,
        querier: m.querier.then(|| super::spec::querier_mac(&s.name)),
    })
}

/// A namespace name as `ip netns` takes it: a file under /run/netns (no
/// path, no control characters).
pub(super) fn check_netns(at: &str, ns: &str) -> Result<(), TopologyError> {
    if ns.is_empty()
        || ns.contains('/')
        || ns.len() > 200
        || ns == "."
        || ns == ".."
        || ns.chars().any(char::is_control)
    {
        return Err(invalid(
            at,
            "netns",
            format!("'{}' is not a namespace name", ns.escape_debug()),
        ));
    }
    Ok(())
}
