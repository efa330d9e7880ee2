//! `vepa run`: a topology in the foreground until SIGINT or SIGTERM.

use crate::stats;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use vepa_api::topology::Topology;
use vepa_host::{realize, PortOptions};

pub fn run(
    file: &Path,
    stats_json: Option<&Path>,
    workers: vepa_io::Workers,
    opts: PortOptions,
) -> Result<()> {
    let topo = Topology::load(file)?;
    let configs = topo.validate()?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("install signal handler")?;
    }
    let mut realized = realize(&topo, configs, opts)?;
    realized.forwarder.set_workers(workers);
    let ports: usize = topo
        .switches
        .iter()
        .map(|s| s.ports.len() + s.uplink.is_some() as usize)
        .sum();
    tracing::info!(
        switches = topo.switches.len(),
        ports,
        "forwarding; stop with Ctrl-C"
    );
    say!(
        "vepa: forwarding {} switch(es), {ports} port(s), {} worker(s){}; Ctrl-C stops and removes what was made",
        topo.switches.len(),
        workers.count.min(ports).max(1),
        if workers.busy_poll { ", busy polling" } else { "" }
    );
    for (s, c) in topo.switches.iter().zip(&realized.choices) {
        say!("switch {}: {}", s.name, c.why);
    }
    // Tracked connections time out while forwarding runs (the forwarder's
    // clock is the one they were stamped with).
    let epoch = std::time::Instant::now();
    realized.forwarder.set_epoch(epoch);
    let filters = std::mem::take(&mut realized.filters);
    let housekeeping_stop = Arc::clone(&stop);
    let housekeeping = std::thread::spawn(move || {
        let mut ticks = 0u32;
        while !housekeeping_stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            ticks += 1;
            if ticks.is_multiple_of(5) {
                filters.expire(epoch.elapsed().as_millis() as u64);
            }
        }
    });
    let result = realized.forwarder.run(&stop);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = housekeeping.join();
    for s in realized.forwarder.switches() {
        say!("switch {}", s.name());
        say_raw!("{}", stats::table(s));
    }
    if let Some(path) = stats_json {
        let text = serde_json::to_string_pretty(&stats::to_json(realized.forwarder.switches()))?;
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    }
    drop(realized);
    result.context("forwarding loop")
}
