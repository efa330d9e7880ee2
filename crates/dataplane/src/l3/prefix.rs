//! IP prefixes and longest-prefix match.
//!
//! A [`PrefixTable`] keeps one hash map per prefix length present and
//! looks an address up from the longest length down: a routing table of a
//! few thousand routes has a few dozen distinct lengths at most, so a
//! lookup is that many masked hash probes, and inserting or removing a
//! route touches one map. IPv4 addresses are held as IPv4-mapped `u128`s
//! of their own family, never mixed with IPv6 in one table.

use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address family's prefix: the network address and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

/// Why a prefix was refused; the text names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("'{0}' is not an IP prefix; expected ADDRESS/LENGTH, e.g. 10.0.0.0/24 or fd00::/64")]
    Syntax(String),
    #[error("prefix length {len} is longer than the {bits} bits of the address")]
    Length { len: u8, bits: u8 },
    #[error("{0} has host bits set; the network is {1}")]
    HostBits(String, String),
    #[error("an IPv{0} prefix in an IPv{1} table")]
    Family(u8, u8),
}

fn bits_of(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn as_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(*v) as u128,
        IpAddr::V6(v) => u128::from(*v),
    }
}

fn mask(len: u8, bits: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let all = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        all & !((1u128 << (bits - len)).wrapping_sub(1))
    }
}

fn from_u128(v: u128, bits: u8) -> IpAddr {
    if bits == 32 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

impl Prefix {
    /// A prefix; host bits must be clear.
    pub fn new(addr: IpAddr, len: u8) -> Result<Prefix, PrefixError> {
        let bits = bits_of(&addr);
        if len > bits {
            return Err(PrefixError::Length { len, bits });
        }
        let net = as_u128(&addr) & mask(len, bits);
        if net != as_u128(&addr) {
            return Err(PrefixError::HostBits(
                format!("{addr}/{len}"),
                format!("{}/{len}", from_u128(net, bits)),
            ));
        }
        Ok(Prefix { addr, len })
    }

    pub fn bits(&self) -> u8 {
        bits_of(&self.addr)
    }

    /// Whether `a` lies inside this prefix (an address of another family never does).
    pub fn contains(&self, a: &IpAddr) -> bool {
        bits_of(a) == self.bits() && as_u128(a) & mask(self.len, self.bits()) == as_u128(&self.addr)
    }

    /// Whether the two share any address (one contains the other).
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.bits() == other.bits() && {
            let len = self.len.min(other.len);
            let m = mask(len, self.bits());
            as_u128(&self.addr) & m == as_u128(&other.addr) & m
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| PrefixError::Syntax(s.to_string()))?;
        let addr: IpAddr = a.parse().map_err(|_| PrefixError::Syntax(s.to_string()))?;
        let len: u8 = l.parse().map_err(|_| PrefixError::Syntax(s.to_string()))?;
        Prefix::new(addr, len)
    }
}

/// Routes (or anything) by prefix, for one address family.
#[derive(Debug, Clone)]
pub struct PrefixTable<T> {
    bits: u8,
    /// Length → network → value; lookups walk the lengths longest first.
    by_len: BTreeMap<u8, FxHashMap<u128, T>>,
}

impl<T> PrefixTable<T> {
    pub fn v4() -> PrefixTable<T> {
        PrefixTable {
            bits: 32,
            by_len: BTreeMap::new(),
        }
    }

    pub fn v6() -> PrefixTable<T> {
        PrefixTable {
            bits: 128,
            by_len: BTreeMap::new(),
        }
    }

    fn family(&self, p: &Prefix) -> Result<(), PrefixError> {
        if p.bits() != self.bits {
            let v = |b: u8| if b == 32 { 4 } else { 6 };
            return Err(PrefixError::Family(v(p.bits()), v(self.bits)));
        }
        Ok(())
    }

    /// Sets the value of `p`; returns the one it replaced.
    pub fn insert(&mut self, p: Prefix, value: T) -> Result<Option<T>, PrefixError> {
        self.family(&p)?;
        Ok(self
            .by_len
            .entry(p.len)
            .or_default()
            .insert(as_u128(&p.addr), value))
    }

    pub fn remove(&mut self, p: &Prefix) -> Option<T> {
        self.family(p).ok()?;
        let m = self.by_len.get_mut(&p.len)?;
        let v = m.remove(&as_u128(&p.addr));
        if m.is_empty() {
            self.by_len.remove(&p.len);
        }
        v
    }

    pub fn get(&self, p: &Prefix) -> Option<&T> {
        self.family(p).ok()?;
        self.by_len.get(&p.len)?.get(&as_u128(&p.addr))
    }

    /// The longest prefix containing `a`, and its value.
    pub fn lookup(&self, a: &IpAddr) -> Option<(Prefix, &T)> {
        if bits_of(a) != self.bits {
            return None;
        }
        let x = as_u128(a);
        self.by_len.iter().rev().find_map(|(len, m)| {
            let net = x & mask(*len, self.bits);
            m.get(&net).map(|v| {
                (
                    Prefix {
                        addr: from_u128(net, self.bits),
                        len: *len,
                    },
                    v,
                )
            })
        })
    }

    pub fn len(&self) -> usize {
        self.by_len.values().map(|m| m.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_len.is_empty()
    }

    /// Every prefix, longest first, then by address.
    pub fn iter(&self) -> Vec<(Prefix, &T)> {
        let mut v: Vec<(Prefix, &T)> = self
            .by_len
            .iter()
            .rev()
            .flat_map(|(len, m)| {
                m.iter().map(move |(net, v)| {
                    (
                        Prefix {
                            addr: from_u128(*net, self.bits),
                            len: *len,
                        },
                        v,
                    )
                })
            })
            .collect();
        v.sort_by(|a, b| b.0.len.cmp(&a.0.len).then(a.0.addr.cmp(&b.0.addr)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses_naming_the_fault() {
        assert_eq!(
            "10.1.0.0/16".parse::<Prefix>().map(|p| p.to_string()),
            Ok("10.1.0.0/16".into())
        );
        assert_eq!("fd00::/8".parse::<Prefix>().map(|p| p.len), Ok(8));
        assert_eq!(
            "10.1.2.3/16".parse::<Prefix>(),
            Err(PrefixError::HostBits(
                "10.1.2.3/16".into(),
                "10.1.0.0/16".into()
            ))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Prefix>(),
            Err(PrefixError::Length { len: 33, bits: 32 })
        );
        assert!(matches!(
            "10.0.0.0".parse::<Prefix>(),
            Err(PrefixError::Syntax(_))
        ));
        let mut t: PrefixTable<u8> = PrefixTable::v4();
        assert_eq!(
            t.insert("fd00::/8".parse().expect("v6"), 1),
            Err(PrefixError::Family(6, 4))
        );
        let a: Prefix = "10.0.0.0/8".parse().expect("p");
        let b: Prefix = "10.2.0.0/16".parse().expect("p");
        let c: Prefix = "11.0.0.0/8".parse().expect("p");
        assert!(a.overlaps(&b) && b.overlaps(&a) && !a.overlaps(&c));
    }

    #[test]
    fn the_longest_prefix_wins_and_default_catches_the_rest() {
        let mut t = PrefixTable::v4();
        for (p, v) in [
            ("0.0.0.0/0", "default"),
            ("10.0.0.0/8", "ten"),
            ("10.1.0.0/16", "ten-one"),
        ] {
            t.insert(p.parse().expect("p"), v).expect("insert");
        }
        fn at<'a>(t: &PrefixTable<&'a str>, a: &str) -> Option<&'a str> {
            t.lookup(&a.parse().expect("addr")).map(|(_, v)| *v)
        }
        assert_eq!(at(&t, "10.1.2.3"), Some("ten-one"));
        assert_eq!(at(&t, "10.2.2.3"), Some("ten"));
        assert_eq!(at(&t, "192.0.2.1"), Some("default"));
        assert_eq!(at(&t, "fd00::1"), None, "another family");
        assert_eq!(
            t.remove(&"10.1.0.0/16".parse().expect("p")),
            Some("ten-one")
        );
        assert_eq!(at(&t, "10.1.2.3"), Some("ten"));
    }

    #[test]
    fn ipv6_prefixes_match_by_their_bits() {
        let mut t = PrefixTable::v6();
        t.insert("fd00::/8".parse().expect("p"), 1).expect("insert");
        t.insert("fd00:1::/32".parse().expect("p"), 2)
            .expect("insert");
        t.insert("fd00:1::1/128".parse().expect("p"), 3)
            .expect("insert");
        let at = |a: &str| {
            t.lookup(&a.parse().expect("addr"))
                .map(|(p, v)| (p.len, *v))
        };
        assert_eq!(at("fd00:1::1"), Some((128, 3)));
        assert_eq!(at("fd00:1::2"), Some((32, 2)));
        assert_eq!(at("fd99::1"), Some((8, 1)));
        assert_eq!(at("2001:db8::1"), None);
        assert_eq!(t.iter().len(), 3);
    }

    proptest! {
        #[test]
        fn lookups_agree_with_a_linear_scan(
            routes in prop::collection::vec((any::<u32>(), 0u8..=32), 0..40),
            probes in prop::collection::vec(any::<u32>(), 1..60),
        ) {
            let mut t = PrefixTable::v4();
            let mut model: Vec<(Prefix, usize)> = Vec::new();
            for (i, (a, len)) in routes.iter().enumerate() {
                let net = (*a as u128 & mask(*len, 32)) as u32;
                let p = Prefix::new(IpAddr::V4(Ipv4Addr::from(net)), *len).expect("clean prefix");
                t.insert(p, i).expect("insert");
                model.retain(|(q, _)| *q != p);
                model.push((p, i));
            }
            prop_assert_eq!(t.len(), model.len());
            for x in probes {
                let a = IpAddr::V4(Ipv4Addr::from(x));
                let want = model
                    .iter()
                    .filter(|(p, _)| p.contains(&a))
                    .max_by_key(|(p, _)| p.len)
                    .map(|(p, v)| (*p, *v));
                prop_assert_eq!(t.lookup(&a).map(|(p, v)| (p, *v)), want);
            }
        }
    }
}
