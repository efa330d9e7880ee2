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
///
/// A persistent device is marked with `mark` ([`persist_mark`] for
/// `vepa run`, the daemon's own with its instance) and adopted by it.
pub fn open_tun(
    state: &mut HostState,
    r: &RouterSpec,
    p: &RouterPortSpec,
    mark: &str,
) -> Result<Arc<dyn Port>> {
    let at = format!("router '{}', port '{}'", r.name, p.name);
    open_inner(state, r, p, mark).with_context(|| at)
}

fn open_inner(
    state: &mut HostState,
    r: &RouterSpec,
    p: &RouterPortSpec,
    mark: &str,
) -> Result<Arc<dyn Port>> {
    let ifname = p.tun_ifname();
    if let Some(ns) = &p.netns {
        if !host::netns_exists(ns) {
            host::add_netns(ns).context("netns")?;
            state.netns(ns);
        }
    }
    let router_mac = p.mac.unwrap_or_else(|| derived_mac(&r.name, &p.name));
    if p.persist {
        return open_persistent(state, r, p, router_mac, mark);
    }
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

/// The alias `vepa run` marks a persistent TUN device of router `r`'s
/// port `p` with: how a later run knows the device (and the VPN holding
/// it) is its own. The daemon's marks carry its instance instead.
pub fn persist_mark(r: &str, p: &RouterPortSpec) -> String {
    format!("vepa run tun {r}:{}", p.name)
}

/// Whether `ifname` in `netns` (or vepa's namespace) is a TUN device
/// marked `mark`; None when there is no such interface.
fn ours(netns: Option<&str>, ifname: &str, mark: &str) -> Option<bool> {
    let n = ifname.to_string();
    let link = host::netlink(netns, move |nl| nl.link(&n)).ok().flatten()?;
    Some(link.kind.as_deref() == Some("tun") && link.alias.as_deref() == Some(mark))
}

/// A persistent device: made in `netns` (or adopted, when one of ours
/// from an earlier run is there, with whatever VPN holds it), up, kept
/// from the namespace's stack, and read and written through a packet
/// socket on its kernel side.
fn open_persistent(
    state: &mut HostState,
    r: &RouterSpec,
    p: &RouterPortSpec,
    router_mac: vepa_packet::MacAddr,
    mark: &str,
) -> Result<Arc<dyn Port>> {
    let ifname = p.tun_ifname().to_string();
    let ns = p.netns.as_deref();
    let exists = ours(ns, &ifname, mark);
    if exists == Some(false) {
        bail!(
            "{}: interface '{ifname}' exists already and is not this port's device: set a free ifname",
            if p.ifname.is_some() { "ifname" } else { "name" }
        );
    }
    let record = |state: &mut HostState| match ns {
        Some(ns) => state.link_in(ns, &ifname),
        None => state.link(&ifname),
    };
    if exists.is_none() {
        host::create_persistent_tun(ns, &ifname, p.owner)
            .context("make the persistent tun device")?;
        // Made here: a failure below takes it away again.
        record(state);
        host::set_alias(ns, &ifname, mark)?;
    }
    // Isolated before it comes up, so the namespace never sees a packet.
    host::isolate(ns, &ifname).context("persist")?;
    host::configure(ns, &ifname, None, &[], p.mtu)?;
    let peer = tun_peer_mac(&r.name, &p.name);
    let n = ifname.clone();
    let port = vepa_kernel::netns::run_in(ns, move || {
        TunPort::attach(&n, router_mac, peer)
            .map_err(|e| vepa_kernel::KernelError::Invalid(e.to_string()))
    })?;
    // Adopted: recorded only now, so that a failed open never removes a
    // device a VPN holds. `vepa run` removes it when it ends; the daemon
    // keeps its state, and the device, across restarts.
    if exists.is_some() {
        record(state);
    }
    Ok(Arc::new(port))
}

/// Removes port `p`'s persistent device, when it is the one marked `mark`
/// (closing its socket leaves it, and the VPN holding it, in place).
pub fn remove_persistent_tun(p: &RouterPortSpec, mark: &str) {
    if p.persist && ours(p.netns.as_deref(), p.tun_ifname(), mark) == Some(true) {
        if let Err(e) = host::del_link_in(p.netns.as_deref(), p.tun_ifname()) {
            tracing::warn!(device = p.tun_ifname(), error = %e, "cannot remove a persistent tun device");
        }
    }
}

/// Whether `p`'s device name is taken: by an interface in vepa's
/// namespace (where the device is made) or in `netns` (where it goes).
/// A persistent device of this port's, from an earlier run, is not in
/// the way: it is adopted.
pub fn tun_name_taken(p: &RouterPortSpec, mark: &str) -> bool {
    let ifname = p.tun_ifname();
    if p.persist {
        return match &p.netns {
            Some(ns) if !host::netns_exists(ns) => false,
            ns => ours(ns.as_deref(), ifname, mark) == Some(false),
        };
    }
    host::link_exists(ifname)
        || p.netns
            .as_deref()
            .is_some_and(|ns| host::netns_exists(ns) && host::link_exists_in(ns, ifname))
}
