//! The replication endpoints: `_changes` (normal and longpoll), `_revs_diff`, `_bulk_get` and
//! `_bulk_docs`, answered with the shared `wire` types.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::{DocId, Document, LocalDoc, LOCAL_PREFIX};
use chaski_shared::store::{
    Changes, ChangesOptions, ChangesStyle, DocResult, GetOptions, OpenRev, OpenRevs,
    RevsDiffRequest, Store,
};
use chaski_shared::wire::{
    BulkGetDoc, BulkGetError, BulkGetRequest, BulkGetResponse, BulkGetResult, ChangesResponse,
};
use chaski_shared::Error;
use serde_json::{json, Value};

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
    /// Newest first (`descending=true`).
    descending: bool,
    /// Inline attachment bytes in the included documents (`attachments=true`).
    attachments: bool,
}

fn parse_since(store: &SledStore, since: Option<&str>) -> Result<u64, ApiError> {
    match since {
        None => Ok(0),
        Some("now") => Ok(store.update_seq()),
        Some(text) => {
            // Clients treat sequences as opaque: they send back what they were given, bare or as
            // a JSON string (`"12"`). Ours are integers; a CouchDB-style `12-g1AAA` keeps its
            // leading number.
            let text = text.trim();
            let unquoted = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            let digits = unquoted.split('-').next().unwrap_or("");
            digits.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "Malformed sequence supplied in 'since' parameter: {text:?}; send back a \
                     last_seq this server gave, 0 or now"
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
        // A design document's filter, or a view as a filter, would run the database's
        // JavaScript, which Chaski does not: CouchDB's answer for a filter it cannot find, so
        // that clients take their documented path (PouchDB reports the error and stops).
        (Some(filter), _) if filter == "_view" || filter.contains('/') => {
            return Err(ApiError::NotFound(format!(
                "missing: Chaski runs no design-document filters or views, so filter={filter} \
                 is not available; replicate without it or with filter=_doc_ids"
            )))
        }
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
    // Every row carries its sequence; `seq_interval` only lets a server leave some out, so it is
    // accepted (and checked) and has nothing to do.
    params.number("seq_interval")?;
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
        descending: params.flag("descending")?,
        attachments: params.flag("attachments")?,
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
    answer_changes(store, query, state.stopping.clone()).await
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
    answer_changes(store, query, state.stopping.clone()).await
}

/// Reads the feed; with longpoll and nothing new, waits for a durable write (or the timeout,
/// or the server stopping: a graceful stop must not wait out every longpoll) and reads again.
async fn collect_changes(
    store: &SledStore,
    query: &ChangesQuery,
    wait: Option<Duration>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<ChangesResponse, ApiError> {
    // Subscribe before reading so that a write between the read and the wait is not missed.
    let mut updates = store.subscribe();
    let changes = read_changes(store, query).await?;
    let Some(wait) = wait else {
        return Ok(changes.into());
    };
    if !changes.results.is_empty() {
        return Ok(changes.into());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let changed = tokio::select! {
            changed = tokio::time::timeout_at(deadline, updates.changed()) => changed,
            () = stopped(&mut stopping) => return Ok(changes.into()),
        };
        match changed {
            // Timed out, or the database is gone: an empty page, as CouchDB answers.
            Err(_) | Ok(Err(_)) => return Ok(changes.into()),
            Ok(Ok(())) => {
                let again = read_changes(store, query).await?;
                if !again.results.is_empty() {
                    return Ok(again.into());
                }
            }
        }
    }
}

/// Completes once the server is told to stop; never if nobody can tell it (a router driven
/// without a running server).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    if stopping.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One page of the feed, in the asked order, with attachment bytes when asked.
async fn read_changes(store: &SledStore, query: &ChangesQuery) -> Result<Changes, ApiError> {
    let mut changes = if query.descending {
        let opts = query.opts.clone();
        store
            .blocking(move |store| store.changes_descending(&opts))
            .await?
    } else {
        store.changes(&query.opts).await?
    };
    if query.attachments {
        for row in &mut changes.results {
            let Some(doc) = &row.doc else { continue };
            if doc.attachments.is_empty() {
                continue;
            }
            let opts = GetOptions {
                rev: doc.rev.clone(),
                attachments: true,
                conflicts: query.opts.conflicts,
                ..GetOptions::default()
            };
            row.doc = Some(store.get(&row.id, &opts).await?);
        }
    }
    Ok(changes)
}

fn json_bytes(response: &ChangesResponse) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(response).map_err(|e| ApiError::Internal(format!("changes: {e}")))
}

async fn answer_changes(
    store: SledStore,
    query: ChangesQuery,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<Response, ApiError> {
    match query.feed {
        Feed::Normal => {
            Ok(Json(collect_changes(&store, &query, None, stopping).await?).into_response())
        }
        Feed::Longpoll {
            timeout,
            heartbeat: None,
        } => Ok(
            Json(collect_changes(&store, &query, Some(timeout), stopping).await?).into_response(),
        ),
        Feed::Longpoll {
            timeout,
            heartbeat: Some(every),
        } => {
            // Newlines while waiting keep proxies and clients from timing out the request;
            // JSON allows the leading whitespace.
            let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(4);
            tokio::spawn(async move {
                let work = collect_changes(&store, &query, Some(timeout), stopping);
                tokio::pin!(work);
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await;
                let answer = loop {
                    tokio::select! {
                        result = &mut work => break result,
                        _ = ticks.tick() => {
                            if tx.send(Piece::Heartbeat).await.is_err() {
                                return; // the client went away
                            }
                        }
                    }
                };
                let piece = match answer.and_then(|r| json_bytes(&r)) {
                    Ok(bytes) => Piece::Answer(Bytes::from(bytes)),
                    Err(err) => {
                        tracing::error!(%err, "longpoll changes failed after the answer started");
                        Piece::Failed
                    }
                };
                let _ = tx.send(piece).await;
            });
            let stream = heartbeat_body(rx);
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

/// What the longpoll task sends the response body.
enum Piece {
    /// A newline while waiting.
    Heartbeat,
    /// The whole changes answer, the last piece.
    Answer(Bytes),
    /// The feed failed after the 200 and its heartbeats were sent.
    Failed,
}

/// The body of a longpoll answer with heartbeats. The status is sent before the answer is
/// known, so a failure can no longer be a 500: the body then ends with an error, which makes
/// hyper abort the connection instead of ending the chunked body cleanly. A client sees a
/// broken answer and retries; it never takes a short or empty one for the feed. The same holds
/// when the task ends without its answer (it panicked).
fn heartbeat_body(
    rx: tokio::sync::mpsc::Receiver<Piece>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    // Fused: a layer that polls the body again after its end must see the end again, not a
    // panic.
    let body = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let failed = || std::io::Error::other("the changes feed failed after its answer started");
        match rx.recv().await {
            Some(Piece::Heartbeat) => Some((Ok(Bytes::from_static(b"\n")), Some(rx))),
            Some(Piece::Answer(bytes)) => Some((Ok(bytes), None)),
            Some(Piece::Failed) | None => Some((Err(failed()), None)),
        }
    });
    futures::StreamExt::fuse(body)
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
    // Every document of the request is read in one trip to the blocking pool, not one trip
    // (a thread hand-off each way) per document.
    let asked: Vec<_> = request
        .docs
        .iter()
        .map(|wanted| {
            let id = DocId::parse(wanted.id.as_str());
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
            (id, which, opts)
        })
        .collect();
    let found = store
        .blocking(move |store| {
            Ok(asked
                .into_iter()
                .map(|(id, which, opts)| id.map(|id| store.open_revs_now(&id, &which, &opts)))
                .collect::<Vec<_>>())
        })
        .await?;
    let mut results = Vec::with_capacity(request.docs.len());
    for (wanted, found) in request.docs.into_iter().zip(found) {
        let rev_text = wanted.rev.as_ref().map(ToString::to_string);
        let docs = match found {
            Err(e) => vec![bulk_get_error(&wanted.id, rev_text, &e)],
            Ok(found) => match found {
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
            },
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
    // `forbidden` result in its place and the others are written (see `validate`). `_local/`
    // documents are written to their own tree, as CouchDB does, each with its own result.
    let mut parsed = Vec::with_capacity(raw.len());
    let mut slots: Vec<Slot> = Vec::with_capacity(raw.len());
    for (i, mut value) in raw.into_iter().enumerate() {
        if is_local(&value) {
            slots.push(Slot::Local(local_doc(value, i)?));
            continue;
        }
        if let (true, Value::Object(map)) = (new_edits, &mut value) {
            if !map.contains_key("_id") {
                map.insert("_id".into(), Value::String(new_doc_id()));
            }
        }
        if !new_edits {
            replicated_rev(&mut value)
                .map_err(|reason| ApiError::BadRequest(format!("docs[{i}]: {reason}")))?;
        }
        let doc = Document::from_json(value).map_err(|e| {
            ApiError::couch(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.error_name(),
                format!("docs[{i}]: {}", e.reason()),
            )
        })?;
        check_limits(&doc, &state.limits)?;
        slots.push(Slot::Written);
        parsed.push(doc);
    }
    // The batch's stubs get their stored labels in one read, then each document is judged.
    validate::stored_stub_labels(&store, &mut parsed, new_edits).await?;
    let mut docs = Vec::with_capacity(parsed.len());
    // One parsed document per `Written` slot, in order.
    let written_slots = slots.iter_mut().filter(|s| matches!(s, Slot::Written));
    for (slot, doc) in written_slots.zip(parsed) {
        match validate::check_in_batch(&principal, &db, &doc, new_edits) {
            Some(rejection) => *slot = Slot::Refused(rejection),
            None => docs.push(doc),
        }
    }
    let docs = check_event_targets(&store, &db, docs, &mut slots, new_edits).await?;
    let docs = check_relay_events(&store, &principal, docs, &mut slots).await?;
    let written = crate::custody::as_actor(
        crate::custody::Actor::of(&principal),
        store.bulk_docs(docs, new_edits),
    )
    .await?;
    let mut written = written.into_iter();
    let mut results = Vec::with_capacity(slots.len());
    for slot in slots {
        let result = match slot {
            Slot::Refused(result) => result,
            Slot::Written => written.next().ok_or_else(|| {
                ApiError::Internal("bulk_docs returned fewer results than documents".into())
            })?,
            Slot::Local(doc) => {
                results.push(write_local_in_batch(&store, doc, new_edits).await?);
                continue;
            }
        };
        results.push(result_json(result, new_edits)?);
    }
    Ok((StatusCode::CREATED, Json(results)).into_response())
}

/// The case events of a batch checked against the store and the batch itself (their
/// inspection, people, referral; see `validate`), on the blocking pool. Returns the documents
/// still to write; each refused one turns its `Written` slot into its `forbidden` result.
async fn check_event_targets(
    store: &SledStore,
    db: &str,
    docs: Vec<Document>,
    slots: &mut [Slot],
    new_edits: bool,
) -> Result<Vec<Document>, ApiError> {
    if !docs
        .iter()
        .any(|d| validate::needs_store_check(db, d, new_edits))
    {
        return Ok(docs);
    }
    let db_name = db.to_owned();
    let (docs, answers) = store
        .blocking(move |s| {
            let batch: Vec<&Document> = docs.iter().collect();
            let events: Vec<&Document> = docs
                .iter()
                .filter(|d| validate::needs_store_check(&db_name, d, new_edits))
                .collect();
            let answers = validate::check_event_targets(s, &db_name, &events, &batch)?;
            Ok((docs, answers))
        })
        .await?;
    let mut answers = answers.into_iter();
    let mut kept = Vec::with_capacity(docs.len());
    let mut written_slots = slots
        .iter_mut()
        .filter(|slot| matches!(slot, Slot::Written));
    for doc in docs {
        let slot = written_slots
            .next()
            .ok_or_else(|| ApiError::Internal("a batch document without its slot".into()))?;
        if !validate::needs_store_check(db, &doc, new_edits) {
            kept.push(doc);
            continue;
        }
        match answers.next() {
            Some(Err(rejection)) => *slot = Slot::Refused(rejection.into_result(&doc)),
            Some(Ok(())) => kept.push(doc),
            None => return Err(ApiError::Internal("an event without its check".into())),
        }
    }
    Ok(kept)
}

/// A relay account's batch: a second revision of a case event already here is refused (see
/// `validate`'s "Relay accounts"); each refused one turns its `Written` slot into its result.
async fn check_relay_events(
    store: &SledStore,
    principal: &Principal,
    docs: Vec<Document>,
    slots: &mut [Slot],
) -> Result<Vec<Document>, ApiError> {
    let verdicts = {
        let refs: Vec<&Document> = docs.iter().collect();
        validate::relay_event_verdicts(store, principal, &refs).await?
    };
    if verdicts.iter().all(Option::is_none) {
        return Ok(docs);
    }
    let mut written_slots = slots
        .iter_mut()
        .filter(|slot| matches!(slot, Slot::Written));
    let mut kept = Vec::with_capacity(docs.len());
    for (doc, verdict) in docs.into_iter().zip(verdicts) {
        let slot = written_slots
            .next()
            .ok_or_else(|| ApiError::Internal("a batch document without its slot".into()))?;
        match verdict {
            Some(rejection) => *slot = Slot::Refused(rejection.into_result(&doc)),
            None => kept.push(doc),
        }
    }
    Ok(kept)
}

/// Where each document of a `_bulk_docs` request stands before the store writes the batch.
enum Slot {
    /// Refused by the domain rules, with its result.
    Refused(DocResult),
    /// Sent to the store; its result is the store's next one.
    Written,
    /// A `_local/` document, written on its own.
    Local(LocalDoc),
}

fn is_local(value: &Value) -> bool {
    value
        .get("_id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with(LOCAL_PREFIX))
}

/// A `_local/` document of a batch, checked as `PUT /db/{db}/_local/{id}` checks it.
fn local_doc(value: Value, i: usize) -> Result<LocalDoc, ApiError> {
    let bad = |reason: &str| ApiError::BadRequest(format!("docs[{i}]: {reason}"));
    let mut doc = LocalDoc::from_json(value).map_err(|e| bad(e.reason()))?;
    super::local::clean_local_body(&mut doc.body).map_err(|reason| bad(&reason))?;
    Ok(doc)
}

/// Writes one `_local/` document of a batch: with `new_edits` its `_rev` must be the current
/// one (a `conflict` result otherwise); without, it replaces whatever is there, as a replicated
/// write does. Store faults fail the request.
async fn write_local_in_batch(
    store: &SledStore,
    mut doc: LocalDoc,
    new_edits: bool,
) -> Result<Value, ApiError> {
    let id = doc.id.clone();
    if !new_edits {
        doc.rev = store.get_local(&id).await?.and_then(|current| current.rev);
    }
    match store.put_local(doc).await {
        Ok(rev) => Ok(json!({"ok": true, "id": id, "rev": rev})),
        Err(Error::Internal(detail)) => Err(ApiError::Internal(detail)),
        Err(e) => Ok(json!({"id": id, "error": e.error_name(), "reason": e.reason()})),
    }
}

/// With `new_edits=false` the revision is the head of `_revisions` when there is one, as in
/// CouchDB, whose `_revisions` overrides the `_rev` sent with it; a document with neither is
/// a bad request (CouchDB's 400, for the whole request); the `Err` is its reason.
pub fn replicated_rev(value: &mut Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Ok(()); // Document::from_json names the problem
    };
    let head = map.get("_revisions").and_then(|r| {
        let start = r.get("start")?.as_u64()?;
        let first = r.get("ids")?.as_array()?.first()?.as_str()?;
        Some(format!("{start}-{first}"))
    });
    match head {
        Some(rev) => {
            map.insert("_rev".into(), Value::String(rev));
        }
        None if matches!(map.get("_rev"), None | Some(Value::Null)) => {
            return Err(
                "When `new_edits: false`, the document needs `_rev` or `_revisions` specified"
                    .into(),
            )
        }
        None => {}
    }
    Ok(())
}

/// A result as CouchDB writes it: an error entry of a `new_edits=true` batch (a conflict, a
/// refusal) carries no `rev`, since no revision was made.
fn result_json(result: DocResult, new_edits: bool) -> Result<Value, ApiError> {
    let failed = !result.is_ok();
    let mut value =
        serde_json::to_value(result).map_err(|e| ApiError::Internal(format!("bulk_docs: {e}")))?;
    if let (true, true, Value::Object(map)) = (new_edits, failed, &mut value) {
        map.remove("rev");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_longpoll_body_ends_cleanly_only_after_its_answer() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Piece::Heartbeat).await.unwrap();
        tx.send(Piece::Answer(Bytes::from_static(b"{}")))
            .await
            .unwrap();
        let pieces: Vec<_> = heartbeat_body(rx).collect().await;
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].as_ref().unwrap().as_ref(), b"\n");
        assert_eq!(pieces[1].as_ref().unwrap().as_ref(), b"{}");
    }

    #[tokio::test]
    async fn a_longpoll_body_whose_feed_failed_or_vanished_ends_in_an_error() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Piece::Heartbeat).await.unwrap();
        tx.send(Piece::Failed).await.unwrap();
        let pieces: Vec<_> = heartbeat_body(rx).collect().await;
        assert!(pieces[0].is_ok());
        assert!(
            pieces[1].is_err(),
            "a failure after the 200 aborts the body"
        );

        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Piece::Heartbeat).await.unwrap();
        drop(tx); // the task ended without its answer
        let pieces: Vec<_> = heartbeat_body(rx).collect().await;
        assert_eq!(pieces.len(), 2);
        assert!(pieces[1].is_err());
    }
}
