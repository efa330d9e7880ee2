//! NIC-level edge bridging: the embedded bridge mode of a NIC (VEB or
//! VEPA, `IFLA_BRIDGE_MODE`), its SR-IOV virtual functions (MAC, VLAN,
//! spoof check, trust, link state) and how many VFs it has.
//!
//! The messages are built here, byte for byte as iproute2's `bridge link
//! set ... hwmode` and `ip link set ... vf` build them (the unit tests hold
//! the bytes captured from iproute2 with `strace -e write=3`), and sent on
//! a plain NETLINK_ROUTE socket. The VF count is sysfs (`sriov_numvfs`).

use crate::KernelError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLA_F_NESTED: u16 = 0x8000;
const IFLA_PROTINFO: u16 = 12;
const IFLA_VFINFO_LIST: u16 = 22;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_VF_INFO: u16 = 1;
const IFLA_BRIDGE_FLAGS: u16 = 0;
const IFLA_BRIDGE_MODE: u16 = 1;
const BRIDGE_FLAGS_SELF: u16 = 2;

/// A NIC's embedded bridge mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwMode {
    Veb,
    Vepa,
}

impl HwMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HwMode::Veb => "veb",
            HwMode::Vepa => "vepa",
        }
    }
}

/// One setting of one virtual function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VfSetting {
    Mac([u8; 6]),
    /// VLAN ID (0: none) and 802.1p priority.
    Vlan {
        vid: u16,
        qos: u8,
    },
    SpoofCheck(bool),
    Trust(bool),
    /// auto (follows the PF), enable, disable.
    LinkState(VfLinkState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VfLinkState {
    Auto,
    Enable,
    Disable,
}

/// A netlink attribute: header, payload, padding to 4 bytes.
fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(4));
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(len.next_multiple_of(4), 0);
    out
}

/// An ifinfomsg for `family` and `index`, nothing else set.
fn ifinfo(family: u8, index: u32) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[0] = family;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

/// The message after its nlmsghdr: type, flags, body.
pub struct Request {
    pub ty: u16,
    pub flags: u16,
    pub body: Vec<u8>,
}

/// `bridge link set dev DEV hwmode MODE` (with `self`: the NIC itself).
pub fn hwmode_request(index: u32, mode: HwMode) -> Request {
    let mut body = ifinfo(libc::AF_BRIDGE as u8, index);
    // iproute2 sends an empty nested IFLA_PROTINFO first; so do we.
    body.extend(nla(NLA_F_NESTED | IFLA_PROTINFO, &[]));
    let mut spec = nla(IFLA_BRIDGE_FLAGS, &BRIDGE_FLAGS_SELF.to_ne_bytes());
    let m: u16 = match mode {
        HwMode::Veb => 0,
        HwMode::Vepa => 1,
    };
    spec.extend(nla(IFLA_BRIDGE_MODE, &m.to_ne_bytes()));
    body.extend(nla(IFLA_AF_SPEC, &spec));
    Request {
        ty: RTM_SETLINK,
        flags: NLM_F_REQUEST | NLM_F_ACK,
        body,
    }
}

/// `ip link set dev DEV vf N ...`.
pub fn vf_request(index: u32, vf: u32, setting: VfSetting) -> Request {
    let u32s = |xs: &[u32]| xs.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
    let (ty, payload): (u16, Vec<u8>) = match setting {
        VfSetting::Mac(mac) => {
            let mut p = vf.to_ne_bytes().to_vec();
            let mut m = [0u8; 32];
            m[..6].copy_from_slice(&mac);
            p.extend_from_slice(&m);
            (1, p)
        }
        VfSetting::Vlan { vid, qos } => (2, u32s(&[vf, u32::from(vid), u32::from(qos)])),
        VfSetting::SpoofCheck(on) => (4, u32s(&[vf, u32::from(on)])),
        VfSetting::LinkState(s) => (
            5,
            u32s(&[
                vf,
                match s {
                    VfLinkState::Auto => 0,
                    VfLinkState::Enable => 1,
                    VfLinkState::Disable => 2,
                },
            ]),
        ),
        VfSetting::Trust(on) => (9, u32s(&[vf, u32::from(on)])),
    };
    let mut body = ifinfo(libc::AF_UNSPEC as u8, index);
    body.extend(nla(
        IFLA_VFINFO_LIST,
        &nla(IFLA_VF_INFO, &nla(ty, &payload)),
    ));
    Request {
        ty: RTM_NEWLINK,
        flags: NLM_F_REQUEST | NLM_F_ACK,
        body,
    }
}

fn os(op: &'static str, name: &str) -> KernelError {
    KernelError::Os {
        op,
        name: name.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

fn route_socket(name: &str) -> Result<OwnedFd, KernelError> {
    // SAFETY: socket(2); the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(os("open rtnetlink socket", name));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends one netlink request (nlmsghdr with sequence 1, then the body) to the kernel.
pub(crate) fn send(fd: &OwnedFd, r: &Request, name: &str) -> Result<(), KernelError> {
    let mut msg = Vec::with_capacity(16 + r.body.len());
    msg.extend_from_slice(&((16 + r.body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&r.ty.to_ne_bytes());
    msg.extend_from_slice(&r.flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&r.body);
    // SAFETY: all-zero is a valid sockaddr_nl; the kernel is pid 0.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: msg and sa are valid for their lengths during the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of_val(&sa) as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(os("send netlink request", name));
    }
    Ok(())
}

/// Sends a request and waits for its acknowledgement.
fn request(r: &Request, name: &str, op: &'static str) -> Result<(), KernelError> {
    let fd = route_socket(name)?;
    send(&fd, r, name)?;
    let mut buf = [0u8; 4096];
    // SAFETY: buf is writable for its length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        )
    };
    if n < 20 {
        return Err(os("receive netlink answer", name));
    }
    let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 && code != 0 {
        return Err(KernelError::Os {
            op,
            name: name.to_string(),
            source: std::io::Error::from_raw_os_error(-code),
        });
    }
    Ok(())
}

fn index(name: &str) -> Result<u32, KernelError> {
    let c = std::ffi::CString::new(name).map_err(|_| KernelError::NoSuchLink(name.to_string()))?;
    // SAFETY: a valid NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(KernelError::NoSuchLink(name.to_string())),
        i => Ok(i),
    }
}

/// Says "the driver does not support it" in words when the kernel says EOPNOTSUPP.
fn unsupported(e: KernelError, dev: &str, what: &str) -> KernelError {
    if e.errno() == Some(libc::EOPNOTSUPP) {
        KernelError::Invalid(format!(
            "{dev}: its driver ({}) does not support {what}",
            driver(dev).unwrap_or_else(|| "unknown".into())
        ))
    } else {
        e
    }
}

pub fn set_hwmode(dev: &str, mode: HwMode) -> Result<(), KernelError> {
    request(&hwmode_request(index(dev)?, mode), dev, "set bridge hwmode")
        .map_err(|e| unsupported(e, dev, "an embedded bridge mode (hwmode)"))
}

pub fn set_vf(dev: &str, vf: u32, setting: VfSetting) -> Result<(), KernelError> {
    request(&vf_request(index(dev)?, vf, setting), dev, "set vf")
        .map_err(|e| unsupported(e, dev, "SR-IOV virtual function settings"))
}

pub fn driver(dev: &str) -> Option<String> {
    std::fs::read_link(format!("/sys/class/net/{dev}/device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .or_else(|| {
            // Virtual devices have no driver link; their kind says what they are.
            let d = dev.to_string();
            crate::host::netlink(None, move |nl| Ok(nl.link(&d)?.and_then(|l| l.kind)))
                .ok()
                .flatten()
        })
}

/// Sets the number of VFs (sysfs `sriov_numvfs`; a change goes through 0, as the kernel wants).
pub fn set_numvfs(dev: &str, n: u32) -> Result<(), KernelError> {
    index(dev)?;
    let path = format!("/sys/class/net/{dev}/device/sriov_numvfs");
    if !std::path::Path::new(&path).exists() {
        return Err(KernelError::Invalid(format!(
            "{dev}: its driver ({}) does not support SR-IOV (no sriov_numvfs)",
            driver(dev).unwrap_or_else(|| "unknown".into())
        )));
    }
    let write = |v: u32| {
        std::fs::write(&path, v.to_string()).map_err(|source| KernelError::Os {
            op: "write sriov_numvfs",
            name: dev.to_string(),
            source,
        })
    };
    let now: u32 = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if now != 0 && n != 0 && now != n {
        write(0)?;
    }
    write(n)
}

/// The NIC's embedded bridge mode, when its driver reports one.
pub fn hwmode(dev: &str) -> Result<Option<HwMode>, KernelError> {
    let want = index(dev)?;
    let fd = route_socket(dev)?;
    send(
        &fd,
        &Request {
            ty: RTM_GETLINK,
            flags: NLM_F_REQUEST | NLM_F_DUMP,
            body: ifinfo(libc::AF_BRIDGE as u8, 0),
        },
        dev,
    )?;
    let mut found = None;
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n <= 0 {
            return Err(os("receive bridge link dump", dev));
        }
        let mut at = 0usize;
        let n = n as usize;
        while at + 16 <= n {
            let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            let ty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            if len < 16 || at + len > n {
                break;
            }
            if ty == libc::NLMSG_DONE as u16 || ty == libc::NLMSG_ERROR as u16 {
                return Ok(found);
            }
            let msg = &buf[at + 16..at + len];
            if msg.len() >= 16 && u32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]) == want {
                found = found.or(mode_in(&msg[16..]));
            }
            at += len.next_multiple_of(4);
        }
    }
}

/// IFLA_AF_SPEC → IFLA_BRIDGE_MODE in a link message's attributes.
fn mode_in(mut attrs: &[u8]) -> Option<HwMode> {
    let next = |a: &[u8]| -> Option<(u16, usize)> {
        (a.len() >= 4).then(|| {
            (
                u16::from_ne_bytes([a[2], a[3]]) & !NLA_F_NESTED,
                u16::from_ne_bytes([a[0], a[1]]) as usize,
            )
        })
    };
    while let Some((ty, len)) = next(attrs) {
        if len < 4 || len > attrs.len() {
            return None;
        }
        if ty == IFLA_AF_SPEC {
            let mut inner = &attrs[4..len];
            while let Some((t, l)) = next(inner) {
                if l < 4 || l > inner.len() {
                    break;
                }
                if t == IFLA_BRIDGE_MODE && l >= 6 {
                    return Some(if u16::from_ne_bytes([inner[4], inner[5]]) == 1 {
                        HwMode::Vepa
                    } else {
                        HwMode::Veb
                    });
                }
                inner = &inner[l.next_multiple_of(4).min(inner.len())..];
            }
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes after the nlmsghdr, as captured from iproute2 on ifindex 0x2aea.
    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    const INDEX: u32 = 0x2aea;

    fn check(r: Request, ty: u16, flags: u16, body: &str) {
        assert_eq!((r.ty, r.flags), (ty, flags));
        assert_eq!(r.body, hex(body));
    }

    #[test]
    fn hwmode_matches_iproute2() {
        // bridge link set dev X hwmode vepa / veb
        let head = "07 00 00 00 ea 2a 00 00 00 00 00 00 00 00 00 00 04 00 0c 80 14 00 1a 00 06 00 00 00 02 00 00 00 06 00 01 00";
        check(
            hwmode_request(INDEX, HwMode::Vepa),
            0x13,
            5,
            &format!("{head} 01 00 00 00"),
        );
        check(
            hwmode_request(INDEX, HwMode::Veb),
            0x13,
            5,
            &format!("{head} 00 00 00 00"),
        );
    }

    #[test]
    fn vf_settings_match_iproute2() {
        let link = "00 00 00 00 ea 2a 00 00 00 00 00 00 00 00 00 00";
        // ip link set dev X vf 0 mac 02:00:00:00:00:0a
        check(
            vf_request(INDEX, 0, VfSetting::Mac([2, 0, 0, 0, 0, 0x0a])),
            0x10,
            5,
            &format!(
                "{link} 30 00 16 00 2c 00 01 00 28 00 01 00 00 00 00 00 02 00 00 00 00 0a {}",
                "00 ".repeat(26)
            ),
        );
        // vf 0 vlan 10 qos 3
        check(
            vf_request(INDEX, 0, VfSetting::Vlan { vid: 10, qos: 3 }),
            0x10,
            5,
            &format!(
                "{link} 18 00 16 00 14 00 01 00 10 00 02 00 00 00 00 00 0a 00 00 00 03 00 00 00"
            ),
        );
        // vf 1 spoofchk off
        check(
            vf_request(INDEX, 1, VfSetting::SpoofCheck(false)),
            0x10,
            5,
            &format!("{link} 14 00 16 00 10 00 01 00 0c 00 04 00 01 00 00 00 00 00 00 00"),
        );
        // vf 2 trust on
        check(
            vf_request(INDEX, 2, VfSetting::Trust(true)),
            0x10,
            5,
            &format!("{link} 14 00 16 00 10 00 01 00 0c 00 09 00 02 00 00 00 01 00 00 00"),
        );
        // vf 3 state disable
        check(
            vf_request(INDEX, 3, VfSetting::LinkState(VfLinkState::Disable)),
            0x10,
            5,
            &format!("{link} 14 00 16 00 10 00 01 00 0c 00 05 00 03 00 00 00 02 00 00 00"),
        );
    }

    #[test]
    fn af_spec_mode_is_read_back() {
        let r = hwmode_request(INDEX, HwMode::Vepa);
        assert_eq!(mode_in(&r.body[16..]), Some(HwMode::Vepa));
        assert_eq!(mode_in(&[]), None);
        assert_eq!(
            mode_in(&[0xff, 0xff, 0, 0]),
            None,
            "a bad length is no answer, not a panic"
        );
    }
}
