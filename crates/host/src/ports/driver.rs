//! What every port driver is written against: the [`PortDriver`] trait,
//! how ports are opened ([`PortOptions`]), the [`PortMaker`] that makes a
//! topology's ports one after another, and the helpers the kinds share.

use crate::state::HostState;
use anyhow::{bail, Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec, Topology};
use vepa_io::{PacketPort, Port, RingPort, XdpPort};
use vepa_kernel::host;

/// One kind of port: everything about it that differs from the others.
pub trait PortDriver: Sync {
    /// What must hold on the host before the port is made: interfaces it
    /// uses exist, those it makes do not. `at` names the port in errors.
    fn validate(&self, at: &str, p: &PortSpec) -> Result<()>;

    /// Makes the port's host devices, recording them in `state` (for
    /// removal on error). Kinds that make nothing, or whose device lives
    /// only while it is open (a container's tap), do it in `open`.
    fn create(
        &self,
        _maker: &mut PortMaker<'_>,
        _state: &mut HostState,
        _s: &SwitchSpec,
        _p: &PortSpec,
    ) -> Result<()> {
        Ok(())
    }

    /// Opens the vepa port on what `create` made (or on what exists).
    fn open(&self, opts: PortOptions, s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>>;

    /// Opens the port over devices an earlier run made and marked, when
    /// they can be taken over as they stand; `None`: made again.
    fn adopt(&self, _p: &PortSpec, _opts: PortOptions) -> Option<Result<Arc<dyn Port>>> {
        None
    }

    /// Whether vepa owns the port's host devices: makes them, marks them
    /// as its own, and removes them with the port. Ports on what exists
    /// (an interface, a socket, a tunnel) own none.
    fn owns_devices(&self) -> bool {
        true
    }

    /// Whether a port without a MAC of its own gets one that stays the
    /// same across the daemon's restarts, so the neighbours' ARP caches
    /// stay right (its device is made again at each start, or may be).
    fn stable_mac(&self) -> bool {
        false
    }

    /// Whether the devices made for `p` carry the owner's mark (`made`:
    /// this run made them; one a VM manager made stays theirs).
    fn marked(&self, _p: &PortSpec, _made: bool) -> bool {
        false
    }

    /// Removes the port's devices, `links` (those vepa made; closing the
    /// port came first).
    fn remove(&self, links: &[String]) {
        for l in links {
            if host::link_exists(l) {
                if let Err(e) = host::del_link(l) {
                    tracing::warn!(link = %l, error = %e, "cannot remove");
                }
            }
        }
    }
}

/// For kinds vepa creates: the port's interface must not exist yet.
pub(crate) fn must_be_free(at: &str, p: &PortSpec) -> Result<()> {
    let ifname = p.host_ifname();
    if host::link_exists(ifname) {
        bail!(
            "{at}: {}: interface '{ifname}' already exists; vepa creates this port's device (use type = \"netdev\" to attach an existing one)",
            if p.ifname.is_some() { "ifname" } else { "name" }
        );
    }
    Ok(())
}

/// An existing persistent TAP device is attached, not created; it stays
/// as it is (vepa neither moves nor addresses what it does not own).
pub(crate) fn existing_tap_untouched(at: &str, p: &PortSpec) -> Result<()> {
    let set = [
        ("netns", p.netns.is_some()),
        ("mac", p.mac.is_some()),
        ("address", !p.address.is_empty()),
        ("mtu", p.mtu.is_some()),
    ];
    if let Some((field, _)) = set.iter().find(|(_, on)| *on) {
        bail!("{at}: {field}: '{}' is an existing TAP device that vepa attaches to and does not reconfigure; remove {field} or let vepa create the tap", p.host_ifname());
    }
    Ok(())
}

/// A tap port (a container's or a VM's): an existing TAP is attached
/// untouched; otherwise its name must be free.
pub(crate) fn validate_tap(at: &str, p: &PortSpec) -> Result<()> {
    if host::is_tap(p.host_ifname()) {
        return existing_tap_untouched(at, p);
    }
    must_be_free(at, p)
}

/// How ports are opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortOptions {
    /// AF_PACKET ports receive through a TPACKET_V3 ring instead of recvmmsg (experimental).
    pub rx_ring: bool,
    /// Interface ports (veth, netdev, a VM's tap seen from the host) go
    /// through AF_XDP where XDP attaches natively; AF_PACKET elsewhere.
    pub xdp: bool,
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
pub(crate) fn packet_port(
    ifname: &str,
    offloads: bool,
    opts: PortOptions,
) -> Result<Arc<dyn Port>> {
    if opts.xdp {
        match XdpPort::open(ifname) {
            Ok(p) => return Ok(Arc::new(p)),
            Err(e) => tracing::warn!(
                port = %ifname,
                error = %e,
                "AF_XDP unavailable for this port; it uses AF_PACKET"
            ),
        }
    }
    Ok(if opts.rx_ring {
        Arc::new(RingPort::open(ifname, offloads)?)
    } else {
        Arc::new(PacketPort::open(ifname, offloads)?)
    })
}

/// A port over an interface an earlier run made, opened as `opts` asks.
pub(crate) fn adopt_packet_port(
    p: &PortSpec,
    offloads: bool,
    opts: PortOptions,
) -> Option<Result<Arc<dyn Port>>> {
    Some(packet_port(p.host_ifname(), offloads, opts))
}

/// Makes ports one at a time, remembering what one port of a topology
/// already did for the next (a namespace made, a patch wire made).
pub struct PortMaker<'t> {
    pub(crate) topo: &'t Topology,
    pub(crate) opts: PortOptions,
    namespaces_ready: HashSet<String>,
    pub(crate) patched: HashSet<(String, String)>,
    /// Switches the kernel makes: a patch wire with an end on one is a
    /// veth pair; between two userspace switches it is crossed in memory.
    pub(crate) kernel: HashSet<String>,
    /// In-memory wire ends made but not yet opened.
    pub(crate) wires: HashMap<(String, String), Arc<dyn Port>>,
}

impl<'t> PortMaker<'t> {
    pub fn new(topo: &'t Topology, opts: PortOptions) -> PortMaker<'t> {
        PortMaker {
            topo,
            opts,
            namespaces_ready: HashSet::new(),
            patched: HashSet::new(),
            kernel: HashSet::new(),
            wires: HashMap::new(),
        }
    }

    /// Says which switches the kernel makes (their patch wires are veth
    /// pairs; the others' are crossed in memory).
    pub fn with_kernel_switches(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.kernel = names.into_iter().collect();
        self
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
}

/// The host end of a wire vepa made: no IPv6 chatter of its own, up.
pub(crate) fn prepare_host_end(ifname: &str, mtu: Option<u32>) -> Result<()> {
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        "1",
    );
    host::configure(None, ifname, None, &[], mtu)?;
    Ok(())
}
