//! `vepa router` and `vepa route`: routers between the switches' subnets,
//! their ports and static routes.

use super::http::Client;
use super::show::table;
use super::{print_json, print_result, put, seg, Output, OutputArg};
use anyhow::Result;
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Map, Value};
use vepa_api::wire::{HostsView, NeighborsFlushed, RouteView, RouterView, TunnelView};
use vepa_packet::MacAddr;

#[derive(Subcommand, Debug)]
pub enum RouterCmd {
    /// Add a router (no ports yet; give it some with `vepa router port add`)
    ///
    /// Example: vepa router add r1
    Add {
        /// The router's name.
        name: String,
    },
    /// Remove a router, its ports and routes
    Del {
        /// The router's name.
        name: String,
    },
    /// Show routers: ports, routes, neighbors (ARP/ND) and counters
    Show {
        /// The router's name.
        name: Option<String>,
        #[command(flatten)]
        out: OutputArg,
    },
    /// Add or remove router ports (a router port is a port on a switch)
    #[command(subcommand)]
    Port(RouterPortCmd),
    /// Forget every resolved neighbor (ARP and ND entries) of a router
    Flush {
        /// The router's name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RouterPortCmd {
    /// Attach a router to a switch with addresses on that subnet, or give it a TUN device
    ///
    /// The port appears on the switch as ROUTER:PORT; hosts on the switch use
    /// its address as their gateway. With --tun the port is a TUN device
    /// instead (IP packets, no Ethernet): a point-to-point link for a
    /// namespace, or with --persist for a userspace VPN (OpenVPN) to open.
    ///
    /// Example: vepa router port add r1 a --switch net-a --address 10.1.0.1/24 --address fd00:1::1/64
    ///
    /// Example: vepa router port add r1 vpn --tun --netns vpn --address 10.8.0.1/30 --peer-address 10.8.0.2/30
    ///
    /// Example: vepa router port add r1 ovpn --tun --persist --ifname tun-vpn --address 10.8.0.1/24
    Add {
        /// The router.
        router: String,
        /// The router port's name.
        port: String,
        /// The switch the port sits on.
        #[arg(long, required_unless_present = "tun", conflicts_with = "tun")]
        switch: Option<String>,
        /// A TUN device instead of a switch port.
        #[arg(long)]
        tun: bool,
        /// --tun: the device's name (default: the port's).
        #[arg(long, requires = "tun")]
        ifname: Option<String>,
        /// --tun: the namespace the device goes into (made if missing).
        #[arg(long, requires = "tun")]
        netns: Option<String>,
        /// --tun: the far end's address in the namespace, with its length
        /// (repeat); its default routes go through this port.
        #[arg(long = "peer-address", value_name = "ADDR/LEN", requires = "tun")]
        peer_address: Vec<String>,
        /// --tun: a persistent device for a VPN daemon (OpenVPN, or any
        /// program that opens a TUN device) in --netns to open by name; nothing it
        /// receives reaches that namespace's own stack.
        #[arg(long, requires = "tun", conflicts_with = "peer_address")]
        persist: bool,
        /// --persist: the uid that may open the device without CAP_NET_ADMIN.
        #[arg(long, value_name = "UID", requires = "persist")]
        owner: Option<u32>,
        /// The router's address on this subnet, with its length (repeat).
        #[arg(long = "address", value_name = "ADDR/LEN")]
        address: Vec<String>,
        /// Default: derived from the router and port names (02:76:...).
        #[arg(long)]
        mac: Option<MacAddr>,
        /// Largest IP packet sent out of this port (default 1500).
        #[arg(long)]
        mtu: Option<u32>,
        /// Access VLAN on the switch (default 1).
        #[arg(long, value_name = "VID")]
        vlan: Option<u16>,
    },
    /// Detach a router port
    Del {
        /// The router.
        router: String,
        /// The router port's name.
        port: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RouteCmd {
    /// Add a static route: to PREFIX via a gateway on one of the router's subnets, or out of a port
    ///
    /// Examples:
    ///   vepa route add r1 default --via 10.2.0.254
    ///   vepa route add r1 192.0.2.0/24 --via 10.2.0.9
    ///   vepa route add r1 fd00:9::/64 --port b
    #[command(verbatim_doc_comment)]
    Add {
        /// The router.
        router: String,
        /// 10.0.0.0/8, fd00::/16, or default (of the family of --via).
        prefix: String,
        /// The next hop's address (on a connected subnet).
        #[arg(long)]
        via: Option<String>,
        /// The router port to send out of (required without --via).
        #[arg(long)]
        port: Option<String>,
    },
    /// Remove a static route
    Del {
        /// The router.
        router: String,
        /// The destination prefix (ADDR/LEN, or default).
        prefix: String,
    },
    /// A router's routing table: connected subnets and static routes
    Show {
        /// The router.
        router: String,
        #[command(flatten)]
        out: OutputArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum TunnelCmd {
    /// VXLAN ports: VNI, local and remote VTEPs, the inner MTU, remote MACs learned (and behind
    /// which VTEP), drops
    Show {
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn tunnel(c: &Client, cmd: TunnelCmd) -> Result<()> {
    let TunnelCmd::Show { out } = cmd;
    let tunnels: Vec<TunnelView> = c.get("/v1/tunnels")?;
    match out.output() {
        Output::Json => print_json(&tunnels)?,
        Output::Table if tunnels.is_empty() => say!("no tunnels"),
        Output::Table => {
            for t in &tunnels {
                let counts: Vec<String> =
                    t.counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
                say!(
                    "{}/{}: vni {}, {}:{} -> [{}], inner frames up to {} bytes; {}",
                    t.switch,
                    t.port,
                    t.vni,
                    t.local,
                    t.dstport,
                    t.remotes.join(", "),
                    t.max_inner_frame,
                    if counts.is_empty() {
                        "no drops".into()
                    } else {
                        counts.join(" ")
                    }
                );
                if !t.members.is_empty() || t.reflect || t.isolate {
                    say!(
                        "  fabric members [{}]{}{}",
                        t.members.join(", "),
                        if t.reflect {
                            ", reflects to this host"
                        } else {
                            ""
                        },
                        if t.isolate {
                            ", isolated (private)"
                        } else {
                            ""
                        }
                    );
                }
                let rows = t
                    .published
                    .iter()
                    .map(|l| vec![l.mac.to_string(), l.vtep.clone(), "published".into()])
                    .chain(
                        t.learned
                            .iter()
                            .map(|l| vec![l.mac.to_string(), l.vtep.clone(), "learned".into()]),
                    )
                    .collect();
                say_raw!("{}", table(&["MAC", "VTEP", "FROM"], rows));
            }
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum HostsCmd {
    /// The hosts the etcd control plane lists (the last known list while etcd is away): their
    /// underlay address, and each spanning switch's VNI, VTEP and VM MACs
    Show {
        #[command(flatten)]
        out: OutputArg,
    },
}

pub fn hosts(c: &Client, cmd: HostsCmd) -> Result<()> {
    let HostsCmd::Show { out } = cmd;
    let v: HostsView = c.get("/v1/hosts")?;
    match out.output() {
        Output::Json => print_json(&v)?,
        Output::Table => {
            say!(
                "etcd {} ({}): {}{}{}; this host {} at {}",
                v.endpoints.join(","),
                v.prefix,
                v.state,
                v.retry_in_secs
                    .map(|s| format!(", next try in {s} s"))
                    .unwrap_or_default(),
                v.last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default(),
                v.host_id,
                v.underlay
            );
            let rows = v
                .hosts
                .iter()
                .flat_map(|h| {
                    let me = h.host == v.host_id;
                    let head = vec![
                        format!("{}{}", h.host, if me { " (this host)" } else { "" }),
                        h.underlay.to_string(),
                    ];
                    if h.networks.is_empty() {
                        return vec![[head, vec![String::new(); 4]].concat()];
                    }
                    h.networks
                        .iter()
                        .map(|n| {
                            [
                                head.clone(),
                                vec![
                                    n.vni.to_string(),
                                    format!("{} ({})", n.switch, n.mode),
                                    format!("{}:{}", n.vtep, n.dstport),
                                    n.macs.len().to_string(),
                                ],
                            ]
                            .concat()
                        })
                        .collect()
                })
                .collect();
            say_raw!(
                "{}",
                table(&["HOST", "UNDERLAY", "VNI", "SWITCH", "VTEP", "MACS"], rows)
            );
            for r in &v.refused {
                say!("refused: host '{}': {}", r.host, r.why);
            }
            if v.refused_total > 0 || v.claims_refused > 0 {
                say!(
                    "{} record(s) refused since start; {} claim(s) of this host's VMs' MACs by others not used",
                    v.refused_total,
                    v.claims_refused
                );
            }
        }
    }
    Ok(())
}

pub fn router(c: &Client, cmd: RouterCmd) -> Result<()> {
    match cmd {
        RouterCmd::Add { name } => {
            print_result(&c.call(Method::POST, "/v1/routers", Some(&json!({ "name": name })))?)
        }
        RouterCmd::Del { name } => print_result(&c.call(
            Method::DELETE,
            &format!("/v1/routers/{}", seg(&name)),
            None::<&()>,
        )?),
        RouterCmd::Show { name, out } => {
            let routers: Vec<RouterView> = match &name {
                Some(n) => vec![c.get(&format!("/v1/routers/{}", seg(n)))?],
                None => c.get("/v1/routers")?,
            };
            match out.output() {
                Output::Json if name.is_some() => print_json(&routers[0])?,
                Output::Json => print_json(&routers)?,
                Output::Table if routers.is_empty() => say!("no routers"),
                Output::Table => {
                    let text: Vec<String> = routers.iter().map(show).collect();
                    say_raw!("{}", text.join("\n"));
                }
            }
        }
        RouterCmd::Port(RouterPortCmd::Add {
            router,
            port,
            switch,
            tun,
            ifname,
            netns,
            peer_address,
            persist,
            owner,
            address,
            mac,
            mtu,
            vlan,
        }) => {
            let mut m = Map::new();
            m.insert("name".into(), Value::from(port));
            put(&mut m, "switch", switch.map(Value::from));
            if tun {
                m.insert("type".into(), Value::from("tun"));
            }
            put(&mut m, "ifname", ifname.map(Value::from));
            put(&mut m, "netns", netns.map(Value::from));
            if !peer_address.is_empty() {
                m.insert("peer_address".into(), json!(peer_address));
            }
            if persist {
                m.insert("persist".into(), Value::from(true));
            }
            put(&mut m, "owner", owner.map(Value::from));
            if !address.is_empty() {
                m.insert("address".into(), json!(address));
            }
            put(&mut m, "mac", mac.map(|v| Value::from(v.to_string())));
            put(&mut m, "mtu", mtu.map(Value::from));
            put(&mut m, "vlan", vlan.map(Value::from));
            print_result(&c.call(
                Method::POST,
                &format!("/v1/routers/{}/ports", seg(&router)),
                Some(&m),
            )?);
        }
        RouterCmd::Port(RouterPortCmd::Del { router, port }) => print_result(&c.call(
            Method::DELETE,
            &format!("/v1/routers/{}/ports/{}", seg(&router), seg(&port)),
            None::<&()>,
        )?),
        RouterCmd::Flush { name } => {
            let r: NeighborsFlushed = c.call(
                Method::POST,
                &format!("/v1/routers/{}/neighbors/flush", seg(&name)),
                None::<&()>,
            )?;
            if super::json() {
                return super::print_json(&r);
            }
            say!("flushed {} neighbor(s)", r.flushed);
        }
    }
    Ok(())
}

pub fn route(c: &Client, cmd: RouteCmd) -> Result<()> {
    match cmd {
        RouteCmd::Add {
            router,
            prefix,
            via,
            port,
        } => {
            let mut m = Map::new();
            m.insert("prefix".into(), Value::from(prefix));
            put(&mut m, "via", via.map(Value::from));
            put(&mut m, "port", port.map(Value::from));
            print_result(&c.call(
                Method::POST,
                &format!("/v1/routers/{}/routes", seg(&router)),
                Some(&m),
            )?);
        }
        RouteCmd::Del { router, prefix } => print_result(&c.call(
            Method::DELETE,
            &format!(
                "/v1/routers/{}/routes?prefix={}",
                seg(&router),
                seg(&prefix)
            ),
            None::<&()>,
        )?),
        RouteCmd::Show { router, out } => {
            let routes: Vec<RouteView> = c.get(&format!("/v1/routers/{}/routes", seg(&router)))?;
            match out.output() {
                Output::Json => print_json(&routes)?,
                Output::Table => say_raw!("{}", route_table(&routes)),
            }
        }
    }
    Ok(())
}

fn route_table(routes: &[RouteView]) -> String {
    table(
        &["PREFIX", "VIA", "PORT", "KIND"],
        routes
            .iter()
            .map(|r| {
                vec![
                    r.prefix.clone(),
                    r.via.clone().unwrap_or_else(|| "-".into()),
                    r.port.clone(),
                    r.kind.clone(),
                ]
            })
            .collect(),
    )
}

fn show(r: &RouterView) -> String {
    let mut out = format!("router {}\n", r.name);
    out.push_str(&table(
        &["PORT", "SWITCH", "MAC", "MTU", "VLAN", "ADDRESSES"],
        r.ports
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    match &p.tun {
                        Some(t) if p.persist => format!("tun {t}, persistent"),
                        Some(t) => format!("tun {t}"),
                        None => p.switch.clone(),
                    },
                    p.mac.to_string(),
                    p.mtu.to_string(),
                    p.vlan.to_string(),
                    p.addresses.join(", "),
                ]
            })
            .collect(),
    ));
    out.push('\n');
    out.push_str(&route_table(&r.routes));
    out.push('\n');
    if r.neighbors.is_empty() {
        out.push_str("no neighbors\n");
    } else {
        out.push_str(&table(
            &["NEIGHBOR", "PORT", "MAC", "STATE", "AGE"],
            r.neighbors
                .iter()
                .map(|n| {
                    vec![
                        n.ip.clone(),
                        n.port.clone(),
                        n.mac.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                        n.state.clone(),
                        format!("{}s", n.age_secs),
                    ]
                })
                .collect(),
        ));
    }
    let c = &r.counters;
    let drops: Vec<String> = c.drops.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&format!(
        "\nforwarded {}  addressed to the router {}  ICMP errors sent {} ({} rate-limited)  dropped: {}\n",
        c.forwarded,
        c.delivered,
        c.icmp_errors,
        c.icmp_rate_limited,
        if drops.is_empty() {
            "none".into()
        } else {
            drops.join(" ")
        }
    ));
    out
}
