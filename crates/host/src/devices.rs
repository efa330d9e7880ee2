//! The host devices behind a daemon's ports, and how the daemon knows
//! which are its own.
//!
//! A *device* is what one port (or both ends of a patch wire) needs on the
//! host. Devices vepa creates and that outlive the daemon (veth pairs) are
//! marked with an interface alias `vepa:<instance>:<switch>/<port>#<fingerprint>`,
//! namespaces it creates with an alias on their loopback
//! `vepa:<instance>:netns`. The instance is the state directory's own id,
//! so two daemons never take each other's devices, and nothing unmarked is
//! ever removed. The fingerprint covers every field that shapes the device:
//! a device with the right fingerprint is adopted as it is, any other
//! marked one is removed and made again. The alias is set last, so a device
//! a crash interrupted half-way is never adopted.

use crate::kernel;
use crate::ports::{driver, driver_of, preflight_port, PortMaker, PortOptions};
use crate::state::HostState;
use anyhow::{Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use vepa_api::plan::device_fields;
use vepa_api::topology::kernel::KernelShape;
use vepa_api::topology::{PortKind, PortSpec, SwitchSpec, Topology};
use vepa_io::Port;
use vepa_kernel::host;

/// A port's identity: switch name and port name.
pub type PortKey = (String, String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// `switch/port` of the port that makes it (the smaller of a patch's two ends).
    pub key: String,
    pub members: Vec<PortKey>,
    pub kind: PortKind,
    /// vepa makes it (and may remove it), as opposed to attaching to an
    /// interface or persistent tap that exists already.
    pub owned: bool,
    pub fingerprint: String,
    /// A whole switch made of kernel devices (no port of it is opened).
    pub kernel: Option<KernelShape>,
    /// Patch ends on kernel switches: made with the wire, never opened.
    pub closed: Vec<PortKey>,
}

impl DeviceSpec {
    /// A patch wire between two userspace switches: no host device, the
    /// datapath crosses it in memory (made anew at each start, never
    /// marked or adopted).
    pub fn in_memory(&self) -> bool {
        self.kind == PortKind::Patch && self.closed.is_empty()
    }
}

pub struct Device {
    pub spec: DeviceSpec,
    pub ports: Vec<(PortKey, Arc<dyn Port>)>,
    /// Links to delete when the device goes (empty for taps: closing removes them).
    links: Vec<String>,
    /// Links inside namespaces (a kernel switch's macvlans), to delete too.
    links_in: Vec<(String, String)>,
}

fn find<'a>(topo: &'a Topology, key: &PortKey) -> Option<(&'a SwitchSpec, &'a PortSpec)> {
    topo.ports()
        .find(|(_, s, p)| s.name == key.0 && p.name == key.1)
        .map(|(_, s, p)| (s, p))
}

/// FNV-1a: a stable fingerprint of the fields that shape a device.
fn fingerprint(parts: &[&PortSpec]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        let v = serde_json::to_value(p).unwrap_or_default();
        for f in device_fields(p) {
            let text = format!("{f}={};", v.get(f).unwrap_or(&serde_json::Value::Null));
            for b in text.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!("{h:016x}")
}

/// The devices a topology needs: one per port of a userspace switch, one
/// per patch wire, one per kernel switch (after the wires it hangs on).
pub fn devices(topo: &Topology, kernel: &HashMap<String, KernelShape>) -> Vec<DeviceSpec> {
    let mut out = Vec::new();
    for (_, s, p) in topo.ports() {
        let me = format!("{}/{}", s.name, p.name);
        let key: PortKey = (s.name.clone(), p.name.clone());
        if p.kind != PortKind::Patch && kernel.contains_key(&s.name) {
            continue;
        }
        if p.kind == PortKind::Patch {
            let Some((os, op)) = p
                .peer
                .as_deref()
                .and_then(|x| x.split_once('/'))
                .and_then(|(a, b)| find(topo, &(a.to_string(), b.to_string())))
            else {
                continue;
            };
            let other = format!("{}/{}", os.name, op.name);
            if other < me {
                continue;
            }
            let ends = [key, (os.name.clone(), op.name.clone())];
            let (closed, members): (Vec<PortKey>, Vec<PortKey>) =
                ends.into_iter().partition(|k| kernel.contains_key(&k.0));
            out.push(DeviceSpec {
                key: me,
                // An in-memory wire's differs from any veth pair's, so a
                // veth an older vepa made for it is swept, not adopted.
                fingerprint: match closed.len() {
                    0 => format!("{}m", fingerprint(&[p, op])),
                    n => format!("{}{n}", fingerprint(&[p, op])),
                },
                members,
                kind: PortKind::Patch,
                owned: true,
                kernel: None,
                closed,
            });
            continue;
        }
        // A tap that exists already (a persistent one, not ours) is
        // attached rather than made; that is found out when it is opened.
        let owned = if p.kind == PortKind::Bond {
            !p.made_ifnames().is_empty()
        } else {
            driver(p).owns_devices()
        };
        out.push(DeviceSpec {
            key: me,
            members: vec![key],
            kind: p.kind,
            owned,
            fingerprint: fingerprint(&[p]),
            kernel: None,
            closed: Vec::new(),
        });
    }
    for s in &topo.switches {
        if let Some(shape) = kernel.get(&s.name) {
            // The far ends of its patch wires count too: a wire remade
            // because its other end changed takes this switch's devices
            // with it, so they are made again on the new wire.
            let mut text = serde_json::to_string(s).unwrap_or_default();
            for p in s.uplink.iter().chain(&s.ports) {
                let far = p
                    .peer
                    .as_deref()
                    .filter(|_| p.kind == PortKind::Patch)
                    .and_then(|x| x.split_once('/'))
                    .and_then(|(a, b)| find(topo, &(a.to_string(), b.to_string())));
                if let Some((_, op)) = far {
                    text.push_str(&serde_json::to_string(op).unwrap_or_default());
                }
            }
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in text.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            out.push(DeviceSpec {
                key: format!("kernel:{}", s.name),
                members: Vec::new(),
                kind: PortKind::Netdev,
                owned: true,
                fingerprint: format!("{h:016x}"),
                kernel: Some(*shape),
                closed: Vec::new(),
            });
        }
    }
    out
}

/// The namespaces a port puts something in: its own, its bond members'.
fn port_namespaces(p: &PortSpec) -> Vec<&str> {
    p.netns
        .as_deref()
        .into_iter()
        .chain(
            p.bond
                .iter()
                .flat_map(|b| b.members.iter().filter_map(|m| m.netns.as_deref())),
        )
        .collect()
}

/// Marks and sweeps on behalf of one daemon instance.
#[derive(Debug, Clone)]
pub struct Owner {
    pub instance: String,
    pub opts: PortOptions,
}

impl Owner {
    fn prefix(&self) -> String {
        format!("vepa:{}:", self.instance)
    }

    fn alias(&self, d: &DeviceSpec) -> String {
        format!("{}{}#{}", self.prefix(), d.key, d.fingerprint)
    }

    /// The alias of router `r`'s persistent TUN device `p`: this
    /// instance's, so the sweep removes one no desired port accounts for
    /// (left by a crash or a failed change) and another instance never
    /// adopts it.
    pub fn tun_mark(&self, r: &str, p: &vepa_api::topology::router::RouterPortSpec) -> String {
        format!("{}tun {r}:{}", self.prefix(), p.name)
    }

    /// Whether router `r`'s TUN port `p` cannot have its device: the name
    /// is taken by an interface that is not this instance's device for it.
    pub fn tun_taken(&self, r: &str, p: &vepa_api::topology::router::RouterPortSpec) -> bool {
        crate::ports::tun_name_taken(p, &self.tun_mark(r, p))
    }

    /// Removes router `r`'s persistent TUN device `p`, if it is ours.
    pub fn remove_tun(&self, r: &str, p: &vepa_api::topology::router::RouterPortSpec) {
        crate::ports::remove_persistent_tun(p, &self.tun_mark(r, p));
    }

    fn netns_mark(&self) -> String {
        format!("{}netns", self.prefix())
    }

    /// A locally administered MAC that depends only on this instance and the port.
    fn stable_mac(&self, key: &str) -> vepa_packet::MacAddr {
        let mut h: u32 = 0x811c_9dc5;
        for b in self.instance.bytes().chain([b'/']).chain(key.bytes()) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        vepa_packet::MacAddr::local_from_seed(h)
    }

    fn owns_link(&self, ifname: &str) -> bool {
        host::alias(ifname).is_some_and(|a| a.starts_with(&self.prefix()))
    }

    /// The host interfaces of a device's ports.
    fn ifnames(topo: &Topology, d: &DeviceSpec) -> Vec<String> {
        d.members
            .iter()
            .chain(&d.closed)
            .filter_map(|k| find(topo, k))
            .flat_map(|(_, p)| p.made_ifnames())
            .collect()
    }

    /// Opens the device as it stands when every interface carries this
    /// device's mark (same fingerprint); None when it must be made.
    pub fn adopt(&self, topo: &Topology, d: &DeviceSpec) -> Option<Result<Device>> {
        if let Some(shape) = d.kernel {
            return self.adopt_kernel(topo, d, shape);
        }
        // Which kinds can be taken over is their drivers' to say: a
        // container's tap dies with the daemon's descriptor, a VM's tap
        // persists (QEMU holds it) and is adopted like a veth.
        if !d.owned {
            return None;
        }
        let want = self.alias(d);
        let names = Self::ifnames(topo, d);
        if names.is_empty()
            || names
                .iter()
                .any(|n| host::alias(n).as_deref() != Some(&want))
        {
            return None;
        }
        let mut ports: Vec<(PortKey, Arc<dyn Port>)> = Vec::new();
        for k in &d.members {
            let (_, p) = find(topo, k)?;
            match driver(p).adopt(p, self.opts)? {
                Ok(port) => ports.push((k.clone(), port)),
                Err(e) => return Some(Err(e.context(format!("switch '{}', port '{}'", k.0, k.1)))),
            }
        }
        Some(Ok(Device {
            spec: d.clone(),
            ports,
            // Deleting one end of a veth pair deletes both; a bond's
            // members are pairs of their own.
            links: if d.kind == PortKind::Bond {
                names
            } else {
                names[..1].to_vec()
            },
            links_in: Vec::new(),
        }))
    }

    fn kernel_switch<'t>(topo: &'t Topology, d: &DeviceSpec) -> Option<&'t SwitchSpec> {
        d.key
            .strip_prefix("kernel:")
            .and_then(|name| topo.switch(name))
    }

    /// The alias of a link in a namespace (vepa's own for None).
    fn alias_in(ns: &Option<String>, name: &str) -> Option<String> {
        match ns {
            None => host::alias(name),
            Some(ns) => {
                let n = name.to_string();
                host::netlink(Some(ns), move |nl| Ok(nl.link(&n)?.and_then(|l| l.alias)))
                    .ok()
                    .flatten()
            }
        }
    }

    fn adopt_kernel(
        &self,
        topo: &Topology,
        d: &DeviceSpec,
        shape: KernelShape,
    ) -> Option<Result<Device>> {
        let s = Self::kernel_switch(topo, d)?;
        let want = self.alias(d);
        let links = kernel::links_of(s, shape);
        if links
            .iter()
            .any(|(ns, n)| Self::alias_in(ns, n).as_deref() != Some(&want))
        {
            return None;
        }
        let (root, inside): (Vec<_>, Vec<_>) = links.into_iter().partition(|(ns, _)| ns.is_none());
        Some(Ok(Device {
            spec: d.clone(),
            ports: Vec::new(),
            links: root.into_iter().map(|(_, n)| n).collect(),
            links_in: inside
                .into_iter()
                .filter_map(|(ns, n)| ns.map(|ns| (ns, n)))
                .collect(),
        }))
    }

    fn create_kernel(&self, topo: &Topology, d: &DeviceSpec, shape: KernelShape) -> Result<Device> {
        let s = Self::kernel_switch(topo, d).context("kernel switch missing from the topology")?;
        // Stale parts of ours in the way go first.
        for (ns, n) in kernel::links_of(s, shape) {
            if Self::alias_in(&ns, &n).is_some_and(|a| a.starts_with(&self.prefix())) {
                let _ = host::del_link_in(ns.as_deref(), &n);
            }
        }
        let mut state = HostState::default();
        let mut maker = PortMaker::new(topo, self.opts);
        kernel::realize(&mut maker, &mut state, s, shape, false)?;
        let alias = self.alias(d);
        for l in state.links() {
            host::set_alias(None, l, &alias)
                .with_context(|| format!("switch '{}': mark {l}", s.name))?;
        }
        for (ns, l) in state.links_in() {
            host::set_alias(Some(ns), l, &alias)
                .with_context(|| format!("switch '{}': mark {l}", s.name))?;
        }
        for ns in state.namespaces() {
            host::set_alias(Some(ns), "lo", &self.netns_mark())
                .with_context(|| format!("netns '{ns}': mark"))?;
        }
        let links = state.links().map(str::to_string).collect();
        let links_in = state
            .links_in()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        state.keep();
        Ok(Device {
            spec: d.clone(),
            ports: Vec::new(),
            links,
            links_in,
        })
    }

    /// Makes (or attaches to) the device. A stale device of ours in the
    /// way is removed first; anything else in the way is an error naming
    /// the field. On an error nothing made here is left behind.
    pub fn create(&self, topo: &Topology, d: &DeviceSpec) -> Result<Device> {
        if let Some(shape) = d.kernel {
            return self.create_kernel(topo, d, shape);
        }
        let members: Vec<(&SwitchSpec, &PortSpec)> =
            d.members.iter().filter_map(|k| find(topo, k)).collect();
        let closed: Vec<(&SwitchSpec, &PortSpec)> =
            d.closed.iter().filter_map(|k| find(topo, k)).collect();
        for (s, p) in members.iter().chain(&closed) {
            for name in p.made_ifnames() {
                if d.owned && self.owns_link(&name) {
                    let _ = host::del_link(&name);
                }
            }
            preflight_port(s, p)?;
        }
        let mut state = HostState::default();
        let mut maker = PortMaker::new(topo, self.opts)
            .with_kernel_switches(d.closed.iter().map(|k| k.0.clone()));
        let mut ports = Vec::new();
        for (s, p) in &members {
            // A tap dies with the daemon and is made again at the next
            // start; a MAC of its own that stays the same keeps the
            // neighbours' ARP caches right across the restart.
            let mut stable;
            let p = if driver(p).stable_mac() && p.mac.is_none() {
                stable = (*p).clone();
                stable.mac = Some(self.stable_mac(&d.key));
                &stable
            } else {
                *p
            };
            let port = maker.open(&mut state, s, p)?;
            ports.push(((s.name.clone(), p.name.clone()), port));
        }
        for (s, p) in &closed {
            maker
                .ensure_patch(&mut state, s, p)
                .with_context(|| format!("switch '{}', port '{}'", s.name, p.name))?;
        }
        let alias = self.alias(d);
        // Whether what was made carries the mark is the drivers' to say
        // (a VM's tap only when vepa made it: one a VM manager made stays
        // theirs, never removed, never adopted).
        let made = |p: &PortSpec| {
            p.made_ifnames()
                .iter()
                .all(|n| state.links().any(|l| l == n))
        };
        if !d.in_memory()
            && members
                .iter()
                .chain(&closed)
                .all(|(_, p)| driver(p).marked(p, made(p)))
        {
            for (s, p) in members.iter().chain(&closed) {
                for name in p.made_ifnames() {
                    host::set_alias(None, &name, &alias)
                        .with_context(|| format!("switch '{}', port '{}': mark", s.name, p.name))?;
                }
            }
        }
        for ns in state.namespaces() {
            host::set_alias(Some(ns), "lo", &self.netns_mark())
                .with_context(|| format!("netns '{ns}': mark"))?;
        }
        let links = state.links().map(str::to_string).collect();
        state.keep();
        Ok(Device {
            spec: d.clone(),
            ports,
            links,
            links_in: Vec::new(),
        })
    }

    /// The interfaces and namespaces making `d` would create (for the
    /// store's pending record): names nothing has yet, or that a stale
    /// device of ours has, so a crash never makes vepa remove a stranger's.
    pub fn would_create(
        &self,
        topo: &Topology,
        d: &DeviceSpec,
    ) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
        let mut links = Vec::new();
        let mut netns = Vec::new();
        let mut links_in = Vec::new();
        if let (Some(shape), Some(s)) = (d.kernel, Self::kernel_switch(topo, d)) {
            for (ns, n) in kernel::links_of(s, shape) {
                match ns {
                    None if !host::link_exists(&n) || self.owns_link(&n) => links.push(n),
                    None => {}
                    // Only a name that is free there, or a stale one of
                    // ours: a crash must never make vepa remove another's.
                    Some(ns) => {
                        let exists = {
                            let (ns, n) = (ns.clone(), n.clone());
                            host::netns_exists(&ns)
                                && host::netlink(Some(&ns), move |nl| Ok(nl.link(&n)?.is_some()))
                                    .unwrap_or(true)
                        };
                        let ours = Self::alias_in(&Some(ns.clone()), &n)
                            .is_some_and(|a| a.starts_with(&self.prefix()));
                        if !exists || ours {
                            links_in.push((ns, n));
                        }
                    }
                }
            }
            for p in s.uplink.iter().chain(&s.ports) {
                if let Some(ns) = p.netns.as_ref().filter(|ns| !host::netns_exists(ns)) {
                    netns.push(ns.clone());
                }
            }
            return (links, netns, links_in);
        }
        for (_, p) in d
            .members
            .iter()
            .chain(&d.closed)
            .filter_map(|k| find(topo, k))
        {
            for name in p.made_ifnames() {
                if d.owned && !d.in_memory() && (!host::link_exists(&name) || self.owns_link(&name))
                {
                    links.push(name);
                }
            }
            for ns in p
                .netns
                .iter()
                .cloned()
                .chain(p.member_ports().into_iter().filter_map(|m| m.netns))
            {
                if !host::netns_exists(&ns) {
                    netns.push(ns);
                }
            }
        }
        (links, netns, links_in)
    }

    /// After a crash: removes what a change had begun to create but not
    /// yet marked (unmarked interfaces and namespaces on the pending list
    /// that the desired state does not use); marks pending namespaces it
    /// does use, since vepa made them.
    pub fn clean_pending(
        &self,
        topo: &Topology,
        links: &[String],
        netns: &[String],
        links_in: &[(String, String)],
    ) {
        for (ns, l) in links_in {
            if host::netns_exists(ns) && Self::alias_in(&Some(ns.clone()), l).is_none() {
                let exists = {
                    let n = l.clone();
                    host::netlink(Some(ns), move |nl| Ok(nl.link(&n)?.is_some())).unwrap_or(false)
                };
                if exists {
                    tracing::info!(netns = %ns, link = %l, "removing a device a crash left half-made");
                    let _ = host::del_link_in(Some(ns), l);
                }
            }
        }
        for l in links {
            if host::link_exists(l) && host::alias(l).is_none() {
                tracing::info!(link = %l, "removing a device a crash left half-made");
                let _ = host::del_link(l);
            }
        }
        let used: HashSet<&str> = topo
            .ports()
            .flat_map(|(_, _, p)| port_namespaces(p))
            .chain(topo.tun_ports().filter_map(|(_, p)| p.netns.as_deref()))
            .collect();
        for ns in netns {
            if host::netns_clear_stale(ns) {
                tracing::info!(netns = %ns, "removed the file a crash left where a namespace was being made");
            }
            if !host::netns_exists(ns) || host::netns_alias(ns).is_some() {
                continue;
            }
            if used.contains(ns.as_str()) {
                let _ = host::set_alias(Some(ns), "lo", &self.netns_mark());
            } else {
                tracing::info!(netns = %ns, "removing a namespace a crash left half-made");
                let _ = host::del_netns(ns);
            }
        }
    }

    /// Removes a device vepa made (closing its ports first); attached ones are only closed.
    pub fn remove(&self, dev: Device) {
        drop(dev.ports);
        for (ns, l) in &dev.links_in {
            if host::netns_exists(ns) {
                let _ = host::del_link_in(Some(ns), l);
            }
        }
        driver_of(dev.spec.kind, false).remove(&dev.links);
    }

    /// Makes router `r`'s TUN port `p` and opens it (its namespace made
    /// and marked as ours if missing). The device goes when the port is
    /// dropped.
    pub fn open_tun(
        &self,
        r: &vepa_api::topology::router::RouterSpec,
        p: &vepa_api::topology::router::RouterPortSpec,
    ) -> Result<Arc<dyn Port>> {
        if let Some(ns) = &p.netns {
            if !host::netns_exists(ns) {
                host::add_netns(ns).with_context(|| format!("netns '{ns}'"))?;
                let _ = host::set_alias(Some(ns), "lo", &self.netns_mark());
            }
        }
        let mut state = HostState::default();
        let port = crate::ports::open_tun(&mut state, r, p, &self.tun_mark(&r.name, p))?;
        // A persistent device stays with the port, not with this call.
        state.keep();
        Ok(port)
    }

    /// Removes marked interfaces that no live device accounts for, and
    /// marked namespaces no port of `topo` uses (its routers' TUN ports
    /// included).
    pub fn sweep(&self, topo: &Topology, live: &[&DeviceSpec]) {
        let keep: HashSet<String> = live
            .iter()
            .map(|d| self.alias(d))
            .chain(
                topo.tun_ports()
                    .filter(|(_, p)| p.persist)
                    .map(|(r, p)| self.tun_mark(&r.name, p)),
            )
            .collect();
        let prefix = self.prefix();
        for l in host::links() {
            if let Some(a) = host::alias(&l) {
                if a.starts_with(&prefix) && !keep.contains(&a) && host::link_exists(&l) {
                    tracing::info!(link = %l, "removing a device of ours the desired state no longer has");
                    let _ = host::del_link(&l);
                }
            }
        }
        // Marked links inside namespaces (a kernel switch's macvlans) that
        // no live device accounts for: left by a crash before a commit.
        // A namespace's own mark (on its loopback) is not a device.
        let netns_mark = self.netns_mark();
        for ns in host::namespaces() {
            let (p, k, mark) = (prefix.clone(), keep.clone(), netns_mark.clone());
            let stale = host::netlink(Some(&ns), move |nl| {
                Ok(nl
                    .links()?
                    .into_iter()
                    .filter(|l| {
                        l.alias
                            .as_ref()
                            .is_some_and(|a| a.starts_with(&p) && !k.contains(a) && *a != mark)
                    })
                    .map(|l| l.name)
                    .collect::<Vec<_>>())
            })
            .unwrap_or_default();
            for l in stale {
                tracing::info!(netns = %ns, link = %l, "removing a device of ours the desired state no longer has");
                let _ = host::del_link_in(Some(&ns), &l);
            }
        }
        let used: HashSet<&str> = topo
            .ports()
            .flat_map(|(_, _, p)| port_namespaces(p))
            .chain(topo.tun_ports().filter_map(|(_, p)| p.netns.as_deref()))
            .collect();
        let mark = self.netns_mark();
        for ns in host::namespaces() {
            if !used.contains(ns.as_str()) && host::netns_alias(&ns).as_deref() == Some(&mark) {
                tracing::info!(netns = %ns, "removing a namespace of ours no port uses");
                let _ = host::del_netns(&ns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(mtu: u32) -> Topology {
        Topology::parse(
            "t",
            &format!(
                "[[switch]]\nname = \"kb\"\nbackend = \"kernel\"\n[[switch.port]]\nname = \"w\"\ntype = \"patch\"\npeer = \"u/w\"\n\
                 [[switch]]\nname = \"u\"\n[[switch.port]]\nname = \"w\"\ntype = \"patch\"\npeer = \"kb/w\"\nmtu = {mtu}\n"
            ),
        )
        .expect("topology")
    }

    #[test]
    fn a_kernel_switch_is_remade_with_the_wires_it_hangs_on() {
        let kernel: HashMap<String, KernelShape> = [("kb".to_string(), KernelShape::Bridge)].into();
        let fp = |t: &Topology| -> (String, String) {
            let d = devices(t, &kernel);
            let unit = d
                .iter()
                .find(|x| x.key == "kernel:kb")
                .expect("unit")
                .fingerprint
                .clone();
            let wire = d
                .iter()
                .find(|x| x.kind == PortKind::Patch)
                .expect("wire")
                .fingerprint
                .clone();
            (unit, wire)
        };
        let (a, b) = (fp(&topo(1500)), fp(&topo(9000)));
        assert_ne!(a.1, b.1, "the wire changes with its far end");
        assert_ne!(a.0, b.0, "so does the kernel switch on it");
    }
}
