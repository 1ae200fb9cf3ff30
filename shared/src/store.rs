//! The [`Store`] trait every database implements (memory here, sled on the server, IndexedDB in
//! the browser), its request and answer types, and [`MemoryStore`].
//!
//! A store keeps one [`DocRecord`] per document and does the CouchDB rules through it, so an
//! implementation is mostly a transaction around "load record, apply, save record, bump the
//! sequence". The [`conformance`](crate::conformance) suite checks that an implementation behaves
//! like [`MemoryStore`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::doc::{validate_local_id, Attachment, DocId, Document, LocalDoc};
use crate::error::{Error, Result};
use crate::live_seqs::LiveSeqs;
use crate::record::DocRecord;
use crate::rev::{RevId, RevTree, DEFAULT_REV_LIMIT};

/// Which revisions a changes row lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangesStyle {
    /// Only the winning revision (CouchDB's default, `style=main_only`).
    #[default]
    MainOnly,
    /// Every leaf, winner first (`style=all_docs`, what replication asks for).
    AllDocs,
}

/// How to read a document (CouchDB's `GET /{db}/{docid}` query options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// A specific revision; the winner when `None`.
    pub rev: Option<RevId>,
    /// Include `_revisions` (the ancestry).
    pub revs: bool,
    /// Include `_conflicts`.
    pub conflicts: bool,
    /// Include `_deleted_conflicts`.
    pub deleted_conflicts: bool,
    /// Inline attachment bytes (otherwise stubs).
    pub attachments: bool,
    /// With `attachments`: leave as stubs the attachments not changed since any of these
    /// revisions (the reader already has them).
    pub atts_since: Vec<RevId>,
    /// For [`Store::open_revs`]: answer a revision that is no longer a leaf with the leaves that
    /// descend from it.
    pub latest: bool,
}

/// Which revisions [`Store::open_revs`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenRevs {
    /// Every leaf (`open_revs=all`).
    All,
    /// These revisions.
    Revs(Vec<RevId>),
}

/// One answer of [`Store::open_revs`].
#[derive(Clone, Debug, PartialEq)]
pub enum OpenRev {
    /// The revision's document.
    Ok(Document),
    /// The store does not have this revision (or no longer has its body).
    Missing(RevId),
}

/// The outcome of one document in a `_bulk_docs` batch.
///
/// JSON: `{"id", "rev", "ok": true}` or `{"id", "rev", "error", "reason"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DocResult {
    /// The document id as sent (it may be invalid, hence a string).
    pub id: String,
    /// The revision written (new edits) or received (replicated).
    pub rev: Option<RevId>,
    /// Why the document was not written; `None` when it was.
    pub error: Option<Error>,
}

impl DocResult {
    /// The result of a document written as `rev`.
    pub fn written(id: impl Into<String>, rev: RevId) -> Self {
        DocResult {
            id: id.into(),
            rev: Some(rev),
            error: None,
        }
    }

    /// The result of a document refused with `error` (`rev`: the revision it came with).
    pub fn refused(id: impl Into<String>, rev: Option<RevId>, error: Error) -> Self {
        DocResult {
            id: id.into(),
            rev,
            error: Some(error),
        }
    }

    /// Whether the document was written.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

#[derive(Serialize, Deserialize)]
struct DocResultRepr {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rev: Option<RevId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Serialize for DocResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        DocResultRepr {
            id: self.id.clone(),
            rev: self.rev.clone(),
            ok: self.error.is_none().then_some(true),
            error: self.error.as_ref().map(|e| e.error_name().to_string()),
            reason: self.error.as_ref().map(|e| e.reason().to_string()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DocResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let r = DocResultRepr::deserialize(deserializer)?;
        Ok(DocResult {
            id: r.id,
            rev: r.rev,
            error: r
                .error
                .map(|e| Error::from_couch(None, &e, r.reason.unwrap_or_default())),
        })
    }
}

/// What to read from the changes feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangesOptions {
    /// Only changes after this sequence.
    pub since: u64,
    /// At most this many rows.
    pub limit: Option<usize>,
    /// Winner only, or every leaf.
    pub style: ChangesStyle,
    /// Only these documents (CouchDB's `_doc_ids` filter).
    pub doc_ids: Option<BTreeSet<String>>,
    /// Include each row's winning document (a tombstone for a deleted one).
    pub include_docs: bool,
    /// With `include_docs`: include `_conflicts` in the documents.
    pub conflicts: bool,
}

impl ChangesOptions {
    /// How a row's document is read with `include_docs`: the winner `rev`, with `_conflicts`
    /// when asked. `None` without `include_docs`.
    pub fn doc_options(&self, winner: Option<RevId>) -> Option<GetOptions> {
        self.include_docs.then(|| GetOptions {
            rev: winner,
            conflicts: self.conflicts,
            ..GetOptions::default()
        })
    }
}

/// One row of the changes feed: a document's latest change.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    /// The sequence of the document's latest change.
    pub seq: u64,
    /// The document id.
    pub id: DocId,
    /// The winner, then (with [`ChangesStyle::AllDocs`]) the other leaves.
    pub revs: Vec<RevId>,
    /// Whether the winner is a deletion.
    pub deleted: bool,
    /// The winning document, with `include_docs`.
    pub doc: Option<Document>,
}

/// A page of the changes feed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// One row per changed document, in sequence order.
    pub results: Vec<ChangeRow>,
    /// Where the next page starts: the last row's sequence when the page was cut by `limit`,
    /// else the store's `update_seq` (everything up to it has been seen).
    pub last_seq: u64,
    /// How many matching rows come after this page.
    pub pending: u64,
}

/// Database information (CouchDB's `GET /{db}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    /// Sequence of the latest change; 0 for an empty store.
    pub update_seq: u64,
    /// Documents whose winner is not deleted.
    pub doc_count: u64,
    /// Documents whose winner is deleted.
    pub doc_del_count: u64,
    /// Which creation of the database this is: it changes when the database is deleted and
    /// created again under the same name, so that a replicator notices it is writing into a
    /// different database than the one its checkpoints describe. `"0"` when a store does not
    /// tell its creations apart (as CouchDB 2+ answers).
    #[serde(default = "unknown_instance")]
    pub instance_start_time: String,
}

fn unknown_instance() -> String {
    "0".into()
}

impl Default for DbInfo {
    fn default() -> Self {
        DbInfo {
            update_seq: 0,
            doc_count: 0,
            doc_del_count: 0,
            instance_start_time: unknown_instance(),
        }
    }
}

/// One document's answer in `_revs_diff`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevsDiffEntry {
    /// Revisions the store does not have.
    pub missing: Vec<RevId>,
    /// Leaves the store has that may be ancestors of the missing ones (for `atts_since`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possible_ancestors: Vec<RevId>,
}

/// `_revs_diff` request: document id → revisions.
pub type RevsDiffRequest = BTreeMap<String, Vec<RevId>>;

/// `_revs_diff` answer: only documents with missing revisions appear.
pub type RevsDiff = BTreeMap<String, RevsDiffEntry>;

/// Which revisions answer an `open_revs` request, in order, by CouchDB's rules (the same in every
/// store): `Ok(rev)` for a leaf to read (with `latest`, the leaves a non-leaf led to), `Err(rev)`
/// for a requested revision the document lacks. `All` on an unknown document is not found.
pub fn open_revs_answers(
    tree: Option<&RevTree>,
    revs: &OpenRevs,
    latest: bool,
) -> Result<Vec<std::result::Result<RevId, RevId>>> {
    let mut answers = Vec::new();
    match revs {
        OpenRevs::All => {
            let tree = tree.ok_or_else(Error::missing)?;
            answers.extend(tree.leaves().into_iter().map(|l| Ok(l.rev)));
        }
        OpenRevs::Revs(revs) => {
            let mut seen = BTreeSet::new();
            for rev in revs {
                let found: Vec<RevId> = match tree {
                    Some(t) if t.is_leaf(rev) => vec![rev.clone()],
                    Some(t) if latest && t.contains(rev) => t
                        .leaves_descending_from(rev)
                        .into_iter()
                        .map(|l| l.rev)
                        .collect(),
                    _ => Vec::new(),
                };
                if found.is_empty() {
                    answers.push(Err(rev.clone()));
                }
                for answer in found {
                    if seen.insert(answer.clone()) {
                        answers.push(Ok(answer));
                    }
                }
            }
        }
    }
    Ok(answers)
}

/// One document's `_revs_diff` entry, the same in every store: which of `wanted` the document's
/// tree lacks (all of them when the store has no such document) and which of its revisions could
/// be their ancestors. `None` when nothing is missing, as such documents are left out.
pub fn revs_diff_entry(tree: Option<&RevTree>, wanted: &[RevId]) -> Option<RevsDiffEntry> {
    let (missing, possible_ancestors) = match tree {
        Some(tree) => tree.revs_diff(wanted),
        None => {
            let mut all = wanted.to_vec();
            crate::sort::sort_dedup(&mut all);
            (all, Vec::new())
        }
    };
    (!missing.is_empty()).then_some(RevsDiffEntry {
        missing,
        possible_ancestors,
    })
}

/// A database of documents with CouchDB semantics.
///
/// Futures need not be `Send` (IndexedDB's are not); an implementation whose futures are `Send`
/// keeps them `Send` wherever it is used by its concrete type. Each document write must be atomic
/// and durable before its method returns (that is what [`Store::ensure_full_commit`] promises
/// for implementations that batch their syncs).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Sequence, counts and which creation of the database this is.
    async fn info(&self) -> Result<DbInfo>;

    /// One document: the winner, or `opts.rev`. A deleted winner is [`Error::NotFound`]
    /// (`deleted`); a revision the store lacks is [`Error::NotFound`] (`missing`).
    async fn get(&self, id: &DocId, opts: &GetOptions) -> Result<Document>;

    /// Several revisions of a document with their ancestry when `opts.revs` (CouchDB's
    /// `open_revs`), one answer per requested revision. [`OpenRevs::All`] on an unknown document is
    /// [`Error::NotFound`].
    async fn open_revs(
        &self,
        id: &DocId,
        revs: &OpenRevs,
        opts: &GetOptions,
    ) -> Result<Vec<OpenRev>>;

    /// Writes a batch: new edits (`new_edits`) or replicated revisions. Each document is applied
    /// atomically and in order; one [`DocResult`] per document, in the same order. A rejected
    /// document does not stop the others.
    async fn bulk_docs(&self, docs: Vec<Document>, new_edits: bool) -> Result<Vec<DocResult>>;

    /// The changes feed.
    async fn changes(&self, opts: &ChangesOptions) -> Result<Changes>;

    /// Which of the given revisions the store lacks.
    async fn revs_diff(&self, revs: &RevsDiffRequest) -> Result<RevsDiff>;

    /// A local document (`_local/…`), `None` when absent.
    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>>;

    /// Writes a local document; `doc.rev` must be its current revision (`None` to create).
    /// Returns the new revision (`0-N`). Local writes do not change `update_seq`.
    async fn put_local(&self, doc: LocalDoc) -> Result<String>;

    /// Deletes a local document; `rev` must be its current revision.
    async fn delete_local(&self, id: &str, rev: Option<&str>) -> Result<()>;

    /// Makes every acknowledged write durable (CouchDB's `_ensure_full_commit`). Stores that sync
    /// each write before returning keep this default.
    async fn ensure_full_commit(&self) -> Result<()> {
        Ok(())
    }

    /// One attachment with its bytes, from the winner or `rev`.
    async fn attachment(&self, id: &DocId, name: &str, rev: Option<&RevId>) -> Result<Attachment> {
        let opts = GetOptions {
            rev: rev.cloned(),
            attachments: true,
            ..GetOptions::default()
        };
        let mut doc = self.get(id, &opts).await?;
        doc.attachments.remove(name).ok_or_else(Error::missing)
    }
}

/// Forwards every [`Store`] method to the store behind a pointer, so that `&S`, `Arc<S>` and
/// `Rc<S>`-style handles can be given where a store is wanted.
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            async fn info(&self) -> Result<DbInfo> {
                (**self).info().await
            }
            async fn get(&self, id: &DocId, opts: &GetOptions) -> Result<Document> {
                (**self).get(id, opts).await
            }
            async fn open_revs(&self, id: &DocId, revs: &OpenRevs, opts: &GetOptions) -> Result<Vec<OpenRev>> {
                (**self).open_revs(id, revs, opts).await
            }
            async fn bulk_docs(&self, docs: Vec<Document>, new_edits: bool) -> Result<Vec<DocResult>> {
                (**self).bulk_docs(docs, new_edits).await
            }
            async fn changes(&self, opts: &ChangesOptions) -> Result<Changes> {
                (**self).changes(opts).await
            }
            async fn revs_diff(&self, revs: &RevsDiffRequest) -> Result<RevsDiff> {
                (**self).revs_diff(revs).await
            }
            async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
                (**self).get_local(id).await
            }
            async fn put_local(&self, doc: LocalDoc) -> Result<String> {
                (**self).put_local(doc).await
            }
            async fn delete_local(&self, id: &str, rev: Option<&str>) -> Result<()> {
                (**self).delete_local(id, rev).await
            }
            async fn ensure_full_commit(&self) -> Result<()> {
                (**self).ensure_full_commit().await
            }
            async fn attachment(&self, id: &DocId, name: &str, rev: Option<&RevId>) -> Result<Attachment> {
                (**self).attachment(id, name, rev).await
            }
        }
    )*};
}

forward_store!(&S, Arc<S>, std::rc::Rc<S>);

#[derive(Default)]
struct Inner {
    docs: HashMap<DocId, DocRecord>,
    by_seq: BTreeMap<u64, DocId>,
    /// The sequences in `by_seq`, to count the rows after a `_changes` page without walking
    /// them (walking made paging through a store quadratic).
    live: LiveSeqs,
    /// Documents whose winner is a deletion, kept with each write so that `info` need not
    /// look at every document.
    deleted: u64,
    update_seq: u64,
    /// Attachment bytes by digest; never collected (tests and benches are short-lived).
    attachment_data: HashMap<String, Vec<u8>>,
    locals: BTreeMap<String, LocalDoc>,
}

/// A [`Store`] in memory: the reference implementation, for tests, benches and the doctest.
///
/// A std `Mutex` (not an async one) because no lock is held across an `.await`: every method
/// does its work in one synchronous critical section, which also makes each batch atomic.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    rev_limit: usize,
    instance_start_time: String,
}

/// Gives every [`MemoryStore`] of the process its own `instance_start_time`: a fresh store
/// standing in for a re-created database must not look like the one it replaces. A counter,
/// not a clock, because wasm32 has no clock without JavaScript.
static MEMORY_INSTANCES: AtomicU64 = AtomicU64::new(1);

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store that keeps [`DEFAULT_REV_LIMIT`] revisions per leaf.
    pub fn new() -> Self {
        Self::with_rev_limit(DEFAULT_REV_LIMIT)
    }

    /// An empty store that keeps `rev_limit` revisions per leaf.
    pub fn with_rev_limit(rev_limit: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            rev_limit,
            instance_start_time: MEMORY_INSTANCES.fetch_add(1, Ordering::Relaxed).to_string(),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Internal("memory store lock poisoned".into()))
    }

    /// The stored record of a document, for tests that compare replicas.
    pub fn record(&self, id: &DocId) -> Option<DocRecord> {
        self.lock().ok()?.docs.get(id).cloned()
    }

    /// Every document id, sorted.
    pub fn doc_ids(&self) -> Vec<DocId> {
        let mut ids: Vec<DocId> = self
            .lock()
            .map(|g| g.docs.keys().cloned().collect())
            .unwrap_or_default();
        crate::sort::sort(&mut ids);
        ids
    }
}

impl Inner {
    fn document(&self, record: &DocRecord, opts: &GetOptions) -> Result<Document> {
        record.document(opts, |digest| self.attachment_data.get(digest).cloned())
    }

    fn open_rev(&self, record: &DocRecord, rev: &RevId, opts: &GetOptions) -> Result<Document> {
        let opts = GetOptions {
            rev: Some(rev.clone()),
            ..opts.clone()
        };
        self.document(record, &opts)
    }
}

impl Store for MemoryStore {
    async fn info(&self) -> Result<DbInfo> {
        let inner = self.lock()?;
        Ok(DbInfo {
            update_seq: inner.update_seq,
            doc_count: (inner.docs.len() as u64).saturating_sub(inner.deleted),
            doc_del_count: inner.deleted,
            instance_start_time: self.instance_start_time.clone(),
        })
    }

    async fn get(&self, id: &DocId, opts: &GetOptions) -> Result<Document> {
        let inner = self.lock()?;
        let record = inner.docs.get(id).ok_or_else(Error::missing)?;
        inner.document(record, opts)
    }

    async fn open_revs(
        &self,
        id: &DocId,
        revs: &OpenRevs,
        opts: &GetOptions,
    ) -> Result<Vec<OpenRev>> {
        let inner = self.lock()?;
        let record = inner.docs.get(id);
        let mut out = Vec::new();
        for answer in open_revs_answers(record.map(|r| &r.tree), revs, opts.latest)? {
            out.push(match (answer, record) {
                (Ok(rev), Some(record)) => OpenRev::Ok(inner.open_rev(record, &rev, opts)?),
                (Ok(_), None) => return Err(Error::missing()),
                (Err(rev), _) => OpenRev::Missing(rev),
            });
        }
        Ok(out)
    }

    async fn bulk_docs(&self, docs: Vec<Document>, new_edits: bool) -> Result<Vec<DocResult>> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let mut results = Vec::with_capacity(docs.len());
        for doc in docs {
            let id = doc.id.clone();
            let sent_rev = doc.rev.clone();
            let mut record = inner
                .docs
                .get(&id)
                .cloned()
                .unwrap_or_else(|| DocRecord::new(id.clone()));
            let was_deleted = !record.tree.is_empty() && record.is_deleted();
            match record.update(doc, new_edits, self.rev_limit) {
                Ok(update) => {
                    if update.changed {
                        inner.update_seq += 1;
                        if record.seq > 0 {
                            inner.by_seq.remove(&record.seq);
                            inner.live.remove(record.seq);
                        }
                        record.seq = inner.update_seq;
                        inner.by_seq.insert(record.seq, id.clone());
                        inner.live.insert(record.seq);
                        match (was_deleted, record.is_deleted()) {
                            (false, true) => inner.deleted += 1,
                            (true, false) => inner.deleted = inner.deleted.saturating_sub(1),
                            _ => {}
                        }
                        for (digest, bytes) in update.new_attachments {
                            inner.attachment_data.entry(digest).or_insert(bytes);
                        }
                        inner.docs.insert(id.clone(), record);
                    }
                    results.push(DocResult::written(id.into_string(), update.rev));
                }
                Err(error) => results.push(DocResult::refused(id.into_string(), sent_rev, error)),
            }
        }
        Ok(results)
    }

    async fn changes(&self, opts: &ChangesOptions) -> Result<Changes> {
        let inner = self.lock()?;
        let limit = opts.limit.unwrap_or(usize::MAX);
        let mut results = Vec::new();
        let mut pending = 0u64;
        let mut matching = inner
            .by_seq
            .range(opts.since.saturating_add(1)..)
            .filter(|(_, id)| {
                opts.doc_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(id.as_str()))
            });
        while let Some((&seq, id)) = matching.next() {
            if results.len() >= limit {
                // `seq` is the first row after the page: count it and the rest.
                pending = match opts.doc_ids {
                    // Every later row is a live sequence.
                    None => inner.live.count(seq, inner.update_seq),
                    Some(_) => 1 + matching.count() as u64,
                };
                break;
            }
            let Some(record) = inner.docs.get(id) else {
                continue;
            };
            let mut row = record.change(opts.style);
            if let Some(get) = opts.doc_options(row.revs.first().cloned()) {
                row.doc = Some(inner.document(record, &get)?);
            }
            results.push(row);
        }
        let last_seq = match results.last() {
            Some(row) if pending > 0 => row.seq,
            _ => inner.update_seq,
        };
        Ok(Changes {
            results,
            last_seq,
            pending,
        })
    }

    async fn revs_diff(&self, revs: &RevsDiffRequest) -> Result<RevsDiff> {
        let inner = self.lock()?;
        let mut out = RevsDiff::new();
        for (id, wanted) in revs {
            let record = DocId::parse(id.as_str())
                .ok()
                .and_then(|id| inner.docs.get(&id));
            if let Some(entry) = revs_diff_entry(record.map(|r| &r.tree), wanted) {
                out.insert(id.clone(), entry);
            }
        }
        Ok(out)
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        validate_local_id(id)?;
        Ok(self.lock()?.locals.get(id).cloned())
    }

    async fn put_local(&self, mut doc: LocalDoc) -> Result<String> {
        validate_local_id(&doc.id)?;
        let mut inner = self.lock()?;
        let current = inner.locals.get(&doc.id).and_then(|d| d.rev.clone());
        if doc.rev != current {
            return Err(Error::conflict());
        }
        let rev = LocalDoc::next_rev(current.as_deref());
        doc.rev = Some(rev.clone());
        inner.locals.insert(doc.id.clone(), doc);
        Ok(rev)
    }

    async fn delete_local(&self, id: &str, rev: Option<&str>) -> Result<()> {
        validate_local_id(id)?;
        let mut inner = self.lock()?;
        let current = inner.locals.get(id).ok_or_else(Error::missing)?;
        if current.rev.as_deref() != rev {
            return Err(Error::conflict());
        }
        inner.locals.remove(id);
        Ok(())
    }
}

/// Turns a document's JSON into the body map of a new document (a helper for tests and callers
/// that build documents from `json!`).
pub fn body(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new_doc(id: &str, rev: Option<&RevId>, deleted: bool) -> Document {
        let mut doc = Document::new(DocId::parse(id).expect("id"), body(json!({"n": id})));
        doc.rev = rev.cloned();
        doc.deleted = deleted;
        doc
    }

    /// `info`'s kept counts and `_changes`' indexed `pending` agree with counting every
    /// document and every later row, after edits (a document's row moves to a later sequence),
    /// deletions and documents written again after their deletion.
    #[test]
    fn counts_and_pending_agree_with_a_full_walk_after_edits_and_deletions() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            let mut revs: HashMap<String, RevId> = HashMap::new();
            for round in 0..4u32 {
                let mut docs = Vec::new();
                for i in 0..30u32 {
                    let id = format!("d{i}");
                    // Edits, deletions, and writes after a deletion, varying by round.
                    let deleted = (i + round) % 5 == 0;
                    if round == 0 || i % (round + 1) == 0 {
                        let doc = new_doc(&id, revs.get(&id), deleted && round > 0);
                        docs.push((id, doc));
                    }
                }
                let (ids, docs): (Vec<String>, Vec<Document>) = docs.into_iter().unzip();
                let results = store.bulk_docs(docs, true).await.expect("write");
                for (id, result) in ids.into_iter().zip(results) {
                    let rev = result.rev.clone().expect("written");
                    assert!(result.is_ok(), "{id}: {:?}", result.error);
                    revs.insert(id, rev);
                }
            }
            let info = store.info().await.expect("info");
            let (deleted, rows) = {
                let inner = store.lock().expect("lock");
                let deleted = inner.docs.values().filter(|r| r.is_deleted()).count() as u64;
                let rows: Vec<u64> = inner.by_seq.keys().copied().collect();
                (deleted, rows)
            };
            assert!(deleted > 0, "the test deletes some documents");
            assert_eq!(info.doc_del_count, deleted);
            assert_eq!(info.doc_count, 30 - deleted);
            for since in 0..=info.update_seq {
                for limit in [0, 1, 3, 100] {
                    let page = store
                        .changes(&ChangesOptions {
                            since,
                            limit: Some(limit),
                            ..ChangesOptions::default()
                        })
                        .await
                        .expect("changes");
                    let later = rows.iter().filter(|&&s| s > since).count();
                    assert_eq!(page.results.len(), later.min(limit), "since {since}");
                    assert_eq!(
                        page.pending,
                        later.saturating_sub(limit) as u64,
                        "since {since} limit {limit}"
                    );
                }
            }
        });
    }
}
