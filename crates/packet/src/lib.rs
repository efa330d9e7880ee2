//! Frame views for vepa.
//!
//! The dataplane reads each frame's headers once per switch or router
//! (its `Parsed` view is built on these); the views borrow the receive
//! buffer instead of copying it (the smoltcp `wire` style: a checked
//! constructor validates lengths once, accessors then index without checks
//! that could fail). Here: Ethernet, 802.1Q tags, ARP, in [`ip`] the IPv4/IPv6/ICMP views
//! and builders the router and filters use, and in [`lldp`] the LLDP and
//! 802.1Qbg EVB TLVs a switch exchanges with the adjacent bridge.

#![forbid(unsafe_code)]

mod arp;
pub mod checksum;
pub mod ecp;
mod ethernet;
pub mod gso;
mod ifname;
pub mod igmp;
pub mod ip;
pub mod ipfix;
pub mod lacp;
pub mod lldp;
mod mac;
pub mod relay_probe;
pub mod virtio;

pub use arp::{ArpOperation, ArpPacket};
pub use ethernet::{
    retag, write_retagged, EtherType, EthernetFrame, VlanTag, ETH_HEADER_LEN, VLAN_TAG_LEN,
};
pub use ifname::{valid_ifname, IFNAMSIZ};
pub use mac::MacAddr;
pub use virtio::VirtioNetHdr;

/// Bytes written in hex (spaces and line breaks ignored), for tests that
/// hold captured frames.
#[cfg(test)]
pub(crate) fn test_hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// Why a buffer could not be viewed as the requested packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("frame of {len} bytes is shorter than the {need} bytes its headers need")]
    Truncated { len: usize, need: usize },
    #[error("unsupported value {value:#06x} in field {field}")]
    Unsupported { field: &'static str, value: u16 },
}
