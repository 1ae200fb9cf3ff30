//! The admin API under `/api/admin`: users, device tokens, databases and the log of changes,
//! for administrators only, while the server runs (the same operations as the `chaski`
//! command line, from [`crate::admin_ops`]).
//!
//! # Who may call it
//! - An administrator with a bearer token (`POST /api/login`), from anywhere: a page cannot
//!   make a browser attach one on its own.
//! - An administrator with credentials a browser attaches on its own (the `AuthSession`
//!   cookie, or HTTP Basic the browser remembered) only from the server's own pages: the
//!   request must carry `Sec-Fetch-Site: same-origin`, or, from a browser that does not send
//!   it, an `Origin` equal to the server's own (its `Host`). Anything else is 403 with the
//!   reason, before the credentials are even checked (CSRF).
//! - Everyone else: 401 without credentials, 403 when not an administrator. Both are decided
//!   before a byte of the body is read; bodies are at most [`ADMIN_BODY_LIMIT`].

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use clap::ValueEnum;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin_ops::UserChange;
use crate::auth::{session_cookie, Principal, Role};
use crate::error::ApiError;
use crate::startup::AppState;

/// Largest body of an admin request (a name, a password, a role and at most 25 regions), and
/// of the sealing keys' routes ([`crate::routes::keys`]: a wrapped key is about 600 bytes of
/// JSON, an opening a few ids).
pub const ADMIN_BODY_LIMIT: usize = 16 * 1024;

/// The routes, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users).post(add_user))
        .route("/admin/users/{name}", patch(change_user))
        .route("/admin/users/{name}/password", post(set_password))
        .route("/admin/tokens", get(list_tokens))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route(
            "/admin/databases",
            get(list_databases).post(create_database),
        )
        .route("/admin/log", get(log))
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
}

/// An administrator, checked for CSRF when the credentials are ambient (see the module's
/// documentation).
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        refuse_cross_site(parts, state)?;
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require_admin()?;
        Ok(Admin(principal))
    }
}

/// The CSRF rule of every state-changing route outside the document API: a request that
/// carries credentials a browser attaches by itself must come from this origin.
pub(crate) fn refuse_cross_site(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    if has_ambient_credentials(parts) {
        same_origin(parts, state.behind_https_proxy)?;
    }
    Ok(())
}

/// Credentials a browser may attach by itself: the session cookie (when no `Authorization`
/// header says otherwise, it is what authenticates) or HTTP Basic. A request without any is
/// left to the authentication's 401.
fn has_ambient_credentials(parts: &Parts) -> bool {
    match parts.headers.get(AUTHORIZATION) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .is_none_or(|(scheme, _)| !scheme.eq_ignore_ascii_case("bearer")),
        None => session_cookie(&parts.headers).is_some(),
    }
}

/// Whether a request with ambient credentials comes from the server's own pages. Browsers set
/// `Sec-Fetch-Site` and `Origin` themselves; a page cannot forge them, and a script outside
/// a browser has no victim's cookie to send.
fn same_origin(parts: &Parts, https_only: bool) -> Result<(), ApiError> {
    let header = |name| {
        parts.headers.get(name).map(|v| {
            v.to_str()
                .unwrap_or("(not text)")
                .trim()
                .to_ascii_lowercase()
        })
    };
    let refuse = |why: String| {
        ApiError::Forbidden(format!(
            "{why} The admin API accepts a session cookie or HTTP Basic only from the server's \
             own pages (CSRF protection); other clients sign in with POST /api/login and send \
             `Authorization: Bearer <token>`."
        ))
    };
    if let Some(site) = header("sec-fetch-site") {
        let safe = parts.method == Method::GET || parts.method == Method::HEAD;
        return match site.as_str() {
            "same-origin" => Ok(()),
            // Typed into the address bar or opened from a bookmark: a person's own request.
            "none" if safe => Ok(()),
            other => Err(refuse(format!(
                "This request comes from another site (Sec-Fetch-Site: {other})."
            ))),
        };
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return Err(refuse(
            "This request says neither where it comes from (no Origin or Sec-Fetch-Site) nor \
             carries a bearer token."
                .to_owned(),
        ));
    };
    let host = header(HOST.as_str()).unwrap_or_default();
    let (scheme, origin_host) = origin.split_once("://").unwrap_or(("", ""));
    let scheme_ok = match scheme {
        "https" => true,
        "http" => !https_only,
        _ => false,
    };
    if scheme_ok
        && !host.is_empty()
        && without_default_port(origin_host, scheme) == without_default_port(&host, scheme)
    {
        Ok(())
    } else {
        Err(refuse(format!(
            "This request comes from another origin ({origin}), not from this server ({host})."
        )))
    }
}

fn without_default_port<'a>(host: &'a str, scheme: &str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    host.strip_suffix(default).unwrap_or(host)
}

/// A JSON body, read only after the extractors before it (the [`Admin`] check, or another
/// role check), refused with a reason a person can act on. At most [`ADMIN_BODY_LIMIT`] bytes
/// on the routes that use it.
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(AdminJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
            "This request takes a few fields; this body is larger than {ADMIN_BODY_LIMIT} \
             bytes."
        )),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
            "Send the body as JSON, with `Content-Type: application/json`.".to_owned(),
        ),
        _ => ApiError::BadRequest(format!(
            "The body is not what this endpoint takes: {}",
            rejection.body_text()
        )),
    }
}

/// A name or id from the path; one that is not text is 400 in the API's JSON.
fn segment(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(value)| value).map_err(|rejection| {
        ApiError::BadRequest(format!(
            "The name or id in the path is not usable: {}",
            rejection.body_text()
        ))
    })
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("Bad query: {}", rejection.body_text()))
}

/// A role by its wire name, with `Role`'s own parser (serde), so that every variant of `Role`
/// is accepted without a list here.
pub fn parse_role(text: &str) -> Result<Role, ApiError> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        let roles: Vec<String> = Role::value_variants().iter().map(Role::to_string).collect();
        ApiError::BadRequest(format!(
            "{text:?} is not a role; use one of: {}.",
            roles.join(", ")
        ))
    })
}

/// `GET /api/admin/users`.
async fn list_users(State(state): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.admin.users().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    regions: Vec<String>,
}

/// `POST /api/admin/users {"name","password","role","regions"}` → 201 and the user.
async fn add_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    AdminJson(body): AdminJson<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = parse_role(&body.role)?;
    let user = state
        .admin
        .add_user(&admin, &body.name, &body.password, role, body.regions)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    role: Option<String>,
    regions: Option<Vec<String>>,
    disabled: Option<bool>,
}

/// `PATCH /api/admin/users/{name}` with any of `{"role","regions","disabled"}`.
async fn change_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    name: Result<Path<String>, PathRejection>,
    AdminJson(body): AdminJson<PatchUser>,
) -> Result<Json<Value>, ApiError> {
    let name = segment(name)?;
    let change = UserChange {
        role: body.role.as_deref().map(parse_role).transpose()?,
        regions: body.regions,
        disabled: body.disabled,
    };
    let user = state.admin.change_user(&admin, &name, change).await?;
    Ok(Json(json!(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

/// `POST /api/admin/users/{name}/password {"password"}`.
async fn set_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    name: Result<Path<String>, PathRejection>,
    AdminJson(body): AdminJson<NewPassword>,
) -> Result<Json<Value>, ApiError> {
    let name = segment(name)?;
    state
        .admin
        .set_password(&admin, &name, &body.password)
        .await?;
    Ok(Json(json!({"ok": true, "name": name})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensQuery {
    user: Option<String>,
}

/// `GET /api/admin/tokens[?user=]`: live tokens, and those revoked by an administrator.
async fn list_tokens(
    State(state): State<AppState>,
    _: Admin,
    query: Result<Query<TokensQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    Ok(Json(json!(state.admin.tokens(query.user).await?)))
}

/// `POST /api/admin/tokens/{id}/revoke`: that device is refused from its next request on.
async fn revoke_token(
    State(state): State<AppState>,
    Admin(admin): Admin,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = segment(id)?;
    let revoked = state.admin.revoke_token(&admin, &id).await?;
    Ok(Json(json!({"ok": true, "revoked": revoked})))
}

/// `GET /api/admin/databases` → `["loreto", ...]`.
async fn list_databases(State(state): State<AppState>, _: Admin) -> Json<Value> {
    Json(json!(state.admin.databases()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDatabase {
    name: String,
}

/// `POST /api/admin/databases {"name"}` → 201; 409 when it exists.
async fn create_database(
    State(state): State<AppState>,
    Admin(admin): Admin,
    AdminJson(body): AdminJson<NewDatabase>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !state.admin.create_database(&admin, &body.name).await? {
        return Err(ApiError::Conflict(format!(
            "The database {} exists already.",
            body.name
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"ok": true, "name": body.name})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    limit: Option<usize>,
}

/// `GET /api/admin/log[?limit=]`: the newest changes first (100 by default, at most 1,000).
async fn log(
    State(state): State<AppState>,
    _: Admin,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=crate::audit::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {}.",
            crate::audit::MAX_LIMIT
        )));
    }
    Ok(Json(json!(state.admin.log(limit).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .header("host", "office.example:8080");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn ambient_credentials_pass_only_from_the_servers_own_origin() {
        let ok = |m: Method, h: &[(&str, &str)]| same_origin(&parts(m, h), false).is_ok();
        assert!(ok(Method::POST, &[("sec-fetch-site", "same-origin")]));
        assert!(!ok(Method::POST, &[("sec-fetch-site", "cross-site")]));
        assert!(!ok(Method::POST, &[("sec-fetch-site", "same-site")]));
        assert!(!ok(Method::POST, &[("sec-fetch-site", "none")]));
        assert!(ok(Method::GET, &[("sec-fetch-site", "none")]));
        assert!(ok(
            Method::POST,
            &[("origin", "http://office.example:8080")]
        ));
        assert!(ok(
            Method::POST,
            &[("origin", "https://office.example:8080")]
        ));
        assert!(!ok(Method::POST, &[("origin", "http://evil.example")]));
        assert!(!ok(
            Method::POST,
            &[("origin", "http://office.example:8081")]
        ));
        assert!(!ok(Method::POST, &[("origin", "null")]));
        assert!(!ok(Method::POST, &[]));
        // Behind an HTTPS proxy, a plain-HTTP page of the same host is another origin.
        assert!(same_origin(
            &parts(Method::POST, &[("origin", "http://office.example:8080")]),
            true
        )
        .is_err());
    }

    #[test]
    fn default_ports_are_the_same_origin() {
        assert_eq!(without_default_port("a.org:443", "https"), "a.org");
        assert_eq!(without_default_port("a.org:80", "http"), "a.org");
        assert_eq!(without_default_port("a.org:8080", "http"), "a.org:8080");
    }

    #[test]
    fn roles_are_parsed_by_roles_own_parser() {
        assert_eq!(parse_role("supervisor").unwrap(), Role::Supervisor);
        let err = parse_role("boss").unwrap_err().to_string();
        assert!(err.contains("inspector") && err.contains("admin"), "{err}");
    }
}
