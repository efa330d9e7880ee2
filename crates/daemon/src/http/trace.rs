//! `POST /v1/switches/{switch}/ports/{port}/trace`: what forwarding would
//! do with a frame received on a port, stage by stage, without sending it.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{with_engine, Shared};
use axum::extract::{Path, State};
use axum::Json;
use vepa_api::wire::{ErrorBody, TraceRequest, TraceResult};

#[utoipa::path(post, path = "/v1/switches/{switch}/ports/{port}/trace",
    params(("switch" = String, Path), ("port" = String, Path)), request_body = TraceRequest,
    responses((status = 200, body = TraceResult), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn trace(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
    JsonBody(req): JsonBody<TraceRequest>,
) -> Result<Json<TraceResult>, ApiError> {
    let frame = crate::engine::trace_frame_of(&req).map_err(ApiError::from)?;
    with_engine(&st, move |e| e.trace(&switch, &port, &frame))
        .await
        .map(Json)
}
