//! A kernel switch of macvlan and macvtap devices on the uplink's
//! interface: one device per port, in the port's mode (a VM's port is a
//! macvtap, a container's a macvlan made inside its namespace).

use crate::ports::{make_veth, PortMaker};
use crate::state::{temp_ifname, HostState};
use anyhow::{bail, Context, Result};
use vepa_api::topology::kernel::kernel_mode;
use vepa_api::topology::{ModeName, PortKind, SwitchSpec};
use vepa_kernel::{host, MacvlanMode, NewLink};

fn macvlan_mode(m: ModeName) -> MacvlanMode {
    match kernel_mode(m) {
        "vepa" => MacvlanMode::Vepa,
        "private" => MacvlanMode::Private,
        "passthru" => MacvlanMode::Passthru,
        "source" => MacvlanMode::Source,
        _ => MacvlanMode::Bridge,
    }
}

/// Makes the device switch `s`'s devices hang on (a patch end or veth,
/// or an interface brought up), and returns its name.
pub(super) fn uplink(
    maker: &mut PortMaker,
    state: &mut HostState,
    s: &SwitchSpec,
    make_patches: bool,
) -> Result<String> {
    let Some(up) = &s.uplink else {
        bail!(
            "switch '{}': uplink: a kernel switch of macvlan or ipvlan devices needs one",
            s.name
        );
    };
    let at_up = format!("switch '{}', port '{}'", s.name, up.name);
    match up.kind {
        PortKind::Patch if make_patches => {
            maker.ensure_patch(state, s, up).context(at_up.clone())?
        }
        PortKind::Patch => {}
        PortKind::Veth => {
            maker.ensure_netns(state, up).context(at_up.clone())?;
            make_veth(state, up, &temp_ifname(), false).context(at_up.clone())?;
        }
        _ => host::configure(None, up.host_ifname(), None, &[], None).context(at_up.clone())?,
    }
    Ok(up.host_ifname().to_string())
}

/// Makes switch `s`: its uplink's device (a patch end or veth it hangs
/// on, or an interface brought up), then a macvlan or macvtap per port.
pub(super) fn switch(
    maker: &mut PortMaker,
    state: &mut HostState,
    s: &SwitchSpec,
    make_patches: bool,
) -> Result<()> {
    let lower = uplink(maker, state, s, make_patches)?;
    for p in &s.ports {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        maker.ensure_netns(state, p).with_context(|| at.clone())?;
        let mode = macvlan_mode(p.mode.unwrap_or(s.mode));
        let mac = p.mac.map(|m| m.0);
        if p.kind == PortKind::Tap {
            // The macvtap's MAC is its guest's: the same every time the
            // switch is made, so a re-made device keeps neighbours' caches right.
            let mac = Some(p.guest_mac(&s.name).0);
            let (name, l) = (p.host_ifname().to_string(), lower.clone());
            host::netlink(None, move |nl| {
                nl.add(NewLink::Macvtap {
                    name: &name,
                    lower: &l,
                    mode,
                })
            })
            .with_context(|| at.clone())?;
            state.link(p.host_ifname());
            host::configure(None, p.host_ifname(), mac, &p.address, p.mtu)
                .with_context(|| at.clone())?;
            continue;
        }
        let sources: Vec<[u8; 6]> = p.source_macs.iter().map(|m| m.0).collect();
        let l = lower.clone();
        match &p.netns {
            // Made right inside the namespace under its final name (eth0
            // may well exist here), so no temporary name is ever left.
            Some(ns) => {
                let fd = vepa_kernel::netns::open(ns).with_context(|| at.clone())?;
                let name = p.peer_ifname().to_string();
                host::netlink(None, move |nl| {
                    nl.add_in(
                        NewLink::Macvlan {
                            name: &name,
                            lower: &l,
                            mode,
                            sources: &sources,
                        },
                        std::os::fd::AsRawFd::as_raw_fd(&fd),
                    )
                })
                .with_context(|| at.clone())?;
                state.link_in(ns, p.peer_ifname());
                host::configure_with_gateways(
                    Some(ns),
                    p.peer_ifname(),
                    mac,
                    &p.address,
                    p.mtu,
                    &p.gateways(),
                )
                .with_context(|| at.clone())?;
            }
            None => {
                let name = p.host_ifname().to_string();
                host::netlink(None, move |nl| {
                    nl.add(NewLink::Macvlan {
                        name: &name,
                        lower: &l,
                        mode,
                        sources: &sources,
                    })
                })
                .with_context(|| at.clone())?;
                state.link(p.host_ifname());
                host::configure(None, p.host_ifname(), mac, &p.address, p.mtu)
                    .with_context(|| at.clone())?;
            }
        }
    }
    Ok(())
}
