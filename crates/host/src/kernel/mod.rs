//! Switches made of the kernel's own devices (`backend = "kernel"`, or
//! `"auto"` when it fits): macvlan/macvtap devices on the uplink's
//! interface, ipvlan devices for an ipvlan switch, or a Linux bridge with
//! hairpin for relay. Which switches can
//! be, and why not, is `vepa_api::topology::kernel`; this module decides
//! for each switch of a topology and makes the devices, recording each in
//! the run's [`HostState`] so that it goes as exactly as the userspace ports.

mod bridge;
mod ipvlan;
mod macvlan;

use crate::ports::PortMaker;
use crate::state::HostState;
use anyhow::{bail, Result};
use vepa_api::topology::kernel::{features_needed, kernel_shape, KernelShape};
use vepa_api::topology::{Backend, ModeName, PortKind, SwitchSpec, Topology};

pub use bridge::bridge_name;
pub use ipvlan::mode_and_flag as ipvlan_mode_and_flag;

/// How one switch is realized, and why.
#[derive(Debug, Clone)]
pub struct Choice {
    pub kernel: Option<KernelShape>,
    pub why: String,
}

/// Decides every switch's backend; `kernel` switches that cannot be are errors.
pub fn decide(topo: &Topology) -> Result<Vec<Choice>> {
    decide_with(topo, true)
}

/// [`decide`]; with `strict` off, a `kernel` switch whose kernel features
/// are missing stays a kernel switch (its devices, if they exist, are
/// adopted; if they cannot be made, they are reported down) instead of
/// failing: what a daemon restarting on its stored state needs.
pub fn decide_with(topo: &Topology, strict: bool) -> Result<Vec<Choice>> {
    let mut features: Option<Vec<(String, bool, String)>> = None;
    let mut feature = |name: &str| -> (bool, String) {
        let f = features.get_or_insert_with(|| {
            vepa_kernel::doctor::run()
                .features
                .into_iter()
                .map(|f| (f.name, f.available, f.detail))
                .collect()
        });
        f.iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, a, d)| (*a, d.clone()))
            .unwrap_or((false, "not checked".into()))
    };
    let mut out = Vec::new();
    for s in &topo.switches {
        if s.backend == Backend::Userspace {
            out.push(Choice {
                kernel: None,
                why: "userspace (asked for)".into(),
            });
            continue;
        }
        let shape = match kernel_shape(s).and_then(|shape| {
            match topo.router_ports_on(&s.name).next() {
                Some((r, p)) => Err(vepa_api::topology::kernel::Unfit {
                    port: None,
                    field: "router",
                    why: format!(
                        "router port {}:{} is on it, and routing is vepa's userspace dataplane",
                        r.name, p.name
                    ),
                }),
                None => Ok(shape),
            }
        })
        .and_then(|shape| {
            let guarded = s.uplink.iter().chain(&s.ports).find(|p| p.guard);
            let listed = topo
                .acls
                .iter()
                .find(|a| a.port.as_deref().and_then(|p| p.split_once('/')).is_some_and(|(sw, _)| sw == s.name));
            match (guarded, listed) {
                (Some(p), _) => Err(vepa_api::topology::kernel::Unfit {
                    port: Some(p.name.clone()),
                    field: "guard",
                    why: "anti-spoofing is vepa's userspace dataplane".into(),
                }),
                (None, Some(a)) => Err(vepa_api::topology::kernel::Unfit {
                    port: None,
                    field: "acl",
                    why: format!("ACL '{}' filters one of its ports, and filtering is vepa's userspace dataplane", a.name),
                }),
                (None, None) => Ok(shape),
            }
        }) {
            Ok(shape) => shape,
            Err(u) if s.backend == Backend::Kernel => {
                let at = match &u.port {
                    Some(p) => format!("switch '{}', port '{p}'", s.name),
                    None => format!("switch '{}'", s.name),
                };
                bail!(
                    "{at}: {}: a kernel switch cannot do this: {}; use backend = \"userspace\" (or \"auto\")",
                    u.field,
                    u.why
                );
            }
            Err(u) => {
                out.push(Choice {
                    kernel: None,
                    why: format!("userspace: {} ({})", u.why, u.field),
                });
                continue;
            }
        };
        let missing: Vec<String> = features_needed(s, shape)
            .into_iter()
            .filter(|f| !feature(f).0)
            .collect();
        if !missing.is_empty() {
            if s.backend == Backend::Kernel && !strict {
                out.push(Choice {
                    kernel: Some(shape),
                    why: format!(
                        "kernel, though this kernel now lacks {} (see `vepa doctor`)",
                        missing.join(", ")
                    ),
                });
                continue;
            }
            if s.backend == Backend::Kernel {
                bail!(
                    "switch '{}': backend: this kernel lacks {} (see `vepa doctor`); use backend = \"userspace\"",
                    s.name,
                    missing.join(", ")
                );
            }
            out.push(Choice {
                kernel: None,
                why: format!("userspace: the kernel lacks {}", missing.join(", ")),
            });
            continue;
        }
        let private = s
            .ports
            .iter()
            .any(|p| p.mode.unwrap_or(s.mode) == ModeName::Private);
        if s.backend == Backend::Auto && private {
            out.push(Choice {
                kernel: None,
                why: "userspace: private isolation against reflected unicast holds only in vepa's dataplane".into(),
            });
            continue;
        }
        out.push(Choice {
            kernel: Some(shape),
            why: match shape {
                KernelShape::Macvlan => "kernel: macvlan/macvtap on the uplink".into(),
                KernelShape::Bridge => "kernel: Linux bridge".into(),
                KernelShape::Ipvlan => format!(
                    "kernel: ipvlan devices ({}) on the uplink",
                    s.ipvlan_mode.unwrap_or_default().as_str()
                ),
            },
        });
    }
    Ok(out)
}

/// The links a kernel switch is made of, with the namespace each is in
/// (None: vepa's own), patch wires aside (those are their own devices).
pub fn links_of(s: &SwitchSpec, shape: KernelShape) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    match shape {
        KernelShape::Macvlan | KernelShape::Ipvlan => {
            if let Some(up) = s.uplink.as_ref().filter(|u| u.kind == PortKind::Veth) {
                out.push((None, up.host_ifname().to_string()));
            }
            for p in &s.ports {
                match (&p.netns, p.kind) {
                    (Some(ns), PortKind::Veth) => {
                        out.push((Some(ns.clone()), p.peer_ifname().to_string()))
                    }
                    _ => out.push((None, p.host_ifname().to_string())),
                }
            }
        }
        KernelShape::Bridge => {
            out.push((None, s.name.clone()));
            for p in s.ports.iter().filter(|p| p.kind == PortKind::Veth) {
                out.push((None, p.host_ifname().to_string()));
            }
        }
    }
    out
}

/// Makes switch `s` of kernel shape `shape`.
/// With `make_patches` false, the patch wires it hangs on exist already
/// (the daemon makes them as devices of their own).
pub fn realize(
    maker: &mut PortMaker,
    state: &mut HostState,
    s: &SwitchSpec,
    shape: KernelShape,
    make_patches: bool,
) -> Result<()> {
    match shape {
        KernelShape::Macvlan => macvlan::switch(maker, state, s, make_patches),
        KernelShape::Bridge => bridge::switch(maker, state, s, make_patches),
        KernelShape::Ipvlan => ipvlan::switch(maker, state, s, make_patches),
    }
}
