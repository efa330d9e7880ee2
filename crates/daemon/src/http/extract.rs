//! The JSON body reader: what it cannot take is refused naming the field
//! (`port.vlan`, `mac`...), read with `serde_path_to_error`.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body whose errors name the field (`port.vlan`, `mac`...).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, None, e.body_text()))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let field = (path != "." && path != "?").then_some(path.as_str());
                let what = if inner.is_syntax() || inner.is_eof() {
                    "malformed JSON"
                } else {
                    "invalid request"
                };
                let at = field.map(|f| format!(" at '{f}'")).unwrap_or_default();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    field,
                    format!("{what}{at}: {inner}"),
                )
            })
    }
}
