//! The multi-host control plane: the daemon publishes this host (its
//! VTEP, the VNIs of its fabric ports and the MACs of its VMs) in etcd
//! under a lease, watches the other hosts, and programs each fabric port
//! with them (flood targets, published MACs, isolation).
//!
//! etcd is the only shared state; a host's record is one key,
//! `PREFIX/hosts/HOST-ID`, a JSON [`HostRecord`], attached to a lease the
//! daemon keeps alive, so a host that dies disappears from the others
//! when its lease runs out. While etcd is away the ports keep what they
//! were last told (the fabric keeps forwarding) and the daemon retries
//! with a backoff; when it is back, a full read replaces the last known
//! list and the watch resumes from there.

mod etcd;
mod record;
mod session;

pub use etcd::{Credentials, Etcd};
pub use record::{fabric_ports, local_record, program};
pub use session::run;

use super::engine::Engine;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vepa_api::wire::{HostRecord, HostsView, RefusedRecord};

#[derive(Debug, Clone)]
pub struct FabricOptions {
    pub endpoints: Vec<String>,
    pub host_id: String,
    pub underlay: IpAddr,
    /// Key prefix shared by the hosts of one fabric (no trailing `/`).
    pub prefix: String,
    /// Seconds a host's record outlives the host.
    pub lease_ttl: i64,
    /// For `https://` endpoints: etcd's CA, this host's certificate and key.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// This host's etcd user, for etcd's RBAC.
    pub credentials: Option<Credentials>,
    /// Where the last known list of hosts is kept, so a daemon restarted
    /// while etcd is away forwards with it until etcd answers.
    pub cache: Option<std::path::PathBuf>,
}

#[derive(Debug, Default)]
struct Status {
    state: &'static str,
    last_error: Option<String>,
    retry_at: Option<Instant>,
    hosts: BTreeMap<String, HostRecord>,
    /// Records refused whole, with why.
    refused: BTreeMap<String, String>,
    /// Refusals since the daemon started (a record refused again after a
    /// change counts again).
    refused_total: u64,
    /// Claims of this host's own VMs' MACs dropped from others' records.
    claims_refused: u64,
}

/// The control plane's options and what it knows, for the API.
pub struct ControlPlane {
    pub opts: FabricOptions,
    status: Mutex<Status>,
}

impl ControlPlane {
    pub fn new(opts: FabricOptions) -> ControlPlane {
        let hosts = opts
            .cache
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        ControlPlane {
            opts,
            status: Mutex::new(Status {
                state: "connecting",
                hosts,
                ..Status::default()
            }),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connected(&self) {
        let mut s = self.status();
        s.state = "connected";
        s.retry_at = None;
    }

    fn retrying(&self, err: String, after: Duration) {
        let mut s = self.status();
        s.state = "retrying";
        s.last_error = Some(err);
        s.retry_at = Some(Instant::now() + after);
    }

    fn connecting(&self) {
        let mut s = self.status();
        s.state = "connecting";
        s.retry_at = None;
    }

    fn hosts(&self) -> BTreeMap<String, HostRecord> {
        self.status().hosts.clone()
    }

    fn set_hosts(&self, hosts: BTreeMap<String, HostRecord>) {
        let mut s = self.status();
        if s.hosts == hosts {
            return;
        }
        if let Some(path) = &self.opts.cache {
            let tmp = path.with_extension("tmp");
            let saved = serde_json::to_vec(&hosts)
                .map_err(std::io::Error::other)
                .and_then(|b| std::fs::write(&tmp, b))
                .and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = saved {
                tracing::warn!(path = %path.display(), error = %e, "cannot keep the list of hosts");
            }
        }
        s.hosts = hosts;
    }

    /// What [`record::admit`] took: the hosts, and the refusals (each newly
    /// refused record said in the log and counted).
    fn set_admitted(&self, a: record::Admitted) {
        {
            let mut s = self.status();
            for (id, why) in &a.refused {
                if s.refused.get(id) != Some(why) {
                    tracing::warn!(host = %id, why = %why, "host record refused: the fabric does not use it");
                    s.refused_total += 1;
                }
            }
            if a.claims_refused > s.claims_refused {
                tracing::warn!(
                    claims = a.claims_refused,
                    "other hosts claim MACs of this host's VMs: those claims are not used"
                );
            }
            s.refused = a.refused;
            s.claims_refused = a.claims_refused;
        }
        self.set_hosts(a.hosts);
    }

    pub fn view(&self) -> HostsView {
        let s = self.status();
        HostsView {
            endpoints: self.opts.endpoints.clone(),
            prefix: self.opts.prefix.clone(),
            host_id: self.opts.host_id.clone(),
            underlay: self.opts.underlay.to_string(),
            state: s.state.to_string(),
            last_error: s.last_error.clone(),
            retry_in_secs: s
                .retry_at
                .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
            hosts: s.hosts.values().cloned().collect(),
            refused: s
                .refused
                .iter()
                .map(|(host, why)| RefusedRecord {
                    host: host.clone(),
                    why: why.clone(),
                })
                .collect(),
            refused_total: s.refused_total,
            claims_refused: s.claims_refused,
        }
    }
}

/// Programs every fabric port of the running topology with what the
/// others published; ports that already have it are left alone (and a
/// port made anew by a topology change gets it at the next call).
pub fn program_ports(e: &Engine, cp: &ControlPlane, hosts: &BTreeMap<String, HostRecord>) {
    for f in fabric_ports(e.desired(), cp.opts.underlay) {
        let Some(dev) = e.port_device(&f.switch, &f.port) else {
            continue;
        };
        let Some(vx) = vepa_io::VxlanPort::of(&*dev) else {
            continue;
        };
        let want = program(&f, &cp.opts.host_id, hosts);
        if *vx.fabric() != want {
            // The member list goes to debug: at 1,000 hosts it is 14 KB
            // a line, once per change.
            tracing::info!(
                switch = %f.switch, port = %f.port, vnis = ?f.vnis,
                members = want.members.len(), macs = want.macs.len(),
                "fabric port programmed"
            );
            tracing::debug!(switch = %f.switch, port = %f.port, members = ?want.members, "fabric members");
            vx.set_fabric(want);
        }
    }
}

/// This host's record as the engine has it now.
pub fn this_host(e: &Engine, cp: &ControlPlane) -> HostRecord {
    let o = &cp.opts;
    let ports = fabric_ports(e.desired(), o.underlay);
    let learned = record::Learned {
        fdb: &|s| e.fdb(s).unwrap_or_default(),
        arp: &|s, p| {
            e.port_device(s, p)
                .and_then(|d| vepa_io::VxlanPort::of(&*d).map(|v| v.snooped()))
                .unwrap_or_default()
        },
    };
    local_record(&o.host_id, o.underlay, &ports, e.desired(), &learned)
}
