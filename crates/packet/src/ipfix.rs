//! IPFIX (RFC 7011) export messages: what a flow exporter sends a collector.
//!
//! A message is a 16-byte header and sets: template sets (set ID 2) that
//! say how the data records of a template ID are laid out, options
//! template sets (3), and data sets (the template's ID, 256 and up) of
//! fixed-length records. Over UDP a collector learns templates only from
//! the messages it receives, so the exporter sends them again now and
//! then ([`MessageWriter::templates`]). The information elements are the
//! IANA registry's (RFC 7012 and its successors); every one here has a
//! fixed length, so no record needs variable-length encoding.
//!
//! Written by hand: the format is a page, and the crates for it parse
//! (collectors) rather than write.

use std::net::IpAddr;

pub const VERSION: u16 = 10;
pub const HEADER_LEN: usize = 16;
pub const TEMPLATE_SET_ID: u16 = 2;
pub const OPTIONS_TEMPLATE_SET_ID: u16 = 3;
/// Data records of IPv4 flows.
pub const TEMPLATE_IPV4: u16 = 256;
/// Data records of IPv6 flows.
pub const TEMPLATE_IPV6: u16 = 257;
/// The options record that says how packets were sampled.
pub const TEMPLATE_SAMPLING: u16 = 258;

/// IANA information element IDs used here.
pub mod ie {
    pub const OCTET_DELTA_COUNT: u16 = 1;
    pub const PACKET_DELTA_COUNT: u16 = 2;
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    pub const IP_CLASS_OF_SERVICE: u16 = 5;
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub const INGRESS_INTERFACE: u16 = 10;
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub const EGRESS_INTERFACE: u16 = 14;
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    pub const ICMP_TYPE_CODE_IPV4: u16 = 32;
    pub const SAMPLING_INTERVAL: u16 = 34;
    pub const SAMPLING_ALGORITHM: u16 = 35;
    pub const VLAN_ID: u16 = 58;
    pub const FLOW_END_REASON: u16 = 136;
    pub const ICMP_TYPE_CODE_IPV6: u16 = 139;
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    pub const SELECTOR_ID: u16 = 302;
    pub const SELECTOR_ALGORITHM: u16 = 304;
    pub const SAMPLING_PACKET_INTERVAL: u16 = 305;
    pub const SAMPLING_PACKET_SPACE: u16 = 306;
}

/// Why a flow record was exported (IE 136, `flowEndReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EndReason {
    IdleTimeout = 1,
    ActiveTimeout = 2,
    EndOfFlow = 3,
    /// The exporter stopped, or its configuration changed.
    ForcedEnd = 4,
    /// The flow cache was full: the packet was exported on its own.
    LackOfResources = 5,
}

/// One flow record: the 5-tuple and where and when the flow was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// ICMP type × 256 + code (0 for other protocols).
    pub icmp_type_code: u16,
    /// The IPv4 TOS or IPv6 traffic class byte.
    pub tos: u8,
    pub ingress: u32,
    pub egress: u32,
    pub vlan: u16,
    /// IP bytes (headers included), as IE 1 counts them.
    pub octets: u64,
    pub packets: u64,
    /// Milliseconds since the Unix epoch.
    pub start_ms: u64,
    pub end_ms: u64,
    pub end_reason: EndReason,
}

/// The fields of the two flow templates, in record order; the addresses'
/// IEs and lengths differ by IP version.
fn flow_fields(v6: bool) -> [(u16, u16); 15] {
    let (src, dst, alen, icmp) = if v6 {
        (
            ie::SOURCE_IPV6_ADDRESS,
            ie::DESTINATION_IPV6_ADDRESS,
            16,
            ie::ICMP_TYPE_CODE_IPV6,
        )
    } else {
        (
            ie::SOURCE_IPV4_ADDRESS,
            ie::DESTINATION_IPV4_ADDRESS,
            4,
            ie::ICMP_TYPE_CODE_IPV4,
        )
    };
    [
        (src, alen),
        (dst, alen),
        (ie::PROTOCOL_IDENTIFIER, 1),
        (ie::SOURCE_TRANSPORT_PORT, 2),
        (ie::DESTINATION_TRANSPORT_PORT, 2),
        (icmp, 2),
        (ie::IP_CLASS_OF_SERVICE, 1),
        (ie::INGRESS_INTERFACE, 4),
        (ie::EGRESS_INTERFACE, 4),
        (ie::VLAN_ID, 2),
        (ie::OCTET_DELTA_COUNT, 8),
        (ie::PACKET_DELTA_COUNT, 8),
        (ie::FLOW_START_MILLISECONDS, 8),
        (ie::FLOW_END_MILLISECONDS, 8),
        (ie::FLOW_END_REASON, 1),
    ]
}

/// The sampling options record: scope `selectorId`, then the algorithm
/// (1: systematic count-based, RFC 5475) and interval in the current IEs
/// and in the older NetFlow v9 ones (34, 35) that many collectors read.
const SAMPLING_FIELDS: [(u16, u16); 6] = [
    (ie::SELECTOR_ID, 8),
    (ie::SELECTOR_ALGORITHM, 2),
    (ie::SAMPLING_PACKET_INTERVAL, 4),
    (ie::SAMPLING_PACKET_SPACE, 4),
    (ie::SAMPLING_INTERVAL, 4),
    (ie::SAMPLING_ALGORITHM, 1),
];

/// Bytes of one data record of `template`.
pub fn record_len(v6: bool) -> usize {
    flow_fields(v6).iter().map(|&(_, l)| l as usize).sum()
}

/// Builds one message: header, then sets, each record only if it fits
/// within the message's size limit.
#[derive(Debug)]
pub struct MessageWriter {
    buf: Vec<u8>,
    max: usize,
    /// The open set: its ID and where its header starts.
    open: Option<(u16, usize)>,
    records: u32,
    /// Options data records written (the sampling record).
    options: u32,
}

impl MessageWriter {
    /// A message of at most `max_len` bytes (at least a header and one
    /// IPv6 record) from observation domain `domain`; `sequence` counts
    /// the data records sent before it (RFC 7011 §3.1).
    pub fn new(domain: u32, sequence: u32, export_time_s: u32, max_len: usize) -> MessageWriter {
        let mut buf = Vec::with_capacity(max_len);
        buf.extend_from_slice(&VERSION.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes());
        buf.extend_from_slice(&export_time_s.to_be_bytes());
        buf.extend_from_slice(&sequence.to_be_bytes());
        buf.extend_from_slice(&domain.to_be_bytes());
        MessageWriter {
            buf,
            max: max_len.max(HEADER_LEN + 4 + record_len(true)),
            open: None,
            records: 0,
            options: 0,
        }
    }

    /// Adds the flow templates, the sampling options template and its
    /// record (`interval`: one packet in `interval` is metered).
    pub fn templates(&mut self, selector: u64, interval: u32) {
        self.close();
        let start = self.begin(TEMPLATE_SET_ID);
        for (id, v6) in [(TEMPLATE_IPV4, false), (TEMPLATE_IPV6, true)] {
            let fields = flow_fields(v6);
            self.put16(id);
            self.put16(fields.len() as u16);
            for (ie, len) in fields {
                self.put16(ie);
                self.put16(len);
            }
        }
        self.end(start);
        let start = self.begin(OPTIONS_TEMPLATE_SET_ID);
        self.put16(TEMPLATE_SAMPLING);
        self.put16(SAMPLING_FIELDS.len() as u16);
        self.put16(1); // one scope field: the selector
        for (ie, len) in SAMPLING_FIELDS {
            self.put16(ie);
            self.put16(len);
        }
        self.end(start);
        let start = self.begin(TEMPLATE_SAMPLING);
        self.buf.extend_from_slice(&selector.to_be_bytes());
        self.put16(1);
        self.buf.extend_from_slice(&1u32.to_be_bytes());
        self.buf
            .extend_from_slice(&interval.saturating_sub(1).to_be_bytes());
        self.buf.extend_from_slice(&interval.to_be_bytes());
        self.buf.push(1);
        self.end(start);
        self.options += 1;
    }

    /// Adds a flow record; `false` (and nothing written) when the message
    /// has no room for it.
    pub fn record(&mut self, r: &FlowRecord) -> bool {
        let v6 = r.src.is_ipv6() || r.dst.is_ipv6();
        let id = if v6 { TEMPLATE_IPV6 } else { TEMPLATE_IPV4 };
        let need = record_len(v6) + if self.open_id() == Some(id) { 0 } else { 4 };
        if self.buf.len() + need > self.max {
            return false;
        }
        if self.open_id() != Some(id) {
            self.close();
            let start = self.begin(id);
            self.open = Some((id, start));
        }
        for a in [r.src, r.dst] {
            match (a, v6) {
                (IpAddr::V4(a), false) => self.buf.extend_from_slice(&a.octets()),
                (IpAddr::V4(a), true) => self.buf.extend_from_slice(&a.to_ipv6_mapped().octets()),
                (IpAddr::V6(a), _) => self.buf.extend_from_slice(&a.octets()),
            }
        }
        self.buf.push(r.protocol);
        self.put16(r.src_port);
        self.put16(r.dst_port);
        self.put16(r.icmp_type_code);
        self.buf.push(r.tos);
        self.buf.extend_from_slice(&r.ingress.to_be_bytes());
        self.buf.extend_from_slice(&r.egress.to_be_bytes());
        self.put16(r.vlan);
        for v in [r.octets, r.packets, r.start_ms, r.end_ms] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self.buf.push(r.end_reason as u8);
        self.records += 1;
        true
    }

    /// Flow records written so far.
    pub fn records(&self) -> u32 {
        self.records
    }

    /// Data records of any kind written so far (flows and options), what
    /// the next message's sequence number counts on by.
    pub fn data_records(&self) -> u32 {
        self.records + self.options
    }

    /// The message, its length filled in.
    pub fn finish(mut self) -> Vec<u8> {
        self.close();
        let len = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        self.buf
    }

    fn open_id(&self) -> Option<u16> {
        self.open.map(|(id, _)| id)
    }

    fn close(&mut self) {
        if let Some((_, start)) = self.open.take() {
            self.end(start);
        }
    }

    fn begin(&mut self, id: u16) -> usize {
        let start = self.buf.len();
        self.put16(id);
        self.put16(0);
        start
    }

    fn end(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    fn put16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn rec(src: IpAddr, dst: IpAddr) -> FlowRecord {
        FlowRecord {
            src,
            dst,
            protocol: 17,
            src_port: 5201,
            dst_port: 40000,
            icmp_type_code: 0,
            tos: 0,
            ingress: 2,
            egress: 1,
            vlan: 10,
            octets: 1428,
            packets: 1,
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_000_500,
            end_reason: EndReason::IdleTimeout,
        }
    }

    /// The sets of a message: (set ID, body).
    fn sets(m: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = HEADER_LEN;
        while at < m.len() {
            let id = u16::from_be_bytes([m[at], m[at + 1]]);
            let len = u16::from_be_bytes([m[at + 2], m[at + 3]]) as usize;
            out.push((id, m[at + 4..at + len].to_vec()));
            at += len;
        }
        assert_eq!(at, m.len(), "sets fill the message exactly");
        out
    }

    #[test]
    fn a_message_has_its_header_templates_and_records_laid_out_per_rfc_7011() {
        let mut w = MessageWriter::new(7, 42, 1_700_000_000, 1400);
        w.templates(7, 10);
        let v4 = rec(
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        let v6 = rec(Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into());
        assert!(w.record(&v4));
        assert!(w.record(&v4));
        assert!(w.record(&v6));
        assert_eq!((w.records(), w.data_records()), (3, 4));
        let m = w.finish();
        assert_eq!(&m[0..2], &[0, 10]);
        assert_eq!(u16::from_be_bytes([m[2], m[3]]) as usize, m.len());
        assert_eq!(u32::from_be_bytes([m[8], m[9], m[10], m[11]]), 42);
        assert_eq!(u32::from_be_bytes([m[12], m[13], m[14], m[15]]), 7);
        let s = sets(&m);
        let ids: Vec<u16> = s.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 3, 258, 256, 257]);
        // Template 256: 15 fields, the first the IPv4 source.
        assert_eq!(&s[0].1[0..6], &[1, 0, 0, 15, 0, 8]);
        // Two IPv4 records of 59 bytes, one IPv6 record of 83.
        assert_eq!(s[3].1.len(), 2 * record_len(false));
        assert_eq!(record_len(false), 59);
        assert_eq!(s[4].1.len(), record_len(true));
        // The sampling record: selector 7, one in 10.
        assert_eq!(s[2].1.len(), 23);
        assert_eq!(&s[2].1[14..18], &9u32.to_be_bytes());
    }

    #[test]
    fn a_full_message_refuses_the_record_that_does_not_fit() {
        let mut w = MessageWriter::new(1, 0, 0, HEADER_LEN + 4 + 2 * record_len(false));
        let v4 = rec(
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        assert!(w.record(&v4));
        assert!(w.record(&v4));
        assert!(!w.record(&v4));
        let m = w.finish();
        assert_eq!(m.len(), HEADER_LEN + 4 + 2 * 59);
    }
}
