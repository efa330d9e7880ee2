//! `/v1/stats`, `/v1/topology`, `/v1/graph` and `/v1/apply`: the state whole.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{with_engine, Shared};
use axum::extract::State;
use axum::Json;
use vepa_api::topology::Topology;
use vepa_api::wire::{ApplyRequest, ApplyResult, ErrorBody, Stats};

#[utoipa::path(get, path = "/v1/stats", responses((status = 200, body = Stats)))]
pub(super) async fn stats(State(st): State<Shared>) -> Result<Json<Stats>, ApiError> {
    with_engine(&st, |e| Ok(e.stats())).await.map(Json)
}

#[utoipa::path(get, path = "/v1/topology", responses((status = 200, body = Topology)))]
pub(super) async fn topology(State(st): State<Shared>) -> Result<Json<Topology>, ApiError> {
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

/// The fabric as a graph (what `vepa graph` draws): the desired state
/// with each port's state, counters and drops. Rates are the caller's to
/// take, from two reads.
#[utoipa::path(get, path = "/v1/graph", responses((status = 200, body = vepa_api::graph::Graph)))]
pub(super) async fn graph(
    State(st): State<Shared>,
) -> Result<Json<vepa_api::graph::Graph>, ApiError> {
    with_engine(&st, |e| {
        let mut g = vepa_api::graph::Graph::from_topology(e.desired());
        g.add_stats(&e.stats());
        Ok(g)
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/v1/apply", request_body = ApplyRequest,
    responses((status = 200, body = ApplyResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn apply(
    State(st): State<Shared>,
    JsonBody(req): JsonBody<ApplyRequest>,
) -> Result<Json<ApplyResult>, ApiError> {
    let mut topology = req.topology;
    if req.force {
        topology.generation = None;
    }
    with_engine(&st, move |e| e.change(topology, req.dry_run))
        .await
        .map(Json)
}
