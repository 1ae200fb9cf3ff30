//! A case's state, derived — never stored — from its inspection and its case events, and the
//! field diff that shows a supervisor what changed since the review.
//!
//! [`derive_case`] is a pure function of a *set*: events from several offices and tablets may
//! arrive in any order, more than once, and concurrently, and every replica that holds the same
//! events shows the same state. Nothing here depends on arrival order; every "latest" is by
//! (`at`, `_id`), and duplicates (the same `_id`) count once.
//!
//! # Rules
//! - **Counting.** An event counts unless another event present names it in `supersedes`
//!   (whether or not that other event itself counts: a chain A ← B ← C leaves only C). A
//!   `supersedes` naming an event not present is a [`Gap::SupersedesUnknownEvent`]; the
//!   superseding event still counts. Events of another inspection are ignored.
//! - **Review.** The latest counted `reviewed` / `has_issues` event decides the review state:
//!   - none → [`CaseState::AwaitingReview`];
//!   - on the inspection's current revision (or when the inspection is not known here) →
//!     [`CaseState::Reviewed`] or [`CaseState::HasIssues`];
//!   - on an older revision, and the inspection is submitted → [`CaseState::Resubmitted`]
//!     (the inspector corrected it and sent it again: review it again). "Older" means the
//!     revision at hand differs and its generation is not lower: a replica still holding an
//!     earlier revision than the one reviewed (it has not pulled it yet) shows the event's own
//!     state; a revision unknown (`rev: None`) never counts as newer;
//!   - on an older revision, and the inspection is a draft again (reopened on the tablet) →
//!     still the event's own state: the inspector is answering the note.
//!
//!   [`CaseView::open_issues`] is the `has_issues` note while the review state is
//!   [`CaseState::HasIssues`].
//! - **Case state.** A counted outcome → [`CaseState::Closed`]; else a counted prosecution →
//!   [`CaseState::InProsecution`]; else a counted referral → [`CaseState::Referred`]; else the
//!   review state. An inspection never submitted is not a case: the inbox lists submitted
//!   inspections only, and this function then reports the review state of whatever events
//!   exist (normally none: [`CaseState::AwaitingReview`]).
//! - **Referrals.** Each counted `referred` event is a referral, `sent` until a counted
//!   `referral_update` names it; then the latest such update (by `at`, `_id`) gives its state:
//!   received, attended, or declined with its reason. An update naming an event that is not a
//!   `referred` event present is a [`Gap::UpdateForUnknownReferral`]; one naming a referral
//!   that was superseded is ignored (the correction replaced it).
//! - **People.** Every person code of the inspection has an entry, with the referrals that name
//!   it; a referral naming a code the inspection does not have is a
//!   [`Gap::ReferralForUnknownPerson`] (still listed).
//! - **Prosecution and outcome.** The latest counted one of each. An outcome with no counted
//!   prosecution is a [`Gap::OutcomeWithoutProsecution`]; several counted outcomes are a
//!   [`Gap::SeveralOutcomes`] (the latest is shown; a correction should supersede). Gaps are
//!   shown, never refused.
//! - **Timeline.** Every event present, superseded ones included and flagged, ordered by
//!   (`at`, `_id`).
//! - **Last step.** The `at` of the latest counted event, else the inspection's `updated_at`;
//!   for a resubmitted case the later of the two (the inspector's answer is the last step).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use super::case_event::{
    CaseEvent, CaseEventKind, EventDetail, FineUit, Offence, OutcomeKind, ReferralStatus, Sentence,
    Service,
};
use super::inspection::INSPECTION_TYPE;
use super::person::{ConsentBy, ConsentStatus, PersonCode};
use super::time::Timestamp;
use super::validate::choice;
use crate::doc::{DocId, Document};
use crate::rev::RevId;
use crate::sort;

choice! {
    /// Where a case stands; also the inbox's filter values.
    pub enum CaseState {
        AwaitingReview = "awaiting_review",
        HasIssues = "has_issues",
        Resubmitted = "resubmitted",
        Reviewed = "reviewed",
        Referred = "referred",
        InProsecution = "in_prosecution",
        Closed = "closed",
    }
}

/// What the derivation needs from an inspection (cheap to build from a [`Document`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseInspection {
    pub id: DocId,
    /// The revision at hand (the winner, normally).
    pub rev: Option<RevId>,
    pub submitted: bool,
    pub person_codes: Vec<PersonCode>,
    pub updated_at: Option<Timestamp>,
}

impl CaseInspection {
    /// Reads the few fields the derivation needs, tolerating anything else (an invalid
    /// inspection still has a case). `None` for a deletion or a document of another type.
    pub fn from_document(doc: &Document) -> Option<CaseInspection> {
        if doc.deleted || doc.body.get("type").and_then(Value::as_str) != Some(INSPECTION_TYPE) {
            return None;
        }
        let person_codes = doc
            .body
            .get("people")
            .and_then(Value::as_array)
            .map(|people| {
                let mut codes: Vec<PersonCode> = people
                    .iter()
                    .filter_map(|p| p.get("code")?.as_str().and_then(PersonCode::parse))
                    .collect();
                sort::sort_dedup(&mut codes);
                codes
            })
            .unwrap_or_default();
        Some(CaseInspection {
            id: doc.id.clone(),
            rev: doc.rev.clone(),
            submitted: doc.body.get("status").and_then(Value::as_str) == Some("submitted"),
            person_codes,
            updated_at: doc
                .body
                .get("updated_at")
                .and_then(Value::as_str)
                .and_then(Timestamp::parse),
        })
    }
}

/// A case as the office and the tablet see it. Serialises to JSON in snake_case (the server's
/// `GET /api/office/{db}/case/{id}` answers it as `state`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseView {
    pub state: CaseState,
    /// The latest counted event's `at`, else the inspection's `updated_at` (for a resubmitted
    /// case the later of the two).
    pub last_step_at: Option<Timestamp>,
    /// The `has_issues` note the inspector must still answer.
    pub open_issues: Option<IssueNote>,
    /// The revision the latest review or `has_issues` looked at.
    pub reviewed_rev: Option<RevId>,
    /// Counted referrals, by (`at`, `_id`).
    pub referrals: Vec<ReferralView>,
    /// Per person found: the referrals that name them.
    pub people: BTreeMap<PersonCode, PersonView>,
    pub prosecution: Option<ProsecutionView>,
    pub outcome: Option<OutcomeView>,
    pub gaps: Vec<Gap>,
    /// Every event, superseded ones included and flagged, by (`at`, `_id`).
    pub timeline: Vec<TimelineEntry>,
}

/// A note sent back to the inspector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssueNote {
    /// The `has_issues` event.
    pub event: DocId,
    pub note: String,
    pub by: String,
    pub at: Timestamp,
    pub device: Option<String>,
}

/// A referral's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReferralState {
    Sent,
    Received,
    Attended,
    Declined { reason: String },
}

/// One referral and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferralView {
    /// The `referred` event.
    pub id: DocId,
    pub at: Timestamp,
    pub by: String,
    pub people: Vec<PersonCode>,
    pub service: Service,
    pub service_other: Option<String>,
    pub consent: ConsentStatus,
    pub consent_by: Option<ConsentBy>,
    pub reference: Option<String>,
    /// Serialised flat: `"status": "declined", "reason": "…"`.
    #[serde(flatten)]
    pub state: ReferralState,
    /// When the state last changed (the latest counted update's `at`), if ever.
    pub state_at: Option<Timestamp>,
}

/// One person's referrals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PersonView {
    pub referrals: Vec<PersonReferral>,
}

/// A referral as seen from one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonReferral {
    /// The `referred` event.
    pub referral: DocId,
    pub service: Service,
    #[serde(flatten)]
    pub state: ReferralState,
}

/// The prosecution (the latest counted `prosecution_opened`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProsecutionView {
    pub id: DocId,
    pub at: Timestamp,
    pub office: String,
    pub case_number: String,
    pub offence: Offence,
    pub fine_uit: Option<FineUit>,
}

/// The outcome (the latest counted `outcome`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeView {
    pub id: DocId,
    pub at: Timestamp,
    pub outcome: OutcomeKind,
    pub sentence: Option<Sentence>,
    pub fine_uit: Option<FineUit>,
    pub reason: Option<String>,
    pub court: Option<String>,
}

/// A step recorded out of order or pointing at nothing: shown, never refused.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "gap", rename_all = "snake_case")]
pub enum Gap {
    /// An outcome with no prosecution recorded.
    OutcomeWithoutProsecution { outcome: DocId },
    /// A `referral_update` whose `referral` is not a `referred` event present here.
    UpdateForUnknownReferral { update: DocId, referral: DocId },
    /// An event whose `supersedes` names an event not present here.
    SupersedesUnknownEvent { event: DocId, supersedes: DocId },
    /// A referral naming a person code the inspection does not have.
    ReferralForUnknownPerson { referral: DocId, person: PersonCode },
    /// More than one counted outcome (the latest is shown).
    SeveralOutcomes { outcomes: Vec<DocId> },
}

/// One event in the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub id: DocId,
    pub at: Timestamp,
    pub kind: CaseEventKind,
    pub by: String,
    pub device: Option<String>,
    /// Whether a later event corrected this one (it then no longer counts).
    pub superseded: bool,
    /// The events that supersede this one, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded_by: Vec<DocId>,
}

/// The valid case events among `docs`, for [`derive_case`]: deletions, other types and events
/// that fail validation are skipped (the server refuses those; a replica may still hold one
/// written before a rule existed, and one bad event must not hide the whole case).
pub fn parse_events<'a>(docs: impl IntoIterator<Item = &'a Document>) -> Vec<CaseEvent> {
    docs.into_iter()
        .filter(|d| !d.deleted)
        .filter_map(|d| CaseEvent::from_document(d).ok())
        .collect()
}

/// (`at`, `_id`): the order of "latest" everywhere in this module.
fn by_time(a: &CaseEvent, b: &CaseEvent) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.at.as_str().cmp(b.at.as_str()))
        .then_with(|| a.id.cmp(&b.id))
}

/// The events of `inspection` (all, if it is unknown), sorted by (`at`, `_id`), one per id.
/// Two different bodies under one id cannot happen with append-only events, but if they did
/// the choice must still not depend on arrival order: the smaller body (as JSON) wins.
fn distinct_sorted<'a>(
    inspection: Option<&CaseInspection>,
    events: &'a [CaseEvent],
) -> Vec<&'a CaseEvent> {
    let mut list: Vec<&CaseEvent> = events
        .iter()
        .filter(|e| inspection.is_none_or(|i| e.inspection_id == i.id))
        .collect();
    sort::sort_by(&mut list, |a, b| {
        by_time(a, b).then_with(|| {
            if a == b {
                Ordering::Equal
            } else {
                Value::Object(a.to_body())
                    .to_string()
                    .cmp(&Value::Object(b.to_body()).to_string())
            }
        })
    });
    let mut seen = BTreeSet::new();
    list.retain(|e| seen.insert(e.id.clone()));
    list
}

/// Derives a case's view. Pure and order-free: any permutation of `events`, with duplicates,
/// gives the same view. See the module documentation for the rules.
pub fn derive_case(inspection: Option<&CaseInspection>, events: &[CaseEvent]) -> CaseView {
    let events = distinct_sorted(inspection, events);
    let present: BTreeMap<&DocId, &CaseEvent> = events.iter().map(|e| (&e.id, *e)).collect();
    let mut gaps = Vec::new();

    // Who supersedes whom.
    let mut superseded_by: BTreeMap<&DocId, Vec<DocId>> = BTreeMap::new();
    for e in &events {
        if let Some(target) = &e.supersedes {
            if present.contains_key(target) {
                superseded_by.entry(target).or_default().push(e.id.clone());
            } else {
                gaps.push(Gap::SupersedesUnknownEvent {
                    event: e.id.clone(),
                    supersedes: target.clone(),
                });
            }
        }
    }
    let counted: Vec<&CaseEvent> = events
        .iter()
        .copied()
        .filter(|e| !superseded_by.contains_key(&e.id))
        .collect();

    let Review {
        state: review_state,
        reviewed_rev,
        open_issues,
    } = review(inspection, &counted);

    // Referrals and their updates.
    let mut referrals: Vec<ReferralView> = Vec::new();
    for e in &counted {
        if let EventDetail::Referred {
            people,
            service,
            service_other,
            consent,
            consent_by,
            reference,
        } = &e.detail
        {
            referrals.push(ReferralView {
                id: e.id.clone(),
                at: e.at.clone(),
                by: e.by.clone(),
                people: people.clone(),
                service: *service,
                service_other: service_other.clone(),
                consent: *consent,
                consent_by: *consent_by,
                reference: reference.clone(),
                state: ReferralState::Sent,
                state_at: None,
            });
        }
    }
    // `counted` is sorted, so the last update applied is the latest.
    for e in &counted {
        if let EventDetail::ReferralUpdate {
            referral,
            status,
            reason,
        } = &e.detail
        {
            if let Some(r) = referrals.iter_mut().find(|r| &r.id == referral) {
                r.state = match status {
                    ReferralStatus::Received => ReferralState::Received,
                    ReferralStatus::Attended => ReferralState::Attended,
                    ReferralStatus::Declined => ReferralState::Declined {
                        reason: reason.clone().unwrap_or_default(),
                    },
                };
                r.state_at = Some(e.at.clone());
            } else {
                let is_referral = present
                    .get(referral)
                    .is_some_and(|t| t.kind() == CaseEventKind::Referred);
                if !is_referral {
                    gaps.push(Gap::UpdateForUnknownReferral {
                        update: e.id.clone(),
                        referral: referral.clone(),
                    });
                }
            }
        }
    }

    // People.
    let mut people: BTreeMap<PersonCode, PersonView> = BTreeMap::new();
    if let Some(i) = inspection {
        for code in &i.person_codes {
            people.entry(code.clone()).or_default();
        }
    }
    for r in &referrals {
        for code in &r.people {
            if inspection.is_some_and(|i| !i.person_codes.contains(code)) {
                gaps.push(Gap::ReferralForUnknownPerson {
                    referral: r.id.clone(),
                    person: code.clone(),
                });
            }
            people
                .entry(code.clone())
                .or_default()
                .referrals
                .push(PersonReferral {
                    referral: r.id.clone(),
                    service: r.service,
                    state: r.state.clone(),
                });
        }
    }

    // Prosecution and outcome.
    let prosecution = counted.iter().rev().find_map(|e| match &e.detail {
        EventDetail::ProsecutionOpened {
            office,
            case_number,
            offence,
            fine_uit,
        } => Some(ProsecutionView {
            id: e.id.clone(),
            at: e.at.clone(),
            office: office.clone(),
            case_number: case_number.clone(),
            offence: *offence,
            fine_uit: *fine_uit,
        }),
        _ => None,
    });
    let outcomes: Vec<&CaseEvent> = counted
        .iter()
        .copied()
        .filter(|e| e.kind() == CaseEventKind::Outcome)
        .collect();
    if outcomes.len() > 1 {
        gaps.push(Gap::SeveralOutcomes {
            outcomes: outcomes.iter().map(|e| e.id.clone()).collect(),
        });
    }
    let outcome = outcomes.last().and_then(|e| match &e.detail {
        EventDetail::Outcome {
            kind,
            sentence,
            fine_uit,
            reason,
            court,
        } => Some(OutcomeView {
            id: e.id.clone(),
            at: e.at.clone(),
            outcome: *kind,
            sentence: *sentence,
            fine_uit: *fine_uit,
            reason: reason.clone(),
            court: court.clone(),
        }),
        _ => None,
    });
    if let (Some(o), None) = (&outcome, &prosecution) {
        gaps.push(Gap::OutcomeWithoutProsecution {
            outcome: o.id.clone(),
        });
    }

    let state = case_state(
        outcome.is_some(),
        prosecution.is_some(),
        !referrals.is_empty(),
        review_state,
    );

    let timeline = events
        .iter()
        .map(|e| {
            let mut by = superseded_by.get(&e.id).cloned().unwrap_or_default();
            sort::sort(&mut by);
            TimelineEntry {
                id: e.id.clone(),
                at: e.at.clone(),
                kind: e.kind(),
                by: e.by.clone(),
                device: e.device.clone(),
                superseded: !by.is_empty(),
                superseded_by: by,
            }
        })
        .collect();

    sort::sort_dedup(&mut gaps);
    CaseView {
        state,
        last_step_at: last_step(state, counted.last().map(|e| &e.at), inspection),
        open_issues,
        reviewed_rev,
        referrals,
        people,
        prosecution,
        outcome,
        gaps,
        timeline,
    }
}

/// The review part of a case: the latest counted `reviewed` / `has_issues` event's verdict.
struct Review {
    state: CaseState,
    reviewed_rev: Option<RevId>,
    open_issues: Option<IssueNote>,
}

/// The review state from the counted events, sorted by (`at`, `_id`).
fn review(inspection: Option<&CaseInspection>, counted: &[&CaseEvent]) -> Review {
    let last_review = counted
        .iter()
        .rev()
        .find(|e| matches!(e.kind(), CaseEventKind::Reviewed | CaseEventKind::HasIssues));
    let mut reviewed_rev = None;
    let mut open_issues = None;
    let state = match last_review.map(|e| (e, &e.detail)) {
        None => CaseState::AwaitingReview,
        Some((e, EventDetail::Reviewed { inspection_rev }))
        | Some((e, EventDetail::HasIssues { inspection_rev })) => {
            reviewed_rev = Some(inspection_rev.clone());
            let own = if e.kind() == CaseEventKind::Reviewed {
                CaseState::Reviewed
            } else {
                CaseState::HasIssues
            };
            // Resubmitted only when this replica holds a later revision than the one reviewed:
            // a tablet that has not yet pulled the reviewed revision is behind, not resubmitted.
            let later = |current: &RevId| {
                current != inspection_rev && current.generation() >= inspection_rev.generation()
            };
            let state = match inspection {
                Some(i) if i.submitted && i.rev.as_ref().is_some_and(later) => {
                    CaseState::Resubmitted
                }
                _ => own,
            };
            if state == CaseState::HasIssues {
                open_issues = Some(IssueNote {
                    event: e.id.clone(),
                    note: e.note.clone().unwrap_or_default(),
                    by: e.by.clone(),
                    at: e.at.clone(),
                    device: e.device.clone(),
                });
            }
            state
        }
        Some(_) => CaseState::AwaitingReview,
    };
    Review {
        state,
        reviewed_rev,
        open_issues,
    }
}

/// The case state: the furthest step counted, else the review state.
fn case_state(
    outcome: bool,
    prosecution: bool,
    referred: bool,
    review_state: CaseState,
) -> CaseState {
    if outcome {
        CaseState::Closed
    } else if prosecution {
        CaseState::InProsecution
    } else if referred {
        CaseState::Referred
    } else {
        review_state
    }
}

/// What the tablet shows of a case: its state and the note the inspector must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseSummary {
    pub state: CaseState,
    pub open_issues: Option<IssueNote>,
}

/// [`derive_case`]'s `state` and `open_issues`, without the rest of the view: the inspector's
/// app shows only these, and this path is a fraction of the code (no timeline, referrals,
/// people or gaps, no maps). The same rules; events with the same `_id` are taken to be the same
/// event (on a replica they are: it holds one body per id). A property test checks that it
/// agrees with [`derive_case`].
pub fn case_summary(inspection: Option<&CaseInspection>, events: &[CaseEvent]) -> CaseSummary {
    let mut list: Vec<&CaseEvent> = events
        .iter()
        .filter(|e| inspection.is_none_or(|i| e.inspection_id == i.id))
        .collect();
    sort::sort_by(&mut list, |a, b| by_time(a, b));
    // Copies of one event sort next to each other (same `at`, same `_id`).
    list.dedup_by(|a, b| a.id == b.id);
    let counted: Vec<&CaseEvent> = list
        .iter()
        .copied()
        .filter(|e| !list.iter().any(|o| o.supersedes.as_ref() == Some(&e.id)))
        .collect();
    let has = |kind: CaseEventKind| counted.iter().any(|e| e.kind() == kind);
    let Review {
        state, open_issues, ..
    } = review(inspection, &counted);
    CaseSummary {
        state: case_state(
            has(CaseEventKind::Outcome),
            has(CaseEventKind::ProsecutionOpened),
            has(CaseEventKind::Referred),
            state,
        ),
        open_issues,
    }
}

/// When the case took its last step: the latest counted event's `at`; for a resubmitted case
/// the resubmission (the inspection's `updated_at`) when that came later, so that the inbox's
/// "days waiting" counts from the inspector's answer, not from the office's note.
fn last_step(
    state: CaseState,
    latest_event: Option<&Timestamp>,
    inspection: Option<&CaseInspection>,
) -> Option<Timestamp> {
    let saved = inspection.and_then(|i| i.updated_at.as_ref());
    match (latest_event, saved) {
        (Some(event), Some(saved))
            if state == CaseState::Resubmitted && saved.utc_ms() > event.utc_ms() =>
        {
            Some(saved.clone())
        }
        (Some(event), _) => Some(event.clone()),
        (None, saved) => saved.cloned(),
    }
}

/// Fields never reported as changed: bookkeeping that changes on every save or submission.
const IGNORED_FIELDS: &[&str] = &[
    "_rev",
    "updated_at",
    "updated_by",
    "updated_device",
    "status",
];

/// Field paths that differ between two inspection bodies (`site_name`, `workers.women`,
/// `indicators.debt_bondage.seen`, `people[P-001].sex` …), sorted, for "what changed since the
/// review". Objects are compared key by key, recursively; people (the top-level `people` list)
/// by their `code`; any other list, and a value whose type changed, as a whole. A field present
/// on one side only is a change; `null` counts as absent. Bookkeeping fields (`_rev`,
/// `updated_at`, `updated_by`, `updated_device`, `status`) are ignored.
pub fn changed_fields(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    diff_objects("", before, after, &mut out);
    sort::sort_dedup(&mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_objects(path: &str, a: &Map<String, Value>, b: &Map<String, Value>, out: &mut Vec<String>) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        if path.is_empty() && IGNORED_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let here = join(path, key);
        let va = a.get(key).filter(|v| !v.is_null());
        let vb = b.get(key).filter(|v| !v.is_null());
        match (va, vb) {
            (None, None) => {}
            (Some(Value::Object(x)), Some(Value::Object(y))) => diff_objects(&here, x, y, out),
            (Some(Value::Array(x)), Some(Value::Array(y)))
                if path.is_empty() && key == "people" =>
            {
                diff_people(x, y, out)
            }
            (x, y) => {
                if x != y {
                    out.push(here);
                }
            }
        }
    }
}

/// People by code: `people[P-001].sex`; a person added or removed is `people[P-002]`. A list
/// with a person without a readable code (or a code twice) is compared whole, as `people`.
fn diff_people(a: &[Value], b: &[Value], out: &mut Vec<String>) {
    fn by_code(list: &[Value]) -> Option<BTreeMap<&str, &Map<String, Value>>> {
        let mut map = BTreeMap::new();
        for p in list {
            let obj = p.as_object()?;
            let code = obj.get("code")?.as_str()?;
            if map.insert(code, obj).is_some() {
                return None;
            }
        }
        Some(map)
    }
    let (Some(x), Some(y)) = (by_code(a), by_code(b)) else {
        if a != b {
            out.push("people".into());
        }
        return;
    };
    let codes: BTreeSet<&str> = x.keys().chain(y.keys()).copied().collect();
    for code in codes {
        let here = format!("people[{code}]");
        match (x.get(code), y.get(code)) {
            (Some(p), Some(q)) => diff_objects(&here, p, q, out),
            _ => out.push(here),
        }
    }
}

#[cfg(test)]
mod tests;
