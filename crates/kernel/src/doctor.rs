//! What this kernel can do, found by trying each feature in a scratch
//! network namespace (made for the check and gone after it, with every
//! device in it), never by guessing from the version number; and what vepa
//! uses instead of each feature that is missing.

use crate::{netns, BridgePortFlags, KernelError, MacvlanMode, Netlink, NewLink};
use serde::Serialize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    pub name: String,
    pub available: bool,
    /// What the try found (the kernel's error when it failed).
    pub detail: String,
    /// What vepa does with the feature, or instead of it.
    pub vepa_uses: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nic {
    pub name: String,
    pub driver: String,
    pub sriov_total_vfs: Option<u32>,
    pub sriov_vfs: Option<u32>,
    /// The NIC's embedded bridge mode (veb/vepa), when its driver reports one.
    pub hwmode: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kernel: String,
    pub features: Vec<Feature>,
    pub nics: Vec<Nic>,
}

fn feature(name: &str, r: Result<String, String>, yes: &str, no: &str) -> Feature {
    let available = r.is_ok();
    Feature {
        name: name.to_string(),
        available,
        detail: r.unwrap_or_else(|e| e),
        vepa_uses: if available { yes } else { no }.to_string(),
    }
}

/// A kernel error as the doctor reports it: errno text, and the usual cause.
fn why(e: KernelError) -> String {
    why_ref(&e)
}

/// [`why`] for an error kept for later checks too.
fn why_ref(e: &KernelError) -> String {
    match e.errno() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOENT) | Some(libc::EAFNOSUPPORT) => {
            format!("absent (not built or module missing): {e}")
        }
        _ => format!("failed: {e}"),
    }
}

fn kernel_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs every check; device checks in a scratch namespace.
pub fn run() -> Report {
    let mut features = netns::scratch(|| Ok(device_checks())).unwrap_or_else(|e| {
        vec![Feature {
            name: "network namespaces".into(),
            available: false,
            detail: format!("cannot make a scratch namespace: {e}"),
            vepa_uses: "nothing: vepa needs namespaces and root".into(),
        }]
    });
    features.extend(socket_checks());
    let nics = nics();
    let sriov: Vec<String> = nics
        .iter()
        .filter(|n| n.sriov_total_vfs.unwrap_or(0) > 0)
        .map(|n| format!("{} ({} VFs)", n.name, n.sriov_total_vfs.unwrap_or(0)))
        .collect();
    features.push(feature(
        "sr-iov nic",
        if sriov.is_empty() {
            Err("absent: no NIC reports sriov_totalvfs".into())
        } else {
            Ok(sriov.join(", "))
        },
        "VFs as netdev ports (vepa nic)",
        "software ports only",
    ));
    let hw: Vec<String> = nics
        .iter()
        .filter_map(|n| n.hwmode.as_ref().map(|m| format!("{} ({m})", n.name)))
        .collect();
    features.push(feature(
        "nic hwmode",
        if hw.is_empty() {
            Err("absent: no NIC driver reports an embedded bridge mode".into())
        } else {
            Ok(hw.join(", "))
        },
        "vepa nic set DEV hwmode vepa|veb",
        "the adjacent switch (or vepa) does the relaying",
    ));
    // VEPA_DOCTOR_ABSENT=name,...: features to report missing whatever the
    // kernel has, to try vepa's fallbacks (and to test them).
    if let Ok(absent) = std::env::var("VEPA_DOCTOR_ABSENT") {
        for f in features.iter_mut() {
            if absent.split(',').any(|a| a.trim() == f.name) {
                f.available = false;
                f.detail = "absent (VEPA_DOCTOR_ABSENT)".into();
            }
        }
    }
    Report {
        kernel: kernel_release(),
        features,
        nics,
    }
}

fn device_checks() -> Vec<Feature> {
    let nl = match Netlink::new() {
        Ok(nl) => nl,
        Err(e) => {
            return vec![feature(
                "rtnetlink",
                Err(why(e)),
                "",
                "nothing: vepa needs rtnetlink",
            )]
        }
    };
    let mut out = Vec::new();
    let mut n = 0;
    // A fresh veth pair per check, so one check's device never affects the next.
    let mut lower = |nl: &Netlink| -> Result<String, KernelError> {
        n += 1;
        let (a, b) = (format!("dv{n}a"), format!("dv{n}b"));
        nl.add(NewLink::Veth { name: &a, peer: &b })?;
        Ok(a)
    };
    out.push(feature(
        "veth",
        nl.add(NewLink::Veth {
            name: "dveth0",
            peer: "dveth1",
        })
        .map(|_| "pair made".to_string())
        .map_err(why),
        "veth ports, patch wires",
        "tap ports only",
    ));
    for mode in MacvlanMode::ALL {
        let r = lower(&nl).and_then(|l| {
            let name = format!("dmv{}", mode.as_str());
            nl.add(NewLink::Macvlan {
                name: &name,
                lower: &l,
                mode,
                sources: &[],
            })?;
            let got = nl.link(&name)?.and_then(|x| x.macvlan_mode).unwrap_or("?");
            Ok(format!("made; kernel reports mode {got}"))
        });
        out.push(feature(
            &format!("macvlan {}", mode.as_str()),
            r.map_err(why),
            &format!("kernel backend: macvlan mode {}", mode.as_str()),
            "userspace switch",
        ));
    }
    // AF_XDP ports need the socket family and the redirecting program
    // attached natively to a veth, as `--xdp` does it.
    let xdp = lower(&nl).and_then(|l| {
        socket(libc::AF_XDP, libc::SOCK_RAW, 0, "socket(AF_XDP)")?;
        let idx = nl
            .link(&l)?
            .map(|x| x.index)
            .ok_or(KernelError::NoSuchLink(l.clone()))?;
        crate::xdp::XskRedirect::attach(&l, idx, 1)?;
        Ok("socket opens; the XDP program loads and attaches natively to a veth".to_string())
    });
    out.push(feature(
        "af_xdp",
        xdp.map_err(why),
        "--xdp: veth and netdev ports through AF_XDP (copy mode), AF_PACKET where XDP cannot attach",
        "AF_PACKET for every interface port (--xdp falls back)",
    ));
    out.push(feature(
        "macvtap",
        lower(&nl)
            .and_then(|l| {
                nl.add(NewLink::Macvtap {
                    name: "dmvt",
                    lower: &l,
                    mode: MacvlanMode::Bridge,
                })
            })
            .map(|_| "made (bridge mode)".to_string())
            .map_err(why),
        "kernel backend: macvtap for VM ports",
        "tap ports on the userspace switch",
    ));
    out.push(feature(
        "ipvlan",
        lower(&nl)
            .and_then(|l| {
                nl.add(NewLink::Ipvlan {
                    name: "dipv",
                    lower: &l,
                    mode: crate::IpvlanMode::L2,
                    flag: crate::IpvlanFlag::Bridge,
                })
            })
            .map(|_| "made (l2)".to_string())
            .map_err(why),
        "kernel backend: ipvlan devices for ipvlan switches with veth ports (tap ports and learning stay in the userspace dataplane)",
        "ipvlan switches (kind = \"ipvlan\": l2, l3, l3s; bridge, private, vepa) in the userspace dataplane",
    ));
    out.push(feature(
        "802.1q",
        lower(&nl)
            .and_then(|l| {
                nl.add(NewLink::Vlan {
                    name: "dvlan",
                    lower: &l,
                    vid: 10,
                })
            })
            .map(|_| "made (VID 10)".to_string())
            .map_err(why),
        "kernel VLAN devices",
        "userspace 802.1Q (access and trunk ports)",
    ));
    out.push(feature(
        "bridge hairpin",
        lower(&nl)
            .and_then(|l| {
                nl.add(NewLink::Bridge { name: "dbr" })?;
                nl.set_master(&l, "dbr")?;
                nl.set_bridge_port(
                    &l,
                    BridgePortFlags {
                        hairpin: Some(true),
                        ..Default::default()
                    },
                )?;
                match nl.bridge_port_hairpin(&l)? {
                    Some(true) => Ok("bridge made, hairpin on a port reads back on".to_string()),
                    other => Err(KernelError::Invalid(format!(
                        "hairpin reads back as {other:?}"
                    ))),
                }
            })
            .map_err(why),
        "kernel backend: Linux bridge with hairpin as the reflective relay",
        "userspace reflective relay",
    ));
    out.push(feature(
        "vxlan",
        nl.add(NewLink::Vxlan {
            name: "dvx",
            vni: 42,
            port: 4789,
        })
        .map(|_| "made (VNI 42, port 4789)".to_string())
        .map_err(why),
        "kernel vxlan devices",
        "userspace VXLAN tunnels",
    ));
    out.push(feature(
        "geneve",
        nl.add(NewLink::Geneve {
            name: "dgnv",
            vni: 1,
            remote: std::net::Ipv4Addr::new(192, 0, 2, 1),
        })
        .map(|_| "made".to_string())
        .map_err(why),
        "kernel geneve devices",
        "vxlan (geneve is not used)",
    ));
    out.push(feature(
        "bonding",
        nl.add(NewLink::Bond { name: "dbond" })
            .map(|_| "made".to_string())
            .map_err(why),
        "bonded uplinks in the userspace dataplane (vepa does not use the kernel's bond)",
        "bonded uplinks in the userspace dataplane (active-backup, balance-tcp/slb with LACP)",
    ));
    out.push(feature(
        "dummy",
        nl.add(NewLink::Dummy { name: "ddum" })
            .map(|_| "made".to_string())
            .map_err(why),
        "dummy devices in tests",
        "veth pairs",
    ));
    out.push(feature(
        "tcx",
        crate::tcx::available()
            .map(|n| format!("ingress programs can be attached ({n} on lo)"))
            .map_err(|e| format!("absent (Linux 6.6 and later have it): {e}")),
        "persistent tun router ports (persist = true): the device's namespace gets none of its packets",
        "no persistent tun router ports (vepa cannot keep the namespace's stack out of the device)",
    ));
    out.extend(tap_checks());
    out
}

const TAP_OFFLOADS: [(&str, libc::c_uint); 6] = [
    ("csum", libc::TUN_F_CSUM),
    ("tso4", libc::TUN_F_CSUM | libc::TUN_F_TSO4),
    ("tso6", libc::TUN_F_CSUM | libc::TUN_F_TSO6),
    (
        "tso ecn",
        libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO_ECN,
    ),
    ("ufo", libc::TUN_F_CSUM | libc::TUN_F_UFO),
    // The kernel takes UDP segmentation offload for both families at once only.
    (
        "uso",
        libc::TUN_F_CSUM | libc::TUN_F_USO4 | libc::TUN_F_USO6,
    ),
];

/// What a call that returns a new descriptor (`fd`, or -1 with errno)
/// said: `ok`, or why not; the descriptor is closed at once.
fn opened(fd: libc::c_int, op: &'static str, ok: &str) -> Result<String, String> {
    if fd < 0 {
        return Err(why(last_os(op)));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(ok.to_string())
}

fn last_os(op: &'static str) -> KernelError {
    KernelError::Os {
        op,
        name: String::new(),
        source: std::io::Error::last_os_error(),
    }
}

/// A TAP device with a virtio-net header, then each offload on its own.
fn tap_checks() -> Vec<Feature> {
    let open = || -> Result<OwnedFd, KernelError> {
        // SAFETY: open(2) with a constant path; the result is checked.
        let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(last_os("open /dev/net/tun"));
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let flags = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR;
        if crate::tun::set_iff(fd.as_raw_fd(), "dtap0", flags).is_err() {
            return Err(last_os("TUNSETIFF"));
        }
        Ok(fd)
    };
    let mut out = Vec::new();
    let tap = open();
    out.push(feature(
        "tap vnet header",
        // The errno decides "absent" (no /dev/net/tun) from "failed".
        tap.as_ref()
            .map(|_| "tap made with IFF_VNET_HDR".to_string())
            .map_err(why_ref),
        "tap ports that pass partial checksums and GSO frames whole",
        "userspace switch without TAP ports",
    ));
    for (name, flags) in TAP_OFFLOADS {
        let r = match &tap {
            Ok(fd) => {
                // SAFETY: TUNSETOFFLOAD takes the flags by value.
                if unsafe {
                    libc::ioctl(
                        fd.as_raw_fd(),
                        libc::TUNSETOFFLOAD as _,
                        flags as libc::c_ulong,
                    )
                } < 0
                {
                    Err(why(last_os("TUNSETOFFLOAD")))
                } else {
                    Ok(format!("TUNSETOFFLOAD {flags:#x} accepted"))
                }
            }
            Err(_) => Err("no tap device".to_string()),
        };
        out.push(feature(
            &format!("tap offload {name}"),
            r,
            "passed through whole",
            "vepa checksums or segments in software",
        ));
    }
    out
}

fn socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
    what: &'static str,
) -> Result<OwnedFd, KernelError> {
    // SAFETY: socket(2); the result is checked.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(last_os(what));
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Names an I/O error as a doctor step.
fn failed(op: &'static str) -> impl Fn(std::io::Error) -> KernelError {
    move |source| KernelError::Os {
        op,
        name: String::new(),
        source,
    }
}

/// setsockopt(SOL_PACKET, opt, value).
fn setsockopt<T>(fd: &OwnedFd, opt: libc::c_int, value: &T) -> std::io::Result<()> {
    // SAFETY: value points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            opt,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn socket_checks() -> Vec<Feature> {
    let mut out = Vec::new();
    let v3 = socket(libc::AF_PACKET, libc::SOCK_RAW, 0, "socket(AF_PACKET)").and_then(|fd| {
        let v: libc::c_int = 2; // TPACKET_V3
        setsockopt(&fd, libc::PACKET_VERSION, &v)
            .map_err(|_| last_os("PACKET_VERSION TPACKET_V3"))?;
        let req = libc::tpacket_req3 {
            tp_block_size: 1 << 16,
            tp_block_nr: 1,
            tp_frame_size: 2048,
            tp_frame_nr: 32,
            tp_retire_blk_tov: 10,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::PACKET_RX_RING, &req).map_err(failed("PACKET_RX_RING"))?;
        Ok("TPACKET_V3 receive ring set up".to_string())
    });
    out.push(feature(
        "af_packet v3",
        v3.map_err(why),
        "netdev ports (recvmmsg by default; --rx-ring uses TPACKET_V3)",
        "netdev ports with recvmmsg",
    ));
    out.push(feature(
        "nftables",
        nftables().map_err(why),
        "nftables available to operators; vepa filters in its dataplane",
        "userspace ACLs",
    ));
    // SAFETY: open(2) with a constant path.
    let vhost = unsafe { libc::open(c"/dev/vhost-net".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    let vhost = opened(vhost, "open /dev/vhost-net", "/dev/vhost-net opens");
    out.push(feature(
        "vhost-net",
        vhost,
        "QEMU may use vhost-net on taps vepa does not serve",
        "taps served by vepa's own threads (virtio-net header)",
    ));
    // vhost-user itself is vepa's (a unix socket, no kernel device); the
    // guest's memory reaches vepa as a memfd QEMU shares and seals, so a
    // guest cannot shrink it under vepa's mapping.
    // SAFETY: memfd_create(2) with a constant name.
    let fd = unsafe {
        libc::memfd_create(
            c"vepa-doctor".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    // SAFETY: fcntl(2) on the descriptor just made, if any (`opened`
    // closes it).
    let sealed = fd >= 0 && unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } == 0;
    let memfd = opened(
        fd,
        "memfd_create",
        "memfd_create and F_SEAL_SHRINK work (QEMU's memory-backend-memfd)",
    )
    .and_then(|ok| {
        if sealed {
            Ok(ok)
        } else {
            Err("a memfd cannot be sealed (fcntl F_ADD_SEALS)".to_string())
        }
    });
    out.push(feature(
        "vhost-user memfd",
        memfd,
        "vhost-user ports: vepa serves the device, maps the guest's sealed shared memory",
        "none: vepa maps only guest memory sealed against shrinking (a guest that truncated file-backed memory would crash it)",
    ));
    out
}

/// Asks nf_tables for its tables (a dump): an answer means it works.
fn nftables() -> Result<String, KernelError> {
    let fd = socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW,
        libc::NETLINK_NETFILTER,
        "socket(NETLINK_NETFILTER)",
    )?;
    // NFT_MSG_GETTABLE in subsystem NFTABLES, as a dump; the body is an empty nfgenmsg.
    let dump = crate::nic::Request {
        ty: (10u16 << 8) | 1,
        flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
        body: vec![0u8; 4],
    };
    crate::nic::send(&fd, &dump, "nftables")?;
    let mut buf = [0u8; 8192];
    // SAFETY: buf is writable for its length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        )
    };
    if n < 16 {
        return Err(last_os("receive nf_tables answer"));
    }
    let ty = u16::from_ne_bytes([buf[4], buf[5]]);
    if ty == libc::NLMSG_ERROR as u16 && n >= 20 {
        let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if code != 0 {
            return Err(KernelError::Os {
                op: "nf_tables table dump",
                name: String::new(),
                source: std::io::Error::from_raw_os_error(-code),
            });
        }
    }
    Ok("nf_tables answers a table dump".to_string())
}

/// Physical NICs (those with a device behind them) and their SR-IOV counts.
pub fn nics() -> Vec<Nic> {
    let read_u32 = |p: std::path::PathBuf| -> Option<u32> {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    };
    let mut out: Vec<Nic> = std::fs::read_dir("/sys/class/net")
        .map(|d| d.filter_map(|e| e.ok()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.path().join("device").exists())
        .map(|e| {
            let p = e.path();
            let driver = std::fs::read_link(p.join("device/driver"))
                .ok()
                .and_then(|d| d.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_default();
            Nic {
                name: e.file_name().to_string_lossy().into_owned(),
                driver,
                sriov_total_vfs: read_u32(p.join("device/sriov_totalvfs")),
                sriov_vfs: read_u32(p.join("device/sriov_numvfs")),
                hwmode: crate::nic::hwmode(&e.file_name().to_string_lossy())
                    .ok()
                    .flatten()
                    .map(|m| m.as_str().to_string()),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
