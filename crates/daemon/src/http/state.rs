//! What every handler shares: the engine behind a lock, the request
//! counters, the running captures; and the ways a handler reads or
//! changes the desired state through the engine.

use super::error::ApiError;
use crate::engine::{ChangeError, Engine};
use crate::metrics;
use axum::http::StatusCode;
use axum::Json;
use std::sync::{Arc, Mutex};
use vepa_api::topology::{PortSpec, SwitchSpec, Topology};
use vepa_api::wire::ApplyResult;

pub struct AppState {
    pub engine: Arc<Mutex<Engine>>,
    pub requests: metrics::Requests,
    /// Captures streaming now (each holds a blocking thread and a queue).
    pub captures: std::sync::atomic::AtomicUsize,
    /// The etcd control plane (`--etcd`), if the daemon runs one.
    pub control_plane: Option<Arc<crate::fabric::ControlPlane>>,
    /// How to change the log filter, and the one in force.
    pub log_filter: Option<(LogFilter, std::sync::Mutex<String>)>,
}

/// Replaces the process's log filter (an `EnvFilter` directive such as
/// `vepa=debug,warn`); the error says what is wrong with the text.
pub type LogFilter = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// At most this many captures at once.
pub(super) const MAX_CAPTURES: usize = 8;
/// Frames a capture listener may have waiting (each at most 16 KiB).
pub(super) const CAPTURE_QUEUE: usize = 1024;

pub type Shared = Arc<AppState>;

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

pub(super) use crate::engine::no_switch;

pub(super) fn no_port(switch: &str, port: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "port".into(),
        message: format!("switch '{switch}' has no port '{port}'"),
    }
}

pub(super) fn switch_mut<'a>(
    t: &'a mut Topology,
    name: &str,
) -> Result<&'a mut SwitchSpec, ChangeError> {
    t.switch_mut(name).ok_or_else(|| no_switch(name))
}

pub(super) fn port_mut<'a>(
    s: &'a mut SwitchSpec,
    port: &str,
) -> Result<&'a mut PortSpec, ChangeError> {
    let name = s.name.clone();
    s.uplink
        .iter_mut()
        .chain(s.ports.iter_mut())
        .find(|p| p.name == port)
        .ok_or_else(|| no_port(&name, port))
}
