//! What the switch does with each OpenFlow request, against the engine.

use super::hub::{Event, Hub};
use super::replies;
use crate::engine::{ChangeError, Engine};
use vepa_dataplane::flow::{
    FlowFilter, FlowSpec, PacketInReason, RemovedReason, FLAG_RESET_COUNTS, FLAG_SEND_FLOW_REM,
};
use vepa_dataplane::PortId;
use vepa_openflow::err::*;
use vepa_openflow::{
    convert, error_for, flow_mod_command as cmd, port, role, AsyncConfig, DecodeError, Header,
    Message, SwitchConfig,
};

/// One received message, as read.
pub struct Incoming {
    pub raw: Vec<u8>,
    pub decoded: Result<(Header, Message), DecodeError>,
}

/// The state of one connection.
pub struct Conn {
    pub id: u64,
    pub switch: String,
    pub hello_done: bool,
    pub role: u32,
    pub async_cfg: AsyncConfig,
    pub config: SwitchConfig,
}

impl Conn {
    pub fn new(id: u64, switch: String) -> Conn {
        Conn {
            id,
            switch,
            hello_done: false,
            role: role::EQUAL,
            // OpenFlow 1.3's defaults (§7.3.10): masters and equals get
            // packet-ins for misses and actions, every port status, every
            // flow removal; slaves port status only.
            async_cfg: AsyncConfig {
                packet_in_mask: [0b011, 0],
                port_status_mask: [0b111, 0b111],
                flow_removed_mask: [0b1111, 0],
            },
            config: SwitchConfig {
                flags: 0,
                miss_send_len: 128,
            },
        }
    }

    /// The role in force: a master that another connection displaced is a slave.
    pub fn effective_role(&self, hub: &Hub) -> u32 {
        if self.role == role::MASTER {
            let roles = hub.roles.lock().unwrap_or_else(|p| p.into_inner());
            if roles.get(&self.switch).and_then(|r| r.master) != Some(self.id) {
                return role::SLAVE;
            }
        }
        self.role
    }
}

/// The connection went: a master leaves no master behind.
pub fn closed(hub: &Hub, c: &Conn) {
    let mut roles = hub.roles.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = roles.get_mut(&c.switch) {
        if r.master == Some(c.id) {
            r.master = None;
        }
    }
}

fn err(e: DecodeError, raw: &[u8], xid: u32, out: &mut Vec<u8>) {
    error_for(e, raw).encode(xid, out);
}

fn change_error(e: &ChangeError) -> DecodeError {
    match e {
        ChangeError::Flow { error, .. } => convert::flow_error(error),
        ChangeError::NotFound { .. } | ChangeError::Conflict { .. } => {
            DecodeError::new(BAD_REQUEST, BAD_REQUEST_EPERM)
        }
        _ => DecodeError::new(FLOW_MOD_FAILED, FLOW_MOD_FAILED_UNKNOWN),
    }
}

/// Handles a batch of messages from one connection in order; returns
/// the bytes to send back and whether to close.
pub fn batch(e: &mut Engine, hub: &Hub, c: &mut Conn, msgs: Vec<Incoming>) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut touched = false;
    for m in msgs {
        let (h, msg) = match m.decoded {
            Ok(x) => x,
            Err(e) => {
                let xid = m
                    .raw
                    .get(4..8)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                err(e, &m.raw, xid, &mut out);
                continue;
            }
        };
        if !c.hello_done {
            match &msg {
                Message::Hello { versions } => {
                    let ok = h.version >= vepa_openflow::VERSION
                        && versions.as_ref().is_none_or(|w| {
                            w.first()
                                .is_some_and(|b| b & (1 << vepa_openflow::VERSION) != 0)
                        });
                    if !ok {
                        let mut bytes = Vec::new();
                        Message::Error {
                            err_type: HELLO_FAILED,
                            code: HELLO_FAILED_INCOMPATIBLE,
                            data: b"vepa speaks OpenFlow 1.3 (0x04) only".to_vec(),
                        }
                        .encode(h.xid, &mut bytes);
                        out.extend(bytes);
                        return (out, true);
                    }
                    c.hello_done = true;
                    continue;
                }
                // A peer that skips the hello but speaks 1.3 is taken as one.
                _ => c.hello_done = true,
            }
        }
        let slave = c.effective_role(hub) == role::SLAVE;
        let xid = h.xid;
        let reply = |m: Message, out: &mut Vec<u8>| m.encode(xid, out);
        match msg {
            Message::Hello { .. } => {}
            Message::EchoRequest(d) => reply(Message::EchoReply(d), &mut out),
            Message::EchoReply(_) => {}
            Message::Error { err_type, code, .. } => {
                tracing::debug!(switch = %c.switch, err_type, code, "controller sent an error");
            }
            Message::FeaturesRequest => reply(
                Message::FeaturesReply {
                    datapath_id: datapath_id(&c.switch),
                    n_buffers: 0,
                    n_tables: vepa_dataplane::flow::TABLES as u8,
                    auxiliary_id: 0,
                    // Flow, table, port and group stats.
                    capabilities: 0x1 | 0x2 | 0x4 | 0x8,
                },
                &mut out,
            ),
            Message::GetConfigRequest => reply(Message::GetConfigReply(c.config), &mut out),
            Message::SetConfig(cfg) => {
                // Only OFPC_FRAG_NORMAL: vepa forwards fragments as they are.
                if cfg.flags & 0x3 != 0 {
                    err(
                        DecodeError::new(SWITCH_CONFIG_FAILED, SWITCH_CONFIG_FAILED_BAD_FLAGS),
                        &m.raw,
                        xid,
                        &mut out,
                    );
                } else {
                    c.config = cfg;
                }
            }
            Message::BarrierRequest => {
                // Everything before is in force and in the store: a
                // controller told "done" keeps its flows across a crash,
                // as an API caller does. (Flow edits between barriers
                // are written together, once.)
                if touched {
                    e.publish(&c.switch);
                    touched = false;
                }
                match e.flush_flows() {
                    Ok(()) => reply(Message::BarrierReply, &mut out),
                    Err(x) => {
                        tracing::error!(switch = %c.switch, error = %x, "cannot store flow changes; barrier refused");
                        err(
                            DecodeError::new(BAD_REQUEST, BAD_REQUEST_EPERM),
                            &m.raw,
                            xid,
                            &mut out,
                        )
                    }
                }
            }
            Message::FlowMod(_)
            | Message::GroupMod(_)
            | Message::PortMod(_)
            | Message::TableMod { .. }
            | Message::PacketOut(_)
            | Message::MeterMod { .. }
                if slave =>
            {
                err(
                    DecodeError::new(BAD_REQUEST, BAD_REQUEST_IS_SLAVE),
                    &m.raw,
                    xid,
                    &mut out,
                )
            }
            Message::FlowMod(f) => match flow_mod(e, hub, c, &f) {
                Ok(changed) => touched |= changed,
                Err(x) => err(x, &m.raw, xid, &mut out),
            },
            Message::GroupMod(g) => match group_mod(e, hub, c, &g) {
                Ok(()) => touched = true,
                Err(x) => err(x, &m.raw, xid, &mut out),
            },
            Message::PortMod(p) => {
                let n = e.port_names(&c.switch).map(|v| v.len()).unwrap_or(0);
                if p.port_no == 0 || p.port_no as usize > n {
                    err(
                        DecodeError::new(PORT_MOD_FAILED, PORT_MOD_FAILED_BAD_PORT),
                        &m.raw,
                        xid,
                        &mut out,
                    );
                } else if p.mask != 0 {
                    // Port config (down, no-recv, no-fwd...) is not vepa's yet.
                    err(
                        DecodeError::new(PORT_MOD_FAILED, PORT_MOD_FAILED_BAD_CONFIG),
                        &m.raw,
                        xid,
                        &mut out,
                    );
                }
            }
            Message::TableMod { table_id, .. } => {
                if table_id != vepa_openflow::TABLE_ALL
                    && table_id as usize >= vepa_dataplane::flow::TABLES
                {
                    err(
                        DecodeError::new(TABLE_MOD_FAILED, TABLE_MOD_FAILED_BAD_TABLE),
                        &m.raw,
                        xid,
                        &mut out,
                    );
                }
            }
            Message::PacketOut(p) => {
                if touched {
                    e.publish(&c.switch);
                    touched = false;
                }
                if let Err(x) = packet_out(e, c, &p) {
                    err(x, &m.raw, xid, &mut out);
                }
            }
            Message::MeterMod {
                command,
                flags,
                meter_id,
                bands,
            } => match meter_mod(e, hub, c, command, flags, meter_id, &bands) {
                Ok(()) => touched = true,
                Err(x) => err(x, &m.raw, xid, &mut out),
            },
            Message::MultipartRequest { body, .. } => {
                match replies::multipart(e, &c.switch, &body) {
                    Ok(msgs) => {
                        for r in msgs {
                            r.encode(xid, &mut out);
                        }
                    }
                    Err(x) => err(x, &m.raw, xid, &mut out),
                }
            }
            Message::QueueGetConfigRequest { port: p } => {
                let n = e.port_names(&c.switch).map(|v| v.len()).unwrap_or(0);
                if p != port::ANY && (p == 0 || p as usize > n) {
                    err(DecodeError::new(9, 0), &m.raw, xid, &mut out);
                } else {
                    reply(Message::QueueGetConfigReply { port: p }, &mut out);
                }
            }
            Message::RoleRequest(r) => match role_request(hub, c, r) {
                Ok(rr) => reply(Message::RoleReply(rr), &mut out),
                Err(x) => err(x, &m.raw, xid, &mut out),
            },
            Message::GetAsyncRequest => reply(Message::GetAsyncReply(c.async_cfg), &mut out),
            Message::SetAsync(a) => c.async_cfg = a,
            Message::Experimenter { .. } => err(
                DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_EXPERIMENTER),
                &m.raw,
                xid,
                &mut out,
            ),
            // What only a switch sends.
            _ => err(
                DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_TYPE),
                &m.raw,
                xid,
                &mut out,
            ),
        }
    }
    if touched {
        e.publish(&c.switch);
    }
    (out, false)
}

/// FLOW_REMOVED for the flows that asked for it (`send_flow_rem`).
fn announce_removed(
    e: &Engine,
    hub: &Hub,
    switch: &str,
    gone: Vec<std::sync::Arc<vepa_dataplane::flow::Rule>>,
    reason: RemovedReason,
) {
    let now_ms = e.flow_clock_ms();
    for rule in gone {
        if rule.flags & FLAG_SEND_FLOW_REM != 0 {
            hub.publish(
                switch,
                Event::FlowRemoved {
                    rule,
                    reason,
                    now_ms,
                },
            );
        }
    }
}

/// A stable datapath id from the switch name (FNV-1a, 48 bits as Open
/// vSwitch's MAC-derived ids are).
pub fn datapath_id(switch: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in switch.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 0x0000_ffff_ffff_ffff
}

/// Applies a FLOW_MOD; `Ok(true)` when a flow changed.
fn flow_mod(
    e: &mut Engine,
    hub: &Hub,
    c: &Conn,
    f: &vepa_openflow::FlowMod,
) -> Result<bool, DecodeError> {
    let n_ports = e.port_names(&c.switch).map(|v| v.len()).unwrap_or(0);
    if f.buffer_id != vepa_openflow::NO_BUFFER {
        // vepa buffers no packets, so no flow mod can name one.
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BUFFER_UNKNOWN));
    }
    let matcher = convert::match_to_dp(&f.matcher)?;
    let all_tables = f.table_id == vepa_openflow::TABLE_ALL;
    if !all_tables && f.table_id as usize >= vepa_dataplane::flow::TABLES {
        return Err(DecodeError::new(
            FLOW_MOD_FAILED,
            FLOW_MOD_FAILED_BAD_TABLE_ID,
        ));
    }
    let table = if all_tables { None } else { Some(f.table_id) };
    let result = match f.command {
        cmd::ADD => {
            let Some(t) = table else {
                return Err(DecodeError::new(
                    FLOW_MOD_FAILED,
                    FLOW_MOD_FAILED_BAD_TABLE_ID,
                ));
            };
            let instructions = convert::instructions_to_dp(&f.instructions, t, n_ports)?;
            e.flow_add(
                &c.switch,
                FlowSpec {
                    table: t,
                    priority: f.priority,
                    matcher,
                    cookie: f.cookie,
                    idle_timeout: f.idle_timeout,
                    hard_timeout: f.hard_timeout,
                    flags: f.flags,
                    instructions,
                },
            )
            .map(|_| true)
        }
        cmd::MODIFY | cmd::MODIFY_STRICT => {
            let instructions =
                convert::instructions_to_dp(&f.instructions, table.unwrap_or(0), n_ports)?;
            let filter = FlowFilter {
                table,
                matcher,
                strict_priority: (f.command == cmd::MODIFY_STRICT).then_some(f.priority),
                cookie: f.cookie,
                cookie_mask: f.cookie_mask,
                out_port: None,
                out_group: None,
            };
            e.flow_modify(
                &c.switch,
                &filter,
                &instructions,
                f.flags & FLAG_RESET_COUNTS != 0,
            )
            .map(|n| n > 0)
        }
        cmd::DELETE | cmd::DELETE_STRICT => {
            let out_port = convert::out_port_filter(f.out_port, n_ports);
            let filter = FlowFilter {
                table,
                matcher,
                strict_priority: (f.command == cmd::DELETE_STRICT).then_some(f.priority),
                cookie: f.cookie,
                cookie_mask: f.cookie_mask,
                out_port,
                out_group: (f.out_group != vepa_openflow::GROUP_ANY).then_some(f.out_group),
            };
            e.flow_delete(&c.switch, &filter).map(|gone| {
                let any = !gone.is_empty();
                announce_removed(e, hub, &c.switch, gone, RemovedReason::Delete);
                any
            })
        }
        _ => {
            return Err(DecodeError::new(
                FLOW_MOD_FAILED,
                FLOW_MOD_FAILED_BAD_COMMAND,
            ))
        }
    };
    result.map_err(|x| change_error(&x))
}

fn group_mod(
    e: &mut Engine,
    hub: &Hub,
    c: &Conn,
    g: &vepa_openflow::GroupMod,
) -> Result<(), DecodeError> {
    let n_ports = e.port_names(&c.switch).map(|v| v.len()).unwrap_or(0);
    match g.command {
        0 | 1 => {
            let group = convert::group_to_dp(g, n_ports)?;
            e.group_add(&c.switch, group, g.command == 1)
                .map_err(|x| match &x {
                    ChangeError::Flow {
                        error: vepa_dataplane::flow::FlowError::UnknownGroup(_),
                        ..
                    } if g.command == 1 => {
                        DecodeError::new(GROUP_MOD_FAILED, GROUP_MOD_FAILED_UNKNOWN_GROUP)
                    }
                    ChangeError::Flow {
                        error: vepa_dataplane::flow::FlowError::UnknownGroup(_),
                        ..
                    } => DecodeError::new(GROUP_MOD_FAILED, GROUP_MOD_FAILED_CHAINING_UNSUPPORTED),
                    other => change_error(other),
                })
        }
        2 => {
            let id = (g.group_id != vepa_openflow::GROUP_ALL).then_some(g.group_id);
            let gone = e
                .group_delete(&c.switch, id)
                .map_err(|x| change_error(&x))?;
            announce_removed(e, hub, &c.switch, gone, RemovedReason::GroupDelete);
            Ok(())
        }
        _ => Err(DecodeError::new(
            GROUP_MOD_FAILED,
            GROUP_MOD_FAILED_BAD_COMMAND,
        )),
    }
}

/// `OFPM_ALL`: every meter (delete).
const METER_ALL: u32 = 0xffff_ffff;

fn meter_mod(
    e: &mut Engine,
    hub: &Hub,
    c: &Conn,
    command: u16,
    flags: u16,
    meter_id: u32,
    bands: &[u8],
) -> Result<(), DecodeError> {
    let map = |x: ChangeError| match &x {
        ChangeError::Flow { error, .. } => convert::flow_error(error),
        other => change_error(other),
    };
    match command {
        0 | 1 => {
            let m = convert::meter_to_dp(flags, meter_id, bands)?;
            e.meter_add(&c.switch, m, command == 1).map_err(map)
        }
        2 => {
            let id = (meter_id != METER_ALL).then_some(meter_id);
            let gone = e.meter_delete(&c.switch, id).map_err(map)?;
            announce_removed(e, hub, &c.switch, gone, RemovedReason::Delete);
            Ok(())
        }
        _ => Err(DecodeError::new(
            METER_MOD_FAILED,
            METER_MOD_FAILED_BAD_COMMAND,
        )),
    }
}

fn packet_out(e: &mut Engine, c: &Conn, p: &vepa_openflow::PacketOut) -> Result<(), DecodeError> {
    if p.buffer_id != vepa_openflow::NO_BUFFER {
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BUFFER_UNKNOWN));
    }
    let n_ports = e.port_names(&c.switch).map(|v| v.len()).unwrap_or(0);
    let in_port = match p.in_port {
        port::CONTROLLER | port::ANY => None,
        n if n >= 1 && (n as usize) <= n_ports => Some(PortId((n - 1) as u16)),
        _ => return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_PORT)),
    };
    let actions = convert::actions_to_dp(&p.actions, n_ports, true)?;
    if p.data.len() < 14 {
        return Err(DecodeError::new(BAD_REQUEST, BAD_REQUEST_BAD_PACKET));
    }
    e.packet_out(&c.switch, in_port, &actions, &p.data)
        .map(|_| ())
        .map_err(|x| change_error(&x))
}

fn role_request(
    hub: &Hub,
    c: &mut Conn,
    r: vepa_openflow::Role,
) -> Result<vepa_openflow::Role, DecodeError> {
    let mut roles = hub.roles.lock().unwrap_or_else(|p| p.into_inner());
    let state = roles.entry(c.switch.clone()).or_default();
    match r.role {
        role::NOCHANGE => {}
        role::EQUAL => {
            if state.master == Some(c.id) {
                state.master = None;
            }
            c.role = role::EQUAL;
        }
        role::MASTER | role::SLAVE => {
            if let Some(g) = state.generation {
                // Wrapping distance, as the spec defines staleness.
                if (r.generation_id.wrapping_sub(g) as i64) < 0 {
                    return Err(DecodeError::new(
                        ROLE_REQUEST_FAILED,
                        ROLE_REQUEST_FAILED_STALE,
                    ));
                }
            }
            state.generation = Some(r.generation_id);
            if r.role == role::MASTER {
                state.master = Some(c.id);
            } else if state.master == Some(c.id) {
                state.master = None;
            }
            c.role = r.role;
        }
        _ => {
            return Err(DecodeError::new(
                ROLE_REQUEST_FAILED,
                ROLE_REQUEST_FAILED_BAD_ROLE,
            ))
        }
    }
    let effective = if c.role == role::MASTER && state.master != Some(c.id) {
        role::SLAVE
    } else {
        c.role
    };
    Ok(vepa_openflow::Role {
        role: effective,
        generation_id: state.generation.unwrap_or(0),
    })
}

/// The message an event becomes for this connection, after its role and masks.
pub fn async_event(c: &Conn, hub: &Hub, ev: &Event) -> Option<Message> {
    let slot = if c.effective_role(hub) == role::SLAVE {
        1
    } else {
        0
    };
    match ev {
        Event::PacketIn(p) => {
            let reason: u8 = match p.reason {
                PacketInReason::NoMatch => 0,
                PacketInReason::Action => 1,
                PacketInReason::InvalidTtl => 2,
            };
            if c.async_cfg.packet_in_mask[slot] & (1 << reason) == 0 {
                return None;
            }
            let mut fields = vec![vepa_openflow::Oxm::basic(
                0,
                (p.in_port.0 as u32 + 1).to_be_bytes().to_vec(),
                None,
            )];
            if p.metadata != 0 {
                fields.push(vepa_openflow::Oxm::basic(
                    2,
                    p.metadata.to_be_bytes().to_vec(),
                    None,
                ));
            }
            // Nothing is buffered here: the frame's first max_len bytes
            // (all of it for OFPCML_NO_BUFFER), and NO_BUFFER as its id.
            let keep = match p.max_len {
                0xffff => p.frame.len(),
                n => p.frame.len().min(n as usize),
            };
            Some(Message::PacketIn(vepa_openflow::PacketIn {
                buffer_id: vepa_openflow::NO_BUFFER,
                total_len: p.frame.len().min(0xffff) as u16,
                reason,
                table_id: p.table,
                cookie: p.cookie,
                matcher: vepa_openflow::Match { fields },
                data: p.frame[..keep.min(0xffff - 64)].to_vec(),
            }))
        }
        Event::FlowRemoved {
            rule,
            reason,
            now_ms,
        } => {
            let reason: u8 = match reason {
                RemovedReason::IdleTimeout => 0,
                RemovedReason::HardTimeout => 1,
                RemovedReason::Delete => 2,
                RemovedReason::GroupDelete => 3,
            };
            if rule.flags & FLAG_SEND_FLOW_REM == 0
                || c.async_cfg.flow_removed_mask[slot] & (1 << reason) == 0
            {
                return None;
            }
            let age = now_ms.saturating_sub(rule.installed_ms);
            Some(Message::FlowRemoved(vepa_openflow::FlowRemoved {
                cookie: rule.cookie,
                priority: rule.priority,
                reason,
                table_id: rule.table,
                duration_sec: (age / 1000) as u32,
                duration_nsec: ((age % 1000) * 1_000_000) as u32,
                idle_timeout: rule.idle_timeout,
                hard_timeout: rule.hard_timeout,
                packet_count: rule.stats.packets(),
                byte_count: rule.stats.bytes(),
                matcher: convert::match_from_dp(&rule.matcher),
            }))
        }
        Event::PortStatus { reason, port } => {
            if c.async_cfg.port_status_mask[slot] & (1 << reason) == 0 {
                return None;
            }
            Some(Message::PortStatus {
                reason: *reason,
                desc: replies::port_desc(port),
            })
        }
    }
}
