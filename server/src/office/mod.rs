//! The regional office's inbox index: per region database, every inspection's inbox row (its
//! derived case state included) in memory, so that listing and filtering 50,000 inspections
//! answers in milliseconds.
//!
//! # How it stays current
//! The index is built from the database's changes feed (winning revisions only: a conflict's
//! losing branch never shows in the inbox) and remembers the sequence it reached. Every inbox
//! request first catches up from that sequence, then answers. Both run inside
//! [`SledStore::blocking`], on tokio's blocking pool, holding the region's index lock (a std
//! `Mutex`: it is never held across an `.await`), so that
//! - the async workers never wait on sled or on a 50,000-row build;
//! - one catch-up at a time runs per region (a second request waits for the first, then finds
//!   nothing new), and regions never wait on each other;
//! - what a supervisor sees is at least as new as every write acknowledged before the request
//!   (the changes feed shows a batch once it is durable, which is before it is acknowledged).
//!
//! A database deleted and created again (a new `instance_start_time`) starts a fresh index.
//!
//! # The case state
//! Never stored: each row's state is [`derive_case`] of the inspection and its events, the
//! same pure function the apps run. Events may arrive before their inspection (replication
//! order); they wait in the index until it comes.

pub mod query;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chaski_shared::doc::{DocId, Document};
use chaski_shared::domain::case_event::CaseEvent;
use chaski_shared::domain::inspection::INSPECTION_TYPE;
use chaski_shared::domain::time::{EVENT_PREFIX, INSPECTION_PREFIX};
use chaski_shared::domain::validate::Choice;
use chaski_shared::domain::{
    derive_case, CaseInspection, CaseState, Finding, Indicator, PersonCode, Sector, Timestamp,
};
use chaski_shared::rev::RevId;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::db::{Databases, SledStore};

pub use query::{InboxPage, InboxQuery};

/// Every region's index, made on first use.
#[derive(Default)]
pub struct Inboxes {
    regions: Mutex<HashMap<String, Arc<Mutex<RegionIndex>>>>,
}

impl Inboxes {
    /// The index of database `db` (empty until its first catch-up).
    pub fn region(&self, db: &str) -> Arc<Mutex<RegionIndex>> {
        let mut regions = self
            .regions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(regions.entry(db.to_owned()).or_default())
    }

    /// Drops the index of a deleted database, so its memory is given back at once.
    pub fn forget(&self, db: &str) {
        self.regions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(db);
    }

    /// Catches the index of `store` up and runs `read` on it. Synchronous: call it inside
    /// [`SledStore::blocking`].
    pub fn with_current<T>(
        &self,
        store: &SledStore,
        read: impl FnOnce(&mut RegionIndex) -> T,
    ) -> chaski_shared::Result<T> {
        let index = self.region(store.name());
        let mut index = lock(&index);
        index.catch_up(store)?;
        Ok(read(&mut index))
    }
}

/// Builds the inbox index of every region database in the background (the blocking pool, one
/// region after another), so that the office's first inbox after a restart does not wait for
/// a 50,000-inspection build. A request that comes first simply builds it itself (the other
/// then finds nothing new).
pub fn warm_up(databases: &Databases, inboxes: &Arc<Inboxes>) {
    let stores: Vec<SledStore> = databases
        .list()
        .iter()
        .filter(|db| crate::regions::is_region_db(db))
        .filter_map(|db| databases.get(db))
        .collect();
    if stores.is_empty() {
        return;
    }
    let inboxes = Arc::clone(inboxes);
    tokio::task::spawn_blocking(move || {
        for store in stores {
            let started = std::time::Instant::now();
            match inboxes.with_current(&store, |index| index.inspection_count()) {
                Ok(count) => tracing::info!(
                    db = store.name(),
                    inspections = count,
                    ms = started.elapsed().as_millis() as u64,
                    "office inbox index built"
                ),
                Err(err) => tracing::warn!(db = store.name(), %err, "office inbox index not built"),
            }
        }
    });
}

/// A region's lock, recovered after a panic: a catch-up only changes the index through
/// whole-row assignments, and a half-applied page is simply applied again (rows are keyed by
/// id) because `seq` moves only after a page is applied.
fn lock(index: &Mutex<RegionIndex>) -> MutexGuard<'_, RegionIndex> {
    index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the inbox shows of one inspection, apart from its derived state.
#[derive(Clone, Debug)]
pub struct Summary {
    pub id: String,
    pub rev: String,
    pub submitted: bool,
    pub inspector: Option<String>,
    /// `YYYY-MM-DD` of the visit's start as the device wrote it (the local date), else of
    /// its creation.
    pub visit_date: Option<String>,
    /// `None` also for a value this server does not know (a newer tablet's).
    pub sector: Option<Sector>,
    pub district: Option<String>,
    pub site_name: Option<String>,
    pub code: String,
    pub people_found: usize,
    pub findings: Vec<Finding>,
    /// The indicators seen.
    pub indicators: Vec<Indicator>,
    /// Site name and code folded for search ([`query::fold`]).
    pub search: String,
    /// District folded, for the district filter.
    pub district_key: Option<String>,
}

/// One inbox row: the summary and the derived case.
#[derive(Clone, Debug)]
pub struct Row {
    /// Shared with the index's own entry: one copy per inspection.
    pub summary: Arc<Summary>,
    pub state: CaseState,
    pub last_step_at: Option<Timestamp>,
    /// `last_step_at` in UTC milliseconds (for sorting and waiting days).
    pub last_step_ms: Option<i64>,
}

struct Entry {
    summary: Arc<Summary>,
    case: CaseInspection,
}

/// One region's index.
#[derive(Default)]
pub struct RegionIndex {
    /// The database creation it was built from.
    instance: String,
    /// The changes sequence it has applied.
    seq: u64,
    inspections: HashMap<String, Entry>,
    /// Events by inspection id, then event id (arrival order does not matter).
    events: HashMap<String, BTreeMap<String, CaseEvent>>,
    /// Event id → its inspection, to drop a deleted event.
    event_owner: HashMap<String, String>,
    /// Rows of submitted inspections.
    rows: HashMap<String, Arc<Row>>,
    /// `rows` longest-waiting first (oldest last step, then id), and the facets over them;
    /// rebuilt after a change.
    sorted: Option<Arc<Sorted>>,
}

/// The inbox in order, with its facets: what every query reads.
pub struct Sorted {
    pub rows: Vec<Arc<Row>>,
    /// Every district of the inbox, sorted.
    pub districts: Vec<String>,
    /// Rows per state, in [`CaseState::ALL`] order.
    pub states: Vec<(CaseState, usize)>,
}

impl RegionIndex {
    /// The changes sequence the index has reached.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// How many inspections (submitted or not) the index holds.
    pub fn inspection_count(&self) -> usize {
        self.inspections.len()
    }

    /// Applies every change of `store` since the last catch-up. Synchronous.
    pub fn catch_up(&mut self, store: &SledStore) -> chaski_shared::Result<()> {
        if self.instance != store.instance_start_time() {
            *self = RegionIndex {
                instance: store.instance_start_time().to_owned(),
                ..RegionIndex::default()
            };
        }
        let mut dirty: HashSet<String> = HashSet::new();
        let (reached, _) = store.scan_changes_raw(self.seq, usize::MAX, |change| {
            match (change.deleted, change.body) {
                (false, Some(body)) => self.apply(change.id, change.rev, body, &mut dirty),
                _ => self.remove(change.id, &mut dirty),
            }
        })?;
        self.seq = reached;
        if !dirty.is_empty() {
            for id in dirty {
                self.derive(&id);
            }
            self.sorted = None;
        }
        Ok(())
    }

    /// Indexes the winning revision of `id`, from its stored bytes.
    fn apply(&mut self, id: &str, rev: Option<&RevId>, stored: &[u8], dirty: &mut HashSet<String>) {
        if id.starts_with(INSPECTION_PREFIX) {
            // A change of type (an inspection id holding something else) drops the entry.
            match read_inspection(id, rev, stored) {
                Some((summary, case)) => {
                    let summary = Arc::new(summary);
                    self.inspections
                        .insert(id.to_owned(), Entry { summary, case });
                }
                None => {
                    self.inspections.remove(id);
                }
            }
            dirty.insert(id.to_owned());
        } else if id.starts_with(EVENT_PREFIX) {
            let Some(event) = read_event(id, stored) else {
                // Stored before today's rules (or by a newer server): not counted.
                self.remove(id, dirty);
                return;
            };
            let owner = event.inspection_id.as_str().to_owned();
            self.events
                .entry(owner.clone())
                .or_default()
                .insert(id.to_owned(), event);
            self.event_owner.insert(id.to_owned(), owner.clone());
            dirty.insert(owner);
        }
    }

    fn remove(&mut self, id: &str, dirty: &mut HashSet<String>) {
        if self.inspections.remove(id).is_some() {
            dirty.insert(id.to_owned());
        }
        if let Some(owner) = self.event_owner.remove(id) {
            if let Some(events) = self.events.get_mut(&owner) {
                events.remove(id);
            }
            dirty.insert(owner);
        }
    }

    /// Recomputes the row of inspection `id` from its document and events.
    fn derive(&mut self, id: &str) {
        let Some(entry) = self.inspections.get(id).filter(|e| e.summary.submitted) else {
            self.rows.remove(id);
            return;
        };
        let events: Vec<CaseEvent> = self
            .events
            .get(id)
            .map(|events| events.values().cloned().collect())
            .unwrap_or_default();
        let view = derive_case(Some(&entry.case), &events);
        let last_step_ms = view.last_step_at.as_ref().map(Timestamp::utc_ms);
        self.rows.insert(
            id.to_owned(),
            Arc::new(Row {
                summary: Arc::clone(&entry.summary),
                state: view.state,
                last_step_at: view.last_step_at,
                last_step_ms,
            }),
        );
    }

    /// Every row, longest-waiting first, with the facets.
    pub fn sorted(&mut self) -> Arc<Sorted> {
        let rows = &self.rows;
        Arc::clone(self.sorted.get_or_insert_with(|| {
            let mut sorted: Vec<Arc<Row>> = rows.values().cloned().collect();
            // No last step (no date at all) sorts as "just now": last.
            sorted.sort_by(|a, b| {
                let key = |r: &Row| r.last_step_ms.unwrap_or(i64::MAX);
                key(a)
                    .cmp(&key(b))
                    .then_with(|| a.summary.id.cmp(&b.summary.id))
            });
            let districts: BTreeSet<&str> = sorted
                .iter()
                .filter_map(|r| r.summary.district.as_deref())
                .collect();
            let districts = districts.into_iter().map(str::to_owned).collect();
            let states = CaseState::ALL
                .iter()
                .map(|s| (*s, sorted.iter().filter(|r| r.state == *s).count()))
                .collect();
            Arc::new(Sorted {
                rows: sorted,
                districts,
                states,
            })
        }))
    }
}

/// A stored revision (`StoredRev`), reading only its body.
#[derive(Deserialize)]
struct Stored<T> {
    body: T,
}

/// The fields of an inspection the inbox needs; every other field is skipped unread, so a
/// 50,000-inspection build allocates little. Borrowed where the JSON allows.
#[derive(Deserialize)]
struct InspectionFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    site_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sector: Option<Cow<'a, str>>,
    #[serde(borrow)]
    district: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created_by: Option<Cow<'a, str>>,
    #[serde(borrow)]
    visit_start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    updated_at: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    team: Vec<Member<'a>>,
    #[serde(default, borrow)]
    people: Vec<Person<'a>>,
    #[serde(default, borrow)]
    findings: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    indicators: BTreeMap<Cow<'a, str>, Seen>,
}

#[derive(Deserialize)]
struct Member<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Person<'a> {
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Seen {
    seen: Option<bool>,
}

/// The inbox summary and the case input of inspection `id` from its stored bytes; `None` when
/// it is not an inspection (or not one this server can read: every inspection in a region
/// database passed validation, so that is a document written outside the rules).
fn read_inspection(
    id: &str,
    rev: Option<&RevId>,
    stored: &[u8],
) -> Option<(Summary, CaseInspection)> {
    let fields = match serde_json::from_slice::<Stored<InspectionFields<'_>>>(stored) {
        Ok(stored) => stored.body,
        Err(err) => {
            tracing::warn!(id, %err, "office index: an inspection it cannot read is left out");
            return None;
        }
    };
    if fields.kind.as_deref() != Some(INSPECTION_TYPE) {
        return None;
    }
    let text = |value: &Option<Cow<'_, str>>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let code = text(&fields.code).unwrap_or_else(|| short_code(id));
    let site_name = text(&fields.site_name);
    let district = text(&fields.district);
    let inspector = text(&fields.created_by).or_else(|| {
        fields
            .team
            .first()
            .and_then(|m| text(&m.name).or_else(|| text(&m.id)))
    });
    let visit_date = [&fields.visit_start, &fields.created_at]
        .into_iter()
        .find_map(|t| {
            t.as_deref()
                .filter(|t| Timestamp::parse(t).is_some())
                .and_then(|t| t.get(..10))
                .map(str::to_owned)
        });
    let submitted = fields.status.as_deref() == Some("submitted");
    let person_codes: BTreeSet<PersonCode> = fields
        .people
        .iter()
        .filter_map(|p| p.code.as_deref().and_then(PersonCode::parse))
        .collect();
    let search = query::fold(&format!(
        "{}\u{0}{}",
        site_name.as_deref().unwrap_or_default(),
        code
    ));
    let doc_id = DocId::parse(id).ok()?;
    let case = CaseInspection {
        id: doc_id,
        rev: rev.cloned(),
        submitted,
        person_codes: person_codes.into_iter().collect(),
        updated_at: fields.updated_at.as_deref().and_then(Timestamp::parse),
    };
    let summary = Summary {
        id: id.to_owned(),
        rev: rev.map(ToString::to_string).unwrap_or_default(),
        submitted,
        inspector,
        visit_date,
        sector: fields.sector.as_deref().and_then(Sector::from_name),
        district_key: district.as_deref().map(query::fold),
        district,
        site_name,
        code,
        people_found: fields.people.len(),
        findings: fields
            .findings
            .iter()
            .filter_map(|f| Finding::from_name(f))
            .collect(),
        indicators: fields
            .indicators
            .iter()
            .filter(|(_, o)| o.seen == Some(true))
            .filter_map(|(name, _)| Indicator::from_name(name))
            .collect(),
        search,
    };
    Some((summary, case))
}

/// A case event from its stored bytes; `None` when it is not a valid one.
fn read_event(id: &str, stored: &[u8]) -> Option<CaseEvent> {
    let stored: Stored<Map<String, Value>> = serde_json::from_slice(stored).ok()?;
    let doc = Document::new(DocId::parse(id).ok()?, stored.body);
    CaseEvent::from_document(&doc).ok()
}

/// An inspection's short code: the last 8 characters of its id, upper-case (what the tablet
/// shows and an inspector reads out on the phone).
pub fn short_code(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    chars[chars.len().saturating_sub(8)..]
        .iter()
        .collect::<String>()
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_database_s_index_is_dropped() {
        let inboxes = Inboxes::default();
        let _ = inboxes.region("loreto");
        let _ = inboxes.region("cusco");
        inboxes.forget("loreto");
        let held: Vec<String> = inboxes.regions.lock().unwrap().keys().cloned().collect();
        assert_eq!(held, ["cusco"]);
    }

    #[test]
    fn the_short_code_is_the_id_s_last_eight_characters_upper_case() {
        assert_eq!(
            short_code("inspection:20261128T133000Z-9f2c4e1a00b3d7e5"),
            "00B3D7E5"
        );
        assert_eq!(short_code("abc"), "ABC");
    }
}
