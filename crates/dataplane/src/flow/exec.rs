//! Running one frame through the flow tables.
//!
//! The executor keeps a working copy of the frame's key: `set_field`,
//! VLAN push/pop and metadata writes change it, and later tables match
//! the changed packet (OpenFlow's semantics). An output records an
//! [`Egress`] with the VLAN tag the packet has at that moment and, when
//! other headers changed, the index of a [`Rewrite`] the I/O side applies
//! while writing that copy. Nothing here allocates once the decision's
//! vectors have grown to their working size.

use super::action::{Action, ActionSet, Instruction, OutPort};
use super::rewrite::Rewrite;
use super::table::RuleStats;
use super::{GroupKind, Miss, Pipeline};
use crate::key::{Field, Key, VID_PRESENT};
use crate::{DropReason, Egress, PortId};
use std::sync::Arc;

/// Why a packet goes to the controller (OpenFlow's `ofp_packet_in_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketInReason {
    NoMatch,
    Action,
    InvalidTtl,
}

/// A copy for the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToController {
    pub reason: PacketInReason,
    pub table: u8,
    pub cookie: u64,
    pub max_len: u16,
    /// The VLAN tag and other changes of the copy, as for an [`Egress`].
    pub tag: Option<u16>,
    pub rewrite: u8,
    /// The metadata the pipeline had written when it was sent.
    pub metadata: u64,
}

/// Everything one frame's forwarding decided.
#[derive(Debug, Default)]
pub struct Decision {
    pub egress: Vec<Egress>,
    /// How many of `egress` forwarding decided; the rest are mirrors'
    /// copies.
    pub forwarded: usize,
    /// `Egress::rewrite` n refers to `rewrites[n - 1]`.
    pub rewrites: Vec<Rewrite>,
    pub controller: Vec<ToController>,
    /// The flows that matched, for the decision cache to count its hits on.
    pub(crate) rules: Vec<Arc<RuleStats>>,
    /// Whether the switch's own forwarding took part (the decision then
    /// depends on the FDB).
    pub(crate) used_normal: bool,
    /// What NORMAL decided, and why it sent nowhere if it did.
    pub(crate) normal: Vec<Egress>,
    pub(crate) normal_drop: Option<DropReason>,
    /// The decision depends on more than the key (a TTL ran down).
    pub(crate) uncacheable: bool,
    /// Frames the switch itself answers with (a filter's reject): sent out
    /// of `port` with VLAN `tag`, untagged in the buffer.
    pub generated: Vec<Generated>,
    /// The frame is for the ingress port's link agent (LLDP, ECP), not
    /// for forwarding.
    pub link: bool,
    /// A buffer to write a rewritten copy in, to judge it (kept between
    /// frames, so nothing is allocated per frame).
    pub(crate) scratch: Vec<u8>,
    /// While tracing: why the pipeline decided what it did (and the
    /// flows' counters and meters are left alone). `None` when forwarding.
    pub(crate) trace: Option<Vec<crate::trace::Step>>,
}

/// A frame the switch originates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub port: crate::PortId,
    pub tag: Option<u16>,
    pub frame: Vec<u8>,
}

impl Decision {
    pub fn clear(&mut self) {
        self.egress.clear();
        self.rewrites.clear();
        self.controller.clear();
        self.rules.clear();
        self.used_normal = false;
        self.normal.clear();
        self.normal_drop = None;
        self.uncacheable = false;
        self.generated.clear();
        self.link = false;
    }

    /// The rewrite an egress refers to.
    pub fn rewrite_of(&self, e: &Egress) -> Option<&Rewrite> {
        match e.rewrite {
            0 => None,
            n => self.rewrites.get(n as usize - 1),
        }
    }
}

/// The packet as the actions have made it so far.
#[derive(Clone)]
struct Working {
    key: Key,
    tpid: u16,
    ttl_dec: u8,
    /// Headers other than the VLAN ID differ from the frame's.
    dirty: bool,
    /// The rewrite recorded for the current state (0: none yet).
    recorded: u8,
    /// A TTL ran out: nothing more leaves.
    dead: bool,
}

/// Limits recursion through group buckets that name other groups.
const MAX_GROUP_DEPTH: u8 = 8;
/// Copies one frame may make at most (groups that fan out to groups could
/// multiply without end); past it, further outputs are dropped.
pub const MAX_COPIES: usize = 1024;

pub(crate) struct Exec<'a, 'f> {
    pub pipeline: &'a Pipeline,
    pub in_port: PortId,
    pub ports: usize,
    pub frame: &'a crate::parsed::Parsed<'f>,
    pub now_ms: u64,
    pub d: &'a mut Decision,
    /// The flow running now is a table-miss entry (priority 0, matching
    /// everything): its controller copies say "no match", as OpenFlow 1.3 asks.
    pub miss_entry: bool,
}

impl Exec<'_, '_> {
    /// Runs the frame with key `key` through the tables; `normal` is the
    /// switch's own forwarding (called at most once). An `Err` is why
    /// nothing was output.
    pub fn run(
        &mut self,
        key: &Key,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
    ) -> Result<(), DropReason> {
        let mut w = Working {
            key: *key,
            tpid: 0x8100,
            ttl_dec: 0,
            dirty: false,
            recorded: 0,
            dead: false,
        };
        let mut set = ActionSet::default();
        let mut table = 0u8;
        loop {
            let rule = self
                .pipeline
                .table(table)
                .and_then(|t| t.lookup(&w.key))
                .cloned();
            let Some(rule) = rule else {
                if let Some(t) = self.d.trace.as_mut() {
                    t.push(crate::trace::Step::new(
                        crate::trace::Stage::Flow,
                        format!(
                            "table {table}: no flow matches; the table-miss policy {}",
                            match self.pipeline.miss {
                                Miss::Normal => "hands it to NORMAL",
                                Miss::Drop => "drops it",
                            }
                        ),
                    ));
                }
                match self.pipeline.miss {
                    Miss::Normal => self.output(&mut w, OutPort::Normal, table, 0, normal),
                    Miss::Drop => {}
                }
                return self.verdict(DropReason::TableMiss);
            };
            match self.d.trace.as_mut() {
                Some(t) => t.push(crate::trace::Step {
                    stage: crate::trace::Stage::Flow,
                    detail: format!("table {table}:"),
                    rule: Some((rule.table, rule.id)),
                }),
                None => rule.stats.hit(self.frame.len(), self.now_ms),
            }
            self.miss_entry = rule.priority == 0 && rule.matcher.specificity() == 0;
            self.d.rules.push(Arc::clone(&rule.stats));
            let mut next = None;
            for ins in &rule.instructions {
                match ins {
                    Instruction::Apply(actions) => {
                        self.apply(&mut w, actions, table, rule.cookie, normal, 0)
                    }
                    Instruction::Clear => set.clear(),
                    Instruction::Write(actions) => set.write(actions),
                    Instruction::WriteMetadata { value, mask } => {
                        let m = Field::Metadata.get(&w.key) as u64;
                        Field::Metadata.put(&mut w.key, ((m & !mask) | (value & mask)) as u128);
                    }
                    Instruction::Goto(t) => next = Some(*t),
                    Instruction::Meter(id) => {
                        // Time decides, so the decision is not cached.
                        self.d.uncacheable = true;
                        if let Some(t) = self.d.trace.as_mut() {
                            // A trace takes no token: it would change the
                            // meter's rate for real traffic.
                            t.push(crate::trace::Step::new(
                                crate::trace::Stage::Flow,
                                format!(
                                    "meter {id}: not applied in a trace (assumed within its rate)"
                                ),
                            ));
                            continue;
                        }
                        let pass = self
                            .pipeline
                            .meter(*id)
                            .is_none_or(|(m, st)| m.admit(st, self.frame.len(), self.now_ms));
                        if !pass {
                            return self.verdict(DropReason::MeterDrop);
                        }
                    }
                }
            }
            match next {
                Some(t) => table = t,
                None => {
                    self.run_set(&mut w, &set, table, rule.cookie, normal);
                    return self.verdict(DropReason::FlowDrop);
                }
            }
        }
    }

    fn verdict(&mut self, why: DropReason) -> Result<(), DropReason> {
        if !self.d.egress.is_empty() || !self.d.controller.is_empty() {
            return Ok(());
        }
        Err(self.d.normal_drop.unwrap_or(why))
    }

    /// The action set, in OpenFlow's order: pop, push, TTL, set-field,
    /// then the group or else the output.
    fn run_set(
        &mut self,
        w: &mut Working,
        set: &ActionSet,
        table: u8,
        cookie: u64,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
    ) {
        if set.is_empty() {
            return;
        }
        if set.pop_vlan {
            self.act(w, &Action::PopVlan, table, cookie, normal, 0);
        }
        if let Some(t) = set.push_vlan {
            self.act(w, &Action::PushVlan(t), table, cookie, normal, 0);
        }
        if set.dec_ttl {
            self.act(w, &Action::DecNwTtl, table, cookie, normal, 0);
        }
        for (f, v) in &set.set_fields {
            self.act(w, &Action::SetField(*f, *v), table, cookie, normal, 0);
        }
        if let Some(g) = set.group {
            self.act(w, &Action::Group(g), table, cookie, normal, 0);
        } else if let Some(p) = set.output {
            self.output(w, p, table, cookie, normal);
        }
    }

    fn apply(
        &mut self,
        w: &mut Working,
        actions: &[Action],
        table: u8,
        cookie: u64,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
        depth: u8,
    ) {
        for a in actions {
            self.act(w, a, table, cookie, normal, depth);
        }
    }

    fn act(
        &mut self,
        w: &mut Working,
        a: &Action,
        table: u8,
        cookie: u64,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
        depth: u8,
    ) {
        match a {
            Action::Output(p) => self.output(w, *p, table, cookie, normal),
            Action::SetField(Field::VlanVid, v) => {
                let vid = (*v as u16) & 0x0fff;
                Field::VlanVid.put(&mut w.key, (VID_PRESENT | vid) as u128);
            }
            Action::SetField(f, v) => {
                if *f == Field::VlanPcp && Field::VlanVid.get(&w.key) == 0 {
                    return; // no tag to carry a priority
                }
                if f.get(&w.key) != *v {
                    f.put(&mut w.key, *v);
                    if !matches!(f, Field::Metadata | Field::TunnelId) {
                        w.dirty = true;
                        w.recorded = 0;
                    }
                }
            }
            Action::PushVlan(t) => {
                if Field::VlanVid.get(&w.key) == 0 {
                    Field::VlanVid.put(&mut w.key, VID_PRESENT as u128);
                    Field::VlanPcp.put(&mut w.key, 0);
                }
                if *t != w.tpid {
                    w.tpid = *t;
                    w.dirty = true;
                    w.recorded = 0;
                }
            }
            Action::PopVlan => {
                // A tag pushed again later would otherwise keep this priority.
                if Field::VlanPcp.get(&w.key) != 0 {
                    w.dirty = true;
                    w.recorded = 0;
                }
                Field::VlanVid.put(&mut w.key, 0);
                Field::VlanPcp.put(&mut w.key, 0);
            }
            Action::DecNwTtl => {
                let Some(ttl) = self.frame.ttl() else {
                    return;
                };
                self.d.uncacheable = true;
                w.ttl_dec = w.ttl_dec.saturating_add(1);
                w.dirty = true;
                w.recorded = 0;
                if ttl <= w.ttl_dec {
                    w.dead = true;
                }
            }
            Action::Group(g) => self.group(w, *g, table, cookie, normal, depth),
        }
    }

    fn group(
        &mut self,
        w: &mut Working,
        id: u32,
        table: u8,
        cookie: u64,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
        depth: u8,
    ) {
        if depth >= MAX_GROUP_DEPTH || self.d.egress.len() >= MAX_COPIES {
            return;
        }
        // Group counters count each packet: a cached decision would skip them.
        self.d.uncacheable = true;
        let Some((g, stats)) = self.pipeline.group(id) else {
            return;
        };
        let (g, stats) = (Arc::clone(g), Arc::clone(stats));
        stats
            .packets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stats.bytes.fetch_add(
            self.frame.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let pick = |this: &Self, w: &Working| -> Option<usize> {
            match g.kind {
                GroupKind::Indirect => (!g.buckets.is_empty()).then_some(0),
                GroupKind::Select => {
                    let total: u32 = g.buckets.iter().map(|b| b.weight.max(1) as u32).sum();
                    if total == 0 {
                        return None;
                    }
                    let mut h = rustc_hash::FxHasher::default();
                    std::hash::Hash::hash(&w.key[1..4], &mut h);
                    std::hash::Hash::hash(&w.key[6..10], &mut h);
                    let mut at = (std::hash::Hasher::finish(&h) % total as u64) as u32;
                    g.buckets.iter().position(|b| {
                        let wgt = b.weight.max(1) as u32;
                        if at < wgt {
                            true
                        } else {
                            at -= wgt;
                            false
                        }
                    })
                }
                // Every port is up while its switch runs.
                GroupKind::FastFailover => g
                    .buckets
                    .iter()
                    .position(|b| b.watch_port.is_none_or(|p| p.index() < this.ports)),
                GroupKind::All => None,
            }
        };
        if g.kind == GroupKind::All {
            for b in &g.buckets {
                if self.d.egress.len() >= MAX_COPIES {
                    break;
                }
                let mut copy = w.clone();
                self.apply(&mut copy, &b.actions, table, cookie, normal, depth + 1);
            }
        } else if let Some(i) = pick(self, w) {
            let mut copy = w.clone();
            self.apply(
                &mut copy,
                &g.buckets[i].actions,
                table,
                cookie,
                normal,
                depth + 1,
            );
        }
    }

    fn output(
        &mut self,
        w: &mut Working,
        port: OutPort,
        table: u8,
        cookie: u64,
        normal: &mut dyn FnMut(&mut Vec<Egress>) -> Result<(), DropReason>,
    ) {
        if w.dead {
            return;
        }
        let vlan = Field::VlanVid.get(&w.key) as u16;
        let tag = (vlan & VID_PRESENT != 0).then_some(vlan & 0x0fff);
        let rewrite = self.rewrite(w);
        let d = &mut *self.d;
        let mut push = |p: PortId| {
            if d.egress.len() < MAX_COPIES {
                d.egress.push(Egress {
                    port: p,
                    tag,
                    rewrite,
                })
            }
        };
        match port {
            OutPort::Port(p) if p != self.in_port && p.index() < self.ports => push(p),
            OutPort::Port(_) => {}
            OutPort::InPort => push(self.in_port),
            OutPort::Flood | OutPort::All => {
                for i in 0..self.ports {
                    let p = PortId(i as u16);
                    if p != self.in_port {
                        push(p);
                    }
                }
            }
            OutPort::Normal => {
                if !d.used_normal {
                    d.used_normal = true;
                    d.normal.clear();
                    if let Err(why) = normal(&mut d.normal) {
                        d.normal_drop = Some(why);
                        d.normal.clear();
                    }
                }
                for i in 0..d.normal.len() {
                    let e = d.normal[i];
                    d.egress.push(Egress { rewrite, ..e });
                }
            }
            OutPort::Controller { max_len } => d.controller.push(ToController {
                reason: if self.miss_entry {
                    PacketInReason::NoMatch
                } else {
                    PacketInReason::Action
                },
                table,
                cookie,
                max_len,
                tag,
                rewrite,
                metadata: Field::Metadata.get(&w.key) as u64,
            }),
            OutPort::Table => {}
        }
    }

    /// The rewrite index for the working packet, recording it on first use.
    fn rewrite(&mut self, w: &mut Working) -> u8 {
        if !w.dirty {
            return 0;
        }
        if w.recorded != 0 {
            return w.recorded;
        }
        if self.d.rewrites.len() >= u8::MAX as usize {
            return 0;
        }
        self.d.rewrites.push(Rewrite {
            key: w.key,
            tpid: w.tpid,
            ttl_dec: w.ttl_dec,
        });
        w.recorded = self.d.rewrites.len() as u8;
        w.recorded
    }
}
