//! The HTTP/JSON API (axum), served on the unix socket and optionally on
//! a loopback TCP port with a bearer token: one file per resource, the
//! body reader that names a bad field ([`extract`]), who may call
//! ([`auth`]), and the routes (here).
//!
//! Handlers turn each request into a new desired topology (or a read) and
//! hand it to the [`Engine`](crate::engine::Engine) on a blocking thread;
//! a change is answered only after the engine has committed it to the
//! store.

mod acls;
pub mod auth;
mod capture;
pub mod error;
pub mod extract;
mod fdb;
mod flows;
mod ipfix;
mod link;
mod log;
mod mirrors;
mod ports;
mod prometheus;
mod routers;
pub mod state;
mod switches;
mod topology;
mod trace;
mod tunnels;

pub use auth::{peer_allowed, require_group, require_token, Peer};
pub use error::ApiError;
pub use state::{AppState, LogFilter, Shared};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use utoipa::OpenApi;
use vepa_api::wire::{ApplyResult, ErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vepa",
        description = "The vepa daemon's API: switches, ports, FDB, flows, routers and routes, ACLs and conntrack, stats, declarative apply, capture."
    ),
    paths(
        switches::list_switches,
        switches::add_switch,
        switches::get_switch,
        switches::set_switch,
        switches::del_switch,
        ports::list_all_ports,
        ports::list_ports,
        ports::add_port,
        ports::get_port,
        ports::set_port,
        ports::del_port,
        fdb::fdb_show,
        fdb::mdb_show,
        fdb::fdb_add,
        fdb::fdb_del,
        fdb::fdb_flush,
        topology::stats,
        topology::topology,
        topology::graph,
        topology::apply,
        capture::capture,
        capture::many,
        flows::dump,
        flows::add,
        flows::modify,
        flows::delete,
        flows::groups,
        flows::group_add,
        flows::group_del,
        routers::list,
        routers::get,
        routers::add,
        routers::del,
        routers::port_add,
        routers::port_del,
        routers::routes,
        routers::route_add,
        routers::route_del,
        routers::neighbors_flush,
        acls::list,
        acls::get,
        acls::add,
        acls::del,
        acls::rule_add,
        acls::rule_del,
        acls::conntrack,
        acls::conntrack_flush,
        tunnels::list,
        tunnels::hosts,
        link::lldp,
        link::relay_probe,
        link::vdp,
        trace::trace,
        mirrors::list,
        mirrors::add,
        mirrors::del,
        ipfix::list,
        ipfix::set,
        ipfix::del,
        log::get,
        log::set
    ),
    components(schemas(
        ErrorBody,
        ApplyResult,
        vepa_api::plan::Change,
        vepa_api::plan::FieldChange,
        vepa_api::plan::Op
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such path; the API lives under /v1 (see /v1/openapi.json)",
    )
}

/// Counts every request by route and answer for `/metrics`.
async fn count_requests(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    st.requests.count(&method, &route, resp.status().as_u16());
    resp
}

/// Every route, for both listeners.
pub fn router(st: Shared) -> Router<Shared> {
    let _ = &st;
    Router::new()
        .route(
            "/v1/switches",
            get(switches::list_switches).post(switches::add_switch),
        )
        .route(
            "/v1/switches/{switch}",
            get(switches::get_switch)
                .patch(switches::set_switch)
                .delete(switches::del_switch),
        )
        .route("/v1/ports", get(ports::list_all_ports))
        .route(
            "/v1/switches/{switch}/ports",
            get(ports::list_ports).post(ports::add_port),
        )
        .route(
            "/v1/switches/{switch}/ports/{port}",
            get(ports::get_port)
                .patch(ports::set_port)
                .delete(ports::del_port),
        )
        .route(
            "/v1/switches/{switch}/ports/{port}/capture",
            get(capture::capture),
        )
        .route(
            "/v1/switches/{switch}/fdb",
            get(fdb::fdb_show).post(fdb::fdb_add),
        )
        .route("/v1/switches/{switch}/fdb/flush", post(fdb::fdb_flush))
        .route("/v1/switches/{switch}/mdb", get(fdb::mdb_show))
        .route(
            "/v1/switches/{switch}/fdb/{mac}",
            axum::routing::delete(fdb::fdb_del),
        )
        .route(
            "/v1/switches/{switch}/flows",
            get(flows::dump)
                .post(flows::add)
                .patch(flows::modify)
                .delete(flows::delete),
        )
        .route(
            "/v1/switches/{switch}/groups",
            get(flows::groups)
                .post(flows::group_add)
                .delete(flows::group_del),
        )
        .route("/v1/routers", get(routers::list).post(routers::add))
        .route(
            "/v1/routers/{router}",
            get(routers::get).delete(routers::del),
        )
        .route("/v1/routers/{router}/ports", post(routers::port_add))
        .route(
            "/v1/routers/{router}/ports/{port}",
            axum::routing::delete(routers::port_del),
        )
        .route(
            "/v1/routers/{router}/routes",
            get(routers::routes)
                .post(routers::route_add)
                .delete(routers::route_del),
        )
        .route(
            "/v1/routers/{router}/neighbors/flush",
            post(routers::neighbors_flush),
        )
        .route("/v1/acls", get(acls::list).post(acls::add))
        .route("/v1/acls/{acl}", get(acls::get).delete(acls::del))
        .route("/v1/acls/{acl}/rules", post(acls::rule_add))
        .route(
            "/v1/acls/{acl}/rules/{number}",
            axum::routing::delete(acls::rule_del),
        )
        .route("/v1/conntrack", get(acls::conntrack))
        .route("/v1/conntrack/flush", post(acls::conntrack_flush))
        .route("/v1/tunnels", get(tunnels::list))
        .route("/v1/lldp", get(link::lldp))
        .route("/v1/vdp", get(link::vdp))
        .route("/v1/log", get(log::get).put(log::set))
        .route("/v1/switches/{switch}/relay-probe", post(link::relay_probe))
        .route("/v1/capture", post(capture::many))
        .route("/v1/ipfix", get(ipfix::list))
        .route(
            "/v1/switches/{switch}/ipfix",
            axum::routing::put(ipfix::set).delete(ipfix::del),
        )
        .route("/v1/mirrors", get(mirrors::list))
        .route("/v1/switches/{switch}/mirrors", post(mirrors::add))
        .route(
            "/v1/switches/{switch}/mirrors/{mirror}",
            axum::routing::delete(mirrors::del),
        )
        .route(
            "/v1/switches/{switch}/ports/{port}/trace",
            post(trace::trace),
        )
        .route("/v1/hosts", get(tunnels::hosts))
        .route("/v1/stats", get(topology::stats))
        .route("/v1/topology", get(topology::topology))
        .route("/v1/graph", get(topology::graph))
        .route("/v1/apply", post(topology::apply))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(prometheus::prometheus))
        .fallback(not_found)
}

/// Adds request counting.
/// `/metrics` and nothing else, read-only (`--metrics-listen`): no request
/// here can change anything, so it needs no token. Each scrape takes the
/// engine's lock, so at most [`METRICS_SCRAPES`] run at once and the rest
/// get 503: whoever can reach the address cannot stall the control plane.
pub fn metrics_only(st: Shared) -> Router {
    let gate = Arc::new(tokio::sync::Semaphore::new(METRICS_SCRAPES));
    Router::new()
        .route("/metrics", get(prometheus::prometheus))
        .route_layer(middleware::from_fn(move |req: Request, next: Next| {
            let gate = Arc::clone(&gate);
            async move {
                match gate.try_acquire() {
                    Ok(_scraping) => next.run(req).await,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            }
        }))
        .with_state(st)
}

/// Scrapes `--metrics-listen` serves at once.
pub const METRICS_SCRAPES: usize = 2;

pub fn finish(r: Router<Shared>, st: Shared) -> Router {
    r.route_layer(middleware::from_fn_with_state(
        Arc::clone(&st),
        count_requests,
    ))
    .with_state(st)
}
