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
use std::sync::Arc;
use vepa_api::wire::{CaptureRequest, ErrorBody};
use vepa_dataplane::pcap_filter::Filter;

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
    use std::sync::atomic::Ordering;
    let point = with_engine(&st, move |e| e.capture_point(&switch, &port)).await?;
    if st.captures.fetch_add(1, Ordering::AcqRel) >= MAX_CAPTURES {
        st.captures.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            format!("{MAX_CAPTURES} captures are running already; stop one first"),
        ));
    }
    let rx = point.subscribe(CAPTURE_QUEUE);
    let st2 = Arc::clone(&st);
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(Bytes::copy_from_slice(&vepa_io::pcap_header()));
    // The frames arrive on a std channel from the forwarding threads; a
    // blocking task moves them on until the count is reached or the client leaves.
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        let mut buf = Vec::new();
        while q.count.is_none_or(|c| sent < c) && !tx.is_closed() {
            match rx.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(f) => {
                    buf.clear();
                    vepa_io::pcap_record(&f, &mut buf);
                    if tx.blocking_send(Bytes::copy_from_slice(&buf)).is_err() {
                        break;
                    }
                    sent += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        st2.captures.fetch_sub(1, Ordering::AcqRel);
    });
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        out.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), out))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/vnd.tcpdump.pcap")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Ports one capture may take at once.
pub(super) const MAX_CAPTURE_PORTS: usize = 64;

#[utoipa::path(post, path = "/v1/capture", request_body = CaptureRequest,
    responses((status = 200, description = "pcapng stream (application/x-pcapng): an interface per port, named SWITCH/PORT; each packet's direction in its flags; a drop's reason as its comment"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn many(
    State(st): State<Shared>,
    super::extract::JsonBody(req): super::extract::JsonBody<CaptureRequest>,
) -> Result<Response, ApiError> {
    use std::sync::atomic::Ordering;
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
    if st.captures.fetch_add(1, Ordering::AcqRel) >= MAX_CAPTURES {
        st.captures.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            format!("{MAX_CAPTURES} captures are running already; stop one first"),
        ));
    }
    let (frames_tx, frames) = std::sync::mpsc::sync_channel(CAPTURE_QUEUE);
    let mut head = vepa_io::pcapng_section();
    for (i, (point, p)) in points.iter().zip(&req.ports).enumerate() {
        point.attach(frames_tx.clone(), i as u32, req.drops);
        vepa_io::pcapng_interface(&format!("{}/{}", p.switch, p.port), &mut head);
    }
    drop(frames_tx);
    let st2 = Arc::clone(&st);
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(Bytes::from(head));
    let count = req.count;
    tokio::task::spawn_blocking(move || {
        let mut sent = 0u64;
        let mut buf = Vec::new();
        while count.is_none_or(|c| sent < c) && !tx.is_closed() {
            match frames.recv_timeout(std::time::Duration::from_millis(200)) {
                Ok(f) => {
                    if filter.as_ref().is_some_and(|flt| !flt.matches(&f.frame)) {
                        continue;
                    }
                    let comment = f.drop.map(|r| {
                        format!(
                            "dropped: {} ({})",
                            r.as_str(),
                            vepa_dataplane::trace::drop_detail(r)
                        )
                    });
                    buf.clear();
                    vepa_io::pcapng_packet(&f, comment.as_deref(), &mut buf);
                    if tx.blocking_send(Bytes::copy_from_slice(&buf)).is_err() {
                        break;
                    }
                    sent += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        // Dropping the receiver detaches it from every port at its next frame.
        drop(frames);
        st2.captures.fetch_sub(1, Ordering::AcqRel);
    });
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        out.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), out))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-pcapng")],
        Body::from_stream(stream),
    )
        .into_response())
}
