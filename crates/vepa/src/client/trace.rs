//! `vepa trace SWITCH/PORT FLOW`: what forwarding would do with a frame
//! received on a port, stage by stage, without sending it.

use super::http::Client;
use super::{print_json, resolve_port, seg, Output, OutputArg};
use anyhow::{bail, Context, Result};
use clap::Args;
use hyper::Method;
use std::path::PathBuf;
use vepa_api::wire::{TraceRequest, TraceResult};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The port the frame comes in by, as SWITCH/PORT (or PORT when only one switch has it).
    #[arg(value_name = "SWITCH/PORT")]
    pub port: String,
    /// The packet as ovs-ofctl fields: icmp|tcp|udp|arp|ip|ipv6|icmp6|tcp6|udp6,
    /// dl_src=, dl_dst=, dl_vlan=, dl_vlan_pcp=, nw_src=, nw_dst=, nw_ttl=, ip_dscp=,
    /// tp_src=, tp_dst=, icmp_type=, icmp_code=, arp_op=, arp_spa=, arp_tpa=,
    /// ipv6_src=, ipv6_dst=. What is left out: TTL 64, an echo request, a TCP SYN,
    /// an ARP request, zero MACs and addresses.
    #[arg(value_name = "FLOW", required_unless_present = "pcap")]
    pub flow: Option<String>,
    /// Trace a real frame instead: one from a capture file (pcap or pcapng,
    /// e.g. written by vepa capture or tcpdump -w).
    #[arg(long, value_name = "FILE", conflicts_with = "flow")]
    pub pcap: Option<PathBuf>,
    /// Which frame of --pcap to trace (1: the first).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "pcap")]
    pub packet: usize,
    #[command(flatten)]
    pub output: OutputArg,
}

pub fn trace(c: &Client, a: TraceArgs) -> Result<()> {
    let req = match (&a.flow, &a.pcap) {
        (Some(flow), None) => TraceRequest {
            flow: Some(flow.clone()),
            frame: None,
        },
        (None, Some(file)) => {
            let bytes = std::fs::read(file)
                .with_context(|| format!("--pcap: cannot read {}", file.display()))?;
            let frame = super::pcapfile::nth_frame(&bytes, a.packet)
                .with_context(|| format!("--pcap {}", file.display()))?;
            TraceRequest {
                flow: None,
                frame: Some(frame.iter().map(|b| format!("{b:02x}")).collect()),
            }
        }
        _ => bail!("give a FLOW or --pcap FILE"),
    };
    let (switch, port) = resolve_port(c, &a.port, "trace")?;
    let path = format!("/v1/switches/{}/ports/{}/trace", seg(&switch), seg(&port));
    let r: TraceResult = c.call(Method::POST, &path, Some(&req))?;
    if a.output.output() == Output::Json {
        return print_json(&r);
    }
    print(&r);
    Ok(())
}

fn print(r: &TraceResult) {
    say!("Frame: {}", r.frame);
    for h in &r.hops {
        say!("");
        say!("{} {}, in by {}", h.kind, h.name, h.port);
        for s in &h.steps {
            if s.stage == "ingress" && h.kind == "switch" {
                continue;
            }
            say!("  {:<10} {}", s.stage, s.detail);
        }
    }
    say!("");
    match r.outputs.len() {
        0 => {
            let last = r
                .hops
                .iter()
                .rev()
                .flat_map(|h| h.steps.iter().rev())
                .find(|s| s.stage == "drop")
                .map(|s| s.detail.as_str());
            match (last, r.to_link_agent, r.to_controller) {
                (_, 1.., _) => say!("Result: for the port's link agent; nothing is forwarded"),
                (_, _, 1..) => say!("Result: only the controller gets a copy"),
                (Some(why), _, _) => say!("Result: nothing leaves: {why}"),
                (None, _, _) => say!("Result: nothing leaves"),
            }
        }
        n => {
            say!(
                "Result: {n} cop{} leave{}:",
                if n == 1 { "y" } else { "ies" },
                if n == 1 { "s" } else { "" }
            );
            for o in &r.outputs {
                say!("  {}/{}  {}", o.switch, o.port, o.frame);
            }
        }
    }
    if r.to_controller > 0 && !r.outputs.is_empty() {
        say!("  and {} to the controller", r.to_controller);
    }
}
