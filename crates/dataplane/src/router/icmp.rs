//! The messages the router makes itself: echo replies, ICMP and ICMPv6
//! errors about what it cannot forward (RFC 1812 4.3.2, RFC 4443 2.4:
//! rate limited, never about an error, a group address or a later
//! fragment), and the IP header of a packet of its own. The router
//! decides when to send them and routes them.

use std::net::IpAddr;
use vepa_packet::ip::{self, Ipv4View, Ipv6View};

/// ICMP errors per second the router sends at most, and the burst.
const ICMP_RATE: u64 = 1000;
const ICMP_BURST: u64 = 100;
const DEFAULT_TTL: u8 = 64;

/// A token bucket for ICMP errors (in thousandths of a token).
#[derive(Debug, Clone)]
pub(super) struct Limiter {
    tokens: u64,
    at_ms: u64,
}

impl Limiter {
    /// A full bucket.
    pub(super) fn new() -> Limiter {
        Limiter {
            tokens: ICMP_BURST * 1000,
            at_ms: 0,
        }
    }

    /// Takes one error's token at `now` (ms) if there is one.
    pub(super) fn take(&mut self, now: u64) -> bool {
        let refill = now.saturating_sub(self.at_ms) * ICMP_RATE;
        self.tokens = (self.tokens + refill).min(ICMP_BURST * 1000);
        self.at_ms = now;
        if self.tokens >= 1000 {
            self.tokens -= 1000;
            true
        } else {
            false
        }
    }
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

/// The answer to an echo request `body` (its ICMP or ICMPv6 message)
/// from `src` to `dst`: the reply's protocol and message, or None when it
/// is not an echo request.
pub(super) fn echo_reply(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    body: &[u8],
) -> Option<(u8, Vec<u8>)> {
    if body.len() < 8 {
        return None;
    }
    let rest = [body[4], body[5], body[6], body[7]];
    match (src, dst, proto) {
        (IpAddr::V4(_), IpAddr::V4(_), ip::PROTO_ICMP) if body[0] == 8 => {
            Some((ip::PROTO_ICMP, ip::icmpv4(0, 0, rest, &body[8..])))
        }
        (IpAddr::V6(s), IpAddr::V6(d), ip::PROTO_ICMPV6) if body[0] == 128 => {
            Some((ip::PROTO_ICMPV6, ip::icmpv6(d, s, 129, 0, rest, &body[8..])))
        }
        _ => None,
    }
}

/// The error message of `kind` from `from` to `to`, quoting `quote`: its
/// protocol and message, or None when the families differ.
pub(super) fn error_message(
    kind: IcmpError,
    from: IpAddr,
    to: IpAddr,
    quote: &[u8],
) -> Option<(u8, Vec<u8>)> {
    match (from, to) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let (ty, code, rest) = kind.v4();
            Some((ip::PROTO_ICMP, ip::icmpv4(ty, code, rest, quote)))
        }
        (IpAddr::V6(f), IpAddr::V6(t)) => {
            let (ty, code, rest) = kind.v6();
            Some((ip::PROTO_ICMPV6, ip::icmpv6(f, t, ty, code, rest, quote)))
        }
        _ => None,
    }
}

/// Appends the IP header of a packet of the router's own and `payload`
/// to `frame`; false when the addresses' families differ.
pub(super) fn push_packet(
    frame: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ident: u16,
    payload: &[u8],
) -> bool {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ip::push_ipv4(frame, s, d, proto, DEFAULT_TTL, ident, payload)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => ip::push_ipv6(frame, s, d, proto, DEFAULT_TTL, payload),
        _ => return false,
    }
    true
}

/// The source of `packet`, how much of it an error may quote, and whether
/// it must not be answered with an error (it is one, a later fragment, or
/// from an address no error may go to).
pub(super) fn error_context(packet: &[u8]) -> Option<(IpAddr, usize, bool)> {
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
