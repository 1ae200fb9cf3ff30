//! The regional office's API (issue 8), for supervisors and administrators:
//! - `GET /api/office/{db}/inbox`: the region's submitted inspections with their case state,
//!   filtered, paged, longest-waiting first, from the in-memory index ([`crate::office`]);
//! - `GET /api/office/{db}/case/{inspection id}`: one case: the inspection, its events in
//!   timeline order, the derived view, and the fields changed since the review.
//!
//! The office writes events with the ordinary `PUT /db/{db}/{event id}`, where the write rules
//! apply (`couch::validate`).
//!
//! Who: an inspector gets 403 with the reason; a supervisor only for their regions (403 for
//! another, before 404, as on `/db`); an unknown database is 404. All store work (the catch-up,
//! the reads) runs on the blocking pool.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};
use chaski_shared::doc::{DocId, Document};
use chaski_shared::domain::case_event::CaseEvent;
use chaski_shared::domain::inspection::INSPECTION_TYPE;
use chaski_shared::domain::time::{EVENT_PREFIX, INSPECTION_PREFIX};
use chaski_shared::domain::{changed_fields, derive_case, CaseInspection};
use chaski_shared::store::GetOptions;
use serde_json::{json, Value};

use crate::auth::{Access, Principal, Role};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::office::{InboxPage, InboxQuery, RegionIndex};
use crate::startup::AppState;

/// Most events one case page reads: far beyond a real case's, a bound on one request's work.
pub const MAX_CASE_EVENTS: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/office/{db}/inbox", get(inbox))
        .route("/office/{db}/case/{id}", get(case))
}

/// The database `db` for the office: supervisors and administrators who may read it.
fn office_db(state: &AppState, principal: &Principal, db: &str) -> Result<SledStore, ApiError> {
    if !matches!(principal.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::Forbidden(format!(
            "The office workspace is for supervisors and administrators; {} is {} {}.",
            principal.name,
            if principal.role == Role::Inspector {
                "an"
            } else {
                "a"
            },
            principal.role
        )));
    }
    principal.authorize(db, Access::Read)?;
    state.databases.require(db)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// `GET /api/office/{db}/inbox?state=&sector=&from=&to=&district=&finding=&indicator=&q=&offset=&limit=`.
async fn inbox(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    uri: Uri,
) -> Result<Json<InboxPage>, ApiError> {
    let store = office_db(&state, &principal, &db)?;
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|e| ApiError::BadRequest(format!("The query string is malformed: {e}")))?;
    let query = InboxQuery::parse(&pairs).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let inboxes = state.office.clone();
    let now = now_ms();
    // The region's lock is held to catch up and take the sorted rows, not while filtering:
    // concurrent inbox requests of one region filter side by side.
    let page = store
        .blocking(move |s| {
            inboxes
                .with_current(s, RegionIndex::sorted)
                .map(|sorted| query.run(&sorted, now))
        })
        .await?;
    Ok(Json(page))
}

/// `GET /api/office/{db}/case/{inspection id}`.
async fn case(
    State(state): State<AppState>,
    principal: Principal,
    Path((db, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let store = office_db(&state, &principal, &db)?;
    let id = DocId::parse(&id)?;
    if !id.as_str().starts_with(INSPECTION_PREFIX) {
        return Err(ApiError::NotFound(format!(
            "{id} is not an inspection id: a case is opened by its inspection's id \
             (inspection:…)."
        )));
    }
    let answer = store.blocking(move |s| read_case(s, &id)).await??;
    Ok(Json(answer))
}

/// The case of inspection `id`. Synchronous (the blocking pool). The outer `Result` is the
/// store's, the inner one the answer.
fn read_case(store: &SledStore, id: &DocId) -> chaski_shared::Result<Result<Value, ApiError>> {
    let missing = || {
        Ok(Err(ApiError::NotFound(format!(
            "There is no inspection {id} in the database {}.",
            store.name()
        ))))
    };
    let inspection = match store.get_now(id, &GetOptions::default()) {
        Ok(doc) => doc,
        Err(chaski_shared::Error::NotFound(_)) => return missing(),
        Err(e) => return Err(e),
    };
    if inspection.deleted
        || inspection.body.get("type").and_then(Value::as_str) != Some(INSPECTION_TYPE)
    {
        return missing();
    }

    // Event ids start with `event:<inspection id>:`, so one key range holds them all.
    let prefix = format!("{EVENT_PREFIX}{id}:");
    let mut ids = Vec::new();
    let mut too_many = false;
    store.scan_winners(Some(&prefix), false, |event_id, _| {
        if !event_id.starts_with(&prefix) {
            return Ok(false);
        }
        if ids.len() >= MAX_CASE_EVENTS {
            too_many = true;
            return Ok(false);
        }
        ids.push(event_id.to_owned());
        Ok(true)
    })?;
    if too_many {
        // A refusal the reader can act on, never a 500: no real case comes near this, so the
        // events are listed rather than derived from a part of them.
        return Err(chaski_shared::Error::BadRequest(format!(
            "Inspection {id} has more than {MAX_CASE_EVENTS} case events, more than one case \
             page reads; list them with GET /db/{}/_all_docs?startkey=\"event:{id}:\"",
            store.name()
        )));
    }
    let mut docs: HashMap<String, Document> = HashMap::new();
    let mut events = Vec::new();
    for event_id in ids {
        let Ok(event_id) = DocId::parse(event_id) else {
            continue;
        };
        let doc = match store.get_now(&event_id, &GetOptions::default()) {
            Ok(doc) => doc,
            // Deleted meanwhile (a replicated tombstone): not part of the case.
            Err(chaski_shared::Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        // An event stored under older rules does not count, and is not shown as one.
        if let Ok(event) = CaseEvent::from_document(&doc) {
            events.push(event);
            docs.insert(doc.id.as_str().to_owned(), doc);
        }
    }
    let case = CaseInspection::from_document(&inspection);
    let view = derive_case(case.as_ref(), &events);
    let ordered: Vec<Value> = view
        .timeline
        .iter()
        .filter_map(|entry| docs.get(entry.id.as_str()).map(Document::to_json))
        .collect();

    // What changed since the review: the reviewed revision's body is kept until compaction.
    let (changed, review_body_missing) = match &view.reviewed_rev {
        Some(rev) if Some(rev) != inspection.rev.as_ref() => {
            let opts = GetOptions {
                rev: Some(rev.clone()),
                ..GetOptions::default()
            };
            match store.get_now(id, &opts) {
                Ok(before) if !before.deleted => {
                    (changed_fields(&before.body, &inspection.body), false)
                }
                Ok(_) | Err(chaski_shared::Error::NotFound(_)) => (Vec::new(), true),
                Err(e) => return Err(e),
            }
        }
        _ => (Vec::new(), false),
    };
    let view = serde_json::to_value(&view)
        .map_err(|e| chaski_shared::Error::Internal(format!("case view: {e}")))?;
    Ok(Ok(json!({
        "inspection": inspection.to_json(),
        "events": ordered,
        "state": view,
        "changed_since_review": changed,
        "review_body_missing": review_body_missing,
    })))
}
