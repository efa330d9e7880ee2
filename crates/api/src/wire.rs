//! Request and answer bodies of the HTTP API.

use crate::plan::Change;
use crate::topology::{ModeName, Topology};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vepa_packet::MacAddr;

/// Every error the API answers: what went wrong and, when one input was
/// to blame, which field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Changes to a switch's own settings; fields left out stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ageing_secs: Option<u64>,
    /// LLDP on the uplink and relay ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lldp: Option<bool>,
    /// `warn`, `fallback-veb` or `ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_required: Option<crate::topology::RelayRequired>,
}

/// Changes to a port's forwarding settings; fields left out stay as they
/// are. (How a port is realized on the host is changed by deleting and
/// adding it, or by `apply`.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortPatch {
    /// A mode of its own; `"default"` goes back to the switch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PortModeSetting>,
    /// `true`, `false` or `"evb"` (on while the 802.1Qbg station asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub relay: Option<crate::topology::Relay>,
    /// The VM's VDP identity; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<crate::topology::VsiSpec>)]
    pub vsi: Option<Option<crate::topology::VsiSpec>>,
    /// On a relay port: only VDP-associated sources may send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdp_enforce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_vlan: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_limit: Option<u32>,
    /// Storm-control rates; each kind given replaces the port's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storm: Option<crate::topology::StormSpec>,
    /// BPDU guard on or off (off lifts a block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpdu_guard: Option<bool>,
    /// On an ipvlan switch: whether the port owns the addresses it sends from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learn_addresses: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub source_macs: Option<Vec<MacAddr>>,
    /// Anti-spoofing on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_macs: Option<Vec<MacAddr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PortModeSetting {
    Default,
    #[serde(alias = "bridge")]
    Veb,
    Vepa,
    Private,
    Passthru,
    Source,
}

impl PortModeSetting {
    pub fn to_mode(self) -> Option<ModeName> {
        match self {
            PortModeSetting::Default => None,
            PortModeSetting::Veb => Some(ModeName::Veb),
            PortModeSetting::Vepa => Some(ModeName::Vepa),
            PortModeSetting::Private => Some(ModeName::Private),
            PortModeSetting::Passthru => Some(ModeName::Passthru),
            PortModeSetting::Source => Some(ModeName::Source),
        }
    }
}

/// One row of a switch's filtering database.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FdbRow {
    #[schema(value_type = String)]
    pub mac: MacAddr,
    pub vlan: u16,
    pub port: String,
    #[serde(rename = "static")]
    pub is_static: bool,
    /// Seconds since the address was last seen (learned entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
}

/// One row of a switch's multicast group database (`vepa mdb show`): a
/// port that asked for a group, or a port that leads to a router.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MdbRow {
    pub vlan: u16,
    /// The group, or `router` for a router port.
    pub group: String,
    pub port: String,
    /// `member` (a report), `router` (a query came from it) or
    /// `router (static)` (the uplink, a tunnel or patch, or named).
    pub kind: String,
    /// Seconds until it lapses unless refreshed (none for static).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_secs: Option<u64>,
}

/// A static FDB entry to add.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FdbAdd {
    #[schema(value_type = String)]
    pub mac: MacAddr,
    #[serde(default = "one")]
    pub vlan: u16,
    pub port: String,
}

fn one() -> u16 {
    1
}

/// Which learned entries a flush removes (all when `port` is left out).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FdbFlush {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FdbFlushed {
    pub removed: usize,
}

/// Counters of one port since the daemon started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PortStats {
    pub switch: String,
    pub port: String,
    /// `up` (with what the port says of its peer, e.g. `up (guest connected)`
    /// for vhost-user), or `down: ` and why the port has no device.
    pub state: String,
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
    /// Frames forwarded from this port whose source MAC was not learned
    /// because the port (or the switch's table) was at its limit.
    #[serde(default)]
    pub mac_limit_unlearned: u64,
    /// Drops counted on this port as the ingress, by reason.
    pub drops: std::collections::BTreeMap<String, u64>,
    /// On an AF_PACKET port (veth, netdev, patch): frames the kernel
    /// dropped on its socket before vepa read them (also in `drops` as
    /// `kernel_rx_dropped` once there are any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_drops: Option<u64>,
    /// A bonded uplink: its members, who carries traffic, LACP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<BondStats>,
}

/// A bonded uplink now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct BondStats {
    /// `active-backup`, `balance-tcp` or `balance-slb`.
    pub mode: String,
    /// `off`, `active` or `passive`.
    pub lacp: String,
    /// LACP: the bond's system ID (priority and MAC) and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub members: Vec<BondMemberStats>,
    /// Times a new member became active (active-backup).
    pub failovers: u64,
    /// Announcements (RARPs) sent for local MACs at failovers.
    pub announced: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct BondMemberStats {
    pub member: String,
    pub ifname: String,
    /// Carrier up.
    pub link_up: bool,
    /// Carries traffic now.
    pub carrying: bool,
    /// The active member of an active-backup bond.
    pub active: bool,
    /// Times it stopped carrying traffic.
    pub failures: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp: Option<LacpMemberStats>,
}

/// A member's LACP: its machines' states, what it says of itself and what
/// it heard of its partner (state as flags: activity, timeout,
/// aggregation, synchronization, collecting, distributing, defaulted,
/// expired).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LacpMemberStats {
    /// `current`, `expired` or `defaulted`.
    pub receive: String,
    /// `detached`, `waiting`, `attached` or `collecting-distributing`.
    pub mux: String,
    pub actor_port: u16,
    pub actor_state: Vec<String>,
    /// The partner's system (`priority,MAC`), absent while none answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_key: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_state: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SwitchStats {
    pub switch: String,
    /// Who forwards for it (userspace or kernel), and why.
    #[serde(default)]
    pub backend: String,
    #[serde(default)]
    pub why: String,
    pub fdb_entries: usize,
    pub learning_events: u64,
    /// IGMP/MLD snooping: memberships held, and joins not learned because
    /// a port's or the switch's bound was reached.
    #[serde(default)]
    pub mdb_memberships: usize,
    #[serde(default)]
    pub mdb_over_limit: u64,
    /// Flows in its tables.
    #[serde(default)]
    pub flows: usize,
    /// Whether its OpenFlow controller is connected; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_connected: Option<bool>,
    /// Its OpenFlow channels as served (`punix:PATH`, `pssl:ADDR`,
    /// `ptcp:ADDR (unauthenticated)`, `ssl:`/`tcp:` controllers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openflow: Vec<String>,
    /// Packet-ins dropped: over the switch's `packet_in_rate`, or its
    /// queue full (its controllers are behind).
    #[serde(default)]
    pub packet_in_dropped: u64,
    /// Reflective relay on its uplink, as the adjacent bridge's EVB TLV
    /// says (`granted`, `refused`, `not requested`, `no EVB peer`) or the
    /// relay probe saw it; absent where no link agent runs on the uplink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflective_relay: Option<String>,
    /// `vepa` ports switch locally because the bridge does not reflect
    /// (`relay_required = "fallback-veb"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay_fallback: bool,
    /// An ipvlan switch as it forwards: its mode, flag, the one MAC its
    /// ports carry and who owns which address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvlan: Option<IpvlanView>,
}

/// An ipvlan switch in force.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct IpvlanView {
    /// `l2`, `l3` or `l3s`.
    pub mode: String,
    /// `bridge`, `private` or `vepa`.
    pub flag: String,
    /// The MAC every port carries on the wire (the uplink's).
    pub mac: String,
    /// Each owned address and its port.
    pub addresses: Vec<OwnedAddress>,
    /// Addresses learning ports (`learn_addresses`) were seen sending from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<OwnedAddress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct OwnedAddress {
    pub address: String,
    pub port: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub switches: Vec<SwitchStats>,
    pub ports: Vec<PortStats>,
    /// The userspace forwarding workers now running.
    #[serde(default)]
    pub workers: Vec<WorkerStats>,
    /// When the workers last published the counters above (ms on the
    /// daemon's clock, their mean): rates are differences over this, not
    /// over when they were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_ms: Option<u64>,
}

/// One forwarding worker (thread) since it started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct WorkerStats {
    pub worker: usize,
    /// Seconds it spent reading, deciding and sending frames.
    pub busy_seconds: f64,
    /// Seconds since it started.
    pub seconds: f64,
    /// Frames its decision caches answered without the pipeline, and the rest.
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// A desired state to reach, whole.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    pub topology: Topology,
    /// Only compute and return the plan.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply even if `topology.generation` is not the daemon's current one.
    #[serde(default)]
    pub force: bool,
}

/// What a change did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplyResult {
    pub plan: Vec<Change>,
    pub applied: bool,
    /// The store's generation after the change.
    pub generation: u64,
}

/// A port as `port show` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PortView {
    pub switch: String,
    /// `uplink` or `downlink`.
    pub role: String,
    /// A vhost-user port's socket, in the daemon's vhost-user directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    pub spec: crate::topology::PortSpec,
}

/// Flows to add, in `ovs-ofctl add-flow` syntax; all are added or none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowAdd {
    pub flows: Vec<String>,
}

/// A modify (`ovs-ofctl mod-flows`): the flows the text's match selects
/// get its actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowMod {
    pub flow: String,
    /// Only the flow with exactly this match and priority.
    #[serde(default)]
    pub strict: bool,
}

/// A delete (`ovs-ofctl del-flows`): every flow the match covers, or
/// every flow at all without one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default)]
    pub strict: bool,
}

/// How many flows a change touched, and the stored generation after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlowChange {
    pub changed: usize,
    pub generation: u64,
}

/// One flow with its counters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlowView {
    pub table: u8,
    pub priority: u16,
    pub cookie: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Seconds since it was added.
    pub duration_secs: f64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// The match, in `ovs-ofctl` syntax (empty: every packet).
    #[serde(rename = "match")]
    pub matcher: String,
    pub actions: String,
    /// The whole flow in the canonical form the store keeps.
    pub flow: String,
}

/// Groups to add or change, in `ovs-ofctl add-group` syntax.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupAdd {
    pub groups: Vec<String>,
    /// Replace existing groups of the same id (`mod-group`) instead of refusing them.
    #[serde(default)]
    pub modify: bool,
}

/// One group with its counters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub group_id: u32,
    pub packets: u64,
    pub bytes: u64,
    pub group: String,
}

/// A router as it runs: its ports, its routing table (connected and
/// static), the neighbors it has resolved and what it has counted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouterView {
    pub name: String,
    pub ports: Vec<RouterPortView>,
    pub routes: Vec<RouteView>,
    pub neighbors: Vec<NeighborView>,
    pub counters: RouterCountersView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouterPortView {
    pub name: String,
    pub switch: String,
    /// The port's name on its switch (`ROUTER:PORT`).
    pub switch_port: String,
    #[schema(value_type = String)]
    pub mac: MacAddr,
    pub addresses: Vec<String>,
    pub mtu: u16,
    pub vlan: u16,
    /// A TUN port's device, `IFNAME` or `IFNAME@NETNS` (no switch then:
    /// its link is the switch `ROUTER:PORT` of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tun: Option<String>,
    /// A TUN port's device is persistent, for a VPN daemon to open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persist: bool,
}

/// One entry of a routing table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteView {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub port: String,
    /// `connected` (a port's subnet) or `static`.
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NeighborView {
    pub port: String,
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mac: Option<MacAddr>,
    /// `reachable`, `stale` or `incomplete`.
    pub state: String,
    pub age_secs: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RouterCountersView {
    pub forwarded: u64,
    /// Packets addressed to the router itself.
    pub delivered: u64,
    pub icmp_errors: u64,
    pub icmp_rate_limited: u64,
    /// Packets not forwarded, by reason (only reasons that happened).
    pub drops: std::collections::BTreeMap<String, u64>,
}

/// What a neighbor flush removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NeighborsFlushed {
    pub flushed: usize,
}

/// An access list as it runs: its rules with what each matched.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AclView {
    pub name: String,
    /// `port SWITCH/PORT in|out` or `router NAME`.
    pub place: String,
    /// allow, drop or reject.
    pub default: String,
    /// Whether it tracks connections.
    pub stateful: bool,
    pub rules: Vec<AclRuleView>,
    /// What the default took.
    pub default_packets: u64,
    pub default_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AclRuleView {
    /// 1 for the first rule.
    pub number: usize,
    pub rule: String,
    pub packets: u64,
    pub bytes: u64,
}

/// Rules to add to an ACL, in one change: at the end, or before rule
/// `at` (1-based).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AclRuleAdd {
    pub rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<usize>,
}

/// One connection table: a filtered port's or a router's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ZoneView {
    /// `port SWITCH/PORT` or `router NAME`.
    pub zone: String,
    pub limit: usize,
    /// New connections refused because the table was full.
    pub full_drops: u64,
    pub connections: Vec<ConnView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnView {
    /// tcp, udp, icmp, icmp6 or the protocol number.
    pub proto: String,
    pub src: String,
    pub dst: String,
    pub sport: u16,
    pub dport: u16,
    /// syn_sent, syn_received, established, closing, time_wait;
    /// for datagrams unreplied or replied.
    pub state: String,
    pub idle_secs: u64,
    /// Packets in the original and in the reply direction.
    pub packets: [u64; 2],
}

/// How many entries a flush removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Flushed {
    pub flushed: usize,
}

/// A VXLAN port as it runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TunnelView {
    pub switch: String,
    pub port: String,
    /// The VNI (0 on a trunk with `vlan_vni`).
    pub vni: u32,
    /// Each VLAN's VNI, as `VID:VNI`, on a trunk port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlan_vni: Vec<String>,
    pub local: String,
    pub dstport: u16,
    pub remotes: Vec<String>,
    /// The other hosts' VTEPs with this VNI, from the control plane (fabric ports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Per VNI, the members its floods go to (fabric ports).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub flood: std::collections::BTreeMap<u32, Vec<String>>,
    /// MACs the other hosts published, and their VTEP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<LearnedMac>,
    /// The fabric reflects frames back to this host (relay on a fabric port).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reflect: bool,
    /// Frames from members are refused (the uplink of a private switch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolate: bool,
    /// ARP requests for published addresses are answered here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub arp_suppress: bool,
    /// The other hosts' published VM addresses (what ARP suppression answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published_ips: Vec<IpMac>,
    /// The largest inner frame (Ethernet header included) the underlay carries.
    pub max_inner_frame: usize,
    /// Remote MACs and the VTEP each was last seen behind.
    pub learned: Vec<LearnedMac>,
    /// Drops and floods by kind (only those that happened).
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// The etcd control plane as this daemon sees it: its connection and
/// every host the store lists (the last known list while etcd is away).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HostsView {
    pub endpoints: Vec<String>,
    /// The key prefix the hosts share.
    pub prefix: String,
    pub host_id: String,
    pub underlay: String,
    /// `connected`, `connecting` or `retrying`.
    pub state: String,
    /// Why the last session with etcd ended or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Seconds until the next attempt (while `retrying`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_secs: Option<u64>,
    pub hosts: Vec<HostRecord>,
    /// Other hosts' records the fabric does not use, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecord>,
    /// Records refused since the daemon started.
    #[serde(default)]
    pub refused_total: u64,
    /// Other hosts' claims of this host's own VMs' MACs, not used.
    #[serde(default)]
    pub claims_refused: u64,
}

/// A host record the fabric refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefusedRecord {
    pub host: String,
    pub why: String,
}

/// One host's entry in the store (JSON under `PREFIX/hosts/HOST-ID`,
/// attached to the host's lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HostRecord {
    pub host: String,
    #[schema(value_type = String)]
    pub underlay: std::net::IpAddr,
    pub version: String,
    pub networks: Vec<NetworkRecord>,
}

/// A VM's IPv4 address and MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IpMac {
    #[schema(value_type = String)]
    pub ip: std::net::Ipv4Addr,
    #[schema(value_type = String)]
    pub mac: MacAddr,
}

/// A switch of a host that spans hosts: its fabric port's VNI and VTEP,
/// and the MACs (and, where they announced them in ARP, the IPv4
/// addresses) of the VMs behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkRecord {
    pub vni: u32,
    pub switch: String,
    pub mode: String,
    #[schema(value_type = String)]
    pub vtep: std::net::IpAddr,
    pub dstport: u16,
    #[schema(value_type = Vec<String>)]
    pub macs: Vec<MacAddr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpMac>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LearnedMac {
    #[schema(value_type = String)]
    pub mac: MacAddr,
    pub vtep: String,
}

/// A port vepa's link agent runs on (an uplink or a relay port): what it
/// sent and heard, and who is on the other end.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkPortView {
    pub switch: String,
    pub port: String,
    /// `uplink` or `relay`.
    pub role: String,
    /// On an uplink: reflective relay as the adjacent bridge's EVB TLV
    /// says (`granted`, `refused`, `not requested`, `no EVB peer`), or,
    /// with no EVB peer, as the relay probe saw it (`reflecting (probe;
    /// ...)`, `not reflecting (probe; ...)`). On a relay port: whether it
    /// reflects now (`on (...)`, `off (...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflective_relay: Option<String>,
    /// On an uplink that needs relay: the switch's `relay_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_required: Option<String>,
    /// On an uplink: the last relay probe (`reflecting (N s ago)`, `not
    /// reflecting (N s ago)`, `in flight`); absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// LLDPDUs sent, and received and read.
    pub lldp_tx: u64,
    pub lldp_rx: u64,
    /// Frames of link protocols that could not be read (malformed or
    /// unknown), and why the last one could not.
    pub rx_errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Frames the port sent its agent beyond its budget (dropped unread).
    pub rx_over_budget: u64,
    /// Neighbours that went quiet past their TTL.
    pub aged_out: u64,
    pub neighbours: Vec<LldpNeighbour>,
}

/// A neighbour as its last LLDPDU described it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LldpNeighbour {
    /// The LLDP agent it belongs to, by the address it was sent to
    /// (`nearest bridge`, `nearest customer bridge`, ...).
    pub agent: String,
    /// Chassis ID as people read it (a MAC, text, else hex), and its subtype.
    pub chassis_id: String,
    pub chassis_subtype: u8,
    pub port_id: String,
    pub port_subtype: u8,
    /// The TTL it announced (s), and the seconds left before it ages out.
    pub ttl: u16,
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub management: Vec<String>,
    /// The neighbour's EVB TLV (802.1Qbg-2012), if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evb: Option<EvbView>,
}

/// An EVB TLV, field by field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvbView {
    /// `bridge`, `station`, `none` or `reserved`.
    pub mode: String,
    /// Bridge status: reflective relay capable, and turned on for this port.
    pub rrcap: bool,
    pub rrctr: bool,
    /// Station status: reflective relay requested, and what the station
    /// believes (`off`, `on`, `unknown`).
    pub rrreq: bool,
    pub rrstat: String,
    pub ecp_retries: u8,
    pub ecp_rte: u8,
    pub vdp_rwd: u8,
    pub vdp_rka: u8,
}

/// A port mirror and what it has sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MirrorView {
    pub switch: String,
    pub mirror: crate::topology::MirrorSpec,
    /// Copies sent, and their bytes (0 on a switch the kernel forwards).
    pub packets: u64,
    pub bytes: u64,
}

/// A switch's IPFIX export and what it did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IpfixView {
    pub switch: String,
    pub ipfix: crate::topology::IpfixSpec,
    /// The observation domain in force (the file's, or the default).
    pub observation_domain: u32,
    /// Packets metered (after sampling).
    pub sampled_packets: u64,
    /// Flow records made, sent to the collector, and lost because the
    /// exporter was behind.
    pub records: u64,
    pub exported: u64,
    pub dropped: u64,
    /// Messages sent, and sends that failed.
    pub messages: u64,
    pub send_errors: u64,
}

/// Ports to capture at once, into one pcapng stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// The ports, each an interface of the stream named `SWITCH/PORT`.
    pub ports: Vec<PortRef>,
    /// A filter in pcap-filter syntax (a subset: `vepa capture --help`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Also the frames the switch drops as they enter these ports, each
    /// with its reason as the packet's comment.
    #[serde(default)]
    pub drops: bool,
    /// Stop after this many frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// A port by its switch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PortRef {
    pub switch: String,
    pub port: String,
}

/// What to trace: a flow in `ovs-ofctl` syntax, or a frame's bytes in hex
/// (one of the two).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// e.g. `icmp,dl_src=02:00:00:00:00:01,nw_dst=10.0.0.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// The whole Ethernet frame, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// One thing the pipeline did with a traced frame, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceStep {
    /// `ingress`, `guard`, `acl_in`, `vlan`, `flow`, `learn`, `fdb`,
    /// `normal`, `router`, `acl_out`, `output`, `controller`, `link` or `drop`.
    pub stage: String,
    pub detail: String,
}

/// The frame (or a copy) entering one switch or router.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceHop {
    /// `switch` or `router`.
    pub kind: String,
    pub name: String,
    /// The port it came in by.
    pub port: String,
    pub steps: Vec<TraceStep>,
}

/// A copy that would leave on a port's device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceOutput {
    pub switch: String,
    pub port: String,
    pub bytes: usize,
    /// The copy in one line (MACs, VLAN, addresses).
    pub frame: String,
}

/// What `vepa trace` found: every hop in order and what would leave.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceResult {
    pub switch: String,
    pub port: String,
    /// The traced frame in one line.
    pub frame: String,
    pub hops: Vec<TraceHop>,
    pub outputs: Vec<TraceOutput>,
    pub to_controller: usize,
    pub to_link_agent: usize,
}

/// What `vepa relay probe` found: whether the adjacent bridge on a switch's
/// uplink hands frames back down the port they came in on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelayProbeResult {
    pub switch: String,
    pub uplink: String,
    /// The test frame came back.
    pub reflecting: bool,
    /// How long the probe took (until the frame came back, or the wait ran out).
    pub waited_ms: u64,
    /// The probe's two MACs (locally administered, per switch).
    pub probe_macs: Vec<String>,
    /// The uplink's reflective relay state as `vepa switch show` says it
    /// (an EVB peer's answer outranks the probe).
    pub reflective_relay: Option<String>,
}

/// One port's 802.1Qbg VDP: the station side on an uplink (the switch's
/// VMs it associates with the adjacent bridge), the bridge side on a
/// relay port (what the station behind it associated).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VdpPortView {
    pub switch: String,
    pub port: String,
    /// `station` (an uplink) or `bridge` (a relay port).
    pub role: String,
    /// On a relay port: only associated sources may send (`vdp_enforce`).
    #[serde(default)]
    pub enforce: bool,
    pub vsis: Vec<VsiView>,
    /// ECP data units sent (retransmissions included), retransmitted,
    /// acknowledged, given up after every retry; requests received, and
    /// repeats among them.
    pub ecp_tx: u64,
    pub ecp_retransmits: u64,
    pub ecp_acked: u64,
    pub ecp_gave_up: u64,
    pub ecp_rx: u64,
    pub ecp_duplicates: u64,
    /// VDP data units that could not be read.
    pub vdp_errors: u64,
    /// Requests refused (by the bridge on an uplink, by vepa on a relay port).
    pub refused: u64,
}

/// A VSI (a VM's interface) as VDP associates it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VsiView {
    /// The VM's port (station side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    pub mac: Vec<String>,
    /// The VLAN of each filter entry (0: any, untagged on the wire).
    pub vlan: Vec<u16>,
    pub type_id: u32,
    pub version: u8,
    pub uuid: String,
    /// `associated`, `asked`, `refused: ...`, `no answer from the bridge`,
    /// `pre-associated`, ...
    pub state: String,
}

/// A field given (even as `null`) is `Some`; left out, `None`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The daemon's log filter: `EnvFilter` directives, e.g. `vepa=debug,warn`
/// or just `info`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFilterBody {
    pub filter: String,
}
