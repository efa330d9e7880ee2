//! The running side of the daemon: the devices on the host, the switches
//! and the forwarder, kept equal to the stored desired state.
//!
//! Every change, whatever API call asked for it, is a new desired
//! topology. It is checked, diffed against the one in force, carried out
//! and committed to the store, in that order, whole or not at all:
//!
//! - changes to forwarding only (modes, relay, VLANs, limits, static FDB
//!   entries, ageing) are swapped into the running switches, without
//!   stopping a thread or dropping a frame of the traffic they still allow;
//! - changes to ports or switches stop the forwarder between two batches,
//!   remove and make devices (each step undone if a later one fails),
//!   and start a forwarder over the new layout; what the switches learned
//!   on the ports they keep, and every counter, carries over.
//!
//! A failure before the commit puts host and dataplane back as they were;
//! the store is written only when everything else worked, and the caller
//! acknowledges only after the write. A crash in between leaves the store
//! at the last acknowledged state, which the next start reconciles onto the
//! host (devices adopted, made again, or removed).

use super::store::{Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;
use vepa_api::plan::diff;
use vepa_api::topology::kernel::KernelShape;
use vepa_api::topology::router::{switch_port_name, RouterPortSpec};
use vepa_api::topology::{PortKind, Topology, TopologyError};
use vepa_api::wire::{ApplyResult, FdbRow, MdbRow, PortStats, Stats, SwitchStats};
use vepa_dataplane::flow::Pipeline;
use vepa_dataplane::router::{Router, RouterConfig};
use vepa_dataplane::{PortCounters, PortId, Switch, SwitchConfig, SwitchCore};
use vepa_host::devices::{self, Device, DeviceSpec, Owner, PortKey};
use vepa_io::{CapturePoint, Forwarder, LiveCounters};

mod querier;
mod trace;
mod views;
pub use trace::frame_of as trace_frame_of;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Invalid(#[from] TopologyError),
    #[error("{message}")]
    NotFound { field: String, message: String },
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// The host refused (an interface in the way, a namespace that cannot be made...).
    #[error("{0:#}")]
    Host(anyhow::Error),
    #[error(transparent)]
    Store(Box<StoreError>),
    /// A flow or group the switch refused.
    #[error("{message}")]
    Flow {
        field: String,
        message: String,
        error: vepa_dataplane::flow::FlowError,
    },
}

/// What the API answers for a switch that is not there (404, `switch`).
pub fn no_switch(name: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "switch".into(),
        message: format!("no switch '{name}'"),
    }
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> ChangeError {
        ChangeError::Store(Box::new(e))
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Forwarder, std::io::Result<()>)>,
    live: Arc<LiveCounters>,
    /// Switch and port names in the forwarder's order.
    layout: Vec<(String, Vec<String>)>,
    /// What the workers run, for `vepa trace`.
    datapath: vepa_dataplane::Datapath,
}

/// Flow-by-flow edits of one switch not yet in the store.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    /// Flow identity → its install order and text now (`None`: removed).
    pub rows: HashMap<String, Option<(u64, String)>>,
    /// Groups or meters changed: the topology record is written too.
    pub record: bool,
}

impl Journal {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && !self.record
    }
}

/// One switch's SDN state.
#[derive(Debug, Clone, Default)]
pub struct Sdn {
    pub pipeline: Pipeline,
    /// The desired state's flow texts lag behind the pipeline.
    pub text_stale: bool,
    /// Edits the store does not have yet.
    pub journal: Journal,
    /// An active controller connection is up.
    pub controller_up: bool,
}

pub struct Engine {
    owner: Owner,
    pub(super) store: Store,
    workers: vepa_io::Workers,
    /// FDB times count from here for the daemon's whole life.
    epoch: Instant,
    /// When flows were last edited and last written to the store (ms of `epoch`).
    pub(super) flows_edited_ms: u64,
    pub(super) flows_flushed_ms: u64,
    pub(super) desired: Topology,
    pub(super) generation: u64,
    devices: BTreeMap<String, Device>,
    /// Devices that could not be made at start, and why (their ports run without a device).
    failed: BTreeMap<String, (DeviceSpec, String)>,
    pub(super) cores: HashMap<String, Arc<SwitchCore>>,
    /// Each switch's flow tables.
    pub(super) sdn: HashMap<String, Sdn>,
    /// Where forwarders send controller copies.
    packet_in: Option<vepa_io::PacketInSink>,
    /// Where forwarders send link protocols' frames, and what the link
    /// agent made of them.
    pub(super) link: Option<(vepa_io::LinkSink, Arc<Mutex<crate::link::LinkTable>>)>,
    captures: HashMap<PortKey, Arc<CapturePoint>>,
    /// Routers' TUN ports, open (router, port): the spec they were made
    /// from and the device, which lives as long as it is held.
    tuns: HashMap<PortKey, (RouterPortSpec, Arc<dyn vepa_io::Port>)>,
    /// When each switch's querier last queried each VLAN (ms of `epoch`).
    pub(super) queried: HashMap<(String, u16), u64>,
    /// Counters of forwarders that have stopped.
    base: HashMap<PortKey, PortCounters>,
    running: Option<Running>,
    /// Each switch's backend and why, as last decided.
    pub(super) choices: HashMap<String, (bool, String)>,
    /// The routers, kept across forwarder restarts (their neighbors too).
    pub(super) routers: HashMap<String, Arc<Router>>,
    /// ACLs, guards and connection tables in force.
    pub(super) filters: vepa_host::Filters,
    /// Where switches' OpenFlow management sockets are, and whether the
    /// daemon has TLS files for `pssl:`/`ssl:`.
    openflow_dir: std::path::PathBuf,
    openflow_tls: bool,
}

/// Which switches the kernel makes (and their shape), and each switch's
/// backend with the reason, for a desired topology.
/// Kernel switches and their shapes; every switch's (kernel?, why).
type Backends = (
    HashMap<String, KernelShape>,
    HashMap<String, (bool, String)>,
);

fn backends(topo: &Topology, strict: bool) -> Result<Backends, ChangeError> {
    let choices = vepa_host::kernel::decide_with(topo, strict).map_err(|e| {
        ChangeError::Invalid(TopologyError::Invalid {
            at: "topology".into(),
            field: "backend".into(),
            problem: format!("{e:#}"),
        })
    })?;
    let mut kernel = HashMap::new();
    let mut why = HashMap::new();
    for (s, c) in topo.switches.iter().zip(choices) {
        if let Some(shape) = c.kernel {
            kernel.insert(s.name.clone(), shape);
        }
        why.insert(s.name.clone(), (c.kernel.is_some(), c.why));
    }
    Ok((kernel, why))
}

/// Switch and port names in dataplane order (router ports last).
/// The routers' TUN ports as their devices are made: a change to one
/// makes its device again.
fn tun_layout(topo: &Topology) -> Vec<(String, RouterPortSpec)> {
    topo.tun_ports()
        .map(|(r, p)| (r.name.clone(), p.clone()))
        .collect()
}

fn layout(topo: &Topology) -> Vec<(String, Vec<String>)> {
    topo.switches
        .iter()
        .map(|s| {
            let ports = s
                .uplink
                .iter()
                .chain(&s.ports)
                .map(|p| p.name.clone())
                .chain(
                    topo.router_ports_on(&s.name)
                        .map(|(r, p)| switch_port_name(&r.name, &p.name)),
                )
                .collect();
            (s.name.clone(), ports)
        })
        .collect()
}

impl Engine {
    /// Loads the stored state and makes the host match it: devices of ours
    /// adopted when they are as the state says, made when missing, removed
    /// when the state no longer has them.
    pub fn start(
        store: Store,
        owner: Owner,
        workers: vepa_io::Workers,
        packet_in: Option<vepa_io::PacketInSink>,
        link: Option<vepa_io::LinkSink>,
    ) -> Result<Engine, ChangeError> {
        let stored = store.load()?;
        let mut e = Engine {
            owner,
            store,
            workers,
            epoch: Instant::now(),
            queried: HashMap::new(),
            flows_edited_ms: 0,
            flows_flushed_ms: 0,
            desired: stored.topology,
            generation: stored.generation,
            devices: BTreeMap::new(),
            failed: BTreeMap::new(),
            cores: HashMap::new(),
            captures: HashMap::new(),
            tuns: HashMap::new(),
            base: HashMap::new(),
            running: None,
            choices: HashMap::new(),
            sdn: HashMap::new(),
            packet_in,
            link: link.map(|l| (l, Arc::default())),
            routers: HashMap::new(),
            filters: Default::default(),
            openflow_dir: std::path::PathBuf::from("/run/vepa"),
            openflow_tls: false,
        };
        for s in &mut e.desired.switches {
            if let Some(l) = s.openflow.as_mut().and_then(|o| o.drop_refused_plain_tcp()) {
                tracing::warn!(
                    switch = %s.name,
                    listen = %l,
                    "stored OpenFlow listener dropped: plain TCP is unauthenticated and now needs allow_plain_tcp (loopback only); the switch's management socket serves ovs-ofctl"
                );
            }
        }
        let configs = e.desired.check()?;
        let pending = e.store.pending()?;
        if !pending.is_empty() {
            e.owner.clean_pending(
                &e.desired,
                &pending.links,
                &pending.netns,
                &pending.links_in,
            );
            e.store.set_pending(&Default::default())?;
        }
        let mut adopted = Vec::new();
        let mut to_make = Vec::new();
        // The stored state starts even if a kernel switch's feature has gone
        // since: its devices are adopted or reported down, not refused.
        let (kernel, choices) = backends(&e.desired, false)?;
        e.choices = choices;
        let desired = e.desired.clone();
        e.sdn = e.pipelines_for(&desired)?;
        // Flow rows come back in identity order: the texts are made again,
        // in table and priority order, when first read.
        for s in e.sdn.values_mut() {
            s.text_stale = true;
        }
        if stored.legacy_flows || desired.switches.iter().any(|s| !s.flows.is_empty()) {
            // The flows were rebuilt in their install order and numbered
            // afresh: the rows take the new numbers (and move from an older
            // vepa's form), so later edits keep counting up from them.
            e.store
                .rewrite(&desired, &e.flow_rows(&desired), e.generation)?;
        }
        for d in devices::devices(&e.desired, &kernel) {
            match e.owner.adopt(&e.desired, &d) {
                Some(Ok(dev)) => {
                    tracing::info!(device = %d.key, "adopted");
                    adopted.push(dev);
                }
                Some(Err(err)) => {
                    tracing::error!(device = %d.key, error = %format!("{err:#}"), "cannot open the device; its port runs without it");
                    e.failed.insert(d.key.clone(), (d, format!("{err:#}")));
                }
                None => to_make.push(d),
            }
        }
        for dev in adopted {
            e.devices.insert(dev.spec.key.clone(), dev);
        }
        let desired = e.desired.clone();
        e.make_devices(&desired, &to_make, false)?;
        e.sweep();
        e.start_forwarder(configs, &HashMap::new());
        Ok(e)
    }

    /// Writes the pending record for making `devices` of `topo`.
    fn record_pending(&self, topo: &Topology, devices: &[DeviceSpec]) -> Result<(), ChangeError> {
        let mut pending = super::store::Pending::default();
        for d in devices {
            let (links, netns, links_in) = self.owner.would_create(topo, d);
            pending.links.extend(links);
            pending.netns.extend(netns);
            pending.links_in.extend(links_in);
        }
        if !pending.is_empty() {
            self.store.set_pending(&pending)?;
        }
        Ok(())
    }

    /// Makes `devices` of `topo` under a pending record. With `strict`, the
    /// first failure stops and is returned (the caller undoes); otherwise a
    /// device that cannot be made is recorded as failed and its port runs
    /// without it. Returns the keys made.
    fn make_devices(
        &mut self,
        topo: &Topology,
        devices: &[DeviceSpec],
        strict: bool,
    ) -> Result<Vec<String>, ChangeError> {
        self.record_pending(topo, devices)?;
        let mut made = Vec::new();
        let mut result = Ok(());
        for d in devices {
            let was_failed = self.failed.remove(&d.key);
            match self.owner.create(topo, d) {
                Ok(dev) => {
                    tracing::info!(device = %d.key, "made");
                    made.push(d.key.clone());
                    self.devices.insert(d.key.clone(), dev);
                }
                // A device that could not be made before and still cannot
                // stays down without failing the change that retried it.
                Err(err) if !strict || was_failed.as_ref().is_some_and(|(x, _)| x == d) => {
                    tracing::error!(device = %d.key, error = %format!("{err:#}"), "cannot make the device; its port runs without it");
                    self.failed
                        .insert(d.key.clone(), (d.clone(), format!("{err:#}")));
                }
                Err(err) => {
                    if let Some(f) = was_failed {
                        self.failed.insert(d.key.clone(), f);
                    }
                    result = Err(ChangeError::Host(err));
                    break;
                }
            }
        }
        if !strict {
            self.store.set_pending(&Default::default())?;
        }
        result.map(|()| made)
    }

    pub fn desired(&self) -> &Topology {
        &self.desired
    }

    /// Where management sockets are made, and whether TLS channels may be.
    pub fn set_openflow(&mut self, mgmt_dir: std::path::PathBuf, tls: bool) {
        self.openflow_dir = mgmt_dir;
        self.openflow_tls = tls;
    }

    /// A switch's OpenFlow channels, as `switch show` lists them.
    fn openflow_channels(&self, s: &vepa_api::topology::SwitchSpec) -> Vec<String> {
        let Some(of) = &s.openflow else {
            return Vec::new();
        };
        let mut v = vec![format!(
            "punix:{}",
            vepa_api::topology::sdn::mgmt_path(&self.openflow_dir, &s.name).display()
        )];
        if let Some(l) = &of.listen {
            match vepa_api::topology::sdn::parse_listen(l) {
                Ok((vepa_api::topology::sdn::Transport::Tcp, a)) => v.push(format!(
                    "ptcp:{a} (UNAUTHENTICATED: any local user can steer this switch)"
                )),
                Ok((vepa_api::topology::sdn::Transport::Ssl, a)) => v.push(format!("pssl:{a}")),
                Err(_) => {}
            }
        }
        if let Some(c) = &of.controller {
            let plain = matches!(
                vepa_api::topology::sdn::parse_controller(c),
                Ok((vepa_api::topology::sdn::Transport::Tcp, _, _))
            );
            v.push(if plain {
                format!("controller {c} (UNAUTHENTICATED: whoever answers at that address steers this switch)")
            } else {
                format!("controller {c}")
            });
        }
        v
    }

    /// The directory this daemon makes vhost-user sockets in.
    pub fn vhost_user_dir(&self) -> &'static str {
        self.owner.opts.vhost_user_dir()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn sweep(&self) {
        let live: Vec<&DeviceSpec> = self
            .devices
            .values()
            .map(|d| &d.spec)
            .chain(self.failed.values().map(|(s, _)| s))
            .collect();
        self.owner.sweep(&self.desired, &live);
    }

    /// Reaches `new` (or, with `dry_run`, says how it would).
    ///
    /// A `new` that names the generation it was exported at must name the
    /// current one, unless nothing would change: applying an old export
    /// would silently undo what happened since (flows a controller added).
    pub fn change(&mut self, mut new: Topology, dry_run: bool) -> Result<ApplyResult, ChangeError> {
        let exported_at = new.generation.take();
        if exported_at.is_some() {
            // Flow edits not yet stored count as changes since the export.
            self.flush_flows()?;
        }
        let configs = new.check()?;
        new.check_vhost_user_dir(self.owner.opts.vhost_user_dir())?;
        self.check_tuns(&new)?;
        if !self.openflow_tls {
            if let Some(s) = new
                .switches
                .iter()
                .find(|s| s.openflow.as_ref().is_some_and(|o| o.uses_tls()))
            {
                let of = s.openflow.as_ref();
                let field = if of
                    .and_then(|o| o.listen.as_deref())
                    .is_some_and(|l| l.starts_with("pssl"))
                {
                    "openflow.listen"
                } else {
                    "openflow.controller"
                };
                return Err(ChangeError::Invalid(TopologyError::Invalid {
                    at: format!("switch '{}'", s.name),
                    field: field.into(),
                    problem: "TLS needs the daemon started with --openflow-private-key, --openflow-certificate and --openflow-ca-cert".into(),
                }));
            }
        }
        let plan = diff(&self.desired, &new);
        if let Some(g) = exported_at.filter(|g| *g != self.generation && !plan.is_empty()) {
            let when = if g < self.generation {
                "older"
            } else {
                "newer"
            };
            return Err(ChangeError::Conflict {
                field: "generation".into(),
                message: format!(
                    "the file was exported at generation {g}, {when} than the daemon's {}: applying it would undo the {} change(s) made since; export again and edit that, or apply with --force",
                    self.generation,
                    self.generation.abs_diff(g)
                ),
            });
        }
        if dry_run || (new == self.desired && self.failed.is_empty()) {
            return Ok(ApplyResult {
                plan,
                applied: false,
                generation: self.generation,
            });
        }
        let (kernel, choices) = backends(&new, true)?;
        let pipelines = self.pipelines_for(&new)?;
        let wanted = devices::devices(&new, &kernel);
        // Devices that failed before are tried again.
        let is_current = |d: &DeviceSpec| self.devices.get(&d.key).is_some_and(|x| x.spec == *d);
        let to_create: Vec<DeviceSpec> =
            wanted.iter().filter(|d| !is_current(d)).cloned().collect();
        let to_remove: Vec<String> = self
            .devices
            .iter()
            .filter(|(k, dev)| !wanted.iter().any(|w| w.key == **k && *w == dev.spec))
            .map(|(k, _)| k.clone())
            .collect();
        // The forwarder maps each router port to its switch port: a router
        // whose ports are listed anew restarts it too.
        let router_layout = |t: &Topology| -> Vec<(String, Vec<(String, String)>)> {
            t.routers
                .iter()
                .map(|r| {
                    let ports = r
                        .ports
                        .iter()
                        .map(|p| (p.name.clone(), p.switch.clone()))
                        .collect();
                    (r.name.clone(), ports)
                })
                .collect()
        };
        let structural = !to_create.is_empty()
            || !to_remove.is_empty()
            || layout(&new) != layout(&self.desired)
            || router_layout(&new) != router_layout(&self.desired)
            || tun_layout(&new) != tun_layout(&self.desired);
        let old_sdn = std::mem::replace(&mut self.sdn, pipelines);
        let r = if structural {
            self.change_structure(new, configs, to_create, to_remove)
        } else {
            self.change_forwarding(&new, configs)
        };
        if let Err(e) = r {
            self.sdn = old_sdn;
            self.publish_all();
            return Err(e);
        }
        // The commit wrote every flow.
        for s in self.sdn.values_mut() {
            s.journal = Journal::default();
        }
        self.choices = choices;
        self.publish_all();
        Ok(ApplyResult {
            plan,
            applied: true,
            generation: self.generation,
        })
    }

    /// Same switches, same ports: the new settings are swapped in.
    fn change_forwarding(
        &mut self,
        new: &Topology,
        configs: Vec<SwitchConfig>,
    ) -> Result<(), ChangeError> {
        let mut swapped: Vec<(Arc<SwitchCore>, SwitchConfig)> = Vec::new();
        let mut result = Ok(());
        for cfg in configs {
            let Some(core) = self.cores.get(&cfg.name) else {
                continue;
            };
            let old = core.snapshot();
            if **old == cfg {
                continue;
            }
            let before: SwitchConfig = (**old).clone();
            if let Err(e) = core.set_config(cfg) {
                result = Err(ChangeError::Conflict {
                    field: "ports".into(),
                    message: e.to_string(),
                });
                break;
            }
            swapped.push((Arc::clone(core), before));
        }
        let old_routers = self.router_configs();
        if result.is_ok() {
            result = self.set_routers(new);
        }
        let result = result.and_then(|()| {
            self.store
                .commit(new, &self.flow_rows(new), self.generation)
                .map_err(ChangeError::from)
        });
        match result {
            Ok(g) => {
                self.generation = g;
                self.desired = new.clone();
                self.filters
                    .apply(&self.desired, &self.cores, &self.routers);
                Ok(())
            }
            Err(e) => {
                for (core, before) in swapped.into_iter().rev() {
                    let _ = core.set_config(before);
                }
                for (name, r) in &self.routers {
                    if let Some(cfg) = old_routers.get(name) {
                        let _ = r.set_config(cfg);
                    }
                }
                self.routers
                    .retain(|name, _| old_routers.contains_key(name));
                Err(e)
            }
        }
    }

    fn change_structure(
        &mut self,
        new: Topology,
        configs: Vec<SwitchConfig>,
        to_create: Vec<DeviceSpec>,
        to_remove: Vec<String>,
    ) -> Result<(), ChangeError> {
        let failed_before = self.failed.clone();
        let old_cores = self.stop_forwarder();
        let old = self.desired.clone();
        let mut removed: Vec<DeviceSpec> = Vec::new();
        for k in &to_remove {
            if let Some(dev) = self.devices.remove(k) {
                removed.push(dev.spec.clone());
                self.owner.remove(dev);
            }
        }
        let result = self.make_devices(&new, &to_create, true).map(|_| ());
        // The routers' TUN devices too, before anything is committed.
        let result = result.and_then(|()| self.tuns_for(&new).map_err(ChangeError::Host));
        // What this change made (all of it on success, some on a failure).
        let made: Vec<String> = to_create
            .iter()
            .filter(|d| self.devices.contains_key(&d.key))
            .map(|d| d.key.clone())
            .collect();
        let result = result.and_then(|()| {
            self.store
                .commit(&new, &self.flow_rows(&new), self.generation)
                .map_err(ChangeError::from)
        });
        match result {
            Ok(g) => {
                self.generation = g;
                self.desired = new;
                self.failed.retain(|k, _| {
                    self.desired
                        .ports()
                        .any(|(_, s, p)| *k == format!("{}/{}", s.name, p.name))
                });
                let desired = &self.desired;
                let kept = |k: &PortKey| {
                    desired
                        .ports()
                        .any(|(_, s, p)| s.name == k.0 && p.name == k.1)
                        || desired
                            .router_ports_on(&k.0)
                            .any(|(r, p)| switch_port_name(&r.name, &p.name) == k.1)
                        || (k.1 == vepa_api::topology::TUN_DEVICE_PORT
                            && desired
                                .tun_ports()
                                .any(|(r, p)| switch_port_name(&r.name, &p.name) == k.0))
                };
                self.captures.retain(|k, _| kept(k));
                // A port added again later starts from zero.
                self.base.retain(|k, _| kept(k));
                self.start_forwarder(configs, &old_cores);
                self.sweep();
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "change failed; putting the host back as it was");
                for k in made.iter().rev() {
                    if let Some(dev) = self.devices.remove(k) {
                        self.owner.remove(dev);
                    }
                }
                // Ports that had no device before have none again; what
                // this change removed is made again (under a pending record).
                self.failed = failed_before;
                if let Err(err) = self.make_devices(&old, &removed, false) {
                    tracing::warn!(error = %err, "cannot record or clear the pending record");
                }
                let configs = old.check().unwrap_or_default();
                self.start_forwarder(configs, &old_cores);
                // Namespaces made for the new ports go too.
                self.sweep();
                Err(e)
            }
        }
    }

    /// Each router's configuration in force.
    fn router_configs(&self) -> HashMap<String, RouterConfig> {
        self.routers
            .iter()
            .map(|(n, r)| (n.clone(), r.tables().config.clone()))
            .collect()
    }

    /// Makes the routers `topo` has (keeping those that exist, with their
    /// neighbors) and forgets the others.
    fn set_routers(&mut self, topo: &Topology) -> Result<(), ChangeError> {
        let configs = topo.router_configs()?;
        for cfg in &configs {
            match self.routers.get(&cfg.name) {
                Some(r) => r.set_config(cfg),
                None => Router::new(cfg).map(|r| {
                    self.routers.insert(cfg.name.clone(), Arc::new(r));
                }),
            }
            .map_err(|e| {
                ChangeError::Invalid(TopologyError::Invalid {
                    at: format!("router '{}'", e.router),
                    field: e.field,
                    problem: e.problem,
                })
            })?;
        }
        self.routers
            .retain(|name, _| configs.iter().any(|c| &c.name == name));
        Ok(())
    }

    /// Stops the forwarder between two batches; its counters go to the
    /// totals, and the switches' cores are handed back for their FDBs.
    fn stop_forwarder(&mut self) -> HashMap<String, Arc<SwitchCore>> {
        let Some(r) = self.running.take() else {
            return std::mem::take(&mut self.cores);
        };
        r.stop.store(true, Ordering::Relaxed);
        match r.thread.join() {
            Ok((fwd, result)) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "forwarder had stopped with an error");
                }
                let (switches, _ports) = fwd.into_parts();
                for (sw, (name, ports)) in switches.iter().zip(&r.layout) {
                    for (i, port) in ports.iter().enumerate() {
                        self.base
                            .entry((name.clone(), port.clone()))
                            .or_default()
                            .add(sw.counters(PortId(i as u16)));
                    }
                }
            }
            Err(_) => tracing::error!("forwarder thread panicked; its counters are lost"),
        }
        std::mem::take(&mut self.cores)
    }

    /// Tells each bonded uplink where its switch's local MACs are, for
    /// the announcements a failover sends: what the FDB learned on the
    /// switch's own ports (not the uplink's, not a tunnel's), each with
    /// the tag it leaves the uplink with.
    fn wire_bonds(&self) {
        for s in &self.desired.switches {
            let Some(up) = s.uplink.as_ref().filter(|u| u.kind == PortKind::Bond) else {
                continue;
            };
            let Some(dev) = self.port_device(&s.name, &up.name) else {
                continue;
            };
            let (Some(bond), Some(core)) =
                (vepa_io::BondPort::of(dev.as_ref()), self.cores.get(&s.name))
            else {
                continue;
            };
            let local: Vec<bool> = s
                .uplink
                .iter()
                .chain(&s.ports)
                .map(|p| !matches!(p.kind, PortKind::Bond | PortKind::Vxlan))
                .collect();
            let core = Arc::downgrade(core);
            bond.set_local_macs(Box::new(move || {
                let Some(core) = core.upgrade() else {
                    return Vec::new();
                };
                let fw = core.snapshot();
                let Some(uplink) = fw.ports.first() else {
                    return Vec::new();
                };
                let mut out: Vec<_> = core
                    .fdb()
                    .entries()
                    .into_iter()
                    .filter(|(_, _, e)| local.get(e.port.index()).copied().unwrap_or(true))
                    .filter_map(|(mac, vid, _)| {
                        Some((mac, vepa_dataplane::egress_tag(&uplink.vlan, vid)?))
                    })
                    .collect();
                out.sort();
                out.dedup();
                out
            }));
        }
    }

    fn start_forwarder(
        &mut self,
        configs: Vec<SwitchConfig>,
        old_cores: &HashMap<String, Arc<SwitchCore>>,
    ) {
        let topo = &self.desired;
        let mut switches = Vec::new();
        for mut cfg in configs {
            let name = cfg.name.clone();
            if cfg.snoop.querier.is_some() {
                cfg.snoop.querier = Some(self.querier_mac(&name));
            }
            match Switch::new(cfg) {
                Ok(sw) => {
                    if let Some(old) = old_cores.get(&name) {
                        sw.core().restore_learned(old);
                    }
                    if let Some(sdn) = self.sdn.get(&name) {
                        let of = topo.switch(&name).and_then(|s| s.openflow.as_ref());
                        let p = vepa_api::topology::sdn::with_mode(
                            sdn.pipeline.clone(),
                            of,
                            sdn.controller_up,
                        );
                        sw.set_pipeline(Arc::new(p));
                    }
                    self.cores.insert(name, Arc::clone(sw.core()));
                    switches.push(sw);
                }
                Err(e) => tracing::error!(switch = %name, error = %e, "switch refused its config"),
            }
        }
        // Each TUN port's link: a switch of its own, after the file's.
        for link in topo.tun_links() {
            match Switch::new(link) {
                Ok(sw) => switches.push(sw),
                Err(e) => tracing::error!(error = %e, "a tun port's link refused its config"),
            }
        }
        self.sync_tuns();
        // New switches start from what the link agent knows, not from
        // nothing (a granted relay stays granted across a restart).
        self.apply_link_facts();
        if let Err(e) = self.set_routers(&self.desired.clone()) {
            tracing::error!(error = %e, "routers refused their config");
        }
        let ports: HashMap<&PortKey, &Arc<dyn vepa_io::Port>> = self
            .devices
            .values()
            .flat_map(|d| d.ports.iter().map(|(k, p)| (k, p)))
            .collect();
        let captures = &mut self.captures;
        let tuns = self
            .tuns
            .iter()
            .map(|(k, (_, port))| {
                let link = switch_port_name(&k.0, &k.1);
                let capture = Arc::clone(
                    captures
                        .entry((link.clone(), vepa_api::topology::TUN_DEVICE_PORT.into()))
                        .or_default(),
                );
                (link, Arc::clone(port), capture)
            })
            .collect();
        let mut fwd = vepa_host::assemble(
            &self.desired,
            switches,
            tuns,
            &self.routers,
            &mut self.filters,
            |s, p| {
                let key = (s.name.clone(), p.name.clone());
                let port = Arc::clone(ports.get(&key)?);
                Some((port, Arc::clone(captures.entry(key).or_default())))
            },
        );
        self.wire_bonds();
        fwd.set_workers(self.workers);
        fwd.set_epoch(self.epoch);
        if let Some(sink) = &self.packet_in {
            for s in &self.desired.switches {
                if let Some(of) = &s.openflow {
                    let rate = of
                        .packet_in_rate
                        .unwrap_or(vepa_io::packet_in::DEFAULT_RATE);
                    sink.set_rate(&s.name, rate);
                }
            }
            fwd.set_packet_in(sink.clone());
        }
        if let Some((inbox, _)) = &self.link {
            fwd.set_link_inbox(Arc::clone(inbox));
        }
        let live = fwd.live();
        let datapath = fwd.datapath();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("vepa-forwarder".into())
            .spawn(move || {
                let r = fwd.run(&flag);
                (fwd, r)
            });
        match spawned {
            Ok(thread) => {
                self.running = Some(Running {
                    stop,
                    thread,
                    live,
                    layout: layout(&self.desired),
                    datapath,
                })
            }
            Err(e) => tracing::error!(error = %e, "cannot start the forwarder thread"),
        }
    }

    /// Refuses TUN ports whose device cannot be made: its name taken by an
    /// interface that is not one of ours already (checked before anything
    /// changes, so nothing is half-applied).
    fn check_tuns(&self, new: &Topology) -> Result<(), ChangeError> {
        for (r, p) in new.tun_ports() {
            let ours = self
                .tuns
                .get(&(r.name.clone(), p.name.clone()))
                .is_some_and(|(spec, _)| {
                    spec.tun_ifname() == p.tun_ifname() && spec.netns == p.netns
                });
            let ifname = p.tun_ifname();
            if self.owner.tun_taken(&r.name, p) && !ours {
                return Err(ChangeError::Conflict {
                    field: if p.ifname.is_some() { "ifname" } else { "name" }.into(),
                    message: format!(
                        "router '{}', port '{}': interface '{ifname}' exists already; a tun port's device is vepa's to make: set a free ifname",
                        r.name, p.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// Makes the desired TUN ports' devices that are missing or changed,
    /// and closes (so removes) those no longer desired. A device that
    /// cannot be made leaves its port down, said in the log (a change
    /// made them already, or failed whole: see [`Self::tuns_for`]).
    fn sync_tuns(&mut self) {
        let desired = self.desired.clone();
        if let Err(e) = self.tuns_for(&desired) {
            tracing::error!(error = %format!("{e:#}"), "cannot make a tun device; its port is down");
        }
    }

    /// Makes `topo`'s TUN devices (closing the ones it no longer has or
    /// has changed first, so their names are free). On an error the
    /// devices this call made are closed again and the error says which
    /// port; the caller puts the old ones back by syncing to its old state.
    fn tuns_for(&mut self, topo: &Topology) -> anyhow::Result<()> {
        let want: Vec<(PortKey, RouterPortSpec)> = topo
            .tun_ports()
            .map(|(r, p)| ((r.name.clone(), p.name.clone()), p.clone()))
            .collect();
        // A persistent device is the same device while its name, namespace
        // and owner are: a change to the router's side of the port (its
        // addresses, MTU, MAC) adopts it again, with the VPN holding it.
        let device = |s: &RouterPortSpec| {
            (
                s.persist,
                s.tun_ifname().to_string(),
                s.netns.clone(),
                s.owner,
            )
        };
        let before: HashMap<PortKey, RouterPortSpec> = self
            .tuns
            .iter()
            .map(|(k, (spec, _))| (k.clone(), spec.clone()))
            .collect();
        let owner = &self.owner;
        self.tuns.retain(|k, (spec, _)| {
            let keep = want.iter().any(|(w, ws)| w == k && ws == spec);
            // (A kept spec is the same device too.)
            let same_device = want
                .iter()
                .any(|(w, ws)| w == k && device(ws) == device(spec));
            if !same_device {
                // Closing our socket leaves a persistent device (and the
                // VPN holding it): remove it, as closing removes the others.
                owner.remove_tun(&k.0, spec);
            }
            keep
        });
        let mut made = Vec::new();
        for (k, spec) in want {
            if self.tuns.contains_key(&k) {
                continue;
            }
            let Some(r) = topo.router(&k.0) else {
                continue;
            };
            match self.owner.open_tun(r, &spec) {
                Ok(port) => {
                    made.push(k.clone());
                    self.tuns.insert(k, (spec, port));
                }
                Err(e) => {
                    // Persistent devices made here go too; one adopted
                    // (the same device as before) stays for the old state.
                    for m in &made {
                        if let Some((spec, _)) = self.tuns.remove(m) {
                            if before.get(m).is_none_or(|b| device(b) != device(&spec)) {
                                self.owner.remove_tun(&m.0, &spec);
                            }
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Stops forwarding; devices stay for the next start to adopt.
    pub fn shutdown(&mut self) {
        self.stop_forwarder();
    }

    /// The port device of `switch`/`port`, when it has one.
    pub(super) fn port_device(&self, switch: &str, port: &str) -> Option<Arc<dyn vepa_io::Port>> {
        self.devices.values().find_map(|d| {
            d.ports
                .iter()
                .find(|(k, _)| k.0 == switch && k.1 == port)
                .map(|(_, p)| Arc::clone(p))
        })
    }

    /// Where `vepa capture` listens on a port, if someone ever did.
    pub(super) fn capture_of(&self, switch: &str, port: &str) -> Option<Arc<CapturePoint>> {
        self.captures
            .get(&(switch.to_string(), port.to_string()))
            .cloned()
    }

    /// Copies each port's capture point dropped because the capturing
    /// client was too slow: switch, port, count (ports captured at least once).
    pub fn capture_drops(&self) -> Vec<(String, String, u64)> {
        let mut v: Vec<_> = self
            .captures
            .iter()
            .map(|((s, p), c)| (s.clone(), p.clone(), c.dropped()))
            .collect();
        v.sort();
        v
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn core(&self, switch: &str) -> Result<&Arc<SwitchCore>, ChangeError> {
        self.cores.get(switch).ok_or_else(|| no_switch(switch))
    }

    /// A switch of the desired state, or the API's "no switch" answer.
    pub fn switch_spec(
        &self,
        switch: &str,
    ) -> Result<&vepa_api::topology::SwitchSpec, ChangeError> {
        self.desired.switch(switch).ok_or_else(|| no_switch(switch))
    }

    pub fn fdb(&self, switch: &str) -> Result<Vec<FdbRow>, ChangeError> {
        let core = self.core(switch)?;
        let fw = core.snapshot();
        let now = self.now_ms();
        Ok(core
            .fdb()
            .entries()
            .into_iter()
            .filter(|(_, _, e)| e.is_static || core.fdb().live_until(e) > now)
            .map(|(mac, vlan, e)| FdbRow {
                mac,
                vlan,
                port: fw
                    .ports
                    .get(e.port.index())
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                is_static: e.is_static,
                age_secs: (!e.is_static).then(|| now.saturating_sub(e.last_seen_ms) / 1000),
            })
            .collect())
    }

    /// The switch's multicast memberships and router ports.
    pub fn mdb(&self, switch: &str) -> Result<Vec<MdbRow>, ChangeError> {
        let core = self.core(switch)?;
        let fw = core.snapshot();
        let now = self.now_ms();
        let name = |p: vepa_dataplane::PortId| {
            fw.ports
                .get(p.index())
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        let mut rows: Vec<MdbRow> = core
            .mdb()
            .rows(now)
            .into_iter()
            .map(|r| MdbRow {
                vlan: r.vid,
                group: r.group.to_string(),
                port: name(r.port),
                kind: "member".into(),
                expires_secs: Some(r.expires_in_ms.div_ceil(1000)),
            })
            .collect();
        rows.extend(
            core.mdb()
                .routers(now)
                .into_iter()
                .map(|(vid, p, left)| MdbRow {
                    vlan: vid,
                    group: "router".into(),
                    port: name(p),
                    kind: "router".into(),
                    expires_secs: Some(left.div_ceil(1000)),
                }),
        );
        if fw.snoop.enabled {
            rows.extend(fw.snoop.router_ports.iter().map(|p| MdbRow {
                vlan: 0,
                group: "router".into(),
                port: name(*p),
                kind: "router (static)".into(),
                expires_secs: None,
            }));
        }
        Ok(rows)
    }

    /// Forgets learned addresses (all, or one port's).
    pub fn fdb_flush(&self, switch: &str, port: Option<&str>) -> Result<usize, ChangeError> {
        let core = self.core(switch)?;
        let id = match port {
            None => None,
            Some(p) => Some(
                core.snapshot()
                    .port_id(p)
                    .ok_or_else(|| ChangeError::NotFound {
                        field: "port".into(),
                        message: format!("switch '{switch}' has no port '{p}'"),
                    })?,
            ),
        };
        Ok(core.fdb().flush(id))
    }

    /// Where `vepa capture` listens on a port.
    pub fn capture_point(
        &mut self,
        switch: &str,
        port: &str,
    ) -> Result<Arc<CapturePoint>, ChangeError> {
        if !self
            .desired
            .ports()
            .any(|(_, s, p)| s.name == switch && p.name == port)
        {
            return Err(ChangeError::NotFound {
                field: "port".into(),
                message: format!("no port '{port}' on switch '{switch}'"),
            });
        }
        Ok(Arc::clone(
            self.captures
                .entry((switch.to_string(), port.to_string()))
                .or_default(),
        ))
    }
}
