//! `vepa acl` and `vepa conntrack`: access lists on switch ports and
//! routers, and the connection tables of the stateful ones.

use super::http::Client;
use super::show::table;
use super::{print_json, print_result, put, seg, Output, OutputArg};
use anyhow::{bail, Result};
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Map, Value};
use vepa_api::wire::{AclView, Flushed, ZoneView};

const RULE_SYNTAX: &str = "RULE is ACTION [PROTOCOL] [src PREFIX] [dst PREFIX] [sport P[-Q]] [dport P[-Q]]\n  \
[type N] [code N] [state S,...]\n\
ACTION allow | drop | reject (TCP reset, else ICMP port unreachable)\n\
PROTOCOL tcp | udp | icmp | icmp6 | proto N, or ip / ip6 for a family\n\
S new | established | related | invalid (a rule with a state makes the list track connections)\n\
Examples:\n  allow state established,related\n  allow tcp src 10.1.0.0/24 dst 10.2.0.0/24 dport 80\n  \
allow icmp type 8\n  reject tcp dport 22\n\
Rules are tried in order; the first that matches decides, --default takes the rest.\n\
IPv6 neighbor discovery and non-IP frames (ARP) always pass a port's lists.";

#[derive(Subcommand, Debug)]
#[command(after_help = RULE_SYNTAX)]
pub enum AclCmd {
    /// Make an ACL on a switch port or a router, or add rules to one
    ///
    /// Examples:
    ///   vepa acl add fw --router r1 --default drop 'allow state established,related' 'allow icmp'
    ///   vepa acl add web-in --port net-b/vm2 --direction out --default drop 'allow tcp dport 80'
    ///   vepa acl add fw 'allow udp dport 53'          (appends to fw)
    ///   vepa acl add fw --at 1 'drop src 10.1.0.66'   (inserts before rule 1)
    #[command(verbatim_doc_comment, after_help = RULE_SYNTAX)]
    Add {
        /// The ACL's name.
        name: String,
        /// Rules, in order.
        rules: Vec<String>,
        /// A new ACL: the switch port it filters, as SWITCH/PORT.
        #[arg(long, value_name = "SWITCH/PORT")]
        port: Option<String>,
        /// A new ACL on a port: in (from the VM, default) or out (to the VM).
        #[arg(long, value_parser = ["in", "out"])]
        direction: Option<String>,
        /// A new ACL: the router whose forwarded packets it filters.
        #[arg(long)]
        router: Option<String>,
        /// A new ACL: what packets no rule matches get (allow, drop, reject; default allow).
        #[arg(long, value_parser = ["allow", "drop", "reject"])]
        default: Option<String>,
        /// A new ACL: most connections tracked at its place (default 65536).
        #[arg(long, value_name = "N")]
        conntrack_limit: Option<u32>,
        /// Add the rules before rule N (1 is the first) instead of at the end.
        #[arg(long, value_name = "N")]
        at: Option<usize>,
    },
    /// Remove an ACL, or one of its rules
    Del {
        /// The ACL's name.
        name: String,
        /// Only rule N (as `vepa acl show` numbers them).
        #[arg(long, value_name = "N")]
        rule: Option<usize>,
    },
    /// ACLs with their rules and what each matched
    Show {
        /// The ACL's name.
        name: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConntrackCmd {
    /// Tracked connections, per table (a port's or a router's)
    Show {
        #[command(flatten)]
        zone: ZoneArgs,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Forget tracked connections (of one table, or all)
    Flush {
        #[command(flatten)]
        zone: ZoneArgs,
        #[command(flatten)]
        out: OutputArg,
    },
}

/// One connection table: a port's (`--port SWITCH/PORT`) or a router's
/// (`--router NAME`); the older positional 'port S/P' / 'router R' still works.
#[derive(clap::Args, Debug)]
pub struct ZoneArgs {
    /// The table of a port's stateful ACL.
    #[arg(long, value_name = "SWITCH/PORT", conflicts_with_all = ["router", "zone"])]
    port: Option<String>,
    /// The table of a router's stateful ACL.
    #[arg(long, value_name = "NAME", conflicts_with = "zone")]
    router: Option<String>,
    #[arg(hide = true)]
    zone: Option<String>,
}

impl ZoneArgs {
    fn zone(self, c: &Client) -> Result<Option<String>> {
        if let Some(p) = self.port {
            let (s, p) = super::resolve_port(c, &p, "conntrack")?;
            return Ok(Some(format!("port {s}/{p}")));
        }
        Ok(self.router.map(|r| format!("router {r}")).or(self.zone))
    }
}

pub fn acl(c: &Client, cmd: AclCmd) -> Result<()> {
    match cmd {
        AclCmd::Add {
            name,
            rules,
            port,
            direction,
            router,
            default,
            conntrack_limit,
            at,
        } => {
            let creating = port.is_some() || router.is_some();
            if !creating {
                if direction.is_some() || default.is_some() || conntrack_limit.is_some() {
                    bail!("--direction, --default and --conntrack-limit make a new ACL: give --port or --router too");
                }
                if rules.is_empty() {
                    bail!("no rules to add to ACL '{name}' (a new ACL needs --port or --router)");
                }
                let mut m = Map::new();
                m.insert("rules".into(), json!(rules));
                put(&mut m, "at", at.map(Value::from));
                print_result(&c.call(
                    Method::POST,
                    &format!("/v1/acls/{}/rules", seg(&name)),
                    Some(&m),
                )?);
                return Ok(());
            }
            if at.is_some() {
                bail!(
                    "--at places rules in an ACL that exists; a new ACL takes its rules in order"
                );
            }
            let mut m = Map::new();
            m.insert("name".into(), Value::from(name));
            put(&mut m, "port", port.map(Value::from));
            put(&mut m, "direction", direction.map(Value::from));
            put(&mut m, "router", router.map(Value::from));
            put(&mut m, "default", default.map(Value::from));
            put(&mut m, "conntrack_limit", conntrack_limit.map(Value::from));
            m.insert("rules".into(), json!(rules));
            print_result(&c.call(Method::POST, "/v1/acls", Some(&m))?);
        }
        AclCmd::Del { name, rule } => {
            let path = match rule {
                Some(n) => format!("/v1/acls/{}/rules/{n}", seg(&name)),
                None => format!("/v1/acls/{}", seg(&name)),
            };
            print_result(&c.call(Method::DELETE, &path, None::<&()>)?);
        }
        AclCmd::Show { name, out } => {
            let acls: Vec<AclView> = match &name {
                Some(n) => vec![c.get(&format!("/v1/acls/{}", seg(n)))?],
                None => c.get("/v1/acls")?,
            };
            match out.output() {
                Output::Json if name.is_some() => print_json(&acls[0])?,
                Output::Json => print_json(&acls)?,
                Output::Table if acls.is_empty() => say!("no ACLs"),
                Output::Table => {
                    let text: Vec<String> = acls.iter().map(show_acl).collect();
                    say_raw!("{}", text.join("\n"));
                }
            }
        }
    }
    Ok(())
}

fn show_acl(a: &AclView) -> String {
    let mut rows: Vec<Vec<String>> = a
        .rules
        .iter()
        .map(|r| {
            vec![
                r.number.to_string(),
                r.rule.clone(),
                r.packets.to_string(),
                r.bytes.to_string(),
            ]
        })
        .collect();
    rows.push(vec![
        "-".into(),
        format!("default {}", a.default),
        a.default_packets.to_string(),
        a.default_bytes.to_string(),
    ]);
    format!(
        "acl {} on {}{}\n{}",
        a.name,
        a.place,
        if a.stateful { " (stateful)" } else { "" },
        table(&["#", "RULE", "PACKETS", "BYTES"], rows)
    )
}

fn zone_query(zone: &Option<String>) -> String {
    zone.as_ref()
        .map(|z| format!("?zone={}", seg(z)))
        .unwrap_or_default()
}

pub fn conntrack(c: &Client, cmd: ConntrackCmd) -> Result<()> {
    match cmd {
        ConntrackCmd::Show { zone, out } => {
            let zone = zone.zone(c)?;
            let zones: Vec<ZoneView> = c.get(&format!("/v1/conntrack{}", zone_query(&zone)))?;
            match out.output() {
                Output::Json => print_json(&zones)?,
                Output::Table if zones.is_empty() => say!("no connection tables (no stateful ACL)"),
                Output::Table => {
                    for z in &zones {
                        say!(
                            "{}: {} of {} connections, {} refused (table full)",
                            z.zone,
                            z.connections.len(),
                            z.limit,
                            z.full_drops
                        );
                        let rows = z
                            .connections
                            .iter()
                            .map(|c| {
                                vec![
                                    c.proto.clone(),
                                    format!("{}:{}", c.src, c.sport),
                                    format!("{}:{}", c.dst, c.dport),
                                    c.state.clone(),
                                    format!("{}/{}", c.packets[0], c.packets[1]),
                                    format!("{}s", c.idle_secs),
                                ]
                            })
                            .collect();
                        say_raw!(
                            "{}",
                            table(&["PROTO", "FROM", "TO", "STATE", "PACKETS", "IDLE"], rows)
                        );
                    }
                }
            }
        }
        ConntrackCmd::Flush { zone, out } => {
            let zone = zone.zone(c)?;
            let f: Flushed = c.call(
                Method::POST,
                &format!("/v1/conntrack/flush{}", zone_query(&zone)),
                None::<&()>,
            )?;
            match out.output() {
                Output::Json => print_json(&f)?,
                Output::Table => say!("flushed {} connection(s)", f.flushed),
            }
        }
    }
    Ok(())
}
