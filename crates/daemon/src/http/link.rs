//! `GET /v1/lldp`: every port the link agent runs on (uplinks and relay
//! ports), with its LLDP counters and neighbours.

use super::error::ApiError;
use super::state::{with_engine, Shared};
use axum::extract::State;
use axum::Json;
use vepa_api::wire::LinkPortView;

#[utoipa::path(get, path = "/v1/lldp", responses((status = 200, body = [LinkPortView])))]
pub(super) async fn lldp(State(st): State<Shared>) -> Result<Json<Vec<LinkPortView>>, ApiError> {
    with_engine(&st, |e| Ok(e.link_view())).await.map(Json)
}
