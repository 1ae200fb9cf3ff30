//! The figures index of a region database (issue 9): what each document contributes to the
//! annual report's figures, kept on every write in the same sled transaction as the document,
//! and an in-memory cache of every case's facts that `GET /api/figures` and the exports read.
//!
//! # What is stored, and when
//! Each document's **contribution** is a pure function of its winning revision
//! ([`contribution`]): a submitted inspection gives its [`InspectionFacts`] (a few hundred
//! bytes: dates, sector, district, findings, indicators, worker counts, each person's
//! pseudonymous code, sex, age band, nationality and people); a valid case event gives its
//! canonical body; anything else (a draft, a deletion, another type, a revision that fails
//! today's rules) gives nothing. `SledStore::write_batch` computes it for every document a
//! batch changed and writes it into the `figures` tree inside the batch's transaction, so the
//! index is exactly as durable as the documents. A conflict's losing branch never contributes
//! (only the winner does), and a document is one row, so it is never counted twice.
//!
//! # The cache
//! Figures need each case's state (referrals, prosecution, outcome), which
//! [`derive_case`] gives from an inspection and all its events. [`RegionFigures`] holds every
//! case's facts and derived view in memory (not its events: those are read back from the rows
//! when a case changes): loaded from the `figures` rows in the background when the server
//! starts ([`warm_up`]), or at the first figures request if that comes first (holding the
//! writer lock, so no batch slips between the read and the cache), then updated by each batch right after its commit (under the writer lock too). A
//! query then reads about 100 bytes per case.
//!
//! `chaski figures rebuild` ([`crate::db::SledStore::rebuild_figures`]) recomputes every
//! row from the winning revisions; the property test checks that the incremental rows equal
//! a rebuild after random writes, conflicts, resolutions and deletions.
//!
//! # Layout
//! - [`report`]: the query (`from`, `to`, `region`, `by`, `public`…), the figures, JSON and CSV.
//! - [`admin`]: `chaski figures rebuild`.
//! - [`export`]: the streamed exports (inspections CSV, people CSV, GeoJSON).

pub mod admin;
pub mod export;
pub mod report;

use std::collections::{BTreeMap, HashMap};

use chaski_shared::doc::{DocId, Document};
use chaski_shared::domain::case_event::{inspection_of_event_id, CaseEvent};
use chaski_shared::domain::inspection::INSPECTION_TYPE;
use chaski_shared::domain::time::{EVENT_PREFIX, INSPECTION_PREFIX};
use chaski_shared::domain::{
    derive_case, AgeBand, CaseInspection, CaseState, Finding, Indicator, IndigenousPeople,
    Inspection, Nationality, Offence, OutcomeKind, PersonCode, ReferralState, Sector, Sentence,
    Service, Sex, Stage, Status, Timestamp,
};
use chaski_shared::domain::{ConsentStatus, Region};
use chaski_shared::rev::RevId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of the rows' format. A database whose `meta` holds another (or none, a data
/// folder from before the index) is rebuilt when it is opened.
pub const INDEX_VERSION: u64 = 1;

/// Whether database `db` keeps a figures index: the regions' databases.
pub fn indexed(db: &str) -> bool {
    Region::from_db_name(db).is_some()
}

/// One document's contribution to the figures: a function of its winning revision alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Contribution {
    #[serde(rename = "i")]
    Inspection(Box<InspectionFacts>),
    /// The event's canonical body (`CaseEvent::to_body`), read back with the shared parser.
    #[serde(rename = "e")]
    Event(Map<String, Value>),
}

/// What the figures need of a submitted inspection. Short keys: 100,000 of them are stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InspectionFacts {
    /// The winning revision (the case derivation compares it with the reviewed one).
    #[serde(rename = "r")]
    pub rev: String,
    /// `YYYY-MM-DD` of the visit's start as the device wrote it (the local date), else of
    /// its creation.
    #[serde(rename = "v", default)]
    pub visit_date: Option<String>,
    /// The visit's start in UTC milliseconds (days to referral and to prosecution).
    #[serde(rename = "vm", default)]
    pub visit_ms: Option<i64>,
    #[serde(rename = "u", default)]
    pub updated_at: Option<String>,
    #[serde(rename = "s", default)]
    pub sector: Option<Sector>,
    #[serde(rename = "d", default)]
    pub district: Option<String>,
    #[serde(rename = "f", default)]
    pub findings: Vec<Finding>,
    /// Indicators marked seen.
    #[serde(rename = "x", default)]
    pub indicators: Vec<Indicator>,
    /// Stages at which any seen indicator was seen.
    #[serde(rename = "g", default)]
    pub stages: Vec<Stage>,
    /// Women, men, under 18, under 14, indigenous.
    #[serde(rename = "w", default)]
    pub workers: [u32; 5],
    /// Foreign workers by nationality.
    #[serde(rename = "n", default)]
    pub foreign: Vec<(Nationality, u32)>,
    #[serde(rename = "p", default)]
    pub people: Vec<PersonFacts>,
}

/// A person found, as the figures count them: never more than these coded fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonFacts {
    #[serde(rename = "c")]
    pub code: String,
    #[serde(rename = "s", default)]
    pub sex: Option<Sex>,
    #[serde(rename = "a", default)]
    pub age_band: Option<AgeBand>,
    #[serde(rename = "n", default)]
    pub nationality: Option<Nationality>,
    #[serde(rename = "i", default)]
    pub indigenous_people: Option<IndigenousPeople>,
}

impl InspectionFacts {
    fn of(inspection: &Inspection, rev: &str) -> InspectionFacts {
        let visit_date = visit_date(inspection);
        let mut stages: Vec<Stage> = inspection
            .indicators
            .values()
            .filter(|o| o.seen)
            .flat_map(|o| o.stages.iter().copied())
            .collect();
        stages.sort();
        stages.dedup();
        let w = &inspection.workers;
        let mut foreign: BTreeMap<Nationality, u32> = BTreeMap::new();
        for n in &w.nationalities {
            *foreign.entry(n.country).or_default() += n.count.unwrap_or(0);
        }
        InspectionFacts {
            rev: rev.to_owned(),
            visit_date,
            visit_ms: inspection.visit_start.as_ref().map(Timestamp::utc_ms),
            updated_at: inspection
                .updated_at
                .as_ref()
                .map(|t| t.as_str().to_owned()),
            sector: inspection.sector,
            district: inspection
                .district
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            findings: inspection.findings.clone(),
            indicators: inspection
                .indicators
                .iter()
                .filter(|(_, o)| o.seen)
                .map(|(i, _)| *i)
                .collect(),
            stages,
            workers: [
                w.women.unwrap_or(0),
                w.men.unwrap_or(0),
                w.minors_under_18.unwrap_or(0),
                w.minors_under_14.unwrap_or(0),
                w.indigenous.unwrap_or(0),
            ],
            foreign: foreign.into_iter().collect(),
            people: inspection
                .people
                .iter()
                .map(|p| PersonFacts {
                    code: p.code.as_str().to_owned(),
                    sex: p.sex,
                    age_band: p.age_band,
                    nationality: p.nationality,
                    indigenous_people: p.indigenous_people,
                })
                .collect(),
        }
    }
}

/// `YYYY-MM-DD` of an inspection's visit start as the device wrote it (the local date), else
/// of its creation.
pub fn visit_date(inspection: &Inspection) -> Option<String> {
    [&inspection.visit_start, &inspection.created_at]
        .into_iter()
        .find_map(|t| t.as_ref().and_then(|t| t.as_str().get(..10)))
        .map(str::to_owned)
}

/// The contribution of document `id` whose winning revision is `rev` with `body` (`None` for
/// a deletion). Parsed with the shared domain's own parsers.
pub fn contribution(
    id: &str,
    rev: &RevId,
    body: Option<&Map<String, Value>>,
) -> Option<Contribution> {
    let body = body?;
    if id.starts_with(INSPECTION_PREFIX) {
        if body.get("type").and_then(Value::as_str) != Some(INSPECTION_TYPE) {
            return None;
        }
        // A draft is not an inspection yet; one that fails today's rules is not counted.
        let inspection = Inspection::parse(body).ok()?;
        if inspection.status != Status::Submitted {
            return None;
        }
        Some(Contribution::Inspection(Box::new(InspectionFacts::of(
            &inspection,
            &rev.to_string(),
        ))))
    } else if id.starts_with(EVENT_PREFIX) {
        let doc = Document::new(DocId::parse(id).ok()?, body.clone());
        let event = CaseEvent::from_document(&doc).ok()?;
        Some(Contribution::Event(event.to_body()))
    } else {
        None
    }
}

/// The row bytes of a contribution.
pub fn encode(contribution: &Contribution) -> Vec<u8> {
    // Plain data: serialising cannot fail.
    serde_json::to_vec(contribution).unwrap_or_default()
}

/// A row read back; `None` for bytes this version cannot read (then a rebuild fixes it).
pub fn decode(bytes: &[u8]) -> Option<Contribution> {
    serde_json::from_slice(bytes).ok()
}

/// A counted referral, as the figures need it.
#[derive(Clone, Debug)]
pub struct ReferralFacts {
    pub at_ms: i64,
    pub service: Service,
}

/// One person of a case who was referred.
#[derive(Clone, Debug)]
pub struct ReferredPerson {
    pub code: String,
    /// Services the person was referred to (counted referrals), one bit per [`Service`].
    pub services: u16,
    pub consent_given: bool,
    pub attended: bool,
}

/// What [`derive_case`] says of a case, reduced to what the figures and exports read.
#[derive(Clone, Debug)]
pub struct CaseFacts {
    pub state: CaseState,
    pub last_step_ms: Option<i64>,
    /// The earliest counted referral's time.
    pub first_referral_ms: Option<i64>,
    pub referrals: usize,
    /// People of the inspection named by a counted referral.
    pub referred: Vec<ReferredPerson>,
    /// The counted prosecution: when, and for what.
    pub prosecution: Option<(i64, Offence)>,
    pub outcome: Option<(OutcomeKind, Option<Sentence>)>,
}

/// One case in the cache: the inspection's facts (when it is a submitted inspection here) and
/// the derived facts. Its events are not kept: they are read back from the rows whenever the
/// case is derived again, which keeps the cache to what a query reads.
#[derive(Default)]
pub struct Case {
    pub inspection: Option<InspectionFacts>,
    pub derived: Option<CaseFacts>,
}

/// Every case of one region database, in memory.
#[derive(Default)]
pub struct RegionFigures {
    cases: HashMap<String, Case>,
}

/// The valid events among figures rows (`id`, row), for inspection `owner`.
pub fn events_from_rows(
    owner: &str,
    rows: impl Iterator<Item = (String, Option<Contribution>)>,
) -> Vec<CaseEvent> {
    rows.filter(|(id, _)| inspection_of_event_id(id) == Some(owner))
        .filter_map(|(id, row)| match (row, DocId::parse(id)) {
            (Some(Contribution::Event(body)), Ok(doc_id)) => {
                CaseEvent::from_document(&Document::new(doc_id, body)).ok()
            }
            _ => None,
        })
        .collect()
}

/// The row-key prefix of inspection `owner`'s events (a superset: see [`events_from_rows`]).
pub fn events_prefix(owner: &str) -> String {
    format!("{EVENT_PREFIX}{owner}:")
}

impl RegionFigures {
    /// Applies the (already committed) contribution of document `id`, replacing whatever it
    /// contributed before; `events_of(owner)` reads an inspection's events from the rows.
    pub fn apply(
        &mut self,
        id: &str,
        row: Option<Contribution>,
        events_of: &dyn Fn(&str) -> Vec<CaseEvent>,
    ) {
        let owner = if id.starts_with(INSPECTION_PREFIX) {
            match row {
                Some(Contribution::Inspection(facts)) => {
                    self.cases.entry(id.to_owned()).or_default().inspection = Some(*facts);
                }
                _ => {
                    self.cases.remove(id);
                    return;
                }
            }
            id
        } else if let Some(owner) = inspection_of_event_id(id) {
            owner
        } else {
            return;
        };
        let Some(case) = self.cases.get_mut(owner) else {
            // Events of an inspection not (yet) here count when it comes.
            return;
        };
        case.derived = match (&case.inspection, DocId::parse(owner)) {
            (Some(facts), Ok(doc_id)) => Some(derive(doc_id, facts, events_of(owner))),
            _ => None,
        };
    }

    /// Every submitted inspection with its derived case, in no particular order.
    pub fn cases(&self) -> impl Iterator<Item = (&str, &InspectionFacts, &CaseFacts)> {
        self.cases.iter().filter_map(|(id, case)| {
            Some((
                id.as_str(),
                case.inspection.as_ref()?,
                case.derived.as_ref()?,
            ))
        })
    }

    /// The case of inspection `id`, when it is a submitted inspection here.
    pub fn case(&self, id: &str) -> Option<(&InspectionFacts, &CaseFacts)> {
        let case = self.cases.get(id)?;
        Some((case.inspection.as_ref()?, case.derived.as_ref()?))
    }

    /// How many submitted inspections the cache holds.
    pub fn inspection_count(&self) -> usize {
        self.cases
            .values()
            .filter(|c| c.inspection.is_some())
            .count()
    }
}

fn derive(id: DocId, facts: &InspectionFacts, events: Vec<CaseEvent>) -> CaseFacts {
    let person_codes: Vec<PersonCode> = {
        let mut codes: Vec<PersonCode> = facts
            .people
            .iter()
            .filter_map(|p| PersonCode::parse(&p.code))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    };
    let inspection = CaseInspection {
        id,
        rev: RevId::parse(&facts.rev).ok(),
        submitted: true,
        person_codes,
        updated_at: facts.updated_at.as_deref().and_then(Timestamp::parse),
    };
    let view = derive_case(Some(&inspection), &events);
    let referrals: Vec<ReferralFacts> = view
        .referrals
        .iter()
        .map(|r| ReferralFacts {
            at_ms: r.at.utc_ms(),
            service: r.service,
        })
        .collect();
    let mut referred = Vec::new();
    for (code, person) in &view.people {
        // Only the inspection's own people: a referral naming an unknown code is a gap.
        if person.referrals.is_empty() || !inspection.person_codes.contains(code) {
            continue;
        }
        let mut services = 0u16;
        let mut consent_given = false;
        let mut attended = false;
        for pr in &person.referrals {
            services |= 1 << (pr.service as u16);
            attended |= pr.state == ReferralState::Attended;
            if let Some(r) = view.referrals.iter().find(|r| r.id == pr.referral) {
                consent_given |= r.consent == ConsentStatus::Given;
            }
        }
        referred.push(ReferredPerson {
            code: code.as_str().to_owned(),
            services,
            consent_given,
            attended,
        });
    }
    CaseFacts {
        state: view.state,
        last_step_ms: view.last_step_at.as_ref().map(Timestamp::utc_ms),
        first_referral_ms: referrals.iter().map(|r| r.at_ms).min(),
        referrals: referrals.len(),
        referred,
        prosecution: view
            .prosecution
            .as_ref()
            .map(|p| (p.at.utc_ms(), p.offence)),
        outcome: view.outcome.as_ref().map(|o| (o.outcome, o.sentence)),
    }
}

/// Builds the cache from every row of a `figures` tree.
pub fn load(rows: impl Iterator<Item = (String, Option<Contribution>)>) -> RegionFigures {
    let mut figures = RegionFigures::default();
    // Events are only held here, until their case is derived.
    let mut events: HashMap<String, Vec<CaseEvent>> = HashMap::new();
    for (id, row) in rows {
        if id.starts_with(INSPECTION_PREFIX) {
            if let Some(Contribution::Inspection(facts)) = row {
                figures.cases.entry(id).or_default().inspection = Some(*facts);
            }
        } else if let Some(owner) = inspection_of_event_id(&id) {
            let owner = owner.to_owned();
            events
                .entry(owner.clone())
                .or_default()
                .extend(events_from_rows(&owner, std::iter::once((id, row))));
        }
    }
    for (id, case) in figures.cases.iter_mut() {
        case.derived = match (&case.inspection, DocId::parse(id.as_str())) {
            (Some(facts), Ok(doc_id)) => {
                Some(derive(doc_id, facts, events.remove(id).unwrap_or_default()))
            }
            _ => None,
        };
    }
    figures
}

/// Loads the figures cache of every region database in the background (the blocking pool,
/// one region after another), so that the first figures request after a restart does not
/// wait for it. A request that comes first simply loads it itself.
pub fn warm_up(databases: &crate::db::Databases) {
    let stores: Vec<crate::db::SledStore> = databases
        .list()
        .iter()
        .filter(|db| indexed(db))
        .filter_map(|db| databases.get(db))
        .collect();
    if stores.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for store in stores {
            let started = std::time::Instant::now();
            match store.with_figures(RegionFigures::inspection_count) {
                Ok(count) => tracing::info!(
                    db = store.name(),
                    inspections = count.unwrap_or(0),
                    ms = started.elapsed().as_millis() as u64,
                    "figures cache loaded"
                ),
                Err(err) => tracing::warn!(db = store.name(), %err, "figures cache not loaded"),
            }
        }
    });
}
