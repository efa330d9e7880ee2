//! The `vepa` command: watch the modes work (`vepa demo`), run a topology
//! in the foreground (`vepa run`), run the daemon (`vepa daemon`), and the
//! CLI that drives it (`vepa switch|port|fdb|stats|apply|export|capture`).

#![deny(clippy::undocumented_unsafe_blocks)]

/// `println!` that ignores a closed stdout (`vepa demo | head`): output is a
/// courtesy, and cleanup must still run.
/// Under `-j` it prints nothing: stdout carries only the command's JSON.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if !crate::client::json() {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}

/// `print!` with the same tolerance.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if !crate::client::json() {
            let _ = write!(std::io::stdout(), $($arg)*);
        }
    }};
}

mod client;
mod demo;
mod doctor;
mod manual;
mod nic;
mod probe;
mod run;
mod stats;
use vepa_api::topology;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `vepa --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("VEPA_GIT_COMMIT"),
    ")"
);

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
///
/// As a service: `vepa daemon` keeps the desired state in a store and
/// serves an API on /run/vepa/vepa.sock; `vepa switch|port|fdb|stats`,
/// `vepa apply -f FILE` and `vepa export` change and read it.
#[derive(Parser)]
#[command(name = "vepa", version = VERSION, verbatim_doc_comment)]
struct Cli {
    /// The daemon's socket (default /run/vepa/vepa.sock, or VEPA_SOCKET).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Talk to the daemon over TCP instead (e.g. http://127.0.0.1:7070); needs --token-file.
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// The bearer token for --url (or, for the daemon, for --listen).
    #[arg(long, global = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Answer in JSON (every command that answers; what streams or runs
    /// in the foreground refuses it): one JSON document on stdout.
    #[arg(short = 'j', long, global = true)]
    json: bool,
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
        /// Workers never sleep: lowest latency, one busy core per worker
        /// even with no traffic (like Open vSwitch's PMD threads).
        #[arg(long)]
        busy_poll: bool,
        /// Interface ports (veth, netdev, patch veths) receive and send
        /// through AF_XDP: an XDP program on the device hands frames to
        /// vepa's mapped rings. A port where XDP cannot attach natively
        /// (or with several receive queues) stays on AF_PACKET, with a
        /// warning; `vepa doctor` says whether this kernel can.
        #[arg(long)]
        xdp: bool,
        /// Experimental: AF_PACKET ports receive through a TPACKET_V3 ring
        /// (see bench/RESULTS.md).
        #[arg(long, hide = true)]
        rx_ring: bool,
    },
    /// Draw the fabric: switches, ports, routers, and what lies beyond
    ///
    /// Switches (kind, mode, backend, whether the adjacent bridge reflects)
    /// with their ports (kind, mode, VLANs, relay, state, frames a second
    /// and drops), routers and the switches they sit on, and beyond each
    /// uplink or tunnel the wire, a namespace, a patch's far switch or the
    /// VTEPs. From the daemon (traffic measured over one second), or from a
    /// topology file with -f (no daemon needed). DOT for Graphviz, SVG drawn
    /// by Graphviz's `dot` (Debian: graphviz), or JSON for other tools.
    ///
    /// Example: vepa graph -o svg > fabric.svg
    ///
    /// Example: vepa graph -f examples/vepa.toml | dot -Tpng > vepa.png
    Graph {
        /// A topology file to draw instead of the daemon's state.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// dot (default), svg or json (-j is json too).
        #[arg(short = 'o', long = "output", value_enum, default_value_t = client::graph::GraphFormat::Dot)]
        format: client::graph::GraphFormat,
    },
    /// Check a topology file without touching the host
    ///
    /// Reports the first mistake as file:line:column or switch/port/field.
    Validate {
        /// Topology file (TOML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Run the switch as a service with durable state and an API (needs root)
    ///
    /// On start, the stored desired state is made real: devices vepa made
    /// before are adopted, missing ones made, stale ones removed (only its
    /// own, marked by an interface alias). Every API change is written to
    /// the store before it is acknowledged. Stopping leaves the devices for
    /// the next start.
    ///
    /// Example: vepa daemon --default   (then: vepa port show)
    ///
    /// Many hosts: vepa daemon --etcd http://10.0.0.9:2379 --underlay-ip 192.0.2.1
    /// on each (then: vepa hosts show); switches whose uplink is a `fabric = true`
    /// vxlan port span every host that carries the same VNI (examples/fabric.toml).
    Daemon {
        /// Where the desired state is kept.
        #[arg(long, value_name = "DIR", default_value = "/var/lib/vepa")]
        state_dir: PathBuf,
        /// Group allowed to use the API socket (mode 0660) and the switches'
        /// OpenFlow management sockets; default root only. Without
        /// --vhost-group, it may also connect guests to vhost-user sockets.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Group allowed to connect a guest to a vhost-user port's socket,
        /// and nothing else: add QEMU's user (e.g. libvirt-qemu) to it, not
        /// to --group, which steers the whole daemon.
        #[arg(long, value_name = "GROUP")]
        vhost_group: Option<String>,
        /// The one directory vhost-user sockets are made in (a port's
        /// `socket` must be under it; default SWITCH/PORT.sock there).
        #[arg(long, value_name = "DIR", default_value = vepa_api::topology::VHOST_USER_DIR)]
        vhost_user_dir: PathBuf,
        /// Also serve the API on this loopback TCP address (needs --token-file).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// Serve /metrics alone (read-only, no token) on this TCP address,
        /// e.g. 0.0.0.0:9464 for a Prometheus on another host. Metrics name
        /// switches and ports: firewall it as you would any exporter.
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Forwarding threads (default: one per core).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: Option<u16>,
        /// Workers never sleep: lowest latency, one busy core per worker
        /// even with no traffic (like Open vSwitch's PMD threads).
        #[arg(long)]
        busy_poll: bool,
        /// Interface ports (veth, netdev, patch veths) receive and send
        /// through AF_XDP: an XDP program on the device hands frames to
        /// vepa's mapped rings. A port where XDP cannot attach natively
        /// (or with several receive queues) stays on AF_PACKET, with a
        /// warning; `vepa doctor` says whether this kernel can.
        #[arg(long)]
        xdp: bool,
        /// On an empty store, start with the embedded default topology
        /// (examples/daemon-default.toml: switch vepa0, two VMs in namespaces).
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        openflow: vepa_daemon::OpenFlowArgs,
        #[command(flatten)]
        fabric: Box<vepa_daemon::FabricArgs>,
    },
    /// What this kernel can do, tried in a scratch namespace, and what vepa uses instead (needs root)
    ///
    /// Each feature (macvlan in every mode, macvtap, ipvlan, 802.1Q, veth,
    /// bridge hairpin, vxlan, geneve, dummy, TAP with its offloads, AF_PACKET
    /// v3, AF_XDP, nftables, vhost-net, SR-IOV NICs) is made or opened for
    /// real in a throw-away network namespace; nothing is left behind.
    Doctor {
        #[command(flatten)]
        out: client::OutputArg,
    },
    /// Physical NICs: embedded bridge mode (VEB/VEPA) and SR-IOV virtual functions (needs root)
    #[command(subcommand)]
    Nic(nic::NicCmd),
    /// Add, remove, change or list switches (daemon)
    #[command(subcommand)]
    Switch(client::SwitchCmd),
    /// Add, remove, change or list ports (daemon)
    #[command(subcommand)]
    Port(Box<client::PortCmd>),
    /// Show, add, remove or flush FDB entries (daemon)
    #[command(subcommand)]
    Fdb(client::FdbCmd),
    /// Show IGMP/MLD snooping's groups and router ports (daemon)
    #[command(subcommand)]
    Mdb(client::MdbCmd),
    /// Add, change, remove or list flows, in ovs-ofctl's syntax (daemon)
    #[command(subcommand)]
    Flow(client::flows::FlowCmd),
    /// Add, change, remove or list OpenFlow groups (daemon)
    #[command(subcommand)]
    Group(client::flows::GroupCmd),
    /// Add, remove or show routers and their ports; neighbors and counters (daemon)
    #[command(subcommand)]
    Router(client::routers::RouterCmd),
    /// Add, remove or show a router's static routes (daemon)
    #[command(subcommand)]
    Route(client::routers::RouteCmd),
    /// VXLAN tunnels: endpoints, learned remote MACs, drops (daemon)
    #[command(subcommand)]
    Tunnel(client::routers::TunnelCmd),
    /// LLDP neighbours of uplinks and relay ports, with their EVB TLV (daemon)
    #[command(subcommand)]
    Lldp(client::link::LldpCmd),
    /// The daemon's log filter: show it, or change it without a restart (daemon)
    #[command(subcommand)]
    Log(client::link::LogCmd),
    /// Whether the adjacent bridge reflects frames back (reflective relay probe) (daemon)
    #[command(subcommand)]
    Relay(client::link::RelayCmd),
    /// VMs associated with the adjacent bridge over 802.1Qbg's VDP, per uplink and relay port (daemon)
    #[command(subcommand)]
    Vdp(client::link::VdpCmd),
    /// Hosts of the multi-host fabric, as etcd lists them (daemon with --etcd)
    #[command(subcommand)]
    Hosts(client::routers::HostsCmd),
    /// QEMU arguments that plug a guest into a VM's port (daemon)
    ///
    /// A VM's port is a `tap` port without --netns (a persistent tap QEMU
    /// opens by name while vepa switches its host side; on a kernel switch,
    /// a macvtap) or a `vhost-user` port (QEMU hands frames to vepa through
    /// the guest's shared memory). Prints one line to add to the
    /// qemu-system command, e.g.
    ///   qemu-system-x86_64 ... $(vepa vm-args vm1)
    ///   qemu-system-x86_64 -m 2048 ... $(vepa vm-args vu1 --memory 2048)
    /// The guest's MAC is the port's --mac, else derived from its names.
    #[command(name = "vm-args")]
    VmArgs {
        /// The port, as PORT or SWITCH/PORT.
        port: String,
        /// For a vhost-user port: the guest's memory in MiB, the same as
        /// QEMU's -m (a memfd backend of that size is shared with vepa).
        #[arg(long, value_name = "MIB", default_value_t = 1024,
              value_parser = clap::value_parser!(u32).range(16..=1048576))]
        memory: u32,
        /// For a vhost-user port: the guest runs without KVM (QEMU's TCG
        /// emulation), so its NIC gets legacy interrupts (vectors=0):
        /// QEMU 7.2 crashes starting a vhost-user NIC with MSI-X under TCG.
        /// The default when /dev/kvm is missing.
        #[arg(long)]
        tcg: bool,
        /// The NIC the guest sees (vmxnet3 for a VM moved from VMware).
        #[arg(long, value_enum, default_value = "virtio")]
        model: client::vm::NicModel,
    },
    /// The libvirt <interface> element for a VM's port (daemon)
    ///
    /// An `ethernet` interface on the port's tap (`managed='no'`), with the
    /// guest's MAC and virtio model: paste it into the domain's <devices>.
    /// For a vhost-user port, a `vhostuser` interface on its socket (QEMU
    /// the client, reconnecting); the domain then also needs
    /// <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>.
    #[command(name = "libvirt-xml")]
    LibvirtXml {
        /// The port, as PORT or SWITCH/PORT.
        port: String,
        /// The NIC the guest sees (vmxnet3 for a VM moved from VMware).
        #[arg(long, value_enum, default_value = "virtio")]
        model: client::vm::NicModel,
    },
    /// Add, remove or show access lists on switch ports and routers (daemon)
    #[command(subcommand)]
    Acl(client::acls::AclCmd),
    /// Show or flush the connections stateful ACLs track (daemon)
    #[command(subcommand)]
    Conntrack(client::acls::ConntrackCmd),
    /// Per-port counters, drops by reason, FDB sizes (daemon)
    Stats {
        #[command(flatten)]
        out: client::OutputArg,
        /// Print rates every SECS seconds instead of a snapshot: per port
        /// frames and bits per second each way and drops per second (with
        /// -o json, one JSON object per line), until interrupted
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "1",
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        watch: Option<u64>,
        /// With --watch: stop after N intervals
        #[arg(long, value_name = "N", requires = "watch")]
        count: Option<u64>,
    },
    /// Make the daemon's state equal to a topology file, whole or not at all
    ///
    /// Prints the plan (+ add, - remove, ~ change in place, ! device
    /// recreated); with --dry-run, only prints it.
    ///
    /// A file from `vepa export` names the generation it was taken at; if
    /// the daemon's state changed since (an API call, a controller's
    /// flows), the apply is refused rather than undo those changes.
    Apply {
        /// Topology file (TOML).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply even if the file was exported at an older generation
        /// (what changed since is undone)
        #[arg(long)]
        force: bool,
    },
    /// Print the daemon's state as a topology file (`apply` of it is an empty plan)
    ///
    /// The file starts with `generation = N`: `apply` refuses it once the
    /// state has moved on (unless --force). Delete that line to apply the
    /// file regardless, as a hand-written one.
    Export,
    /// Write the frames ports send and receive as pcapng (tcpdump -r, tshark -r)
    ///
    /// One interface per port, named SWITCH/PORT; each packet says its
    /// direction (in: from the port's device, out: to it). With --drops,
    /// frames the switch dropped as they entered (ACL, guard, storm...)
    /// come too, with the reason as the packet's comment (tshark shows it
    /// as frame.comment). Forwarding goes on; frames a slow reader cannot
    /// take are dropped from the capture, not from the switch.
    ///
    /// --filter takes pcap-filter syntax, a subset evaluated by the daemon:
    ///   host ADDR, net ADDR/LEN, port N, portrange A-B (after src, dst,
    ///   src or dst, src and dst; host/net/port also after ip, ip6, arp,
    ///   tcp, udp), ether host|src|dst MAC, ether proto N|ip|ip6|arp,
    ///   ip, ip6, arp, tcp, udp, icmp, icmp6, ip proto N, ip6 proto N,
    ///   vlan [VID], broadcast, multicast, less N, greater N;
    ///   and/&&, or/||, not/!, ( ). Headers are read through an 802.1Q
    ///   tag (libpcap needs "vlan and ..."); no byte offsets (tcp[13]).
    ///
    /// Examples:
    ///   vepa capture s1/vm1 -w vm1.pcapng -c 10
    ///   vepa capture s1/vm1 s1/vm2 --filter 'icmp or arp' | tcpdump -nr -
    ///   vepa capture s1/vm1 --drops -w drops.pcapng
    #[command(verbatim_doc_comment)]
    Capture(client::CaptureArgs),
    /// What forwarding would do with a frame, stage by stage, without sending it
    ///
    /// Runs the frame through the real pipeline (on copies of what the
    /// switches learned, so nothing is learned, counted or sent) and prints
    /// each stage: the port's guard and ACL, the VLAN, the flows that
    /// matched, NORMAL's mode rule and FDB lookup, routers (route, next hop,
    /// TTL), outbound ACLs, and the copies that would leave or the drop
    /// reason. Like ovs-appctl ofproto/trace.
    ///
    /// Examples:
    ///   vepa trace s1/vm1 icmp,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,nw_dst=10.0.0.2
    ///   vepa trace s1/vm1 arp,dl_dst=ff:ff:ff:ff:ff:ff,arp_tpa=10.0.0.2
    ///   vepa trace s1/up --pcap seen.pcap --packet 3 -o json
    #[command(verbatim_doc_comment)]
    Trace(client::trace::TraceArgs),
    /// A live view: per-port rates, drops by reason, FDB sizes, each worker's load and cache hits (daemon)
    ///
    /// Refreshed every --interval seconds; keys sort the ports: r (rx
    /// frames/s), t (tx frames/s), b (rx bit/s), B (tx bit/s), d (drops/s),
    /// n (name); q or Esc quits. For scripts: vepa stats --watch.
    Top(client::top::TopArgs),
    /// Port mirrors: SPAN to a monitor port, RSPAN to a VLAN on the uplink (daemon)
    #[command(subcommand)]
    Mirror(client::mirror::MirrorCmd),
    /// IPFIX flow export: a record per IP flow to a collector (daemon)
    #[command(subcommand)]
    Ipfix(client::ipfix::IpfixCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    ///
    /// bash:  vepa completions bash > /etc/bash_completion.d/vepa
    /// zsh:   vepa completions zsh > "${fpath[1]}/_vepa"
    /// fish:  vepa completions fish > ~/.config/fish/completions/vepa.fish
    /// (The .deb installs all three.)
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write vepa's man pages (vepa.1 and one per subcommand) into a directory
    ///
    /// The .deb ships them (dist/man, made with this command; a test keeps
    /// them in step with the command line). Read one with `man -l DIR/vepa.1`.
    Man {
        /// Where to write the pages.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    client::set_json(cli.json);
    // The daemon tells what it does (adoptions, removals) by default; the
    // other commands only warn. RUST_LOG (e.g. `vepa=debug`) overrides both.
    let default_filter = if matches!(cli.command, Command::Daemon { .. }) {
        "vepa=info,warn"
    } else {
        "warn"
    };
    use tracing_subscriber::prelude::*;
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| tracing_subscriber::EnvFilter::try_new(f).is_ok());
    let start = from_env.unwrap_or_else(|| default_filter.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&start)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // The filter can be replaced at run time (`vepa log level`).
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a person at a terminal, not in log files.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    let set_filter: vepa_daemon::LogFilter = std::sync::Arc::new(move |text: &str| {
        let f = tracing_subscriber::EnvFilter::try_new(text).map_err(|e| e.to_string())?;
        handle.reload(f).map_err(|e| e.to_string())
    });
    if let Err(e) = dispatch(cli, (set_filter, start)) {
        eprintln!("vepa: error: {e:#}");
        let code = exit_code(&e);
        if client::json() && !client::printed() {
            // A script reading stdout gets the error too, as JSON.
            let _ = client::print_json(&serde_json::json!({
                "error": format!("{e:#}"),
                "exit": code,
            }));
        }
        std::process::exit(code);
    }
}

/// The exit status of a failed command, so scripts can tell failures
/// apart: 3 the daemon cannot be reached, 4 what was named does not
/// exist, 5 the daemon refused the request (invalid, a conflict), 1
/// anything else. (Usage errors exit 2, from clap, before any of this.)
fn exit_code(e: &anyhow::Error) -> i32 {
    use client::http::{Refused, Unreachable};
    if e.downcast_ref::<Unreachable>().is_some() {
        return 3;
    }
    match e.downcast_ref::<Refused>().map(|r| r.status.as_u16()) {
        Some(404) => 4,
        Some(400 | 401 | 403 | 405 | 409 | 413 | 415 | 422) => 5,
        _ => 1,
    }
}

/// One forwarding thread per core.
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn dispatch(cli: Cli, log_filter: (vepa_daemon::LogFilter, String)) -> Result<()> {
    let client = || -> Result<client::http::Client> {
        client::http::Client::new(client::http::target(
            cli.socket.clone(),
            cli.url.clone(),
            cli.token_file.clone(),
        )?)
    };
    if cli.json {
        let refused = match &cli.command {
            Command::Daemon { .. } | Command::Run { .. } => Some("runs in the foreground"),
            Command::Demo => Some("prints its matrix as it goes"),
            Command::Capture(_) => Some("writes pcapng"),
            Command::Top(_) => Some("is a live terminal view"),
            Command::Stats { watch: Some(_), .. } => Some("--watch streams"),
            Command::Completions { .. } => Some("prints a shell script"),
            Command::Man { .. } => Some("writes man pages"),
            _ => None,
        };
        if let Some(why) = refused {
            <Cli as clap::CommandFactory>::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("-j/--json: this command {why}; it has no JSON answer"),
                )
                .exit();
        }
    }
    match cli.command {
        Command::Daemon {
            state_dir,
            group,
            vhost_group,
            vhost_user_dir,
            listen,
            metrics_listen,
            workers,
            busy_poll,
            xdp,
            default,
            openflow,
            fabric,
        } => vepa_daemon::run(vepa_daemon::DaemonOptions {
            xdp,
            openflow_tls: openflow.files(),
            vhost_group,
            vhost_user_dir,
            fabric: fabric.options(&state_dir)?,
            state_dir,
            socket: cli
                .socket
                .clone()
                .or_else(|| std::env::var_os("VEPA_SOCKET").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(client::http::DEFAULT_SOCKET)),
            group,
            listen,
            metrics_listen,
            token_file: cli.token_file.clone(),
            workers: vepa_io::Workers {
                count: workers.map(usize::from).unwrap_or_else(default_workers),
                busy_poll,
            },
            seed_default: default,
            log_filter: Some(log_filter),
        }),
        Command::Doctor { out } => doctor::run(out.output() == client::Output::Json, client().ok()),
        Command::Nic(c) => nic::run(c),
        Command::Switch(c) => client::switch(&client()?, c),
        Command::Port(c) => client::port(&client()?, *c),
        Command::Fdb(c) => client::fdb(&client()?, c),
        Command::Mdb(c) => client::mdb(&client()?, c),
        Command::Flow(c) => client::flows::flow(&client()?, c),
        Command::Group(c) => client::flows::group(&client()?, c),
        Command::Router(c) => client::routers::router(&client()?, c),
        Command::Route(c) => client::routers::route(&client()?, c),
        Command::Acl(c) => client::acls::acl(&client()?, c),
        Command::Tunnel(c) => client::routers::tunnel(&client()?, c),
        Command::Hosts(c) => client::routers::hosts(&client()?, c),
        Command::Lldp(c) => client::link::lldp(&client()?, c),
        Command::Relay(c) => client::link::relay(&client()?, c),
        Command::Log(c) => client::link::log(&client()?, c),
        Command::Vdp(c) => client::link::vdp(&client()?, c),
        Command::VmArgs {
            port,
            memory,
            tcg,
            model,
        } => {
            let tcg = tcg || !std::path::Path::new("/dev/kvm").exists();
            client::vm::vm_args(&client()?, &port, memory, tcg, model)
        }
        Command::LibvirtXml { port, model } => client::vm::libvirt_xml(&client()?, &port, model),
        Command::Conntrack(c) => client::acls::conntrack(&client()?, c),
        Command::Stats { out, watch, count } => match watch {
            Some(secs) => client::watch_stats(&client()?, out.output(), secs, count),
            None => client::stats(&client()?, out.output()),
        },
        Command::Apply {
            file,
            dry_run,
            force,
        } => client::apply(&client()?, &file, dry_run, force),
        Command::Export => client::export(&client()?),
        Command::Graph { file, format } => {
            let format = if cli.json {
                client::graph::GraphFormat::Json
            } else {
                format
            };
            client::graph::graph(client, file.as_deref(), format)
        }
        Command::Trace(a) => client::trace::trace(&client()?, a),
        Command::Top(a) => client::top::top(&client()?, a),
        Command::Mirror(c) => client::mirror::mirror(&client()?, c),
        Command::Ipfix(c) => client::ipfix::ipfix(&client()?, c),
        Command::Capture(a) => client::capture(&client()?, a),
        Command::Demo => demo::run(),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "vepa", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => manual::write(<Cli as clap::CommandFactory>::command(), &dir),
        Command::Run {
            file,
            stats_json,
            workers,
            busy_poll,
            xdp,
            rx_ring,
        } => run::run(
            &file,
            stats_json.as_deref(),
            vepa_io::Workers {
                count: workers.map(usize::from).unwrap_or_else(default_workers),
                busy_poll,
            },
            vepa_host::PortOptions {
                rx_ring,
                xdp,
                ..vepa_host::PortOptions::default()
            },
        ),
        Command::Validate { file } => {
            let topo = topology::Topology::load(&file)?;
            let cfgs = topo.validate()?;
            let ports: usize = cfgs.iter().map(|c| c.ports.len()).sum();
            if cli.json {
                return client::print_json(&serde_json::json!({
                    "file": file.display().to_string(),
                    "valid": true,
                    "switches": cfgs.len(),
                    "ports": ports,
                }));
            }
            say!(
                "{}: valid: {} switch(es), {ports} port(s)",
                file.display(),
                cfgs.len()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (a flag that
    /// clashes with a global one, say, fails here rather than at run time).
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    /// Every argument of every command says what it is in `--help`, and a
    /// value written as a choice (`a|b`) is a list clap checks and shows.
    #[test]
    fn every_flag_is_documented_and_every_choice_listed() {
        fn walk(cmd: &clap::Command, path: &str, bad: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                let at = format!("{path} {id}");
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    bad.push(format!("{at}: no help"));
                }
                // `on|off`, `a|b|c`: words to choose from (not `TYPE:VER:UUID|none`).
                let choice = a.get_value_names().is_some_and(|v| {
                    v.iter().any(|n| {
                        n.contains('|')
                            && n.chars()
                                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '|')
                    })
                });
                if choice && a.get_possible_values().is_empty() {
                    bad.push(format!("{at}: a choice with no listed values"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), bad);
            }
        }
        let mut bad = Vec::new();
        walk(
            &<super::Cli as clap::CommandFactory>::command(),
            "vepa",
            &mut bad,
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// The man pages and completions the .deb ships (dist/) are what the
    /// command line makes now; scripts/gen-docs.sh makes them anew.
    #[test]
    fn generated_docs_are_current() {
        use clap::CommandFactory;
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist");
        let stale = "out of step with the command line: run scripts/gen-docs.sh";
        let tmp = tempfile::tempdir().unwrap();
        super::manual::write(super::Cli::command(), tmp.path()).unwrap();
        let names = |d: &std::path::Path| {
            let mut v: Vec<_> = std::fs::read_dir(d)
                .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(
            names(tmp.path()),
            names(&dist.join("man")),
            "dist/man: {stale}"
        );
        for n in names(tmp.path()) {
            let made = std::fs::read(tmp.path().join(&n)).unwrap();
            let kept = std::fs::read(dist.join("man").join(&n)).unwrap();
            assert!(made == kept, "dist/man/{}: {stale}", n.to_string_lossy());
        }
        for (shell, file) in [
            (clap_complete::Shell::Bash, "vepa.bash"),
            (clap_complete::Shell::Zsh, "_vepa"),
            (clap_complete::Shell::Fish, "vepa.fish"),
        ] {
            let mut made = Vec::new();
            clap_complete::generate(shell, &mut super::Cli::command(), "vepa", &mut made);
            let kept = std::fs::read(dist.join("completions").join(file)).unwrap_or_default();
            assert!(made == kept, "dist/completions/{file}: {stale}");
        }
    }
}
