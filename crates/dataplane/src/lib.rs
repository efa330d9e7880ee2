//! The pure vepa forwarding pipeline.
//!
//! This crate decides where a frame goes; it never touches a socket. A
//! [`Switch`] takes `(ingress port, frame bytes, time)` and fills a reusable
//! list of [`Egress`] actions, so every rule of the forwarding contract
//! (docs/design.md §2: the Linux macvlan port modes, reflective relay, learning,
//! 802.1Q) is testable and benchmarkable without root. The I/O side
//! (`vepa-io`) owns the sockets and calls in here once per frame.

#![forbid(unsafe_code)]

pub mod bond;
mod cache;
mod config;
pub mod conntrack;
mod counters;
pub mod datapath;
mod egress;
pub mod export;
mod fdb;
pub mod filter;
pub mod flow;
pub mod ipvlan;
mod key;
pub mod l3;
pub mod lacp;
pub mod mdb;
pub mod mirror;
pub mod parsed;
pub mod pcap_filter;
pub mod router;
pub mod storm;
mod switch;
pub mod trace;
mod vlan;

pub use cache::FlowCache;
pub use config::{
    ConfigError, IpfixConfig, LinkFacts, MirrorConfig, MirrorOutput, PortConfig, PortMode,
    PortRole, StaticFdbEntry, SwitchConfig,
};
pub use counters::{DropReason, PortCounters};
pub use datapath::{Datapath, Lane};
pub use egress::Egress;
pub use fdb::{Fdb, FdbEntry, LearnOutcome, TABLE_LIMIT};
pub use parsed::Parsed;
pub use switch::{Forwarding, Switch, SwitchCore};
pub use vlan::{egress_tag, ingress_vid, VidSet, VlanMode};

/// Index of a port within its switch (the order of [`SwitchConfig::ports`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

impl PortId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Default FDB ageing time, as the Linux bridge and IEEE 802.1D use.
pub const DEFAULT_AGEING_MS: u64 = 300_000;
/// Default number of MACs one downlink (VM, container) port may have
/// learned at once. Uplinks and tunnels have none by default
/// ([`NO_MAC_LIMIT`]): the stations behind them are many and not one
/// tenant's; the switch's table limit ([`TABLE_LIMIT`]) still holds.
pub const DEFAULT_MAC_LIMIT: u32 = 1024;
/// A port limit that never binds.
pub const NO_MAC_LIMIT: u32 = u32::MAX;
