//! The router's link side: ARP and neighbor discovery for its own
//! addresses, and the next hop's MAC for what it sends (solicited and
//! waited for when unknown).

use super::neighbor::{Answer, Queued, Resolved};
use super::{Router, RouterDrop, RouterTables, RouterTx};
use crate::parsed::Parsed;
use std::net::{IpAddr, Ipv6Addr};
use vepa_packet::ip::{self, Ipv6View, NdMessage};
use vepa_packet::{ArpOperation, EtherType, MacAddr, VirtioNetHdr, ETH_HEADER_LEN};

/// Whether `ip` is a neighbor `port` can have: inside one of the port's
/// subnets, or (IPv6) link-local. Others are refused an entry, so a port
/// cannot fill the table with addresses from anywhere.
fn on_link(t: &RouterTables, port: usize, ip: IpAddr) -> bool {
    let link_local = matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
    link_local
        || t.config
            .ports
            .get(port)
            .is_some_and(|p| p.addresses.iter().any(|a| a.subnet().contains(&ip)))
}

impl Router {
    pub(super) fn arp(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &Parsed<'_>,
        now: u64,
        out: &mut Vec<RouterTx>,
    ) {
        let Some(a) = eth.arp() else {
            self.counters.drop(RouterDrop::BadHeader);
            return;
        };
        let (spa, tpa, sha) = (a.sender_ip(), a.target_ip(), a.sender_mac());
        let ours = t.own.get(&IpAddr::V4(tpa)) == Some(&port);
        if !spa.is_unspecified() && !sha.is_multicast() {
            // A request names its sender but proves no reachability (the
            // entry starts stale, as the kernel's does); only a sender on
            // the port's own subnets gets an entry made.
            let how = if a.operation() == ArpOperation::Request {
                Answer {
                    solicited: false,
                    override_: true,
                }
            } else {
                Answer::FULL
            };
            let create = ours && on_link(t, port, IpAddr::V4(spa));
            let released =
                self.lock_neighbors()
                    .confirm(port, IpAddr::V4(spa), sha, now, create, how);
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

    /// Neighbor solicitations for the router's addresses, and advertisements.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn nd(
        &self,
        t: &RouterTables,
        port: usize,
        eth: &Parsed<'_>,
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
            let create = on_link(t, port, IpAddr::V6(src));
            let released =
                self.lock_neighbors()
                    .confirm(port, IpAddr::V6(src), their, now, create, how);
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

    /// Fills in the Ethernet header for next hop `next` on `port` and sends,
    /// or queues the frame and solicits the next hop's MAC.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
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
        if let Some(peer) = t.config.ports[port].peer_mac {
            // Point to point: whatever the next hop, it is the far end.
            frame[..6].copy_from_slice(&peer.0);
            out.push(RouterTx { port, frame, hdr });
            return;
        }
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
    pub(super) fn solicit(
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
    pub(super) fn release(
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
}
