//! `/v1/switches`: the switches of the desired state.

use super::error::ApiError;
use super::extract::JsonBody;
use super::ports::remove_port;
use super::state::{add_named, edit, no_switch, switch_mut, with_engine, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use vepa_api::topology::SwitchSpec;
use vepa_api::wire::{ApplyResult, ErrorBody, SwitchPatch};

#[utoipa::path(get, path = "/v1/switches", responses((status = 200, body = [SwitchSpec])))]
pub(super) async fn list_switches(
    State(st): State<Shared>,
) -> Result<Json<Vec<SwitchSpec>>, ApiError> {
    with_engine(&st, |e| Ok(e.desired().switches.clone()))
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/v1/switches", request_body = SwitchSpec,
    responses((status = 201, body = ApplyResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add_switch(
    State(st): State<Shared>,
    JsonBody(spec): JsonBody<SwitchSpec>,
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
pub(super) async fn get_switch(
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
pub(super) async fn set_switch(
    State(st): State<Shared>,
    Path(name): Path<String>,
    JsonBody(patch): JsonBody<SwitchPatch>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &name)?;
        if let Some(m) = patch.mode {
            s.mode = m;
        }
        if let Some(a) = patch.ageing_secs {
            s.ageing_secs = Some(a);
        }
        if let Some(l) = patch.lldp {
            s.lldp = (!l).then_some(false);
        }
        if let Some(r) = patch.relay_required {
            s.relay_required = r;
        }
        Ok(())
    })
    .await
}

#[utoipa::path(delete, path = "/v1/switches/{switch}", params(("switch" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn del_switch(
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
