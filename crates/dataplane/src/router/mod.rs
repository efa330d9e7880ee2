//! The router (work in progress for the IP forwarding issue): what it is
//! built from so far.
//!
//! - [`prefix`]: IPv4/IPv6 prefixes and a longest-prefix-match table, the
//!   routing table's core.

pub mod prefix;

pub use prefix::{Prefix, PrefixError, PrefixTable};
