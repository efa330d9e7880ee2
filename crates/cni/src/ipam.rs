//! Delegation to the IPAM plugin the configuration names (e.g. Debian's
//! `host-local`): found in `CNI_PATH`, run with the same environment and
//! configuration, its result or error passed on.

use serde::Deserialize;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use vepa_cni::config::{Config, Env};
use vepa_cni::error::{code, CniError, Result};

/// The parts of an IPAM result this plugin uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IpamResult {
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub dns: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IpConfig {
    pub address: String,
    #[serde(default)]
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    pub dst: String,
    #[serde(default)]
    pub gw: Option<String>,
}

fn plugin(cfg: &Config, env: &Env, ty: &str) -> Result<PathBuf> {
    env.path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(ty))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::new(
                code::INVALID_CONFIG,
                format!(
                    "ipam.type: no plugin '{ty}' in CNI_PATH ({}) for network '{}'",
                    if env.path.is_empty() {
                        "unset"
                    } else {
                        &env.path
                    },
                    cfg.name
                ),
            )
        })
}

/// The configuration as the IPAM plugin gets it. 1.1.0 changed nothing an
/// IPAM plugin reads or returns for ADD, DEL and CHECK, and IPAM plugins
/// still common (Debian's host-local 1.1.1) refuse it: they are asked in
/// 1.0.0.
fn for_ipam(cfg: &Config) -> Vec<u8> {
    if cfg.cni_version != "1.1.0" {
        return cfg.raw.clone();
    }
    match serde_json::from_slice::<Value>(&cfg.raw) {
        Ok(mut v) => {
            v["cniVersion"] = Value::from("1.0.0");
            serde_json::to_vec(&v).unwrap_or_else(|_| cfg.raw.clone())
        }
        Err(_) => cfg.raw.clone(),
    }
}

/// Runs the IPAM plugin for `command`; its stdout (a result, or nothing).
pub fn exec(cfg: &Config, env: &Env, command: &str) -> Result<Option<Vec<u8>>> {
    let Some(ty) = &cfg.ipam else { return Ok(None) };
    let path = plugin(cfg, env, ty)?;
    let mut child = Command::new(&path)
        .env("CNI_COMMAND", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            CniError::new(
                code::IO,
                format!("ipam.type: cannot run {}: {e}", path.display()),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&for_ipam(cfg));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CniError::new(code::IO, format!("ipam.type: {}: {e}", path.display())))?;
    if !out.status.success() {
        // The IPAM plugin's own error, passed on as it gave it.
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            if let (Some(c), Some(m)) = (v.get("code").and_then(Value::as_u64), v.get("msg")) {
                return Err(CniError::new(
                    c as u32,
                    format!("ipam ({ty}): {}", m.as_str().unwrap_or_default()),
                )
                .details(v.get("details").and_then(Value::as_str).unwrap_or_default()));
            }
        }
        return Err(CniError::new(
            code::IO,
            format!(
                "ipam ({ty}) failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(Some(out.stdout))
}

/// ADD: the addresses, routes and DNS the IPAM plugin hands out.
pub fn add(cfg: &Config, env: &Env) -> Result<IpamResult> {
    match exec(cfg, env, "ADD")? {
        None => Ok(IpamResult::default()),
        Some(out) => serde_json::from_slice(&out)
            .map_err(|e| CniError::new(code::DECODE, format!("ipam: unexpected result: {e}"))),
    }
}
