//! The shape of a topology: switches, their ports and how each port is
//! realized, as the file, the API and the store hold it.

use super::filter::AclSpec;
use super::router::RouterSpec;
use super::sdn::OpenFlowSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vepa_dataplane::PortMode;
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// The daemon's generation this file was exported at (`vepa export`
    /// writes it). An apply of a file from an older generation is refused
    /// (409, `generation`) unless forced: it would undo what changed since,
    /// such as flows a controller added. Never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    #[serde(default, rename = "switch")]
    pub switches: Vec<SwitchSpec>,
    /// Routers between the switches' subnets.
    #[serde(default, rename = "router", skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<RouterSpec>,
    /// Access lists on switch ports and routers.
    #[serde(default, rename = "acl", skip_serializing_if = "Vec::is_empty")]
    pub acls: Vec<AclSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchSpec {
    pub name: String,
    /// `macvlan` (default): each port has its own MAC, which the switch
    /// learns. `ipvlan`: every port carries the uplink's one MAC and is
    /// told apart by its addresses (`address`), for a network that accepts
    /// one MAC per port; `mode` is then its flag (bridge, private, vepa).
    #[serde(default, skip_serializing_if = "SwitchKind::is_default")]
    pub kind: SwitchKind,
    /// An ipvlan switch's mode: `l2` (default: ports see broadcast and
    /// multicast), `l3` (none; unicast by address alone) or `l3s` (as
    /// `l3`; vepa filters with the ports' access lists, where the kernel
    /// would run the host's netfilter hooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvlan_mode: Option<IpvlanModeName>,
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
    /// Which reserved link addresses 01:80:C2:00:00:00-0F the switch
    /// forwards, bit n for ...0n (`0x0008`: 802.1X EAPOL), as the Linux
    /// bridge's `group_fwd_mask`. Default 0: none. STP, pause and LACP
    /// (bits 0-2) are never forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_fwd_mask: Option<u16>,
    /// Who forwards for this switch: vepa's userspace dataplane (default),
    /// the kernel's own devices, or whichever fits (`auto`).
    #[serde(default, skip_serializing_if = "Backend::is_default")]
    pub backend: Backend,
    /// OpenFlow endpoints: a listener for `ovs-ofctl`, a controller to dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openflow: Option<OpenFlowSpec>,
    /// Meters, in `ovs-ofctl add-meter` syntax (`meter=1,kbps,bands=type=drop,rate=1000`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<String>,
    /// Groups, in `ovs-ofctl add-group` syntax (`group_id=1,type=all,bucket=output:vm1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Flows, in `ovs-ofctl add-flow` syntax (`priority=100,icmp,in_port=vm1,actions=drop`);
    /// ports by name or OpenFlow number (uplink 1, then the ports in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<String>,
    /// LLDP (and 802.1Qbg's EVB TLV) on the uplink and relay ports; default
    /// on. Off, vepa sends no LLDPDU (the bridge cannot grant relay over
    /// EVB; the relay probe still runs); received ones are still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lldp: Option<bool>,
    /// What to do when the adjacent bridge does not grant reflective relay
    /// (EVB TLV) or the relay probe does not come back, for a switch whose
    /// `vepa` ports need it: `warn` (default: log it and show it),
    /// `fallback-veb` (switch frames between `vepa` ports locally until
    /// the bridge reflects), `ignore`.
    #[serde(default, skip_serializing_if = "RelayRequired::is_default")]
    pub relay_required: RelayRequired,
    /// Port mirrors (`[[switch.mirror]]`): SPAN to a monitor port, or RSPAN
    /// to a VLAN on the uplink.
    #[serde(default, rename = "mirror", skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MirrorSpec>,
    /// IPFIX flow export (`[switch.ipfix]`) of the IP flows entering the
    /// switch's ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<IpfixSpec>,
    /// IGMP/MLD snooping (`[switch.multicast]`): group traffic only to the
    /// ports that asked for it and to router ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicast: Option<MulticastSpec>,
}

/// IGMP (v1-v3) and MLD (v1, v2) snooping on a switch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MulticastSpec {
    /// Snoop (default true once the table is given).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub snooping: bool,
    /// Group traffic no port asked for goes to every port the mode allows
    /// (`true`) or to router ports only (`false`, the default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flood_unregistered: bool,
    /// Ports that lead to a multicast router besides the uplink, tunnels
    /// and patches (which always do): they hear every group and report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub router_ports: Vec<String>,
    /// Believe queries from any port (by default only router ports may
    /// make themselves heard as queriers: a tenant that could would hear
    /// every group of its VLAN).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub routers_from_any_port: bool,
    /// Send IGMP and MLD general queries in each VLAN of the switch while
    /// no other querier is heard there (a network without a multicast
    /// router), so memberships are refreshed and snooping can filter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub querier: bool,
    /// Seconds between the querier's queries (default 125, RFC 3376's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_interval_secs: Option<u64>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// IPFIX (RFC 7011) export over UDP: a record per IP flow (5-tuple,
/// ingress and egress port as OpenFlow numbers them, VLAN, packets, IP
/// bytes, start and end) for every flow that entered the switch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpfixSpec {
    /// The collector, `IP:PORT` (`[IPv6]:PORT`), or an IP for port 4739.
    pub collector: String,
    /// Meter one packet in this many (default 1: every packet); the
    /// counts are of the metered packets, and the sampling options record
    /// tells the collector the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<u32>,
    /// Seconds between reports of a flow that goes on (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_timeout: Option<u64>,
    /// Seconds without a packet after which a flow is reported and
    /// forgotten (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// The observation domain the collector files the records under
    /// (default: derived from the switch's name, so each switch's
    /// records stay apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_domain: Option<u32>,
}

/// A port mirror: the frames some ports receive, send or both (in some
/// VLANs, if it says), copied once each to `output` (a monitor port,
/// which then carries nothing else) or up the uplink tagged
/// `output_vlan` (RSPAN).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorSpec {
    pub name: String,
    /// The ports watched.
    pub select: Vec<String>,
    /// `in` (what they receive from their VM or wire), `out` (what the
    /// switch sends them) or `both` (default).
    #[serde(default, skip_serializing_if = "MirrorDirection::is_default")]
    pub direction: MirrorDirection,
    /// Only frames switched in these VLANs (default: every VLAN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<u16>,
    /// The monitor port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// RSPAN: copies go up the uplink tagged with this VLAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_vlan: Option<u16>,
}

/// Which of its ports' frames a mirror copies.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MirrorDirection {
    /// What the ports receive (from their VM, container or wire).
    In,
    /// What the switch sends them.
    Out,
    #[default]
    Both,
}

impl MirrorDirection {
    pub fn is_default(&self) -> bool {
        *self == MirrorDirection::Both
    }
}

/// A switch's policy for an adjacent bridge that does not reflect.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RelayRequired {
    /// Log and show that VM-to-VM frames of `vepa` ports will not come back.
    #[default]
    Warn,
    /// Switch frames between `vepa` ports locally while the bridge does not reflect.
    FallbackVeb,
    /// Say nothing (the operator knows the fabric).
    Ignore,
}

impl RelayRequired {
    pub fn is_default(&self) -> bool {
        *self == RelayRequired::Warn
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RelayRequired::Warn => "warn",
            RelayRequired::FallbackVeb => "fallback-veb",
            RelayRequired::Ignore => "ignore",
        }
    }
}

/// A port's reflective relay (hairpin): `true`, `false`, or `"evb"`: on
/// only while the 802.1Qbg station behind the port asks for it in its EVB
/// TLV, as an 802.1Qbg bridge port does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Relay {
    #[default]
    Off,
    On,
    Evb,
}

impl Relay {
    /// Any relay at all: always on, or on request.
    pub fn any(self) -> bool {
        self != Relay::Off
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relay::Off => "off",
            Relay::On => "on",
            Relay::Evb => "evb",
        }
    }
}

impl std::str::FromStr for Relay {
    type Err = String;
    fn from_str(s: &str) -> Result<Relay, String> {
        match s {
            "on" | "true" | "yes" => Ok(Relay::On),
            "off" | "false" | "no" => Ok(Relay::Off),
            "evb" => Ok(Relay::Evb),
            _ => Err(format!("'{s}': expected on, off or evb")),
        }
    }
}

impl From<bool> for Relay {
    fn from(on: bool) -> Relay {
        if on {
            Relay::On
        } else {
            Relay::Off
        }
    }
}

impl Serialize for Relay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Relay::Off => s.serialize_bool(false),
            Relay::On => s.serialize_bool(true),
            Relay::Evb => s.serialize_str("evb"),
        }
    }
}

impl<'de> Deserialize<'de> for Relay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Relay, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Relay;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false or \"evb\" for relay")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Relay, E> {
                Ok(Relay::from(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Relay, E> {
                match v {
                    "evb" => Ok(Relay::Evb),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl SwitchSpec {
    /// A switch with no ports, in `veb` mode, on the userspace dataplane.
    pub fn new(name: &str) -> SwitchSpec {
        SwitchSpec {
            name: name.to_string(),
            kind: SwitchKind::default(),
            ipvlan_mode: None,
            mode: ModeName::default(),
            ageing_secs: None,
            uplink: None,
            ports: Vec::new(),
            static_fdb: Vec::new(),
            group_fwd_mask: None,
            backend: Backend::default(),
            openflow: None,
            meters: Vec::new(),
            groups: Vec::new(),
            flows: Vec::new(),
            lldp: None,
            relay_required: RelayRequired::default(),
            mirrors: Vec::new(),
            ipfix: None,
            multicast: None,
        }
    }

    /// Whether the link agent (LLDP, EVB) runs on this switch's ports.
    pub fn lldp(&self) -> bool {
        self.lldp.unwrap_or(true)
    }
}

/// What a switch tells its ports apart by.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SwitchKind {
    /// By MAC, learned: the macvlan modes, a bridge.
    #[default]
    Macvlan,
    /// By IP address: the ports share the uplink's MAC.
    Ipvlan,
}

impl SwitchKind {
    pub fn is_default(&self) -> bool {
        *self == SwitchKind::Macvlan
    }
}

/// An ipvlan switch's mode, as the kernel names it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpvlanModeName {
    #[default]
    L2,
    L3,
    L3s,
}

impl IpvlanModeName {
    pub fn as_str(self) -> &'static str {
        vepa_dataplane::ipvlan::IpvlanMode::from(self).as_str()
    }
}

impl From<IpvlanModeName> for vepa_dataplane::ipvlan::IpvlanMode {
    fn from(m: IpvlanModeName) -> Self {
        match m {
            IpvlanModeName::L2 => Self::L2,
            IpvlanModeName::L3 => Self::L3,
            IpvlanModeName::L3s => Self::L3s,
        }
    }
}

/// Where a switch's forwarding happens.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The kernel when the switch needs nothing it lacks, else userspace.
    Auto,
    /// Kernel devices: macvlan/macvtap on the uplink for a switch with
    /// one (ipvlan for an ipvlan switch), a Linux bridge (hairpin for
    /// relay) for one without.
    Kernel,
    /// vepa's own dataplane.
    #[default]
    Userspace,
}

impl Backend {
    pub fn is_default(&self) -> bool {
        *self == Backend::Userspace
    }
}

/// Port modes as written in the file (`bridge` is accepted for `veb`, as the kernel calls it).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
    /// A VXLAN tunnel to remote VTEPs (a UDP socket on `local`; no interface).
    Vxlan,
    /// A vhost-user-net backend on a unix socket (`socket`) for QEMU's
    /// `-netdev vhost-user`; no interface.
    #[serde(rename = "vhost-user")]
    VhostUser,
    /// A switch's uplink over several links (`[switch.uplink.bond]`):
    /// active-backup, or flows spread over the members with LACP.
    Bond,
    /// Not a switch's: a TUN device carries IP packets without Ethernet
    /// headers, so it is a router's port (`[[router.port]] type = "tun"`);
    /// named here to be refused with that said.
    Tun,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
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
    #[schema(value_type = Option<String>)]
    pub mac: Option<MacAddr>,
    /// Addresses with prefix length for the far end, e.g. `10.0.0.1/24`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
    /// For `vxlan`: the VXLAN network identifier (1 to 16777215).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// For `vxlan`: the local VTEP address, on the underlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// For `vxlan`: remote VTEP addresses (flooded frames go to each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote: Vec<String>,
    /// For a `vxlan` trunk port: each VLAN's VNI, as `"VID:VNI"` (instead of `vni`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlan_vni: Vec<String>,
    /// For `vxlan`: the UDP port of the VTEPs (default 4789; the kernel's
    /// vxlan defaults to 8472 unless made with `dstport 4789`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dstport: Option<u16>,
    /// For `vxlan`: the tunnel's other VTEPs are the hosts that publish the
    /// same VNI through the daemon's etcd control plane (`--etcd`), besides
    /// any `remote`; `local` defaults to the daemon's `--underlay-ip`, and
    /// `relay` means the fabric reflects frames back to this host (it does
    /// not hairpin at this switch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fabric: bool,
    /// For a fabric port: answer the VMs' ARP requests for addresses the
    /// other hosts published here, instead of flooding them to every host.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub arp_suppress: bool,
    /// For `vhost-user`: the socket QEMU connects to (default
    /// /run/vepa/vhost-user/SWITCH/PORT.sock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// Default routes for the far end (one per family), e.g. a router port's address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Pass partial checksums and GSO super-frames through this port
    /// (virtio-net header); default true. Off, the port sees only complete,
    /// wire-sized frames and vepa segments for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offload: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeName>,
    /// Reflective relay (hairpin) on this port: `true`, `false`, or
    /// `"evb"` (on only while the 802.1Qbg station behind it asks).
    #[serde(default)]
    #[schema(value_type = Value)]
    pub relay: Relay,
    /// The VM's identity for 802.1Qbg's VDP: the switch's uplink associates
    /// it (its MAC and VLAN) with the adjacent bridge's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsi: Option<VsiSpec>,
    /// On a relay port: only sources the station associated over VDP (a
    /// VSI's MAC and VLAN) may send into the switch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vdp_enforce: bool,
    /// Access VLAN (untagged); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Trunk: the tagged VLANs allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<Vec<u16>>,
    /// Trunk: the VLAN of untagged frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_vlan: Option<u16>,
    /// Most MACs learned on this port; a source beyond it is forwarded,
    /// not learned. Default 1024 on VM ports, none on the uplink and on
    /// tunnels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_limit: Option<u32>,
    /// Storm control: the broadcast, multicast and unknown-unicast frames
    /// this port may send into the switch, each `"NNNpps"` or `"off"`.
    /// VM ports default to broadcast 1000pps, multicast and unknown
    /// unicast 10000pps; the uplink, tunnels and patches to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storm: Option<StormSpec>,
    /// BPDU guard: a spanning-tree BPDU from this port blocks it for five
    /// minutes (something behind it bridges and could close a loop).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bpdu_guard: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub source_macs: Vec<MacAddr>,
    /// Anti-spoofing: the port may send only from its MACs and addresses
    /// (`allowed_macs`/`allowed_ips`, by default `mac` and `address`), and
    /// no router advertisements or DHCP server replies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guard: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub allowed_macs: Vec<MacAddr>,
    /// Addresses or prefixes (`10.0.0.5`, `10.0.0.0/29`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    /// For `bond` (an uplink only): its members, mode and LACP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<BondSpec>,
    /// On an ipvlan switch: the port also owns the addresses it sends
    /// from (up to 64, forgotten after the switch's ageing time unseen),
    /// besides its `address`. Another port's address is never taken; with
    /// `guard = true` only its `allowed_ips` can be learned.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub learn_addresses: bool,
}

/// A bonded uplink: one switch port over several links.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BondSpec {
    /// `active-backup` (default: one member carries everything, the next
    /// takes over when it fails), `balance-tcp` (each flow, by addresses
    /// and ports, on one member; needs LACP) or `balance-slb` (each source
    /// MAC and VLAN on one member).
    #[serde(default)]
    pub mode: BondModeName,
    /// LACP (IEEE 802.1AX) with the switch at the other end: `off`
    /// (default), `active` (speaks first) or `passive` (answers). With
    /// LACP a member carries traffic only while its partner answers.
    #[serde(default)]
    pub lacp: LacpMode,
    /// `fast` (default: the partner sends every second and a silent member
    /// is out after 3 s) or `slow` (every 30 s, out after 90 s).
    #[serde(default)]
    pub lacp_rate: LacpRate,
    /// ARP monitoring: addresses to ask on every member; a member none of
    /// them answers on for three intervals is down. Off when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arp_targets: Vec<String>,
    /// Milliseconds between ARP monitoring's requests (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_interval_ms: Option<u64>,
    /// The sender address of ARP monitoring's requests (default 0.0.0.0,
    /// an ARP probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_source: Option<String>,
    /// The links (`[[switch.uplink.bond.member]]`), 1 to 16.
    #[serde(default, rename = "member")]
    pub members: Vec<MemberSpec>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BondModeName {
    #[default]
    ActiveBackup,
    BalanceTcp,
    BalanceSlb,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LacpMode {
    #[default]
    Off,
    Active,
    Passive,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LacpRate {
    #[default]
    Fast,
    Slow,
}

/// One link of a bond: an interface that exists (`netdev`) or a veth pair
/// vepa makes (`veth`, its far end in `netns`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MemberKind,
    /// The host interface; defaults to the member name (required for `netdev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ifname: Option<String>,
    /// `veth`: the namespace of the far end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// `veth`: the far end's name inside `netns` (default `eth0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    Netdev,
    Veth,
}

impl MemberSpec {
    /// The member as a port of its kind, for the checks and drivers
    /// ports share (it takes the bond's `offload`).
    pub fn port(&self, bond: &PortSpec) -> PortSpec {
        let mut p = PortSpec::new(
            &self.name,
            match self.kind {
                MemberKind::Netdev => PortKind::Netdev,
                MemberKind::Veth => PortKind::Veth,
            },
        );
        p.ifname = self.ifname.clone();
        p.netns = self.netns.clone();
        p.peer_name = self.peer_name.clone();
        p.mtu = self.mtu;
        p.offload = bond.offload;
        p
    }
}

/// A value's name as the topology file spells it (its serde name; the
/// lowercased Debug form for a value serde does not spell as a string).
pub fn spelled<T: Serialize + std::fmt::Debug>(v: T) -> String {
    serde_json::to_value(&v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}").to_lowercase())
}

impl PortSpec {
    /// Its VLANs in words: "trunk 10,20 native 5", or the access VLAN
    /// (1 when none is set).
    pub fn vlan_text(&self) -> String {
        match &self.trunk {
            Some(t) => format!(
                "trunk {}{}",
                t.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
                self.native_vlan
                    .map(|n| format!(" native {n}"))
                    .unwrap_or_default()
            ),
            None => self.vlan.unwrap_or(1).to_string(),
        }
    }

    /// A bond's members as ports (none for other kinds).
    pub fn member_ports(&self) -> Vec<PortSpec> {
        self.bond
            .iter()
            .flat_map(|b| b.members.iter().map(|m| m.port(self)))
            .collect()
    }

    /// The host interfaces vepa makes for this port and marks as its own:
    /// its interface, or a bond's veth members'.
    pub fn made_ifnames(&self) -> Vec<String> {
        if self.kind == PortKind::Bond {
            return self
                .member_ports()
                .iter()
                .filter(|m| m.kind == PortKind::Veth)
                .map(|m| m.host_ifname().to_string())
                .collect();
        }
        vec![self.host_ifname().to_string()]
    }
}

/// A VSI (virtual station interface) as 802.1Qbg's VDP names it to the
/// adjacent bridge: what kind of VM it is (type and version, as the
/// network's VSI manager knows them) and which instance (a UUID).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VsiSpec {
    /// VSI type ID, 0 to 16777215.
    pub type_id: u32,
    /// VSI type version, 0 to 255.
    #[serde(default)]
    pub version: u8,
    /// The VM's instance UUID (RFC 4122 text, e.g.
    /// `a1b2c3d4-e5f6-1122-3344-556677889900`).
    pub uuid: String,
}

impl VsiSpec {
    /// The UUID's 16 bytes: 32 hex digits, dashes anywhere ignored.
    pub fn uuid_bytes(&self) -> Option<[u8; 16]> {
        let hex: Vec<u8> = self.uuid.bytes().filter(|b| *b != b'-').collect();
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(out)
    }
}

/// A port's storm-control rates; a kind left out keeps the port's default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StormSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multicast: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_unicast: Option<String>,
}

impl PortSpec {
    /// The MAC a VM on this port (of switch `switch`) uses: the port's
    /// `mac`, else 52:54:00 (QEMU's prefix) and three bytes of a hash of
    /// `switch/port`, so each guest has its own and keeps it.
    pub fn guest_mac(&self, switch: &str) -> MacAddr {
        if let Some(m) = self.mac {
            return m;
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in switch.bytes().chain([b'/']).chain(self.name.bytes()) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        let b = h.to_be_bytes();
        MacAddr([0x52, 0x54, 0x00, b[1], b[2], b[3]])
    }

    /// A vhost-user port's socket: `socket`, else
    /// /run/vepa/vhost-user/SWITCH/PORT.sock (port names are per switch).
    pub fn vhost_user_socket(&self, switch: &str) -> String {
        self.vhost_user_socket_in(VHOST_USER_DIR, switch)
    }

    /// [`PortSpec::vhost_user_socket`] for a daemon whose vhost-user
    /// directory is `dir`.
    pub fn vhost_user_socket_in(&self, dir: &str, switch: &str) -> String {
        self.socket
            .clone()
            .unwrap_or_else(|| format!("{dir}/{switch}/{}.sock", self.name))
    }

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
            gateway: Vec::new(),
            vni: None,
            local: None,
            remote: Vec::new(),
            vlan_vni: Vec::new(),
            dstport: None,
            fabric: false,
            arp_suppress: false,
            socket: None,
            mtu: None,
            offload: None,
            mode: None,
            relay: Relay::Off,
            vsi: None,
            vdp_enforce: false,
            vlan: None,
            trunk: None,
            native_vlan: None,
            mac_limit: None,
            storm: None,
            bpdu_guard: false,
            source_macs: Vec::new(),
            guard: false,
            allowed_macs: Vec::new(),
            allowed_ips: Vec::new(),
            bond: None,
            learn_addresses: false,
        }
    }

    /// The interface vepa reads and writes for this port.
    pub fn host_ifname(&self) -> &str {
        self.ifname.as_deref().unwrap_or(&self.name)
    }

    pub fn offload(&self) -> bool {
        self.offload.unwrap_or(true)
    }

    /// The gateways, parsed (the topology check has vetted them).
    pub fn gateways(&self) -> Vec<std::net::IpAddr> {
        self.gateway.iter().filter_map(|g| g.parse().ok()).collect()
    }

    /// The `vlan_vni` pairs, parsed (the topology check has vetted them).
    pub fn vlan_vnis(&self) -> Vec<(u16, u32)> {
        self.vlan_vni
            .iter()
            .filter_map(|m| {
                let (v, n) = m.split_once(':')?;
                Some((v.trim().parse().ok()?, n.trim().parse().ok()?))
            })
            .collect()
    }

    pub fn peer_ifname(&self) -> &str {
        self.peer_name.as_deref().unwrap_or("eth0")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaticFdbSpec {
    #[schema(value_type = String, example = "02:00:00:00:00:01")]
    pub mac: MacAddr,
    #[serde(default = "default_vid")]
    pub vlan: u16,
    pub port: String,
}

fn default_vid() -> u16 {
    1
}

/// The longest switch or port name: a device's ownership mark (an
/// interface alias of at most 255 bytes) holds both.
pub const MAX_NAME: usize = 64;

/// Where vhost-user ports' sockets are by default.
pub const VHOST_USER_DIR: &str = "/run/vepa/vhost-user";

/// The longest socket path a unix socket address holds (sun_path, less
/// its terminating zero).
pub const MAX_SOCKET_PATH: usize = 107;

/// The source MAC of a switch's own IGMP/MLD queries: locally
/// administered, stable, from the switch's name.
pub fn querier_mac(switch: &str) -> vepa_packet::MacAddr {
    let mut h: u32 = 0x811c_9dc5;
    for b in "querier/".bytes().chain(switch.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    vepa_packet::MacAddr::local_from_seed(h)
}
