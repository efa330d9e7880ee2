//! `tap` with a namespace: a container's TAP device. vepa holds its
//! descriptor (virtio-net header, offloads), so the device lives exactly
//! as long as the port is open: it is made when opened, moved into the
//! namespace and addressed there, and never adopted across a restart.
//! A persistent TAP that exists already is attached as it is.

use super::driver::{validate_tap, PortDriver, PortOptions};
use anyhow::Result;
use std::sync::Arc;
use vepa_api::topology::{shares_mac, PortSpec, SwitchSpec};
use vepa_io::{Port, TapPort};
use vepa_kernel::host;

pub struct Tap;

impl PortDriver for Tap {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        validate_tap(at, p)
    }

    fn open(&self, _opts: PortOptions, s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        if host::is_tap(p.host_ifname()) {
            return Ok(Arc::new(TapPort::attach(p.host_ifname(), p.offload())?));
        }
        let tap = TapPort::create(p.host_ifname(), p.offload())?;
        let mac = p.mac.map(|m| m.0);
        if let Some(ns) = &p.netns {
            host::move_to_netns(p.host_ifname(), ns)?;
        }
        if shares_mac(s, p) {
            host::random_interface_ids(p.netns.as_deref(), p.host_ifname())?;
        }
        host::configure_with_gateways(
            p.netns.as_deref(),
            p.host_ifname(),
            mac,
            &p.address,
            p.mtu,
            &p.gateways(),
        )?;
        Ok(Arc::new(tap))
    }

    fn stable_mac(&self) -> bool {
        true
    }
}
