//! [`ApiError`]: the one error type of the HTTP API, rendered the way CouchDB does
//! (`{"error": "...", "reason": "..."}`) so that replication clients understand it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What a handler can fail with. 4xx variants carry a reason a person can act on; an
/// internal error is logged in full and answered with a generic message, never its details.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the data store cannot be written: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error"),
        }
    }
}

impl From<sled::Error> for ApiError {
    fn from(err: sled::Error) -> Self {
        ApiError::Internal(format!("sled: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = self.parts();
        let reason = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "The server failed unexpectedly; the request was not applied. Try again, and \
                 tell the administrator if it keeps failing."
                    .to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(json!({ "error": error, "reason": reason }))).into_response()
    }
}
