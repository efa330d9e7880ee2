//! `vepa lldp`: who is on the other end of each uplink and relay port, as
//! their LLDPDUs say (like `lldptool -t -n`), and the agent's counters.

use super::http::Client;
use super::{print_json, Output, OutputArg};
use anyhow::Result;
use clap::Subcommand;
use vepa_api::wire::LinkPortView;

#[derive(Subcommand, Debug)]
pub enum LldpCmd {
    /// Neighbours per uplink and relay port: chassis and port ID, system
    /// name, TTL left, management addresses, the EVB TLV (reflective
    /// relay), and the agent's counters
    ///
    /// vepa speaks LLDP on every uplink and relay port of a switch with a
    /// userspace dataplane: it sends an LLDPDU to 01:80:c2:00:00:0e every
    /// 30 s (four a second apart when a port starts or a neighbour
    /// appears) and reads its neighbours' (never forwarding them).
    Show {
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn lldp(c: &Client, cmd: LldpCmd) -> Result<()> {
    let LldpCmd::Show { out } = cmd;
    let ports: Vec<LinkPortView> = c.get("/v1/lldp")?;
    match out.output {
        Output::Json => print_json(&ports)?,
        Output::Table if ports.is_empty() => {
            say!("no uplink or relay ports (LLDP runs on those of userspace switches)")
        }
        Output::Table => {
            for p in &ports {
                say!(
                    "{}/{} ({}): sent {}, read {}, unreadable {}, over budget {}, aged out {}",
                    p.switch,
                    p.port,
                    p.role,
                    p.lldp_tx,
                    p.lldp_rx,
                    p.rx_errors,
                    p.rx_over_budget,
                    p.aged_out
                );
                if let Some(r) = &p.reflective_relay {
                    say!("  reflective relay: {r}");
                }
                if let Some(e) = &p.last_error {
                    say!("  last unreadable: {e}");
                }
                if p.neighbours.is_empty() {
                    say!("  no neighbour");
                }
                for n in &p.neighbours {
                    say!(
                        "  [{}] chassis {} port {}{}, ttl {} s ({} s left)",
                        n.agent,
                        n.chassis_id,
                        n.port_id,
                        n.system_name
                            .as_ref()
                            .map(|s| format!(", system {s}"))
                            .unwrap_or_default(),
                        n.ttl,
                        n.expires_in
                    );
                    if let Some(d) = &n.port_description {
                        say!("    port description: {d}");
                    }
                    if !n.management.is_empty() {
                        say!("    management: {}", n.management.join(", "));
                    }
                    if let Some(e) = &n.evb {
                        say!(
                            "    EVB: {} mode; bridge rrcap={} rrctr={}; station rrreq={} rrstat={}",
                            e.mode,
                            e.rrcap,
                            e.rrctr,
                            e.rrreq,
                            e.rrstat
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
