//! `vepa trace`: one frame's whole way through the datapath, stage by
//! stage, without sending it (Open vSwitch's `ofproto/trace`).
//!
//! A trace runs the real pipeline — the same [`Datapath`](crate::Datapath)
//! code the workers run — over a *shadow* of the datapath: the same
//! forwarding snapshots (ports, modes, flows, routes), with copies of
//! everything the pipeline changes as it goes (the FDB it learns in, the
//! filters' connection tables and rule counters, storm buckets, router
//! neighbors). So what a trace says a frame does is what forwarding does
//! with it at that moment, and nothing real is learned, counted or sent.
//! While tracing, the pipeline writes down why it decided what it did
//! ([`Step`]s): the filters, the flows that matched, NORMAL's mode rule
//! and FDB lookup, the router's route and next hop, the copies made.

use crate::parsed::Parsed;
use crate::{DropReason, LearnOutcome, PortId, PortMode};
use std::fmt::Write as _;
use vepa_packet::EtherType;

/// Where a step happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The frame as it enters.
    Ingress,
    /// A port's guard (bound MACs and addresses).
    Guard,
    /// A port's inbound access list.
    AclIn,
    /// The VLAN the frame is switched in.
    Vlan,
    /// A flow table's lookup.
    Flow,
    /// Source learning.
    Learn,
    /// The FDB lookup for the destination.
    Fdb,
    /// The switch's own forwarding (`NORMAL`): the port mode's rule.
    Normal,
    /// A router: its route, next hop and TTL.
    Router,
    /// A receiving port's outbound access list.
    AclOut,
    /// Port mirrors.
    Mirror,
    /// A copy leaving: to a port, a router, across a wire.
    Output,
    /// A copy for the OpenFlow controller.
    Controller,
    /// For the port's link agent (LLDP, ECP, the relay probe).
    Link,
    /// Nothing more leaves, and why.
    Drop,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingress => "ingress",
            Stage::Guard => "guard",
            Stage::AclIn => "acl_in",
            Stage::Vlan => "vlan",
            Stage::Flow => "flow",
            Stage::Learn => "learn",
            Stage::Fdb => "fdb",
            Stage::Normal => "normal",
            Stage::Router => "router",
            Stage::AclOut => "acl_out",
            Stage::Mirror => "mirror",
            Stage::Output => "output",
            Stage::Controller => "controller",
            Stage::Link => "link",
            Stage::Drop => "drop",
        }
    }
}

/// One thing the pipeline did with the frame, and why.
#[derive(Debug, Clone)]
pub struct Step {
    pub stage: Stage,
    pub detail: String,
    /// The flow that matched (for [`Stage::Flow`]): its table and id
    /// ([`Rule::id`](crate::flow::Rule)), for the caller to print in its
    /// own syntax after `detail`.
    pub rule: Option<(u8, u64)>,
}

impl Step {
    pub fn new(stage: Stage, detail: impl Into<String>) -> Step {
        Step {
            stage,
            detail: detail.into(),
            rule: None,
        }
    }
}

/// What a hop is: a switch or a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    Switch,
    Router,
}

/// The frame (or a copy of it) entering one switch or router.
#[derive(Debug, Clone)]
pub struct Hop {
    pub kind: HopKind,
    /// The switch's or router's name.
    pub node: String,
    /// The port it came in by.
    pub port: String,
    pub steps: Vec<Step>,
}

/// A copy that leaves the datapath on a port's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub switch: String,
    pub port: String,
    /// The device's index in the datapath.
    pub device: usize,
    pub frame: Vec<u8>,
}

/// A whole trace: every hop in the order the datapath took them, and
/// what left.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub hops: Vec<Hop>,
    pub deliveries: Vec<Delivery>,
    /// Copies for the OpenFlow controller.
    pub to_controller: usize,
    /// Frames handed to a link agent.
    pub to_link_agent: usize,
}

/// Which rule of its mode NORMAL applied to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Branch {
    Passthru,
    /// A group frame from a `veb` port.
    VebGroup,
    /// A group frame from a port of another mode.
    GroupToUplink,
    /// A unicast whose destination is behind its own ingress port.
    Hairpin,
    /// A `veb` port's unicast to another `veb` port.
    VebLocal,
    /// A `veb` port's unicast to the uplink or a port of another mode.
    VebNotLocal,
    /// A `veb` port's unknown unicast.
    VebFlood,
    /// A unicast from a port whose mode sends everything up.
    ToUplink,
    UplinkGroup,
    UplinkKnown,
    UplinkFlood,
}

/// What NORMAL noticed of a frame, kept for the trace (plain copies:
/// the forwarding path fills them whether or not anyone traces).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NormalNotes {
    pub branch: Option<Branch>,
    pub vid: Option<u16>,
    pub learned: Option<LearnOutcome>,
    /// The destination's FDB entry, when it was looked up.
    pub lookup: Option<Option<PortId>>,
    /// A frame from the uplink whose source is a local downlink.
    pub reflected_from: Option<PortId>,
}

fn mode_name(m: Option<PortMode>) -> &'static str {
    match m {
        Some(PortMode::Veb) => "veb",
        Some(PortMode::Vepa) => "vepa",
        Some(PortMode::Private) => "private",
        Some(PortMode::Passthru) => "passthru",
        Some(PortMode::Source) => "source",
        None => "uplink",
    }
}

impl NormalNotes {
    /// The steps NORMAL took, in words; `name` names a port, `mode` gives
    /// a port's mode (`None`: the uplink or a tunnel), `relay` whether a
    /// port reflects.
    pub(crate) fn steps(
        &self,
        in_port: PortId,
        name: &dyn Fn(PortId) -> String,
        mode: &dyn Fn(PortId) -> Option<PortMode>,
        relay: bool,
    ) -> Vec<Step> {
        let mut v = Vec::new();
        if let Some(vid) = self.vid {
            v.push(Step::new(Stage::Vlan, format!("switched in VLAN {vid}")));
        }
        let Some(branch) = self.branch else {
            return v;
        };
        if let Some(l) = self.learned {
            let what = match l {
                LearnOutcome::Refreshed => "source known on this port: age refreshed".to_string(),
                LearnOutcome::Learned => "source learned on this port".to_string(),
                LearnOutcome::Moved { from } => {
                    format!("source moved here from port {}", name(from))
                }
                LearnOutcome::Pinned { to } => {
                    format!("a static entry pins the source to port {}", name(to))
                }
                LearnOutcome::LimitReached => {
                    "port at its MAC limit: source not learned, frame forwarded".to_string()
                }
                LearnOutcome::Reflected { sender } => format!(
                    "source is local port {} ({}): the relay reflected it; not learned",
                    name(sender),
                    mode_name(mode(sender))
                ),
            };
            v.push(Step::new(Stage::Learn, what));
        }
        if let Some(found) = self.lookup {
            v.push(Step::new(
                Stage::Fdb,
                match found {
                    Some(p) => format!("destination is behind port {}", name(p)),
                    None => "destination unknown".to_string(),
                },
            ));
        }
        let m = mode_name(mode(in_port));
        let rule = match branch {
            Branch::Passthru => "passthru: the owning port and the uplink are one wire".to_string(),
            Branch::VebGroup => {
                format!("{m}: a group frame goes to every other veb port and the uplink, if any")
            }
            Branch::GroupToUplink => format!("{m}: a group frame goes to the uplink only"),
            Branch::Hairpin => format!(
                "destination is behind the ingress port: sent back only where reflective relay is on ({})",
                if relay { "on" } else { "off" }
            ),
            Branch::VebLocal => format!("{m}: switched locally to another veb port"),
            Branch::VebNotLocal => {
                format!("{m}: the destination is not a local veb port: to the uplink")
            }
            Branch::VebFlood => {
                format!("{m}: unknown unicast floods to the other veb ports and the uplink, if any")
            }
            Branch::ToUplink => format!("{m}: every frame goes to the uplink"),
            Branch::UplinkGroup => match self.reflected_from {
                Some(s) => format!(
                    "from the uplink, reflected from {} ({}): a group frame goes where that mode's reflection rule says",
                    name(s),
                    mode_name(mode(s))
                ),
                None => "from the uplink: a group frame goes to every downlink its mode lets in".to_string(),
            },
            Branch::UplinkKnown => match self.reflected_from {
                Some(s) => format!(
                    "from the uplink, reflected from {} ({}): delivered by destination unless the modes forbid it",
                    name(s),
                    mode_name(mode(s))
                ),
                None => "from the uplink: delivered by destination".to_string(),
            },
            Branch::UplinkFlood => {
                "from the uplink: unknown unicast floods to the downlinks its mode lets in"
                    .to_string()
            }
        };
        v.push(Step::new(Stage::Normal, rule));
        v
    }
}

/// A frame in one line: MACs, VLAN, EtherType and what the IP header
/// says.
pub fn describe_frame(p: &Parsed<'_>) -> String {
    let mut s = format!("{} > {}", p.src(), p.dst());
    if let Some(vid) = p.vid() {
        let _ = write!(s, " vlan {vid}");
    }
    let et = p.ethertype();
    let name = match et {
        EtherType::IPV4 => "ipv4".to_string(),
        EtherType::IPV6 => "ipv6".to_string(),
        EtherType::ARP => "arp".to_string(),
        vepa_packet::lldp::LLDP_ETHERTYPE => "lldp".to_string(),
        other => format!("0x{other:04x}"),
    };
    let _ = write!(s, " {name}");
    if let Some(l3) = p.l3() {
        let proto = match l3.proto {
            1 => "icmp".to_string(),
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            58 => "icmpv6".to_string(),
            n => format!("proto {n}"),
        };
        let _ = write!(s, " {} > {} {proto}", l3.src, l3.dst);
        if matches!(l3.proto, 6 | 17) {
            let _ = write!(s, " {} > {}", l3.sport, l3.dport);
        }
        if let Some((ty, code)) = l3.icmp {
            let _ = write!(s, " type {ty} code {code}");
        }
        if let Some(ttl) = p.ttl() {
            let _ = write!(s, " ttl {ttl}");
        }
    }
    let _ = write!(s, ", {} bytes", p.len());
    s
}

/// A drop reason as the trace's last word (the name `vepa stats` and
/// the metrics use).
pub fn drop_detail(r: DropReason) -> String {
    use DropReason as D;
    let why = match r {
        D::Malformed => "shorter than its headers say",
        D::InvalidSource => "the source MAC is a group address",
        D::VlanIngress => "the port is not a member of the frame's VLAN",
        D::NoHairpin => {
            "its only way is back out its ingress port, and reflective relay is off there"
        }
        D::PrivateIsolation => "a reflected frame would join two local ports, one of them private",
        D::AlreadyDelivered => "the veb ports had it already on its way out",
        D::NoUplink => "the mode sends it to the uplink, and the switch has none",
        D::NoDestination => "no port in its VLAN is left to send it to",
        D::TableMiss => "no flow matched and the table-miss policy drops",
        D::FlowDrop => "the flows sent it nowhere",
        D::AclDrop => "an access list dropped it",
        D::ReservedGroup => "a link-local group address the switch does not forward",
        D::LinkProtocol => "a link protocol from a port without a link agent",
        D::BpduGuard => "the port's BPDU guard blocks it",
        D::VdpUnassociated => "no VSI the station associated over VDP covers its source",
        D::MirrorPort => "a mirror's monitor port forwards nothing",
        D::BadGroupMessage => {
            "an IGMP or MLD message that does not read (a snooping switch drops it)"
        }
        D::IpvlanMac => "an ipvlan port sent from a MAC other than the switch's shared one",
        D::IpvlanNoOwner => "no port of the ipvlan switch owns its destination address",
        D::IpvlanGroup => {
            "an L3 ipvlan switch carries no broadcast or multicast to or from its ports"
        }
        D::StormBroadcast | D::StormMulticast | D::StormUnknownUnicast => {
            "over the port's storm-control rate"
        }
        _ => "",
    };
    if why.is_empty() {
        r.as_str().to_string()
    } else {
        format!("{}: {why}", r.as_str())
    }
}

/// Which rule of `acl` counted a packet since `before` (its counters
/// then): "rule N `text`" or "default".
pub(crate) fn acl_rule(acl: &crate::filter::Acl, before: &[(u64, u64)]) -> String {
    let after = acl.hits();
    let hit = after
        .iter()
        .zip(before)
        .position(|(a, b)| a.0 > b.0)
        .unwrap_or(after.len().saturating_sub(1));
    match acl.rules.get(hit) {
        Some(r) => format!("list {} rule {} `{r}`", acl.name, hit + 1),
        None => format!(
            "list {} default {}",
            acl.name,
            format!("{:?}", acl.default).to_lowercase()
        ),
    }
}
