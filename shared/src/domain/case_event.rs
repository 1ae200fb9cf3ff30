//! Case events: the append-only documents that follow an inspection after the field visit —
//! review, notes back to the inspector, referrals, prosecution and outcome — so that what
//! happened after an inspection is never lost between institutions.
//!
//! Each event is its own document (`event:<inspection id>:<time-ordered id>`), written once by
//! whoever acts, so offices and tablets never edit the same document. Only types and validation
//! live here; the workflow comes later.

use serde_json::{json, Map, Value};

use super::inspection::check_type;
use super::person::{PersonCode, ReferralTarget};
use super::time::{Timestamp, EVENT_PREFIX, INSPECTION_PREFIX};
use super::validate::{
    choice, index, join, Choice, ErrorCode, Errors, FieldError, Format, Obj, Rule,
};
use crate::doc::{DocId, Document};

/// The `type` of a case event document.
pub const CASE_EVENT_TYPE: &str = "case_event";
/// Longest note on an event, in characters.
pub const MAX_EVENT_NOTE_CHARS: usize = 4000;
/// Longest sentence accepted, in years (Peru's aggravated trafficking goes up to 35; beyond
/// 50 it is a typing mistake — life imprisonment has its own flag).
pub const MAX_SENTENCE_YEARS: u32 = 50;

choice! {
    /// What kind of step a case event records.
    pub enum CaseEventKind {
        Reviewed = "reviewed",
        HasIssues = "has_issues",
        Referred = "referred",
        ProsecutionOpened = "prosecution_opened",
        Outcome = "outcome",
    }
}

choice! {
    /// How a case ended.
    pub enum OutcomeKind {
        Conviction = "conviction",
        Acquittal = "acquittal",
        Closed = "closed",
    }
}

/// A prison sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sentence {
    pub years: u32,
    pub months: u32,
    pub life: bool,
}

/// What the event says, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventDetail {
    /// A supervisor reviewed the inspection and found it in order.
    Reviewed,
    /// A supervisor sends the inspection back with a note (in [`CaseEvent::note`]).
    HasIssues,
    /// The case, or some of the people found, were referred.
    Referred {
        to: Vec<ReferralTarget>,
        /// The people referred, by pseudonymous code; empty means the case as a whole.
        people: Vec<PersonCode>,
    },
    /// The prosecutor's office (Fiscalía) opened a case.
    ProsecutionOpened {
        case_number: String,
        office: Option<String>,
    },
    /// The case ended.
    Outcome {
        kind: OutcomeKind,
        /// Only for a conviction.
        sentence: Option<Sentence>,
        court: Option<String>,
    },
}

impl EventDetail {
    /// The event's kind.
    pub fn kind(&self) -> CaseEventKind {
        match self {
            EventDetail::Reviewed => CaseEventKind::Reviewed,
            EventDetail::HasIssues => CaseEventKind::HasIssues,
            EventDetail::Referred { .. } => CaseEventKind::Referred,
            EventDetail::ProsecutionOpened { .. } => CaseEventKind::ProsecutionOpened,
            EventDetail::Outcome { .. } => CaseEventKind::Outcome,
        }
    }
}

/// A case event document, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseEvent {
    /// The inspection this event belongs to (from the document id).
    pub inspection_id: DocId,
    /// When it happened.
    pub at: Timestamp,
    /// Who recorded it (account id).
    pub by: String,
    pub device: Option<String>,
    pub note: Option<String>,
    pub detail: EventDetail,
}

/// The inspection id inside an event id `event:<inspection id>:<key>`.
pub fn inspection_of_event_id(id: &str) -> Option<&str> {
    let rest = id.strip_prefix(EVENT_PREFIX)?;
    let (inspection, key) = rest.rsplit_once(':')?;
    (inspection.len() > INSPECTION_PREFIX.len()
        && inspection.starts_with(INSPECTION_PREFIX)
        && !key.is_empty())
    .then_some(inspection)
}

impl CaseEvent {
    /// Parses a case event document. Events are written once and never edited, so there is no
    /// draft level: every rule applies.
    pub fn from_document(doc: &Document) -> Result<CaseEvent, Vec<FieldError>> {
        let mut errs = Errors::default();
        let body = &doc.body;
        check_type(body, &[CASE_EVENT_TYPE], &mut errs);
        let inspection_id = inspection_of_event_id(doc.id.as_str());
        if inspection_id.is_none() {
            errs.push(
                "_id",
                ErrorCode::BadFormat {
                    expected: Format::CaseEventId,
                },
            );
        }
        // Case events carry no files: whatever one would hold (a scanned ruling, say) belongs
        // to a sealed, typed field first.
        for name in doc.attachments.keys() {
            errs.push(join("_attachments", name), ErrorCode::UnknownField);
        }
        let o = Obj::new(body, "");
        if let (Some(field), Some(from_id)) = (o.text("inspection", 512, &mut errs), inspection_id)
        {
            if field != from_id {
                errs.push(
                    "inspection",
                    ErrorCode::Inconsistent {
                        rule: Rule::EventInspectionMismatch,
                    },
                );
            }
        }
        let kind = o.choice::<CaseEventKind>("kind", &mut errs);
        if o.get("kind").is_none() {
            errs.push("kind", ErrorCode::Required);
        }
        let at = o.timestamp("at", &mut errs);
        if o.get("at").is_none() {
            errs.push("at", ErrorCode::Required);
        }
        let by = o.text("by", 64, &mut errs);
        errs.require("by", &by);
        let device = o.text("device", 64, &mut errs);
        let note = o.text("note", MAX_EVENT_NOTE_CHARS, &mut errs);
        let detail = kind.and_then(|kind| Self::detail(kind, &o, &note, &mut errs));
        let (Some(inspection_id), Some(at), Some(by), Some(detail)) =
            (inspection_id, at, by, detail)
        else {
            return Err(errs.0);
        };
        let event = CaseEvent {
            inspection_id: DocId::parse(inspection_id).expect("part of a valid document id"),
            at,
            by,
            device,
            note,
            detail,
        };
        errs.into_result(event)
    }

    fn detail(
        kind: CaseEventKind,
        o: &Obj<'_>,
        note: &Option<String>,
        errs: &mut Errors,
    ) -> Option<EventDetail> {
        Some(match kind {
            CaseEventKind::Reviewed => EventDetail::Reviewed,
            CaseEventKind::HasIssues => {
                // The inspector must learn what to fix.
                errs.require("note", note);
                EventDetail::HasIssues
            }
            CaseEventKind::Referred => {
                let to = o.choices::<ReferralTarget>("referred_to", errs);
                if to.is_empty() && o.get("referred_to").is_none() {
                    errs.push("referred_to", ErrorCode::Required);
                }
                let mut people: Vec<PersonCode> = Vec::new();
                for (i, item) in o.array("people", 500, errs).iter().enumerate() {
                    let at = index("people", i);
                    match item.as_str().and_then(PersonCode::parse) {
                        Some(c) if people.contains(&c) => errs.push(at, ErrorCode::Duplicate),
                        Some(c) => people.push(c),
                        None => errs.push(
                            at,
                            ErrorCode::BadFormat {
                                expected: Format::PersonCode,
                            },
                        ),
                    }
                }
                EventDetail::Referred { to, people }
            }
            CaseEventKind::ProsecutionOpened => {
                // The case number is how anyone follows the case into the courts.
                let case_number = o.text("case_number", 100, errs);
                errs.require("case_number", &case_number);
                EventDetail::ProsecutionOpened {
                    case_number: case_number?,
                    office: o.text("office", 200, errs),
                }
            }
            CaseEventKind::Outcome => {
                let outcome = o.choice::<OutcomeKind>("outcome", errs);
                if o.get("outcome").is_none() {
                    errs.push("outcome", ErrorCode::Required);
                }
                let years = o.count("sentence_years", MAX_SENTENCE_YEARS, errs);
                let months = o.count("sentence_months", 11, errs);
                let life = o.boolean("life_sentence", errs);
                let court = o.text("court", 200, errs);
                let has_sentence =
                    years.unwrap_or(0) > 0 || months.unwrap_or(0) > 0 || life == Some(true);
                let sentence = match outcome? {
                    OutcomeKind::Conviction if !has_sentence => {
                        errs.push(
                            "sentence_years",
                            ErrorCode::Inconsistent {
                                rule: Rule::ConvictionWithoutSentence,
                            },
                        );
                        None
                    }
                    OutcomeKind::Conviction => Some(Sentence {
                        years: years.unwrap_or(0),
                        months: months.unwrap_or(0),
                        life: life.unwrap_or(false),
                    }),
                    _ if has_sentence => {
                        errs.push(
                            "sentence_years",
                            ErrorCode::Inconsistent {
                                rule: Rule::SentenceWithoutConviction,
                            },
                        );
                        None
                    }
                    _ => None,
                };
                EventDetail::Outcome {
                    kind: outcome?,
                    sentence,
                    court,
                }
            }
        })
    }

    /// The body to store (`type`, `inspection`, `kind` and the kind's fields).
    pub fn to_body(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), CASE_EVENT_TYPE.into());
        m.insert("inspection".into(), self.inspection_id.as_str().into());
        m.insert("kind".into(), self.detail.kind().name().into());
        m.insert("at".into(), self.at.as_str().into());
        m.insert("by".into(), self.by.clone().into());
        if let Some(d) = &self.device {
            m.insert("device".into(), d.clone().into());
        }
        if let Some(n) = &self.note {
            m.insert("note".into(), n.clone().into());
        }
        match &self.detail {
            EventDetail::Reviewed | EventDetail::HasIssues => {}
            EventDetail::Referred { to, people } => {
                m.insert("referred_to".into(), json!(to));
                if !people.is_empty() {
                    m.insert("people".into(), json!(people));
                }
            }
            EventDetail::ProsecutionOpened {
                case_number,
                office,
            } => {
                m.insert("case_number".into(), case_number.clone().into());
                if let Some(o) = office {
                    m.insert("office".into(), o.clone().into());
                }
            }
            EventDetail::Outcome {
                kind,
                sentence,
                court,
            } => {
                m.insert("outcome".into(), kind.name().into());
                if let Some(s) = sentence {
                    m.insert("sentence_years".into(), s.years.into());
                    m.insert("sentence_months".into(), s.months.into());
                    if s.life {
                        m.insert("life_sentence".into(), true.into());
                    }
                }
                if let Some(c) = court {
                    m.insert("court".into(), c.clone().into());
                }
            }
        }
        m
    }
}

impl TryFrom<&Document> for CaseEvent {
    type Error = Vec<FieldError>;
    fn try_from(doc: &Document) -> Result<Self, Self::Error> {
        CaseEvent::from_document(doc)
    }
}
