//! The ACL and conntrack routes. An ACL is desired state: made, extended,
//! shortened or removed as one checked and stored change. Its counters
//! and the connection tables are what the running filters know.

use super::error::ApiError;
use super::extract::JsonBody;
use super::state::{add_named, edit, with_engine, Shared};
use crate::engine::{ChangeError, Engine};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use vepa_api::topology::filter::{AclSpec, Direction};
use vepa_api::wire::{
    AclRuleAdd, AclRuleView, AclView, ApplyResult, ConnView, ErrorBody, Flushed, ZoneView,
};
use vepa_dataplane::conntrack::{State as CtState, TcpState};
use vepa_dataplane::filter::AclRule;

fn no_acl(name: &str) -> ChangeError {
    ChangeError::NotFound {
        field: "acl".into(),
        message: format!("no ACL '{name}'"),
    }
}

pub(super) fn view(e: &Engine, spec: &AclSpec) -> AclView {
    let place = match (&spec.port, &spec.router) {
        (Some(p), _) => format!(
            "port {p} {}",
            if spec.direction == Some(Direction::Out) {
                "out"
            } else {
                "in"
            }
        ),
        (None, Some(r)) => format!("router {r}"),
        _ => String::new(),
    };
    let running = e.filters.acl(&spec.name);
    let hits = running.map(|(_, _, a)| a.hits()).unwrap_or_default();
    let hit = |i: usize| hits.get(i).copied().unwrap_or((0, 0));
    let rules = spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| AclRuleView {
            number: i + 1,
            rule: r
                .parse::<AclRule>()
                .map(|x| x.to_string())
                .unwrap_or_else(|_| r.clone()),
            packets: hit(i).0,
            bytes: hit(i).1,
        })
        .collect();
    let (default_packets, default_bytes) = hit(spec.rules.len());
    AclView {
        name: spec.name.clone(),
        place,
        default: vepa_dataplane::filter::AclAction::from(spec.default)
            .as_str()
            .into(),
        stateful: running.map(|(_, s, _)| s).unwrap_or(false),
        rules,
        default_packets,
        default_bytes,
    }
}

#[utoipa::path(get, path = "/v1/acls", responses((status = 200, body = [AclView])))]
pub(super) async fn list(State(st): State<Shared>) -> Result<Json<Vec<AclView>>, ApiError> {
    with_engine(&st, |e| {
        Ok(e.desired.acls.iter().map(|a| view(e, a)).collect())
    })
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/v1/acls/{acl}", params(("acl" = String, Path)),
    responses((status = 200, body = AclView), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<AclView>, ApiError> {
    with_engine(&st, move |e| {
        let spec = e.desired.acl(&name).ok_or_else(|| no_acl(&name))?;
        Ok(view(e, spec))
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/v1/acls", request_body = AclSpec,
    responses((status = 201, body = ApplyResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add(
    State(st): State<Shared>,
    JsonBody(spec): JsonBody<AclSpec>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    let name = spec.name.clone();
    add_named(
        &st,
        "ACL",
        name,
        |t, n| t.acl(n).is_some(),
        move |t| t.acls.push(spec),
    )
    .await
}

#[utoipa::path(delete, path = "/v1/acls/{acl}", params(("acl" = String, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn del(
    State(st): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        t.acl(&name).ok_or_else(|| no_acl(&name))?;
        t.acls.retain(|a| a.name != name);
        Ok(())
    })
    .await
}

#[utoipa::path(post, path = "/v1/acls/{acl}/rules", params(("acl" = String, Path)), request_body = AclRuleAdd,
    responses((status = 201, body = ApplyResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn rule_add(
    State(st): State<Shared>,
    Path(name): Path<String>,
    JsonBody(add): JsonBody<AclRuleAdd>,
) -> Result<(StatusCode, Json<ApplyResult>), ApiError> {
    edit(&st, move |t| {
        let a = t.acl_mut(&name).ok_or_else(|| no_acl(&name))?;
        let at = match add.at {
            None => a.rules.len(),
            Some(n) if n >= 1 && n <= a.rules.len() + 1 => n - 1,
            Some(n) => {
                return Err(ChangeError::Conflict {
                    field: "at".into(),
                    message: format!(
                        "ACL '{name}' has {} rules; new ones go at 1 to {}, not {n}",
                        a.rules.len(),
                        a.rules.len() + 1
                    ),
                })
            }
        };
        if add.rules.is_empty() {
            return Err(ChangeError::Conflict {
                field: "rules".into(),
                message: "no rules to add".into(),
            });
        }
        for (k, rule) in add.rules.into_iter().enumerate() {
            a.rules.insert(at + k, rule);
        }
        Ok(())
    })
    .await
    .map(|r| (StatusCode::CREATED, r))
}

#[utoipa::path(delete, path = "/v1/acls/{acl}/rules/{number}", params(("acl" = String, Path), ("number" = usize, Path)),
    responses((status = 200, body = ApplyResult), (status = 404, body = ErrorBody)))]
pub(super) async fn rule_del(
    State(st): State<Shared>,
    Path((name, number)): Path<(String, usize)>,
) -> Result<Json<ApplyResult>, ApiError> {
    edit(&st, move |t| {
        let a = t.acl_mut(&name).ok_or_else(|| no_acl(&name))?;
        if number == 0 || number > a.rules.len() {
            return Err(ChangeError::NotFound {
                field: "number".into(),
                message: format!(
                    "ACL '{name}' has no rule {number} (it has {})",
                    a.rules.len()
                ),
            });
        }
        a.rules.remove(number - 1);
        Ok(())
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct ZoneQuery {
    /// One table: `port SWITCH/PORT` or `router NAME` (all without).
    zone: Option<String>,
}

fn state_name(s: CtState) -> &'static str {
    match s {
        CtState::Tcp(TcpState::SynSent) => "syn_sent",
        CtState::Tcp(TcpState::SynReceived) => "syn_received",
        CtState::Tcp(TcpState::Established) => "established",
        CtState::Tcp(TcpState::Closing) => "closing",
        CtState::Tcp(TcpState::TimeWait) => "time_wait",
        CtState::Datagram { replied: false } => "unreplied",
        CtState::Datagram { replied: true } => "replied",
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmp6".into(),
        n => n.to_string(),
    }
}

fn zones(e: &Engine, only: Option<&str>) -> Result<Vec<ZoneView>, ChangeError> {
    let now = e.now_ms();
    let mut out: Vec<ZoneView> = e
        .filters
        .zones()
        .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
        .map(|(name, z)| {
            let mut connections: Vec<ConnView> = z
                .connections()
                .into_iter()
                .map(|c| ConnView {
                    proto: proto_name(c.orig.proto),
                    src: c.orig.src.to_string(),
                    dst: c.orig.dst.to_string(),
                    sport: c.orig.sport,
                    dport: c.orig.dport,
                    state: state_name(c.state).into(),
                    idle_secs: now.saturating_sub(c.last_seen_ms) / 1000,
                    packets: c.packets,
                })
                .collect();
            connections.sort_by(|a, b| {
                (&a.src, &a.dst, a.sport, a.dport).cmp(&(&b.src, &b.dst, b.sport, b.dport))
            });
            ZoneView {
                zone: name.clone(),
                limit: z.limit(),
                full_drops: z.full_drops.load(Ordering::Relaxed),
                connections,
            }
        })
        .collect();
    out.sort_by(|a, b| a.zone.cmp(&b.zone));
    if let (Some(o), true) = (only, out.is_empty()) {
        return Err(ChangeError::NotFound {
            field: "zone".into(),
            message: format!("no connection table '{o}'; tables are 'port SWITCH/PORT' and 'router NAME' where an ACL sits"),
        });
    }
    Ok(out)
}

#[utoipa::path(get, path = "/v1/conntrack", params(ZoneQuery),
    responses((status = 200, body = [ZoneView]), (status = 404, body = ErrorBody)))]
pub(super) async fn conntrack(
    State(st): State<Shared>,
    Query(q): Query<ZoneQuery>,
) -> Result<Json<Vec<ZoneView>>, ApiError> {
    with_engine(&st, move |e| zones(e, q.zone.as_deref()))
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/v1/conntrack/flush", params(ZoneQuery),
    responses((status = 200, body = Flushed), (status = 404, body = ErrorBody)))]
pub(super) async fn conntrack_flush(
    State(st): State<Shared>,
    Query(q): Query<ZoneQuery>,
) -> Result<Json<Flushed>, ApiError> {
    with_engine(&st, move |e| {
        zones(e, q.zone.as_deref())?;
        let flushed = e
            .filters
            .zones()
            .filter(|(n, _)| q.zone.as_deref().is_none_or(|o| o == n.as_str()))
            .map(|(_, z)| z.flush())
            .sum();
        Ok(Flushed { flushed })
    })
    .await
    .map(Json)
}
