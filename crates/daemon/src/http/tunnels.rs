//! `GET /v1/tunnels`: every VXLAN port with its endpoints, the remote MACs
//! it learned (and behind which VTEP) and what it dropped; `GET /v1/hosts`:
//! the multi-host control plane and the hosts etcd lists.

use super::error::ApiError;
use super::state::{with_engine, Shared};
use crate::engine::Engine;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use vepa_api::topology::PortKind;
use vepa_api::wire::{HostsView, IpMac, LearnedMac, TunnelView};

pub(super) fn tunnels(e: &Engine) -> Vec<TunnelView> {
    let mut out = Vec::new();
    for (_, s, p) in e.desired.ports() {
        if p.kind != PortKind::Vxlan {
            continue;
        }
        let Some(d) = e.port_device(&s.name, &p.name) else {
            continue;
        };
        let Some(t) = vepa_io::VxlanPort::of(&*d).map(|v| v.state()) else {
            continue;
        };
        out.push(TunnelView {
            switch: s.name.clone(),
            port: p.name.clone(),
            vni: t.vni,
            vlan_vni: t.vlan_vni.iter().map(|(v, n)| format!("{v}:{n}")).collect(),
            local: t.local.to_string(),
            dstport: t.port,
            remotes: t.remotes.iter().map(|r| r.to_string()).collect(),
            members: t.members.iter().map(|r| r.to_string()).collect(),
            flood: t
                .flood
                .iter()
                .map(|(n, m)| (*n, m.iter().map(|r| r.to_string()).collect()))
                .collect(),
            published: t
                .fabric_macs
                .iter()
                .map(|(mac, vtep)| LearnedMac {
                    mac: *mac,
                    vtep: vtep.to_string(),
                })
                .collect(),
            reflect: t.reflect,
            isolate: t.isolate,
            arp_suppress: t.arp_suppress,
            published_ips: t
                .fabric_ips
                .iter()
                .map(|(ip, mac)| IpMac { ip: *ip, mac: *mac })
                .collect(),
            max_inner_frame: t.max_inner,
            learned: t
                .learned
                .into_iter()
                .map(|(mac, vtep)| LearnedMac {
                    mac,
                    vtep: vtep.to_string(),
                })
                .collect(),
            counters: t
                .counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
        });
    }
    out
}

#[utoipa::path(get, path = "/v1/tunnels", responses((status = 200, body = [TunnelView])))]
pub(super) async fn list(State(st): State<Shared>) -> Result<Json<Vec<TunnelView>>, ApiError> {
    with_engine(&st, |e| Ok(tunnels(e))).await.map(Json)
}

#[utoipa::path(get, path = "/v1/hosts", responses((status = 200, body = HostsView), (status = 409, description = "the daemon runs without --etcd")))]
pub(super) async fn hosts(State(st): State<Shared>) -> Result<Json<HostsView>, ApiError> {
    match &st.control_plane {
        Some(cp) => Ok(Json(cp.view())),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            None,
            String::from(
                "this daemon runs no multi-host control plane: start it with --etcd URL --underlay-ip IP",
            ),
        )),
    }
}
