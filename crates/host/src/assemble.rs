//! Turning a validated topology into a running forwarder: the one
//! assembly both `vepa run` and the daemon use, and [`realize`], which
//! makes every device of a topology first (for `vepa run` and the demo).
//!
//! Everything is checked that can be checked before the first device is
//! made; then devices are created one by one, each recorded in
//! [`HostState`] so that an error half-way, a signal or the normal end
//! removes exactly what this run made, in reverse order, and nothing else.

use crate::filters::Filters;
use crate::kernel::{self, Choice};
use crate::ports::{patch_key, preflight_port, PortMaker, PortOptions};
use crate::state::{running_as_root, HostState};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::sync::Arc;
use vepa_api::topology::router::{switch_port_name, RouterPortKind};
use vepa_api::topology::sdn::with_mode;
use vepa_api::topology::TUN_DEVICE_PORT;
use vepa_api::topology::{PortKind, PortSpec, SwitchSpec, Topology};
use vepa_dataplane::router::{Router, RouterConfig};
use vepa_dataplane::{Switch, SwitchConfig, SwitchCore};
use vepa_io::{Attachment, CapturePoint, Forwarder, Port, RouterAttachment};

/// A topology running on the host: the forwarder and what it needs removed.
/// Drop order matters: ports (and the taps they own) close before the host
/// devices go.
pub struct Realized {
    pub forwarder: Forwarder,
    pub host: HostState,
    /// Each switch's backend, and why.
    pub choices: Vec<Choice>,
    /// The filters installed, for their connection tables to be expired.
    pub filters: Filters,
}

/// Each router port's switch index and port, in `configs`' switches.
pub fn router_attachment(
    router: Arc<Router>,
    cfg: &RouterConfig,
    topo: &Topology,
    configs: &[SwitchConfig],
) -> RouterAttachment {
    let spec = topo.router(&cfg.name);
    let ports = cfg
        .ports
        .iter()
        .map(|p| {
            let q = spec?.ports.iter().find(|q| q.name == p.name)?;
            // A TUN port's link is a switch of its own, named after it.
            let sw = match q.kind {
                RouterPortKind::Tun => switch_port_name(&cfg.name, &p.name),
                RouterPortKind::Switch => q.switch.clone(),
            };
            let si = configs.iter().position(|c| c.name == sw)?;
            let id = configs[si].port_id(&switch_port_name(&cfg.name, &p.name))?;
            Some((si, id))
        })
        .collect();
    RouterAttachment { router, ports }
}

/// A TUN router port's open device, by its link's name
/// ([`Topology::tun_links`]), with its capture point.
pub type TunDevice = (String, Arc<dyn Port>, Arc<CapturePoint>);

/// Builds the forwarder of `topo`, the one way both `vepa run` and the
/// daemon do: `switches` made from its switch configs (pipelines set; a
/// switch that refused its config is simply not there) and its TUN
/// ports' links after them, each port `port_of` opens (a port it gives
/// none for is left out: a kernel switch's, a device that is down) with
/// the capture point `vepa capture` listens on, the TUN devices `tuns`
/// on their links, the topology's `routers` attached where their ports
/// sit, and its ACLs and port guards installed through `filters`.
pub fn assemble(
    topo: &Topology,
    switches: Vec<Switch>,
    tuns: Vec<TunDevice>,
    routers: &HashMap<String, Arc<Router>>,
    filters: &mut Filters,
    mut port_of: impl FnMut(&SwitchSpec, &PortSpec) -> Option<(Arc<dyn Port>, Arc<CapturePoint>)>,
) -> Forwarder {
    let configs: Vec<SwitchConfig> = switches.iter().map(|s| (*s.config()).clone()).collect();
    let mut attachments = Vec::new();
    for (_, s, p) in topo.ports() {
        // The switch's place among those running (one that refused its
        // config is not), and the port's in that switch.
        let Some(si) = configs.iter().position(|c| c.name == s.name) else {
            continue;
        };
        let Some(id) = configs[si].port_id(&p.name) else {
            continue;
        };
        let Some((port, capture)) = port_of(s, p) else {
            continue;
        };
        // Both ends of a patch share a key, so one worker serves the wire.
        let affinity = (p.kind == PortKind::Patch).then(|| patch_key(topo, &s.name, p));
        attachments.push(Attachment {
            port,
            switch: si,
            id,
            affinity,
            capture,
        });
    }
    for (link, port, capture) in tuns {
        let Some(si) = configs.iter().position(|c| c.name == link) else {
            continue;
        };
        let Some(id) = configs[si].port_id(TUN_DEVICE_PORT) else {
            continue;
        };
        attachments.push(Attachment {
            port,
            switch: si,
            id,
            affinity: None,
            capture,
        });
    }
    let attached = topo
        .routers
        .iter()
        .filter_map(|spec| {
            let r = routers.get(&spec.name)?;
            let cfg = r.tables().config.clone();
            Some(router_attachment(Arc::clone(r), &cfg, topo, &configs))
        })
        .collect();
    let cores: HashMap<String, Arc<SwitchCore>> = switches
        .iter()
        .map(|s| (s.name(), Arc::clone(s.core())))
        .collect();
    filters.apply(topo, &cores, routers);
    let mut forwarder = Forwarder::new(switches, attachments);
    forwarder.set_routers(attached);
    forwarder
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

/// Makes every device of `topo` on the host, opens its ports and
/// assembles its forwarder (`vepa run`, the demo): no controller, so the
/// flows are the file's and misses go as the fail mode says.
pub fn realize(topo: &Topology, configs: Vec<SwitchConfig>, opts: PortOptions) -> Result<Realized> {
    preflight(topo)?;
    let choices = kernel::decide(topo)?;
    let mut state = HostState::default();
    let kernel_switches = topo
        .switches
        .iter()
        .zip(&choices)
        .filter(|(_, c)| c.kernel.is_some())
        .map(|(s, _)| s.name.clone());
    let mut maker = PortMaker::new(topo, opts).with_kernel_switches(kernel_switches);
    for (s, c) in topo.switches.iter().zip(&choices) {
        tracing::info!(switch = %s.name, "{}", c.why);
        if let Some(shape) = c.kernel {
            kernel::realize(&mut maker, &mut state, s, shape, true)?;
        }
    }
    let mut ports: HashMap<(String, String), Arc<dyn Port>> = HashMap::new();
    for (si, s, p) in topo.ports() {
        if choices[si].kernel.is_some() {
            // The kernel forwards for this switch; vepa has no port on it.
            continue;
        }
        ports.insert(
            (s.name.clone(), p.name.clone()),
            maker.open(&mut state, s, p)?,
        );
    }
    let mut tuns = Vec::new();
    for (r, p) in topo.tun_ports() {
        let mark = crate::ports::persist_mark(&r.name, p);
        let port = crate::ports::open_tun(&mut state, r, p, &mark)?;
        tuns.push((switch_port_name(&r.name, &p.name), port, Arc::default()));
    }
    let mut switches = configs
        .into_iter()
        .zip(&topo.switches)
        .map(|(c, spec)| {
            let sw = Switch::new(c).context("switch")?;
            let p = with_mode(spec.pipeline(0)?, spec.openflow.as_ref(), false);
            sw.set_pipeline(Arc::new(p));
            Ok(sw)
        })
        .collect::<Result<Vec<_>>>()?;
    for link in topo.tun_links() {
        switches.push(Switch::new(link).context("tun link")?);
    }
    let mut routers = HashMap::new();
    for cfg in topo.router_configs()? {
        let r = Router::new(&cfg).context("router")?;
        routers.insert(cfg.name.clone(), Arc::new(r));
    }
    let mut filters = Filters::default();
    let forwarder = assemble(topo, switches, tuns, &routers, &mut filters, |s, p| {
        let port = ports.remove(&(s.name.clone(), p.name.clone()))?;
        Some((port, Arc::default()))
    });
    Ok(Realized {
        forwarder,
        filters,
        host: state,
        choices,
    })
}
