//! Who is on the other end of a unix socket, and whether they may steer
//! vepa through it: the same rule for the API socket, the OpenFlow
//! management sockets and vhost-user sockets.

use std::os::fd::AsRawFd;

/// A unix-socket peer's credentials as the kernel recorded them at
/// connect (SO_PEERCRED): not what the peer claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
}

impl PeerCred {
    /// The credentials of `sock`'s peer.
    pub fn of(sock: &impl AsRawFd) -> std::io::Result<PeerCred> {
        let mut c = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt(2) writes at most `len` bytes into `c`, a
        // ucred of that size, for a descriptor the caller holds open.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut c as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PeerCred {
            uid: c.uid,
            gid: c.gid,
            pid: c.pid,
        })
    }

    /// Whether this peer may use a socket of `group`: root, vepa's own
    /// user, or a member (primary or supplementary) of `group`. The
    /// sockets' mode (0660) already keeps others out; this holds even if
    /// someone loosens the mode. Without a group, root and vepa's user only.
    pub fn allowed(&self, group: Option<u32>) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if self.uid == 0 || self.uid == me {
            return true;
        }
        let Some(group) = group else { return false };
        if self.gid == group {
            return true;
        }
        if self.pid <= 0 {
            return false;
        }
        // Supplementary groups are not in SO_PEERCRED; the peer's process
        // has them (it is connected: it exists).
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Groups:"))
                    .map(|g| g.split_whitespace().any(|x| x.parse() == Ok(group)))
            })
            .unwrap_or(false)
    }
}
