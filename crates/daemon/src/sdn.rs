//! The engine's flow tables: one master pipeline per switch, published
//! into the running dataplane and kept in the desired state.
//!
//! Flows change two ways: through the desired topology (`apply`, the
//! topology API: the pipeline is rebuilt from the flow texts, keeping the
//! counters of flows that stay) and flow by flow (`vepa flow`, OpenFlow:
//! the master pipeline is edited in place). Flow-by-flow edits are
//! published to the dataplane by the caller once per batch
//! ([`Engine::publish`]) and written back into the desired state's flow
//! texts lazily ([`Engine::sync_flows`]). Each edit notes the rows it
//! changes in the switch's [`Journal`]; [`Engine::flush_flows`] writes
//! just those rows to the store (the API does before it answers, OpenFlow
//! before a barrier reply), so an edit costs the same with 10 flows or
//! 100,000.

use crate::engine::{ChangeError, Engine, Journal, Sdn};
use crate::store::{FlowEdit, FlowRows};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vepa_api::flowtext::{format_flow, format_group, format_meter, PortNames};
use vepa_api::topology::sdn::with_mode;
use vepa_api::topology::Topology;
use vepa_dataplane::flow::{
    FlowError, FlowFilter, FlowSpec, Group, Instruction, Pipeline, RemovedReason, Rule,
};

fn flow_error(switch: &str, e: FlowError) -> ChangeError {
    ChangeError::Flow {
        field: "flow".into(),
        message: format!("switch '{switch}': {e}"),
        error: e,
    }
}

impl Engine {
    /// Flow `id` of table `table` on `switch`, in `ovs-ofctl` syntax with
    /// `names` for its ports (a trace names the flows that matched).
    pub(crate) fn flow_text(
        &self,
        switch: &str,
        table: u8,
        id: u64,
        names: &[String],
    ) -> Option<String> {
        let sdn = self.sdn.get(switch)?;
        let r = sdn.pipeline.table(table)?.iter().find(|r| r.id == id)?;
        Some(format_flow(&spec_of(r), PortNames(names)))
    }
}

impl Engine {
    /// The pipelines `new` asks for: kept where a switch's flows, groups and
    /// ports are as before, rebuilt from text (counters carried over) where not.
    pub(super) fn pipelines_for(
        &self,
        new: &Topology,
    ) -> Result<HashMap<String, Sdn>, ChangeError> {
        let mut out = HashMap::new();
        for s in &new.switches {
            let cur = self.sdn.get(&s.name);
            let same = self.desired.switch(&s.name).is_some_and(|o| {
                o.flows == s.flows
                    && o.groups == s.groups
                    && o.meters == s.meters
                    && o.port_names() == s.port_names()
            });
            let sdn = match cur {
                Some(c) if same && !c.text_stale => c.clone(),
                _ => {
                    let mut p = s.pipeline(self.now_ms())?;
                    if let Some(c) = cur {
                        p.adopt_stats(&c.pipeline);
                    }
                    Sdn {
                        pipeline: p,
                        text_stale: false,
                        journal: Journal::default(),
                        controller_up: cur.is_some_and(|c| c.controller_up),
                    }
                }
            };
            out.insert(s.name.clone(), sdn);
        }
        Ok(out)
    }

    /// Puts switch `name`'s master pipeline (with its miss policy) in force.
    pub fn publish(&self, name: &str) {
        let (Some(core), Some(sdn)) = (self.cores.get(name), self.sdn.get(name)) else {
            return;
        };
        let of = self.desired.switch(name).and_then(|s| s.openflow.as_ref());
        let p = with_mode(sdn.pipeline.clone(), of, sdn.controller_up);
        core.set_pipeline(Arc::new(p));
    }

    pub(super) fn publish_all(&self) {
        for s in &self.desired.switches {
            self.publish(&s.name);
        }
    }

    fn sdn_mut(&mut self, switch: &str) -> Result<&mut Sdn, ChangeError> {
        self.switch_spec(switch)?;
        if self.choices.get(switch).is_some_and(|c| c.0) {
            return Err(ChangeError::Conflict {
                field: "backend".into(),
                message: format!(
                    "switch '{switch}' runs on the kernel backend; flow tables need the userspace dataplane"
                ),
            });
        }
        Ok(self.sdn.entry(switch.to_string()).or_default())
    }

    /// The switch's port names, by OpenFlow number − 1.
    pub fn port_names(&self, switch: &str) -> Result<Vec<String>, ChangeError> {
        self.switch_spec(switch).map(|s| s.port_names())
    }

    /// Notes an edit of switch `switch`: `now` are flows as they now are
    /// (texts with the switch's port `names`), `gone` flows removed;
    /// `record` when groups or meters changed.
    fn edited(
        &mut self,
        switch: &str,
        names: &[String],
        now: &[Arc<Rule>],
        gone: &[Arc<Rule>],
        record: bool,
    ) {
        self.flows_edited_ms = self.now_ms();
        let Some(s) = self.sdn.get_mut(switch) else {
            return;
        };
        s.text_stale = true;
        for r in gone {
            s.journal.rows.insert(flow_id(r), None);
        }
        for r in now {
            let text = format_flow(&spec_of(r), PortNames(names));
            s.journal.rows.insert(flow_id(r), Some((r.id, text)));
        }
        s.journal.record |= record;
    }

    /// Every switch's flows as store rows, port names as in `topo`.
    pub(super) fn flow_rows(&self, topo: &Topology) -> BTreeMap<String, FlowRows> {
        let mut out = BTreeMap::new();
        for s in &topo.switches {
            let Some(sdn) = self.sdn.get(&s.name) else {
                continue;
            };
            let names = s.port_names();
            let rows = sdn
                .pipeline
                .flows(&FlowFilter::default())
                .iter()
                .map(|r| {
                    let text = format_flow(&spec_of(r), PortNames(&names));
                    (flow_id(r), r.id, text)
                })
                .collect();
            out.insert(s.name.clone(), rows);
        }
        out
    }

    /// Adds a flow (replacing one with the same table, priority and match).
    /// Not in force until [`publish`](Self::publish).
    pub fn flow_add(
        &mut self,
        switch: &str,
        spec: FlowSpec,
    ) -> Result<Option<Arc<Rule>>, ChangeError> {
        let names = self.port_names(switch)?;
        let ports = names.len();
        let now = self.now_ms();
        let sdn = self.sdn_mut(switch)?;
        let (table, priority, matcher) = (spec.table, spec.priority, spec.matcher.clone());
        let r = sdn
            .pipeline
            .add(spec, ports, now)
            .map_err(|e| flow_error(switch, e))?;
        let stored: Vec<Arc<Rule>> = sdn
            .pipeline
            .table(table)
            .and_then(|t| t.find_strict(&matcher, priority))
            .cloned()
            .into_iter()
            .collect();
        self.edited(switch, &names, &stored, &[], false);
        Ok(r)
    }

    pub fn flow_modify(
        &mut self,
        switch: &str,
        filter: &FlowFilter,
        instructions: &[Instruction],
        reset_counts: bool,
    ) -> Result<usize, ChangeError> {
        let names = self.port_names(switch)?;
        let ports = names.len();
        let sdn = self.sdn_mut(switch)?;
        let now = sdn
            .pipeline
            .modify(filter, instructions, reset_counts, ports)
            .map_err(|e| flow_error(switch, e))?;
        if !now.is_empty() {
            self.edited(switch, &names, &now, &[], false);
        }
        Ok(now.len())
    }

    pub fn flow_delete(
        &mut self,
        switch: &str,
        filter: &FlowFilter,
    ) -> Result<Vec<Arc<Rule>>, ChangeError> {
        let sdn = self.sdn_mut(switch)?;
        let gone = sdn.pipeline.delete(filter);
        if !gone.is_empty() {
            self.edited(switch, &[], &[], &gone, false);
        }
        Ok(gone)
    }

    pub fn group_add(&mut self, switch: &str, g: Group, modify: bool) -> Result<(), ChangeError> {
        let ports = self.port_names(switch)?.len();
        let sdn = self.sdn_mut(switch)?;
        let r = if modify {
            sdn.pipeline.modify_group(g, ports)
        } else {
            sdn.pipeline.add_group(g, ports)
        };
        r.map_err(|e| flow_error(switch, e))?;
        self.edited(switch, &[], &[], &[], true);
        Ok(())
    }

    /// Adds a meter (`modify`: replaces the one of its id).
    pub fn meter_add(
        &mut self,
        switch: &str,
        m: vepa_dataplane::flow::Meter,
        modify: bool,
    ) -> Result<(), ChangeError> {
        let now = self.now_ms();
        let sdn = self.sdn_mut(switch)?;
        sdn.pipeline
            .add_meter(m, modify, now)
            .map_err(|e| flow_error(switch, e))?;
        self.edited(switch, &[], &[], &[], true);
        Ok(())
    }

    /// Removes a meter (all for `None`) and the flows that use it.
    pub fn meter_delete(
        &mut self,
        switch: &str,
        id: Option<u32>,
    ) -> Result<Vec<Arc<Rule>>, ChangeError> {
        let sdn = self.sdn_mut(switch)?;
        let gone = sdn.pipeline.delete_meter(id);
        self.edited(switch, &[], &[], &gone, true);
        Ok(gone)
    }

    /// Removes a group (all for `None`) and the flows that use it.
    pub fn group_delete(
        &mut self,
        switch: &str,
        id: Option<u32>,
    ) -> Result<Vec<Arc<Rule>>, ChangeError> {
        let sdn = self.sdn_mut(switch)?;
        let gone = sdn.pipeline.delete_group(id);
        self.edited(switch, &[], &[], &gone, true);
        Ok(gone)
    }

    /// The master pipeline of a switch (its flows, groups and counters).
    pub fn pipeline(&self, switch: &str) -> Result<&Pipeline, ChangeError> {
        self.port_names(switch)?;
        static EMPTY: std::sync::OnceLock<Pipeline> = std::sync::OnceLock::new();
        Ok(self
            .sdn
            .get(switch)
            .map(|s| &s.pipeline)
            .unwrap_or_else(|| EMPTY.get_or_init(Pipeline::default)))
    }

    /// The switch clock flows count time in (ms).
    pub fn flow_clock_ms(&self) -> u64 {
        self.now_ms()
    }

    /// Marks whether switch `name`'s controller connection is up, which
    /// decides its miss policy with the fail mode, and publishes.
    pub fn set_controller_up(&mut self, name: &str, up: bool) {
        if let Some(s) = self.sdn.get_mut(name) {
            s.controller_up = up;
        } else if self.desired.switch(name).is_some() {
            self.sdn.insert(
                name.to_string(),
                Sdn {
                    controller_up: up,
                    ..Sdn::default()
                },
            );
        }
        self.publish(name);
    }

    /// Removes flows whose timeouts passed; returns them (per switch) for
    /// FLOW_REMOVED messages. Publishes the switches that changed.
    pub fn expire_flows(&mut self) -> Vec<(String, Arc<Rule>, RemovedReason)> {
        let now = self.now_ms();
        let mut out = Vec::new();
        let names: Vec<String> = self.sdn.keys().cloned().collect();
        for name in names {
            let Some(sdn) = self.sdn.get_mut(&name) else {
                continue;
            };
            if sdn.pipeline.next_expiry().is_none_or(|t| t > now) {
                continue;
            }
            let gone = sdn.pipeline.expire(now);
            if gone.is_empty() {
                continue;
            }
            let rules: Vec<Arc<Rule>> = gone.iter().map(|(r, _)| Arc::clone(r)).collect();
            self.edited(&name, &[], &[], &rules, false);
            self.publish(&name);
            out.extend(gone.into_iter().map(|(r, why)| (name.clone(), r, why)));
        }
        out
    }

    /// Writes the pipelines edited flow by flow back into the desired
    /// state's flow and group texts (canonical form, table then priority
    /// order). Nothing is committed.
    pub fn sync_flows(&mut self) {
        let stale: Vec<String> = self
            .sdn
            .iter()
            .filter(|(_, s)| s.text_stale)
            .map(|(n, _)| n.clone())
            .collect();
        for name in stale {
            let Some(spec) = self.desired.switch(&name) else {
                continue;
            };
            let names = spec.port_names();
            let ports = PortNames(&names);
            let Some(sdn) = self.sdn.get_mut(&name) else {
                continue;
            };
            let flows: Vec<String> = sdn
                .pipeline
                .flows(&FlowFilter::default())
                .iter()
                .map(|r| format_flow(&spec_of(r), ports))
                .collect();
            let groups: Vec<String> = sdn
                .pipeline
                .groups()
                .iter()
                .map(|(g, _)| format_group(g, ports))
                .collect();
            let meters: Vec<String> = sdn
                .pipeline
                .meters()
                .iter()
                .map(|(m, _)| format_meter(m))
                .collect();
            sdn.text_stale = false;
            if let Some(s) = self.desired.switch_mut(&name) {
                s.flows = flows;
                s.groups = groups;
                s.meters = meters;
            }
        }
    }

    /// Commits flow-by-flow edits to the store: the rows they changed,
    /// and the topology record if groups or meters changed.
    pub fn flush_flows(&mut self) -> Result<(), ChangeError> {
        if self.sdn.values().all(|s| s.journal.is_empty()) {
            return Ok(());
        }
        if self.sdn.values().any(|s| s.journal.record) {
            // The record's groups and meters (its flows are rows).
            self.sync_flows();
        }
        let record = self
            .sdn
            .values()
            .any(|s| s.journal.record)
            .then_some(&self.desired);
        let edits: Vec<FlowEdit<'_>> = self
            .sdn
            .iter()
            .flat_map(|(name, s)| {
                s.journal.rows.iter().map(move |(id, row)| FlowEdit {
                    switch: name,
                    id,
                    row: row.as_ref().map(|(seq, text)| (*seq, text.as_str())),
                })
            })
            .collect();
        self.generation = self.store.commit_flows(record, &edits, self.generation)?;
        for s in self.sdn.values_mut() {
            s.journal = Journal::default();
        }
        self.flows_flushed_ms = self.now_ms();
        Ok(())
    }

    /// The housekeeping task's flush: only once flow edits have settled
    /// (none for a second) or have waited half a minute. A barrier or an
    /// API call still writes at once. Writing every flow each second
    /// while a controller streams 100,000 of them held the engine for
    /// most of each second, and the install never caught up.
    pub fn flush_flows_settled(&mut self) -> Result<(), ChangeError> {
        let now = self.now_ms();
        if now.saturating_sub(self.flows_edited_ms) < 1000
            && now.saturating_sub(self.flows_flushed_ms) < 30_000
        {
            return Ok(());
        }
        self.flush_flows()
    }
}

/// A flow's identity in the store: its table, priority and match (ports
/// by number, so renaming a port keeps it).
fn flow_id(r: &Rule) -> String {
    let spec = FlowSpec {
        table: r.table,
        priority: r.priority,
        matcher: r.matcher.clone(),
        ..FlowSpec::default()
    };
    format_flow(&spec, PortNames(&[]))
}

/// A flow as it would be added again.
pub fn spec_of(r: &Rule) -> FlowSpec {
    FlowSpec {
        table: r.table,
        priority: r.priority,
        matcher: r.matcher.clone(),
        cookie: r.cookie,
        idle_timeout: r.idle_timeout,
        hard_timeout: r.hard_timeout,
        flags: r.flags,
        instructions: r.instructions.clone(),
    }
}

/// One port as OpenFlow describes it.
#[derive(Debug, Clone)]
pub struct PortInfo {
    /// OpenFlow port number (position + 1).
    pub no: u32,
    pub name: String,
    pub mac: [u8; 6],
    /// The port has its device (it can carry frames).
    pub up: bool,
}

fn read_mac(ifname: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/address")).ok()?;
    let m: vepa_packet::MacAddr = text.trim().parse().ok()?;
    Some(m.0)
}

impl Engine {
    /// The switch's ports in OpenFlow order.
    pub fn port_infos(&self, switch: &str) -> Result<Vec<PortInfo>, ChangeError> {
        let spec = self.switch_spec(switch)?;
        Ok(spec
            .uplink
            .iter()
            .chain(&spec.ports)
            .enumerate()
            .map(|(i, p)| {
                let up = self.port_device(switch, &p.name).is_some();
                PortInfo {
                    no: i as u32 + 1,
                    name: p.name.clone(),
                    mac: p
                        .mac
                        .map(|m| m.0)
                        // A bond has no interface of its own: its first member's.
                        .or_else(|| {
                            let ports = p.member_ports();
                            read_mac(ports.first().map_or(p.host_ifname(), |m| m.host_ifname()))
                        })
                        .unwrap_or([0; 6]),
                    up,
                }
            })
            .collect())
    }

    /// Each port's counters, in OpenFlow order.
    pub fn port_counters(&self, switch: &str) -> Vec<vepa_api::wire::PortStats> {
        self.stats()
            .ports
            .into_iter()
            .filter(|p| p.switch == switch)
            .collect()
    }

    /// OpenFlow PACKET_OUT: runs `actions` on `frame` as if it came in on
    /// `in_port` (`None`: from the controller itself, which allows only
    /// outputs to ports, FLOOD and ALL) and sends the copies. Returns how
    /// many copies left.
    pub fn packet_out(
        &mut self,
        switch: &str,
        in_port: Option<vepa_dataplane::PortId>,
        actions: &[vepa_dataplane::flow::Action],
        frame: &[u8],
    ) -> Result<usize, ChangeError> {
        use vepa_dataplane::flow::{Action, Decision, OutPort};
        use vepa_dataplane::{Egress, PortId};
        let names = self.port_names(switch)?;
        let core = self
            .cores
            .get(switch)
            .cloned()
            .ok_or_else(|| ChangeError::Conflict {
                field: "switch".into(),
                message: format!("switch '{switch}' has no userspace dataplane running"),
            })?;
        let Some(parsed) = vepa_dataplane::Parsed::new(frame) else {
            return Ok(0);
        };
        let mut d = Decision::default();
        match in_port {
            Some(p) => {
                let fw = core.snapshot();
                let _ = core.packet_out(&fw, p, frame, actions, self.now_ms(), &mut d);
            }
            None => {
                let tag = parsed.vid();
                for a in actions {
                    match a {
                        Action::Output(OutPort::Port(p)) => d.egress.push(Egress::new(*p, tag)),
                        Action::Output(OutPort::Flood | OutPort::All) => d
                            .egress
                            .extend((0..names.len()).map(|i| Egress::new(PortId(i as u16), tag))),
                        _ => {}
                    }
                }
            }
        }
        let current = parsed.vid();
        let mut buf = Vec::new();
        let mut sent = 0;
        for e in &d.egress {
            let Some(name) = names.get(e.port.index()) else {
                continue;
            };
            let Some(dev) = self.port_device(switch, name) else {
                continue;
            };
            let bytes: &[u8] = match d.rewrite_of(e) {
                Some(r) => {
                    r.write(&parsed, e.tag, false, &mut buf);
                    &buf
                }
                None if e.tag != current => {
                    parsed.write_retagged(e.tag, &mut buf);
                    &buf
                }
                None => frame,
            };
            if let Some(c) = self.capture_of(switch, name) {
                c.deliver(vepa_io::Direction::Out, bytes);
            }
            if dev.send(&Default::default(), bytes).is_ok() {
                sent += 1;
            }
        }
        Ok(sent)
    }
}
