//! The router and route routes. A router, its ports and its static routes
//! are desired state like switches: each change is a new topology, checked
//! whole (addresses, overlaps, next hops), carried out and stored before
//! the answer. The views add what only the running router knows: its
//! neighbors and counters.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{add_named, edit, with_engine, Shared};
use crate::engine::{ChangeError, Engine};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use vepa_api::topology::router::{switch_port_name, RouteSpec, RouterPortSpec, RouterSpec};
use vepa_api::topology::Topology;
use vepa_api::wire::{
    ApplyResult, ErrorBody, NeighborView, NeighborsFlushed, RouteView, RouterCountersView,
    RouterPortView, RouterView,
};
use vepa_dataplane::router::{RouterDrop, RouterTables};

fn no_router(name: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "router".into(),
        message: format!("no router '{name}'"),
    }
}

fn router_mut<'a>(t: &'a mut Topology, name: &str) -> Result<&'a mut RouterSpec, ChangeError> {
    t.router_mut(name).ok_or_else(|| no_router(name))
}

/// The routing table as `vepa route show` prints it: connected subnets,
/// then static routes, each family longest prefix first.
fn routes_of(t: &RouterTables) -> Vec<RouteView> {
    let port_name = |i: usize| {
        t.config
            .ports
            .get(i)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let mut rows: Vec<(bool, u8, RouteView)> = Vec::new();
    for (prefix, hop) in t.v4.iter().into_iter().chain(t.v6.iter()) {
        rows.push((
            prefix.addr.is_ipv6(),
            prefix.len,
            RouteView {
                prefix: prefix.to_string(),
                via: hop.via.map(|v| v.to_string()),
                port: port_name(hop.port),
                kind: if hop.connected { "connected" } else { "static" }.into(),
            },
        ));
    }
    rows.sort_by(|a, b| (a.0, b.1, &a.2.prefix).cmp(&(b.0, a.1, &b.2.prefix)));
    rows.into_iter().map(|(_, _, r)| r).collect()
}

pub(super) fn view(e: &Engine, name: &str) -> Result<RouterView, ChangeError> {
    let spec = e.desired.router(name).ok_or_else(|| no_router(name))?;
    let r = e.routers.get(name).ok_or_else(|| no_router(name))?;
    let t = r.tables();
    let now = e.now_ms();
    let ports = t
        .config
        .ports
        .iter()
        .map(|p| {
            let s = spec.ports.iter().find(|q| q.name == p.name);
            RouterPortView {
                name: p.name.clone(),
                switch: s.map(|s| s.switch.clone()).unwrap_or_default(),
                switch_port: switch_port_name(name, &p.name),
                mac: p.mac,
                addresses: p.addresses.iter().map(|a| a.to_string()).collect(),
                mtu: p.mtu,
                vlan: s.and_then(|s| s.vlan).unwrap_or(1),
                tun: s
                    .filter(|s| s.kind == vepa_api::topology::router::RouterPortKind::Tun)
                    .map(|s| match &s.netns {
                        Some(ns) => format!("{}@{ns}", s.tun_ifname()),
                        None => s.tun_ifname().to_string(),
                    }),
                persist: s.is_some_and(|s| s.persist),
            }
        })
        .collect();
    let neighbors = r
        .neighbors(now)
        .into_iter()
        .map(|n| NeighborView {
            port: t
                .config
                .ports
                .get(n.port)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            ip: n.ip.to_string(),
            mac: n.mac,
            state: n.state.as_str().into(),
            age_secs: n.age_ms / 1000,
        })
        .collect();
    let c = &r.counters;
    let counters = RouterCountersView {
        forwarded: c.forwarded.load(Ordering::Relaxed),
        delivered: c.delivered.load(Ordering::Relaxed),
        icmp_errors: c.icmp_errors.load(Ordering::Relaxed),
        icmp_rate_limited: c.icmp_rate_limited.load(Ordering::Relaxed),
        drops: RouterDrop::ALL
            .iter()
            .map(|d| (d.as_str().to_string(), c.dropped(*d)))
            .filter(|(_, n)| *n > 0)
            .collect(),
    };
    Ok(RouterView {
        name: name.to_string(),
        ports,
        routes: routes_of(&t),
        neighbors,
        counters,
    })
}

#[utoipa::path(get, path = "/v1/routers", responses((status = 200, body = [RouterView])))]
pub(super) async fn list(State(st): State<Shared>) -> Result<Json<Vec<RouterView>>, ApiError> {
    with_engine(&st, |e| {
        let names: Vec<String> = e.desired.routers.iter().map(|r| r.name.clone()).collect();
        names.iter().map(|n| view(e, n)).collect()
    })
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/v1/routers/{router}", params(("router" = String, Path)),
    responses((status = 200, body = RouterView), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<RouterView>, ApiError> {
    with_engine(&st, move |e| view(e, &name)).await.map(Json)
}

#[utoipa::path(post, path = "/v1/routers", request_body = RouterSpec,
    responses((status = 201, body = ApplyResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add(
    State(st): State<Shared>,
    JsonBody(spec): JsonBody<RouterSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    let name = spec.name.clone();
    add_named(
        &st,
        "router",
        name,
        |t, n| t.router(n).is_some(),
        move |t| t.routers.push(spec),
    )
    .await
}

#[utoipa::path(delete, path = "/v1/routers/{router}", params(("router" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn del(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        router_mut(t, &name)?;
        t.routers.retain(|r| r.name != name);
        Ok(())
    })
    .await
}

#[utoipa::path(post, path = "/v1/routers/{router}/ports", params(("router" = String, Path)), request_body = RouterPortSpec,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn port_add(
    State(st): State<Shared>,
    Path(name): Path<String>,
    JsonBody(port): JsonBody<RouterPortSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    edit(&st, move |t| {
        let r = router_mut(t, &name)?;
        if r.ports.iter().any(|p| p.name == port.name) {
            return Err(ChangeError::Conflict {
                field: "name".into(),
                message: format!("router '{name}' has a port '{}' already", port.name),
            });
        }
        r.ports.push(port);
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[utoipa::path(delete, path = "/v1/routers/{router}/ports/{port}", params(("router" = String, Path), ("port" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn port_del(
    State(st): State<Shared>,
    Path((name, port)): Path<(String, String)>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let r = router_mut(t, &name)?;
        let before = r.ports.len();
        r.ports.retain(|p| p.name != port);
        if r.ports.len() == before {
            return Err(ChangeError::NotFound {
                field: "port".into(),
                message: format!("router '{name}' has no port '{port}'"),
            });
        }
        Ok(())
    })
    .await
}

#[utoipa::path(get, path = "/v1/routers/{router}/routes", params(("router" = String, Path)),
    responses((status = 200, body = [RouteView]), (status = 404, body = ErrorBody)))]
pub(super) async fn routes(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Vec<RouteView>>, ApiError> {
    with_engine(&st, move |e| view(e, &name).map(|v| v.routes))
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/v1/routers/{router}/routes", params(("router" = String, Path)), request_body = RouteSpec,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn route_add(
    State(st): State<Shared>,
    Path(name): Path<String>,
    JsonBody(route): JsonBody<RouteSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    edit(&st, move |t| {
        let r = router_mut(t, &name)?;
        let want = route.prefix_value().ok();
        if r.routes
            .iter()
            .any(|x| match (x.prefix_value().ok(), want) {
                (Some(a), Some(b)) => a == b,
                _ => x.prefix == route.prefix,
            })
        {
            return Err(ChangeError::Conflict {
                field: "prefix".into(),
                message: format!(
                    "router '{name}' has a route to {} already; delete it first",
                    route.prefix
                ),
            });
        }
        r.routes.push(route);
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct RouteQuery {
    /// The route's prefix as it was added (`10.9.0.0/16`, `default`).
    prefix: String,
}

#[utoipa::path(delete, path = "/v1/routers/{router}/routes", params(("router" = String, Path), RouteQuery),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn route_del(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<RouteQuery>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let r = router_mut(t, &name)?;
        // The prefix as written, or the same network written another way;
        // `default` names the default route of either family, if only one.
        let matches: Vec<usize> = r
            .routes
            .iter()
            .enumerate()
            .filter(|(_, x)| {
                x.prefix == q.prefix
                    || (q.prefix == "default" && x.prefix_value().is_ok_and(|p| p.len == 0))
                    || matches!((x.prefix_value(), q.prefix.parse::<vepa_dataplane::router::Prefix>()), (Ok(a), Ok(b)) if a == b)
            })
            .map(|(i, _)| i)
            .collect();
        if matches.len() > 1 {
            return Err(ChangeError::Conflict {
                field: "prefix".into(),
                message: format!("router '{name}' has an IPv4 and an IPv6 default route; say 0.0.0.0/0 or ::/0"),
            });
        }
        let before = r.routes.len();
        if let Some(&i) = matches.first() {
            r.routes.remove(i);
        }
        if r.routes.len() == before {
            return Err(ChangeError::NotFound {
                field: "prefix".into(),
                message: format!("router '{name}' has no static route to {}", q.prefix),
            });
        }
        Ok(())
    })
    .await
}

#[utoipa::path(post, path = "/v1/routers/{router}/neighbors/flush", params(("router" = String, Path)),
    responses((status = 200, body = NeighborsFlushed), (status = 404, body = ErrorBody)))]
pub(super) async fn neighbors_flush(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<NeighborsFlushed>, ApiError> {
    with_engine(&st, move |e| {
        let r = e.routers.get(&name).ok_or_else(|| no_router(&name))?;
        Ok(NeighborsFlushed {
            flushed: r.flush_neighbors(),
        })
    })
    .await
    .map(Json)
}
