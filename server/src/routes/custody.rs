//! The custody log's read API ([`crate::custody`]): `GET /api/log/checkpoint`, `/api/log/key`,
//! `/api/log/entries`, `/api/log/proof/inclusion`, `/api/log/proof/consistency`.
//!
//! Who may read: administrators (the national office), supervisors (the regional office) and
//! relay accounts (a national server checking a region's log). Inspectors may not: the entries
//! name users, devices and documents of every region. A court's expert gets a supervisor or
//! administrator account, or the data folder and `chaski custody verify`.

use axum::extract::{FromRequest, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Principal, Role};
use crate::custody::{checkpoint, merkle};
use crate::error::ApiError;
use crate::startup::AppState;

/// The most entries one `GET /api/log/entries` returns.
pub const MAX_ENTRIES: u64 = 1_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/log/checkpoint", get(checkpoint_now))
        .route("/log/key", get(key))
        .route("/log/entries", get(entries))
        .route("/log/proof/inclusion", get(inclusion))
        .route("/log/proof/consistency", get(consistency))
        .route("/log/witness", get(witnessed).post(witness))
}

/// `POST /api/log/witness` (a region's relay account, or an administrator): a region's
/// checkpoint, with a consistency proof from the last one held here
/// ([`crate::custody::witness`]). 200 with the region's status (`flagged` set when the new
/// checkpoint does not extend the last); 409 `proof_needed` with `from` when the proof is
/// missing or from another size; 400 for a note that does not verify.
async fn witness(
    State(state): State<AppState>,
    principal: Principal,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Relay) {
        return Err(ApiError::Forbidden(
            "Only a region's relay account or an administrator may post checkpoints.".into(),
        ));
    }
    // Read only once the caller may post (within the router's body limit).
    let body = axum::body::Bytes::from_request(request, &state)
        .await
        .map_err(|e| {
            let reason = format!("cannot read the body: {}", e.body_text());
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(reason)
            } else {
                ApiError::BadRequest(reason)
            }
        })?;
    let sub: crate::custody::witness::Submission = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("expected {{checkpoint, key, from, proof}}: {e}"))
    })?;
    let storage = state.storage.clone();
    let outcome = blocking(move || {
        let tree = witness_tree(&storage)?;
        Ok(crate::custody::witness::submit(&tree, &sub))
    })
    .await?;
    state.storage.flush().await.map_err(store_err)?;
    match outcome {
        Ok(status) => Ok(Json(status).into_response()),
        Err(crate::custody::witness::Refusal::Bad(reason)) => Err(ApiError::BadRequest(reason)),
        Err(crate::custody::witness::Refusal::NeedProof(from)) => Ok((
            axum::http::StatusCode::CONFLICT,
            Json(json!({
                "error": "proof_needed",
                "reason": format!("send a consistency proof from size {from} to this checkpoint"),
                "from": from,
            })),
        )
            .into_response()),
    }
}

/// `GET /api/log/witness`: every region's last checkpoint size here and whether it is flagged.
async fn witnessed(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<crate::custody::witness::Status>>, ApiError> {
    may_read(&principal)?;
    let storage = state.storage.clone();
    blocking(move || crate::custody::witness::statuses(&witness_tree(&storage)?).map_err(store_err))
        .await
        .map(Json)
}

/// The witness tree (`open_tree` is a sled call: on the blocking pool only).
fn witness_tree(storage: &crate::storage::Storage) -> Result<sled::Tree, ApiError> {
    storage
        .sled()
        .open_tree(crate::custody::witness::TREE)
        .map_err(store_err)
}

fn may_read(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Admin | Role::Supervisor | Role::Relay => Ok(()),
        Role::Inspector => Err(ApiError::Forbidden(format!(
            "The custody log is for supervisors and administrators; {} is an inspector.",
            principal.name
        ))),
    }
}

fn store_err(e: sled::Error) -> ApiError {
    ApiError::Internal(format!("custody log: {e}"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("custody task: {e}")))?
}

/// The log's checkpoint as it stands (signed now if the log grew since the last one).
async fn checkpoint_now(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    may_read(&principal)?;
    let (trees, key) = (state.custody.trees.clone(), state.custody_key.clone());
    let note = blocking(move || checkpoint::current(&trees, &key).map_err(store_err)).await?;
    state.storage.flush().await.map_err(store_err)?;
    Ok(([("content-type", "text/plain; charset=utf-8")], note).into_response())
}

/// The verifier key (`<name>+<key id>+<base64(0x01 ‖ public key)>`).
async fn key(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    may_read(&principal)?;
    Ok((
        [("content-type", "text/plain; charset=utf-8")],
        format!("{}\n", state.custody_key.verifier()),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Range {
    start: Option<String>,
    end: Option<String>,
}

fn number(name: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    value
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!("{name} must be a whole number ≥ 0, not {v:?}"))
            })
        })
        .transpose()
}

/// Entries `start..end` (end exclusive; at most [`MAX_ENTRIES`]), each with its index, leaf
/// hash (base64) and the entry itself (its exact bytes, as a JSON string, and parsed).
async fn entries(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<Range>,
) -> Result<Json<Value>, ApiError> {
    may_read(&principal)?;
    let trees = state.custody.trees.clone();
    let start = number("start", q.start.as_deref())?.unwrap_or(0);
    let end = number("end", q.end.as_deref())?;
    blocking(move || {
        let size = trees.range().map_err(store_err)?.size;
        let end = end.unwrap_or(size.min(start.saturating_add(MAX_ENTRIES)));
        if start > end {
            return Err(ApiError::BadRequest(format!(
                "start ({start}) is after end ({end})"
            )));
        }
        if end > size {
            return Err(ApiError::BadRequest(format!(
                "end ({end}) is past the log's size ({size})"
            )));
        }
        if end - start > MAX_ENTRIES {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_ENTRIES} entries per request"
            )));
        }
        let mut rows = Vec::new();
        for index in start..end {
            let Some((leaf, bytes)) = trees.entry(index).map_err(store_err)? else {
                return Err(ApiError::Internal(format!("custody entry {index} missing")));
            };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            rows.push(json!({
                "index": index,
                "leaf_hash": B64.encode(leaf),
                "entry": serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                "bytes": text,
            }));
        }
        Ok(Json(
            json!({"size": size, "start": start, "end": end, "entries": rows}),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct InclusionQuery {
    db: Option<String>,
    id: Option<String>,
    rev: Option<String>,
    index: Option<String>,
    tree_size: Option<String>,
}

/// The audit path of an entry (by `index`, or a revision by `db`, `id`, `rev`) in the tree of
/// `tree_size` entries (default: the whole log).
async fn inclusion(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    may_read(&principal)?;
    let trees = state.custody.trees.clone();
    let index = number("index", q.index.as_deref())?;
    let tree_size = number("tree_size", q.tree_size.as_deref())?;
    blocking(move || {
        let index = match (index, &q.db, &q.id, &q.rev) {
            (Some(i), None, None, None) => i,
            (None, Some(db), Some(id), Some(rev)) => trees
                .index_of(db, id, rev)
                .map_err(store_err)?
                .ok_or_else(|| {
                    ApiError::NotFound(format!("no log entry for {db}/{id} revision {rev}"))
                })?,
            _ => {
                return Err(ApiError::BadRequest(
                    "give either index, or db, id and rev".into(),
                ))
            }
        };
        let size = trees.range().map_err(store_err)?.size;
        let tree_size = tree_size.unwrap_or(size);
        if tree_size > size || index >= tree_size {
            return Err(ApiError::BadRequest(format!(
                "entry {index} is not in a tree of {tree_size} (the log has {size})"
            )));
        }
        let leaves = trees.leaf_hashes(tree_size).map_err(store_err)?;
        let path = merkle::inclusion_proof(index as usize, &leaves);
        Ok(Json(json!({
            "index": index,
            "tree_size": tree_size,
            "leaf_hash": B64.encode(leaves[index as usize]),
            "root": B64.encode(merkle::root(&leaves)),
            "path": path.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        })))
    })
    .await
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    first: Option<String>,
    second: Option<String>,
}

/// The consistency proof between the trees of `first` and `second` entries.
async fn consistency(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    may_read(&principal)?;
    let trees = state.custody.trees.clone();
    let first = number("first", q.first.as_deref())?
        .ok_or_else(|| ApiError::BadRequest("first (a tree size) is required".into()))?;
    let second = number("second", q.second.as_deref())?;
    blocking(move || {
        let size = trees.range().map_err(store_err)?.size;
        let second = second.unwrap_or(size);
        if first == 0 || first > second || second > size {
            return Err(ApiError::BadRequest(format!(
                "need 0 < first ≤ second ≤ {size} (the log's size); got first {first}, second {second}"
            )));
        }
        let leaves = trees.leaf_hashes(second).map_err(store_err)?;
        let proof = merkle::consistency_proof(first as usize, &leaves);
        Ok(Json(json!({
            "first": first,
            "second": second,
            "first_root": B64.encode(merkle::root(&leaves[..first as usize])),
            "second_root": B64.encode(merkle::root(&leaves)),
            "proof": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        })))
    })
    .await
}
