//! IP filtering: access lists (stateless or with connection tracking) on
//! switch ports and routers, and anti-spoofing on VM ports.
//!
//! - [`rule`]: the rule language (`allow tcp dst 10.2.0.0/24 dport 80`);
//! - [`L3Packet`]: what a rule looks at, read with the frame's [`Parsed`] headers;
//! - [`acl`]: ordered rules with a default, counters, a connection zone;
//! - [`guard`]: the MACs and addresses a port may send from.
//!
//! A port's filters run where docs/design.md's pipeline puts them: the guard and
//! the inbound list on a frame the port sends into the switch, the
//! outbound list on each copy the switch sends to the port. Frames that
//! are not IP pass the lists (ARP is the guard's), and so does IPv6
//! neighbor discovery: a list that blocked it would cut a VM off its link.

pub mod acl;
pub mod guard;
pub mod rule;

pub use crate::l3::L3Packet;
pub use acl::{Acl, AclVerdict, Zone};
pub use guard::PortGuard;
pub use rule::{AclAction, AclRule, RuleError};

use crate::conntrack::Side;
use crate::counters::DropReason;
use crate::parsed::Parsed;
use std::sync::Arc;
use vepa_packet::ip;
use vepa_packet::EtherType;

/// What a port filter decided for one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterVerdict {
    Pass,
    Drop(DropReason),
    /// Dropped; this frame (untagged) answers the sender.
    Reject(Vec<u8>),
}

/// The lists and connection tables copied so far for one trace: a list
/// or a table several places share is copied once and shared again.
#[derive(Default)]
pub struct Copies {
    acls: Vec<(usize, Arc<Acl>)>,
    zones: Vec<(usize, Arc<Zone>)>,
}

impl Copies {
    pub fn acl(&mut self, a: &Arc<Acl>) -> Arc<Acl> {
        let key = Arc::as_ptr(a) as usize;
        if let Some((_, c)) = self.acls.iter().find(|(k, _)| *k == key) {
            return Arc::clone(c);
        }
        let c = Arc::new(a.copy());
        self.acls.push((key, Arc::clone(&c)));
        c
    }

    pub fn zone(&mut self, z: &Arc<Zone>) -> Arc<Zone> {
        let key = Arc::as_ptr(z) as usize;
        if let Some((_, c)) = self.zones.iter().find(|(k, _)| *k == key) {
            return Arc::clone(c);
        }
        let c = Arc::new(z.copy());
        self.zones.push((key, Arc::clone(&c)));
        c
    }

    /// The copy made of `a`, if one was.
    pub fn copied_acl(&self, a: &Arc<Acl>) -> Option<&Arc<Acl>> {
        let key = Arc::as_ptr(a) as usize;
        self.acls.iter().find(|(k, _)| *k == key).map(|(_, c)| c)
    }
}

/// The filters of one switch port.
#[derive(Debug)]
pub struct PortFilter {
    pub guard: Option<PortGuard>,
    pub acl_in: Option<Arc<Acl>>,
    pub acl_out: Option<Arc<Acl>>,
    /// Shared by both directions: what one allows out, the other sees come back.
    pub zone: Arc<Zone>,
    /// Whether connections are tracked here: then a direction without a
    /// list still records the connections it lets through, so the other
    /// direction's list knows their replies.
    pub stateful: bool,
}

impl PortFilter {
    /// Copies of the lists and the connection table (lists shared
    /// between ports stay shared in the copy through `copies`, keyed by
    /// address): what a trace runs on, so it changes nothing real.
    pub fn copy(&self, copies: &mut Copies) -> PortFilter {
        PortFilter {
            guard: self.guard.clone(),
            acl_in: self.acl_in.as_ref().map(|a| copies.acl(a)),
            acl_out: self.acl_out.as_ref().map(|a| copies.acl(a)),
            zone: copies.zone(&self.zone),
            stateful: self.stateful,
        }
    }

    /// A frame the port sends into the switch.
    pub fn ingress(&self, frame: &Parsed<'_>, now: u64) -> FilterVerdict {
        if let Some(g) = &self.guard {
            if let Err(r) = g.check(frame) {
                return FilterVerdict::Drop(r);
            }
        }
        match &self.acl_in {
            Some(acl) => apply(acl, &self.zone, frame, now, Side::Own),
            None => self.pass_tracked(frame, now, Side::Own),
        }
    }

    fn pass_tracked(&self, frame: &Parsed<'_>, now: u64, side: Side) -> FilterVerdict {
        if self.stateful {
            if let Some(p) = frame.l3() {
                self.zone.commit(p, now, side);
            }
        }
        FilterVerdict::Pass
    }

    /// A copy the switch sends to the port.
    pub fn egress(&self, frame: &Parsed<'_>, now: u64) -> FilterVerdict {
        match &self.acl_out {
            Some(acl) => apply(acl, &self.zone, frame, now, Side::Others),
            None => self.pass_tracked(frame, now, Side::Others),
        }
    }
}

/// `side`: who a connection this packet opens would be opened by.
fn apply(acl: &Acl, zone: &Zone, frame: &Parsed<'_>, now: u64, side: Side) -> FilterVerdict {
    let Some(p) = frame.l3() else {
        return FilterVerdict::Pass;
    };
    if p.is_nd() {
        return FilterVerdict::Pass;
    }
    match acl.evaluate(p, zone, now, side) {
        AclVerdict::Allow => FilterVerdict::Pass,
        AclVerdict::Drop => FilterVerdict::Drop(DropReason::AclDrop),
        AclVerdict::TableFull => FilterVerdict::Drop(DropReason::ConntrackFull),
        AclVerdict::Reject => match reject_frame(frame, p) {
            Some(f) => FilterVerdict::Reject(f),
            None => FilterVerdict::Drop(DropReason::AclDrop),
        },
    }
}

/// [`reject_ip`](crate::l3::reject_ip) for a frame: the answer with the MACs swapped, untagged.
fn reject_frame(eth: &Parsed<'_>, p: &L3Packet) -> Option<Vec<u8>> {
    if eth.dst().is_multicast() {
        return None;
    }
    let body = crate::l3::reject_ip(eth.payload(), p)?;
    let mut f = Vec::with_capacity(14 + body.len());
    let ethertype = if p.src.is_ipv4() {
        EtherType::IPV4
    } else {
        EtherType::IPV6
    };
    ip::write_ethernet(&mut f, eth.src(), eth.dst(), ethertype);
    f.extend_from_slice(&body);
    Some(f)
}
