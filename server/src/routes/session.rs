//! CouchDB's `/_session` under `/db`: who am I (`GET`), cookie log-in (`POST`) and log-out
//! (`DELETE`), shaped like CouchDB's answers so that its tools and PouchDB understand them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, ClientIp, Principal, TokenKind, SESSION_COOKIE};
use crate::error::ApiError;
use crate::startup::AppState;

/// Cookie sessions last a day (CouchDB's are shorter still); devices that stay offline for
/// weeks use `/api/login` tokens instead.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `GET /db/_session`: the user context, `name: null` when anonymous.
pub async fn get_session(principal: Option<Principal>) -> Json<Value> {
    let (name, roles, authenticated) = match &principal {
        Some(p) => (
            json!(p.name),
            p.couch_roles(),
            Some(if p.device.is_some() {
                "cookie"
            } else {
                "default"
            }),
        ),
        None => (Value::Null, Vec::new(), None),
    };
    let mut info = json!({"authentication_handlers": ["cookie", "default"]});
    if let Some(handler) = authenticated {
        info["authenticated"] = json!(handler);
    }
    Json(json!({"ok": true, "userCtx": {"name": name, "roles": roles}, "info": info}))
}

#[derive(Deserialize)]
struct SessionForm {
    name: String,
    password: String,
}

/// `POST /db/_session` with `name` and `password` (JSON or a form): sets the `AuthSession`
/// cookie.
pub async fn post_session(
    State(state): State<AppState>,
    ClientIp(addr): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = parse_form(&headers, &body)?;
    let holds_token = auth::holds_token_for(&state, &headers, &form.name).await;
    let user = state
        .accounts
        .login_from(&form.name, &form.password, addr, holds_token)
        .await
        .map_err(|e| auth::login_error(e, false))?;
    if let Some(refusal) = auth::sign_in_refusal(user.role, &user.name) {
        return Err(refusal);
    }
    let issued = state
        .accounts
        .issue_session(&user.name, "CouchDB session", SESSION_TTL)
        .await?;
    let principal = Principal {
        name: user.name.clone(),
        role: user.role,
        regions: user.regions.clone(),
        device: None,
        token_id: Some(issued.record.id.clone()),
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Version=1; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        issued.token,
        SESSION_TTL.as_secs(),
        secure_attribute(&state, &headers),
    );
    let mut response = Json(json!({
        "ok": true,
        "name": user.name,
        "roles": principal.couch_roles(),
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

/// `DELETE /db/_session`: ends the cookie's session and clears the cookie.
pub async fn delete_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = auth::session_cookie(&headers) {
        if let Some(id) = auth::token_id(&token) {
            // Only a session token is ended here; anything else the cookie names is ignored.
            let resolved = {
                let token = token.clone();
                state
                    .accounts
                    .blocking(move |a| a.resolve_token(&token))
                    .await
            };
            if let Ok((record, _)) = resolved {
                if record.kind == TokenKind::Session {
                    state.accounts.revoke_token(id).await?;
                }
            }
        }
    }
    let mut response = Json(json!({"ok": true})).into_response();
    let clear = format!(
        "{SESSION_COOKIE}=; Version=1; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure_attribute(&state, &headers)
    );
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

/// `; Secure` when the browser reached us over HTTPS, so that the cookie never travels in
/// clear: always behind a proxy configured as terminating HTTPS (`--behind-https-proxy`), or
/// when the page's `Origin` is `https://` (browsers set it; a script cannot). The server itself
/// speaks plain HTTP, and an `X-Forwarded-Proto` from anyone but a configured proxy is not
/// believed. Setting `Secure` wrongly could only lose a cookie, never leak one.
fn secure_attribute(state: &AppState, headers: &HeaderMap) -> &'static str {
    let https_origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin.starts_with("https://"));
    if state.behind_https_proxy || https_origin {
        "; Secure"
    } else {
        ""
    }
}

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<SessionForm, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bad = || {
        ApiError::BadRequest("Send `name` and `password`, as JSON or as an HTML form.".to_owned())
    };
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body).map_err(|_| bad())?;
        let mut name = None;
        let mut password = None;
        for pair in text.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = url_decode(value).ok_or_else(bad)?;
            match key {
                "name" => name = Some(value),
                "password" => password = Some(value),
                _ => {}
            }
        }
        Ok(SessionForm {
            name: name.ok_or_else(bad)?,
            password: password.ok_or_else(bad)?,
        })
    } else {
        serde_json::from_slice(body).map_err(|_| bad())
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
fn url_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            url_decode("una+clave%21%C3%B1").as_deref(),
            Some("una clave!ñ")
        );
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("%4"), None);
    }
}
