//! ACL rules and their text form.
//!
//! ```text
//! ACTION [FAMILY|PROTOCOL] [src PREFIX] [dst PREFIX] [sport P[-Q]] [dport P[-Q]]
//!        [type N] [code N] [state S[,S...]]
//! ACTION   allow | drop | reject
//! FAMILY   ip | ip6          PROTOCOL  tcp | udp | icmp | icmp6 | proto N
//! S        new | established | related | invalid
//! ```
//!
//! e.g. `allow tcp src 10.1.0.0/24 dst 10.2.0.0/24 dport 80`,
//! `allow state established,related`, `reject tcp dport 22`. A rule
//! matches when every part it names matches; the first rule that matches
//! decides.

use crate::l3::L3Packet;
use crate::l3::Prefix;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use vepa_packet::ip;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclAction {
    Allow,
    Drop,
    /// Drop and tell the sender: a TCP reset, or ICMP port unreachable.
    Reject,
}

impl AclAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AclAction::Allow => "allow",
            AclAction::Drop => "drop",
            AclAction::Reject => "reject",
        }
    }
}

impl FromStr for AclAction {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<AclAction, RuleError> {
        match s {
            "allow" | "accept" => Ok(AclAction::Allow),
            "drop" | "deny" => Ok(AclAction::Drop),
            "reject" => Ok(AclAction::Reject),
            other => Err(RuleError(format!(
                "'{other}' is not an action; expected allow, drop or reject"
            ))),
        }
    }
}

/// Connection states a rule can ask for (a bit each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateSet(pub u8);

impl StateSet {
    pub const NEW: u8 = 1;
    pub const ESTABLISHED: u8 = 2;
    pub const RELATED: u8 = 4;
    pub const INVALID: u8 = 8;
    const NAMES: [(u8, &'static str); 4] = [
        (Self::NEW, "new"),
        (Self::ESTABLISHED, "established"),
        (Self::RELATED, "related"),
        (Self::INVALID, "invalid"),
    ];

    pub fn contains(&self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclRule {
    pub action: AclAction,
    pub family: Option<Family>,
    pub proto: Option<u8>,
    pub src: Option<Prefix>,
    pub dst: Option<Prefix>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub state: Option<StateSet>,
}

/// Why a rule's text was refused: names the word and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

fn prefix_of(word: &str, what: &str) -> Result<Prefix, RuleError> {
    if let Ok(a) = word.parse::<IpAddr>() {
        let len = if a.is_ipv4() { 32 } else { 128 };
        return Ok(Prefix { addr: a, len });
    }
    word.parse::<Prefix>()
        .map_err(|e| RuleError(format!("{what} '{word}': {e}")))
}

fn range_of(word: &str, what: &str) -> Result<(u16, u16), RuleError> {
    let bad = || {
        RuleError(format!(
            "{what} '{word}': expected a port 0-65535 or a range such as 1024-2047"
        ))
    };
    let (a, b) = word.split_once('-').unwrap_or((word, word));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

fn byte_of(word: &str, what: &str) -> Result<u8, RuleError> {
    word.parse()
        .map_err(|_| RuleError(format!("{what} '{word}': expected a number 0-255")))
}

impl FromStr for AclRule {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<AclRule, RuleError> {
        let mut words = s.split_whitespace();
        let action: AclAction = words
            .next()
            .ok_or_else(|| {
                RuleError("empty rule; expected an action (allow, drop, reject)".into())
            })?
            .parse()?;
        let mut r = AclRule {
            action,
            family: None,
            proto: None,
            src: None,
            dst: None,
            sport: None,
            dport: None,
            icmp_type: None,
            icmp_code: None,
            state: None,
        };
        let set_proto =
            |r: &mut AclRule, p: u8, fam: Option<Family>, w: &str| -> Result<(), RuleError> {
                if r.proto.is_some() {
                    return Err(RuleError(format!("'{w}': one protocol per rule")));
                }
                if let (Some(a), Some(b)) = (&r.family, &fam) {
                    if a != b {
                        return Err(RuleError(format!(
                            "'{w}' is of the other address family than the rule's"
                        )));
                    }
                }
                r.proto = Some(p);
                if fam.is_some() {
                    r.family = fam;
                }
                Ok(())
            };
        while let Some(w) = words.next() {
            let mut value = |what: &str| {
                words
                    .next()
                    .ok_or_else(|| RuleError(format!("'{what}' needs a value")))
            };
            match w {
                "ip" | "ip4" | "ipv4" | "ip6" | "ipv6" => {
                    let f = if w.contains('6') { Family::V6 } else { Family::V4 };
                    if r.family.as_ref().is_some_and(|x| *x != f) {
                        return Err(RuleError(format!("'{w}' is of the other address family than the rule's")));
                    }
                    r.family = Some(f);
                }
                "tcp" => set_proto(&mut r, ip::PROTO_TCP, None, w)?,
                "udp" => set_proto(&mut r, ip::PROTO_UDP, None, w)?,
                "icmp" => set_proto(&mut r, ip::PROTO_ICMP, Some(Family::V4), w)?,
                "icmp6" | "icmpv6" => set_proto(&mut r, ip::PROTO_ICMPV6, Some(Family::V6), w)?,
                "proto" => {
                    let v = value(w)?;
                    set_proto(&mut r, byte_of(v, "proto")?, None, w)?
                }
                "src" => r.src = Some(prefix_of(value(w)?, "src")?),
                "dst" => r.dst = Some(prefix_of(value(w)?, "dst")?),
                "sport" => r.sport = Some(range_of(value(w)?, "sport")?),
                "dport" => r.dport = Some(range_of(value(w)?, "dport")?),
                "type" => r.icmp_type = Some(byte_of(value(w)?, "type")?),
                "code" => r.icmp_code = Some(byte_of(value(w)?, "code")?),
                "state" => {
                    let mut set = 0;
                    for part in value(w)?.split(',') {
                        let bit = StateSet::NAMES
                            .iter()
                            .find(|(_, n)| *n == part)
                            .map(|(b, _)| *b)
                            .ok_or_else(|| RuleError(format!("state '{part}': expected new, established, related or invalid")))?;
                        set |= bit;
                    }
                    r.state = Some(StateSet(set));
                }
                other => {
                    return Err(RuleError(format!(
                        "'{other}' is not part of a rule; expected ip, ip6, tcp, udp, icmp, icmp6, proto, src, dst, sport, dport, type, code or state"
                    )))
                }
            }
        }
        r.check()?;
        Ok(r)
    }
}

impl AclRule {
    /// Combinations that could never match are refused, not kept as dead rules.
    fn check(&self) -> Result<(), RuleError> {
        let l4 = matches!(self.proto, Some(ip::PROTO_TCP | ip::PROTO_UDP));
        for (name, set) in [
            ("sport", self.sport.is_some()),
            ("dport", self.dport.is_some()),
        ] {
            if set && !l4 {
                return Err(RuleError(format!("{name} needs tcp or udp in the rule")));
            }
        }
        let icmp = matches!(self.proto, Some(ip::PROTO_ICMP | ip::PROTO_ICMPV6));
        for (name, set) in [
            ("type", self.icmp_type.is_some()),
            ("code", self.icmp_code.is_some()),
        ] {
            if set && !icmp {
                return Err(RuleError(format!("{name} needs icmp or icmp6 in the rule")));
            }
        }
        let fam = |p: &Option<Prefix>| {
            p.map(|p| {
                if p.addr.is_ipv4() {
                    Family::V4
                } else {
                    Family::V6
                }
            })
        };
        let parts = [
            ("the protocol", self.family.clone()),
            ("src", fam(&self.src)),
            ("dst", fam(&self.dst)),
        ];
        let mut known = parts.iter().filter_map(|(n, f)| f.as_ref().map(|f| (n, f)));
        if let Some((first, f)) = known.next() {
            if let Some((other, _)) = known.find(|(_, g)| *g != f) {
                return Err(RuleError(format!(
                    "{other} is of another address family (IPv4/IPv6) than {first}"
                )));
            }
        }
        Ok(())
    }

    /// The family the rule is limited to, by protocol or addresses.
    fn family_needed(&self) -> Option<bool> {
        self.family
            .as_ref()
            .map(|f| *f == Family::V4)
            .or_else(|| self.src.map(|p| p.addr.is_ipv4()))
            .or_else(|| self.dst.map(|p| p.addr.is_ipv4()))
    }

    /// Whether the packet (in connection state `state`, one bit) matches.
    pub fn matches(&self, p: &L3Packet, state: u8) -> bool {
        if let Some(v4) = self.family_needed() {
            if p.src.is_ipv4() != v4 {
                return false;
            }
        }
        if self.proto.is_some_and(|x| x != p.proto) {
            return false;
        }
        if self.src.is_some_and(|x| !x.contains(&p.src))
            || self.dst.is_some_and(|x| !x.contains(&p.dst))
        {
            return false;
        }
        let within =
            |r: Option<(u16, u16)>, v: u16| r.is_none_or(|(a, b)| !p.fragment && a <= v && v <= b);
        if !within(self.sport, p.sport) || !within(self.dport, p.dport) {
            return false;
        }
        let (ty, code) = match p.icmp {
            Some((t, c)) => (Some(t), Some(c)),
            None => (None, None),
        };
        if self.icmp_type.is_some_and(|t| Some(t) != ty)
            || self.icmp_code.is_some_and(|c| Some(c) != code)
        {
            return false;
        }
        self.state.is_none_or(|s| s.contains(state))
    }
}

impl fmt::Display for AclRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action.as_str())?;
        match (self.proto, &self.family) {
            (Some(ip::PROTO_TCP), _) => f.write_str(" tcp")?,
            (Some(ip::PROTO_UDP), _) => f.write_str(" udp")?,
            (Some(ip::PROTO_ICMP), _) => f.write_str(" icmp")?,
            (Some(ip::PROTO_ICMPV6), _) => f.write_str(" icmp6")?,
            (Some(p), _) => write!(f, " proto {p}")?,
            (None, _) => {}
        }
        let fam_implied = matches!(self.proto, Some(ip::PROTO_ICMP | ip::PROTO_ICMPV6));
        match (&self.family, fam_implied) {
            (Some(Family::V4), false) => f.write_str(" ip")?,
            (Some(Family::V6), false) => f.write_str(" ip6")?,
            _ => {}
        }
        let prefix = |p: &Prefix| {
            if p.len == p.bits() {
                p.addr.to_string()
            } else {
                p.to_string()
            }
        };
        if let Some(p) = &self.src {
            write!(f, " src {}", prefix(p))?;
        }
        if let Some(p) = &self.dst {
            write!(f, " dst {}", prefix(p))?;
        }
        let range = |(a, b): (u16, u16)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        if let Some(r) = self.sport {
            write!(f, " sport {}", range(r))?;
        }
        if let Some(r) = self.dport {
            write!(f, " dport {}", range(r))?;
        }
        if let Some(t) = self.icmp_type {
            write!(f, " type {t}")?;
        }
        if let Some(c) = self.icmp_code {
            write!(f, " code {c}")?;
        }
        if let Some(s) = self.state {
            let names: Vec<&str> = StateSet::NAMES
                .iter()
                .filter(|(b, _)| s.contains(*b))
                .map(|(_, n)| *n)
                .collect();
            write!(f, " state {}", names.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_refuses() {
        for (text, canon) in [
            ("allow tcp src 10.1.0.0/24 dst 10.2.0.0/24 dport 80", None),
            ("allow state established,related", None),
            ("reject tcp dport 22", None),
            ("accept icmp type 8", Some("allow icmp type 8")),
            (
                "drop ip6 udp sport 1000-2000",
                Some("drop udp ip6 sport 1000-2000"),
            ),
            ("allow src 10.0.0.1", None),
            ("drop proto 47", None),
            ("allow icmp6 dst fd00::/64", None),
            ("allow ip6 icmp6", Some("allow icmp6")),
        ] {
            let r: AclRule = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            let shown = r.to_string();
            assert_eq!(shown, canon.unwrap_or(text));
            assert_eq!(shown.parse::<AclRule>().unwrap(), r, "{text} round-trips");
        }
        for (text, want) in [
            ("", "empty rule"),
            ("permit tcp", "not an action"),
            ("allow dport 80", "dport needs tcp or udp"),
            ("allow tcp dport 70000", "dport '70000'"),
            ("allow tcp dport 90-80", "dport '90-80'"),
            ("allow src 10.0.0.1/33", "src '10.0.0.1/33'"),
            ("allow src 10.0.0.1/8", "host bits"),
            (
                "allow icmp6 src 10.0.0.0/8",
                "src is of another address family",
            ),
            ("allow icmp6 ip", "other address family"),
            ("allow state maybe", "state 'maybe'"),
            ("allow tcp udp", "one protocol"),
            ("allow ip icmp6", "other address family"),
            ("allow tcp to 10.0.0.1", "'to' is not part"),
            ("allow src", "'src' needs a value"),
            ("allow type 3", "type needs icmp"),
        ] {
            let e = text.parse::<AclRule>().unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e} (wanted {want})");
        }
    }
}
