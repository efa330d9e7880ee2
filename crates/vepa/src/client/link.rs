//! `vepa lldp`: who is on the other end of each uplink and relay port, as
//! their LLDPDUs say (like `lldptool -t -n`), and the agent's counters.

use super::http::Client;
use super::{print_json, seg, Output, OutputArg};
use anyhow::Result;
use clap::Subcommand;
use hyper::Method;
use vepa_api::wire::{LinkPortView, LogFilterBody, RelayProbeResult, VdpPortView};

#[derive(Subcommand, Debug)]
pub enum LogCmd {
    /// Show the daemon's log filter, or replace it at run time: FILTER is
    /// a level (error, warn, info, debug, trace) or directives per module,
    /// as RUST_LOG takes them (e.g. `vepa=debug,warn`, `vepa_daemon::link=trace`)
    Level {
        /// A filter in RUST_LOG syntax (e.g. vepa=debug,warn); without one, the filter in force.
        filter: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn log(c: &Client, cmd: LogCmd) -> Result<()> {
    let LogCmd::Level { filter, out } = cmd;
    let now: LogFilterBody = match filter {
        Some(f) => c.call(Method::PUT, "/v1/log", Some(&LogFilterBody { filter: f }))?,
        None => c.get("/v1/log")?,
    };
    match out.output() {
        Output::Json => print_json(&now)?,
        Output::Table => say!("log filter: {}", now.filter),
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum VdpCmd {
    /// VSIs (VMs' interfaces) associated over 802.1Qbg's VDP: on each
    /// uplink the switch's VMs and what the adjacent bridge answered, on
    /// each relay port what the station behind it associated; with ECP's
    /// counters
    ///
    /// A VM port with `vsi = { type_id, version, uuid }` is associated by
    /// its switch's uplink (ASSOCIATE with its MAC and the VLAN it carries
    /// on the uplink) once the bridge's EVB TLV is heard, kept alive as the
    /// bridge's timers ask, and de-associated when it goes. A relay port
    /// answers a station's requests; with `vdp_enforce`, only the sources
    /// it associated may send.
    Show {
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn vdp(c: &Client, cmd: VdpCmd) -> Result<()> {
    let VdpCmd::Show { out } = cmd;
    let ports: Vec<VdpPortView> = c.get("/v1/vdp")?;
    match out.output() {
        Output::Json => print_json(&ports)?,
        Output::Table if ports.is_empty() => {
            say!("no uplink or relay ports (VDP runs on those of userspace switches)")
        }
        Output::Table => {
            for p in &ports {
                say!(
                    "{}/{} (VDP {}{}): ECP sent {} (retransmitted {}, acked {}, given up {}), received {} ({} repeats), unreadable {}, refused {}",
                    p.switch,
                    p.port,
                    p.role,
                    if p.enforce { ", enforced" } else { "" },
                    p.ecp_tx,
                    p.ecp_retransmits,
                    p.ecp_acked,
                    p.ecp_gave_up,
                    p.ecp_rx,
                    p.ecp_duplicates,
                    p.vdp_errors,
                    p.refused
                );
                if p.vsis.is_empty() {
                    say!("  no VSI");
                }
                for v in &p.vsis {
                    let filters: Vec<String> = v
                        .mac
                        .iter()
                        .zip(&v.vlan)
                        .map(|(m, vid)| format!("{m} vlan {vid}"))
                        .collect();
                    say!(
                        "  {}{} type {} v{} {}: {}",
                        v.port
                            .as_ref()
                            .map(|p| format!("{p}: "))
                            .unwrap_or_default(),
                        v.uuid,
                        v.type_id,
                        v.version,
                        filters.join(", "),
                        v.state
                    );
                }
            }
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum RelayCmd {
    /// Whether the adjacent bridge on a switch's uplink reflects frames
    /// back down the port they came in on (reflective relay, hairpin);
    /// exits 1 when it does not
    ///
    /// Sends two frames up the uplink from a pair of locally administered
    /// MACs of the switch's own (EtherType 0x88b5): the first teaches the
    /// bridge where one of them is, the second is addressed to it, so a
    /// bridge sends it back only with hairpin on, and floods it nowhere.
    /// vepa runs the same probe by itself a few seconds after an uplink
    /// appears, and every minute, while no 802.1Qbg EVB peer answers its
    /// LLDP; `vepa switch show` and `vepa doctor` show what it saw.
    Probe {
        /// The switch whose uplink is probed.
        switch: String,
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn relay(c: &Client, cmd: RelayCmd) -> Result<()> {
    let RelayCmd::Probe { switch, out } = cmd;
    let r: RelayProbeResult = c.call(
        Method::POST,
        &format!("/v1/switches/{}/relay-probe", seg(&switch)),
        None::<&()>,
    )?;
    match out.output() {
        Output::Json => print_json(&r)?,
        Output::Table if r.reflecting => say!(
            "{}: the bridge on uplink '{}' reflects: the probe came back in {} ms",
            r.switch,
            r.uplink,
            r.waited_ms
        ),
        Output::Table => {
            say!(
                "{}: the bridge on uplink '{}' does not reflect: nothing came back in {} ms",
                r.switch,
                r.uplink,
                r.waited_ms
            );
            say!("  frames between this switch's vepa ports will not come back to it. Turn reflective relay");
            say!("  (hairpin) on at the bridge's port (a Linux bridge: `bridge link set dev PORT hairpin on`),");
            say!("  or give the switch relay_required = \"fallback-veb\" to switch them locally meanwhile.");
        }
    }
    if let Some(s) = r
        .reflective_relay
        .filter(|s| s.starts_with("granted") || s.starts_with("refused"))
    {
        say!("  (an EVB peer answers for this bridge, and its word counts: relay {s})");
    }
    if !r.reflecting {
        std::process::exit(1);
    }
    Ok(())
}

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
    match out.output() {
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
                    match &p.relay_required {
                        Some(policy) => {
                            say!("  reflective relay: {r} (relay_required = \"{policy}\")")
                        }
                        None => say!("  reflective relay: {r}"),
                    }
                }
                if let Some(probe) = &p.probe {
                    say!("  relay probe: {probe}");
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
