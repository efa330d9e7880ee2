//! LLDP (IEEE 802.1AB) data units and the EVB TLV of IEEE 802.1Qbg-2012.
//!
//! A switch talks LLDP on its uplink and relay ports to learn who is on
//! the other end and, through the EVB TLV, whether that bridge will
//! reflect frames back (reflective relay, which VEPA needs). Every byte
//! here comes from a peer and is hostile: parsing checks each TLV's length
//! against the bytes left and against what its type allows, and returns a
//! typed error naming the TLV instead of panicking. The LLDPDU is parsed
//! into owned values: it is a slow-path frame (one every few seconds per
//! port), and the neighbour table keeps what it read.
//!
//! Wire facts (802.1AB clause 8, 802.1Qbg-2012 D.2.13) and what lldpad's
//! evb22 module does with them are in docs/802.1qbg.md.

use crate::MacAddr;

/// EtherType of LLDP.
pub const LLDP_ETHERTYPE: u16 = 0x88cc;
/// The nearest-bridge group address: no bridge forwards it.
pub const NEAREST_BRIDGE: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e]);
/// The nearest-customer-bridge group address: where 802.1Qbg's EVB TLV,
/// ECP and VDP go (lldpad's evb22 reads the EVB TLV only from this agent).
pub const NEAREST_CUSTOMER_BRIDGE: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00]);
/// The nearest non-TPMR bridge group address.
pub const NEAREST_NON_TPMR_BRIDGE: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x03]);

/// The IEEE 802.1 organizationally unique identifier.
pub const OUI_IEEE_8021: [u8; 3] = [0x00, 0x80, 0xc2];
/// The 802.1 subtype of the EVB TLV (802.1Qbg-2012).
pub const EVB_SUBTYPE: u8 = 0x0d;

const END: u8 = 0;
const CHASSIS_ID: u8 = 1;
const PORT_ID: u8 = 2;
const TTL: u8 = 3;
const PORT_DESCRIPTION: u8 = 4;
const SYSTEM_NAME: u8 = 5;
const SYSTEM_DESCRIPTION: u8 = 6;
const MANAGEMENT_ADDRESS: u8 = 8;
const ORG_SPECIFIC: u8 = 127;

/// Most bytes a TLV's value can hold (a 9-bit length).
pub const TLV_MAX: usize = 511;
/// Bytes of the EVB TLV's value: OUI, subtype and five bytes of fields.
pub const EVB_TLV_LEN: usize = 9;

/// Why bytes are not an LLDPDU (or an EVB TLV) vepa can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LldpError {
    #[error("TLV header at byte {at} is cut short")]
    TruncatedHeader { at: usize },
    #[error("{tlv} TLV at byte {at} says {len} bytes, but {left} are left")]
    TruncatedValue {
        tlv: &'static str,
        at: usize,
        len: usize,
        left: usize,
    },
    #[error("LLDPDU must open with chassis ID, port ID and TTL in that order; found TLV type {found} where {expected} belongs")]
    MandatoryOrder { expected: &'static str, found: u8 },
    #[error("LLDP {tlv} TLV has length {len}, expected {expected}")]
    BadLength {
        tlv: &'static str,
        len: usize,
        expected: &'static str,
    },
    #[error("LLDP {tlv} TLV appears twice")]
    Duplicate { tlv: &'static str },
    #[error("LLDP {field} is {len} bytes, at most {max} fit")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

/// One TLV as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub kind: u8,
    pub value: &'a [u8],
    /// Offset of its header in the LLDPDU.
    pub at: usize,
}

/// Walks the TLVs of an LLDPDU (or of a VDP payload, which uses the same
/// 7-bit type, 9-bit length header). Stops after an End TLV or at the end
/// of the buffer; a header or value cut short is an error, after which
/// the walk ends.
#[derive(Debug, Clone)]
pub struct Tlvs<'a> {
    buf: &'a [u8],
    at: usize,
    done: bool,
    names: fn(u8) -> &'static str,
}

impl<'a> Tlvs<'a> {
    /// The TLVs of an LLDPDU.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::named(buf, tlv_name)
    }

    /// TLVs of another protocol with this header, whose errors name its
    /// TLV types with `names`.
    pub fn named(buf: &'a [u8], names: fn(u8) -> &'static str) -> Self {
        Tlvs {
            buf,
            at: 0,
            done: false,
            names,
        }
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, LldpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.buf.len() {
            return None;
        }
        let at = self.at;
        let Some(h) = self.buf.get(at..at + 2) else {
            self.done = true;
            return Some(Err(LldpError::TruncatedHeader { at }));
        };
        let word = u16::from_be_bytes([h[0], h[1]]);
        let kind = (word >> 9) as u8;
        let len = (word & 0x1ff) as usize;
        let left = self.buf.len() - at - 2;
        let Some(value) = self.buf.get(at + 2..at + 2 + len) else {
            self.done = true;
            return Some(Err(LldpError::TruncatedValue {
                tlv: (self.names)(kind),
                at,
                len,
                left,
            }));
        };
        self.at = at + 2 + len;
        if kind == END {
            self.done = true;
        }
        Some(Ok(Tlv { kind, value, at }))
    }
}

/// Appends a TLV header and value; the caller keeps `value` within
/// [`TLV_MAX`] (checked here too: a longer value is cut, never wraps).
pub fn put_tlv(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let value = &value[..value.len().min(TLV_MAX)];
    let word = ((kind as u16 & 0x7f) << 9) | value.len() as u16;
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(value);
}

fn tlv_name(kind: u8) -> &'static str {
    match kind {
        END => "end",
        CHASSIS_ID => "chassis ID",
        PORT_ID => "port ID",
        TTL => "TTL",
        PORT_DESCRIPTION => "port description",
        SYSTEM_NAME => "system name",
        SYSTEM_DESCRIPTION => "system description",
        MANAGEMENT_ADDRESS => "management address",
        ORG_SPECIFIC => "organizationally specific",
        _ => "unknown",
    }
}

/// A chassis or port ID: its subtype and bytes (1 to 255 of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LldpId {
    pub subtype: u8,
    pub id: Vec<u8>,
}

impl LldpId {
    /// Chassis ID subtype 4 / port ID subtype 3: a MAC address.
    pub fn mac(subtype: u8, mac: MacAddr) -> Self {
        LldpId {
            subtype,
            id: mac.0.to_vec(),
        }
    }

    /// Chassis ID subtype 7 / port ID subtype 7: locally assigned text.
    pub fn local(text: &str) -> Self {
        LldpId {
            subtype: 7,
            id: text.as_bytes()[..text.len().min(255)].to_vec(),
        }
    }

    fn parse(tlv: &'static str, v: &[u8]) -> Result<Self, LldpError> {
        if v.len() < 2 || v.len() > 256 {
            return Err(LldpError::BadLength {
                tlv,
                len: v.len(),
                expected: "2 to 256",
            });
        }
        Ok(LldpId {
            subtype: v[0],
            id: v[1..].to_vec(),
        })
    }

    /// As people read it: a MAC as a MAC, text as text, anything else in hex.
    pub fn display(&self) -> String {
        let is_mac = matches!(self.subtype, 3 | 4) && self.id.len() == 6;
        if is_mac {
            return MacAddr::from_slice(&self.id).to_string();
        }
        match std::str::from_utf8(&self.id) {
            Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => s.to_string(),
            _ => self.id.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// A management address TLV: the address (IANA family and bytes) and the
/// interface it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementAddress {
    /// IANA address family: 1 IPv4, 2 IPv6, 6 an IEEE 802 MAC.
    pub family: u8,
    pub address: Vec<u8>,
    /// Interface numbering: 1 unknown, 2 ifIndex, 3 system port number.
    pub if_subtype: u8,
    pub if_number: u32,
}

impl ManagementAddress {
    fn parse(v: &[u8]) -> Result<Self, LldpError> {
        let bad = |expected| LldpError::BadLength {
            tlv: "management address",
            len: v.len(),
            expected,
        };
        // The address string length counts its subtype byte: 2 to 32.
        let alen = *v.first().ok_or(bad("at least 9"))? as usize;
        if !(2..=32).contains(&alen) {
            return Err(bad("an address string of 2 to 32 bytes"));
        }
        let rest = v.get(1 + alen..).ok_or(bad("room for the address"))?;
        if rest.len() < 6 {
            return Err(bad("room for the interface and OID"));
        }
        let oid_len = rest[5] as usize;
        if rest.len() != 6 + oid_len || oid_len > 128 {
            return Err(bad("an OID string of at most 128 bytes ending the TLV"));
        }
        Ok(ManagementAddress {
            family: v[1],
            address: v[2..1 + alen].to_vec(),
            if_subtype: rest[0],
            if_number: u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]),
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        let addr = &self.address[..self.address.len().min(31)];
        let mut v = Vec::with_capacity(8 + addr.len());
        v.push(addr.len() as u8 + 1);
        v.push(self.family);
        v.extend_from_slice(addr);
        v.push(self.if_subtype);
        v.extend_from_slice(&self.if_number.to_be_bytes());
        v.push(0);
        put_tlv(out, MANAGEMENT_ADDRESS, &v);
    }

    /// The address as people read it.
    pub fn display(&self) -> String {
        match (self.family, self.address.len()) {
            (1, 4) => std::net::Ipv4Addr::new(
                self.address[0],
                self.address[1],
                self.address[2],
                self.address[3],
            )
            .to_string(),
            (2, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&self.address);
                std::net::Ipv6Addr::from(b).to_string()
            }
            (6, 6) => MacAddr::from_slice(&self.address).to_string(),
            _ => self.address.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// An LLDPDU: the mandatory TLVs, the optional ones vepa shows, the EVB
/// TLV, and how many TLVs it carried that vepa does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lldpdu {
    pub chassis: LldpId,
    pub port: LldpId,
    /// Seconds the receiver may keep this; 0 says "forget me" (shutdown).
    pub ttl: u16,
    pub port_description: Option<String>,
    pub system_name: Option<String>,
    pub system_description: Option<String>,
    pub management: Vec<ManagementAddress>,
    pub evb: Option<EvbTlv>,
    /// TLVs of other types (organizationally specific ones included).
    pub other_tlvs: u32,
}

impl Lldpdu {
    /// A data unit with the mandatory TLVs only.
    pub fn new(chassis: LldpId, port: LldpId, ttl: u16) -> Self {
        Lldpdu {
            chassis,
            port,
            ttl,
            port_description: None,
            system_name: None,
            system_description: None,
            management: Vec::new(),
            evb: None,
            other_tlvs: 0,
        }
    }

    /// Parses the LLDPDU that follows the Ethernet header.
    pub fn parse(buf: &[u8]) -> Result<Self, LldpError> {
        let mut tlvs = Tlvs::new(buf);
        let mut mandatory = |expected: &'static str, kind: u8| -> Result<&[u8], LldpError> {
            match tlvs.next() {
                Some(Ok(t)) if t.kind == kind => Ok(t.value),
                Some(Ok(t)) => Err(LldpError::MandatoryOrder {
                    expected,
                    found: t.kind,
                }),
                Some(Err(e)) => Err(e),
                None => Err(LldpError::TruncatedHeader { at: buf.len() }),
            }
        };
        let chassis = LldpId::parse("chassis ID", mandatory("chassis ID", CHASSIS_ID)?)?;
        let port = LldpId::parse("port ID", mandatory("port ID", PORT_ID)?)?;
        let ttl = mandatory("TTL", TTL)?;
        if ttl.len() != 2 {
            return Err(LldpError::BadLength {
                tlv: "TTL",
                len: ttl.len(),
                expected: "2",
            });
        }
        let mut du = Lldpdu::new(chassis, port, u16::from_be_bytes([ttl[0], ttl[1]]));
        for t in tlvs {
            let t = t?;
            let text = |slot: &mut Option<String>, tlv: &'static str| {
                if slot.is_some() {
                    return Err(LldpError::Duplicate { tlv });
                }
                if t.value.len() > 255 {
                    return Err(LldpError::BadLength {
                        tlv,
                        len: t.value.len(),
                        expected: "at most 255",
                    });
                }
                *slot = Some(String::from_utf8_lossy(t.value).into_owned());
                Ok(())
            };
            match t.kind {
                END => break,
                CHASSIS_ID | PORT_ID | TTL => {
                    return Err(LldpError::Duplicate {
                        tlv: tlv_name(t.kind),
                    })
                }
                PORT_DESCRIPTION => text(&mut du.port_description, "port description")?,
                SYSTEM_NAME => text(&mut du.system_name, "system name")?,
                SYSTEM_DESCRIPTION => text(&mut du.system_description, "system description")?,
                MANAGEMENT_ADDRESS => du.management.push(ManagementAddress::parse(t.value)?),
                ORG_SPECIFIC if t.value.get(..4) == Some(&[0x00, 0x80, 0xc2, EVB_SUBTYPE]) => {
                    if du.evb.is_some() {
                        return Err(LldpError::Duplicate { tlv: "EVB" });
                    }
                    du.evb = Some(EvbTlv::parse(t.value)?);
                }
                _ => du.other_tlvs += 1,
            }
        }
        Ok(du)
    }

    /// Appends the LLDPDU, End TLV included. Text longer than a TLV holds is
    /// refused, not cut, so what a neighbour sees is what was configured.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), LldpError> {
        for (tlv, id) in [("chassis ID", &self.chassis), ("port ID", &self.port)] {
            if id.id.is_empty() || id.id.len() > 255 {
                return Err(LldpError::BadLength {
                    tlv,
                    len: id.id.len() + 1,
                    expected: "2 to 256 (a subtype and 1 to 255 bytes of ID)",
                });
            }
        }
        let mut id = |kind, v: &LldpId| {
            let mut b = Vec::with_capacity(1 + v.id.len());
            b.push(v.subtype);
            b.extend_from_slice(&v.id);
            put_tlv(out, kind, &b);
        };
        id(CHASSIS_ID, &self.chassis);
        id(PORT_ID, &self.port);
        put_tlv(out, TTL, &self.ttl.to_be_bytes());
        for (kind, field, text) in [
            (PORT_DESCRIPTION, "port description", &self.port_description),
            (SYSTEM_NAME, "system name", &self.system_name),
            (
                SYSTEM_DESCRIPTION,
                "system description",
                &self.system_description,
            ),
        ] {
            if let Some(t) = text {
                if t.len() > 255 {
                    return Err(LldpError::TooLong {
                        field,
                        len: t.len(),
                        max: 255,
                    });
                }
                put_tlv(out, kind, t.as_bytes());
            }
        }
        for m in &self.management {
            m.write(out);
        }
        if let Some(evb) = &self.evb {
            put_tlv(out, ORG_SPECIFIC, &evb.to_bytes());
        }
        put_tlv(out, END, &[]);
        Ok(())
    }

    /// A whole Ethernet frame carrying this LLDPDU from `src` to `dst`
    /// (one of the LLDP group addresses), padded to the 60-byte minimum.
    pub fn frame(&self, dst: MacAddr, src: MacAddr) -> Result<Vec<u8>, LldpError> {
        let mut f = Vec::with_capacity(128);
        f.extend_from_slice(&dst.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&LLDP_ETHERTYPE.to_be_bytes());
        self.write(&mut f)?;
        if f.len() < 60 {
            f.resize(60, 0);
        }
        Ok(f)
    }
}

/// EVB mode, as the EVB TLV states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvbMode {
    NotSupported,
    Bridge,
    Station,
    Reserved,
}

/// Reflective relay status a station reports (RRSTAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RrStatus {
    /// The bridge has not turned reflective relay on for this port.
    Off,
    /// The bridge has turned it on.
    On,
    Reserved,
    /// Nothing heard from a bridge yet.
    Unknown,
}

/// The EVB TLV of 802.1Qbg-2012 (OUI 00-80-C2, subtype 0x0D), field by
/// field. The five field bytes: bridge status, station status, R/RTE,
/// mode/ROL/RWD, ROL/RKA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvbTlv {
    /// Bridge status: group ID support (BGID).
    pub bgid: bool,
    /// Bridge status: reflective relay capable (RRCAP).
    pub rrcap: bool,
    /// Bridge status: reflective relay turned on for this port (RRCTR).
    pub rrctr: bool,
    /// Station status: group ID support (SGID).
    pub sgid: bool,
    /// Station status: reflective relay requested (RRREQ).
    pub rrreq: bool,
    /// Station status: RRSTAT.
    pub rrstat: RrStatus,
    /// Most ECP retransmissions (R, 0 to 7).
    pub retries: u8,
    /// ECP retransmission exponent (RTE, 0 to 31; 10 µs × 2^RTE).
    pub rte: u8,
    pub mode: EvbMode,
    /// RWD is the remote side's value (ROL).
    pub rwd_remote: bool,
    /// VDP resource wait delay exponent (RWD, 0 to 31).
    pub rwd: u8,
    /// RKA is the remote side's value (ROL).
    pub rka_remote: bool,
    /// VDP keep-alive exponent (RKA, 0 to 31).
    pub rka: u8,
}

impl EvbTlv {
    /// Parses the value of an organizationally specific TLV whose OUI and
    /// subtype say EVB. The TLV is exactly 9 bytes (lldpad copies what it
    /// receives into a 9-byte structure, so nothing longer may be sent or
    /// taken as valid).
    pub fn parse(v: &[u8]) -> Result<Self, LldpError> {
        if v.len() != EVB_TLV_LEN {
            return Err(LldpError::BadLength {
                tlv: "EVB",
                len: v.len(),
                expected: "9",
            });
        }
        let (b, s, r, m, k) = (v[4], v[5], v[6], v[7], v[8]);
        Ok(EvbTlv {
            bgid: b & 0x04 != 0,
            rrcap: b & 0x02 != 0,
            rrctr: b & 0x01 != 0,
            sgid: s & 0x08 != 0,
            rrreq: s & 0x04 != 0,
            rrstat: match s & 0x03 {
                0 => RrStatus::Off,
                1 => RrStatus::On,
                2 => RrStatus::Reserved,
                _ => RrStatus::Unknown,
            },
            retries: r >> 5,
            rte: r & 0x1f,
            mode: match m >> 6 {
                0 => EvbMode::NotSupported,
                1 => EvbMode::Bridge,
                2 => EvbMode::Station,
                _ => EvbMode::Reserved,
            },
            rwd_remote: m & 0x20 != 0,
            rwd: m & 0x1f,
            rka_remote: k & 0x20 != 0,
            rka: k & 0x1f,
        })
    }

    /// The TLV's value: OUI, subtype and the five field bytes. Values past
    /// their field's width are cut to it.
    pub fn to_bytes(&self) -> [u8; EVB_TLV_LEN] {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        let rrstat = match self.rrstat {
            RrStatus::Off => 0,
            RrStatus::On => 1,
            RrStatus::Reserved => 2,
            RrStatus::Unknown => 3,
        };
        let mode = match self.mode {
            EvbMode::NotSupported => 0,
            EvbMode::Bridge => 1,
            EvbMode::Station => 2,
            EvbMode::Reserved => 3,
        };
        [
            OUI_IEEE_8021[0],
            OUI_IEEE_8021[1],
            OUI_IEEE_8021[2],
            EVB_SUBTYPE,
            bit(self.bgid, 0x04) | bit(self.rrcap, 0x02) | bit(self.rrctr, 0x01),
            bit(self.sgid, 0x08) | bit(self.rrreq, 0x04) | rrstat,
            (self.retries & 0x07) << 5 | (self.rte & 0x1f),
            mode << 6 | bit(self.rwd_remote, 0x20) | (self.rwd & 0x1f),
            bit(self.rka_remote, 0x20) | (self.rka & 0x1f),
        ]
    }
}

#[cfg(test)]
mod tests;
