//! Memory at scale: one switch with 100 ports (taps) and 10,000 learned
//! MACs stays under 64 MiB of resident memory.

use vepa_itest::{counter, require_root, send_frames, uid, Netns, Vepa};
use vepa_packet::MacAddr;

fn frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&[0x88, 0xb5]); // local experimental EtherType
    f.resize(60, 0);
    f
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn hundred_ports_and_ten_thousand_macs_fit_in_64_mib() {
    require_root();
    let id = uid();
    let t = Netns::new(&format!("sc{id}"));
    let names: Vec<String> = (0..100).map(|i| format!("m{id}t{i}")).collect();
    let mut topo = String::from("[[switch]]\nname = \"s\"\n");
    for n in &names {
        topo.push_str(&format!(
            "[[switch.port]]\nname = \"{n}\"\ntype = \"tap\"\nnetns = \"{}\"\n",
            t.name
        ));
    }
    let vepa = Vepa::start(&topo, &[]);
    let base = rss_kib(vepa.pid());

    // Port 0 owns the destination; ports 1..=99 each bring 102 sources.
    let dst = MacAddr([0x02, 0xaa, 0, 0, 0, 1]);
    send_frames(&t.name, &names[0], vec![frame(MacAddr::BROADCAST, dst)]);
    for (p, name) in names.iter().enumerate().skip(1) {
        let frames = (0..102u32)
            .map(|k| {
                frame(
                    dst,
                    MacAddr([0x02, 0xbb, p as u8, 0, (k >> 8) as u8, k as u8]),
                )
            })
            .collect();
        send_frames(&t.name, name, frames);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let rss = rss_kib(vepa.pid());
    let stats = vepa.stop();
    let fdb = stats["switches"][0]["fdb_entries"].as_u64().unwrap_or(0);
    assert!(fdb >= 10_000, "learned {fdb} MACs: {stats}");
    assert!(counter(&stats, "s", &names[0], "tx_frames") >= 10_000);
    assert!(
        rss < 64 * 1024,
        "RSS {rss} KiB with 100 ports and {fdb} MACs (at start {base} KiB)"
    );
    eprintln!("RSS: {base} KiB at start, {rss} KiB with 100 ports and {fdb} MACs");
}
