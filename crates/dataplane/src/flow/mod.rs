//! Flow tables (SDN), in front of the switch's own forwarding.
//!
//! A [`Pipeline`] is up to [`TABLES`] flow tables and a group table, as
//! OpenFlow 1.3 defines them. A frame starts in table 0; the flow that
//! matches it best applies actions, writes to its action set, writes
//! metadata and may go on to a later table; the action set runs at the end.
//! The `NORMAL` output hands the frame to the switch's mode-aware L2
//! forwarding, and a frame no flow matches follows the pipeline's [`Miss`]
//! policy — `NORMAL` when no controller says otherwise, so a switch with
//! no flows forwards exactly as one without SDN.
//!
//! The pipeline is part of the forwarding snapshot: the control plane
//! edits its own copy and publishes it whole; flows are shared (`Arc`)
//! between copies, so their counters survive edits of other flows.

mod action;
mod exec;
mod matcher;
mod meter;
mod rewrite;
mod table;

pub use crate::key::{
    Field, Key, Prerequisite, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, KEY_WORDS,
    VID_PRESENT,
};
pub use action::{check_action, check_instructions, Action, ActionSet, Instruction, OutPort};
pub(crate) use exec::Exec;
pub use exec::{Decision, Generated, PacketInReason, ToController};

/// The key of `frame` received on OpenFlow port `in_port` (see
/// [`Parsed::key`](crate::parsed::Parsed::key)), for a frame nobody has
/// parsed yet.
pub fn extract(frame: &[u8], in_port: u32) -> Option<Key> {
    crate::parsed::Parsed::new(frame)?.key(in_port)
}
pub use matcher::Match;
pub use meter::{Band, Meter, MeterState, MeterUnit, MAX_BANDS, MAX_METERS, METER_MAX};
pub use rewrite::Rewrite;
pub use table::{
    FlowTable, RemovedReason, Rule, RuleStats, FLAG_CHECK_OVERLAP, FLAG_RESET_COUNTS,
    FLAG_SEND_FLOW_REM,
};

use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Flow tables a switch has (0 to 253), as the SDN issue asks.
pub const TABLES: usize = 254;
/// Groups a switch may hold.
pub const MAX_GROUPS: usize = 65_536;
/// Flows a switch may hold over all its tables.
pub const MAX_FLOWS: usize = 1_000_000;
/// Actions one flow or bucket may have, and buckets one group: each must
/// fit in one OpenFlow message when it is described back.
pub const MAX_ACTIONS: usize = 512;
pub const MAX_BUCKETS: usize = 512;

/// Why a flow or group change was refused; each names what was wrong, and
/// the OpenFlow endpoint maps each to its error type and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("{field:?}: {problem}")]
    Field { field: Field, problem: String },
    #[error("{field:?} needs {needs}")]
    Prerequisite { field: Field, needs: &'static str },
    #[error("table {table}: {problem}")]
    BadTable { table: u8, problem: String },
    #[error("port {0} does not exist on this switch")]
    BadPort(u32),
    #[error("{0}")]
    Instruction(String),
    #[error("group {0} does not exist")]
    UnknownGroup(u32),
    #[error("group {0} already exists")]
    GroupExists(u32),
    #[error("group {0}: {1}")]
    BadGroup(u32, String),
    #[error("group {0} would reach itself through its buckets")]
    GroupLoop(u32),
    #[error("a flow of the same priority overlaps this one (check_overlap is set)")]
    Overlap,
    #[error("the switch holds {MAX_FLOWS} flows, its limit")]
    TableFull,
    #[error("meter {0} does not exist")]
    Meter(u32),
    #[error("meter {0} already exists")]
    MeterExists(u32),
    #[error("meter {0}: {1}")]
    BadMeter(u32, String),
}

/// The ids an OpenFlow delete names: the one given (if there), or all.
fn chosen<V>(map: &FxHashMap<u32, V>, id: Option<u32>) -> Vec<u32> {
    match id {
        Some(i) => map.contains_key(&i).then_some(i).into_iter().collect(),
        None => map.keys().copied().collect(),
    }
}

/// What happens to a frame no flow matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Miss {
    /// The switch's own forwarding (no controller, or `standalone` with the
    /// controller gone).
    #[default]
    Normal,
    /// Dropped (a controller is connected, or `secure` with it gone).
    Drop,
}

/// A flow as the control plane asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    pub table: u8,
    pub priority: u16,
    pub matcher: Match,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub instructions: Vec<Instruction>,
}

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            table: 0,
            priority: 0x8000,
            matcher: Match::any(),
            cookie: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            instructions: Vec::new(),
        }
    }
}

/// Which flows a modify, delete or stats request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFilter {
    /// `None`: every table.
    pub table: Option<u8>,
    pub matcher: Match,
    /// `Some`: strict (identical match and this priority); `None`: every
    /// flow the match covers.
    pub strict_priority: Option<u16>,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub out_port: Option<OutPort>,
    pub out_group: Option<u32>,
}

impl Default for FlowFilter {
    fn default() -> Self {
        FlowFilter {
            table: None,
            matcher: Match::any(),
            strict_priority: None,
            cookie: 0,
            cookie_mask: 0,
            out_port: None,
            out_group: None,
        }
    }
}

impl FlowFilter {
    pub fn selects(&self, r: &Rule) -> bool {
        if self.table.is_some_and(|t| t != r.table) {
            return false;
        }
        if r.cookie & self.cookie_mask != self.cookie & self.cookie_mask {
            return false;
        }
        let matched = match self.strict_priority {
            Some(p) => r.priority == p && r.matcher == self.matcher,
            None => self.matcher.covers(&r.matcher),
        };
        matched
            && self.out_port.is_none_or(|p| r.outputs_to(p))
            && self.out_group.is_none_or(|g| r.outputs_to_group(g))
    }
}

/// A group's type (OpenFlow's `ofp_group_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// Every bucket gets a copy (multicast, flooding).
    All,
    /// One bucket, chosen by a hash of the packet's headers, weighted.
    Select,
    /// The one bucket (a shared next hop).
    Indirect,
    /// The first bucket whose watched port is up.
    FastFailover,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: Option<crate::PortId>,
    pub watch_group: Option<u32>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    pub id: u32,
    pub kind: GroupKind,
    pub buckets: Vec<Bucket>,
}

/// Counters of one group.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub packets: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
}

/// Flow tables and groups of one switch.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    tables: Vec<FlowTable>,
    groups: FxHashMap<u32, (Arc<Group>, Arc<GroupStats>)>,
    meters: FxHashMap<u32, (Arc<Meter>, Arc<MeterState>)>,
    pub miss: Miss,
    /// Flows kept but not used: every frame takes the switch's own
    /// forwarding (`standalone` fail mode while its controller is gone,
    /// as Open vSwitch's fail-open flow does).
    pub bypass: bool,
    next_id: u64,
    len: usize,
}

impl Pipeline {
    /// Whether frames must go through it at all: a pipeline with no flow
    /// and a `NORMAL` miss is the switch without SDN.
    pub fn is_active(&self) -> bool {
        !self.bypass && (self.len > 0 || self.miss != Miss::Normal)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn table(&self, id: u8) -> Option<&FlowTable> {
        self.tables.get(id as usize)
    }

    /// Every flow the filter selects, by table, then priority (highest
    /// first), then age.
    pub fn flows(&self, filter: &FlowFilter) -> Vec<Arc<Rule>> {
        let mut v: Vec<Arc<Rule>> = self
            .tables
            .iter()
            .flat_map(|t| t.iter())
            .filter(|r| filter.selects(r))
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            (a.table, std::cmp::Reverse(a.priority), a.id).cmp(&(
                b.table,
                std::cmp::Reverse(b.priority),
                b.id,
            ))
        });
        v
    }

    fn check(&self, spec: &FlowSpec, ports: usize) -> Result<(), FlowError> {
        if spec.table as usize >= TABLES {
            return Err(FlowError::BadTable {
                table: spec.table,
                problem: format!("tables are 0 to {}", TABLES - 1),
            });
        }
        let set: Vec<Field> = spec.matcher.fields().iter().map(|f| f.0).collect();
        spec.matcher.check_prerequisites(&set)?;
        // A match on a shared slot with no prerequisite at all (a port
        // without ip_proto) does not show in fields(): refuse it too.
        let mut seen = Match::any();
        for (f, v, m) in spec.matcher.fields() {
            seen.set(f, v, m)?;
        }
        if seen != spec.matcher {
            return Err(FlowError::Instruction(
                "the match constrains a field whose prerequisites it does not state".into(),
            ));
        }
        // A flow may name a port the switch does not have (yet): it never
        // matches. Port 0 does not exist in OpenFlow.
        if let Some((0, _)) = spec.matcher.get(Field::InPort) {
            return Err(FlowError::BadPort(0));
        }
        check_instructions(&spec.instructions, spec.table, ports)?;
        let actions: usize = spec.instructions.iter().map(|i| i.actions().len()).sum();
        if actions > MAX_ACTIONS {
            return Err(FlowError::Instruction(format!(
                "{actions} actions; a flow has at most {MAX_ACTIONS}"
            )));
        }
        for i in &spec.instructions {
            if let Instruction::Meter(m) = i {
                if !self.meters.contains_key(m) {
                    return Err(FlowError::Meter(*m));
                }
            }
            for a in i.actions() {
                if let Action::Group(g) = a {
                    if !self.groups.contains_key(g) {
                        return Err(FlowError::UnknownGroup(*g));
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds a flow (OpenFlow `OFPFC_ADD`): one with the same table, match
    /// and priority is replaced, its counters reset. Returns the replaced one.
    pub fn add(
        &mut self,
        mut spec: FlowSpec,
        ports: usize,
        now_ms: u64,
    ) -> Result<Option<Arc<Rule>>, FlowError> {
        self.check(&spec, ports)?;
        // Run in OpenFlow's order whatever order they came in: meter first.
        spec.instructions.sort_by_key(Instruction::rank);
        let table = spec.table as usize;
        if self.tables.len() <= table {
            self.tables.resize_with(table + 1, FlowTable::default);
        }
        let t = &self.tables[table];
        if spec.flags & FLAG_CHECK_OVERLAP != 0 && t.overlaps(&spec.matcher, spec.priority) {
            return Err(FlowError::Overlap);
        }
        let replaces = t.find_strict(&spec.matcher, spec.priority).is_some();
        if !replaces && self.len >= MAX_FLOWS {
            return Err(FlowError::TableFull);
        }
        self.next_id += 1;
        let rule = Arc::new(Rule {
            id: self.next_id,
            table: spec.table,
            priority: spec.priority,
            matcher: spec.matcher,
            cookie: spec.cookie,
            idle_timeout: spec.idle_timeout,
            hard_timeout: spec.hard_timeout,
            flags: spec.flags,
            instructions: spec.instructions,
            installed_ms: now_ms,
            stats: Arc::default(),
        });
        let old = self.tables[table].insert(rule);
        if old.is_none() {
            self.len += 1;
        }
        Ok(old)
    }

    /// Changes the instructions of the flows `filter` selects (OpenFlow
    /// `OFPFC_MODIFY[_STRICT]`); their counters stay unless `reset_counts`.
    /// Returns the flows as they now are (none is not an error).
    pub fn modify(
        &mut self,
        filter: &FlowFilter,
        instructions: &[Instruction],
        reset_counts: bool,
        ports: usize,
    ) -> Result<Vec<Arc<Rule>>, FlowError> {
        let chosen = self.flows(filter);
        for r in &chosen {
            check_instructions(instructions, r.table, ports)?;
            self.check(
                &FlowSpec {
                    table: r.table,
                    priority: r.priority,
                    matcher: r.matcher.clone(),
                    instructions: instructions.to_vec(),
                    ..FlowSpec::default()
                },
                ports,
            )?;
        }
        let mut instructions = instructions.to_vec();
        instructions.sort_by_key(Instruction::rank);
        let mut now = Vec::with_capacity(chosen.len());
        for r in &chosen {
            let new = Arc::new(Rule {
                id: r.id,
                table: r.table,
                priority: r.priority,
                matcher: r.matcher.clone(),
                cookie: r.cookie,
                idle_timeout: r.idle_timeout,
                hard_timeout: r.hard_timeout,
                flags: r.flags,
                instructions: instructions.clone(),
                installed_ms: r.installed_ms,
                stats: if reset_counts {
                    Arc::default()
                } else {
                    Arc::clone(&r.stats)
                },
            });
            self.tables[r.table as usize].insert(Arc::clone(&new));
            now.push(new);
        }
        Ok(now)
    }

    /// Removes the flows `filter` selects (OpenFlow `OFPFC_DELETE[_STRICT]`).
    pub fn delete(&mut self, filter: &FlowFilter) -> Vec<Arc<Rule>> {
        let chosen = self.flows(filter);
        self.remove_rules(chosen)
    }

    /// Takes these flows out of their tables; returns the ones that were there.
    fn remove_rules(&mut self, rules: Vec<Arc<Rule>>) -> Vec<Arc<Rule>> {
        let mut gone = Vec::with_capacity(rules.len());
        for r in rules {
            if self.tables[r.table as usize]
                .remove(&r.matcher, r.priority)
                .is_some()
            {
                self.len -= 1;
                gone.push(r);
            }
        }
        gone
    }

    /// Removes the flows whose timeouts have passed at `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(Arc<Rule>, RemovedReason)> {
        let gone: Vec<(Arc<Rule>, RemovedReason)> = self
            .tables
            .iter()
            .flat_map(|t| t.iter())
            .filter_map(|r| r.expired(now_ms).map(|why| (Arc::clone(r), why)))
            .collect();
        for (r, _) in &gone {
            if self.tables[r.table as usize]
                .remove(&r.matcher, r.priority)
                .is_some()
            {
                self.len -= 1;
            }
        }
        gone
    }

    /// The earliest time a timeout could remove a flow, if any has one.
    pub fn next_expiry(&self) -> Option<u64> {
        self.tables
            .iter()
            .flat_map(|t| t.iter())
            .filter(|r| r.idle_timeout > 0 || r.hard_timeout > 0)
            .map(|r| {
                let hard = if r.hard_timeout > 0 {
                    r.installed_ms + r.hard_timeout as u64 * 1000
                } else {
                    u64::MAX
                };
                let idle = if r.idle_timeout > 0 {
                    r.installed_ms + r.idle_timeout as u64 * 1000
                } else {
                    u64::MAX
                };
                hard.min(idle)
            })
            .min()
    }

    /// Gives each flow that `old` also has (same table, priority and
    /// match) `old`'s counters and age, and each group its counters: a
    /// pipeline rebuilt from text keeps what the running one counted.
    pub fn adopt_stats(&mut self, old: &Pipeline) {
        for r in self.flows(&FlowFilter::default()) {
            let Some(prev) = old
                .table(r.table)
                .and_then(|t| t.find_strict(&r.matcher, r.priority))
            else {
                continue;
            };
            let kept = Arc::new(Rule {
                id: r.id,
                table: r.table,
                priority: r.priority,
                matcher: r.matcher.clone(),
                cookie: r.cookie,
                idle_timeout: r.idle_timeout,
                hard_timeout: r.hard_timeout,
                flags: r.flags,
                instructions: r.instructions.clone(),
                installed_ms: prev.installed_ms,
                stats: Arc::clone(&prev.stats),
            });
            self.tables[r.table as usize].insert(kept);
        }
        for (id, (_, stats)) in self.groups.iter_mut() {
            if let Some((_, s)) = old.groups.get(id) {
                *stats = Arc::clone(s);
            }
        }
        for (id, (m, st)) in self.meters.iter_mut() {
            if let Some((om, ost)) = old.meters.get(id) {
                if om == m {
                    *st = Arc::clone(ost);
                }
            }
        }
    }

    /// An empty pipeline with this one's groups and meters (what a
    /// PACKET_OUT's actions run against).
    pub fn groups_only(&self) -> Pipeline {
        Pipeline {
            groups: self.groups.clone(),
            meters: self.meters.clone(),
            ..Pipeline::default()
        }
    }

    pub fn meter(&self, id: u32) -> Option<&(Arc<Meter>, Arc<MeterState>)> {
        self.meters.get(&id)
    }

    pub fn meters(&self) -> Vec<(Arc<Meter>, Arc<MeterState>)> {
        let mut v: Vec<_> = self.meters.values().cloned().collect();
        v.sort_by_key(|(m, _)| m.id);
        v
    }

    fn check_meter(m: &Meter) -> Result<(), FlowError> {
        if m.id == 0 || m.id > METER_MAX {
            return Err(FlowError::BadMeter(
                m.id,
                format!("meter ids are 1 to {METER_MAX:#x}"),
            ));
        }
        if m.bands.is_empty() || m.bands.len() > MAX_BANDS {
            return Err(FlowError::BadMeter(
                m.id,
                format!("a meter has 1 to {MAX_BANDS} bands"),
            ));
        }
        if let Some(b) = m.bands.iter().find(|b| b.rate == 0) {
            return Err(FlowError::BadMeter(
                m.id,
                format!("band rate {} must be above 0", b.rate),
            ));
        }
        Ok(())
    }

    /// Adds a meter (`modify`: replaces one of the same id, counters reset).
    pub fn add_meter(&mut self, m: Meter, modify: bool, now_ms: u64) -> Result<(), FlowError> {
        Self::check_meter(&m)?;
        match (self.meters.contains_key(&m.id), modify) {
            (true, false) => return Err(FlowError::MeterExists(m.id)),
            (false, true) => return Err(FlowError::Meter(m.id)),
            (false, false) if self.meters.len() >= MAX_METERS => {
                return Err(FlowError::BadMeter(
                    m.id,
                    format!("at most {MAX_METERS} meters"),
                ))
            }
            _ => {}
        }
        let st = Arc::new(m.new_state(now_ms));
        self.meters.insert(m.id, (Arc::new(m), st));
        Ok(())
    }

    /// Removes a meter (every meter for `None`) and the flows that use it.
    pub fn delete_meter(&mut self, id: Option<u32>) -> Vec<Arc<Rule>> {
        let ids = chosen(&self.meters, id);
        let mut removed = Vec::new();
        for i in ids {
            self.meters.remove(&i);
            let users: Vec<Arc<Rule>> = self
                .flows(&FlowFilter::default())
                .into_iter()
                .filter(|r| r.instructions.contains(&Instruction::Meter(i)))
                .collect();
            removed.extend(self.remove_rules(users));
        }
        removed
    }

    pub fn group(&self, id: u32) -> Option<&(Arc<Group>, Arc<GroupStats>)> {
        self.groups.get(&id)
    }

    pub fn groups(&self) -> Vec<(Arc<Group>, Arc<GroupStats>)> {
        let mut v: Vec<_> = self.groups.values().cloned().collect();
        v.sort_by_key(|(g, _)| g.id);
        v
    }

    fn check_group(&self, g: &Group, ports: usize) -> Result<(), FlowError> {
        if g.id > 0xffff_ff00 {
            return Err(FlowError::BadGroup(
                g.id,
                "group ids go up to 0xffffff00".into(),
            ));
        }
        if g.kind == GroupKind::Indirect && g.buckets.len() != 1 {
            return Err(FlowError::BadGroup(
                g.id,
                "an indirect group has exactly one bucket".into(),
            ));
        }
        if g.buckets.len() > MAX_BUCKETS {
            return Err(FlowError::BadGroup(
                g.id,
                format!(
                    "{} buckets; a group has at most {MAX_BUCKETS}",
                    g.buckets.len()
                ),
            ));
        }
        for b in &g.buckets {
            if b.actions.len() > MAX_ACTIONS {
                return Err(FlowError::BadGroup(
                    g.id,
                    format!("a bucket has at most {MAX_ACTIONS} actions"),
                ));
            }
            for a in &b.actions {
                check_action(a, ports)?;
                if let Action::Group(n) = a {
                    if *n == g.id {
                        return Err(FlowError::GroupLoop(g.id));
                    }
                    if !self.groups.contains_key(n) {
                        return Err(FlowError::UnknownGroup(*n));
                    }
                    if self.reaches(*n, g.id) {
                        return Err(FlowError::GroupLoop(g.id));
                    }
                }
            }
            if let Some(p) = b.watch_port {
                if p.index() >= ports {
                    return Err(FlowError::BadPort(p.0 as u32 + 1));
                }
            }
        }
        Ok(())
    }

    /// Whether group `from` leads to group `to` through its buckets.
    fn reaches(&self, from: u32, to: u32) -> bool {
        let mut stack = vec![from];
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = stack.pop() {
            if id == to {
                return true;
            }
            if !seen.insert(id) {
                continue;
            }
            if let Some((g, _)) = self.groups.get(&id) {
                for b in &g.buckets {
                    for a in &b.actions {
                        if let Action::Group(n) = a {
                            stack.push(*n);
                        }
                    }
                }
            }
        }
        false
    }

    pub fn add_group(&mut self, g: Group, ports: usize) -> Result<(), FlowError> {
        if self.groups.contains_key(&g.id) {
            return Err(FlowError::GroupExists(g.id));
        }
        if self.groups.len() >= MAX_GROUPS {
            return Err(FlowError::BadGroup(
                g.id,
                format!("at most {MAX_GROUPS} groups"),
            ));
        }
        self.check_group(&g, ports)?;
        self.groups.insert(g.id, (Arc::new(g), Arc::default()));
        Ok(())
    }

    pub fn modify_group(&mut self, g: Group, ports: usize) -> Result<(), FlowError> {
        let Some((_, stats)) = self.groups.get(&g.id) else {
            return Err(FlowError::UnknownGroup(g.id));
        };
        let stats = Arc::clone(stats);
        self.check_group(&g, ports)?;
        self.groups.insert(g.id, (Arc::new(g), stats));
        Ok(())
    }

    /// Removes a group (every group for `None`) and the flows that use it.
    pub fn delete_group(&mut self, id: Option<u32>) -> Vec<Arc<Rule>> {
        let ids = chosen(&self.groups, id);
        let mut removed = Vec::new();
        for i in ids {
            self.groups.remove(&i);
            removed.extend(self.delete(&FlowFilter {
                out_group: Some(i),
                ..FlowFilter::default()
            }));
        }
        removed
    }
}

#[cfg(test)]
mod tests;
