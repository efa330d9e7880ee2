//! SIGKILL at many points during a stream of API changes: after every
//! restart each acknowledged change is there, the one in flight is there
//! whole or not at all, the host matches the store, and traffic flows as
//! the stored state says.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::{link_exists, ping, require_root, uid, vepa_bin, wait_reachable, Netns, Rng};

const KILLS: usize = 56;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    extra: BTreeSet<String>,
    vlan2: u64,
    fdb: BTreeSet<String>,
    ageing: u64,
}

#[derive(Debug, Clone)]
enum Op {
    AddPort(String),
    DelPort(String),
    Vlan(u64),
    Fdb(String),
    Ageing(u64),
}

impl Op {
    fn apply(&self, m: &Model) -> Model {
        let mut m = m.clone();
        match self {
            Op::AddPort(p) => {
                m.extra.insert(p.clone());
            }
            Op::DelPort(p) => {
                m.extra.remove(p);
            }
            Op::Vlan(v) => m.vlan2 = *v,
            Op::Fdb(mac) => {
                m.fdb.insert(mac.clone());
            }
            Op::Ageing(a) => m.ageing = *a,
        }
        m
    }
}

/// The model as the daemon reports its stored state.
fn observed(d: &Daemon, sw: &str, fixed: &[&str], p2: &str) -> Model {
    let t = d.topology();
    let s = t["switch"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == sw))
        .cloned()
        .unwrap_or_else(|| panic!("switch {sw} missing: {t}"));
    let ports = s["port"].as_array().cloned().unwrap_or_default();
    Model {
        extra: ports
            .iter()
            .filter_map(|p| p["name"].as_str())
            .filter(|n| !fixed.contains(n))
            .map(str::to_string)
            .collect(),
        vlan2: ports
            .iter()
            .find(|p| p["name"] == p2)
            .and_then(|p| p["vlan"].as_u64())
            .unwrap_or(1),
        fdb: s["static_fdb"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["mac"].as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        ageing: s["ageing_secs"].as_u64().unwrap_or(300),
    }
}

#[test]
fn sigkill_during_api_changes_keeps_exactly_what_was_acknowledged() {
    require_root();
    let id = uid();
    let (vm1, vm2, vm3) = (
        Netns::new(&format!("dka{id}")),
        Netns::new(&format!("dkb{id}")),
        Netns::new(&format!("dkc{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("k{id}");
    let (p1, p2, p3) = (format!("k1{id}"), format!("k2{id}"), format!("k3{id}"));
    d.links = vec![p1.clone(), p2.clone()];
    d.ok(&["switch", "add", &sw]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &p1,
        "--type",
        "veth",
        "--netns",
        &vm1.name,
        "--address",
        "10.63.0.1/24",
    ]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &p2,
        "--type",
        "veth",
        "--netns",
        &vm2.name,
        "--address",
        "10.63.0.2/24",
    ]);
    // A tap dies with the daemon; every start makes it again (same MAC).
    d.ok(&[
        "port",
        "add",
        &sw,
        &p3,
        "--type",
        "tap",
        "--netns",
        &vm3.name,
        "--address",
        "10.63.0.3/24",
    ]);
    assert!(wait_reachable(&vm1.name, "10.63.0.2"));
    assert!(wait_reachable(&vm1.name, "10.63.0.3"));
    let fixed = [p1.as_str(), p2.as_str(), p3.as_str()];
    let mut model = observed(&d, &sw, &fixed, &p2);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_nanos() as u64 | 1)
        .unwrap_or(0x9e37_79b9);
    eprintln!("durability seed {seed:#x}");
    let mut rng = Rng(seed);
    let mut every_port: BTreeSet<String> = BTreeSet::new();
    let (mut mid_request, mut after_ack, mut landed) = (0, 0, 0);
    let started = Instant::now();
    for i in 0..KILLS {
        let op = match (i % 5, model.extra.iter().next().cloned()) {
            (0 | 3, _) => {
                let name = format!("q{id}{i:x}");
                every_port.insert(name.clone());
                d.links.push(name.clone());
                Op::AddPort(name)
            }
            (4, Some(p)) => Op::DelPort(p),
            (1, _) => Op::Vlan(1 + rng.next() % 2),
            (2, _) => Op::Fdb(format!("02:00:00:00:{:02x}:{:02x}", i, rng.next() % 256)),
            _ => Op::Ageing(60 + rng.next() % 600),
        };
        let args: Vec<String> = match &op {
            Op::AddPort(p) => vec![
                "port",
                "add",
                &sw,
                p,
                "--type",
                "veth",
                "--peer-name",
                &format!("r{}", &p[1..]),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            Op::DelPort(p) => vec!["port".into(), "del".into(), sw.clone(), p.clone()],
            Op::Vlan(v) => vec![
                "port".into(),
                "set".into(),
                sw.clone(),
                p2.clone(),
                "--vlan".into(),
                v.to_string(),
            ],
            Op::Fdb(mac) => vec![
                "fdb".into(),
                "add".into(),
                sw.clone(),
                mac.clone(),
                "--port".into(),
                p1.clone(),
            ],
            Op::Ageing(a) => vec![
                "switch".into(),
                "set".into(),
                sw.clone(),
                "--ageing-secs".into(),
                a.to_string(),
            ],
        };
        if let Op::AddPort(p) = &op {
            d.links.push(format!("r{}", &p[1..]));
        }
        let client = Command::new(vepa_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vepa CLI");
        std::thread::sleep(Duration::from_micros(rng.next() % 30_000));
        d.kill9();
        let acked = client
            .wait_with_output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        d.launch();
        let now = observed(&d, &sw, &fixed, &p2);
        let with_op = op.apply(&model);
        if acked {
            after_ack += 1;
            assert_eq!(now, with_op, "kill {i}: acknowledged {op:?} is missing");
        } else {
            mid_request += 1;
            landed += usize::from(now == with_op && now != model);
            assert!(
                now == model || now == with_op,
                "kill {i}: {op:?} in flight left a state that is neither before nor after it:\n{now:?}\nbefore {model:?}"
            );
        }
        model = now;
        // The host as the store says: the extra ports' devices exist, and
        // only theirs.
        for p in &every_port {
            assert_eq!(
                link_exists(p),
                model.extra.contains(p),
                "kill {i}: device of {p} vs stored state {model:?}\n{}",
                d.log()
            );
        }
        let stats = d.json(&["stats"]);
        for port in stats["ports"].as_array().unwrap() {
            assert_eq!(port["state"], "up", "kill {i}: {port}");
        }
        // Traffic as the stored state says.
        assert!(
            wait_reachable(&vm1.name, "10.63.0.3"),
            "kill {i}: the tap VM, made again"
        );
        if model.vlan2 == 1 {
            assert!(
                wait_reachable(&vm1.name, "10.63.0.2"),
                "kill {i}: same VLAN, must reach"
            );
        } else {
            assert!(
                !ping(&vm1.name, "10.63.0.2"),
                "kill {i}: VLAN {}, must not reach",
                model.vlan2
            );
        }
    }
    eprintln!(
        "{KILLS} SIGKILLs in {:.0?}: {mid_request} with the change in flight (unacknowledged; {landed} of them had committed it), {after_ack} after its acknowledgement",
        started.elapsed()
    );
    assert!(mid_request + after_ack >= 50);
    assert!(
        mid_request >= 5,
        "too few kills landed during a request: {mid_request}"
    );
    assert!(
        after_ack >= 5,
        "too few kills landed after an acknowledgement: {after_ack}"
    );
}
