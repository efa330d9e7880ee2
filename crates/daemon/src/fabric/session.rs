//! One session with etcd: a lease, this host's record under it, a full
//! read of the others and a watch from that revision on; it ends (with
//! the reason) when any of the lease keep-alive, the watch or a write
//! fails, or cleanly on stop (the lease revoked: the others drop this
//! host at once rather than when the lease runs out). The lease is kept
//! alive by a task of its own, so a long wait for the engine (a big
//! apply holds it) never lets it run out.

use super::etcd::{Etcd, EventType, WatchResponse};
use super::record::{admit, host_key, host_of_key, read_record, Found};
use super::{program_ports, this_host, ControlPlane, FabricOptions};
use crate::engine::Engine;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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

async fn publish(client: &Etcd, key: &str, record: &HostRecord, lease: i64) -> Result<()> {
    let value = serde_json::to_vec(record).context("encode this host's record")?;
    client
        .put(key, &value, lease)
        .await
        .context("publish this host")?;
    Ok(())
}

/// Keeps `lease` alive every third of its TTL until it expires or no
/// renewal has been answered for a whole TTL; returns why it stopped.
async fn keep_alive(client: Arc<Etcd>, lease: i64, ttl: Duration) -> anyhow::Error {
    let mut renew = tokio::time::interval((ttl / 3).max(Duration::from_millis(500)));
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut answered = tokio::time::Instant::now();
    loop {
        renew.tick().await;
        match tokio::time::timeout(ttl, client.lease_keep_alive(lease)).await {
            Ok(Ok(left)) if left > 0 => answered = tokio::time::Instant::now(),
            Ok(Ok(_)) => return anyhow::anyhow!("lease {lease:x} expired"),
            Ok(Err(e)) if answered.elapsed() > ttl => {
                return anyhow::Error::new(e).context("keep the lease alive")
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "lease renewal failed; trying again"),
            Err(_) => {}
        }
        if answered.elapsed() > ttl {
            return anyhow::anyhow!(
                "lease {lease:x}: renewals unanswered for {} s",
                ttl.as_secs()
            );
        }
    }
}

/// Publishes this host under `key` unless another host holds the ID: the
/// record is written only if the key is as it was read (so two daemons
/// starting with one ID cannot both win), and a record of another
/// underlay address is left alone until its lease runs out.
async fn claim(
    client: &Etcd,
    cp: &ControlPlane,
    key: &str,
    record: &HostRecord,
    lease: i64,
) -> Result<()> {
    let o = &cp.opts;
    let existing = client.get(key).await.context("read")?;
    let mut seen = 0;
    if let Some(kv) = existing.kvs.first() {
        seen = kv.mod_revision;
        if let Ok(r) = serde_json::from_slice::<HostRecord>(&kv.value) {
            if r.underlay != o.underlay {
                bail!(
                    "--host-id {}: the store has this ID for underlay {} (another host?); it is free once that host's lease runs out",
                    o.host_id,
                    r.underlay
                );
            }
        }
    }
    let value = serde_json::to_vec(record).context("encode this host's record")?;
    if !client
        .put_if_unchanged(key, seen, &value, lease)
        .await
        .context("publish this host")?
    {
        bail!(
            "--host-id {}: another daemon wrote this ID just now; trying again",
            o.host_id
        );
    }
    Ok(())
}

/// Admits the records found, tells of hosts that came and of records
/// newly refused, and hands the hosts to the control plane; how many.
fn take(cp: &ControlPlane, raw: &Found, mine: &HostRecord) -> usize {
    let a = admit(&cp.opts.host_id, mine, raw);
    let before = cp.hosts();
    for (id, r) in &a.hosts {
        if !before.contains_key(id) && *id != cp.opts.host_id {
            tracing::info!(host = %id, underlay = %r.underlay, "host joined the fabric");
        }
    }
    let count = a.hosts.len();
    cp.set_admitted(a);
    count
}

async fn session(
    cp: &Arc<ControlPlane>,
    engine: &Arc<Mutex<Engine>>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let o = &cp.opts;
    let client =
        Arc::new(Etcd::new(&o.endpoints, o.tls.clone(), o.credentials.clone()).context("--etcd")?);
    let lease = client
        .lease_grant(o.lease_ttl)
        .await
        .context("unreachable (grant a lease)")?;
    let key = host_key(&o.prefix, &o.host_id);
    let cp2 = Arc::clone(cp);
    let mut published = with_engine(engine, move |e| this_host(e, &cp2)).await?;
    if let Err(e) = claim(&client, cp, &key, &published, lease).await {
        let _ = client.lease_revoke(lease).await;
        return Err(e);
    }
    let hosts_prefix = format!("{}/hosts/", o.prefix);
    let all = client
        .get_prefix(&hosts_prefix)
        .await
        .context("read the hosts")?;
    let revision = all.header.revision;
    // Every record as found (creation revision, read once as it comes);
    // what the fabric uses is what `admit` takes of them, again after
    // each change.
    let mut raw: Found = BTreeMap::new();
    for kv in all.kvs {
        let Some(id) = kv.key_str().and_then(|k| host_of_key(&o.prefix, k)) else {
            continue;
        };
        raw.insert(
            id.to_string(),
            (kv.create_revision, read_record(id, &kv.value)),
        );
    }
    let count = take(cp, &raw, &published);
    program(cp, engine).await?;
    let mut watch = client
        .watch_prefix(&hosts_prefix, revision + 1)
        .await
        .context("watch the hosts")?;
    let ttl = Duration::from_secs(o.lease_ttl as u64);
    let mut lease_task = tokio::spawn(keep_alive(Arc::clone(&client), lease, ttl));
    // The keep-alive task ends with the session, however it ends.
    struct Abort(tokio::task::AbortHandle);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _abort = Abort(lease_task.abort_handle());
    cp.connected();
    tracing::info!(
        host = %o.host_id, lease = format!("{lease:x}"), hosts = count,
        "etcd {}: connected, this host published", o.endpoints.join(",")
    );
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // (The guard wait_for returns is not Send: dropped here.)
            _ = async { let _ = stop.wait_for(|v| *v).await; } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), client.lease_revoke(lease)).await;
                return Ok(());
            }
            r = &mut lease_task => {
                return Err(r.unwrap_or_else(|e| anyhow::anyhow!("lease task: {e}")));
            }
            r = watch.next() => {
                let Some(w) = r.context("watch")? else {
                    bail!("watch stream closed");
                };
                let mut changed = absorb(o, w, &mut raw)?;
                // Answers already waiting are taken together: a burst of
                // changes costs one pass over the hosts, not one per
                // change, so a host joining behind it waits for one pass.
                for _ in 0..MAX_COALESCED {
                    let Ok(r) = tokio::time::timeout(Duration::ZERO, watch.next()).await else {
                        break;
                    };
                    let Some(w) = r.context("watch")? else {
                        bail!("watch stream closed");
                    };
                    changed |= absorb(o, w, &mut raw)?;
                }
                if !changed {
                    continue;
                }
                take(cp, &raw, &published);
                program(cp, engine).await?;
            }
            _ = refresh.tick() => {
                // New VMs (learned MACs) and topology changes go out;
                // ports a topology change made anew are programmed.
                let cp2 = Arc::clone(cp);
                let now = with_engine(engine, move |e| this_host(e, &cp2)).await?;
                if now != published {
                    publish(&client, &key, &now, lease).await?;
                    published = now;
                    // This host's VTEPs and VMs are what others' claims
                    // are checked against.
                    take(cp, &raw, &published);
                }
                program(cp, engine).await?;
            }
        }
    }
}

/// Runs the control plane until `stop`: sessions with etcd, retried with
/// a doubling backoff (1 s to 30 s) when etcd cannot be reached or a
/// session breaks.
pub async fn run(
    cp: Arc<ControlPlane>,
    engine: Arc<Mutex<Engine>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const FIRST: Duration = Duration::from_secs(1);
    const MOST: Duration = Duration::from_secs(30);
    let mut backoff = FIRST;
    let endpoints = cp.opts.endpoints.join(",");
    // Until etcd answers, the hosts known when the daemon last ran.
    let known = cp.hosts();
    if !known.is_empty() {
        tracing::info!(
            hosts = known.len(),
            "fabric ports start with the last known hosts"
        );
        let cp2 = Arc::clone(&cp);
        let e = Arc::clone(&engine);
        let _ = tokio::task::spawn_blocking(move || {
            let e = e.lock().unwrap_or_else(|p| p.into_inner());
            program_ports(&e, &cp2, &known);
        })
        .await;
    }
    loop {
        cp.connecting();
        let began = Instant::now();
        let r = session(&cp, &engine, &mut stop).await;
        if *stop.borrow() {
            return;
        }
        let err = match r {
            Ok(()) => return,
            Err(e) => format!("{e:#}"),
        };
        // A session that lived a while starts the backoff over.
        if began.elapsed() > MOST {
            backoff = FIRST;
        }
        tracing::warn!(
            "etcd {endpoints}: {err}; the fabric keeps forwarding with what it knows; retrying in {} s",
            backoff.as_secs()
        );
        cp.retrying(err, backoff);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = async { let _ = stop.wait_for(|v| *v).await; } => return,
        }
        backoff = (backoff * 2).min(MOST);
    }
}

/// How many waiting watch answers are taken together before the hosts are
/// taken and programmed.
const MAX_COALESCED: usize = 4096;

/// Takes one watch answer's events into `raw`; whether there were any.
/// An answer that cancels the watch or rewrites this host's own record
/// ends the session.
fn absorb(o: &FabricOptions, w: WatchResponse, raw: &mut Found) -> Result<bool> {
    if w.canceled {
        bail!(
            "watch canceled: {}{}",
            w.cancel_reason,
            if w.compact_revision > 0 {
                format!(" (compacted at revision {})", w.compact_revision)
            } else {
                String::new()
            }
        );
    }
    if w.events.is_empty() {
        return Ok(false);
    }
    for ev in w.events {
        let Some(kv) = ev.kv else { continue };
        let Some(id) = kv.key_str().and_then(|k| host_of_key(&o.prefix, k)) else {
            continue;
        };
        let id = id.to_string();
        match ev.kind {
            EventType::Delete => {
                if id == o.host_id {
                    bail!("--host-id {}: this host's record was deleted", o.host_id);
                }
                tracing::info!(host = %id, "host left the fabric");
                raw.remove(&id);
            }
            EventType::Put => {
                let read = read_record(&id, &kv.value);
                if id == o.host_id {
                    match &read {
                        Ok(r) if r.underlay == o.underlay => {}
                        Ok(r) => bail!(
                            "--host-id {}: this host's record was overwritten by underlay {}",
                            o.host_id,
                            r.underlay
                        ),
                        Err(why) => bail!(
                            "--host-id {}: this host's record was overwritten ({why})",
                            o.host_id
                        ),
                    }
                }
                raw.insert(id, (kv.create_revision, read));
            }
        }
    }
    Ok(true)
}
