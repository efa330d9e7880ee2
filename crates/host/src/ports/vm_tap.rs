//! `tap` without a namespace: a VM's tap, a persistent device QEMU opens
//! by name (`-netdev tap,ifname=...`, see `vepa vm-args`). Made if
//! missing (and then removed with the port, and marked so a restarted
//! daemon adopts it), brought up at the port's MTU. vepa keeps no
//! descriptor of it: it switches the device's host side over AF_PACKET
//! with virtio-net headers, so the guest's TSO frames pass whole
//! whenever QEMU enables the tap's offloads.

use super::driver::{packet_port, validate_tap, PortDriver, PortMaker, PortOptions};
use crate::state::HostState;
use anyhow::{bail, Context, Result};
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec};
use vepa_io::Port;
use vepa_kernel::host;

pub struct VmTap;

impl PortDriver for VmTap {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        validate_tap(at, p)
    }

    fn create(
        &self,
        _maker: &mut PortMaker<'_>,
        state: &mut HostState,
        _s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<()> {
        let name = p.host_ifname();
        if !host::link_exists(name) {
            host::create_persistent_tap(name, None, p.offload()).context("make the VM's tap")?;
            state.link(name);
        } else if !host::is_tap(name) {
            bail!("ifname: '{name}' exists and is not a tap device");
        }
        host::configure(None, name, None, &[], p.mtu).context("bring the VM's tap up")?;
        Ok(())
    }

    fn open(&self, opts: PortOptions, _s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        packet_port(p.host_ifname(), p.offload(), opts)
    }

    fn adopt(&self, p: &PortSpec, opts: PortOptions) -> Option<Result<Arc<dyn Port>>> {
        super::driver::adopt_packet_port(p, p.offload(), opts)
    }

    fn marked(&self, _p: &PortSpec, made: bool) -> bool {
        made
    }

    fn stable_mac(&self) -> bool {
        true
    }
}
