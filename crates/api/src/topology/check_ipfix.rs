//! A switch's `[switch.ipfix]` as the dataplane takes it: the collector's
//! address read, defaults filled in, bounds checked.

use super::error::invalid;
use super::{IpfixSpec, TopologyError};
use std::net::{IpAddr, SocketAddr};
use vepa_dataplane::IpfixConfig;

/// The IANA port for IPFIX.
pub const IPFIX_PORT: u16 = 4739;
pub const DEFAULT_ACTIVE_TIMEOUT_S: u64 = 60;
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 15;
const MAX_TIMEOUT_S: u64 = 86_400;
const MAX_SAMPLING: u32 = 1 << 24;

pub fn ipfix(switch: &str, x: &IpfixSpec) -> Result<IpfixConfig, TopologyError> {
    let at = || format!("switch '{switch}', ipfix");
    let collector = x
        .collector
        .parse::<SocketAddr>()
        .or_else(|_| {
            x.collector
                .parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, IPFIX_PORT))
        })
        .map_err(|_| {
            invalid(
                at(),
                "collector",
                format!(
                    "'{}' is not IP:PORT, [IPv6]:PORT or an IP address (port {IPFIX_PORT})",
                    x.collector
                ),
            )
        })?;
    if collector.ip().is_unspecified() || collector.ip().is_multicast() || collector.port() == 0 {
        return Err(invalid(
            at(),
            "collector",
            format!("{collector} is not a collector's address (a unicast IP and a port)"),
        ));
    }
    let sampling = x.sampling.unwrap_or(1);
    if !(1..=MAX_SAMPLING).contains(&sampling) {
        return Err(invalid(
            at(),
            "sampling",
            format!("{sampling}: one packet in N, N from 1 to {MAX_SAMPLING}"),
        ));
    }
    let secs = |v: Option<u64>, default: u64, field: &'static str| {
        let s = v.unwrap_or(default);
        if (1..=MAX_TIMEOUT_S).contains(&s) {
            Ok(s * 1000)
        } else {
            Err(invalid(
                at(),
                field,
                format!("{s}: seconds from 1 to {MAX_TIMEOUT_S}"),
            ))
        }
    };
    let active_timeout_ms = secs(x.active_timeout, DEFAULT_ACTIVE_TIMEOUT_S, "active_timeout")?;
    let idle_timeout_ms = secs(x.idle_timeout, DEFAULT_IDLE_TIMEOUT_S, "idle_timeout")?;
    Ok(IpfixConfig {
        collector,
        sampling,
        active_timeout_ms,
        idle_timeout_ms,
        domain: x.observation_domain.unwrap_or_else(|| domain_of(switch)),
    })
}

/// A switch's default observation domain: its name hashed (FNV-1a), so
/// it stays the same across restarts and switch order.
pub fn domain_of(switch: &str) -> u32 {
    switch.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}
