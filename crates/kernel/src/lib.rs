//! vepa's side of the kernel: network namespaces ([`netns`]), links and
//! addresses over rtnetlink ([`Netlink`]), the host operations the rest of
//! vepa uses ([`host`]), and what this kernel can do ([`doctor`]).
//!
//! Nothing here shells out: devices are made with netlink messages, TAP
//! devices and offloads with ioctls, namespaces with unshare/setns/mount.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod doctor;
pub mod host;
pub mod netlink;
pub mod netns;
pub mod nic;
pub mod tcx;
pub mod tun;
pub mod xdp;

pub use netlink::{BridgePortFlags, IpvlanFlag, IpvlanMode, Link, MacvlanMode, Netlink, NewLink};

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{op}{}: {source}", quoted(name))]
    Os {
        op: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interface '{0}' does not exist")]
    NoSuchLink(String),
    #[error("{0}")]
    Invalid(String),
}

/// ` 'name'`, or nothing for an unnamed operation.
fn quoted(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" '{name}'")
    }
}

impl KernelError {
    /// The errno behind the error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            KernelError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
