//! vepa's ports and the loop that feeds them to the dataplane.
//!
//! A [`Port`] moves whole Ethernet frames between a device and the switch:
//! [`TapPort`] owns a TAP device's file descriptor, [`PacketPort`] reads and
//! writes an existing interface (a NIC, a veth end) through AF_PACKET
//! ([`XdpPort`]: through AF_XDP), a
//! [`WirePort`] is one end of a patch wire the datapath crosses in memory. The
//! [`Forwarder`] polls every port, runs each frame through its switch and
//! writes the egress copies. This is the plain, correct loop; the fast path
//! (vnet headers, GSO, rings, workers) replaces it behind the same trait.

#![deny(clippy::undocumented_unsafe_blocks)]

mod batch;
pub mod bond;
mod capture;
mod forwarder;
pub mod ipfix;
pub mod link_in;
pub mod loopback;
pub mod packet_in;
mod packet_ring;
mod packet_socket;
mod peer;
mod port;
mod readiness;
mod sys;
mod tap;
mod tun;
mod vhost_user;
mod vxlan;
mod wire;
mod xdp;

pub use batch::{RxBatch, RxSlot, MAX_BATCH};
pub use bond::{BondPort, BondSetup, BondStatus, LocalMacs, MemberStatus};
pub use capture::{
    pcap_header, pcap_record, pcapng_interface, pcapng_packet, pcapng_section, CapturePoint,
    CapturedFrame, Direction,
};
pub use forwarder::{Attachment, Forwarder, LiveCounters, RouterAttachment, WorkerLoad, Workers};
pub use link_in::{LinkFrame, LinkInbox, LinkSink};
pub use packet_in::{PacketIn, PacketInSink};
pub use packet_ring::RingPort;
pub use packet_socket::{PacketPort, KERNEL_DROPS};
pub use peer::PeerCred;
pub use port::Port;
pub use tap::TapPort;
pub use tun::TunPort;
pub use vepa_packet::valid_ifname;
#[doc(hidden)]
pub use vhost_user::fuzz_guest_tx;
pub use vhost_user::VhostUserPort;
pub use vxlan::{Fabric, TunnelState, VxlanConfig, VxlanCounters, VxlanPort, VXLAN_PORT};
pub use wire::{wire, WirePort};
pub use xdp::XdpPort;

/// The largest frame a port reads: a 64 KiB GSO super-frame with its headers.
pub const MAX_FRAME: usize = 65536 + 256;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("interface '{0}' does not exist")]
    NoSuchInterface(String),
    #[error("interface name '{0}' is not valid (1 to 15 characters, no '/', ':' or whitespace)")]
    BadInterfaceName(String),
    #[error("{what} '{name}': {source}")]
    Os {
        what: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl IoError {
    pub(crate) fn os(what: &'static str, name: &str) -> IoError {
        IoError::Os {
            what,
            name: name.to_string(),
            source: std::io::Error::last_os_error(),
        }
    }
}
