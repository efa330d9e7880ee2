//! MULTIPART replies: descriptions and statistics, split into messages
//! that fit OpenFlow's 16-bit length.

use crate::engine::Engine;
use crate::sdn::{spec_of, PortInfo};
use vepa_dataplane::flow::{Field, FlowFilter, Pipeline, TABLES};
use vepa_openflow::err::*;
use vepa_openflow::multipart::*;
use vepa_openflow::types::action_type;
use vepa_openflow::{convert, port, DecodeError, Message, PortDesc};

/// Room for entries in one reply: the 16-bit length less the headers.
const ROOM: usize = 0xffff - 16;

/// Packs `entries` into as few replies as fit, all but the last flagged MORE.
fn split<T: Clone>(entries: Vec<T>, make: impl Fn(Vec<T>) -> MultipartReply) -> Vec<Message> {
    let size = |e: &T| {
        let mut b = Vec::new();
        make(vec![e.clone()]).encode(&mut b);
        b.len()
    };
    let mut out: Vec<Vec<T>> = vec![Vec::new()];
    let mut used = 0;
    for e in entries {
        let n = size(&e);
        if used + n > ROOM && !out.last().is_some_and(|v| v.is_empty()) {
            out.push(Vec::new());
            used = 0;
        }
        used += n;
        if let Some(last) = out.last_mut() {
            last.push(e);
        }
    }
    let last = out.len() - 1;
    out.into_iter()
        .enumerate()
        .map(|(i, v)| Message::MultipartReply {
            flags: if i < last { MORE } else { 0 },
            body: make(v),
        })
        .collect()
}

pub fn port_desc(p: &PortInfo) -> PortDesc {
    PortDesc {
        port_no: p.no,
        hw_addr: p.mac,
        name: p.name.chars().take(15).collect(),
        config: 0,
        // OFPPS_LIVE, or OFPPS_LINK_DOWN without a device.
        state: if p.up { 0x4 } else { 0x1 },
        // 10 Gb/s full duplex, copper: what a veth or tap reports.
        curr: 0x40 | 0x800,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
    }
}

fn flow_filter(e: &Engine, switch: &str, f: &FlowStatsRequest) -> Result<FlowFilter, DecodeError> {
    let n_ports = e.port_names(switch).map(|v| v.len()).unwrap_or(0);
    let table = (f.table_id != vepa_openflow::TABLE_ALL).then_some(f.table_id);
    if table.is_some_and(|t| t as usize >= TABLES) {
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_TABLE_ID));
    }
    Ok(FlowFilter {
        table,
        matcher: convert::match_to_dp(&f.matcher)?,
        strict_priority: None,
        cookie: f.cookie,
        cookie_mask: f.cookie_mask,
        out_port: convert::out_port_filter(f.out_port, n_ports),
        out_group: (f.out_group != vepa_openflow::GROUP_ANY).then_some(f.out_group),
    })
}

fn oxm_header(f: Field, masked: bool) -> [u8; 4] {
    let len = f.wire_len() * if masked { 2 } else { 1 };
    [
        0x80,
        0x00,
        (convert::oxm_field(f) << 1) | masked as u8,
        len as u8,
    ]
}

fn table_features() -> Vec<TableFeatures> {
    let ids = |list: &[u16]| -> Vec<u8> {
        list.iter()
            .flat_map(|t| {
                let mut b = t.to_be_bytes().to_vec();
                b.extend_from_slice(&4u16.to_be_bytes());
                b
            })
            .collect()
    };
    let instructions = ids(&[1, 2, 3, 4, 5]);
    let actions = ids(&[
        action_type::OUTPUT,
        action_type::PUSH_VLAN,
        action_type::POP_VLAN,
        action_type::GROUP,
        action_type::DEC_NW_TTL,
        action_type::SET_FIELD,
    ]);
    let matches: Vec<u8> = Field::ALL
        .iter()
        .flat_map(|f| oxm_header(*f, false))
        .collect();
    let wildcards: Vec<u8> = Field::ALL
        .iter()
        .filter(|f| f.maskable())
        .flat_map(|f| oxm_header(*f, false))
        .collect();
    let setfields: Vec<u8> = Field::ALL
        .iter()
        .filter(|f| f.settable())
        .flat_map(|f| oxm_header(*f, false))
        .collect();
    (0..TABLES as u8)
        .map(|t| TableFeatures {
            table_id: t,
            name: String::new(),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries: vepa_dataplane::flow::MAX_FLOWS as u32,
            properties: vec![
                TableFeatureProp {
                    kind: 0,
                    data: instructions.clone(),
                },
                TableFeatureProp {
                    kind: 2,
                    data: ((t + 1)..TABLES as u8).collect(),
                },
                TableFeatureProp {
                    kind: 4,
                    data: actions.clone(),
                },
                TableFeatureProp {
                    kind: 6,
                    data: actions.clone(),
                },
                TableFeatureProp {
                    kind: 8,
                    data: matches.clone(),
                },
                TableFeatureProp {
                    kind: 10,
                    data: wildcards.clone(),
                },
                TableFeatureProp {
                    kind: 12,
                    data: setfields.clone(),
                },
                TableFeatureProp {
                    kind: 14,
                    data: setfields.clone(),
                },
            ],
        })
        .collect()
}

pub fn multipart(
    e: &mut Engine,
    switch: &str,
    req: &MultipartRequest,
) -> Result<Vec<Message>, DecodeError> {
    let one = |body| vec![Message::MultipartReply { flags: 0, body }];
    let now = e.flow_clock_ms();
    Ok(match req {
        MultipartRequest::Desc => one(MultipartReply::Desc(Desc {
            mfr: "vepa".into(),
            hw: "vepa userspace edge virtual bridge".into(),
            sw: format!("vepa {}", env!("CARGO_PKG_VERSION")),
            serial: "None".into(),
            dp: format!("switch {switch}"),
        })),
        MultipartRequest::Flow(f) => {
            let filter = flow_filter(e, switch, f)?;
            split(
                flow_stats(pipeline(e, switch)?, &filter, now),
                MultipartReply::Flow,
            )
        }
        MultipartRequest::Aggregate(f) => {
            let filter = flow_filter(e, switch, f)?;
            let flows = pipeline(e, switch)?.flows(&filter);
            one(MultipartReply::Aggregate {
                packet_count: flows.iter().map(|r| r.stats.packets()).sum(),
                byte_count: flows.iter().map(|r| r.stats.bytes()).sum(),
                flow_count: flows.len() as u32,
            })
        }
        MultipartRequest::Table => split(table_stats(pipeline(e, switch)?), MultipartReply::Table),
        MultipartRequest::PortStats { port_no } => {
            split(port_stats(e, switch, *port_no)?, MultipartReply::PortStats)
        }
        MultipartRequest::PortDesc => {
            let ports: Vec<PortDesc> = e
                .port_infos(switch)
                .map_err(|_| DecodeError::new(BAD_REQUEST, BAD_REQUEST_EPERM))?
                .iter()
                .map(port_desc)
                .collect();
            split(ports, MultipartReply::PortDesc)
        }
        MultipartRequest::Queue { .. } => one(MultipartReply::Empty(kind::QUEUE)),
        MultipartRequest::MeterConfig { meter_id } => split(
            meter_configs(pipeline(e, switch)?, *meter_id),
            MultipartReply::MeterConfig,
        ),
        MultipartRequest::Meter { meter_id } => split(
            meter_stats(pipeline(e, switch)?, *meter_id, now),
            MultipartReply::Meter,
        ),
        MultipartRequest::MeterFeatures => one(MultipartReply::MeterFeatures(MeterFeatures {
            max_meter: vepa_dataplane::flow::MAX_METERS as u32,
            // Drop bands.
            band_types: 1 << 1,
            // kbps, pktps, burst, stats.
            capabilities: 0b1111,
            max_bands: vepa_dataplane::flow::MAX_BANDS as u8,
            max_color: 0,
        })),
        MultipartRequest::Group { group_id } => split(
            group_stats(pipeline(e, switch)?, *group_id),
            MultipartReply::Group,
        ),
        MultipartRequest::GroupDesc => {
            let groups: Vec<GroupDesc> = pipeline(e, switch)?
                .groups()
                .iter()
                .map(|(g, _)| GroupDesc {
                    kind: convert::group_kind_from_dp(g.kind),
                    group_id: g.id,
                    buckets: convert::buckets_from_dp(g),
                })
                .collect();
            split(groups, MultipartReply::GroupDesc)
        }
        MultipartRequest::GroupFeatures => {
            let actions = (1u32 << action_type::OUTPUT)
                | (1 << action_type::PUSH_VLAN)
                | (1 << action_type::POP_VLAN)
                | (1 << action_type::GROUP)
                | (1 << action_type::DEC_NW_TTL)
                | (1 << action_type::SET_FIELD);
            let max = vepa_dataplane::flow::MAX_GROUPS as u32;
            one(MultipartReply::GroupFeatures(GroupFeatures {
                types: 0b1111,
                // Select weights and chaining.
                capabilities: 0x1 | 0x4,
                max_groups: [max; 4],
                actions: [actions; 4],
            }))
        }
        MultipartRequest::TableFeatures(set) if set.is_empty() => {
            split(table_features(), MultipartReply::TableFeatures)
        }
        MultipartRequest::TableFeatures(_) => {
            return Err(DecodeError::new(
                TABLE_FEATURES_FAILED,
                TABLE_FEATURES_FAILED_EPERM,
            ))
        }
        MultipartRequest::Experimenter { .. } => {
            return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_EXPERIMENTER))
        }
    })
}

/// `switch`'s pipeline; a switch without one is refused as EPERM.
fn pipeline<'e>(e: &'e Engine, switch: &str) -> Result<&'e Pipeline, DecodeError> {
    e.pipeline(switch)
        .map_err(|_| DecodeError::new(BAD_REQUEST, BAD_REQUEST_EPERM))
}

/// The flows `filter` selects, with their counters and ages at `now`.
fn flow_stats(p: &Pipeline, filter: &FlowFilter, now: u64) -> Vec<FlowStats> {
    p.flows(filter)
        .iter()
        .map(|r| {
            let age = now.saturating_sub(r.installed_ms);
            let s = spec_of(r);
            FlowStats {
                table_id: r.table,
                duration_sec: (age / 1000) as u32,
                duration_nsec: ((age % 1000) * 1_000_000) as u32,
                priority: r.priority,
                idle_timeout: r.idle_timeout,
                hard_timeout: r.hard_timeout,
                flags: r.flags,
                cookie: r.cookie,
                packet_count: r.stats.packets(),
                byte_count: r.stats.bytes(),
                matcher: convert::match_from_dp(&s.matcher),
                instructions: convert::instructions_from_dp(&s.instructions),
            }
        })
        .collect()
}

/// Each table's flow count and the packets its flows matched.
fn table_stats(p: &Pipeline) -> Vec<TableStats> {
    (0..TABLES as u8)
        .map(|t| {
            let table = p.table(t);
            let matched: u64 = table
                .map(|x| x.iter().map(|r| r.stats.packets()).sum())
                .unwrap_or(0);
            TableStats {
                table_id: t,
                active_count: table.map_or(0, |x| x.len() as u32),
                lookup_count: matched,
                matched_count: matched,
            }
        })
        .collect()
}

/// Port `port_no`'s counters (OpenFlow numbers ports from 1), or every
/// port's for ANY; another number is refused as BAD_PORT.
fn port_stats(e: &Engine, switch: &str, port_no: u32) -> Result<Vec<PortStats>, DecodeError> {
    let all = e.port_counters(switch);
    if port_no != port::ANY && (port_no == 0 || port_no as usize > all.len()) {
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_PORT));
    }
    Ok(all
        .iter()
        .enumerate()
        .filter(|(i, _)| port_no == port::ANY || *i as u32 + 1 == port_no)
        .map(|(i, p)| PortStats {
            port_no: i as u32 + 1,
            rx_packets: p.rx_frames,
            tx_packets: p.tx_frames,
            rx_bytes: p.rx_bytes,
            tx_bytes: p.tx_bytes,
            rx_dropped: p.drops.values().sum(),
            tx_errors: p.tx_errors,
            ..PortStats::default()
        })
        .collect())
}

/// Meter `meter_id`'s configuration, or every meter's for ALL (0xffffffff).
fn meter_configs(p: &Pipeline, meter_id: u32) -> Vec<MeterConfig> {
    p.meters()
        .into_iter()
        .filter(|(m, _)| meter_id == 0xffff_ffff || m.id == meter_id)
        .map(|(m, _)| {
            let (flags, bands) = convert::meter_from_dp(&m);
            MeterConfig {
                flags,
                meter_id: m.id,
                bands,
            }
        })
        .collect()
}

/// Meter `meter_id`'s counters, or every meter's for ALL, at `now`.
fn meter_stats(p: &Pipeline, meter_id: u32, now: u64) -> Vec<MeterStats> {
    use std::sync::atomic::Ordering::Relaxed;
    let flows = p.flows(&FlowFilter::default());
    p.meters()
        .into_iter()
        .filter(|(m, _)| meter_id == 0xffff_ffff || m.id == meter_id)
        .map(|(m, st)| {
            let age = now.saturating_sub(st.installed_ms);
            let uses = vepa_dataplane::flow::Instruction::Meter(m.id);
            MeterStats {
                meter_id: m.id,
                flow_count: flows
                    .iter()
                    .filter(|r| r.instructions.contains(&uses))
                    .count() as u32,
                packet_in_count: st.packets_in.load(Relaxed),
                byte_in_count: st.bytes_in.load(Relaxed),
                duration_sec: (age / 1000) as u32,
                duration_nsec: ((age % 1000) * 1_000_000) as u32,
                bands: st
                    .band_packets
                    .iter()
                    .zip(&st.band_bytes)
                    .map(|(a, b)| (a.load(Relaxed), b.load(Relaxed)))
                    .collect(),
            }
        })
        .collect()
}

/// Group `group_id`'s counters, or every group's for ALL.
fn group_stats(p: &Pipeline, group_id: u32) -> Vec<GroupStats> {
    use std::sync::atomic::Ordering::Relaxed;
    p.groups()
        .iter()
        .filter(|(g, _)| group_id == vepa_openflow::GROUP_ALL || g.id == group_id)
        .map(|(g, s)| GroupStats {
            group_id: g.id,
            ref_count: p
                .flows(&FlowFilter {
                    out_group: Some(g.id),
                    ..FlowFilter::default()
                })
                .len() as u32,
            packet_count: s.packets.load(Relaxed),
            byte_count: s.bytes.load(Relaxed),
            duration_sec: 0,
            duration_nsec: 0,
            buckets: g.buckets.iter().map(|_| (0, 0)).collect(),
        })
        .collect()
}
