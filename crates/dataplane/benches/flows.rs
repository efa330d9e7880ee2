//! The flow tables under load: 10,000 flows of mixed masks and
//! priorities (IPv4 prefixes, exact TCP/UDP 5-tuples, MAC rules, a
//! catch-all to NORMAL), traffic spread over 1,024 distinct packets.
//! `flows_10k_cached` is the normal path (decision cache on);
//! `flows_10k_uncached` classifies every packet.
//! Run with `cargo bench -p vepa-dataplane --bench flows`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::sync::Arc;
use vepa_dataplane::flow::{Action, Field, FlowSpec, Instruction, Match, OutPort, Pipeline};
use vepa_dataplane::{PortConfig, PortId, PortMode, PortRole, Switch, SwitchConfig};

const BATCH: usize = 1024;

fn switch() -> Switch {
    let ports = (0..4)
        .map(|i| PortConfig::new(format!("p{i}"), PortRole::Downlink(PortMode::Veb)))
        .collect();
    Switch::new(SwitchConfig::new("bench", ports)).expect("valid")
}

fn m(fields: &[(Field, u128, u128)]) -> Match {
    let mut x = Match::any();
    for &(f, v, k) in fields {
        x.set(f, v, k).expect("field");
    }
    x
}

fn exact(f: Field, v: u128) -> (Field, u128, u128) {
    (f, v, f.full_mask())
}

fn out(p: u16) -> Vec<Instruction> {
    vec![Instruction::Apply(vec![Action::Output(OutPort::Port(
        PortId(p),
    ))])]
}

/// The same mix `bench/openflow-install` sends through OpenFlow.
fn flows() -> Pipeline {
    let mut p = Pipeline::default();
    for i in 0..10_000u32 {
        let (hi, lo) = (((i >> 8) & 255) as u128, (i & 255) as u128);
        let spec = match i % 4 {
            0 => FlowSpec {
                priority: 100 + (i % 50) as u16,
                matcher: m(&[
                    exact(Field::EthType, 0x800),
                    (
                        Field::Ipv4Dst,
                        0x0a00_0000 | hi << 16 | lo << 8,
                        0xffff_ff00,
                    ),
                ]),
                instructions: out(1),
                ..FlowSpec::default()
            },
            1 => FlowSpec {
                priority: 200 + (i % 30) as u16,
                matcher: m(&[
                    exact(Field::EthType, 0x800),
                    exact(Field::IpProto, 6),
                    exact(Field::Ipv4Src, 0xac10_0000 | hi << 8 | lo),
                    exact(Field::TcpDst, (i % 60000 + 1) as u128),
                ]),
                instructions: out(2),
                ..FlowSpec::default()
            },
            2 => FlowSpec {
                priority: 300 + (i % 20) as u16,
                matcher: m(&[
                    exact(Field::InPort, 1),
                    exact(Field::EthType, 0x800),
                    exact(Field::IpProto, 17),
                    exact(Field::Ipv4Dst, 0xc0a8_0000 | hi << 8 | lo),
                    exact(Field::UdpDst, (i % 60000 + 1) as u128),
                ]),
                instructions: vec![],
                ..FlowSpec::default()
            },
            _ => FlowSpec {
                priority: 10 + (i % 5) as u16,
                matcher: m(&[exact(Field::EthDst, 0x0200_0000_0000 | i as u128)]),
                instructions: vec![Instruction::Apply(vec![Action::Output(OutPort::Normal)])],
                ..FlowSpec::default()
            },
        };
        p.add(spec, 4, 0).expect("valid flow");
    }
    p.add(
        FlowSpec {
            priority: 0,
            instructions: vec![Instruction::Apply(vec![Action::Output(OutPort::Normal)])],
            ..FlowSpec::default()
        },
        4,
        0,
    )
    .expect("catch-all");
    p
}

fn ipv4(dst_mac: u64, src_mac: u64, proto: u8, src: u32, dst: u32, dport: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst_mac.to_be_bytes()[2..]);
    f.extend_from_slice(&src_mac.to_be_bytes()[2..]);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.resize(64, 0);
    f
}

/// 1,024 packets: a quarter to each kind of flow.
fn traffic() -> Vec<(PortId, Vec<u8>)> {
    (0..1024u32)
        .map(|n| {
            let i = n * 9 % 10_000;
            let (hi, lo) = ((i >> 8) & 255, i & 255);
            let (a, b) = (0x0200_0000_1001u64, 0x0200_0000_1002u64);
            match n % 4 {
                0 => (
                    PortId(0),
                    ipv4(
                        b,
                        a,
                        6,
                        0x0a63_0001,
                        0x0a00_0000 | hi << 16 | lo << 8 | 7,
                        80,
                    ),
                ),
                1 => (
                    PortId(0),
                    ipv4(
                        b,
                        a,
                        6,
                        0xac10_0000 | hi << 8 | lo,
                        0x0b00_0001,
                        (i % 60000 + 1) as u16,
                    ),
                ),
                2 => (
                    PortId(0),
                    ipv4(
                        b,
                        a,
                        17,
                        0x0b00_0002,
                        0xc0a8_0000 | hi << 8 | lo,
                        (i % 60000 + 1) as u16,
                    ),
                ),
                _ => (
                    PortId(1),
                    ipv4(
                        0x0200_0000_0000 | i as u64,
                        b,
                        6,
                        0x0b00_0003,
                        0x0b00_0004,
                        443,
                    ),
                ),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion, name: &str, mut sw: Switch) {
    sw.set_pipeline(Arc::new(flows()));
    let frames = traffic();
    let mut out = Vec::with_capacity(64);
    // The mix hits what it means to: kind 0 to port 1, kind 1 to port 2,
    // kind 2 dropped by its flow, kind 3 to NORMAL (flooded: unknown MACs).
    for (n, (p, f)) in frames.iter().enumerate() {
        let r = sw.process(*p, f, 0, &mut out);
        let ports: Vec<u16> = out.iter().map(|e| e.port.0).collect();
        match n % 4 {
            0 => assert_eq!(ports, [1], "packet {n}"),
            1 => assert_eq!(ports, [2], "packet {n}"),
            2 => assert_eq!(r, Err(vepa_dataplane::DropReason::FlowDrop), "packet {n}"),
            _ => assert_eq!(ports.len(), 3, "packet {n}"),
        }
    }
    let mut g = c.benchmark_group("flows");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(name, |b| {
        b.iter_batched(
            || (),
            |_| {
                for i in 0..BATCH {
                    let (p, f) = &frames[i % frames.len()];
                    let _ = black_box(sw.process(*p, black_box(f), 1, &mut out));
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn cached(c: &mut Criterion) {
    bench(c, "flows_10k_cached", switch());
}

fn uncached(c: &mut Criterion) {
    bench(c, "flows_10k_uncached", switch().without_cache());
}

criterion_group!(benches, cached, uncached);
criterion_main!(benches);
