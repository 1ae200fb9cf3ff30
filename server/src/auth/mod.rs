//! Who is asking, and may they: accounts, tokens, the failed-login limit and the rules of
//! access to the regional databases.
//!
//! # Rules
//! - Every request to a database carries credentials: HTTP Basic (so stock CouchDB tools and
//!   PouchDB work), a bearer token from `POST /api/login`, or the `AuthSession` cookie from
//!   `POST /db/_session`. Anonymous requests get 401.
//! - Inspectors and supervisors read and write only their regions' databases; another
//!   database gets 403 with a reason naming it. Admins reach every database.
//! - Creating and deleting databases and managing users is for admins only.
//! - Relay accounts (another server relaying, issue 10) reach their regions' databases too, but
//!   only to replicate (`new_edits=false`; see `routes::couch::validate`), and cannot sign in
//!   to the apps ([`sign_in_refusal`]).
//! - Supervisors and inspectors have the same database access for now; what sets them apart
//!   (reviewing, referring and closing cases) comes with the append-only case events.
//!
//! # Layout
//! - [`accounts`]: users and tokens in sled.
//! - [`password`]: password rules and argon2id.
//! - [`limiter`]: failed logins per account and per address.

pub mod accounts;
pub mod limiter;
pub mod password;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub use accounts::{AccountError, Accounts, TokenInfo, TokenKind, UserInfo};

use crate::error::ApiError;
use crate::startup::AppState;

/// The name of the CouchDB session cookie.
pub const SESSION_COOKIE: &str = "AuthSession";

/// What a user may do, beyond their regions.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Records inspections in the field, in their regions.
    Inspector,
    /// Reviews the inspections and cases of their regions.
    Supervisor,
    /// National office: every region, users, devices and databases.
    Admin,
    /// A service account another Chaski server relays with: replicates its regions'
    /// databases (`new_edits=false` only), cannot sign in to the apps (issue 10).
    Relay,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Relay => "relay",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a relay account may not sign in (`/api/login`, `/db/_session`), or `None` for others.
pub fn sign_in_refusal(role: Role, name: &str) -> Option<ApiError> {
    (role == Role::Relay).then(|| {
        ApiError::Forbidden(format!(
            "{name} is a relay account: it replicates databases with its name and password \
             (HTTP Basic) and cannot sign in to the app. Sign in with a person's account."
        ))
    })
}

/// What a request does to a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The authenticated user of a request. As an extractor it rejects anonymous requests with
/// 401; use `Option<Principal>` where anonymous is fine (bad credentials are still refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub regions: BTreeSet<String>,
    /// The device name of the bearer token or session used, `None` with Basic auth.
    pub device: Option<String>,
    /// The id of that token or session (what the custody log records), `None` with Basic auth.
    pub token_id: Option<String>,
}

impl Principal {
    /// May this user `access` the database `db`? `Err` is 403 with a reason naming `db`.
    /// Access is the same for reading and writing today; the parameter keeps call sites ready
    /// for read-only roles.
    pub fn authorize(&self, db: &str, access: Access) -> Result<(), ApiError> {
        if self.can_access(db) {
            return Ok(());
        }
        let verb = match access {
            Access::Read => "read",
            Access::Write => "write to",
        };
        let regions = if self.regions.is_empty() {
            "none".to_owned()
        } else {
            self.regions.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        Err(ApiError::Forbidden(format!(
            "{} ({}) may not {verb} the database {db}: it is not one of their regions \
             ({regions}).",
            self.name, self.role
        )))
    }

    /// Whether this user may see `db` at all (to filter `_all_dbs`).
    pub fn can_access(&self, db: &str) -> bool {
        self.role == Role::Admin || self.regions.contains(db)
    }

    /// `Err` (403) unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Only an administrator may do this; {} is a {}.",
                self.name, self.role
            )))
        }
    }

    /// CouchDB's `userCtx.roles`: the role, plus `_admin` for admins so that CouchDB tools
    /// recognise a server admin.
    pub fn couch_roles(&self) -> Vec<String> {
        let mut roles = vec![self.role.as_str().to_owned()];
        if self.role == Role::Admin {
            roles.push("_admin".to_owned());
        }
        roles
    }

    fn from_user(user: &accounts::User, device: Option<String>, token_id: Option<String>) -> Self {
        Self {
            name: user.name.clone(),
            role: user.role,
            regions: user.regions.clone(),
            device,
            token_id,
        }
    }
}

/// Credentials found in a request.
enum Credentials {
    Basic { name: String, password: String },
    Bearer(String),
    Cookie(String),
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match authenticate(parts, state).await? {
            Some(principal) => {
                // Kept for the body extractors, which authorize the database before reading
                // a byte of the body (see `routes::couch::extract`).
                parts.extensions.insert(principal.clone());
                Ok(principal)
            }
            None => Err(ApiError::Unauthorized(
                "Authentication required: log in, or send a name and password (HTTP Basic) \
                 or a token."
                    .to_owned(),
            )),
        }
    }
}

impl OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        authenticate(parts, state).await
    }
}

/// The principal of a request: `None` without credentials, an error for bad ones.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let Some(credentials) = credentials(parts)? else {
        return Ok(None);
    };
    let accounts = &state.accounts;
    match credentials {
        Credentials::Basic { name, password } => {
            let user = accounts
                .login(&name, &password, client_ip(parts))
                .await
                .map_err(|e| login_error(e, true))?;
            Ok(Some(Principal::from_user(&user, None, None)))
        }
        Credentials::Bearer(token) => resolve(accounts, token, TokenKind::Bearer).await.map(Some),
        Credentials::Cookie(token) => resolve(accounts, token, TokenKind::Session).await.map(Some),
    }
}

/// The principal of a token presented as `presented_as`: a bearer token sent as a cookie (or a
/// session cookie sent as a bearer token) is no token at all.
async fn resolve(
    accounts: &Accounts,
    token: String,
    presented_as: TokenKind,
) -> Result<Principal, ApiError> {
    let (record, user) = accounts
        .blocking(move |a| a.resolve_token(&token))
        .await
        .map_err(|e| login_error(e, false))?;
    if record.kind != presented_as {
        return Err(login_error(AccountError::BadToken, false));
    }
    Ok(Principal::from_user(
        &user,
        Some(record.device),
        Some(record.id),
    ))
}

/// The client's address as the listener saw it (absent when the router is driven without a
/// socket, as in `oneshot` tests). Proxies' `X-Forwarded-For` is not trusted: anyone can
/// write it.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client's address, when the server runs with connection info (an extractor that never
/// fails).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// Turns an account error met while authenticating into the HTTP answer. `challenge`: whether
/// a 401 invites the client to retry with Basic auth (not for the app's tokens, or a browser
/// would pop up its own password dialog).
pub fn login_error(err: AccountError, challenge: bool) -> ApiError {
    match err {
        AccountError::BadCredentials | AccountError::BadToken | AccountError::Disabled(_) => {
            let reason = err.to_string();
            if challenge {
                ApiError::Unauthorized(reason)
            } else {
                ApiError::Unauthenticated(reason)
            }
        }
        AccountError::Limited(limited) => ApiError::TooManyRequests {
            reason: limited.reason,
            retry_after_secs: limited.retry_after.as_secs().max(1),
        },
        other => ApiError::from(other),
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(reason) => ApiError::BadRequest(reason),
            AccountError::UserExists(_) => ApiError::Conflict(err.to_string()),
            AccountError::NoSuchUser(_) | AccountError::NoSuchToken(_) => {
                ApiError::NotFound(err.to_string())
            }
            AccountError::BadCredentials | AccountError::BadToken | AccountError::Disabled(_) => {
                ApiError::Unauthenticated(err.to_string())
            }
            AccountError::Limited(limited) => ApiError::TooManyRequests {
                reason: limited.reason,
                retry_after_secs: limited.retry_after.as_secs().max(1),
            },
            AccountError::Busy => ApiError::Overloaded {
                reason: err.to_string(),
                retry_after_secs: 2,
            },
            AccountError::Store(e) => ApiError::Internal(format!("accounts: {e}")),
            AccountError::Internal(e) => ApiError::Internal(format!("accounts: {e}")),
        }
    }
}

fn credentials(parts: &Parts) -> Result<Option<Credentials>, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?.trim();
        let (scheme, rest) = value.split_once(' ').ok_or_else(malformed)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (name, password) = decoded.split_once(':').ok_or_else(malformed)?;
            return Ok(Some(Credentials::Basic {
                name: name.to_owned(),
                password: password.to_owned(),
            }));
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(Some(Credentials::Bearer(rest.to_owned())));
        }
        return Err(ApiError::Unauthorized(format!(
            "The authorization scheme {scheme:?} is not supported: use Basic or Bearer."
        )));
    }
    Ok(session_cookie(&parts.headers).map(Credentials::Cookie))
}

/// The `AuthSession` cookie's value, if the request has a non-empty one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The bearer token of a request, if any (for logout).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_owned())
}

/// Whether the request carries a valid token (bearer or session cookie) of the account
/// `name`: then it comes from that user's own signed-in device, and a password it sends is not
/// a stranger's guess (see the limiter).
pub async fn holds_token_for(state: &AppState, headers: &HeaderMap, name: &str) -> bool {
    let presented = bearer_token(headers)
        .map(|t| (t, TokenKind::Bearer))
        .or_else(|| session_cookie(headers).map(|t| (t, TokenKind::Session)));
    let Some((token, kind)) = presented else {
        return false;
    };
    state
        .accounts
        .blocking(move |a| a.resolve_token(&token))
        .await
        .is_ok_and(|(record, user)| record.kind == kind && user.name.eq_ignore_ascii_case(name))
}

/// The public id of a token (`<id>.<secret>`), which names it in lists and revocations.
pub fn token_id(token: &str) -> Option<&str> {
    token.split_once('.').map(|(id, _)| id)
}

fn malformed() -> ApiError {
    ApiError::Unauthorized(
        "The Authorization header is malformed: expected `Basic <base64 of name:password>` or \
         `Bearer <token>`."
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    fn principal(role: Role, regions: &[&str]) -> Principal {
        Principal {
            name: "ana".to_owned(),
            role,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            device: None,
            token_id: None,
        }
    }

    fn status(result: Result<(), ApiError>) -> StatusCode {
        match result {
            Ok(()) => StatusCode::OK,
            Err(e) => e.into_response().status(),
        }
    }

    #[test]
    fn inspectors_and_supervisors_reach_their_regions_only_and_admins_all() {
        for role in [Role::Inspector, Role::Supervisor] {
            let p = principal(role, &["madre-de-dios", "cusco"]);
            for access in [Access::Read, Access::Write] {
                assert_eq!(status(p.authorize("madre-de-dios", access)), StatusCode::OK);
                assert_eq!(status(p.authorize("cusco", access)), StatusCode::OK);
                assert_eq!(status(p.authorize("loreto", access)), StatusCode::FORBIDDEN);
            }
        }
        let admin = principal(Role::Admin, &[]);
        for access in [Access::Read, Access::Write] {
            assert_eq!(status(admin.authorize("loreto", access)), StatusCode::OK);
        }
    }

    #[test]
    fn a_refusal_names_the_database_and_the_users_regions() {
        let err = principal(Role::Inspector, &["cusco"])
            .authorize("loreto", Access::Write)
            .unwrap_err()
            .to_string();
        assert!(err.contains("loreto") && err.contains("cusco"), "{err}");
    }

    #[test]
    fn only_admins_pass_require_admin() {
        assert!(principal(Role::Admin, &[]).require_admin().is_ok());
        assert_eq!(
            status(principal(Role::Supervisor, &["cusco"]).require_admin()),
            StatusCode::FORBIDDEN
        );
        assert!(principal(Role::Inspector, &["cusco"])
            .require_admin()
            .is_err());
    }

    #[test]
    fn roles_are_lowercase_in_json() {
        assert_eq!(
            serde_json::to_string(&Role::Supervisor).unwrap(),
            "\"supervisor\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"admin\"").unwrap(),
            Role::Admin
        );
        assert_eq!(
            principal(Role::Admin, &[]).couch_roles(),
            ["admin", "_admin"]
        );
    }

    #[test]
    fn credentials_are_read_from_basic_bearer_and_the_session_cookie() {
        let req = |name: &str, value: &str| {
            let (parts, _) = axum::http::Request::builder()
                .header(name, value)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        let basic = base64::engine::general_purpose::STANDARD.encode("ana:una:clave");
        match credentials(&req("authorization", &format!("Basic {basic}"))) {
            Ok(Some(Credentials::Basic { name, password })) => {
                assert_eq!((name.as_str(), password.as_str()), ("ana", "una:clave"));
            }
            _ => panic!("basic not parsed"),
        }
        assert!(matches!(
            credentials(&req("authorization", "Bearer abc.def")),
            Ok(Some(Credentials::Bearer(t))) if t == "abc.def"
        ));
        assert!(matches!(
            credentials(&req("cookie", "a=b; AuthSession=abc.def")),
            Ok(Some(Credentials::Cookie(t))) if t == "abc.def"
        ));
        assert!(credentials(&req("authorization", "Basic %%%")).is_err());
        assert!(credentials(&req("authorization", "Digest x")).is_err());
        assert!(matches!(credentials(&req("x-other", "1")), Ok(None)));
    }
}
