//! Between OpenFlow's wire structures and the dataplane's flow types.
//!
//! Everything the dataplane cannot do is refused here with the error type
//! and code OpenFlow 1.3 names for it (an unknown field is `BAD_MATCH /
//! BAD_FIELD`, a meter instruction `BAD_INSTRUCTION / UNSUP_INST`...), so
//! a controller learns exactly what vepa lacks.

use crate::err::*;
use crate::port;
use crate::types::{
    Action as OfAction, Bucket as OfBucket, Instruction as OfInstruction, Match as OfMatch, Oxm,
    OXM_OPENFLOW_BASIC,
};
use crate::{DecodeError, GroupMod};
use vepa_dataplane::flow::{
    Action, Band, Bucket, Field, FlowError, Group, GroupKind, Instruction, Match, Meter, MeterUnit,
    OutPort, MAX_BANDS, METER_MAX, TABLES,
};
use vepa_dataplane::PortId;

/// The OXM field number of a dataplane field.
pub fn oxm_field(f: Field) -> u8 {
    match f {
        Field::InPort => 0,
        Field::Metadata => 2,
        Field::EthDst => 3,
        Field::EthSrc => 4,
        Field::EthType => 5,
        Field::VlanVid => 6,
        Field::VlanPcp => 7,
        Field::IpDscp => 8,
        Field::IpEcn => 9,
        Field::IpProto => 10,
        Field::Ipv4Src => 11,
        Field::Ipv4Dst => 12,
        Field::TcpSrc => 13,
        Field::TcpDst => 14,
        Field::UdpSrc => 15,
        Field::UdpDst => 16,
        Field::Icmpv4Type => 19,
        Field::Icmpv4Code => 20,
        Field::ArpOp => 21,
        Field::ArpSpa => 22,
        Field::ArpTpa => 23,
        Field::ArpSha => 24,
        Field::ArpTha => 25,
        Field::Ipv6Src => 26,
        Field::Ipv6Dst => 27,
        Field::Icmpv6Type => 29,
        Field::Icmpv6Code => 30,
        Field::TunnelId => 38,
    }
}

/// The dataplane field of an OXM basic field number, if vepa matches on it.
pub fn field_of(n: u8) -> Option<Field> {
    Field::ALL.into_iter().find(|f| oxm_field(*f) == n)
}

fn be(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |a, b| (a << 8) | *b as u128)
}

fn to_bytes(v: u128, len: usize) -> Vec<u8> {
    v.to_be_bytes()[16 - len..].to_vec()
}

/// An OXM as a (field, value, mask); masks are all-ones when absent.
fn oxm_value(o: &Oxm) -> Result<(Field, u128, u128), DecodeError> {
    if o.class != OXM_OPENFLOW_BASIC {
        return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_FIELD));
    }
    let f = field_of(o.field).ok_or(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_FIELD))?;
    if o.value.len() != f.wire_len() {
        return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_LEN));
    }
    let v = be(&o.value);
    let m = match &o.mask {
        None => f.full_mask(),
        Some(_) if !f.maskable() => return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_MASK)),
        Some(m) => be(m),
    };
    if v & !f.full_mask() != 0 {
        return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_VALUE));
    }
    if m & !f.full_mask() != 0 {
        return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_MASK));
    }
    Ok((f, v, m))
}

/// OFPBMC_BAD_WILDCARDS: a value bit set where the mask is clear.
const BAD_MATCH_BAD_WILDCARDS: u16 = 5;

pub fn match_to_dp(m: &OfMatch) -> Result<Match, DecodeError> {
    let mut out = Match::any();
    let mut named: Vec<Field> = Vec::new();
    for o in &m.fields {
        let (f, v, k) = oxm_value(o)?;
        if named.contains(&f) {
            return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_DUP_FIELD));
        }
        if v & !k != 0 {
            return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_WILDCARDS));
        }
        if f == Field::InPort && (v == 0 || v > port::MAX as u128) {
            return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_VALUE));
        }
        out.set(f, v, k)
            .map_err(|_| DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_VALUE))?;
        named.push(f);
    }
    out.check_prerequisites(&named)
        .map_err(|_| DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_PREREQ))?;
    Ok(out)
}

pub fn match_from_dp(m: &Match) -> OfMatch {
    OfMatch {
        fields: m
            .fields()
            .into_iter()
            .map(|(f, v, k)| {
                let len = f.wire_len();
                let mask = (k != f.full_mask()).then(|| to_bytes(k, len));
                Oxm::basic(oxm_field(f), to_bytes(v, len), mask)
            })
            .collect(),
    }
}

/// An output port number. `packet_out` allows `TABLE`.
pub fn out_port_to_dp(
    p: u32,
    max_len: u16,
    n_ports: usize,
    packet_out: bool,
) -> Result<OutPort, DecodeError> {
    let bad = DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_OUT_PORT);
    Ok(match p {
        port::IN_PORT => OutPort::InPort,
        port::NORMAL => OutPort::Normal,
        port::FLOOD => OutPort::Flood,
        port::ALL => OutPort::All,
        port::CONTROLLER => OutPort::Controller { max_len },
        port::TABLE if packet_out => OutPort::Table,
        n if n >= 1 && (n as usize) <= n_ports => OutPort::Port(PortId((n - 1) as u16)),
        _ => return Err(bad),
    })
}

/// An `out_port` filter (modify, delete, stats): `None` for `OFPP_ANY`; a
/// port no flow can output to (`LOCAL`, one the switch lacks) selects
/// nothing, which `OutPort::Table` does (flows never output there).
pub fn out_port_filter(p: u32, n_ports: usize) -> Option<OutPort> {
    match p {
        port::ANY => None,
        p => Some(out_port_to_dp(p, 0, n_ports, false).unwrap_or(OutPort::Table)),
    }
}

pub fn out_port_from_dp(p: OutPort) -> (u32, u16) {
    match p {
        OutPort::Port(id) => (id.0 as u32 + 1, 0),
        OutPort::InPort => (port::IN_PORT, 0),
        OutPort::Normal => (port::NORMAL, 0),
        OutPort::Flood => (port::FLOOD, 0),
        OutPort::All => (port::ALL, 0),
        OutPort::Controller { max_len } => (port::CONTROLLER, max_len),
        OutPort::Table => (port::TABLE, 0),
    }
}

pub fn action_to_dp(a: &OfAction, n_ports: usize, packet_out: bool) -> Result<Action, DecodeError> {
    Ok(match a {
        OfAction::Output { port, max_len } => {
            Action::Output(out_port_to_dp(*port, *max_len, n_ports, packet_out)?)
        }
        OfAction::PushVlan(t) if *t == 0x8100 || *t == 0x88a8 => Action::PushVlan(*t),
        OfAction::PushVlan(_) => return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_ARGUMENT)),
        OfAction::PopVlan => Action::PopVlan,
        OfAction::DecNwTtl => Action::DecNwTtl,
        OfAction::Group(g) if *g <= port::MAX => Action::Group(*g),
        OfAction::Group(_) => return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_OUT_GROUP)),
        OfAction::SetField(o) => {
            if o.mask.is_some() {
                return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_SET_ARGUMENT));
            }
            let (f, v, _) =
                oxm_value(o).map_err(|_| DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_SET_TYPE))?;
            if !f.settable() {
                return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_SET_TYPE));
            }
            Action::SetField(f, v)
        }
        OfAction::Experimenter { .. } => {
            return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_EXPERIMENTER))
        }
        // MPLS, PBB, queues, TTL copies and sets: not in vepa's dataplane.
        _ => return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_TYPE)),
    })
}

pub fn actions_to_dp(
    a: &[OfAction],
    n_ports: usize,
    packet_out: bool,
) -> Result<Vec<Action>, DecodeError> {
    a.iter()
        .map(|x| action_to_dp(x, n_ports, packet_out))
        .collect()
}

pub fn action_from_dp(a: &Action) -> OfAction {
    match a {
        Action::Output(p) => {
            let (port, max_len) = out_port_from_dp(*p);
            OfAction::Output { port, max_len }
        }
        Action::SetField(f, v) => {
            OfAction::SetField(Oxm::basic(oxm_field(*f), to_bytes(*v, f.wire_len()), None))
        }
        Action::PushVlan(t) => OfAction::PushVlan(*t),
        Action::PopVlan => OfAction::PopVlan,
        Action::DecNwTtl => OfAction::DecNwTtl,
        Action::Group(g) => OfAction::Group(*g),
    }
}

pub fn instructions_to_dp(
    list: &[OfInstruction],
    table: u8,
    n_ports: usize,
) -> Result<Vec<Instruction>, DecodeError> {
    let mut out = Vec::new();
    for i in list {
        out.push(match i {
            OfInstruction::GotoTable(t) => {
                if *t <= table || *t as usize >= TABLES {
                    return Err(DecodeError::new(
                        BAD_INSTRUCTION,
                        BAD_INSTRUCTION_BAD_TABLE_ID,
                    ));
                }
                Instruction::Goto(*t)
            }
            OfInstruction::WriteMetadata { metadata, mask } => Instruction::WriteMetadata {
                value: *metadata & *mask,
                mask: *mask,
            },
            OfInstruction::WriteActions(a) => Instruction::Write(actions_to_dp(a, n_ports, false)?),
            OfInstruction::ApplyActions(a) => Instruction::Apply(actions_to_dp(a, n_ports, false)?),
            OfInstruction::ClearActions => Instruction::Clear,
            OfInstruction::Meter(m) => Instruction::Meter(*m),
            OfInstruction::Experimenter { .. } => {
                return Err(DecodeError::new(
                    BAD_INSTRUCTION,
                    BAD_INSTRUCTION_BAD_EXPERIMENTER,
                ))
            }
        });
    }
    Ok(out)
}

pub fn instructions_from_dp(list: &[Instruction]) -> Vec<OfInstruction> {
    list.iter()
        .map(|i| match i {
            Instruction::Meter(m) => OfInstruction::Meter(*m),
            Instruction::Apply(a) => {
                OfInstruction::ApplyActions(a.iter().map(action_from_dp).collect())
            }
            Instruction::Clear => OfInstruction::ClearActions,
            Instruction::Write(a) => {
                OfInstruction::WriteActions(a.iter().map(action_from_dp).collect())
            }
            Instruction::WriteMetadata { value, mask } => OfInstruction::WriteMetadata {
                metadata: *value,
                mask: *mask,
            },
            Instruction::Goto(t) => OfInstruction::GotoTable(*t),
        })
        .collect()
}

/// The OpenFlow error for a flow or group change the pipeline refused.
pub fn flow_error(e: &FlowError) -> DecodeError {
    let (t, c) = match e {
        FlowError::Field { .. } => (BAD_MATCH, BAD_MATCH_BAD_VALUE),
        FlowError::Prerequisite { .. } => (BAD_MATCH, BAD_MATCH_BAD_PREREQ),
        FlowError::BadTable { .. } => (FLOW_MOD_FAILED, FLOW_MOD_FAILED_BAD_TABLE_ID),
        FlowError::BadPort(_) => (BAD_ACTION, BAD_ACTION_BAD_OUT_PORT),
        FlowError::Instruction(_) => (BAD_INSTRUCTION, BAD_INSTRUCTION_UNSUP_INST),
        FlowError::UnknownGroup(_) => (BAD_ACTION, BAD_ACTION_BAD_OUT_GROUP),
        FlowError::GroupExists(_) => (GROUP_MOD_FAILED, GROUP_MOD_FAILED_GROUP_EXISTS),
        FlowError::BadGroup(..) => (GROUP_MOD_FAILED, GROUP_MOD_FAILED_INVALID_GROUP),
        FlowError::GroupLoop(_) => (GROUP_MOD_FAILED, GROUP_MOD_FAILED_LOOP),
        FlowError::Overlap => (FLOW_MOD_FAILED, FLOW_MOD_FAILED_OVERLAP),
        FlowError::TableFull => (FLOW_MOD_FAILED, FLOW_MOD_FAILED_TABLE_FULL),
        FlowError::Meter(_) => (METER_MOD_FAILED, METER_MOD_FAILED_UNKNOWN_METER),
        FlowError::MeterExists(_) => (METER_MOD_FAILED, METER_MOD_FAILED_METER_EXISTS),
        FlowError::BadMeter(..) => (METER_MOD_FAILED, METER_MOD_FAILED_INVALID_METER),
    };
    DecodeError::new(t, c)
}

pub mod group_type {
    pub const ALL: u8 = 0;
    pub const SELECT: u8 = 1;
    pub const INDIRECT: u8 = 2;
    pub const FF: u8 = 3;
}

pub fn group_to_dp(g: &GroupMod, n_ports: usize) -> Result<Group, DecodeError> {
    let kind = match g.kind {
        group_type::ALL => GroupKind::All,
        group_type::SELECT => GroupKind::Select,
        group_type::INDIRECT => GroupKind::Indirect,
        group_type::FF => GroupKind::FastFailover,
        _ => {
            return Err(DecodeError::new(
                GROUP_MOD_FAILED,
                GROUP_MOD_FAILED_BAD_TYPE,
            ))
        }
    };
    if g.group_id > port::MAX {
        return Err(DecodeError::new(
            GROUP_MOD_FAILED,
            GROUP_MOD_FAILED_INVALID_GROUP,
        ));
    }
    let mut buckets = Vec::new();
    for b in &g.buckets {
        let watch_port = match b.watch_port {
            port::ANY => None,
            n if n >= 1 && (n as usize) <= n_ports => Some(PortId((n - 1) as u16)),
            _ => {
                return Err(DecodeError::new(
                    GROUP_MOD_FAILED,
                    GROUP_MOD_FAILED_BAD_WATCH,
                ))
            }
        };
        let watch_group = (b.watch_group != crate::GROUP_ANY).then_some(b.watch_group);
        if kind == GroupKind::FastFailover && watch_port.is_none() && watch_group.is_none() {
            return Err(DecodeError::new(
                GROUP_MOD_FAILED,
                GROUP_MOD_FAILED_BAD_WATCH,
            ));
        }
        buckets.push(Bucket {
            weight: b.weight,
            watch_port,
            watch_group,
            actions: actions_to_dp(&b.actions, n_ports, false)?,
        });
    }
    Ok(Group {
        id: g.group_id,
        kind,
        buckets,
    })
}

pub fn group_kind_from_dp(k: GroupKind) -> u8 {
    match k {
        GroupKind::All => group_type::ALL,
        GroupKind::Select => group_type::SELECT,
        GroupKind::Indirect => group_type::INDIRECT,
        GroupKind::FastFailover => group_type::FF,
    }
}

pub fn buckets_from_dp(g: &Group) -> Vec<OfBucket> {
    g.buckets
        .iter()
        .map(|b| OfBucket {
            weight: b.weight,
            watch_port: b.watch_port.map_or(port::ANY, |p| p.0 as u32 + 1),
            watch_group: b.watch_group.unwrap_or(crate::GROUP_ANY),
            actions: b.actions.iter().map(action_from_dp).collect(),
        })
        .collect()
}

pub mod meter_flags {
    pub const KBPS: u16 = 1;
    pub const PKTPS: u16 = 2;
    pub const BURST: u16 = 4;
    pub const STATS: u16 = 8;
}

/// `OFPMBT_DROP`, the one band type vepa has.
pub const BAND_DROP: u16 = 1;

/// A METER_MOD's meter; its bands must all be drop bands.
pub fn meter_to_dp(flags: u16, meter_id: u32, bands: &[u8]) -> Result<Meter, DecodeError> {
    use meter_flags::*;
    if meter_id == 0 || meter_id > METER_MAX {
        return Err(DecodeError::new(
            METER_MOD_FAILED,
            METER_MOD_FAILED_INVALID_METER,
        ));
    }
    let unit = match (flags & KBPS != 0, flags & PKTPS != 0) {
        (true, false) => MeterUnit::Kbps,
        (false, true) => MeterUnit::Pktps,
        _ => {
            return Err(DecodeError::new(
                METER_MOD_FAILED,
                METER_MOD_FAILED_BAD_FLAGS,
            ))
        }
    };
    if flags & !(KBPS | PKTPS | BURST | STATS) != 0 {
        return Err(DecodeError::new(
            METER_MOD_FAILED,
            METER_MOD_FAILED_BAD_FLAGS,
        ));
    }
    let bad = DecodeError::new(METER_MOD_FAILED, METER_MOD_FAILED_BAD_BAND);
    let mut r = crate::wire::Reader::new(bands);
    let mut out = Vec::new();
    while !r.is_empty() {
        let kind = r.u16(bad)?;
        let len = r.u16(bad)?;
        if len != 16 {
            return Err(bad);
        }
        let rate = r.u32(bad)?;
        let burst = r.u32(bad)?;
        r.skip(4, bad)?;
        if kind != BAND_DROP {
            return Err(bad);
        }
        if rate == 0 {
            return Err(DecodeError::new(
                METER_MOD_FAILED,
                METER_MOD_FAILED_BAD_RATE,
            ));
        }
        out.push(Band { rate, burst });
    }
    if out.is_empty() || out.len() > MAX_BANDS {
        return Err(DecodeError::new(
            METER_MOD_FAILED,
            METER_MOD_FAILED_OUT_OF_BANDS,
        ));
    }
    Ok(Meter {
        id: meter_id,
        unit,
        burst: flags & BURST != 0,
        stats: flags & STATS != 0,
        bands: out,
    })
}

/// A meter's flags and bands as OpenFlow writes them.
pub fn meter_from_dp(m: &Meter) -> (u16, Vec<u8>) {
    use crate::wire::Put;
    use meter_flags::*;
    let mut flags = match m.unit {
        MeterUnit::Kbps => KBPS,
        MeterUnit::Pktps => PKTPS,
    };
    if m.burst {
        flags |= BURST;
    }
    if m.stats {
        flags |= STATS;
    }
    let mut b = Vec::new();
    for band in &m.bands {
        b.u16(BAND_DROP);
        b.u16(16);
        b.u32(band.rate);
        b.u32(band.burst);
        b.zeros(4);
    }
    (flags, b)
}
