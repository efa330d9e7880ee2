//! A switch's own IGMP/MLD querier (`[switch.multicast] querier = true`):
//! where no multicast router queries, nobody refreshes memberships and
//! snooping could not filter. Once a second the link agent's tick asks
//! [`Engine::run_queriers`] to send what is due: in each VLAN of the
//! switch where no other querier is heard, an IGMPv3 and an MLDv2 general
//! query (which hosts of every version answer, without falling back to an
//! older version) every query interval, out of every port that carries the
//! VLAN (tagged as that port tags it). It first listens for one interval,
//! and keeps quiet while another querier is heard. The queries come from
//! this daemon's querier MAC, an IGMP source of 0.0.0.0 and a high IPv6
//! link-local address.
//!
//! Departure from the pipeline: like the link agent's LLDPDUs, the
//! queries are the switch's own control frames and go straight to the
//! port devices, not through the flow tables or ACLs.

use super::*;
use std::collections::{BTreeSet, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use vepa_packet::ip::{icmpv6, push_ipv4, push_ipv6};
use vepa_packet::MacAddr;

/// RFC 3376's query interval and query response interval.
pub const QUERY_INTERVAL_S: u64 = 125;
const MAX_RESPONSE_MS: u64 = 10_000;
/// The most VLANs one switch's querier serves (a trunk may list 4094).
const MAX_VLANS: usize = 64;

/// The query response interval for a query interval (`interval_ms`):
/// 10 s, or half a shorter interval.
fn max_response_ms(interval_ms: u64) -> u64 {
    MAX_RESPONSE_MS.min(interval_ms / 2)
}

/// The two general queries, untagged: IGMPv3 to 224.0.0.1 and MLDv2 to
/// ff02::1 (behind a hop-by-hop header with the router alert, which
/// RFC 2710 asks for and bridges check), asking for answers within
/// `max_resp_ms` and announcing `interval_s`.
pub fn queries(src: MacAddr, max_resp_ms: u64, interval_s: u64) -> [Vec<u8>; 2] {
    let qqic = interval_s.min(127) as u8;
    let all4 = Ipv4Addr::new(224, 0, 0, 1);
    let mut q4 = Vec::new();
    q4.extend_from_slice(&[0x01, 0, 0x5e, 0, 0, 1]);
    q4.extend_from_slice(&src.0);
    q4.extend_from_slice(&0x0800u16.to_be_bytes());
    // Robustness 2, the interval, no sources: 12 bytes, a v3 query.
    let igmp = vepa_packet::igmp::igmp_message(
        0x11,
        (max_resp_ms / 100).min(127) as u8,
        Ipv4Addr::UNSPECIFIED,
        &[2, qqic, 0, 0],
    );
    push_ipv4(&mut q4, Ipv4Addr::UNSPECIFIED, all4, 2, 1, 0, &igmp);
    // A high address: MLD's election picks the lowest, so a router wins.
    let m = src.0;
    let ll = Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        0xffff,
        0xffff,
        u16::from_be_bytes([m[2], m[3]]),
        u16::from_be_bytes([m[4], m[5]]),
    );
    let all6 = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut q6 = Vec::new();
    q6.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    q6.extend_from_slice(&src.0);
    q6.extend_from_slice(&0x86ddu16.to_be_bytes());
    let ms = (max_resp_ms.min(32_767) as u16).to_be_bytes();
    // The general query's unspecified group, robustness 2, the interval,
    // no sources: 28 bytes, a v2 query.
    let mut body = [0u8; 20];
    body[16] = 2;
    body[17] = qqic;
    let mld = icmpv6(ll, all6, 130, 0, [ms[0], ms[1], 0, 0], &body);
    let mut hbh = vec![58, 0, 5, 2, 0, 0, 1, 0];
    hbh.extend_from_slice(&mld);
    push_ipv6(&mut q6, ll, all6, 0, 1, &hbh);
    [q4, q6]
}

/// `frame` with an 802.1Q tag for `vid` after its addresses.
fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(frame.len() + 4);
    f.extend_from_slice(&frame[..12]);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

impl Engine {
    /// The source MAC of switch `switch`'s queries: this daemon
    /// instance's own (two hosts with a switch of the same name must not
    /// take each other's queries for their own reflected).
    pub(super) fn querier_mac(&self, switch: &str) -> MacAddr {
        let mut h: u32 = 0x811c_9dc5;
        for b in self
            .owner
            .instance
            .bytes()
            .chain(*b"/querier/")
            .chain(switch.bytes())
        {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        MacAddr::local_from_seed(h)
    }

    /// Sends the queries due on every switch whose querier is on.
    pub fn run_queriers(&mut self) {
        let now = self.now_ms();
        let live: HashSet<String> = self
            .desired
            .switches
            .iter()
            .filter(|s| s.multicast.as_ref().is_some_and(|m| m.querier))
            .map(|s| s.name.clone())
            .collect();
        self.queried.retain(|(sw, _), _| live.contains(sw));
        // (switch, VLAN) that queried now, or that listen from now on.
        let mut reset = Vec::new();
        for s in &self.desired.switches {
            let Some(m) = s.multicast.as_ref().filter(|m| m.snooping && m.querier) else {
                continue;
            };
            let Some(core) = self.cores.get(&s.name) else {
                continue;
            };
            let interval_s = m.query_interval_secs.unwrap_or(QUERY_INTERVAL_S);
            let interval = interval_s * 1000;
            let max_resp = max_response_ms(interval);
            // The VLANs the switch's ports carry, as the file names them.
            let mut vlans = BTreeSet::new();
            for p in s.uplink.iter().chain(&s.ports) {
                match &p.trunk {
                    Some(t) => {
                        vlans.extend(t.iter().copied());
                        vlans.extend(p.native_vlan);
                    }
                    None => {
                        vlans.insert(p.vlan.unwrap_or(1));
                    }
                }
            }
            let fw = core.snapshot();
            let frames = queries(self.querier_mac(&s.name), max_resp, interval_s);
            for vid in vlans.into_iter().take(MAX_VLANS) {
                let key = (s.name.clone(), vid);
                // Quiet while another querier is heard and for an interval
                // after; at first, listen for an interval (a router may be
                // there).
                if core.mdb().other_querier_present(vid, now) || !self.queried.contains_key(&key) {
                    reset.push(key);
                    continue;
                }
                if self.queried.get(&key).is_some_and(|t| now < t + interval) {
                    continue;
                }
                for pc in &fw.ports {
                    let Some(tag) = vepa_dataplane::egress_tag(&pc.vlan, vid) else {
                        continue;
                    };
                    let Some(dev) = self.port_device(&s.name, &pc.name) else {
                        continue;
                    };
                    for f in &frames {
                        let f = match tag {
                            Some(t) => tagged(f, t),
                            None => f.clone(),
                        };
                        let _ = dev.send(&vepa_packet::VirtioNetHdr::default(), &f);
                    }
                }
                core.mdb().own_query(vid, now, max_resp);
                tracing::debug!(switch = %s.name, vlan = vid, "sent IGMP and MLD general queries");
                reset.push(key);
            }
        }
        for key in reset {
            self.queried.insert(key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_read_back_as_general_queries() {
        let [q4, q6] = queries(MacAddr([2, 0, 0, 0, 0, 7]), 10_000, 125);
        let ip4 = &q4[14..];
        assert_eq!(ip4.len(), 20 + 12, "an IGMPv3 query");
        let igmp = vepa_packet::igmp::parse_igmp(&ip4[20..]);
        assert!(
            matches!(
                igmp,
                Ok(vepa_packet::igmp::GroupMessage::Query {
                    max_resp_ms: 10_000,
                    ..
                })
            ),
            "{igmp:?}"
        );
        assert_eq!(q6.len(), 14 + 40 + 8 + 28, "an MLDv2 query");
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&q6[22..38]).unwrap());
        assert!(src.to_string().starts_with("fe80::ffff:ffff:"), "{src}");
        let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        let mld = vepa_packet::igmp::parse_mld(src, dst, &q6[14 + 40 + 8..]);
        assert!(
            matches!(
                mld,
                Ok(vepa_packet::igmp::GroupMessage::Query {
                    max_resp_ms: 10_000,
                    ..
                })
            ),
            "{mld:?}"
        );
        assert_eq!(max_response_ms(5_000), 2_500);
        let t = tagged(&q4, 10);
        assert_eq!(&t[12..16], &[0x81, 0, 0, 10]);
    }
}
