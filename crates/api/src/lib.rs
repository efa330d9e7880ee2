//! What the daemon and the CLI say to each other: the desired state
//! ([`topology`]), the changes between two states ([`plan`]) and the
//! request and answer bodies of the HTTP API ([`wire`]). The daemon serves
//! these types and the CLI sends them, so the two cannot drift apart; the
//! OpenAPI document is derived from them too.

#![forbid(unsafe_code)]

pub mod flowtext;
pub mod graph;
pub mod plan;
pub mod topology;
pub mod wire;

/// The API's version prefix: every path starts with it.
pub const PREFIX: &str = "/v1";
