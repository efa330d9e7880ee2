//! Flows and groups in `ovs-ofctl`'s text syntax, both ways.
//!
//! `priority=100,icmp,in_port=vm1,actions=drop` is what people already
//! write for Open vSwitch, so the CLI, the topology file and the API take
//! it as it is (ovs-fields(7), ovs-actions(7)), with port names or
//! OpenFlow port numbers (a switch's ports are numbered from 1 in file
//! order, the uplink first). [`format_flow`] writes the one canonical form
//! the store keeps and `export` prints, so parse ∘ format is the identity
//! on what it writes.

mod format;
mod packet;
mod parse;
#[cfg(test)]
mod tests;

pub use format::{
    format_actions, format_flow, format_group, format_match, format_meter, format_out_port,
};
pub use packet::frame_of_flow;
pub use parse::{parse_flow, parse_group, parse_meter, ParsedFlow};

/// A flow or group text that could not be read: which part, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {problem}")]
pub struct FlowTextError {
    /// The field, action or keyword at fault, as written.
    pub part: String,
    pub problem: String,
}

impl FlowTextError {
    pub(crate) fn new(part: impl Into<String>, problem: impl Into<String>) -> FlowTextError {
        FlowTextError {
            part: part.into(),
            problem: problem.into(),
        }
    }
}

/// The names of a switch's ports, by OpenFlow number − 1.
#[derive(Debug, Clone, Copy)]
pub struct PortNames<'a>(pub &'a [String]);

impl PortNames<'_> {
    pub fn id(&self, s: &str) -> Option<vepa_dataplane::PortId> {
        if let Some(i) = self.0.iter().position(|n| n == s) {
            return Some(vepa_dataplane::PortId(i as u16));
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 && (n as usize) <= self.0.len() => {
                Some(vepa_dataplane::PortId((n - 1) as u16))
            }
            _ => None,
        }
    }

    pub fn name(&self, p: vepa_dataplane::PortId) -> String {
        self.0
            .get(p.index())
            .cloned()
            .unwrap_or_else(|| (p.0 as u32 + 1).to_string())
    }
}
