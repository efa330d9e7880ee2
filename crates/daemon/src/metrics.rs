//! Prometheus text exposition of the daemon's counters.
//!
//! Written by hand: the counters live in the dataplane and are read per
//! scrape, and the text format is a few lines per family, which a
//! registry crate would only copy into its own types first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use vepa_api::wire::{HostsView, RouterView, Stats, TunnelView};

/// API requests by method, route and status.
#[derive(Default)]
pub struct Requests(Mutex<BTreeMap<(String, String, u16), u64>>);

impl Requests {
    pub fn count(&self, method: &str, route: &str, status: u16) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }
}

/// A label value as the text format wants it.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub fn render(stats: &Stats, routers: &[RouterView], requests: &Requests) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "vepa_build_info",
        "gauge",
        "Always 1; the running vepa's version as a label.",
    );
    let _ = writeln!(
        out,
        "vepa_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    render_workers(&mut out, &stats.workers);
    render_bonds(&mut out, &stats.ports);
    type Get = fn(&vepa_api::wire::PortStats) -> u64;
    let port_families: [(&str, &str, Get); 6] = [
        (
            "vepa_port_rx_packets_total",
            "Frames received on the port.",
            |p| p.rx_frames,
        ),
        (
            "vepa_port_rx_bytes_total",
            "Bytes received on the port.",
            |p| p.rx_bytes,
        ),
        (
            "vepa_port_tx_packets_total",
            "Frames sent on the port.",
            |p| p.tx_frames,
        ),
        ("vepa_port_tx_bytes_total", "Bytes sent on the port.", |p| {
            p.tx_bytes
        }),
        (
            "vepa_port_tx_errors_total",
            "Frames the port's device refused.",
            |p| p.tx_errors,
        ),
        (
            "vepa_port_mac_limit_unlearned_total",
            "Frames forwarded whose source MAC was not learned: the port or the switch's table was at its limit.",
            |p| p.mac_limit_unlearned,
        ),
    ];
    for (name, help, get) in port_families {
        family(&mut out, name, "counter", help);
        for p in &stats.ports {
            let _ = writeln!(
                out,
                "{name}{{switch=\"{}\",port=\"{}\"}} {}",
                esc(&p.switch),
                esc(&p.port),
                get(p)
            );
        }
    }
    family(
        &mut out,
        "vepa_port_drops_total",
        "counter",
        "Frames dropped, by ingress port and reason.",
    );
    for p in &stats.ports {
        for reason in vepa_dataplane::DropReason::ALL {
            let n = p.drops.get(reason.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "vepa_port_drops_total{{switch=\"{}\",port=\"{}\",reason=\"{}\"}} {n}",
                esc(&p.switch),
                esc(&p.port),
                reason.as_str()
            );
        }
    }
    family(
        &mut out,
        "vepa_port_kernel_drops_total",
        "counter",
        "Frames the kernel dropped on the port's AF_PACKET socket before vepa read them (its receive queue was full).",
    );
    for p in &stats.ports {
        if let Some(n) = p.kernel_drops {
            let _ = writeln!(
                out,
                "vepa_port_kernel_drops_total{{switch=\"{}\",port=\"{}\"}} {n}",
                esc(&p.switch),
                esc(&p.port)
            );
        }
    }
    family(
        &mut out,
        "vepa_port_up",
        "gauge",
        "1 when the port has its device.",
    );
    for p in &stats.ports {
        let _ = writeln!(
            out,
            "vepa_port_up{{switch=\"{}\",port=\"{}\"}} {}",
            esc(&p.switch),
            esc(&p.port),
            u8::from(p.state.starts_with("up"))
        );
    }
    type PerSwitch = fn(&vepa_api::wire::SwitchStats) -> u64;
    let switch_families: [(&str, &str, &str, PerSwitch); 6] = [
        (
            "vepa_fdb_entries",
            "gauge",
            "Entries in the switch's FDB, static ones included.",
            |s| s.fdb_entries as u64,
        ),
        (
            "vepa_fdb_learning_events_total",
            "counter",
            "Addresses learned or moved since the switch started.",
            |s| s.learning_events,
        ),
        (
            "vepa_mdb_memberships",
            "gauge",
            "IGMP/MLD snooping: group memberships the switch holds.",
            |s| s.mdb_memberships as u64,
        ),
        (
            "vepa_mdb_over_limit_total",
            "counter",
            "IGMP/MLD snooping: joins not learned, a port's or the switch's bound reached.",
            |s| s.mdb_over_limit,
        ),
        (
            "vepa_flows",
            "gauge",
            "Flows in the switch's flow tables.",
            |s| s.flows as u64,
        ),
        (
            "vepa_packet_in_dropped_total",
            "counter",
            "Packet-ins dropped: over the switch's rate, or its queue full.",
            |s| s.packet_in_dropped,
        ),
    ];
    for (name, kind, help, get) in switch_families {
        family(&mut out, name, kind, help);
        for s in &stats.switches {
            let _ = writeln!(out, "{name}{{switch=\"{}\"}} {}", esc(&s.switch), get(s));
        }
    }
    family(
        &mut out,
        "vepa_openflow_controller_connected",
        "gauge",
        "1 while the switch's OpenFlow controller is connected (switches with one).",
    );
    for s in &stats.switches {
        if let Some(up) = s.controller_connected {
            let _ = writeln!(
                out,
                "vepa_openflow_controller_connected{{switch=\"{}\"}} {}",
                esc(&s.switch),
                u8::from(up)
            );
        }
    }
    type RouterGet = fn(&RouterView) -> u64;
    let router_families: [(&str, &str, &str, RouterGet); 5] = [
        (
            "vepa_router_forwarded_total",
            "counter",
            "Packets the router forwarded.",
            |r| r.counters.forwarded,
        ),
        (
            "vepa_router_delivered_total",
            "counter",
            "Packets addressed to the router itself.",
            |r| r.counters.delivered,
        ),
        (
            "vepa_router_icmp_errors_total",
            "counter",
            "ICMP errors the router sent.",
            |r| r.counters.icmp_errors,
        ),
        (
            "vepa_router_icmp_rate_limited_total",
            "counter",
            "ICMP errors the rate limit held back.",
            |r| r.counters.icmp_rate_limited,
        ),
        (
            "vepa_router_neighbors",
            "gauge",
            "Entries in the router's ARP/ND neighbor table.",
            |r| r.neighbors.len() as u64,
        ),
    ];
    for (name, kind, help, get) in router_families {
        family(&mut out, name, kind, help);
        for r in routers {
            let _ = writeln!(out, "{name}{{router=\"{}\"}} {}", esc(&r.name), get(r));
        }
    }
    family(
        &mut out,
        "vepa_router_drops_total",
        "counter",
        "Packets the router did not forward, by reason.",
    );
    for r in routers {
        for (reason, n) in &r.counters.drops {
            let _ = writeln!(
                out,
                "vepa_router_drops_total{{router=\"{}\",reason=\"{}\"}} {n}",
                esc(&r.name),
                esc(reason)
            );
        }
    }
    family(
        &mut out,
        "vepa_api_requests_total",
        "counter",
        "API requests, by method, route and status.",
    );
    let reqs = requests.0.lock().unwrap_or_else(|e| e.into_inner());
    for ((method, route, status), n) in reqs.iter() {
        let _ = writeln!(
            out,
            "vepa_api_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            esc(method),
            esc(route)
        );
    }
    out
}

/// The link agent's ports: reflective relay as the adjacent bridge's EVB
/// TLV says (one series per state, 1 for the current one, as a state set),
/// neighbours, and LLDP counters.
/// Bonded uplinks: each member's link and whether it carries traffic (and
/// is in sync with its LACP partner), failovers, the bond's own drops.
fn render_bonds(out: &mut String, ports: &[vepa_api::wire::PortStats]) {
    let bonds: Vec<(&vepa_api::wire::PortStats, &vepa_api::wire::BondStats)> = ports
        .iter()
        .filter_map(|p| Some((p, p.bond.as_ref()?)))
        .collect();
    if bonds.is_empty() {
        return;
    }
    type Get = fn(&vepa_api::wire::BondMemberStats) -> bool;
    let members: [(&str, &str, Get); 3] = [
        (
            "vepa_bond_member_link_up",
            "1 while the member's carrier is up.",
            |m| m.link_up,
        ),
        (
            "vepa_bond_member_carrying",
            "1 while the member carries traffic (the active one of an active-backup bond; with LACP, collecting and distributing).",
            |m| m.carrying,
        ),
        (
            "vepa_bond_member_lacp_current",
            "1 while the member's LACP partner answers (receive machine CURRENT).",
            |m| m.lacp.as_ref().is_some_and(|l| l.receive == "current"),
        ),
    ];
    for (name, help, get) in members {
        family(out, name, "gauge", help);
        for (p, b) in &bonds {
            for m in &b.members {
                let _ = writeln!(
                    out,
                    "{name}{{switch=\"{}\",port=\"{}\",member=\"{}\"}} {}",
                    esc(&p.switch),
                    esc(&p.port),
                    esc(&m.member),
                    u8::from(get(m))
                );
            }
        }
    }
    family(
        out,
        "vepa_bond_member_failures_total",
        "counter",
        "Times the member stopped carrying traffic.",
    );
    for (p, b) in &bonds {
        for m in &b.members {
            let _ = writeln!(
                out,
                "vepa_bond_member_failures_total{{switch=\"{}\",port=\"{}\",member=\"{}\"}} {}",
                esc(&p.switch),
                esc(&p.port),
                esc(&m.member),
                m.failures
            );
        }
    }
    family(
        out,
        "vepa_bond_failovers_total",
        "counter",
        "Times an active-backup bond made another member active.",
    );
    for (p, b) in &bonds {
        let _ = writeln!(
            out,
            "vepa_bond_failovers_total{{switch=\"{}\",port=\"{}\"}} {}",
            esc(&p.switch),
            esc(&p.port),
            b.failovers
        );
    }
    family(
        out,
        "vepa_bond_drops_total",
        "counter",
        "Frames a bond dropped, by reason: from a member carrying no traffic, bad or unexpected LACPDUs, LACPDUs beyond the control queue, with no member to send on.",
    );
    for (p, _) in &bonds {
        for reason in [
            "bond_inactive_member",
            "bad_lacpdu",
            "bond_control_overflow",
            "bond_no_member",
        ] {
            let _ = writeln!(
                out,
                "vepa_bond_drops_total{{switch=\"{}\",port=\"{}\",reason=\"{reason}\"}} {}",
                esc(&p.switch),
                esc(&p.port),
                p.drops.get(reason).copied().unwrap_or(0)
            );
        }
    }
}

pub fn render_link(out: &mut String, ports: &[vepa_api::wire::LinkPortView]) {
    family(
        out,
        "vepa_evb_relay_state",
        "gauge",
        "Reflective relay on an uplink, per the adjacent bridge's EVB TLV or, with no EVB peer, the relay probe: 1 for the current state.",
    );
    for p in ports.iter().filter(|p| p.role == "uplink") {
        let Some(now) = &p.reflective_relay else {
            continue;
        };
        for state in [
            "granted",
            "refused",
            "not requested",
            "no EVB peer",
            "reflecting",
            "not reflecting",
        ] {
            let _ = writeln!(
                out,
                "vepa_evb_relay_state{{switch=\"{}\",port=\"{}\",state=\"{state}\"}} {}",
                esc(&p.switch),
                esc(&p.port),
                u8::from(now.starts_with(state))
            );
        }
    }
    type PerPort = fn(&vepa_api::wire::LinkPortView) -> u64;
    let families: [(&str, &str, &str, PerPort); 4] = [
        (
            "vepa_lldp_neighbours",
            "gauge",
            "LLDP neighbours heard on the port.",
            |p| p.neighbours.len() as u64,
        ),
        ("vepa_lldp_tx_total", "counter", "LLDPDUs sent.", |p| {
            p.lldp_tx
        }),
        (
            "vepa_lldp_rx_total",
            "counter",
            "LLDPDUs received and read.",
            |p| p.lldp_rx,
        ),
        (
            "vepa_lldp_rx_errors_total",
            "counter",
            "Link protocol frames that could not be read.",
            |p| p.rx_errors,
        ),
    ];
    per_agent_port(out, ports, |p| (&p.switch, &p.port), &families);
}

/// A metric family: name, type, help, and how to read one item's number.
type Family<T> = (&'static str, &'static str, &'static str, fn(&T) -> u64);

/// Families of one number per link-agent port (`switch`, `port` labels):
/// name, type, help, and how to read the number of a port.
fn per_agent_port<T>(
    out: &mut String,
    ports: &[T],
    key: fn(&T) -> (&String, &String),
    families: &[Family<T>],
) {
    for (name, kind, help, get) in families {
        family(out, name, kind, help);
        for p in ports {
            let (switch, port) = key(p);
            let _ = writeln!(
                out,
                "{name}{{switch=\"{}\",port=\"{}\"}} {}",
                esc(switch),
                esc(port),
                get(p)
            );
        }
    }
}

/// What each ACL rule (and each ACL's default) matched.
pub fn render_acls(out: &mut String, acls: &[vepa_api::wire::AclView]) {
    for (name, help, bytes) in [
        (
            "vepa_acl_rule_packets_total",
            "Packets an ACL rule matched (rule=\"default\": what no rule matched).",
            false,
        ),
        (
            "vepa_acl_rule_bytes_total",
            "Bytes an ACL rule matched (rule=\"default\": what no rule matched).",
            true,
        ),
    ] {
        family(out, name, "counter", help);
        for a in acls {
            let rules = a
                .rules
                .iter()
                .map(|r| (r.number.to_string(), r.packets, r.bytes))
                .chain([("default".to_string(), a.default_packets, a.default_bytes)]);
            for (rule, packets, b) in rules {
                let n = if bytes { b } else { packets };
                let _ = writeln!(
                    out,
                    "{name}{{acl=\"{}\",rule=\"{rule}\"}} {n}",
                    esc(&a.name)
                );
            }
        }
    }
}

/// Copies of frames a capture dropped because its client read too slowly.
pub fn render_capture_drops(out: &mut String, captures: &[(String, String, u64)]) {
    family(
        out,
        "vepa_capture_dropped_total",
        "counter",
        "Frames a capture of the port dropped because the capturing client read too slowly.",
    );
    for (s, p, n) in captures {
        let _ = writeln!(
            out,
            "vepa_capture_dropped_total{{switch=\"{}\",port=\"{}\"}} {n}",
            esc(s),
            esc(p)
        );
    }
}

/// The forwarding workers: time busy, and their decision caches (ratios
/// since each started, and the counters to take rates of).
fn render_workers(out: &mut String, workers: &[vepa_api::wire::WorkerStats]) {
    type Get = fn(&vepa_api::wire::WorkerStats) -> String;
    let families: [(&str, &str, &str, Get); 5] = [
        (
            "vepa_worker_busy_seconds_total",
            "counter",
            "Seconds the forwarding worker spent reading, deciding and sending frames.",
            |w| w.busy_seconds.to_string(),
        ),
        (
            "vepa_worker_busy_ratio",
            "gauge",
            "Share of its time since it started the worker was busy forwarding (rate(vepa_worker_busy_seconds_total) for now).",
            |w| (if w.seconds > 0.0 { w.busy_seconds / w.seconds } else { 0.0 }).to_string(),
        ),
        (
            "vepa_flow_cache_hits_total",
            "counter",
            "Frames the worker's decision caches answered without the pipeline.",
            |w| w.cache_hits.to_string(),
        ),
        (
            "vepa_flow_cache_misses_total",
            "counter",
            "Frames the worker's decision caches did not know, decided by the pipeline.",
            |w| w.cache_misses.to_string(),
        ),
        (
            "vepa_flow_cache_hit_ratio",
            "gauge",
            "Share of the frames the worker's decision caches answered, since it started.",
            |w| {
                let all = w.cache_hits + w.cache_misses;
                (if all > 0 { w.cache_hits as f64 / all as f64 } else { 0.0 }).to_string()
            },
        ),
    ];
    for (name, kind, help, get) in families {
        family(out, name, kind, help);
        for w in workers {
            let _ = writeln!(out, "{name}{{worker=\"{}\"}} {}", w.worker, get(w));
        }
    }
}

/// What each port mirror sent.
pub fn render_mirrors(out: &mut String, mirrors: &[vepa_api::wire::MirrorView]) {
    for (name, help, bytes) in [
        (
            "vepa_mirror_packets_total",
            "Copies a port mirror sent to its output.",
            false,
        ),
        (
            "vepa_mirror_bytes_total",
            "Bytes of the copies a port mirror sent.",
            true,
        ),
    ] {
        family(out, name, "counter", help);
        for m in mirrors {
            let _ = writeln!(
                out,
                "{name}{{switch=\"{}\",mirror=\"{}\"}} {}",
                esc(&m.switch),
                esc(&m.mirror.name),
                if bytes { m.bytes } else { m.packets }
            );
        }
    }
}

/// What each switch's IPFIX export did.
pub fn render_ipfix(out: &mut String, views: &[vepa_api::wire::IpfixView]) {
    type Get = fn(&vepa_api::wire::IpfixView) -> u64;
    let families: [(&str, &str, Get); 6] = [
        (
            "vepa_ipfix_sampled_packets_total",
            "Packets IPFIX metered (after sampling).",
            |v| v.sampled_packets,
        ),
        (
            "vepa_ipfix_records_total",
            "IPFIX flow records made.",
            |v| v.records,
        ),
        (
            "vepa_ipfix_exported_records_total",
            "IPFIX flow records sent to the collector.",
            |v| v.exported,
        ),
        (
            "vepa_ipfix_dropped_records_total",
            "IPFIX flow records lost: the exporter was behind.",
            |v| v.dropped,
        ),
        (
            "vepa_ipfix_messages_total",
            "IPFIX messages sent to the collector.",
            |v| v.messages,
        ),
        (
            "vepa_ipfix_send_errors_total",
            "IPFIX messages that could not be sent.",
            |v| v.send_errors,
        ),
    ];
    for (name, help, get) in families {
        family(out, name, "counter", help);
        for v in views {
            let _ = writeln!(out, "{name}{{switch=\"{}\"}} {}", esc(&v.switch), get(v));
        }
    }
}

/// Connection-tracking zones: entries in use and the most each may hold.
pub fn render_conntrack(out: &mut String, zones: &[(String, usize, usize)]) {
    for (name, help, get) in [
        (
            "vepa_conntrack_entries",
            "Connections tracked in the zone.",
            (|z| z.1) as fn(&(String, usize, usize)) -> usize,
        ),
        (
            "vepa_conntrack_limit",
            "The most connections the zone tracks; new ones beyond are dropped (conntrack_full).",
            |z| z.2,
        ),
    ] {
        family(out, name, "gauge", help);
        for z in zones {
            let _ = writeln!(out, "{name}{{zone=\"{}\"}} {}", esc(&z.0), get(z));
        }
    }
}

/// 802.1Qbg's VDP per agent port: VSIs by state, ECP's work.
pub fn render_vdp(out: &mut String, ports: &[vepa_api::wire::VdpPortView]) {
    family(
        out,
        "vepa_vdp_vsis",
        "gauge",
        "VSIs on the port (station side: the switch's VMs; bridge side: what the station associated), by state.",
    );
    for p in ports {
        let mut by_state: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for v in &p.vsis {
            let s = v.state.split(':').next().unwrap_or("");
            *by_state.entry(s).or_default() += 1;
        }
        for (state, n) in by_state {
            let _ = writeln!(
                out,
                "vepa_vdp_vsis{{switch=\"{}\",port=\"{}\",role=\"{}\",state=\"{}\"}} {n}",
                esc(&p.switch),
                esc(&p.port),
                esc(&p.role),
                esc(state)
            );
        }
    }
    type PerPort = fn(&vepa_api::wire::VdpPortView) -> u64;
    let families: [(&str, &str, &str, PerPort); 4] = [
        (
            "vepa_ecp_tx_total",
            "counter",
            "ECP data units sent, retransmissions included.",
            |p| p.ecp_tx,
        ),
        (
            "vepa_ecp_gave_up_total",
            "counter",
            "ECP requests never acknowledged after every retry.",
            |p| p.ecp_gave_up,
        ),
        (
            "vepa_vdp_errors_total",
            "counter",
            "VDP data units that could not be read.",
            |p| p.vdp_errors,
        ),
        (
            "vepa_vdp_refused_total",
            "counter",
            "VDP requests refused.",
            |p| p.refused,
        ),
    ];
    per_agent_port(out, ports, |p| (&p.switch, &p.port), &families);
}

/// VXLAN ports' events and the control plane's state.
pub fn render_tunnels(out: &mut String, tunnels: &[TunnelView], hosts: Option<&HostsView>) {
    // Each VXLAN counter is a drop (by reason) or an event of its own.
    let events: [(&str, &str, &str); 3] = [
        (
            "tx_flooded",
            "vepa_tunnel_flooded_total",
            "Frames sent to every member VTEP (unknown destination or group).",
        ),
        (
            "rx_coalesced",
            "vepa_tunnel_coalesced_total",
            "Received segments merged into larger frames (GRO).",
        ),
        (
            "tx_arp_suppressed",
            "vepa_tunnel_arp_suppressed_total",
            "ARP requests answered locally instead of flooded to the fabric.",
        ),
    ];
    family(
        out,
        "vepa_tunnel_drops_total",
        "counter",
        "VXLAN port drops, by reason.",
    );
    for t in tunnels {
        for (kind, n) in &t.counters {
            if events.iter().any(|(k, _, _)| k == kind) {
                continue;
            }
            let _ = writeln!(
                out,
                "vepa_tunnel_drops_total{{switch=\"{}\",port=\"{}\",reason=\"{}\"}} {n}",
                esc(&t.switch),
                esc(&t.port),
                esc(kind)
            );
        }
    }
    for (kind, name, help) in events {
        family(out, name, "counter", help);
        for t in tunnels {
            let n = t.counters.get(kind).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}{{switch=\"{}\",port=\"{}\"}} {n}",
                esc(&t.switch),
                esc(&t.port)
            );
        }
    }
    family(
        out,
        "vepa_tunnel_members",
        "gauge",
        "Other hosts' VTEPs a fabric port floods to.",
    );
    for t in tunnels {
        let _ = writeln!(
            out,
            "vepa_tunnel_members{{switch=\"{}\",port=\"{}\"}} {}",
            esc(&t.switch),
            esc(&t.port),
            t.members.len()
        );
    }
    if let Some(h) = hosts {
        family(
            out,
            "vepa_fabric_connected",
            "gauge",
            "1 while the daemon has a session with etcd.",
        );
        let _ = writeln!(
            out,
            "vepa_fabric_connected {}",
            u8::from(h.state == "connected")
        );
        family(
            out,
            "vepa_fabric_hosts",
            "gauge",
            "Hosts the store lists (the last known list while etcd is away).",
        );
        let _ = writeln!(out, "vepa_fabric_hosts {}", h.hosts.len());
        family(
            out,
            "vepa_fabric_records_refused_total",
            "counter",
            "Other hosts' records refused (malformed, oversized, or claiming a VTEP another host holds).",
        );
        let _ = writeln!(out, "vepa_fabric_records_refused_total {}", h.refused_total);
        family(
            out,
            "vepa_fabric_claims_refused",
            "gauge",
            "Claims by other hosts of this host's own VMs' MACs, not used.",
        );
        let _ = writeln!(out, "vepa_fabric_claims_refused {}", h.claims_refused);
    }
}
