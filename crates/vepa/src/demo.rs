//! `vepa demo`: the seed picture, built for real in namespaces, in each mode.
//!
//! Three VMs (veth ends in their own namespaces) sit on a host switch; its
//! uplink is a wire to an adjacent switch (a second vepa switch in `veb`
//! mode, reflective relay on the port facing the host), which also connects
//! one outside host. For each mode every pair pings every other, and the
//! matrix shows what the mode allows. Everything is removed at the end, on
//! an error and on Ctrl-C.

use crate::probe;
use crate::stats;
use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vepa_api::topology::{ModeName, PortKind, PortSpec, SwitchSpec, Topology};
use vepa_host::{realize, Realized};
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

fn ip_of(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, if host == 3 { 100 } else { host as u8 + 1 })
}

/// What docs/design.md §2 measured on the kernel for this picture.
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
    rh.relay = s.relay.into();
    let mut out = PortSpec::new(&format!("{p}out"), PortKind::Veth);
    out.netns = Some(n.netns(3));
    out.mac = Some(MacAddr([0x02, 0x76, 0x65, 0x70, 0x00, 0x64]));
    out.address = vec![format!("{}/24", ip_of(3))];
    Topology {
        generation: None,
        routers: Vec::new(),
        acls: Vec::new(),
        switches: vec![
            SwitchSpec {
                mode: s.mode,
                uplink: Some(up),
                ports: vms,
                ..SwitchSpec::new("host")
            },
            SwitchSpec {
                mode: ModeName::Veb,
                ports: vec![rh, out],
                ..SwitchSpec::new("adjacent")
            },
        ],
    }
}

/// Pings until `host` answers from `from`, for up to ten seconds.
fn wait_reachable(n: &Names, from: usize, host: usize) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if probe::ping(&n.netns(from), ip_of(host), 1, Duration::from_millis(500))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Gives vm1 and vm2 permanent ARP entries for each other, then pings vm1 → vm2.
fn static_arp_ping(n: &Names) -> Result<bool> {
    for (a, b) in [(0, 1), (1, 0)] {
        let mac = MacAddr([0x02, 0x76, 0x65, 0x70, 0x00, b as u8 + 1]);
        let ns = n.netns(a);
        vepa_kernel::host::set_neighbour(Some(&ns), "eth0", ip_of(b).into(), mac.0)
            .with_context(|| format!("{ns}: static ARP entry for {}", ip_of(b)))?;
    }
    probe::ping(&n.netns(0), ip_of(1), 3, Duration::from_millis(500))
}

/// Pings every ordered pair at once; `reach[a][b]` says whether a reached b.
fn ping_matrix(n: &Names) -> Result<[[bool; 4]; 4]> {
    let mut probes = Vec::new();
    for a in 0..4 {
        for b in (0..4).filter(|b| *b != a) {
            let ns = n.netns(a);
            probes.push((
                a,
                b,
                std::thread::spawn(move || {
                    probe::ping(&ns, ip_of(b), 3, Duration::from_millis(700))
                }),
            ));
        }
    }
    let mut reach = [[false; 4]; 4];
    for (a, b, t) in probes {
        reach[a][b] = t
            .join()
            .map_err(|_| anyhow::anyhow!("ping thread panicked"))??;
    }
    Ok(reach)
}

fn print_matrix(s: &Scenario, reach: &[[bool; 4]; 4]) -> bool {
    say!(
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
        say!("  {:<17}{cells}", HOSTS[a]);
    }
    all_as_expected
}

pub fn run() -> Result<()> {
    if !vepa_host::running_as_root() {
        bail!("vepa demo creates namespaces and devices, so it needs root: run it as root");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("install signal handler")?;
    }
    let names = Names::new();
    say!(
        "vepa demo: three VMs on a host switch whose uplink leads to an adjacent switch, plus one"
    );
    say!("host outside. Each VM and the outside host is a network namespace with a veth.\n");
    say!("    vm1 ─┐");
    say!("    vm2 ─┼─ [host switch: MODE] ═ uplink ═ [adjacent switch] ── outside");
    say!(
        "    vm3 ─┘                                (relay = hairpin on the port facing the host)\n"
    );
    say!("✓ reached  ✗ did not reach (as the Linux kernel's macvlan does too)  ! differs from the kernel\n");
    let mut surprises = Vec::new();
    for s in &SCENARIOS {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted; everything made was removed");
        }
        say!("── {} ──", s.title);
        say!("  {}\n", s.lesson);
        let topo = topology(s, &names);
        let configs = topo.validate().context("demo topology")?;
        let Realized {
            mut forwarder,
            host,
            ..
        } = realize(&topo, configs, Default::default())?;
        forwarder.set_workers(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let thread_stop = Arc::new(AtomicBool::new(false));
        let ts = Arc::clone(&thread_stop);
        let worker = std::thread::spawn(move || {
            let r = forwarder.run(&ts);
            (forwarder, r)
        });
        // vm1 reaches the outside host in every mode: once it does, the wires are up.
        let reach = match wait_reachable(&names, 0, 3) {
            Ok(true) => ping_matrix(&names),
            Ok(false) => Err(anyhow::anyhow!("vm1 never reached the outside host")),
            Err(e) => Err(e),
        };
        // Private mode, the strict part: even a VM that knows its neighbour's
        // MAC (static ARP, which the kernel lets through) cannot reach it.
        let static_arp = match (&reach, s.mode) {
            (Ok(_), ModeName::Private) => Some(static_arp_ping(&names)),
            _ => None,
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
        if let Some(r) = static_arp {
            let reached = r?;
            say!(
                "\n  With static ARP entries between vm1 and vm2, vm1 → vm2: {} (the kernel's macvlan would\n  pass it; vepa drops reflected unicast between private VMs: see private_isolation below)",
                if reached { "reached" } else { "dropped" }
            );
            if reached {
                surprises.push("private with static ARP");
            }
        }
        for sw in forwarder.switches() {
            say!("\n  {} switch counters:", sw.name());
            say_raw!("{}", stats::table(sw));
        }
        say!("");
        drop(forwarder);
        drop(host);
    }
    say!(
        "Summary: veb switches VM-to-VM locally; vepa sends everything to the adjacent switch and"
    );
    say!("depends on its reflective relay; private isolates VMs from each other whatever the relay does.");
    if !surprises.is_empty() {
        bail!(
            "reachability differed from the kernel's in: {}",
            surprises.join(", ")
        );
    }
    Ok(())
}
