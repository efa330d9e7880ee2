//! A kernel switch of ipvlan devices on the uplink's interface: one per
//! port, made inside the port's namespace in the switch's ipvlan mode and
//! flag. Each device carries the uplink's MAC and owns the addresses
//! configured on it; the kernel demultiplexes by those addresses.

use super::macvlan::uplink;
use crate::ports::PortMaker;
use crate::state::HostState;
use anyhow::{Context, Result};
use vepa_api::topology::{IpvlanModeName, ModeName, SwitchSpec};
use vepa_kernel::{host, IpvlanFlag, IpvlanMode, NewLink};

/// The kernel's mode and flag for switch `s`.
pub fn mode_and_flag(s: &SwitchSpec) -> (IpvlanMode, IpvlanFlag) {
    let mode = match s.ipvlan_mode.unwrap_or_default() {
        IpvlanModeName::L2 => IpvlanMode::L2,
        IpvlanModeName::L3 => IpvlanMode::L3,
        IpvlanModeName::L3s => IpvlanMode::L3s,
    };
    let flag = match s.mode {
        ModeName::Vepa => IpvlanFlag::Vepa,
        ModeName::Private => IpvlanFlag::Private,
        _ => IpvlanFlag::Bridge,
    };
    (mode, flag)
}

/// Makes switch `s`: its uplink's device, then an ipvlan device per port
/// (in the port's namespace when it has one, under its final name).
pub(super) fn switch(
    maker: &mut PortMaker,
    state: &mut HostState,
    s: &SwitchSpec,
    make_patches: bool,
) -> Result<()> {
    let lower = uplink(maker, state, s, make_patches)?;
    let (mode, flag) = mode_and_flag(s);
    for p in &s.ports {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        maker.ensure_netns(state, p).with_context(|| at.clone())?;
        let l = lower.clone();
        let name = match &p.netns {
            Some(_) => p.peer_ifname(),
            None => p.host_ifname(),
        }
        .to_string();
        let n = name.clone();
        let add = move |nl: &vepa_kernel::Netlink, into: Option<i32>| {
            let link = NewLink::Ipvlan {
                name: &n,
                lower: &l,
                mode,
                flag,
            };
            match into {
                Some(fd) => nl.add_in(link, fd),
                None => nl.add(link),
            }
        };
        match &p.netns {
            Some(ns) => {
                let fd = vepa_kernel::netns::open(ns).with_context(|| at.clone())?;
                let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
                host::netlink(None, move |nl| add(nl, Some(raw))).with_context(|| at.clone())?;
                state.link_in(ns, &name);
            }
            None => {
                host::netlink(None, move |nl| add(nl, None)).with_context(|| at.clone())?;
                state.link(&name);
            }
        }
        host::configure_with_gateways(
            p.netns.as_deref(),
            &name,
            None,
            &p.address,
            p.mtu,
            &p.gateways(),
        )
        .with_context(|| at.clone())?;
    }
    Ok(())
}
