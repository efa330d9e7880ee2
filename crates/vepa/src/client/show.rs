//! Tables for people (the `-o json` forms print the API's answers as they are).

use std::fmt::Write as _;
use vepa_api::topology::{PortKind, SwitchSpec};
use vepa_api::wire::{FdbRow, MdbRow, PortView, Stats};

/// Left-aligned columns, two spaces apart.
pub(super) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, header.to_vec());
    for r in &rows {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

fn kind(k: PortKind) -> &'static str {
    match k {
        PortKind::Veth => "veth",
        PortKind::Tap => "tap",
        PortKind::Netdev => "netdev",
        PortKind::Patch => "patch",
        PortKind::Vxlan => "vxlan",
        PortKind::VhostUser => "vhost-user",
        PortKind::Bond => "bond",
        PortKind::Tun => "tun",
    }
}

fn mode_name(m: vepa_api::topology::ModeName) -> String {
    vepa_api::topology::spelled(m)
}

pub fn switches(list: &[SwitchSpec], stats: &Stats) -> String {
    if list.is_empty() {
        return "no switches\n".into();
    }
    let mut out = switch_table(list, stats);
    for s in list {
        let Some(st) = stats.switches.iter().find(|x| x.switch == s.name) else {
            continue;
        };
        if let Some(r) = &st.reflective_relay {
            let _ = writeln!(out, "{} relay:    {r} (on the uplink)", s.name);
        }
        if let Some(i) = &st.ipvlan {
            let owners: Vec<String> = i
                .addresses
                .iter()
                .map(|a| format!("{} {}", a.address, a.port))
                .chain(
                    i.learned
                        .iter()
                        .map(|a| format!("{} {} (learned)", a.address, a.port)),
                )
                .collect();
            let _ = writeln!(
                out,
                "{} ipvlan:   {} {}, every port as {} on the wire; owners: {}",
                s.name,
                i.mode,
                i.flag,
                i.mac,
                if owners.is_empty() {
                    "none".to_string()
                } else {
                    owners.join(", ")
                }
            );
        }
        if st.relay_fallback {
            let _ = writeln!(
                out,
                "{} fallback: frames between vepa ports are switched locally until the bridge reflects (relay_required = \"fallback-veb\")",
                s.name
            );
        }
        for (i, ch) in st.openflow.iter().enumerate() {
            let head = if i == 0 { "OpenFlow:" } else { "" };
            let _ = writeln!(
                out,
                "{:<width$} {head:<9} {ch}",
                if i == 0 { s.name.as_str() } else { "" },
                width = s.name.len()
            );
        }
    }
    out
}

fn switch_table(list: &[SwitchSpec], stats: &Stats) -> String {
    table(
        &[
            "SWITCH",
            "MODE",
            "UPLINK",
            "PORTS",
            "STATIC FDB",
            "AGEING",
            "BACKEND",
        ],
        list.iter()
            .map(|s| {
                let backend = stats
                    .switches
                    .iter()
                    .find(|x| x.switch == s.name)
                    .map(|x| format!("{} ({})", x.backend, x.why))
                    .unwrap_or_default();
                vec![
                    s.name.clone(),
                    mode_name(s.mode),
                    s.uplink
                        .as_ref()
                        .map(|u| u.name.clone())
                        .unwrap_or_else(|| "-".into()),
                    s.ports.len().to_string(),
                    s.static_fdb.len().to_string(),
                    format!("{}s", s.ageing_secs.unwrap_or(300)),
                    backend,
                ]
            })
            .collect(),
    )
}

/// A port's MTU; for a tunnel, the underlay's and the inner IP MTU it
/// leaves (50 bytes of IPv4, UDP, VXLAN and inner Ethernet headers; 70 over IPv6).
fn mtu(p: &vepa_api::topology::PortSpec) -> String {
    if p.kind == PortKind::Vxlan {
        let under = p.mtu.unwrap_or(1500);
        let v6 = p
            .local
            .as_deref()
            .and_then(|l| l.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_ipv6());
        let inner = under.saturating_sub(if v6 { 70 } else { 50 });
        return format!("{under} (inner {inner})");
    }
    p.mtu.map_or_else(|| "-".into(), |m| m.to_string())
}

/// The members of each bonded uplink in `stats` of switches `names`.
pub fn bonds(names: &[&str], stats: &Stats) -> String {
    let mut rows = Vec::new();
    for p in stats
        .ports
        .iter()
        .filter(|p| names.contains(&p.switch.as_str()))
    {
        let Some(b) = &p.bond else { continue };
        for m in &b.members {
            let (lacp, partner) = match &m.lacp {
                None => ("-".to_string(), "-".to_string()),
                Some(l) => (
                    format!("{} {}", l.receive, l.mux),
                    match (&l.partner_system, l.partner_key, l.partner_port) {
                        (Some(s), Some(k), Some(n)) => format!("{s} key {k} port {n}"),
                        _ => "-".into(),
                    },
                ),
            };
            rows.push(vec![
                p.switch.clone(),
                format!("{} ({}, lacp {})", p.port, b.mode, b.lacp),
                m.member.clone(),
                m.ifname.clone(),
                if m.link_up { "up" } else { "down" }.into(),
                match (m.carrying, m.active) {
                    (true, true) => "yes (active)".into(),
                    (true, false) => "yes".into(),
                    (false, _) => "no".into(),
                },
                lacp,
                partner,
                m.failures.to_string(),
            ]);
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    table(
        &[
            "SWITCH", "BOND", "MEMBER", "IFNAME", "LINK", "CARRYING", "LACP", "PARTNER", "FAILURES",
        ],
        rows,
    )
}

pub fn ports(views: &[PortView], stats: &Stats) -> String {
    if views.is_empty() {
        return "no ports\n".into();
    }
    table(
        &[
            "SWITCH", "PORT", "ROLE", "TYPE", "MODE", "RELAY", "VLAN", "MTU", "NETNS", "STATE",
        ],
        views
            .iter()
            .map(|v| {
                let p = &v.spec;
                let vlan = p.vlan_text();
                let state = stats
                    .ports
                    .iter()
                    .find(|s| s.switch == v.switch && s.port == p.name)
                    .map(|s| s.state.clone())
                    .unwrap_or_default();
                vec![
                    v.switch.clone(),
                    p.name.clone(),
                    v.role.clone(),
                    kind(p.kind).into(),
                    match (v.role.as_str(), p.mode) {
                        ("uplink", _) => "-".into(),
                        (_, Some(m)) => mode_name(m),
                        (_, None) => "(switch)".into(),
                    },
                    p.relay.as_str().into(),
                    vlan,
                    mtu(p),
                    p.netns.clone().unwrap_or_else(|| "-".into()),
                    state,
                ]
            })
            .collect(),
    )
}

pub fn fdb(rows: &[FdbRow]) -> String {
    if rows.is_empty() {
        return "no entries\n".into();
    }
    table(
        &["MAC", "VLAN", "PORT", "TYPE", "AGE"],
        rows.iter()
            .map(|r| {
                vec![
                    r.mac.to_string(),
                    r.vlan.to_string(),
                    r.port.clone(),
                    if r.is_static { "static" } else { "learned" }.into(),
                    r.age_secs
                        .map(|a| format!("{a}s"))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    )
}

pub fn mdb(rows: &[MdbRow]) -> String {
    if rows.is_empty() {
        return "no groups (is [switch.multicast] set?)\n".into();
    }
    table(
        &["VLAN", "GROUP", "PORT", "KIND", "EXPIRES"],
        rows.iter()
            .map(|r| {
                vec![
                    if r.vlan == 0 {
                        "*".into()
                    } else {
                        r.vlan.to_string()
                    },
                    r.group.clone(),
                    r.port.clone(),
                    r.kind.clone(),
                    r.expires_secs
                        .map(|a| format!("{a}s"))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    )
}

pub fn stats(s: &Stats) -> String {
    let mut out = table(
        &[
            "SWITCH", "PORT", "RX PKTS", "RX BYTES", "TX PKTS", "TX BYTES", "TX ERR", "DROPS",
        ],
        s.ports
            .iter()
            .map(|p| {
                let mut notes: Vec<String> =
                    p.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
                if p.mac_limit_unlearned > 0 {
                    // Not a drop: forwarded, its source not learned.
                    notes.push(format!("(forwarded unlearned={})", p.mac_limit_unlearned));
                }
                let drops = if notes.is_empty() {
                    "-".to_string()
                } else {
                    notes.join(" ")
                };
                vec![
                    p.switch.clone(),
                    p.port.clone(),
                    p.rx_frames.to_string(),
                    p.rx_bytes.to_string(),
                    p.tx_frames.to_string(),
                    p.tx_bytes.to_string(),
                    p.tx_errors.to_string(),
                    drops,
                ]
            })
            .collect(),
    );
    for sw in &s.switches {
        let _ = write!(
            out,
            "switch {}: {} FDB entries, {} learning events",
            sw.switch, sw.fdb_entries, sw.learning_events
        );
        if sw.flows > 0 {
            let _ = write!(out, ", {} flows", sw.flows);
        }
        if sw.packet_in_dropped > 0 {
            let _ = write!(out, ", {} packet-ins dropped", sw.packet_in_dropped);
        }
        match sw.controller_connected {
            Some(true) => out.push_str(", controller connected"),
            Some(false) => out.push_str(", controller not connected (fail mode applies)"),
            None => {}
        }
        out.push('\n');
    }
    for w in &s.workers {
        let all = w.cache_hits + w.cache_misses;
        let _ = writeln!(
            out,
            "worker {}: busy {:.1}% of {:.0} s, decision cache {} hits of {all} frames{}",
            w.worker,
            if w.seconds > 0.0 {
                100.0 * w.busy_seconds / w.seconds
            } else {
                0.0
            },
            w.seconds,
            w.cache_hits,
            if all > 0 {
                format!(" ({:.1}%)", 100.0 * w.cache_hits as f64 / all as f64)
            } else {
                String::new()
            }
        );
    }
    out
}
