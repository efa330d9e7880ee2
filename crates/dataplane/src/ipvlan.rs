//! ipvlan: a switch whose ports all carry one MAC (the uplink's) and are
//! told apart by IP address, for networks that accept one MAC per port.
//!
//! The rules are the kernel's (`drivers/net/ipvlan/ipvlan_core.c`), with
//! vepa playing the master device:
//!
//! - **L2**: a port's group frame goes to every other port (whatever the
//!   flag) and out the uplink; a unicast addressed to the shared MAC is for
//!   a sibling, found by its destination address (IPv4/IPv6 destination,
//!   ARP target), delivered (`bridge`), dropped (`private`) or sent up the
//!   uplink for the adjacent bridge to reflect (`vepa`); any other unicast
//!   goes out the uplink. From the wire, a unicast to the shared MAC goes to
//!   the port owning its destination address, a group frame to every port.
//! - **L3** (and **L3S**): no broadcast or multicast reaches or leaves a
//!   port. The kernel's slaves do no ARP and the master routes for them;
//!   vepa has no routing table of the host to lean on, so it resolves for
//!   its ports the way the master would: a port's ARP request or neighbor
//!   solicitation for an address off the switch goes out the uplink alone
//!   (from the shared MAC, as the master's would be) and the answer comes
//!   back by its target address; one for a sibling's address the switch
//!   answers itself.
//!
//! In every mode the switch answers ARP requests and neighbor
//! solicitations from the wire for its ports' addresses with the shared
//! MAC (defending them against another station's duplicate address
//! detection too), and drops its own frames when a hairpinning bridge
//! reflects them back (the kernel's `ipvlan_external_frame`). A `private`
//! switch also drops a reflected unicast whose source is one of its
//! ports, as `private` macvlan ports do in vepa (docs/design.md §2).
//!
//! A port owns its configured addresses, the ones it sends from when it
//! learns (`learn_addresses`), and the IPv6 link-local ones it sends from
//! whether it learns or not.

pub use crate::config::{IpvlanConfig, IpvlanMode};
use crate::{DropReason, PortId, PortMode};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use vepa_packet::ip::{NdMessage, NA_OVERRIDE, NA_SOLICITED, ND_NEIGHBOR_ADVERT};
use vepa_packet::{ArpOperation, MacAddr};

use crate::parsed::{Network, Parsed};

/// An ipvlan switch as it forwards: its settings and who owns what.
#[derive(Debug)]
pub(crate) struct Ipvlan {
    pub mode: IpvlanMode,
    pub mac: MacAddr,
    /// The ports' flag.
    pub flag: PortMode,
    owners: HashMap<IpAddr, PortId>,
    /// By port index: whether it learns the addresses it sends from.
    learns: Vec<bool>,
    /// How long a learned address lasts unseen (the switch's ageing time).
    ageing_ms: u64,
}

/// The most addresses one port may have learned at once: a tenant cannot
/// claim a whole subnet by sending from it.
pub const LEARNED_PER_PORT: usize = 64;

/// The most link-local addresses of stations beyond the uplink the switch
/// remembers (so that no port can claim theirs).
pub const WIRE_LINK_LOCALS: usize = 1024;

/// Addresses ports of an ipvlan switch were seen sending from
/// (`learn_addresses`), each with its port and when it was last seen;
/// aged as the FDB is. Configured addresses always win over learned ones,
/// and a learned address is another port's only once it has aged out.
#[derive(Debug, Default)]
pub struct LearnedAddresses {
    inner: std::sync::RwLock<Learned>,
}

#[derive(Debug, Default, Clone)]
struct Learned {
    map: HashMap<IpAddr, (PortId, u64)>,
    /// How many entries each port holds (aged ones until `age` runs), so
    /// the limit is checked without a walk of the table.
    held: HashMap<PortId, usize>,
}

impl Learned {
    fn insert(&mut self, ip: IpAddr, port: PortId, seen: u64) {
        if let Some((was, _)) = self.map.insert(ip, (port, seen)) {
            if let Some(n) = self.held.get_mut(&was) {
                *n = n.saturating_sub(1);
            }
        }
        *self.held.entry(port).or_default() += 1;
    }

    fn full(&self, port: PortId, limit: usize) -> bool {
        self.held.get(&port).copied().unwrap_or(0) >= limit
    }
}

impl LearnedAddresses {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Learned> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Learned> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn owner(&self, ip: IpAddr, now: u64, ageing_ms: u64) -> Option<PortId> {
        self.read()
            .map
            .get(&ip)
            .filter(|(_, seen)| now.saturating_sub(*seen) < ageing_ms)
            .map(|(p, _)| *p)
    }

    /// `port` sent from `ip` at `now`: learned (or refreshed, at most once
    /// a second) unless another holds it (`take`: even then) or `port`
    /// holds `limit` addresses already.
    fn learn(&self, ip: IpAddr, port: PortId, now: u64, ageing_ms: u64, limit: usize, take: bool) {
        let live = |seen: u64| now.saturating_sub(seen) < ageing_ms;
        {
            let r = self.read();
            match r.map.get(&ip) {
                Some((p, seen)) if *p == port && now.saturating_sub(*seen) < 1000 => return,
                Some((p, seen)) if *p != port && live(*seen) && !take => return,
                None if r.full(port, limit) => return,
                _ => {}
            }
        }
        let mut w = self.write();
        match w.map.get(&ip).copied() {
            Some((p, seen)) if p != port && live(seen) && !take => {}
            Some((p, _)) if p == port => w.insert(ip, port, now),
            _ if w.full(port, limit) => {}
            _ => w.insert(ip, port, now),
        }
    }

    /// Puts back what another table had learned (a restarted switch's),
    /// `port` mapping each entry's port here (`None`: it does not learn).
    pub fn restore_from(
        &self,
        old: &LearnedAddresses,
        port: impl Fn(IpAddr, PortId) -> Option<PortId>,
    ) {
        let entries: Vec<(IpAddr, PortId, u64)> = old
            .read()
            .map
            .iter()
            .map(|(ip, (p, seen))| (*ip, *p, *seen))
            .collect();
        let mut w = self.write();
        for (ip, p, seen) in entries {
            if let Some(to) = port(ip, p) {
                if !w.full(to, WIRE_LINK_LOCALS) {
                    w.insert(ip, to, seen);
                }
            }
        }
    }

    /// Forgets what was not seen for `ageing_ms`; how many went.
    pub fn age(&self, now: u64, ageing_ms: u64) -> usize {
        let mut w = self.write();
        let before = w.map.len();
        w.map
            .retain(|_, (_, seen)| now.saturating_sub(*seen) < ageing_ms);
        let mut held: HashMap<PortId, usize> = HashMap::new();
        for (p, _) in w.map.values() {
            *held.entry(*p).or_default() += 1;
        }
        w.held = held;
        before - w.map.len()
    }

    /// A copy, for a trace's shadow switch.
    pub fn copy(&self) -> LearnedAddresses {
        LearnedAddresses {
            inner: std::sync::RwLock::new(self.read().clone()),
        }
    }

    /// Every learned address and its port.
    pub fn entries(&self) -> Vec<(IpAddr, PortId)> {
        let mut v: Vec<_> = self
            .read()
            .map
            .iter()
            .map(|(ip, (p, _))| (*ip, *p))
            .collect();
        v.sort();
        v
    }
}

/// Where an ipvlan switch sends a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// To this port.
    To(PortId),
    /// Out the uplink.
    Uplink,
    /// To every port but `except`, and out the uplink when `uplink`.
    Flood {
        except: Option<PortId>,
        uplink: bool,
    },
    /// The switch answers it: this frame goes back out the ingress port.
    Answer(Vec<u8>),
    Drop(DropReason),
}

impl Verdict {
    /// The rule that decided, in words, for a trace.
    pub fn rule(&self) -> &'static str {
        match self {
            Verdict::To(_) => "delivered to the port owning the destination address",
            Verdict::Uplink => "out the uplink",
            Verdict::Flood { uplink: true, .. } => {
                "a group frame goes to every other port and the uplink"
            }
            Verdict::Flood { .. } => "a group frame goes to every port",
            Verdict::Answer(_) => "the switch answers for its port's address with the shared MAC",
            Verdict::Drop(_) => "dropped",
        }
    }
}

/// An ARP request or a neighbor solicitation: who asks, for what.
struct Solicitation {
    target: IpAddr,
    /// The asker's address (unspecified for DAD and ARP probes).
    asker: IpAddr,
    asker_mac: MacAddr,
}

impl Ipvlan {
    pub fn new(cfg: &IpvlanConfig, sw: &crate::SwitchConfig) -> Ipvlan {
        let owners = cfg
            .addresses
            .iter()
            .filter_map(|(ip, port)| Some((*ip, sw.port_id(port)?)))
            .collect();
        let flag = sw
            .ports
            .iter()
            .find_map(|p| p.mode())
            .unwrap_or(PortMode::Veb);
        let mut learns = vec![false; sw.ports.len()];
        for name in &cfg.learn {
            if let Some(id) = sw.port_id(name) {
                learns[id.index()] = true;
            }
        }
        Ipvlan {
            mode: cfg.mode,
            mac: cfg.mac,
            flag,
            owners,
            learns,
            ageing_ms: sw.ageing_ms,
        }
    }

    /// Where `frame`, from `in_port` at `now`, goes; `uplink` is the
    /// switch's, `learned` what its ports were seen using.
    pub fn decide(
        &self,
        learned: &LearnedAddresses,
        now: u64,
        uplink: Option<PortId>,
        in_port: PortId,
        frame: &Parsed<'_>,
    ) -> Verdict {
        let at = Lookup {
            ipvlan: self,
            learned,
            now,
            uplink,
        };
        if Some(in_port) == uplink {
            self.learn_wire(learned, now, in_port, frame);
            at.inbound(frame)
        } else {
            self.learn_source(learned, now, in_port, frame);
            at.outbound(uplink, in_port, frame)
        }
    }

    /// Learns the address a port sends from, when it is a station's and
    /// not configured as another port's: any such address for a learning
    /// port, an IPv6 link-local one for every port.
    fn learn_source(&self, learned: &LearnedAddresses, now: u64, port: PortId, frame: &Parsed<'_>) {
        if frame.src() != self.mac {
            return;
        }
        let Some(ip) = source_address(frame) else {
            return;
        };
        let learns = self.learns.get(port.index()).copied().unwrap_or(false);
        if !(learns || is_link_local(ip)) {
            return;
        }
        if !crate::config::is_station_address(ip) || self.owners.contains_key(&ip) {
            return;
        }
        learned.learn(ip, port, now, self.ageing_ms, LEARNED_PER_PORT, false);
    }

    /// Remembers the link-local address a station beyond the uplink sends
    /// from, as the uplink's: no port may claim it while it is seen (a
    /// port that did, before the station spoke, loses it now).
    fn learn_wire(&self, learned: &LearnedAddresses, now: u64, uplink: PortId, frame: &Parsed<'_>) {
        if frame.src() == self.mac {
            return;
        }
        let Some(ip) = source_address(frame).filter(|ip| is_link_local(*ip)) else {
            return;
        };
        if self.owners.contains_key(&ip) {
            return;
        }
        learned.learn(ip, uplink, now, self.ageing_ms, WIRE_LINK_LOCALS, true);
    }
}

/// Who owns what at one moment: the configured owners, then the learned.
struct Lookup<'a> {
    ipvlan: &'a Ipvlan,
    learned: &'a LearnedAddresses,
    now: u64,
    /// The uplink, whose entries are stations beyond it: no port's.
    uplink: Option<PortId>,
}

impl std::ops::Deref for Lookup<'_> {
    type Target = Ipvlan;
    fn deref(&self) -> &Ipvlan {
        self.ipvlan
    }
}

impl Lookup<'_> {
    fn owner(&self, ip: IpAddr) -> Option<PortId> {
        self.ipvlan.owners.get(&ip).copied().or_else(|| {
            let link_local = is_link_local(ip);
            if !link_local && !self.ipvlan.learns.iter().any(|l| *l) {
                return None;
            }
            // A learned address only while its port still learns; a
            // link-local one whatever the port.
            self.learned
                .owner(ip, self.now, self.ipvlan.ageing_ms)
                .filter(|p| Some(*p) != self.uplink)
                .filter(|p| {
                    link_local || self.ipvlan.learns.get(p.index()).copied().unwrap_or(false)
                })
        })
    }

    /// Whether the switch answers solicitations for `ip` itself: for a
    /// port's configured address, or one a learning port (whose guard
    /// vets its sources) sends from. A link-local address a port merely
    /// used is left to the port to answer (in l2 the solicitation reaches
    /// every port), so the switch never vouches for an unvetted claim.
    fn answers_for(&self, ip: IpAddr) -> bool {
        self.ipvlan.owners.contains_key(&ip) || (!is_link_local(ip) && self.owner(ip).is_some())
    }

    fn inbound(&self, frame: &Parsed<'_>) -> Verdict {
        let (src, dst) = (frame.src(), frame.dst());
        if src == self.mac {
            // Sent from our MAC: one of our ports' frames, back from a
            // bridge that hairpins. A group frame had its copies already;
            // a private switch lets no port reach another this way.
            let ours = source_address(frame)
                .is_none_or(|ip| ip.is_unspecified() || self.owner(ip).is_some());
            if dst.is_multicast() && ours {
                return Verdict::Drop(DropReason::AlreadyDelivered);
            }
            if self.flag == PortMode::Private && ours {
                return Verdict::Drop(DropReason::PrivateIsolation);
            }
        }
        if let Some(s) = solicitation(frame) {
            if self.answers_for(s.target) {
                return self.answer(&s);
            }
        }
        if dst.is_multicast() {
            return if self.mode.routed() {
                Verdict::Drop(DropReason::IpvlanGroup)
            } else {
                Verdict::Flood {
                    except: None,
                    uplink: false,
                }
            };
        }
        if dst != self.mac {
            // Another station's unicast, seen because the uplink listens
            // to everything.
            return Verdict::Drop(DropReason::NoDestination);
        }
        match destination_address(frame).and_then(|ip| self.owner(ip)) {
            Some(q) => Verdict::To(q),
            None => Verdict::Drop(DropReason::IpvlanNoOwner),
        }
    }

    fn outbound(&self, uplink: Option<PortId>, in_port: PortId, frame: &Parsed<'_>) -> Verdict {
        let up = || match uplink {
            Some(_) => Verdict::Uplink,
            None => Verdict::Drop(DropReason::NoUplink),
        };
        if frame.src() != self.mac {
            return Verdict::Drop(DropReason::IpvlanMac);
        }
        let routed = self.mode.routed();
        // What a port says of itself in ARP and ND must be true: the
        // shared MAC, and an address of its own (or none, probing).
        match frame.network() {
            crate::parsed::Network::Arp(Some(a)) => {
                if a.sender_mac() != self.mac {
                    return Verdict::Drop(DropReason::IpvlanMac);
                }
                let spa = IpAddr::from(a.sender_ip());
                if !spa.is_unspecified() && self.owner(spa) != Some(in_port) {
                    return Verdict::Drop(DropReason::SpoofedArp);
                }
                // The kernel's L3 ports send no ARP; here only requests,
                // which the switch handles below.
                if routed && a.operation() != ArpOperation::Request {
                    return Verdict::Drop(DropReason::IpvlanGroup);
                }
            }
            crate::parsed::Network::Arp(None) => return Verdict::Drop(DropReason::Malformed),
            crate::parsed::Network::Ipv4(_) | crate::parsed::Network::Ipv6(_) => {
                if let Some(nd) = neighbor_message(frame) {
                    if nd.lladdr.is_some_and(|m| m != self.mac) {
                        return Verdict::Drop(DropReason::IpvlanMac);
                    }
                    // An advertisement speaks for its target: the port's own.
                    if nd.ty == ND_NEIGHBOR_ADVERT && self.owner(nd.target.into()) != Some(in_port)
                    {
                        return Verdict::Drop(DropReason::SpoofedArp);
                    }
                }
            }
            crate::parsed::Network::Other if routed => {
                return Verdict::Drop(DropReason::IpvlanGroup)
            }
            crate::parsed::Network::Other => {}
        }
        if routed {
            if let Some(s) = solicitation(frame) {
                return match self.owner(s.target) {
                    // Its own address: nobody else may answer (its DAD
                    // passes), and there is nobody to announce it to.
                    Some(q) if q == in_port => Verdict::Drop(DropReason::IpvlanGroup),
                    Some(_) if self.flag == PortMode::Private => {
                        Verdict::Drop(DropReason::PrivateIsolation)
                    }
                    Some(_) => self.answer(&s),
                    // The master resolves on its ports' behalf: the wire
                    // alone hears it.
                    None => up(),
                };
            }
        }
        if frame.dst().is_multicast() {
            if routed {
                return Verdict::Drop(DropReason::IpvlanGroup);
            }
            return Verdict::Flood {
                except: Some(in_port),
                uplink: uplink.is_some(),
            };
        }
        // L2: a unicast to the shared MAC is for a sibling (the kernel's
        // "dst MAC equals src MAC"); L3 looks at every unicast's address.
        if routed || frame.dst() == self.mac {
            if self.flag == PortMode::Vepa {
                return up();
            }
            match destination_address(frame).and_then(|ip| self.owner(ip)) {
                Some(q) if self.flag == PortMode::Private && q != in_port => {
                    return Verdict::Drop(DropReason::PrivateIsolation)
                }
                Some(q) => return Verdict::To(q),
                // For the master's own stack, which vepa has none of.
                None if !routed => return Verdict::Drop(DropReason::IpvlanNoOwner),
                None => {}
            }
        }
        up()
    }

    /// The answer to `s` for a port's address: an ARP reply or a neighbor
    /// advertisement from the shared MAC, back to the asker.
    fn answer(&self, s: &Solicitation) -> Verdict {
        let mut f = Vec::with_capacity(90);
        match (s.target, s.asker) {
            (IpAddr::V4(target), IpAddr::V4(asker)) => {
                vepa_packet::ip::write_ethernet(&mut f, s.asker_mac, self.mac, 0x0806);
                f.extend_from_slice(&vepa_packet::ip::arp(
                    2,
                    self.mac,
                    target,
                    s.asker_mac,
                    asker,
                ));
                f.resize(60, 0);
            }
            (IpAddr::V6(target), IpAddr::V6(asker)) => {
                // DAD (from ::) is answered to all nodes, unsolicited.
                let (dst, dst_mac, flags) = if asker.is_unspecified() {
                    let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
                    (all, vepa_packet::ip::ipv6_multicast_mac(all), NA_OVERRIDE)
                } else {
                    (asker, s.asker_mac, NA_SOLICITED | NA_OVERRIDE)
                };
                let body = vepa_packet::ip::nd_body(ND_NEIGHBOR_ADVERT, target, self.mac);
                let msg = vepa_packet::ip::icmpv6(
                    target,
                    dst,
                    ND_NEIGHBOR_ADVERT,
                    0,
                    [flags, 0, 0, 0],
                    &body,
                );
                vepa_packet::ip::write_ethernet(&mut f, dst_mac, self.mac, 0x86dd);
                vepa_packet::ip::push_ipv6(&mut f, target, dst, 58, 255, &msg);
            }
            _ => return Verdict::Drop(DropReason::Malformed),
        }
        Verdict::Answer(f)
    }
}

/// The address a frame is for: IPv4 or IPv6 destination, ARP target; a
/// neighbor solicitation for DAD (from ::), its target.
fn destination_address(frame: &Parsed<'_>) -> Option<IpAddr> {
    match frame.network() {
        Network::Ipv4(Some(v)) => Some(v.dst().into()),
        Network::Ipv6(Some(v)) => {
            if v.src().is_unspecified() {
                if let Some(nd) = neighbor_solicitation(frame) {
                    return Some(nd.target.into());
                }
            }
            Some(v.dst().into())
        }
        Network::Arp(Some(a)) => Some(a.target_ip().into()),
        _ => None,
    }
}

/// The address a frame is from: IPv4 or IPv6 source, ARP sender.
/// An IPv6 link-local unicast address (fe80::/10). Every port owns the
/// ones it sends from, as the kernel's ipvlan owns every address of a
/// slave: neighbor discovery with a router, and routes via its
/// link-local address, need them. One reaches nothing off the link, so
/// no guard is asked for; the first port to use one holds it until it
/// ages out, and the per-port limit bounds them.
pub(crate) fn is_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
}

fn source_address(frame: &Parsed<'_>) -> Option<IpAddr> {
    match frame.network() {
        Network::Ipv4(Some(v)) => Some(v.src().into()),
        Network::Ipv6(Some(v)) => Some(v.src().into()),
        Network::Arp(Some(a)) => Some(a.sender_ip().into()),
        _ => None,
    }
}

/// A neighbor solicitation or advertisement (hop limit 255, as ND's).
fn neighbor_message(frame: &Parsed<'_>) -> Option<NdMessage> {
    let v = frame.ipv6()?;
    let (proto, msg) = v.upper()?;
    if proto != 58 || v.hop_limit() != 255 {
        return None;
    }
    NdMessage::parse(msg)
}

fn neighbor_solicitation(frame: &Parsed<'_>) -> Option<NdMessage> {
    neighbor_message(frame).filter(|m| m.ty == vepa_packet::ip::ND_NEIGHBOR_SOLICIT)
}

/// An ARP request (probes included) or a neighbor solicitation.
fn solicitation(frame: &Parsed<'_>) -> Option<Solicitation> {
    if let Some(a) = frame.arp() {
        if a.operation() != ArpOperation::Request {
            return None;
        }
        let asker_mac = a.sender_mac();
        if asker_mac.is_multicast() {
            return None;
        }
        return Some(Solicitation {
            target: a.target_ip().into(),
            asker: a.sender_ip().into(),
            asker_mac,
        });
    }
    let nd = neighbor_solicitation(frame)?;
    let src = frame.ipv6()?.src();
    let asker_mac = nd.lladdr.unwrap_or_else(|| frame.src());
    if nd.target.is_multicast() || asker_mac.is_multicast() || src.is_multicast() {
        return None;
    }
    Some(Solicitation {
        target: nd.target.into(),
        asker: src.into(),
        asker_mac,
    })
}

/// A stable, locally administered MAC for an ipvlan switch without an
/// interface to take one from (derived from its name).
pub fn derived_mac(switch: &str) -> MacAddr {
    let mut h: u32 = 0x811c_9dc5;
    for b in "ipvlan/".bytes().chain(switch.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    MacAddr::local_from_seed(h)
}
