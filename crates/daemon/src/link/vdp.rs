//! VDP (IEEE 802.1Qbg clause 41), both roles, as state over time: the
//! station side associates the VMs of a switch with the adjacent bridge's
//! port (ASSOCIATE on start and when a VM appears or changes, again as
//! keep-alive, DE-ASSOCIATE when it goes); the bridge side (a relay port)
//! answers a station's requests, keeps what it associated until the
//! station stops keeping it alive, and says which sources it covers.
//!
//! Pure: requests, responses and the clock go in, VDP data units to send
//! (over ECP) come out. Timers are the negotiated EVB values
//! ([`Timers`]), as lldpad computes them.

use super::ecp::exp_ms;
use std::collections::BTreeMap;
use vepa_api::wire::VsiView;
use vepa_packet::ecp::{status, FilterFormat, VdpPdu, VsiFilter, VsiRequest, VsiTlv};
use vepa_packet::MacAddr;

/// VSIs one relay port keeps at most: a station inventing UUIDs is told
/// "insufficient resources" past it.
pub const MAX_VSIS: usize = 64;
/// VSIID format 5: a UUID.
const UUID_FORMAT: u8 = 5;

/// The negotiated EVB values VDP's timers follow (exponents of 10 µs).
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub retries: u8,
    pub rte: u8,
    pub rwd: u8,
    pub rka: u8,
}

impl Timers {
    /// How long a station waits for the bridge's answer, and a bridge for
    /// a keep-alive: 1.5 × ((1 + 2R) × ECP's ACK timer + the VDP timer).
    fn patience_ms(&self, vdp_exp: u8) -> u64 {
        let ecp = (1 + 2 * u64::from(self.retries)) * exp_ms(self.rte);
        (ecp + exp_ms(vdp_exp)) * 3 / 2
    }
}

/// A VM the station is to associate: from its port's `vsi` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsiWant {
    /// The VM's port on the switch.
    pub port: String,
    pub mac: MacAddr,
    /// The VLAN its frames carry on the uplink (0: untagged).
    pub vid: u16,
    pub type_id: u32,
    pub version: u8,
    pub uuid: [u8; 16],
}

impl VsiWant {
    fn tlv(&self, request: VsiRequest) -> VsiTlv {
        VsiTlv {
            request,
            status: 0,
            type_id: self.type_id,
            type_version: self.version,
            id_format: UUID_FORMAT,
            id: self.uuid,
            format: FilterFormat::MacVid,
            filters: vec![VsiFilter {
                group: None,
                mac: Some(self.mac),
                ps: false,
                pcp: 0,
                vid: self.vid,
            }],
        }
    }
}

fn pdu(vsi: VsiTlv) -> VdpPdu {
    VdpPdu {
        manager_id: [0; 16],
        vsis: vec![vsi],
        other_tlvs: 0,
    }
}

/// A station VSI's state, as `vepa vdp show` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Station {
    /// Asked; no answer yet.
    Pending,
    Associated,
    /// The bridge refused it (its error code).
    Refused(u8),
    /// No answer in time; asked again at the next keep-alive.
    NoResponse,
    /// The bridge ended it (unsolicited DE-ASSOCIATE); asked again later.
    Ended,
    /// The VM went; DE-ASSOCIATE sent.
    Leaving,
}

#[derive(Debug)]
struct StationVsi {
    want: VsiWant,
    state: Station,
    /// When the last request went out, and when the next is due (a
    /// keep-alive, or another try).
    asked_ms: u64,
    next_ms: u64,
}

/// The station side of one uplink.
#[derive(Debug, Default)]
pub struct StationSide {
    vsis: BTreeMap<[u8; 16], StationVsi>,
    pub refused: u64,
}

impl StationSide {
    /// Follows the VMs wanted now: new or changed ones are associated,
    /// gone ones de-associated. The data units to send.
    pub fn follow(&mut self, wants: &[VsiWant], t: &Timers, now_ms: u64) -> Vec<VdpPdu> {
        let mut out = Vec::new();
        for v in self.vsis.values_mut() {
            if v.state != Station::Leaving && !wants.contains(&v.want) {
                v.state = Station::Leaving;
                v.asked_ms = now_ms;
                out.push(pdu(v.want.tlv(VsiRequest::Deassociate)));
            }
        }
        for w in wants {
            let fresh = self
                .vsis
                .get(&w.uuid)
                .is_none_or(|v| v.want != *w || v.state == Station::Leaving);
            if fresh {
                out.push(pdu(w.tlv(VsiRequest::Associate)));
                self.vsis.insert(
                    w.uuid,
                    StationVsi {
                        want: w.clone(),
                        state: Station::Pending,
                        asked_ms: now_ms,
                        next_ms: now_ms + exp_ms(t.rka),
                    },
                );
            }
        }
        out
    }

    /// Keep-alives and retries that are due, and answers that did not come.
    pub fn due(&mut self, t: &Timers, now_ms: u64) -> Vec<VdpPdu> {
        let mut out = Vec::new();
        let wait = t.patience_ms(t.rwd);
        let mut gone = Vec::new();
        for (id, v) in &mut self.vsis {
            match v.state {
                Station::Leaving if now_ms >= v.asked_ms + wait => gone.push(*id),
                Station::Leaving => {}
                Station::Pending if now_ms >= v.asked_ms + wait => {
                    v.state = Station::NoResponse;
                    v.next_ms = now_ms;
                }
                // Waiting for the answer.
                Station::Pending => {}
                _ if now_ms >= v.next_ms => {
                    // Keep-alive (the same request again), or another try.
                    if v.state != Station::Associated {
                        v.state = Station::Pending;
                    }
                    v.asked_ms = now_ms;
                    v.next_ms = now_ms + exp_ms(t.rka);
                    out.push(pdu(v.want.tlv(VsiRequest::Associate)));
                }
                _ => {}
            }
        }
        for id in gone {
            self.vsis.remove(&id);
        }
        out
    }

    /// ECP gave up on a request (never acknowledged: the bridge's ECP did
    /// not have it, as when lldpad's is not up yet): what waits for an
    /// answer is asked again in a second, not after the answer's timeout.
    pub fn unacknowledged(&mut self, now_ms: u64) {
        for v in self.vsis.values_mut() {
            if v.state == Station::Pending {
                v.state = Station::NoResponse;
                v.next_ms = now_ms + 1000;
            }
        }
    }

    /// The bridge's answer (or its unsolicited DE-ASSOCIATE).
    pub fn response(&mut self, pdu: &VdpPdu, now_ms: u64) {
        for r in &pdu.vsis {
            let Some(v) = self.vsis.get_mut(&r.id) else {
                continue;
            };
            let ours = v.want.tlv(r.request);
            let matches = r.type_id == ours.type_id
                && r.type_version == ours.type_version
                && r.id_format == ours.id_format
                && r.filters.len() == 1
                && r.filters[0].mac == Some(v.want.mac);
            if !matches {
                continue;
            }
            let code = r.status & status::ERROR;
            match (r.request, r.is_response()) {
                (VsiRequest::Deassociate, false) => {
                    v.state = Station::Ended;
                    v.next_ms = now_ms + 1000;
                }
                (VsiRequest::Deassociate, true) if v.state == Station::Leaving => {
                    self.vsis.remove(&r.id);
                }
                (VsiRequest::Associate, true) if v.state != Station::Leaving => {
                    if code == 0 || r.status & status::KEEP != 0 {
                        v.state = Station::Associated;
                    } else {
                        v.state = Station::Refused(code);
                        self.refused += 1;
                    }
                }
                _ => {}
            }
        }
    }

    pub fn view(&self) -> Vec<VsiView> {
        self.vsis
            .values()
            .map(|v| {
                let state = match v.state {
                    Station::Pending => "asked".to_string(),
                    Station::Associated => "associated".into(),
                    Station::Refused(c) => format!("refused: {}", error_name(c)),
                    Station::NoResponse => "no answer from the bridge".into(),
                    Station::Ended => "ended by the bridge".into(),
                    Station::Leaving => "de-associating".into(),
                };
                vsi_view(
                    Some(&v.want.port),
                    &v.want.tlv(VsiRequest::Associate),
                    state,
                )
            })
            .collect()
    }
}

/// What a bridge associated for a station.
#[derive(Debug)]
struct BridgeVsi {
    tlv: VsiTlv,
    last_ms: u64,
}

/// The bridge side of one relay port.
#[derive(Debug, Default)]
pub struct BridgeSide {
    vsis: BTreeMap<[u8; 16], BridgeVsi>,
    pub refused: u64,
}

impl BridgeSide {
    /// A station's requests: each answered (the same TLV, status with the
    /// response bit and an error code).
    pub fn request(&mut self, pdu: &VdpPdu, now_ms: u64) -> Vec<VdpPdu> {
        let mut out = Vec::new();
        for r in pdu.vsis.iter().filter(|r| !r.is_response()) {
            let code = match r.request {
                VsiRequest::Deassociate => {
                    self.vsis.remove(&r.id);
                    0
                }
                _ => match check(r) {
                    Err(code) => code,
                    Ok(()) if !self.vsis.contains_key(&r.id) && self.vsis.len() >= MAX_VSIS => {
                        status::INSUFFICIENT_RESOURCES
                    }
                    Ok(()) => {
                        let mut tlv = r.clone();
                        tlv.status = 0;
                        self.vsis.insert(
                            r.id,
                            BridgeVsi {
                                tlv,
                                last_ms: now_ms,
                            },
                        );
                        0
                    }
                },
            };
            if code != 0 {
                self.refused += 1;
            }
            let mut answer = r.clone();
            answer.status = status::RESPONSE | code;
            out.push(VdpPdu {
                manager_id: pdu.manager_id,
                vsis: vec![answer],
                other_tlvs: 0,
            });
        }
        out
    }

    /// VSIs whose station stopped keeping them alive: forgotten, each with
    /// an unsolicited DE-ASSOCIATE to the station.
    pub fn expire(&mut self, t: &Timers, now_ms: u64) -> Vec<VdpPdu> {
        let limit = t.patience_ms(t.rka);
        let old: Vec<[u8; 16]> = self
            .vsis
            .iter()
            .filter(|(_, v)| now_ms >= v.last_ms + limit)
            .map(|(id, _)| *id)
            .collect();
        old.into_iter()
            .filter_map(|id| self.vsis.remove(&id))
            .map(|v| {
                let mut tlv = v.tlv;
                tlv.request = VsiRequest::Deassociate;
                tlv.status = 0;
                pdu(tlv)
            })
            .collect()
    }

    /// The sources associated VSIs cover: MAC and VLAN (0: any).
    pub fn associated(&self) -> Vec<(MacAddr, u16)> {
        self.vsis
            .values()
            .filter(|v| v.tlv.request == VsiRequest::Associate)
            .flat_map(|v| v.tlv.filters.iter().filter_map(|f| Some((f.mac?, f.vid))))
            .collect()
    }

    pub fn view(&self) -> Vec<VsiView> {
        self.vsis
            .values()
            .map(|v| {
                let state = match v.tlv.request {
                    VsiRequest::Associate => "associated",
                    VsiRequest::PreAssociate => "pre-associated",
                    VsiRequest::PreAssociateWithRr => "pre-associated (with resources)",
                    VsiRequest::Deassociate => "de-associated",
                };
                vsi_view(None, &v.tlv, state.into())
            })
            .collect()
    }
}

/// Whether a bridge can take a request; else the error code. vepa
/// enforces by source MAC, so a filter must name one.
fn check(r: &VsiTlv) -> Result<(), u8> {
    if !matches!(r.format, FilterFormat::MacVid | FilterFormat::GroupMacVid) {
        return Err(status::INVALID_FORMAT);
    }
    for f in &r.filters {
        let bad_mac = f.mac.is_none_or(|m| m.is_multicast() || m == MacAddr::ZERO);
        if bad_mac || f.vid > 4094 || f.group == Some(0) {
            return Err(status::INVALID_FILTER);
        }
    }
    Ok(())
}

fn error_name(code: u8) -> &'static str {
    match code {
        1 => "invalid format",
        2 => "insufficient resources",
        3 => "VSI manager unreachable",
        5 => "invalid VID, group or MAC",
        _ => "other error",
    }
}

fn vsi_view(port: Option<&str>, t: &VsiTlv, state: String) -> VsiView {
    let id = &t.id;
    VsiView {
        port: port.map(String::from),
        mac: t
            .filters
            .iter()
            .filter_map(|f| f.mac.map(|m| m.to_string()))
            .collect(),
        vlan: t.filters.iter().map(|f| f.vid).collect(),
        type_id: t.type_id,
        version: t.type_version,
        uuid: if t.id_format == UUID_FORMAT {
            format!(
                "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14], id[15]
            )
        } else {
            id.iter().map(|b| format!("{b:02x}")).collect()
        },
        state,
    }
}

#[cfg(test)]
mod tests;
