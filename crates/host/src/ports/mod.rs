//! Making and opening one port of a topology on the host: its device
//! (veth, tap, a VM's tap, a patch wire), its namespace and addresses,
//! and the vepa port that switches it.
//!
//! What differs between the kinds of port is one [`PortDriver`] each, in
//! a file of its own: how a port is checked against the host before
//! anything is made ([`PortDriver::validate`]), how its devices are made
//! ([`create`](PortDriver::create)) and opened ([`open`](PortDriver::open)),
//! taken over after a restart ([`adopt`](PortDriver::adopt)) and removed
//! ([`remove`](PortDriver::remove)). [`driver`] is the one place that
//! picks a driver by the port's kind; [`PortMaker`] and the daemon's
//! devices (`devices.rs`) go through it.
//!
//! Everything that can be checked before the first device is made is
//! checked in [`preflight_port`] (interfaces that must exist do, those
//! vepa will create do not).

mod bond;
mod driver;
mod netdev;
mod patch;
mod tap;
mod tun;
mod veth;
mod vhost_user;
mod vm_tap;
mod vxlan;

use crate::state::HostState;
use anyhow::{Context, Result};
use std::sync::Arc;
use vepa_api::topology::{PortKind, PortSpec, SwitchSpec};
use vepa_io::Port;

pub use driver::{PortDriver, PortMaker, PortOptions};
pub use patch::patch_key;
pub use tun::{open_tun, persist_mark, remove_persistent_tun, tun_name_taken};
pub use veth::make_veth;
pub use vxlan::vxlan_port;

/// The driver of port `p`'s kind (a `tap` without a namespace is a VM's).
pub fn driver(p: &PortSpec) -> &'static dyn PortDriver {
    driver_of(p.kind, p.netns.is_some())
}

/// The driver of a kind of port; `in_netns`: it goes into a namespace.
pub fn driver_of(kind: PortKind, in_netns: bool) -> &'static dyn PortDriver {
    match kind {
        PortKind::Veth => &veth::Veth,
        PortKind::Tap if in_netns => &tap::Tap,
        PortKind::Tap => &vm_tap::VmTap,
        PortKind::Netdev => &netdev::Netdev,
        PortKind::Patch => &patch::Patch,
        PortKind::Vxlan => &vxlan::Vxlan,
        PortKind::VhostUser => &vhost_user::VhostUser,
        PortKind::Bond => &bond::Bond,
        PortKind::Tun => &tun::TunOnSwitch,
    }
}

/// What must hold on the host before `p` can be made: interfaces it uses
/// exist, those it creates do not.
pub fn preflight_port(s: &SwitchSpec, p: &PortSpec) -> Result<()> {
    let at = format!("switch '{}', port '{}'", s.name, p.name);
    driver(p).validate(&at, p)
}

impl PortMaker<'_> {
    /// Creates port `p` of switch `s` on the host (recording what it made
    /// in `state`) and opens it.
    pub fn open(
        &mut self,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<Arc<dyn Port>> {
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        self.open_inner(state, s, p).with_context(|| at)
    }

    fn open_inner(
        &mut self,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<Arc<dyn Port>> {
        self.ensure_netns(state, p)?;
        // An ipvlan switch's ports carry its one MAC, as the kernel's
        // ipvlan devices carry their master's.
        let shared;
        let p = if vepa_api::topology::shares_mac(s, p) {
            shared = PortSpec {
                mac: Some(vepa_api::topology::ipvlan_mac(s)),
                ..p.clone()
            };
            &shared
        } else {
            p
        };
        let d = driver(p);
        d.create(self, state, s, p)?;
        if let Some(end) = self.wires.remove(&(s.name.clone(), p.name.clone())) {
            return Ok(end);
        }
        d.open(self.opts, s, p)
    }
}
