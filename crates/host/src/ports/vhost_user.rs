//! `vhost-user`: a vhost-user-net backend on a unix socket for QEMU's
//! `-netdev vhost-user`, in the one directory vepa makes them in (root's,
//! writable by nobody else). No interface to make or remove.

use super::driver::{PortDriver, PortOptions};
use anyhow::{bail, Context, Result};
use std::sync::Arc;
use vepa_api::topology::{PortSpec, SwitchSpec};
use vepa_io::Port;

pub struct VhostUser;

impl PortDriver for VhostUser {
    fn validate(&self, _at: &str, _p: &PortSpec) -> Result<()> {
        Ok(())
    }

    fn open(&self, opts: PortOptions, s: &SwitchSpec, p: &PortSpec) -> Result<Arc<dyn Port>> {
        // Checked when the change was taken; checked again for a state
        // stored under another --vhost-user-dir.
        let base = opts.vhost_user_dir();
        let socket = std::path::PathBuf::from(p.vhost_user_socket_in(base, &s.name));
        if !socket.starts_with(base) || socket == std::path::Path::new(base) {
            bail!(
                "socket: {} is outside the vhost-user directory {base}",
                socket.display()
            );
        }
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("socket: cannot make {}", dir.display()))?;
            // The socket is chmod'ed and chown'ed by path after it is
            // bound: nobody but root may be able to swap it for a link in
            // between.
            for d in [std::path::Path::new(base), dir] {
                root_only_dir(d)?;
            }
        }
        Ok(Arc::new(
            vepa_io::VhostUserPort::open(&p.name, socket.clone(), opts.socket_group)
                .with_context(|| format!("socket: {}", socket.display()))?,
        ))
    }

    fn owns_devices(&self) -> bool {
        false
    }
}

/// Checks that only root can change what is in `dir`: a real directory
/// (not a link), root's, writable by nobody else.
fn root_only_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir)
        .with_context(|| format!("socket: cannot read {}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !m.is_dir() || (m.uid() != 0 && m.uid() != me) || m.mode() & 0o022 != 0 {
        bail!(
            "socket: {} must be a directory of root's that only root can write (it is {}, owner {}, mode {:o}): a group member could swap a socket there for a link to another file",
            dir.display(),
            if m.is_dir() { "a directory" } else { "not a directory" },
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}
