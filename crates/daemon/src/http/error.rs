//! An error answer: its status and a body that names the field at fault.

use crate::engine::ChangeError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use vepa_api::topology::TopologyError;
use vepa_api::wire::ErrorBody;

/// An error answer: status and body.
pub struct ApiError(StatusCode, ErrorBody);

impl ApiError {
    pub fn new(status: StatusCode, field: Option<&str>, error: impl Into<String>) -> ApiError {
        ApiError(
            status,
            ErrorBody {
                error: error.into(),
                field: field.map(str::to_string),
            },
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// The field named in a host error such as
/// `switch 's', port 'p': ifname: interface 'x' already exists`.
fn field_of_host_error(msg: &str) -> Option<String> {
    let rest = msg.split_once("': ").map(|(_, r)| r)?;
    let (field, _) = rest.split_once(": ")?;
    (!field.contains(' ') && !field.is_empty()).then(|| field.to_string())
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        let msg = e.to_string();
        match e {
            ChangeError::Invalid(TopologyError::Invalid { field, .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg)
            }
            ChangeError::Invalid(_) => ApiError::new(StatusCode::BAD_REQUEST, None, msg),
            ChangeError::NotFound { field, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, Some(&field), msg)
            }
            ChangeError::Conflict { field, .. } => {
                ApiError::new(StatusCode::CONFLICT, Some(&field), msg)
            }
            ChangeError::Host(_) => {
                let field = field_of_host_error(&msg);
                ApiError::new(StatusCode::CONFLICT, field.as_deref(), msg)
            }
            ChangeError::Store(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, msg),
            ChangeError::Flow { field, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), msg)
            }
        }
    }
}
