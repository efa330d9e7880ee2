//! Flow metering for IPFIX export: which IP flows entered a switch, and how
//! much of each.
//!
//! Each forwarding worker keeps a [`FlowMeter`] per exporting switch: it
//! samples one frame in N (systematic count-based, RFC 5475 §5.1: every
//! N-th frame the worker takes from the switch's ports), keys the sampled
//! ones by ingress port, VLAN and 5-tuple, and counts their packets and IP
//! bytes. A flow is reported when it has been idle for the idle timeout
//! (and forgotten), and every active timeout while it lasts (its counts
//! start again). Counts are of the sampled frames: the collector scales
//! them by the interval the sampling options record announces.
//!
//! A frame the kernel merged (GRO/TSO, with a virtio-net header) counts as
//! the segments it stands for. A full flow table never loses a count: a
//! frame of a new flow that finds no room is counted in one overflow flow
//! per ingress port and IP version (unspecified addresses, protocol 0,
//! reported as `lackOfResources`), so a tenant spraying 5-tuples adds at
//! most one record per port to the exporter's queue, which the switches
//! share, and loses no count. Non-IP frames are not metered.
//!
//! Pure: records are handed to the caller, who sends them (`vepa-io`).

use crate::config::IpfixConfig;
use crate::key::{Field, Key};
use crate::parsed::Parsed;
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use vepa_packet::ipfix::{EndReason, FlowRecord};
use vepa_packet::VirtioNetHdr;

/// Flows one meter holds at most.
pub const FLOW_TABLE_LIMIT: usize = 65_536;

/// A switch's export settings with what its meters and exporter did;
/// shared by every worker and kept across snapshots.
#[derive(Debug)]
pub struct IpfixExport {
    pub config: IpfixConfig,
    pub stats: Arc<IpfixStats>,
}

/// What a switch's flow export did, for metrics.
#[derive(Debug, Default)]
pub struct IpfixStats {
    /// Frames metered (after sampling).
    pub sampled: AtomicU64,
    /// Records handed to the exporter.
    pub records: AtomicU64,
    /// Records sent to the collector.
    pub exported: AtomicU64,
    /// Records lost: the exporter's queue was full.
    pub dropped: AtomicU64,
    /// Messages sent, and sends that failed.
    pub messages: AtomicU64,
    pub send_errors: AtomicU64,
}

impl IpfixStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    ingress: u32,
    vlan: u16,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    src_port: u16,
    dst_port: u16,
    icmp: u16,
    tos: u8,
}

#[derive(Debug, Clone, Copy)]
struct FlowCounts {
    egress: u32,
    octets: u64,
    packets: u64,
    /// Milliseconds on the caller's clock.
    first: u64,
    last: u64,
}

/// One worker's flow table for one switch.
#[derive(Debug)]
pub struct FlowMeter {
    export: Arc<IpfixExport>,
    flows: FxHashMap<FlowKey, FlowCounts>,
    /// Frames to skip before the next sampled one.
    skip: u32,
    limit: usize,
}

impl FlowMeter {
    pub fn new(export: Arc<IpfixExport>) -> FlowMeter {
        FlowMeter {
            export,
            flows: FxHashMap::default(),
            skip: 0,
            limit: FLOW_TABLE_LIMIT,
        }
    }

    /// A meter holding at most `limit` flows (tests).
    pub fn with_limit(export: Arc<IpfixExport>, limit: usize) -> FlowMeter {
        FlowMeter {
            limit,
            ..FlowMeter::new(export)
        }
    }

    pub fn export(&self) -> &Arc<IpfixExport> {
        &self.export
    }

    /// Whether the next frame is to be metered; call once per frame.
    #[inline]
    pub fn sample(&mut self) -> bool {
        if self.skip == 0 {
            self.skip = self.export.config.sampling.max(1) - 1;
            true
        } else {
            self.skip -= 1;
            false
        }
    }

    /// Meters a sampled frame that arrived on port `ingress` (OpenFlow
    /// numbering) and left by `egress` (0: by none or several).
    pub fn observe(
        &mut self,
        frame: &[u8],
        vnet: &VirtioNetHdr,
        ingress: u32,
        egress: u32,
        now_ms: u64,
    ) {
        let Some((key, octets, packets)) = flow_of(frame, vnet, ingress) else {
            return;
        };
        IpfixStats::add(&self.export.stats.sampled, 1);
        let full = self.flows.len() >= self.limit;
        let key = if full && !self.flows.contains_key(&key) {
            overflow(&key)
        } else {
            key
        };
        if let Some(c) = self.flows.get_mut(&key) {
            if c.packets == 0 {
                // The first packet since an active-timeout report.
                c.first = now_ms;
                c.egress = egress;
            } else if egress != c.egress {
                c.egress = 0;
            }
            c.octets += octets;
            c.packets += packets;
            c.last = now_ms;
            return;
        }
        // Past the limit only overflow flows are added: at most one per
        // port and IP version, so the table stays bounded.
        self.flows.insert(
            key,
            FlowCounts {
                egress,
                octets,
                packets,
                first: now_ms,
                last: now_ms,
            },
        );
    }

    /// Reports the flows idle past the idle timeout (forgetting them) and
    /// those active past the active timeout (counting them afresh).
    pub fn expire(&mut self, now_ms: u64, out: &mut Vec<FlowRecord>) {
        let idle = self.export.config.idle_timeout_ms;
        let active = self.export.config.active_timeout_ms;
        self.flows.retain(|key, c| {
            let why = if is_overflow(key) {
                EndReason::LackOfResources
            } else {
                EndReason::IdleTimeout
            };
            if now_ms.saturating_sub(c.last) >= idle {
                // Nothing since an active-timeout report: nothing to say.
                if c.packets > 0 {
                    out.push(record(key, c, why));
                }
                false
            } else {
                if c.packets > 0 && now_ms.saturating_sub(c.first) >= active {
                    let why = if is_overflow(key) {
                        EndReason::LackOfResources
                    } else {
                        EndReason::ActiveTimeout
                    };
                    out.push(record(key, c, why));
                    c.octets = 0;
                    c.packets = 0;
                }
                true
            }
        });
    }

    /// Reports every flow and forgets them (the exporter stops or changes).
    pub fn drain(&mut self, out: &mut Vec<FlowRecord>) {
        for (key, c) in self.flows.drain() {
            if c.packets > 0 {
                out.push(record(&key, &c, EndReason::ForcedEnd));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// The flow that counts `key`'s packets when the table is full: its port
/// and IP version, nothing else.
fn overflow(key: &FlowKey) -> FlowKey {
    let any = if key.src.is_ipv6() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    FlowKey {
        ingress: key.ingress,
        vlan: 0,
        src: any,
        dst: any,
        protocol: 0,
        src_port: 0,
        dst_port: 0,
        icmp: 0,
        tos: 0,
    }
}

fn is_overflow(key: &FlowKey) -> bool {
    key.protocol == 0 && key.src.is_unspecified() && key.dst.is_unspecified()
}

fn record(key: &FlowKey, c: &FlowCounts, end_reason: EndReason) -> FlowRecord {
    FlowRecord {
        src: key.src,
        dst: key.dst,
        protocol: key.protocol,
        src_port: key.src_port,
        dst_port: key.dst_port,
        icmp_type_code: key.icmp,
        tos: key.tos,
        ingress: key.ingress,
        egress: c.egress,
        vlan: key.vlan,
        octets: c.octets,
        packets: c.packets,
        start_ms: c.first,
        end_ms: c.last,
        end_reason,
    }
}

/// A frame's flow key, IP bytes and packets (a merged frame counts its
/// segments); `None` for frames that are not IP.
fn flow_of(frame: &[u8], vnet: &VirtioNetHdr, ingress: u32) -> Option<(FlowKey, u64, u64)> {
    let p = Parsed::new(frame)?;
    let (ip_len, hdr_len, v6) = if let Some(v4) = p.ipv4() {
        (v4.total_len(), v4.header_len(), false)
    } else if let Some(v6) = p.ipv6() {
        let upper = p.ipv6_upper().map_or(40, |(_, off)| off);
        (v6.total_len(), upper, true)
    } else {
        return None;
    };
    // What the frame really holds (a merged frame's length field may not
    // say it), never past its end.
    let l3 = p.payload();
    let ip_len = if vnet.gso_size > 0 {
        l3.len()
    } else {
        ip_len.min(l3.len())
    };
    let k: Key = p.key(0)?;
    let get = |f: Field| f.get(&k);
    let (src, dst) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::from(get(Field::Ipv6Src))),
            IpAddr::V6(Ipv6Addr::from(get(Field::Ipv6Dst))),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::from(get(Field::Ipv4Src) as u32)),
            IpAddr::V4(Ipv4Addr::from(get(Field::Ipv4Dst) as u32)),
        )
    };
    let protocol = get(Field::IpProto) as u8;
    let (mut src_port, mut dst_port, mut icmp) = (0u16, 0u16, 0u16);
    match protocol {
        6 => {
            src_port = get(Field::TcpSrc) as u16;
            dst_port = get(Field::TcpDst) as u16;
        }
        17 => {
            src_port = get(Field::UdpSrc) as u16;
            dst_port = get(Field::UdpDst) as u16;
        }
        1 if !v6 => {
            icmp = ((get(Field::Icmpv4Type) as u16) << 8) | get(Field::Icmpv4Code) as u16;
        }
        58 if v6 => {
            icmp = ((get(Field::Icmpv6Type) as u16) << 8) | get(Field::Icmpv6Code) as u16;
        }
        _ => {}
    }
    let tos = ((get(Field::IpDscp) as u8) << 2) | get(Field::IpEcn) as u8;
    let (octets, packets) = segments(l3, ip_len, hdr_len, protocol, vnet);
    let key = FlowKey {
        ingress,
        vlan: p.vid().unwrap_or(0),
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        icmp,
        tos,
    };
    Some((key, octets, packets))
}

/// IP bytes and packets of a frame: one packet, or for a merged frame the
/// segments of `gso_size` payload bytes it is cut into, each with its own
/// IP and transport headers.
fn segments(
    l3: &[u8],
    ip_len: usize,
    ip_hdr: usize,
    protocol: u8,
    vnet: &VirtioNetHdr,
) -> (u64, u64) {
    let gso = vnet.gso_size as usize;
    if gso == 0 {
        return (ip_len as u64, 1);
    }
    let l4_hdr = match protocol {
        6 => l3
            .get(ip_hdr + 12)
            .map_or(20, |b| ((b >> 4) as usize * 4).max(20)),
        17 => 8,
        _ => 0,
    };
    let headers = ip_hdr + l4_hdr;
    let payload = ip_len.saturating_sub(headers);
    if payload <= gso {
        return (ip_len as u64, 1);
    }
    let n = payload.div_ceil(gso);
    ((payload + n * headers) as u64, n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(sampling: u32) -> Arc<IpfixExport> {
        Arc::new(IpfixExport {
            config: IpfixConfig {
                collector: "127.0.0.1:4739".parse().expect("addr"),
                sampling,
                active_timeout_ms: 10_000,
                idle_timeout_ms: 1_000,
                domain: 1,
            },
            stats: Arc::default(),
        })
    }

    /// An Ethernet + IPv4 + UDP frame with `payload` bytes of data.
    fn udp(src_port: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8 + payload];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + 8 + payload) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let sum = vepa_packet::checksum::finish(vepa_packet::checksum::sum_words(0, ip));
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        f[34..36].copy_from_slice(&src_port.to_be_bytes());
        f[36..38].copy_from_slice(&5201u16.to_be_bytes());
        f[38..40].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
        f
    }

    #[test]
    fn one_in_n_frames_is_metered_and_counted_in_ip_bytes() {
        let mut m = FlowMeter::new(export(10));
        let mut out = Vec::new();
        let f = udp(4000, 1000);
        for t in 0..100 {
            if m.sample() {
                m.observe(&f, &VirtioNetHdr::default(), 3, 1, t);
            }
        }
        assert!(out.is_empty());
        m.expire(5_000, &mut out);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!((r.packets, r.octets), (10, 10 * 1028));
        assert_eq!(
            (r.ingress, r.egress, r.src_port, r.dst_port),
            (3, 1, 4000, 5201)
        );
        assert_eq!(r.end_reason, EndReason::IdleTimeout);
        assert!(m.is_empty());
    }

    #[test]
    fn an_active_flow_is_reported_every_active_timeout_and_kept() {
        let mut m = FlowMeter::new(export(1));
        let mut out = Vec::new();
        let f = udp(4000, 100);
        for t in (0..25_000).step_by(100) {
            m.expire(t, &mut out);
            m.observe(&f, &VirtioNetHdr::default(), 1, 2, t);
        }
        let packets: Vec<u64> = out.iter().map(|r| r.packets).collect();
        assert_eq!(packets, [100, 100]);
        assert!(out.iter().all(|r| r.end_reason == EndReason::ActiveTimeout));
        m.drain(&mut out);
        assert_eq!(out.iter().map(|r| r.packets).sum::<u64>(), 250);
    }

    #[test]
    fn a_full_table_counts_new_flows_in_one_overflow_flow_and_loses_no_count() {
        let mut m = FlowMeter::with_limit(export(1), 4);
        let mut out: Vec<FlowRecord> = Vec::new();
        for port in 0..100u16 {
            m.observe(&udp(port, 10), &VirtioNetHdr::default(), 1, 0, 0);
        }
        assert_eq!(m.len(), 5, "four flows and the overflow");
        m.expire(5_000, &mut out);
        assert_eq!(out.len(), 5);
        let over: Vec<&FlowRecord> = out
            .iter()
            .filter(|r| r.end_reason == EndReason::LackOfResources)
            .collect();
        assert_eq!(over.len(), 1);
        assert_eq!((over[0].packets, over[0].protocol), (96, 0));
        assert!(over[0].src.is_unspecified());
        assert_eq!(out.iter().map(|r| r.packets).sum::<u64>(), 100);
    }

    #[test]
    fn a_flow_quiet_since_its_active_report_says_nothing_more() {
        let mut m = FlowMeter::new(export(1));
        let mut out: Vec<FlowRecord> = Vec::new();
        let f = udp(4000, 100);
        m.observe(&f, &VirtioNetHdr::default(), 1, 2, 0);
        m.observe(&f, &VirtioNetHdr::default(), 1, 2, 900);
        m.expire(10_000, &mut out);
        // Idle after 1 s: reported once, as idle.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end_reason, EndReason::IdleTimeout);
        out.clear();
        // Reported at the active timeout, then quiet: no empty record.
        for t in (0..10_000).step_by(500) {
            m.observe(&f, &VirtioNetHdr::default(), 1, 2, t);
        }
        m.expire(10_000, &mut out);
        assert_eq!(out.len(), 1);
        m.expire(12_000, &mut out);
        m.drain(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        // The next record starts at its first packet.
        m.observe(&f, &VirtioNetHdr::default(), 1, 2, 20_000);
        m.drain(&mut out);
        assert_eq!((out[1].start_ms, out[1].packets), (20_000, 1));
    }

    #[test]
    fn a_merged_frame_counts_as_its_segments() {
        let f = udp(1, 4000);
        let vnet = VirtioNetHdr {
            gso_type: 5,
            gso_size: 1000,
            ..VirtioNetHdr::default()
        };
        let (k, octets, packets) = flow_of(&f, &vnet, 1).expect("ip");
        assert_eq!(k.protocol, 17);
        assert_eq!((octets, packets), (4000 + 4 * 28, 4));
    }

    #[test]
    fn non_ip_and_cut_frames_are_not_metered() {
        let mut m = FlowMeter::new(export(1));
        let mut arp = udp(1, 10);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        for f in [&arp[..], &udp(1, 10)[..20], &[][..]] {
            m.observe(f, &VirtioNetHdr::default(), 1, 0, 0);
        }
        assert!(m.is_empty());
    }

    proptest::proptest! {
        /// Any bytes, with any merged-frame header a guest may claim: no
        /// panic, and every whole IP frame counted once at least.
        #[test]
        fn any_frame_is_metered_without_panic(
            frames in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 1..40),
            gso_size in proptest::num::u16::ANY,
            cut in 0usize..60,
        ) {
            let mut m = FlowMeter::with_limit(export(1), 8);
            let mut out = Vec::new();
            let vnet = VirtioNetHdr { gso_type: 1, gso_size, ..VirtioNetHdr::default() };
            let good = udp(7, 100);
            for f in &frames {
                m.observe(f, &vnet, 1, 2, 0);
                m.observe(&good[..good.len().saturating_sub(cut)], &vnet, 1, 2, 0);
            }
            m.drain(&mut out);
            let packets: u64 = out.iter().map(|r| r.packets).sum();
            if cut == 0 {
                proptest::prop_assert!(packets >= frames.len() as u64);
            }
        }
    }
}
