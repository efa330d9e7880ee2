//! A switch's own IGMP/MLD querier (`[switch.multicast] querier = true`):
//! where no multicast router queries, nobody refreshes memberships and
//! snooping could not filter. Once a second the link agent's tick asks
//! [`Engine::run_queriers`] to send what is due: in each VLAN of the
//! switch where no other querier is heard, an IGMPv2 and an MLDv1 general
//! query every query interval, out of every port that carries the VLAN
//! (tagged as that port tags it). The queries come from the switch's
//! querier MAC, an IGMP source of 0.0.0.0 and an IPv6 link-local address
//! made from that MAC, so any real router wins the querier election.

use super::*;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use vepa_packet::ip::{icmpv6, push_ipv4, push_ipv6};
use vepa_packet::MacAddr;

/// RFC 3376's query interval and query response interval.
pub const QUERY_INTERVAL_S: u64 = 125;
const MAX_RESPONSE_MS: u64 = 10_000;

/// The two general queries, untagged: IGMPv2 to 224.0.0.1 and MLDv1 to
/// ff02::1 (behind a hop-by-hop header with the router alert, which
/// RFC 2710 asks for and bridges check).
pub fn queries(src: MacAddr) -> [Vec<u8>; 2] {
    let all4 = Ipv4Addr::new(224, 0, 0, 1);
    let mut q4 = Vec::new();
    q4.extend_from_slice(&[0x01, 0, 0x5e, 0, 0, 1]);
    q4.extend_from_slice(&src.0);
    q4.extend_from_slice(&0x0800u16.to_be_bytes());
    let igmp = vepa_packet::igmp::igmp_message(
        0x11,
        (MAX_RESPONSE_MS / 100) as u8,
        Ipv4Addr::UNSPECIFIED,
        &[],
    );
    push_ipv4(&mut q4, Ipv4Addr::UNSPECIFIED, all4, 2, 1, 0, &igmp);
    let m = src.0;
    let ll = Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 2,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ]);
    let all6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut q6 = Vec::new();
    q6.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    q6.extend_from_slice(&src.0);
    q6.extend_from_slice(&0x86ddu16.to_be_bytes());
    let ms = (MAX_RESPONSE_MS as u16).to_be_bytes();
    let mld = icmpv6(ll, all6, 130, 0, [ms[0], ms[1], 0, 0], &[0; 16]);
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
    /// Sends the queries due on every switch whose querier is on.
    pub fn run_queriers(&mut self) {
        let now = self.now_ms();
        let mut sent = Vec::new();
        for s in &self.desired.switches {
            let Some(m) = s.multicast.as_ref().filter(|m| m.snooping && m.querier) else {
                continue;
            };
            let Some(core) = self.cores.get(&s.name) else {
                continue;
            };
            let interval = m.query_interval_secs.unwrap_or(QUERY_INTERVAL_S) * 1000;
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
            let src = vepa_api::topology::querier_mac(&s.name);
            let frames = queries(src);
            for vid in vlans {
                if core.mdb().other_querier_present(vid, now) {
                    continue;
                }
                let key = (s.name.clone(), vid);
                if self.queried.get(&key).is_some_and(|t| now < t + interval) {
                    continue;
                }
                for (i, pc) in fw.ports.iter().enumerate() {
                    let Some(tag) = vepa_dataplane::egress_tag(&pc.vlan, vid) else {
                        continue;
                    };
                    let Some(dev) = s
                        .uplink
                        .iter()
                        .chain(&s.ports)
                        .nth(i)
                        .and_then(|p| self.port_device(&s.name, &p.name))
                    else {
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
                core.mdb().own_query(vid, now, MAX_RESPONSE_MS);
                sent.push(key);
            }
        }
        for key in sent {
            tracing::debug!(switch = %key.0, vlan = key.1, "sent IGMP and MLD general queries");
            self.queried.insert(key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_read_back_as_general_queries() {
        let [q4, q6] = queries(MacAddr([2, 0, 0, 0, 0, 7]));
        let ip4 = &q4[14..];
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
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&q6[22..38]).unwrap());
        assert!(src.to_string().starts_with("fe80::"), "{src}");
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
        let t = tagged(&q4, 10);
        assert_eq!(&t[12..16], &[0x81, 0, 0, 10]);
    }
}
