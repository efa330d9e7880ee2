//! `/v1/switches/{switch}/ports/{port}/capture`: a port's frames as a
//! pcap stream.

use super::error::ApiError;
use super::state::{with_engine, Shared, CAPTURE_QUEUE, MAX_CAPTURES};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use vepa_api::wire::ErrorBody;

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
