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
//! - [`neighbor`]: the ARP/ND neighbor table with waiting packets;
//! - `link`: ARP and neighbor discovery, next-hop resolution;
//! - `icmp`: what the router says itself (echo replies, errors, resets).

pub mod config;
mod icmp;
mod link;
pub mod neighbor;
#[cfg(test)]
mod tests;

pub use crate::l3::prefix;
pub use crate::l3::{Prefix, PrefixError, PrefixTable};
pub use config::{
    Hop, IfAddr, RouteConfig, RouterConfig, RouterError, RouterPortConfig, RouterTables,
};
pub use neighbor::{NeighborRow, NeighborState, Neighbors};

use crate::conntrack::Side;
use crate::filter::{Acl, AclVerdict, Zone};
use crate::l3::{reject_ip, L3Packet};
use crate::parsed::Parsed;
use arc_swap::{ArcSwap, ArcSwapOption};
use icmp::{IcmpError, Limiter};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use vepa_packet::checksum;
use vepa_packet::ip;
use vepa_packet::{EtherType, VirtioNetHdr, ETH_HEADER_LEN};

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

/// [`RouterCounters`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub forwarded: u64,
    pub delivered: u64,
    pub icmp_errors: u64,
    pub drops: [u64; RouterDrop::COUNT],
}

impl RouterCounters {
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            icmp_errors: self.icmp_errors.load(Ordering::Relaxed),
            drops: std::array::from_fn(|i| self.drops[i].load(Ordering::Relaxed)),
        }
    }

    fn drop(&self, r: RouterDrop) {
        self.drops[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, r: RouterDrop) -> u64 {
        self.drops[r as usize].load(Ordering::Relaxed)
    }
}

/// A packet the router is to pass on, as both families describe it.
struct Transit<'p, 'f> {
    /// From the IP header on.
    packet: &'p [u8],
    dst: IpAddr,
    /// TTL or hop limit as received.
    hops_left: u8,
    /// The transport protocol and its offset, when known (for GSO sizes).
    l4: Option<(u8, usize)>,
    /// The frame it came in, for the forward filter to judge.
    parsed: &'p Parsed<'f>,
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

impl Router {
    pub fn new(config: &RouterConfig) -> Result<Router, RouterError> {
        let t = config.build()?;
        Ok(Router {
            tables: ArcSwap::from_pointee(t),
            filter: ArcSwapOption::empty(),
            neighbors: Mutex::new(Neighbors::default()),
            limiter: Mutex::new(Limiter::new()),
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

    /// A router with the same tables and copies of its neighbors, filter
    /// and ICMP budget, counting from zero: what a trace runs, so nothing
    /// it does reaches this one.
    pub fn shadow(&self, copies: &mut crate::filter::Copies) -> Router {
        let filter = self.filter.load_full().map(|f| {
            Arc::new(RouterFilter {
                acl: copies.acl(&f.acl),
                zone: copies.zone(&f.zone),
            })
        });
        Router {
            tables: ArcSwap::new(self.tables.load_full()),
            filter: ArcSwapOption::new(filter),
            neighbors: Mutex::new(self.lock_neighbors().clone()),
            limiter: Mutex::new(
                self.limiter
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
            ),
            ident: AtomicU16::new(self.ident.load(Ordering::Relaxed)),
            counters: RouterCounters::default(),
        }
    }

    /// What this router just did with frame `eth` on port `port`, for a
    /// trace: its counters were `before`, and it sent `sent`.
    pub fn trace_hop(
        &self,
        port: usize,
        eth: &Parsed<'_>,
        before: &CounterSnapshot,
        sent: &[RouterTx],
    ) -> crate::trace::Hop {
        use crate::trace::{Hop, HopKind, Stage, Step};
        let t = self.tables.load();
        let now = self.counters.snapshot();
        let port_name = |i: usize| {
            t.config
                .ports
                .get(i)
                .map_or_else(|| format!("#{i}"), |p| p.name.clone())
        };
        let mut steps = vec![Step::new(Stage::Ingress, crate::trace::describe_frame(eth))];
        let dst = eth.l3().map(|p| p.dst);
        if now.forwarded > before.forwarded {
            if let Some(dst) = dst {
                let route = match t.lookup(&dst) {
                    Some((prefix, hop)) => match hop.via {
                        Some(gw) => {
                            format!("route {prefix} via {gw} out port {}", port_name(hop.port))
                        }
                        None => format!("route {prefix} on-link out port {}", port_name(hop.port)),
                    },
                    None => "no route".to_string(),
                };
                steps.push(Step::new(Stage::Router, route));
            }
            if let Some(ttl) = eth.ttl() {
                steps.push(Step::new(
                    Stage::Router,
                    format!("TTL {ttl} → {}", ttl.saturating_sub(1)),
                ));
            }
        }
        if now.delivered > before.delivered {
            steps.push(Step::new(
                Stage::Router,
                "addressed to the router itself: answered or taken in",
            ));
        }
        if now.icmp_errors > before.icmp_errors {
            steps.push(Step::new(
                Stage::Router,
                "answers the sender with an ICMP error",
            ));
        }
        for r in RouterDrop::ALL {
            if now.drops[r as usize] > before.drops[r as usize] {
                steps.push(Step::new(Stage::Drop, r.as_str()));
            }
        }
        for tx in sent {
            let what = match Parsed::new(&tx.frame) {
                Some(f) if f.ethertype() == EtherType::ARP => {
                    format!(
                        "port {}: an ARP packet ({} > {})",
                        port_name(tx.port),
                        f.src(),
                        f.dst()
                    )
                }
                Some(f) => format!("port {}: {} > {}", port_name(tx.port), f.src(), f.dst()),
                None => format!("port {}", port_name(tx.port)),
            };
            steps.push(Step::new(Stage::Output, what));
        }
        if sent.is_empty() && steps.len() == 1 {
            steps.push(Step::new(
                Stage::Drop,
                "ignored: not for this router's MAC, or a protocol it does not route",
            ));
        } else if sent.is_empty() && now.forwarded > before.forwarded {
            steps.push(Step::new(
                Stage::Router,
                "the next hop's MAC is not known yet: the packet waits for its answer",
            ));
        }
        Hop {
            kind: HopKind::Router,
            node: t.config.name.clone(),
            port: port_name(port),
            steps,
        }
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
        parsed: &Parsed<'_>,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) -> bool {
        let f = self.filter.load();
        let Some(f) = f.as_ref() else {
            return true;
        };
        let Some(p) = parsed.l3() else {
            return true;
        };
        match f.acl.evaluate(p, &f.zone, now, Side::Any) {
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
                if let Some(reply) = reject_ip(packet, p) {
                    self.route_packet(t, &reply, now, out);
                }
                false
            }
        }
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
        eth: &Parsed<'_>,
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let t = self.tables.load();
        let Some(pc) = t.config.ports.get(port) else {
            return;
        };
        let dst = eth.dst();
        if eth.vlan().is_some() || (dst != pc.mac && !dst.is_multicast()) {
            // Flooded unicast for someone else.
            return;
        }
        match eth.ethertype() {
            EtherType::ARP => self.arp(&t, port, eth, now, out),
            EtherType::IPV4 => self.ipv4(&t, port, eth, hdr, now, out),
            EtherType::IPV6 => self.ipv6(&t, port, eth, hdr, now, out),
            _ => {}
        }
    }

    fn ipv4(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &Parsed<'_>,
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some(ip4) = eth.ipv4() else {
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
            parsed: eth,
            may_fragment: !ip4.dont_fragment(),
        };
        self.forward(t, port, transit, hdr, eth.header_len(), now, out);
    }

    fn ipv6(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &Parsed<'_>,
        hdr: &VirtioNetHdr,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some(ip6) = eth.ipv6() else {
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
            parsed: eth,
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
        x: Transit<'_, '_>,
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
        if !self.permitted(t, x.packet, x.parsed, now, out) {
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

    /// Sends an IP packet the router made whole (a reject's answer) towards its destination.
    fn route_packet(&self, t: &RouterTables, packet: &[u8], now: u64, out: &mut Vec<RouterTx>) {
        let Some(dst) = L3Packet::from_ip(packet).map(|p| p.dst) else {
            return;
        };
        let mut frame = vec![0u8; ETH_HEADER_LEN];
        frame.extend_from_slice(packet);
        self.route_frame(t, dst, frame, now, out);
    }

    /// Routes a frame of the router's own (IP packet after a blank
    /// Ethernet header) to `dst`: the next hop's MAC is filled in by `send`.
    fn route_frame(
        &self,
        t: &RouterTables,
        dst: IpAddr,
        frame: Vec<u8>,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some((_, hop)) = t.lookup(&dst) else {
            self.counters.drop(RouterDrop::NoRoute);
            return;
        };
        let next = hop.via.unwrap_or(dst);
        self.send(
            t,
            hop.port,
            next,
            frame,
            VirtioNetHdr::default(),
            None,
            now,
            out,
        );
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
        if let Some((reply_proto, m)) = icmp::echo_reply(src, dst, proto, body) {
            self.originate(t, dst, src, reply_proto, &m, now, out);
            return;
        }
        match proto {
            ip::PROTO_UDP => self.icmp_error(t, port, packet, IcmpError::PortUnreachable, now, out),
            ip::PROTO_TCP => {
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
        let Some((src, quote_max, about_error)) = icmp::error_context(packet) else {
            return;
        };
        if about_error {
            return;
        }
        let token = self
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(now);
        if !token {
            self.counters
                .icmp_rate_limited
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(from) = t.source_for(ingress, &src) else {
            return;
        };
        let quote = &packet[..packet.len().min(quote_max)];
        if let Some((proto, m)) = icmp::error_message(kind, from, src, quote) {
            self.counters.icmp_errors.fetch_add(1, Ordering::Relaxed);
            self.originate(t, from, src, proto, &m, now, out);
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
        let mut frame = vec![0u8; ETH_HEADER_LEN];
        let ident = self.ident.fetch_add(1, Ordering::Relaxed);
        if icmp::push_packet(&mut frame, src, dst, proto, ident, payload) {
            self.route_frame(t, dst, frame, now, out);
        }
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
