//! `/v1/switches/{switch}/fdb`: a switch's learned and static entries.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{edit, switch_mut, with_engine, Shared};
use crate::engine::ChangeError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use vepa_api::topology::TopologyError;
use vepa_api::wire::{ApplyResult, ErrorBody, FdbAdd, FdbFlush, FdbFlushed, FdbRow, MdbRow};
use vepa_packet::MacAddr;

#[utoipa::path(get, path = "/v1/switches/{switch}/fdb", params(("switch" = String, Path)),
    responses((status = 200, body = [FdbRow]), (status = 404, body = ErrorBody)))]
pub(super) async fn fdb_show(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<Vec<FdbRow>>, ApiError> {
    with_engine(&st, move |e| e.fdb(&switch)).await.map(Json)
}

#[utoipa::path(get, path = "/v1/switches/{switch}/mdb", params(("switch" = String, Path)),
    responses((status = 200, body = [MdbRow]), (status = 404, body = ErrorBody)))]
pub(super) async fn mdb_show(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<Vec<MdbRow>>, ApiError> {
    with_engine(&st, move |e| e.mdb(&switch)).await.map(Json)
}

#[utoipa::path(post, path = "/v1/switches/{switch}/fdb", params(("switch" = String, Path)), request_body = FdbAdd,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn fdb_add(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(add): JsonBody<FdbAdd>,
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
pub(super) struct VlanQuery {
    /// The VLAN of the entry (default 1).
    #[serde(default)]
    vlan: Option<u16>,
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/fdb/{mac}", params(("switch" = String, Path), ("mac" = String, Path), VlanQuery),
    responses((status = 200, body = ApplyResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn fdb_del(
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
pub(super) async fn fdb_flush(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(f): JsonBody<FdbFlush>,
) -> Result<Json<FdbFlushed>, ApiError> {
    with_engine(&st, move |e| e.fdb_flush(&switch, f.port.as_deref()))
        .await
        .map(|removed| Json(FdbFlushed { removed }))
}
