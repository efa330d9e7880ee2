//! `vxlan`: a tunnel to remote VTEPs, a UDP socket on the local VTEP
//! address. No interface to make or remove.

use super::driver::{PortDriver, PortOptions};
use anyhow::{bail, Context, Result};
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec};
use vepa_io::Port;

pub struct Vxlan;

impl PortDriver for Vxlan {
    fn validate(&self, _at: &str, _p: &PortSpec) -> Result<()> {
        Ok(())
    }

    fn open(&self, opts: PortOptions, _s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        Ok(Arc::new(vxlan_port(p, opts.underlay)?))
    }

    fn owns_devices(&self) -> bool {
        false
    }
}

/// The tunnel of a `vxlan` port (its fields vetted by the topology check).
pub fn vxlan_port(p: &PortSpec, underlay: Option<std::net::IpAddr>) -> Result<vepa_io::VxlanPort> {
    let parse = |s: &str| {
        s.parse::<std::net::IpAddr>()
            .with_context(|| format!("'{s}'"))
    };
    let local = match (&p.local, underlay) {
        (Some(l), _) => parse(l).context("local")?,
        (None, Some(u)) => u,
        (None, None) => bail!(
            "local: a fabric port without `local` takes the daemon's --underlay-ip, and none was given"
        ),
    };
    let remotes = p
        .remote
        .iter()
        .map(|r| parse(r))
        .collect::<Result<Vec<_>>>()
        .context("remote")?;
    // The topology check could not see --underlay-ip.
    if let Some(r) = remotes
        .iter()
        .find(|r| **r == local || r.is_ipv4() != local.is_ipv4())
    {
        bail!("remote: {r}: expected a unicast address of the local VTEP's family ({local}), not the local one");
    }
    let cfg = vepa_io::VxlanConfig {
        name: p.name.clone(),
        vni: p.vni.unwrap_or(0),
        local,
        port: p.dstport.unwrap_or(vepa_io::VXLAN_PORT),
        remotes,
        underlay_mtu: p.mtu.unwrap_or(1500),
        vlan_vni: p.vlan_vnis(),
        reflect: p.fabric && p.relay.any(),
        arp_suppress: p.fabric && p.arp_suppress,
    };
    vepa_io::VxlanPort::open(cfg).with_context(|| format!("port '{}': vxlan", p.name))
}
