//! `vepa top` driven as a person would, in tmux: its figures for a running
//! iperf3 flow within 10% of what iperf3 itself reports, keys that sort,
//! `q` that quits.

use std::process::Command;
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::{iperf3, ping, require_root, uid, vepa_bin, Netns};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A rate as `vepa top` prints it (1.5k, 940.2M) in bit/s.
fn rate(s: &str) -> Option<f64> {
    let (num, mul) = match s.chars().last()? {
        'G' => (&s[..s.len() - 1], 1e9),
        'M' => (&s[..s.len() - 1], 1e6),
        'k' => (&s[..s.len() - 1], 1e3),
        _ => (s, 1.0),
    };
    num.parse::<f64>().ok().map(|v| v * mul)
}

#[test]
fn top_shows_a_flows_rate_within_ten_percent_of_iperf3() {
    require_root();
    let id = uid();
    let (a, b) = (
        Netns::new(&format!("toa{id}")),
        Netns::new(&format!("tob{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("to{id}");
    let (pa, pb) = (format!("ta{id}"), format!("tb{id}"));
    d.links = vec![pa.clone(), pb.clone()];
    d.ok(&["switch", "add", &sw]);
    for (p, ns, ip) in [(&pa, &a, "10.34.0.1/24"), (&pb, &b, "10.34.0.2/24")] {
        d.ok(&[
            "port",
            "add",
            &sw,
            p,
            "--type",
            "veth",
            "--netns",
            &ns.name,
            "--address",
            ip,
        ]);
    }
    assert!(ping(&a.name, "10.34.0.2"));
    let session = format!("vepatop{id}");
    let cmd = format!(
        "{} --socket {} top --interval 1",
        vepa_bin().display(),
        d.socket.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "40",
        &cmd,
    ]);
    // A steady flow: paced TCP, 8 s.
    let (an, bn) = (a.name.clone(), b.name.clone());
    let flow =
        std::thread::spawn(move || iperf3(&an, &bn, "10.34.0.2", &["-t", "8", "-b", "300M"]));
    // Read the pane mid-flow, a few times.
    std::thread::sleep(Duration::from_secs(3));
    let mut seen = Vec::new();
    let mut pane = String::new();
    for _ in 0..4 {
        pane = tmux(&["capture-pane", "-p", "-t", &session]);
        let row = pane.lines().find(|l| l.starts_with(&format!("{sw}/{pa} ")));
        if let Some(v) = row.and_then(|l| l.split_whitespace().nth(3)).and_then(rate) {
            seen.push(v);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let report = flow.join().expect("iperf3 thread");
    let sent = report["end"]["sum_sent"]["bits_per_second"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(sent > 1e6, "iperf3 ran: {report}");
    seen.sort_by(f64::total_cmp);
    assert!(!seen.is_empty(), "no row for {sw}/{pa} in:\n{pane}");
    let median = seen[seen.len() / 2];
    eprintln!("vepa top: {seen:?} bit/s; iperf3: {sent:.0} bit/s");
    let off = (median - sent).abs() / sent;
    assert!(
        off <= 0.10,
        "vepa top's rx bit/s on the sender's port {median:.0} vs iperf3's {sent:.0} ({:.1}% off; samples {seen:?}):\n{pane}",
        off * 100.0
    );
    assert!(pane.contains("worker 0: busy"), "{pane}");
    // Keys: sort by name, then quit.
    tmux(&["send-keys", "-t", &session, "n"]);
    std::thread::sleep(Duration::from_millis(1500));
    let pane = tmux(&["capture-pane", "-p", "-t", &session]);
    assert!(pane.contains("(sorted by name)"), "{pane}");
    tmux(&["send-keys", "-t", &session, "q"]);
    std::thread::sleep(Duration::from_millis(800));
    let alive = Command::new("tmux")
        .args(["has-session", "-t", &session])
        .status()
        .is_ok_and(|s| s.success());
    if alive {
        tmux(&["kill-session", "-t", &session]);
    }
    assert!(!alive, "q did not quit vepa top");
}
