//! The bodies of vepa's fuzz targets, one function per parser that takes
//! bytes from outside (a guest, a peer host, a controller, a file). Each
//! must return, whatever the bytes, without a panic; the assertions in
//! them are the properties that must hold too. The libFuzzer targets in
//! `fuzz/fuzz_targets` (nightly, `scripts/fuzz.sh`) call these; on stable,
//! `tests/replay.rs` runs them on the seeds, on every input a fuzzer ever
//! crashed with (`regressions/`), and on random bytes as proptests, in CI.

// The daemon's record checks, compiled here from its source (the daemon
// is a binary crate).
#[allow(dead_code)]
#[path = "../../../crates/daemon/src/fabric/record.rs"]
mod record;

use std::net::UdpSocket;
use std::sync::OnceLock;
use vepa_api::flowtext::{format_flow, parse_flow, parse_group, PortNames};
use vepa_api::topology::Topology;
use vepa_api::wire;
use vepa_api::wire::HostRecord;
use vepa_dataplane::flow::{extract, Field, Rewrite};
use vepa_io::{Port, RxBatch, VxlanConfig, VxlanPort};
use vepa_openflow::{convert, decode, frame_len, Message};
use vepa_packet::gso::{segment, within_bounds, MAX_SEGMENTS};
use vepa_packet::VirtioNetHdr;

/// Software segmentation of a guest's super-frame: whatever the header
/// and the frame, no panic, and never more than MAX_SEGMENTS segments, none
/// longer than the frame.
pub fn gso_segment(data: &[u8]) {
    let Some((h, frame)) = data.split_first_chunk::<10>() else {
        return;
    };
    let hdr = VirtioNetHdr::parse(h);
    let _ = within_bounds(frame.len(), &hdr);
    let mut scratch = Vec::new();
    let mut n = 0;
    if let Ok(count) = segment(frame, &hdr, &mut scratch, |s| {
        assert!(s.len() <= frame.len());
        n += 1;
    }) {
        assert_eq!(count, n);
        assert!(count <= MAX_SEGMENTS);
    }
}

/// A frame's flow key, and the frame written back with a flow's header
/// changes: no panic on any frame, and what is written parses again.
pub fn flow_key(data: &[u8]) {
    let Some((ctl, frame)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Some(parsed) = vepa_dataplane::Parsed::new(frame) else {
        return;
    };
    let Some(mut key) = parsed.key(u32::from(ctl[0])) else {
        return;
    };
    // Change a field or two the actions could set, as the input says.
    for (i, b) in ctl[1..].iter().enumerate() {
        let f = Field::ALL[*b as usize % Field::ALL.len()];
        if f.settable() {
            let v = u128::from_be_bytes([*b; 16]) & f.full_mask();
            f.put(&mut key, v);
        }
        let _ = i;
    }
    let rw = Rewrite {
        key,
        tpid: if ctl[1] & 1 == 0 { 0x8100 } else { 0x88a8 },
        ttl_dec: ctl[2] % 3,
    };
    let tag = (ctl[3] & 1 == 1).then_some(u16::from(ctl[3]) << 4);
    let mut out = Vec::new();
    rw.write(&parsed, tag, ctl[3] & 2 == 2, &mut out);
    if !out.is_empty() {
        let _ = extract(&out, 1);
    }
}

/// A guest's transmit ring (descriptor table, available ring, buffers,
/// virtio-net headers) made of the input: read as the port reads it,
/// without a panic or a read outside guest memory.
pub fn vhost_user_ring(data: &[u8]) {
    let _ = vepa_io::fuzz_guest_tx(data);
}

struct Rig {
    port: VxlanPort,
    peer: UdpSocket,
    to: std::net::SocketAddr,
}
fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        // Loopback only: 127.0.0.1 is the port, 127.0.0.1 the known VTEP.
        let udp = 20_000 + (std::process::id() % 20_000) as u16;
        let port = VxlanPort::open(VxlanConfig {
            name: "fz".into(),
            vni: 42,
            local: "127.0.0.1".parse().expect("address"),
            port: udp,
            remotes: vec!["127.0.0.1".parse().expect("address")],
            underlay_mtu: 1500,
            vlan_vni: vec![(10, 1010), (20, 1020)],
            reflect: false,
            arp_suppress: true,
        })
        .expect("open a VXLAN port on loopback");
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
        Rig {
            port,
            peer,
            to: format!("127.0.0.1:{udp}").parse().expect("address"),
        }
    })
}

/// Datagrams from a known VTEP, whatever their bytes, through a VXLAN
/// port's receive path (header checks, learning, ARP snooping, the
/// coalescing of what the kernel batched): no panic.
pub fn vxlan_receive(data: &[u8]) {
    let r = rig();
    // Up to four datagrams: a length byte, then that many bytes.
    let mut rest = data;
    for _ in 0..4 {
        let Some((&n, tail)) = rest.split_first() else {
            break;
        };
        let n = (n as usize * 8).min(tail.len());
        let _ = r.peer.send_to(&tail[..n], r.to);
        rest = &tail[n..];
    }
    if !rest.is_empty() {
        let _ = r.peer.send_to(rest, r.to);
    }
    let mut batch = RxBatch::new(vepa_io::MAX_BATCH);
    while let Ok(n) = r.port.recv_batch(&mut batch) {
        if n == 0 {
            break;
        }
    }
}

const PORTS: usize = 6;

/// A controller's message, whatever its bytes: decoded (or refused with an
/// OpenFlow error), and what a flow, group, meter or packet-out asks for
/// converted to the dataplane's terms and checked, as the daemon does.
pub fn openflow_decode(data: &[u8]) {
    let mut buf = data;
    // A stream: messages one after another, as a connection reads them.
    while let Some(Ok(len)) = frame_len(buf) {
        if len > buf.len() {
            break;
        }
        let (msg, rest) = buf.split_at(len);
        buf = rest;
        let Ok((_, m)) = decode(msg) else {
            continue;
        };
        match m {
            Message::FlowMod(f) => {
                if let Ok(m) = convert::match_to_dp(&f.matcher) {
                    let _ = convert::match_from_dp(&m);
                }
                if let Ok(i) = convert::instructions_to_dp(&f.instructions, f.table_id, PORTS) {
                    let _ = vepa_dataplane::flow::check_instructions(&i, f.table_id, PORTS);
                    let _ = convert::instructions_from_dp(&i);
                }
            }
            Message::GroupMod(g) => {
                if let Ok(g) = convert::group_to_dp(&g, PORTS) {
                    let _ = convert::buckets_from_dp(&g);
                }
            }
            Message::MeterMod {
                flags,
                meter_id,
                bands,
                ..
            } => {
                if let Ok(m) = convert::meter_to_dp(flags, meter_id, &bands) {
                    let _ = convert::meter_from_dp(&m);
                }
            }
            Message::PacketOut(p) => {
                let _ = convert::actions_to_dp(&p.actions, PORTS, true);
                let _ = vepa_dataplane::flow::extract(&p.data, p.in_port);
            }
            _ => {}
        }
    }
}

/// `ovs-ofctl` flow and group text, whatever it says: parsed or refused
/// with an error naming the part, and a parsed flow formats and parses
/// back.
pub fn flow_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let names: Vec<String> = ["up", "vm1", "vm2"].map(String::from).to_vec();
    let ports = PortNames(&names);
    if let Ok(f) = parse_flow(text, ports) {
        let again = format_flow(&f.spec, ports);
        assert!(
            parse_flow(&again, ports).is_ok(),
            "{text:?} formats as {again:?}, which does not parse"
        );
    }
    let _ = parse_group(text, ports);
}

/// A topology file or an API body, whatever its bytes: parsed and checked
/// whole, or refused with an error naming the field; never a panic.
pub fn topology(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = Topology::parse("fuzz.toml", text) {
            let _ = t.validate();
            if let Ok(again) = t.to_toml() {
                let _ = Topology::parse("again.toml", &again);
            }
        }
    }
    // The API's bodies are JSON.
    if let Ok(t) = serde_json::from_slice::<Topology>(data) {
        let _ = t.validate();
    }
    let _ = serde_json::from_slice::<wire::PortPatch>(data);
    let _ = serde_json::from_slice::<wire::SwitchPatch>(data);
    let _ = serde_json::from_slice::<wire::FlowAdd>(data);
    let _ = serde_json::from_slice::<wire::FdbAdd>(data);
    let _ = serde_json::from_slice::<wire::AclRuleAdd>(data);
}

/// Another host's record as read from etcd, whatever its bytes: refused
/// with a reason or taken, and a taken one weighed against this host's
/// without a panic.
pub fn etcd_record(data: &[u8]) {
    let read = record::read_record("h2", data);
    let mine = HostRecord {
        host: "h1".into(),
        underlay: "192.0.2.1".parse().expect("address"),
        version: "1".into(),
        networks: Vec::new(),
    };
    let mut found = record::Found::new();
    found.insert("h2".into(), (2, read));
    let _ = record::admit("h1", &mine, &found);
}

/// A CNI network configuration on stdin, whatever its bytes: parsed or
/// refused with the spec's error object; never a panic.
pub fn cni_config(data: &[u8]) {
    let _ = vepa_cni::config::version_of(data);
    let _ = vepa_cni::config::parse(data.to_vec());
}
