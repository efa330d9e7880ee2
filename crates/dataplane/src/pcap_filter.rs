//! Capture filters in pcap-filter(7) syntax (tcpdump's), a documented
//! subset evaluated over a frame's parsed headers.
//!
//! Primitives: `host ADDR`, `net ADDR/LEN`, `port N`, `portrange A-B`
//! (each after `src`, `dst`, `src or dst` or `src and dst`, and `host`,
//! `net`, `port` also after `ip`, `ip6`, `arp`, `tcp` or `udp`), a bare
//! address (as `host`), `ether host|src|dst MAC`, `ether proto N|ip|ip6|arp`,
//! `ip`, `ip6`, `arp`, `tcp`, `udp`, `icmp`, `icmp6`, `ip proto N`, `ip6
//! proto N`, `vlan [VID]`, `broadcast`, `multicast`, `less N`, `greater N`;
//! combined with `and`/`&&`, `or`/`||`, `not`/`!` and parentheses, with
//! pcap's precedence (`not` binds tightest; `and` and `or` are equal and
//! group from the left, as in libpcap).
//!
//! One difference from libpcap, by design: the headers are read through an
//! 802.1Q tag, so `ip` also matches a tagged IPv4 frame (libpcap needs
//! `vlan and ip`). Not supported: pcap's shorthand lists (`host a or b`),
//! byte-offset expressions (`tcp[13] & 2 != 0`), `gateway`, `mask`.
//!
//! Written here rather than linking libpcap: its compiler needs the
//! library's development files at build time and yields classic BPF that
//! would need an interpreter besides; the subset covers what captures on
//! a switch port are filtered by.

use crate::key::{Field, Key};
use crate::parsed::Parsed;
use std::fmt;
use std::net::IpAddr;
use vepa_packet::MacAddr;

/// Longest expression accepted, and deepest nesting.
pub const MAX_LEN: usize = 1024;
const MAX_DEPTH: usize = 32;

/// A compiled filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(Expr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Prim(Prim),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    Either,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    Ip,
    Ip6,
    Arp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Prim {
    Net(Dir, Family, IpAddr, u8),
    /// Ports `lo..=hi` of TCP or UDP (or only `proto`'s).
    Port(Dir, Option<u8>, u16, u16),
    EtherHost(Dir, MacAddr),
    EtherType(u16),
    /// An IP protocol, over IPv4, IPv6 or either.
    IpProto(Family, u8),
    Vlan(Option<u16>),
    Broadcast,
    Multicast,
    Less(usize),
    Greater(usize),
}

/// Why an expression did not compile: where (the word) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter: at word {at} ('{word}'): {problem}")]
pub struct FilterError {
    /// 1-based word number.
    pub at: usize,
    pub word: String,
    pub problem: String,
}

const ETH_IP: u16 = 0x0800;
const ETH_IP6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_LEN {
            return Err(FilterError {
                at: 0,
                word: String::new(),
                problem: format!("longer than {MAX_LEN} characters"),
            });
        }
        let words = tokens(text);
        let mut p = Parser { words, at: 0 };
        if p.words.is_empty() {
            return Err(p.fail("an expression (e.g. 'icmp or tcp port 80')"));
        }
        let e = p.or(0)?;
        if p.at < p.words.len() {
            return Err(p.fail("'and', 'or' or the end"));
        }
        Ok(Filter(e))
    }

    /// Whether `frame` passes.
    pub fn matches(&self, frame: &[u8]) -> bool {
        self.matches_cut(frame, frame.len())
    }

    /// Whether a frame of `len` bytes, of which `frame` is the start kept
    /// by a capture's snap length, passes (`less`/`greater` see `len`).
    pub fn matches_cut(&self, frame: &[u8], len: usize) -> bool {
        let Some(p) = Parsed::new(frame) else {
            return false;
        };
        let key = p.key(0);
        let f = Frame {
            p: &p,
            key: key.as_ref(),
            len,
        };
        f.eval(&self.0)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' | ')' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            '!' if chars.peek() != Some(&'=') => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push("!".into());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Parser {
    words: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(String::as_str)
    }

    fn peek2(&self) -> Option<&str> {
        self.words.get(self.at + 1).map(String::as_str)
    }

    fn fail(&self, expected: &str) -> FilterError {
        FilterError {
            at: self.at + 1,
            word: self.peek().unwrap_or("end").to_string(),
            problem: format!("expected {expected}"),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        let mut e = self.unary(depth)?;
        loop {
            match self.peek() {
                Some("and" | "&&") => {
                    self.at += 1;
                    let r = self.unary(depth)?;
                    e = Expr::And(Box::new(e), Box::new(r));
                }
                Some("or" | "||") => {
                    self.at += 1;
                    let r = self.unary(depth)?;
                    e = Expr::Or(Box::new(e), Box::new(r));
                }
                _ => return Ok(e),
            }
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if depth > MAX_DEPTH {
            return Err(self.fail(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        match self.peek() {
            Some("not" | "!") => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some("(") => {
                self.at += 1;
                let e = self.or(depth + 1)?;
                if self.peek() != Some(")") {
                    return Err(self.fail("')'"));
                }
                self.at += 1;
                Ok(e)
            }
            Some(_) => self.primitive(),
            None => Err(self.fail("a primitive (host, net, port, tcp, ...)")),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, FilterError> {
        let w = self.peek().unwrap_or("");
        let v = if let Some(hex) = w.strip_prefix("0x") {
            u64::from_str_radix(hex, 16)
                .ok()
                .and_then(|v| v.to_string().parse().ok())
        } else {
            w.parse().ok()
        };
        match v {
            Some(v) => {
                self.at += 1;
                Ok(v)
            }
            None => Err(self.fail(what)),
        }
    }

    /// `src`, `dst`, `src or dst`, `src and dst`, or none (either).
    fn dir(&mut self) -> Dir {
        let first = match self.peek() {
            Some("src") => Dir::Src,
            Some("dst") => Dir::Dst,
            _ => return Dir::Either,
        };
        self.at += 1;
        let joined = match (self.peek(), self.peek2()) {
            (Some("or"), Some("src" | "dst")) => Some(Dir::Either),
            (Some("and"), Some("src" | "dst")) => Some(Dir::Both),
            _ => None,
        };
        match joined {
            Some(d) => {
                self.at += 2;
                d
            }
            None => first,
        }
    }

    fn primitive(&mut self) -> Result<Expr, FilterError> {
        let prim = |p| Ok(Expr::Prim(p));
        let Some(w) = self.peek().map(str::to_string) else {
            return Err(self.fail("a primitive"));
        };
        match w.as_str() {
            "ether" => {
                self.at += 1;
                match self.peek() {
                    Some("proto") => {
                        self.at += 1;
                        let t = match self.peek() {
                            Some("ip") => ETH_IP,
                            Some("ip6") => ETH_IP6,
                            Some("arp") => ETH_ARP,
                            _ => {
                                return prim(Prim::EtherType(
                                    self.number("an EtherType (0x0800, ip, ip6, arp)")?,
                                ))
                            }
                        };
                        self.at += 1;
                        prim(Prim::EtherType(t))
                    }
                    Some("broadcast") => {
                        self.at += 1;
                        prim(Prim::Broadcast)
                    }
                    Some("multicast") => {
                        self.at += 1;
                        prim(Prim::Multicast)
                    }
                    _ => {
                        let dir = self.dir();
                        if self.peek() == Some("host") {
                            self.at += 1;
                        }
                        let mac = self
                            .peek()
                            .and_then(|m| m.parse::<MacAddr>().ok())
                            .ok_or_else(|| self.fail("a MAC address (02:00:00:00:00:01)"))?;
                        self.at += 1;
                        prim(Prim::EtherHost(dir, mac))
                    }
                }
            }
            "vlan" => {
                self.at += 1;
                let vid = match self.peek() {
                    Some(v) if v.chars().all(|c| c.is_ascii_digit()) => {
                        Some(self.number::<u16>("a VLAN ID")?).filter(|v| *v < 4096)
                    }
                    _ => return prim(Prim::Vlan(None)),
                };
                match vid {
                    Some(v) => prim(Prim::Vlan(Some(v))),
                    None => {
                        self.at -= 1;
                        Err(self.fail("a VLAN ID from 0 to 4095"))
                    }
                }
            }
            "less" | "greater" => {
                self.at += 1;
                let n: usize = self.number("a length in bytes")?;
                prim(if w == "less" {
                    Prim::Less(n)
                } else {
                    Prim::Greater(n)
                })
            }
            "broadcast" => {
                self.at += 1;
                prim(Prim::Broadcast)
            }
            "multicast" => {
                self.at += 1;
                prim(Prim::Multicast)
            }
            "icmp" => {
                self.at += 1;
                prim(Prim::IpProto(Family::Ip, 1))
            }
            "icmp6" => {
                self.at += 1;
                prim(Prim::IpProto(Family::Ip6, 58))
            }
            "ip" | "ip6" | "arp" => {
                self.at += 1;
                let (family, ethertype) = match w.as_str() {
                    "ip" => (Family::Ip, ETH_IP),
                    "ip6" => (Family::Ip6, ETH_IP6),
                    _ => (Family::Arp, ETH_ARP),
                };
                match self.peek() {
                    Some("proto") if family != Family::Arp => {
                        self.at += 1;
                        let p = match self.peek() {
                            Some("tcp") => Some(6),
                            Some("udp") => Some(17),
                            Some("icmp") => Some(1),
                            Some("icmp6") => Some(58),
                            _ => None,
                        };
                        let p = match p {
                            Some(p) => {
                                self.at += 1;
                                p
                            }
                            None => self.number("an IP protocol number or name")?,
                        };
                        prim(Prim::IpProto(family, p))
                    }
                    Some("host" | "net" | "src" | "dst") => self.address(family),
                    _ => prim(Prim::EtherType(ethertype)),
                }
            }
            "tcp" | "udp" => {
                self.at += 1;
                let proto = if w == "tcp" { 6 } else { 17 };
                match self.peek() {
                    Some("port" | "portrange" | "src" | "dst") => self.port(Some(proto)),
                    _ => prim(Prim::IpProto(Family::Any, proto)),
                }
            }
            "port" | "portrange" => self.port(None),
            "src" | "dst" => {
                let save = self.at;
                let _ = self.dir();
                let kind = self.peek().map(str::to_string);
                self.at = save;
                match kind.as_deref() {
                    Some("port" | "portrange") => self.port(None),
                    _ => self.address(Family::Any),
                }
            }
            "host" | "net" => self.address(Family::Any),
            other if other.parse::<IpAddr>().is_ok() => self.address(Family::Any),
            _ => Err(self.fail(
                "a primitive: host, net, port, portrange, src, dst, ether, ip, ip6, arp, tcp, udp, icmp, icmp6, vlan, broadcast, multicast, less, greater",
            )),
        }
    }

    fn address(&mut self, family: Family) -> Result<Expr, FilterError> {
        let dir = self.dir();
        let net = match self.peek() {
            Some("host") => {
                self.at += 1;
                false
            }
            Some("net") => {
                self.at += 1;
                true
            }
            _ => false,
        };
        let w = self.peek().unwrap_or("").to_string();
        let (addr, len) = match w.split_once('/') {
            Some((a, l)) if net => (a.parse::<IpAddr>().ok(), l.parse::<u8>().ok()),
            Some(_) => (None, None),
            None => {
                let a = w.parse::<IpAddr>().ok();
                (a, a.map(|a| if a.is_ipv4() { 32 } else { 128 }))
            }
        };
        let (Some(addr), Some(len)) = (addr, len) else {
            return Err(self.fail(if net {
                "a network, ADDR/LEN (10.0.0.0/8)"
            } else {
                "an IP address"
            }));
        };
        if len > if addr.is_ipv4() { 32 } else { 128 } {
            return Err(self.fail("a prefix length within the address"));
        }
        let fits = match family {
            Family::Ip | Family::Arp => addr.is_ipv4(),
            Family::Ip6 => addr.is_ipv6(),
            Family::Any => true,
        };
        if !fits {
            return Err(self.fail("an address of the family named before it"));
        }
        self.at += 1;
        Ok(Expr::Prim(Prim::Net(dir, family, addr, len)))
    }

    fn port(&mut self, proto: Option<u8>) -> Result<Expr, FilterError> {
        let dir = self.dir();
        let range = match self.peek() {
            Some("port") => false,
            Some("portrange") => true,
            _ => return Err(self.fail("'port' or 'portrange'")),
        };
        self.at += 1;
        let w = self.peek().unwrap_or("").to_string();
        let parsed = if range {
            w.split_once('-')
                .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                .filter(|(a, b)| a <= b)
        } else {
            w.parse::<u16>().ok().map(|p| (p, p))
        };
        let Some((lo, hi)) = parsed else {
            return Err(self.fail(if range {
                "a range LOW-HIGH of ports"
            } else {
                "a port number"
            }));
        };
        self.at += 1;
        Ok(Expr::Prim(Prim::Port(dir, proto, lo, hi)))
    }
}

struct Frame<'a, 'f> {
    p: &'a Parsed<'f>,
    key: Option<&'a Key>,
    len: usize,
}

impl Frame<'_, '_> {
    fn eval(&self, e: &Expr) -> bool {
        match e {
            Expr::And(a, b) => self.eval(a) && self.eval(b),
            Expr::Or(a, b) => self.eval(a) || self.eval(b),
            Expr::Not(a) => !self.eval(a),
            Expr::Prim(p) => self.prim(p),
        }
    }

    fn get(&self, f: Field) -> u128 {
        self.key.map_or(0, |k| f.get(k))
    }

    fn ethertype(&self) -> u16 {
        self.p.ethertype()
    }

    fn ip_proto(&self) -> Option<u8> {
        match self.ethertype() {
            ETH_IP | ETH_IP6 if self.key.is_some() => Some(self.get(Field::IpProto) as u8),
            _ => None,
        }
    }

    fn dir_match(dir: Dir, src: bool, dst: bool) -> bool {
        match dir {
            Dir::Src => src,
            Dir::Dst => dst,
            Dir::Either => src || dst,
            Dir::Both => src && dst,
        }
    }

    fn prim(&self, p: &Prim) -> bool {
        match *p {
            Prim::Net(dir, family, addr, len) => {
                let (src, dst) = match (self.ethertype(), addr) {
                    (ETH_IP, IpAddr::V4(_)) if matches!(family, Family::Any | Family::Ip) => {
                        (self.get(Field::Ipv4Src), self.get(Field::Ipv4Dst))
                    }
                    (ETH_ARP, IpAddr::V4(_)) if matches!(family, Family::Any | Family::Arp) => {
                        (self.get(Field::ArpSpa), self.get(Field::ArpTpa))
                    }
                    (ETH_IP6, IpAddr::V6(_)) if matches!(family, Family::Any | Family::Ip6) => {
                        (self.get(Field::Ipv6Src), self.get(Field::Ipv6Dst))
                    }
                    _ => return false,
                };
                if self.key.is_none() {
                    return false;
                }
                let (want, bits) = match addr {
                    IpAddr::V4(a) => (u32::from(a) as u128, 32u32),
                    IpAddr::V6(a) => (u128::from(a), 128u32),
                };
                let shift = bits - len as u32;
                let within = |v: u128| {
                    if shift >= 128 {
                        true
                    } else {
                        (v >> shift) == (want >> shift)
                    }
                };
                Self::dir_match(dir, within(src), within(dst))
            }
            Prim::Port(dir, proto, lo, hi) => {
                let fields = match self.ip_proto() {
                    Some(6) if proto.is_none_or(|p| p == 6) => (Field::TcpSrc, Field::TcpDst),
                    Some(17) if proto.is_none_or(|p| p == 17) => (Field::UdpSrc, Field::UdpDst),
                    _ => return false,
                };
                let within = |f: Field| (lo..=hi).contains(&(self.get(f) as u16));
                Self::dir_match(dir, within(fields.0), within(fields.1))
            }
            Prim::EtherHost(dir, mac) => {
                Self::dir_match(dir, self.p.src() == mac, self.p.dst() == mac)
            }
            Prim::EtherType(t) => self.ethertype() == t,
            Prim::IpProto(family, proto) => {
                let fam_ok = match family {
                    Family::Ip => self.ethertype() == ETH_IP,
                    Family::Ip6 => self.ethertype() == ETH_IP6,
                    _ => true,
                };
                fam_ok && self.ip_proto() == Some(proto)
            }
            Prim::Vlan(vid) => match self.p.vid() {
                Some(v) => vid.is_none_or(|want| want == v),
                None => false,
            },
            Prim::Broadcast => self.p.dst() == MacAddr::BROADCAST,
            Prim::Multicast => self.p.dst().is_multicast(),
            Prim::Less(n) => self.len <= n,
            Prim::Greater(n) => self.len >= n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_with_pcaps_precedence_and_mistakes_name_the_word() {
        for good in [
            "icmp",
            "host 10.0.0.1",
            "src host 10.0.0.1 and dst port 80",
            "not (tcp or udp) && !arp",
            "src or dst net 10.0.0.0/8",
            "tcp src portrange 1000-2000",
            "ether host 02:00:00:00:00:01 or ether proto 0x86dd",
            "vlan 10 and ip6 proto icmp6",
            "ip proto 17 or less 64 or greater 1500",
            "10.0.0.1",
            "ip host 10.0.0.1",
        ] {
            Filter::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for (bad, want) in [
            ("", "expected an expression"),
            ("host", "at word 2 ('end'): expected an IP address"),
            ("port http", "at word 2 ('http'): expected a port number"),
            ("tcp and (udp", "expected ')'"),
            ("net 10.0.0.0/33", "prefix length"),
            ("ip6 host 10.0.0.1", "family"),
            ("vlan 5000", "4095"),
            ("tcp[13] & 2 != 0", "at word 1"),
            ("icmp icmp", "expected 'and', 'or' or the end"),
        ] {
            let e = Filter::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let deep = "(".repeat(100) + "icmp" + &")".repeat(100);
        assert!(Filter::parse(&deep).is_err());
        assert!(Filter::parse(&"icmp or ".repeat(200)).is_err());
    }

    #[test]
    fn and_and_or_group_from_the_left_as_in_libpcap() {
        // libpcap: "a or b and c" is "(a or b) and c".
        let f = Filter::parse("arp or icmp and tcp").unwrap();
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.resize(60, 0);
        assert!(!f.matches(&arp));
        assert!(Filter::parse("arp or (icmp and tcp)")
            .unwrap()
            .matches(&arp));
    }
}
