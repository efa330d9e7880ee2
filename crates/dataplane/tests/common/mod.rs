//! Shared builders for the dataplane specification tests.
#![allow(dead_code)]

use vepa_dataplane::{PortConfig, PortId, PortMode, PortRole, SwitchConfig, VlanMode};
use vepa_packet::MacAddr;

pub fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

pub const BCAST: MacAddr = MacAddr::BROADCAST;

/// An Ethernet frame carrying a few bytes of ARP-typed payload.
pub fn frame(dst: MacAddr, src: MacAddr, tag: Option<u16>) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    if let Some(vid) = tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0u8; 46]);
    f
}

pub fn uplink(name: &str) -> PortConfig {
    PortConfig::new(name, PortRole::Uplink)
}

pub fn down(name: &str, mode: PortMode) -> PortConfig {
    PortConfig::new(name, PortRole::Downlink(mode))
}

pub fn with_relay(mut p: PortConfig) -> PortConfig {
    p.relay = true;
    p
}

pub fn access(mut p: PortConfig, vid: u16) -> PortConfig {
    p.vlan = VlanMode::Access { vid };
    p
}

pub fn trunk(mut p: PortConfig, vids: &[u16], native: Option<u16>) -> PortConfig {
    p.vlan = VlanMode::Trunk {
        allowed: vids.iter().copied().collect(),
        native,
    };
    p
}

/// The host switch of the seed picture: an uplink and three VMs in one mode.
pub fn host(mode: PortMode) -> SwitchConfig {
    SwitchConfig::new(
        "host",
        vec![
            uplink("up"),
            down("vm1", mode),
            down("vm2", mode),
            down("vm3", mode),
        ],
    )
}

pub fn port_name(cfg: &SwitchConfig, id: PortId) -> &str {
    &cfg.ports[id.index()].name
}
