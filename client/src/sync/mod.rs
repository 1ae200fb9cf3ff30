//! Keeping the tablet and the server in step: the sync loop and the [`SyncStatus`] the UI shows.
//!
//! One loop per signed-in session runs the shared [`Replicator`](chaski_shared::Replicator) between
//! the local stores and the server's databases, the working region first and then the user's
//! other regions: push, then pull. It runs at start,
//! on the browser's `online` event, on [`sync_now`], [`SAVE_SYNC_MS`] after the last local save
//! while online, and every [`POLL_MS`] while online; after a
//! failure it waits [`BACKOFF_MIN_MS`] doubling up to [`BACKOFF_MAX_MS`], and a success resets the
//! wait. Runs never overlap: the loop is a single task that runs them one after another.
//!
//! A document the server rejects (the replicator's failures) is listed in
//! [`SyncStatus::rejections`] with the server's reason, kept on the device, and never stops the
//! other documents; it leaves the list when a later edit of it is accepted.
//!
//! # For the UI
//! - [`sync_status`]: the signal to render (pending count, last success, progress, errors,
//!   rejections).
//! - [`start_sync_loop`] after sign-in (and at start for a signed-in inspector),
//!   [`stop_sync_loop`] at sign-out.
//! - [`sync_now`] for the button; [`notify_local_change`] after each local save, so the pending
//!   count follows the inspector's edits without waiting for the next run.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(target_arch = "wasm32")]
mod driver;

/// Time between runs while online and healthy.
pub const POLL_MS: u32 = 20_000;
/// Quiet time after the last local save before a run sends it (while online and healthy).
pub const SAVE_SYNC_MS: u32 = 3_000;
/// The first wait after a failed run.
pub const BACKOFF_MIN_MS: u32 = 2_000;
/// The longest wait between failed runs.
pub const BACKOFF_MAX_MS: u32 = 300_000;

/// The id of the local document that keeps rejections across reloads.
pub const REJECTIONS_DOC: &str = "_local/chaski-rejections";

/// Which half of a run is moving documents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPhase {
    /// Local → server.
    #[default]
    Push,
    /// Server → local.
    Pull,
}

/// Counts of the run in progress, for a long first sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Push or pull.
    pub phase: SyncPhase,
    /// Documents read from the source so far in this phase.
    pub read: u64,
    /// Documents written to the target so far in this phase.
    pub written: u64,
    /// Changes the source still has after the last batch read.
    pub pending: u64,
}

/// A document revision the server refused, with its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The refused revision.
    pub rev: Option<String>,
    /// CouchDB's `error` (e.g. `forbidden`).
    pub error: String,
    /// The server's reason, for a person.
    pub reason: String,
}

/// What the sync status strip shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncStatus {
    /// Whether a loop is running (a session is signed in).
    pub active: bool,
    /// Local documents with changes the server has not acknowledged, in all the user's regions.
    pub pending: u64,
    /// The part of `pending` in the working region (the records the list shows).
    pub working_pending: u64,
    /// The working region's local store sequence up to which the server has everything (the push
    /// checkpoint): a document whose local `seq` is above it is pending.
    pub pushed_seq: u64,
    /// When the last run succeeded, in milliseconds since 1970 (JavaScript's `Date.now()`).
    pub last_success_ms: Option<f64>,
    /// The run in progress, if any.
    pub in_progress: Option<SyncProgress>,
    /// Why the last run failed (`None` after a success).
    pub last_error: Option<String>,
    /// The server refused the session's token: sign in again.
    pub unauthorized: bool,
    /// When the loop will try again after a failure, in milliseconds since 1970.
    pub retry_at_ms: Option<f64>,
    /// Documents of the working region the server rejected, by id.
    pub rejections: BTreeMap<String, Rejection>,
}

/// What the loop needs to reach the server for a signed-in inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncSession {
    /// The signed-in user's name (local databases are per user and region).
    pub user: String,
    /// The working region's database name on the server (e.g. `madre-de-dios`).
    pub region: String,
    /// The user's other regions: synced too, after the working one.
    pub other_regions: Vec<String>,
    /// The bearer token from `POST /api/login`.
    pub token: String,
    /// The server's origin (`https://host`); `None` for the page's own origin.
    pub origin: Option<String>,
}

impl SyncSession {
    /// The URL of `region`'s database, `<origin>/db/<region>`, on the session's server (the
    /// page's own origin unless it names another).
    pub fn database_url(&self, region: &str, page_origin: &str) -> String {
        database_url(self.origin.as_deref().unwrap_or(page_origin), region)
    }
}

/// The URL of `region`'s database on the server at `origin`: `<origin>/db/<region>`.
pub fn database_url(origin: &str, region: &str) -> String {
    format!("{}/db/{region}", origin.trim_end_matches('/'))
}

thread_local! {
    // One status for the app's lifetime, so the UI can subscribe before a session starts.
    static STATUS: ArcRwSignal<SyncStatus> = ArcRwSignal::new(SyncStatus::default());
}

/// The sync status signal (the same one for every call).
pub fn sync_status() -> ArcRwSignal<SyncStatus> {
    STATUS.with(Clone::clone)
}

/// Starts syncing `store` with the server for `session`, stopping any loop already running.
/// In native builds (host tests) there is no loop and this does nothing.
pub fn start_sync_loop(store: std::rc::Rc<crate::store::LocalStore>, session: SyncSession) {
    #[cfg(target_arch = "wasm32")]
    driver::start(store, session, sync_status());
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (store, session);
}

/// Shows `user`'s last successful sync, kept on the device, at once: the loop starts only after
/// the list is drawn, and an inspector reopening the app offline must not read "never synced"
/// meanwhile.
pub fn show_last_sync(user: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        let last = driver::load_last_sync(user);
        sync_status().update(|s| s.last_success_ms = last);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = user;
}

/// Stops the loop (sign-out). A run in progress stops at its next step; checkpoints keep what it
/// already moved.
pub fn stop_sync_loop() {
    #[cfg(target_arch = "wasm32")]
    driver::stop();
    sync_status().update(|s| {
        s.active = false;
        s.in_progress = None;
    });
}

/// Runs a sync as soon as the current one (if any) ends, ignoring any backoff wait.
pub fn sync_now() {
    #[cfg(target_arch = "wasm32")]
    driver::wake(driver::Wake::Now);
}

/// Tells the loop a document was saved locally: the pending count is recounted, and while
/// online a run starts [`SAVE_SYNC_MS`] after the last such change.
pub fn notify_local_change() {
    #[cfg(target_arch = "wasm32")]
    driver::wake(driver::Wake::LocalChange);
}

/// How many local changes of `user` in `regions` the server has not acknowledged, counted from
/// the stores themselves (sign-out must not trust a count that a save made a moment ago has
/// not reached yet). `None` when it cannot be known: treat it as "some".
pub async fn unsynced_count(user: &str, token: &str, regions: &[String]) -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    return driver::unsynced(user, token, regions).await;
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (user, token, regions);
        None
    }
}

/// The next wait after a failure, given the previous one.
pub fn next_backoff(previous: Option<u32>) -> u32 {
    previous
        .map(|ms| ms.saturating_mul(2).min(BACKOFF_MAX_MS))
        .unwrap_or(BACKOFF_MIN_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_five_minutes() {
        let mut wait = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let next = next_backoff(wait);
            seen.push(next / 1000);
            wait = Some(next);
        }
        assert_eq!(seen, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }

    #[test]
    fn the_database_url_is_under_db_on_the_page_origin_unless_given() {
        let mut session = SyncSession {
            user: "ana".into(),
            region: "madre-de-dios".into(),
            other_regions: vec![],
            token: "t".into(),
            origin: None,
        };
        assert_eq!(
            session.database_url(&session.region, "http://localhost:8080"),
            "http://localhost:8080/db/madre-de-dios"
        );
        session.origin = Some("https://chaski.example/".into());
        assert_eq!(
            session.database_url("madre-de-dios", "http://ignored"),
            "https://chaski.example/db/madre-de-dios"
        );
    }
}
