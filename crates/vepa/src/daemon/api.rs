//! The HTTP/JSON API (axum), served on the unix socket and optionally on
//! a loopback TCP port with a bearer token.
//!
//! Handlers turn each request into a new desired topology (or a read) and
//! hand it to the [`Engine`] on a blocking thread; a change is answered
//! only after the engine has committed it to the store. Bodies are read
//! with `serde_path_to_error`, so a bad field is named in the answer.

use super::engine::{ChangeError, Engine};
use super::metrics;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use utoipa::OpenApi;
use vepa_api::topology::{PortSpec, SwitchSpec, Topology, TopologyError};
use vepa_api::wire::{
    ApplyRequest, ApplyResult, ErrorBody, FdbAdd, FdbFlush, FdbFlushed, FdbRow, PortPatch,
    PortView, Stats, SwitchPatch,
};
use vepa_packet::MacAddr;

pub struct AppState {
    pub engine: Arc<Mutex<Engine>>,
    pub requests: metrics::Requests,
    /// Captures streaming now (each holds a blocking thread and a queue).
    pub captures: std::sync::atomic::AtomicUsize,
    /// The etcd control plane (`--etcd`), if the daemon runs one.
    pub control_plane: Option<Arc<super::fabric::ControlPlane>>,
}

/// At most this many captures at once.
const MAX_CAPTURES: usize = 8;
/// Frames a capture listener may have waiting (each at most 16 KiB).
const CAPTURE_QUEUE: usize = 1024;

pub type Shared = Arc<AppState>;

/// An error answer: status and body.
pub struct ApiError(StatusCode, ErrorBody);

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        field: Option<&str>,
        error: impl Into<String>,
    ) -> ApiError {
        ApiError(
            status,
            ErrorBody {
                error: error.into(),
                field: field.map(str::to_string),
            },
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// The field named in a host error such as
/// `switch 's', port 'p': ifname: interface 'x' already exists`.
fn field_of_host_error(msg: &str) -> Option<String> {
    let rest = msg.split_once("': ").map(|(_, r)| r)?;
    let (field, _) = rest.split_once(": ")?;
    (!field.contains(' ') && !field.is_empty()).then(|| field.to_string())
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        let msg = e.to_string();
        match e {
            ChangeError::Invalid(TopologyError::Invalid { field, .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg)
            }
            ChangeError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, None, msg),
            ChangeError::NotFound { field, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, Some(&field), msg)
            }
            ChangeError::Conflict { field, .. } => {
                ApiError::new(StatusCode::CONFLICT, Some(&field), msg)
            }
            ChangeError::Host(_) => {
                let field = field_of_host_error(&msg);
                ApiError::new(StatusCode::CONFLICT, field.as_deref(), msg)
            }
            ChangeError::Store(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, msg),
            ChangeError::Flow { field, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg)
            }
        }
    }
}

/// A JSON body whose errors name the field (`port.vlan`, `mac`...).
pub struct Body2<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body2<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, None, e.body_text()))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(Body2)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let field = (path != "." && path != "?").then_some(path.as_str());
                let what = if inner.is_syntax() || inner.is_eof() {
                    "malformed JSON"
                } else {
                    "invalid request"
                };
                let at = field.map(|f| format!(" at '{f}'")).unwrap_or_default();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    field,
                    format!("{what}{at}: {inner}"),
                )
            })
    }
}

/// Runs `f` on the engine, off the async threads (it may wait for `ip` or the disk).
pub(super) async fn with_engine<T: Send + 'static>(
    st: &Shared,
    f: impl FnOnce(&mut Engine) -> Result<T, ChangeError> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = Arc::clone(&st.engine);
    tokio::task::spawn_blocking(move || {
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        // Flows edited one by one (OpenFlow) show in the desired state.
        e.sync_flows();
        f(&mut e)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))?
    .map_err(ApiError::from)
}

/// Adds a named thing with `push` unless `exists` finds one of that name
/// already (409, naming the field `name`); 201 with the change's result.
pub(super) async fn add_named(
    st: &Shared,
    what: &'static str,
    name: String,
    exists: fn(&Topology, &str) -> bool,
    push: impl FnOnce(&mut Topology) + Send + 'static,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    edit(st, move |t| {
        if exists(t, &name) {
            return Err(ChangeError::Conflict {
                field: "name".into(),
                message: format!("{what} '{name}' exists already"),
            });
        }
        push(t);
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

/// Applies an edit of the desired topology as one change.
pub(super) async fn edit(
    st: &Shared,
    f: impl FnOnce(&mut Topology) -> Result<(), ChangeError> + Send + 'static,
) -> Result<Json<ApplyResult>, ApiError> {
    with_engine(st, move |e| {
        let mut t = e.desired().clone();
        f(&mut t)?;
        e.change(t, false)
    })
    .await
    .map(Json)
}

fn no_switch(name: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "switch".into(),
        message: format!("no switch '{name}'"),
    }
}

fn no_port(switch: &str, port: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "port".into(),
        message: format!("switch '{switch}' has no port '{port}'"),
    }
}

fn switch_mut<'a>(t: &'a mut Topology, name: &str) -> Result<&'a mut SwitchSpec, ChangeError> {
    t.switch_mut(name).ok_or_else(|| no_switch(name))
}

fn port_mut<'a>(s: &'a mut SwitchSpec, port: &str) -> Result<&'a mut PortSpec, ChangeError> {
    let name = s.name.clone();
    s.uplink
        .iter_mut()
        .chain(s.ports.iter_mut())
        .find(|p| p.name == port)
        .ok_or_else(|| no_port(&name, port))
}

#[utoipa::path(get, path = "/v1/switches", responses((status = 200, body = [SwitchSpec])))]
async fn list_switches(State(st): State<Shared>) -> Result<Json<Vec<SwitchSpec>>, ApiError> {
    with_engine(&st, |e| Ok(e.desired().switches.clone()))
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/v1/switches", request_body = SwitchSpec,
    responses((status = 201, body = ApplyResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_switch(
    State(st): State<Shared>,
    Body2(spec): Body2<SwitchSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    let name = spec.name.clone();
    add_named(
        &st,
        "switch",
        name,
        |t, n| t.switch(n).is_some(),
        move |t| t.switches.push(spec),
    )
    .await
}

#[utoipa::path(get, path = "/v1/switches/{switch}", params(("switch" = String, Path)),
    responses((status = 200, body = SwitchSpec), (status = 404, body = ErrorBody)))]
async fn get_switch(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<SwitchSpec>, ApiError> {
    with_engine(&st, move |e| {
        e.desired()
            .switch(&name)
            .cloned()
            .ok_or_else(|| no_switch(&name))
    })
    .await
    .map(Json)
}

#[utoipa::path(patch, path = "/v1/switches/{switch}", params(("switch" = String, Path)), request_body = SwitchPatch,
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_switch(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Body2(patch): Body2<SwitchPatch>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &name)?;
        if let Some(m) = patch.mode {
            s.mode = m;
        }
        if let Some(a) = patch.ageing_secs {
            s.ageing_secs = Some(a);
        }
        Ok(())
    })
    .await
}

#[utoipa::path(delete, path = "/v1/switches/{switch}", params(("switch" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
async fn del_switch(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let gone = t.switch(&name).cloned().ok_or_else(|| no_switch(&name))?;
        t.switches.retain(|s| s.name != name);
        // The other ends of its patch wires go with it.
        for p in gone.uplink.iter().chain(&gone.ports) {
            if let Some((sw, port)) = p.peer.as_deref().and_then(|x| x.split_once('/')) {
                if let Some(other) = t.switch_mut(sw) {
                    remove_port(other, port);
                }
            }
        }
        Ok(())
    })
    .await
}

/// Takes a port (uplink or downlink) and the static entries pointing at it off a switch.
fn remove_port(s: &mut SwitchSpec, port: &str) -> Option<PortSpec> {
    let gone = if s.uplink.as_ref().is_some_and(|u| u.name == port) {
        s.uplink.take()
    } else {
        let i = s.ports.iter().position(|p| p.name == port)?;
        Some(s.ports.remove(i))
    };
    s.static_fdb.retain(|e| e.port != port);
    gone
}

fn views(t: &Topology, switch: Option<&str>, vhost_user_dir: &str) -> Vec<PortView> {
    t.switches
        .iter()
        .filter(|s| switch.is_none_or(|n| n == s.name))
        .flat_map(|s| {
            let up = s.uplink.iter().map(|p| (p, "uplink"));
            let down = s.ports.iter().map(|p| (p, "downlink"));
            up.chain(down).map(|(p, role)| PortView {
                switch: s.name.clone(),
                role: role.into(),
                socket: (p.kind == vepa_api::topology::PortKind::VhostUser)
                    .then(|| p.vhost_user_socket_in(vhost_user_dir, &s.name)),
                spec: p.clone(),
            })
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/ports", responses((status = 200, body = [PortView])))]
async fn list_all_ports(State(st): State<Shared>) -> Result<Json<Vec<PortView>>, ApiError> {
    with_engine(&st, |e| Ok(views(e.desired(), None, e.vhost_user_dir())))
        .await
        .map(Json)
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports", params(("switch" = String, Path)),
    responses((status = 200, body = [PortView]), (status = 404, body = ErrorBody)))]
async fn list_ports(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Vec<PortView>>, ApiError> {
    with_engine(&st, move |e| {
        e.desired().switch(&name).ok_or_else(|| no_switch(&name))?;
        Ok(views(e.desired(), Some(&name), e.vhost_user_dir()))
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct AddPortQuery {
    /// Make this port the switch's uplink.
    #[serde(default)]
    uplink: bool,
}

#[utoipa::path(post, path = "/v1/switches/{switch}/ports", params(("switch" = String, Path), AddPortQuery), request_body = PortSpec,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_port(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<AddPortQuery>,
    Body2(spec): Body2<PortSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    if spec.kind == vepa_api::topology::PortKind::Patch {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("type"),
            "a patch joins two switches and both ends must exist together: add them in one `vepa apply` (POST /v1/apply)",
        ));
    }
    edit(&st, move |t| {
        let s = switch_mut(t, &name)?;
        if s.uplink.iter().chain(&s.ports).any(|p| p.name == spec.name) {
            return Err(ChangeError::Conflict {
                field: "name".into(),
                message: format!("switch '{name}' has a port '{}' already", spec.name),
            });
        }
        if q.uplink {
            if let Some(u) = &s.uplink {
                return Err(ChangeError::Conflict {
                    field: "uplink".into(),
                    message: format!("switch '{name}' has an uplink already ('{}')", u.name),
                });
            }
            s.uplink = Some(spec);
        } else {
            s.ports.push(spec);
        }
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)),
    responses((status = 200, body = PortView), (status = 404, body = ErrorBody)))]
async fn get_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
) -> Result<Json<PortView>, ApiError> {
    with_engine(&st, move |e| {
        e.desired()
            .switch(&switch)
            .ok_or_else(|| no_switch(&switch))?;
        views(e.desired(), Some(&switch), e.vhost_user_dir())
            .into_iter()
            .find(|v| v.spec.name == port)
            .ok_or_else(|| no_port(&switch, &port))
    })
    .await
    .map(Json)
}

#[utoipa::path(patch, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)), request_body = PortPatch,
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
    Body2(patch): Body2<PortPatch>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let p = port_mut(switch_mut(t, &switch)?, &port)?;
        if let Some(m) = patch.mode {
            p.mode = m.to_mode();
        }
        if let Some(r) = patch.relay {
            p.relay = r;
        }
        // Access (vlan) and trunk (trunk, native_vlan) exclude each other:
        // setting one kind turns the port into it.
        if let Some(v) = patch.vlan {
            p.vlan = Some(v);
            p.trunk = None;
            p.native_vlan = None;
        }
        if let Some(v) = patch.trunk {
            p.trunk = Some(v);
            p.vlan = None;
        }
        if let Some(v) = patch.native_vlan {
            p.native_vlan = Some(v);
            p.vlan = None;
        }
        if let Some(v) = patch.mac_limit {
            p.mac_limit = Some(v);
        }
        if let Some(v) = patch.bpdu_guard {
            p.bpdu_guard = v;
        }
        if let Some(v) = patch.storm {
            let s = p.storm.get_or_insert_with(Default::default);
            for (to, from) in [
                (&mut s.broadcast, v.broadcast),
                (&mut s.multicast, v.multicast),
                (&mut s.unknown_unicast, v.unknown_unicast),
            ] {
                if from.is_some() {
                    *to = from;
                }
            }
        }
        if let Some(v) = patch.guard {
            p.guard = v;
        }
        if let Some(v) = patch.allowed_macs {
            p.allowed_macs = v;
        }
        if let Some(v) = patch.allowed_ips {
            p.allowed_ips = v;
        }
        if let Some(v) = patch.source_macs {
            p.source_macs = v;
        }
        Ok(())
    })
    .await
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn del_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        let gone = remove_port(s, &port).ok_or_else(|| no_port(&switch, &port))?;
        // A patch is one wire: its other end goes too.
        if let Some((sw, other)) = gone.peer.as_deref().and_then(|x| x.split_once('/')) {
            if let Some(o) = t.switch_mut(sw) {
                remove_port(o, other);
            }
        }
        Ok(())
    })
    .await
}

#[utoipa::path(get, path = "/v1/switches/{switch}/fdb", params(("switch" = String, Path)),
    responses((status = 200, body = [FdbRow]), (status = 404, body = ErrorBody)))]
async fn fdb_show(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<Vec<FdbRow>>, ApiError> {
    with_engine(&st, move |e| e.fdb(&switch)).await.map(Json)
}

#[utoipa::path(post, path = "/v1/switches/{switch}/fdb", params(("switch" = String, Path)), request_body = FdbAdd,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn fdb_add(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    Body2(add): Body2<FdbAdd>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    if !(1..=4094).contains(&add.vlan) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("vlan"),
            format!("VLAN ID {} is out of range; expected 1 to 4094", add.vlan),
        ));
    }
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        if !s.uplink.iter().chain(&s.ports).any(|p| p.name == add.port) {
            return Err(ChangeError::Invalid(TopologyError::Invalid {
                at: format!("switch '{switch}'"),
                field: "port".into(),
                problem: format!("no port '{}' on this switch", add.port),
            }));
        }
        if s.static_fdb
            .iter()
            .any(|e| e.mac == add.mac && e.vlan == add.vlan)
        {
            return Err(ChangeError::Conflict {
                field: "mac".into(),
                message: format!(
                    "switch '{switch}' has a static entry for {} in VLAN {} already",
                    add.mac, add.vlan
                ),
            });
        }
        s.static_fdb.push(vepa_api::topology::StaticFdbSpec {
            mac: add.mac,
            vlan: add.vlan,
            port: add.port,
        });
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct VlanQuery {
    /// The VLAN of the entry (default 1).
    #[serde(default)]
    vlan: Option<u16>,
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/fdb/{mac}", params(("switch" = String, Path), ("mac" = String, Path), VlanQuery),
    responses((status = 200, body = ApplyResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn fdb_del(
    State(st): State<Shared>,
    Path((switch, mac)): Path<(String, String)>,
    Query(q): Query<VlanQuery>,
) -> Result<Json<ApplyResult>, ApiError> {
    let mac: MacAddr = mac
        .parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("mac"), format!("mac: {e}")))?;
    let vlan = q.vlan.unwrap_or(1);
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        let before = s.static_fdb.len();
        s.static_fdb.retain(|e| !(e.mac == mac && e.vlan == vlan));
        if s.static_fdb.len() == before {
            return Err(ChangeError::NotFound {
                field: "mac".into(),
                message: format!("switch '{switch}' has no static entry for {mac} in VLAN {vlan}"),
            });
        }
        Ok(())
    })
    .await
}

#[utoipa::path(post, path = "/v1/switches/{switch}/fdb/flush", params(("switch" = String, Path)), request_body = FdbFlush,
    responses((status = 200, body = FdbFlushed), (status = 404, body = ErrorBody)))]
async fn fdb_flush(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    Body2(f): Body2<FdbFlush>,
) -> Result<Json<FdbFlushed>, ApiError> {
    with_engine(&st, move |e| e.fdb_flush(&switch, f.port.as_deref()))
        .await
        .map(|removed| Json(FdbFlushed { removed }))
}

#[utoipa::path(get, path = "/v1/stats", responses((status = 200, body = Stats)))]
async fn stats(State(st): State<Shared>) -> Result<Json<Stats>, ApiError> {
    with_engine(&st, |e| Ok(e.stats())).await.map(Json)
}

#[utoipa::path(get, path = "/v1/topology", responses((status = 200, body = Topology)))]
async fn topology(State(st): State<Shared>) -> Result<Json<Topology>, ApiError> {
    with_engine(&st, |e| {
        // Flows a controller edited are in the store first, so the
        // generation named covers them.
        e.flush_flows()?;
        Ok(Topology {
            generation: Some(e.generation()),
            ..e.desired().clone()
        })
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/v1/apply", request_body = ApplyRequest,
    responses((status = 200, body = ApplyResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn apply(
    State(st): State<Shared>,
    Body2(req): Body2<ApplyRequest>,
) -> Result<Json<ApplyResult>, ApiError> {
    let mut topology = req.topology;
    if req.force {
        topology.generation = None;
    }
    with_engine(&st, move |e| e.change(topology, req.dry_run))
        .await
        .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct CaptureQuery {
    /// Stop after this many frames (default: until the client goes).
    #[serde(default)]
    count: Option<u64>,
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports/{port}/capture", params(("switch" = String, Path), ("port" = String, Path), CaptureQuery),
    responses((status = 200, description = "pcap stream (application/vnd.tcpdump.pcap)"), (status = 404, body = ErrorBody)))]
async fn capture(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
    Query(q): Query<CaptureQuery>,
) -> Result<Response, ApiError> {
    use std::sync::atomic::Ordering;
    let point = with_engine(&st, move |e| e.capture_point(&switch, &port)).await?;
    if st.captures.fetch_add(1, Ordering::AcqRel) >= MAX_CAPTURES {
        st.captures.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            format!("{MAX_CAPTURES} captures are running already; stop one first"),
        ));
    }
    let rx = point.subscribe(CAPTURE_QUEUE);
    let st2 = Arc::clone(&st);
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(Bytes::copy_from_slice(&vepa_io::pcap_header()));
    // The frames arrive on a std channel from the forwarding threads; a
    // blocking task moves them on until the count is reached or the client leaves.
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        let mut buf = Vec::new();
        while q.count.is_none_or(|c| sent < c) && !tx.is_closed() {
            match rx.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(f) => {
                    buf.clear();
                    vepa_io::pcap_record(&f, &mut buf);
                    if tx.blocking_send(Bytes::copy_from_slice(&buf)).is_err() {
                        break;
                    }
                    sent += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        st2.captures.fetch_sub(1, Ordering::AcqRel);
    });
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        out.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), out))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/vnd.tcpdump.pcap")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn prometheus(State(st): State<Shared>) -> Result<Response, ApiError> {
    let (stats, routers, tunnels) = with_engine(&st, |e| {
        let names: Vec<String> = e.desired().routers.iter().map(|r| r.name.clone()).collect();
        let routers = names
            .iter()
            .filter_map(|n| super::api_routers::view(e, n).ok())
            .collect::<Vec<_>>();
        Ok((e.stats(), routers, super::api_tunnels::tunnels(e)))
    })
    .await?;
    let hosts = st.control_plane.as_ref().map(|cp| cp.view());
    let mut text = metrics::render(&stats, &routers, &st.requests);
    metrics::render_tunnels(&mut text, &tunnels, hosts.as_ref());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vepa",
        description = "The vepa daemon's API: switches, ports, FDB, flows, routers and routes, ACLs and conntrack, stats, declarative apply, capture."
    ),
    paths(
        list_switches,
        add_switch,
        get_switch,
        set_switch,
        del_switch,
        list_all_ports,
        list_ports,
        add_port,
        get_port,
        set_port,
        del_port,
        fdb_show,
        fdb_add,
        fdb_del,
        fdb_flush,
        stats,
        topology,
        apply,
        capture,
        super::api_flows::dump,
        super::api_flows::add,
        super::api_flows::modify,
        super::api_flows::delete,
        super::api_flows::groups,
        super::api_flows::group_add,
        super::api_flows::group_del,
        super::api_routers::list,
        super::api_routers::get,
        super::api_routers::add,
        super::api_routers::del,
        super::api_routers::port_add,
        super::api_routers::port_del,
        super::api_routers::routes,
        super::api_routers::route_add,
        super::api_routers::route_del,
        super::api_routers::neighbors_flush,
        super::api_acls::list,
        super::api_acls::get,
        super::api_acls::add,
        super::api_acls::del,
        super::api_acls::rule_add,
        super::api_acls::rule_del,
        super::api_acls::conntrack,
        super::api_acls::conntrack_flush,
        super::api_tunnels::list,
        super::api_tunnels::hosts
    ),
    components(schemas(
        ErrorBody,
        ApplyResult,
        vepa_api::plan::Change,
        vepa_api::plan::FieldChange,
        vepa_api::plan::Op
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such path; the API lives under /v1 (see /v1/openapi.json)",
    )
}

/// Counts every request by route and answer for `/metrics`.
async fn count_requests(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    st.requests.count(&method, &route, resp.status().as_u16());
    resp
}

/// Every route, for both listeners.
pub fn router(st: Shared) -> Router<Shared> {
    let _ = &st;
    Router::new()
        .route("/v1/switches", get(list_switches).post(add_switch))
        .route(
            "/v1/switches/{switch}",
            get(get_switch).patch(set_switch).delete(del_switch),
        )
        .route("/v1/ports", get(list_all_ports))
        .route(
            "/v1/switches/{switch}/ports",
            get(list_ports).post(add_port),
        )
        .route(
            "/v1/switches/{switch}/ports/{port}",
            get(get_port).patch(set_port).delete(del_port),
        )
        .route("/v1/switches/{switch}/ports/{port}/capture", get(capture))
        .route("/v1/switches/{switch}/fdb", get(fdb_show).post(fdb_add))
        .route("/v1/switches/{switch}/fdb/flush", post(fdb_flush))
        .route(
            "/v1/switches/{switch}/fdb/{mac}",
            axum::routing::delete(fdb_del),
        )
        .route(
            "/v1/switches/{switch}/flows",
            get(super::api_flows::dump)
                .post(super::api_flows::add)
                .patch(super::api_flows::modify)
                .delete(super::api_flows::delete),
        )
        .route(
            "/v1/switches/{switch}/groups",
            get(super::api_flows::groups)
                .post(super::api_flows::group_add)
                .delete(super::api_flows::group_del),
        )
        .route(
            "/v1/routers",
            get(super::api_routers::list).post(super::api_routers::add),
        )
        .route(
            "/v1/routers/{router}",
            get(super::api_routers::get).delete(super::api_routers::del),
        )
        .route(
            "/v1/routers/{router}/ports",
            post(super::api_routers::port_add),
        )
        .route(
            "/v1/routers/{router}/ports/{port}",
            axum::routing::delete(super::api_routers::port_del),
        )
        .route(
            "/v1/routers/{router}/routes",
            get(super::api_routers::routes)
                .post(super::api_routers::route_add)
                .delete(super::api_routers::route_del),
        )
        .route(
            "/v1/routers/{router}/neighbors/flush",
            post(super::api_routers::neighbors_flush),
        )
        .route(
            "/v1/acls",
            get(super::api_acls::list).post(super::api_acls::add),
        )
        .route(
            "/v1/acls/{acl}",
            get(super::api_acls::get).delete(super::api_acls::del),
        )
        .route("/v1/acls/{acl}/rules", post(super::api_acls::rule_add))
        .route(
            "/v1/acls/{acl}/rules/{number}",
            axum::routing::delete(super::api_acls::rule_del),
        )
        .route("/v1/conntrack", get(super::api_acls::conntrack))
        .route(
            "/v1/conntrack/flush",
            post(super::api_acls::conntrack_flush),
        )
        .route("/v1/tunnels", get(super::api_tunnels::list))
        .route("/v1/hosts", get(super::api_tunnels::hosts))
        .route("/v1/stats", get(stats))
        .route("/v1/topology", get(topology))
        .route("/v1/apply", post(apply))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(prometheus))
        .fallback(not_found)
}

/// Adds request counting.
pub fn finish(r: Router<Shared>, st: Shared) -> Router {
    r.route_layer(middleware::from_fn_with_state(
        Arc::clone(&st),
        count_requests,
    ))
    .with_state(st)
}

/// The bearer-token check for the TCP listener (constant-time compare).
pub async fn require_token(
    State(token): State<Arc<Vec<u8>>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes)
        .unwrap_or(b"");
    if bool::from(given.ct_eq(token.as_slice())) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Some("Authorization"),
            "missing or wrong bearer token (send 'Authorization: Bearer <token from the daemon's token file>')",
        )
        .into_response()
    }
}

/// Who is on the other end of a unix-socket connection (the kernel's
/// record at connect; none if it could not be read: refused).
#[derive(Clone, Debug)]
pub struct Peer(pub Option<vepa_io::PeerCred>);

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, tokio::net::UnixListener>,
    > for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Peer {
        Peer(vepa_io::PeerCred::of(stream.io()).ok())
    }
}

/// Whether a peer may use the socket (see [`vepa_io::PeerCred::allowed`]).
pub fn peer_allowed(p: &Peer, group: u32) -> bool {
    p.0.as_ref().is_some_and(|c| c.allowed(Some(group)))
}

pub async fn require_group(
    State(group): State<u32>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    if peer_allowed(&peer, group) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Some("peer"),
            format!(
                "uid {} is not root and not in the socket's group (gid {group})",
                peer.0
                    .as_ref()
                    .map(|c| c.uid.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
        )
        .into_response()
    }
}
