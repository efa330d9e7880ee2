//! Named network namespaces (`/run/netns/NAME`, as iproute2 keeps them),
//! made and removed with syscalls, and work done inside one.
//!
//! A namespace is a file bind-mounted over `/proc/thread-self/ns/net` of a
//! thread that unshared its network namespace; the directory is a shared
//! mount so other mount namespaces see new entries (what `ip netns add`
//! does). Work inside a namespace runs on a thread of its own that has
//! entered it, so the caller's threads never change namespace.

use crate::KernelError;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const NETNS_DIR: &str = "/run/netns";

fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

fn os(op: &'static str, name: &str) -> KernelError {
    KernelError::Os {
        op,
        name: name.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default()
}

pub fn exists(name: &str) -> bool {
    is_namespace(&path(name))
}

/// Removes a plain file left where namespace `name` should be (a creation
/// cut short by a crash); true when there was one.
pub fn clear_stale(name: &str) -> bool {
    let p = path(name);
    p.exists() && !is_namespace(&p) && std::fs::remove_file(&p).is_ok()
}

/// `NSFS_MAGIC`: what statfs says of a bind-mounted namespace file.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Whether `p` is a namespace (a mount of nsfs), not the plain file a
/// creation cut short by a crash leaves behind.
fn is_namespace(p: &Path) -> bool {
    let c = cstr(p);
    // SAFETY: all-zero is a valid statfs, which the call fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs to fill, both outliving the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type as i64 == NSFS_MAGIC
}

/// Every named namespace.
pub fn list() -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// mount(2) with no filesystem type or data: binds and propagation changes.
fn mount(src: &Path, target: &Path, flags: libc::c_ulong) -> std::io::Result<()> {
    let (src, target) = (cstr(src), cstr(target));
    let none = c"none";
    // SAFETY: valid NUL-terminated strings that outlive the call; a null data pointer is allowed.
    if unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            none.as_ptr(),
            flags,
            std::ptr::null(),
        )
    } == 0
    {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes `/run/netns` a shared mount point (once), as iproute2 does.
fn prepare_dir() -> Result<(), KernelError> {
    let dir = Path::new(NETNS_DIR);
    let failed = |op, source| KernelError::Os {
        op,
        name: NETNS_DIR.into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("mkdir", e))?;
    let shared = libc::MS_SHARED | libc::MS_REC;
    match mount(Path::new("none"), dir, shared) {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it on itself, then make it shared.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            mount(dir, dir, libc::MS_BIND | libc::MS_REC).map_err(|e| failed("mount --bind", e))?;
            mount(Path::new("none"), dir, shared).map_err(|e| failed("mount --make-shared", e))
        }
        Err(e) => Err(failed("mount --make-shared", e)),
    }
}

/// Makes a named namespace with its loopback up.
pub fn create(name: &str) -> Result<(), KernelError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(KernelError::Invalid(format!(
            "'{name}' is not a namespace name"
        )));
    }
    prepare_dir()?;
    let p = path(name);
    // A plain file where a namespace should be is what a crash between
    // creating the file and mounting the namespace on it leaves: clear it.
    if p.exists() && !is_namespace(&p) {
        let _ = std::fs::remove_file(&p);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|source| KernelError::Os {
            op: "create netns",
            name: name.into(),
            source,
        })?;
    let n = name.to_string();
    let made = std::thread::spawn(move || -> Result<(), KernelError> {
        // SAFETY: unshare affects only this thread, which ends right after.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(os("unshare", &n));
        }
        mount(Path::new("/proc/thread-self/ns/net"), &p, libc::MS_BIND).map_err(|source| {
            KernelError::Os {
                op: "mount netns",
                name: n.clone(),
                source,
            }
        })?;
        let nl = crate::Netlink::new()?;
        nl.set_up("lo", true)
    })
    .join()
    .unwrap_or_else(|_| Err(KernelError::Invalid("namespace thread panicked".into())));
    if made.is_err() {
        let _ = delete(name);
    }
    made
}

/// Removes a named namespace (its devices go with its last user).
pub fn delete(name: &str) -> Result<(), KernelError> {
    let p = path(name);
    let c = cstr(&p);
    // SAFETY: valid NUL-terminated path.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    std::fs::remove_file(&p).map_err(|source| KernelError::Os {
        op: "delete netns",
        name: name.into(),
        source,
    })
}

pub fn open(name: &str) -> Result<File, KernelError> {
    File::open(path(name)).map_err(|source| KernelError::Os {
        op: "open netns",
        name: name.into(),
        source,
    })
}

/// Runs `f` on a thread inside namespace `name` (or vepa's own for None).
pub fn run_in<T: Send + 'static>(
    name: Option<&str>,
    f: impl FnOnce() -> Result<T, KernelError> + Send + 'static,
) -> Result<T, KernelError> {
    let ns = name.map(open).transpose()?;
    let label = name.unwrap_or("").to_string();
    std::thread::spawn(move || {
        if let Some(ns) = ns {
            // SAFETY: a valid namespace fd; setns affects only this thread.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(os("setns", &label));
            }
        }
        f()
    })
    .join()
    .unwrap_or_else(|_| Err(KernelError::Invalid("namespace thread panicked".into())))
}

/// Runs `f` on a thread in a new, nameless namespace that vanishes, with
/// everything made in it, when `f` returns.
pub fn scratch<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KernelError> + Send + 'static,
) -> Result<T, KernelError> {
    std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(os("unshare", "scratch"));
        }
        f()
    })
    .join()
    .unwrap_or_else(|_| Err(KernelError::Invalid("scratch thread panicked".into())))
}
