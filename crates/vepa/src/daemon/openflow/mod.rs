//! The daemon's OpenFlow 1.3 endpoints.
//!
//! Per switch with an `openflow` section: a passive listener (`ptcp:`,
//! loopback by default, for `ovs-ofctl` and controllers that dial in) and
//! an active connection to a controller (`tcp:HOST:PORT`, retried with
//! backoff). A [`Hub`] fans the switch's asynchronous messages (packet-ins
//! from the forwarders, flow removals, port changes) out to its
//! connections. The manager task keeps the endpoints equal to the desired
//! state, checking it a few times a second.
//!
//! While the controller connection is up the switch drops frames no flow
//! matches (OpenFlow 1.3's table-miss default); while it is down the fail
//! mode decides: `standalone` forwards them as a plain switch, `secure`
//! drops them. Flows stay either way.

mod handle;
mod replies;
mod session;

use super::engine::Engine;
use super::sdn::PortInfo;
use crate::topology::sdn::{parse_controller, parse_listen, OpenFlowSpec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use vepa_dataplane::flow::{RemovedReason, Rule};

/// How many controller copies may wait between the forwarders and the
/// connections; more are dropped (the controller is too slow).
pub const PACKET_IN_QUEUE: usize = 1024;
const EVENT_QUEUE: usize = 1024;

/// Something a switch tells its controllers without being asked.
#[derive(Debug)]
pub enum Event {
    PacketIn(vepa_io::PacketIn),
    FlowRemoved {
        rule: Arc<Rule>,
        reason: RemovedReason,
        now_ms: u64,
    },
    PortStatus {
        reason: u8,
        port: PortInfo,
    },
}

/// Master/slave bookkeeping of one switch (OpenFlow 1.3 §6.3.5).
#[derive(Debug, Default)]
pub struct Roles {
    pub generation: Option<u64>,
    pub master: Option<u64>,
}

/// The switches' event channels and roles, shared by every connection.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
    pub roles: Mutex<HashMap<String, Roles>>,
    next_conn: AtomicU64,
}

impl Hub {
    pub fn subscribe(&self, switch: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut c = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        c.entry(switch.to_string())
            .or_insert_with(|| broadcast::channel(EVENT_QUEUE).0)
            .subscribe()
    }

    /// Tells `switch`'s connections (none listening: nothing happens).
    pub fn publish(&self, switch: &str, ev: Event) {
        let c = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = c.get(switch) {
            let _ = tx.send(Arc::new(ev));
        }
    }

    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Reads the forwarders' controller copies on a thread of its own (the
/// queue is a plain channel the forwarding threads never block on).
pub fn spawn_packet_in_reader(hub: Arc<Hub>, rx: std::sync::mpsc::Receiver<vepa_io::PacketIn>) {
    let spawned = std::thread::Builder::new()
        .name("vepa-packet-in".into())
        .spawn(move || {
            while let Ok(p) = rx.recv() {
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
    listener: Option<JoinHandle<()>>,
    controller: Option<JoinHandle<()>>,
    ports: Vec<PortInfo>,
    /// When a listener that ended may be started again.
    retry_at: Instant,
}

impl Endpoints {
    fn stop(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
        if let Some(c) = self.controller.take() {
            c.abort();
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

/// Keeps every switch's endpoints equal to the desired state until `stop`.
pub async fn manage(engine: Arc<Mutex<Engine>>, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let mut running: HashMap<String, Endpoints> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last_generation = None;
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
        // Endpoints whose task ended (a listener that could not bind) are
        // retried every few seconds.
        // A listener that could not bind (its port taken) is tried again
        // every few seconds, on its own: the controller connection stays.
        let now = Instant::now();
        for (name, r) in running.iter_mut() {
            let dead = r.listener.as_ref().is_some_and(|h| h.is_finished());
            if dead && now >= r.retry_at {
                r.retry_at = now + Duration::from_secs(3);
                r.listener = r
                    .spec
                    .listen
                    .as_deref()
                    .and_then(|l| parse_listen(l).ok())
                    .map(|addr| {
                        tokio::spawn(listen(
                            addr,
                            name.clone(),
                            Arc::clone(&engine),
                            Arc::clone(&hub),
                        ))
                    });
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
                    r.stop();
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
            let listener = spec.listen.as_deref().and_then(|l| match parse_listen(l) {
                Ok(addr) => Some(tokio::spawn(listen(
                    addr,
                    name.clone(),
                    Arc::clone(&engine),
                    Arc::clone(&hub),
                ))),
                Err(e) => {
                    tracing::error!(switch = %name, error = %e, "openflow.listen");
                    None
                }
            });
            let controller = spec
                .controller
                .as_deref()
                .and_then(|c| match parse_controller(c) {
                    Ok((host, port)) => Some(tokio::spawn(dial(
                        host,
                        port,
                        name.clone(),
                        Arc::clone(&engine),
                        Arc::clone(&hub),
                    ))),
                    Err(e) => {
                        tracing::error!(switch = %name, error = %e, "openflow.controller");
                        None
                    }
                });
            running.insert(
                name.clone(),
                Endpoints {
                    spec: spec.clone(),
                    listener,
                    controller,
                    ports: w.ports.clone(),
                    retry_at: Instant::now() + Duration::from_secs(3),
                },
            );
        }
    }
    for (_, mut r) in running {
        r.stop();
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

async fn listen(
    addr: std::net::SocketAddr,
    switch: String,
    engine: Arc<Mutex<Engine>>,
    hub: Arc<Hub>,
) {
    let l = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(switch = %switch, %addr, error = %e, "cannot listen for OpenFlow");
            return;
        }
    };
    tracing::info!(switch = %switch, %addr, "OpenFlow listener up");
    // The sessions end with the listener (dropping the set aborts them):
    // a switch removed or reconfigured keeps no connection behind.
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tracing::debug!(switch = %switch, %peer, "OpenFlow connection");
                sessions.spawn(session::run(
                    stream,
                    switch.clone(),
                    Arc::clone(&engine),
                    Arc::clone(&hub),
                    false,
                ));
            }
            Some(_) = sessions.join_next() => {}
        }
    }
}

/// The active connection to the controller, made again whenever it drops.
async fn dial(host: String, port: u16, switch: String, engine: Arc<Mutex<Engine>>, hub: Arc<Hub>) {
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
                tracing::info!(switch = %switch, controller = %format!("{host}:{port}"), "controller connected");
                let sw = switch.clone();
                locked(&engine, move |e| e.set_controller_up(&sw, true)).await;
                session::run(
                    stream,
                    switch.clone(),
                    Arc::clone(&engine),
                    Arc::clone(&hub),
                    true,
                )
                .await;
                let sw = switch.clone();
                locked(&engine, move |e| e.set_controller_up(&sw, false)).await;
                tracing::warn!(switch = %switch, "controller connection lost; the fail mode applies");
                if started.elapsed() > Duration::from_secs(10) {
                    backoff = Duration::from_millis(500);
                }
            }
            Ok(Err(e)) => tracing::debug!(switch = %switch, error = %e, "controller unreachable"),
            Err(_) => tracing::debug!(switch = %switch, "controller connect timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
}
