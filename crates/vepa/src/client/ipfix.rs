//! `vepa ipfix`: a switch's IPFIX flow export to a collector, and what it
//! sent.

use super::http::Client;
use super::{print_applied, print_json, seg, Output, OutputArg};
use anyhow::Result;
use clap::Subcommand;
use hyper::Method;
use vepa_api::topology::IpfixSpec;
use vepa_api::wire::{ApplyResult, IpfixView};

#[derive(Subcommand, Debug)]
pub enum IpfixCmd {
    /// Export a record per IP flow entering a switch to an IPFIX collector
    ///
    /// Records carry the 5-tuple, the IP class of service, the ingress and
    /// egress port (OpenFlow's numbers: the uplink 1, then the ports in
    /// order; egress 0 when flooded or dropped), the VLAN, packets,
    /// IP bytes, and start and end times. A flow is reported after
    /// --idle-timeout without packets, and every --active-timeout while
    /// it goes on. With --sampling N one packet in N is metered and the
    /// counts are of those; a sampling options record tells the collector
    /// N. Over UDP, templates are sent again every 10 s. Non-IP frames
    /// are not exported. Setting it again replaces the settings whole.
    ///
    /// Examples:
    ///   vepa ipfix set s1 --collector 192.0.2.10:4739
    ///   vepa ipfix set s1 --collector 192.0.2.10 --sampling 100 --active-timeout 30
    #[command(verbatim_doc_comment)]
    Set {
        /// The switch.
        switch: String,
        /// The collector: IP:PORT, [IPv6]:PORT, or an IP (port 4739).
        #[arg(long, value_name = "ADDR")]
        collector: String,
        /// Meter one packet in N [default: 1, every packet].
        #[arg(long, value_name = "N")]
        sampling: Option<u32>,
        /// Seconds between reports of a flow that goes on [default: 60].
        #[arg(long, value_name = "SECS")]
        active_timeout: Option<u64>,
        /// Seconds without packets before a flow is reported and forgotten
        /// [default: 15].
        #[arg(long, value_name = "SECS")]
        idle_timeout: Option<u64>,
        /// The observation domain ID [default: derived from the switch's name].
        #[arg(long, value_name = "ID")]
        observation_domain: Option<u32>,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Stop a switch's flow export (flows it meters are reported first)
    Del {
        /// The switch.
        switch: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Each switch's export: collector, settings and what it sent
    Show {
        /// Only this switch's.
        switch: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn ipfix(c: &Client, cmd: IpfixCmd) -> Result<()> {
    match cmd {
        IpfixCmd::Set {
            switch,
            collector,
            sampling,
            active_timeout,
            idle_timeout,
            observation_domain,
            out,
        } => {
            let spec = IpfixSpec {
                collector,
                sampling,
                active_timeout,
                idle_timeout,
                observation_domain,
            };
            let path = format!("/v1/switches/{}/ipfix", seg(&switch));
            let r: ApplyResult = c.call(Method::PUT, &path, Some(&spec))?;
            print_applied(&r, out.output())
        }
        IpfixCmd::Del { switch, out } => {
            let path = format!("/v1/switches/{}/ipfix", seg(&switch));
            let r: ApplyResult = c.call(Method::DELETE, &path, None::<&()>)?;
            print_applied(&r, out.output())
        }
        IpfixCmd::Show { switch, out } => {
            let all: Vec<IpfixView> = c.get("/v1/ipfix")?;
            let v: Vec<&IpfixView> = all
                .iter()
                .filter(|x| switch.as_deref().is_none_or(|s| s == x.switch))
                .collect();
            match out.output() {
                Output::Json => print_json(&v)?,
                Output::Table if v.is_empty() => say!("no flow export"),
                Output::Table => {
                    for x in v {
                        let s = &x.ipfix;
                        say!(
                            "{}: to {} (domain {}), sampling 1:{}, active {} s, idle {} s",
                            x.switch,
                            s.collector,
                            x.observation_domain,
                            s.sampling.unwrap_or(1),
                            s.active_timeout.unwrap_or(60),
                            s.idle_timeout.unwrap_or(15),
                        );
                        say!(
                            "  {} packets metered, {} records ({} sent, {} lost), {} messages, {} send errors",
                            x.sampled_packets,
                            x.records,
                            x.exported,
                            x.dropped,
                            x.messages,
                            x.send_errors
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
