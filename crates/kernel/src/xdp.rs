//! The XDP program behind an AF_XDP port: every frame the device receives
//! goes to the one AF_XDP socket bound to its queue, or is dropped.
//!
//! The program is six instructions, assembled here and loaded with the
//! bpf(2) syscall, with no eBPF toolchain at build time. A loader crate
//! (aya, libbpf-rs) would need an ELF object built by a BPF compiler;
//! for a program this small the bytes are the clearer source. It is
//! attached through a BPF link, so it leaves the device when vepa closes
//! the port or exits, however it exits.
//!
//! ```text
//! r2 = ctx->rx_queue_index
//! r1 = &xskmap
//! r3 = XDP_DROP            ; the verdict when no socket sits at r2
//! call bpf_redirect_map
//! exit
//! ```
//!
//! Dropping, not passing, a frame no socket takes keeps the rule every
//! port has: nothing reaches the host's stack around the switch.

use crate::KernelError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
pub(crate) const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_DROP: i32 = 1;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `struct xdp_md`: data, data_end, data_meta, ingress_ifindex, rx_queue_index.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// The part of `union bpf_attr` the commands here use, zero beyond it
/// (the kernel checks that bytes it does not know are zero).
#[repr(C, align(8))]
pub(crate) struct Attr(pub(crate) [u8; 128]);

impl Attr {
    pub(crate) fn new() -> Attr {
        Attr([0; 128])
    }
    pub(crate) fn u32(&mut self, at: usize, v: u32) -> &mut Attr {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub(crate) fn u64(&mut self, at: usize, v: u64) -> &mut Attr {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

pub(crate) fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<i64> {
    // SAFETY: `attr` is a live, 8-byte aligned buffer of the size passed;
    // every pointer stored in it points at memory that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            attr.0.len() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

pub(crate) fn owned(fd: i64) -> OwnedFd {
    // SAFETY: bpf(2) just returned this descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// One eBPF instruction (`struct bpf_insn`).
pub(crate) fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0x0f);
    b[2..4].copy_from_slice(&off.to_ne_bytes());
    b[4..8].copy_from_slice(&imm.to_ne_bytes());
    b
}

/// The program, with the map's descriptor in its load instruction.
fn program(map: RawFd) -> Vec<u8> {
    [
        insn(0x61, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0), // ldxw r2, [r1 + 16]
        insn(0x18, 1, BPF_PSEUDO_MAP_FD, 0, map),   // lddw r1, map
        insn(0, 0, 0, 0, 0),                        //   (upper half)
        insn(0xb7, 3, 0, 0, XDP_DROP),              // mov r3, XDP_DROP
        insn(0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP), // call bpf_redirect_map
        insn(0x95, 0, 0, 0, 0),                     // exit
    ]
    .concat()
}

/// The program attached to one device, and its socket map.
#[derive(Debug)]
pub struct XskRedirect {
    map: OwnedFd,
    _prog: OwnedFd,
    _link: OwnedFd,
}

impl XskRedirect {
    /// Loads the program for a device with `queues` receive queues and
    /// attaches it to `ifindex` in driver (native) mode. Until a socket
    /// is [set](Self::set), frames the device receives are dropped.
    pub fn attach(ifname: &str, ifindex: u32, queues: u32) -> Result<XskRedirect, KernelError> {
        let os = |op: &'static str| {
            let name = ifname.to_string();
            move |source| KernelError::Os { op, name, source }
        };
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_XSKMAP)
            .u32(4, 4)
            .u32(8, 4)
            .u32(12, queues.max(1));
        let map = owned(bpf(BPF_MAP_CREATE, &mut a).map_err(os("create the XSKMAP for"))?);
        let insns = program(map.as_raw_fd());
        let license = c"Apache-2.0";
        let load = |log: &mut [u8]| {
            let mut a = Attr::new();
            a.u32(0, BPF_PROG_TYPE_XDP)
                .u32(4, (insns.len() / 8) as u32)
                .u64(8, insns.as_ptr() as u64)
                .u64(16, license.as_ptr() as u64)
                .u32(68, BPF_XDP);
            if !log.is_empty() {
                a.u32(24, 1)
                    .u32(28, log.len() as u32)
                    .u64(32, log.as_mut_ptr() as u64);
            }
            a.0[48..56].copy_from_slice(b"vepa_xsk");
            bpf(BPF_PROG_LOAD, &mut a)
        };
        let prog = match load(&mut []) {
            Ok(fd) => owned(fd),
            Err(e) => {
                // Once more with the verifier's log, to say why.
                let mut log = vec![0u8; 4096];
                let _ = load(&mut log);
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let why = String::from_utf8_lossy(&log[..end]).trim().to_string();
                return Err(KernelError::Invalid(format!(
                    "load the XDP program for '{ifname}': {e}{}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" (verifier: {why})")
                    }
                )));
            }
        };
        let mut a = Attr::new();
        a.u32(0, prog.as_raw_fd() as u32)
            .u32(4, ifindex)
            .u32(8, BPF_XDP)
            .u32(12, XDP_FLAGS_DRV_MODE);
        let link = owned(bpf(BPF_LINK_CREATE, &mut a).map_err(os("attach XDP (native) to"))?);
        Ok(XskRedirect {
            map,
            _prog: prog,
            _link: link,
        })
    }

    /// Sends the frames of receive queue `queue` to socket `xsk`.
    pub fn set(&self, queue: u32, xsk: RawFd) -> std::io::Result<()> {
        let key = queue;
        let value = xsk as u32;
        let mut a = Attr::new();
        a.u32(0, self.map.as_raw_fd() as u32)
            .u64(8, &key as *const u32 as u64)
            .u64(16, &value as *const u32 as u64);
        bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(|_| ())
    }
}

/// Whether `ifname` carries addresses of the host's own (IPv4, or IPv6
/// beyond link-local): its traffic is the host's, and an XDP program
/// that takes every frame would cut the host off through it.
pub fn carries_host_addresses(ifname: &str) -> bool {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        // Unknown: say yes, so the caller keeps the safe path.
        return true;
    }
    let mut found = false;
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs made, alive until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string in the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if name.to_bytes() != ifname.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points at a sockaddr whose family says its type.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        found |= match family {
            libc::AF_INET => true,
            libc::AF_INET6 => {
                // SAFETY: the family is AF_INET6, so this is a sockaddr_in6.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let b = a.sin6_addr.s6_addr;
                !(b[0] == 0xfe && b[1] & 0xc0 == 0x80)
            }
            _ => false,
        };
    }
    // SAFETY: frees the list getifaddrs made; nothing refers to it after.
    unsafe { libc::freeifaddrs(head) };
    found
}

/// How many receive queues a device uses now (its `queues/rx-*`).
pub fn rx_queues(ifname: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{ifname}/queues"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count() as u32
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_six_slots_with_the_map_in_its_load() {
        let p = program(7);
        assert_eq!(p.len(), 6 * 8);
        assert_eq!(p[8], 0x18);
        assert_eq!(p[9], 0x11, "dst r1, src BPF_PSEUDO_MAP_FD");
        assert_eq!(i32::from_ne_bytes([p[12], p[13], p[14], p[15]]), 7);
        assert_eq!(&p[40..42], &[0x95, 0]);
    }

    #[test]
    fn loopback_carries_host_addresses_and_a_missing_device_none() {
        assert!(carries_host_addresses("lo"), "127.0.0.1 is on lo");
        assert!(!carries_host_addresses("vepa-no-such0"));
    }
}
