//! The forwarding decision alone, no I/O: how many frames per second one
//! core can switch, with the decision cache (the default) and without.
//! Run with `cargo bench -p vepa-dataplane`; throughput is reported in
//! elements (frames) per second.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vepa_dataplane::{
    Egress, PortConfig, PortId, PortMode, PortRole, Switch, SwitchConfig, VlanMode,
};
use vepa_packet::MacAddr;

const BATCH: usize = 1024;

fn mac(n: u32) -> MacAddr {
    MacAddr::local_from_seed(n)
}

fn frame(dst: MacAddr, src: MacAddr, tag: Option<u16>) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    if let Some(v) = tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(60, 0);
    f
}

fn switch(mode: PortMode, downlinks: usize, uplink: Option<VlanMode>, access: u16) -> Switch {
    let mut ports = Vec::new();
    if let Some(v) = uplink {
        let mut p = PortConfig::new("up", PortRole::Uplink);
        p.vlan = v;
        ports.push(p);
    }
    for i in 0..downlinks {
        let mut p = PortConfig::new(format!("vm{i}"), PortRole::Downlink(mode));
        p.vlan = VlanMode::Access { vid: access };
        ports.push(p);
    }
    Switch::new(SwitchConfig::new("bench", ports)).expect("valid")
}

/// Runs `frames` (ingress port, bytes) through `sw` round after round.
fn bench_frames(c: &mut Criterion, name: &str, mut sw: Switch, frames: Vec<(PortId, Vec<u8>)>) {
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut out: Vec<Egress> = Vec::with_capacity(64);
    // Warm the FDB.
    for (p, f) in &frames {
        let _ = sw.process(*p, f, 0, &mut out);
    }
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

fn known_unicast(c: &mut Criterion) {
    // Two VMs talking on a veb switch: every frame is a hit in the FDB.
    let sw = switch(PortMode::Veb, 2, None, 1);
    let frames = vec![
        (PortId(0), frame(mac(2), mac(1), None)),
        (PortId(1), frame(mac(1), mac(2), None)),
    ];
    bench_frames(c, "l2_known_unicast", sw, frames);
}

fn known_unicast_uncached(c: &mut Criterion) {
    // The same, with the decision cache off: the full pipeline every frame.
    let sw = switch(PortMode::Veb, 2, None, 1).without_cache();
    let frames = vec![
        (PortId(0), frame(mac(2), mac(1), None)),
        (PortId(1), frame(mac(1), mac(2), None)),
    ];
    bench_frames(c, "l2_known_unicast_uncached", sw, frames);
}

fn known_unicast_many_macs(c: &mut Criterion) {
    // 10k learned MACs behind the uplink, traffic to all of them.
    let sw = switch(PortMode::Vepa, 2, Some(VlanMode::default()), 1);
    let mut frames = Vec::new();
    for i in 0..10_000u32 {
        frames.push((PortId(0), frame(mac(1), mac(1000 + i), None)));
        frames.push((PortId(1), frame(mac(1000 + i), mac(1), None)));
    }
    bench_frames(c, "l2_known_unicast_10k_macs", sw, frames);
}

fn flood(c: &mut Criterion) {
    // Broadcasts on an 8-port veb switch: seven copies each.
    let sw = switch(PortMode::Veb, 8, None, 1);
    let frames = (0..8)
        .map(|i| {
            (
                PortId(i),
                frame(MacAddr::BROADCAST, mac(i as u32 + 1), None),
            )
        })
        .collect();
    bench_frames(c, "flood_8_ports", sw, frames);
}

fn vlan(c: &mut Criterion) {
    // Tagged from a trunk uplink to access ports and back, retag decisions included.
    let trunk = VlanMode::Trunk {
        allowed: [10u16, 20].into_iter().collect(),
        native: None,
    };
    let sw = switch(PortMode::Veb, 2, Some(trunk), 10);
    let frames = vec![
        (PortId(0), frame(mac(2), mac(9), Some(10))),
        (PortId(1), frame(mac(9), mac(1), None)),
        (PortId(2), frame(mac(9), mac(2), None)),
    ];
    bench_frames(c, "vlan_trunk_to_access", sw, frames);
}

fn vepa_reflection(c: &mut Criterion) {
    // The reflected half of VEPA traffic: from the uplink, source a local VM.
    let sw = switch(PortMode::Vepa, 2, Some(VlanMode::default()), 1);
    let frames = vec![
        (PortId(1), frame(mac(2), mac(1), None)),
        (PortId(2), frame(mac(1), mac(2), None)),
        (PortId(0), frame(mac(2), mac(1), None)),
        (PortId(0), frame(mac(1), mac(2), None)),
    ];
    bench_frames(c, "vepa_with_reflection", sw, frames);
}

criterion_group!(
    benches,
    known_unicast,
    known_unicast_uncached,
    known_unicast_many_macs,
    flood,
    vlan,
    vepa_reflection
);
criterion_main!(benches);
