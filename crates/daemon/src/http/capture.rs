//! `/v1/capture`: several ports' frames (and, if asked, what the switch
//! dropped as they entered) as one pcapng stream, filtered; and
//! `/v1/switches/{switch}/ports/{port}/capture`: one port's as pcap.

use super::error::ApiError;
use super::state::{with_engine, Shared, CAPTURE_QUEUE, MAX_CAPTURES};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use vepa_api::wire::{CaptureRequest, ErrorBody};
use vepa_dataplane::pcap_filter::Filter;
use vepa_io::CapturedFrame;

/// Ports one capture may take at once.
pub(super) const MAX_CAPTURE_PORTS: usize = 64;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct CaptureQuery {
    /// Stop after this many frames (default: until the client goes).
    #[serde(default)]
    count: Option<u64>,
}

#[utoipa::path(get, path = "/v1/switches/{switch}/ports/{port}/capture", params(("switch" = String, Path), ("port" = String, Path), CaptureQuery),
    responses((status = 200, description = "pcap stream (application/vnd.tcpdump.pcap)"), (status = 404, body = ErrorBody)))]
pub(super) async fn capture(
    State(st): State<Shared>,
    Path((switch, port)): Path<(String, String)>,
    Query(q): Query<CaptureQuery>,
) -> Result<Response, ApiError> {
    let point = with_engine(&st, move |e| e.capture_point(&switch, &port)).await?;
    claim(&st)?;
    let frames = point.subscribe(CAPTURE_QUEUE);
    let head = vepa_io::pcap_header().to_vec();
    Ok(stream(
        st,
        frames,
        head,
        q.count,
        "application/vnd.tcpdump.pcap",
        |f, buf| {
            vepa_io::pcap_record(f, buf);
            true
        },
    ))
}

#[utoipa::path(post, path = "/v1/capture", request_body = CaptureRequest,
    responses((status = 200, description = "pcapng stream (application/x-pcapng): an interface per port, named SWITCH/PORT; each packet's direction in its flags; a drop's reason as its comment"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn many(
    State(st): State<Shared>,
    super::extract::JsonBody(req): super::extract::JsonBody<CaptureRequest>,
) -> Result<Response, ApiError> {
    if req.ports.is_empty() || req.ports.len() > MAX_CAPTURE_PORTS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("ports"),
            format!("name 1 to {MAX_CAPTURE_PORTS} ports"),
        ));
    }
    let filter =
        match req.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Filter::parse(text).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, Some("filter"), e.to_string())
            })?),
        };
    let ports = req.ports.clone();
    let points = with_engine(&st, move |e| {
        ports
            .iter()
            .map(|p| e.capture_point(&p.switch, &p.port))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    claim(&st)?;
    // One queue for every port: frames arrive in the order they were seen.
    let (frames_tx, frames) = std::sync::mpsc::sync_channel(CAPTURE_QUEUE);
    let mut head = vepa_io::pcapng_section();
    for (i, (point, p)) in points.iter().zip(&req.ports).enumerate() {
        point.attach(frames_tx.clone(), i as u32, req.drops);
        vepa_io::pcapng_interface(&format!("{}/{}", p.switch, p.port), &mut head);
    }
    drop(frames_tx);
    Ok(stream(
        st,
        frames,
        head,
        req.count,
        "application/x-pcapng",
        move |f, buf| {
            if filter
                .as_ref()
                .is_some_and(|flt| !flt.matches_cut(&f.frame, f.len))
            {
                return false;
            }
            let comment = f.drop.map(|r| {
                format!(
                    "dropped: {} ({})",
                    r.as_str(),
                    vepa_dataplane::trace::drop_detail(r)
                )
            });
            vepa_io::pcapng_packet(f, comment.as_deref(), buf);
            true
        },
    ))
}

/// Takes one of the [`MAX_CAPTURES`] capture slots (given back when its
/// stream ends).
fn claim(st: &Shared) -> Result<(), ApiError> {
    if st.captures.fetch_add(1, Ordering::AcqRel) >= MAX_CAPTURES {
        st.captures.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            format!("{MAX_CAPTURES} captures are running already; stop one first"),
        ));
    }
    Ok(())
}

/// The response streaming `head`, then each frame `write` keeps (it
/// returns false to leave one out), until `count` frames or the client
/// leaves. The frames come from the forwarding threads on a std channel;
/// a blocking task moves them on. Dropping the receiver at the end
/// detaches it from its ports at their next frame.
fn stream(
    st: Shared,
    frames: Receiver<CapturedFrame>,
    head: Vec<u8>,
    count: Option<u64>,
    content_type: &'static str,
    mut write: impl FnMut(&CapturedFrame, &mut Vec<u8>) -> bool + Send + 'static,
) -> Response {
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(Bytes::from(head));
    let st2 = Arc::clone(&st);
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        let mut buf = Vec::new();
        while count.is_none_or(|c| sent < c) && !tx.is_closed() {
            match frames.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(f) => {
                    buf.clear();
                    if !write(&f, &mut buf) {
                        continue;
                    }
                    if tx.blocking_send(Bytes::copy_from_slice(&buf)).is_err() {
                        break;
                    }
                    sent += 1;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(frames);
        st2.captures.fetch_sub(1, Ordering::AcqRel);
    });
    let body = futures_util::stream::unfold(out, |mut out| async move {
        out.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), out))
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response()
}
