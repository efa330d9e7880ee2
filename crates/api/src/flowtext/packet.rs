//! A frame made from a flow's fields, for `vepa trace` (as
//! `ovs-appctl ofproto/trace` takes a flow): `icmp,dl_src=..,nw_dst=10.0.0.3`
//! becomes an Ethernet frame carrying an ICMP echo request to 10.0.0.3.
//!
//! What the flow leaves out is filled the way a newcomer would expect a
//! real packet to look, not with zeros where zeros make a packet no host
//! sends: TTL 64, an ICMP/ICMPv6 echo request, a TCP SYN, ARP request.
//! MACs and addresses left out are zero, as in Open vSwitch. Masks are
//! ignored (the value is used). `nw_ttl=N` is read here too (no flow
//! matches on it). In this trace syntax `in_port` is refused: the port is
//! given apart.

use super::{parse_flow, FlowTextError, PortNames};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vepa_dataplane::flow::Field;
use vepa_packet::{ip, MacAddr};

/// The frame `text` describes.
pub fn frame_of_flow(text: &str) -> Result<Vec<u8>, FlowTextError> {
    let mut ttl = 64u8;
    let mut rest = Vec::new();
    for tok in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match tok.split_once('=') {
            Some(("nw_ttl", v)) => {
                ttl = v
                    .trim()
                    .parse()
                    .map_err(|_| FlowTextError::new("nw_ttl", "expected a TTL from 0 to 255"))?;
            }
            Some(("actions", _)) => {
                return Err(FlowTextError::new(
                    "actions",
                    "a trace takes a packet's fields, not actions",
                ))
            }
            Some(("in_port", _)) => {
                return Err(FlowTextError::new(
                    "in_port",
                    "give the port as SWITCH/PORT before the flow",
                ))
            }
            _ => rest.push(tok),
        }
    }
    let flow = parse_flow(&rest.join(","), PortNames(&[]))?;
    let m = &flow.spec.matcher;
    let get = |f: Field| m.get(f).map(|(v, _)| v);
    let mac = |f: Field| {
        get(f).map_or(MacAddr::ZERO, |v| {
            let b = (v as u64).to_be_bytes();
            MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
        })
    };
    let (src, dst) = (mac(Field::EthSrc), mac(Field::EthDst));
    let ethertype = get(Field::EthType).map(|v| v as u16);
    let proto = get(Field::IpProto).map(|v| v as u8);
    let port = |a: Field, b: Field| get(a).or(get(b)).map_or(0, |v| v as u16);
    let tos =
        (get(Field::IpDscp).unwrap_or(0) as u8) << 2 | (get(Field::IpEcn).unwrap_or(0) as u8 & 3);
    let mut f = Vec::with_capacity(128);
    match ethertype {
        Some(0x0800) => {
            let s = Ipv4Addr::from(get(Field::Ipv4Src).unwrap_or(0) as u32);
            let d = Ipv4Addr::from(get(Field::Ipv4Dst).unwrap_or(0) as u32);
            let proto = proto.unwrap_or(ip::PROTO_UDP);
            let body = l4(
                proto,
                s.into(),
                d.into(),
                port(Field::TcpSrc, Field::UdpSrc),
                port(Field::TcpDst, Field::UdpDst),
                (get(Field::Icmpv4Type), get(Field::Icmpv4Code)),
            );
            ip::write_ethernet(&mut f, dst, src, 0x0800);
            ip::push_ipv4(&mut f, s, d, proto, ttl, 1, &body);
            if tos != 0 {
                f[15] = tos;
                ip::fill_ipv4_checksum(&mut f[14..]);
            }
        }
        Some(0x86dd) => {
            let s = Ipv6Addr::from(get(Field::Ipv6Src).unwrap_or(0));
            let d = Ipv6Addr::from(get(Field::Ipv6Dst).unwrap_or(0));
            let proto = proto.unwrap_or(ip::PROTO_UDP);
            let body = match proto {
                58 => ip::icmpv6(
                    s,
                    d,
                    get(Field::Icmpv6Type).map_or(128, |v| v as u8),
                    get(Field::Icmpv6Code).map_or(0, |v| v as u8),
                    [0, 1, 0, 1],
                    b"vepa trace",
                ),
                p => l4(
                    p,
                    s.into(),
                    d.into(),
                    port(Field::TcpSrc, Field::UdpSrc),
                    port(Field::TcpDst, Field::UdpDst),
                    (None, None),
                ),
            };
            ip::write_ethernet(&mut f, dst, src, 0x86dd);
            ip::push_ipv6(&mut f, s, d, proto, ttl, &body);
        }
        Some(0x0806) => {
            let spa = Ipv4Addr::from(get(Field::ArpSpa).unwrap_or(0) as u32);
            let tpa = Ipv4Addr::from(get(Field::ArpTpa).unwrap_or(0) as u32);
            let sha = if get(Field::ArpSha).is_some() {
                mac(Field::ArpSha)
            } else {
                src
            };
            let op = get(Field::ArpOp).map_or(1, |v| v as u16);
            ip::write_ethernet(&mut f, dst, src, 0x0806);
            f.extend_from_slice(&ip::arp(op, sha, spa, mac(Field::ArpTha), tpa));
        }
        other => {
            // Any other EtherType: a frame of zeros after the header, the
            // shortest Ethernet carries.
            ip::write_ethernet(&mut f, dst, src, other.unwrap_or(0x88b5));
            f.resize(60, 0);
        }
    }
    if let Some(v) = get(Field::VlanVid).filter(|v| *v != 0) {
        let tci = (v as u16 & 0x0fff) | (get(Field::VlanPcp).unwrap_or(0) as u16) << 13;
        f.splice(12..12, [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
    }
    Ok(f)
}

/// The transport part: TCP (a SYN), UDP (a few bytes), ICMP (an echo
/// request unless the type says otherwise), or a few bytes of anything.
fn l4(
    proto: u8,
    s: IpAddr,
    d: IpAddr,
    sport: u16,
    dport: u16,
    icmp: (Option<u128>, Option<u128>),
) -> Vec<u8> {
    match proto {
        ip::PROTO_TCP => ip::tcp_segment(s, d, sport, dport, 1, 0, ip::TCP_SYN),
        ip::PROTO_UDP => ip::udp_datagram(s, d, sport, dport, b"vepa trace"),
        1 => ip::icmpv4(
            icmp.0.map_or(8, |v| v as u8),
            icmp.1.map_or(0, |v| v as u8),
            [0, 1, 0, 1],
            b"vepa trace",
        ),
        _ => b"vepa trace".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vepa_dataplane::Parsed;

    #[test]
    fn a_flow_becomes_the_packet_it_describes() {
        let f = frame_of_flow("icmp,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_src=10.0.0.1,nw_dst=10.0.0.3").unwrap();
        let p = Parsed::new(&f).unwrap();
        assert_eq!(p.src(), MacAddr([2, 0, 0, 0, 0, 1]));
        let l3 = p.l3().unwrap();
        assert_eq!(l3.dst, IpAddr::from([10, 0, 0, 3]));
        assert_eq!(l3.icmp, Some((8, 0)));
        assert_eq!(p.ttl(), Some(64));

        let f = frame_of_flow("tcp,dl_vlan=7,nw_dst=10.0.0.3,tp_dst=80,nw_ttl=3").unwrap();
        let p = Parsed::new(&f).unwrap();
        assert_eq!(p.vid(), Some(7));
        assert_eq!(p.ttl(), Some(3));
        let l3 = p.l3().unwrap();
        assert_eq!((l3.proto, l3.dport, l3.tcp_flags), (6, 80, ip::TCP_SYN));

        let f = frame_of_flow("udp6,ipv6_dst=fd00::2,udp_dst=53").unwrap();
        let p = Parsed::new(&f).unwrap();
        let l3 = p.l3().unwrap();
        assert_eq!((l3.proto, l3.dport), (17, 53));

        let f = frame_of_flow("arp,arp_tpa=10.0.0.9,dl_dst=ff:ff:ff:ff:ff:ff").unwrap();
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[38..42], &[10, 0, 0, 9]);
    }

    #[test]
    fn what_a_trace_cannot_take_is_named() {
        assert_eq!(
            frame_of_flow("icmp,actions=drop").unwrap_err().part,
            "actions"
        );
        assert_eq!(frame_of_flow("in_port=1,icmp").unwrap_err().part, "in_port");
        assert_eq!(frame_of_flow("icmp,nw_ttl=300").unwrap_err().part, "nw_ttl");
        assert_eq!(
            frame_of_flow("icmp,nw_dst=10.0.0.300").unwrap_err().part,
            "nw_dst"
        );
    }
}
