//! The host-side devices a topology asks for: network namespaces, veth
//! pairs, addresses.
//!
//! For now this drives iproute2's `ip` command, whose messages are the ones
//! operators already know; the kernel backend (crates/kernel, rtnetlink)
//! will replace it. Every call names the device in its error.

use crate::IoError;
use std::path::Path;
use std::process::Command;

fn ip(args: &[&str]) -> Result<(), IoError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| IoError::Os {
            what: "run",
            name: "ip (install iproute2)".into(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(IoError::Command {
            command: format!("ip {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

pub fn add_netns(name: &str) -> Result<(), IoError> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])
}

pub fn del_netns(name: &str) -> Result<(), IoError> {
    ip(&["netns", "del", name])
}

/// Whether interface `name` exists in vepa's own namespace.
pub fn link_exists(name: &str) -> bool {
    crate::packet_socket::ifindex(name).is_some()
}

/// Whether `name` is a TUN/TAP device in TAP mode (in vepa's namespace).
pub fn is_tap(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/tun_flags"))
        .ok()
        .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|flags| flags & libc::IFF_TAP as u32 != 0)
}

pub fn add_veth(name: &str, peer: &str) -> Result<(), IoError> {
    ip(&["link", "add", name, "type", "veth", "peer", "name", peer])
}

pub fn del_link(name: &str) -> Result<(), IoError> {
    ip(&["link", "del", name])
}

pub fn move_to_netns(ifname: &str, netns: &str) -> Result<(), IoError> {
    ip(&["link", "set", "dev", ifname, "netns", netns])
}

/// Sets MAC, addresses and up on `ifname`, inside `netns` when given.
pub fn configure(
    netns: Option<&str>,
    ifname: &str,
    mac: Option<&str>,
    addresses: &[String],
    mtu: Option<u32>,
) -> Result<(), IoError> {
    let mut prefix: Vec<&str> = Vec::new();
    if let Some(ns) = netns {
        prefix.extend(["-n", ns]);
    }
    let run = |rest: &[&str]| {
        let mut args = prefix.clone();
        args.extend_from_slice(rest);
        ip(&args)
    };
    if let Some(m) = mac {
        run(&["link", "set", "dev", ifname, "address", m])?;
    }
    let mtu_s = mtu.map(|m| m.to_string());
    if let Some(m) = &mtu_s {
        run(&["link", "set", "dev", ifname, "mtu", m])?;
    }
    for a in addresses {
        run(&["addr", "add", a, "dev", ifname])?;
    }
    run(&["link", "set", "dev", ifname, "up"])
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
/// MTU-sized frames with checksums filled in. The plain AF_PACKET path
/// forwards bytes as they are; the vnet-header path will keep offloads on.
pub fn disable_tx_offloads(ifname: &str) -> Result<(), IoError> {
    // SAFETY: plain socket(2); checked below and closed by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(IoError::os("open ethtool socket for", ifname));
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
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                SIOCETHTOOL as _,
                &mut req,
            )
        };
        if rc < 0 {
            return Err(IoError::os("turn off transmit offloads on", ifname));
        }
    }
    Ok(())
}

/// Renames `old` to `new`, inside `netns` when given.
pub fn rename(netns: Option<&str>, old: &str, new: &str) -> Result<(), IoError> {
    match netns {
        Some(ns) => ip(&["-n", ns, "link", "set", "dev", old, "name", new]),
        None => ip(&["link", "set", "dev", old, "name", new]),
    }
}

/// Sets the interface alias (ifalias): vepa marks what it owns with it.
pub fn set_alias(netns: Option<&str>, ifname: &str, alias: &str) -> Result<(), IoError> {
    match netns {
        Some(ns) => ip(&["-n", ns, "link", "set", "dev", ifname, "alias", alias]),
        None => ip(&["link", "set", "dev", ifname, "alias", alias]),
    }
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
    let out = Command::new("ip")
        .args(["-n", netns, "-j", "link", "show", "lo"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0)?.get("ifalias")?.as_str().map(str::to_string)
}

/// Every interface in vepa's namespace.
pub fn links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every named network namespace (`ip netns`).
pub fn namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
