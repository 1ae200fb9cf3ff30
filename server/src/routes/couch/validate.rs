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
//! Exempt from the domain rules: `_local/` documents (replication checkpoints; `local.rs`
//! never calls this), and databases that are not one of the 25 regions' (an administrator's
//! `national-archive` keeps what it is given).

use chaski_shared::doc::Document;
use chaski_shared::domain::{reason_en, validate_for_database, TOMBSTONE_FIELDS};
use chaski_shared::store::DocResult;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::regions;

/// Why a document may not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A design document from someone who is not an administrator.
    DesignNotAdmin(String),
    /// A document of a region database that breaks a domain rule; the reason names each field.
    Invalid(String),
}

/// Whether `principal` may write `doc` to database `db`.
pub fn check(principal: &Principal, db: &str, doc: &Document) -> Result<(), Rejection> {
    if doc.id.is_design() && principal.role != Role::Admin {
        return Err(Rejection::DesignNotAdmin(format!(
            "Only an administrator may write design documents; {} is a {}.",
            principal.name, principal.role
        )));
    }
    if !regions::is_region_db(db) {
        return Ok(());
    }
    validate_for_database(doc, db)
        .map(|_| ())
        .map_err(|errors| {
            let mut reason = reason_en(&errors);
            if doc.deleted {
                reason.push_str(&format!(
                    " A deletion (_deleted: true) may carry only _id, _rev, _deleted, _revisions \
                 and {}: send it without the record's content.",
                    TOMBSTONE_FIELDS.join(" and ")
                ));
            }
            Rejection::Invalid(reason)
        })
}

/// [`check`] for a single-document write: 400 for a domain rule, 403 for a design document.
pub fn check_single(principal: &Principal, db: &str, doc: &Document) -> Result<(), ApiError> {
    check(principal, db, doc).map_err(|rejection| match rejection {
        Rejection::DesignNotAdmin(reason) => ApiError::Forbidden(reason),
        Rejection::Invalid(reason) => ApiError::BadRequest(reason),
    })
}

/// [`check`] for a document of a `_bulk_docs` batch: `None` when it may be written, else its
/// own `forbidden` result (see the module's documentation for why `forbidden`).
pub fn check_in_batch(principal: &Principal, db: &str, doc: &Document) -> Option<DocResult> {
    check(principal, db, doc).err().map(|rejection| {
        let reason = match rejection {
            Rejection::DesignNotAdmin(reason) | Rejection::Invalid(reason) => reason,
        };
        DocResult {
            id: doc.id.to_string(),
            rev: doc.rev.clone(),
            error: Some(chaski_shared::Error::Forbidden(reason)),
        }
    })
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
        }
    }

    #[test]
    fn a_valid_inspection_passes_and_an_invalid_one_names_its_fields() {
        let good = fixtures::doc(fixtures::inspection_json(1));
        assert_eq!(
            check(&user(Role::Inspector), "madre-de-dios", &good),
            Ok(())
        );
        let mut bad = fixtures::inspection_json(2);
        bad["workers"]["minors_under_14"] = json!(99);
        let bad = fixtures::doc(bad);
        match check(&user(Role::Inspector), "madre-de-dios", &bad) {
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
            check(&user(Role::Admin), "national-archive", &anything),
            Ok(())
        );
        let design = fixtures::doc(json!({"_id": "_design/app"}));
        assert!(matches!(
            check(&user(Role::Supervisor), "national-archive", &design),
            Err(Rejection::DesignNotAdmin(_))
        ));
        assert_eq!(check(&user(Role::Admin), "madre-de-dios", &design), Ok(()));
    }

    #[test]
    fn a_rejected_batch_document_is_forbidden_with_its_revision() {
        // A submitted inspection must say where and when; this one says nothing.
        let doc = fixtures::doc(json!({
            "_id": "inspection:x", "_rev": "1-abc", "type": "inspection", "status": "submitted"
        }));
        let result = check_in_batch(&user(Role::Inspector), "loreto", &doc).expect("rejected");
        assert_eq!(result.id, "inspection:x");
        assert_eq!(result.rev.map(|r| r.to_string()).as_deref(), Some("1-abc"));
        assert!(matches!(
            result.error,
            Some(chaski_shared::Error::Forbidden(_))
        ));
    }
}
