//! LACPDUs (IEEE 802.1AX-2014, 6.4.2): what two ends of a link
//! aggregation tell each other about themselves (actor) and about what
//! they heard of the other (partner), sent to the Slow Protocols group
//! address with EtherType 0x8809, subtype 1.
//!
//! The layout is fixed for version 1 (110 bytes after the EtherType); a
//! newer version may append TLVs, which are ignored, as the standard asks
//! of a version 1 receiver. Every TLV's type and length are checked before
//! its fields are read.

use crate::MacAddr;

/// The Slow Protocols EtherType (LACP, Marker, OAM).
pub const SLOW_PROTOCOLS: u16 = 0x8809;
/// Where LACPDUs go (never forwarded by a bridge).
pub const SLOW_PROTOCOLS_DST: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x02]);
pub const SUBTYPE_LACP: u8 = 1;
pub const SUBTYPE_MARKER: u8 = 2;
/// A version 1 LACPDU after the EtherType.
pub const LACPDU_LEN: usize = 110;

/// The state octet of an actor or partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct LacpState(pub u8);

impl LacpState {
    /// Active LACP (else passive: speaks only when spoken to).
    pub const ACTIVITY: u8 = 0x01;
    /// Short timeout: expects a LACPDU every second (else every 30 s).
    pub const TIMEOUT: u8 = 0x02;
    /// The link may be aggregated (else it is an individual link).
    pub const AGGREGATION: u8 = 0x04;
    /// In sync: attached to the right aggregator.
    pub const SYNCHRONIZATION: u8 = 0x08;
    pub const COLLECTING: u8 = 0x10;
    pub const DISTRIBUTING: u8 = 0x20;
    /// Using default partner information (heard nothing).
    pub const DEFAULTED: u8 = 0x40;
    /// The receive machine is in EXPIRED.
    pub const EXPIRED: u8 = 0x80;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub fn with(self, bit: u8, on: bool) -> LacpState {
        LacpState(if on { self.0 | bit } else { self.0 & !bit })
    }
}

/// What one end says of a port: the system it belongs to, the key of the
/// aggregation it may join, the port itself and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PortInfo {
    pub system_priority: u16,
    pub system: MacAddr,
    pub key: u16,
    pub port_priority: u16,
    pub port: u16,
    pub state: LacpState,
}

impl PortInfo {
    fn read(b: &[u8]) -> PortInfo {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let mut system = [0u8; 6];
        system.copy_from_slice(&b[2..8]);
        PortInfo {
            system_priority: u16_at(0),
            system: MacAddr(system),
            key: u16_at(8),
            port_priority: u16_at(10),
            port: u16_at(12),
            state: LacpState(b[14]),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.system_priority.to_be_bytes());
        out.extend_from_slice(&self.system.0);
        out.extend_from_slice(&self.key.to_be_bytes());
        out.extend_from_slice(&self.port_priority.to_be_bytes());
        out.extend_from_slice(&self.port.to_be_bytes());
        out.push(self.state.0);
        out.extend_from_slice(&[0, 0, 0]);
    }
}

/// Why a Slow Protocols frame is not a LACPDU vepa takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LacpError {
    #[error("LACPDU of {0} bytes is shorter than the {LACPDU_LEN} its TLVs need")]
    Truncated(usize),
    #[error("not LACP (slow protocols subtype {0})")]
    Subtype(u8),
    #[error("version 0 is not LACP")]
    Version,
    #[error("TLV {at}: type {kind} length {len}, expected type {want_kind} length {want_len}")]
    Tlv {
        at: usize,
        kind: u8,
        len: u8,
        want_kind: u8,
        want_len: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lacpdu {
    pub actor: PortInfo,
    pub partner: PortInfo,
    /// Tens of microseconds the collector may hold a frame.
    pub collector_max_delay: u16,
}

impl Lacpdu {
    /// Reads a LACPDU from what follows the EtherType.
    pub fn parse(b: &[u8]) -> Result<Lacpdu, LacpError> {
        if b.len() < 2 {
            return Err(LacpError::Truncated(b.len()));
        }
        if b[0] != SUBTYPE_LACP {
            return Err(LacpError::Subtype(b[0]));
        }
        if b[1] == 0 {
            return Err(LacpError::Version);
        }
        // A version 2 or later sender may pad differently after the
        // terminator, never before it.
        if b.len() < LACPDU_LEN - 50 {
            return Err(LacpError::Truncated(b.len()));
        }
        let tlv = |at: usize, want_kind: u8, want_len: u8| {
            let (kind, len) = (b[at], b[at + 1]);
            if kind != want_kind || len != want_len {
                return Err(LacpError::Tlv {
                    at,
                    kind,
                    len,
                    want_kind,
                    want_len,
                });
            }
            Ok(())
        };
        tlv(2, 1, 20)?;
        tlv(22, 2, 20)?;
        tlv(42, 3, 16)?;
        tlv(58, 0, 0)?;
        Ok(Lacpdu {
            actor: PortInfo::read(&b[4..22]),
            partner: PortInfo::read(&b[24..42]),
            collector_max_delay: u16::from_be_bytes([b[44], b[45]]),
        })
    }

    /// The version 1 LACPDU (what follows the EtherType), 110 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[SUBTYPE_LACP, 1, 1, 20]);
        self.actor.write(out);
        out.extend_from_slice(&[2, 20]);
        self.partner.write(out);
        out.extend_from_slice(&[3, 16]);
        out.extend_from_slice(&self.collector_max_delay.to_be_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&[0; 50]);
    }

    /// A whole frame from `src` (the sending port's MAC).
    pub fn frame(&self, src: MacAddr) -> Vec<u8> {
        let mut f = Vec::with_capacity(14 + LACPDU_LEN);
        f.extend_from_slice(&SLOW_PROTOCOLS_DST.0);
        f.extend_from_slice(&src.0);
        f.extend_from_slice(&SLOW_PROTOCOLS.to_be_bytes());
        self.write(&mut f);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(n: u8) -> PortInfo {
        PortInfo {
            system_priority: 65534,
            system: MacAddr([2, 0, 0, 0, 0, n]),
            key: 0x0102,
            port_priority: 255,
            port: n as u16,
            state: LacpState(LacpState::ACTIVITY | LacpState::AGGREGATION),
        }
    }

    #[test]
    fn writes_the_standard_layout_and_reads_it_back() {
        let pdu = Lacpdu {
            actor: info(1),
            partner: info(2),
            collector_max_delay: 0,
        };
        let f = pdu.frame(MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.len(), 124);
        assert_eq!(&f[..6], &[0x01, 0x80, 0xc2, 0, 0, 2]);
        assert_eq!(&f[12..16], &[0x88, 0x09, 1, 1]);
        // Actor TLV: type 1, length 20, priority 0xfffe, system, key 0x0102,
        // port priority 0x00ff, port 1, state 0x05.
        assert_eq!(
            &f[16..36],
            &[1, 20, 0xff, 0xfe, 2, 0, 0, 0, 0, 1, 1, 2, 0, 0xff, 0, 1, 5, 0, 0, 0]
        );
        assert_eq!(&f[56..58], &[3, 16]);
        assert_eq!(&f[72..74], &[0, 0]);
        assert_eq!(Lacpdu::parse(&f[14..]), Ok(pdu));
    }

    #[test]
    fn refuses_what_is_not_a_version_1_lacpdu() {
        let mut good = Vec::new();
        Lacpdu::default().write(&mut good);
        assert_eq!(Lacpdu::parse(&good[..40]), Err(LacpError::Truncated(40)));
        let mut marker = good.clone();
        marker[0] = SUBTYPE_MARKER;
        assert_eq!(Lacpdu::parse(&marker), Err(LacpError::Subtype(2)));
        let mut v0 = good.clone();
        v0[1] = 0;
        assert_eq!(Lacpdu::parse(&v0), Err(LacpError::Version));
        let mut bad_len = good.clone();
        bad_len[23] = 19;
        assert!(matches!(
            Lacpdu::parse(&bad_len),
            Err(LacpError::Tlv { at: 22, .. })
        ));
        // A later version with more after the terminator is read.
        let mut v2 = good.clone();
        v2[1] = 2;
        v2.extend_from_slice(&[9; 30]);
        assert!(Lacpdu::parse(&v2).is_ok());
    }

    fn arb_info() -> impl Strategy<Value = PortInfo> {
        (
            any::<u16>(),
            any::<[u8; 6]>(),
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
        )
            .prop_map(|(sp, sys, key, pp, port, st)| PortInfo {
                system_priority: sp,
                system: MacAddr(sys),
                key,
                port_priority: pp,
                port,
                state: LacpState(st),
            })
    }

    proptest! {
        #[test]
        fn round_trips(actor in arb_info(), partner in arb_info(), delay in any::<u16>()) {
            let pdu = Lacpdu { actor, partner, collector_max_delay: delay };
            let mut b = Vec::new();
            pdu.write(&mut b);
            prop_assert_eq!(b.len(), LACPDU_LEN);
            prop_assert_eq!(Lacpdu::parse(&b), Ok(pdu));
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = Lacpdu::parse(&b);
        }
    }
}
