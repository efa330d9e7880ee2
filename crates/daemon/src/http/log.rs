//! `GET /v1/log` and `PUT /v1/log`: the daemon's log filter, changed at
//! run time without a restart (`vepa log level`).

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use vepa_api::wire::{ErrorBody, LogFilterBody};

fn not_here() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        Some("filter"),
        "this daemon's log filter cannot be changed at run time",
    )
}

#[utoipa::path(get, path = "/v1/log", responses((status = 200, body = LogFilterBody), (status = 409, body = ErrorBody)))]
pub(super) async fn get(State(st): State<Shared>) -> Result<Json<LogFilterBody>, ApiError> {
    let (_, now) = st.log_filter.as_ref().ok_or_else(not_here)?;
    let filter = now.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Json(LogFilterBody { filter }))
}

#[utoipa::path(put, path = "/v1/log", request_body = LogFilterBody,
    responses((status = 200, body = LogFilterBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set(
    State(st): State<Shared>,
    JsonBody(body): JsonBody<LogFilterBody>,
) -> Result<Json<LogFilterBody>, ApiError> {
    let (apply, now) = st.log_filter.as_ref().ok_or_else(not_here)?;
    let filter = body.filter.trim().to_string();
    if filter.is_empty() || filter.len() > 1024 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("filter"),
            "expected 1 to 1024 characters of log directives, e.g. info or vepa=debug,warn",
        ));
    }
    apply(&filter).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("filter"),
            format!("'{filter}': {e}"),
        )
    })?;
    tracing::info!(%filter, "log filter changed");
    *now.lock().unwrap_or_else(|p| p.into_inner()) = filter.clone();
    Ok(Json(LogFilterBody { filter }))
}
