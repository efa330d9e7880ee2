//! The fuzz targets' bodies on stable: every seed, every input a fuzzer
//! once crashed with (`fuzz/regressions/TARGET/`), and random bytes as
//! proptests, short. The long runs are `scripts/fuzz.sh` on nightly.

use proptest::prelude::*;
use std::path::Path;

type Body = fn(&[u8]);

const TARGETS: [(&str, Body); 9] = [
    ("gso_segment", vepa_fuzz_bodies::gso_segment),
    ("flow_key", vepa_fuzz_bodies::flow_key),
    ("vhost_user_ring", vepa_fuzz_bodies::vhost_user_ring),
    ("vxlan_receive", vepa_fuzz_bodies::vxlan_receive),
    ("openflow_decode", vepa_fuzz_bodies::openflow_decode),
    ("flow_text", vepa_fuzz_bodies::flow_text),
    ("topology", vepa_fuzz_bodies::topology),
    ("etcd_record", vepa_fuzz_bodies::etcd_record),
    ("cni_config", vepa_fuzz_bodies::cni_config),
];

fn inputs(dir: &str, target: &str) -> Vec<Vec<u8>> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&d) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

#[test]
fn every_seed_and_every_past_crash_runs_clean() {
    let mut seeds = 0;
    for (target, body) in TARGETS {
        let s = inputs("seeds", target);
        assert!(!s.is_empty(), "fuzz/seeds/{target} has inputs");
        seeds += s.len();
        for input in s.iter().chain(&inputs("regressions", target)) {
            body(input);
        }
    }
    assert!(seeds >= TARGETS.len());
}

/// A seed with some bytes changed: random bytes alone rarely get past
/// the first header check.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = inputs("seeds", target);
    (
        0..seeds.len().max(1),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        0usize..4096,
    )
        .prop_map(move |(i, edits, cut)| {
            let mut s = seeds.get(i).cloned().unwrap_or_default();
            for (at, b) in edits {
                if !s.is_empty() {
                    let k = at.index(s.len());
                    s[k] = b;
                }
            }
            if cut > 0 && cut < s.len() {
                s.truncate(s.len() - cut);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..512), t in 0usize..9) {
        (TARGETS[t].1)(&data);
    }

    #[test]
    fn mutated_gso(data in mutated("gso_segment")) { vepa_fuzz_bodies::gso_segment(&data) }
    #[test]
    fn mutated_flow_key(data in mutated("flow_key")) { vepa_fuzz_bodies::flow_key(&data) }
    #[test]
    fn mutated_vhost_user(data in mutated("vhost_user_ring")) { vepa_fuzz_bodies::vhost_user_ring(&data) }
    #[test]
    fn mutated_vxlan(data in mutated("vxlan_receive")) { vepa_fuzz_bodies::vxlan_receive(&data) }
    #[test]
    fn mutated_openflow(data in mutated("openflow_decode")) { vepa_fuzz_bodies::openflow_decode(&data) }
    #[test]
    fn mutated_flow_text(data in mutated("flow_text")) { vepa_fuzz_bodies::flow_text(&data) }
    #[test]
    fn mutated_topology(data in mutated("topology")) { vepa_fuzz_bodies::topology(&data) }
    #[test]
    fn mutated_etcd_record(data in mutated("etcd_record")) { vepa_fuzz_bodies::etcd_record(&data) }
    #[test]
    fn mutated_cni_config(data in mutated("cni_config")) { vepa_fuzz_bodies::cni_config(&data) }
}
