//! `vepa demo`: the seed picture, built for real in namespaces, in each mode.
//!
//! Three VMs (veth ends in their own namespaces) sit on a host switch; its
//! uplink is a wire to an adjacent switch (a second vepa switch in `veb`
//! mode, reflective relay on the port facing the host), which also connects
//! one outside host. For each mode every pair pings every other, and the
//! matrix shows what the mode allows. Everything is removed at the end, on
//! an error and on Ctrl-C.

use crate::realize::{realize, Realized};
use crate::stats;
use crate::topology::{ModeName, PortKind, PortSpec, SwitchSpec, Topology};
use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vepa_packet::MacAddr;

struct Scenario {
    mode: ModeName,
    relay: bool,
    title: &'static str,
    lesson: &'static str,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        mode: ModeName::Veb,
        relay: true,
        title: "veb (macvlan \"bridge\")",
        lesson: "The host switch is a plain bridge: VM-to-VM frames are switched locally and never\n  touch the uplink; only traffic for the outside host goes up. The uplink counters stay low.",
    },
    Scenario {
        mode: ModeName::Vepa,
        relay: true,
        title: "vepa, reflective relay ON at the adjacent switch",
        lesson: "Every frame a VM sends goes up the uplink, even to a VM on the same host. The adjacent\n  switch has reflective relay (hairpin) on that port, so it sends VM-to-VM frames back down\n  the port they came from: all pairs talk, and the adjacent switch sees (and could police) it all.",
    },
    Scenario {
        mode: ModeName::Vepa,
        relay: false,
        title: "vepa, reflective relay OFF",
        lesson: "The same VEPA host switch, but the adjacent switch is an ordinary bridge: it never sends a\n  frame back out the port it arrived on, so a VM's ARP request for another VM only reaches the\n  outside host. VMs reach the outside, not each other: this is why 802.1Qbg needs reflective relay.",
    },
    Scenario {
        mode: ModeName::Private,
        relay: true,
        title: "private, reflective relay ON",
        lesson: "Like vepa, but a frame reflected back from the relay never reaches another local VM, and a\n  VM's reflected broadcast (its ARP request) comes back to itself only. VMs reach the outside\n  host and nothing else, hairpin or not. (Unlike the kernel, vepa also drops reflected unicast\n  between private VMs that know each other's MAC: counted as private_isolation.)",
    },
];

const HOSTS: [&str; 4] = ["vm1", "vm2", "vm3", "outside"];

fn ip_of(host: usize) -> String {
    if host == 3 {
        "10.77.0.100".into()
    } else {
        format!("10.77.0.{}", host + 1)
    }
}

/// What DESIGN.md §2 measured on the kernel for this picture.
fn expected(s: &Scenario, from: usize, to: usize) -> bool {
    let outside = from == 3 || to == 3;
    match s.mode {
        ModeName::Veb => true,
        ModeName::Vepa => outside || s.relay,
        _ => outside,
    }
}

struct Names {
    ifp: String,
    nsp: String,
}

impl Names {
    fn new() -> Names {
        let id = std::process::id() & 0xffff;
        Names {
            ifp: format!("d{id:04x}"),
            nsp: format!("vepa-demo-{id:04x}"),
        }
    }
    fn netns(&self, host: usize) -> String {
        format!("{}-{}", self.nsp, HOSTS[host])
    }
}

/// The seed picture as a topology (the same file format `vepa run` reads).
fn topology(s: &Scenario, n: &Names) -> Topology {
    let p = &n.ifp;
    let mut up = PortSpec::new(&format!("{p}up"), PortKind::Patch);
    up.peer = Some(format!("adjacent/{p}rh"));
    let vms = (0..3)
        .map(|i| {
            let mut v = PortSpec::new(&format!("{p}vm{}", i + 1), PortKind::Veth);
            v.netns = Some(n.netns(i));
            v.mac = Some(MacAddr([0x02, 0x76, 0x65, 0x70, 0x00, i as u8 + 1]));
            v.address = vec![format!("{}/24", ip_of(i))];
            v
        })
        .collect();
    let mut rh = PortSpec::new(&format!("{p}rh"), PortKind::Patch);
    rh.peer = Some(format!("host/{p}up"));
    rh.relay = s.relay;
    let mut out = PortSpec::new(&format!("{p}out"), PortKind::Veth);
    out.netns = Some(n.netns(3));
    out.mac = Some(MacAddr([0x02, 0x76, 0x65, 0x70, 0x00, 0x64]));
    out.address = vec![format!("{}/24", ip_of(3))];
    Topology {
        switches: vec![
            SwitchSpec {
                name: "host".into(),
                mode: s.mode,
                ageing_secs: None,
                uplink: Some(up),
                ports: vms,
                static_fdb: vec![],
            },
            SwitchSpec {
                name: "adjacent".into(),
                mode: ModeName::Veb,
                ageing_secs: None,
                uplink: None,
                ports: vec![rh, out],
                static_fdb: vec![],
            },
        ],
    }
}

/// Pings until `ip` answers from `ns`, for up to ten seconds.
fn wait_reachable(ns: &str, ip: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let ok = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", ip])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
    }
    false
}

/// Pings every ordered pair at once; `reach[a][b]` says whether a reached b.
fn ping_matrix(n: &Names) -> Result<[[bool; 4]; 4]> {
    let mut children = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            if a == b {
                continue;
            }
            let child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &n.netns(a),
                    "ping",
                    "-c",
                    "3",
                    "-i",
                    "0.2",
                    "-W",
                    "1",
                    "-q",
                    &ip_of(b),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("start ping (install iputils-ping)")?;
            children.push((a, b, child));
        }
    }
    let mut reach = [[false; 4]; 4];
    for (a, b, mut c) in children {
        reach[a][b] = c.wait().map(|s| s.success()).unwrap_or(false);
    }
    Ok(reach)
}

fn print_matrix(s: &Scenario, reach: &[[bool; 4]; 4]) -> bool {
    println!(
        "  ping from ↓ to →  {}",
        HOSTS.map(|h| format!("{h:>8}")).join("")
    );
    let mut all_as_expected = true;
    for a in 0..4 {
        let cells: String = (0..4)
            .map(|b| {
                if a == b {
                    return format!("{:>8}", "·");
                }
                let ok = reach[a][b];
                let mark = if ok == expected(s, a, b) {
                    if ok {
                        "✓"
                    } else {
                        "✗"
                    }
                } else {
                    "!"
                };
                if ok != expected(s, a, b) {
                    all_as_expected = false;
                }
                format!("{mark:>8}")
            })
            .collect();
        println!("  {:<17}{cells}", HOSTS[a]);
    }
    all_as_expected
}

pub fn run() -> Result<()> {
    if !crate::realize::running_as_root() {
        bail!("vepa demo creates namespaces and devices, so it needs root: run it as root");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("install signal handler")?;
    }
    let names = Names::new();
    println!(
        "vepa demo: three VMs on a host switch whose uplink leads to an adjacent switch, plus one"
    );
    println!("host outside. Each VM and the outside host is a network namespace with a veth.\n");
    println!("    vm1 ─┐");
    println!("    vm2 ─┼─ [host switch: MODE] ═ uplink ═ [adjacent switch] ── outside");
    println!(
        "    vm3 ─┘                                (relay = hairpin on the port facing the host)\n"
    );
    println!("✓ reached  ✗ did not reach (as the Linux kernel's macvlan does too)  ! differs from the kernel\n");
    let mut surprises = Vec::new();
    for s in &SCENARIOS {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted; everything made was removed");
        }
        println!("── {} ──", s.title);
        println!("  {}\n", s.lesson);
        let topo = topology(s, &names);
        let configs = topo.validate().context("demo topology")?;
        let Realized {
            mut forwarder,
            host,
        } = realize(&topo, configs)?;
        let thread_stop = Arc::new(AtomicBool::new(false));
        let ts = Arc::clone(&thread_stop);
        let worker = std::thread::spawn(move || {
            let r = forwarder.run(&ts);
            (forwarder, r)
        });
        // vm1 reaches the outside host in every mode: once it does, the wires are up.
        let ready = wait_reachable(&names.netns(0), &ip_of(3));
        let reach = if ready {
            ping_matrix(&names)
        } else {
            Err(anyhow::anyhow!("vm1 never reached the outside host"))
        };
        thread_stop.store(true, Ordering::Relaxed);
        let (forwarder, result) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("forwarding thread panicked"))?;
        result.context("forwarding loop")?;
        let reach = reach?;
        if !print_matrix(s, &reach) {
            surprises.push(s.title);
        }
        for sw in forwarder.switches() {
            println!("\n  {} switch counters:", sw.name());
            print!("{}", stats::table(sw));
        }
        println!();
        drop(forwarder);
        drop(host);
    }
    println!(
        "Summary: veb switches VM-to-VM locally; vepa sends everything to the adjacent switch and"
    );
    println!("depends on its reflective relay; private isolates VMs from each other whatever the relay does.");
    if !surprises.is_empty() {
        bail!(
            "reachability differed from the kernel's in: {}",
            surprises.join(", ")
        );
    }
    Ok(())
}
