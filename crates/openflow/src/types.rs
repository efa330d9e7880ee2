//! The structures messages are made of: OXM fields and matches, actions,
//! instructions, group buckets, port descriptions.

use crate::err::*;
use crate::wire::{pad8, Put, Reader};
use crate::DecodeError;

/// The OXM class of OpenFlow's own fields.
pub const OXM_OPENFLOW_BASIC: u16 = 0x8000;

/// One OXM TLV: a field, its value and (when `hasmask`) a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oxm {
    pub class: u16,
    pub field: u8,
    pub value: Vec<u8>,
    pub mask: Option<Vec<u8>>,
}

impl Oxm {
    pub fn basic(field: u8, value: Vec<u8>, mask: Option<Vec<u8>>) -> Oxm {
        Oxm {
            class: OXM_OPENFLOW_BASIC,
            field,
            value,
            mask,
        }
    }

    pub fn wire_len(&self) -> usize {
        4 + self.value.len() + self.mask.as_ref().map_or(0, |m| m.len())
    }

    pub fn decode(r: &mut Reader, bad: DecodeError) -> Result<Oxm, DecodeError> {
        let class = r.u16(bad)?;
        let fh = r.u8(bad)?;
        let len = r.u8(bad)? as usize;
        let (field, hasmask) = (fh >> 1, fh & 1 == 1);
        let body = r.bytes(len, bad)?;
        if hasmask {
            if !len.is_multiple_of(2) || len == 0 {
                return Err(bad);
            }
            let (v, m) = body.split_at(len / 2);
            Ok(Oxm {
                class,
                field,
                value: v.to_vec(),
                mask: Some(m.to_vec()),
            })
        } else {
            Ok(Oxm {
                class,
                field,
                value: body.to_vec(),
                mask: None,
            })
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u16(self.class);
        out.u8((self.field << 1) | self.mask.is_some() as u8);
        out.u8((self.value.len() + self.mask.as_ref().map_or(0, |m| m.len())) as u8);
        out.extend_from_slice(&self.value);
        if let Some(m) = &self.mask {
            out.extend_from_slice(m);
        }
    }
}

/// `ofp_match` of type OXM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Match {
    pub fields: Vec<Oxm>,
}

const OFPMT_OXM: u16 = 1;

impl Match {
    /// Length on the wire, padding included.
    pub fn wire_len(&self) -> usize {
        pad8(4 + self.fields.iter().map(Oxm::wire_len).sum::<usize>())
    }

    pub fn decode(r: &mut Reader) -> Result<Match, DecodeError> {
        let short = DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_LEN);
        let kind = r.u16(short)?;
        let len = r.u16(short)? as usize;
        if kind != OFPMT_OXM {
            return Err(DecodeError::new(BAD_MATCH, BAD_MATCH_BAD_TYPE));
        }
        if len < 4 {
            return Err(short);
        }
        let mut body = r.sub(len - 4, short)?;
        r.skip(pad8(len) - len, short)?;
        let mut fields = Vec::new();
        while !body.is_empty() {
            fields.push(Oxm::decode(&mut body, short)?);
        }
        Ok(Match { fields })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.u16(OFPMT_OXM);
        out.u16(0);
        for f in &self.fields {
            f.encode(out);
        }
        let len = out.len() - start;
        out.set_u16(start + 2, len as u16);
        out.pad8(start);
    }
}

/// An action (`ofp_action_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Output {
        port: u32,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    SetField(Oxm),
    PushPbb(u16),
    PopPbb,
    /// `data` is what follows the experimenter id, padding included.
    Experimenter {
        id: u32,
        data: Vec<u8>,
    },
}

pub mod action_type {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
    pub const EXPERIMENTER: u16 = 0xffff;
}

impl Action {
    pub fn decode(r: &mut Reader) -> Result<Action, DecodeError> {
        use action_type::*;
        let bad_len = DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_LEN);
        let kind = r.u16(bad_len)?;
        let len = r.u16(bad_len)? as usize;
        if len < 8 || !len.is_multiple_of(8) {
            return Err(bad_len);
        }
        let mut b = r.sub(len - 4, bad_len)?;
        let fixed = |want: usize| if len == want { Ok(()) } else { Err(bad_len) };
        let a = match kind {
            OUTPUT => {
                fixed(16)?;
                let port = b.u32(bad_len)?;
                let max_len = b.u16(bad_len)?;
                Action::Output { port, max_len }
            }
            COPY_TTL_OUT => {
                fixed(8)?;
                Action::CopyTtlOut
            }
            COPY_TTL_IN => {
                fixed(8)?;
                Action::CopyTtlIn
            }
            SET_MPLS_TTL => {
                fixed(8)?;
                Action::SetMplsTtl(b.u8(bad_len)?)
            }
            DEC_MPLS_TTL => {
                fixed(8)?;
                Action::DecMplsTtl
            }
            PUSH_VLAN => {
                fixed(8)?;
                Action::PushVlan(b.u16(bad_len)?)
            }
            POP_VLAN => {
                fixed(8)?;
                Action::PopVlan
            }
            PUSH_MPLS => {
                fixed(8)?;
                Action::PushMpls(b.u16(bad_len)?)
            }
            POP_MPLS => {
                fixed(8)?;
                Action::PopMpls(b.u16(bad_len)?)
            }
            SET_QUEUE => {
                fixed(8)?;
                Action::SetQueue(b.u32(bad_len)?)
            }
            GROUP => {
                fixed(8)?;
                Action::Group(b.u32(bad_len)?)
            }
            SET_NW_TTL => {
                fixed(8)?;
                Action::SetNwTtl(b.u8(bad_len)?)
            }
            DEC_NW_TTL => {
                fixed(8)?;
                Action::DecNwTtl
            }
            SET_FIELD => {
                let bad = DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_SET_LEN);
                let oxm = Oxm::decode(&mut b, bad)?;
                if pad8(4 + oxm.wire_len()) != len {
                    return Err(bad);
                }
                Action::SetField(oxm)
            }
            PUSH_PBB => {
                fixed(8)?;
                Action::PushPbb(b.u16(bad_len)?)
            }
            POP_PBB => {
                fixed(8)?;
                Action::PopPbb
            }
            EXPERIMENTER => {
                let id = b.u32(bad_len)?;
                Action::Experimenter {
                    id,
                    data: b.rest().to_vec(),
                }
            }
            _ => return Err(DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_TYPE)),
        };
        Ok(a)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        use action_type::*;
        let start = out.len();
        let head = |out: &mut Vec<u8>, kind: u16| {
            out.u16(kind);
            out.u16(0);
        };
        match self {
            Action::Output { port, max_len } => {
                head(out, OUTPUT);
                out.u32(*port);
                out.u16(*max_len);
                out.zeros(6);
            }
            Action::CopyTtlOut => {
                head(out, COPY_TTL_OUT);
                out.zeros(4);
            }
            Action::CopyTtlIn => {
                head(out, COPY_TTL_IN);
                out.zeros(4);
            }
            Action::SetMplsTtl(t) => {
                head(out, SET_MPLS_TTL);
                out.u8(*t);
                out.zeros(3);
            }
            Action::DecMplsTtl => {
                head(out, DEC_MPLS_TTL);
                out.zeros(4);
            }
            Action::PushVlan(t) => {
                head(out, PUSH_VLAN);
                out.u16(*t);
                out.zeros(2);
            }
            Action::PopVlan => {
                head(out, POP_VLAN);
                out.zeros(4);
            }
            Action::PushMpls(t) => {
                head(out, PUSH_MPLS);
                out.u16(*t);
                out.zeros(2);
            }
            Action::PopMpls(t) => {
                head(out, POP_MPLS);
                out.u16(*t);
                out.zeros(2);
            }
            Action::SetQueue(q) => {
                head(out, SET_QUEUE);
                out.u32(*q);
            }
            Action::Group(g) => {
                head(out, GROUP);
                out.u32(*g);
            }
            Action::SetNwTtl(t) => {
                head(out, SET_NW_TTL);
                out.u8(*t);
                out.zeros(3);
            }
            Action::DecNwTtl => {
                head(out, DEC_NW_TTL);
                out.zeros(4);
            }
            Action::SetField(oxm) => {
                head(out, SET_FIELD);
                oxm.encode(out);
                out.pad8(start);
            }
            Action::PushPbb(t) => {
                head(out, PUSH_PBB);
                out.u16(*t);
                out.zeros(2);
            }
            Action::PopPbb => {
                head(out, POP_PBB);
                out.zeros(4);
            }
            Action::Experimenter { id, data } => {
                head(out, EXPERIMENTER);
                out.u32(*id);
                out.extend_from_slice(data);
                out.pad8(start);
            }
        }
        let len = out.len() - start;
        out.set_u16(start + 2, len as u16);
    }
}

/// Reads items until the reader is empty (action and instruction lists).
fn decode_all<T>(
    r: &mut Reader,
    one: fn(&mut Reader) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(one(r)?);
    }
    Ok(v)
}

pub fn decode_actions(r: &mut Reader) -> Result<Vec<Action>, DecodeError> {
    decode_all(r, Action::decode)
}

pub fn encode_actions(actions: &[Action], out: &mut Vec<u8>) {
    actions.iter().for_each(|a| a.encode(out));
}

/// An instruction (`ofp_instruction_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata { metadata: u64, mask: u64 },
    WriteActions(Vec<Action>),
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
    Experimenter { id: u32, data: Vec<u8> },
}

impl Instruction {
    pub fn decode(r: &mut Reader) -> Result<Instruction, DecodeError> {
        let bad_len = DecodeError::new(BAD_INSTRUCTION, BAD_INSTRUCTION_BAD_LEN);
        let kind = r.u16(bad_len)?;
        let len = r.u16(bad_len)? as usize;
        if len < 8 || !len.is_multiple_of(8) {
            return Err(bad_len);
        }
        let mut b = r.sub(len - 4, bad_len)?;
        let fixed = |want: usize| if len == want { Ok(()) } else { Err(bad_len) };
        Ok(match kind {
            1 => {
                fixed(8)?;
                Instruction::GotoTable(b.u8(bad_len)?)
            }
            2 => {
                fixed(24)?;
                b.skip(4, bad_len)?;
                Instruction::WriteMetadata {
                    metadata: b.u64(bad_len)?,
                    mask: b.u64(bad_len)?,
                }
            }
            3..=5 => {
                b.skip(4, bad_len)?;
                let actions = decode_actions(&mut b)?;
                match kind {
                    3 => Instruction::WriteActions(actions),
                    4 => Instruction::ApplyActions(actions),
                    _ if actions.is_empty() => Instruction::ClearActions,
                    _ => return Err(bad_len),
                }
            }
            6 => {
                fixed(8)?;
                Instruction::Meter(b.u32(bad_len)?)
            }
            0xffff => {
                let id = b.u32(bad_len)?;
                Instruction::Experimenter {
                    id,
                    data: b.rest().to_vec(),
                }
            }
            _ => {
                return Err(DecodeError::new(
                    BAD_INSTRUCTION,
                    BAD_INSTRUCTION_UNKNOWN_INST,
                ))
            }
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let head = |out: &mut Vec<u8>, kind: u16| {
            out.u16(kind);
            out.u16(0);
        };
        match self {
            Instruction::GotoTable(t) => {
                head(out, 1);
                out.u8(*t);
                out.zeros(3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                head(out, 2);
                out.zeros(4);
                out.u64(*metadata);
                out.u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                head(
                    out,
                    if matches!(self, Instruction::WriteActions(_)) {
                        3
                    } else {
                        4
                    },
                );
                out.zeros(4);
                encode_actions(a, out);
            }
            Instruction::ClearActions => {
                head(out, 5);
                out.zeros(4);
            }
            Instruction::Meter(m) => {
                head(out, 6);
                out.u32(*m);
            }
            Instruction::Experimenter { id, data } => {
                head(out, 0xffff);
                out.u32(*id);
                out.extend_from_slice(data);
                out.pad8(start);
            }
        }
        let len = out.len() - start;
        out.set_u16(start + 2, len as u16);
    }
}

pub fn decode_instructions(r: &mut Reader) -> Result<Vec<Instruction>, DecodeError> {
    decode_all(r, Instruction::decode)
}

pub fn encode_instructions(list: &[Instruction], out: &mut Vec<u8>) {
    list.iter().for_each(|i| i.encode(out));
}

/// A group bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    pub fn decode(r: &mut Reader) -> Result<Bucket, DecodeError> {
        let bad = DecodeError::new(GROUP_MOD_FAILED, GROUP_MOD_FAILED_BAD_BUCKET);
        let len = r.u16(bad)? as usize;
        if len < 16 || !len.is_multiple_of(8) {
            return Err(bad);
        }
        let mut b = r.sub(len - 2, bad)?;
        let weight = b.u16(bad)?;
        let watch_port = b.u32(bad)?;
        let watch_group = b.u32(bad)?;
        b.skip(4, bad)?;
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: decode_actions(&mut b)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.u16(0);
        out.u16(self.weight);
        out.u32(self.watch_port);
        out.u32(self.watch_group);
        out.zeros(4);
        encode_actions(&self.actions, out);
        let len = out.len() - start;
        out.set_u16(start, len as u16);
    }
}

/// `ofp_port`: a port's description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortDesc {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    /// At most 15 bytes on the wire.
    pub name: String,
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    pub curr_speed: u32,
    pub max_speed: u32,
}

pub const PORT_DESC_LEN: usize = 64;

/// A NUL-padded fixed-size string field.
pub fn put_str(out: &mut Vec<u8>, s: &str, size: usize) {
    let b = fit(s, size - 1).as_bytes();
    out.extend_from_slice(b);
    out.zeros(size - b.len());
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character.
fn fit(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// A NUL-padded string field: up to its first NUL, as UTF-8 (invalid bytes
/// replaced), cut to what `put_str` writes back (the field less its NUL),
/// so a string read and written again reads the same.
pub fn get_str(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]);
    fit(&s, b.len().saturating_sub(1)).to_string()
}

impl PortDesc {
    pub fn decode(r: &mut Reader) -> Result<PortDesc, DecodeError> {
        let bad = DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_LEN);
        let mut b = r.sub(PORT_DESC_LEN, bad)?;
        let port_no = b.u32(bad)?;
        b.skip(4, bad)?;
        let mut hw_addr = [0u8; 6];
        hw_addr.copy_from_slice(b.bytes(6, bad)?);
        b.skip(2, bad)?;
        let name = get_str(b.bytes(16, bad)?);
        Ok(PortDesc {
            port_no,
            hw_addr,
            name,
            config: b.u32(bad)?,
            state: b.u32(bad)?,
            curr: b.u32(bad)?,
            advertised: b.u32(bad)?,
            supported: b.u32(bad)?,
            peer: b.u32(bad)?,
            curr_speed: b.u32(bad)?,
            max_speed: b.u32(bad)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.port_no);
        out.zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.zeros(2);
        put_str(out, &self.name, 16);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.u32(v);
        }
    }
}
