//! `netdev`: an interface that exists already (a NIC, a veth end),
//! switched through AF_PACKET. vepa makes nothing and removes nothing.

use super::driver::{packet_port, PortDriver, PortOptions};
use anyhow::{bail, Result};
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec};
use vepa_io::Port;
use vepa_kernel::host;

pub struct Netdev;

impl PortDriver for Netdev {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        let ifname = p.host_ifname();
        if !host::link_exists(ifname) {
            bail!("{at}: ifname: interface '{ifname}' does not exist");
        }
        Ok(())
    }

    fn open(&self, opts: PortOptions, _s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        packet_port(p.host_ifname(), p.offload(), opts)
    }

    fn owns_devices(&self) -> bool {
        false
    }
}
