//! The router: IP forwarding between the switches its ports sit on.
//!
//! A router port is a port of a switch like any other (a MAC, a VLAN), but
//! instead of a device behind it there is this router. The switch hands it
//! the frames addressed to the port's MAC (and broadcasts); the router
//! answers ARP and neighbor solicitations for its addresses, routes by
//! longest prefix (connected subnets, static routes), decrements TTL or
//! hop limit (the IPv4 checksum updated incrementally), resolves the next
//! hop and hands frames back to the switch of the egress port. What it
//! cannot forward it answers as RFC 1812 and RFC 4443 say: time exceeded,
//! destination unreachable, fragmentation needed / packet too big (rate
//! limited; never about an ICMP error, a multicast or a later fragment).
//! Offloaded frames (GSO, partial checksums) are forwarded whole: their
//! segments are checked against the egress MTU and the transport checksum
//! needs no change, as neither TTL nor MACs are under it.
//!
//! - [`prefix`]: prefixes and the longest-prefix-match table;
//! - [`config`]: ports, addresses, routes, and their validation;
//! - [`neighbor`]: the ARP/ND neighbor table with waiting packets.

pub mod config;
pub mod neighbor;
pub mod prefix;
#[cfg(test)]
mod tests;

pub use config::{
    Hop, IfAddr, RouteConfig, RouterConfig, RouterError, RouterPortConfig, RouterTables,
};
pub use neighbor::{NeighborRow, NeighborState, Neighbors};
pub use prefix::{Prefix, PrefixError, PrefixTable};

use crate::filter::{reject_ip, Acl, AclVerdict, L3Packet, Zone};
use arc_swap::{ArcSwap, ArcSwapOption};
use neighbor::{Answer, Queued, Resolved};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use vepa_packet::checksum;
use vepa_packet::ip::{self, Ipv4View, Ipv6View, NdMessage};
use vepa_packet::{
    ArpOperation, ArpPacket, EtherType, EthernetFrame, MacAddr, VirtioNetHdr, ETH_HEADER_LEN,
};

/// A frame the router sends out of one of its ports.
#[derive(Debug, Clone)]
pub struct RouterTx {
    pub port: usize,
    pub frame: Vec<u8>,
    pub hdr: VirtioNetHdr,
}

/// Why the router did not forward a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterDrop {
    /// A header that does not parse, a bad IPv4 checksum, a martian source.
    BadHeader,
    NoRoute,
    TtlExceeded,
    /// Bigger than the egress MTU with DF set (or IPv6).
    TooBig,
    /// The next hop never answered ARP/ND.
    Unresolved,
    /// The neighbor table or a next hop's waiting queue is full.
    NeighborFull,
    /// Addressed to the router on a protocol it does not serve.
    LocalUnsupported,
    /// The router's access list dropped or rejected it.
    AclDrop,
    /// The router's access list allowed a new connection, but its
    /// connection table was full.
    ConntrackFull,
}

impl RouterDrop {
    pub const COUNT: usize = 9;
    pub const ALL: [RouterDrop; Self::COUNT] = [
        RouterDrop::BadHeader,
        RouterDrop::NoRoute,
        RouterDrop::TtlExceeded,
        RouterDrop::TooBig,
        RouterDrop::Unresolved,
        RouterDrop::NeighborFull,
        RouterDrop::LocalUnsupported,
        RouterDrop::AclDrop,
        RouterDrop::ConntrackFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouterDrop::BadHeader => "bad_header",
            RouterDrop::NoRoute => "no_route",
            RouterDrop::TtlExceeded => "ttl_exceeded",
            RouterDrop::TooBig => "too_big",
            RouterDrop::Unresolved => "unresolved",
            RouterDrop::NeighborFull => "neighbor_full",
            RouterDrop::LocalUnsupported => "local_unsupported",
            RouterDrop::AclDrop => "acl_drop",
            RouterDrop::ConntrackFull => "conntrack_full",
        }
    }
}

/// What a router has done, counted since it was made.
#[derive(Debug, Default)]
pub struct RouterCounters {
    pub forwarded: AtomicU64,
    pub delivered: AtomicU64,
    pub icmp_errors: AtomicU64,
    pub icmp_rate_limited: AtomicU64,
    pub drops: [AtomicU64; RouterDrop::COUNT],
}

impl RouterCounters {
    fn drop(&self, r: RouterDrop) {
        self.drops[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, r: RouterDrop) -> u64 {
        self.drops[r as usize].load(Ordering::Relaxed)
    }
}

/// ICMP errors per second the router sends at most, and the burst.
const ICMP_RATE: u64 = 1000;
const ICMP_BURST: u64 = 100;
const DEFAULT_TTL: u8 = 64;

/// A token bucket for ICMP errors (in thousandths of a token).
#[derive(Debug)]
struct Limiter {
    tokens: u64,
    at_ms: u64,
}

/// A packet the router is to pass on, as both families describe it.
struct Transit<'p> {
    /// From the IP header on.
    packet: &'p [u8],
    dst: IpAddr,
    /// TTL or hop limit as received.
    hops_left: u8,
    /// The transport protocol and its offset, when known (for GSO sizes).
    l4: Option<(u8, usize)>,
    /// IPv4 without DF: cut to the egress MTU rather than refused.
    may_fragment: bool,
}

/// The access list on what a router forwards, and its connections.
#[derive(Debug)]
pub struct RouterFilter {
    pub acl: Arc<Acl>,
    pub zone: Arc<Zone>,
}

pub struct Router {
    tables: ArcSwap<RouterTables>,
    filter: ArcSwapOption<RouterFilter>,
    neighbors: Mutex<Neighbors>,
    limiter: Mutex<Limiter>,
    ident: AtomicU16,
    pub counters: RouterCounters,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.tables.load().config.name)
            .finish()
    }
}

/// The ICMP message kinds the router originates, for both families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IcmpError {
    TimeExceeded,
    NetUnreachable,
    HostUnreachable,
    PortUnreachable,
    TooBig(u16),
}

impl IcmpError {
    fn v4(self) -> (u8, u8, [u8; 4]) {
        match self {
            IcmpError::TimeExceeded => (11, 0, [0; 4]),
            IcmpError::NetUnreachable => (3, 0, [0; 4]),
            IcmpError::HostUnreachable => (3, 1, [0; 4]),
            IcmpError::PortUnreachable => (3, 3, [0; 4]),
            IcmpError::TooBig(mtu) => {
                let m = mtu.to_be_bytes();
                (3, 4, [0, 0, m[0], m[1]])
            }
        }
    }

    fn v6(self) -> (u8, u8, [u8; 4]) {
        match self {
            IcmpError::TimeExceeded => (3, 0, [0; 4]),
            IcmpError::NetUnreachable => (1, 0, [0; 4]),
            IcmpError::HostUnreachable => (1, 3, [0; 4]),
            IcmpError::PortUnreachable => (1, 4, [0; 4]),
            IcmpError::TooBig(mtu) => (2, 0, (mtu as u32).to_be_bytes()),
        }
    }
}

impl Router {
    pub fn new(config: &RouterConfig) -> Result<Router, RouterError> {
        let t = config.build()?;
        Ok(Router {
            tables: ArcSwap::from_pointee(t),
            filter: ArcSwapOption::empty(),
            neighbors: Mutex::new(Neighbors::default()),
            limiter: Mutex::new(Limiter {
                tokens: ICMP_BURST * 1000,
                at_ms: 0,
            }),
            ident: AtomicU16::new(1),
            counters: RouterCounters::default(),
        })
    }

    pub fn name(&self) -> String {
        self.tables.load().config.name.clone()
    }

    pub fn tables(&self) -> Arc<RouterTables> {
        self.tables.load_full()
    }

    /// Swaps in a new configuration (routes, addresses); neighbors of
    /// ports that remain are kept.
    pub fn set_config(&self, config: &RouterConfig) -> Result<(), RouterError> {
        let t = config.build()?;
        let old = self.tables.load();
        let mut n = self.lock_neighbors();
        // A port whose name, MAC or addresses changed (or that moved) starts over.
        for (i, p) in old.config.ports.iter().enumerate() {
            if t.config
                .ports
                .get(i)
                .is_none_or(|q| q.name != p.name || q.mac != p.mac || q.addresses != p.addresses)
            {
                n.flush(Some(i));
            }
        }
        n.retain_ports(t.config.ports.len());
        self.tables.store(Arc::new(t));
        Ok(())
    }

    /// Filters what the router forwards (`None`: everything routable passes).
    pub fn set_filter(&self, f: Option<RouterFilter>) {
        self.filter.store(f.map(Arc::new));
    }

    pub fn filter(&self) -> Option<Arc<RouterFilter>> {
        self.filter.load_full()
    }

    /// Runs the forward filter on `packet` (an IP packet being forwarded):
    /// true to go on. A reject's answer is routed back to the sender.
    fn permitted(
        &self,
        t: &RouterTables,
        packet: &[u8],
        now: u64,
        out: &mut Vec<RouterTx>,
    ) -> bool {
        let f = self.filter.load();
        let Some(f) = f.as_ref() else {
            return true;
        };
        let Some(p) = L3Packet::from_ip(packet) else {
            return true;
        };
        match f.acl.evaluate(&p, &f.zone, now) {
            AclVerdict::Allow => true,
            AclVerdict::Drop => {
                self.counters.drop(RouterDrop::AclDrop);
                false
            }
            AclVerdict::TableFull => {
                self.counters.drop(RouterDrop::ConntrackFull);
                false
            }
            AclVerdict::Reject => {
                self.counters.drop(RouterDrop::AclDrop);
                if let Some(reply) = reject_ip(packet, &p) {
                    self.route_packet(t, &reply, now, out);
                }
                false
            }
        }
    }

    /// Sends an IP packet the router made whole (a reject's answer) towards its destination.
    fn route_packet(&self, t: &RouterTables, packet: &[u8], now: u64, out: &mut Vec<RouterTx>) {
        let Some(dst) = L3Packet::from_ip(packet).map(|p| p.dst) else {
            return;
        };
        let Some((_, hop)) = t.lookup(&dst) else {
            return;
        };
        let mut frame = vec![0u8; ETH_HEADER_LEN];
        frame.extend_from_slice(packet);
        self.send(
            t,
            hop.port,
            hop.via.unwrap_or(dst),
            frame,
            VirtioNetHdr::default(),
            None,
            now,
            out,
        );
    }

    fn lock_neighbors(&self) -> std::sync::MutexGuard<'_, Neighbors> {
        self.neighbors.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn neighbors(&self, now: u64) -> Vec<NeighborRow> {
        self.lock_neighbors().rows(now)
    }

    pub fn flush_neighbors(&self) -> usize {
        self.lock_neighbors().flush(None)
    }

    /// A frame the switch delivered to router port `port` (untagged).
    pub fn receive(
        &self,
        port: usize,
        frame: &[u8],
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let t = self.tables.load();
        let Some(pc) = t.config.ports.get(port) else {
            return;
        };
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let dst = eth.dst();
        if eth.vlan().is_some() || (dst != pc.mac && !dst.is_multicast()) {
            // Flooded unicast for someone else.
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => self.arp(&t, port, &eth, now, out),
            EtherType::IPV4 => self.ipv4(&t, port, &eth, hdr, now, out),
            EtherType::IPV6 => self.ipv6(&t, port, &eth, hdr, now, out),
            _ => {}
        }
    }

    fn arp(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &EthernetFrame<&[u8]>,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Ok(a) = ArpPacket::new_checked(eth.payload()) else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let (spa, tpa, sha) = (a.sender_ip(), a.target_ip(), a.sender_mac());
        let ours = t.own.get(&IpAddr::V4(tpa)) == Some(&port);
        if !spa.is_unspecified() && !sha.is_multicast() {
            let released =
                self.lock_neighbors()
                    .confirm(port, IpAddr::V4(spa), sha, now, ours, Answer::FULL);
            self.release(t, port, sha, released, out);
        }
        if ours && a.operation() == ArpOperation::Request {
            let mac = t.config.ports[port].mac;
            let mut f = Vec::with_capacity(60);
            ip::write_ethernet(&mut f, sha, mac, EtherType::ARP);
            f.extend_from_slice(&ip::arp(2, mac, tpa, sha, spa));
            out.push(RouterTx {
                port,
                frame: f,
                hdr: VirtioNetHdr::default(),
            });
        }
    }

    fn ipv4(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &EthernetFrame<&[u8]>,
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Ok(ip4) = Ipv4View::parse(eth.payload()) else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let (src, dst) = (ip4.src(), ip4.dst());
        if !ip4.checksum_ok() || src.is_multicast() || src.is_broadcast() || src.is_loopback() {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        }
        if t.own.contains_key(&IpAddr::V4(dst)) {
            self.local(
                t,
                port,
                IpAddr::V4(src),
                IpAddr::V4(dst),
                ip4.protocol(),
                ip4.payload(),
                ip4.as_bytes(),
                ip4.fragment_offset() != 0 || ip4.more_fragments(),
                now,
                out,
            );
            return;
        }
        if dst.is_multicast()
            || dst.is_broadcast()
            || eth.dst().is_multicast()
            || src.is_unspecified()
        {
            // Not routed: no multicast routing, no directed broadcasts.
            return;
        }
        if dst.is_loopback() || dst.octets()[0] == 0 {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        }
        let transit = Transit {
            packet: ip4.as_bytes(),
            dst: IpAddr::V4(dst),
            hops_left: ip4.ttl(),
            l4: Some((ip4.protocol(), ip4.header_len())),
            may_fragment: !ip4.dont_fragment(),
        };
        self.forward(t, port, transit, hdr, eth.header_len(), now, out);
    }

    fn ipv6(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &EthernetFrame<&[u8]>,
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Ok(ip6) = Ipv6View::parse(eth.payload()) else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let (src, dst) = (ip6.src(), ip6.dst());
        if src.is_multicast() || src.is_loopback() {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        }
        if let Some((ip::PROTO_ICMPV6, msg)) = ip6.upper() {
            if matches!(
                msg.first(),
                Some(&(ip::ND_NEIGHBOR_SOLICIT | ip::ND_NEIGHBOR_ADVERT))
            ) {
                self.nd(t, port, eth, &ip6, msg, now, out);
                return;
            }
        }
        if t.own.contains_key(&IpAddr::V6(dst)) {
            let (proto, body) = ip6.upper().unwrap_or((59, &[]));
            self.local(
                t,
                port,
                IpAddr::V6(src),
                IpAddr::V6(dst),
                proto,
                body,
                ip6.as_bytes(),
                ip6.fragment().is_some(),
                now,
                out,
            );
            return;
        }
        if dst.is_multicast() || eth.dst().is_multicast() || src.is_unspecified() {
            return;
        }
        if dst.is_loopback() || dst.is_unspecified() {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        }
        if config::is_link_local(&IpAddr::V6(src)) || config::is_link_local(&IpAddr::V6(dst)) {
            // Link-local scope never crosses a router.
            return;
        }
        let upper = ip6.upper().map(|(p, b)| (p, ip6.total_len() - b.len()));
        let transit = Transit {
            packet: ip6.as_bytes(),
            dst: IpAddr::V6(dst),
            hops_left: ip6.hop_limit(),
            l4: upper,
            // IPv6 routers never fragment (RFC 8200 5).
            may_fragment: false,
        };
        self.forward(t, port, transit, hdr, eth.header_len(), now, out);
    }

    /// What both families do with a packet to pass on: hop limit, route,
    /// MTU, the forward filter, then out (fragmented if it must and may be).
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        t: &RouterTables,
        port: usize,
        x: Transit<'_>,
        hdr: &VirtioNetHdr,
        l2_len: usize,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        if x.hops_left <= 1 {
            self.counters.drop(RouterDrop::TtlExceeded);
            self.icmp_error(t, port, x.packet, IcmpError::TimeExceeded, now, out);
            return;
        }
        let Some((_, hop)) = t.lookup(&x.dst) else {
            self.counters.drop(RouterDrop::NoRoute);
            self.icmp_error(t, port, x.packet, IcmpError::NetUnreachable, now, out);
            return;
        };
        if hop.connected && t.is_subnet_broadcast(hop.port, &x.dst) {
            // A directed broadcast (RFC 2644: not forwarded by default).
            return;
        }
        let mtu = t.config.ports[hop.port].mtu as usize;
        let size = match x.l4 {
            Some((proto, at)) => wire_size(x.packet, at, proto, hdr),
            None => x.packet.len(),
        };
        let fragment = size > mtu;
        if fragment && (!x.may_fragment || hdr.is_gso()) {
            self.counters.drop(RouterDrop::TooBig);
            self.icmp_error(t, port, x.packet, IcmpError::TooBig(mtu as u16), now, out);
            return;
        }
        if !self.permitted(t, x.packet, now, out) {
            return;
        }
        let next = hop.via.unwrap_or(x.dst);
        let one_less = |frame: &mut Vec<u8>| match x.dst {
            IpAddr::V4(_) => ip::decrement_ttl(&mut frame[ETH_HEADER_LEN..]),
            IpAddr::V6(_) => frame[ETH_HEADER_LEN + 7] -= 1,
        };
        if !fragment {
            let mut frame = Vec::with_capacity(ETH_HEADER_LEN + x.packet.len());
            frame.extend_from_slice(&[0; ETH_HEADER_LEN]);
            frame.extend_from_slice(x.packet);
            one_less(&mut frame);
            self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
            self.send(t, hop.port, next, frame, *hdr, Some(port), now, out);
            return;
        }
        // A checksum left to the hardware is finished before the packet is
        // cut: the fragments go out as they are.
        let mut whole = x.packet.to_vec();
        if hdr.needs_csum() && (hdr.csum_start as usize) >= l2_len {
            checksum::complete_partial(
                &mut whole,
                hdr.csum_start as usize - l2_len,
                hdr.csum_offset as usize,
            );
        }
        let mut frames = Vec::new();
        ip::fragment_ipv4(&whole, mtu, |f| {
            let mut frame = Vec::with_capacity(ETH_HEADER_LEN + f.len());
            frame.extend_from_slice(&[0; ETH_HEADER_LEN]);
            frame.extend_from_slice(f);
            one_less(&mut frame);
            frames.push(frame);
        });
        for frame in frames {
            self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
            self.send(
                t,
                hop.port,
                next,
                frame,
                VirtioNetHdr::default(),
                Some(port),
                now,
                out,
            );
        }
    }

    /// Neighbor solicitations for the router's addresses, and advertisements.
    #[allow(clippy::too_many_arguments)]
    fn nd(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &EthernetFrame<&[u8]>,
        ip6: &Ipv6View<'_>,
        msg: &[u8],
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let (src, dst) = (ip6.src(), ip6.dst());
        // RFC 4861 7.1: hop limit 255 proves the sender is on the link.
        if ip6.hop_limit() != 255 || !ip::icmpv6_checksum_ok(src, dst, msg) {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        }
        let Some(nd) = NdMessage::parse(msg) else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let ours = t.own.get(&IpAddr::V6(nd.target)) == Some(&port);
        if nd.ty == ip::ND_NEIGHBOR_ADVERT {
            let how = Answer {
                solicited: nd.flags & ip::NA_SOLICITED != 0,
                override_: nd.flags & ip::NA_OVERRIDE != 0,
            };
            let target = IpAddr::V6(nd.target);
            let mut n = self.lock_neighbors();
            // Without a link-layer option, an advertisement can only
            // confirm the MAC the entry has.
            let Some(mac) = nd.lladdr.or_else(|| n.mac_of(port, &target)) else {
                return;
            };
            let released = n.confirm(port, target, mac, now, false, how);
            drop(n);
            self.release(t, port, mac, released, out);
            return;
        }
        if !ours {
            return;
        }
        let mac = t.config.ports[port].mac;
        let (to, to_mac, flags) = if src.is_unspecified() {
            // Duplicate address detection: answer everyone.
            (
                Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
                MacAddr([0x33, 0x33, 0, 0, 0, 1]),
                ip::NA_ROUTER | ip::NA_OVERRIDE,
            )
        } else {
            let their = nd.lladdr.unwrap_or_else(|| eth.src());
            // A solicitation names its sender's MAC, but proves nothing
            // about reachability (RFC 4861 7.2.3): the entry starts stale.
            let how = Answer {
                solicited: false,
                override_: true,
            };
            let released =
                self.lock_neighbors()
                    .confirm(port, IpAddr::V6(src), their, now, true, how);
            self.release(t, port, their, released, out);
            (
                src,
                their,
                ip::NA_ROUTER | ip::NA_SOLICITED | ip::NA_OVERRIDE,
            )
        };
        let body = ip::nd_body(ip::ND_NEIGHBOR_ADVERT, nd.target, mac);
        let m = ip::icmpv6(
            nd.target,
            to,
            ip::ND_NEIGHBOR_ADVERT,
            0,
            [flags, 0, 0, 0],
            &body,
        );
        let mut f = Vec::with_capacity(ETH_HEADER_LEN + 40 + m.len());
        ip::write_ethernet(&mut f, to_mac, mac, EtherType::IPV6);
        ip::push_ipv6(&mut f, nd.target, to, ip::PROTO_ICMPV6, 255, &m);
        out.push(RouterTx {
            port,
            frame: f,
            hdr: VirtioNetHdr::default(),
        });
    }

    /// A packet addressed to the router itself: echo is answered, UDP gets
    /// "port unreachable", TCP a reset; nothing else is served.
    #[allow(clippy::too_many_arguments)]
    fn local(
        &self,
        t: &RouterTables,
        port: usize,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        body: &[u8],
        packet: &[u8],
        fragment: bool,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        if fragment || src.is_unspecified() {
            // No reassembly: a fragmented packet to the router is not served.
            self.counters.drop(RouterDrop::LocalUnsupported);
            return;
        }
        match (src, dst, proto) {
            (IpAddr::V4(s), IpAddr::V4(d), ip::PROTO_ICMP)
                if body.first() == Some(&8) && body.len() >= 8 =>
            {
                let m = ip::icmpv4(0, 0, [body[4], body[5], body[6], body[7]], &body[8..]);
                self.originate(
                    t,
                    IpAddr::V4(d),
                    IpAddr::V4(s),
                    ip::PROTO_ICMP,
                    &m,
                    now,
                    out,
                );
            }
            (IpAddr::V6(s), IpAddr::V6(d), ip::PROTO_ICMPV6)
                if body.first() == Some(&128) && body.len() >= 8 =>
            {
                let m = ip::icmpv6(
                    d,
                    s,
                    129,
                    0,
                    [body[4], body[5], body[6], body[7]],
                    &body[8..],
                );
                self.originate(
                    t,
                    IpAddr::V6(d),
                    IpAddr::V6(s),
                    ip::PROTO_ICMPV6,
                    &m,
                    now,
                    out,
                );
            }
            (_, _, ip::PROTO_UDP) => {
                self.icmp_error(t, port, packet, IcmpError::PortUnreachable, now, out)
            }
            (_, _, ip::PROTO_TCP) => {
                if let Some(rst) = ip::tcp_reset_for(dst, src, body) {
                    self.originate(t, dst, src, ip::PROTO_TCP, &rst, now, out);
                }
            }
            _ => self.counters.drop(RouterDrop::LocalUnsupported),
        }
    }

    /// Sends an ICMP error about `packet` (from its IP header on) back to
    /// its source, as RFC 1812 4.3.2.7 and RFC 4443 2.4 allow.
    fn icmp_error(
        &self,
        t: &RouterTables,
        ingress: usize,
        packet: &[u8],
        kind: IcmpError,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some((src, quote_max, about_error)) = error_context(packet) else {
            return;
        };
        if about_error {
            return;
        }
        if !self.take_token(now) {
            self.counters
                .icmp_rate_limited
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(from) = t.source_for(ingress, &src) else {
            return;
        };
        let quote = &packet[..packet.len().min(quote_max)];
        self.counters.icmp_errors.fetch_add(1, Ordering::Relaxed);
        match (from, src) {
            (IpAddr::V4(f), IpAddr::V4(_)) => {
                let (ty, code, rest) = kind.v4();
                let m = ip::icmpv4(ty, code, rest, quote);
                self.originate(t, IpAddr::V4(f), src, ip::PROTO_ICMP, &m, now, out);
            }
            (IpAddr::V6(f), IpAddr::V6(s)) => {
                let (ty, code, rest) = kind.v6();
                let m = ip::icmpv6(f, s, ty, code, rest, quote);
                self.originate(t, from, src, ip::PROTO_ICMPV6, &m, now, out);
            }
            _ => {}
        }
    }

    fn take_token(&self, now: u64) -> bool {
        let mut l = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
        let refill = now.saturating_sub(l.at_ms) * ICMP_RATE;
        l.tokens = (l.tokens + refill).min(ICMP_BURST * 1000);
        l.at_ms = now;
        if l.tokens >= 1000 {
            l.tokens -= 1000;
            true
        } else {
            false
        }
    }

    /// A packet of the router's own, routed like any other.
    #[allow(clippy::too_many_arguments)]
    fn originate(
        &self,
        t: &RouterTables,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        payload: &[u8],
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some((_, hop)) = t.lookup(&dst) else {
            self.counters.drop(RouterDrop::NoRoute);
            return;
        };
        let mut frame = vec![0u8; ETH_HEADER_LEN];
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let id = self.ident.fetch_add(1, Ordering::Relaxed);
                ip::push_ipv4(&mut frame, s, d, proto, DEFAULT_TTL, id, payload);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ip::push_ipv6(&mut frame, s, d, proto, DEFAULT_TTL, payload)
            }
            _ => return,
        }
        self.send(
            t,
            hop.port,
            hop.via.unwrap_or(dst),
            frame,
            VirtioNetHdr::default(),
            None,
            now,
            out,
        );
    }

    /// Fills in the Ethernet header for next hop `next` on `port` and sends,
    /// or queues the frame and solicits the next hop's MAC.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        t: &RouterTables,
        port: usize,
        next: IpAddr,
        mut frame: Vec<u8>,
        hdr: VirtioNetHdr,
        ingress: Option<usize>,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let mac = t.config.ports[port].mac;
        let ethertype = if next.is_ipv4() {
            EtherType::IPV4
        } else {
            EtherType::IPV6
        };
        frame[6..12].copy_from_slice(&mac.0);
        frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
        let mut pending = None;
        let r = self.lock_neighbors().resolve(port, next, now, || {
            let q = Queued {
                frame: std::mem::take(&mut frame),
                hdr,
                ingress,
            };
            pending = Some(());
            q
        });
        match r {
            Resolved::Known { mac: to, probe } => {
                frame[..6].copy_from_slice(&to.0);
                out.push(RouterTx { port, frame, hdr });
                if probe {
                    self.solicit(t, port, next, Some(to), out);
                }
            }
            Resolved::Waiting { solicit } => {
                debug_assert!(pending.is_some());
                if solicit {
                    self.solicit(t, port, next, None, out);
                }
            }
            Resolved::Dropped => self.counters.drop(RouterDrop::NeighborFull),
        }
    }

    /// An ARP request or neighbor solicitation for `ip` on `port`:
    /// broadcast (multicast) to resolve, unicast to `known` to probe.
    fn solicit(
        &self,
        t: &RouterTables,
        port: usize,
        ip: IpAddr,
        known: Option<MacAddr>,
        out: &mut Vec<RouterTx>,
    ) {
        let mac = t.config.ports[port].mac;
        let Some(from) = t.source_for(port, &ip) else {
            return;
        };
        let mut f = Vec::with_capacity(86);
        match (from, ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ip::write_ethernet(
                    &mut f,
                    known.unwrap_or(MacAddr::BROADCAST),
                    mac,
                    EtherType::ARP,
                );
                f.extend_from_slice(&ip::arp(1, mac, s, MacAddr::ZERO, d));
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let to = if known.is_some() {
                    d
                } else {
                    ip::solicited_node(d)
                };
                let to_mac = known.unwrap_or_else(|| ip::ipv6_multicast_mac(to));
                let body = ip::nd_body(ip::ND_NEIGHBOR_SOLICIT, d, mac);
                let m = ip::icmpv6(s, to, ip::ND_NEIGHBOR_SOLICIT, 0, [0; 4], &body);
                ip::write_ethernet(&mut f, to_mac, mac, EtherType::IPV6);
                ip::push_ipv6(&mut f, s, to, ip::PROTO_ICMPV6, 255, &m);
            }
            _ => return,
        }
        out.push(RouterTx {
            port,
            frame: f,
            hdr: VirtioNetHdr::default(),
        });
    }

    /// Packets that waited for `mac` go out.
    fn release(
        &self,
        _t: &RouterTables,
        port: usize,
        mac: MacAddr,
        released: Vec<Queued>,
        out: &mut Vec<RouterTx>,
    ) {
        for mut q in released {
            if q.frame.len() >= ETH_HEADER_LEN {
                q.frame[..6].copy_from_slice(&mac.0);
                out.push(RouterTx {
                    port,
                    frame: q.frame,
                    hdr: q.hdr,
                });
            }
        }
    }

    /// Once a second: solicitations again, "host unreachable" for packets
    /// whose next hop never answered.
    pub fn tick(&self, now: u64, out: &mut Vec<RouterTx>) {
        let t = self.tables.load();
        let due = self.lock_neighbors().tick(now);
        for (port, ip) in due.solicit {
            if port < t.config.ports.len() {
                self.solicit(&t, port, ip, None, out);
            }
        }
        for (_, _, queued) in due.failed {
            for q in queued {
                self.counters.drop(RouterDrop::Unresolved);
                if let (Some(ingress), Some(packet)) = (q.ingress, q.frame.get(ETH_HEADER_LEN..)) {
                    self.icmp_error(&t, ingress, packet, IcmpError::HostUnreachable, now, out);
                }
            }
        }
    }
}

/// The source of `packet`, how much of it an error may quote, and whether
/// it must not be answered with an error (it is one, a later fragment, or
/// from an address no error may go to).
fn error_context(packet: &[u8]) -> Option<(IpAddr, usize, bool)> {
    match packet.first()? >> 4 {
        4 => {
            let v = Ipv4View::parse(packet).ok()?;
            let src = v.src();
            let bad_src = src.is_unspecified()
                || src.is_multicast()
                || src.is_broadcast()
                || src.is_loopback();
            let dst = v.dst();
            let is_error = v.protocol() == ip::PROTO_ICMP
                && v.fragment_offset() == 0
                && !matches!(
                    v.payload().first(),
                    Some(0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) | None
                );
            let skip = bad_src
                || is_error
                || v.fragment_offset() != 0
                || dst.is_multicast()
                || dst.is_broadcast();
            // The quote fits in 576 bytes (RFC 1812 4.3.2.3).
            Some((IpAddr::V4(src), 576 - 28, skip))
        }
        6 => {
            let v = Ipv6View::parse(packet).ok()?;
            let src = v.src();
            let is_error = matches!(v.upper(), Some((ip::PROTO_ICMPV6, b)) if b.first().is_some_and(|t| *t < 128));
            let skip =
                src.is_unspecified() || src.is_multicast() || is_error || v.dst().is_multicast();
            // The error fits in the IPv6 minimum MTU (RFC 4443 2.4(c)).
            Some((IpAddr::V6(src), 1280 - 48, skip))
        }
        _ => None,
    }
}

/// The largest IP packet this one puts on the wire: itself, or for a GSO
/// super-frame, its headers plus one segment.
fn wire_size(packet: &[u8], l4: usize, proto: u8, hdr: &VirtioNetHdr) -> usize {
    if !hdr.is_gso() || hdr.gso_size == 0 {
        return packet.len();
    }
    let l4_len = match proto {
        ip::PROTO_TCP => packet.get(l4 + 12).map_or(20, |o| (o >> 4) as usize * 4),
        _ => 8,
    };
    (l4 + l4_len + hdr.gso_size as usize).min(packet.len())
}
