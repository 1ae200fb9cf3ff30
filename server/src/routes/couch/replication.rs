//! The replication endpoints: `_changes` (normal and longpoll), `_revs_diff`, `_bulk_get` and
//! `_bulk_docs`, answered with the shared `wire` types.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::{DocId, Document};
use chaski_shared::store::{
    ChangesOptions, ChangesStyle, DocResult, GetOptions, OpenRev, OpenRevs, RevsDiffRequest, Store,
};
use chaski_shared::wire::{
    BulkGetDoc, BulkGetError, BulkGetRequest, BulkGetResponse, BulkGetResult, ChangesResponse,
};
use chaski_shared::Error;
use serde_json::Value;

use super::docs::{check_limits, new_doc_id};
use super::extract::{from_value, CouchJson, OptionalCouchJson, Params};
use super::{open_db, validate, Limits};
use crate::auth::{Access, Principal};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::startup::AppState;

// --- _changes ---------------------------------------------------------------------------------

/// CouchDB's longpoll wait when the client names no timeout.
const DEFAULT_LONGPOLL: Duration = Duration::from_secs(60);

enum Feed {
    Normal,
    Longpoll {
        timeout: Duration,
        heartbeat: Option<Duration>,
    },
}

struct ChangesQuery {
    opts: ChangesOptions,
    feed: Feed,
}

fn parse_since(store: &SledStore, since: Option<&str>) -> Result<u64, ApiError> {
    match since {
        None => Ok(0),
        Some("now") => Ok(store.update_seq()),
        Some(text) => {
            // Our sequences are integers; a CouchDB-style `"12-g1AAA"` keeps its leading number.
            let digits = text.split('-').next().unwrap_or("");
            digits.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "since must be a sequence number or now, not {text:?}"
                ))
            })
        }
    }
}

fn changes_query(
    store: &SledStore,
    params: &Params,
    limits: &Limits,
    body_doc_ids: Option<Vec<String>>,
) -> Result<ChangesQuery, ApiError> {
    let style = match params.get("style") {
        None | Some("main_only") => ChangesStyle::MainOnly,
        Some("all_docs") => ChangesStyle::AllDocs,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "style must be main_only or all_docs, not {other:?}"
            )))
        }
    };
    let doc_ids = match (params.get("filter"), body_doc_ids) {
        (Some("_doc_ids") | None, Some(ids)) => Some(ids),
        (Some("_doc_ids"), None) => match params.json::<Vec<String>>("doc_ids")? {
            Some(ids) => Some(ids),
            None => {
                return Err(ApiError::BadRequest(
                    "filter=_doc_ids needs doc_ids, in the body or the query".into(),
                ))
            }
        },
        (None, None) => None,
        (Some(other), _) => {
            return Err(ApiError::BadRequest(format!(
                "Only the _doc_ids filter is supported, not {other:?}"
            )))
        }
    };
    if doc_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > limits.max_docs_per_request)
    {
        return Err(ApiError::TooLarge(format!(
            "At most {} doc_ids per request",
            limits.max_docs_per_request
        )));
    }
    // The cap keeps every answer bounded; a client asking for more gets a page and `pending`.
    let limit = params
        .number("limit")?
        .map_or(limits.max_changes_limit, |l| {
            (l as usize).min(limits.max_changes_limit)
        });
    let feed = match params.get("feed") {
        None | Some("normal") => Feed::Normal,
        Some("longpoll") => {
            let asked = params
                .number("timeout")?
                .map_or(DEFAULT_LONGPOLL, Duration::from_millis);
            let heartbeat = match params.get("heartbeat") {
                None | Some("false") => None,
                Some("true") => Some(Duration::from_secs(60)),
                Some(_) => params
                    .number("heartbeat")?
                    .map(|ms| Duration::from_millis(ms.max(100))),
            };
            Feed::Longpoll {
                timeout: asked.min(limits.max_longpoll),
                heartbeat,
            }
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "feed={other} is not supported; use feed=normal or feed=longpoll"
            )))
        }
    };
    Ok(ChangesQuery {
        opts: ChangesOptions {
            since: parse_since(store, params.get("since"))?,
            limit: Some(limit),
            style,
            doc_ids: doc_ids.map(|ids| ids.into_iter().collect::<BTreeSet<String>>()),
            include_docs: params.flag("include_docs")?,
            conflicts: params.flag("conflicts")?,
        },
        feed,
    })
}

pub async fn changes_get(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let query = changes_query(&store, &params, &state.limits, None)?;
    answer_changes(store, query).await
}

pub async fn changes_post(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    params: Params,
    OptionalCouchJson(body): OptionalCouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let doc_ids = match body {
        Some(Value::Object(mut map)) => match map.remove("doc_ids") {
            Some(ids) => Some(from_value::<Vec<String>>(ids, "doc_ids")?),
            None => None,
        },
        Some(_) => {
            return Err(ApiError::BadRequest(
                "The body must be a JSON object".into(),
            ))
        }
        None => None,
    };
    let query = changes_query(&store, &params, &state.limits, doc_ids)?;
    answer_changes(store, query).await
}

/// Reads the feed; with longpoll and nothing new, waits for a durable write (or the timeout)
/// and reads again.
async fn collect_changes(
    store: &SledStore,
    opts: &ChangesOptions,
    wait: Option<Duration>,
) -> Result<ChangesResponse, ApiError> {
    // Subscribe before reading so that a write between the read and the wait is not missed.
    let mut updates = store.subscribe();
    let changes = store.changes(opts).await?;
    let Some(wait) = wait else {
        return Ok(changes.into());
    };
    if !changes.results.is_empty() {
        return Ok(changes.into());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, updates.changed()).await {
            // Timed out, or the database is gone: an empty page, as CouchDB answers.
            Err(_) | Ok(Err(_)) => return Ok(changes.into()),
            Ok(Ok(())) => {
                let again = store.changes(opts).await?;
                if !again.results.is_empty() {
                    return Ok(again.into());
                }
            }
        }
    }
}

fn json_bytes(response: &ChangesResponse) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(response).map_err(|e| ApiError::Internal(format!("changes: {e}")))
}

async fn answer_changes(store: SledStore, query: ChangesQuery) -> Result<Response, ApiError> {
    match query.feed {
        Feed::Normal => Ok(Json(collect_changes(&store, &query.opts, None).await?).into_response()),
        Feed::Longpoll {
            timeout,
            heartbeat: None,
        } => Ok(Json(collect_changes(&store, &query.opts, Some(timeout)).await?).into_response()),
        Feed::Longpoll {
            timeout,
            heartbeat: Some(every),
        } => {
            // Newlines while waiting keep proxies and clients from timing out the request;
            // JSON allows the leading whitespace.
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            tokio::spawn(async move {
                let work = collect_changes(&store, &query.opts, Some(timeout));
                tokio::pin!(work);
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await;
                let answer = loop {
                    tokio::select! {
                        result = &mut work => break result,
                        _ = ticks.tick() => {
                            if tx.send(Bytes::from_static(b"\n")).await.is_err() {
                                return; // the client went away
                            }
                        }
                    }
                };
                let bytes = match answer.and_then(|r| json_bytes(&r)) {
                    Ok(bytes) => bytes,
                    Err(err) => {
                        tracing::error!(%err, "longpoll changes failed after the answer started");
                        br#"{"error":"internal_server_error","reason":"The changes feed failed; retry."}"#.to_vec()
                    }
                };
                let _ = tx.send(Bytes::from(bytes)).await;
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
            });
            let mut response = (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response();
            response.extensions_mut().insert(super::Unbuffered);
            Ok(response)
        }
    }
}

// --- _revs_diff -------------------------------------------------------------------------------

pub async fn revs_diff(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    // Ids are counted as well as revisions: an id with no revision costs the server a lookup.
    let ids = body.as_object().map_or(0, serde_json::Map::len);
    if ids > state.limits.max_docs_per_request {
        return Err(ApiError::TooLarge(format!(
            "At most {} document ids per _revs_diff request; this one has {ids}",
            state.limits.max_docs_per_request
        )));
    }
    let request: RevsDiffRequest =
        from_value(body, "_revs_diff expects {\"doc id\": [\"revision\", …]}")?;
    let revs: usize = request.values().map(Vec::len).sum();
    if revs > state.limits.max_docs_per_request {
        return Err(ApiError::TooLarge(format!(
            "At most {} revisions per _revs_diff request; this one has {revs}",
            state.limits.max_docs_per_request
        )));
    }
    Ok(Json(store.revs_diff(&request).await?).into_response())
}

// --- _bulk_get --------------------------------------------------------------------------------

fn bulk_get_error(id: &str, rev: Option<String>, error: &Error) -> BulkGetDoc {
    BulkGetDoc::Error(BulkGetError {
        id: id.to_owned(),
        rev,
        error: error.error_name().to_owned(),
        reason: error.reason().to_owned(),
    })
}

pub async fn bulk_get(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    params: Params,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let request: BulkGetRequest = from_value(
        body,
        "_bulk_get expects {\"docs\": [{\"id\": …, \"rev\": …}, …]}",
    )?;
    if request.docs.len() > state.limits.max_docs_per_request {
        return Err(ApiError::TooLarge(format!(
            "At most {} documents per _bulk_get request; this one asks for {}",
            state.limits.max_docs_per_request,
            request.docs.len()
        )));
    }
    let revs = params.flag("revs")?;
    let latest = params.flag("latest")?;
    let attachments = params.flag("attachments")?;
    let mut results = Vec::with_capacity(request.docs.len());
    for wanted in request.docs {
        let rev_text = wanted.rev.as_ref().map(ToString::to_string);
        let docs = match DocId::parse(wanted.id.as_str()) {
            Err(e) => vec![bulk_get_error(&wanted.id, rev_text, &e)],
            Ok(id) => {
                let opts = GetOptions {
                    revs,
                    attachments,
                    atts_since: wanted.atts_since.clone(),
                    latest,
                    ..GetOptions::default()
                };
                let which = match &wanted.rev {
                    Some(rev) => OpenRevs::Revs(vec![rev.clone()]),
                    None => OpenRevs::All,
                };
                match store.open_revs(&id, &which, &opts).await {
                    Ok(found) => found
                        .into_iter()
                        .map(|answer| match answer {
                            OpenRev::Ok(doc) => BulkGetDoc::Ok(doc),
                            OpenRev::Missing(rev) => {
                                bulk_get_error(&wanted.id, Some(rev.to_string()), &Error::missing())
                            }
                        })
                        .collect(),
                    // A store fault fails the request (so the replicator retries it) rather
                    // than passing for a missing revision.
                    Err(Error::Internal(detail)) => return Err(ApiError::Internal(detail)),
                    Err(e) => vec![bulk_get_error(&wanted.id, rev_text, &e)],
                }
            }
        };
        results.push(BulkGetResult {
            id: wanted.id,
            docs,
        });
    }
    Ok(Json(BulkGetResponse { results }).into_response())
}

// --- _bulk_docs -------------------------------------------------------------------------------

pub async fn bulk_docs(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Write)?;
    let Value::Object(mut body) = body else {
        return Err(ApiError::BadRequest(
            "_bulk_docs expects {\"docs\": [...], \"new_edits\": true|false}".into(),
        ));
    };
    let new_edits = match body.remove("new_edits") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(ApiError::BadRequest("new_edits must be a boolean".into())),
    };
    let Some(Value::Array(raw)) = body.remove("docs") else {
        return Err(ApiError::BadRequest(
            "_bulk_docs expects a docs array: {\"docs\": [...]}".into(),
        ));
    };
    if raw.len() > state.limits.max_docs_per_request {
        return Err(ApiError::TooLarge(format!(
            "At most {} documents per _bulk_docs request; this one has {}. Send smaller batches.",
            state.limits.max_docs_per_request,
            raw.len()
        )));
    }
    // Every document is parsed and checked before any is written, so a malformed request
    // writes nothing. A document the domain rules reject is not malformed: it gets its own
    // `forbidden` result in its place and the others are written (see `validate`).
    let mut docs = Vec::with_capacity(raw.len());
    let mut rejected: Vec<Option<DocResult>> = Vec::with_capacity(raw.len());
    for (i, mut value) in raw.into_iter().enumerate() {
        if let (true, Value::Object(map)) = (new_edits, &mut value) {
            if !map.contains_key("_id") {
                map.insert("_id".into(), Value::String(new_doc_id()));
            }
        }
        let doc = Document::from_json(value).map_err(|e| {
            ApiError::couch(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.error_name(),
                format!("docs[{i}]: {}", e.reason()),
            )
        })?;
        check_limits(&doc, &state.limits)?;
        match validate::check_in_batch(&principal, &db, &doc) {
            Some(rejection) => rejected.push(Some(rejection)),
            None => {
                rejected.push(None);
                docs.push(doc);
            }
        }
    }
    let written = store.bulk_docs(docs, new_edits).await?;
    Ok((
        StatusCode::CREATED,
        Json(in_request_order(rejected, written)?),
    )
        .into_response())
}

/// The results in the order of the request's documents: each rejected one in its place, the
/// store's results (one per written document, in order) filling the gaps.
fn in_request_order(
    rejected: Vec<Option<DocResult>>,
    written: Vec<DocResult>,
) -> Result<Vec<DocResult>, ApiError> {
    let mut written = written.into_iter();
    rejected
        .into_iter()
        .map(|slot| {
            slot.or_else(|| written.next()).ok_or_else(|| {
                ApiError::Internal("bulk_docs returned fewer results than documents".into())
            })
        })
        .collect()
}
