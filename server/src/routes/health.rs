//! `GET /api/health`: is this server up, which version, and can it write to its store.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::startup::AppState;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    store: StoreHealth,
}

#[derive(Serialize)]
struct StoreHealth {
    writable: bool,
}

/// 200 when the store accepted a durable write just now, 503 otherwise: a monitor (or the
/// app's status strip) can tell "up" from "up but cannot save anything".
pub async fn health(State(state): State<AppState>) -> Response {
    let writable = match state.storage.probe_writable().await {
        Ok(()) => true,
        Err(err) => {
            tracing::error!(%err, "health probe: the store refused a write");
            false
        }
    };
    let body = Health {
        status: if writable { "ok" } else { "degraded" },
        version: chaski_shared::VERSION,
        store: StoreHealth { writable },
    };
    let status = if writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
