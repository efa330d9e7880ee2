//! Anti-spoofing on a VM port: the MACs and IP addresses it may send
//! from, and what a VM must never send (router advertisements, DHCP
//! server replies).
//!
//! Allowed besides the bound addresses: `0.0.0.0` for DHCP (client to
//! server), `::` for ICMPv6 (duplicate address detection, MLD), and the
//! EUI-64 link-local address of each bound MAC (a VM that makes its
//! link-local address another way, e.g. stable privacy, lists it in its
//! allowed addresses). ARP and neighbor advertisements must name a bound
//! address and MAC, so a VM cannot claim another's address in the
//! neighbors' caches. Only ARP, IPv4 and IPv6 leave a guarded port, and
//! only with headers that can be read to the end.

use crate::counters::DropReason;
use crate::l3::Prefix;
use crate::parsed::Parsed;
use std::net::{IpAddr, Ipv6Addr};
use vepa_packet::ip::{self, NdMessage};
use vepa_packet::{EtherType, MacAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGuard {
    pub macs: Vec<MacAddr>,
    /// Addresses (or whole prefixes) the port may use as a source.
    pub ips: Vec<Prefix>,
}

impl PortGuard {
    fn mac_ok(&self, m: MacAddr) -> bool {
        self.macs.contains(&m)
    }

    fn ip_ok(&self, a: &IpAddr) -> bool {
        self.ips.iter().any(|p| p.contains(a))
    }

    /// A bound address, or the EUI-64 link-local address of a bound MAC.
    fn ip6_ok(&self, a: Ipv6Addr) -> bool {
        self.ip_ok(&IpAddr::V6(a)) || self.macs.iter().any(|m| ip::link_local(*m) == a)
    }

    /// Whether the port may send `frame`; the reason to count if not.
    pub fn check(&self, eth: &Parsed<'_>) -> Result<(), DropReason> {
        if !self.mac_ok(eth.src()) {
            return Err(DropReason::SpoofedMac);
        }
        match eth.ethertype() {
            EtherType::ARP => {
                let a = eth.arp().ok_or(DropReason::SpoofedArp)?;
                let spa = a.sender_ip();
                if !self.mac_ok(a.sender_mac())
                    || (!spa.is_unspecified() && !self.ip_ok(&spa.into()))
                {
                    return Err(DropReason::SpoofedArp);
                }
                Ok(())
            }
            EtherType::IPV4 => {
                let v = eth.ipv4().ok_or(DropReason::Malformed)?;
                let udp_ports = (v.protocol() == ip::PROTO_UDP && v.fragment_offset() == 0)
                    .then(|| {
                        v.payload().get(..4).map(|p| {
                            (
                                u16::from_be_bytes([p[0], p[1]]),
                                u16::from_be_bytes([p[2], p[3]]),
                            )
                        })
                    })
                    .flatten();
                if udp_ports.is_some_and(|(s, _)| s == 67) {
                    return Err(DropReason::RogueDhcp);
                }
                let src = v.src();
                if src.is_unspecified() {
                    return if udp_ports == Some((68, 67)) {
                        Ok(())
                    } else {
                        Err(DropReason::SpoofedIp)
                    };
                }
                if !self.ip_ok(&src.into()) {
                    return Err(DropReason::SpoofedIp);
                }
                Ok(())
            }
            EtherType::IPV6 => {
                let v = eth.ipv6().ok_or(DropReason::Malformed)?;
                if v.is_opaque() {
                    // What cannot be read cannot be vetted.
                    return Err(DropReason::Malformed);
                }
                let src = v.src();
                match v.upper() {
                    Some((ip::PROTO_ICMPV6, m)) => match m.first() {
                        Some(&(ip::ND_ROUTER_ADVERT | ip::ND_REDIRECT)) => {
                            return Err(DropReason::RogueRouterAdvert)
                        }
                        Some(&ip::ND_NEIGHBOR_ADVERT) | Some(&ip::ND_NEIGHBOR_SOLICIT) => {
                            if let Some(nd) = NdMessage::parse(m) {
                                if nd.lladdr.is_some_and(|l| !self.mac_ok(l)) {
                                    return Err(DropReason::SpoofedArp);
                                }
                                if nd.ty == ip::ND_NEIGHBOR_ADVERT && !self.ip6_ok(nd.target) {
                                    return Err(DropReason::SpoofedArp);
                                }
                            }
                        }
                        _ => {}
                    },
                    Some((ip::PROTO_UDP, u)) if u.get(..2) == Some(&547u16.to_be_bytes()[..]) => {
                        return Err(DropReason::RogueDhcp)
                    }
                    _ => {}
                }
                if src.is_unspecified() {
                    return if matches!(v.upper(), Some((ip::PROTO_ICMPV6, _))) {
                        Ok(())
                    } else {
                        Err(DropReason::SpoofedIp)
                    };
                }
                if !self.ip6_ok(src) {
                    return Err(DropReason::SpoofedIp);
                }
                Ok(())
            }
            // Nothing else (no inner 802.1Q tag, no other protocol) leaves a guarded port.
            _ => Err(DropReason::ForbiddenEthertype),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MINE: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const OTHER: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn guard() -> PortGuard {
        PortGuard {
            macs: vec![MINE],
            ips: vec![
                "10.0.0.1/32".parse().unwrap(),
                "fd00::1/128".parse().unwrap(),
            ],
        }
    }

    fn v4(mac: MacAddr, src: &str, proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, MacAddr::BROADCAST, mac, EtherType::IPV4);
        ip::push_ipv4(
            &mut f,
            src.parse().unwrap(),
            Ipv4Addr::new(10, 0, 0, 9),
            proto,
            64,
            1,
            l4,
        );
        f
    }

    fn arp(sha: MacAddr, spa: &str) -> Vec<u8> {
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, MacAddr::BROADCAST, sha, EtherType::ARP);
        f.extend_from_slice(&ip::arp(
            2,
            sha,
            spa.parse().unwrap(),
            MacAddr::ZERO,
            Ipv4Addr::new(10, 0, 0, 9),
        ));
        f
    }

    fn v6(src: &str, ty: u8, body: &[u8]) -> Vec<u8> {
        let s: Ipv6Addr = src.parse().unwrap();
        let d: Ipv6Addr = "ff02::1".parse().unwrap();
        let m = ip::icmpv6(s, d, ty, 0, [0; 4], body);
        let mut f = Vec::new();
        ip::write_ethernet(
            &mut f,
            MacAddr([0x33, 0x33, 0, 0, 0, 1]),
            MINE,
            EtherType::IPV6,
        );
        ip::push_ipv6(&mut f, s, d, ip::PROTO_ICMPV6, 255, &m);
        f
    }

    proptest::proptest! {
        /// Any frame, steered towards ARP/IPv4/IPv6, gets a verdict from the
        /// guard and the lists (and a reject answer when one applies), never a panic.
        #[test]
        fn any_frame_gets_a_verdict(mut f in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160), kind in 0usize..3) {
            if f.len() >= 15 {
                f[6..12].copy_from_slice(&MINE.0);
                f[12..14].copy_from_slice(&[0x0806u16, 0x0800, 0x86dd][kind].to_be_bytes());
                f[14] = (f[14] & 0x0f) | [0x00, 0x40, 0x60][kind];
            }
            let Some(f) = Parsed::new(&f) else { return Ok(()) };
            let _ = guard().check(&f);
            let rules = ["reject tcp", "reject udp", "allow state established", "drop icmp6"];
            let acl = super::super::Acl::new("p", rules.iter().map(|r| r.parse().unwrap()).collect(), super::super::AclAction::Reject, true);
            let pf = super::super::PortFilter {
                guard: Some(guard()),
                acl_in: Some(std::sync::Arc::new(acl)),
                acl_out: None,
                zone: std::sync::Arc::new(super::super::Zone::new(4)),
                stateful: true,
            };
            let _ = pf.ingress(&f, 0);
            let _ = pf.egress(&f, 0);
        }
    }

    #[test]
    fn spoofing_is_refused_with_its_reason() {
        let g = guard();
        let dhcp_client = [0, 68, 0, 67, 0, 8, 0, 0];
        let dhcp_server = [0, 67, 0, 68, 0, 8, 0, 0];
        let na_other = ip::nd_body(ip::ND_NEIGHBOR_ADVERT, "fd00::2".parse().unwrap(), MINE);
        let na_mine = ip::nd_body(ip::ND_NEIGHBOR_ADVERT, "fd00::1".parse().unwrap(), MINE);
        let ll = ip::link_local(MINE).to_string();
        let na_ll_other = ip::nd_body(ip::ND_NEIGHBOR_ADVERT, ip::link_local(OTHER), MINE);
        let mut tagged = v4(MINE, "10.0.0.1", ip::PROTO_UDP, &[0; 8]);
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x05]);
        let table: Vec<(Vec<u8>, Result<(), DropReason>, &str)> = vec![
            (
                v4(MINE, "10.0.0.1", ip::PROTO_UDP, &[0; 8]),
                Ok(()),
                "its own",
            ),
            (
                v4(OTHER, "10.0.0.1", ip::PROTO_UDP, &[0; 8]),
                Err(DropReason::SpoofedMac),
                "another MAC",
            ),
            (
                v4(MINE, "10.0.0.7", ip::PROTO_UDP, &[0; 8]),
                Err(DropReason::SpoofedIp),
                "another IP",
            ),
            (
                v4(MINE, "0.0.0.0", ip::PROTO_UDP, &dhcp_client),
                Ok(()),
                "DHCP discover",
            ),
            (
                v4(MINE, "0.0.0.0", ip::PROTO_UDP, &[0; 8]),
                Err(DropReason::SpoofedIp),
                "0.0.0.0 otherwise",
            ),
            (
                v4(MINE, "10.0.0.1", ip::PROTO_UDP, &dhcp_server),
                Err(DropReason::RogueDhcp),
                "a DHCP server",
            ),
            (arp(MINE, "10.0.0.1"), Ok(()), "its own ARP"),
            (
                arp(MINE, "10.0.0.5"),
                Err(DropReason::SpoofedArp),
                "ARP for another's address",
            ),
            (arp(MINE, "0.0.0.0"), Ok(()), "ARP probe"),
            (
                v6("fe80::1", ip::ND_ROUTER_ADVERT, &[0; 8]),
                Err(DropReason::RogueRouterAdvert),
                "router advertisement",
            ),
            (
                v6(&ll, ip::ND_NEIGHBOR_ADVERT, &na_other),
                Err(DropReason::SpoofedArp),
                "NA for another's address",
            ),
            (
                v6(&ll, ip::ND_NEIGHBOR_ADVERT, &na_ll_other),
                Err(DropReason::SpoofedArp),
                "NA for another's link-local address",
            ),
            (
                v6("fe80::99", 128, &[0; 4]),
                Err(DropReason::SpoofedIp),
                "another link-local source",
            ),
            (v6(&ll, 128, &[0; 4]), Ok(()), "its own link-local source"),
            (
                tagged,
                Err(DropReason::ForbiddenEthertype),
                "a frame hiding an inner tag",
            ),
            (
                v6("fd00::1", ip::ND_NEIGHBOR_ADVERT, &na_mine),
                Ok(()),
                "NA for its own",
            ),
            (
                v6("fd00::9", 128, &[0; 4]),
                Err(DropReason::SpoofedIp),
                "another IPv6 source",
            ),
            (v6("::", ip::ND_NEIGHBOR_SOLICIT, &na_mine), Ok(()), "DAD"),
        ];
        for (f, want, why) in table {
            let p = Parsed::new(&f).expect("ethernet");
            assert_eq!(g.check(&p), want, "{why}");
        }
    }
}
