//! Who may use the API: the unix socket's peer must be root or in its
//! group; the TCP listener needs the bearer token.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The bearer-token check for the TCP listener (constant-time compare).
pub async fn require_token(
    State(token): State<Arc<Vec<u8>>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes)
        .unwrap_or(b"");
    if bool::from(given.ct_eq(token.as_slice())) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Some("Authorization"),
            "missing or wrong bearer token (send 'Authorization: Bearer <token from the daemon's token file>')",
        )
        .into_response()
    }
}

/// Who is on the other end of a unix-socket connection (the kernel's
/// record at connect; none if it could not be read: refused).
#[derive(Clone, Debug)]
pub struct Peer(pub Option<vepa_io::PeerCred>);

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, tokio::net::UnixListener>,
    > for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Peer {
        Peer(vepa_io::PeerCred::of(stream.io()).ok())
    }
}

/// Whether a peer may use the socket (see [`vepa_io::PeerCred::allowed`]).
pub fn peer_allowed(p: &Peer, group: u32) -> bool {
    p.0.as_ref().is_some_and(|c| c.allowed(Some(group)))
}

pub async fn require_group(
    State(group): State<u32>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<Peer>,
    req: Request,
    next: Next,
) -> Response {
    if peer_allowed(&peer, group) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Some("peer"),
            format!(
                "uid {} is not root and not in the socket's group (gid {group})",
                peer.0
                    .as_ref()
                    .map(|c| c.uid.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
        )
        .into_response()
    }
}
