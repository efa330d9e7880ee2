//! The CLI's exit codes, each produced for real: scripts tell a typo from
//! a daemon that is down, a missing switch and a refused change.

use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, uid, vepa_bin};

fn code(d: &Daemon, args: &[&str]) -> Option<i32> {
    d.cli(args).status.code()
}

#[test]
fn each_kind_of_failure_has_its_own_exit_code() {
    require_root();
    let d = Daemon::start();
    let sw = format!("x{}", uid());
    d.ok(&["switch", "add", &sw]);
    // 2: usage (clap), before anything is asked.
    assert_eq!(code(&d, &["switch", "add"]), Some(2));
    assert_eq!(
        code(&d, &["port", "set", &sw, "p", "--relay", "sometimes"]),
        Some(2)
    );
    // 3: no daemon answers.
    let gone = std::process::Command::new(vepa_bin())
        .args(["--socket", "/nonexistent/vepa.sock", "switch", "show"])
        .output()
        .expect("run vepa");
    assert_eq!(gone.status.code(), Some(3), "{gone:?}");
    // 4: what was named is not there.
    assert_eq!(code(&d, &["switch", "show", "nosuch"]), Some(4));
    assert_eq!(code(&d, &["relay", "probe", "nosuch"]), Some(4));
    // 5: the daemon refuses (a conflict, an invalid change).
    assert_eq!(code(&d, &["switch", "add", &sw]), Some(5));
    assert_eq!(
        code(
            &d,
            &["switch", "set", &sw, "--relay-required", "fallback-veb"]
        ),
        Some(5),
        "a relay policy on a switch without an uplink"
    );
    // A mode is one of the listed values: a usage error, before any request.
    assert_eq!(
        code(&d, &["switch", "set", &sw, "--mode", "hairpin"]),
        Some(2)
    );
    assert_eq!(
        code(&d, &["relay", "probe", &sw]),
        Some(5),
        "no uplink to probe"
    );
    // 1: anything else (here a file that cannot be read).
    assert_eq!(
        code(&d, &["apply", "-f", "/nonexistent/topology.toml"]),
        Some(1)
    );
    d.ok(&["switch", "del", &sw]);
}

#[test]
fn the_log_filter_changes_without_a_restart() {
    require_root();
    let d = Daemon::start();
    let before = d.json(&["log", "level"]);
    assert!(
        before["filter"].as_str().is_some_and(|f| !f.is_empty()),
        "{before}"
    );
    // Errors only: the daemon's own "log filter changed" (info) is not written.
    d.ok(&["log", "level", "error"]);
    assert!(
        !d.log().contains("filter=error"),
        "an info line passed an error filter"
    );
    // Info again: it is.
    assert_eq!(d.json(&["log", "level", "info"])["filter"], "info");
    let start = std::time::Instant::now();
    while !d.log().contains("filter=info") {
        assert!(
            start.elapsed().as_secs() < 5,
            "no info line after `log level info`"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A filter the daemon cannot read is refused (5), naming the field.
    let out = d.cli(&["log", "level", "vepa=loud"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("field 'filter'"));
    assert_eq!(d.json(&["log", "level"])["filter"], "info", "unchanged");
}
