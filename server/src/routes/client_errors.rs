//! `POST /api/client-errors`: the app's own failures (Rust panics in the browser), sent by each
//! tablet with its next sync so that a crash nobody saw on the screen is still known at the
//! office.
//!
//! Reports are kept in their own sled tree (`client_errors`), keyed by a big-endian sequence
//! so they read back in arrival order, and logged as warnings. They are bounded: a tablet sends
//! at most [`MAX_REPORTS`] entries of at most [`MAX_TEXT`] characters per field, and the
//! request at most [`MAX_BODY_BYTES`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::startup::AppState;

/// The largest request accepted.
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// The most entries in one request (the app keeps the last 20).
pub const MAX_REPORTS: usize = 20;
/// The longest message, location or version kept, in characters (longer ones are cut).
pub const MAX_TEXT: usize = 1000;
/// The sled tree the reports go to.
pub const TREE: &str = "client_errors";

/// The routes, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/client-errors",
        post(report).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// One failure as the app recorded it.
#[derive(Debug, Deserialize, Serialize)]
pub struct ClientError {
    /// The panic's message.
    pub message: String,
    /// `file:line:column` in the app's source.
    #[serde(default)]
    pub location: Option<String>,
    /// When it happened on the device (RFC 3339 or milliseconds, as the device wrote it).
    #[serde(default)]
    pub at: Option<Value>,
    /// The app's build version.
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Deserialize)]
struct Report {
    errors: Vec<ClientError>,
}

fn cut(text: &mut String) {
    if let Some((i, _)) = text.char_indices().nth(MAX_TEXT) {
        text.truncate(i);
    }
}

/// `POST /api/client-errors {"errors": [{"message", "location", "at", "version"}]}` → 202.
async fn report(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge(format!(
            "A client error report may be at most {MAX_BODY_BYTES} bytes: send fewer or shorter \
             errors."
        )),
        other => ApiError::BadRequest(other.body_text()),
    })?;
    let Report { mut errors } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "Send a JSON object {{\"errors\": [{{\"message\", \"location\", \"at\", \"version\"}}]}}: {e}"
        ))
    })?;
    if errors.len() > MAX_REPORTS {
        return Err(ApiError::TooLarge(format!(
            "Send at most {MAX_REPORTS} client errors at a time ({} sent).",
            errors.len()
        )));
    }
    let received_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut records = Vec::with_capacity(errors.len());
    for error in &mut errors {
        cut(&mut error.message);
        if let Some(location) = &mut error.location {
            cut(location);
        }
        if let Some(version) = &mut error.version {
            cut(version);
        }
        tracing::warn!(
            user = %principal.name,
            device = principal.device.as_deref().unwrap_or("-"),
            panic = %error.message,
            location = error.location.as_deref().unwrap_or("-"),
            "client error reported"
        );
        let record = json!({
            "user": principal.name,
            "device": principal.device,
            "received_at_ms": received_at,
            "error": error,
        });
        records.push(serde_json::to_vec(&record).map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    // sled calls block: they run on the blocking pool, never on the async workers.
    let sled = state.storage.sled().clone();
    tokio::task::spawn_blocking(move || -> Result<(), sled::Error> {
        let tree = sled.open_tree(TREE)?;
        for value in records {
            tree.insert(sled.generate_id()?.to_be_bytes(), value)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("storing client errors: {e}")))??;
    // Acknowledged only once durable: the app then drops them from its outbox.
    state.storage.flush().await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({"ok": true, "stored": errors.len()})),
    ))
}
