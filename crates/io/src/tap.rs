//! TAP ports: vepa creates the device and holds its only file descriptor,
//! so the device disappears when the port is dropped (nothing to clean up
//! after a crash); or it attaches to a persistent one. The netdev may then
//! be moved into a namespace for a container, or handed to a VM.
//!
//! With offloads, the device is opened with `IFF_VNET_HDR` and told by
//! `TUNSETOFFLOAD` that we take partial checksums and TSO, so the stack
//! behind it sends 64 KiB TCP frames through us whole.

use crate::port::Port;
use crate::sys::{iovec, iovec_mut, is_retry};
use crate::IoError;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use vepa_packet::valid_ifname;
use vepa_packet::VirtioNetHdr;

const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_TSO_ECN: libc::c_uint = 0x08;
const TUN_F_USO4: libc::c_uint = 0x20;
const TUN_F_USO6: libc::c_uint = 0x40;

#[derive(Debug)]
pub struct TapPort {
    name: String,
    file: File,
    vnet: bool,
}

impl TapPort {
    /// Creates TAP device `name` and opens it non-blocking. It lives as long as this port.
    pub fn create(name: &str, offloads: bool) -> Result<TapPort, IoError> {
        Self::open(name, offloads, "create tap")
    }

    /// Attaches to the existing persistent TAP device `name` (made with
    /// `ip tuntap add ... mode tap`); it stays when this port closes.
    pub fn attach(name: &str, offloads: bool) -> Result<TapPort, IoError> {
        Self::open(name, offloads, "attach to tap")
    }

    fn open(name: &str, vnet: bool, what: &'static str) -> Result<TapPort, IoError> {
        let file = open_device(name, libc::IFF_TAP, vnet, what)?;
        Ok(TapPort {
            name: name.to_string(),
            file,
            vnet,
        })
    }
}

/// Opens `/dev/net/tun` non-blocking and binds it to device `name` of
/// kind `iff` (`IFF_TAP` or `IFF_TUN`), with the virtio-net header and
/// checksum and segmentation offloads when `vnet`.
pub(crate) fn open_device(
    name: &str,
    iff: libc::c_int,
    vnet: bool,
    what: &'static str,
) -> Result<File, IoError> {
    if !valid_ifname(name) {
        return Err(IoError::BadInterfaceName(name.to_string()));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")
        .map_err(|source| IoError::Os {
            what: "open /dev/net/tun",
            name: name.to_string(),
            source,
        })?;
    let mut flags = iff | libc::IFF_NO_PI;
    if vnet {
        flags |= libc::IFF_VNET_HDR;
    }
    let fd = file.as_raw_fd();
    vepa_kernel::tun::set_iff(fd, name, flags).map_err(|source| IoError::Os {
        what,
        name: name.to_string(),
        source,
    })?;
    if vnet {
        let size = VirtioNetHdr::LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        if unsafe { libc::ioctl(fd, TUNSETVNETHDRSZ as _, &size) } < 0 {
            return Err(IoError::os("set the vnet header size of", name));
        }
        // UDP segmentation offload (kernel 6.2+) where the kernel has it;
        // without, TCP segmentation and checksum offload alone.
        let tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        let set = |flags: libc::c_uint| {
            // SAFETY: TUNSETOFFLOAD takes the flags by value.
            let rc = unsafe { libc::ioctl(fd, TUNSETOFFLOAD as _, flags as libc::c_ulong) };
            rc == 0
        };
        if !set(tcp | TUN_F_USO4 | TUN_F_USO6) && !set(tcp) {
            return Err(IoError::os("enable offloads on", name));
        }
    }
    Ok(file)
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn offloads(&self) -> bool {
        self.vnet
    }

    fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<(VirtioNetHdr, &'a [u8])>> {
        let got = read_device(self.file.as_raw_fd(), self.vnet, buf)?;
        Ok(got.map(|(hdr, len)| (hdr, &buf[..len])))
    }

    fn send(&self, vnet: &VirtioNetHdr, frame: &[u8]) -> io::Result<()> {
        write_device(self.file.as_raw_fd(), self.vnet, vnet, frame)
    }
}

/// Reads one packet from a TUN/TAP descriptor into `buf` (the virtio-net
/// header apart, when `vnet`): the header and the packet's length;
/// `Ok(None)` when nothing is waiting.
pub(crate) fn read_device(
    fd: RawFd,
    vnet: bool,
    buf: &mut [u8],
) -> io::Result<Option<(VirtioNetHdr, usize)>> {
    let mut hdr = [0u8; VirtioNetHdr::LEN];
    let n = if vnet {
        let iov = [iovec_mut(&mut hdr), iovec_mut(buf)];
        // SAFETY: both iovecs point at live buffers of the stated lengths.
        unsafe { libc::readv(fd, iov.as_ptr(), 2) }
    } else {
        // SAFETY: buf is live and its length is passed.
        unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) }
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if is_retry(&e) { Ok(None) } else { Err(e) };
    }
    let skip = if vnet { VirtioNetHdr::LEN } else { 0 };
    Ok(Some((
        VirtioNetHdr::parse(&hdr),
        (n as usize).saturating_sub(skip),
    )))
}

/// Writes one packet to a TUN/TAP descriptor, `hdr` first when `vnet`.
pub(crate) fn write_device(
    fd: RawFd,
    vnet: bool,
    hdr: &VirtioNetHdr,
    packet: &[u8],
) -> io::Result<()> {
    let n = if vnet {
        let hdr = hdr.to_bytes();
        let iov = [iovec(&hdr), iovec(packet)];
        // SAFETY: both iovecs point at live buffers of the stated lengths.
        unsafe { libc::writev(fd, iov.as_ptr(), 2) }
    } else {
        // SAFETY: packet is live and its length is passed.
        unsafe { libc::write(fd, packet.as_ptr() as *const libc::c_void, packet.len()) }
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
