//! Single documents (`GET|PUT|DELETE /db/{db}/{docid}`, design documents included) and their
//! attachments (`GET|PUT|DELETE /db/{db}/{docid}/{name}`).

use std::hash::{BuildHasher, Hasher};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::{Attachment, DocId, Document, DESIGN_PREFIX};
use chaski_shared::store::{GetOptions, OpenRev, OpenRevs, Store};
use chaski_shared::wire::PutResponse;
use chaski_shared::RevId;
use serde_json::{json, Map, Value};

use super::extract::{read_body, rev_from_request, CouchJson, Params};
use super::{open_db, validate, Limits};
use crate::auth::{Access, Principal};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::startup::AppState;

fn parse_id(id: &str) -> Result<DocId, ApiError> {
    Ok(DocId::parse(id)?)
}

fn etag(rev: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{rev}\"")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A fresh document id for `POST /db/{db}` and `_bulk_docs` documents without `_id`: 128 bits
/// from the standard library's randomly keyed hasher (no extra dependency for a uuid).
pub fn new_doc_id() -> String {
    let mut out = String::with_capacity(32);
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}

/// Refuses a document over the size limits with a 413 naming it: its JSON fields (without
/// attachments) against the document limit, each inline attachment against the attachment limit.
pub fn check_limits(doc: &Document, limits: &Limits) -> Result<(), ApiError> {
    let size = serde_json::to_vec(&doc.body).map(|v| v.len()).unwrap_or(0);
    if size > limits.max_document_bytes {
        return Err(ApiError::TooLarge(format!(
            "Document {} is {size} bytes of JSON; the limit is {} bytes. Move large content \
             to an attachment.",
            doc.id, limits.max_document_bytes
        )));
    }
    for (name, att) in &doc.attachments {
        if att
            .data
            .as_ref()
            .is_some_and(|d| d.len() > limits.max_attachment_bytes)
        {
            return Err(ApiError::TooLarge(format!(
                "Attachment {name:?} of document {} is larger than the limit of {} bytes. \
                 Compress the photo on the device first.",
                doc.id, limits.max_attachment_bytes
            )));
        }
    }
    Ok(())
}

/// Writes one document with `new_edits` and answers CouchDB's `{"ok", "id", "rev"}`. Every
/// single-document write comes through here, so this is where the domain rules apply.
async fn write_one(
    store: &SledStore,
    principal: &Principal,
    doc: Document,
    new_edits: bool,
    status: StatusCode,
) -> Result<Response, ApiError> {
    validate::check_single(principal, store.name(), &doc)?;
    let id = doc.id.to_string();
    let mut results = store.bulk_docs(vec![doc], new_edits).await?;
    let result = results
        .pop()
        .ok_or_else(|| ApiError::Internal("bulk_docs returned no result".into()))?;
    if let Some(error) = result.error {
        return Err(error.into());
    }
    let rev = result.rev.map(|r| r.to_string()).unwrap_or_default();
    let mut response = (
        status,
        Json(PutResponse {
            ok: true,
            id: id.clone(),
            rev: rev.clone(),
        }),
    )
        .into_response();
    response.headers_mut().insert(ETAG, etag(&rev));
    if let Ok(location) = HeaderValue::from_str(&format!("{}/{}", store.name(), id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

// --- GET --------------------------------------------------------------------------------------

pub async fn get_doc(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_doc(&state, &principal, &db, &docid, &params, &headers).await
}

pub async fn get_design(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    read_doc(&state, &principal, &db, &id, &params, &headers).await
}

fn get_options(params: &Params) -> Result<GetOptions, ApiError> {
    let meta = params.flag("meta")?;
    Ok(GetOptions {
        rev: params.rev()?,
        revs: params.flag("revs")?,
        conflicts: params.flag("conflicts")? || meta,
        deleted_conflicts: params.flag("deleted_conflicts")? || meta,
        attachments: params.flag("attachments")?,
        atts_since: params.json::<Vec<RevId>>("atts_since")?.unwrap_or_default(),
        latest: params.flag("latest")?,
    })
}

async fn read_doc(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Read)?;
    let id = parse_id(docid)?;
    let mut opts = get_options(params)?;
    if let Some(open_revs) = params.get("open_revs") {
        let revs = if open_revs == "all" {
            OpenRevs::All
        } else {
            OpenRevs::Revs(params.json::<Vec<RevId>>("open_revs")?.unwrap_or_default())
        };
        // CouchDB answers multipart/mixed by default; every client we serve (PouchDB, the
        // shared HttpPeer) asks for JSON, so JSON is what everyone gets.
        let answers = store.open_revs(&id, &revs, &opts).await?;
        let body: Vec<Value> = answers
            .into_iter()
            .map(|a| match a {
                OpenRev::Ok(doc) => json!({"ok": doc}),
                OpenRev::Missing(rev) => json!({"missing": rev}),
            })
            .collect();
        return Ok(Json(body).into_response());
    }
    if opts.latest {
        // `latest` with a `rev` that is no longer a leaf reads the leaf that replaced it.
        if let Some(rev) = opts.rev.clone() {
            let answers = store
                .open_revs(&id, &OpenRevs::Revs(vec![rev]), &opts)
                .await?;
            if let Some(OpenRev::Ok(doc)) = answers.into_iter().next() {
                opts.rev = doc.rev;
            }
        }
    }
    let revs_info = params.flag("revs_info")? || params.flag("meta")?;
    if revs_info {
        opts.revs = true;
    }
    let wanted_revs = params.flag("revs")?;
    let doc = store.get(&id, &opts).await?;
    let rev = doc
        .rev
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let tag = etag(&rev);
    if headers.get(IF_NONE_MATCH) == Some(&tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response());
    }
    let mut body = doc.to_json();
    if let (true, Some(revisions), Value::Object(map)) = (revs_info, &doc.revisions, &mut body) {
        // Only leaf bodies are kept (as after CouchDB's compaction): older revisions are
        // known but `missing`.
        let info: Vec<Value> = revisions
            .rev_ids()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let status = match (i, doc.deleted) {
                    (0, true) => "deleted",
                    (0, false) => "available",
                    _ => "missing",
                };
                json!({"rev": r, "status": status})
            })
            .collect();
        map.insert("_revs_info".into(), Value::Array(info));
        if !wanted_revs {
            map.remove("_revisions");
        }
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(ETAG, tag);
    Ok(response)
}

// --- PUT / POST -------------------------------------------------------------------------------

pub async fn put_doc(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    write_doc(&state, &principal, &db, &docid, &params, &headers, body).await
}

pub async fn put_design(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    write_doc(&state, &principal, &db, &id, &params, &headers, body).await
}

/// `POST /db/{db}`: creates a document, with a fresh id when it has no `_id`.
pub async fn post_doc(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    CouchJson(mut body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Write)?;
    let Value::Object(map) = &mut body else {
        return Err(ApiError::BadRequest(
            "Document must be a JSON object".into(),
        ));
    };
    if !map.contains_key("_id") {
        map.insert("_id".into(), Value::String(new_doc_id()));
    }
    let doc = Document::from_json(body)?;
    check_limits(&doc, &state.limits)?;
    write_one(&store, &principal, doc, true, StatusCode::CREATED).await
}

async fn write_doc(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Write)?;
    let id = parse_id(docid)?;
    let mut doc = Document::from_json_with_id(body, &id)?;
    let new_edits = match params.get("new_edits") {
        None => true,
        Some(_) => params.flag("new_edits")?,
    };
    if let Some(rev) = rev_from_request(params, headers)? {
        match &doc.rev {
            Some(body_rev) if *body_rev != rev => {
                return Err(ApiError::BadRequest(
                    "Document rev from request body and query string have different values".into(),
                ))
            }
            _ => doc.rev = Some(rev),
        }
    }
    check_limits(&doc, &state.limits)?;
    write_one(&store, principal, doc, new_edits, StatusCode::CREATED).await
}

// --- DELETE -----------------------------------------------------------------------------------

pub async fn delete_doc(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    remove_doc(&state, &principal, &db, &docid, &params, &headers).await
}

pub async fn delete_design(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    remove_doc(&state, &principal, &db, &id, &params, &headers).await
}

async fn remove_doc(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Write)?;
    let id = parse_id(docid)?;
    let Some(rev) = rev_from_request(params, headers)? else {
        // CouchDB's answer to a delete that names no revision.
        return Err(chaski_shared::Error::Conflict(
            "Document update conflict: name the revision to delete with ?rev= or If-Match.".into(),
        )
        .into());
    };
    let mut doc = Document::new(id, Map::new());
    doc.rev = Some(rev);
    doc.deleted = true;
    write_one(&store, principal, doc, true, StatusCode::OK).await
}

// --- attachments ------------------------------------------------------------------------------

pub async fn get_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid, att)): Path<(String, String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    read_attachment(&state, &principal, &db, &docid, &att, &params).await
}

pub async fn get_design_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc, att)): Path<(String, String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    read_attachment(&state, &principal, &db, &id, &att, &params).await
}

async fn read_attachment(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    name: &str,
    params: &Params,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Read)?;
    let id = parse_id(docid)?;
    let rev = params.rev()?;
    let att = store.attachment(&id, name, rev.as_ref()).await?;
    let content_type = HeaderValue::from_str(&att.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let digest = att.digest.strip_prefix("md5-").unwrap_or(&att.digest);
    let mut response = Body::from(att.data.unwrap_or_default()).into_response();
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response.headers_mut().insert(ETAG, etag(digest));
    Ok(response)
}

pub async fn put_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid, att)): Path<(String, String, String)>,
    params: Params,
    request: Request,
) -> Result<Response, ApiError> {
    write_attachment(&state, &principal, &db, &docid, &att, &params, request).await
}

pub async fn put_design_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc, att)): Path<(String, String, String)>,
    params: Params,
    request: Request,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    write_attachment(&state, &principal, &db, &id, &att, &params, request).await
}

/// The document an attachment edit applies to: the revision named, or a new document when
/// none is named (CouchDB creates one holding only the attachment).
async fn doc_to_edit(
    store: &SledStore,
    id: &DocId,
    rev: Option<RevId>,
) -> Result<Document, ApiError> {
    match rev {
        Some(rev) => {
            let opts = GetOptions {
                rev: Some(rev.clone()),
                ..GetOptions::default()
            };
            match store.get(id, &opts).await {
                Ok(mut doc) => {
                    doc.rev = Some(rev);
                    // Editing an attachment of a tombstone brings the document back.
                    doc.deleted = false;
                    Ok(doc)
                }
                Err(chaski_shared::Error::NotFound(_)) => {
                    Err(chaski_shared::Error::conflict().into())
                }
                Err(e) => Err(e.into()),
            }
        }
        None => Ok(Document::new(id.clone(), Map::new())),
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_attachment(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    name: &str,
    params: &Params,
    request: Request,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Write)?;
    let id = parse_id(docid)?;
    if name.is_empty() || name.starts_with('_') {
        return Err(ApiError::BadRequest(
            "Attachment names must not be empty or start with an underscore".into(),
        ));
    }
    let rev = rev_from_request(params, request.headers())?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let data = read_body(
        request,
        &state.limits,
        state.limits.max_attachment_bytes,
        "attachment",
    )
    .await?;
    let mut doc = doc_to_edit(&store, &id, rev).await?;
    doc.attachments.insert(
        name.to_owned(),
        Attachment::inline(content_type, data.to_vec()),
    );
    write_one(&store, principal, doc, true, StatusCode::CREATED).await
}

pub async fn delete_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, docid, att)): Path<(String, String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    remove_attachment(&state, &principal, &db, &docid, &att, &params, &headers).await
}

pub async fn delete_design_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, ddoc, att)): Path<(String, String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = format!("{DESIGN_PREFIX}{ddoc}");
    remove_attachment(&state, &principal, &db, &id, &att, &params, &headers).await
}

async fn remove_attachment(
    state: &AppState,
    principal: &Principal,
    db: &str,
    docid: &str,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let store = open_db(state, principal, db, Access::Write)?;
    let id = parse_id(docid)?;
    let Some(rev) = rev_from_request(params, headers)? else {
        return Err(chaski_shared::Error::Conflict(
            "Document update conflict: name the revision with ?rev= or If-Match.".into(),
        )
        .into());
    };
    let mut doc = doc_to_edit(&store, &id, Some(rev)).await?;
    if doc.attachments.remove(name).is_none() {
        return Err(chaski_shared::Error::missing().into());
    }
    write_one(&store, principal, doc, true, StatusCode::OK).await
}
