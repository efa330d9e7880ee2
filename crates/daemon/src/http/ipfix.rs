//! `/v1/ipfix` and `/v1/switches/{switch}/ipfix`: a switch's IPFIX flow
//! export, set whole or removed, and what it did.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{edit, switch_mut, with_engine, Shared};
use crate::engine::ChangeError;
use axum::extract::{Path, State};
use axum::Json;
use vepa_api::topology::IpfixSpec;
use vepa_api::wire::{ApplyResult, ErrorBody, IpfixView};

#[utoipa::path(get, path = "/v1/ipfix", responses((status = 200, body = [IpfixView])))]
pub(super) async fn list(State(st): State<Shared>) -> Result<Json<Vec<IpfixView>>, ApiError> {
    with_engine(&st, |e| Ok(e.ipfix_views())).await.map(Json)
}

#[utoipa::path(put, path = "/v1/switches/{switch}/ipfix", params(("switch" = String, Path)),
    request_body = IpfixSpec,
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(spec): JsonBody<IpfixSpec>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        switch_mut(t, &switch)?.ipfix = Some(spec);
        Ok(())
    })
    .await
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/ipfix", params(("switch" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn del(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        if s.ipfix.take().is_none() {
            return Err(ChangeError::NotFound {
                field: "ipfix".into(),
                message: format!("switch '{switch}' exports no flows"),
            });
        }
        Ok(())
    })
    .await
}
