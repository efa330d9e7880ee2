//! The bodies of the OpenFlow messages that carry a structure of their
//! own: each type with its encoder and decoder side by side, so a message
//! is read and written in one place. `Message::encode_body` and
//! `decode_body` (lib.rs) only pick the type.

use crate::err::*;
use crate::types::{decode_actions, decode_instructions, encode_actions, encode_instructions};
use crate::wire::{Put, Reader};
use crate::{bad_len, exact, Action, Bucket, DecodeError, Instruction, Match};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u16(self.flags);
        out.u16(self.miss_send_len);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<SwitchConfig, DecodeError> {
        let e = bad_len();
        exact(r, 4)?;
        Ok(SwitchConfig {
            flags: r.u16(e)?,
            miss_send_len: r.u16(e)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub matcher: Match,
    pub data: Vec<u8>,
}

impl PacketIn {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.buffer_id);
        out.u16(self.total_len);
        out.u8(self.reason);
        out.u8(self.table_id);
        out.u64(self.cookie);
        self.matcher.encode(out);
        out.zeros(2);
        out.extend_from_slice(&self.data);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<PacketIn, DecodeError> {
        let e = bad_len();
        let buffer_id = r.u32(e)?;
        let total_len = r.u16(e)?;
        let reason = r.u8(e)?;
        let table_id = r.u8(e)?;
        let cookie = r.u64(e)?;
        let matcher = Match::decode(r)?;
        r.skip(2, e)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            matcher,
            data: r.rest().to_vec(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub matcher: Match,
}

impl FlowRemoved {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u64(self.cookie);
        out.u16(self.priority);
        out.u8(self.reason);
        out.u8(self.table_id);
        out.u32(self.duration_sec);
        out.u32(self.duration_nsec);
        out.u16(self.idle_timeout);
        out.u16(self.hard_timeout);
        out.u64(self.packet_count);
        out.u64(self.byte_count);
        self.matcher.encode(out);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<FlowRemoved, DecodeError> {
        let e = bad_len();
        Ok(FlowRemoved {
            cookie: r.u64(e)?,
            priority: r.u16(e)?,
            reason: r.u8(e)?,
            table_id: r.u8(e)?,
            duration_sec: r.u32(e)?,
            duration_nsec: r.u32(e)?,
            idle_timeout: r.u16(e)?,
            hard_timeout: r.u16(e)?,
            packet_count: r.u64(e)?,
            byte_count: r.u64(e)?,
            matcher: Match::decode(r)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    pub buffer_id: u32,
    pub in_port: u32,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.buffer_id);
        out.u32(self.in_port);
        let at = out.len();
        out.u16(0);
        out.zeros(6);
        let a0 = out.len();
        encode_actions(&self.actions, out);
        let alen = out.len() - a0;
        out.set_u16(at, alen as u16);
        out.extend_from_slice(&self.data);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<PacketOut, DecodeError> {
        let e = bad_len();
        let buffer_id = r.u32(e)?;
        let in_port = r.u32(e)?;
        let alen = r.u16(e)? as usize;
        r.skip(6, e)?;
        let mut a = r.sub(alen, DecodeError::new(BAD_ACTION, BAD_ACTION_BAD_LEN))?;
        let actions = decode_actions(&mut a)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
    }
}

pub mod flow_mod_command {
    pub const ADD: u8 = 0;
    pub const MODIFY: u8 = 1;
    pub const MODIFY_STRICT: u8 = 2;
    pub const DELETE: u8 = 3;
    pub const DELETE_STRICT: u8 = 4;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    pub cookie: u64,
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub buffer_id: u32,
    pub out_port: u32,
    pub out_group: u32,
    pub flags: u16,
    pub matcher: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u64(self.cookie);
        out.u64(self.cookie_mask);
        out.u8(self.table_id);
        out.u8(self.command);
        out.u16(self.idle_timeout);
        out.u16(self.hard_timeout);
        out.u16(self.priority);
        out.u32(self.buffer_id);
        out.u32(self.out_port);
        out.u32(self.out_group);
        out.u16(self.flags);
        out.zeros(2);
        self.matcher.encode(out);
        encode_instructions(&self.instructions, out);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<FlowMod, DecodeError> {
        let e = bad_len();
        let cookie = r.u64(e)?;
        let cookie_mask = r.u64(e)?;
        let table_id = r.u8(e)?;
        let command = r.u8(e)?;
        let idle_timeout = r.u16(e)?;
        let hard_timeout = r.u16(e)?;
        let priority = r.u16(e)?;
        let buffer_id = r.u32(e)?;
        let out_port = r.u32(e)?;
        let out_group = r.u32(e)?;
        let flags = r.u16(e)?;
        r.skip(2, e)?;
        let matcher = Match::decode(r)?;
        let instructions = decode_instructions(r)?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            matcher,
            instructions,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    pub command: u16,
    pub kind: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u16(self.command);
        out.u8(self.kind);
        out.zeros(1);
        out.u32(self.group_id);
        for b in &self.buckets {
            b.encode(out);
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<GroupMod, DecodeError> {
        let e = bad_len();
        let command = r.u16(e)?;
        let kind = r.u8(e)?;
        r.skip(1, e)?;
        let group_id = r.u32(e)?;
        let mut buckets = Vec::new();
        while !r.is_empty() {
            buckets.push(Bucket::decode(r)?);
        }
        Ok(GroupMod {
            command,
            kind,
            group_id,
            buckets,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

impl PortMod {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.port_no);
        out.zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.zeros(2);
        out.u32(self.config);
        out.u32(self.mask);
        out.u32(self.advertise);
        out.zeros(4);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<PortMod, DecodeError> {
        let e = bad_len();
        exact(r, 32)?;
        let port_no = r.u32(e)?;
        r.skip(4, e)?;
        let mut hw_addr = [0u8; 6];
        hw_addr.copy_from_slice(r.bytes(6, e)?);
        r.skip(2, e)?;
        let config = r.u32(e)?;
        let mask = r.u32(e)?;
        let advertise = r.u32(e)?;
        r.skip(4, e)?;
        Ok(PortMod {
            port_no,
            hw_addr,
            config,
            mask,
            advertise,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub role: u32,
    pub generation_id: u64,
}

impl Role {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.role);
        out.zeros(4);
        out.u64(self.generation_id);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Role, DecodeError> {
        let e = bad_len();
        exact(r, 16)?;
        let role = r.u32(e)?;
        r.skip(4, e)?;
        Ok(Role {
            role,
            generation_id: r.u64(e)?,
        })
    }
}

pub mod role {
    pub const NOCHANGE: u32 = 0;
    pub const EQUAL: u32 = 1;
    pub const MASTER: u32 = 2;
    pub const SLAVE: u32 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AsyncConfig {
    /// Index 0: master/equal; 1: slave.
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

impl AsyncConfig {
    /// The message body, after the header.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for w in self
            .packet_in_mask
            .iter()
            .chain(&self.port_status_mask)
            .chain(&self.flow_removed_mask)
        {
            out.u32(*w);
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<AsyncConfig, DecodeError> {
        let e = bad_len();
        exact(r, 24)?;
        let mut w = [0u32; 6];
        for x in w.iter_mut() {
            *x = r.u32(e)?;
        }
        Ok(AsyncConfig {
            packet_in_mask: [w[0], w[1]],
            port_status_mask: [w[2], w[3]],
            flow_removed_mask: [w[4], w[5]],
        })
    }
}
