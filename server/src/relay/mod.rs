//! The continuous relay: this server's databases copied to and from another CouchDB-compatible
//! server (the national office's Chaski, an Apache CouchDB cluster, a pouchdb-server), as set
//! in the configuration file's `[[relay]]` entries.
//!
//! # How
//! Each relay runs one task per database and direction ("leg"): push (this server → target)
//! and pull (target → this server); `both` runs the two. A leg loops:
//! 1. one [`Replicator::run_once`] of the shared replicator, this side being [`LocalDb`] (the
//!    sled store directly; see `local.rs` for why not loopback HTTP) and the other an
//!    [`HttpPeer`]; it resumes from the `_local` checkpoints both sides keep, so a restart of
//!    either server starts where the last run stopped and writes nothing twice;
//! 2. then waits for the source to change: this server's own update sequence (a `watch`
//!    that every durable write bumps) for push, `_changes?feed=longpoll` on the target for pull (30 s polls).
//!    A record reaches the other side within one run of arriving;
//! 3. on failure, waits 2 s, doubling up to 5 minutes, each wait ±20 % at random so that
//!    many regions do not all knock on the national server in the same second; then 1.
//!
//! Nothing in here blocks a tokio worker: sled work runs on the blocking pool (the store's own
//! calls), the rest is network I/O. Every leg stops when the server stops (its `stop` signal),
//! wherever it is; the replicator loses nothing by being stopped.
//!
//! # Status
//! Each leg's state is kept in memory ([`Relays::status`], `GET /api/relay`): `idle`
//! (caught up, following the source), `replicating`, `backing_off` (a failure worth retrying
//! by itself: the target unreachable or failing), `error` (a failure a person must fix: bad
//! credentials, no such database, not CouchDB; still retried at the back-off pace), the last
//! success, the documents pending (the source's update sequence minus the checkpoint) and the
//! last error in words.

mod local;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaski_shared::peer::{transport_error as transport, Auth, HttpPeer, Peer};
use chaski_shared::replicate::{ReplicationOptions, ReplicationReport, Replicator};
use chaski_shared::wire::Seq;
use chaski_shared::Error;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use local::LocalDb;

use crate::auth::{Principal, Role};
use crate::config::{Direction, RelayConfig};
use crate::db::{Databases, SledStore};
use crate::routes::couch::Limits;

/// First wait after a failure; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// Longest wait after failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a longpoll on the target waits for a change before asking again: below the idle
/// timeouts of the proxies in front of servers (often 60 s), one small request per leg every
/// half minute when nothing happens.
const LONGPOLL: Duration = Duration::from_secs(30);

/// The least time between two longpolls of a target that answered with no change: a server
/// that ignores `feed=longpoll` and answers at once is not polled in a tight loop.
const MIN_POLL: Duration = Duration::from_secs(1);

/// What a leg is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegState {
    Idle,
    Replicating,
    BackingOff,
    Error,
}

/// One leg's status, as `GET /api/relay` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LegStatus {
    /// The relay's name in the configuration.
    pub name: String,
    /// This server's database.
    pub db: String,
    /// The database's URL at the target (no credentials).
    pub target: String,
    /// `push` or `pull` (a `both` relay shows one row of each).
    pub direction: Direction,
    pub state: LegState,
    /// When a run last completed (RFC 3339, UTC), `null` before the first.
    pub last_success: Option<String>,
    /// The source's update sequence minus the checkpoint, once known.
    pub pending: Option<u64>,
    /// The last failure in words, `null` once a run succeeds with nothing refused.
    pub last_error: Option<String>,
    /// Revisions written to the target since the server started.
    pub docs_written: u64,
    /// Revisions the target refused since the server started (each named in the log).
    pub doc_write_failures: u64,
}

/// The status of every leg; shared by the legs and the `/api/relay` handler.
#[derive(Default)]
pub struct Relays {
    legs: Mutex<Vec<LegStatus>>,
}

impl Relays {
    /// A copy of every leg's status, in configuration order.
    pub fn status(&self) -> Vec<LegStatus> {
        self.lock().clone()
    }

    // A std Mutex: held for a copy or a field update, never across an `.await`.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LegStatus>> {
        self.legs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, status: LegStatus) -> usize {
        let mut legs = self.lock();
        legs.push(status);
        legs.len() - 1
    }

    fn update(&self, leg: usize, change: impl FnOnce(&mut LegStatus)) {
        if let Some(status) = self.lock().get_mut(leg) {
            change(status);
        }
    }
}

/// Every database a relay names that this server does not have, in words that name the
/// configuration file's line; `Ok` when all exist.
pub fn check_databases(relays: &[RelayConfig], databases: &Databases) -> Result<(), String> {
    for relay in relays {
        for db in &relay.databases {
            if databases.get(db).is_none() {
                let have = databases.list();
                return Err(format!(
                    "{}: relay {:?} names the database {db:?}, which does not exist on this \
                     server (it has: {}). Create it with `chaski db create {db}`, or fix the \
                     name.",
                    relay.origin,
                    relay.name,
                    if have.is_empty() {
                        "none".to_owned()
                    } else {
                        have.join(", ")
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Starts every leg of `relays`; each runs until `stop` turns true. The returned handles end
/// soon after.
pub fn start(
    relays: &[RelayConfig],
    databases: &Databases,
    limits: &Limits,
    status: &Arc<Relays>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    if relays.is_empty() {
        return Vec::new();
    }
    let client = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // No limit on a whole request (a batch of photos over a satellite link takes long),
        // but a minute of silence means the connection is dead.
        .read_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(30))
        .pool_idle_timeout(chaski_shared::peer::POOL_IDLE_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(%err, "relay: cannot build the HTTP client; no relay runs");
            return Vec::new();
        }
    };
    let mut handles = Vec::new();
    for relay in relays {
        let auth = relay
            .credentials
            .as_ref()
            .map_or(Auth::None, |c| Auth::Basic {
                user: c.name.clone(),
                password: c.password.clone(),
            });
        let principal = Principal {
            name: format!("relay {}", relay.name),
            role: Role::Relay,
            regions: relay.databases.iter().cloned().collect(),
            device: None,
            token_id: None,
        };
        for db in &relay.databases {
            let Some(store) = databases.get(db) else {
                // `check_databases` ran at start; a database deleted since is skipped.
                tracing::error!(relay = %relay.name, %db, "relay: no such database; leg not started");
                continue;
            };
            let url = relay.db_url(db);
            let remote = match HttpPeer::new(url.clone()) {
                Ok(peer) => peer.with_auth(auth.clone()).with_client(client.clone()),
                Err(err) => {
                    tracing::error!(relay = %relay.name, %err, "relay: bad target URL");
                    continue;
                }
            };
            for &direction in relay.direction.legs() {
                let leg = status.add(LegStatus {
                    name: relay.name.clone(),
                    db: db.clone(),
                    target: url.clone(),
                    direction,
                    state: LegState::Idle,
                    last_success: None,
                    pending: None,
                    last_error: None,
                    docs_written: 0,
                    doc_write_failures: 0,
                });
                let local = LocalDb::new(store.clone(), principal.clone(), limits.clone());
                let context = Leg {
                    index: leg,
                    status: status.clone(),
                    store: store.clone(),
                    url: url.clone(),
                    root: relay.target.clone(),
                    auth: auth.clone(),
                    client: client.clone(),
                    has_credentials: relay.credentials.is_some(),
                };
                let mut stop = stop.clone();
                let remote = remote.clone();
                handles.push(tokio::spawn(async move {
                    let run = async {
                        match direction {
                            Direction::Pull => {
                                let replicator = Replicator::new(remote, local, options());
                                context.run(&replicator, Follow::Remote).await
                            }
                            _ => {
                                let replicator = Replicator::new(local, remote, options());
                                context.run(&replicator, Follow::Local).await
                            }
                        }
                    };
                    tokio::select! {
                        () = run => {}
                        _ = stop.wait_for(|stopped| *stopped) => {}
                    }
                }));
                tracing::info!(relay = %relay.name, %db, direction = direction.as_str(), target = %url, "relay started");
            }
        }
    }
    handles
}

fn options() -> ReplicationOptions {
    ReplicationOptions::default()
}

/// Where a leg's source changes are followed.
#[derive(Clone, Copy)]
enum Follow {
    /// This server's store (push).
    Local,
    /// The target, with longpoll (pull).
    Remote,
}

/// What one leg needs besides its replicator.
struct Leg {
    index: usize,
    status: Arc<Relays>,
    store: SledStore,
    /// The target database's URL.
    url: String,
    /// The target's CouchDB root (to tell "not CouchDB" from "no such database").
    root: String,
    auth: Auth,
    client: reqwest::Client,
    has_credentials: bool,
}

impl Leg {
    async fn run<S: Peer, T: Peer>(&self, replicator: &Replicator<S, T>, follow: Follow) {
        let mut failures: u32 = 0;
        // The last checkpointed source sequence this process saw, for `pending` while failing.
        let mut checkpointed: Option<u64> = None;
        loop {
            self.set(|s| s.state = LegState::Replicating);
            let outcome = self.once(replicator, follow).await;
            let since = match outcome {
                Ok(since) => {
                    failures = 0;
                    checkpointed = Some(since.number());
                    since
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let (state, words) = self.describe(&err).await;
                    let wait = backoff(failures);
                    tracing::warn!(relay = %self.name(), target = %self.url, error = %words, wait_secs = wait.as_secs(), "relay failed; retrying");
                    // A push still knows what waits: this server's sequence past the
                    // checkpoint (kept in its own `_local` document too).
                    if let Follow::Local = follow {
                        if checkpointed.is_none() {
                            checkpointed = local_checkpoint(replicator).await;
                        }
                    }
                    let pending = match (follow, checkpointed) {
                        (Follow::Local, Some(seq)) => {
                            Some(self.store.update_seq().saturating_sub(seq))
                        }
                        (Follow::Local, None) => Some(self.store.update_seq()),
                        (Follow::Remote, _) => None,
                    };
                    self.set(|s| {
                        s.state = state;
                        s.last_error = Some(words);
                        if pending.is_some() {
                            s.pending = pending;
                        }
                    });
                    match (follow, checkpointed) {
                        (Follow::Local, Some(seq)) => self.sleep_counting(wait, seq).await,
                        _ => tokio::time::sleep(wait).await,
                    }
                    continue;
                }
            };
            // Caught up: wait for the source to move past what was replicated.
            let waited = match follow {
                Follow::Local => {
                    self.wait_local(since.number()).await;
                    Ok(())
                }
                Follow::Remote => self.wait_remote(&since).await,
            };
            if let Err(err) = waited {
                failures = failures.saturating_add(1);
                let (state, words) = self.describe(&err).await;
                self.set(|s| {
                    s.state = state;
                    s.last_error = Some(words);
                });
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }

    /// One run; the checkpointed source sequence on success.
    async fn once<S: Peer, T: Peer>(
        &self,
        replicator: &Replicator<S, T>,
        follow: Follow,
    ) -> Result<Seq, Error> {
        let report: ReplicationReport = replicator.run_once().await?;
        let source_seq = match follow {
            Follow::Local => self.store.update_seq(),
            Follow::Remote => replicator.source().info().await?.update_seq.number(),
        };
        let pending = source_seq.saturating_sub(report.last_seq.number());
        for failure in &report.failures {
            tracing::warn!(relay = %self.name(), target = %self.url, id = %failure.id, error = %failure.error, reason = %failure.reason, "relay: a document was refused");
        }
        let refused = (!report.failures.is_empty()).then(|| {
            let first = &report.failures[0];
            format!(
                "{} revision(s) refused by the {}, e.g. {}: {} (the server log names each)",
                report.failures.len(),
                match follow {
                    Follow::Local => "target",
                    Follow::Remote => "rules of this server",
                },
                first.id,
                first.reason
            )
        });
        self.set(|s| {
            s.state = LegState::Idle;
            s.last_success = Some(crate::auth::accounts::rfc3339(
                crate::auth::accounts::now_secs(),
            ));
            s.pending = Some(pending);
            s.docs_written += report.docs_written;
            s.doc_write_failures += report.doc_write_failures;
            s.last_error = refused;
        });
        Ok(report.last_seq)
    }

    /// Sleeps `wait` (a push backing off), keeping `pending` up to date as this server's
    /// database receives writes meanwhile.
    async fn sleep_counting(&self, wait: Duration, checkpointed: u64) {
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        let mut changes = self.store.subscribe();
        loop {
            tokio::select! {
                () = &mut sleep => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        // The database is gone: nothing more to count.
                        sleep.as_mut().await;
                        return;
                    }
                    let now = self.store.update_seq();
                    self.set(|s| s.pending = Some(now.saturating_sub(checkpointed)));
                }
            }
        }
    }

    /// Waits until this server's database has a change after `seen`.
    async fn wait_local(&self, seen: u64) {
        let mut changes = self.store.subscribe();
        // Only durable writes move the watch; a closed one (the database deleted) stops here
        // for good, as the server's own handlers would.
        if changes.wait_for(|seq| *seq > seen).await.is_err() {
            std::future::pending::<()>().await;
        }
        let now = self.store.update_seq();
        self.set(|s| s.pending = Some(now.saturating_sub(seen)));
    }

    /// Waits, with longpoll, until the target's database has a change after `since`.
    async fn wait_remote(&self, since: &Seq) -> Result<(), Error> {
        let mut since = since.clone();
        loop {
            let asked = tokio::time::Instant::now();
            let mut request = self
                .client
                .get(format!("{}/_changes", self.url))
                .query(&[
                    ("feed", "longpoll".to_owned()),
                    ("since", since.to_string()),
                    ("limit", "1".to_owned()),
                    ("timeout", LONGPOLL.as_millis().to_string()),
                ])
                .header("Accept", "application/json")
                .timeout(LONGPOLL + Duration::from_secs(30));
            if let Auth::Basic { user, password } = &self.auth {
                request = request.basic_auth(user, Some(password));
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(transport)?;
            if !(200..300).contains(&status) {
                return Err(match status {
                    401 => Error::Unauthorized(text),
                    403 => Error::Forbidden(text),
                    404 => Error::missing(),
                    _ => Error::Other {
                        status,
                        error: "http_error".into(),
                        reason: text.chars().take(200).collect(),
                    },
                });
            }
            let page: chaski_shared::wire::ChangesResponse =
                serde_json::from_str(&text).map_err(|e| {
                    Error::Transport(format!("unexpected answer from {}: {e}", self.url))
                })?;
            if !page.results.is_empty() {
                return Ok(());
            }
            since = page.last_seq;
            tokio::time::sleep_until(asked + MIN_POLL).await;
        }
    }

    /// A failure in words, and whether a person must act (`Error`) or time will tell
    /// (`BackingOff`).
    async fn describe(&self, err: &Error) -> (LegState, String) {
        let url = &self.url;
        match err {
            Error::Transport(detail) if detail.starts_with("unexpected answer") => (
                LegState::Error,
                format!(
                    "not CouchDB: {url} answered, but not with CouchDB's JSON ({detail}). Check \
                     the target URL: it is the server's CouchDB root (Chaski's ends in /db)."
                ),
            ),
            Error::Transport(detail) if detail.contains("certificate") => (
                LegState::Error,
                format!(
                    "TLS: {url}'s certificate is not trusted ({detail}). Add the authority \
                     that signed it to this machine's certificates (Debian: \
                     /usr/local/share/ca-certificates, then update-ca-certificates)."
                ),
            ),
            Error::Transport(detail) => (
                LegState::BackingOff,
                format!("unreachable: cannot reach {url} ({detail})"),
            ),
            Error::Unauthorized(_) if self.has_credentials => (
                LegState::Error,
                format!(
                    "401 bad credentials: {url} refused the relay account's name and password. \
                     Check credentials_env / credentials_file, and that the account exists \
                     there and is enabled."
                ),
            ),
            Error::Unauthorized(_) => (
                LegState::Error,
                format!(
                    "401: {url} wants credentials; give the relay credentials_env or \
                     credentials_file"
                ),
            ),
            Error::Forbidden(reason) => (
                LegState::Error,
                format!(
                    "403 forbidden: the relay account may not replicate this database at the \
                     target: {reason}"
                ),
            ),
            Error::NotFound(_) => {
                if self.root_is_couchdb().await {
                    (
                        LegState::Error,
                        format!(
                            "no such database: {url} does not exist at the target; create it \
                             there"
                        ),
                    )
                } else {
                    (
                        LegState::Error,
                        format!(
                            "not CouchDB: {} does not answer like a CouchDB server (no \
                             {{\"couchdb\": \"Welcome\"}}); check the target URL",
                            self.root
                        ),
                    )
                }
            }
            Error::Other { status, error, .. } if error == "http_error" && *status < 500 => (
                LegState::Error,
                format!(
                    "not CouchDB: {url} answered HTTP {status} without CouchDB's JSON; check \
                     the target URL"
                ),
            ),
            other if other.is_transient() => (
                LegState::BackingOff,
                format!("the target failed: {} {}", other.status(), other),
            ),
            other => (LegState::Error, format!("{} {}", other.status(), other)),
        }
    }

    /// Whether the target's root answers a CouchDB-compatible welcome.
    async fn root_is_couchdb(&self) -> bool {
        let mut request = self.client.get(format!("{}/", self.root));
        if let Auth::Basic { user, password } = &self.auth {
            request = request.basic_auth(user, Some(password));
        }
        let Ok(response) = request.send().await else {
            return false;
        };
        response.text().await.is_ok_and(|text| {
            // CouchDB says {"couchdb": "Welcome"}, pouchdb-server {"express-pouchdb": …}.
            serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|v| v.get("couchdb").is_some() || v.get("express-pouchdb").is_some())
        })
    }

    fn name(&self) -> String {
        self.status
            .lock()
            .get(self.index)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    fn set(&self, change: impl FnOnce(&mut LegStatus)) {
        self.status.update(self.index, change);
    }
}

/// The source sequence in the checkpoint the source keeps (a push's source is this server).
async fn local_checkpoint<S: Peer, T: Peer>(replicator: &Replicator<S, T>) -> Option<u64> {
    let doc = replicator
        .source()
        .get_local(&replicator.checkpoint_id())
        .await
        .ok()??;
    let checkpoint: chaski_shared::replicate::Checkpoint =
        serde_json::from_value(serde_json::Value::Object(doc.body)).ok()?;
    Some(checkpoint.source_last_seq.number())
}

/// The wait after `failures` failures in a row: 2 s doubling to 5 minutes, ±20 % at random.
pub fn backoff(failures: u32) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let base = doubled.min(MAX_BACKOFF);
    base.mul_f64(0.8 + 0.4 * fastrand::f64()).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_starts_at_two_seconds_doubles_and_stops_at_five_minutes() {
        for _ in 0..50 {
            let first = backoff(1).as_secs_f64();
            assert!((1.6..=2.4).contains(&first), "{first}");
            let third = backoff(3).as_secs_f64();
            assert!((6.4..=9.6).contains(&third), "{third}");
            assert!(backoff(40) <= MAX_BACKOFF);
            assert!(backoff(40).as_secs_f64() >= 240.0);
        }
    }
}
