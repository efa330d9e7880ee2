//! The network configuration (stdin) and the runtime's environment, read
//! and checked before anything is touched: every refusal names the field
//! or variable.

use crate::error::{code, CniError, Result};
use serde_json::{Map, Value};

pub const SUPPORTED: [&str; 2] = ["1.0.0", "1.1.0"];

/// How the container is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A veth pair the daemon makes: one end a port of `switch`, the other
    /// in the container as `CNI_IFNAME`.
    Veth,
    /// A kernel macvlan on `master` in `mode`, moved into the container
    /// (no daemon involved).
    Macvlan,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub cni_version: String,
    pub name: String,
    pub kind: Kind,
    /// For veth: the vepa switch.
    pub switch: String,
    /// For veth: the daemon's socket.
    pub socket: String,
    /// For macvlan: the lower device and the mode.
    pub master: String,
    pub mode: vepa_kernel::netlink::MacvlanMode,
    pub mtu: Option<u32>,
    /// The IPAM plugin's type, when the config has one.
    pub ipam: Option<String>,
    pub prev_result: Option<Value>,
    /// The `mac` capability: the container interface's MAC, from the
    /// runtime (`runtimeConfig.mac`). The `ips` capability needs nothing
    /// here: the IPAM plugin reads `runtimeConfig.ips` from the same
    /// configuration.
    pub mac: Option<vepa_packet::MacAddr>,
    /// GC: the attachments the runtime still has (`cni.dev/valid-attachments`):
    /// container ID and interface name.
    pub valid_attachments: Vec<(String, String)>,
    /// The whole configuration, as given (for the IPAM plugin).
    pub raw: Vec<u8>,
}

fn invalid(field: &str, msg: impl std::fmt::Display) -> CniError {
    CniError::new(code::INVALID_CONFIG, format!("{field}: {msg}"))
}

fn string(m: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(field, format!("expected a string, got {other}"))),
    }
}

/// Reads the `cniVersion` alone (VERSION takes no more).
pub fn version_of(raw: &[u8]) -> Result<Option<String>> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(raw)
        .map_err(|e| CniError::new(code::DECODE, format!("network configuration: {e}")))?;
    match v.get("cniVersion") {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Ok(None),
    }
}

pub fn parse(raw: Vec<u8>) -> Result<Config> {
    let v: Value = serde_json::from_slice(&raw).map_err(|e| {
        CniError::new(
            code::DECODE,
            format!("network configuration is not JSON: {e}"),
        )
    })?;
    let Value::Object(m) = v else {
        return Err(CniError::new(
            code::DECODE,
            "network configuration: expected a JSON object",
        ));
    };
    let cni_version = string(&m, "cniVersion")?
        .ok_or_else(|| invalid("cniVersion", "missing; expected one of 1.0.0, 1.1.0"))?;
    if !SUPPORTED.contains(&cni_version.as_str()) {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "cniVersion: {cni_version} is not supported; this plugin speaks 1.0.0 and 1.1.0"
            ),
        ));
    }
    let name = string(&m, "name")?.ok_or_else(|| invalid("name", "missing: the network's name"))?;
    let kind = match string(&m, "kind")?.as_deref() {
        None | Some("veth") => Kind::Veth,
        Some("macvlan") => Kind::Macvlan,
        Some(k) => {
            return Err(invalid(
                "kind",
                format!("'{k}': expected veth (a port of a vepa switch) or macvlan"),
            ))
        }
    };
    let switch = string(&m, "switch")?.unwrap_or_default();
    let master = string(&m, "master")?.unwrap_or_default();
    match kind {
        Kind::Veth if switch.is_empty() => {
            return Err(invalid("switch", "missing: the vepa switch to attach to"))
        }
        Kind::Macvlan if master.is_empty() => {
            return Err(invalid("master", "missing: the device the macvlan sits on"))
        }
        _ => {}
    }
    let mode_name = string(&m, "mode")?.unwrap_or_else(|| "vepa".into());
    let mode = vepa_kernel::netlink::MacvlanMode::ALL
        .into_iter()
        .find(|x| x.as_str() == mode_name)
        .filter(|x| *x != vepa_kernel::netlink::MacvlanMode::Source)
        .ok_or_else(|| {
            invalid(
                "mode",
                format!("'{mode_name}': expected vepa, bridge, private or passthru"),
            )
        })?;
    let mtu = match m.get("mtu") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v @ 68..=9216) => Some(v as u32),
            _ => {
                return Err(invalid(
                    "mtu",
                    format!("{n} is out of range; expected 68 to 9216"),
                ))
            }
        },
        Some(other) => return Err(invalid("mtu", format!("expected a number, got {other}"))),
    };
    let ipam = match m.get("ipam") {
        None | Some(Value::Null) => None,
        Some(Value::Object(i)) => Some(
            string(i, "type")
                .map_err(|_| invalid("ipam.type", "expected a string"))?
                .filter(|t| !t.is_empty() && !t.contains('/'))
                .ok_or_else(|| {
                    invalid(
                        "ipam.type",
                        "missing: the IPAM plugin to call, e.g. host-local",
                    )
                })?,
        ),
        Some(other) => return Err(invalid("ipam", format!("expected an object, got {other}"))),
    };
    let mac = match m.get("runtimeConfig").and_then(|r| r.get("mac")) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(
            t.parse::<vepa_packet::MacAddr>()
                .ok()
                .filter(|a| !a.is_multicast() && *a != vepa_packet::MacAddr::ZERO)
                .ok_or_else(|| {
                    invalid(
                        "runtimeConfig.mac",
                        format!("'{t}' is not a unicast MAC (e.g. 02:00:00:00:00:01)"),
                    )
                })?,
        ),
        Some(other) => {
            return Err(invalid(
                "runtimeConfig.mac",
                format!("expected a string, got {other}"),
            ))
        }
    };
    let valid_attachments = match m.get("cni.dev/valid-attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| {
                let field = |f: &str| a.get(f).and_then(Value::as_str).map(str::to_string);
                field("containerID").zip(field("ifname")).ok_or_else(|| {
                    invalid(
                        "cni.dev/valid-attachments",
                        "each entry needs containerID and ifname strings",
                    )
                })
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(invalid(
                "cni.dev/valid-attachments",
                format!("expected an array, got {other}"),
            ))
        }
    };
    Ok(Config {
        cni_version,
        name,
        kind,
        switch,
        socket: string(&m, "socket")?.unwrap_or_else(|| "/run/vepa/vepa.sock".into()),
        master,
        mode,
        mtu,
        ipam,
        prev_result: m.get("prevResult").cloned(),
        mac,
        valid_attachments,
        raw,
    })
}

/// The runtime's variables for one call.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    pub path: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variables `command` needs; a missing one is named.
pub fn env(command: &str) -> Result<Env> {
    let need = |name: &str| {
        var(name).ok_or_else(|| {
            CniError::new(
                code::INVALID_ENV,
                format!("{name}: missing; {command} needs it"),
            )
        })
    };
    let container_id = need("CNI_CONTAINERID")?;
    if !container_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(CniError::new(
            code::INVALID_ENV,
            format!("CNI_CONTAINERID: '{container_id}': expected letters, digits, '-', '_' or '.'"),
        ));
    }
    let ifname = need("CNI_IFNAME")?;
    if ifname.is_empty()
        || ifname.len() > 15
        || ifname.contains(['/', ':', ' '])
        || ifname == "."
        || ifname == ".."
    {
        return Err(CniError::new(
            code::INVALID_ENV,
            format!("CNI_IFNAME: '{ifname}' is not an interface name (1 to 15 characters)"),
        ));
    }
    // DEL may come after the namespace is gone.
    let netns = if command == "DEL" {
        var("CNI_NETNS").unwrap_or_default()
    } else {
        need("CNI_NETNS")?
    };
    Ok(Env {
        container_id,
        netns,
        ifname,
        path: var("CNI_PATH").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's plugin, as a runtime hands it over (name and version
    /// from the list), is a valid configuration.
    #[test]
    fn the_example_conflist_is_valid() {
        let list: Value =
            serde_json::from_str(include_str!("../../../examples/vepa.conflist")).unwrap();
        let mut plugin = list["plugins"][0].clone();
        plugin["cniVersion"] = list["cniVersion"].clone();
        plugin["name"] = list["name"].clone();
        let cfg = parse(serde_json::to_vec(&plugin).unwrap()).unwrap();
        assert_eq!(
            (cfg.kind, cfg.switch.as_str(), cfg.ipam.as_deref()),
            (Kind::Veth, "tenants", Some("host-local"))
        );
    }

    #[test]
    fn bad_configurations_name_their_field() {
        let base = serde_json::json!({"cniVersion": "1.0.0", "name": "n", "type": "vepa-cni", "switch": "s"});
        for (change, field, want) in [
            (
                ("cniVersion", serde_json::json!("0.3.1")),
                "cniVersion",
                code::INCOMPATIBLE_VERSION,
            ),
            (("name", Value::Null), "name", code::INVALID_CONFIG),
            (
                ("kind", serde_json::json!("ipvlan")),
                "kind",
                code::INVALID_CONFIG,
            ),
            (
                ("mode", serde_json::json!("source")),
                "mode",
                code::INVALID_CONFIG,
            ),
            (
                ("mtu", serde_json::json!("big")),
                "mtu",
                code::INVALID_CONFIG,
            ),
            (
                ("ipam", serde_json::json!({"subnet": "10.0.0.0/24"})),
                "ipam.type",
                code::INVALID_CONFIG,
            ),
            (("switch", Value::Null), "switch", code::INVALID_CONFIG),
        ] {
            let mut c = base.clone();
            if change.1.is_null() {
                c.as_object_mut().unwrap().remove(change.0);
            } else {
                c[change.0] = change.1;
            }
            let e = parse(serde_json::to_vec(&c).unwrap()).unwrap_err();
            assert_eq!(e.code, want, "{field}: {e:?}");
            assert!(e.msg.starts_with(field), "{field}: {}", e.msg);
        }
        let e = parse(b"[1, 2]".to_vec()).unwrap_err();
        assert_eq!(e.code, code::DECODE);
    }
}
