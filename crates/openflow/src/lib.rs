//! OpenFlow 1.3 (wire version 0x04), both directions.
//!
//! No Rust crate covers OpenFlow 1.3 well enough to build a switch on, so
//! this is vepa's own codec. [`decode`] takes exactly one message (use
//! [`frame_len`] to cut a stream into messages) and never panics: anything
//! short, long or unknown is a [`DecodeError`] that carries the OpenFlow
//! error type and code to answer with. [`Message::encode`] writes what
//! `decode` reads back equal (a property test holds it to that).
//! [`convert`] maps matches, instructions and groups to and from the
//! dataplane's flow types.

#![forbid(unsafe_code)]

mod body;
pub mod convert;
pub mod err;
pub mod multipart;
#[cfg(test)]
mod tests;
pub mod types;
pub mod wire;

pub use body::{
    flow_mod_command, role, AsyncConfig, FlowMod, FlowRemoved, GroupMod, PacketIn, PacketOut,
    PortMod, Role, SwitchConfig,
};
pub use err::DecodeError;
pub use multipart::{MultipartReply, MultipartRequest};
pub use types::{Action, Bucket, Instruction, Match, Oxm, PortDesc};

use err::*;
use wire::{Put, Reader};

pub const VERSION: u8 = 0x04;
pub const HEADER_LEN: usize = 8;
/// The largest message: the length field is 16 bits.
pub const MAX_LEN: usize = 0xffff;

/// Reserved port numbers (`ofp_port_no`).
pub mod port {
    pub const MAX: u32 = 0xffff_ff00;
    pub const IN_PORT: u32 = 0xffff_fff8;
    pub const TABLE: u32 = 0xffff_fff9;
    pub const NORMAL: u32 = 0xffff_fffa;
    pub const FLOOD: u32 = 0xffff_fffb;
    pub const ALL: u32 = 0xffff_fffc;
    pub const CONTROLLER: u32 = 0xffff_fffd;
    pub const LOCAL: u32 = 0xffff_fffe;
    pub const ANY: u32 = 0xffff_ffff;
}

/// `OFPG_ANY` / `OFPG_ALL`.
pub const GROUP_ANY: u32 = 0xffff_ffff;
pub const GROUP_ALL: u32 = 0xffff_fffc;
/// `OFP_NO_BUFFER`.
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// `OFPTT_ALL`.
pub const TABLE_ALL: u8 = 0xff;
/// `OFPCML_NO_BUFFER`: send the whole packet to the controller.
pub const CML_NO_BUFFER: u16 = 0xffff;

pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const QUEUE_GET_CONFIG_REQUEST: u8 = 22;
    pub const QUEUE_GET_CONFIG_REPLY: u8 = 23;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;
}

pub(crate) fn bad_len() -> DecodeError {
    DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_LEN)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub msg_type: u8,
    pub length: u16,
    pub xid: u32,
}

/// How long the message at the start of `buf` is: `None` until its header
/// is there; an error when the length field is below the header's own
/// (the stream cannot be cut into messages any more).
pub fn frame_len(buf: &[u8]) -> Option<Result<usize, DecodeError>> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    Some(if len < HEADER_LEN {
        Err(bad_len())
    } else {
        Ok(len)
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `versions`: the version bitmap's words, when the hello has one.
    Hello {
        versions: Option<Vec<u32>>,
    },
    Error {
        err_type: u16,
        code: u16,
        data: Vec<u8>,
    },
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter {
        id: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    FeaturesRequest,
    FeaturesReply {
        datapath_id: u64,
        n_buffers: u32,
        n_tables: u8,
        auxiliary_id: u8,
        capabilities: u32,
    },
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus {
        reason: u8,
        desc: PortDesc,
    },
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod {
        table_id: u8,
        config: u32,
    },
    MultipartRequest {
        flags: u16,
        body: MultipartRequest,
    },
    MultipartReply {
        flags: u16,
        body: MultipartReply,
    },
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest {
        port: u32,
    },
    /// vepa has no queues: the reply lists none.
    QueueGetConfigReply {
        port: u32,
    },
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    /// Kept whole: vepa has no meters and refuses every meter change.
    MeterMod {
        command: u16,
        flags: u16,
        meter_id: u32,
        bands: Vec<u8>,
    },
}

impl Message {
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            Message::Hello { .. } => HELLO,
            Message::Error { .. } => ERROR,
            Message::EchoRequest(_) => ECHO_REQUEST,
            Message::EchoReply(_) => ECHO_REPLY,
            Message::Experimenter { .. } => EXPERIMENTER,
            Message::FeaturesRequest => FEATURES_REQUEST,
            Message::FeaturesReply { .. } => FEATURES_REPLY,
            Message::GetConfigRequest => GET_CONFIG_REQUEST,
            Message::GetConfigReply(_) => GET_CONFIG_REPLY,
            Message::SetConfig(_) => SET_CONFIG,
            Message::PacketIn(_) => PACKET_IN,
            Message::FlowRemoved(_) => FLOW_REMOVED,
            Message::PortStatus { .. } => PORT_STATUS,
            Message::PacketOut(_) => PACKET_OUT,
            Message::FlowMod(_) => FLOW_MOD,
            Message::GroupMod(_) => GROUP_MOD,
            Message::PortMod(_) => PORT_MOD,
            Message::TableMod { .. } => TABLE_MOD,
            Message::MultipartRequest { .. } => MULTIPART_REQUEST,
            Message::MultipartReply { .. } => MULTIPART_REPLY,
            Message::BarrierRequest => BARRIER_REQUEST,
            Message::BarrierReply => BARRIER_REPLY,
            Message::QueueGetConfigRequest { .. } => QUEUE_GET_CONFIG_REQUEST,
            Message::QueueGetConfigReply { .. } => QUEUE_GET_CONFIG_REPLY,
            Message::RoleRequest(_) => ROLE_REQUEST,
            Message::RoleReply(_) => ROLE_REPLY,
            Message::GetAsyncRequest => GET_ASYNC_REQUEST,
            Message::GetAsyncReply(_) => GET_ASYNC_REPLY,
            Message::SetAsync(_) => SET_ASYNC,
            Message::MeterMod { .. } => METER_MOD,
        }
    }

    /// Appends the message with header `xid` to `out`. A body too large
    /// for the 16-bit length is the caller's to avoid (multipart replies
    /// are split before they get here).
    pub fn encode(&self, xid: u32, out: &mut Vec<u8>) {
        let start = out.len();
        out.u8(VERSION);
        out.u8(self.msg_type());
        out.u16(0);
        out.u32(xid);
        self.encode_body(out);
        let len = (out.len() - start).min(MAX_LEN);
        out.set_u16(start + 2, len as u16);
    }

    pub fn to_bytes(&self, xid: u32) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(xid, &mut v);
        v
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello { versions } => {
                if let Some(words) = versions {
                    out.u16(1);
                    out.u16((4 + 4 * words.len()) as u16);
                    for w in words {
                        out.u32(*w);
                    }
                    let start = out.len() - 4 - 4 * words.len();
                    out.pad8(start);
                }
            }
            Message::Error {
                err_type,
                code,
                data,
            } => {
                out.u16(*err_type);
                out.u16(*code);
                out.extend_from_slice(data);
            }
            Message::EchoRequest(d) | Message::EchoReply(d) => out.extend_from_slice(d),
            Message::Experimenter { id, exp_type, data } => {
                out.u32(*id);
                out.u32(*exp_type);
                out.extend_from_slice(data);
            }
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply {
                datapath_id,
                n_buffers,
                n_tables,
                auxiliary_id,
                capabilities,
            } => {
                out.u64(*datapath_id);
                out.u32(*n_buffers);
                out.u8(*n_tables);
                out.u8(*auxiliary_id);
                out.zeros(2);
                out.u32(*capabilities);
                out.u32(0);
            }
            Message::GetConfigReply(c) | Message::SetConfig(c) => c.encode(out),
            Message::PacketIn(p) => p.encode(out),
            Message::FlowRemoved(f) => f.encode(out),
            Message::PortStatus { reason, desc } => {
                out.u8(*reason);
                out.zeros(7);
                desc.encode(out);
            }
            Message::PacketOut(p) => p.encode(out),
            Message::FlowMod(f) => f.encode(out),
            Message::GroupMod(g) => g.encode(out),
            Message::PortMod(p) => p.encode(out),
            Message::TableMod { table_id, config } => {
                out.u8(*table_id);
                out.zeros(3);
                out.u32(*config);
            }
            Message::MultipartRequest { flags, body } => {
                out.u16(body.kind());
                out.u16(*flags);
                out.zeros(4);
                body.encode(out);
            }
            Message::MultipartReply { flags, body } => {
                out.u16(body.kind());
                out.u16(*flags);
                out.zeros(4);
                body.encode(out);
            }
            Message::QueueGetConfigRequest { port } | Message::QueueGetConfigReply { port } => {
                out.u32(*port);
                out.zeros(4);
            }
            Message::RoleRequest(r) | Message::RoleReply(r) => r.encode(out),
            Message::GetAsyncReply(a) | Message::SetAsync(a) => a.encode(out),
            Message::MeterMod {
                command,
                flags,
                meter_id,
                bands,
            } => {
                out.u16(*command);
                out.u16(*flags);
                out.u32(*meter_id);
                out.extend_from_slice(bands);
            }
        }
    }
}

/// Reads one whole message (`buf.len()` must be its length field). HELLO
/// is read at any version; everything else must be 1.3.
pub fn decode(buf: &[u8]) -> Result<(Header, Message), DecodeError> {
    let mut r = Reader::new(buf);
    let e = bad_len();
    let h = Header {
        version: r.u8(e)?,
        msg_type: r.u8(e)?,
        length: r.u16(e)?,
        xid: r.u32(e)?,
    };
    if h.length as usize != buf.len() {
        return Err(e);
    }
    if h.msg_type != msg_type::HELLO && h.version != VERSION {
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_VERSION));
    }
    let m = decode_body(h.msg_type, &mut r)?;
    if !r.is_empty() {
        return Err(e);
    }
    Ok((h, m))
}

pub(crate) fn exact(r: &Reader, n: usize) -> Result<(), DecodeError> {
    if r.remaining() == n {
        Ok(())
    } else {
        Err(bad_len())
    }
}

fn decode_body(t: u8, r: &mut Reader) -> Result<Message, DecodeError> {
    use msg_type::*;
    let e = bad_len();
    Ok(match t {
        HELLO => {
            let mut versions = None;
            while r.remaining() >= 4 {
                let kind = r.u16(e)?;
                let len = r.u16(e)? as usize;
                if len < 4 {
                    return Err(e);
                }
                let mut b = r.sub(len - 4, e)?;
                r.skip(wire::pad8(len) - len, e)?;
                if kind == 1 {
                    let mut words = Vec::new();
                    while b.remaining() >= 4 {
                        words.push(b.u32(e)?);
                    }
                    versions = Some(words);
                }
            }
            // Trailing bytes of a hello from a later version are allowed.
            r.rest();
            Message::Hello { versions }
        }
        ERROR => Message::Error {
            err_type: r.u16(e)?,
            code: r.u16(e)?,
            data: r.rest().to_vec(),
        },
        ECHO_REQUEST => Message::EchoRequest(r.rest().to_vec()),
        ECHO_REPLY => Message::EchoReply(r.rest().to_vec()),
        EXPERIMENTER => Message::Experimenter {
            id: r.u32(e)?,
            exp_type: r.u32(e)?,
            data: r.rest().to_vec(),
        },
        FEATURES_REQUEST => {
            exact(r, 0)?;
            Message::FeaturesRequest
        }
        FEATURES_REPLY => {
            exact(r, 24)?;
            let datapath_id = r.u64(e)?;
            let n_buffers = r.u32(e)?;
            let n_tables = r.u8(e)?;
            let auxiliary_id = r.u8(e)?;
            r.skip(2, e)?;
            let capabilities = r.u32(e)?;
            r.skip(4, e)?;
            Message::FeaturesReply {
                datapath_id,
                n_buffers,
                n_tables,
                auxiliary_id,
                capabilities,
            }
        }
        GET_CONFIG_REQUEST => {
            exact(r, 0)?;
            Message::GetConfigRequest
        }
        GET_CONFIG_REPLY | SET_CONFIG => {
            let c = SwitchConfig::decode(r)?;
            if t == SET_CONFIG {
                Message::SetConfig(c)
            } else {
                Message::GetConfigReply(c)
            }
        }
        PACKET_IN => Message::PacketIn(PacketIn::decode(r)?),
        FLOW_REMOVED => Message::FlowRemoved(FlowRemoved::decode(r)?),
        PORT_STATUS => {
            exact(r, 8 + types::PORT_DESC_LEN)?;
            let reason = r.u8(e)?;
            r.skip(7, e)?;
            Message::PortStatus {
                reason,
                desc: PortDesc::decode(r)?,
            }
        }
        PACKET_OUT => Message::PacketOut(PacketOut::decode(r)?),
        FLOW_MOD => Message::FlowMod(FlowMod::decode(r)?),
        GROUP_MOD => Message::GroupMod(GroupMod::decode(r)?),
        PORT_MOD => Message::PortMod(PortMod::decode(r)?),
        TABLE_MOD => {
            exact(r, 8)?;
            let table_id = r.u8(e)?;
            r.skip(3, e)?;
            Message::TableMod {
                table_id,
                config: r.u32(e)?,
            }
        }
        MULTIPART_REQUEST | MULTIPART_REPLY => {
            let kind = r.u16(e)?;
            let flags = r.u16(e)?;
            r.skip(4, e)?;
            if t == MULTIPART_REQUEST {
                Message::MultipartRequest {
                    flags,
                    body: MultipartRequest::decode(kind, r)?,
                }
            } else {
                Message::MultipartReply {
                    flags,
                    body: MultipartReply::decode(kind, r)?,
                }
            }
        }
        BARRIER_REQUEST => {
            exact(r, 0)?;
            Message::BarrierRequest
        }
        BARRIER_REPLY => {
            exact(r, 0)?;
            Message::BarrierReply
        }
        QUEUE_GET_CONFIG_REQUEST | QUEUE_GET_CONFIG_REPLY => {
            exact(r, 8)?;
            let port = r.u32(e)?;
            r.skip(4, e)?;
            if t == QUEUE_GET_CONFIG_REQUEST {
                Message::QueueGetConfigRequest { port }
            } else {
                Message::QueueGetConfigReply { port }
            }
        }
        ROLE_REQUEST | ROLE_REPLY => {
            let x = Role::decode(r)?;
            if t == ROLE_REQUEST {
                Message::RoleRequest(x)
            } else {
                Message::RoleReply(x)
            }
        }
        GET_ASYNC_REQUEST => {
            exact(r, 0)?;
            Message::GetAsyncRequest
        }
        GET_ASYNC_REPLY | SET_ASYNC => {
            let a = AsyncConfig::decode(r)?;
            if t == SET_ASYNC {
                Message::SetAsync(a)
            } else {
                Message::GetAsyncReply(a)
            }
        }
        METER_MOD => Message::MeterMod {
            command: r.u16(e)?,
            flags: r.u16(e)?,
            meter_id: r.u32(e)?,
            bands: r.rest().to_vec(),
        },
        _ => return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_TYPE)),
    })
}

/// The ERROR message that answers a message this switch could not take:
/// its type and code, and the first 64 bytes of the offending message.
pub fn error_for(e: DecodeError, offending: &[u8]) -> Message {
    Message::Error {
        err_type: e.err_type,
        code: e.code,
        data: offending[..offending.len().min(64)].to_vec(),
    }
}
