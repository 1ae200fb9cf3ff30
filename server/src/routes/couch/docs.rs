//! Single documents (`GET|PUT|DELETE /db/{db}/{docid}`, design documents included) and their
//! attachments (`GET|PUT|DELETE /db/{db}/{docid}/{name}`).

use std::hash::{BuildHasher, Hasher};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::{Attachment, DocId, Document, DESIGN_PREFIX};
use chaski_shared::domain::inspection::{MAX_PHOTO_BYTES, MAX_SEALED_PHOTO_BYTES};
use chaski_shared::sealed::SEALED_CONTENT_TYPE;
use chaski_shared::store::{GetOptions, OpenRev, OpenRevs, Store};
use chaski_shared::wire::PutResponse;
use chaski_shared::RevId;
use serde_json::{json, Map, Value};

use super::extract::{read_body, rev_from_request, CouchJson, Params};
use super::{open_db, validate, Limits};
use crate::auth::{Access, Principal};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::regions;
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
/// Also refuses, with CouchDB's 400, an attachment name starting with `_` (CouchDB reserves
/// them), whichever way the attachment came.
pub fn check_limits(doc: &Document, limits: &Limits) -> Result<(), ApiError> {
    if let Some(name) = doc.attachments.keys().find(|n| n.starts_with('_')) {
        return Err(ApiError::BadRequest(format!(
            "Attachment name '{name}' starts with prohibited character '_'"
        )));
    }
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
/// single-document write comes through here, so this is where the domain rules apply. A body
/// sent by the client has its attachment stubs labelled from the store first
/// ([`validate::stored_stub_labels`], by the two handlers that take one); the attachment
/// routes build theirs from the stored revision ([`doc_to_edit`]), already labelled.
async fn write_one(
    store: &SledStore,
    principal: &Principal,
    doc: Document,
    new_edits: bool,
    status: StatusCode,
) -> Result<Response, ApiError> {
    validate::check_single(principal, store.name(), &doc, new_edits)?;
    let doc = if validate::needs_store_check(store.name(), &doc, new_edits) {
        // What the event points at is read on the blocking pool, never on this worker.
        let (db, checked) = (store.name().to_owned(), doc);
        let (checked, answer) = store
            .blocking(move |s| {
                let answer = validate::check_event_targets(s, &db, &[&checked], &[&checked])?;
                Ok((checked, answer))
            })
            .await?;
        if let Some(Err(rejection)) = answer.into_iter().next() {
            return Err(rejection.into_api_error());
        }
        checked
    } else {
        doc
    };
    let id = doc.id.to_string();
    let mut results = crate::custody::as_actor(
        crate::custody::Actor::of(principal),
        store.bulk_docs(vec![doc], new_edits),
    )
    .await?;
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
        // Earlier revisions keep their bodies until `_compact`: `available` while they do,
        // `missing` once compacted (or never received).
        let mut info = Vec::new();
        for (i, r) in revisions
            .rev_ids()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let status = match (i, doc.deleted) {
                (0, true) => "deleted",
                (0, false) => "available",
                _ => {
                    let (id, rev) = (id.clone(), r.clone());
                    if store.blocking(move |s| s.has_body(&id, &rev)).await? {
                        "available"
                    } else {
                        "missing"
                    }
                }
            };
            info.push(json!({"rev": r, "status": status}));
        }
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
    let mut doc = Document::from_json(body)?;
    check_limits(&doc, &state.limits)?;
    validate::stored_stub_labels(&store, std::slice::from_mut(&mut doc), true).await?;
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
    let new_edits = match params.get("new_edits") {
        None => true,
        Some(_) => params.flag("new_edits")?,
    };
    let mut body = body;
    if !new_edits {
        if let (Value::Object(map), Some(rev)) = (&mut body, rev_from_request(params, headers)?) {
            map.entry("_rev")
                .or_insert_with(|| Value::String(rev.to_string()));
        }
        super::replication::replicated_rev(&mut body).map_err(ApiError::BadRequest)?;
    }
    let mut doc = Document::from_json_with_id(body, &id)?;
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
    validate::stored_stub_labels(&store, std::slice::from_mut(&mut doc), new_edits).await?;
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
    let inline = is_inert_image(&att.content_type);
    let mut response = Body::from(att.data.unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(ETAG, etag(digest));
    // Attachments come from devices, and are served from the app's own origin: whatever one
    // holds must never run there with the reader's session. Browsers take the type as given
    // (nosniff), run nothing in it even when opened directly (sandbox: a unique origin, no
    // scripts), and save anything but a plain picture instead of showing it.
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    if !inline {
        let disposition = format!("attachment; filename*=UTF-8''{}", rfc5987(name));
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition)
                .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
        );
    }
    Ok(response)
}

/// Raster pictures that browsers show as pictures and never run: served inline (the office
/// shows photos). SVG is not among them: it can hold scripts.
fn is_inert_image(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
    ]
    .iter()
    .any(|m| mime.eq_ignore_ascii_case(m))
}

/// `name` for `filename*=UTF-8''…` (RFC 5987): every byte but letters, digits and `-._~`
/// percent-encoded, so that no name can break out of the header.
fn rfc5987(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
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
    if name.is_empty() {
        return Err(ApiError::BadRequest(
            "Attachment names must not be empty".into(),
        ));
    }
    if name.starts_with('_') {
        return Err(ApiError::BadRequest(format!(
            "Attachment name '{name}' starts with prohibited character '_'"
        )));
    }
    let rev = rev_from_request(params, request.headers())?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    // A region database keeps only photos, in clear (JPEG) or sealed on the device (the
    // domain checks the whole document below, the sealed envelope's shape included): a
    // program or a page is refused on its label, before its body is read, and a photo's body
    // is read no further than a photo may be long.
    let mut limit = state.limits.max_attachment_bytes;
    if regions::is_region_db(db) && !id.is_design() {
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        let most = if mime.eq_ignore_ascii_case("image/jpeg") {
            MAX_PHOTO_BYTES
        } else if mime.eq_ignore_ascii_case(SEALED_CONTENT_TYPE) {
            MAX_SEALED_PHOTO_BYTES
        } else {
            return Err(ApiError::BadRequest(format!(
                "_attachments.{name}: must be a JPEG image (image/jpeg), or a photo sealed on \
                 the device ({SEALED_CONTENT_TYPE}): region databases keep only photos, not \
                 {mime}."
            )));
        };
        limit = limit.min(usize::try_from(most).unwrap_or(usize::MAX));
    }
    let content_md5 = request
        .headers()
        .get("content-md5")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| ApiError::BadRequest("Content-MD5 must be base64 text".into()))?;
    let data = read_body(request, &state.limits, limit, "attachment").await?;
    let attachment = Attachment::inline(content_type, data.to_vec());
    // A client that sends Content-MD5 learns of bytes damaged on the way, as from CouchDB.
    if let Some(md5) = content_md5 {
        if attachment.digest != format!("md5-{}", md5.trim()) {
            return Err(ApiError::couch(
                StatusCode::BAD_REQUEST,
                "content_md5_mismatch",
                "Possible message corruption: the attachment's bytes do not match its \
                 Content-MD5; send it again.",
            ));
        }
    }
    let mut doc = doc_to_edit(&store, &id, rev).await?;
    doc.attachments.insert(name.to_owned(), attachment);
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
