//! `veth`: vepa makes a veth pair, switches one end and moves the other
//! into the port's namespace (renamed, addressed, with its gateways).

use super::driver::{
    must_be_free, packet_port, prepare_host_end, PortDriver, PortMaker, PortOptions,
};
use crate::state::{temp_ifname, HostState};
use anyhow::{bail, Result};
use std::sync::Arc;
use vepa_api::topology::{shares_mac, PortSpec, SwitchSpec};
use vepa_io::Port;
use vepa_kernel::host;

pub struct Veth;

impl PortDriver for Veth {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        if p.netns.is_none() && host::link_exists(p.peer_ifname()) {
            bail!(
                "{at}: peer_name: interface '{}' already exists here; without netns the far end stays in vepa's namespace, so give it a free name with peer_name (or set netns)",
                p.peer_ifname()
            );
        }
        must_be_free(at, p)
    }

    fn create(
        &self,
        _maker: &mut PortMaker<'_>,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<()> {
        make_veth(state, p, &temp_ifname(), shares_mac(s, p))
    }

    fn open(&self, opts: PortOptions, _s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        packet_port(p.host_ifname(), p.offload(), opts)
    }

    fn adopt(&self, p: &PortSpec, opts: PortOptions) -> Option<Result<Arc<dyn Port>>> {
        super::driver::adopt_packet_port(p, p.offload(), opts)
    }

    fn marked(&self, _p: &PortSpec, _made: bool) -> bool {
        true
    }
}

/// Makes `p`'s veth pair (the far end under `temp` first when it goes
/// into a namespace) and configures both ends.
/// `shared_mac`: the far end carries a MAC other devices carry too (an
/// ipvlan switch's port), so its IPv6 interface identifiers are random.
pub fn make_veth(state: &mut HostState, p: &PortSpec, temp: &str, shared_mac: bool) -> Result<()> {
    let ifname = p.host_ifname();
    let peer = p.peer_ifname();
    // The far end is created under a temporary name: its final name (eth0)
    // may well exist in vepa's own namespace.
    let first_name = if p.netns.is_some() { temp } else { peer };
    host::add_veth(ifname, first_name)?;
    state.link(ifname);
    // Without offloads, what the far end sends must be complete (checksums
    // filled, wire-sized): its stack does that work instead of us.
    if !p.offload() {
        host::disable_tx_offloads(first_name)?;
    }
    prepare_host_end(ifname, p.mtu)?;
    let mac = p.mac.map(|m| m.0);
    match &p.netns {
        Some(ns) => {
            host::move_to_netns(first_name, ns)?;
            host::rename(Some(ns), first_name, peer)?;
            if shared_mac {
                host::random_interface_ids(Some(ns), peer)?;
            }
            host::configure_with_gateways(Some(ns), peer, mac, &p.address, p.mtu, &p.gateways())?;
        }
        None => {
            if shared_mac {
                host::random_interface_ids(None, peer)?;
            }
            host::configure(None, peer, mac, &p.address, p.mtu)?
        }
    }
    Ok(())
}
