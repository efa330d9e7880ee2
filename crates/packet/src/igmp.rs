//! IGMP (v1, v2, v3: RFC 1112, 2236, 3376) and MLD (v1, v2: RFC 2710,
//! 3810) as a snooping switch reads them: who asks (a query, general or
//! for one group), who joins and who leaves. Sources are not tracked: a
//! v3/v2 record counts as a join unless it asks for no source at all
//! (INCLUDE with an empty list), as the Linux bridge reads them without
//! source tracking.
//!
//! Every length and count is checked against the message before it is
//! read; a message that does not check out is an error, never a panic.

use crate::checksum::{finish, sum_words};
use crate::ip::icmpv6_checksum_ok;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IGMP's IP protocol number.
pub const PROTO_IGMP: u8 = 2;
pub const IGMP_QUERY: u8 = 0x11;
pub const IGMP_V1_REPORT: u8 = 0x12;
pub const IGMP_V2_REPORT: u8 = 0x16;
pub const IGMP_V2_LEAVE: u8 = 0x17;
pub const IGMP_V3_REPORT: u8 = 0x22;
pub const MLD_QUERY: u8 = 130;
pub const MLD_V1_REPORT: u8 = 131;
pub const MLD_V1_DONE: u8 = 132;
pub const MLD_V2_REPORT: u8 = 143;

/// Why a group-management message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("{what} of {len} bytes is shorter than its {need}")]
    Truncated {
        what: &'static str,
        len: usize,
        need: usize,
    },
    #[error("bad checksum")]
    Checksum,
    #[error("group {0} is not a multicast address")]
    NotMulticast(IpAddr),
    #[error("not a group-management message")]
    NotGroup,
}

/// One group's fate in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Join(IpAddr),
    Leave(IpAddr),
}

/// A group-management message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMessage<'a> {
    /// From a querier: `group` is `None` for a general query.
    Query {
        group: Option<IpAddr>,
        max_resp_ms: u32,
    },
    /// v1/v2 report or leave/done: one group.
    One(Membership),
    /// v3 / MLDv2 report: its records, checked; [`Records`] walks them.
    Records(Records<'a>),
}

/// The records of a v3 / MLDv2 report, each already bounds-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records<'a> {
    bytes: &'a [u8],
    count: usize,
    v6: bool,
}

impl<'a> Records<'a> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Each record as a join or a leave (the checks were made when read).
    pub fn iter(&self) -> impl Iterator<Item = Membership> + 'a {
        let (bytes, v6) = (self.bytes, self.v6);
        let addr_len = if v6 { 16 } else { 4 };
        let mut at = 0usize;
        (0..self.count).map(move |_| {
            let r = &bytes[at..];
            let (kind, aux, nsrc) = (
                r[0],
                r[1] as usize,
                u16::from_be_bytes([r[2], r[3]]) as usize,
            );
            let group = addr_of(&r[4..4 + addr_len]);
            at += 4 + addr_len + nsrc * addr_len + aux * 4;
            // MODE_IS_INCLUDE (1) / CHANGE_TO_INCLUDE (3) with no source:
            // the host wants nothing of the group any more.
            if matches!(kind, 1 | 3) && nsrc == 0 {
                Membership::Leave(group)
            } else {
                Membership::Join(group)
            }
        })
    }
}

fn addr_of(b: &[u8]) -> IpAddr {
    if b.len() == 16 {
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

fn need(what: &'static str, b: &[u8], n: usize) -> Result<(), GroupError> {
    if b.len() < n {
        return Err(GroupError::Truncated {
            what,
            len: b.len(),
            need: n,
        });
    }
    Ok(())
}

fn multicast(a: IpAddr) -> Result<IpAddr, GroupError> {
    if a.is_multicast() {
        Ok(a)
    } else {
        Err(GroupError::NotMulticast(a))
    }
}

/// Walks `count` records of `addr_len`-byte addresses, checking each
/// fits and names a multicast group.
fn records(b: &[u8], count: usize, v6: bool) -> Result<Records<'_>, GroupError> {
    let addr_len = if v6 { 16 } else { 4 };
    let mut at = 0usize;
    for _ in 0..count {
        let r = &b[at..];
        need("group record", r, 4 + addr_len)?;
        let (aux, nsrc) = (r[1] as usize, u16::from_be_bytes([r[2], r[3]]) as usize);
        let len = 4 + addr_len + nsrc * addr_len + aux * 4;
        need("group record", r, len)?;
        multicast(addr_of(&r[4..4 + addr_len]))?;
        at += len;
    }
    Ok(Records {
        bytes: &b[..at],
        count,
        v6,
    })
}

/// An IGMP message (the IPv4 payload of protocol 2).
pub fn parse_igmp(msg: &[u8]) -> Result<GroupMessage<'_>, GroupError> {
    need("IGMP message", msg, 8)?;
    if finish(sum_words(0, msg)) != 0 {
        return Err(GroupError::Checksum);
    }
    let group = IpAddr::V4(Ipv4Addr::new(msg[4], msg[5], msg[6], msg[7]));
    match msg[0] {
        IGMP_QUERY => {
            // v1: max resp 0 means 10 s; v2 in tenths of a second; v3 (12
            // bytes or more) the same code with an exponent above 128.
            let code = msg[1] as u32;
            let tenths = if msg.len() >= 12 && code >= 128 {
                ((code & 0x0f) | 0x10) << (((code >> 4) & 0x07) + 3)
            } else if code == 0 {
                100
            } else {
                code
            };
            let group = if group.is_unspecified() {
                None
            } else {
                Some(multicast(group)?)
            };
            Ok(GroupMessage::Query {
                group,
                max_resp_ms: tenths * 100,
            })
        }
        IGMP_V1_REPORT | IGMP_V2_REPORT => {
            Ok(GroupMessage::One(Membership::Join(multicast(group)?)))
        }
        IGMP_V2_LEAVE => Ok(GroupMessage::One(Membership::Leave(multicast(group)?))),
        IGMP_V3_REPORT => {
            let count = u16::from_be_bytes([msg[6], msg[7]]) as usize;
            Ok(GroupMessage::Records(records(&msg[8..], count, false)?))
        }
        _ => Err(GroupError::NotGroup),
    }
}

/// An MLD message (an ICMPv6 message of type 130, 131, 132 or 143) sent
/// from `src` to `dst`; `Err(NotGroup)` for any other ICMPv6 message.
pub fn parse_mld(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> Result<GroupMessage<'_>, GroupError> {
    need("ICMPv6 message", msg, 4)?;
    if !matches!(
        msg[0],
        MLD_QUERY | MLD_V1_REPORT | MLD_V1_DONE | MLD_V2_REPORT
    ) {
        return Err(GroupError::NotGroup);
    }
    need("MLD message", msg, 8)?;
    if !icmpv6_checksum_ok(src, dst, msg) {
        return Err(GroupError::Checksum);
    }
    if msg[0] == MLD_V2_REPORT {
        let count = u16::from_be_bytes([msg[6], msg[7]]) as usize;
        return Ok(GroupMessage::Records(records(&msg[8..], count, true)?));
    }
    need("MLD message", msg, 24)?;
    let group = addr_of(&msg[8..24]);
    match msg[0] {
        MLD_QUERY => {
            // v2 (28 bytes or more): a code of 32768 or more has an exponent.
            let code = u16::from_be_bytes([msg[4], msg[5]]) as u32;
            let ms = if msg.len() >= 28 && code >= 32768 {
                ((code & 0x0fff) | 0x1000) << (((code >> 12) & 0x07) + 3)
            } else {
                code
            };
            let group = if group == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
                None
            } else {
                Some(multicast(group)?)
            };
            Ok(GroupMessage::Query {
                group,
                max_resp_ms: ms,
            })
        }
        MLD_V1_REPORT => Ok(GroupMessage::One(Membership::Join(multicast(group)?))),
        _ => Ok(GroupMessage::One(Membership::Leave(multicast(group)?))),
    }
}

/// Groups every host of the link is in whatever it reports, which a
/// snooping switch always floods: 224.0.0.0/24 (RFC 5771's local network
/// control block) and IPv6 link-scope groups (ff02::/16: all nodes,
/// solicited-node and the rest).
pub fn always_flooded(group: IpAddr) -> bool {
    match group {
        IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            s & 0xff0f == 0xff02 || s & 0xff0f == 0xff01
        }
    }
}

/// An IGMP message with its checksum (for queries a switch sends and tests).
pub fn igmp_message(kind: u8, max_resp: u8, group: Ipv4Addr, rest: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, max_resp, 0, 0];
    m.extend_from_slice(&group.octets());
    m.extend_from_slice(rest);
    let c = finish(sum_words(0, &m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::icmpv6;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().expect("v4"))
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().expect("v6"))
    }

    #[test]
    fn igmp_v1_v2_messages() {
        let g: Ipv4Addr = "239.1.1.1".parse().expect("g");
        let join = igmp_message(IGMP_V2_REPORT, 0, g, &[]);
        assert_eq!(
            parse_igmp(&join),
            Ok(GroupMessage::One(Membership::Join(v4("239.1.1.1"))))
        );
        let v1 = igmp_message(IGMP_V1_REPORT, 0, g, &[]);
        assert_eq!(
            parse_igmp(&v1),
            Ok(GroupMessage::One(Membership::Join(v4("239.1.1.1"))))
        );
        let leave = igmp_message(IGMP_V2_LEAVE, 0, g, &[]);
        assert_eq!(
            parse_igmp(&leave),
            Ok(GroupMessage::One(Membership::Leave(v4("239.1.1.1"))))
        );
        let general = igmp_message(IGMP_QUERY, 100, Ipv4Addr::UNSPECIFIED, &[]);
        assert_eq!(
            parse_igmp(&general),
            Ok(GroupMessage::Query {
                group: None,
                max_resp_ms: 10_000
            })
        );
        let specific = igmp_message(IGMP_QUERY, 10, g, &[]);
        assert_eq!(
            parse_igmp(&specific),
            Ok(GroupMessage::Query {
                group: Some(v4("239.1.1.1")),
                max_resp_ms: 1000
            })
        );
        let mut bad = join.clone();
        bad[5] ^= 1;
        assert_eq!(parse_igmp(&bad), Err(GroupError::Checksum));
        let unicast = igmp_message(IGMP_V2_REPORT, 0, "10.0.0.1".parse().expect("u"), &[]);
        assert_eq!(
            parse_igmp(&unicast),
            Err(GroupError::NotMulticast(v4("10.0.0.1")))
        );
        assert!(matches!(
            parse_igmp(&join[..7]),
            Err(GroupError::Truncated { .. })
        ));
    }

    #[test]
    fn igmp_v3_records() {
        // reserved, 3 records: EXCLUDE {} 239.1.1.1 (join), TO_IN {} 239.1.1.2
        // (leave), ALLOW {10.0.0.9} 239.1.1.3 with one aux word (join).
        let mut rest = vec![0, 3];
        rest.extend_from_slice(&[2, 0, 0, 0, 239, 1, 1, 1]);
        rest.extend_from_slice(&[3, 0, 0, 0, 239, 1, 1, 2]);
        rest.extend_from_slice(&[
            5, 1, 0, 1, 239, 1, 1, 3, 10, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd,
        ]);
        let m = igmp_message(IGMP_V3_REPORT, 0, Ipv4Addr::UNSPECIFIED, &[]);
        let mut m = m[..4].to_vec();
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&rest);
        m[2..4].copy_from_slice(&[0, 0]);
        let c = finish(sum_words(0, &m));
        m[2..4].copy_from_slice(&c.to_be_bytes());
        let Ok(GroupMessage::Records(r)) = parse_igmp(&m) else {
            panic!("not records: {:?}", parse_igmp(&m));
        };
        let got: Vec<_> = r.iter().collect();
        assert_eq!(
            got,
            vec![
                Membership::Join(v4("239.1.1.1")),
                Membership::Leave(v4("239.1.1.2")),
                Membership::Join(v4("239.1.1.3")),
            ]
        );
        // A record count beyond the message is refused whole.
        let mut long = m.clone();
        long[7] = 4;
        long[2..4].copy_from_slice(&[0, 0]);
        let c = finish(sum_words(0, &long));
        long[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(matches!(
            parse_igmp(&long),
            Err(GroupError::Truncated { .. })
        ));
    }

    #[test]
    fn mld_messages() {
        let src: Ipv6Addr = "fe80::1".parse().expect("src");
        let g: Ipv6Addr = "ff3e::1".parse().expect("g");
        let mk = |ty: u8, code: u16, group: Ipv6Addr, dst: Ipv6Addr| {
            let c = code.to_be_bytes();
            (
                icmpv6(src, dst, ty, 0, [c[0], c[1], 0, 0], &group.octets()),
                dst,
            )
        };
        let (m, dst) = mk(MLD_V1_REPORT, 0, g, g);
        assert_eq!(
            parse_mld(src, dst, &m),
            Ok(GroupMessage::One(Membership::Join(v6("ff3e::1"))))
        );
        let all_routers: Ipv6Addr = "ff02::2".parse().expect("r");
        let (m, dst) = mk(MLD_V1_DONE, 0, g, all_routers);
        assert_eq!(
            parse_mld(src, dst, &m),
            Ok(GroupMessage::One(Membership::Leave(v6("ff3e::1"))))
        );
        let (m, dst) = mk(
            MLD_QUERY,
            1000,
            Ipv6Addr::UNSPECIFIED,
            "ff02::1".parse().expect("a"),
        );
        assert_eq!(
            parse_mld(src, dst, &m),
            Ok(GroupMessage::Query {
                group: None,
                max_resp_ms: 1000
            })
        );
        // A checksum over another destination does not hold.
        assert_eq!(
            parse_mld(src, all_routers, &mk(MLD_V1_REPORT, 0, g, g).0),
            Err(GroupError::Checksum)
        );
        // Other ICMPv6 is not ours.
        let echo = icmpv6(src, g, 128, 0, [0; 4], &[0; 4]);
        assert_eq!(parse_mld(src, g, &echo), Err(GroupError::NotGroup));
        // MLDv2: one record, EXCLUDE {} ff3e::1.
        let mut record = vec![2, 0, 0, 0];
        record.extend_from_slice(&g.octets());
        let dst: Ipv6Addr = "ff02::16".parse().expect("d");
        let m = icmpv6(src, dst, MLD_V2_REPORT, 0, [0, 0, 0, 1], &record);
        let Ok(GroupMessage::Records(r)) = parse_mld(src, dst, &m) else {
            panic!("mldv2");
        };
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            vec![Membership::Join(v6("ff3e::1"))]
        );
    }

    #[test]
    fn link_local_groups_always_flood() {
        for (g, want) in [
            ("224.0.0.1", true),
            ("224.0.0.251", true),
            ("224.0.1.1", false),
            ("239.1.1.1", false),
            ("ff02::1", true),
            ("ff02::1:ff00:1", true),
            ("ff3e::1", false),
            ("ff05::2", false),
        ] {
            let a: IpAddr = g.parse().expect("g");
            assert_eq!(always_flooded(a), want, "{g}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_igmp(&msg).map(|m| if let GroupMessage::Records(r) = m { r.iter().count() } else { 0 });
            let s: Ipv6Addr = "fe80::1".parse().expect("s");
            let d: Ipv6Addr = "ff02::16".parse().expect("d");
            let _ = parse_mld(s, d, &msg).map(|m| if let GroupMessage::Records(r) = m { r.iter().count() } else { 0 });
        }

        /// Records with any counts and lengths, their checksum right, so
        /// the walk itself is what is tested.
        #[test]
        fn records_walk_stays_in_bounds(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut m = vec![IGMP_V3_REPORT, 0, 0, 0];
            m.extend_from_slice(&body);
            if m.len() >= 8 {
                let c = finish(sum_words(0, &m));
                m[2..4].copy_from_slice(&c.to_be_bytes());
                if let Ok(GroupMessage::Records(r)) = parse_igmp(&m) {
                    proptest::prop_assert_eq!(r.iter().count(), r.len());
                }
            }
        }
    }
}
