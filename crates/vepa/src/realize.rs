//! Turning a validated topology into devices, namespaces and open ports.
//!
//! Everything is checked that can be checked before the first device is
//! made (interfaces that must exist do, those vepa will create do not);
//! then devices are created one by one, each recorded in [`HostState`] so
//! that an error half-way, a signal or the normal end removes exactly what
//! this run made, in reverse order, and nothing else.

use crate::topology::{PortKind, PortSpec, SwitchSpec, Topology};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use vepa_dataplane::{PortId, Switch, SwitchConfig};
use vepa_io::{Attachment, Forwarder, PacketPort, Port, RingPort, TapPort};
use vepa_kernel::host;

enum Made {
    Link(String),
    /// A link inside a namespace vepa did not make (a macvlan moved into it).
    LinkIn(String, String),
    Netns(String),
}

/// What this run created on the host; removed on drop.
#[derive(Default)]
pub struct HostState {
    made: Vec<Made>,
}

impl HostState {
    pub fn link(&mut self, name: &str) {
        self.made.push(Made::Link(name.to_string()));
    }

    pub fn link_in(&mut self, netns: &str, name: &str) {
        self.made
            .push(Made::LinkIn(netns.to_string(), name.to_string()));
    }

    /// The links this state made (so far).
    pub fn links(&self) -> impl Iterator<Item = &str> {
        self.made.iter().filter_map(|m| match m {
            Made::Link(l) => Some(l.as_str()),
            Made::LinkIn(..) | Made::Netns(_) => None,
        })
    }

    /// The links this state made inside namespaces it did not make.
    pub fn links_in(&self) -> impl Iterator<Item = (&str, &str)> {
        self.made.iter().filter_map(|m| match m {
            Made::LinkIn(ns, l) => Some((ns.as_str(), l.as_str())),
            _ => None,
        })
    }

    /// The namespaces this state made.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.made.iter().filter_map(|m| match m {
            Made::Netns(n) => Some(n.as_str()),
            Made::Link(_) | Made::LinkIn(..) => None,
        })
    }

    /// Keeps what was made: it now belongs to someone else (the daemon's
    /// store), and dropping this state no longer removes it.
    pub fn keep(mut self) {
        self.made.clear();
    }

    /// Removes everything, last made first. Namespaces go after the links
    /// that lead into them.
    pub fn teardown(&mut self) {
        while let Some(m) = self.made.pop() {
            let r = match &m {
                Made::Link(l) => host::del_link(l),
                // Gone already when its namespace went.
                Made::LinkIn(ns, _) if !host::netns_exists(ns) => Ok(()),
                Made::LinkIn(ns, l) => host::del_link_in(Some(ns), l),
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
    /// Each switch's backend, and why.
    pub choices: Vec<crate::kernel_switch::Choice>,
    /// The filters installed, for their connection tables to be expired.
    pub filters: crate::daemon::filters::Filters,
}

/// Checks the host before anything is made.
fn preflight(topo: &Topology) -> Result<()> {
    if !running_as_root() {
        bail!("vepa needs root to create devices and open raw sockets (CAP_NET_ADMIN, CAP_NET_RAW): run it as root");
    }
    for (_, s, p) in topo.ports() {
        preflight_port(s, p)?;
    }
    Ok(())
}

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

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary interface name for a veth end before it is renamed inside its namespace.
pub fn temp_ifname() -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("vpt{:x}x{seq:x}", std::process::id() & 0xfffff)
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
            .unwrap_or(crate::topology::VHOST_USER_DIR)
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
                    state.made.push(Made::Netns(ns.clone()));
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

pub fn realize(topo: &Topology, configs: Vec<SwitchConfig>, opts: PortOptions) -> Result<Realized> {
    preflight(topo)?;
    let choices = crate::kernel_switch::decide(topo)?;
    let mut state = HostState::default();
    let mut maker = PortMaker::new(topo, opts);
    for (s, c) in topo.switches.iter().zip(&choices) {
        tracing::info!(switch = %s.name, "{}", c.why);
        if let Some(shape) = c.kernel {
            crate::kernel_switch::realize(&mut maker, &mut state, s, shape, true)?;
        }
    }
    let mut attachments: Vec<Attachment> = Vec::new();
    let mut port_index = vec![0u16; topo.switches.len()];
    for (si, s, p) in topo.ports() {
        let id = PortId(port_index[si]);
        port_index[si] += 1;
        if choices[si].kernel.is_some() {
            // The kernel forwards for this switch; vepa has no port on it.
            continue;
        }
        let port = maker.open(&mut state, s, p)?;
        // Both ends of a patch share a key, so one worker serves the wire.
        let affinity = (p.kind == PortKind::Patch).then(|| patch_key(topo, &s.name, p));
        attachments.push(Attachment {
            port,
            switch: si,
            id,
            affinity,
            capture: Default::default(),
        });
    }
    // `vepa run` has no controller: flows from the file, misses by fail mode.
    let switches = configs
        .into_iter()
        .zip(&topo.switches)
        .map(|(c, spec)| {
            let sw = Switch::new(c).context("switch")?;
            let p = crate::daemon::sdn::with_mode(spec.pipeline(0)?, spec.openflow.as_ref(), false);
            sw.set_pipeline(std::sync::Arc::new(p));
            Ok(sw)
        })
        .collect::<Result<Vec<_>>>()?;
    let configs: Vec<SwitchConfig> = switches.iter().map(|s| (*s.config()).clone()).collect();
    let mut routers = Vec::new();
    for cfg in topo.router_configs()? {
        let r = std::sync::Arc::new(vepa_dataplane::router::Router::new(&cfg).context("router")?);
        routers.push(crate::daemon::engine::router_attachment(
            r, &cfg, topo, &configs,
        ));
    }
    let cores: std::collections::HashMap<String, std::sync::Arc<vepa_dataplane::SwitchCore>> =
        switches
            .iter()
            .map(|s| (s.name(), std::sync::Arc::clone(s.core())))
            .collect();
    let by_name: std::collections::HashMap<String, std::sync::Arc<vepa_dataplane::router::Router>> =
        routers
            .iter()
            .map(|r| (r.router.name(), std::sync::Arc::clone(&r.router)))
            .collect();
    let mut filters = crate::daemon::filters::Filters::default();
    filters.apply(topo, &cores, &by_name);
    let mut forwarder = Forwarder::new(switches, attachments);
    forwarder.set_routers(routers);
    Ok(Realized {
        forwarder,
        filters,
        host: state,
        choices,
    })
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
        state.made.push(Made::Link(name.to_string()));
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
