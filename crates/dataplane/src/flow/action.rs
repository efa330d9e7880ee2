//! What a flow does with a packet: OpenFlow 1.3 instructions and actions.

use super::FlowError;
use crate::key::Field;
use crate::PortId;

/// Where an output action sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutPort {
    /// One port of the switch.
    Port(PortId),
    /// Back out of the port it came in on.
    InPort,
    /// The switch's own forwarding: the port modes, learning and VLANs.
    Normal,
    /// Every port but the ingress port.
    Flood,
    /// Every port but the ingress port (vepa has no flood-disabled ports,
    /// so this is `Flood`).
    All,
    /// To the controller, at most `max_len` bytes of it (0xffff: whole).
    Controller { max_len: u16 },
    /// Through the flow tables (PACKET_OUT only).
    Table,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Output(OutPort),
    /// Writes a header field. `vlan_vid` on an untagged packet pushes a tag.
    SetField(Field, u128),
    /// Pushes an 802.1Q tag (EtherType 0x8100 or 0x88a8) with the outer
    /// tag's fields, or zeros.
    PushVlan(u16),
    PopVlan,
    /// Decrements the IPv4 TTL / IPv6 hop limit; at zero the packet is dropped.
    DecNwTtl,
    Group(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Instruction {
    Meter(u32),
    Apply(Vec<Action>),
    Clear,
    Write(Vec<Action>),
    WriteMetadata { value: u64, mask: u64 },
    Goto(u8),
}

impl Instruction {
    /// OpenFlow's order of instruction types within one flow.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Instruction::Meter(_) => 0,
            Instruction::Apply(_) => 1,
            Instruction::Clear => 2,
            Instruction::Write(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::Goto(_) => 5,
        }
    }

    pub fn actions(&self) -> &[Action] {
        match self {
            Instruction::Apply(a) | Instruction::Write(a) => a,
            _ => &[],
        }
    }
}

/// Every action in `instructions` (for out_port filters and port checks).
pub fn all_actions(instructions: &[Instruction]) -> impl Iterator<Item = &Action> {
    instructions.iter().flat_map(|i| i.actions().iter())
}

/// Checks a flow's instructions against the switch: each instruction type
/// at most once, goto only forward, ports that exist, fields that can be
/// set. `ports` is the switch's port count, `table` the flow's table.
pub fn check_instructions(
    instructions: &[Instruction],
    table: u8,
    ports: usize,
) -> Result<(), FlowError> {
    let mut seen = [false; 6];
    for i in instructions {
        let r = i.rank() as usize;
        if seen[r] {
            return Err(FlowError::Instruction(
                "each instruction type may appear once in a flow".into(),
            ));
        }
        seen[r] = true;
        if let Instruction::Goto(t) = i {
            if *t <= table {
                return Err(FlowError::BadTable {
                    table: *t,
                    problem: format!("goto_table must go forward, past table {table}"),
                });
            }
            if *t as usize >= super::TABLES {
                return Err(FlowError::BadTable {
                    table: *t,
                    problem: format!("tables are 0 to {}", super::TABLES - 1),
                });
            }
        }
        for a in i.actions() {
            check_action(a, ports)?;
        }
    }
    Ok(())
}

pub fn check_action(a: &Action, ports: usize) -> Result<(), FlowError> {
    match a {
        Action::Output(OutPort::Port(p)) if p.index() >= ports => {
            Err(FlowError::BadPort(p.0 as u32 + 1))
        }
        Action::Output(OutPort::Table) => Err(FlowError::Instruction(
            "output:table is only for packet-out".into(),
        )),
        Action::SetField(f, v) => {
            if !f.settable() {
                return Err(FlowError::Field {
                    field: *f,
                    problem: "vepa cannot set this field".into(),
                });
            }
            if *v & !f.full_mask() != 0 {
                return Err(FlowError::Field {
                    field: *f,
                    problem: format!("value {v:#x} is wider than {} bits", f.bits()),
                });
            }
            Ok(())
        }
        Action::PushVlan(t) if *t != 0x8100 && *t != 0x88a8 => Err(FlowError::Instruction(
            format!("push_vlan takes EtherType 0x8100 or 0x88a8, not {t:#06x}"),
        )),
        _ => Ok(()),
    }
}

/// The action set a `write_actions` instruction builds: at most one action
/// of each kind, run at the end of the pipeline in OpenFlow's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionSet {
    pub pop_vlan: bool,
    pub push_vlan: Option<u16>,
    pub dec_ttl: bool,
    pub set_fields: Vec<(Field, u128)>,
    pub group: Option<u32>,
    pub output: Option<OutPort>,
}

impl ActionSet {
    pub fn clear(&mut self) {
        self.pop_vlan = false;
        self.push_vlan = None;
        self.dec_ttl = false;
        self.set_fields.clear();
        self.group = None;
        self.output = None;
    }

    pub fn is_empty(&self) -> bool {
        !self.pop_vlan
            && self.push_vlan.is_none()
            && !self.dec_ttl
            && self.set_fields.is_empty()
            && self.group.is_none()
            && self.output.is_none()
    }

    pub fn write(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Output(p) => self.output = Some(*p),
                Action::SetField(f, v) => match self.set_fields.iter_mut().find(|(g, _)| g == f) {
                    Some(slot) => slot.1 = *v,
                    None => self.set_fields.push((*f, *v)),
                },
                Action::PushVlan(t) => self.push_vlan = Some(*t),
                Action::PopVlan => self.pop_vlan = true,
                Action::DecNwTtl => self.dec_ttl = true,
                Action::Group(g) => self.group = Some(*g),
            }
        }
    }
}
