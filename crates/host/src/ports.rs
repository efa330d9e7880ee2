//! Making and opening one port of a topology on the host: its device
//! (veth, tap, a VM's tap, a patch wire), its namespace and addresses,
//! and the vepa port that switches it.
//!
//! Everything that can be checked before the first device is made is
//! checked in [`preflight_port`] (interfaces that must exist do, those
//! vepa will create do not).

use crate::state::{temp_ifname, HostState};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::sync::Arc;
use vepa_api::topology::{PortKind, PortSpec, SwitchSpec, Topology};
use vepa_io::{PacketPort, Port, RingPort, TapPort};
use vepa_kernel::host;

/// What must hold on the host before `p` can be made: interfaces it uses
/// exist, those it creates do not.
pub fn preflight_port(s: &SwitchSpec, p: &PortSpec) -> Result<()> {
    let at = || format!("switch '{}', port '{}'", s.name, p.name);
    let ifname = p.host_ifname();
    match p.kind {
        PortKind::Netdev if !host::link_exists(ifname) => {
            bail!("{}: ifname: interface '{ifname}' does not exist", at())
        }
        PortKind::Netdev | PortKind::Vxlan | PortKind::VhostUser => {}
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
        PortKind::Veth if p.netns.is_none() && host::link_exists(p.peer_ifname()) => bail!(
            "{}: peer_name: interface '{}' already exists here; without netns the far end stays in vepa's namespace, so give it a free name with peer_name (or set netns)",
            at(),
            p.peer_ifname()
        ),
        _ if host::link_exists(ifname) => bail!(
            "{}: {}: interface '{ifname}' already exists; vepa creates this port's device (use type = \"netdev\" to attach an existing one)",
            at(),
            if p.ifname.is_some() { "ifname" } else { "name" }
        ),
        _ => {}
    }
    Ok(())
}

/// Checks that only root can change what is in `dir`: a real directory
/// (not a link), root's, writable by nobody else.
fn root_only_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir)
        .with_context(|| format!("socket: cannot read {}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !m.is_dir() || (m.uid() != 0 && m.uid() != me) || m.mode() & 0o022 != 0 {
        bail!(
            "socket: {} must be a directory of root's that only root can write (it is {}, owner {}, mode {:o}): a group member could swap a socket there for a link to another file",
            dir.display(),
            if m.is_dir() { "a directory" } else { "not a directory" },
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

/// How ports are opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortOptions {
    /// AF_PACKET ports receive through a TPACKET_V3 ring instead of recvmmsg (experimental).
    pub rx_ring: bool,
    /// The daemon's `--underlay-ip`: the local VTEP of fabric ports that
    /// name none.
    pub underlay: Option<std::net::IpAddr>,
    /// The group that may connect to vhost-user sockets (the daemon's
    /// `--vhost-group`, else its `--group`); without one, root only.
    pub socket_group: Option<u32>,
    /// Where vhost-user sockets are made (the daemon's `--vhost-user-dir`;
    /// default /run/vepa/vhost-user). Set once per process, hence static.
    pub vhost_user_dir: Option<&'static str>,
}

impl PortOptions {
    /// The one directory vhost-user sockets may be made in.
    pub fn vhost_user_dir(&self) -> &'static str {
        self.vhost_user_dir
            .unwrap_or(vepa_api::topology::VHOST_USER_DIR)
    }
}

/// An AF_PACKET port on `ifname`, with the receive path `opts` asks for.
fn packet_port(ifname: &str, offloads: bool, opts: PortOptions) -> Result<Arc<dyn Port>> {
    Ok(if opts.rx_ring {
        Arc::new(RingPort::open(ifname, offloads)?)
    } else {
        Arc::new(PacketPort::open(ifname, offloads)?)
    })
}

/// Makes ports one at a time, remembering what one port of a topology
/// already did for the next (a namespace made, a patch wire made).
pub struct PortMaker<'t> {
    topo: &'t Topology,
    opts: PortOptions,
    namespaces_ready: HashSet<String>,
    patched: HashSet<(String, String)>,
}

impl<'t> PortMaker<'t> {
    pub fn new(topo: &'t Topology, opts: PortOptions) -> PortMaker<'t> {
        PortMaker {
            topo,
            opts,
            namespaces_ready: HashSet::new(),
            patched: HashSet::new(),
        }
    }

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

    /// Makes the veth pair of a patch wire unless its other end made it already.
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
        host::add_veth(p.host_ifname(), &other_if)?;
        state.link(p.host_ifname());
        for end in [p.host_ifname(), other_if.as_str()] {
            prepare_host_end(end, p.mtu)?;
        }
        self.patched.insert((s.name.clone(), p.name.clone()));
        Ok(())
    }

    /// Makes the namespace a port needs, once.
    pub fn ensure_netns(&mut self, state: &mut HostState, p: &PortSpec) -> Result<()> {
        if let Some(ns) = &p.netns {
            if !self.namespaces_ready.contains(ns) {
                if !host::netns_exists(ns) {
                    host::add_netns(ns).context("netns")?;
                    state.netns(ns);
                }
                self.namespaces_ready.insert(ns.clone());
            }
        }
        Ok(())
    }

    fn open_inner(
        &mut self,
        state: &mut HostState,
        s: &SwitchSpec,
        p: &PortSpec,
    ) -> Result<Arc<dyn Port>> {
        let opts = self.opts;
        self.ensure_netns(state, p)?;
        Ok(match p.kind {
            PortKind::Netdev => packet_port(p.host_ifname(), p.offload(), opts)?,
            PortKind::Vxlan => Arc::new(vxlan_port(p, opts.underlay)?),
            PortKind::VhostUser => {
                // Checked when the change was taken; checked again for a
                // state stored under another --vhost-user-dir.
                let base = opts.vhost_user_dir();
                let socket = std::path::PathBuf::from(p.vhost_user_socket_in(base, &s.name));
                if !socket.starts_with(base) || socket == std::path::Path::new(base) {
                    bail!(
                        "socket: {} is outside the vhost-user directory {base}",
                        socket.display()
                    );
                }
                if let Some(dir) = socket.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("socket: cannot make {}", dir.display()))?;
                    // The socket is chmod'ed and chown'ed by path after it
                    // is bound: nobody but root may be able to swap it for
                    // a link in between.
                    for d in [std::path::Path::new(base), dir] {
                        root_only_dir(d)?;
                    }
                }
                Arc::new(
                    vepa_io::VhostUserPort::open(&p.name, socket.clone(), opts.socket_group)
                        .with_context(|| format!("socket: {}", socket.display()))?,
                )
            }
            PortKind::Veth => {
                make_veth(state, p, &temp_ifname())?;
                packet_port(p.host_ifname(), p.offload(), opts)?
            }
            PortKind::Tap if p.netns.is_none() => vm_tap(state, p, opts)?,
            PortKind::Tap if host::is_tap(p.host_ifname()) => {
                Arc::new(TapPort::attach(p.host_ifname(), p.offload())?)
            }
            PortKind::Tap => {
                let tap = TapPort::create(p.host_ifname(), p.offload())?;
                let mac = p.mac.map(|m| m.0);
                if let Some(ns) = &p.netns {
                    host::move_to_netns(p.host_ifname(), ns)?;
                }
                host::configure_with_gateways(
                    p.netns.as_deref(),
                    p.host_ifname(),
                    mac,
                    &p.address,
                    p.mtu,
                    &p.gateways(),
                )?;
                Arc::new(tap)
            }
            PortKind::Patch => {
                self.ensure_patch(state, s, p)?;
                // Both ends of a wire vepa made pass offloads: what one end
                // sends whole, the other receives whole.
                packet_port(p.host_ifname(), true, opts)?
            }
        })
    }
}

/// A VM's tap (a `tap` port without `netns`): a persistent device QEMU
/// opens by name (`-netdev tap,ifname=...`, see `vepa vm-args`), made if
/// missing (and then removed with the port), brought up at the port's MTU.
/// vepa keeps no descriptor of it: it switches the device's host side
/// over AF_PACKET with virtio-net headers, so the guest's TSO frames pass
/// whole whenever QEMU enables the tap's offloads.
fn vm_tap(state: &mut HostState, p: &PortSpec, opts: PortOptions) -> Result<Arc<dyn Port>> {
    let name = p.host_ifname();
    if !host::link_exists(name) {
        host::create_persistent_tap(name, None, p.offload()).context("make the VM's tap")?;
        state.link(name);
    } else if !host::is_tap(name) {
        bail!("ifname: '{name}' exists and is not a tap device");
    }
    host::configure(None, name, None, &[], p.mtu).context("bring the VM's tap up")?;
    packet_port(name, p.offload(), opts)
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
        reflect: p.fabric && p.relay,
        arp_suppress: p.fabric && p.arp_suppress,
    };
    vepa_io::VxlanPort::open(cfg).with_context(|| format!("port '{}': vxlan", p.name))
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

/// The host end of a wire vepa made: no IPv6 chatter of its own, up.
fn prepare_host_end(ifname: &str, mtu: Option<u32>) -> Result<()> {
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        "1",
    );
    host::configure(None, ifname, None, &[], mtu)?;
    Ok(())
}

pub fn make_veth(state: &mut HostState, p: &PortSpec, temp: &str) -> Result<()> {
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
    let mac = p.mac.map(|m| m.0);
    match &p.netns {
        Some(ns) => {
            host::move_to_netns(first_name, ns)?;
            host::rename(Some(ns), first_name, peer)?;
            host::configure_with_gateways(Some(ns), peer, mac, &p.address, p.mtu, &p.gateways())?;
        }
        None => host::configure(None, peer, mac, &p.address, p.mtu)?,
    }
    Ok(())
}
