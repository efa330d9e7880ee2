//! `vepa mirror`: port mirrors, SPAN to a monitor port or RSPAN to a VLAN
//! on the uplink, and what they sent.

use super::http::Client;
use super::{print_applied, print_json, seg, Output, OutputArg};
use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use hyper::Method;
use vepa_api::topology::{MirrorDirection, MirrorSpec};
use vepa_api::wire::{ApplyResult, MirrorView};

/// Which of the selected ports' frames a mirror copies.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Direction {
    /// What the ports receive (from their VM, container or wire).
    In,
    /// What the switch sends them.
    Out,
    /// Both.
    Both,
}

#[derive(Subcommand, Debug)]
pub enum MirrorCmd {
    /// Copy the frames some ports receive and/or send to a monitor port
    /// (SPAN) or up the uplink tagged with a VLAN (RSPAN)
    ///
    /// Each frame is copied once per mirror, even when it is received on one
    /// watched port and sent to another. The monitor port becomes the
    /// mirror's: nothing is forwarded to it, and what it sends is dropped
    /// (mirror_port).
    ///
    /// Examples:
    ///   vepa mirror add s1 watch-vm1 --select vm1 --output-port mon
    ///   vepa mirror add s1 to-analyzer --select vm1,vm2 --direction in --output-vlan 999
    #[command(verbatim_doc_comment)]
    Add {
        /// The switch.
        switch: String,
        /// The mirror's name.
        name: String,
        /// The ports to watch (comma-separated or repeated).
        #[arg(long, value_delimiter = ',', required = true, value_name = "PORT")]
        select: Vec<String>,
        /// Which of the selected ports' frames: in, out or both.
        #[arg(long, value_enum, default_value = "both")]
        direction: Direction,
        /// Only frames switched in these VLANs (default: every VLAN).
        #[arg(long = "vlan", value_delimiter = ',', value_name = "VID")]
        vlans: Vec<u16>,
        /// The monitor port the copies go to (`output` in a topology file).
        #[arg(
            long,
            value_name = "PORT",
            conflicts_with = "output_vlan",
            required_unless_present = "output_vlan"
        )]
        output_port: Option<String>,
        /// RSPAN: send the copies up the uplink tagged with this VLAN.
        #[arg(long, value_name = "VID")]
        output_vlan: Option<u16>,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Remove a mirror
    Del {
        /// The switch.
        switch: String,
        /// The mirror's name.
        name: String,
        #[command(flatten)]
        out: OutputArg,
    },
    /// The mirrors and the copies each has sent
    Show {
        /// Only this switch's.
        switch: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn mirror(c: &Client, cmd: MirrorCmd) -> Result<()> {
    match cmd {
        MirrorCmd::Add {
            switch,
            name,
            select,
            direction,
            vlans,
            output_port,
            output_vlan,
            out,
        } => {
            let spec = MirrorSpec {
                name,
                select,
                direction: match direction {
                    Direction::In => MirrorDirection::In,
                    Direction::Out => MirrorDirection::Out,
                    Direction::Both => MirrorDirection::Both,
                },
                vlans,
                output: output_port,
                output_vlan,
            };
            let path = format!("/v1/switches/{}/mirrors", seg(&switch));
            let r: ApplyResult = c.call(Method::POST, &path, Some(&spec))?;
            print_applied(&r, out.output())
        }
        MirrorCmd::Del { switch, name, out } => {
            let path = format!("/v1/switches/{}/mirrors/{}", seg(&switch), seg(&name));
            let r: ApplyResult = c.call(Method::DELETE, &path, None::<&()>)?;
            print_applied(&r, out.output())
        }
        MirrorCmd::Show { switch, out } => {
            let all: Vec<MirrorView> = c.get("/v1/mirrors")?;
            let v: Vec<&MirrorView> = all
                .iter()
                .filter(|m| switch.as_deref().is_none_or(|s| s == m.switch))
                .collect();
            match out.output() {
                Output::Json => print_json(&v)?,
                Output::Table if v.is_empty() => say!("no mirrors"),
                Output::Table => {
                    for m in v {
                        let s = &m.mirror;
                        let to = match (&s.output, s.output_vlan) {
                            (Some(p), _) => format!("port {p}"),
                            (None, Some(vid)) => format!("uplink, VLAN {vid} (RSPAN)"),
                            _ => "-".into(),
                        };
                        let dir = match s.direction {
                            MirrorDirection::In => "in",
                            MirrorDirection::Out => "out",
                            MirrorDirection::Both => "both",
                        };
                        let vlans = if s.vlans.is_empty() {
                            String::new()
                        } else {
                            format!(" vlans {:?}", s.vlans)
                        };
                        say!(
                            "{}/{}: {} ({dir}){vlans} -> {to}: {} packets, {} bytes",
                            m.switch,
                            s.name,
                            s.select.join(","),
                            m.packets,
                            m.bytes
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
