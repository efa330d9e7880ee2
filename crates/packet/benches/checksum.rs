//! The one's-complement sum over a TSO-sized payload (what a frame bound
//! for a VXLAN tunnel or a port without offloads pays once per frame) and
//! over a small one.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use vepa_packet::checksum::{finish, sum_words};

fn sums(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [64usize, 1500, 65_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("sum_words {len} B"), |b| {
            b.iter(|| finish(sum_words(0, black_box(&data))))
        });
    }
    g.finish();
}

criterion_group!(benches, sums);
criterion_main!(benches);
