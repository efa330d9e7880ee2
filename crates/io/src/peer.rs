//! Who is on the other end of a unix socket, and whether they may steer
//! vepa through it: the same rule for the API socket, the OpenFlow
//! management sockets and vhost-user sockets.

use std::os::fd::AsRawFd;

/// A unix-socket peer's credentials as the kernel recorded them at
/// connect (SO_PEERCRED, SO_PEERGROUPS): not what the peer claims, and not
/// what a process that later has its PID is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    /// Its supplementary groups at connect.
    pub groups: Vec<u32>,
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
            groups: peer_groups(sock)?,
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
        self.gid == group || self.groups.contains(&group)
    }
}

/// The peer's supplementary groups as the kernel recorded them at connect.
fn peer_groups(sock: &impl AsRawFd) -> std::io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: getsockopt(2) writes at most `len` bytes into `groups`,
        // a buffer of that many bytes, for a descriptor the caller holds.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if r == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = std::io::Error::last_os_error();
        // Too small a buffer: `len` says how much it takes (NGROUPS_MAX
        // bounds it).
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}
