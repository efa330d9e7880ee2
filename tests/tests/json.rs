//! `-j/--json` on every command: each leaf of the command tree (read from
//! the man pages the build ships, so a new command cannot be missed) is run
//! with `-j` against a daemon, and its stdout must be one JSON document —
//! a result, or `{"error", "exit"}` when the command fails. Commands that
//! stream or run in the foreground refuse `-j` as a usage error (exit 2).

use std::collections::BTreeSet;
use std::process::Command;
use vepa_itest::daemon::Daemon;
use vepa_itest::{require_root, uid, Netns};

#[test]
fn every_command_answers_json_under_j() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("jn{id}"));
    let mut d = Daemon::start();
    let (sw, sw2) = (format!("j{id}"), format!("jx{id}"));
    let (p, t, mon) = (format!("jp{id}"), format!("jt{id}"), format!("jm{id}"));
    d.links = vec![p.clone(), t.clone(), mon.clone(), format!("jq{id}")];
    let sp = format!("{sw}/{p}");
    let topo = d.dir.path().join("t.toml");
    let topo_s = topo.to_str().expect("path").to_string();
    let mac = "02:00:00:00:00:42";
    let router = format!("jr{id}");
    // Each leaf command (its man page's name) and the runs it gets, in
    // order: what one adds, a later one shows, changes and removes.
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("switch-add", vec!["switch", "add", &sw, "--mode", "veb"]),
        ("switch-add", vec!["switch", "add", &sw2]),
        ("switch-set", vec!["switch", "set", &sw2, "--mode", "vepa"]),
        ("switch-show", vec!["switch", "show"]),
        (
            "port-add",
            vec![
                "port",
                "add",
                &sp,
                "--type",
                "veth",
                "--netns",
                &ns.name,
                "--address",
                "10.48.0.1/24",
            ],
        ),
        ("port-add", vec!["port", "add", &sw, &t, "--type", "tap"]),
        (
            "port-add",
            vec![
                "port",
                "add",
                &format!("{sw}/{mon}"),
                "--type",
                "veth",
                "--peer-name",
                &format!("jq{id}"),
            ],
        ),
        ("port-set", vec!["port", "set", &sp, "--mac-limit", "9"]),
        ("port-show", vec!["port", "show", &sp]),
        ("port-show", vec!["port", "show"]),
        ("fdb-add", vec!["fdb", "add", &sw, mac, "--port", &p]),
        ("fdb-show", vec!["fdb", "show", &sw]),
        ("mdb-show", vec!["mdb", "show", &sw]),
        ("fdb-del", vec!["fdb", "del", &sw, mac]),
        ("fdb-flush", vec!["fdb", "flush", &sw]),
        (
            "flow-add",
            vec!["flow", "add", &sw, "priority=5,arp,actions=normal"],
        ),
        (
            "flow-mod",
            vec!["flow", "mod", &sw, "priority=5,arp,actions=normal"],
        ),
        ("flow-dump", vec!["flow", "dump", &sw]),
        ("flow-del", vec!["flow", "del", &sw]),
        (
            "group-add",
            vec!["group", "add", &sw, "group_id=1,type=all,bucket=output:1"],
        ),
        (
            "group-mod",
            vec!["group", "mod", &sw, "group_id=1,type=all,bucket=output:2"],
        ),
        ("group-dump", vec!["group", "dump", &sw]),
        ("group-del", vec!["group", "del", &sw]),
        ("router-add", vec!["router", "add", &router]),
        (
            "router-port-add",
            vec![
                "router",
                "port",
                "add",
                &router,
                "a",
                "--switch",
                &sw2,
                "--address",
                "10.49.0.1/24",
            ],
        ),
        (
            "route-add",
            vec![
                "route",
                "add",
                &router,
                "10.50.0.0/16",
                "--via",
                "10.49.0.254",
            ],
        ),
        ("route-show", vec!["route", "show", &router]),
        ("router-show", vec!["router", "show", &router]),
        ("router-flush", vec!["router", "flush", &router]),
        ("route-del", vec!["route", "del", &router, "10.50.0.0/16"]),
        (
            "router-port-del",
            vec!["router", "port", "del", &router, "a"],
        ),
        ("router-del", vec!["router", "del", &router]),
        (
            "acl-add",
            vec![
                "acl",
                "add",
                "jacl",
                "--port",
                &sp,
                "allow state established",
                "drop icmp",
            ],
        ),
        ("acl-show", vec!["acl", "show"]),
        ("conntrack-show", vec!["conntrack", "show", "--port", &sp]),
        ("conntrack-flush", vec!["conntrack", "flush"]),
        ("acl-del", vec!["acl", "del", "jacl"]),
        (
            "mirror-add",
            vec![
                "mirror",
                "add",
                &sw,
                "m1",
                "--select",
                &p,
                "--output-port",
                &mon,
            ],
        ),
        ("mirror-show", vec!["mirror", "show"]),
        ("mirror-del", vec!["mirror", "del", &sw, "m1"]),
        (
            "ipfix-set",
            vec!["ipfix", "set", &sw, "--collector", "127.0.0.1:4739"],
        ),
        ("ipfix-show", vec!["ipfix", "show"]),
        ("ipfix-del", vec!["ipfix", "del", &sw]),
        ("stats", vec!["stats"]),
        ("trace", vec!["trace", &sp, "icmp,nw_dst=10.48.0.9"]),
        ("tunnel-show", vec!["tunnel", "show"]),
        ("hosts-show", vec!["hosts", "show"]),
        ("lldp-show", vec!["lldp", "show"]),
        ("vdp-show", vec!["vdp", "show"]),
        ("relay-probe", vec!["relay", "probe", &sw]),
        ("log-level", vec!["log", "level"]),
        ("log-level", vec!["log", "level", "vepa=info,warn"]),
        ("vm-args", vec!["vm-args", &format!("{sw}/{t}")]),
        ("libvirt-xml", vec!["libvirt-xml", &format!("{sw}/{t}")]),
        ("export", vec!["export"]),
        ("graph", vec!["graph"]),
        ("validate", vec!["validate", "-f", &topo_s]),
        ("apply", vec!["apply", "-f", &topo_s, "--dry-run"]),
        ("apply", vec!["apply", "-f", &topo_s]),
        ("doctor", vec!["doctor"]),
        ("nic-show", vec!["nic", "show"]),
        (
            "nic-set",
            vec!["nic", "set", "nosuchnic0", "hwmode", "vepa"],
        ),
        (
            "nic-sriov",
            vec!["nic", "sriov", "nosuchnic0", "numvfs", "0"],
        ),
        ("nic-vf", vec!["nic", "vf", "nosuchnic0", "0"]),
        ("port-del", vec!["port", "del", &sw, &t]),
        ("port-del", vec!["port", "del", &sp]),
        ("switch-del", vec!["switch", "del", &sw2]),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.into_iter().map(String::from).collect()))
    .collect();
    // Streaming and foreground commands: -j is a usage error.
    let refused: Vec<(&str, Vec<&str>)> = vec![
        ("capture", vec!["capture", &sp]),
        ("completions", vec!["completions", "bash"]),
        ("daemon", vec!["daemon"]),
        ("demo", vec!["demo"]),
        ("man", vec!["man", "--dir", "/tmp"]),
        ("run", vec!["run", "-f", &topo_s]),
        ("top", vec!["top"]),
    ];

    let mut leaves: BTreeSet<String> = BTreeSet::new();
    let man = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/man");
    let names: Vec<String> = std::fs::read_dir(&man)
        .expect("dist/man")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            Some(n.strip_prefix("vepa-")?.strip_suffix(".1")?.to_string())
        })
        .collect();
    for n in &names {
        if !names.iter().any(|m| m.starts_with(&format!("{n}-"))) {
            leaves.insert(n.clone());
        }
    }
    let covered: BTreeSet<String> = runs
        .iter()
        .map(|(k, _)| k.to_string())
        .chain(refused.iter().map(|(k, _)| k.to_string()))
        .collect();
    assert_eq!(covered, leaves, "every leaf command is run under -j here");

    let mut failures = Vec::new();
    for (leaf, args) in &runs {
        if *leaf == "validate" {
            // The file `export` wrote: the daemon's own state.
            let out = d.ok(&["export"]);
            std::fs::write(&topo, out).expect("write topology");
        }
        let out = Command::new(vepa_itest::vepa_bin())
            .arg("--socket")
            .arg(&d.socket)
            .arg("-j")
            .args(args)
            .output()
            .expect("vepa");
        let text = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => {
                let failed = !out.status.success();
                // `relay probe` answers, then exits 1 when nothing reflects.
                if failed != v.get("error").is_some() && *leaf != "relay-probe" {
                    failures.push(format!("{args:?}: exit {:?} but {v}", out.status.code()));
                }
                let expected_failure = leaf.starts_with("nic-") && *leaf != "nic-show"
                    || *leaf == "relay-probe"
                    || *leaf == "hosts-show";
                if failed && !expected_failure {
                    failures.push(format!(
                        "{args:?} failed: {v}; {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "{args:?}: not JSON ({e}): {text:?}; stderr {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    for (_, args) in &refused {
        let out = Command::new(vepa_itest::vepa_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .arg("--json")
            .output()
            .expect("vepa");
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !err.contains("-j/--json") {
            failures.push(format!("{args:?} --json: {:?} {err}", out.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The old ways of naming a port still work: SWITCH PORT, and PORT alone.
    d.ok(&[
        "port", "add", &sw, &p, "--type", "veth", "--netns", &ns.name,
    ]);
    d.ok(&["port", "set", &sw, &p, "--mode", "veb"]);
    d.ok(&["port", "set", &p, "--mac-limit", "7"]);
    let v = d.json(&["port", "show", &sp]);
    assert_eq!(v["spec"]["mac_limit"], 7, "{v}");
    // Enumerations are listed in --help and refused otherwise, exit 2.
    let help = Command::new(vepa_itest::vepa_bin())
        .args(["port", "add", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for listed in ["veth", "vhost-user", "possible values"] {
        assert!(
            help.contains(listed),
            "port add --help lacks {listed}: {help}"
        );
    }
    let bad = d.cli(&["port", "set", &sp, "--relay", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
}
