//! What the router says itself: answers to packets addressed to it
//! (echo, port unreachable, TCP reset), ICMP and ICMPv6 errors about what
//! it cannot forward (RFC 1812 4.3.2, RFC 4443 2.4: rate limited, never
//! about an error, a group address or a later fragment), and the packets
//! a filter's reject sends back.

use super::{Router, RouterDrop, RouterTables, RouterTx};
use crate::filter::L3Packet;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use vepa_packet::ip::{self, Ipv4View, Ipv6View};
use vepa_packet::{VirtioNetHdr, ETH_HEADER_LEN};

/// ICMP errors per second the router sends at most, and the burst.
const ICMP_RATE: u64 = 1000;
pub(super) const ICMP_BURST: u64 = 100;
const DEFAULT_TTL: u8 = 64;

/// A token bucket for ICMP errors (in thousandths of a token).
#[derive(Debug)]
pub(super) struct Limiter {
    pub(super) tokens: u64,
    pub(super) at_ms: u64,
}

/// The ICMP message kinds the router originates, for both families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IcmpError {
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
    /// Sends an IP packet the router made whole (a reject's answer) towards its destination.
    pub(super) fn route_packet(
        &self,
        t: &RouterTables,
        packet: &[u8],
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
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
    pub(super) fn local(
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
    pub(super) fn icmp_error(
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

    pub(super) fn take_token(&self, now: u64) -> bool {
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
    pub(super) fn originate(
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
        self.route_frame(t, dst, frame, now, out);
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
