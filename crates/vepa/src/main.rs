//! The `vepa` command: run a topology, or watch the modes work in `vepa demo`.

/// `println!` that ignores a closed stdout (`vepa demo | head`): output is a
/// courtesy, and cleanup must still run.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` with the same tolerance.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod demo;
mod probe;
mod realize;
mod run;
mod stats;
use vepa_api::topology;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// vepa connects VMs and containers to each other and to the network with
/// the forwarding modes of IEEE 802.1Qbg edge virtual bridging (the Linux
/// macvlan modes), in a userspace switch.
///
/// Port modes:
///   veb      VMs on the switch talk directly (a plain learning bridge).
///   vepa     every frame goes up the uplink; VM-to-VM traffic works only if
///            the adjacent switch reflects it back (reflective relay/hairpin).
///   private  up the uplink, and never to another local VM, reflected or not.
///   passthru one VM owns the uplink.
///   source   a port gets copies of frames from the MACs on its allow list.
///
/// Start with `vepa demo`: it builds VMs, an adjacent switch and an outside
/// host in namespaces and shows who reaches whom in each mode.
#[derive(Parser)]
#[command(name = "vepa", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the modes at work in throw-away namespaces (needs root)
    ///
    /// Builds three VMs, an adjacent switch and an outside host; pings every
    /// pair in veb, vepa (relay on and off) and private mode; prints the
    /// reachability matrix and per-port counters; removes everything.
    Demo,
    /// Run a topology file in the foreground (needs root)
    ///
    /// Creates the devices and namespaces the file asks for, forwards until
    /// Ctrl-C or SIGTERM, prints per-port counters, then removes every device
    /// and namespace it made (and nothing else).
    ///
    /// Example: vepa run -f examples/vepa.toml
    Run {
        /// Topology file (TOML); see examples/ and the README.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// On exit, also write the final per-port counters as JSON here.
        #[arg(long, value_name = "PATH")]
        stats_json: Option<PathBuf>,
        /// Forwarding threads (default: one per core). Each owns the receive
        /// side of every N-th port; any of them sends on any port.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: Option<u16>,
        /// Experimental: AF_PACKET ports receive through a TPACKET_V3 ring
        /// (see bench/RESULTS.md).
        #[arg(long, hide = true)]
        rx_ring: bool,
    },
    /// Check a topology file without touching the host
    ///
    /// Reports the first mistake as file:line:column or switch/port/field.
    Validate {
        /// Topology file (TOML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = dispatch(Cli::parse()) {
        eprintln!("vepa: error: {e:#}");
        std::process::exit(1);
    }
}

/// One forwarding thread per core.
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo => demo::run(),
        Command::Run {
            file,
            stats_json,
            workers,
            rx_ring,
        } => run::run(
            &file,
            stats_json.as_deref(),
            workers.map(usize::from).unwrap_or_else(default_workers),
            realize::PortOptions { rx_ring },
        ),
        Command::Validate { file } => {
            let topo = topology::Topology::load(&file)?;
            let cfgs = topo.validate()?;
            let ports: usize = cfgs.iter().map(|c| c.ports.len()).sum();
            say!(
                "{}: valid: {} switch(es), {ports} port(s)",
                file.display(),
                cfgs.len()
            );
            Ok(())
        }
    }
}
