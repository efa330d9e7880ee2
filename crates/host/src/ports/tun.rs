//! `tun` router ports: a TUN device vepa makes and holds (IP packets, no
//! Ethernet), moved into its namespace and addressed there with the far
//! end's addresses, its default routes through the router's port. The
//! device lives as long as the port is open, as a container's tap does.
//! On a switch a tun port is refused (the topology check says why); its
//! driver only repeats that.

use super::driver::{PortDriver, PortOptions};
use crate::state::HostState;
use anyhow::{bail, Context, Result};
use std::net::IpAddr;
use std::sync::Arc;
use vepa_api::topology::router::{derived_mac, tun_peer_mac, RouterPortSpec, RouterSpec};
use vepa_api::topology::{PortSpec, SwitchSpec};
use vepa_io::{Port, TunPort};
use vepa_kernel::host;

pub struct TunOnSwitch;

impl PortDriver for TunOnSwitch {
    fn validate(&self, at: &str, _p: &PortSpec) -> Result<()> {
        bail!("{at}: type: a tun port belongs on a router ([[router.port]] type = \"tun\")")
    }

    fn open(&self, _opts: PortOptions, s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        self.validate(&format!("switch '{}', port '{}'", s.name, p.name), p)?;
        unreachable!("validate refused it")
    }
}

/// Makes router `r`'s TUN port `p` and opens it: the device, its
/// namespace (made if missing, recorded in `state`), the far end's
/// addresses and default routes there.
pub fn open_tun(
    state: &mut HostState,
    r: &RouterSpec,
    p: &RouterPortSpec,
) -> Result<Arc<dyn Port>> {
    let at = format!("router '{}', port '{}'", r.name, p.name);
    open_inner(state, r, p).with_context(|| at)
}

fn open_inner(state: &mut HostState, r: &RouterSpec, p: &RouterPortSpec) -> Result<Arc<dyn Port>> {
    let ifname = p.tun_ifname();
    if let Some(ns) = &p.netns {
        if !host::netns_exists(ns) {
            host::add_netns(ns).context("netns")?;
            state.netns(ns);
        }
    }
    let router_mac = p.mac.unwrap_or_else(|| derived_mac(&r.name, &p.name));
    let tun = TunPort::create(
        ifname,
        p.offload.unwrap_or(true),
        router_mac,
        tun_peer_mac(&r.name, &p.name),
    )?;
    if let Some(ns) = &p.netns {
        host::move_to_netns(ifname, ns)?;
    }
    // The far end's default routes: through this port, one per family it
    // has an address in.
    let router_ips: Vec<IpAddr> = p
        .address
        .iter()
        .filter_map(|a| a.split('/').next()?.parse().ok())
        .collect();
    let gateways: Vec<IpAddr> = [true, false]
        .into_iter()
        .filter_map(|v4| {
            let has_peer = p.peer_address.iter().any(|a| {
                a.split('/')
                    .next()
                    .and_then(|x| x.parse::<IpAddr>().ok())
                    .is_some_and(|x| x.is_ipv4() == v4)
            });
            router_ips
                .iter()
                .find(|ip| ip.is_ipv4() == v4)
                .filter(|_| has_peer && p.netns.is_some())
                .copied()
        })
        .collect();
    host::configure_with_gateways(
        p.netns.as_deref(),
        ifname,
        None,
        &p.peer_address,
        p.mtu,
        &gateways,
    )?;
    Ok(Arc::new(tun))
}

/// Whether `p`'s device name is taken: by an interface in vepa's
/// namespace (where the device is made) or in `netns` (where it goes).
pub fn tun_name_taken(p: &RouterPortSpec) -> bool {
    let ifname = p.tun_ifname();
    host::link_exists(ifname)
        || p.netns
            .as_deref()
            .is_some_and(|ns| host::netns_exists(ns) && host::link_exists_in(ns, ifname))
}
