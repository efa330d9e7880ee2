//! ECP (IEEE 802.1Qbg-2012 clause 43): the acknowledged transport that
//! carries VDP between a station and its adjacent bridge, and VDP's own
//! TLVs (clause 41): associating a VM's interface (a VSI: its MAC and
//! VLAN, a type and an instance UUID) with the bridge port.
//!
//! ECP is stop-and-wait: one request in flight, acknowledged by sequence
//! number, retransmitted after 10 µs × 2^RTE up to R times. The header is
//! a 16-bit word (version, operation, upper-layer subtype) and a 16-bit
//! sequence number. Everything parsed here comes from a peer: lengths are
//! checked against the bytes there, and a VSI TLV's length must be exactly
//! what its filter entries take (as lldpad's vdp22 requires).

use crate::lldp::{put_tlv, LldpError, Tlvs};
use crate::MacAddr;

/// EtherType of ECP (lldpad's `ETH_P_ECP22`; its man page's 0x8890 is wrong).
pub const ECP_ETHERTYPE: u16 = 0x8940;
/// ECP header length: version/operation/subtype word and sequence number.
pub const ECP_HEADER_LEN: usize = 4;
/// ECP's upper-layer subtype for VDP.
pub const ULP_VDP: u16 = 1;

/// Why bytes are not an ECP or VDP data unit vepa can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcpError {
    #[error("ECP data unit of {len} bytes is shorter than its 4-byte header")]
    Truncated { len: usize },
    #[error("ECP version {0} (only 1 is defined)")]
    Version(u8),
    #[error("VDP: {0}")]
    Tlv(#[from] LldpError),
    #[error("VDP {tlv} TLV has length {len}, expected {expected}")]
    BadLength {
        tlv: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("VDP filter info format {0} (1 to 4 are defined)")]
    FilterFormat(u8),
    #[error("VDP VSI TLV has no filter entries")]
    NoFilters,
    #[error("VDP manager ID TLV must come first, and once")]
    ManagerId,
}

/// ECP's operation: a request carrying an upper-layer PDU, or its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcpOp {
    Request,
    Ack,
    Other(u8),
}

/// The ECP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcpHeader {
    pub op: EcpOp,
    /// Upper-layer subtype (1 VDP, 2 PE-CSP).
    pub subtype: u16,
    pub seq: u16,
}

impl EcpHeader {
    /// Reads the header at the start of `buf` (the Ethernet payload); the
    /// upper-layer PDU follows it.
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8]), EcpError> {
        let h = buf
            .get(..ECP_HEADER_LEN)
            .ok_or(EcpError::Truncated { len: buf.len() })?;
        let word = u16::from_be_bytes([h[0], h[1]]);
        let version = (word >> 12) as u8;
        if version != 1 {
            return Err(EcpError::Version(version));
        }
        let op = match (word >> 10) & 0x3 {
            0 => EcpOp::Request,
            1 => EcpOp::Ack,
            o => EcpOp::Other(o as u8),
        };
        let hdr = EcpHeader {
            op,
            subtype: word & 0x3ff,
            seq: u16::from_be_bytes([h[2], h[3]]),
        };
        Ok((hdr, &buf[ECP_HEADER_LEN..]))
    }

    pub fn to_bytes(&self) -> [u8; ECP_HEADER_LEN] {
        let op = match self.op {
            EcpOp::Request => 0,
            EcpOp::Ack => 1,
            EcpOp::Other(o) => o as u16 & 0x3,
        };
        let word = 1 << 12 | op << 10 | (self.subtype & 0x3ff);
        let [a, b] = word.to_be_bytes();
        let [c, d] = self.seq.to_be_bytes();
        [a, b, c, d]
    }

    /// A whole ECP frame: Ethernet header, this header, `payload`; padded
    /// to 60 bytes when it is a request (lldpad sends its acks unpadded,
    /// and takes ours either way).
    pub fn frame(&self, dst: MacAddr, src: MacAddr, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(18 + payload.len());
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&ECP_ETHERTYPE.to_be_bytes());
        f.extend_from_slice(&self.to_bytes());
        f.extend_from_slice(payload);
        if f.len() < 60 {
            f.resize(60, 0);
        }
        f
    }
}

const VDP_PRE_ASSOCIATE: u8 = 1;
const VDP_PRE_ASSOCIATE_RR: u8 = 2;
const VDP_ASSOCIATE: u8 = 3;
const VDP_DEASSOCIATE: u8 = 4;
const VDP_MANAGER_ID: u8 = 5;

/// What a VSI TLV asks for (its TLV type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VsiRequest {
    PreAssociate,
    PreAssociateWithRr,
    Associate,
    Deassociate,
}

impl VsiRequest {
    fn kind(self) -> u8 {
        match self {
            VsiRequest::PreAssociate => VDP_PRE_ASSOCIATE,
            VsiRequest::PreAssociateWithRr => VDP_PRE_ASSOCIATE_RR,
            VsiRequest::Associate => VDP_ASSOCIATE,
            VsiRequest::Deassociate => VDP_DEASSOCIATE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            VsiRequest::PreAssociate => vdp_tlv_name(VDP_PRE_ASSOCIATE),
            VsiRequest::PreAssociateWithRr => vdp_tlv_name(VDP_PRE_ASSOCIATE_RR),
            VsiRequest::Associate => vdp_tlv_name(VDP_ASSOCIATE),
            VsiRequest::Deassociate => vdp_tlv_name(VDP_DEASSOCIATE),
        }
    }
}

/// VSI TLV status byte bits.
pub mod status {
    /// Set in a bridge's response (clear in a station's request, and in a
    /// bridge's unsolicited de-associate).
    pub const RESPONSE: u8 = 0x40;
    /// Response: keep the association despite the error.
    pub const KEEP: u8 = 0x20;
    /// Request: the VSI migrates from this port (S-bit).
    pub const MIGRATE_FROM: u8 = 0x20;
    /// Response: hard error.
    pub const HARD: u8 = 0x10;
    /// Request: the VSI migrates to this port (M-bit).
    pub const MIGRATE_TO: u8 = 0x10;
    /// Response: the error code (0 success, 1 invalid format, 2 insufficient
    /// resources, 3 VSI manager unreachable, 4 other, 5 invalid VID, group
    /// ID or MAC).
    pub const ERROR: u8 = 0x0f;
    pub const INVALID_FORMAT: u8 = 1;
    pub const INSUFFICIENT_RESOURCES: u8 = 2;
    pub const INVALID_FILTER: u8 = 5;
}

/// How a VSI's filter entries are written (filter info format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterFormat {
    Vid,
    MacVid,
    GroupVid,
    GroupMacVid,
}

impl FilterFormat {
    fn code(self) -> u8 {
        match self {
            FilterFormat::Vid => 1,
            FilterFormat::MacVid => 2,
            FilterFormat::GroupVid => 3,
            FilterFormat::GroupMacVid => 4,
        }
    }

    fn entry_len(self) -> usize {
        match self {
            FilterFormat::Vid => 2,
            FilterFormat::MacVid => 8,
            FilterFormat::GroupVid => 6,
            FilterFormat::GroupMacVid => 12,
        }
    }
}

/// One filter entry: which frames belong to the VSI. Fields the format
/// does not carry are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VsiFilter {
    pub group: Option<u32>,
    pub mac: Option<MacAddr>,
    /// Priority significant (PS).
    pub ps: bool,
    pub pcp: u8,
    /// 0 asks the bridge to choose.
    pub vid: u16,
}

/// A VSI TLV: a request from a station or a bridge's answer to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsiTlv {
    pub request: VsiRequest,
    /// The status byte (see [`status`]).
    pub status: u8,
    /// VSI type ID (24 bits).
    pub type_id: u32,
    pub type_version: u8,
    /// VSIID format: 1 IPv4, 2 IPv6, 3 MAC, 4 local, 5 UUID.
    pub id_format: u8,
    pub id: [u8; 16],
    pub format: FilterFormat,
    pub filters: Vec<VsiFilter>,
}

/// Bytes of a VSI TLV before its filter entries.
const VSI_FIXED: usize = 25;

impl VsiTlv {
    pub fn is_response(&self) -> bool {
        self.status & status::RESPONSE != 0
    }

    fn parse(request: VsiRequest, v: &[u8]) -> Result<Self, EcpError> {
        let name = request.name();
        if v.len() < VSI_FIXED {
            return Err(EcpError::BadLength {
                tlv: name,
                len: v.len(),
                expected: VSI_FIXED,
            });
        }
        let format = match v[22] {
            1 => FilterFormat::Vid,
            2 => FilterFormat::MacVid,
            3 => FilterFormat::GroupVid,
            4 => FilterFormat::GroupMacVid,
            f => return Err(EcpError::FilterFormat(f)),
        };
        let count = u16::from_be_bytes([v[23], v[24]]) as usize;
        if count == 0 {
            return Err(EcpError::NoFilters);
        }
        let want = VSI_FIXED + count * format.entry_len();
        if v.len() != want {
            return Err(EcpError::BadLength {
                tlv: name,
                len: v.len(),
                expected: want,
            });
        }
        let filters = v[VSI_FIXED..]
            .chunks_exact(format.entry_len())
            .map(|e| {
                let (group, rest) = match format {
                    FilterFormat::GroupVid | FilterFormat::GroupMacVid => {
                        (Some(u32::from_be_bytes([e[0], e[1], e[2], e[3]])), &e[4..])
                    }
                    _ => (None, e),
                };
                let (mac, rest) = match format {
                    FilterFormat::MacVid | FilterFormat::GroupMacVid => {
                        (Some(MacAddr::from_slice(rest)), &rest[6..])
                    }
                    _ => (None, rest),
                };
                let w = u16::from_be_bytes([rest[0], rest[1]]);
                VsiFilter {
                    group,
                    mac,
                    ps: w & 0x8000 != 0,
                    pcp: ((w >> 12) & 0x7) as u8,
                    vid: w & 0x0fff,
                }
            })
            .collect();
        let mut id = [0u8; 16];
        id.copy_from_slice(&v[6..22]);
        Ok(VsiTlv {
            request,
            status: v[0],
            type_id: u32::from_be_bytes([0, v[1], v[2], v[3]]),
            type_version: v[4],
            id_format: v[5],
            id,
            format,
            filters,
        })
    }

    /// Appends the TLV. Filter entries are written in the TLV's format
    /// (fields it does not carry are left out, missing ones written as
    /// zero); at most as many as fit a TLV.
    pub fn write(&self, out: &mut Vec<u8>) {
        let per = self.format.entry_len();
        let n = self
            .filters
            .len()
            .min((crate::lldp::TLV_MAX - VSI_FIXED) / per);
        let mut v = Vec::with_capacity(VSI_FIXED + n * per);
        v.push(self.status);
        v.extend_from_slice(&self.type_id.to_be_bytes()[1..]);
        v.push(self.type_version);
        v.push(self.id_format);
        v.extend_from_slice(&self.id);
        v.push(self.format.code());
        v.extend_from_slice(&(n as u16).to_be_bytes());
        for f in &self.filters[..n] {
            if matches!(
                self.format,
                FilterFormat::GroupVid | FilterFormat::GroupMacVid
            ) {
                v.extend_from_slice(&f.group.unwrap_or(0).to_be_bytes());
            }
            if matches!(
                self.format,
                FilterFormat::MacVid | FilterFormat::GroupMacVid
            ) {
                v.extend_from_slice(&f.mac.unwrap_or(MacAddr::ZERO).0);
            }
            let w = (f.ps as u16) << 15 | (f.pcp as u16 & 0x7) << 12 | (f.vid & 0x0fff);
            v.extend_from_slice(&w.to_be_bytes());
        }
        put_tlv(out, self.request.kind(), &v);
    }
}

fn vdp_tlv_name(kind: u8) -> &'static str {
    match kind {
        0 => "end",
        VDP_PRE_ASSOCIATE => "pre-associate",
        VDP_PRE_ASSOCIATE_RR => "pre-associate-rr",
        VDP_ASSOCIATE => "associate",
        VDP_DEASSOCIATE => "de-associate",
        VDP_MANAGER_ID => "manager ID",
        _ => "unknown",
    }
}

/// A VDP data unit: the VSI manager's ID and the VSI TLVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdpPdu {
    pub manager_id: [u8; 16],
    pub vsis: Vec<VsiTlv>,
    /// Organizationally specific and unknown TLVs, skipped.
    pub other_tlvs: u32,
}

impl VdpPdu {
    /// Parses the payload of an ECP request with subtype VDP. The manager
    /// ID TLV comes first, once; the walk ends at an End TLV or at the end
    /// of the frame (lldpad sends no End TLV; padding reads as one).
    pub fn parse(buf: &[u8]) -> Result<Self, EcpError> {
        let mut pdu = VdpPdu {
            manager_id: [0; 16],
            vsis: Vec::new(),
            other_tlvs: 0,
        };
        let mut first = true;
        for t in Tlvs::named(buf, vdp_tlv_name) {
            let t = t?;
            if first != (t.kind == VDP_MANAGER_ID) {
                return Err(EcpError::ManagerId);
            }
            first = false;
            let request = match t.kind {
                0 => break,
                VDP_MANAGER_ID => {
                    if t.value.len() != 16 {
                        return Err(EcpError::BadLength {
                            tlv: "manager ID",
                            len: t.value.len(),
                            expected: 16,
                        });
                    }
                    pdu.manager_id.copy_from_slice(t.value);
                    continue;
                }
                VDP_PRE_ASSOCIATE => VsiRequest::PreAssociate,
                VDP_PRE_ASSOCIATE_RR => VsiRequest::PreAssociateWithRr,
                VDP_ASSOCIATE => VsiRequest::Associate,
                VDP_DEASSOCIATE => VsiRequest::Deassociate,
                _ => {
                    pdu.other_tlvs += 1;
                    continue;
                }
            };
            pdu.vsis.push(VsiTlv::parse(request, t.value)?);
        }
        if first {
            return Err(EcpError::ManagerId);
        }
        Ok(pdu)
    }

    /// The payload: manager ID, the VSI TLVs, and an End TLV (lldpad walks
    /// to an End TLV through a buffer it does not clear, so one is needed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        put_tlv(&mut out, VDP_MANAGER_ID, &self.manager_id);
        for v in &self.vsis {
            v.write(&mut out);
        }
        put_tlv(&mut out, 0, &[]);
        out
    }
}

#[cfg(test)]
mod tests;
