//! What ADD makes and DEL removes: a veth port of a vepa switch (through
//! the daemon's API) or a kernel macvlan, its far end in the container as
//! `CNI_IFNAME` with the IPAM plugin's addresses; and the record of it,
//! so a repeated ADD gets the same answer and DEL finds what to remove.

use crate::http::{Client, Target};
use crate::ipam::IpamResult;
use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vepa_cni::config::{Config, Env, Kind};
use vepa_cni::error::{code, CniError, Result};
use vepa_kernel::host;
use vepa_kernel::netlink::NewLink;

/// Where attachments are recorded (one JSON file each).
fn state_dir() -> PathBuf {
    std::env::var_os("VEPA_CNI_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/cni/vepa"))
}

/// What ADD made, for a repeated ADD, CHECK and DEL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The host-side port (veth) or the macvlan's first name.
    pub port: String,
    /// The namespace's name under /run/netns.
    pub netns: String,
    /// Whether this plugin bind-mounted the runtime's namespace there.
    pub bound: bool,
    pub result: Value,
    /// Whose attachment it is (for GC); empty in records made before.
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub container_id: String,
    #[serde(default)]
    pub ifname: String,
}

fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The attachment's key: the network, the container and its interface.
fn key(cfg: &Config, env: &Env) -> String {
    format!("{}/{}/{}", cfg.name, env.container_id, env.ifname)
}

fn record_path(cfg: &Config, env: &Env) -> PathBuf {
    state_dir().join(format!("{:016x}.json", hash(&key(cfg, env))))
}

pub fn load(cfg: &Config, env: &Env) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(record_path(cfg, env)).ok()?).ok()
}

fn save(cfg: &Config, env: &Env, r: &Record) -> Result<()> {
    let path = record_path(cfg, env);
    let io = |e: std::io::Error| CniError::new(code::IO, format!("{}: {e}", path.display()));
    std::fs::create_dir_all(state_dir()).map_err(io)?;
    let bytes = serde_json::to_vec(r).map_err(|e| CniError::new(code::IO, e.to_string()))?;
    // Whole or not at all: a crash mid-write must not leave a record DEL
    // or GC cannot read.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// GC (CNI 1.1): removes this network's attachments that are not in the
/// runtime's list of valid ones, as DEL would; returns how many.
pub fn gc(cfg: &Config) -> Result<usize> {
    let Ok(dir) = std::fs::read_dir(state_dir()) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(rec) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        else {
            continue;
        };
        if rec.network != cfg.name || rec.container_id.is_empty() {
            continue;
        }
        let valid = cfg
            .valid_attachments
            .iter()
            .any(|(c, i)| *c == rec.container_id && *i == rec.ifname);
        if valid {
            continue;
        }
        let env = Env {
            container_id: rec.container_id.clone(),
            ifname: rec.ifname.clone(),
            ..Env::default()
        };
        del(cfg, &env)?;
        removed += 1;
    }
    Ok(removed)
}

fn forget(cfg: &Config, env: &Env) {
    let _ = std::fs::remove_file(record_path(cfg, env));
}

/// The host-side name: `vc` and 10 hex digits of the attachment's key
/// (an interface name has 15 characters at most).
pub fn port_name(cfg: &Config, env: &Env) -> String {
    format!("vc{:010x}", hash(&key(cfg, env)) & 0xff_ffff_ffff)
}

/// The runtime's namespace as a name under /run/netns (where the daemon
/// and rtnetlink look), bind-mounting it there when it lives elsewhere
/// (`/proc/PID/ns/net`, a runtime's own directory).
fn netns_name(cfg: &Config, env: &Env) -> Result<(String, bool)> {
    for prefix in ["/run/netns/", "/var/run/netns/"] {
        if let Some(n) = env.netns.strip_prefix(prefix).filter(|n| !n.contains('/')) {
            if !Path::new(&env.netns).exists() {
                break;
            }
            return Ok((n.to_string(), false));
        }
    }
    if !Path::new(&env.netns).exists() {
        return Err(CniError::new(
            code::UNKNOWN_CONTAINER,
            format!("CNI_NETNS: {} does not exist", env.netns),
        ));
    }
    let name = format!("vepacni-{:010x}", hash(&key(cfg, env)) & 0xff_ffff_ffff);
    let target = PathBuf::from("/run/netns").join(&name);
    if !target.exists() {
        let io = |e: std::io::Error| CniError::new(code::IO, format!("{}: {e}", target.display()));
        std::fs::create_dir_all("/run/netns").map_err(io)?;
        std::fs::File::create(&target).map_err(io)?;
        let (src, dst) = (cstr(&env.netns)?, cstr(&target.to_string_lossy())?);
        // SAFETY: mount(2) with NUL-terminated paths that live across the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            let _ = std::fs::remove_file(&target);
            return Err(CniError::new(
                code::IO,
                format!("bind {} at {}: {e}", env.netns, target.display()),
            ));
        }
    }
    Ok((name, true))
}

fn cstr(s: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(s)
        .map_err(|_| CniError::new(code::INVALID_ENV, format!("'{s}': a path with a NUL byte")))
}

fn unbind(name: &str) {
    let target = PathBuf::from("/run/netns").join(name);
    if let Ok(t) = cstr(&target.to_string_lossy()) {
        // SAFETY: umount2(2) with a NUL-terminated path.
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = std::fs::remove_file(target);
}

pub fn client(cfg: &Config) -> Result<Client> {
    Client::new(Target::Unix(PathBuf::from(&cfg.socket)))
        .map_err(|e| CniError::new(code::IO, format!("{e:#}")))
}

/// A daemon error: unreachable is "try again later", a refusal carries its words.
fn daemon_error(cfg: &Config, e: anyhow::Error) -> CniError {
    let text = format!("{e:#}");
    if text.contains("cannot reach the vepa daemon") || text.contains("cannot connect") {
        CniError::new(
            code::TRY_AGAIN_LATER,
            format!("socket: the vepa daemon at {} does not answer", cfg.socket),
        )
        .details(text)
    } else {
        CniError::new(
            code::DAEMON_REFUSED,
            format!("switch '{}': the vepa daemon refused", cfg.switch),
        )
        .details(text)
    }
}

fn mac_of(netns: Option<&str>, ifname: &str) -> Option<String> {
    let n = ifname.to_string();
    host::netlink(netns, move |nl| Ok(nl.link(&n)?.and_then(|l| l.mac)))
        .ok()
        .flatten()
        .map(|m| vepa_packet::MacAddr(m).to_string())
}

/// The default routes' gateways (one per family) of an IPAM result.
fn gateways(r: &IpamResult) -> Vec<String> {
    r.routes
        .iter()
        .filter(|rt| rt.dst == "0.0.0.0/0" || rt.dst == "::/0")
        .filter_map(|rt| {
            rt.gw.clone().or_else(|| {
                let v6 = rt.dst.contains(':');
                r.ips
                    .iter()
                    .find(|ip| ip.address.contains(':') == v6)
                    .and_then(|ip| ip.gateway.clone())
            })
        })
        .collect()
}

pub fn add(cfg: &Config, env: &Env, ipam: &IpamResult) -> Result<Value> {
    let (ns, bound) = netns_name(cfg, env)?;
    let port = port_name(cfg, env);
    let addresses: Vec<String> = ipam.ips.iter().map(|i| i.address.clone()).collect();
    let made = match cfg.kind {
        Kind::Veth => {
            let mut spec = json!({
                "name": port,
                "type": "veth",
                "netns": ns,
                "peer_name": env.ifname,
                "address": addresses,
                "gateway": gateways(ipam),
            });
            if let Some(m) = cfg.mtu {
                spec["mtu"] = json!(m);
            }
            if let Some(mac) = cfg.mac {
                spec["mac"] = json!(mac.to_string());
            }
            let path = format!("/v1/switches/{}/ports", cfg.switch);
            client(cfg)?
                .call::<Value>(Method::POST, &path, Some(&spec))
                .map(|_| ())
                .map_err(|e| daemon_error(cfg, e))
        }
        Kind::Macvlan => macvlan(cfg, env, &ns, &port, &addresses, &gateways(ipam)),
    };
    if let Err(e) = made {
        if bound {
            unbind(&ns);
        }
        return Err(e);
    }
    let mut result = json!({
        "cniVersion": cfg.cni_version,
        "interfaces": [
            {"name": env.ifname, "mac": mac_of(Some(&ns), &env.ifname).unwrap_or_default(), "sandbox": env.netns},
        ],
        "ips": ipam.ips.iter().map(|i| {
            let mut v = json!({"address": i.address, "interface": 0});
            if let Some(g) = &i.gateway { v["gateway"] = json!(g); }
            v
        }).collect::<Vec<_>>(),
        "routes": ipam.routes.iter().map(|r| {
            let mut v = json!({"dst": r.dst});
            if let Some(g) = &r.gw { v["gw"] = json!(g); }
            v
        }).collect::<Vec<_>>(),
        "dns": if ipam.dns.is_null() { json!({}) } else { ipam.dns.clone() },
    });
    if cfg.kind == Kind::Veth {
        // The host side first, the container's interface then index 1.
        let host = json!({"name": port, "mac": mac_of(None, &port).unwrap_or_default()});
        if let Some(list) = result["interfaces"].as_array_mut() {
            list.insert(0, host);
        }
        if let Some(ips) = result["ips"].as_array_mut() {
            for ip in ips {
                ip["interface"] = json!(1);
            }
        }
    }
    save(
        cfg,
        env,
        &Record {
            port,
            netns: ns,
            bound,
            result: result.clone(),
            network: cfg.name.clone(),
            container_id: env.container_id.clone(),
            ifname: env.ifname.clone(),
        },
    )?;
    Ok(result)
}

/// A kernel macvlan on `master` in the configured mode, moved into the
/// container and named `CNI_IFNAME` there.
fn macvlan(
    cfg: &Config,
    env: &Env,
    ns: &str,
    tmp: &str,
    addresses: &[String],
    gateways: &[String],
) -> Result<()> {
    let (master, name, mode) = (cfg.master.clone(), tmp.to_string(), cfg.mode);
    let io =
        |what: &str, e: vepa_kernel::KernelError| CniError::new(code::IO, format!("{what}: {e}"));
    if !host::link_exists(&master) {
        return Err(CniError::new(
            code::INVALID_CONFIG,
            format!("master: no device '{master}'"),
        ));
    }
    host::netlink(None, move |nl| {
        nl.add(NewLink::Macvlan {
            name: &name,
            lower: &master,
            mode,
            sources: &[],
        })
    })
    .map_err(|e| io("make the macvlan", e))?;
    let undo = |e: CniError| {
        let _ = host::del_link(tmp);
        e
    };
    host::move_to_netns(tmp, ns).map_err(|e| undo(io("move it into the container", e)))?;
    host::rename(Some(ns), tmp, &env.ifname).map_err(|e| io("name it CNI_IFNAME", e))?;
    let gateways: Vec<std::net::IpAddr> = gateways
        .iter()
        .map(|g| {
            g.parse().map_err(|_| {
                CniError::new(
                    code::DECODE,
                    format!("ipam: gateway '{g}' is not an address"),
                )
            })
        })
        .collect::<Result<_>>()?;
    host::configure_with_gateways(
        Some(ns),
        &env.ifname,
        cfg.mac.map(|m| m.0),
        addresses,
        cfg.mtu,
        &gateways,
    )
    .map_err(|e| io("address it", e))
}

/// Removes what ADD made; what is already gone is fine.
pub fn del(cfg: &Config, env: &Env) -> Result<()> {
    let rec = load(cfg, env);
    let port = rec
        .as_ref()
        .map_or_else(|| port_name(cfg, env), |r| r.port.clone());
    match cfg.kind {
        Kind::Veth => {
            let path = format!("/v1/switches/{}/ports/{port}", cfg.switch);
            match client(cfg)?.call::<Value>(Method::DELETE, &path, None::<&()>) {
                Ok(_) => {}
                Err(e) if format!("{e:#}").contains("404") => {}
                Err(e) => return Err(daemon_error(cfg, e)),
            }
        }
        Kind::Macvlan => {
            if let Some(r) = &rec {
                if host::netns_exists(&r.netns) {
                    let _ = host::del_link_in(Some(&r.netns), &env.ifname);
                }
            }
            let _ = host::del_link(&port);
        }
    }
    let bound = rec.as_ref().map_or_else(
        || format!("vepacni-{:010x}", hash(&key(cfg, env)) & 0xff_ffff_ffff),
        |r| {
            if r.bound {
                r.netns.clone()
            } else {
                String::new()
            }
        },
    );
    if !bound.is_empty() && Path::new("/run/netns").join(&bound).exists() {
        unbind(&bound);
    }
    forget(cfg, env);
    Ok(())
}

/// CHECK: the port is on its switch with the container's end, and the
/// container's interface is there, up, with the MAC ADD reported.
pub fn check(cfg: &Config, env: &Env) -> Result<()> {
    let failed = |m: String| CniError::new(code::CHECK_FAILED, m);
    let prev = cfg.prev_result.as_ref().ok_or_else(|| {
        CniError::new(
            code::INVALID_CONFIG,
            "prevResult: missing; CHECK compares against it",
        )
    })?;
    let rec = load(cfg, env).ok_or_else(|| {
        failed(format!(
            "no attachment of {} on network '{}'",
            env.container_id, cfg.name
        ))
    })?;
    if cfg.kind == Kind::Veth {
        let path = format!("/v1/switches/{}/ports/{}", cfg.switch, rec.port);
        let p: Value = client(cfg)?
            .call(Method::GET, &path, None::<&()>)
            .map_err(|e| {
                failed(format!(
                    "port '{}' on switch '{}': {e:#}",
                    rec.port, cfg.switch
                ))
            })?;
        let spec = p.get("spec").unwrap_or(&p);
        if spec["netns"] != json!(rec.netns) || spec["peer_name"] != json!(env.ifname) {
            return Err(failed(format!(
                "port '{}' no longer leads to {} in {}",
                rec.port, env.ifname, rec.netns
            )));
        }
    }
    let n = env.ifname.clone();
    let link = host::netlink(Some(&rec.netns), move |nl| nl.link(&n))
        .map_err(|e| failed(format!("CNI_NETNS: {e}")))?
        .ok_or_else(|| failed(format!("{} is gone from the container", env.ifname)))?;
    if !link.up {
        return Err(failed(format!("{} is down", env.ifname)));
    }
    let want = prev["interfaces"]
        .as_array()
        .and_then(|l| l.iter().find(|i| i["name"] == json!(env.ifname)))
        .and_then(|i| i["mac"].as_str())
        .unwrap_or_default();
    let have = link
        .mac
        .map(|m| vepa_packet::MacAddr(m).to_string())
        .unwrap_or_default();
    if !want.is_empty() && want != have {
        return Err(failed(format!(
            "{}: MAC {have}, ADD reported {want}",
            env.ifname
        )));
    }
    Ok(())
}
