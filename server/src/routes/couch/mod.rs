//! CouchDB's HTTP API under `/db` (the PWA owns `/`): what replication (PouchDB, CouchDB, the
//! shared `HttpPeer`) and a CouchDB user need, with CouchDB's status codes and error bodies.
//!
//! - this module: the server root, `_all_dbs`, databases, `_ensure_full_commit`, [`Limits`];
//! - [`docs`]: documents, design documents and attachments;
//! - [`replication`]: `_changes`, `_revs_diff`, `_bulk_get`, `_bulk_docs`;
//! - [`all_docs`]: the `_all_docs` listing;
//! - [`local`]: `_local` documents (replication checkpoints);
//! - [`extract`]: request bodies and query parameters;
//! - [`validate`]: the domain rules every write to a region database passes, and who may write
//!   design documents.
//!
//! Every handler authenticates ([`Principal`]) and then authorizes the database: reads for
//! `GET`, `_changes`, `_revs_diff`, `_bulk_get`, `_all_docs` and `_local` reads; writes for the
//! rest; creating and deleting databases is for administrators. The body extractors check
//! the database before they read a byte of the body (see [`extract`]).

pub mod all_docs;
pub mod docs;
pub mod extract;
pub mod local;
pub mod replication;
pub mod validate;

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chaski_shared::store::Store;
use chaski_shared::wire::{DbInfoResponse, EnsureFullCommitResponse};
use serde_json::{json, Value};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::auth::{Access, Principal};
use crate::config::Config;
use crate::db::{DbName, SledStore};
use crate::error::ApiError;
use crate::startup::AppState;

/// The limits of the CouchDB API, from the [`Config`].
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body (413 above).
    pub max_request_bytes: usize,
    /// Largest document, counting its JSON fields but not its attachments.
    pub max_document_bytes: usize,
    /// Largest attachment.
    pub max_attachment_bytes: usize,
    /// Most documents (or ids) in one `_bulk_docs`, `_bulk_get`, `_revs_diff` or `keys`.
    pub max_docs_per_request: usize,
    /// Most rows in one `_changes` answer; a client asking for more gets a page and `pending`.
    pub max_changes_limit: usize,
    /// Longest `_changes?feed=longpoll` wait.
    pub max_longpoll: std::time::Duration,
    /// The memory all request bodies in flight may take together.
    pub body_budget: crate::budget::BodyBudget,
}

impl Limits {
    /// The limits a configuration sets.
    pub fn from_config(config: &Config) -> Self {
        Limits {
            max_request_bytes: config.max_request_bytes,
            max_document_bytes: config.max_document_bytes,
            max_attachment_bytes: config.max_attachment_bytes,
            max_docs_per_request: config.max_docs_per_request,
            max_changes_limit: config.max_changes_limit,
            max_longpoll: std::time::Duration::from_secs(config.max_longpoll_secs),
            body_budget: crate::budget::BodyBudget::new(config.body_budget_bytes),
        }
    }
}

/// Responses that must reach the client as they are produced (longpoll heartbeats) carry this
/// marker so that compression does not hold them back.
#[derive(Clone, Copy)]
pub struct Unbuffered;

/// The CouchDB API under `/db` (its paths are written out rather than nested so that both
/// `/db` and `/db/` are the server root, as CouchDB clients expect).
pub fn router() -> Router<AppState> {
    // JSON compresses well and tablets sync over slow links; heartbeat streams stay unbuffered.
    let compression = CompressionLayer::new()
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(
            |_: StatusCode, _: Version, _: &HeaderMap, extensions: &Extensions| {
                extensions.get::<Unbuffered>().is_none()
            },
        ));
    Router::new()
        .route("/db", get(welcome))
        .route("/db/", get(welcome))
        .route("/db/_all_dbs", get(all_dbs))
        .route(
            "/db/{db}",
            get(db_info)
                .put(create_db)
                .delete(delete_db)
                .post(docs::post_doc),
        )
        // Stock PouchDB creates (`new PouchDB(url)`) and destroys (`db.destroy()`) with the
        // trailing slash; CouchDB takes both forms.
        .route(
            "/db/{db}/",
            get(db_info)
                .put(create_db)
                .delete(delete_db)
                .post(docs::post_doc),
        )
        .route(
            "/db/{db}/_changes",
            get(replication::changes_get).post(replication::changes_post),
        )
        .route("/db/{db}/_revs_diff", post(replication::revs_diff))
        .route("/db/{db}/_bulk_get", post(replication::bulk_get))
        .route("/db/{db}/_bulk_docs", post(replication::bulk_docs))
        .route(
            "/db/{db}/_all_docs",
            get(all_docs::all_docs_get).post(all_docs::all_docs_post),
        )
        .route("/db/{db}/_ensure_full_commit", post(ensure_full_commit))
        .route("/db/{db}/_compact", post(compact))
        .route(
            "/db/{db}/_local/{id}",
            get(local::get_local)
                .put(local::put_local)
                .delete(local::delete_local),
        )
        .route(
            "/db/{db}/_local/{id}/{*att}",
            axum::routing::any(local::local_attachment),
        )
        .route(
            "/db/{db}/_design/{ddoc}",
            get(docs::get_design)
                .put(docs::put_design)
                .delete(docs::delete_design),
        )
        .route(
            "/db/{db}/_design/{ddoc}/{*att}",
            get(docs::get_design_attachment)
                .put(docs::put_design_attachment)
                .delete(docs::delete_design_attachment),
        )
        .route(
            "/db/{db}/{docid}",
            get(docs::get_doc)
                .put(docs::put_doc)
                .delete(docs::delete_doc),
        )
        .route(
            "/db/{db}/{docid}/{*att}",
            get(docs::get_attachment)
                .put(docs::put_attachment)
                .delete(docs::delete_attachment),
        )
        .layer(compression)
}

/// The database `db` after checking that `principal` may `access` it: 403 before 404, so that
/// nobody learns which databases exist outside their regions.
pub fn open_db(
    state: &AppState,
    principal: &Principal,
    db: &str,
    access: Access,
) -> Result<SledStore, ApiError> {
    principal.authorize(db, access)?;
    state.databases.require(db)
}

/// `GET /db/`: CouchDB's welcome, which clients use to recognise a CouchDB.
async fn welcome() -> Json<Value> {
    Json(json!({
        "couchdb": "Welcome",
        "version": "3.3.3",
        "vendor": {"name": "chaski", "version": chaski_shared::VERSION},
        "features": [],
    }))
}

/// `GET /db/_all_dbs`: the databases this user may see.
async fn all_dbs(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state
            .databases
            .list()
            .into_iter()
            .filter(|db| principal.can_access(db))
            .collect(),
    ))
}

/// `GET /db/{db}`.
async fn db_info(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let info = store.info().await?;
    let mut body = serde_json::to_value(DbInfoResponse::new(db, &info))
        .map_err(|e| ApiError::Internal(format!("db info: {e}")))?;
    if let Value::Object(map) = &mut body {
        map.insert("purge_seq".into(), json!(0));
        map.insert("compact_running".into(), json!(false));
        map.insert("disk_format_version".into(), json!(8));
        map.insert("props".into(), json!({}));
    }
    Ok(Json(body).into_response())
}

/// `PUT /db/{db}`: administrators only; 412 when it exists.
async fn create_db(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let name = DbName::parse(&db)?;
    state.databases.create(&name).await?;
    tracing::info!(db = %name, by = %principal.name, "database created");
    let detail = "through CouchDB's API (PUT /db/{db})";
    state
        .admin
        .record(&principal, "db.create", name.as_str(), detail)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"ok": true}))).into_response())
}

/// `DELETE /db/{db}`: administrators only.
async fn delete_db(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    state.databases.delete(&db).await?;
    // Its office inbox index goes too (a new database of the same name starts a new one).
    state.office.forget(&db);
    tracing::warn!(db = %db, by = %principal.name, "database deleted");
    let detail = "through CouchDB's API (DELETE /db/{db})";
    state
        .admin
        .record(&principal, "db.delete", &db, detail)
        .await?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /db/{db}/_compact`: administrators only, as in CouchDB. Removes the bodies of
/// revisions that are no longer leaves (kept until now so that `GET ?rev=<older>` answers) and
/// attachment bytes nothing refers to any more. CouchDB answers 202 at once and compacts in
/// the background; this answers the same 202 once the compaction is done, so that a client
/// reading right after sees its effect.
async fn compact(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let store = open_db(&state, &principal, &db, Access::Write)?;
    // It walks every body with the writer lock held: a blocking thread, not an async worker.
    let (bodies, attachments) = tokio::task::spawn_blocking(move || store.compact())
        .await
        .map_err(|e| ApiError::Internal(format!("compaction task: {e}")))??;
    tracing::info!(db = %db, by = %principal.name, bodies, attachments, "database compacted");
    Ok((StatusCode::ACCEPTED, Json(json!({"ok": true}))).into_response())
}

/// `POST /db/{db}/_ensure_full_commit`: every write is flushed before it is acknowledged, so
/// this only flushes again. Answers the database's `instance_start_time`, which a replicator
/// compares with the one it read when it started to notice a database re-created meanwhile.
async fn ensure_full_commit(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Write)?;
    store.ensure_full_commit().await?;
    let answer = EnsureFullCommitResponse {
        ok: true,
        instance_start_time: store.instance_start_time().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}
