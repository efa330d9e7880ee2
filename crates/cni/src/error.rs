//! CNI errors as the spec has them: a JSON object on stdout with a code
//! (1-99 the spec's own, 100 and up this plugin's) and a message that
//! names what was wrong.

use serde::Serialize;

/// The spec's error codes this plugin uses.
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const NOT_AVAILABLE: u32 = 50;
    /// The vepa daemon refused the change (its words in `details`).
    pub const DAEMON_REFUSED: u32 = 100;
    /// CHECK found the attachment not as ADD left it.
    pub const CHECK_FAILED: u32 = 101;
}

#[derive(Debug, Clone, Serialize)]
pub struct CniError {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub code: u32,
    pub msg: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            cni_version: crate::LATEST.to_string(),
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn details(mut self, d: impl std::fmt::Display) -> CniError {
        self.details = d.to_string();
        self
    }
}

pub type Result<T> = std::result::Result<T, CniError>;
