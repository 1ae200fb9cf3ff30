//! Chaski's domain: regions, inspections, people found and case events, parsed from documents
//! once, at the edge, with every problem reported per field.
//!
//! The server runs [`validate_for_database`] on every document written to a region database and
//! answers a 400 with [`reason_en`]; the client runs the same parsers to show each
//! [`FieldError`] next to its field, in the user's language. Both reject exactly the same
//! records because they run exactly this code.
//!
//! Unknown fields are tolerated (a newer tablet may add some, and an older one must not break
//! its records) except where tolerating them would be unsafe: inside a person found, where a
//! clear name is refused, and inside a sealed identity.
//!
//! # At the server's edge
//! ```
//! use chaski_shared::domain::{reason_en, validate_for_database, Kind};
//! use chaski_shared::Document;
//! use serde_json::json;
//!
//! let doc = Document::from_json(json!({
//!     "_id": "inspection:20261128T133000Z-9f2c4e1a00b3d7e5",
//!     "type": "inspection",
//!     "status": "submitted",
//!     "site_name": "Campamento km 108",
//!     "gps": {"lat": -69.95, "lon": -12.95},
//!     "people": [{"code": "P-001", "dni": "45678912"}]
//! }))?;
//! let errors = validate_for_database(&doc, "madre-de-dios").unwrap_err();
//! let reason = reason_en(&errors); // the 400's `reason`
//! assert!(reason.contains("gps: latitude and longitude look swapped"));
//! assert!(reason.contains("people[0].dni: names, identity numbers"));
//! assert!(reason.contains("visit_start: is required"));
//!
//! let tombstone = Document::from_json(json!({"_id": "inspection:x", "_deleted": true}))?;
//! assert_eq!(validate_for_database(&tombstone, "loreto"), Ok(Kind::Tombstone));
//! # Ok::<(), chaski_shared::Error>(())
//! ```
//!
//! # Layout
//! - [`validate`]: [`FieldError`], [`ErrorCode`], [`reason_en`] and the JSON reader.
//! - [`region`]: Peru's 25 departments.
//! - [`inspection`]: the inspection document, draft and submitted rules, photos.
//! - [`indicators`]: the ILO's 11 indicators of forced labour.
//! - [`person`]: people found, with their sealed identity.
//! - [`case_event`]: review, referral, prosecution and outcome events.
//! - [`case_state`]: a case's state derived from its events; what changed since the review.
//! - [`time`]: RFC 3339 timestamps and time-ordered ids.
//! - `fixtures` (tests and feature `fixtures`): valid documents for other crates' tests and
//!   benchmarks.

pub mod case_event;
pub mod case_state;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod indicators;
pub mod inspection;
pub mod person;
pub mod region;
pub mod time;
pub mod validate;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use case_event::{
    office_only, CaseEvent, CaseEventKind, EventDetail, FineUit, Offence, OutcomeKind,
    ReferralStatus, Sentence, Service,
};
pub use case_state::{
    case_summary, changed_fields, derive_case, parse_events, CaseInspection, CaseState,
    CaseSummary, CaseView, Gap, IssueNote, OutcomeView, PersonReferral, PersonView,
    ProsecutionView, ReferralState, ReferralView, TimelineEntry,
};
pub use indicators::{Indicator, Indicators, Observation, Stage};
pub use inspection::{
    Access, AccessMode, Companion, Finding, GpsPoint, Inspection, LocationSource, NationalityCount,
    Photo, Sector, Status, TeamMember, Workers,
};
pub use person::{
    AgeBand, Consent, ConsentBy, ConsentStatus, IndigenousPeople, Nationality, Need, PersonCode,
    PersonFound, Referral, ReferralTarget, SealedIdentity, Sex,
};
pub use region::Region;
pub use time::{new_event_id, new_inspection_id, Timestamp};
pub use validate::{reason_en, Choice, ErrorCode, FieldError, Format, JsonType, Rule};

use crate::doc::Document;
use case_event::CASE_EVENT_TYPE;
use inspection::INSPECTION_TYPE;

/// The document types a region database holds.
pub const DOCUMENT_TYPES: &[&str] = &[INSPECTION_TYPE, CASE_EVENT_TYPE];

/// What kind of document passed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Inspection,
    CaseEvent,
    /// A deletion: it carries no body to check.
    Tombstone,
    /// A design document (`_design/…`): not domain data.
    Design,
}

/// A document parsed into its domain type.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Inspection(Box<Inspection>),
    CaseEvent(Box<CaseEvent>),
    Tombstone,
    Design,
}

impl Parsed {
    pub fn kind(&self) -> Kind {
        match self {
            Parsed::Inspection(_) => Kind::Inspection,
            Parsed::CaseEvent(_) => Kind::CaseEvent,
            Parsed::Tombstone => Kind::Tombstone,
            Parsed::Design => Kind::Design,
        }
    }
}

/// Parses a document by its `type`. Tombstones pass (a deletion must always replicate), as do
/// design documents; any other document must be an inspection or a case event.
pub fn parse_document(doc: &Document) -> Result<Parsed, Vec<FieldError>> {
    if doc.deleted {
        return Ok(Parsed::Tombstone);
    }
    if doc.id.is_design() {
        return Ok(Parsed::Design);
    }
    match doc.body.get("type") {
        Some(Value::String(t)) if t == INSPECTION_TYPE => {
            Inspection::from_document(doc).map(|i| Parsed::Inspection(Box::new(i)))
        }
        Some(Value::String(t)) if t == CASE_EVENT_TYPE => {
            CaseEvent::from_document(doc).map(|e| Parsed::CaseEvent(Box::new(e)))
        }
        None | Some(Value::Null) => Err(vec![FieldError::new("type", ErrorCode::Required)]),
        Some(_) => Err(vec![FieldError::new(
            "type",
            ErrorCode::NotInList {
                allowed: DOCUMENT_TYPES,
            },
        )]),
    }
}

/// [`parse_document`], keeping only the kind: what the server needs to accept a write.
pub fn validate_document(doc: &Document) -> Result<Kind, Vec<FieldError>> {
    parse_document(doc).map(|p| p.kind())
}

/// What a deletion in a region database may carry besides `_id`, `_rev`, `_deleted` and
/// `_revisions`: the fields that route it (which kind of record, which region), and nothing
/// else. A tombstone is stored and served back (`?rev=`, `open_revs`, `_changes`) like any
/// revision, so a name or an identity number in one would leak exactly as in a live record; and
/// a deletion needs no content at all.
pub const TOMBSTONE_FIELDS: &[&str] = &["type", "region"];

/// [`validate_document`] for a document written to database `db_name`. When that is a region's
/// database:
/// - an inspection that names a region must name that one (a record filed in the wrong region
///   would escape the office that must act on it);
/// - a tombstone carries only [`TOMBSTONE_FIELDS`] (with a known `type` and this database's
///   `region`) and no attachments; every other field is refused, not stripped, so the device
///   that sent it learns at once.
///
/// Other databases skip both checks.
pub fn validate_for_database(doc: &Document, db_name: &str) -> Result<Kind, Vec<FieldError>> {
    let result = validate_document(doc);
    let Some(db_region) = Region::from_db_name(db_name) else {
        return result;
    };
    if doc.deleted {
        let errors = tombstone_problems(doc, db_region, db_name);
        return if errors.is_empty() {
            result
        } else {
            Err(errors)
        };
    }
    if doc.body.get("type").and_then(Value::as_str) != Some(INSPECTION_TYPE) {
        return result;
    }
    let doc_region = doc
        .body
        .get("region")
        .and_then(Value::as_str)
        .and_then(Region::from_db_name);
    match doc_region {
        Some(r) if r != db_region => {
            let mismatch = FieldError::new(
                "region",
                ErrorCode::RegionMismatch {
                    database: db_name.to_string(),
                },
            );
            match result {
                Ok(_) => Err(vec![mismatch]),
                Err(mut errors) => {
                    errors.push(mismatch);
                    Err(errors)
                }
            }
        }
        _ => result,
    }
}

/// What a tombstone of a region database carries beyond [`TOMBSTONE_FIELDS`], or carries
/// wrongly there.
fn tombstone_problems(doc: &Document, db_region: Region, db_name: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in &doc.body {
        match key.as_str() {
            "type" => {
                if !value.as_str().is_some_and(|t| DOCUMENT_TYPES.contains(&t)) {
                    errors.push(FieldError::new(
                        "type",
                        ErrorCode::NotInList {
                            allowed: DOCUMENT_TYPES,
                        },
                    ));
                }
            }
            "region" => {
                if value.as_str().and_then(Region::from_db_name) != Some(db_region) {
                    errors.push(FieldError::new(
                        "region",
                        ErrorCode::RegionMismatch {
                            database: db_name.to_string(),
                        },
                    ));
                }
            }
            other => errors.push(FieldError::new(other, ErrorCode::UnknownField)),
        }
    }
    if !doc.attachments.is_empty() {
        errors.push(FieldError::new("_attachments", ErrorCode::UnknownField));
    }
    errors
}
