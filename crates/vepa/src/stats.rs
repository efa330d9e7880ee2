//! Per-port counters for people (a table) and programs (JSON).

use serde_json::{json, Value};
use std::fmt::Write;
use vepa_dataplane::{PortId, PortRole, Switch};

pub fn to_json(switches: &[Switch]) -> Value {
    let sw: Vec<Value> = switches
        .iter()
        .map(|s| {
            let ports: Vec<Value> = s
                .config()
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let c = s.counters(PortId(i as u16));
                    let drops: serde_json::Map<String, Value> = c
                        .drops()
                        .map(|(r, n)| (r.as_str().to_string(), json!(n)))
                        .collect();
                    json!({
                        "name": p.name,
                        "role": role(p.role),
                        "relay": p.relay,
                        "rx_frames": c.rx_frames,
                        "rx_bytes": c.rx_bytes,
                        "tx_frames": c.tx_frames,
                        "tx_bytes": c.tx_bytes,
                        "tx_errors": c.tx_errors,
                        "mac_limit_unlearned": c.mac_limit_unlearned,
                        "drops": drops,
                    })
                })
                .collect();
            json!({ "name": s.name(), "fdb_entries": s.fdb().len(), "ports": ports })
        })
        .collect();
    json!({ "switches": sw })
}

fn role(r: PortRole) -> &'static str {
    match r {
        PortRole::Uplink => "uplink",
        PortRole::Downlink(m) => m.as_str(),
    }
}

pub fn table(s: &Switch) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "  {:<14} {:<8} {:<6} {:>9} {:>9}  drops",
        "port", "mode", "relay", "rx", "tx"
    );
    for (i, p) in s.config().ports.iter().enumerate() {
        let c = s.counters(PortId(i as u16));
        let drops: Vec<String> = c
            .drops()
            .map(|(r, n)| format!("{}={n}", r.as_str()))
            .collect();
        let _ = writeln!(
            t,
            "  {:<14} {:<8} {:<6} {:>9} {:>9}  {}",
            p.name,
            role(p.role),
            if p.relay { "on" } else { "off" },
            c.rx_frames,
            c.tx_frames,
            if drops.is_empty() {
                "-".to_string()
            } else {
                drops.join(" ")
            }
        );
    }
    t
}
