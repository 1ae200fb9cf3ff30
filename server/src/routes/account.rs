//! The app's account endpoints under `/api`: log in for a device token, log out, the user's
//! profile, and the devices' tokens (`/api/login`, `/api/logout`, `/api/me`, `/api/tokens`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::accounts::rfc3339;
use crate::auth::{self, ClientIp, Principal, Role};
use crate::error::ApiError;
use crate::startup::AppState;

/// The routes, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/tokens", get(list_tokens))
        .route("/tokens/{id}", delete(revoke_token))
}

#[derive(Deserialize)]
pub struct LoginRequest {
    name: String,
    password: String,
    /// Which device the token is for ("tablet 07"), shown when revoking it.
    #[serde(default)]
    device: Option<String>,
}

/// `POST /api/login {"name","password","device"}` → a token for that device.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(addr): ClientIp,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(
                "A login is a name, a password and a device name; this \
                                       request is far larger."
                    .to_owned(),
            );
        }
        ApiError::BadRequest(format!(
            "Send a JSON object {{\"name\", \"password\", \"device\"}}: {}",
            e.body_text()
        ))
    })?;
    let holds_token = auth::holds_token_for(&state, &headers, &req.name).await;
    let user = state
        .accounts
        .login_from(&req.name, &req.password, addr, holds_token)
        .await
        .map_err(|e| auth::login_error(e, false))?;
    if let Some(refusal) = auth::sign_in_refusal(user.role, &user.name) {
        return Err(refusal);
    }
    let device = req.device.as_deref().unwrap_or("unnamed device");
    let issued = state.accounts.issue_token(&user.name, device).await?;
    tracing::info!(user = %user.name, device = %issued.record.device, token_id = %issued.record.id, "token issued");
    Ok(Json(json!({
        "token": issued.token,
        "token_id": issued.record.id,
        "expires_at": rfc3339(issued.record.expires_at),
        "user": {"name": user.name, "role": user.role, "regions": user.regions},
    })))
}

/// `POST /api/logout`: revokes the token the request carries.
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = auth::bearer_token(&headers).ok_or_else(|| {
        ApiError::BadRequest(
            "Log out revokes a token: send it as `Authorization: Bearer <token>`.".to_owned(),
        )
    })?;
    let id = auth::token_id(&token).unwrap_or_default().to_owned();
    state.accounts.revoke_token(&id).await?;
    tracing::info!(user = %principal.name, token_id = %id, "logged out");
    Ok(Json(json!({"ok": true})))
}

/// `GET /api/me`: who the credentials belong to, and `seal_keys`: the current public sealing
/// key of each region they work in (every region for an administrator), which the tablet
/// keeps for sealing offline. A region with no key yet is absent.
pub async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let regions: Vec<String> = if principal.role == Role::Admin {
        crate::regions::db_names().map(str::to_owned).collect()
    } else {
        principal.regions.iter().cloned().collect()
    };
    let seal_keys = state
        .keys
        .blocking(move |k| k.current_of(regions.iter().map(String::as_str)))
        .await?;
    Ok(Json(json!({
        "name": principal.name,
        "role": principal.role,
        "regions": principal.regions,
        "device": principal.device,
        "seal_keys": seal_keys,
    })))
}

#[derive(Deserialize)]
pub struct TokensQuery {
    user: Option<String>,
}

/// `GET /api/tokens[?user=]`: one's own devices; an admin sees everyone's (or one user's).
pub async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<TokensQuery>,
) -> Result<Json<Value>, ApiError> {
    let user = match (principal.role, query.user) {
        (Role::Admin, user) => user,
        (_, Some(other)) if other != principal.name => {
            return Err(ApiError::Forbidden(
                "Only an administrator may list another user's devices.".to_owned(),
            ))
        }
        _ => Some(principal.name.clone()),
    };
    let tokens = state
        .accounts
        .blocking(move |a| a.list_tokens(user.as_deref()))
        .await?;
    Ok(Json(json!({ "tokens": tokens })))
}

/// `DELETE /api/tokens/{id}`: cuts a device off at once (its owner or an admin).
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("There is no token {id}."));
    let record = {
        let id = id.clone();
        state.accounts.blocking(move |a| a.token(&id)).await?
    }
    .ok_or_else(not_found)?;
    // Someone else's token is "not found" rather than "forbidden": ids are not to be probed.
    if principal.role != Role::Admin && record.user != principal.name {
        return Err(not_found());
    }
    // An administrator cutting off someone else's device: logged, and listed as revoked.
    let revoked = if record.user != principal.name {
        state.admin.revoke_token(&principal, &id).await?
    } else {
        state.accounts.revoke_token(&id).await?
    };
    tracing::info!(by = %principal.name, user = %revoked.user, token_id = %id, "token revoked");
    Ok(Json(json!({"ok": true, "revoked": revoked})))
}
