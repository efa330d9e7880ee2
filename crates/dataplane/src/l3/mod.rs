//! Layer-3 types the filters and the routers share: IP prefixes and
//! longest-prefix match, the packet summary a filter judges, and the
//! answer to a rejected packet.

pub mod packet;
pub mod prefix;
mod reject;

pub use packet::L3Packet;
pub use prefix::{Prefix, PrefixError, PrefixTable};
pub use reject::reject_ip;
