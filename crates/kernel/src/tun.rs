//! The TUN/TAP driver's one ioctl every user of it needs: binding an open
//! `/dev/net/tun` descriptor to a device.

use std::os::fd::RawFd;

/// Binds `fd` (an open `/dev/net/tun`) to TAP device `name` with `flags`
/// (`IFF_TAP | IFF_NO_PI`, and `IFF_VNET_HDR`, `IFF_TUN_EXCL` as wanted):
/// the device is made if missing, unless `IFF_TUN_EXCL` forbids taking
/// an existing one. `name` longer than IFNAMSIZ-1 bytes is cut there (the
/// callers check names first).
pub fn set_iff(fd: RawFd, name: &str, flags: libc::c_int) -> std::io::Result<()> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which lives across the call.
    if unsafe { libc::ioctl(fd, libc::TUNSETIFF as _, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
