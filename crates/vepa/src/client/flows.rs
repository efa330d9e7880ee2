//! `vepa flow` and `vepa group`: a switch's flow tables, in `ovs-ofctl`'s
//! syntax.

use super::http::Client;
use super::{print_json, seg, Output, OutputArg};
use anyhow::{Context, Result};
use clap::Subcommand;
use hyper::Method;
use serde_json::json;
use std::path::PathBuf;
use vepa_api::wire::{FlowChange, FlowView, GroupView};

const FLOW_SYNTAX: &str = "FLOW is ovs-ofctl's syntax (ovs-fields(7), ovs-actions(7)), e.g.\n  \
priority=100,icmp,in_port=vm1,nw_dst=10.0.0.2,actions=drop\n  \
priority=50,in_port=vm1,actions=NORMAL,output:mon\n\
Ports are named or numbered from 1 (the uplink first, then the ports in order).\n\
Match: in_port dl_src dl_dst dl_type dl_vlan dl_vlan_pcp nw_src nw_dst nw_proto nw_tos ip_dscp\n  \
tp_src tp_dst icmp_type icmp_code arp_op arp_spa arp_tpa arp_sha arp_tha ipv6_src ipv6_dst\n  \
metadata tun_id, and ip tcp udp icmp arp ipv6 tcp6 udp6 icmp6; table= priority= cookie=\n  \
idle_timeout= hard_timeout= send_flow_rem.\n\
Actions: output:PORT NORMAL FLOOD ALL IN_PORT CONTROLLER[:MAXLEN] drop group:N\n  \
push_vlan:0x8100 pop_vlan mod_vlan_vid:N mod_vlan_pcp:N mod_dl_src/dst:MAC\n  \
mod_nw_src/dst:IP mod_nw_tos:N mod_tp_src/dst:N set_field:VALUE->FIELD dec_ttl\n  \
write_actions(...) clear_actions write_metadata:V/M goto_table:N";

#[derive(Subcommand, Debug)]
#[command(after_help = FLOW_SYNTAX)]
pub enum FlowCmd {
    /// Add flows (one with the same table, priority and match is replaced)
    ///
    /// Example: vepa flow add s1 'priority=100,icmp,in_port=vm1,actions=drop'
    #[command(after_help = FLOW_SYNTAX)]
    Add {
        /// The switch.
        switch: String,
        /// Flows; all are added or none.
        flows: Vec<String>,
        /// Read flows from FILE (one per line, # comments), as ovs-ofctl add-flows does.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Change the actions of the flows a match selects
    ///
    /// Example: vepa flow mod s1 'in_port=vm1,actions=output:vm2'
    #[command(after_help = FLOW_SYNTAX)]
    Mod {
        /// The switch.
        switch: String,
        /// The flow, in ovs-ofctl syntax.
        flow: String,
        /// Only the flow with exactly this match and priority.
        #[arg(long)]
        strict: bool,
    },
    /// Remove the flows a match covers (every flow without one)
    ///
    /// Example: vepa flow del s1 'icmp'
    #[command(after_help = FLOW_SYNTAX)]
    Del {
        /// The switch.
        switch: String,
        /// A match in ovs-ofctl syntax (default: every flow).
        filter: Option<String>,
        /// Only the flow with exactly this match and priority.
        #[arg(long)]
        strict: bool,
    },
    /// List flows with their counters (the ones a match covers, or all)
    Dump {
        /// The switch.
        switch: String,
        /// A match in ovs-ofctl syntax (default: every flow).
        filter: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupCmd {
    /// Add groups: group_id=N,type=all|select|indirect|ff,bucket=ACTIONS,...
    ///
    /// Example: vepa group add s1 'group_id=1,type=all,bucket=output:vm2,bucket=output:mon'
    Add {
        /// The switch.
        switch: String,
        /// Groups in ovs-ofctl add-group syntax.
        groups: Vec<String>,
    },
    /// Replace groups of the same id
    Mod {
        /// The switch.
        switch: String,
        /// Groups in ovs-ofctl add-group syntax.
        groups: Vec<String>,
    },
    /// Remove a group and the flows that use it (all groups without an id)
    Del {
        /// The switch.
        switch: String,
        /// Only this group.
        #[arg(long = "group-id")]
        group_id: Option<u32>,
    },
    /// List groups with their counters
    Dump {
        /// The switch.
        switch: String,
        #[command(flatten)]
        out: OutputArg,
    },
}

/// A query value, percent-encoded.
fn query(s: &str) -> String {
    seg(s)
}

/// Flows from a file: one per line, blank lines and `#` comments skipped.
fn read_flows(path: &PathBuf) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// One flow as `ovs-ofctl dump-flows` prints it.
pub fn dump_line(f: &FlowView) -> String {
    let mut s = format!(
        " cookie={:#x}, duration={:.3}s, table={}, n_packets={}, n_bytes={}, ",
        f.cookie, f.duration_secs, f.table, f.packets, f.bytes
    );
    if f.idle_timeout != 0 {
        s.push_str(&format!("idle_timeout={}, ", f.idle_timeout));
    }
    if f.hard_timeout != 0 {
        s.push_str(&format!("hard_timeout={}, ", f.hard_timeout));
    }
    s.push_str(&format!("priority={}", f.priority));
    if !f.matcher.is_empty() {
        s.push(',');
        s.push_str(&f.matcher);
    }
    s.push_str(" actions=");
    s.push_str(&f.actions);
    s
}

fn changed(verb: &str, c: &FlowChange) {
    if super::json() {
        let _ = print_json(c);
        return;
    }
    say!("{verb} {} (generation {})", c.changed, c.generation);
}

pub fn flow(c: &Client, cmd: FlowCmd) -> Result<()> {
    match cmd {
        FlowCmd::Add {
            switch,
            mut flows,
            file,
        } => {
            if let Some(f) = &file {
                flows.extend(read_flows(f)?);
            }
            if flows.is_empty() {
                anyhow::bail!("no flow given: vepa flow add SWITCH FLOW... (or -f FILE)");
            }
            let r: FlowChange = c.call(
                Method::POST,
                &format!("/v1/switches/{}/flows", seg(&switch)),
                Some(&json!({ "flows": flows })),
            )?;
            changed("added", &r);
        }
        FlowCmd::Mod {
            switch,
            flow,
            strict,
        } => {
            let r: FlowChange = c.call(
                Method::PATCH,
                &format!("/v1/switches/{}/flows", seg(&switch)),
                Some(&json!({ "flow": flow, "strict": strict })),
            )?;
            changed("modified", &r);
        }
        FlowCmd::Del {
            switch,
            filter,
            strict,
        } => {
            let r: FlowChange = c.call(
                Method::DELETE,
                &format!("/v1/switches/{}/flows", seg(&switch)),
                Some(&json!({ "filter": filter, "strict": strict })),
            )?;
            changed("deleted", &r);
        }
        FlowCmd::Dump {
            switch,
            filter,
            out,
        } => {
            let mut path = format!("/v1/switches/{}/flows", seg(&switch));
            if let Some(f) = filter {
                path.push_str(&format!("?filter={}", query(&f)));
            }
            let flows: Vec<FlowView> = c.get(&path)?;
            match out.output() {
                Output::Json => print_json(&flows)?,
                Output::Table => {
                    for f in &flows {
                        say!("{}", dump_line(f));
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn group(c: &Client, cmd: GroupCmd) -> Result<()> {
    match cmd {
        GroupCmd::Add { switch, groups } | GroupCmd::Mod { switch, groups }
            if groups.is_empty() =>
        {
            anyhow::bail!("no group given for switch '{switch}'");
        }
        GroupCmd::Add { switch, groups } => {
            let r: FlowChange = c.call(
                Method::POST,
                &format!("/v1/switches/{}/groups", seg(&switch)),
                Some(&json!({ "groups": groups })),
            )?;
            changed("added", &r);
        }
        GroupCmd::Mod { switch, groups } => {
            let r: FlowChange = c.call(
                Method::POST,
                &format!("/v1/switches/{}/groups", seg(&switch)),
                Some(&json!({ "groups": groups, "modify": true })),
            )?;
            changed("modified", &r);
        }
        GroupCmd::Del { switch, group_id } => {
            let mut path = format!("/v1/switches/{}/groups", seg(&switch));
            if let Some(g) = group_id {
                path.push_str(&format!("?group_id={g}"));
            }
            let r: FlowChange = c.call(Method::DELETE, &path, None::<&()>)?;
            changed("deleted (with the flows using them)", &r);
        }
        GroupCmd::Dump { switch, out } => {
            let groups: Vec<GroupView> = c.get(&format!("/v1/switches/{}/groups", seg(&switch)))?;
            match out.output() {
                Output::Json => print_json(&groups)?,
                Output::Table => {
                    for g in &groups {
                        say!(" {},n_packets={},n_bytes={}", g.group, g.packets, g.bytes);
                    }
                }
            }
        }
    }
    Ok(())
}
