//! `GET /v1/lldp`: every port the link agent runs on (uplinks and relay
//! ports), with its LLDP counters and neighbours. `POST
//! /v1/switches/{switch}/relay-probe`: whether the adjacent bridge on the
//! uplink reflects, tried now.

use super::error::ApiError;
use super::state::{with_engine, Shared};
use axum::extract::{Path, State};
use axum::Json;
use vepa_api::wire::{ErrorBody, LinkPortView, RelayProbeResult, VdpPortView};

#[utoipa::path(get, path = "/v1/lldp", responses((status = 200, body = [LinkPortView])))]
pub(super) async fn lldp(State(st): State<Shared>) -> Result<Json<Vec<LinkPortView>>, ApiError> {
    with_engine(&st, |e| Ok(e.link_view())).await.map(Json)
}

#[utoipa::path(post, path = "/v1/switches/{switch}/relay-probe", params(("switch" = String, Path)),
    responses((status = 200, body = RelayProbeResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn relay_probe(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<RelayProbeResult>, ApiError> {
    let sw = switch.clone();
    let (uplink, started) = with_engine(&st, move |e| e.start_relay_probe(&sw)).await?;
    let deadline = std::time::Instant::now() + crate::link::PROBE_TIMEOUT;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (s, u) = (switch.clone(), uplink.clone());
        let (outcome, now) =
            with_engine(&st, move |e| Ok(e.relay_probe_outcome(&s, &u, started))).await?;
        let done = outcome.or((std::time::Instant::now() >= deadline).then_some(false));
        if let Some(reflecting) = done {
            let (s, u) = (switch.clone(), uplink.clone());
            let state = with_engine(&st, move |e| {
                Ok(e.link_view()
                    .into_iter()
                    .find(|p| p.switch == s && p.port == u)
                    .and_then(|p| p.reflective_relay))
            })
            .await?;
            let (a, b) = vepa_packet::relay_probe::probe_macs(&switch);
            return Ok(Json(RelayProbeResult {
                switch,
                uplink,
                reflecting,
                waited_ms: now.saturating_sub(started),
                probe_macs: vec![a.to_string(), b.to_string()],
                reflective_relay: state,
            }));
        }
    }
}

#[utoipa::path(get, path = "/v1/vdp", responses((status = 200, body = [VdpPortView])))]
pub(super) async fn vdp(State(st): State<Shared>) -> Result<Json<Vec<VdpPortView>>, ApiError> {
    with_engine(&st, |e| Ok(e.vdp_view())).await.map(Json)
}
