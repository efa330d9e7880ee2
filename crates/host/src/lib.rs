//! The host side of vepa: what a topology needs on the machine, made,
//! adopted and removed, and the forwarder assembled over it.
//!
//! - [`ports`]: one port's device, namespace and addresses, and the vepa
//!   port that switches it: a [`ports::PortDriver`] per kind, a file each
//!   (veth, tap, vm_tap, netdev, patch, vxlan, vhost_user);
//! - [`kernel`]: switches made of the kernel's own devices, a file per
//!   shape (macvlan/macvtap, bridge);
//! - [`devices`]: the devices behind a daemon's ports, marked as its own,
//!   adopted across restarts and swept when no longer wanted;
//! - [`filters`]: the topology's ACLs and port guards installed on
//!   switches and routers;
//! - [`assemble`]: the forwarder built over all of it, the one way both
//!   `vepa run` and the daemon do;
//! - [`state`]: what was made, removed last first on error or exit.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod assemble;
pub mod devices;
pub mod filters;
pub mod kernel;
pub mod ports;
pub mod state;

pub use assemble::{assemble, realize, router_attachment, Realized};
pub use devices::{Device, DeviceSpec, Owner, PortKey};
pub use filters::Filters;
pub use kernel::Choice;
pub use ports::{PortMaker, PortOptions};
pub use state::{running_as_root, HostState};
