//! The regions' sealing keys over HTTP ([`crate::keys`]) and the record of openings:
//! - `GET /api/keys?region=R` (a supervisor of R, or an administrator): every key of R,
//!   newest (current) first, each with its wrapped private half, for the office to unlock with
//!   the passphrase in the browser;
//! - `POST /api/admin/keys` (administrators, with the admin API's CSRF rules): stores a key
//!   made by `chaski keys create --server` or in a browser; audited and in the custody log;
//! - `POST /api/log/opening` (a supervisor of the database's region, or an administrator):
//!   the office says it opened a sealed identity or photo, **before** it shows it; answered
//!   `201 {"index": N}` once the custody log's entry is on disk;
//! - `GET /api/log/openings?db=D&id=ID` (the same people): the openings of one document,
//!   newest first, from the log's openings index (not a walk through the whole log).
//!
//! `GET /api/me`'s `seal_keys` (the current public key of each of the user's regions) is in
//! `account`. Every answer here is decided on the caller's role before a byte of the body is
//! read; bodies are at most [`ADMIN_BODY_LIMIT`], read by the admin API's [`AdminJson`].

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chaski_seal::WrappedKey;
use chaski_shared::DocId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Access, Principal, Role};
use crate::error::ApiError;
use crate::routes::admin_api::{refuse_cross_site, Admin, AdminJson, ADMIN_BODY_LIMIT};
use crate::startup::AppState;

/// The routes, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list_keys))
        .route("/admin/keys", post(add_key))
        .route("/log/opening", post(opening))
        .route("/log/openings", get(openings))
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
}

/// Whether `principal`'s role opens sealed values at all: supervisors and administrators.
/// Inspectors seal to the public key `/api/me` gives them and never need the wrapped one.
fn may_open_any(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Admin | Role::Supervisor => Ok(()),
        Role::Inspector | Role::Relay => Err(ApiError::Forbidden(format!(
            "Only the regional office's supervisors (or an administrator) open sealed \
             identities; {} is a {}.",
            principal.name, principal.role
        ))),
    }
}

/// A supervisor or an administrator ([`may_open_any`]), decided before the body is read, with
/// the admin API's rule against cross-site requests ([`refuse_cross_site`]).
struct Opener(Principal);

impl FromRequestParts<AppState> for Opener {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        refuse_cross_site(parts, state)?;
        let principal = Principal::from_request_parts(parts, state).await?;
        may_open_any(&principal)?;
        Ok(Opener(principal))
    }
}

/// Whether `principal` may read the wrapped keys of, and record or list openings in,
/// `region`: the role, then the region as for its database ([`Principal::authorize`]).
fn may_open(principal: &Principal, region: &str) -> Result<(), ApiError> {
    may_open_any(principal)?;
    principal.authorize(region, Access::Read)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionQuery {
    region: Option<String>,
}

/// `GET /api/keys?region=R` → `{"keys": [StoredKey…]}`, newest first.
async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<RegionQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::BadRequest(format!("Bad query: {}", e.body_text())))?;
    let region = query.region.ok_or_else(|| {
        ApiError::BadRequest("Say which region: /api/keys?region=loreto".to_owned())
    })?;
    if !crate::regions::is_region_db(&region) {
        return Err(ApiError::BadRequest(format!(
            "{region:?} is not a region; use one of: {}",
            crate::regions::db_names().collect::<Vec<_>>().join(", ")
        )));
    }
    may_open(&principal, &region)?;
    let list = state.keys.blocking(move |k| Ok(k.list(&region)?)).await?;
    Ok(Json(json!({ "keys": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    region: String,
    public_key_b64: String,
    wrapped: WrappedKey,
}

/// `POST /api/admin/keys {"region","public_key_b64","wrapped"}` → 201 and the stored key (it
/// becomes the region's current key); 400 with the reason for a key that is not what it
/// claims, 409 for one stored already.
async fn add_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    AdminJson(body): AdminJson<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Stored, logged and on disk before it is acknowledged.
    let stored = state
        .keys
        .add_recorded(
            state.admin.audit(),
            &admin,
            &body.region,
            &body.public_key_b64,
            body.wrapped,
        )
        .await?;
    tracing::info!(by = %admin.name, region = %stored.region, key_id = %stored.key_id, "sealing key added");
    Ok((StatusCode::CREATED, Json(json!(stored))))
}

/// `value` as a document id (the rules of every document route, [`DocId::parse`]), or a 400
/// naming `field` and what it should be. Both opening routes read ids through this, so an id
/// is recorded and looked up the same way.
fn doc_id(field: &str, value: &str, what: &str) -> Result<DocId, ApiError> {
    DocId::parse(value).map_err(|e| {
        ApiError::BadRequest(format!("{field}: give the id of {what}: {}", e.reason()))
    })
}

/// What the office opened.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpeningBody {
    db: String,
    doc_id: String,
    #[serde(default)]
    person_code: Option<String>,
    #[serde(default)]
    attachment: Option<String>,
    key_id: String,
}

/// `POST /api/log/opening {"db","doc_id","person_code"?,"attachment"?,"key_id"}` →
/// `201 {"index": N}` once the entry is durable.
async fn opening(
    State(state): State<AppState>,
    Opener(principal): Opener,
    AdminJson(body): AdminJson<OpeningBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The role was decided before the body was read (`Opener`); the region is in the body.
    may_open(&principal, &body.db)?;
    if state.databases.get(&body.db).is_none() {
        return Err(ApiError::NotFound(format!(
            "There is no database {}.",
            body.db
        )));
    }
    let doc_id = doc_id(
        "doc_id",
        &body.doc_id,
        "the document whose sealed value was opened",
    )?;
    if body.person_code.is_none() && body.attachment.is_none() {
        return Err(ApiError::BadRequest(
            "Say what was opened: person_code (a sealed identity) or attachment (a sealed \
             photo)."
                .to_owned(),
        ));
    }
    if let Some(code) = &body.person_code {
        if chaski_shared::domain::PersonCode::parse(code).is_none() {
            return Err(ApiError::BadRequest(format!(
                "person_code: {code:?} is not a person's code like P-001"
            )));
        }
    }
    if let Some(name) = &body.attachment {
        if name.is_empty() || name.len() > 255 {
            return Err(ApiError::BadRequest(
                "attachment: give the name of the sealed photo's attachment".to_owned(),
            ));
        }
    }
    let key_region = body.key_id.rsplit_once('-').map(|(region, _)| region);
    if !chaski_shared::sealed::valid_key_id(&body.key_id) || key_region != Some(&body.db) {
        return Err(ApiError::BadRequest(format!(
            "key_id: {:?} is not a key id of {} (like {}-0123456789abcdef)",
            body.key_id, body.db, body.db
        )));
    }
    let index = state
        .custody
        .record_opening(crate::custody::Opening {
            user: &principal.name,
            token_id: principal.token_id.as_deref(),
            db: &body.db,
            doc_id: doc_id.as_str(),
            person: body.person_code.as_deref(),
            attachment: body.attachment.as_deref(),
            key_id: &body.key_id,
        })
        .await
        .map_err(|e| ApiError::Internal(format!("custody log: {e}")))?;
    tracing::info!(user = %principal.name, db = %body.db, doc_id = %doc_id, index, "sealed value opened");
    Ok((StatusCode::CREATED, Json(json!({ "index": index }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpeningsQuery {
    db: Option<String>,
    id: Option<String>,
}

/// `GET /api/log/openings?db=D&id=ID` → `{"openings": [{"index", "entry"}…]}`, newest first,
/// each entry as `GET /api/log/entries` gives it. Decided on the caller and the database's
/// region before anything is read.
async fn openings(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<OpeningsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::BadRequest(format!("Bad query: {}", e.body_text())))?;
    let (Some(db), Some(id)) = (query.db, query.id) else {
        return Err(ApiError::BadRequest(
            "Say which document: /api/log/openings?db=loreto&id=inspection:…".to_owned(),
        ));
    };
    may_open(&principal, &db)?;
    if state.databases.get(&db).is_none() {
        return Err(ApiError::NotFound(format!("There is no database {db}.")));
    }
    let id = doc_id("id", &id, "the document whose openings to list")?;
    let found = state
        .custody
        .openings_of(&db, id.as_str())
        .await
        .map_err(|e| ApiError::Internal(format!("custody log: {e}")))?;
    let openings: Vec<Value> = found
        .into_iter()
        .map(|(index, bytes)| {
            let entry = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
            json!({ "index": index, "entry": entry })
        })
        .collect();
    Ok(Json(json!({ "openings": openings })))
}
