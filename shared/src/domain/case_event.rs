//! Case events: the append-only documents that follow an inspection after the field visit —
//! review, notes back to the inspector, referrals and their follow-up, prosecution and outcome —
//! so that what happened after an inspection is never lost between institutions.
//!
//! Each event is its own document (`event:<inspection id>:<time-ordered id>`), written once by
//! whoever acts, so offices and tablets never edit the same document. A correction is a new
//! event whose `supersedes` names the one it corrects. This module parses and checks one event;
//! [`super::case_state`] derives a case's state from all of them.
//!
//! # Wire format
//! Every event: `type: "case_event"`, `inspection`, `kind`, `at`, `by`, optional `device`,
//! `note` (≤ 4000 characters) and `supersedes` (an earlier event of the same inspection). By kind:
//! - `reviewed`: `inspection_rev` (the `_rev` that was reviewed);
//! - `has_issues`: `inspection_rev` and a non-blank `note` (what to fix);
//! - `referred`: `people` (≥ 1 person code), `service` (`service_other` when `other`),
//!   `consent` (`consent_by` when given, and only then), optional `reference`;
//! - `referral_update`: `referral` (a `referred` event of the same inspection), `status`
//!   (`received`, `attended`, `declined`; `reason` when declined);
//! - `prosecution_opened`: `office`, `case_number`, `offence`; `fine_uit` only, and always, for
//!   `labour_infraction`;
//! - `outcome`: `outcome`; a conviction carries `sentence_years` / `sentence_months` /
//!   `life_sentence` (at least one non-zero) and optionally `fine_uit`, and only a conviction
//!   does; `archived` and `closed` carry a `reason`; `court` is optional.
//!
//! Fines in UIT are numbers `0 < x ≤ 1000` with at most two decimals, kept as hundredths
//! ([`FineUit`]) so that a round trip never drifts.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::inspection::check_type;
use super::person::{ConsentBy, ConsentStatus, PersonCode};
use super::time::{Timestamp, EVENT_PREFIX, INSPECTION_PREFIX};
use super::validate::{choice, index, Choice, ErrorCode, Errors, FieldError, Format, Obj, Rule};
use crate::doc::{DocId, Document};
use crate::rev::RevId;

/// The `type` of a case event document.
pub const CASE_EVENT_TYPE: &str = "case_event";
/// Longest note on an event, in characters.
pub const MAX_EVENT_NOTE_CHARS: usize = 4000;
/// Longest reason (a declined referral, an archived case), in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// Longest sentence accepted, in years (Peru's aggravated trafficking goes up to 35; beyond
/// 50 it is a typing mistake — life imprisonment has its own flag).
pub const MAX_SENTENCE_YEARS: u32 = 50;
/// Largest fine, in UIT (SUNAFIL's heaviest fines stay well below).
pub const MAX_FINE_UIT: u32 = 1000;
/// Most people named by one referral.
pub const MAX_REFERRED_PEOPLE: usize = 500;

choice! {
    /// What kind of step a case event records.
    pub enum CaseEventKind {
        Reviewed = "reviewed",
        HasIssues = "has_issues",
        Referred = "referred",
        ReferralUpdate = "referral_update",
        ProsecutionOpened = "prosecution_opened",
        Outcome = "outcome",
    }
}

/// Kinds only supervisors and admins may write. Today that is every kind: the tablet reads
/// events (to show "has issues") but writes none.
pub fn office_only(kind: CaseEventKind) -> bool {
    match kind {
        CaseEventKind::Reviewed
        | CaseEventKind::HasIssues
        | CaseEventKind::Referred
        | CaseEventKind::ReferralUpdate
        | CaseEventKind::ProsecutionOpened
        | CaseEventKind::Outcome => true,
    }
}

choice! {
    /// Where people found are referred.
    pub enum Service {
        /// Policía Nacional del Perú.
        Police = "police",
        /// Fiscalía.
        Prosecutor = "prosecutor",
        /// CAR / Hogar de refugio temporal.
        Shelter = "shelter",
        Health = "health",
        /// Ministerio de la Mujer / Centro Emergencia Mujer.
        MimpCem = "mimp_cem",
        /// The consulate, for foreign nationals.
        Consulate = "consulate",
        Ngo = "ngo",
        /// Named in `service_other`.
        Other = "other",
    }
}

choice! {
    /// A referral's follow-up, as the receiving institution reports it.
    pub enum ReferralStatus {
        Received = "received",
        Attended = "attended",
        Declined = "declined",
    }
}

choice! {
    /// What a prosecution is opened for.
    pub enum Offence {
        /// Código Penal art. 153: trata de personas.
        Cp153 = "cp_153",
        /// Art. 153-A: trata agravada.
        Cp153A = "cp_153a",
        /// Art. 153-B: explotación sexual.
        Cp153B = "cp_153b",
        /// Art. 153-C: esclavitud y otras formas de explotación.
        Cp153C = "cp_153c",
        /// Art. 168-B: trabajo forzoso.
        Cp168B = "cp_168b",
        /// A labour-law infraction (SUNAFIL, "muy grave"), fined in UIT.
        LabourInfraction = "labour_infraction",
    }
}

choice! {
    /// How a case ended.
    pub enum OutcomeKind {
        Conviction = "conviction",
        Acquittal = "acquittal",
        Archived = "archived",
        Closed = "closed",
    }
}

/// A prison sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Sentence {
    pub years: u32,
    pub months: u32,
    pub life: bool,
}

/// A fine in UIT (Unidad Impositiva Tributaria), in hundredths: `FineUit(250)` is 2.5 UIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FineUit(u32);

impl FineUit {
    /// A fine of `hundredths` / 100 UIT, if within `0 < x ≤ 1000`.
    pub fn from_hundredths(hundredths: u32) -> Option<FineUit> {
        (hundredths > 0 && hundredths <= MAX_FINE_UIT * 100).then_some(FineUit(hundredths))
    }

    /// The fine in hundredths of a UIT.
    pub fn hundredths(self) -> u32 {
        self.0
    }

    /// The fine as a JSON number: whole when it is whole (`15`, not `15.0`).
    pub fn to_json(self) -> Value {
        if self.0 % 100 == 0 {
            json!(self.0 / 100)
        } else {
            json!(f64::from(self.0) / 100.0)
        }
    }
}

impl Serialize for FineUit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// What the event says, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventDetail {
    /// A supervisor reviewed revision `inspection_rev` of the inspection and found it in order.
    Reviewed { inspection_rev: RevId },
    /// A supervisor sends revision `inspection_rev` back with a note (in [`CaseEvent::note`],
    /// always present for this kind).
    HasIssues { inspection_rev: RevId },
    /// Some of the people found were referred to a service.
    Referred {
        /// The people referred, by pseudonymous code (at least one).
        people: Vec<PersonCode>,
        service: Service,
        /// What the service is, when `service` is `other`.
        service_other: Option<String>,
        consent: ConsentStatus,
        /// Who consented, when consent was given.
        consent_by: Option<ConsentBy>,
        /// The receiving institution's reference.
        reference: Option<String>,
    },
    /// News of a referral: received, attended or declined.
    ReferralUpdate {
        /// The `referred` event this follows.
        referral: DocId,
        status: ReferralStatus,
        /// Why it was declined (required then).
        reason: Option<String>,
    },
    /// The prosecutor's office (Fiscalía) opened a case, or a labour infraction was fined.
    ProsecutionOpened {
        office: String,
        case_number: String,
        offence: Offence,
        /// Only, and always, for a labour infraction.
        fine_uit: Option<FineUit>,
    },
    /// The case ended.
    Outcome {
        kind: OutcomeKind,
        /// Only for a conviction.
        sentence: Option<Sentence>,
        /// Only for a conviction.
        fine_uit: Option<FineUit>,
        /// Why it was archived or closed (required then).
        reason: Option<String>,
        court: Option<String>,
    },
}

impl EventDetail {
    /// The event's kind.
    pub fn kind(&self) -> CaseEventKind {
        match self {
            EventDetail::Reviewed { .. } => CaseEventKind::Reviewed,
            EventDetail::HasIssues { .. } => CaseEventKind::HasIssues,
            EventDetail::Referred { .. } => CaseEventKind::Referred,
            EventDetail::ReferralUpdate { .. } => CaseEventKind::ReferralUpdate,
            EventDetail::ProsecutionOpened { .. } => CaseEventKind::ProsecutionOpened,
            EventDetail::Outcome { .. } => CaseEventKind::Outcome,
        }
    }
}

/// A case event document, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseEvent {
    /// The event's own document id, `event:<inspection id>:<key>`.
    pub id: DocId,
    /// The inspection this event belongs to (from the document id).
    pub inspection_id: DocId,
    /// When it happened.
    pub at: Timestamp,
    /// Who recorded it (account name).
    pub by: String,
    pub device: Option<String>,
    pub note: Option<String>,
    /// The earlier event of the same inspection that this one corrects.
    pub supersedes: Option<DocId>,
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
    /// The event's kind.
    pub fn kind(&self) -> CaseEventKind {
        self.detail.kind()
    }

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
            errs.push(format!("_attachments.{name}"), ErrorCode::UnknownField);
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
        let supersedes = event_ref(&o, "supersedes", inspection_id, &mut errs);
        if supersedes.as_ref() == Some(&doc.id) {
            errs.push(
                "supersedes",
                ErrorCode::Inconsistent {
                    rule: Rule::SupersedesItself,
                },
            );
        }
        let detail = kind.and_then(|kind| Self::detail(kind, &o, inspection_id, &note, &mut errs));
        let (Some(inspection_id), Some(at), Some(by), Some(detail)) =
            (inspection_id, at, by, detail)
        else {
            return Err(errs.0);
        };
        let Ok(inspection_id) = DocId::parse(inspection_id) else {
            // Part of a valid document id, so always valid; refuse rather than panic.
            errs.push(
                "_id",
                ErrorCode::BadFormat {
                    expected: Format::CaseEventId,
                },
            );
            return Err(errs.0);
        };
        let event = CaseEvent {
            id: doc.id.clone(),
            inspection_id,
            at,
            by,
            device,
            note,
            supersedes,
            detail,
        };
        errs.into_result(event)
    }

    fn detail(
        kind: CaseEventKind,
        o: &Obj<'_>,
        inspection_id: Option<&str>,
        note: &Option<String>,
        errs: &mut Errors,
    ) -> Option<EventDetail> {
        Some(match kind {
            CaseEventKind::Reviewed => EventDetail::Reviewed {
                inspection_rev: rev_field(o, "inspection_rev", errs)?,
            },
            CaseEventKind::HasIssues => {
                // The inspector must learn what to fix.
                errs.require("note", note);
                EventDetail::HasIssues {
                    inspection_rev: rev_field(o, "inspection_rev", errs)?,
                }
            }
            CaseEventKind::Referred => {
                let mut people: Vec<PersonCode> = Vec::new();
                let items = o.array("people", MAX_REFERRED_PEOPLE, errs);
                if items.is_empty() && o.get("people").is_none_or(Value::is_array) {
                    errs.push("people", ErrorCode::Required);
                }
                for (i, item) in items.iter().enumerate() {
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
                let service = required_choice::<Service>(o, "service", errs);
                let service_other = o.text("service_other", 100, errs);
                if service == Some(Service::Other) {
                    errs.require("service_other", &service_other);
                }
                // A referral without consent recorded is refused: "not asked" must be said.
                let consent = required_choice::<ConsentStatus>(o, "consent", errs);
                let consent_by = o.choice::<ConsentBy>("consent_by", errs);
                match consent {
                    Some(ConsentStatus::Given) => errs.require("consent_by", &consent_by),
                    Some(_) if consent_by.is_some() => errs.push(
                        "consent_by",
                        ErrorCode::Inconsistent {
                            rule: Rule::ConsentByWithoutConsent,
                        },
                    ),
                    _ => {}
                }
                let reference = o.text("reference", 100, errs);
                EventDetail::Referred {
                    people,
                    service: service?,
                    service_other,
                    consent: consent?,
                    consent_by,
                    reference,
                }
            }
            CaseEventKind::ReferralUpdate => {
                let referral = event_ref(o, "referral", inspection_id, errs);
                errs.require("referral", &referral);
                let status = required_choice::<ReferralStatus>(o, "status", errs);
                let reason = o.text("reason", MAX_REASON_CHARS, errs);
                if status == Some(ReferralStatus::Declined) {
                    errs.require("reason", &reason);
                }
                EventDetail::ReferralUpdate {
                    referral: referral?,
                    status: status?,
                    reason,
                }
            }
            CaseEventKind::ProsecutionOpened => {
                let office = o.text("office", 200, errs);
                errs.require("office", &office);
                // The case number is how anyone follows the case into the courts.
                let case_number = o.text("case_number", 100, errs);
                errs.require("case_number", &case_number);
                let offence = required_choice::<Offence>(o, "offence", errs);
                let fine_uit = fine_field(o, "fine_uit", errs);
                match offence {
                    Some(Offence::LabourInfraction) => errs.require("fine_uit", &fine_uit),
                    Some(_) if o.get("fine_uit").is_some() => errs.push(
                        "fine_uit",
                        ErrorCode::Inconsistent {
                            rule: Rule::FineWithoutInfraction,
                        },
                    ),
                    _ => {}
                }
                EventDetail::ProsecutionOpened {
                    office: office?,
                    case_number: case_number?,
                    offence: offence?,
                    fine_uit,
                }
            }
            CaseEventKind::Outcome => Self::outcome(o, errs)?,
        })
    }

    fn outcome(o: &Obj<'_>, errs: &mut Errors) -> Option<EventDetail> {
        let outcome = required_choice::<OutcomeKind>(o, "outcome", errs);
        let years = o.count("sentence_years", MAX_SENTENCE_YEARS, errs);
        let months = o.count("sentence_months", 11, errs);
        let life = o.boolean("life_sentence", errs);
        let fine_uit = fine_field(o, "fine_uit", errs);
        let reason = o.text("reason", MAX_REASON_CHARS, errs);
        let court = o.text("court", 200, errs);
        let has_sentence = years.unwrap_or(0) > 0 || months.unwrap_or(0) > 0 || life == Some(true);
        let outcome = outcome?;
        let sentence = match outcome {
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
            _ => {
                if has_sentence {
                    errs.push(
                        "sentence_years",
                        ErrorCode::Inconsistent {
                            rule: Rule::SentenceWithoutConviction,
                        },
                    );
                }
                if o.get("fine_uit").is_some() {
                    errs.push(
                        "fine_uit",
                        ErrorCode::Inconsistent {
                            rule: Rule::FineWithoutConviction,
                        },
                    );
                }
                None
            }
        };
        if matches!(outcome, OutcomeKind::Archived | OutcomeKind::Closed) {
            errs.require("reason", &reason);
        }
        Some(EventDetail::Outcome {
            kind: outcome,
            sentence,
            fine_uit: fine_uit.filter(|_| outcome == OutcomeKind::Conviction),
            reason,
            court,
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
        let opt_text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
        // Optional fields are left out rather than written as null.
        let put_opt = |m: &mut Map<String, Value>, k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put_opt(&mut m, "device", opt_text(&self.device));
        put_opt(&mut m, "note", opt_text(&self.note));
        put_opt(
            &mut m,
            "supersedes",
            self.supersedes.as_ref().map(|s| s.as_str().into()),
        );
        match &self.detail {
            EventDetail::Reviewed { inspection_rev }
            | EventDetail::HasIssues { inspection_rev } => {
                m.insert("inspection_rev".into(), inspection_rev.to_string().into());
            }
            EventDetail::Referred {
                people,
                service,
                service_other,
                consent,
                consent_by,
                reference,
            } => {
                m.insert("people".into(), json!(people));
                m.insert("service".into(), service.name().into());
                put_opt(&mut m, "service_other", opt_text(service_other));
                m.insert("consent".into(), consent.name().into());
                put_opt(&mut m, "consent_by", consent_by.map(|c| c.name().into()));
                put_opt(&mut m, "reference", opt_text(reference));
            }
            EventDetail::ReferralUpdate {
                referral,
                status,
                reason,
            } => {
                m.insert("referral".into(), referral.as_str().into());
                m.insert("status".into(), status.name().into());
                put_opt(&mut m, "reason", opt_text(reason));
            }
            EventDetail::ProsecutionOpened {
                office,
                case_number,
                offence,
                fine_uit,
            } => {
                m.insert("office".into(), office.clone().into());
                m.insert("case_number".into(), case_number.clone().into());
                m.insert("offence".into(), offence.name().into());
                put_opt(&mut m, "fine_uit", fine_uit.map(FineUit::to_json));
            }
            EventDetail::Outcome {
                kind,
                sentence,
                fine_uit,
                reason,
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
                put_opt(&mut m, "fine_uit", fine_uit.map(FineUit::to_json));
                put_opt(&mut m, "reason", opt_text(reason));
                put_opt(&mut m, "court", opt_text(court));
            }
        }
        m
    }
}

/// A choice that must be present.
fn required_choice<T: Choice>(o: &Obj<'_>, key: &str, errs: &mut Errors) -> Option<T> {
    if o.get(key).is_none() {
        errs.push(key, ErrorCode::Required);
        return None;
    }
    o.choice::<T>(key, errs)
}

/// A required revision id (`N-hash`).
fn rev_field(o: &Obj<'_>, key: &str, errs: &mut Errors) -> Option<RevId> {
    let text = o.text(key, 200, errs);
    errs.require(key, &text);
    match RevId::parse(&text?) {
        Ok(rev) => Some(rev),
        Err(_) => {
            errs.push(
                key,
                ErrorCode::BadFormat {
                    expected: Format::RevId,
                },
            );
            None
        }
    }
}

/// An optional reference to another event of the same inspection.
fn event_ref(
    o: &Obj<'_>,
    key: &str,
    inspection_id: Option<&str>,
    errs: &mut Errors,
) -> Option<DocId> {
    let text = o.text(key, 512, errs)?;
    let Some(target_inspection) = inspection_of_event_id(&text) else {
        errs.push(
            key,
            ErrorCode::BadFormat {
                expected: Format::CaseEventId,
            },
        );
        return None;
    };
    if inspection_id.is_some_and(|own| own != target_inspection) {
        errs.push(
            key,
            ErrorCode::Inconsistent {
                rule: Rule::EventOfAnotherInspection,
            },
        );
        return None;
    }
    match DocId::parse(text) {
        Ok(id) => Some(id),
        Err(_) => {
            errs.push(
                key,
                ErrorCode::BadFormat {
                    expected: Format::CaseEventId,
                },
            );
            None
        }
    }
}

/// An optional fine in UIT: a number `0 < x ≤ 1000` with at most two decimals.
fn fine_field(o: &Obj<'_>, key: &str, errs: &mut Errors) -> Option<FineUit> {
    let x = o.number(key, 0.0, f64::from(MAX_FINE_UIT), errs)?;
    let hundredths = (x * 100.0).round();
    if (x * 100.0 - hundredths).abs() > 1e-6 {
        errs.push(
            key,
            ErrorCode::BadFormat {
                expected: Format::UitAmount,
            },
        );
        return None;
    }
    // `number` bounded x to 0..=1000, so this fits a u32.
    let fine = FineUit::from_hundredths(hundredths as u32);
    if fine.is_none() {
        errs.push(
            key,
            ErrorCode::OutOfRange {
                min: 0.01,
                max: f64::from(MAX_FINE_UIT),
            },
        );
    }
    fine
}

impl TryFrom<&Document> for CaseEvent {
    type Error = Vec<FieldError>;
    fn try_from(doc: &Document) -> Result<Self, Self::Error> {
        CaseEvent::from_document(doc)
    }
}
