//! The filters in force: the topology's ACLs and port guards made into the
//! dataplane's objects and installed on the switches and routers.
//!
//! A list whose rules did not change keeps its object (and its counters)
//! across changes; a connection zone (one per filtered port or router)
//! lives as long as some list sits there, so tracked connections survive
//! edits of the rules.

use std::collections::HashMap;
use std::sync::Arc;
use vepa_api::topology::filter::{AclSpec, DEFAULT_CONNTRACK_LIMIT};
use vepa_api::topology::port_guard;
use vepa_api::topology::Topology;
use vepa_dataplane::filter::{Acl, PortFilter, Zone};
use vepa_dataplane::router::{Router, RouterFilter};
use vepa_dataplane::SwitchCore;

#[derive(Default)]
pub struct Filters {
    /// By name: the spec it was made from, whether stateful, the list.
    acls: HashMap<String, (AclSpec, bool, Arc<Acl>)>,
    /// By zone name (`port S/P`, `router R`).
    zones: HashMap<String, Arc<Zone>>,
}

impl Filters {
    /// Makes the lists and zones `topo` has and installs them (and the
    /// guards) on `cores` and `routers`. `topo` has passed its check.
    pub fn apply(
        &mut self,
        topo: &Topology,
        cores: &HashMap<String, Arc<SwitchCore>>,
        routers: &HashMap<String, Arc<Router>>,
    ) {
        let mut acls = HashMap::new();
        for spec in &topo.acls {
            let Ok(rules) = spec.parsed_rules() else {
                continue;
            };
            let zone = spec.zone();
            let stateful = topo.zone_stateful(&zone);
            let acl = match self.acls.remove(&spec.name) {
                Some((old, was, acl)) if old == *spec && was == stateful => acl,
                Some((_, _, old)) => {
                    // Rules that stay keep their counters.
                    let acl = Acl::new(&spec.name, rules, spec.default.into(), stateful);
                    acl.inherit(&old);
                    Arc::new(acl)
                }
                None => Arc::new(Acl::new(&spec.name, rules, spec.default.into(), stateful)),
            };
            acls.insert(spec.name.clone(), (spec.clone(), stateful, acl));
        }
        self.acls = acls;
        let mut zones = HashMap::new();
        for (spec, _, _) in self.acls.values() {
            let name = spec.zone();
            let limit = topo
                .acls
                .iter()
                .filter(|a| a.zone() == name)
                .filter_map(|a| a.conntrack_limit)
                .max()
                .unwrap_or(DEFAULT_CONNTRACK_LIMIT) as usize;
            let z = self
                .zones
                .remove(&name)
                .or_else(|| zones.get(&name).cloned())
                .unwrap_or_else(|| Arc::new(Zone::new(limit)));
            z.set_limit(limit);
            zones.insert(name, z);
        }
        self.zones = zones;
        let list_at = |zone: &str, out: bool| {
            self.acls
                .values()
                .find(|(s, _, _)| {
                    s.zone() == zone
                        && s.port.is_some()
                        && (s.direction == Some(vepa_api::topology::filter::Direction::Out)) == out
                })
                .map(|(_, _, a)| Arc::clone(a))
        };
        for s in &topo.switches {
            let Some(core) = cores.get(&s.name) else {
                continue;
            };
            let fw = core.snapshot();
            let mut any = false;
            let filters: Vec<Option<Arc<PortFilter>>> =
                fw.ports
                    .iter()
                    .map(|pc| {
                        let spec = s.uplink.iter().chain(&s.ports).find(|p| p.name == pc.name);
                        let at = format!("switch '{}', port '{}'", s.name, pc.name);
                        let guard = spec.and_then(|p| port_guard(&at, s, p).ok().flatten());
                        let zone = format!("port {}/{}", s.name, pc.name);
                        let (acl_in, acl_out) = (list_at(&zone, false), list_at(&zone, true));
                        if guard.is_none() && acl_in.is_none() && acl_out.is_none() {
                            return None;
                        }
                        any = true;
                        let zone = self.zones.get(&zone).cloned().unwrap_or_else(|| {
                            Arc::new(Zone::new(DEFAULT_CONNTRACK_LIMIT as usize))
                        });
                        let stateful = acl_in.iter().chain(&acl_out).any(|a| a.stateful);
                        Some(Arc::new(PortFilter {
                            guard,
                            acl_in,
                            acl_out,
                            zone,
                            stateful,
                        }))
                    })
                    .collect();
            core.set_filters(any.then_some(filters));
        }
        for (name, r) in routers {
            let zone = format!("router {name}");
            let f = self
                .acls
                .values()
                .find(|(s, _, _)| s.zone() == zone)
                .and_then(|(_, _, acl)| {
                    Some(RouterFilter {
                        acl: Arc::clone(acl),
                        zone: Arc::clone(self.zones.get(&zone)?),
                    })
                });
            r.set_filter(f);
        }
    }

    /// Forgets connections idle past their timeouts.
    pub fn expire(&self, now: u64) {
        for z in self.zones.values() {
            z.expire(now);
        }
    }

    pub fn acl(&self, name: &str) -> Option<(&AclSpec, bool, &Arc<Acl>)> {
        self.acls.get(name).map(|(s, st, a)| (s, *st, a))
    }

    /// Every zone, by name.
    pub fn zones(&self) -> impl Iterator<Item = (&String, &Arc<Zone>)> {
        self.zones.iter()
    }
}
