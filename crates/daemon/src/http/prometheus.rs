//! `/metrics`: the counters in Prometheus' text format.

use super::error::ApiError;
use super::state::{with_engine, Shared};
use crate::metrics;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub(super) async fn prometheus(State(st): State<Shared>) -> Result<Response, ApiError> {
    let (stats, routers, tunnels, (link, vdp, zones), (acls, captures, mirrors, ipfix)) =
        with_engine(&st, |e| {
            let names: Vec<String> = e.desired().routers.iter().map(|r| r.name.clone()).collect();
            let routers = names
                .iter()
                .filter_map(|n| super::routers::view(e, n).ok())
                .collect::<Vec<_>>();
            Ok((
                e.stats(),
                routers,
                super::tunnels::tunnels(e),
                (
                    e.link_view(),
                    e.vdp_view(),
                    e.filters
                        .zones()
                        .map(|(n, z)| (n.clone(), z.len(), z.limit()))
                        .collect::<Vec<_>>(),
                ),
                (
                    e.desired()
                        .acls
                        .iter()
                        .map(|a| super::acls::view(e, a))
                        .collect::<Vec<_>>(),
                    e.capture_drops(),
                    e.mirror_views(),
                    e.ipfix_views(),
                ),
            ))
        })
        .await?;
    let hosts = st.control_plane.as_ref().map(|cp| cp.view());
    let mut text = metrics::render(&stats, &routers, &st.requests);
    metrics::render_tunnels(&mut text, &tunnels, hosts.as_ref());
    metrics::render_link(&mut text, &link);
    metrics::render_vdp(&mut text, &vdp);
    metrics::render_conntrack(&mut text, &zones);
    metrics::render_acls(&mut text, &acls);
    metrics::render_capture_drops(&mut text, &captures);
    metrics::render_mirrors(&mut text, &mirrors);
    metrics::render_ipfix(&mut text, &ipfix);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
