//! Per-port traffic counters and the reasons a frame can be dropped.

/// Why the switch did not forward a frame. Each is counted per ingress port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Shorter than its headers claim, or otherwise unparseable.
    Malformed,
    /// Source MAC is a group address, which no station may send from.
    InvalidSource,
    /// The ingress port is not a member of the frame's VLAN (or refuses its tagging).
    VlanIngress,
    /// The only destination is the ingress port, and reflective relay is off there.
    NoHairpin,
    /// A frame reflected by the relay would connect two local ports where one is `private`.
    PrivateIsolation,
    /// A reflected unicast frame between two `veb` ports, which were already switched locally.
    AlreadyDelivered,
    /// The mode sends this frame to the uplink, and the switch has none.
    NoUplink,
    /// No port in the frame's VLAN is left to send it to.
    NoDestination,
    /// No flow matched, and the table-miss policy drops (a controller is
    /// in charge, or it is gone and the fail mode is `secure`).
    TableMiss,
    /// A flow matched and its actions sent the frame nowhere.
    FlowDrop,
    /// Over a meter's rate: its drop band dropped it.
    MeterDrop,
    /// A port's access list dropped (or rejected) it.
    AclDrop,
    /// A stateful access list allowed a new connection, but the
    /// connection table was full.
    ConntrackFull,
    /// Sent from a MAC the port is not bound to.
    SpoofedMac,
    /// Sent from an IP address the port is not bound to.
    SpoofedIp,
    /// An ARP packet or neighbor advertisement claiming an address (or
    /// MAC) the port is not bound to.
    SpoofedArp,
    /// A router advertisement or redirect from a VM port.
    RogueRouterAdvert,
    /// A DHCP server reply from a VM port.
    RogueDhcp,
    /// Neither ARP nor IP, from a port with a guard.
    ForbiddenEthertype,
    /// A broadcast over the port's storm-control rate.
    StormBroadcast,
    /// A multicast over the port's storm-control rate.
    StormMulticast,
    /// An unknown unicast that would have flooded, over the port's rate.
    StormUnknownUnicast,
    /// To a reserved link address (01:80:C2:00:00:0X: STP, LACP, 802.1X,
    /// LLDP, ...) that the switch's `group_fwd_mask` does not forward.
    ReservedGroup,
    /// A GSO super-frame whose segment size is under the floor, or which
    /// would be cut into too many segments.
    BadGso,
    /// From a port its BPDU guard blocked (it sent a spanning-tree BPDU:
    /// something behind it bridges, and could close a loop).
    BpduGuard,
    /// LLDP, or ECP to a link address, from a port without a link agent
    /// (a VM's): these protocols are for the link, never forwarded.
    LinkProtocol,
    /// From a relay port with `vdp_enforce`, a source (MAC, VLAN) no VSI
    /// the station associated over 802.1Qbg's VDP covers.
    VdpUnassociated,
    /// Sent by a mirror's monitor port, which is the mirror's alone.
    MirrorPort,
    /// An IGMP or MLD message a snooping switch could not read (cut short,
    /// a bad checksum, a group that is not multicast).
    BadGroupMessage,
    /// From an ipvlan port, sent from a MAC other than the switch's one
    /// shared MAC (which is all the wire may see).
    IpvlanMac,
    /// To the shared MAC of an ipvlan switch, for an address none of its
    /// ports owns.
    IpvlanNoOwner,
    /// What an L3 ipvlan switch carries to or from none of its ports: a
    /// broadcast or multicast, ARP other than the requests it handles,
    /// neither IP nor ARP.
    IpvlanGroup,
}

impl DropReason {
    pub const COUNT: usize = 32;
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Malformed,
        DropReason::InvalidSource,
        DropReason::VlanIngress,
        DropReason::NoHairpin,
        DropReason::PrivateIsolation,
        DropReason::AlreadyDelivered,
        DropReason::NoUplink,
        DropReason::NoDestination,
        DropReason::TableMiss,
        DropReason::FlowDrop,
        DropReason::MeterDrop,
        DropReason::AclDrop,
        DropReason::ConntrackFull,
        DropReason::SpoofedMac,
        DropReason::SpoofedIp,
        DropReason::SpoofedArp,
        DropReason::RogueRouterAdvert,
        DropReason::RogueDhcp,
        DropReason::ForbiddenEthertype,
        DropReason::StormBroadcast,
        DropReason::StormMulticast,
        DropReason::StormUnknownUnicast,
        DropReason::ReservedGroup,
        DropReason::BadGso,
        DropReason::BpduGuard,
        DropReason::LinkProtocol,
        DropReason::VdpUnassociated,
        DropReason::MirrorPort,
        DropReason::BadGroupMessage,
        DropReason::IpvlanMac,
        DropReason::IpvlanNoOwner,
        DropReason::IpvlanGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::InvalidSource => "invalid_source",
            DropReason::VlanIngress => "vlan_ingress",
            DropReason::NoHairpin => "no_hairpin",
            DropReason::PrivateIsolation => "private_isolation",
            DropReason::AlreadyDelivered => "already_delivered",
            DropReason::NoUplink => "no_uplink",
            DropReason::NoDestination => "no_destination",
            DropReason::TableMiss => "table_miss",
            DropReason::FlowDrop => "flow_drop",
            DropReason::MeterDrop => "meter_drop",
            DropReason::AclDrop => "acl_drop",
            DropReason::ConntrackFull => "conntrack_full",
            DropReason::SpoofedMac => "spoofed_mac",
            DropReason::SpoofedIp => "spoofed_ip",
            DropReason::SpoofedArp => "spoofed_arp",
            DropReason::RogueRouterAdvert => "rogue_ra",
            DropReason::RogueDhcp => "rogue_dhcp",
            DropReason::ForbiddenEthertype => "forbidden_ethertype",
            DropReason::StormBroadcast => "storm_broadcast",
            DropReason::StormMulticast => "storm_multicast",
            DropReason::StormUnknownUnicast => "storm_unknown_unicast",
            DropReason::ReservedGroup => "reserved_group",
            DropReason::BadGso => "bad_gso",
            DropReason::BpduGuard => "bpdu_guard",
            DropReason::LinkProtocol => "link_protocol",
            DropReason::VdpUnassociated => "vdp_unassociated",
            DropReason::MirrorPort => "mirror_port",
            DropReason::BadGroupMessage => "bad_group_message",
            DropReason::IpvlanMac => "ipvlan_mac",
            DropReason::IpvlanNoOwner => "ipvlan_no_owner",
            DropReason::IpvlanGroup => "ipvlan_group",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Frames the switch sent to this port that the port's device refused.
    pub tx_errors: u64,
    /// Frames forwarded whose source was not learned because the port
    /// (or the switch's table) was at its MAC limit.
    pub mac_limit_unlearned: u64,
    drops: [u64; DropReason::COUNT],
}

impl PortCounters {
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Frames storm control dropped, whatever their kind.
    pub fn storm_drops(&self) -> u64 {
        self.drop_count(DropReason::StormBroadcast)
            + self.drop_count(DropReason::StormMulticast)
            + self.drop_count(DropReason::StormUnknownUnicast)
    }

    pub fn drops_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The reasons with a non-zero count, in declaration order.
    pub fn drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.drops[r as usize]))
            .filter(|(_, n)| *n > 0)
    }

    /// Adds another set of counters (another thread's) to these.
    pub fn add(&mut self, o: &PortCounters) {
        self.rx_frames += o.rx_frames;
        self.rx_bytes += o.rx_bytes;
        self.tx_frames += o.tx_frames;
        self.tx_bytes += o.tx_bytes;
        self.tx_errors += o.tx_errors;
        self.mac_limit_unlearned += o.mac_limit_unlearned;
        for (d, x) in self.drops.iter_mut().zip(o.drops) {
            *d += x;
        }
    }

    /// Counts a drop; the I/O side counts the ones it decides (a frame
    /// refused before the switch).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }
}
