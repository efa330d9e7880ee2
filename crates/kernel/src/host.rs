//! The host operations vepa's realizer and daemon use: namespaces, veth
//! pairs, moving, renaming, addressing, marking and listing links. Each
//! call runs on a short-lived thread in the namespace it concerns, with
//! its own netlink handle, so no caller ever changes namespace.

use crate::{netns, KernelError, Netlink, NewLink};
use std::ffi::CString;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

pub fn netns_exists(name: &str) -> bool {
    netns::exists(name)
}

/// Removes a plain file a crash left where a namespace should be.
pub fn netns_clear_stale(name: &str) -> bool {
    netns::clear_stale(name)
}

pub fn add_netns(name: &str) -> Result<(), KernelError> {
    netns::create(name)
}

pub fn del_netns(name: &str) -> Result<(), KernelError> {
    netns::delete(name)
}

/// Every named network namespace.
pub fn namespaces() -> Vec<String> {
    netns::list()
}

/// Runs `f` with a netlink handle in `netns` (vepa's own for None).
fn with<T: Send + 'static>(
    netns: Option<&str>,
    f: impl FnOnce(&Netlink) -> Result<T, KernelError> + Send + 'static,
) -> Result<T, KernelError> {
    netns::run_in(netns, move || f(&Netlink::new()?))
}

/// Gives `ifname` (in `netns`, or vepa's) random IPv6 interface
/// identifiers (`addr_gen_mode` 3) instead of its MAC's EUI-64: devices
/// that share one MAC (an ipvlan switch's ports) would otherwise all make
/// the same link-local address and fail each other's duplicate address
/// detection. Takes effect when the device next comes up.
pub fn random_interface_ids(netns: Option<&str>, ifname: &str) -> Result<(), KernelError> {
    let n = ifname.to_string();
    with(netns, move |_| {
        // /proc/sys/net is the namespace of the thread that opens it.
        let path = format!("/proc/sys/net/ipv6/conf/{n}/addr_gen_mode");
        match std::fs::write(&path, "3") {
            Ok(()) => Ok(()),
            // No IPv6 on this host or device: nothing to keep apart.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(KernelError::Os {
                op: "set addr_gen_mode of",
                name: n,
                source,
            }),
        }
    })
}

/// Whether interface `name` exists in vepa's own namespace.
pub fn link_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated name.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

/// Whether `name` is a TUN/TAP device in TAP mode (in vepa's namespace).
pub fn is_tap(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/tun_flags"))
        .ok()
        .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|flags| flags & libc::IFF_TAP as u32 != 0)
}

pub fn add_veth(name: &str, peer: &str) -> Result<(), KernelError> {
    let (n, p) = (name.to_string(), peer.to_string());
    with(None, move |nl| nl.add(NewLink::Veth { name: &n, peer: &p }))
}

pub fn del_link(name: &str) -> Result<(), KernelError> {
    let n = name.to_string();
    with(None, move |nl| nl.del(&n))
}

/// Deletes a link inside `netns` (vepa's own for None).
pub fn del_link_in(netns: Option<&str>, name: &str) -> Result<(), KernelError> {
    let n = name.to_string();
    with(netns, move |nl| nl.del(&n))
}

/// Runs `f` with a netlink handle in `netns` (vepa's own for None).
pub fn netlink<T: Send + 'static>(
    netns: Option<&str>,
    f: impl FnOnce(&Netlink) -> Result<T, KernelError> + Send + 'static,
) -> Result<T, KernelError> {
    with(netns, f)
}

pub fn move_to_netns(ifname: &str, netns_name: &str) -> Result<(), KernelError> {
    let ns = netns::open(netns_name)?;
    let n = ifname.to_string();
    with(None, move |nl| nl.move_to(&n, ns.as_raw_fd()))
}

/// Parses `10.0.0.1/24` (or an IPv6 address with its prefix).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), KernelError> {
    let bad = || KernelError::Invalid(format!("'{s}' is not an address with a prefix length"));
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok((addr, prefix))
}

/// Sets MAC, MTU and addresses on `ifname` and brings it up, inside `netns` when given.
pub fn configure(
    netns: Option<&str>,
    ifname: &str,
    mac: Option<[u8; 6]>,
    addresses: &[String],
    mtu: Option<u32>,
) -> Result<(), KernelError> {
    configure_with_gateways(netns, ifname, mac, addresses, mtu, &[])
}

/// [`configure`], then a default route via each of `gateways` (one per family).
pub fn configure_with_gateways(
    netns: Option<&str>,
    ifname: &str,
    mac: Option<[u8; 6]>,
    addresses: &[String],
    mtu: Option<u32>,
    gateways: &[IpAddr],
) -> Result<(), KernelError> {
    let addrs = addresses
        .iter()
        .map(|a| parse_cidr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ifname.to_string();
    let gws = gateways.to_vec();
    with(netns, move |nl| {
        if let Some(m) = mac {
            nl.set_mac(&n, m)?;
        }
        if let Some(m) = mtu {
            nl.set_mtu(&n, m)?;
        }
        for (a, p) in addrs {
            nl.add_address(&n, a, p)?;
        }
        nl.set_up(&n, true)?;
        for g in gws {
            nl.add_default_route(&n, g)?;
        }
        Ok(())
    })
}

/// A permanent ARP/ND entry on `ifname` inside `netns`.
pub fn set_neighbour(
    netns: Option<&str>,
    ifname: &str,
    ip: IpAddr,
    mac: [u8; 6],
) -> Result<(), KernelError> {
    let n = ifname.to_string();
    with(netns, move |nl| nl.set_neighbour(&n, ip, mac))
}

/// Renames `old` to `new`, inside `netns` when given.
pub fn rename(netns: Option<&str>, old: &str, new: &str) -> Result<(), KernelError> {
    let (o, n) = (old.to_string(), new.to_string());
    with(netns, move |nl| nl.rename(&o, &n))
}

/// Sets the interface alias (ifalias): vepa marks what it owns with it.
pub fn set_alias(netns: Option<&str>, ifname: &str, alias: &str) -> Result<(), KernelError> {
    let (n, a) = (ifname.to_string(), alias.to_string());
    with(netns, move |nl| nl.set_alias(&n, &a))
}

/// The alias of an interface in vepa's namespace (None: no such interface or no alias).
pub fn alias(ifname: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/ifalias"))
        .ok()
        .map(|a| a.trim_end_matches('\n').to_string())
        .filter(|a| !a.is_empty())
}

/// The alias of the loopback device inside `netns` (how vepa marks a namespace it made).
pub fn netns_alias(netns: &str) -> Option<String> {
    with(Some(netns), |nl| Ok(nl.link("lo")?.and_then(|l| l.alias)))
        .ok()
        .flatten()
}

/// Whether interface `name` (in vepa's namespace) is up and has its
/// carrier (IFF_UP and IFF_RUNNING); `None` when it does not exist.
pub fn link_running(name: &str) -> Option<bool> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return None;
    }
    // SAFETY: plain socket(2); checked below and closed by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return None;
    }
    // SAFETY: raw is a fresh descriptor nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    // SAFETY: all-zero is a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of the
    // ifreq, which outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) };
    if rc < 0 {
        return None;
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
    Some(flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0)
}

/// Whether interface `name` exists inside namespace `netns`.
pub fn link_exists_in(netns: &str, name: &str) -> bool {
    let n = name.to_string();
    with(Some(netns), move |nl| {
        Ok(nl.links()?.into_iter().any(|l| l.name == n))
    })
    .unwrap_or(false)
}

/// Every interface in vepa's namespace.
pub fn links() -> Vec<String> {
    with(None, |nl| {
        Ok(nl.links()?.into_iter().map(|l| l.name).collect())
    })
    .unwrap_or_default()
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_SSG: u32 = 0x19;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Turns off transmit checksum offload, scatter-gather, TSO and GSO on
/// `ifname` (in vepa's namespace), so what the device sends is complete,
/// MTU-sized frames with checksums filled in.
pub fn disable_tx_offloads(ifname: &str) -> Result<(), KernelError> {
    let os = |op| KernelError::Os {
        op,
        name: ifname.to_string(),
        source: std::io::Error::last_os_error(),
    };
    // SAFETY: plain socket(2); checked below and closed by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(os("open ethtool socket for"));
    }
    // SAFETY: raw is a fresh descriptor nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    for cmd in [ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SSG, ETHTOOL_STXCSUM] {
        let mut val = EthtoolValue { cmd, data: 0 };
        // SAFETY: all-zero is a valid ifreq.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req
            .ifr_name
            .iter_mut()
            .zip(ifname.bytes().take(libc::IFNAMSIZ - 1))
        {
            *d = s as libc::c_char;
        }
        req.ifr_ifru.ifru_data = &mut val as *mut EthtoolValue as *mut libc::c_char;
        // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points to; both outlive the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
        if rc < 0 {
            return Err(os("turn off transmit offloads on"));
        }
    }
    Ok(())
}

/// Makes a persistent TAP device (it outlives this process, as QEMU's
/// `-netdev tap,ifname=...,script=no` expects), owned by `owner` (uid)
/// when given, with a virtio-net header when `vnet_hdr`.
pub fn create_persistent_tap(
    name: &str,
    owner: Option<u32>,
    vnet_hdr: bool,
) -> Result<(), KernelError> {
    let mut flags = libc::IFF_TAP;
    if vnet_hdr {
        flags |= libc::IFF_VNET_HDR;
    }
    create_persistent(name, flags, owner)
}

/// Makes a persistent TUN device in namespace `netns` (or vepa's), for
/// a VPN daemon there to open by name; only `owner` (uid), when given,
/// may open it without CAP_NET_ADMIN. Never one that exists.
pub fn create_persistent_tun(
    netns: Option<&str>,
    name: &str,
    owner: Option<u32>,
) -> Result<(), KernelError> {
    let n = name.to_string();
    // The device is made in the namespace of whoever opens /dev/net/tun.
    crate::netns::run_in(netns, move || create_persistent(&n, libc::IFF_TUN, owner))
}

/// A persistent TUN or TAP device (`kind`: IFF_TUN or IFF_TAP, with
/// IFF_VNET_HDR when wanted), made exclusively.
fn create_persistent(name: &str, kind: libc::c_int, owner: Option<u32>) -> Result<(), KernelError> {
    let os = |op| KernelError::Os {
        op,
        name: name.to_string(),
        source: std::io::Error::last_os_error(),
    };
    // SAFETY: open(2) with a constant path; the result is checked.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(os("open /dev/net/tun for"));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['%', '/', ':']) {
        return Err(KernelError::Invalid(format!(
            "'{name}' is not a tap name (1 to 15 characters, no '%', '/' or ':')"
        )));
    }
    // IFF_TUN_EXCL: never take over a device that exists (someone's
    // QEMU, someone's VPN).
    let flags = kind | libc::IFF_NO_PI | libc::IFF_TUN_EXCL;
    if crate::tun::set_iff(fd.as_raw_fd(), name, flags).is_err() {
        return Err(os("TUNSETIFF"));
    }
    if let Some(uid) = owner {
        // SAFETY: TUNSETOWNER takes the uid by value.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETOWNER as _, uid as libc::c_ulong) } < 0
        {
            return Err(os("TUNSETOWNER"));
        }
    }
    // SAFETY: TUNSETPERSIST takes a flag by value.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETPERSIST as _, 1 as libc::c_ulong) } < 0 {
        return Err(os("TUNSETPERSIST"));
    }
    Ok(())
}

/// Keeps namespace `netns`'s stack out of `ifname` there: no IPv6 on it
/// (so the kernel sends nothing of its own into it either), and every
/// packet it receives dropped after packet sockets have seen it
/// ([`crate::tcx::drop_ingress`]).
pub fn isolate(netns: Option<&str>, ifname: &str) -> Result<(), KernelError> {
    let n = ifname.to_string();
    crate::netns::run_in(netns, move || {
        let path = format!("/proc/sys/net/ipv6/conf/{n}/disable_ipv6");
        match std::fs::write(&path, "1") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(KernelError::Os {
                    op: "turn IPv6 off on",
                    name: n,
                    source,
                })
            }
        }
        let c = std::ffi::CString::new(n.as_str())
            .map_err(|_| KernelError::Invalid(format!("'{n}' is not an interface name")))?;
        // SAFETY: c is a valid NUL-terminated string for the call.
        let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
        if index == 0 {
            return Err(KernelError::Os {
                op: "find",
                name: n,
                source: std::io::Error::last_os_error(),
            });
        }
        crate::tcx::drop_ingress(&n, index)
    })
}

/// The uid owning a TUN/TAP device (None: no owner set, or not a tap).
pub fn tap_owner(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/owner"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|u| *u >= 0)
        .map(|u| u as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persistent_tap_outlives_its_maker_and_has_its_owner() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return; // needs CAP_NET_ADMIN; the root suite runs it
        }
        // In vepa's own namespace (sysfs shows that one), under a name of this process.
        let name = format!("ptap{:x}", std::process::id() & 0xffffff);
        create_persistent_tap(&name, Some(4242), true).unwrap();
        // The file descriptor is closed; the device stays, with its owner.
        let seen = (link_exists(&name), is_tap(&name), tap_owner(&name));
        del_link(&name).unwrap();
        assert_eq!(seen, (true, true, Some(4242)));
    }

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.1/24").unwrap().1, 24);
        assert!(parse_cidr("fd00::1/64").unwrap().0.is_ipv6());
        for bad in ["10.0.0.1", "10.0.0.1/33", "x/24", "fd00::1/129"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }
}
