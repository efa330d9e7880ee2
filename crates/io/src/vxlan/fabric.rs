//! What the control plane tells a tunnel port about the rest of a fabric
//! (the hosts that carry the same VNI, from etcd): their VTEPs, the MACs
//! of the VMs behind each, and whether frames from them may come in at all.
//! The port reads it on every frame through an `ArcSwap`; the control
//! plane swaps in a whole new one when the store changes.
//!
//! ARP goes through here too: the port notes the addresses its own VMs
//! announce in the ARP they send (for the control plane to publish), and,
//! with ARP suppression, answers a request for another host's published
//! address itself instead of flooding it to every host.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use vepa_packet::{ArpOperation, ArpPacket, MacAddr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fabric {
    /// The VTEPs of the other hosts with this VNI: flooded to, heard from.
    pub members: Vec<IpAddr>,
    /// Per VNI of the port, the members carrying it: where its floods go
    /// (a VNI missing here floods to every member).
    pub flood: HashMap<u32, Vec<IpAddr>>,
    /// Their VMs' MACs and the VTEP each is behind: unicast goes straight
    /// there, and what the port learns never moves them.
    pub macs: HashMap<MacAddr, IpAddr>,
    /// Their VMs' IPv4 addresses (each MAC one of `macs`): what ARP
    /// suppression answers for.
    pub ips: HashMap<Ipv4Addr, MacAddr>,
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

/// The sender of an ARP packet sent by a VM behind this port (its IPv4
/// address and MAC, when the Ethernet source agrees and it has one), and
/// the address asked for when it is a broadcast request.
pub(super) fn arp_of(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr, Option<Ipv4Addr>)> {
    if frame.get(12..14)? != [0x08, 0x06] {
        return None;
    }
    let a = ArpPacket::new_checked(frame.get(14..)?).ok()?;
    let (ip, mac) = (a.sender_ip(), a.sender_mac());
    if mac != MacAddr::from_slice(&frame[6..12]) || ip.is_unspecified() || mac.is_multicast() {
        return None;
    }
    let asks =
        (a.operation() == ArpOperation::Request && frame[..6] == [0xff; 6]).then(|| a.target_ip());
    Some((ip, mac, asks))
}

/// The reply a host with `mac` at `ip` would send to `to_mac` at `to_ip`.
pub(super) fn arp_reply(ip: Ipv4Addr, mac: MacAddr, to_ip: Ipv4Addr, to_mac: MacAddr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&to_mac.0);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&vepa_packet::ip::arp(2, mac, ip, to_mac, to_ip));
    f.resize(60, 0);
    f
}
