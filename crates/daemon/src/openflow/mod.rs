//! The daemon's OpenFlow 1.3 endpoints.
//!
//! Per switch with an `openflow` section: its management socket
//! (`SWITCH.mgmt` beside the API socket, mode 0660, the daemon's group,
//! peer credentials checked: what `ovs-ofctl ... unix:PATH` talks to), an
//! optional network listener (`pssl:` with client certificates, or plain
//! `ptcp:` on loopback when the topology allows it), and an optional active
//! connection to a controller (`ssl:` or `tcp:`, retried with backoff). At
//! most [`MAX_SESSIONS`] connections are served per switch. A [`Hub`] fans
//! the switch's asynchronous messages (packet-ins from the forwarders, flow
//! removals, port changes) out to its connections. The manager task keeps
//! the endpoints equal to the desired state, checking it a few times a
//! second.
//!
//! While the controller connection is up the switch drops frames no flow
//! matches (OpenFlow 1.3's table-miss default); while it is down the fail
//! mode decides: `standalone` forwards them as a plain switch, `secure`
//! drops them. Flows stay either way.

mod handle;
mod hub;
mod replies;
mod session;

pub use hub::{Event, Hub, Roles};

use crate::engine::Engine;
use crate::sdn::PortInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use vepa_api::topology::sdn::{mgmt_path, parse_controller, parse_listen, OpenFlowSpec, Transport};

/// Connections served at once per listener of a switch (its management
/// socket, its network listener), and TLS handshakes under way on a
/// network listener; more are closed as they come. Each listener has its
/// own, so strangers who fill a network listener's never lock the group
/// out of the management socket.
pub const MAX_SESSIONS: usize = 16;
/// A TLS client has this long to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How the daemon's OpenFlow channels are made.
pub struct Channels {
    /// Where each switch's management socket goes (`SWITCH.mgmt`).
    pub mgmt_dir: PathBuf,
    /// The group allowed on the management sockets (the API socket's).
    pub group: u32,
    /// For `pssl:` and `ssl:`; without it the topology may not use them.
    pub tls: Option<TlsChannels>,
}

pub struct TlsChannels {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub connector: tokio_rustls::TlsConnector,
}

impl TlsChannels {
    pub fn new(tls: &super::tls::Tls) -> anyhow::Result<TlsChannels> {
        Ok(TlsChannels {
            acceptor: tokio_rustls::TlsAcceptor::from(tls.server_config()?),
            connector: tokio_rustls::TlsConnector::from(tls.client_config(false)?),
        })
    }
}

/// Reads the forwarders' controller copies on a thread of its own, a
/// switch at a time in turn (the forwarding threads never block on it).
pub fn spawn_packet_in_reader(hub: Arc<Hub>, queues: Arc<vepa_io::packet_in::PacketInQueues>) {
    let spawned = std::thread::Builder::new()
        .name("vepa-packet-in".into())
        .spawn(move || loop {
            if let Some(p) = queues.pop(std::time::Duration::from_secs(1)) {
                let sw = p.switch.to_string();
                hub.publish(&sw, Event::PacketIn(p));
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the packet-in thread; controllers get no packet-ins");
    }
}

/// One switch's running endpoints.
struct Endpoints {
    spec: OpenFlowSpec,
    mgmt: Option<JoinHandle<()>>,
    listener: Option<JoinHandle<()>>,
    controller: Option<JoinHandle<()>>,
    ports: Vec<PortInfo>,
    /// When a listener that ended may be started again.
    retry_at: Instant,
}

impl Endpoints {
    /// Stops every endpoint and waits until they are gone (their sockets
    /// closed and files removed), so endpoints made anew find the paths
    /// and ports free.
    async fn stop(&mut self) {
        for h in [
            self.mgmt.take(),
            self.listener.take(),
            self.controller.take(),
        ]
        .into_iter()
        .flatten()
        {
            h.abort();
            let _ = h.await;
        }
    }
}

/// What the manager needs of one switch.
struct Wanted {
    spec: Option<OpenFlowSpec>,
    ports: Vec<PortInfo>,
}

async fn locked<T: Send + 'static>(
    engine: &Arc<Mutex<Engine>>,
    f: impl FnOnce(&mut Engine) -> T + Send + 'static,
) -> Option<T> {
    let e = Arc::clone(engine);
    tokio::task::spawn_blocking(move || {
        let mut g = e.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    })
    .await
    .ok()
}

/// What every endpoint task of one switch shares.
#[derive(Clone)]
struct Ctx {
    switch: String,
    engine: Arc<Mutex<Engine>>,
    hub: Arc<Hub>,
    channels: Arc<Channels>,
}

impl Ctx {
    fn start_mgmt(&self) -> JoinHandle<()> {
        tokio::spawn(serve_mgmt(self.clone()))
    }

    fn start_listener(&self, spec: &str) -> Option<JoinHandle<()>> {
        match parse_listen(spec) {
            Ok((t, addr)) => Some(tokio::spawn(serve_tcp(self.clone(), t, addr))),
            Err(e) => {
                tracing::error!(switch = %self.switch, error = %e, "openflow.listen");
                None
            }
        }
    }

    fn start_controller(&self, spec: &str) -> Option<JoinHandle<()>> {
        match parse_controller(spec) {
            Ok((t, host, port)) => Some(tokio::spawn(dial(self.clone(), t, host, port))),
            Err(e) => {
                tracing::error!(switch = %self.switch, error = %e, "openflow.controller");
                None
            }
        }
    }

    /// A slot of `slots`, or None (and a log line) when all are taken.
    fn slot(&self, slots: &Arc<Semaphore>, peer: &str, what: &str) -> Option<OwnedSemaphorePermit> {
        let p = Arc::clone(slots).try_acquire_owned().ok();
        if p.is_none() {
            tracing::warn!(switch = %self.switch, peer, limit = MAX_SESSIONS, "OpenFlow connection refused: the listener has its limit of {what}");
        }
        p
    }

    fn session<S>(&self, stream: S, active: bool) -> impl std::future::Future<Output = ()> + Send
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        session::run(
            stream,
            self.switch.clone(),
            Arc::clone(&self.engine),
            Arc::clone(&self.hub),
            active,
        )
    }
}

/// Keeps every switch's endpoints equal to the desired state until `stop`.
pub async fn manage(
    engine: Arc<Mutex<Engine>>,
    hub: Arc<Hub>,
    channels: Arc<Channels>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: HashMap<String, Endpoints> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last_generation = None;
    let ctx = |name: &str| Ctx {
        switch: name.to_string(),
        engine: Arc::clone(&engine),
        hub: Arc::clone(&hub),
        channels: Arc::clone(&channels),
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|v| *v) => break,
        }
        let Some((generation, wanted)) = locked(&engine, |e| {
            let wanted: HashMap<String, Wanted> = e
                .desired()
                .switches
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        Wanted {
                            spec: s.openflow.clone(),
                            ports: e.port_infos(&s.name).unwrap_or_default(),
                        },
                    )
                })
                .collect();
            (e.generation(), wanted)
        })
        .await
        else {
            continue;
        };
        // A listener that could not bind (its port or path taken) is tried
        // again every few seconds, on its own: the other endpoints stay.
        let now = Instant::now();
        for (name, r) in running.iter_mut() {
            let dead = |h: &Option<JoinHandle<()>>| h.as_ref().is_some_and(|h| h.is_finished());
            if (dead(&r.listener) || dead(&r.mgmt)) && now >= r.retry_at {
                r.retry_at = now + Duration::from_secs(3);
                let c = ctx(name);
                if dead(&r.mgmt) {
                    r.mgmt = Some(c.start_mgmt());
                }
                if dead(&r.listener) {
                    r.listener = r.spec.listen.as_deref().and_then(|l| c.start_listener(l));
                }
            }
        }
        if last_generation == Some(generation) {
            continue;
        }
        last_generation = Some(generation);
        // Gone or changed: stop.
        let names: Vec<String> = running.keys().cloned().collect();
        for name in names {
            let keep = wanted
                .get(&name)
                .and_then(|w| w.spec.as_ref())
                .is_some_and(|s| running.get(&name).is_some_and(|r| r.spec == *s));
            if !keep {
                if let Some(mut r) = running.remove(&name) {
                    r.stop().await;
                    let n = name.clone();
                    locked(&engine, move |e| e.set_controller_up(&n, false)).await;
                }
            }
        }
        for (name, w) in &wanted {
            let Some(spec) = &w.spec else { continue };
            if let Some(r) = running.get_mut(name) {
                announce_port_changes(&hub, name, &r.ports, &w.ports);
                r.ports = w.ports.clone();
                continue;
            }
            let c = ctx(name);
            running.insert(
                name.clone(),
                Endpoints {
                    spec: spec.clone(),
                    mgmt: Some(c.start_mgmt()),
                    listener: spec.listen.as_deref().and_then(|l| c.start_listener(l)),
                    controller: spec
                        .controller
                        .as_deref()
                        .and_then(|l| c.start_controller(l)),
                    ports: w.ports.clone(),
                    retry_at: Instant::now() + Duration::from_secs(3),
                },
            );
        }
    }
    for (_, mut r) in running {
        r.stop().await;
    }
}

/// PORT_STATUS for ports that came, went or changed.
fn announce_port_changes(hub: &Hub, switch: &str, old: &[PortInfo], new: &[PortInfo]) {
    const ADD: u8 = 0;
    const DELETE: u8 = 1;
    const MODIFY: u8 = 2;
    for p in old {
        match new.iter().find(|q| q.name == p.name) {
            None => hub.publish(
                switch,
                Event::PortStatus {
                    reason: DELETE,
                    port: p.clone(),
                },
            ),
            Some(q) if q.no != p.no || q.up != p.up || q.mac != p.mac => hub.publish(
                switch,
                Event::PortStatus {
                    reason: MODIFY,
                    port: q.clone(),
                },
            ),
            Some(_) => {}
        }
    }
    for q in new {
        if !old.iter().any(|p| p.name == q.name) {
            hub.publish(
                switch,
                Event::PortStatus {
                    reason: ADD,
                    port: q.clone(),
                },
            );
        }
    }
}

/// The socket file a management listener made: removed when the listener
/// ends (switch gone, daemon stopping), unless another took the path.
struct SocketFile {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

fn inode(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if self.inode.is_some() && inode(&self.path) == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds a management socket: a stale socket replaced (never a file that
/// is not a socket), mode 0660, the daemon's group.
fn bind_mgmt(path: &Path, gid: u32) -> std::io::Result<(tokio::net::UnixListener, SocketFile)> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another process serves it",
                ));
            }
            std::fs::remove_file(path)?
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is there",
            ))
        }
        Err(_) => {}
    }
    let l = tokio::net::UnixListener::bind(path)?;
    let file = SocketFile {
        path: path.to_path_buf(),
        inode: inode(path),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    std::os::unix::fs::chown(path, None, Some(gid))?;
    Ok((l, file))
}

/// The switch's management socket: root, vepa's user and the daemon's
/// group (checked by peer credentials, whatever the file's mode).
async fn serve_mgmt(c: Ctx) {
    let path = mgmt_path(&c.channels.mgmt_dir, &c.switch);
    let (l, _file) = match bind_mgmt(&path, c.channels.group) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(switch = %c.switch, socket = %path.display(), error = %e, "cannot make the OpenFlow management socket");
            return;
        }
    };
    tracing::info!(switch = %c.switch, socket = %path.display(), "OpenFlow management socket up");
    let slots = Arc::new(Semaphore::new(MAX_SESSIONS));
    // The sessions end with the listener (dropping the set aborts them):
    // a switch removed or reconfigured keeps no connection behind.
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let cred = vepa_io::PeerCred::of(&stream).ok();
                let uid = cred.as_ref().map(|u| u.uid);
                if !cred.is_some_and(|u| u.allowed(Some(c.channels.group))) {
                    tracing::warn!(
                        switch = %c.switch,
                        uid = ?uid,
                        "OpenFlow management socket: refused a peer that is not root, vepa's user or in the daemon's group"
                    );
                    continue;
                }
                let peer = format!("uid {}", uid.unwrap_or(0));
                let Some(slot) = c.slot(&slots, &peer, "connections") else { continue };
                let s = c.session(stream, false);
                sessions.spawn(async move {
                    s.await;
                    drop(slot);
                });
            }
            Some(_) = sessions.join_next() => {}
        }
    }
}

/// A network listener: `pssl:` (the client's certificate must be the
/// CA's) or plain `ptcp:` (loopback, allowed by the topology).
async fn serve_tcp(c: Ctx, transport: Transport, addr: std::net::SocketAddr) {
    let acceptor = match (transport, &c.channels.tls) {
        (Transport::Tcp, _) => None,
        (Transport::Ssl, Some(t)) => Some(t.acceptor.clone()),
        (Transport::Ssl, None) => {
            tracing::error!(switch = %c.switch, %addr, "pssl: needs the daemon's --openflow-private-key, --openflow-certificate and --openflow-ca-cert");
            return;
        }
    };
    let l = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(switch = %c.switch, %addr, error = %e, "cannot listen for OpenFlow");
            return;
        }
    };
    if acceptor.is_some() {
        tracing::info!(switch = %c.switch, %addr, "OpenFlow TLS listener up (client certificates required)");
    } else {
        tracing::warn!(switch = %c.switch, %addr, "OpenFlow plain TCP listener up: UNAUTHENTICATED, any local user can steer this switch (allow_plain_tcp)");
    }
    let slots = Arc::new(Semaphore::new(MAX_SESSIONS));
    let handshakes = Arc::new(Semaphore::new(MAX_SESSIONS));
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let who = peer.to_string();
                tracing::debug!(switch = %c.switch, %peer, "OpenFlow connection");
                let Some(a) = acceptor.clone() else {
                    let Some(slot) = c.slot(&slots, &who, "connections") else { continue };
                    let s = c.session(stream, false);
                    sessions.spawn(async move {
                        s.await;
                        drop(slot);
                    });
                    continue;
                };
                // A session slot only once the peer has shown a certificate
                // of the CA: strangers cannot take the switch's slots.
                let Some(pending) = c.slot(&handshakes, &who, "TLS handshakes") else { continue };
                let (c2, slots) = (c.clone(), Arc::clone(&slots));
                sessions.spawn(async move {
                    let tls = tokio::time::timeout(HANDSHAKE, a.accept(stream)).await;
                    drop(pending);
                    match tls {
                        Ok(Ok(tls)) => {
                            if let Some(slot) = c2.slot(&slots, &who, "connections") {
                                c2.session(tls, false).await;
                                drop(slot);
                            }
                        }
                        Ok(Err(e)) => tracing::warn!(switch = %c2.switch, peer = %who, error = %e, "OpenFlow TLS handshake refused"),
                        Err(_) => tracing::warn!(switch = %c2.switch, peer = %who, "OpenFlow TLS handshake timed out"),
                    }
                });
            }
            Some(_) = sessions.join_next() => {}
        }
    }
}

/// The active connection to the controller, made again whenever it drops.
async fn dial(c: Ctx, transport: Transport, host: String, port: u16) {
    let connector = match (transport, &c.channels.tls) {
        (Transport::Tcp, _) => None,
        (Transport::Ssl, Some(t)) => match super::tls::server_name(&host) {
            Ok(name) => Some((t.connector.clone(), name)),
            Err(e) => {
                tracing::error!(switch = %c.switch, error = %format!("{e:#}"), "openflow.controller");
                return;
            }
        },
        (Transport::Ssl, None) => {
            tracing::error!(switch = %c.switch, "ssl: needs the daemon's --openflow-private-key, --openflow-certificate and --openflow-ca-cert");
            return;
        }
    };
    let target = format!("{host}:{port}");
    let mut backoff = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        match conn {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let served = match &connector {
                    None => {
                        controller_session(&c, &target, c.session(stream, true)).await;
                        true
                    }
                    Some((tc, name)) => {
                        match tokio::time::timeout(HANDSHAKE, tc.connect(name.clone(), stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                controller_session(&c, &target, c.session(tls, true)).await;
                                true
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(switch = %c.switch, controller = %target, error = %e, "controller TLS handshake failed");
                                false
                            }
                            Err(_) => {
                                tracing::warn!(switch = %c.switch, controller = %target, "controller TLS handshake timed out");
                                false
                            }
                        }
                    }
                };
                if served && started.elapsed() > Duration::from_secs(10) {
                    backoff = Duration::from_millis(500);
                }
            }
            Ok(Err(e)) => tracing::debug!(switch = %c.switch, error = %e, "controller unreachable"),
            Err(_) => tracing::debug!(switch = %c.switch, "controller connect timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
}

/// A controller connection's life: the fail mode is off while it lasts.
async fn controller_session(c: &Ctx, target: &str, session: impl std::future::Future<Output = ()>) {
    tracing::info!(switch = %c.switch, controller = %target, "controller connected");
    let sw = c.switch.clone();
    locked(&c.engine, move |e| e.set_controller_up(&sw, true)).await;
    session.await;
    let sw = c.switch.clone();
    locked(&c.engine, move |e| e.set_controller_up(&sw, false)).await;
    tracing::warn!(switch = %c.switch, "controller connection lost; the fail mode applies");
}
