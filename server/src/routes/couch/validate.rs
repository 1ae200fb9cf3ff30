//! The domain's rules at the CouchDB API's edge: every document written to a region database
//! passes [`validate_for_database`], the very code the PWA runs before it saves a record, and
//! design documents are written by administrators only. Every write path calls [`check`]
//! (through [`check_single`] or [`check_in_batch`]); nothing else decides.
//!
//! # Status codes: one rule for single writes, one for batches
//! - **Single-document writes** (`PUT /db/{db}/{docid}`, `POST /db/{db}`, `DELETE`, attachment
//!   `PUT` and `DELETE`): a document that breaks a domain rule gets **400**
//!   `{"error":"bad_request","reason":…}`, the reason listing every field at fault. That is
//!   issue #5's contract ("the server rejects with 400 what the client would reject"): the
//!   request itself is wrong, and the person who sent it can fix it.
//! - **`_bulk_docs`** (`new_edits` true and false): an invalid document gets its own result
//!   `{"id","rev","error":"forbidden","reason":…}` and the valid ones are written. `forbidden`
//!   is what CouchDB's `validate_doc_update` answers, and it is the one per-document error
//!   that PouchDB's replicator records as "denied" and moves past (any other error name makes
//!   it abort the batch) and that the shared replicator counts as a failure without stopping:
//!   one bad record on a tablet must never block the others.
//! - **Design documents** written (or deleted) by anyone but an administrator: **403**
//!   `forbidden` (or a `forbidden` result in a batch), on every database, as CouchDB does for
//!   non-admins: a design document can change how a database behaves for everyone.
//!
//! Tombstones pass the rules of their own: in a region database a deletion may carry only
//! `_id`, `_rev`, `_deleted`, `_revisions` and the routing fields `type` and `region`
//! ([`chaski_shared::domain::TOMBSTONE_FIELDS`]), and no attachments, on every path (`DELETE`,
//! `PUT` or `_bulk_docs` with `_deleted: true`, `new_edits` true or false): a tombstone is
//! served back like any revision, so a name in one would leak as from a live record.
//!
//! # Case events (issue 8)
//! In a region database, `case_event` documents (`event:<inspection id>:<key>`) follow rules of
//! their own, on every path:
//! - **who**: only supervisors and administrators write them, `new_edits` true or false (a
//!   replicated event from an inspector's device is refused too): 403 / `forbidden`;
//! - **append-only**: with `new_edits=true` an event is created once and never edited or
//!   deleted (a correction is a new event with `supersedes`): 403 / `forbidden`;
//! - **in one's own name**: with `new_edits=true` its `by` is the account writing it: 400 /
//!   `forbidden`;
//! - **what it points at** (`new_edits=true` only: replication brings documents in any order):
//!   its inspection exists in this database (or comes in the same batch) and belongs to this
//!   region; the people it names are people of that inspection; the referral it updates and
//!   the event it supersedes are events of that inspection. 400 / `forbidden`. These need the
//!   store: [`check_event_targets`] runs inside the store's blocking work, never on an async
//!   worker.
//!
//! # Relay accounts (issue 10)
//! A `relay` account (another Chaski server carrying its databases) writes only replicated
//! documents (`new_edits=false`): any new edit from it is 403 / `forbidden`. It may carry case
//! events, whoever wrote them (a supervisor's review, the national office's prosecution): the
//! event keeps its `by`. What a stolen relay credential could still do is inject documents
//! into the relay's own regions as if someone else wrote them, the same trust a region already
//! places in its own server's administrator. What it cannot do: reach other regions, sign in
//! to the apps, write new edits or design documents, or change an event that exists: events
//! are never edited, so a legitimate event has one revision everywhere, and a relay bringing a
//! *second* revision of an event already here ([`relay_event_verdicts`]) is refused, so a
//! forged branch can never become the winner of a real prosecution or outcome. Every write of
//! a relay names its account in the request log; disabling the account cuts it off at once.
//!
//! Exempt from the domain rules: `_local/` documents (replication checkpoints; `local.rs`
//! never calls this), and databases that are not one of the 25 regions' (an administrator's
//! `national-archive` keeps what it is given).

use std::collections::HashMap;

use chaski_shared::doc::{DocId, Document};
use chaski_shared::domain::case_event::CASE_EVENT_TYPE;
use chaski_shared::domain::inspection::INSPECTION_TYPE;
use chaski_shared::domain::time::EVENT_PREFIX;
use chaski_shared::domain::{reason_en, validate_for_database, TOMBSTONE_FIELDS};
use chaski_shared::store::{DocResult, GetOptions};
use serde_json::{Map, Value};

use crate::auth::{Principal, Role};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::regions;

/// Why a document may not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A design document from someone who is not an administrator.
    DesignNotAdmin(String),
    /// A document of a region database that breaks a domain rule; the reason names each field.
    Invalid(String),
    /// A write this user may not make whatever its content (a case event from an inspector, an
    /// edit of a case event): 403.
    NotAllowed(String),
}

/// Whether `doc` is a case event: by its id (a tombstone carries no `type`) or its `type`.
pub fn is_case_event(doc: &Document) -> bool {
    doc.id.as_str().starts_with(EVENT_PREFIX)
        || doc.body.get("type").and_then(Value::as_str) == Some(CASE_EVENT_TYPE)
}

/// Whether `principal` may write `doc` to database `db` (`new_edits` as the request says):
/// everything that can be decided without reading the store.
pub fn check(
    principal: &Principal,
    db: &str,
    doc: &Document,
    new_edits: bool,
) -> Result<(), Rejection> {
    if doc.id.is_design() && principal.role != Role::Admin {
        return Err(Rejection::DesignNotAdmin(format!(
            "Only an administrator may write design documents; {} is a {}.",
            principal.name, principal.role
        )));
    }
    if principal.role == Role::Relay && new_edits {
        return Err(Rejection::NotAllowed(format!(
            "{} is a relay account: it carries replicated documents (new_edits=false) and \
             makes no edits of its own.",
            principal.name
        )));
    }
    if !regions::is_region_db(db) {
        return Ok(());
    }
    if is_case_event(doc) {
        // Every kind is the office's today (`office_only`); the tablet only reads events.
        if principal.role == Role::Inspector {
            return Err(Rejection::NotAllowed(format!(
                "Only supervisors and administrators record case events; {} is an inspector.",
                principal.name
            )));
        }
        if new_edits && (doc.rev.is_some() || doc.deleted) {
            return Err(Rejection::NotAllowed(format!(
                "Case events are never edited: {} already exists. Record a new event with \
                 `supersedes` naming it instead.",
                doc.id
            )));
        }
    }
    validate_for_database(doc, db).map_err(|errors| {
        let mut reason = reason_en(&errors);
        if doc.deleted {
            reason.push_str(&format!(
                " A deletion (_deleted: true) may carry only _id, _rev, _deleted, _revisions \
                 and {}: send it without the record's content.",
                TOMBSTONE_FIELDS.join(" and ")
            ));
        }
        Rejection::Invalid(reason)
    })?;
    // The timeline says who acted: nobody records an event in another's name. (A replicated
    // event, `new_edits=false`, keeps the name of whoever wrote it first.)
    if new_edits && is_case_event(doc) {
        if let Some(by) = doc.body.get("by").and_then(Value::as_str) {
            if by != principal.name {
                return Err(Rejection::Invalid(format!(
                    "by: must be the account that records the event ({}), not {by:?}.",
                    principal.name
                )));
            }
        }
    }
    Ok(())
}

impl Rejection {
    /// The answer to a single-document write: 400 for a domain rule, 403 for the rest.
    pub fn into_api_error(self) -> ApiError {
        match self {
            Rejection::DesignNotAdmin(reason) | Rejection::NotAllowed(reason) => {
                ApiError::Forbidden(reason)
            }
            Rejection::Invalid(reason) => ApiError::BadRequest(reason),
        }
    }

    /// The result of a refused document of a `_bulk_docs` batch: `forbidden` whatever the
    /// cause (see the module's documentation for why).
    pub fn into_result(self, doc: &Document) -> DocResult {
        let reason = match self {
            Rejection::DesignNotAdmin(reason)
            | Rejection::Invalid(reason)
            | Rejection::NotAllowed(reason) => reason,
        };
        DocResult {
            id: doc.id.to_string(),
            rev: doc.rev.clone(),
            error: Some(chaski_shared::Error::Forbidden(reason)),
        }
    }
}

/// [`check`] for a single-document write: 400 for a domain rule, 403 for a design document or
/// a case event this user may not write.
pub fn check_single(
    principal: &Principal,
    db: &str,
    doc: &Document,
    new_edits: bool,
) -> Result<(), ApiError> {
    check(principal, db, doc, new_edits).map_err(Rejection::into_api_error)
}

/// [`check`] for a document of a `_bulk_docs` batch: `None` when it may be written, else its
/// own `forbidden` result (see the module's documentation for why `forbidden`).
pub fn check_in_batch(
    principal: &Principal,
    db: &str,
    doc: &Document,
    new_edits: bool,
) -> Option<DocResult> {
    check(principal, db, doc, new_edits)
        .err()
        .map(|rejection| rejection.into_result(doc))
}

/// Gives each attachment stub of the documents written to a region database the label
/// (content type and length) this database stores with the same bytes, which is what the
/// revision will keep: the domain rules then judge the labels the revision will really have,
/// not the ones the client claims. (A photo that shows people must be sealed; a stub claiming
/// "sealed" for a JPEG sent earlier would otherwise pass.) The bytes themselves were checked
/// under that label when they arrived. A new edit's stubs come from the revision it edits; a
/// replicated revision's (`new_edits=false`) from any leaf of the document. The whole batch is
/// read in one trip to the blocking pool, and only documents with stubs are read (labels
/// only: no body is built, no attachment's bytes read). A stub whose revision or bytes this
/// database lacks keeps its claim: the store refuses it (it has no such attachment).
pub async fn stored_stub_labels(
    store: &SledStore,
    docs: &mut [Document],
    new_edits: bool,
) -> chaski_shared::Result<()> {
    if !regions::is_region_db(store.name()) {
        return Ok(());
    }
    let (which, wanted): (Vec<usize>, Vec<(DocId, Option<chaski_shared::rev::RevId>)>) = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.deleted && d.attachments.values().any(|a| a.is_stub()))
        .filter_map(|(i, d)| match (new_edits, &d.rev) {
            (true, None) => None,
            (true, Some(rev)) => Some((i, (d.id.clone(), Some(rev.clone())))),
            (false, _) => Some((i, (d.id.clone(), None))),
        })
        .unzip();
    if wanted.is_empty() {
        return Ok(());
    }
    let known = store
        .blocking(move |s| s.stored_attachments(&wanted))
        .await?;
    for (i, known) in which.into_iter().zip(known) {
        let doc = &mut docs[i];
        for (name, att) in doc.attachments.iter_mut().filter(|(_, a)| a.is_stub()) {
            if let Some(stored) =
                chaski_shared::record::find_stored_attachment(&known, name, &att.digest)
            {
                att.content_type = stored.content_type.clone();
                att.length = stored.length;
            }
        }
    }
    Ok(())
}

/// Whether the rules that read the store ([`check_event_targets`]) apply to this write.
pub fn needs_store_check(db: &str, doc: &Document, new_edits: bool) -> bool {
    new_edits && regions::is_region_db(db) && is_case_event(doc) && !doc.deleted
}

/// For a relay account's batch (`new_edits=false`): one verdict per document of `docs`,
/// refusing a case event this database already holds under other revisions (see the module's
/// "Relay accounts"). Anyone else's batch passes whole. Reads the store on the blocking pool.
pub async fn relay_event_verdicts(
    store: &SledStore,
    principal: &Principal,
    docs: &[&Document],
) -> chaski_shared::Result<Vec<Option<Rejection>>> {
    let mut verdicts = vec![None; docs.len()];
    if principal.role != Role::Relay || !regions::is_region_db(store.name()) {
        return Ok(verdicts);
    }
    let events: Vec<(usize, String, Option<chaski_shared::rev::RevId>)> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| is_case_event(d))
        .map(|(i, d)| (i, d.id.to_string(), d.rev.clone()))
        .collect();
    if events.is_empty() {
        return Ok(verdicts);
    }
    let ids: Vec<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let winners = store
        .blocking(move |s| ids.iter().map(|id| s.winner(id)).collect())
        .await?;
    let winners: Vec<Option<(chaski_shared::rev::RevId, bool)>> = winners;
    let mut asked = chaski_shared::store::RevsDiffRequest::new();
    for ((_, id, rev), winner) in events.iter().zip(&winners) {
        if let (Some(rev), Some(_)) = (rev, winner) {
            asked.entry(id.clone()).or_default().push(rev.clone());
        }
    }
    let missing = if asked.is_empty() {
        Default::default()
    } else {
        chaski_shared::Store::revs_diff(store, &asked).await?
    };
    for ((i, id, _), winner) in events.iter().zip(winners) {
        let Some((existing, _)) = winner else {
            continue;
        };
        if missing.contains_key(id) {
            verdicts[*i] = Some(Rejection::NotAllowed(format!(
                "Case events have a single revision: {id} is already here as {existing}, and \
                 a relay may not add another revision to it. A correction is a new event with \
                 `supersedes`."
            )));
        }
    }
    Ok(verdicts)
}

/// What an event points at, from its raw body (the domain rules have checked the types).
struct EventTargets<'a> {
    inspection: Option<&'a str>,
    people: Vec<&'a str>,
    referral: Option<&'a str>,
    supersedes: Option<&'a str>,
}

impl<'a> EventTargets<'a> {
    fn of(doc: &'a Document) -> Self {
        let text = |key: &str| doc.body.get(key).and_then(Value::as_str);
        EventTargets {
            inspection: text("inspection").or_else(|| {
                chaski_shared::domain::case_event::inspection_of_event_id(doc.id.as_str())
            }),
            people: doc
                .body
                .get("people")
                .and_then(Value::as_array)
                .map(|people| people.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            referral: text("referral"),
            supersedes: text("supersedes"),
        }
    }
}

/// The store's side of the case-event rules (see the module documentation), for the events of
/// one write (`events`: the documents [`needs_store_check`] picked, each already past
/// [`check`]), with `batch` every document of the same write that passed [`check`] (an
/// inspection and its first event may come together). Synchronous: call it inside
/// [`SledStore::blocking`]. One answer per event, in order.
pub fn check_event_targets(
    store: &SledStore,
    db: &str,
    events: &[&Document],
    batch: &[&Document],
) -> chaski_shared::Result<Vec<Result<(), Rejection>>> {
    let in_batch: HashMap<&str, &Document> = batch
        .iter()
        .filter(|d| !d.deleted)
        .map(|d| (d.id.as_str(), *d))
        .collect();
    // Inspections read from the store, once per request whatever the number of its events.
    let mut read: HashMap<String, Option<Map<String, Value>>> = HashMap::new();
    let mut answers = Vec::with_capacity(events.len());
    for event in events {
        answers.push(check_one_event(store, db, event, &in_batch, &mut read)?);
    }
    Ok(answers)
}

fn check_one_event(
    store: &SledStore,
    db: &str,
    event: &Document,
    in_batch: &HashMap<&str, &Document>,
    read: &mut HashMap<String, Option<Map<String, Value>>>,
) -> chaski_shared::Result<Result<(), Rejection>> {
    let invalid = |reason: String| Ok(Err(Rejection::Invalid(reason)));
    // A tombstone of an event (a deletion over nothing) or a re-creation over one: an event
    // that was ever written is never written again.
    if store.winner(event.id.as_str())?.is_some() {
        return Ok(Err(Rejection::NotAllowed(format!(
            "Case events are never edited: {} already exists. Record a new event with \
             `supersedes` naming it instead.",
            event.id
        ))));
    }
    let targets = EventTargets::of(event);
    let Some(inspection_id) = targets.inspection else {
        // The domain rules name the missing field.
        return Ok(Ok(()));
    };
    let inspection = match in_batch.get(inspection_id) {
        Some(doc) if doc.body.get("type").and_then(Value::as_str) == Some(INSPECTION_TYPE) => {
            Some(doc.body.clone())
        }
        _ => {
            if !read.contains_key(inspection_id) {
                let body = read_live(store, inspection_id)?
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some(INSPECTION_TYPE));
                read.insert(inspection_id.to_owned(), body);
            }
            read.get(inspection_id).cloned().flatten()
        }
    };
    let Some(inspection) = inspection else {
        return invalid(format!(
            "inspection: there is no inspection {inspection_id} in the database {db}. An event \
             is recorded in the database of its inspection's region, after the inspection has \
             synced."
        ));
    };
    if let Some(region) = inspection.get("region").and_then(Value::as_str) {
        if region != db {
            return invalid(format!(
                "inspection: {inspection_id} belongs to the region {region}, not {db}: record \
                 its events in {region}'s database."
            ));
        }
    }
    if !targets.people.is_empty() {
        let codes: Vec<&str> = inspection
            .get("people")
            .and_then(Value::as_array)
            .map(|people| {
                people
                    .iter()
                    .filter_map(|p| p.get("code").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let unknown: Vec<&str> = targets
            .people
            .iter()
            .copied()
            .filter(|code| !codes.contains(code))
            .collect();
        if !unknown.is_empty() {
            return invalid(format!(
                "people: {} {} not among the people found in inspection {inspection_id} \
                 (they are: {}). Choose people recorded in the inspection.",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                if codes.is_empty() {
                    "none".to_owned()
                } else {
                    codes.join(", ")
                }
            ));
        }
    }
    for (field, target, kind) in [
        ("referral", targets.referral, Some("referred")),
        ("supersedes", targets.supersedes, None),
    ] {
        let Some(target) = target else { continue };
        let found = match in_batch.get(target) {
            Some(doc) => Some(doc.body.clone()),
            None => read_live(store, target)?,
        };
        let same_inspection = chaski_shared::domain::case_event::inspection_of_event_id(target)
            == Some(inspection_id);
        let right_kind = found.as_ref().is_some_and(|body| {
            body.get("type").and_then(Value::as_str) == Some(CASE_EVENT_TYPE)
                && kind.is_none_or(|k| body.get("kind").and_then(Value::as_str) == Some(k))
        });
        if !same_inspection || !right_kind {
            let what = match kind {
                Some(k) => format!("a `{k}` event"),
                None => "an event".to_owned(),
            };
            return invalid(format!(
                "{field}: {target} is not {what} of inspection {inspection_id} in the database \
                 {db}. Name one recorded for this inspection."
            ));
        }
    }
    Ok(Ok(()))
}

/// The winning, live revision's body of `id`, if there is one. Synchronous.
fn read_live(store: &SledStore, id: &str) -> chaski_shared::Result<Option<Map<String, Value>>> {
    let Ok(id) = DocId::parse(id) else {
        return Ok(None);
    };
    match store.get_now(&id, &GetOptions::default()) {
        Ok(doc) if !doc.deleted => Ok(Some(doc.body)),
        Ok(_) | Err(chaski_shared::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chaski_shared::domain::fixtures;
    use serde_json::json;

    use super::*;

    fn user(role: Role) -> Principal {
        Principal {
            name: "ana".into(),
            role,
            regions: BTreeSet::from(["madre-de-dios".to_owned()]),
            device: None,
            token_id: None,
        }
    }

    #[test]
    fn a_valid_inspection_passes_and_an_invalid_one_names_its_fields() {
        let good = fixtures::doc(fixtures::inspection_json(1));
        assert_eq!(
            check(&user(Role::Inspector), "madre-de-dios", &good, true),
            Ok(())
        );
        let mut bad = fixtures::inspection_json(2);
        bad["workers"]["minors_under_14"] = json!(99);
        let bad = fixtures::doc(bad);
        match check(&user(Role::Inspector), "madre-de-dios", &bad, true) {
            Err(Rejection::Invalid(reason)) => {
                assert!(reason.contains("workers.minors_under_14"), "{reason}")
            }
            other => panic!("expected a domain rejection, got {other:?}"),
        }
    }

    #[test]
    fn other_databases_skip_the_domain_rules_but_not_the_design_rule() {
        let anything = fixtures::doc(json!({"_id": "x", "whatever": 1}));
        assert_eq!(
            check(&user(Role::Admin), "national-archive", &anything, true),
            Ok(())
        );
        let design = fixtures::doc(json!({"_id": "_design/app"}));
        assert!(matches!(
            check(&user(Role::Supervisor), "national-archive", &design, true),
            Err(Rejection::DesignNotAdmin(_))
        ));
        assert_eq!(
            check(&user(Role::Admin), "madre-de-dios", &design, true),
            Ok(())
        );
    }

    #[test]
    fn a_relay_carries_replicated_documents_and_events_but_makes_no_edit_of_its_own() {
        let relay = user(Role::Relay);
        let inspection = fixtures::doc(fixtures::inspection_json(1));
        assert!(matches!(
            check(&relay, "madre-de-dios", &inspection, true),
            Err(Rejection::NotAllowed(_))
        ));
        assert_eq!(check(&relay, "madre-de-dios", &inspection, false), Ok(()));
        // A supervisor's event keeps its `by` when a relay carries it.
        let event = fixtures::doc(fixtures::prosecution_json(1, 1));
        assert_eq!(check(&relay, "madre-de-dios", &event, false), Ok(()));
        assert!(check(&relay, "madre-de-dios", &event, true).is_err());
        let design = fixtures::doc(json!({"_id": "_design/app", "_rev": "1-abc"}));
        assert!(matches!(
            check(&relay, "madre-de-dios", &design, false),
            Err(Rejection::DesignNotAdmin(_))
        ));
    }

    #[test]
    fn a_rejected_batch_document_is_forbidden_with_its_revision() {
        // A submitted inspection must say where and when; this one says nothing.
        let doc = fixtures::doc(json!({
            "_id": "inspection:x", "_rev": "1-abc", "type": "inspection", "status": "submitted"
        }));
        let result =
            check_in_batch(&user(Role::Inspector), "loreto", &doc, true).expect("rejected");
        assert_eq!(result.id, "inspection:x");
        assert_eq!(result.rev.map(|r| r.to_string()).as_deref(), Some("1-abc"));
        assert!(matches!(
            result.error,
            Some(chaski_shared::Error::Forbidden(_))
        ));
    }
}
