//! The replicator: moves every revision the target lacks from a source [`Peer`] to a target
//! [`Peer`], resumably, with CouchDB's algorithm and checkpoint format.
//!
//! One [`Replicator::run_once`] reads the checkpoints on both sides, then repeats: read a page
//! of the source's changes, ask the target which revisions it lacks (`_revs_diff`), fetch them
//! with their ancestry (`_bulk_get`), write them as they are (`_bulk_docs`, `new_edits=false`),
//! make the target durable (`_ensure_full_commit`), check that neither database was re-created
//! meanwhile (`instance_start_time`), and only then record the checkpoint. It
//! returns when the source has nothing more. Continuous replication is the caller's loop around
//! `run_once` (no timers in here); stopping at any point loses nothing, and the next run resumes
//! from the last checkpoint without writing anything twice.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doc::{Document, LocalDoc, LOCAL_PREFIX};
use crate::error::{Error, Result};
use crate::peer::Peer;
use crate::rev::RevId;
use crate::store::{ChangesStyle, RevsDiffRequest};
use crate::wire::{BulkGetDoc, BulkGetRef, ChangesRequest, ChangesResponse, Seq};

/// How many sessions a checkpoint's history keeps (CouchDB keeps 50).
const MAX_HISTORY: usize = 50;

/// The checkpoint format version (CouchDB's current replication id version).
pub const REPLICATION_ID_VERSION: u32 = 4;

/// How a replication runs.
#[derive(Clone, Debug)]
pub struct ReplicationOptions {
    /// Changes read per batch (and so at most this many documents per `_bulk_docs`).
    pub batch_size: usize,
    /// Batches processed concurrently in each round; the checkpoint advances once per round, to
    /// the last batch of the round that completed with all batches before it.
    pub batches_in_flight: usize,
    /// Only these documents (CouchDB's `doc_ids`); part of the replication id.
    pub doc_ids: Option<Vec<String>>,
    /// The wall clock, in seconds since 1970, for the history's `start_time`/`end_time`.
    /// `None` on wasm32 by default (no clock without JavaScript): the browser passes its own.
    pub now: fn() -> Option<u64>,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        ReplicationOptions {
            batch_size: 100,
            batches_in_flight: 4,
            doc_ids: None,
            now: system_now,
        }
    }
}

/// The system clock where there is one.
pub fn system_now() -> Option<u64> {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        None
    }
}

/// A document the target did not take (or the source could not give), with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocFailure {
    /// The document id.
    pub id: String,
    /// The revision.
    pub rev: Option<RevId>,
    /// CouchDB's error name (`forbidden`, `bad_request`, …).
    pub error: String,
    /// The reason given.
    pub reason: String,
}

/// Progress and outcome of a [`Replicator::run_once`]; also what the progress callback sees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicationReport {
    /// The replication id (the checkpoint is `_local/<id>`).
    pub replication_id: String,
    /// This run's session id.
    pub session_id: String,
    /// Where this run started (from the checkpoints).
    pub start_seq: Seq,
    /// The last checkpointed source sequence.
    pub last_seq: Seq,
    /// Revisions the target was asked about.
    pub missing_checked: u64,
    /// Revisions the target lacked.
    pub missing_found: u64,
    /// Revisions read from the source.
    pub docs_read: u64,
    /// Revisions the target accepted.
    pub docs_written: u64,
    /// Revisions the target rejected or the source could not give.
    pub doc_write_failures: u64,
    /// Source changes not yet read, when the source says.
    pub pending: Option<u64>,
    /// Each failed document with its reason.
    pub failures: Vec<DocFailure>,
    /// Checkpoints recorded in this run.
    pub checkpoints: u64,
}

/// One session in a checkpoint's history (CouchDB's fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The session.
    pub session_id: String,
    /// When it started (HTTP date), empty without a clock.
    #[serde(default)]
    pub start_time: String,
    /// When it last checkpointed.
    #[serde(default)]
    pub end_time: String,
    /// Where it started.
    #[serde(default)]
    pub start_last_seq: Seq,
    /// Where it ended.
    #[serde(default)]
    pub end_last_seq: Seq,
    /// The sequence it recorded: everything up to it is on the target.
    #[serde(default)]
    pub recorded_seq: Seq,
    /// Revisions read.
    #[serde(default)]
    pub docs_read: u64,
    /// Revisions written.
    #[serde(default)]
    pub docs_written: u64,
    /// Revisions rejected.
    #[serde(default)]
    pub doc_write_failures: u64,
    /// Revisions asked about.
    #[serde(default)]
    pub missing_checked: u64,
    /// Revisions found missing.
    #[serde(default)]
    pub missing_found: u64,
}

/// The body of the `_local/<replication id>` document on both sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The session that wrote it.
    pub session_id: String,
    /// Everything up to this source sequence is on the target.
    pub source_last_seq: Seq,
    /// Checkpoint format version.
    #[serde(default)]
    pub replication_id_version: u32,
    /// Recent sessions, newest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

impl Checkpoint {
    fn from_local(doc: &LocalDoc) -> Option<Self> {
        serde_json::from_value(Value::Object(doc.body.clone())).ok()
    }
}

/// Where to resume, from both sides' checkpoints, as CouchDB decides: the same session on both
/// sides gives its sequence; otherwise the newest session both histories share; otherwise 0.
/// When the two sides disagree the lower sequence is taken, which at worst re-checks revisions
/// the target already has.
pub fn resume_seq(source: Option<&Checkpoint>, target: Option<&Checkpoint>) -> Seq {
    let (Some(s), Some(t)) = (source, target) else {
        return Seq::zero();
    };
    let lower = |a: &Seq, b: &Seq| {
        if a.cmp_number(b).is_le() {
            a.clone()
        } else {
            b.clone()
        }
    };
    if s.session_id == t.session_id {
        return lower(&s.source_last_seq, &t.source_last_seq);
    }
    for entry in &s.history {
        if let Some(other) = t.history.iter().find(|h| h.session_id == entry.session_id) {
            return lower(&entry.recorded_seq, &other.recorded_seq);
        }
    }
    Seq::zero()
}

fn md5_hex(input: &str) -> String {
    Md5::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The replication id: a digest of the source and target names and the filter, so the same
/// replication finds its checkpoints again and a different one never uses them.
pub fn replication_id(source: &str, target: &str, doc_ids: Option<&[String]>) -> String {
    let mut key = format!("{REPLICATION_ID_VERSION}\n{source}\n{target}\n");
    if let Some(ids) = doc_ids {
        let mut sorted: Vec<&String> = ids.iter().collect();
        crate::sort::sort_dedup(&mut sorted);
        key.push_str("doc_ids:");
        for id in sorted {
            key.push_str(&serde_json::Value::String(id.clone()).to_string());
            key.push(',');
        }
    }
    md5_hex(&key)
}

/// `Mon, 28 Nov 2026 10:03:27 GMT` for a Unix time, as CouchDB writes history times.
pub fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Counts from one batch.
#[derive(Default)]
struct BatchStats {
    missing_checked: u64,
    missing_found: u64,
    docs_read: u64,
    docs_written: u64,
    failures: Vec<DocFailure>,
}

/// The checkpoint revisions and history this run builds on.
struct Session {
    id: String,
    start_time: String,
    source_rev: Option<String>,
    target_rev: Option<String>,
    history: Vec<HistoryEntry>,
}

/// The `instance_start_time` of both databases when a run started.
struct Instances {
    source: String,
    target: String,
}

/// Replicates from `source` to `target`. Push and pull are the same thing with the peers
/// swapped.
pub struct Replicator<S, T> {
    source: S,
    target: T,
    options: ReplicationOptions,
    id: String,
}

/// Makes session ids unique within a process even when two sessions start from identical state.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

impl<S: Peer, T: Peer> Replicator<S, T> {
    /// A replication from `source` to `target`.
    pub fn new(source: S, target: T, options: ReplicationOptions) -> Self {
        let id = replication_id(
            &source.peer_id(),
            &target.peer_id(),
            options.doc_ids.as_deref(),
        );
        Replicator {
            source,
            target,
            options,
            id,
        }
    }

    /// The replication id.
    pub fn replication_id(&self) -> &str {
        &self.id
    }

    /// The id of the checkpoint document on both sides.
    pub fn checkpoint_id(&self) -> String {
        format!("{LOCAL_PREFIX}{}", self.id)
    }

    /// The source peer.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The target peer.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The peers back.
    pub fn into_parts(self) -> (S, T) {
        (self.source, self.target)
    }

    /// Replicates everything the source has now; see [`run_once_with_progress`](Self::run_once_with_progress).
    pub async fn run_once(&self) -> Result<ReplicationReport> {
        self.run_once_with_progress(|_| {}).await
    }

    /// Replicates everything the source has now, calling `on_progress` after each round with the
    /// counts so far. A document the target rejects is counted and listed, and replication goes
    /// on. An `Err` (a peer unreachable, a call failing) leaves the last checkpoint in place; run
    /// again to resume.
    pub async fn run_once_with_progress<F: FnMut(&ReplicationReport)>(
        &self,
        mut on_progress: F,
    ) -> Result<ReplicationReport> {
        // Which creation of each database this run reads from and writes to; see
        // `ensure_same_databases`.
        let started = Instances {
            source: self.source.info().await?.instance_start_time,
            target: self.target.info().await?.instance_start_time,
        };
        let checkpoint_id = self.checkpoint_id();
        let source_doc = self.source.get_local(&checkpoint_id).await?;
        let target_doc = self.target.get_local(&checkpoint_id).await?;
        let source_ck = source_doc.as_ref().and_then(Checkpoint::from_local);
        let target_ck = target_doc.as_ref().and_then(Checkpoint::from_local);
        let start_seq = resume_seq(source_ck.as_ref(), target_ck.as_ref());
        let now = (self.options.now)();
        let session_key = format!(
            "{}|{:?}|{:?}|{}|{}|{:?}",
            self.id,
            source_doc.as_ref().and_then(|d| d.rev.clone()),
            target_doc.as_ref().and_then(|d| d.rev.clone()),
            start_seq,
            SESSIONS.fetch_add(1, Ordering::Relaxed),
            now
        );
        let mut session = Session {
            id: md5_hex(&session_key),
            start_time: now.map(http_date).unwrap_or_default(),
            source_rev: source_doc.and_then(|d| d.rev),
            target_rev: target_doc.and_then(|d| d.rev),
            history: source_ck
                .or(target_ck)
                .map(|c| c.history)
                .unwrap_or_default(),
        };
        let mut report = ReplicationReport {
            replication_id: self.id.clone(),
            session_id: session.id.clone(),
            start_seq: start_seq.clone(),
            last_seq: start_seq.clone(),
            ..ReplicationReport::default()
        };
        let batch_size = self.options.batch_size.max(1);
        let mut since = start_seq;
        loop {
            let mut pages: Vec<ChangesResponse> = Vec::new();
            let mut caught_up = false;
            for _ in 0..self.options.batches_in_flight.max(1) {
                let page = self
                    .source
                    .changes(&ChangesRequest {
                        since: since.clone(),
                        limit: Some(batch_size),
                        style: ChangesStyle::AllDocs,
                        doc_ids: self.options.doc_ids.clone(),
                    })
                    .await?;
                // A full page whose last_seq does not move would loop forever on a confused peer;
                // treat it as the end of this run.
                caught_up = page.results.len() < batch_size || page.last_seq == since;
                since = page.last_seq.clone();
                report.pending = page.pending;
                pages.push(page);
                if caught_up {
                    break;
                }
            }
            let outcomes =
                futures::future::join_all(pages.iter().map(|p| self.replicate_batch(p))).await;
            let mut failed = None;
            let mut reached = None;
            for (page, outcome) in pages.iter().zip(outcomes) {
                match outcome {
                    Ok(stats) => {
                        report.missing_checked += stats.missing_checked;
                        report.missing_found += stats.missing_found;
                        report.docs_read += stats.docs_read;
                        report.docs_written += stats.docs_written;
                        report.doc_write_failures += stats.failures.len() as u64;
                        report.failures.extend(stats.failures);
                        reached = Some(page.last_seq.clone());
                    }
                    Err(e) => {
                        // Later batches may have been written too; they are not checkpointed and
                        // the next run finds them present through _revs_diff.
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(seq) = reached.filter(|s| *s != report.last_seq) {
                // The checkpoint must never claim more than the target holds durably, nor be
                // written into a database other than the one this run started with.
                let committed = self.target.ensure_full_commit().await?;
                self.ensure_same_databases(&started, committed).await?;
                self.record_checkpoint(&mut session, &mut report, seq)
                    .await?;
            }
            on_progress(&report);
            if let Some(e) = failed {
                return Err(e);
            }
            if caught_up {
                return Ok(report);
            }
        }
    }

    /// Fails the run when either database was deleted and created again since it started
    /// (its `instance_start_time` changed), as CouchDB's replicator does. Carrying on would
    /// write a checkpoint into the new database at the old position: later runs would resume
    /// there and never send the documents before it. The new database has no checkpoint, so
    /// the next run starts over from 0.
    async fn ensure_same_databases(&self, started: &Instances, target_now: String) -> Result<()> {
        if target_now != started.target {
            return Err(Error::Recreated(
                "the target database was re-created during replication; the next run starts over"
                    .into(),
            ));
        }
        // "0" is what a store that does not tell creations apart answers (CouchDB 2 and 3, the
        // browser's IndexedDB): there is nothing to compare, so the source is not asked again
        // at each checkpoint (on a tablet that is an IndexedDB transaction per batch).
        if started.source != "0" && self.source.info().await?.instance_start_time != started.source
        {
            return Err(Error::Recreated(
                "the source database was re-created during replication; the next run starts over"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn replicate_batch(&self, page: &ChangesResponse) -> Result<BatchStats> {
        let mut stats = BatchStats::default();
        if page.results.is_empty() {
            return Ok(stats);
        }
        let mut request = RevsDiffRequest::new();
        for row in &page.results {
            stats.missing_checked += row.changes.len() as u64;
            request
                .entry(row.id.clone())
                .or_default()
                .extend(row.changes.iter().map(|c| c.rev.clone()));
        }
        let diff = self.target.revs_diff(&request).await?;
        let mut wanted = Vec::new();
        for (id, entry) in diff {
            stats.missing_found += entry.missing.len() as u64;
            for rev in entry.missing {
                wanted.push(BulkGetRef {
                    id: id.clone(),
                    rev: Some(rev),
                    atts_since: entry.possible_ancestors.clone(),
                });
            }
        }
        if wanted.is_empty() {
            return Ok(stats);
        }
        let mut docs: Vec<Document> = Vec::new();
        let mut seen = BTreeSet::new();
        for result in self.source.bulk_get(&wanted).await? {
            for answer in result.docs {
                match answer {
                    // `latest` may answer two requested revisions with the same leaf.
                    BulkGetDoc::Ok(doc) => {
                        if seen.insert((doc.id.clone(), doc.rev.clone())) {
                            docs.push(doc);
                        }
                    }
                    BulkGetDoc::Error(e) => stats.failures.push(DocFailure {
                        id: e.id,
                        rev: e.rev.as_deref().and_then(|r| RevId::parse(r).ok()),
                        error: e.error,
                        reason: e.reason,
                    }),
                }
            }
        }
        stats.docs_read = docs.len() as u64;
        if docs.is_empty() {
            return Ok(stats);
        }
        let mut rejected = 0u64;
        for result in self.target.bulk_docs(docs).await? {
            if let Some(error) = result.error {
                rejected += 1;
                stats.failures.push(DocFailure {
                    id: result.id,
                    rev: result.rev,
                    error: error.error_name().to_string(),
                    reason: error.reason().to_string(),
                });
            }
        }
        stats.docs_written = stats.docs_read.saturating_sub(rejected);
        Ok(stats)
    }

    async fn record_checkpoint(
        &self,
        session: &mut Session,
        report: &mut ReplicationReport,
        seq: Seq,
    ) -> Result<()> {
        let entry = HistoryEntry {
            session_id: session.id.clone(),
            start_time: session.start_time.clone(),
            end_time: (self.options.now)().map(http_date).unwrap_or_default(),
            start_last_seq: report.start_seq.clone(),
            end_last_seq: seq.clone(),
            recorded_seq: seq.clone(),
            docs_read: report.docs_read,
            docs_written: report.docs_written,
            doc_write_failures: report.doc_write_failures,
            missing_checked: report.missing_checked,
            missing_found: report.missing_found,
        };
        if session
            .history
            .first()
            .is_some_and(|h| h.session_id == session.id)
        {
            session.history[0] = entry;
        } else {
            session.history.insert(0, entry);
        }
        session.history.truncate(MAX_HISTORY);
        let checkpoint = Checkpoint {
            session_id: session.id.clone(),
            source_last_seq: seq.clone(),
            replication_id_version: REPLICATION_ID_VERSION,
            history: session.history.clone(),
        };
        let body = match serde_json::to_value(&checkpoint) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(Error::Internal(
                    "checkpoint did not serialise to an object".into(),
                ))
            }
        };
        // Target first: if the source's write then fails, the sides disagree on the session and
        // the next run falls back to the history both share, which is never ahead of the target.
        session.target_rev = Some(
            put_checkpoint(
                &self.target,
                &self.checkpoint_id(),
                session.target_rev.take(),
                &body,
            )
            .await?,
        );
        session.source_rev = Some(
            put_checkpoint(
                &self.source,
                &self.checkpoint_id(),
                session.source_rev.take(),
                &body,
            )
            .await?,
        );
        report.last_seq = seq;
        report.checkpoints += 1;
        Ok(())
    }
}

/// Writes a checkpoint document; on a conflict (another writer, or an earlier write whose answer
/// was lost) reads the current revision once and writes over it.
async fn put_checkpoint<P: Peer>(
    peer: &P,
    id: &str,
    rev: Option<String>,
    body: &serde_json::Map<String, Value>,
) -> Result<String> {
    let doc = LocalDoc {
        id: id.to_string(),
        rev,
        body: body.clone(),
    };
    match peer.put_local(doc.clone()).await {
        Err(Error::Conflict(_)) => {
            let current = peer.get_local(id).await?.and_then(|d| d.rev);
            peer.put_local(LocalDoc {
                rev: current,
                ..doc
            })
            .await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(session: &str, seq: u64) -> HistoryEntry {
        HistoryEntry {
            session_id: session.into(),
            start_time: String::new(),
            end_time: String::new(),
            start_last_seq: Seq::zero(),
            end_last_seq: Seq::Num(seq),
            recorded_seq: Seq::Num(seq),
            docs_read: 0,
            docs_written: 0,
            doc_write_failures: 0,
            missing_checked: 0,
            missing_found: 0,
        }
    }

    fn checkpoint(session: &str, seq: u64, history: Vec<HistoryEntry>) -> Checkpoint {
        Checkpoint {
            session_id: session.into(),
            source_last_seq: Seq::Num(seq),
            replication_id_version: REPLICATION_ID_VERSION,
            history,
        }
    }

    #[test]
    fn a_missing_checkpoint_on_either_side_restarts_from_zero() {
        let c = checkpoint("s1", 10, vec![entry("s1", 10)]);
        assert_eq!(resume_seq(Some(&c), None), Seq::zero());
        assert_eq!(resume_seq(None, Some(&c)), Seq::zero());
    }

    #[test]
    fn the_same_session_on_both_sides_resumes_at_the_lower_of_their_seqs() {
        let s = checkpoint("s1", 20, vec![entry("s1", 20)]);
        let t = checkpoint("s1", 10, vec![entry("s1", 10)]);
        assert_eq!(resume_seq(Some(&s), Some(&t)), Seq::Num(10));
    }

    #[test]
    fn different_sessions_resume_at_the_newest_shared_history_entry() {
        let s = checkpoint(
            "s3",
            30,
            vec![entry("s3", 30), entry("s2", 20), entry("s1", 10)],
        );
        let t = checkpoint(
            "s9",
            90,
            vec![entry("s9", 90), entry("s2", 20), entry("s1", 10)],
        );
        assert_eq!(resume_seq(Some(&s), Some(&t)), Seq::Num(20));
        let unrelated = checkpoint("x", 5, vec![entry("x", 5)]);
        assert_eq!(resume_seq(Some(&s), Some(&unrelated)), Seq::zero());
    }

    #[test]
    fn replication_ids_depend_on_source_target_and_filter_but_not_filter_order() {
        let a = replication_id("src", "tgt", None);
        assert_eq!(a, replication_id("src", "tgt", None));
        assert_ne!(a, replication_id("tgt", "src", None));
        let f1 = replication_id("src", "tgt", Some(&["b".into(), "a".into()]));
        let f2 = replication_id("src", "tgt", Some(&["a".into(), "b".into()]));
        assert_eq!(f1, f2);
        assert_ne!(a, f1);
    }

    #[test]
    fn history_times_are_http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_860_207), "Sat, 28 Nov 2026 10:03:27 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
