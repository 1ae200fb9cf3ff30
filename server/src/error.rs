//! [`ApiError`]: the one error type of the HTTP API, rendered the way CouchDB does
//! (`{"error": "...", "reason": "..."}`) so that replication clients understand it.

use axum::http::{header, HeaderValue, StatusCode};
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
    /// No or bad credentials (401), with a `WWW-Authenticate: Basic` challenge so that CouchDB
    /// tools and PouchDB retry with a name and password.
    #[error("{0}")]
    Unauthorized(String),
    /// Bad credentials from the app's own login or token (401 without the Basic challenge, so
    /// that a browser shows no password dialog of its own).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing to create exists already (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins (429 with `Retry-After`).
    #[error("{reason}")]
    TooManyRequests {
        reason: String,
        retry_after_secs: u64,
    },
    /// Any other CouchDB error, with CouchDB's status and `error` name (`conflict`,
    /// `file_exists`, `illegal_docid`, …), so that replication clients act on it as on CouchDB's.
    #[error("{reason}")]
    Couch {
        status: StatusCode,
        error: String,
        reason: String,
    },
    /// The server is at a configured bound (password checks, in-flight request bodies,
    /// connections): 503 with `Retry-After`, so that the client retries shortly instead of the
    /// server taking on more than it can hold.
    #[error("{reason}")]
    Overloaded {
        reason: String,
        retry_after_secs: u64,
    },
    /// The client stopped sending its request body (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// A request, document or attachment over a configured limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// A JSON endpoint sent something that is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &str) {
        match self {
            ApiError::Couch { status, error, .. } => (*status, error.as_str()),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_content_type")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error"),
            ApiError::Unauthorized(_) | ApiError::Unauthenticated(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
        }
    }
}

impl From<sled::Error> for ApiError {
    fn from(err: sled::Error) -> Self {
        ApiError::Internal(format!("sled: {err}"))
    }
}

impl ApiError {
    /// A CouchDB error with its status, name and reason.
    pub fn couch(status: StatusCode, error: &str, reason: impl Into<String>) -> Self {
        ApiError::Couch {
            status,
            error: error.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The sync engine's errors keep CouchDB's status and name; its internal faults stay internal.
impl From<chaski_shared::Error> for ApiError {
    fn from(err: chaski_shared::Error) -> Self {
        match err {
            chaski_shared::Error::Internal(detail) => ApiError::Internal(detail),
            other => ApiError::Couch {
                status: StatusCode::from_u16(other.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                error: other.error_name().to_owned(),
                reason: other.reason().to_owned(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = self.parts();
        let error = error.to_owned();
        let reason = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "The server failed unexpectedly; the request was not applied. Try again, and \
                 tell the administrator if it keeps failing."
                    .to_owned()
            }
            other => other.to_string(),
        };
        let mut response =
            (status, Json(json!({ "error": error, "reason": reason }))).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"chaski\""),
                );
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            }
            | ApiError::Overloaded {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
