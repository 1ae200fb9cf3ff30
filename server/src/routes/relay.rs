//! `GET /api/relay`: the continuous relays' status, for administrators (see [`crate::relay`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::relay::LegStatus;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/relay", get(status))
}

/// One row per relay, database and direction (`both` shows a `push` and a `pull` row); `[]`
/// when no relay is configured.
async fn status(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<LegStatus>>, ApiError> {
    principal.require_admin()?;
    Ok(Json(state.relays.status()))
}
