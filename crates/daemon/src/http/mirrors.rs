//! `/v1/mirrors` and `/v1/switches/{switch}/mirrors`: port mirrors (SPAN to
//! a monitor port, RSPAN to a VLAN on the uplink) and what they sent.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{edit, switch_mut, with_engine, Shared};
use crate::engine::ChangeError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use vepa_api::topology::MirrorSpec;
use vepa_api::wire::{ApplyResult, ErrorBody, MirrorView};

#[utoipa::path(get, path = "/v1/mirrors", responses((status = 200, body = [MirrorView])))]
pub(super) async fn list(State(st): State<Shared>) -> Result<Json<Vec<MirrorView>>, ApiError> {
    with_engine(&st, |e| Ok(e.mirror_views())).await.map(Json)
}

#[utoipa::path(post, path = "/v1/switches/{switch}/mirrors", params(("switch" = String, Path)),
    request_body = MirrorSpec,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(spec): JsonBody<MirrorSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        if s.mirrors.iter().any(|m| m.name == spec.name) {
            return Err(ChangeError::Conflict {
                field: "name".into(),
                message: format!("switch '{switch}' has a mirror '{}' already", spec.name),
            });
        }
        s.mirrors.push(spec);
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/mirrors/{mirror}",
    params(("switch" = String, Path), ("mirror" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn del(
    State(st): State<Shared>,
    Path((switch, mirror)): Path<(String, String)>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        let before = s.mirrors.len();
        s.mirrors.retain(|m| m.name != mirror);
        if s.mirrors.len() == before {
            return Err(ChangeError::NotFound {
                field: "mirror".into(),
                message: format!("switch '{switch}' has no mirror '{mirror}'"),
            });
        }
        Ok(())
    })
    .await
}
