//! The browser half of the sync loop: the task, its timers, the `online` listener and the runs.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::replicate::{DocFailure, ReplicationOptions, ReplicationReport};
use chaski_shared::store::{ChangesOptions, GetOptions};
use chaski_shared::{DocId, Error, LocalDoc, LocalPeer, Replicator, Store};
use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::StreamExt;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{
    database_url, next_backoff, Rejection, SyncPhase, SyncProgress, SyncSession, SyncStatus,
    POLL_MS, REJECTIONS_DOC, SAVE_SYNC_MS,
};
use crate::store::{open_local_store, LocalStore};
use crate::timer::Sleep;

/// What wakes the loop between runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wake {
    /// Run now.
    Now,
    /// Recount pending documents.
    LocalChange,
}

/// The running loop: dropping it closes the channel, which ends the task, and removes the
/// `online` listener.
struct Running {
    wake: mpsc::UnboundedSender<Wake>,
    on_online: Closure<dyn FnMut(web_sys::Event)>,
    /// Set when the loop is replaced: a run still finishing must not touch the status the new
    /// loop now owns.
    stopped: Rc<Cell<bool>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback(
                "online",
                self.on_online.as_ref().unchecked_ref(),
            );
        }
        self.stopped.set(true);
        self.wake.close_channel();
    }
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

pub(super) fn start(store: Rc<LocalStore>, session: SyncSession, status: ArcRwSignal<SyncStatus>) {
    stop();
    let (sender, receiver) = mpsc::unbounded();
    let online_sender = sender.clone();
    let on_online = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
        let _ = online_sender.unbounded_send(Wake::Now);
    });
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    }
    let stopped = Rc::new(Cell::new(false));
    RUNNING.with(|r| {
        *r.borrow_mut() = Some(Running {
            wake: sender,
            on_online,
            stopped: stopped.clone(),
        })
    });
    // The last success survives a restart: an inspector reopening the app offline must not read
    // "never synced" after syncing at sign-in.
    let last_success_ms = load_last_sync(&session.user);
    status.update(|s| {
        *s = SyncStatus {
            active: true,
            last_success_ms,
            ..SyncStatus::default()
        }
    });
    wasm_bindgen_futures::spawn_local(run_loop(store, session, receiver, status, stopped));
}

pub(super) fn stop() {
    let running = RUNNING.with(|r| r.borrow_mut().take());
    drop(running);
}

pub(super) fn wake(what: Wake) {
    RUNNING.with(|r| {
        if let Some(running) = r.borrow().as_ref() {
            let _ = running.wake.unbounded_send(what);
        }
    });
}

/// `localStorage` key of a user's last successful sync (milliseconds since 1970).
fn last_sync_key(user: &str) -> String {
    format!("chaski.last-sync.{user}")
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub(super) fn load_last_sync(user: &str) -> Option<f64> {
    local_storage()?
        .get_item(&last_sync_key(user))
        .ok()
        .flatten()
        .and_then(|text| crate::num::parse(&text))
}

fn save_last_sync(user: &str, ms: f64) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(&last_sync_key(user), &crate::num::fixed(ms, 0));
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn now_secs() -> Option<u64> {
    Some((js_sys::Date::now() / 1000.0) as u64)
}

fn is_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}

/// One region's pair of databases: the local store and the region's database on the server.
struct RegionSync {
    local: LocalPeer<Rc<LocalStore>>,
    remote: HttpPeer,
    /// The documents of this region the server refused, by id (kept in the local store too).
    rejections: RefCell<BTreeMap<String, Rejection>>,
}

/// Everything one session's runs share: the working region first, then the user's others, so
/// a record written before switching regions still reaches the server.
struct Sync {
    regions: Vec<RegionSync>,
    status: ArcRwSignal<SyncStatus>,
    stopped: Rc<Cell<bool>>,
}

/// The page's origin (`http://host:port`), where the server is unless the session names another.
fn page_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

impl RegionSync {
    /// The pair of `store` and the database at `url`, reached with the session's `token`.
    fn new(store: Rc<LocalStore>, url: String, token: &str) -> Result<Self, Error> {
        Ok(RegionSync {
            local: LocalPeer::new(store.name().to_owned(), store),
            remote: HttpPeer::new(url)?.with_auth(Auth::Bearer(token.to_owned())),
            rejections: RefCell::default(),
        })
    }
}

async fn run_loop(
    store: Rc<LocalStore>,
    session: SyncSession,
    mut wake: mpsc::UnboundedReceiver<Wake>,
    status: ArcRwSignal<SyncStatus>,
    stopped: Rc<Cell<bool>>,
) {
    let origin = page_origin();
    let mut stores = vec![(session.region.clone(), Ok(store))];
    for region in &session.other_regions {
        let opened = open_local_store(&session.user, region).await.map(Rc::new);
        stores.push((region.clone(), opened));
    }
    let mut regions = Vec::new();
    for (region, store) in stores {
        let url = session.database_url(&region, &origin);
        match store.and_then(|store| RegionSync::new(store, url, &session.token)) {
            Ok(pair) => regions.push(pair),
            // Only the working region's failure stops the loop: another region's records wait
            // on the device, and the error says why.
            Err(e) => {
                status.update(|s| s.last_error = Some(format!("{region}: {e}")));
                if regions.is_empty() {
                    return;
                }
            }
        }
    }
    let sync = Sync {
        regions,
        status,
        stopped,
    };
    sync.load_rejections().await;
    sync.refresh_pending().await;
    let mut backoff: Option<u32> = None;
    loop {
        let delay = if is_online() {
            match sync.run().await {
                Ok(()) => {
                    backoff = None;
                    if let Some(ms) = sync.status.with_untracked(|s| s.last_success_ms) {
                        save_last_sync(&session.user, ms);
                    }
                    // The app's own failures go to the server with each successful sync.
                    let server = session.origin.as_deref().unwrap_or(&origin);
                    crate::client_errors::send_unsent(server, &session.token).await;
                    POLL_MS
                }
                Err(error) => {
                    let wait = next_backoff(backoff);
                    backoff = Some(wait);
                    sync.set_status(|s| {
                        s.in_progress = None;
                        s.unauthorized = matches!(error, Error::Unauthorized(_));
                        s.last_error = Some(error.to_string());
                        s.retry_at_ms = Some(now_ms() + f64::from(wait));
                    });
                    wait
                }
            }
        } else {
            // Offline: the `online` event wakes the loop; the poll is only a safety net.
            POLL_MS
        };
        let mut sleep = Sleep::new(delay);
        loop {
            match select(&mut sleep, wake.next()).await {
                Either::Left(_) | Either::Right((Some(Wake::Now), _)) => break,
                Either::Right((Some(Wake::LocalChange), _)) => {
                    sync.refresh_pending().await;
                    // A save while online and healthy is sent a few seconds after the last
                    // one (a burst of autosaves makes one run), not at the next poll. After a
                    // failure the backoff stands.
                    if backoff.is_none() && is_online() {
                        sleep = Sleep::new(SAVE_SYNC_MS);
                    }
                }
                // The session ended (sign-out or a new session).
                Either::Right((None, _)) => return,
            }
        }
        if is_closed(&mut wake) {
            return;
        }
    }
}

/// Drains wake-ups that piled up during a run (they are all served by the next run) and says
/// whether the loop was stopped.
fn is_closed(wake: &mut mpsc::UnboundedReceiver<Wake>) -> bool {
    loop {
        match wake.try_recv() {
            Ok(_) => continue,
            Err(e) => return e.is_closed(),
        }
    }
}

/// The replicator's progress callback: one type for every run.
type OnProgress<'a> = &'a mut dyn FnMut(&ReplicationReport);

fn options() -> ReplicationOptions {
    ReplicationOptions {
        now: now_secs,
        ..ReplicationOptions::default()
    }
}

/// Changes read per batch when pulling. Larger than a push's: a first pull of a whole region
/// is thousands of documents, and each batch costs three round trips to the server and one
/// IndexedDB transaction (issue #13: 5,000 documents in 50 batches of 100 spent most of their
/// time waiting on those).
const PULL_BATCH: usize = 250;
/// Pull batches in flight per round: the server answers a batch's `_bulk_get` while the tablet
/// writes the batch before it. Batch × in flight bounds what a pull holds in memory at once,
/// photos inline (`_bulk_get` with attachments: up to 50 photos of 200 KB per inspection), and
/// a cheap tablet must survive it: 500 documents. 250 × 8 (2,000 held) pulled 5,000 small
/// inspections about 15% faster here; 100 × 8 and 125 × 4 were no faster than 250 × 2.
const PULL_IN_FLIGHT: usize = 2;

fn pull_options() -> ReplicationOptions {
    ReplicationOptions {
        batch_size: PULL_BATCH,
        batches_in_flight: PULL_IN_FLIGHT,
        ..options()
    }
}

impl Sync {
    /// Updates the status while this loop is the current one.
    fn set_status(&self, change: impl FnOnce(&mut SyncStatus)) {
        if !self.stopped.get() {
            self.status.update(change);
        }
    }

    fn progress(&self, phase: SyncPhase, report: &ReplicationReport) {
        let progress = SyncProgress {
            phase,
            read: report.docs_read,
            written: report.docs_written,
            pending: report.pending.unwrap_or(0),
        };
        self.set_status(|s| s.in_progress = Some(progress));
    }

    /// One run over every region. A region that fails (its server database is gone, or the
    /// office took the region away) does not stop the others; the run then reports the first
    /// failure.
    async fn run(&self) -> Result<(), Error> {
        self.set_status(|s| s.in_progress = Some(SyncProgress::default()));
        let mut first_error = None;
        for region in &self.regions {
            if self.stopped.get() {
                return Ok(());
            }
            match self.run_region(region).await {
                Ok(failures) => region.record_rejections(failures).await,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.publish_rejections();
        self.refresh_pending().await;
        if let Some(error) = first_error {
            return Err(error);
        }
        self.set_status(|s| {
            s.in_progress = None;
            s.last_error = None;
            s.unauthorized = false;
            s.retry_at_ms = None;
            s.last_success_ms = Some(now_ms());
        });
        Ok(())
    }

    /// Push, pull, and a second push when the pull wrote anything, so that pulled documents
    /// move the push checkpoint and are not counted as pending. Returns the refused documents.
    async fn run_region(&self, region: &RegionSync) -> Result<Vec<DocFailure>, Error> {
        let push = Replicator::new(&region.local, &region.remote, options());
        let pull = Replicator::new(&region.remote, &region.local, pull_options());
        // One callback type for every run, so each direction's replicator is compiled into the
        // wasm once (a closure type per call would make a copy per call).
        let on_push: OnProgress = &mut |r| self.progress(SyncPhase::Push, r);
        let pushed = push.run_once_with_progress(on_push).await?;
        let on_pull: OnProgress = &mut |r| self.progress(SyncPhase::Pull, r);
        let pulled = pull.run_once_with_progress(on_pull).await?;
        let mut failures = pushed.failures;
        if pulled.docs_written > 0 {
            let quiet: OnProgress = &mut |_| {};
            failures.extend(push.run_once_with_progress(quiet).await?.failures);
        }
        Ok(failures)
    }

    /// Counts local changes after each region's push checkpoint: what the server has not
    /// acknowledged. The list's per-record state follows the working region's checkpoint.
    async fn refresh_pending(&self) {
        let mut total = 0;
        let mut working = (0, 0);
        for (i, region) in self.regions.iter().enumerate() {
            if let Some((since, pending)) = region.pending().await {
                total += pending;
                if i == 0 {
                    working = (since, pending);
                }
            }
        }
        self.set_status(|s| {
            s.pending = total;
            (s.pushed_seq, s.working_pending) = working;
        });
    }

    async fn load_rejections(&self) {
        for region in &self.regions {
            region.load_rejections().await;
        }
        self.publish_rejections();
    }

    /// The list shows the working region's records, so the strip shows its rejections.
    fn publish_rejections(&self) {
        if let Some(working) = self.regions.first() {
            let rejections = working.rejections.borrow().clone();
            if self.status.with_untracked(|s| s.rejections != rejections) {
                self.set_status(|s| s.rejections = rejections);
            }
        }
    }
}

/// Counts, straight from the stores rather than from the status, the local changes of `user`
/// in `regions` that the server has not acknowledged. `None` when a store cannot be read.
pub(super) async fn unsynced(user: &str, token: &str, regions: &[String]) -> Option<u64> {
    let origin = page_origin();
    let mut total = 0;
    for region in regions {
        let store = Rc::new(open_local_store(user, region).await.ok()?);
        let pair = RegionSync::new(store, database_url(&origin, region), token).ok()?;
        total += pair.pending().await?.1;
    }
    Some(total)
}

impl RegionSync {
    /// The push checkpoint's source sequence, and how many local changes lie beyond it.
    async fn pending(&self) -> Option<(u64, u64)> {
        let push = Replicator::new(&self.local, &self.remote, options());
        let store = self.local.store();
        let since = match store.get_local(&push.checkpoint_id()).await {
            Ok(Some(doc)) => doc
                .body
                .get("source_last_seq")
                .cloned()
                .and_then(|v| serde_json::from_value::<chaski_shared::Seq>(v).ok())
                .map(|s| s.number())
                .unwrap_or(0),
            _ => 0,
        };
        let opts = ChangesOptions {
            since,
            limit: Some(1),
            ..ChangesOptions::default()
        };
        let changes = store.changes(&opts).await.ok()?;
        Some((since, changes.results.len() as u64 + changes.pending))
    }

    async fn load_rejections(&self) {
        if let Ok(Some(doc)) = self.local.store().get_local(REJECTIONS_DOC).await {
            let rejections = doc
                .body
                .get("rejections")
                .cloned()
                .and_then(|v| serde_json::from_value::<BTreeMap<String, Rejection>>(v).ok())
                .unwrap_or_default();
            *self.rejections.borrow_mut() = rejections;
        }
    }

    /// Adds this run's rejections and drops the ones whose document has since been edited and
    /// accepted (its winner moved on and it was not refused again).
    async fn record_rejections(&self, failures: Vec<DocFailure>) {
        let mut rejections = self.rejections.borrow().clone();
        let before = rejections.clone();
        let mut refused: Vec<String> = failures.iter().map(|f| f.id.clone()).collect();
        chaski_shared::sort::sort_dedup(&mut refused);
        let store = self.local.store();
        let mut accepted = Vec::new();
        for (id, rejection) in &rejections {
            if refused.binary_search(id).is_ok() {
                continue;
            }
            let current = match DocId::parse(id.as_str()) {
                Ok(doc_id) => store
                    .get(&doc_id, &GetOptions::default())
                    .await
                    .ok()
                    .and_then(|d| d.rev)
                    .map(|r| r.to_string()),
                Err(_) => None,
            };
            if current != rejection.rev {
                accepted.push(id.clone());
            }
        }
        for id in accepted {
            rejections.remove(&id);
        }
        for failure in failures {
            rejections.insert(
                failure.id,
                Rejection {
                    rev: failure.rev.map(|r| r.to_string()),
                    error: failure.error,
                    reason: failure.reason,
                },
            );
        }
        if rejections == before {
            return;
        }
        *self.rejections.borrow_mut() = rejections.clone();
        // Kept on the device: the push checkpoint has moved past these documents, so no later
        // run would report them again.
        let current = store
            .get_local(REJECTIONS_DOC)
            .await
            .ok()
            .flatten()
            .and_then(|d| d.rev);
        let body = serde_json::json!({ "rejections": rejections });
        if let Ok(mut doc) = LocalDoc::new(REJECTIONS_DOC, chaski_shared::store::body(body)) {
            doc.rev = current;
            let _ = store.put_local(doc).await;
        }
    }
}
