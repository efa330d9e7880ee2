//! `vepa doctor`: features tried for real; the table and JSON agree; nothing left behind.

use std::process::Command;
use vepa_itest::{require_root, vepa_bin};

/// Names the doctor gives its devices, which must never show up here.
const DOCTOR_DEVICES: [&str; 7] = ["dveth0", "dveth1", "dv1a", "dbr", "dvx", "dtap0", "dmvt"];

#[test]
fn doctor_tries_each_feature_and_both_outputs_agree() {
    require_root();
    let json = Command::new(vepa_bin())
        .args(["doctor", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let table = Command::new(vepa_bin()).arg("doctor").output().unwrap();
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let features = report["features"].as_array().expect("features");
    let available = |name: &str| -> bool {
        features
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {report}"))["available"]
            .as_bool()
            .unwrap_or(false)
    };
    // What this machine's kernel has and lacks (the issue states it).
    for mode in ["bridge", "vepa", "private", "passthru", "source"] {
        assert!(available(&format!("macvlan {mode}")), "macvlan {mode}");
    }
    assert!(available("veth") && available("macvtap") && available("bridge hairpin"));
    assert!(!available("ipvlan"), "ipvlan is absent here");
    assert!(
        available("tcx"),
        "tcx (Linux 6.6+) keeps persistent tun devices' namespaces out"
    );
    let ipvlan = features
        .iter()
        .find(|f| f["name"] == "ipvlan")
        .expect("ipvlan row");
    assert!(
        ipvlan["vepa_uses"]
            .as_str()
            .is_some_and(|u| u.contains("kind = \"ipvlan\"") && u.contains("userspace dataplane")),
        "the ipvlan row says what provides it: {ipvlan}"
    );
    assert!(!available("802.1q"), "802.1Q is absent here");
    // Every JSON feature is a table row with the same verdict, and back.
    assert!(table.starts_with(&format!("kernel {}", report["kernel"].as_str().unwrap())));
    for f in features {
        let name = f["name"].as_str().unwrap();
        let verdict = if f["available"].as_bool().unwrap() {
            "yes"
        } else {
            "no"
        };
        let row = table
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        assert_eq!(
            row[name.len()..].split_whitespace().next(),
            Some(verdict),
            "{row}"
        );
        assert!(row.contains(f["vepa_uses"].as_str().unwrap()), "{row}");
    }
    // After the feature rows come the NIC lines ("nic eth0: driver ...").
    let nic_line = |l: &str| l.starts_with("no physical") || l.contains(": driver ");
    let rows = table.lines().skip(2).take_while(|l| !nic_line(l)).count();
    assert_eq!(
        rows,
        features.len(),
        "as many rows as JSON features:\n{table}"
    );
    for d in DOCTOR_DEVICES {
        assert!(!vepa_itest::link_exists(d), "{d} left in vepa's namespace");
    }
}
