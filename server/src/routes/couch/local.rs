//! `_local` documents (`GET|PUT|DELETE /db/{db}/_local/{id}`): never replicated; replication
//! keeps its checkpoints in them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::{LocalDoc, LOCAL_PREFIX};
use chaski_shared::store::Store;
use chaski_shared::wire::PutResponse;
use serde_json::{json, Value};

use super::extract::{CouchJson, Params};
use super::open_db;
use crate::auth::{Access, Principal};
use crate::error::ApiError;
use crate::startup::AppState;

/// The `0-N` revision of a local write, from `?rev=`, `If-Match` or the body.
fn local_rev(params: &Params, headers: &HeaderMap) -> Option<String> {
    params.get("rev").map(str::to_owned).or_else(|| {
        headers
            .get(axum::http::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_owned())
    })
}

/// CouchDB's answer to an attachment on a `_local` document.
pub const NO_LOCAL_ATTACHMENTS: &str = "_local documents do not accept attachments.";

/// What a `_local` document keeps of its body: no attachments (refused with CouchDB's
/// reason), and no `_revisions` (a local document has no history to replicate); the `Err` is
/// the reason.
pub fn clean_local_body(body: &mut serde_json::Map<String, Value>) -> Result<(), String> {
    if body.get("_attachments").is_some_and(|a| !a.is_null()) {
        return Err(NO_LOCAL_ATTACHMENTS.into());
    }
    body.remove("_attachments");
    body.remove("_revisions");
    Ok(())
}

/// `/db/{db}/_local/{id}/{name}`: CouchDB's 400, whatever the method.
pub async fn local_attachment() -> ApiError {
    ApiError::BadRequest(NO_LOCAL_ATTACHMENTS.into())
}

pub async fn get_local(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let id = format!("{LOCAL_PREFIX}{name}");
    match store.get_local(&id).await? {
        Some(doc) => Ok(Json(doc.to_json()).into_response()),
        None => Err(chaski_shared::Error::missing().into()),
    }
}

pub async fn put_local(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, name)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Write)?;
    let id = format!("{LOCAL_PREFIX}{name}");
    let Value::Object(mut map) = body else {
        return Err(ApiError::BadRequest(
            "Document must be a JSON object".into(),
        ));
    };
    match map.get("_id") {
        Some(Value::String(body_id)) if *body_id != id => {
            return Err(ApiError::BadRequest(
                "Document id in the body does not match the URL".into(),
            ))
        }
        _ => {}
    }
    map.insert("_id".into(), Value::String(id.clone()));
    if !map.contains_key("_rev") {
        if let Some(rev) = local_rev(&params, &headers) {
            map.insert("_rev".into(), Value::String(rev));
        }
    }
    let mut doc = LocalDoc::from_json(Value::Object(map))?;
    clean_local_body(&mut doc.body).map_err(ApiError::BadRequest)?;
    let size = serde_json::to_vec(&doc.body).map(|v| v.len()).unwrap_or(0);
    if size > state.limits.max_document_bytes {
        return Err(ApiError::TooLarge(format!(
            "Local document {id} is {size} bytes; the limit is {} bytes",
            state.limits.max_document_bytes
        )));
    }
    let rev = store.put_local(doc).await?;
    Ok((StatusCode::CREATED, Json(PutResponse { ok: true, id, rev })).into_response())
}

pub async fn delete_local(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, name)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Write)?;
    let id = format!("{LOCAL_PREFIX}{name}");
    let rev = local_rev(&params, &headers);
    store.delete_local(&id, rev.as_deref()).await?;
    Ok(Json(json!({"ok": true, "id": id, "rev": "0-0"})).into_response())
}
