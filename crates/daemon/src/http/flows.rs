//! The flow and group routes: `ovs-ofctl` text in, canonical text and
//! counters out. Each change is all-or-nothing, in force in the dataplane
//! and committed to the store before it is answered.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{with_engine, Shared};
use crate::engine::{ChangeError, Engine};
use crate::sdn::spec_of;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use vepa_api::flowtext::{
    format_actions, format_flow, format_group, format_match, parse_flow, parse_group, PortNames,
};
use vepa_api::wire::{
    ErrorBody, FlowAdd, FlowChange, FlowDel, FlowMod, FlowView, GroupAdd, GroupView,
};
use vepa_dataplane::flow::{FlowFilter, Instruction, FLAG_RESET_COUNTS};

fn text_error(field: &str, i: Option<usize>, e: impl std::fmt::Display) -> ChangeError {
    let field = match i {
        Some(i) => format!("{field}[{i}]"),
        None => field.to_string(),
    };
    ChangeError::Flow {
        message: format!("{field}: {e}"),
        field,
        error: vepa_dataplane::flow::FlowError::Instruction(e.to_string()),
    }
}

/// Runs `f` on switch `switch`'s flows; on an error (or a failed commit)
/// the switch's pipeline is put back as it was. `f` says how many flows
/// (or groups) it changed.
fn atomically(
    e: &mut Engine,
    switch: &str,
    f: impl FnOnce(&mut Engine, &[String]) -> Result<usize, ChangeError>,
) -> Result<FlowChange, ChangeError> {
    let names = e.port_names(switch)?;
    let before = e.sdn.get(switch).cloned();
    // The texts too: a failed commit has already written them into the desired state.
    let texts = e
        .desired
        .switch(switch)
        .map(|s| (s.flows.clone(), s.groups.clone(), s.meters.clone()));
    let r = f(e, &names).and_then(|v| e.flush_flows().map(|()| v));
    match r {
        Ok(changed) => {
            e.publish(switch);
            Ok(FlowChange {
                changed,
                generation: e.generation(),
            })
        }
        Err(err) => {
            if let (Some((flows, groups, meters)), Some(s)) = (texts, e.desired.switch_mut(switch))
            {
                s.flows = flows;
                s.groups = groups;
                s.meters = meters;
            }
            match before {
                Some(b) => {
                    e.sdn.insert(switch.to_string(), b);
                }
                None => {
                    e.sdn.remove(switch);
                }
            }
            e.publish(switch);
            Err(err)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DumpQuery {
    /// Only the flows this match covers (`ovs-ofctl dump-flows SWITCH FILTER`).
    #[serde(default)]
    filter: Option<String>,
}

#[utoipa::path(get, path = "/v1/switches/{switch}/flows", params(("switch" = String, Path), ("filter" = Option<String>, Query)),
    responses((status = 200, body = [FlowView]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dump(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    Query(q): Query<DumpQuery>,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    with_engine(&st, move |e| {
        let names = e.port_names(&switch)?;
        let ports = PortNames(&names);
        let filter = match q.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(text) => {
                let p = parse_flow(text, ports).map_err(|err| text_error("filter", None, err))?;
                FlowFilter {
                    table: p.table_given.then_some(p.spec.table),
                    matcher: p.spec.matcher,
                    cookie: p.spec.cookie,
                    cookie_mask: p.cookie_mask,
                    out_port: p.out_port,
                    out_group: p.out_group,
                    ..FlowFilter::default()
                }
            }
            None => FlowFilter::default(),
        };
        let now = e.flow_clock_ms();
        Ok(e.pipeline(&switch)?
            .flows(&filter)
            .iter()
            .map(|r| {
                let spec = spec_of(r);
                FlowView {
                    table: r.table,
                    priority: r.priority,
                    cookie: r.cookie,
                    packets: r.stats.packets(),
                    bytes: r.stats.bytes(),
                    duration_secs: now.saturating_sub(r.installed_ms) as f64 / 1000.0,
                    idle_timeout: r.idle_timeout,
                    hard_timeout: r.hard_timeout,
                    matcher: format_match(&r.matcher, ports),
                    actions: instructions_text(&r.instructions, ports),
                    flow: format_flow(&spec, ports),
                }
            })
            .collect())
    })
    .await
    .map(Json)
}

/// The `actions=` part of a flow.
fn instructions_text(list: &[Instruction], ports: PortNames) -> String {
    let spec = vepa_dataplane::flow::FlowSpec {
        instructions: list.to_vec(),
        ..Default::default()
    };
    let text = format_flow(&spec, ports);
    match text.split_once("actions=") {
        Some((_, a)) => a.to_string(),
        None => format_actions(&[], ports),
    }
}

#[utoipa::path(post, path = "/v1/switches/{switch}/flows", params(("switch" = String, Path)), request_body = FlowAdd,
    responses((status = 201, body = FlowChange), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(req): JsonBody<FlowAdd>,
) -> Result<(StatusCode, Json<FlowChange>), ApiError> {
    with_engine(&st, move |e| {
        atomically(e, &switch, |e, names| {
            for (i, text) in req.flows.iter().enumerate() {
                let p = parse_flow(text, PortNames(names))
                    .map_err(|err| text_error("flows", Some(i), err))?;
                if !p.has_actions {
                    return Err(text_error(
                        "flows",
                        Some(i),
                        "a flow needs actions= (actions=drop to drop)",
                    ));
                }
                e.flow_add(&switch, p.spec)
                    .map_err(|err| text_error("flows", Some(i), err))?;
            }
            Ok(req.flows.len())
        })
    })
    .await
    .map(|c| (StatusCode::CREATED, Json(c)))
}

#[utoipa::path(patch, path = "/v1/switches/{switch}/flows", params(("switch" = String, Path)), request_body = FlowMod,
    responses((status = 200, body = FlowChange), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn modify(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(req): JsonBody<FlowMod>,
) -> Result<Json<FlowChange>, ApiError> {
    with_engine(&st, move |e| {
        atomically(e, &switch, |e, names| {
            let p = parse_flow(&req.flow, PortNames(names))
                .map_err(|err| text_error("flow", None, err))?;
            if !p.has_actions {
                return Err(text_error("flow", None, "mod-flows needs actions="));
            }
            let filter = FlowFilter {
                table: p.table_given.then_some(p.spec.table),
                matcher: p.spec.matcher.clone(),
                strict_priority: req.strict.then_some(p.spec.priority),
                cookie: p.spec.cookie,
                cookie_mask: p.cookie_mask,
                ..FlowFilter::default()
            };
            e.flow_modify(
                &switch,
                &filter,
                &p.spec.instructions,
                p.spec.flags & FLAG_RESET_COUNTS != 0,
            )
        })
    })
    .await
    .map(Json)
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/flows", params(("switch" = String, Path)), request_body = FlowDel,
    responses((status = 200, body = FlowChange), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(req): JsonBody<FlowDel>,
) -> Result<Json<FlowChange>, ApiError> {
    with_engine(&st, move |e| {
        atomically(e, &switch, |e, names| {
            let filter = match req.filter.as_deref().filter(|f| !f.trim().is_empty()) {
                Some(text) => {
                    let p = parse_flow(text, PortNames(names))
                        .map_err(|err| text_error("filter", None, err))?;
                    FlowFilter {
                        table: p.table_given.then_some(p.spec.table),
                        matcher: p.spec.matcher,
                        strict_priority: req.strict.then_some(p.spec.priority),
                        cookie: p.spec.cookie,
                        cookie_mask: p.cookie_mask,
                        out_port: p.out_port,
                        out_group: p.out_group,
                    }
                }
                None => FlowFilter::default(),
            };
            Ok(e.flow_delete(&switch, &filter)?.len())
        })
    })
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/v1/switches/{switch}/groups", params(("switch" = String, Path)),
    responses((status = 200, body = [GroupView]), (status = 404, body = ErrorBody)))]
pub async fn groups(
    State(st): State<Shared>,
    Path(switch): Path<String>,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    with_engine(&st, move |e| {
        let names = e.port_names(&switch)?;
        Ok(e.pipeline(&switch)?
            .groups()
            .iter()
            .map(|(g, s)| GroupView {
                group_id: g.id,
                packets: s.packets.load(std::sync::atomic::Ordering::Relaxed),
                bytes: s.bytes.load(std::sync::atomic::Ordering::Relaxed),
                group: format_group(g, PortNames(&names)),
            })
            .collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/v1/switches/{switch}/groups", params(("switch" = String, Path)), request_body = GroupAdd,
    responses((status = 201, body = FlowChange), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn group_add(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    JsonBody(req): JsonBody<GroupAdd>,
) -> Result<(StatusCode, Json<FlowChange>), ApiError> {
    with_engine(&st, move |e| {
        atomically(e, &switch, |e, names| {
            for (i, text) in req.groups.iter().enumerate() {
                let g = parse_group(text, PortNames(names))
                    .map_err(|err| text_error("groups", Some(i), err))?;
                e.group_add(&switch, g, req.modify)
                    .map_err(|err| text_error("groups", Some(i), err))?;
            }
            Ok(req.groups.len())
        })
    })
    .await
    .map(|c| (StatusCode::CREATED, Json(c)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GroupDelQuery {
    /// The group to remove; all groups when left out.
    #[serde(default)]
    group_id: Option<u32>,
}

#[utoipa::path(delete, path = "/v1/switches/{switch}/groups", params(("switch" = String, Path), GroupDelQuery),
    responses((status = 200, body = FlowChange), (status = 404, body = ErrorBody)))]
pub async fn group_del(
    State(st): State<Shared>,
    Path(switch): Path<String>,
    Query(q): Query<GroupDelQuery>,
) -> Result<Json<FlowChange>, ApiError> {
    with_engine(&st, move |e| {
        atomically(e, &switch, |e, _| {
            Ok(e.group_delete(&switch, q.group_id)?.len())
        })
    })
    .await
    .map(Json)
}
