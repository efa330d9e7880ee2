//! What `vepa-cni` reads, as a library: the network configuration and
//! the environment a runtime gives the plugin, and the CNI error object.
//! The binary (`main.rs`) does the attaching; the fuzzers and tests read
//! configurations through here.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod config;
pub mod error;

/// The newest version spoken.
pub const LATEST: &str = "1.1.0";
