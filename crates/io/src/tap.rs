//! TAP ports: vepa creates the device and holds its only file descriptor,
//! so the device disappears when the port is dropped (nothing to clean up
//! after a crash). The netdev may then be moved into a namespace for a
//! container, or handed to a VM.

use crate::port::{is_retry, Port};
use crate::{valid_ifname, IoError};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[derive(Debug)]
pub struct TapPort {
    name: String,
    file: File,
}

impl TapPort {
    /// Creates TAP device `name` (no packet-info header) and opens it
    /// non-blocking. It lives as long as this port.
    pub fn create(name: &str) -> Result<TapPort, IoError> {
        Self::open(name, "create tap")
    }

    /// Attaches to the existing persistent TAP device `name` (made with
    /// `ip tuntap add ... mode tap`); it stays when this port closes.
    pub fn attach(name: &str) -> Result<TapPort, IoError> {
        Self::open(name, "attach to tap")
    }

    fn open(name: &str, what: &'static str) -> Result<TapPort, IoError> {
        if !valid_ifname(name) {
            return Err(IoError::BadInterfaceName(name.to_string()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|source| IoError::Os {
                what: "open /dev/net/tun for tap",
                name: name.to_string(),
                source,
            })?;
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which lives across the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
        if rc < 0 {
            return Err(IoError::os(what, name));
        }
        Ok(TapPort {
            name: name.to_string(),
            file,
        })
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn recv<'a>(&mut self, buf: &'a mut [u8]) -> io::Result<Option<&'a [u8]>> {
        match self.file.read(buf) {
            Ok(n) => Ok(Some(&buf[..n])),
            Err(e) if is_retry(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.file.write(frame).map(|_| ())
    }
}
