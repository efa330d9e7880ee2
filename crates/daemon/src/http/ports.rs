//! `/v1/ports` and `/v1/switches/{switch}/ports`: the ports of the
//! desired state.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{edit, no_port, no_switch, port_mut, switch_mut, with_engine, Shared};
use crate::engine::ChangeError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use vepa_api::topology::{PortSpec, SwitchSpec, Topology};
use vepa_api::wire::{ApplyResult, ErrorBody, PortPatch, PortView};

/// Takes a port (uplink or downlink) and the static entries pointing at it off a switch.
pub(super) fn remove_port(s: &mut SwitchSpec, port: &str) -> Option<PortSpec> {
    let gone = if s.uplink.as_ref().is_some_and(|u| u.name == port) {
        s.uplink.take()
    } else {
        let i = s.ports.iter().position(|p| p.name == port)?;
        Some(s.ports.remove(i))
    };
    s.static_fdb.retain(|e| e.port != port);
    // Mirrors stop watching it; one left watching nothing, or whose
    // monitor port it was, goes.
    for m in &mut s.mirrors {
        m.select.retain(|p| p != port);
    }
    s.mirrors
        .retain(|m| !m.select.is_empty() && m.output.as_deref() != Some(port));
    gone
}

pub(super) fn views(t: &Topology, switch: Option<&str>, vhost_user_dir: &str) -> Vec<PortView> {
    t.switches
        .iter()
        .filter(|s| switch.is_none_or(|n| n == s.name))
        .flat_map(|s| {
            let up = s.uplink.iter().map(|p| (p, "uplink"));
            let down = s.ports.iter().map(|p| (p, "downlink"));
            up.chain(down).map(|(p, role)| PortView {
                switch: s.name.clone(),
                role: role.into(),
                socket: (p.kind == vepa_api::topology::PortKind::VhostUser)
                    .then(|| p.vhost_user_socket_in(vhost_user_dir, &s.name)),
                // An ipvlan port's MAC is the switch's one (a guest must
                // use it: `vepa vm-args` hands it to QEMU).
                spec: if vepa_api::topology::shares_mac(s, p) {
                    vepa_api::topology::PortSpec {
                        mac: Some(vepa_api::topology::ipvlan_mac(s)),
                        ..p.clone()
                    }
                } else {
                    p.clone()
                },
            })
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/ports", responses((status = 200, body = [PortView])))]
pub(super) async fn list_all_ports(
    State(st): State<Shared>,
) -> Result<Json<Vec<PortView>>, ApiError> {
    with_engine(&st, |e| Ok(views(e.desired(), None, e.vhost_user_dir())))
        .await
        .map(Json)
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports", params(("switch" = String, Path)),
    responses((status = 200, body = [PortView]), (status = 404, body = ErrorBody)))]
pub(super) async fn list_ports(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Vec<PortView>>, ApiError> {
    with_engine(&st, move |e| {
        e.desired().switch(&name).ok_or_else(|| no_switch(&name))?;
        Ok(views(e.desired(), Some(&name), e.vhost_user_dir()))
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct AddPortQuery {
    /// Make this port the switch's uplink.
    #[serde(default)]
    uplink: bool,
}

#[utoipa::path(post, path = "/v1/switches/{switch}/ports", params(("switch" = String, Path), AddPortQuery), request_body = PortSpec,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add_port(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<AddPortQuery>,
    JsonBody(spec): JsonBody<PortSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    if spec.kind == vepa_api::topology::PortKind::Patch {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("type"),
            "a patch joins two switches and both ends must exist together: add them in one `vepa apply` (POST /v1/apply)",
        ));
    }
    edit(&st, move |t| {
        let s = switch_mut(t, &name)?;
        if s.uplink.iter().chain(&s.ports).any(|p| p.name == spec.name) {
            return Err(ChangeError::Conflict {
                field: "name".into(),
                message: format!("switch '{name}' has a port '{}' already", spec.name),
            });
        }
        if q.uplink {
            if let Some(u) = &s.uplink {
                return Err(ChangeError::Conflict {
                    field: "uplink".into(),
                    message: format!("switch '{name}' has an uplink already ('{}')", u.name),
                });
            }
            s.uplink = Some(spec);
        } else {
            s.ports.push(spec);
        }
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)),
    responses((status = 200, body = PortView), (status = 404, body = ErrorBody)))]
pub(super) async fn get_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
) -> Result<Json<PortView>, ApiError> {
    with_engine(&st, move |e| {
        e.desired()
            .switch(&switch)
            .ok_or_else(|| no_switch(&switch))?;
        views(e.desired(), Some(&switch), e.vhost_user_dir())
            .into_iter()
            .find(|v| v.spec.name == port)
            .ok_or_else(|| no_port(&switch, &port))
    })
    .await
    .map(Json)
}

#[utoipa::path(patch, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)), request_body = PortPatch,
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn set_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
    JsonBody(patch): JsonBody<PortPatch>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let p = port_mut(switch_mut(t, &switch)?, &port)?;
        if let Some(m) = patch.mode {
            p.mode = m.to_mode();
        }
        if let Some(r) = patch.relay {
            p.relay = r;
        }
        if let Some(v) = patch.vsi {
            p.vsi = v;
        }
        if let Some(e) = patch.vdp_enforce {
            p.vdp_enforce = e;
        }
        // Access (vlan) and trunk (trunk, native_vlan) exclude each other:
        // setting one kind turns the port into it.
        if let Some(v) = patch.vlan {
            p.vlan = Some(v);
            p.trunk = None;
            p.native_vlan = None;
        }
        if let Some(v) = patch.trunk {
            p.trunk = Some(v);
            p.vlan = None;
        }
        if let Some(v) = patch.native_vlan {
            p.native_vlan = Some(v);
            p.vlan = None;
        }
        if let Some(v) = patch.mac_limit {
            p.mac_limit = Some(v);
        }
        if let Some(v) = patch.bpdu_guard {
            p.bpdu_guard = v;
        }
        if let Some(v) = patch.learn_addresses {
            p.learn_addresses = v;
        }
        if let Some(v) = patch.storm {
            let s = p.storm.get_or_insert_with(Default::default);
            for (to, from) in [
                (&mut s.broadcast, v.broadcast),
                (&mut s.multicast, v.multicast),
                (&mut s.unknown_unicast, v.unknown_unicast),
            ] {
                if from.is_some() {
                    *to = from;
                }
            }
        }
        if let Some(v) = patch.guard {
            p.guard = v;
        }
        if let Some(v) = patch.allowed_macs {
            p.allowed_macs = v;
        }
        if let Some(v) = patch.allowed_ips {
            p.allowed_ips = v;
        }
        if let Some(v) = patch.source_macs {
            p.source_macs = v;
        }
        Ok(())
    })
    .await
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/ports/{port}", params(("switch" = String, Path), ("port" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn del_port(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let s = switch_mut(t, &switch)?;
        let gone = remove_port(s, &port).ok_or_else(|| no_port(&switch, &port))?;
        // A patch is one wire: its other end goes too.
        if let Some((sw, other)) = gone.peer.as_deref().and_then(|x| x.split_once('/')) {
            if let Some(o) = t.switch_mut(sw) {
                remove_port(o, other);
            }
        }
        Ok(())
    })
    .await
}
