//! `patch`: a wire between two ports of this topology. Between two
//! userspace switches it has no device: the datapath takes a frame across
//! in memory (`vepa_io::wire`). With an end on a kernel switch it is a
//! veth pair vepa makes once for both ends. Either way both ends pass
//! offloads: what one end sends whole, the other receives whole.

use super::driver::{
    must_be_free, packet_port, prepare_host_end, PortDriver, PortMaker, PortOptions,
};
use crate::state::HostState;
use anyhow::Result;
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec, Topology};
use vepa_io::Port;
use vepa_kernel::host;

pub struct Patch;

impl PortDriver for Patch {
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()> {
        must_be_free(at, p)
    }

    fn create(
        &self,
        maker: &mut PortMaker<'_>,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<()> {
        maker.ensure_patch(state, s, p)
    }

    fn open(&self, opts: PortOptions, _s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        packet_port(p.host_ifname(), true, opts)
    }

    fn adopt(&self, p: &PortSpec, opts: PortOptions) -> Option<Result<Arc<dyn Port>>> {
        super::driver::adopt_packet_port(p, true, opts)
    }

    fn marked(&self, _p: &PortSpec, _made: bool) -> bool {
        true
    }
}

impl PortMaker<'_> {
    /// Makes a patch wire unless its other end made it already: in memory
    /// between two userspace switches, else a veth pair.
    pub fn ensure_patch(
        &mut self,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<()> {
        let (other_sw, other_port) = p
            .peer
            .as_deref()
            .and_then(|x| x.split_once('/'))
            .unwrap_or_default();
        let key = (other_sw.to_string(), other_port.to_string());
        if self.patched.contains(&key) {
            return Ok(());
        }
        let other_if = self
            .topo
            .ports()
            .find(|(_, os, op)| os.name == other_sw && op.name == other_port)
            .map(|(_, _, op)| op.host_ifname().to_string())
            .unwrap_or_default();
        if !self.kernel.contains(&s.name) && !self.kernel.contains(other_sw) {
            let (a, b) = vepa_io::wire(p.host_ifname(), &other_if)?;
            self.wires
                .insert((s.name.clone(), p.name.clone()), Arc::new(a));
            self.wires.insert(key, Arc::new(b));
            self.patched.insert((s.name.clone(), p.name.clone()));
            return Ok(());
        }
        host::add_veth(p.host_ifname(), &other_if)?;
        state.link(p.host_ifname());
        for end in [p.host_ifname(), other_if.as_str()] {
            prepare_host_end(end, p.mtu)?;
        }
        self.patched.insert((s.name.clone(), p.name.clone()));
        Ok(())
    }
}

/// One number for both ends of a patch wire.
pub fn patch_key(topo: &Topology, switch: &str, p: &PortSpec) -> usize {
    let pos = |sw: &str, port: &str| {
        topo.ports()
            .position(|(_, s, q)| s.name == sw && q.name == port)
            .unwrap_or(0)
    };
    let me = pos(switch, &p.name);
    let other = p
        .peer
        .as_deref()
        .and_then(|x| x.split_once('/'))
        .map(|(s, q)| pos(s, q))
        .unwrap_or(me);
    me.min(other)
}
