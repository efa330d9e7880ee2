//! MULTIPART requests and replies (the stats and descriptions).

use crate::err::*;
use crate::types::{
    decode_instructions, encode_instructions, get_str, put_str, Bucket, Instruction, Match,
    PortDesc, PORT_DESC_LEN,
};
use crate::wire::{pad8, Put, Reader};
use crate::DecodeError;

pub mod kind {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPMPF_REQ_MORE` / `OFPMPF_REPLY_MORE`.
pub const MORE: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStatsRequest {
    pub table_id: u8,
    pub out_port: u32,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub matcher: Match,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartRequest {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    PortStats {
        port_no: u32,
    },
    Queue {
        port_no: u32,
        queue_id: u32,
    },
    Group {
        group_id: u32,
    },
    GroupDesc,
    GroupFeatures,
    Meter {
        meter_id: u32,
    },
    MeterConfig {
        meter_id: u32,
    },
    MeterFeatures,
    /// Empty: a query; otherwise a request to change the tables.
    TableFeatures(Vec<TableFeatures>),
    PortDesc,
    Experimenter {
        id: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desc {
    pub mfr: String,
    pub hw: String,
    pub sw: String,
    pub serial: String,
    pub dp: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub matcher: Match,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// (packets, bytes) per bucket.
    pub buckets: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    pub kind: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    /// (packets, bytes) each band handled.
    pub bands: Vec<(u64, u64)>,
}

/// One meter's configuration; `bands` as on the wire (16 bytes each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterFeatures {
    pub max_meter: u32,
    pub band_types: u32,
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

/// One table-features property; `data` without its padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFeatureProp {
    pub kind: u16,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: String,
    pub metadata_match: u64,
    pub metadata_write: u64,
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartReply {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate {
        packet_count: u64,
        byte_count: u64,
        flow_count: u32,
    },
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    /// A reply with no entries (queues: vepa has none).
    Empty(u16),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<PortDesc>),
    Experimenter {
        id: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

fn bad_len() -> DecodeError {
    DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_LEN)
}

fn decode_flow_request(r: &mut Reader) -> Result<FlowStatsRequest, DecodeError> {
    let e = bad_len();
    let table_id = r.u8(e)?;
    r.skip(3, e)?;
    let out_port = r.u32(e)?;
    let out_group = r.u32(e)?;
    r.skip(4, e)?;
    let cookie = r.u64(e)?;
    let cookie_mask = r.u64(e)?;
    let matcher = Match::decode(r)?;
    Ok(FlowStatsRequest {
        table_id,
        out_port,
        out_group,
        cookie,
        cookie_mask,
        matcher,
    })
}

fn encode_flow_request(f: &FlowStatsRequest, out: &mut Vec<u8>) {
    out.u8(f.table_id);
    out.zeros(3);
    out.u32(f.out_port);
    out.u32(f.out_group);
    out.zeros(4);
    out.u64(f.cookie);
    out.u64(f.cookie_mask);
    f.matcher.encode(out);
}

fn decode_table_features(r: &mut Reader) -> Result<TableFeatures, DecodeError> {
    let e = bad_len();
    let len = r.u16(e)? as usize;
    if len < 64 {
        return Err(e);
    }
    let mut b = r.sub(len - 2, e)?;
    let table_id = b.u8(e)?;
    b.skip(5, e)?;
    let name = get_str(b.bytes(32, e)?);
    let metadata_match = b.u64(e)?;
    let metadata_write = b.u64(e)?;
    let config = b.u32(e)?;
    let max_entries = b.u32(e)?;
    let mut properties = Vec::new();
    while !b.is_empty() {
        let kind = b.u16(e)?;
        let plen = b.u16(e)? as usize;
        if plen < 4 {
            return Err(e);
        }
        let data = b.bytes(plen - 4, e)?.to_vec();
        b.skip(pad8(plen) - plen, e)?;
        properties.push(TableFeatureProp { kind, data });
    }
    Ok(TableFeatures {
        table_id,
        name,
        metadata_match,
        metadata_write,
        config,
        max_entries,
        properties,
    })
}

pub fn encode_table_features(t: &TableFeatures, out: &mut Vec<u8>) {
    let start = out.len();
    out.u16(0);
    out.u8(t.table_id);
    out.zeros(5);
    put_str(out, &t.name, 32);
    out.u64(t.metadata_match);
    out.u64(t.metadata_write);
    out.u32(t.config);
    out.u32(t.max_entries);
    for p in &t.properties {
        let ps = out.len();
        out.u16(p.kind);
        out.u16((4 + p.data.len()) as u16);
        out.extend_from_slice(&p.data);
        out.pad8(ps);
    }
    let len = out.len() - start;
    out.set_u16(start, len as u16);
}

impl MultipartRequest {
    pub fn kind(&self) -> u16 {
        use kind::*;
        match self {
            MultipartRequest::Desc => DESC,
            MultipartRequest::Flow(_) => FLOW,
            MultipartRequest::Aggregate(_) => AGGREGATE,
            MultipartRequest::Table => TABLE,
            MultipartRequest::PortStats { .. } => PORT_STATS,
            MultipartRequest::Queue { .. } => QUEUE,
            MultipartRequest::Group { .. } => GROUP,
            MultipartRequest::GroupDesc => GROUP_DESC,
            MultipartRequest::GroupFeatures => GROUP_FEATURES,
            MultipartRequest::Meter { .. } => METER,
            MultipartRequest::MeterConfig { .. } => METER_CONFIG,
            MultipartRequest::MeterFeatures => METER_FEATURES,
            MultipartRequest::TableFeatures(_) => TABLE_FEATURES,
            MultipartRequest::PortDesc => PORT_DESC,
            MultipartRequest::Experimenter { .. } => EXPERIMENTER,
        }
    }

    pub fn decode(kind: u16, r: &mut Reader) -> Result<MultipartRequest, DecodeError> {
        use kind::*;
        let e = bad_len();
        let empty = |r: &Reader| if r.is_empty() { Ok(()) } else { Err(bad_len()) };
        let req = match kind {
            DESC => MultipartRequest::Desc,
            FLOW => MultipartRequest::Flow(decode_flow_request(r)?),
            AGGREGATE => MultipartRequest::Aggregate(decode_flow_request(r)?),
            TABLE => MultipartRequest::Table,
            PORT_STATS => {
                let port_no = r.u32(e)?;
                r.skip(4, e)?;
                MultipartRequest::PortStats { port_no }
            }
            QUEUE => MultipartRequest::Queue {
                port_no: r.u32(e)?,
                queue_id: r.u32(e)?,
            },
            GROUP => {
                let group_id = r.u32(e)?;
                r.skip(4, e)?;
                MultipartRequest::Group { group_id }
            }
            GROUP_DESC => MultipartRequest::GroupDesc,
            GROUP_FEATURES => MultipartRequest::GroupFeatures,
            METER | METER_CONFIG => {
                let meter_id = r.u32(e)?;
                r.skip(4, e)?;
                if kind == METER {
                    MultipartRequest::Meter { meter_id }
                } else {
                    MultipartRequest::MeterConfig { meter_id }
                }
            }
            METER_FEATURES => MultipartRequest::MeterFeatures,
            TABLE_FEATURES => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(decode_table_features(r)?);
                }
                MultipartRequest::TableFeatures(v)
            }
            PORT_DESC => MultipartRequest::PortDesc,
            EXPERIMENTER => MultipartRequest::Experimenter {
                id: r.u32(e)?,
                exp_type: r.u32(e)?,
                data: r.rest().to_vec(),
            },
            _ => return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_MULTIPART)),
        };
        empty(r)?;
        Ok(req)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MultipartRequest::Desc
            | MultipartRequest::Table
            | MultipartRequest::GroupDesc
            | MultipartRequest::GroupFeatures
            | MultipartRequest::MeterFeatures
            | MultipartRequest::PortDesc => {}
            MultipartRequest::Flow(f) | MultipartRequest::Aggregate(f) => {
                encode_flow_request(f, out)
            }
            MultipartRequest::PortStats { port_no } => {
                out.u32(*port_no);
                out.zeros(4);
            }
            MultipartRequest::Queue { port_no, queue_id } => {
                out.u32(*port_no);
                out.u32(*queue_id);
            }
            MultipartRequest::Group { group_id } => {
                out.u32(*group_id);
                out.zeros(4);
            }
            MultipartRequest::Meter { meter_id } | MultipartRequest::MeterConfig { meter_id } => {
                out.u32(*meter_id);
                out.zeros(4);
            }
            MultipartRequest::TableFeatures(v) => {
                for t in v {
                    encode_table_features(t, out);
                }
            }
            MultipartRequest::Experimenter { id, exp_type, data } => {
                out.u32(*id);
                out.u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }
}

const DESC_STR: usize = 256;
const SERIAL_STR: usize = 32;

impl MultipartReply {
    pub fn kind(&self) -> u16 {
        use kind::*;
        match self {
            MultipartReply::Desc(_) => DESC,
            MultipartReply::Flow(_) => FLOW,
            MultipartReply::Aggregate { .. } => AGGREGATE,
            MultipartReply::Table(_) => TABLE,
            MultipartReply::PortStats(_) => PORT_STATS,
            MultipartReply::Empty(k) => *k,
            MultipartReply::Meter(_) => METER,
            MultipartReply::MeterConfig(_) => METER_CONFIG,
            MultipartReply::Group(_) => GROUP,
            MultipartReply::GroupDesc(_) => GROUP_DESC,
            MultipartReply::GroupFeatures(_) => GROUP_FEATURES,
            MultipartReply::MeterFeatures(_) => METER_FEATURES,
            MultipartReply::TableFeatures(_) => TABLE_FEATURES,
            MultipartReply::PortDesc(_) => PORT_DESC,
            MultipartReply::Experimenter { .. } => EXPERIMENTER,
        }
    }

    pub fn decode(kind: u16, r: &mut Reader) -> Result<MultipartReply, DecodeError> {
        use kind::*;
        let e = bad_len();
        Ok(match kind {
            DESC => MultipartReply::Desc(Desc {
                mfr: get_str(r.bytes(DESC_STR, e)?),
                hw: get_str(r.bytes(DESC_STR, e)?),
                sw: get_str(r.bytes(DESC_STR, e)?),
                serial: get_str(r.bytes(SERIAL_STR, e)?),
                dp: get_str(r.bytes(DESC_STR, e)?),
            }),
            FLOW => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = r.u16(e)? as usize;
                    if len < 56 {
                        return Err(e);
                    }
                    let mut b = r.sub(len - 2, e)?;
                    let table_id = b.u8(e)?;
                    b.skip(1, e)?;
                    let duration_sec = b.u32(e)?;
                    let duration_nsec = b.u32(e)?;
                    let priority = b.u16(e)?;
                    let idle_timeout = b.u16(e)?;
                    let hard_timeout = b.u16(e)?;
                    let flags = b.u16(e)?;
                    b.skip(4, e)?;
                    let cookie = b.u64(e)?;
                    let packet_count = b.u64(e)?;
                    let byte_count = b.u64(e)?;
                    let matcher = Match::decode(&mut b)?;
                    let instructions = decode_instructions(&mut b)?;
                    v.push(FlowStats {
                        table_id,
                        duration_sec,
                        duration_nsec,
                        priority,
                        idle_timeout,
                        hard_timeout,
                        flags,
                        cookie,
                        packet_count,
                        byte_count,
                        matcher,
                        instructions,
                    });
                }
                MultipartReply::Flow(v)
            }
            AGGREGATE => {
                let packet_count = r.u64(e)?;
                let byte_count = r.u64(e)?;
                let flow_count = r.u32(e)?;
                r.skip(4, e)?;
                MultipartReply::Aggregate {
                    packet_count,
                    byte_count,
                    flow_count,
                }
            }
            TABLE => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let table_id = r.u8(e)?;
                    r.skip(3, e)?;
                    v.push(TableStats {
                        table_id,
                        active_count: r.u32(e)?,
                        lookup_count: r.u64(e)?,
                        matched_count: r.u64(e)?,
                    });
                }
                MultipartReply::Table(v)
            }
            PORT_STATS => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let port_no = r.u32(e)?;
                    r.skip(4, e)?;
                    let mut c = [0u64; 12];
                    for x in c.iter_mut() {
                        *x = r.u64(e)?;
                    }
                    v.push(PortStats {
                        port_no,
                        rx_packets: c[0],
                        tx_packets: c[1],
                        rx_bytes: c[2],
                        tx_bytes: c[3],
                        rx_dropped: c[4],
                        tx_dropped: c[5],
                        rx_errors: c[6],
                        tx_errors: c[7],
                        rx_frame_err: c[8],
                        rx_over_err: c[9],
                        rx_crc_err: c[10],
                        collisions: c[11],
                        duration_sec: r.u32(e)?,
                        duration_nsec: r.u32(e)?,
                    });
                }
                MultipartReply::PortStats(v)
            }
            QUEUE if r.is_empty() => MultipartReply::Empty(kind),
            METER => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let meter_id = r.u32(e)?;
                    let len = r.u16(e)? as usize;
                    if len < 40 || !(len - 40).is_multiple_of(16) {
                        return Err(e);
                    }
                    let mut b = r.sub(len - 6, e)?;
                    b.skip(6, e)?;
                    let flow_count = b.u32(e)?;
                    let packet_in_count = b.u64(e)?;
                    let byte_in_count = b.u64(e)?;
                    let duration_sec = b.u32(e)?;
                    let duration_nsec = b.u32(e)?;
                    let mut bands = Vec::new();
                    while !b.is_empty() {
                        bands.push((b.u64(e)?, b.u64(e)?));
                    }
                    v.push(MeterStats {
                        meter_id,
                        flow_count,
                        packet_in_count,
                        byte_in_count,
                        duration_sec,
                        duration_nsec,
                        bands,
                    });
                }
                MultipartReply::Meter(v)
            }
            METER_CONFIG => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = r.u16(e)? as usize;
                    if len < 8 || !(len - 8).is_multiple_of(16) {
                        return Err(e);
                    }
                    let mut b = r.sub(len - 2, e)?;
                    let flags = b.u16(e)?;
                    let meter_id = b.u32(e)?;
                    v.push(MeterConfig {
                        flags,
                        meter_id,
                        bands: b.rest().to_vec(),
                    });
                }
                MultipartReply::MeterConfig(v)
            }
            GROUP => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = r.u16(e)? as usize;
                    if len < 40 || !(len - 40).is_multiple_of(16) {
                        return Err(e);
                    }
                    let mut b = r.sub(len - 2, e)?;
                    b.skip(2, e)?;
                    let group_id = b.u32(e)?;
                    let ref_count = b.u32(e)?;
                    b.skip(4, e)?;
                    let packet_count = b.u64(e)?;
                    let byte_count = b.u64(e)?;
                    let duration_sec = b.u32(e)?;
                    let duration_nsec = b.u32(e)?;
                    let mut buckets = Vec::new();
                    while !b.is_empty() {
                        buckets.push((b.u64(e)?, b.u64(e)?));
                    }
                    v.push(GroupStats {
                        group_id,
                        ref_count,
                        packet_count,
                        byte_count,
                        duration_sec,
                        duration_nsec,
                        buckets,
                    });
                }
                MultipartReply::Group(v)
            }
            GROUP_DESC => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let len = r.u16(e)? as usize;
                    if len < 8 {
                        return Err(e);
                    }
                    let mut b = r.sub(len - 2, e)?;
                    let kind = b.u8(e)?;
                    b.skip(1, e)?;
                    let group_id = b.u32(e)?;
                    let mut buckets = Vec::new();
                    while !b.is_empty() {
                        buckets.push(Bucket::decode(&mut b)?);
                    }
                    v.push(GroupDesc {
                        kind,
                        group_id,
                        buckets,
                    });
                }
                MultipartReply::GroupDesc(v)
            }
            GROUP_FEATURES => {
                let types = r.u32(e)?;
                let capabilities = r.u32(e)?;
                let mut max_groups = [0u32; 4];
                for x in max_groups.iter_mut() {
                    *x = r.u32(e)?;
                }
                let mut actions = [0u32; 4];
                for x in actions.iter_mut() {
                    *x = r.u32(e)?;
                }
                MultipartReply::GroupFeatures(GroupFeatures {
                    types,
                    capabilities,
                    max_groups,
                    actions,
                })
            }
            METER_FEATURES => {
                let f = MeterFeatures {
                    max_meter: r.u32(e)?,
                    band_types: r.u32(e)?,
                    capabilities: r.u32(e)?,
                    max_bands: r.u8(e)?,
                    max_color: r.u8(e)?,
                };
                r.skip(2, e)?;
                MultipartReply::MeterFeatures(f)
            }
            TABLE_FEATURES => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(decode_table_features(r)?);
                }
                MultipartReply::TableFeatures(v)
            }
            PORT_DESC => {
                if !r.remaining().is_multiple_of(PORT_DESC_LEN) {
                    return Err(e);
                }
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(PortDesc::decode(r)?);
                }
                MultipartReply::PortDesc(v)
            }
            EXPERIMENTER => MultipartReply::Experimenter {
                id: r.u32(e)?,
                exp_type: r.u32(e)?,
                data: r.rest().to_vec(),
            },
            _ => return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_MULTIPART)),
        })
        .and_then(|m| if r.is_empty() { Ok(m) } else { Err(bad_len()) })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MultipartReply::Desc(d) => {
                put_str(out, &d.mfr, DESC_STR);
                put_str(out, &d.hw, DESC_STR);
                put_str(out, &d.sw, DESC_STR);
                put_str(out, &d.serial, SERIAL_STR);
                put_str(out, &d.dp, DESC_STR);
            }
            MultipartReply::Flow(v) => {
                for f in v {
                    encode_flow_stats(f, out);
                }
            }
            MultipartReply::Aggregate {
                packet_count,
                byte_count,
                flow_count,
            } => {
                out.u64(*packet_count);
                out.u64(*byte_count);
                out.u32(*flow_count);
                out.zeros(4);
            }
            MultipartReply::Table(v) => {
                for t in v {
                    out.u8(t.table_id);
                    out.zeros(3);
                    out.u32(t.active_count);
                    out.u64(t.lookup_count);
                    out.u64(t.matched_count);
                }
            }
            MultipartReply::PortStats(v) => {
                for p in v {
                    out.u32(p.port_no);
                    out.zeros(4);
                    for x in [
                        p.rx_packets,
                        p.tx_packets,
                        p.rx_bytes,
                        p.tx_bytes,
                        p.rx_dropped,
                        p.tx_dropped,
                        p.rx_errors,
                        p.tx_errors,
                        p.rx_frame_err,
                        p.rx_over_err,
                        p.rx_crc_err,
                        p.collisions,
                    ] {
                        out.u64(x);
                    }
                    out.u32(p.duration_sec);
                    out.u32(p.duration_nsec);
                }
            }
            MultipartReply::Empty(_) => {}
            MultipartReply::Meter(v) => {
                for m in v {
                    out.u32(m.meter_id);
                    out.u16((40 + 16 * m.bands.len()) as u16);
                    out.zeros(6);
                    out.u32(m.flow_count);
                    out.u64(m.packet_in_count);
                    out.u64(m.byte_in_count);
                    out.u32(m.duration_sec);
                    out.u32(m.duration_nsec);
                    for (p, b) in &m.bands {
                        out.u64(*p);
                        out.u64(*b);
                    }
                }
            }
            MultipartReply::MeterConfig(v) => {
                for m in v {
                    out.u16((8 + m.bands.len()) as u16);
                    out.u16(m.flags);
                    out.u32(m.meter_id);
                    out.extend_from_slice(&m.bands);
                }
            }
            MultipartReply::Group(v) => {
                for g in v {
                    out.u16((40 + 16 * g.buckets.len()) as u16);
                    out.zeros(2);
                    out.u32(g.group_id);
                    out.u32(g.ref_count);
                    out.zeros(4);
                    out.u64(g.packet_count);
                    out.u64(g.byte_count);
                    out.u32(g.duration_sec);
                    out.u32(g.duration_nsec);
                    for (p, b) in &g.buckets {
                        out.u64(*p);
                        out.u64(*b);
                    }
                }
            }
            MultipartReply::GroupDesc(v) => {
                for g in v {
                    let start = out.len();
                    out.u16(0);
                    out.u8(g.kind);
                    out.zeros(1);
                    out.u32(g.group_id);
                    for b in &g.buckets {
                        b.encode(out);
                    }
                    let len = out.len() - start;
                    out.set_u16(start, len as u16);
                }
            }
            MultipartReply::GroupFeatures(f) => {
                out.u32(f.types);
                out.u32(f.capabilities);
                for x in f.max_groups.iter().chain(&f.actions) {
                    out.u32(*x);
                }
            }
            MultipartReply::MeterFeatures(f) => {
                out.u32(f.max_meter);
                out.u32(f.band_types);
                out.u32(f.capabilities);
                out.u8(f.max_bands);
                out.u8(f.max_color);
                out.zeros(2);
            }
            MultipartReply::TableFeatures(v) => {
                for t in v {
                    encode_table_features(t, out);
                }
            }
            MultipartReply::PortDesc(v) => {
                for p in v {
                    p.encode(out);
                }
            }
            MultipartReply::Experimenter { id, exp_type, data } => {
                out.u32(*id);
                out.u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }
}

pub fn encode_flow_stats(f: &FlowStats, out: &mut Vec<u8>) {
    let start = out.len();
    out.u16(0);
    out.u8(f.table_id);
    out.zeros(1);
    out.u32(f.duration_sec);
    out.u32(f.duration_nsec);
    out.u16(f.priority);
    out.u16(f.idle_timeout);
    out.u16(f.hard_timeout);
    out.u16(f.flags);
    out.zeros(4);
    out.u64(f.cookie);
    out.u64(f.packet_count);
    out.u64(f.byte_count);
    f.matcher.encode(out);
    encode_instructions(&f.instructions, out);
    let len = out.len() - start;
    out.set_u16(start, len as u16);
}
