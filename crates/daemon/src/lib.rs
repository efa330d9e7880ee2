//! `vepa daemon`: the switch as a service.
//!
//! The desired state lives in the [`store`]; the [`engine`] keeps the host
//! and the dataplane equal to it; the [`http`] API serves it over a unix socket
//! (and optionally loopback TCP with a token). Stopping the daemon stops
//! forwarding but leaves the devices it made, which the next start adopts.

#![deny(clippy::undocumented_unsafe_blocks)]

/// `println!` that ignores a closed stdout: output is a courtesy.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod engine;
pub mod fabric;
pub mod http;
pub mod link;
pub mod metrics;
pub mod openflow;
mod readiness;
pub mod sdn;
pub mod store;
pub mod tls;

use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vepa_api::topology::Topology;
use vepa_host::{running_as_root, PortOptions};

/// The embedded default topology (`--default`).
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../../examples/daemon-default.toml");

pub use http::LogFilter;

pub struct DaemonOptions {
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub group: Option<String>,
    pub vhost_group: Option<String>,
    pub vhost_user_dir: PathBuf,
    pub listen: Option<SocketAddr>,
    pub token_file: Option<PathBuf>,
    /// Serve `/metrics` alone, read-only, on this TCP address (for a
    /// Prometheus on another host).
    pub metrics_listen: Option<SocketAddr>,
    pub workers: vepa_io::Workers,
    /// Interface ports go through AF_XDP where XDP attaches (`--xdp`).
    pub xdp: bool,
    pub seed_default: bool,
    pub fabric: Option<fabric::FabricOptions>,
    pub openflow_tls: Option<tls::TlsFiles>,
    /// Changes the log filter at run time (`vepa log level`), with the
    /// filter in force at start.
    pub log_filter: Option<(LogFilter, String)>,
}

/// TLS for the switches' `pssl:` listeners and `ssl:` controllers (the
/// files `ovs-ofctl` takes as --private-key, --certificate, --ca-cert).
#[derive(clap::Args, Debug, Clone)]
pub struct OpenFlowArgs {
    /// This daemon's private key (PEM) for OpenFlow over TLS.
    #[arg(long, value_name = "FILE", requires_all = ["openflow_certificate", "openflow_ca_cert"])]
    openflow_private_key: Option<PathBuf>,
    /// This daemon's certificate (PEM) for OpenFlow over TLS.
    #[arg(long, value_name = "FILE", requires_all = ["openflow_private_key", "openflow_ca_cert"])]
    openflow_certificate: Option<PathBuf>,
    /// The CA (PEM) OpenFlow peers' certificates must be signed by: clients
    /// of pssl: listeners and the controllers ssl: dials.
    #[arg(long, value_name = "FILE", requires_all = ["openflow_private_key", "openflow_certificate"])]
    openflow_ca_cert: Option<PathBuf>,
}

impl OpenFlowArgs {
    pub fn files(self) -> Option<tls::TlsFiles> {
        Some(tls::TlsFiles {
            key: self.openflow_private_key?,
            cert: self.openflow_certificate?,
            ca: self.openflow_ca_cert?,
            flags: [
                "--openflow-private-key",
                "--openflow-certificate",
                "--openflow-ca-cert",
            ],
        })
    }
}

/// The multi-host control plane's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct FabricArgs {
    /// etcd endpoint(s) of the multi-host control plane, e.g. http://10.0.0.9:2379
    /// (repeat or separate with commas). This host's VTEP, VNIs and VM MACs are
    /// published there; fabric ports (`fabric = true`) reach the other hosts it lists.
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    etcd: Vec<String>,
    /// This host's name in the store (default: the hostname).
    #[arg(long, value_name = "NAME", requires = "etcd")]
    host_id: Option<String>,
    /// This host's address on the underlay: its VTEP for fabric ports without `local`.
    #[arg(long, value_name = "IP", requires = "etcd")]
    underlay_ip: Option<std::net::IpAddr>,
    /// Key prefix the hosts of one fabric share.
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "/vepa",
        requires = "etcd"
    )]
    etcd_prefix: String,
    /// Seconds a host's entries outlive it (its etcd lease).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(2..=3600), requires = "etcd")]
    etcd_lease_ttl: u16,
    /// CA (PEM) etcd's certificate must be signed by (https:// endpoints).
    #[arg(long, value_name = "FILE", requires_all = ["etcd", "etcd_cert", "etcd_key"])]
    etcd_cacert: Option<PathBuf>,
    /// This host's client certificate (PEM) for etcd's --client-cert-auth.
    #[arg(long, value_name = "FILE", requires_all = ["etcd", "etcd_cacert", "etcd_key"])]
    etcd_cert: Option<PathBuf>,
    /// The private key (PEM) of --etcd-cert.
    #[arg(long, value_name = "FILE", requires_all = ["etcd", "etcd_cacert", "etcd_cert"])]
    etcd_key: Option<PathBuf>,
    /// This host's etcd user (RBAC: it may write only its own key; see the
    /// README's etcd layout).
    #[arg(long, value_name = "NAME", requires_all = ["etcd", "etcd_password_file"])]
    etcd_user: Option<String>,
    /// A file holding --etcd-user's password (not on the command line,
    /// where every local user could read it).
    #[arg(long, value_name = "FILE", requires = "etcd_user")]
    etcd_password_file: Option<PathBuf>,
}

impl FabricArgs {
    pub fn options(self, state_dir: &Path) -> Result<Option<fabric::FabricOptions>> {
        if self.etcd.is_empty() {
            return Ok(None);
        }
        let tls = match (self.etcd_cacert, self.etcd_cert, self.etcd_key) {
            (Some(ca), Some(cert), Some(key)) => {
                // One cleartext endpoint would undo TLS: the client moves
                // to it whenever the others cannot be reached.
                if let Some(e) = self.etcd.iter().find(|e| !e.starts_with("https://")) {
                    bail!("--etcd: '{e}': with --etcd-cacert every endpoint must be https:// (the client fails over between them)");
                }
                let t = tls::Tls::load(&tls::TlsFiles {
                    key,
                    cert,
                    ca,
                    flags: ["--etcd-key", "--etcd-cert", "--etcd-cacert"],
                })?;
                Some(t.client_config(true)?)
            }
            _ => None,
        };
        let credentials = match (self.etcd_user, self.etcd_password_file) {
            (Some(_), Some(_)) if tls.is_none() => {
                bail!("--etcd-user: the password and token would cross the network in the clear; use https:// endpoints with --etcd-cacert, --etcd-cert and --etcd-key")
            }
            (Some(user), Some(file)) => {
                let password = std::fs::read_to_string(&file)
                    .with_context(|| {
                        format!("--etcd-password-file: cannot read {}", file.display())
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                if user.is_empty() || password.is_empty() {
                    bail!("--etcd-user/--etcd-password-file: the user and the password must not be empty");
                }
                Some(fabric::Credentials { user, password })
            }
            _ => None,
        };
        for e in &self.etcd {
            fabric::Etcd::new(std::slice::from_ref(e), tls.clone(), None).context("--etcd")?;
        }
        let underlay = self.underlay_ip.context(
            "--etcd needs --underlay-ip: this host's address on the underlay, which the other hosts send tunnel traffic to",
        )?;
        if underlay.is_unspecified() || underlay.is_multicast() || underlay.is_loopback() {
            bail!("--underlay-ip: {underlay} is not a unicast address the other hosts can reach");
        }
        let host_id = match self.host_id {
            Some(h) => h,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .context("--host-id: not given, and the hostname cannot be read")?
                .trim()
                .to_string(),
        };
        if host_id.is_empty()
            || host_id.len() > 64
            || !host_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bail!("--host-id: '{host_id}': expected 1 to 64 letters, digits, '-', '_' or '.'");
        }
        let prefix = self.etcd_prefix.trim_end_matches('/').to_string();
        if !prefix.starts_with('/') {
            bail!(
                "--etcd-prefix: '{}': expected a key prefix starting with '/'",
                self.etcd_prefix
            );
        }
        Ok(Some(fabric::FabricOptions {
            endpoints: self.etcd,
            host_id,
            underlay,
            prefix,
            lease_ttl: i64::from(self.etcd_lease_ttl),
            tls,
            credentials,
            cache: Some(state_dir.join("fabric-hosts.json")),
        }))
    }
}

/// A group name or number to a gid (`flag` names the option in errors).
fn group_id(flag: &str, name: &str) -> Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    let groups = std::fs::read_to_string("/etc/group").context("read /etc/group")?;
    groups
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name))
                .then(|| f.nth(1).and_then(|g| g.parse().ok()))
                .flatten()
        })
        .with_context(|| format!("{flag}: no group '{name}' in /etc/group"))
}

/// `--vhost-user-dir`, checked: absolute, plain components. Kept for the
/// process's life (ports are opened with it from many threads).
fn vhost_user_dir(dir: &Path) -> Result<&'static str> {
    let text = dir
        .to_str()
        .context("--vhost-user-dir: expected a UTF-8 path")?
        .trim_end_matches('/');
    if !text.starts_with('/')
        || !text[1..]
            .split('/')
            .all(vepa_api::topology::check_path_component)
    {
        bail!("--vhost-user-dir: '{}': expected an absolute path without '.', '..', '//' or control characters", dir.display());
    }
    if text.len() + 2 >= vepa_api::topology::MAX_SOCKET_PATH {
        bail!("--vhost-user-dir: '{text}' leaves no room for a socket name in a unix socket address ({} bytes)", vepa_api::topology::MAX_SOCKET_PATH);
    }
    Ok(Box::leak(text.to_string().into_boxed_str()))
}

fn read_token(path: &Path) -> Result<Vec<u8>> {
    let t = std::fs::read_to_string(path)
        .with_context(|| format!("--token-file: cannot read {}", path.display()))?;
    let t = t.trim();
    if t.len() < 16 {
        bail!(
            "--token-file: {}: the token must be at least 16 characters",
            path.display()
        );
    }
    Ok(t.as_bytes().to_vec())
}

/// Binds the socket: its directory made, a stale socket file (nobody
/// listening) replaced, mode 0660 and the group set.
fn bind_socket(path: &Path, gid: u32) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--socket: cannot make {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "--socket: {} is in use: another vepa daemon is running",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("--socket: cannot replace {}", path.display()))?;
    }
    let l = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("--socket: cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("--socket: chmod {}", path.display()))?;
    std::os::unix::fs::chown(path, None, Some(gid))
        .with_context(|| format!("--socket: chgrp {}", path.display()))?;
    Ok(l)
}

pub fn run(o: DaemonOptions) -> Result<()> {
    if !running_as_root() {
        bail!("vepa daemon needs root to create devices and open raw sockets: run it as root");
    }
    // Forwarding threads and their receive buffers (32 of MAX_FRAME + 4
    // bytes each) are made anew on every port change. With glibc's
    // defaults each new thread may take an arena of its own (up to 8 a
    // core), and the freed buffers stay in the arenas, fragmenting them,
    // so the daemon's memory would creep up with the changes (bench/soak
    // shows it). A few arenas serve these threads, and blocks of MAX_FRAME
    // bytes and more (receive buffers) are mapped and unmapped on their
    // own. The threshold is fixed (glibc would raise it after the first
    // such free) and sits above the largest frame (65,553 bytes), so a
    // copy of a frame never costs an mmap.
    // SAFETY: mallopt only sets allocator parameters; called before any
    // thread but this one exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
        libc::mallopt(libc::M_MMAP_THRESHOLD, vepa_io::MAX_FRAME as libc::c_int);
    }
    let gid = match &o.group {
        Some(g) => group_id("--group", g)?,
        None => 0,
    };
    let vhost_gid = match (&o.vhost_group, &o.group) {
        (Some(g), _) => Some(group_id("--vhost-group", g)?),
        (None, Some(_)) => Some(gid),
        (None, None) => None,
    };
    let vhost_user_dir = vhost_user_dir(&o.vhost_user_dir)?;
    let openflow_tls = o.openflow_tls.as_ref().map(tls::Tls::load).transpose()?;
    let mgmt_dir = o
        .socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let token = match (&o.listen, &o.token_file) {
        (Some(addr), Some(f)) => {
            if !addr.ip().is_loopback() {
                bail!("--listen: {addr} is not a loopback address; the TCP API listens on loopback only (127.0.0.1 or ::1)");
            }
            Some(Arc::new(read_token(f)?))
        }
        (Some(_), None) => {
            bail!("--listen needs --token-file: the TCP API always asks for a bearer token")
        }
        (None, Some(_)) => bail!("--token-file is only used with --listen"),
        (None, None) => None,
    };
    let store = store::Store::open(&o.state_dir)?;
    let owner = vepa_host::Owner {
        instance: store.instance().to_string(),
        opts: PortOptions {
            underlay: o.fabric.as_ref().map(|f| f.underlay),
            socket_group: vhost_gid,
            vhost_user_dir: Some(vhost_user_dir),
            xdp: o.xdp,
            ..PortOptions::default()
        },
    };
    // Controller copies: the forwarders' queue, read by the OpenFlow hub.
    let packet_ins = Arc::new(vepa_io::packet_in::PacketInQueues::default());
    // Link protocols' frames (LLDP, ECP): the forwarders' inbox, read by the link agent.
    let link_inbox = Arc::new(vepa_io::LinkInbox::default());
    let mut engine = engine::Engine::start(
        store,
        owner,
        o.workers,
        Some(Arc::clone(&packet_ins)),
        Some(Arc::clone(&link_inbox)),
    )
    .context("reconcile the stored state onto the host")?;
    engine.set_openflow(mgmt_dir.clone(), openflow_tls.is_some());
    if o.seed_default && engine.generation() == 0 && engine.desired().switches.is_empty() {
        let t = Topology::parse("embedded default", DEFAULT_TOPOLOGY)?;
        engine
            .change(t, false)
            .context("apply the embedded default topology")?;
        say!("vepa daemon: applied the embedded default topology (examples/daemon-default.toml)");
    }
    let summary = format!(
        "generation {}, {} switch(es), {} port(s)",
        engine.generation(),
        engine.desired().switches.len(),
        engine.desired().ports().count()
    );
    let link_table = engine.link.as_ref().map(|(_, t)| Arc::clone(t));
    let engine = Arc::new(Mutex::new(engine));
    if let Some(table) = link_table {
        let e = Arc::clone(&engine);
        let with_ports = move |f: &mut dyn FnMut(&[link::AgentPort])| {
            let mut e = link::lock(&e);
            f(&e.link_agent_ports());
            e.apply_link_facts();
            e.run_queriers();
        };
        link::spawn(with_ports, link_inbox, table);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("vepa-api")
        .build()
        .context("start the API runtime")?;
    let hub = Arc::new(openflow::Hub::default());
    openflow::spawn_packet_in_reader(Arc::clone(&hub), packet_ins);
    let channels = Arc::new(openflow::Channels {
        mgmt_dir,
        group: gid,
        tls: {
            // The TLS acceptor and connector need the runtime's context.
            let _rt = rt.enter();
            openflow_tls
                .as_ref()
                .map(openflow::TlsChannels::new)
                .transpose()?
        },
    });
    let served = rt.block_on(serve(
        &o,
        gid,
        token,
        Arc::clone(&engine),
        hub,
        channels,
        &summary,
    ));
    let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(err) = e.flush_flows() {
        tracing::warn!(error = %err, "cannot store the last flow changes");
    }
    e.shutdown();
    let _ = std::fs::remove_file(&o.socket);
    served
}

async fn serve(
    o: &DaemonOptions,
    gid: u32,
    token: Option<Arc<Vec<u8>>>,
    engine: Arc<Mutex<engine::Engine>>,
    hub: Arc<openflow::Hub>,
    channels: Arc<openflow::Channels>,
    summary: &str,
) -> Result<()> {
    use axum::middleware::from_fn_with_state;
    let st: http::Shared = Arc::new(http::AppState {
        engine,
        requests: Default::default(),
        captures: Default::default(),
        control_plane: o
            .fabric
            .clone()
            .map(|f| Arc::new(fabric::ControlPlane::new(f))),
        log_filter: o
            .log_filter
            .clone()
            .map(|(set, now)| (set, std::sync::Mutex::new(now))),
    });
    let unix = bind_socket(&o.socket, gid)?;
    let unix_app = http::finish(
        http::router(Arc::clone(&st)).route_layer(from_fn_with_state(gid, http::require_group)),
        Arc::clone(&st),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(cp) = &st.control_plane {
        let (cp, e, stop) = (Arc::clone(cp), Arc::clone(&st.engine), stop_rx.clone());
        tasks.spawn(async move {
            fabric::run(cp, e, stop).await;
            Ok(())
        });
    }
    let unix_server = axum::serve(
        unix,
        unix_app.into_make_service_with_connect_info::<http::Peer>(),
    )
    .with_graceful_shutdown(wait(stop_rx.clone()));
    tasks.spawn(async move { unix_server.await });
    // OpenFlow listeners and controller connections.
    let of_stop = stop_rx.clone();
    let (of_engine, of_hub) = (Arc::clone(&st.engine), Arc::clone(&hub));
    tasks.spawn(async move {
        openflow::manage(of_engine, of_hub, channels, of_stop).await;
        Ok(())
    });
    // Flow timeouts, and flow edits from OpenFlow written to the store.
    let housekeeping = Arc::clone(&st.engine);
    let house_hub = Arc::clone(&hub);
    let mut stop_house = stop_rx.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_house.wait_for(|v| *v) => return Ok(()),
            }
            let e = Arc::clone(&housekeeping);
            let hub = Arc::clone(&house_hub);
            let _ = tokio::task::spawn_blocking(move || {
                let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
                let now = e.now_ms();
                e.filters.expire(now);
                let gone = e.expire_flows();
                let now_ms = e.flow_clock_ms();
                for (switch, rule, reason) in gone {
                    hub.publish(
                        &switch,
                        openflow::Event::FlowRemoved {
                            rule,
                            reason,
                            now_ms,
                        },
                    );
                }
                if let Err(err) = e.flush_flows_settled() {
                    tracing::warn!(error = %err, "cannot store flow changes");
                }
            })
            .await;
        }
    });
    let mut where_ = format!("{}", o.socket.display());
    if let (Some(addr), Some(token)) = (o.listen, token) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--listen: cannot listen on {addr}"))?;
        let app = http::finish(
            http::router(Arc::clone(&st))
                .route_layer(from_fn_with_state(token, http::require_token)),
            Arc::clone(&st),
        );
        let tcp_server = axum::serve(l, app).with_graceful_shutdown(wait(stop_rx.clone()));
        tasks.spawn(async move { tcp_server.await });
        where_ += &format!(" and http://{addr} (bearer token)");
    }
    if let Some(addr) = o.metrics_listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--metrics-listen: cannot listen on {addr}"))?;
        let server = axum::serve(l, http::metrics_only(Arc::clone(&st)))
            .with_graceful_shutdown(wait(stop_rx.clone()));
        tasks.spawn(async move { server.await });
        where_ += &format!(", metrics on http://{addr}/metrics");
    }
    say!(
        "vepa daemon: serving on {where_}; state {} ({summary})",
        o.state_dir.display()
    );
    tracing::info!(socket = %o.socket.display(), "ready");
    // systemd (Type=notify) learns the daemon is up only once its socket
    // answers a request, so nothing ordered after vepa.service races it.
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        // (Not one of `tasks`: the daemon stops when any of those ends.)
        let socket = o.socket.clone();
        tokio::spawn(async move {
            match readiness::wait_answering(&socket).await {
                Ok(()) => readiness::notify_ready(&socket),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "not telling systemd the daemon is ready")
                }
            }
        });
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("install SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        Some(r) = tasks.join_next() => {
            if let Ok(Err(e)) = r {
                tracing::error!(error = %e, "API listener failed");
            }
        }
    }
    say!("vepa daemon: stopping; devices stay for the next start");
    readiness::notify_stopping();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
