//! What a router is made of: ports (a MAC, addresses, an MTU) and static
//! routes. Validated once into [`RouterTables`], the snapshot the
//! forwarding path reads: the connected routes of every port's subnets,
//! the static routes with their next hop's port resolved, and the router's
//! own addresses.

use crate::l3::{Prefix, PrefixError, PrefixTable};
use rustc_hash::FxHashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use vepa_packet::ip::link_local;
use vepa_packet::MacAddr;

/// An interface address: the router's address and its subnet's length
/// (`10.1.0.1/24`), as `ip addr` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub len: u8,
}

impl IfAddr {
    /// The connected subnet.
    pub fn subnet(&self) -> Prefix {
        let bits = if self.addr.is_ipv4() { 32 } else { 128 };
        let host = bits - self.len;
        let net = match self.addr {
            IpAddr::V4(a) => {
                let m = if self.len == 0 { 0 } else { u32::MAX << host };
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = if self.len == 0 { 0 } else { u128::MAX << host };
                IpAddr::V6((u128::from(a) & m).into())
            }
        };
        Prefix {
            addr: net,
            len: self.len,
        }
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IfAddr {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<IfAddr, PrefixError> {
        let syntax = || PrefixError::Syntax(s.to_string());
        let (a, l) = s.split_once('/').ok_or_else(syntax)?;
        let addr: IpAddr = a.parse().map_err(|_| syntax())?;
        let len: u8 = l.parse().map_err(|_| syntax())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if len > bits {
            return Err(PrefixError::Length { len, bits });
        }
        Ok(IfAddr { addr, len })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterPortConfig {
    pub name: String,
    pub mac: MacAddr,
    pub addresses: Vec<IfAddr>,
    /// The largest IP packet this port sends (bytes, L3).
    pub mtu: u16,
    /// A point-to-point port (a TUN device's): every packet out of it goes
    /// to this MAC, the far end's, with no ARP or neighbor discovery.
    pub peer_mac: Option<MacAddr>,
}

/// A static route: to `prefix` via the gateway `via`, or on-link out of `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub prefix: Prefix,
    pub via: Option<IpAddr>,
    pub port: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub name: String,
    pub ports: Vec<RouterPortConfig>,
    pub routes: Vec<RouteConfig>,
}

/// Why a router configuration was refused: the router, the field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("router '{router}': {field}: {problem}")]
pub struct RouterError {
    pub router: String,
    pub field: String,
    pub problem: String,
}

/// Where a route sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub port: usize,
    /// The gateway; `None` for a connected or on-link route (the
    /// destination itself is the next hop).
    pub via: Option<IpAddr>,
    /// Whether this is a port's own subnet.
    pub connected: bool,
}

/// The forwarding snapshot of a router.
#[derive(Debug, Clone)]
pub struct RouterTables {
    pub config: RouterConfig,
    pub v4: PrefixTable<Hop>,
    pub v6: PrefixTable<Hop>,
    /// Every address the router answers for, and its port.
    pub own: FxHashMap<IpAddr, usize>,
    /// Each port's link-local address (from its MAC).
    pub link_local: Vec<Ipv6Addr>,
}

impl RouterTables {
    pub fn lookup(&self, dst: &IpAddr) -> Option<(Prefix, Hop)> {
        let t = if dst.is_ipv4() { &self.v4 } else { &self.v6 };
        t.lookup(dst).map(|(p, h)| (p, *h))
    }

    /// Whether `a` is the broadcast address of one of `port`'s IPv4 subnets.
    pub fn is_subnet_broadcast(&self, port: usize, a: &IpAddr) -> bool {
        self.config.ports.get(port).is_some_and(|p| {
            p.addresses.iter().any(|x| {
                x.addr.is_ipv4()
                    && x.len < 31
                    && x.subnet().contains(a)
                    && is_broadcast_of(&IfAddr {
                        addr: *a,
                        len: x.len,
                    })
            })
        })
    }

    /// The address the router speaks from on `port` for the family of
    /// `peer`: the port's first address of that family that is not
    /// link-local, else (IPv6) its link-local one.
    pub fn source_for(&self, port: usize, peer: &IpAddr) -> Option<IpAddr> {
        let p = self.config.ports.get(port)?;
        let family = || {
            p.addresses
                .iter()
                .filter(|a| a.addr.is_ipv4() == peer.is_ipv4() && !is_link_local(&a.addr))
        };
        // The address on the peer's subnet, else the first of its family.
        let global = family()
            .find(|a| a.subnet().contains(peer))
            .or_else(|| family().next())
            .map(|a| a.addr);
        match peer {
            IpAddr::V6(v) if is_link_local(&IpAddr::V6(*v)) || global.is_none() => {
                self.link_local.get(port).map(|a| IpAddr::V6(*a))
            }
            _ => global,
        }
    }
}

pub fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_link_local(),
        IpAddr::V6(v) => v.segments()[0] & 0xffc0 == 0xfe80,
    }
}

impl RouterConfig {
    /// Checks the configuration and builds its tables; the error names the
    /// router, the port or route, and the field.
    pub fn build(&self) -> Result<RouterTables, RouterError> {
        let mut b = Building {
            v4: PrefixTable::v4(),
            v6: PrefixTable::v6(),
            own: FxHashMap::default(),
            connected: Vec::new(),
        };
        for i in 0..self.ports.len() {
            self.add_port(&mut b, i)?;
        }
        let link_local: Vec<Ipv6Addr> = self.ports.iter().map(|p| link_local(p.mac)).collect();
        for (i, ll) in link_local.iter().enumerate() {
            b.own.entry(IpAddr::V6(*ll)).or_insert(i);
        }
        let mut seen: Vec<Prefix> = Vec::new();
        for r in &self.routes {
            let at = |f: &str| format!("route '{}'.{f}", r.prefix);
            if seen.contains(&r.prefix) {
                return Err(self.err(at("prefix"), "duplicate route; one route per prefix".into()));
            }
            seen.push(r.prefix);
            if let Some((c, j)) = b.connected.iter().find(|(c, _)| *c == r.prefix) {
                return Err(self.err(
                    at("prefix"),
                    format!(
                        "{c} is port '{}'s connected subnet already",
                        self.ports[*j].name
                    ),
                ));
            }
            let hop = self.route_hop(&b, r)?;
            let t = if r.prefix.addr.is_ipv4() {
                &mut b.v4
            } else {
                &mut b.v6
            };
            t.insert(r.prefix, hop)
                .map_err(|e| self.err(at("prefix"), e.to_string()))?;
        }
        Ok(RouterTables {
            config: self.clone(),
            v4: b.v4,
            v6: b.v6,
            own: b.own,
            link_local,
        })
    }

    fn err(&self, field: String, problem: String) -> RouterError {
        RouterError {
            router: self.name.clone(),
            field,
            problem,
        }
    }

    /// Port `i`'s checks, and its addresses and connected subnets into `b`.
    fn add_port(&self, b: &mut Building, i: usize) -> Result<(), RouterError> {
        let err = |field: String, problem: String| self.err(field, problem);
        let p = &self.ports[i];
        let at = |f: &str| format!("port '{}'.{f}", p.name);
        if p.name.is_empty() {
            return Err(err(
                "port.name".into(),
                "a port needs a non-empty name".into(),
            ));
        }
        if self.ports[..i].iter().any(|q| q.name == p.name) {
            return Err(err(at("name"), "duplicate port name on this router".into()));
        }
        if p.mac.is_multicast() || p.mac.is_zero() {
            return Err(err(at("mac"), format!("{} is not a unicast MAC", p.mac)));
        }
        let has_v6 = p.addresses.iter().any(|a| a.addr.is_ipv6());
        let min = if has_v6 { 1280 } else { 68 };
        if p.mtu < min {
            return Err(err(
                at("mtu"),
                format!(
                    "{} is below the {min} bytes {} needs",
                    p.mtu,
                    if has_v6 { "IPv6" } else { "IPv4" }
                ),
            ));
        }
        for a in &p.addresses {
            let unusable = match a.addr {
                IpAddr::V4(v) => {
                    v.is_unspecified() || v.is_multicast() || v.is_loopback() || v.is_broadcast()
                }
                IpAddr::V6(v) => v.is_unspecified() || v.is_multicast() || v.is_loopback(),
            };
            if unusable {
                return Err(err(
                    at("address"),
                    format!("{a} is not a unicast host address"),
                ));
            }
            let net = a.subnet();
            if a.addr.is_ipv4() && a.len < 31 && (a.addr == net.addr || is_broadcast_of(a)) {
                return Err(err(
                    at("address"),
                    format!(
                        "{a} is the network or broadcast address of {net}; expected a host address"
                    ),
                ));
            }
            if let Some((q, j)) = b.connected.iter().find(|(q, _)| q.overlaps(&net)) {
                let whose = &self.ports[*j].name;
                return Err(err(
                    at("address"),
                    format!("{a}: subnet {net} overlaps {q} of port '{whose}'"),
                ));
            }
            b.connected.push((net, i));
            b.own.insert(a.addr, i);
            let hop = Hop {
                port: i,
                via: None,
                connected: true,
            };
            let t = if net.addr.is_ipv4() {
                &mut b.v4
            } else {
                &mut b.v6
            };
            t.insert(net, hop)
                .map_err(|e| err(at("address"), e.to_string()))?;
        }
        Ok(())
    }

    /// Where route `r` sends a packet: through its next hop's port (which
    /// must be on a connected subnet, and on the route's port if it names
    /// one), or out of its port.
    fn route_hop(&self, b: &Building, r: &RouteConfig) -> Result<Hop, RouterError> {
        let err = |field: String, problem: String| self.err(field, problem);
        let at = |f: &str| format!("route '{}'.{f}", r.prefix);
        let port = match &r.port {
            Some(name) => Some(
                self.ports
                    .iter()
                    .position(|p| &p.name == name)
                    .ok_or_else(|| err(at("port"), format!("no port '{name}' on this router")))?,
            ),
            None => None,
        };
        let hop = match r.via {
            Some(gw) => {
                if gw.is_ipv4() != r.prefix.addr.is_ipv4() {
                    return Err(err(
                        at("via"),
                        format!("{gw} is not of the prefix's address family"),
                    ));
                }
                if b.own.contains_key(&gw) {
                    return Err(err(at("via"), format!("{gw} is this router's own address")));
                }
                let on = b
                    .connected
                    .iter()
                    .find(|(c, _)| c.contains(&gw))
                    .map(|(_, j)| *j);
                let on = match (on, port) {
                    (_, Some(p)) if is_link_local(&gw) => p,
                    (Some(j), Some(p)) if j != p => {
                        return Err(err(
                            at("via"),
                            format!(
                                "{gw} is on port '{}', not on port '{}'",
                                self.ports[j].name, self.ports[p].name
                            ),
                        ))
                    }
                    (Some(j), _) => j,
                    (None, _) => {
                        return Err(err(
                            at("via"),
                            format!("next hop {gw} is unreachable: no port's subnet contains it"),
                        ))
                    }
                };
                Hop {
                    port: on,
                    via: Some(gw),
                    connected: false,
                }
            }
            None => Hop {
                port: port.ok_or_else(|| {
                    err(
                        at("via"),
                        "a route needs a next hop (via) or a port to send out of".into(),
                    )
                })?,
                via: None,
                connected: false,
            },
        };
        Ok(hop)
    }
}

/// A router's tables while they are built.
struct Building {
    v4: PrefixTable<Hop>,
    v6: PrefixTable<Hop>,
    own: FxHashMap<IpAddr, usize>,
    connected: Vec<(Prefix, usize)>,
}

fn is_broadcast_of(a: &IfAddr) -> bool {
    match a.addr {
        IpAddr::V4(v) => {
            let host = 32 - a.len as u32;
            let m = if host == 32 {
                u32::MAX
            } else {
                (1u32 << host) - 1
            };
            u32::from(v) & m == m
        }
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, addrs: &[&str]) -> RouterPortConfig {
        RouterPortConfig {
            name: name.into(),
            mac: MacAddr([2, 0, 0, 0, 0, name.len() as u8]),
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            mtu: 1500,
            peer_mac: None,
        }
    }

    fn router(routes: Vec<RouteConfig>) -> RouterConfig {
        RouterConfig {
            name: "r1".into(),
            ports: vec![
                port("a", &["10.1.0.1/24", "fd00:1::1/64"]),
                port("bb", &["10.2.0.1/24"]),
            ],
            routes,
        }
    }

    fn route(prefix: &str, via: Option<&str>, port: Option<&str>) -> RouteConfig {
        RouteConfig {
            prefix: prefix.parse().unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            port: port.map(String::from),
        }
    }

    #[test]
    fn builds_connected_and_static_routes() {
        let t = router(vec![route("0.0.0.0/0", Some("10.2.0.254"), None)])
            .build()
            .unwrap();
        let (p, h) = t.lookup(&"10.1.0.7".parse().unwrap()).unwrap();
        assert_eq!(
            (p.to_string(), h.port, h.via),
            ("10.1.0.0/24".into(), 0, None)
        );
        let (_, h) = t.lookup(&"8.8.8.8".parse().unwrap()).unwrap();
        assert_eq!((h.port, h.via), (1, Some("10.2.0.254".parse().unwrap())));
        assert!(t.lookup(&"2001:db8::1".parse().unwrap()).is_none());
        assert_eq!(t.own.get(&"10.2.0.1".parse().unwrap()), Some(&1));
        assert_eq!(
            t.source_for(0, &"fd00:1::5".parse().unwrap()),
            Some("fd00:1::1".parse().unwrap())
        );
        assert_eq!(
            t.source_for(1, &"fe80::5".parse().unwrap()),
            Some(IpAddr::V6(t.link_local[1]))
        );
    }

    #[test]
    fn refuses_what_cannot_route() {
        let cases: Vec<(RouterConfig, &str)> = vec![
            (
                router(vec![route("0.0.0.0/0", Some("192.168.9.1"), None)]),
                "unreachable",
            ),
            (
                router(vec![route("0.0.0.0/0", Some("10.1.0.1"), None)]),
                "own address",
            ),
            (
                router(vec![route("0.0.0.0/0", None, None)]),
                "needs a next hop",
            ),
            (
                router(vec![route("0.0.0.0/0", None, Some("zz"))]),
                "no port 'zz'",
            ),
            (
                router(vec![route("10.1.0.0/24", None, Some("a"))]),
                "connected subnet",
            ),
            (
                router(vec![route("0.0.0.0/0", Some("10.1.0.9"), Some("bb"))]),
                "not on port 'bb'",
            ),
            (
                router(vec![route("::/0", Some("10.1.0.9"), None)]),
                "family",
            ),
            (
                router(vec![
                    route("0.0.0.0/0", Some("10.1.0.9"), None),
                    route("0.0.0.0/0", Some("10.2.0.9"), None),
                ]),
                "duplicate route",
            ),
        ];
        for (cfg, want) in cases {
            let e = cfg.build().unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
        let mut overlap = router(vec![]);
        overlap.ports[1]
            .addresses
            .push("10.1.0.129/25".parse().unwrap());
        let e = overlap.build().unwrap_err().to_string();
        assert!(e.contains("overlaps 10.1.0.0/24 of port 'a'"), "{e}");
        let mut net = router(vec![]);
        net.ports[1].addresses = vec!["10.2.0.0/24".parse().unwrap()];
        assert!(net
            .build()
            .unwrap_err()
            .to_string()
            .contains("network or broadcast"));
        let mut small = router(vec![]);
        small.ports[0].mtu = 1000;
        assert!(small.build().unwrap_err().to_string().contains("IPv6"));
    }

    #[test]
    fn interface_addresses_parse() {
        let a: IfAddr = "10.1.0.1/24".parse().unwrap();
        assert_eq!(a.subnet().to_string(), "10.1.0.0/24");
        assert!("10.1.0.1/33".parse::<IfAddr>().is_err());
        assert!("10.1.0.1".parse::<IfAddr>().is_err());
        let b: IfAddr = "fd00:1::1/64".parse().unwrap();
        assert_eq!(b.subnet().to_string(), "fd00:1::/64");
    }
}
