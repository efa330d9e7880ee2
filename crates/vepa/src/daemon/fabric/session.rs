//! One session with etcd: a lease, this host's record under it, a full
//! read of the others and a watch from that revision on; it ends (with
//! the reason) when any of the lease keep-alive, the watch or a write
//! fails, or cleanly on stop (the lease revoked: the others drop this
//! host at once rather than when the lease runs out).

use super::record::{host_key, host_of_key};
use super::{program_ports, this_host, ControlPlane};
use crate::daemon::engine::Engine;
use anyhow::{bail, Context, Result};
use etcd_client::{Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vepa_api::wire::HostRecord;

/// Runs `f` on the engine off the async threads.
async fn with_engine<T: Send + 'static>(
    engine: &Arc<Mutex<Engine>>,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T> {
    let engine = Arc::clone(engine);
    tokio::task::spawn_blocking(move || {
        let e = engine.lock().unwrap_or_else(|p| p.into_inner());
        f(&e)
    })
    .await
    .context("engine task")
}

async fn program(cp: &Arc<ControlPlane>, engine: &Arc<Mutex<Engine>>) -> Result<()> {
    let (cp, hosts) = (Arc::clone(cp), cp.hosts());
    with_engine(engine, move |e| program_ports(e, &cp, &hosts)).await
}

async fn publish(client: &mut Client, key: &str, record: &HostRecord, lease: i64) -> Result<()> {
    let value = serde_json::to_vec(record).context("encode this host's record")?;
    client
        .put(key, value, Some(PutOptions::new().with_lease(lease)))
        .await
        .context("publish this host")?;
    Ok(())
}

pub(super) async fn run(
    cp: &Arc<ControlPlane>,
    engine: &Arc<Mutex<Engine>>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let o = &cp.opts;
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(3))
        .with_timeout(Duration::from_secs(5))
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(3));
    let mut client = Client::connect(&o.endpoints, Some(options))
        .await
        .context("connect")?;
    let lease = client
        .lease_grant(o.lease_ttl, None)
        .await
        .context("unreachable (grant a lease)")?
        .id();
    let key = host_key(&o.prefix, &o.host_id);
    // Another host under our ID would be overwritten: refuse while its
    // record lives (a restart of this host, same underlay, takes it over).
    let existing = client.get(key.as_str(), None).await.context("read")?;
    if let Some(kv) = existing.kvs().first() {
        if let Ok(r) = serde_json::from_slice::<HostRecord>(kv.value()) {
            if r.underlay != o.underlay {
                let _ = client.lease_revoke(lease).await;
                bail!(
                    "--host-id {}: the store has this ID for underlay {} (another host?); it is free once that host's lease runs out",
                    o.host_id,
                    r.underlay
                );
            }
        }
    }
    let cp2 = Arc::clone(cp);
    let mut published = with_engine(engine, move |e| this_host(e, &cp2)).await?;
    publish(&mut client, &key, &published, lease).await?;
    let hosts_prefix = format!("{}/hosts/", o.prefix);
    let all = client
        .get(hosts_prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await
        .context("read the hosts")?;
    let revision = all.header().map(|h| h.revision()).unwrap_or(0);
    let mut hosts = BTreeMap::new();
    for kv in all.kvs() {
        let Some(id) = kv.key_str().ok().and_then(|k| host_of_key(&o.prefix, k)) else {
            continue;
        };
        match serde_json::from_slice::<HostRecord>(kv.value()) {
            Ok(r) => {
                hosts.insert(id.to_string(), r);
            }
            Err(e) => tracing::warn!(host = id, error = %e, "unreadable host record skipped"),
        }
    }
    let count = hosts.len();
    cp.set_hosts(hosts);
    program(cp, engine).await?;
    let mut watch = client
        .watch(
            hosts_prefix.as_str(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await
        .context("watch the hosts")?;
    let (mut keeper, mut alive) = client
        .lease_keep_alive(lease)
        .await
        .context("keep the lease alive")?;
    cp.connected();
    tracing::info!(
        host = %o.host_id, lease = format!("{lease:x}"), hosts = count,
        "etcd {}: connected, this host published", o.endpoints.join(",")
    );
    let mut renew = tokio::time::interval(Duration::from_millis(
        (o.lease_ttl as u64 * 1000 / 3).max(500),
    ));
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            // (The guard wait_for returns is not Send: dropped here.)
            _ = async { let _ = stop.wait_for(|v| *v).await; } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), client.lease_revoke(lease)).await;
                return Ok(());
            }
            _ = renew.tick() => keeper.keep_alive().await.context("keep the lease alive")?,
            r = alive.message() => match r.context("lease keep-alive")? {
                Some(r) if r.ttl() > 0 => {}
                Some(_) => bail!("lease {lease:x} expired"),
                None => bail!("lease keep-alive stream closed"),
            },
            r = watch.message() => {
                let Some(w) = r.context("watch")? else {
                    bail!("watch stream closed");
                };
                if w.canceled() {
                    bail!("watch canceled: {}", w.cancel_reason());
                }
                if w.events().is_empty() {
                    continue;
                }
                let mut hosts = cp.hosts();
                for ev in w.events() {
                    let Some(kv) = ev.kv() else { continue };
                    let Some(id) = kv.key_str().ok().and_then(|k| host_of_key(&o.prefix, k)) else {
                        continue;
                    };
                    match ev.event_type() {
                        EventType::Delete => {
                            tracing::info!(host = id, "host left the fabric");
                            hosts.remove(id);
                        }
                        EventType::Put => match serde_json::from_slice::<HostRecord>(kv.value()) {
                            Ok(r) => {
                                if !hosts.contains_key(id) {
                                    tracing::info!(host = id, underlay = %r.underlay, "host joined the fabric");
                                }
                                hosts.insert(id.to_string(), r);
                            }
                            Err(e) => tracing::warn!(host = id, error = %e, "unreadable host record skipped"),
                        },
                    }
                }
                cp.set_hosts(hosts);
                program(cp, engine).await?;
            }
            _ = refresh.tick() => {
                // New VMs (learned MACs) and topology changes go out;
                // ports a topology change made anew are programmed.
                let cp2 = Arc::clone(cp);
                let now = with_engine(engine, move |e| this_host(e, &cp2)).await?;
                if now != published {
                    publish(&mut client, &key, &now, lease).await?;
                    published = now;
                }
                program(cp, engine).await?;
            }
        }
    }
}
