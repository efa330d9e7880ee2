//! What the control plane tells a tunnel port about the rest of a fabric
//! (the hosts that carry the same VNI, from etcd): their VTEPs, the MACs
//! of the VMs behind each, and whether frames from them may come in at all.
//! The port reads it on every frame through an `ArcSwap`; the control
//! plane swaps in a whole new one when the store changes.

use std::collections::HashMap;
use std::net::IpAddr;
use vepa_packet::MacAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fabric {
    /// The VTEPs of the other hosts with this VNI: flooded to, heard from.
    pub members: Vec<IpAddr>,
    /// Their VMs' MACs and the VTEP each is behind: unicast goes straight
    /// there, and what the port learns never moves them.
    pub macs: HashMap<MacAddr, IpAddr>,
    /// Refuse every frame from a member: this port is the uplink of a
    /// `private` switch spanning hosts, so whatever a member sends comes
    /// from one of its VMs, and VMs of a private switch never meet.
    pub isolate: bool,
}

impl Fabric {
    pub fn is_member(&self, ip: &IpAddr) -> bool {
        self.members.contains(ip)
    }
}
