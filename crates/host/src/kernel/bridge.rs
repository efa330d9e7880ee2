//! A kernel switch that is a Linux bridge named after the switch, its
//! ports enslaved with hairpin on where the port relays.

use crate::ports::{make_veth, PortMaker};
use crate::state::{temp_ifname, HostState};
use anyhow::{bail, Context, Result};
use vepa_api::topology::{PortKind, SwitchSpec};
use vepa_kernel::{host, BridgePortFlags, NewLink};

/// The bridge device of a kernel bridge switch: the switch's name.
pub fn bridge_name(s: &SwitchSpec) -> Result<&str> {
    if !vepa_packet::valid_ifname(&s.name) {
        bail!(
            "switch '{}': name: a kernel bridge switch is a device named after the switch; expected 1 to 15 characters without '/', ':' or spaces",
            s.name
        );
    }
    Ok(&s.name)
}

/// Makes switch `s`: the bridge, then each port's device (a patch end or
/// a veth) enslaved to it.
pub(super) fn switch(
    maker: &mut PortMaker,
    state: &mut HostState,
    s: &SwitchSpec,
    make_patches: bool,
) -> Result<()> {
    let br = bridge_name(s)?.to_string();
    if host::link_exists(&br) {
        bail!("switch '{}': name: interface '{br}' already exists", s.name);
    }
    let b = br.clone();
    host::netlink(None, move |nl| nl.add(NewLink::Bridge { name: &b }))
        .with_context(|| format!("switch '{}'", s.name))?;
    state.link(&br);
    host::configure(None, &br, None, &[], None)?;
    for p in &s.ports {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        match p.kind {
            PortKind::Patch if make_patches => maker
                .ensure_patch(state, s, p)
                .with_context(|| at.clone())?,
            PortKind::Veth => {
                maker.ensure_netns(state, p).with_context(|| at.clone())?;
                make_veth(state, p, &temp_ifname(), false).with_context(|| at.clone())?;
            }
            _ => {}
        }
        let (name, b, relay) = (p.host_ifname().to_string(), br.clone(), p.relay.any());
        host::netlink(None, move |nl| {
            nl.set_master(&name, &b)?;
            nl.set_bridge_port(
                &name,
                BridgePortFlags {
                    hairpin: Some(relay),
                    ..Default::default()
                },
            )?;
            nl.set_up(&name, true)
        })
        .with_context(|| at.clone())?;
    }
    Ok(())
}
