//! Writing flows and groups in the canonical `ovs-ofctl` form.

use super::PortNames;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use vepa_dataplane::flow::Field;
use vepa_dataplane::flow::{
    Action, FlowSpec, Group, GroupKind, Instruction, Match, OutPort, FLAG_CHECK_OVERLAP,
    FLAG_RESET_COUNTS, FLAG_SEND_FLOW_REM,
};

fn mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// The prefix length of a contiguous mask, if it is one.
fn prefix(mask: u128, bits: u32) -> Option<u32> {
    let ones = mask.count_ones();
    let full = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let want = if ones == 0 {
        0
    } else {
        (full >> (bits - ones)) << (bits - ones)
    };
    (mask == want).then_some(ones)
}

fn value(field: Field, v: u128) -> String {
    match field {
        Field::EthSrc | Field::EthDst | Field::ArpSha | Field::ArpTha => mac(v),
        Field::Ipv4Src | Field::Ipv4Dst | Field::ArpSpa | Field::ArpTpa => {
            Ipv4Addr::from(v as u32).to_string()
        }
        Field::Ipv6Src | Field::Ipv6Dst => Ipv6Addr::from(v).to_string(),
        Field::Metadata | Field::TunnelId | Field::EthType => format!("{v:#x}"),
        _ => v.to_string(),
    }
}

fn value_mask(field: Field, v: u128, m: u128) -> String {
    if m == field.full_mask() {
        return value(field, v);
    }
    let is_addr = matches!(
        field,
        Field::Ipv4Src
            | Field::Ipv4Dst
            | Field::ArpSpa
            | Field::ArpTpa
            | Field::Ipv6Src
            | Field::Ipv6Dst
    );
    match prefix(m, field.bits()) {
        Some(len) if is_addr => format!("{}/{len}", value(field, v)),
        _ => match field {
            Field::EthSrc | Field::EthDst | Field::ArpSha | Field::ArpTha => {
                format!("{}/{}", mac(v), mac(m))
            }
            _ if is_addr => format!("{}/{}", value(field, v), value(field, m)),
            _ => format!("{v:#x}/{m:#x}"),
        },
    }
}

fn name(field: Field) -> &'static str {
    match field {
        Field::InPort => "in_port",
        Field::Metadata => "metadata",
        Field::TunnelId => "tun_id",
        Field::EthDst => "dl_dst",
        Field::EthSrc => "dl_src",
        Field::EthType => "dl_type",
        Field::VlanVid => "vlan_vid",
        Field::VlanPcp => "dl_vlan_pcp",
        Field::IpDscp => "ip_dscp",
        Field::IpEcn => "nw_ecn",
        Field::IpProto => "nw_proto",
        Field::Ipv4Src => "nw_src",
        Field::Ipv4Dst => "nw_dst",
        Field::Ipv6Src => "ipv6_src",
        Field::Ipv6Dst => "ipv6_dst",
        Field::TcpSrc | Field::UdpSrc => "tp_src",
        Field::TcpDst | Field::UdpDst => "tp_dst",
        Field::Icmpv4Type => "icmp_type",
        Field::Icmpv4Code => "icmp_code",
        Field::Icmpv6Type => "icmpv6_type",
        Field::Icmpv6Code => "icmpv6_code",
        Field::ArpOp => "arp_op",
        Field::ArpSpa => "arp_spa",
        Field::ArpTpa => "arp_tpa",
        Field::ArpSha => "arp_sha",
        Field::ArpTha => "arp_tha",
    }
}

/// The match part: a protocol keyword, then each field.
pub fn format_match(m: &Match, ports: PortNames) -> String {
    let eth = m
        .get(Field::EthType)
        .filter(|(_, k)| *k == 0xffff)
        .map(|(v, _)| v as u16);
    let proto = m.get(Field::IpProto).map(|(v, _)| v as u8);
    let word = match (eth, proto) {
        (Some(0x0800), None) => Some("ip"),
        (Some(0x0800), Some(1)) => Some("icmp"),
        (Some(0x0800), Some(6)) => Some("tcp"),
        (Some(0x0800), Some(17)) => Some("udp"),
        (Some(0x0806), None) => Some("arp"),
        (Some(0x86dd), None) => Some("ipv6"),
        (Some(0x86dd), Some(58)) => Some("icmp6"),
        (Some(0x86dd), Some(6)) => Some("tcp6"),
        (Some(0x86dd), Some(17)) => Some("udp6"),
        _ => None,
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(w) = word {
        parts.push(w.into());
    }
    for (f, v, k) in m.fields() {
        match f {
            Field::EthType if word.is_some() => continue,
            Field::IpProto if word.is_some() && proto.is_some() => continue,
            // A port the switch lacks stays a number (it never matches).
            Field::InPort if v == 0 || v as usize > ports.0.len() => {
                parts.push(format!("in_port={v}"))
            }
            Field::InPort => parts.push(format!(
                "in_port={}",
                ports.name(vepa_dataplane::PortId((v - 1) as u16))
            )),
            Field::VlanVid if k == 0x1fff && v == 0 => parts.push("dl_vlan=0xffff".into()),
            Field::VlanVid if k == 0x1fff && v & 0x1000 != 0 => {
                parts.push(format!("dl_vlan={}", v & 0xfff))
            }
            Field::VlanVid => parts.push(format!("vlan_vid={v:#x}/{k:#x}")),
            _ => parts.push(format!("{}={}", name(f), value_mask(f, v, k))),
        }
    }
    parts.join(",")
}

pub fn format_out_port(p: OutPort, ports: PortNames) -> String {
    match p {
        OutPort::Port(id) => ports.name(id),
        OutPort::InPort => "IN_PORT".into(),
        OutPort::Normal => "NORMAL".into(),
        OutPort::Flood => "FLOOD".into(),
        OutPort::All => "ALL".into(),
        OutPort::Controller { .. } => "CONTROLLER".into(),
        OutPort::Table => "TABLE".into(),
    }
}

fn action(a: &Action, ports: PortNames) -> String {
    match a {
        Action::Output(OutPort::Controller { max_len }) => format!("CONTROLLER:{max_len}"),
        Action::Output(p @ OutPort::Port(_)) => format!("output:{}", format_out_port(*p, ports)),
        Action::Output(p) => format_out_port(*p, ports),
        Action::SetField(Field::VlanVid, v) => format!("mod_vlan_vid:{}", v & 0xfff),
        Action::SetField(f, v) => {
            let n = match f {
                Field::TcpSrc => "tcp_src",
                Field::TcpDst => "tcp_dst",
                Field::UdpSrc => "udp_src",
                Field::UdpDst => "udp_dst",
                Field::VlanPcp => "vlan_pcp",
                Field::EthSrc => "eth_src",
                Field::EthDst => "eth_dst",
                Field::Ipv4Src => "ip_src",
                Field::Ipv4Dst => "ip_dst",
                other => name(*other),
            };
            format!("set_field:{}->{n}", value(*f, *v))
        }
        Action::PushVlan(t) => format!("push_vlan:{t:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::Group(g) => format!("group:{g}"),
    }
}

pub fn format_actions(actions: &[Action], ports: PortNames) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions
        .iter()
        .map(|a| action(a, ports))
        .collect::<Vec<_>>()
        .join(",")
}

fn instructions(list: &[Instruction], ports: PortNames) -> String {
    let mut parts = Vec::new();
    for i in list {
        match i {
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::Apply(a) if a.is_empty() => {}
            Instruction::Apply(a) => parts.push(format_actions(a, ports)),
            Instruction::Clear => parts.push("clear_actions".into()),
            Instruction::Write(a) => {
                let inner = if a.is_empty() {
                    String::new()
                } else {
                    format_actions(a, ports)
                };
                parts.push(format!("write_actions({inner})"))
            }
            Instruction::WriteMetadata { value, mask } if *mask == u64::MAX => {
                parts.push(format!("write_metadata:{value:#x}"))
            }
            Instruction::WriteMetadata { value, mask } => {
                parts.push(format!("write_metadata:{value:#x}/{mask:#x}"))
            }
            Instruction::Goto(t) => parts.push(format!("goto_table:{t}")),
        }
    }
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

/// A flow in the canonical form: `table` (when not 0), `priority`, the
/// cookie and timeouts when set, the flags, the match, then `actions=`.
pub fn format_flow(f: &FlowSpec, ports: PortNames) -> String {
    let mut s = String::new();
    if f.table != 0 {
        let _ = write!(s, "table={},", f.table);
    }
    let _ = write!(s, "priority={}", f.priority);
    if f.cookie != 0 {
        let _ = write!(s, ",cookie={:#x}", f.cookie);
    }
    if f.idle_timeout != 0 {
        let _ = write!(s, ",idle_timeout={}", f.idle_timeout);
    }
    if f.hard_timeout != 0 {
        let _ = write!(s, ",hard_timeout={}", f.hard_timeout);
    }
    for (flag, word) in [
        (FLAG_SEND_FLOW_REM, "send_flow_rem"),
        (FLAG_CHECK_OVERLAP, "check_overlap"),
        (FLAG_RESET_COUNTS, "reset_counts"),
    ] {
        if f.flags & flag != 0 {
            let _ = write!(s, ",{word}");
        }
    }
    let m = format_match(&f.matcher, ports);
    if !m.is_empty() {
        let _ = write!(s, ",{m}");
    }
    let _ = write!(s, ",actions={}", instructions(&f.instructions, ports));
    s
}

pub fn format_group(g: &Group, ports: PortNames) -> String {
    let kind = match g.kind {
        GroupKind::All => "all",
        GroupKind::Select => "select",
        GroupKind::Indirect => "indirect",
        GroupKind::FastFailover => "ff",
    };
    let mut s = format!("group_id={},type={kind}", g.id);
    for b in &g.buckets {
        s.push_str(",bucket=");
        if g.kind == GroupKind::Select {
            let _ = write!(s, "weight={},", b.weight);
        }
        if let Some(p) = b.watch_port {
            let _ = write!(s, "watch_port={},", ports.name(p));
        }
        if let Some(w) = b.watch_group {
            let _ = write!(s, "watch_group={w},");
        }
        let _ = write!(s, "actions={}", format_actions(&b.actions, ports));
    }
    s
}

/// A meter as `ovs-ofctl add-meter` takes it.
pub fn format_meter(m: &vepa_dataplane::flow::Meter) -> String {
    use vepa_dataplane::flow::MeterUnit;
    let mut s = format!(
        "meter={},{}",
        m.id,
        match m.unit {
            MeterUnit::Kbps => "kbps",
            MeterUnit::Pktps => "pktps",
        }
    );
    if m.burst {
        s.push_str(",burst");
    }
    if m.stats {
        s.push_str(",stats");
    }
    s.push_str(",bands=");
    let bands: Vec<String> = m
        .bands
        .iter()
        .map(|b| {
            if m.burst {
                format!("type=drop,rate={},burst_size={}", b.rate, b.burst)
            } else {
                format!("type=drop,rate={}", b.rate)
            }
        })
        .collect();
    s.push_str(&bands.join(","));
    s
}
