//! `vepa-cni`: a CNI plugin (spec 1.0.0 and 1.1.0) that attaches a
//! container's network namespace to a vepa switch — a veth port made by
//! the vepa daemon — or to a kernel macvlan in the requested mode, with
//! addresses from the IPAM plugin the configuration names.
//!
//! The runtime sets `CNI_COMMAND` (ADD, DEL, CHECK, GC, STATUS, VERSION),
//! `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_PATH`, and gives the
//! network configuration on stdin:
//!
//! ```json
//! {"cniVersion": "1.1.0", "name": "tenants", "type": "vepa-cni",
//!  "switch": "s1", "ipam": {"type": "host-local", "subnet": "10.22.0.0/24"}}
//! ```
//!
//! Results go to stdout; errors too, as the spec's error object, with a
//! non-zero exit.

#![deny(clippy::undocumented_unsafe_blocks)]

mod attach;
// The CLI's HTTP client for the daemon's API, shared as source: one
// request per call, over the daemon's unix socket.
#[allow(dead_code)]
#[path = "../../vepa/src/client/http.rs"]
mod http;
mod ipam;

use error::{code, CniError, Result};
use serde_json::{json, Value};
use std::io::Read;
use vepa_cni::{config, error, LATEST};

/// The largest network configuration read from stdin.
const MAX_CONFIG: usize = 1 << 20;

fn run() -> Result<Option<Value>> {
    let command = std::env::var("CNI_COMMAND")
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            CniError::new(
                code::INVALID_ENV,
                "CNI_COMMAND: missing; expected ADD, DEL, CHECK, GC, STATUS or VERSION",
            )
        })?;
    // A configuration is a few KiB; more is refused, not read whole.
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_CONFIG as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CniError::new(code::IO, format!("stdin: {e}")))?;
    if raw.len() > MAX_CONFIG {
        return Err(CniError::new(
            code::DECODE,
            format!("network configuration: more than {MAX_CONFIG} bytes on stdin"),
        ));
    }
    if command == "VERSION" {
        let asked = config::version_of(&raw)?.unwrap_or_else(|| LATEST.into());
        return Ok(Some(json!({
            "cniVersion": asked,
            "supportedVersions": config::SUPPORTED,
        })));
    }
    let cfg = config::parse(raw)?;
    let stamp = |mut e: CniError| {
        e.cni_version = cfg.cni_version.clone();
        e
    };
    match command.as_str() {
        "ADD" => {
            let env = config::env("ADD").map_err(stamp)?;
            // A repeated ADD of the same attachment gets the same answer.
            if let Some(rec) = attach::load(&cfg, &env) {
                if attach::check(
                    &config::Config {
                        prev_result: Some(rec.result.clone()),
                        ..cfg.clone()
                    },
                    &env,
                )
                .is_ok()
                {
                    return Ok(Some(rec.result));
                }
                attach::del(&cfg, &env).map_err(stamp)?;
            }
            let ipam = ipam::add(&cfg, &env).map_err(stamp)?;
            match attach::add(&cfg, &env, &ipam) {
                Ok(r) => Ok(Some(r)),
                Err(e) => {
                    // Nothing half-made: the addresses go back.
                    let _ = ipam::exec(&cfg, &env, "DEL");
                    Err(stamp(e))
                }
            }
        }
        "DEL" => {
            let env = config::env("DEL").map_err(stamp)?;
            attach::del(&cfg, &env).map_err(stamp)?;
            ipam::exec(&cfg, &env, "DEL").map_err(stamp)?;
            Ok(None)
        }
        "CHECK" => {
            let env = config::env("CHECK").map_err(stamp)?;
            attach::check(&cfg, &env).map_err(stamp)?;
            ipam::exec(&cfg, &env, "CHECK").map_err(stamp)?;
            Ok(None)
        }
        "GC" => {
            // Only CNI_PATH (for the IPAM plugin) is given.
            let env = config::Env {
                path: std::env::var("CNI_PATH").unwrap_or_default(),
                ..config::Env::default()
            };
            attach::gc(&cfg).map_err(stamp)?;
            // The IPAM plugin forgets what it gave the gone ones, if it
            // knows GC (host-local from plugins 1.5 on); one that does not
            // leaves its leases, which is not this plugin's failure.
            if let Err(e) = ipam::exec(&cfg, &env, "GC") {
                eprintln!("vepa-cni: GC: the IPAM plugin did not collect: {}", e.msg);
            }
            Ok(None)
        }
        "STATUS" => {
            if cfg.kind == config::Kind::Veth {
                attach::client(&cfg)
                    .and_then(|c| {
                        c.get::<Value>("/v1/stats").map_err(|e| {
                            CniError::new(
                                code::NOT_AVAILABLE,
                                format!(
                                    "socket: the vepa daemon at {} does not answer",
                                    cfg.socket
                                ),
                            )
                            .details(format!("{e:#}"))
                        })
                    })
                    .map_err(stamp)?;
            }
            Ok(None)
        }
        other => Err(stamp(CniError::new(
            code::INVALID_ENV,
            format!("CNI_COMMAND: '{other}' is not one of ADD, DEL, CHECK, GC, STATUS, VERSION"),
        ))),
    }
}

fn main() {
    match run() {
        Ok(Some(v)) => println!("{v}"),
        Ok(None) => {}
        Err(e) => {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
            std::process::exit(1);
        }
    }
}
