//! Turning a validated topology into devices, namespaces and open ports.
//!
//! Everything is checked that can be checked before the first device is
//! made (interfaces that must exist do, those vepa will create do not);
//! then devices are created one by one, each recorded in [`HostState`] so
//! that an error half-way, a signal or the normal end removes exactly what
//! this run made, in reverse order, and nothing else.

use crate::topology::{PortKind, PortSpec, Topology};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use vepa_dataplane::{PortId, Switch, SwitchConfig};
use vepa_io::{host, Attachment, Forwarder, PacketPort, Port, RingPort, TapPort};

enum Made {
    Link(String),
    Netns(String),
}

/// What this run created on the host; removed on drop.
#[derive(Default)]
pub struct HostState {
    made: Vec<Made>,
}

impl HostState {
    fn link(&mut self, name: &str) {
        self.made.push(Made::Link(name.to_string()));
    }

    /// Removes everything, last made first. Namespaces go after the links
    /// that lead into them.
    pub fn teardown(&mut self) {
        while let Some(m) = self.made.pop() {
            let r = match &m {
                Made::Link(l) => host::del_link(l),
                Made::Netns(n) => host::del_netns(n),
            };
            if let Err(e) = r {
                tracing::warn!("cleanup: {e}");
            }
        }
    }
}

impl Drop for HostState {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// A topology running on the host: the forwarder and what it needs removed.
/// Drop order matters: ports (and the taps they own) close before the host
/// devices go.
pub struct Realized {
    pub forwarder: Forwarder,
    pub host: HostState,
}

/// Checks the host before anything is made.
fn preflight(topo: &Topology) -> Result<()> {
    if !running_as_root() {
        bail!("vepa needs root to create devices and open raw sockets (CAP_NET_ADMIN, CAP_NET_RAW): run it as root");
    }
    for (_, s, p) in topo.ports() {
        let at = || format!("switch '{}', port '{}'", s.name, p.name);
        let ifname = p.host_ifname();
        match p.kind {
            PortKind::Netdev if !host::link_exists(ifname) => {
                bail!("{}: ifname: interface '{ifname}' does not exist", at())
            }
            PortKind::Netdev => {}
            // An existing persistent TAP device is attached, not created; it
            // stays as it is (vepa neither moves nor addresses what it does not own).
            PortKind::Tap if host::is_tap(ifname) => {
                let set = [
                    ("netns", p.netns.is_some()),
                    ("mac", p.mac.is_some()),
                    ("address", !p.address.is_empty()),
                    ("mtu", p.mtu.is_some()),
                ];
                if let Some((field, _)) = set.iter().find(|(_, on)| *on) {
                    bail!("{}: {field}: '{ifname}' is an existing TAP device that vepa attaches to and does not reconfigure; remove {field} or let vepa create the tap", at());
                }
            }
            _ if host::link_exists(ifname) => bail!(
                "{}: {}: interface '{ifname}' already exists; vepa creates this port's device (use type = \"netdev\" to attach an existing one)",
                at(),
                if p.ifname.is_some() { "ifname" } else { "name" }
            ),
            _ => {}
        }
    }
    Ok(())
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary interface name for a veth end before it is renamed inside its namespace.
fn temp_ifname(seq: usize) -> String {
    format!("vpt{:x}x{seq}", std::process::id() & 0xfffff)
}

/// How ports are opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortOptions {
    /// AF_PACKET ports receive through a TPACKET_V3 ring instead of recvmmsg (experimental).
    pub rx_ring: bool,
}

/// An AF_PACKET port on `ifname`, with the receive path `opts` asks for.
fn packet_port(ifname: &str, offloads: bool, opts: PortOptions) -> Result<Box<dyn Port>> {
    Ok(if opts.rx_ring {
        Box::new(RingPort::open(ifname, offloads)?)
    } else {
        Box::new(PacketPort::open(ifname, offloads)?)
    })
}

pub fn realize(topo: &Topology, configs: Vec<SwitchConfig>, opts: PortOptions) -> Result<Realized> {
    preflight(topo)?;
    let mut state = HostState::default();
    let mut namespaces_ready: HashSet<String> = HashSet::new();
    let mut attachments: Vec<Attachment> = Vec::new();
    let mut patched: HashSet<(String, String)> = HashSet::new();
    let mut seq = 0usize;
    let mut port_index = vec![0u16; topo.switches.len()];
    for (si, s, p) in topo.ports() {
        let id = PortId(port_index[si]);
        port_index[si] += 1;
        let at = format!("switch '{}', port '{}'", s.name, p.name);
        if let Some(ns) = &p.netns {
            if !namespaces_ready.contains(ns) {
                if !host::netns_exists(ns) {
                    host::add_netns(ns).with_context(|| format!("{at}: netns"))?;
                    state.made.push(Made::Netns(ns.clone()));
                }
                namespaces_ready.insert(ns.clone());
            }
        }
        let port: Box<dyn Port> = match p.kind {
            PortKind::Netdev => {
                packet_port(p.host_ifname(), p.offload(), opts).with_context(|| at.clone())?
            }
            PortKind::Veth => {
                seq += 1;
                make_veth(&mut state, p, &temp_ifname(seq)).with_context(|| at.clone())?;
                packet_port(p.host_ifname(), p.offload(), opts).with_context(|| at.clone())?
            }
            PortKind::Tap if host::is_tap(p.host_ifname()) => {
                Box::new(TapPort::attach(p.host_ifname(), p.offload()).with_context(|| at.clone())?)
            }
            PortKind::Tap => {
                let tap =
                    TapPort::create(p.host_ifname(), p.offload()).with_context(|| at.clone())?;
                let mac = p.mac.map(|m| m.to_string());
                if let Some(ns) = &p.netns {
                    host::move_to_netns(p.host_ifname(), ns).with_context(|| at.clone())?;
                }
                host::configure(
                    p.netns.as_deref(),
                    p.host_ifname(),
                    mac.as_deref(),
                    &p.address,
                    p.mtu,
                )
                .with_context(|| at.clone())?;
                Box::new(tap)
            }
            PortKind::Patch => {
                let (other_sw, other_port) = p
                    .peer
                    .as_deref()
                    .and_then(|x| x.split_once('/'))
                    .unwrap_or_default();
                let key = (other_sw.to_string(), other_port.to_string());
                if !patched.contains(&key) {
                    let other_if = topo
                        .ports()
                        .find(|(_, os, op)| os.name == other_sw && op.name == other_port)
                        .map(|(_, _, op)| op.host_ifname().to_string())
                        .unwrap_or_default();
                    host::add_veth(p.host_ifname(), &other_if).with_context(|| at.clone())?;
                    state.link(p.host_ifname());
                    for end in [p.host_ifname(), other_if.as_str()] {
                        prepare_host_end(end, p.mtu).with_context(|| at.clone())?;
                    }
                    patched.insert((s.name.clone(), p.name.clone()));
                }
                // Both ends of a wire vepa made pass offloads: what one end
                // sends whole, the other receives whole.
                packet_port(p.host_ifname(), true, opts).with_context(|| at.clone())?
            }
        };
        // Both ends of a patch share a key, so one worker serves the wire.
        let affinity = (p.kind == PortKind::Patch).then(|| patch_key(topo, &s.name, p));
        attachments.push(Attachment {
            port,
            switch: si,
            id,
            affinity,
        });
    }
    let switches = configs
        .into_iter()
        .map(|c| Switch::new(c).context("switch"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Realized {
        forwarder: Forwarder::new(switches, attachments),
        host: state,
    })
}

/// One number for both ends of a patch wire.
fn patch_key(topo: &Topology, switch: &str, p: &PortSpec) -> usize {
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

/// The host end of a wire vepa made: no IPv6 chatter of its own, up.
fn prepare_host_end(ifname: &str, mtu: Option<u32>) -> Result<()> {
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        "1",
    );
    host::configure(None, ifname, None, &[], mtu)?;
    Ok(())
}

fn make_veth(state: &mut HostState, p: &PortSpec, temp: &str) -> Result<()> {
    let ifname = p.host_ifname();
    let peer = p.peer_ifname();
    // The far end is created under a temporary name: its final name (eth0)
    // may well exist in vepa's own namespace.
    let first_name = if p.netns.is_some() { temp } else { peer };
    host::add_veth(ifname, first_name)?;
    state.link(ifname);
    // Without offloads, what the far end sends must be complete (checksums
    // filled, wire-sized): its stack does that work instead of us.
    if !p.offload() {
        host::disable_tx_offloads(first_name)?;
    }
    prepare_host_end(ifname, p.mtu)?;
    let mac = p.mac.map(|m| m.to_string());
    match &p.netns {
        Some(ns) => {
            host::move_to_netns(first_name, ns)?;
            host::rename(Some(ns), first_name, peer)?;
            host::configure(Some(ns), peer, mac.as_deref(), &p.address, p.mtu)?;
        }
        None => host::configure(None, peer, mac.as_deref(), &p.address, p.mtu)?,
    }
    Ok(())
}
