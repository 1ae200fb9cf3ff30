//! The inspections on this device, as the pages see them: a compact index for the list, and
//! load / save / resolve on the local store.
//!
//! Pages never hold the store themselves: they go through [`Records`], which opens the device's
//! store once, keeps a small summary of every inspection in memory (so filtering 5,000 records
//! is a scan of short strings, not 5,000 document reads) and refreshes it after every write from
//! the store's persisted list index ([`crate::store::list`]), reading only the slim entries
//! written since the last read: opening the app reads the whole list in one `getAll` without
//! parsing a single stored document.

use std::collections::HashMap;
use std::rc::Rc;

use chaski_shared::domain::{
    case_summary, new_inspection_id, CaseEvent, CaseInspection, CaseSummary, Choice, Region,
    Sector, Status,
};
use chaski_shared::store::GetOptions;
use chaski_shared::{DocId, Document, Error, RevId, Store};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value};

use crate::session::Session;
use crate::store::{list_since, open_local_store, LocalStore};

/// Where a record stands with the server, as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Written here and not yet sent.
    LocalOnly,
    /// The server has this revision.
    Synced,
    /// Competing versions exist: a person must choose.
    Conflict,
    /// The server refused it, with its reason.
    Rejected(String),
}

impl SyncState {
    /// The `data-sync-state` attribute value (stable, for styles and tests).
    pub fn code(&self) -> &'static str {
        match self {
            SyncState::LocalOnly => "local",
            SyncState::Synced => "synced",
            SyncState::Conflict => "conflict",
            SyncState::Rejected(_) => "rejected",
        }
    }
}

/// One line of the list: what is shown and searched, nothing more.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub id: String,
    /// The store sequence of the latest change: compared with what the sync loop pushed.
    pub seq: u64,
    pub site: String,
    pub district: String,
    pub region: Option<Region>,
    pub sector: Option<Sector>,
    pub status: Status,
    /// When the visit began (RFC 3339 as written): what the inspector knows a record by.
    pub visit_start: String,
    /// When it was last edited (RFC 3339 as written), shown second.
    pub updated_at: String,
    pub has_conflicts: bool,
    /// What the case's derivation needs from this revision (`None` for an unreadable one).
    pub case: Option<CaseInspection>,
    /// Lowercased site, district and locality: what the search box matches.
    haystack: String,
}

impl Summary {
    /// Builds the summary of an inspection document.
    pub fn of(doc: &Document, seq: u64) -> Summary {
        let text = |key: &str| {
            doc.body
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let choice = |key: &str| doc.body.get(key).and_then(Value::as_str);
        let site = text("site_name");
        let district = text("district");
        let haystack = fold(&format!("{site} {district} {}", text("locality")));
        Summary {
            id: doc.id.as_str().to_string(),
            seq,
            site,
            district,
            region: choice("region").and_then(Region::from_name),
            sector: choice("sector").and_then(Sector::from_name),
            status: choice("status")
                .and_then(Status::from_name)
                .unwrap_or(Status::Draft),
            visit_start: text("visit_start"),
            updated_at: text("updated_at"),
            has_conflicts: !doc.conflicts.is_empty(),
            case: CaseInspection::from_document(doc),
            haystack,
        }
    }

    /// This record's sync state, given how far the sync loop has pushed and what it rejected.
    pub fn sync_state(&self, pushed_seq: u64, rejected: &HashMap<String, String>) -> SyncState {
        if self.has_conflicts {
            SyncState::Conflict
        } else if let Some(reason) = rejected.get(&self.id) {
            SyncState::Rejected(reason.clone())
        } else if self.seq > pushed_seq {
            SyncState::LocalOnly
        } else {
            SyncState::Synced
        }
    }
}

/// What the inspector searches for in the list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub text: String,
    pub region: Option<Region>,
    pub sector: Option<Sector>,
    pub status: Option<StatusFilter>,
}

/// The list's status filter: the record's own status, or where it stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Draft,
    Submitted,
    NotSynced,
    Conflict,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::Draft,
        StatusFilter::Submitted,
        StatusFilter::NotSynced,
        StatusFilter::Conflict,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StatusFilter::Draft => "draft",
            StatusFilter::Submitted => "submitted",
            StatusFilter::NotSynced => "not_synced",
            StatusFilter::Conflict => "conflict",
        }
    }

    pub fn from_code(code: &str) -> Option<StatusFilter> {
        StatusFilter::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl Filter {
    /// Whether `s` matches; `pushed_seq` decides "not synced".
    pub fn matches(&self, s: &Summary, pushed_seq: u64) -> bool {
        let needle = fold(self.text.trim());
        (needle.is_empty() || s.haystack.contains(&needle))
            && self.region.is_none_or(|r| s.region == Some(r))
            && self.sector.is_none_or(|x| s.sector == Some(x))
            && match self.status {
                None => true,
                Some(StatusFilter::Draft) => s.status == Status::Draft,
                Some(StatusFilter::Submitted) => s.status == Status::Submitted,
                Some(StatusFilter::NotSynced) => s.seq > pushed_seq,
                Some(StatusFilter::Conflict) => s.has_conflicts,
            }
    }
}

/// Adds pulled events to their inspections' lists, once each (a change read twice is the
/// same event).
pub fn add_events(by_case: &mut HashMap<String, Vec<CaseEvent>>, events: Vec<CaseEvent>) {
    for event in events {
        let list = by_case
            .entry(event.inspection_id.as_str().to_string())
            .or_default();
        list.retain(|e| e.id != event.id);
        list.push(event);
    }
}

/// The case an inspection and its events make, as far as the tablet shows it (its state and
/// the note to answer): one once it has been submitted or the office has written about it.
pub fn case_view(
    inspection: Option<&CaseInspection>,
    events: Option<&[CaseEvent]>,
) -> Option<CaseSummary> {
    let events = events.unwrap_or_default();
    let submitted = inspection.is_some_and(|i| i.submitted);
    (submitted || !events.is_empty()).then(|| case_summary(inspection, events))
}

/// Lowercase without the accents an inspector may or may not type (`Huánuco` ~ `huanuco`).
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// What list entries (with their sequences) change in the index: summaries to insert or
/// replace, ids to remove, and case events. The entries are the list's
/// ([`crate::store::list`]): inspections and case events only.
pub fn apply_entries(rows: Vec<(u64, Document)>) -> (Vec<Summary>, Vec<String>, Vec<CaseEvent>) {
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut events = Vec::new();
    for (seq, doc) in rows {
        if doc.id.as_str().starts_with("event:") {
            // Events are written once and never deleted; one that does not parse is not shown
            // (the server refuses such events anyway).
            if !doc.deleted {
                if let Ok(event) = CaseEvent::from_document(&doc) {
                    events.push(event);
                }
            }
        } else if doc.deleted {
            removed.push(doc.id.as_str().to_string());
        } else {
            changed.push(Summary::of(&doc, seq));
        }
    }
    (changed, removed, events)
}

/// Inserts or replaces summaries and keeps the index newest first. Inspection ids begin with
/// their creation time, so sorting ids in reverse is sorting by creation, newest first.
pub fn merge_into(index: &mut Vec<Summary>, changed: Vec<Summary>, removed: &[String]) {
    if changed.is_empty() && removed.is_empty() {
        return;
    }
    let mut by_id: HashMap<String, Summary> = index.drain(..).map(|s| (s.id.clone(), s)).collect();
    for id in removed {
        by_id.remove(id);
    }
    for s in changed {
        by_id.insert(s.id.clone(), s);
    }
    index.extend(by_id.into_values());
    chaski_shared::sort::sort_by(index, |a, b| b.id.cmp(&a.id));
}

/// The device's inspections, shared by context. `Copy`: every field is an arena handle.
#[derive(Clone, Copy)]
pub struct Records {
    store: StoredValue<Option<Rc<LocalStore>>, LocalStorage>,
    /// The store is open (tracked): pages wait for it before loading.
    ready: RwSignal<bool>,
    /// Why the store could not be opened, if it could not.
    open_error: RwSignal<Option<String>>,
    index: RwSignal<Vec<Summary>>,
    /// The office's case events (reviews, "has issues" notes…), by inspection id: sync pulls
    /// them with the region's records, and the list and the record show the case from them.
    events: RwSignal<HashMap<String, Vec<CaseEvent>>>,
    last_seq: StoredValue<u64>,
    refreshing: StoredValue<bool>,
    again: StoredValue<bool>,
}

impl Records {
    /// Provides the context; the store opens once someone is signed in (each user and region
    /// has its own database) and reopens when the user or the working region changes.
    pub fn provide(session: Session) -> Records {
        let records = Records {
            store: StoredValue::new_local(None),
            ready: RwSignal::new(false),
            open_error: RwSignal::new(None),
            index: RwSignal::new(Vec::new()),
            events: RwSignal::new(HashMap::new()),
            last_seq: StoredValue::new(0),
            refreshing: StoredValue::new(false),
            again: StoredValue::new(false),
        };
        provide_context(records);
        Effect::new(move |_| {
            // Tracked: who is signed in (user, token, role, regions) and the working region;
            // not the rest of the profile, so a new sealing key leaves the store open.
            session.who();
            let region = session.region();
            crate::sync::stop_sync_loop();
            records.store.set_value(None);
            records.ready.set(false);
            records.index.set(Vec::new());
            records.events.set(HashMap::new());
            records.last_seq.set_value(0);
            // Signed out, or an account with no region (no database to keep records in: the
            // list says so).
            let (Some(region), Some(sync)) = (region, session.sync_session()) else {
                return;
            };
            // The office's users work in the office app: a whole region must not be copied
            // into this browser.
            if session.is_office() {
                return;
            }
            session.choose_region(&region);
            crate::sync::show_last_sync(&sync.user);
            spawn_local(async move {
                match open_local_store(&sync.user, &sync.region).await {
                    Ok(store) => {
                        let store = Rc::new(store);
                        records.store.set_value(Some(store.clone()));
                        records.open_error.set(None);
                        records.ready.set(true);
                        // The list first: a sync run reads and writes the same store, and the
                        // inspector opening the app waits for the list, not for the server.
                        records.refresh().await;
                        after_next_paint().await;
                        if records.store().is_some_and(|s| Rc::ptr_eq(&s, &store)) {
                            crate::sync::start_sync_loop(store, sync);
                        }
                    }
                    Err(e) => records.open_error.set(Some(e.to_string())),
                }
            });
        });
        records
    }

    /// Whether the store is open (tracked).
    pub fn ready(self) -> bool {
        self.ready.get()
    }

    /// Why the store failed to open (tracked).
    pub fn open_error(self) -> Option<String> {
        self.open_error.get()
    }

    /// The summaries, newest first (tracked).
    pub fn index(self) -> RwSignal<Vec<Summary>> {
        self.index
    }

    /// The case of inspection `id` as the events on this device make it (tracked): `None` for
    /// a record that is not a case (a draft never sent back by the office).
    pub fn case_of(self, id: &str) -> Option<CaseSummary> {
        let inspection = self.index.with(|index| {
            index
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.case.clone())
        });
        self.events
            .with(|by_case| case_view(inspection.as_ref(), by_case.get(id).map(Vec::as_slice)))
    }

    /// The case of a list row (tracked: the events).
    pub fn case_for(self, summary: &Summary) -> Option<CaseSummary> {
        self.events.with(|by_case| {
            case_view(
                summary.case.as_ref(),
                by_case.get(&summary.id).map(Vec::as_slice),
            )
        })
    }

    /// The open store, if it is open (and the app that owns these records still exists: a
    /// refresh still running when a test unmounts the app finds nothing, rather than panicking).
    pub fn store(self) -> Option<Rc<LocalStore>> {
        self.store.try_get_value().flatten()
    }

    fn open_store(self) -> Result<Rc<LocalStore>, Error> {
        self.store()
            .ok_or_else(|| Error::BadRequest("the device's store is not open yet".into()))
    }

    /// Reads the changes since the last refresh into the index. Call after any write, including
    /// the sync loop's.
    pub async fn refresh(self) {
        if self.store().is_none() {
            return;
        }
        // One reader at a time; a call that arrives meanwhile asks it to read once more, so a
        // write made while a page was being read is never missed.
        if self.refreshing.try_get_value().unwrap_or(true) {
            self.again.try_set_value(true);
            return;
        }
        self.refreshing.try_set_value(true);
        loop {
            self.again.try_set_value(false);
            self.read_changes().await;
            if !self.again.try_get_value().unwrap_or(false) {
                break;
            }
        }
        self.refreshing.try_set_value(false);
    }

    /// Reads the list entries written since the last read into the index: the persisted list
    /// index (one `getAll` of slim entries, see [`crate::store::list`]), never whole documents.
    async fn read_changes(self) {
        let Some(store) = self.store() else { return };
        let Some(since) = self.last_seq.try_get_value() else {
            return;
        };
        let Ok(rows) = list_since(&store, since).await else {
            return;
        };
        // The user or the working region changed while the entries were read: they belong to
        // the previous store and must not enter the new index.
        if !self
            .store()
            .is_some_and(|current| Rc::ptr_eq(&current, &store))
        {
            return;
        }
        let Some(last) = rows.iter().map(|(seq, _)| *seq).max() else {
            return;
        };
        let (changed, removed, events) = apply_entries(rows);
        if !events.is_empty() {
            self.events.update(|by_case| add_events(by_case, events));
        }
        self.index
            .update(|index| merge_into(index, changed, &removed));
        self.last_seq.set_value(last.max(since));
    }

    /// The winning revision with its conflicts and photo bytes.
    pub async fn load(self, id: &str) -> Result<Document, Error> {
        let store = self.open_store()?;
        let id = DocId::parse(id)?;
        let opts = GetOptions {
            conflicts: true,
            attachments: true,
            ..GetOptions::default()
        };
        store.get(&id, &opts).await
    }

    /// One specific revision (for the conflict view).
    pub async fn load_rev(self, id: &str, rev: &RevId) -> Result<Document, Error> {
        let store = self.open_store()?;
        let id = DocId::parse(id)?;
        let opts = GetOptions {
            rev: Some(rev.clone()),
            ..GetOptions::default()
        };
        store.get(&id, &opts).await
    }

    /// Writes `doc` as a new edit on `doc.rev`; returns the new revision.
    pub async fn save(self, doc: Document) -> Result<RevId, Error> {
        let store = self.open_store()?;
        let mut results = store.bulk_docs(vec![doc], true).await?;
        let result = results.pop().ok_or_else(Error::missing)?;
        if let Some(e) = result.error {
            return Err(e);
        }
        crate::sync::notify_local_change();
        spawn_local(self.refresh());
        result.rev.ok_or_else(Error::missing)
    }

    /// Ends a conflict: `merged` becomes a new revision on top of `winner`, and every other
    /// leaf is closed with a deletion, in one batch so no device sees half a resolution.
    pub async fn resolve(
        self,
        mut merged: Document,
        winner: RevId,
        losers: Vec<RevId>,
    ) -> Result<(), Error> {
        let store = self.open_store()?;
        merged.rev = Some(winner);
        merged.conflicts.clear();
        let mut batch = vec![merged.clone()];
        for loser in losers {
            let mut tomb = Document::new(merged.id.clone(), Map::new());
            tomb.rev = Some(loser);
            tomb.deleted = true;
            batch.push(tomb);
        }
        for result in store.bulk_docs(batch, true).await? {
            if let Some(e) = result.error {
                return Err(e);
            }
        }
        crate::sync::notify_local_change();
        // Resolved conflicts should reach the other devices without waiting for the next poll.
        crate::sync::sync_now();
        spawn_local(self.refresh());
        Ok(())
    }
}

/// Resolves once the browser has drawn the next frame (an animation frame, then a task after
/// it, or 100 ms in a hidden page), so that work started afterwards does not hold back the list
/// the inspector is waiting for. Resolves at once where there is no window (host tests).
async fn after_next_paint() {
    #[cfg(target_arch = "wasm32")]
    {
        let Some(window) = web_sys::window() else {
            return;
        };
        // A hidden page draws no frames: the timer then ends the wait.
        let frame = js_sys::Promise::new(&mut |resolve, _| {
            let _ = window.request_animation_frame(&resolve);
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 100);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(frame).await;
        crate::timer::Sleep::new(0).await;
    }
}

/// The records handle provided at the root of the app.
pub fn use_records() -> Records {
    expect_context::<Records>()
}

/// A fresh id for a new inspection: creation time, then 64 random bits.
pub fn new_id() -> DocId {
    let mut entropy = [0u8; 8];
    for byte in &mut entropy {
        *byte = (js_sys::Math::random() * 256.0) as u8;
    }
    new_inspection_id(js_sys::Date::now() as i64, entropy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaski_shared::store::body;
    use serde_json::json;

    fn summary(id: &str, site: &str, region: &str, seq: u64) -> Summary {
        let doc = Document::new(
            DocId::parse(id).unwrap(),
            body(
                json!({"type": "inspection", "site_name": site, "region": region,
                        "sector": "gold_mining", "status": "draft"}),
            ),
        );
        Summary::of(&doc, seq)
    }

    #[test]
    fn a_summary_from_a_list_entry_equals_the_summary_from_the_whole_document() {
        let id = "inspection:20261130T120000Z-0011223344556677";
        let mut doc = Document::new(
            DocId::parse(id).unwrap(),
            body(
                json!({"type": "inspection", "site_name": "Ladrillera Señor", "status": "submitted",
                        "region": "madre-de-dios", "sector": "brick_making", "district": "Tambopata",
                        "locality": "Km 15", "visit_start": "2026-11-20T08:00:00-05:00",
                        "updated_at": "2026-11-21T08:00:00-05:00", "notes": "x".repeat(500),
                        "people": [{"code": "P2", "role": "worker"}, {"code": "P1"}]}),
            ),
        );
        doc.rev = Some("3-abc".parse().unwrap());
        doc.conflicts = vec!["3-abd".parse().unwrap()];
        let entry = crate::store::list::entry_of(&doc).unwrap();
        assert_eq!(Summary::of(&entry, 7), Summary::of(&doc, 7));
        let (changed, removed, events) = apply_entries(vec![(7, entry)]);
        assert_eq!(changed, vec![Summary::of(&doc, 7)]);
        assert!(removed.is_empty() && events.is_empty());
    }

    #[test]
    fn the_index_stays_newest_first_and_replaces_by_id() {
        let mut index = vec![];
        merge_into(
            &mut index,
            vec![
                summary("inspection:20260101T000000Z-01", "A", "loreto", 1),
                summary("inspection:20260301T000000Z-01", "B", "loreto", 2),
            ],
            &[],
        );
        merge_into(
            &mut index,
            vec![summary("inspection:20260101T000000Z-01", "A2", "loreto", 3)],
            &["inspection:20260301T000000Z-01".into()],
        );
        assert_eq!(index.len(), 1);
        assert_eq!(index[0].site, "A2");
    }

    #[test]
    fn search_ignores_case_and_accents_and_combines_filters() {
        let s = summary("inspection:x", "Campamento Huepetuhe", "madre-de-dios", 5);
        let f = |text: &str| Filter {
            text: text.into(),
            ..Filter::default()
        };
        assert!(f("HUEPETUHE").matches(&s, 0));
        assert!(f("huepetuhé").matches(&s, 0));
        assert!(!f("loreto").matches(&s, 0));
        let by_region = Filter {
            region: Some(Region::Loreto),
            ..Filter::default()
        };
        assert!(!by_region.matches(&s, 0));
        let not_synced = Filter {
            status: Some(StatusFilter::NotSynced),
            ..Filter::default()
        };
        assert!(not_synced.matches(&s, 4));
        assert!(!not_synced.matches(&s, 5));
    }

    fn event(inspection: &str, key: &str, body: serde_json::Value) -> CaseEvent {
        let id = DocId::parse(format!("event:{inspection}:{key}")).unwrap();
        let mut body = body.as_object().unwrap().clone();
        body.insert("type".into(), json!("case_event"));
        body.insert("inspection".into(), json!(inspection));
        body.insert("by".into(), json!("sara"));
        CaseEvent::from_document(&Document::new(id, body)).unwrap()
    }

    #[test]
    fn a_record_is_a_case_once_submitted_or_written_about_and_events_count_once() {
        let id = "inspection:20261130T120000Z-0011223344556677";
        let mut doc = Document::new(
            DocId::parse(id).unwrap(),
            body(json!({"type": "inspection", "status": "draft"})),
        );
        doc.rev = Some("1-aaa".parse().unwrap());
        let draft = Summary::of(&doc, 1);
        assert_eq!(case_view(draft.case.as_ref(), None), None);

        let note = event(
            id,
            "20261130T130000Z-01",
            json!({"kind": "has_issues", "at": "2026-11-30T13:00:00Z",
                   "inspection_rev": "1-aaa", "note": "Falta el distrito."}),
        );
        let mut by_case = HashMap::new();
        // Read twice (a change seen again after a restart): still one event.
        add_events(&mut by_case, vec![note.clone()]);
        add_events(&mut by_case, vec![note]);
        assert_eq!(by_case[id].len(), 1);
        let view = case_view(draft.case.as_ref(), Some(&by_case[id])).unwrap();
        assert_eq!(view.state, chaski_shared::domain::CaseState::HasIssues);
        assert_eq!(view.open_issues.unwrap().note, "Falta el distrito.");

        doc.body.insert("status".into(), json!("submitted"));
        let submitted = Summary::of(&doc, 2);
        assert_eq!(
            case_view(submitted.case.as_ref(), None).map(|c| c.state),
            Some(chaski_shared::domain::CaseState::AwaitingReview)
        );
    }

    #[test]
    fn sync_state_prefers_conflict_then_rejection() {
        let s = summary("inspection:x", "A", "loreto", 5);
        let mut rejected = HashMap::new();
        assert_eq!(s.sync_state(4, &rejected), SyncState::LocalOnly);
        assert_eq!(s.sync_state(5, &rejected), SyncState::Synced);
        rejected.insert("inspection:x".to_string(), "bad".to_string());
        assert_eq!(
            s.sync_state(5, &rejected),
            SyncState::Rejected("bad".into())
        );
    }
}
