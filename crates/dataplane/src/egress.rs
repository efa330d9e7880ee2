//! A forwarding decision's output, shared by the switch, its decision
//! cache and the flow pipeline.

use crate::PortId;

/// One output of a forwarding decision: send the frame on `port`, tagged
/// with `tag` (or untagged when `None`), with the header changes of
/// rewrite `rewrite` of its [`Decision`](crate::flow::Decision) (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Egress {
    pub port: PortId,
    pub tag: Option<u16>,
    pub rewrite: u8,
}

impl Egress {
    pub fn new(port: PortId, tag: Option<u16>) -> Egress {
        Egress {
            port,
            tag,
            rewrite: 0,
        }
    }
}
