//! [`SledStore`]: one CouchDB database kept in sled, implementing the shared [`Store`] trait.
//!
//! # Trees (per database, named `couch:<db>:<kind>`)
//! - `docs`: document id → [`DocMeta`] (the revision tree and the sequence of the latest change).
//! - `bodies`: `id \0 rev` → the stored body and attachment metadata of each leaf revision,
//!   and of earlier revisions until [`SledStore::compact`] removes them.
//! - `seqs`: big-endian `u64` sequence → the changes row ([`SeqEntry`]), so that `_changes`
//!   never needs to open the documents themselves.
//! - `locals`: `_local/…` id → the local document (checkpoints).
//! - `atts`: attachment digest → bytes, stored once however many revisions share them.
//! - `meta`: the live and deleted document counts, and the `instance_start_time` of this
//!   creation of the database.
//! - `figures` (region databases): document id → its contribution to the figures
//!   ([`crate::figures`]), written in the same transaction as the document.
//!
//! Each new revision is also appended to the custody log ([`crate::custody`], trees shared by
//! every database) in the same transaction as the document: a write acknowledged is a write
//! logged.
//!
//! Writes to one database go through one writer lock (a std `Mutex`, held only in synchronous
//! code, never across an `.await`), and each batch is applied in one sled transaction over the
//! trees it touches, so that a crash leaves every document either before or after the batch.
//! Nothing is acknowledged before a flush ([`GroupFlush`]) has made it durable.
//!
//! # Off the async workers
//! Every sled call may wait: on the writer lock, and on sled's process-wide concurrency lock,
//! which a transaction of *any* database holds exclusively while it commits. So each async
//! method of the [`Store`] runs its synchronous body on tokio's blocking pool
//! ([`SledStore::blocking`]); the async workers only ever await. A slow write to one region
//! then delays other sled calls, never `/api/health`'s worker or another request's parsing.
//!
//! # Panics
//! A panic inside a store call (a bug) fails that request with a 500 and nothing else. The
//! writer lock is recovered if a panic poisoned it: the [`Writer`] state is only changed after
//! a transaction has committed, by plain assignments that cannot panic, so a poisoned lock
//! still guards consistent state. Everything on disk is transactional.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chaski_shared::doc::{validate_local_id, Attachment, DocId, Document, LocalDoc};
use chaski_shared::live_seqs::LiveSeqs;
use chaski_shared::record::{DocRecord, StoredAttachment, StoredRev};
use chaski_shared::rev::{RevId, RevTree, DEFAULT_REV_LIMIT};
use chaski_shared::store::{
    open_revs_answers, revs_diff_entry, ChangeRow, Changes, ChangesOptions, ChangesStyle, DbInfo,
    DocResult, GetOptions, OpenRev, OpenRevs, RevsDiff, RevsDiffRequest,
};
use chaski_shared::{Error, Result, Store};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use tokio::sync::watch;

use crate::storage::GroupFlush;

/// What the `docs` tree keeps per document: everything but the bodies. Read, it owns its tree;
/// written, it borrows the batch's record's (no copy of the tree, and one struct: a field added
/// is written and read alike).
#[derive(Serialize, Deserialize)]
struct DocMeta<'a> {
    seq: u64,
    tree: Cow<'a, RevTree>,
}

/// What the `seqs` tree keeps per change: the row of the changes feed.
#[derive(Serialize, Deserialize)]
struct SeqEntry {
    id: String,
    /// Every leaf, winner first.
    revs: Vec<RevId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

/// One change as [`SledStore::scan_changes_raw`] shows it.
pub struct RawChange<'a> {
    pub seq: u64,
    pub id: &'a str,
    /// The winning revision.
    pub rev: Option<&'a RevId>,
    /// Whether the winner is a deletion (then there is no body).
    pub deleted: bool,
    /// The winner's stored body: JSON `{"body": {…}, "attachments": {…}}`.
    pub body: Option<&'a [u8]>,
}

/// The kinds of trees a database has, in the order [`Trees::open`] opens them.
const TREE_KINDS: [&str; 7] = [
    "docs", "bodies", "seqs", "locals", "atts", "meta", "figures",
];

const DOC_COUNT_KEY: &[u8] = b"doc_count";
const DOC_DEL_COUNT_KEY: &[u8] = b"doc_del_count";
/// Big-endian microseconds since the epoch when this creation of the database was made.
const INSTANCE_START_TIME_KEY: &[u8] = b"instance_start_time";
/// Big-endian version of the `figures` rows ([`crate::figures::INDEX_VERSION`]).
const FIGURES_VERSION_KEY: &[u8] = b"figures_version";

/// The highest `instance_start_time` given or seen by this process.
static LATEST_INSTANCE_START: AtomicU64 = AtomicU64::new(0);

/// A new `instance_start_time`: microseconds since the epoch, as CouchDB 1 gives, but always
/// above every value this process has given or read, so that two creations in the same
/// microsecond (or a clock set back) never share one. Reading every database's value when the
/// server opens them carries that floor across restarts.
fn new_instance_start_time() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    let previous = LATEST_INSTANCE_START
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |latest| {
            Some(now.max(latest.saturating_add(1)))
        })
        .unwrap_or_else(|latest| latest);
    now.max(previous.saturating_add(1))
}

/// The sled tree name of `kind` for database `db`. `:` is not allowed in database names, so no
/// two databases share a tree.
pub(crate) fn tree_name(db: &str, kind: &str) -> String {
    format!("couch:{db}:{kind}")
}

/// Every tree name of database `db`, to drop them when it is deleted.
pub(crate) fn tree_names(db: &str) -> Vec<String> {
    TREE_KINDS.iter().map(|k| tree_name(db, k)).collect()
}

struct Trees {
    docs: sled::Tree,
    bodies: sled::Tree,
    seqs: sled::Tree,
    locals: sled::Tree,
    atts: sled::Tree,
    meta: sled::Tree,
    figures: sled::Tree,
    /// The custody log's trees (global, not per database).
    custody: crate::custody::Trees,
}

impl Trees {
    fn open(db: &sled::Db, name: &str) -> std::result::Result<Self, sled::Error> {
        Ok(Trees {
            docs: db.open_tree(tree_name(name, "docs"))?,
            bodies: db.open_tree(tree_name(name, "bodies"))?,
            seqs: db.open_tree(tree_name(name, "seqs"))?,
            locals: db.open_tree(tree_name(name, "locals"))?,
            atts: db.open_tree(tree_name(name, "atts"))?,
            meta: db.open_tree(tree_name(name, "meta"))?,
            figures: db.open_tree(tree_name(name, "figures"))?,
            custody: crate::custody::Trees::open(db)?,
        })
    }
}

/// State only the writer touches.
struct Writer {
    update_seq: u64,
    doc_count: u64,
    doc_del_count: u64,
    /// Set when the database is deleted: later writes through an old handle must fail rather
    /// than recreate trees behind the registry's back.
    dropped: bool,
}

struct Inner {
    name: String,
    trees: Trees,
    writer: Mutex<Writer>,
    /// The sequence `_changes` readers may see: raised only once a batch is durable (after
    /// its flush), so that no replicator checkpoints past a sequence a crash could take back.
    /// Only ever raised (`fetch_max`): a flush makes every earlier commit durable too, so a
    /// later batch whose flush ends first may publish past an earlier one still flushing.
    visible_seq: AtomicU64,
    /// Counts as of `visible_seq`.
    counts: Mutex<(u64, u64)>,
    /// The latest durable sequence, for `_changes?feed=longpoll`.
    durable_seq: watch::Sender<u64>,
    rev_limit: usize,
    /// Which creation of the database this is (CouchDB's `instance_start_time`).
    instance_start_time: String,
    /// Makes writes durable, one flush for every write waiting at the same time.
    flusher: GroupFlush,
    /// The figures cache of a region database (`None` for other databases; inside, `None`
    /// until the first figures request loads it). Locked after the writer lock, never before.
    figures: Option<Mutex<Option<crate::figures::RegionFigures>>>,
    /// The live sequences, for `_changes`' `pending` (`None` until the first `_changes` that
    /// needs it builds it from the `seqs` tree, under the writer lock). Each batch updates it
    /// after its commit, under the writer lock; locked after the writer lock, never before.
    live_seqs: Mutex<Option<LiveSeqs>>,
}

/// One CouchDB database in sled. Cloning is cheap and every clone is the same database.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

fn internal(context: &str, err: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{context}: {err}"))
}

fn sled_err(err: sled::Error) -> Error {
    internal("sled", err)
}

fn decode<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| internal(&format!("corrupt {what}"), e))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| internal("encoding", e))
}

fn body_key(id: &str, rev: &RevId) -> Vec<u8> {
    // A revision never contains NUL and starts with digits, so `id \0 rev` is unambiguous.
    let rev = rev.to_string();
    let mut key = Vec::with_capacity(id.len() + 1 + rev.len());
    key.extend_from_slice(id.as_bytes());
    key.push(0);
    key.extend_from_slice(rev.as_bytes());
    key
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> std::result::Result<u64, sled::Error> {
    Ok(tree
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// The error for a handle whose database was deleted meanwhile.
pub fn no_such_database() -> Error {
    Error::NotFound("Database does not exist.".into())
}

/// A prepared write of one document, applied inside the batch transaction.
struct DocWrite {
    id: String,
    meta: Vec<u8>,
    old_seq: u64,
    new_seq: u64,
    seq_entry: Vec<u8>,
    remove_bodies: Vec<Vec<u8>>,
    insert_bodies: Vec<(Vec<u8>, Vec<u8>)>,
    /// The figures row of the new winner (`None`: no row), for a region database.
    figures: Option<Option<Vec<u8>>>,
}

impl SledStore {
    /// Opens (creating if needed) the trees of database `name` in `db`.
    pub fn open(db: &sled::Db, name: &str) -> std::result::Result<Self, sled::Error> {
        Self::open_with_rev_limit(db, name, DEFAULT_REV_LIMIT)
    }

    /// Like [`open`](Self::open), keeping `rev_limit` revisions per leaf.
    pub fn open_with_rev_limit(
        db: &sled::Db,
        name: &str,
        rev_limit: usize,
    ) -> std::result::Result<Self, sled::Error> {
        let trees = Trees::open(db, name)?;
        // The latest change always holds the highest sequence (nothing is ever purged), so
        // the update sequence needs no counter of its own.
        let update_seq = match trees.seqs.last()? {
            Some((k, _)) => <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
            None => 0,
        };
        let doc_count = read_u64(&trees.meta, DOC_COUNT_KEY)?;
        let doc_del_count = read_u64(&trees.meta, DOC_DEL_COUNT_KEY)?;
        let instance_start_time = match read_u64(&trees.meta, INSTANCE_START_TIME_KEY)? {
            // 0 is what read_u64 gives for an absent key: a fresh database (its trees were just
            // made, or dropped and made again), or one from a data folder older than the key.
            // Either gets its value now, kept from then on. For the older one this replaces the
            // "0" it used to answer; a replication running across that upgrade fails once and
            // resumes from its checkpoints, which are still there. The key is made durable by
            // the next flush (creating a database flushes before it answers); should a crash
            // lose it first, the database gets another value, with the same harmless effect.
            0 => {
                let value = new_instance_start_time();
                trees
                    .meta
                    .insert(INSTANCE_START_TIME_KEY, &value.to_be_bytes())?;
                value
            }
            stored => {
                LATEST_INSTANCE_START.fetch_max(stored, Ordering::AcqRel);
                stored
            }
        };
        let (durable_seq, _) = watch::channel(update_seq);
        let figures = crate::figures::indexed(name).then(|| Mutex::new(None));
        let store = SledStore {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                trees,
                writer: Mutex::new(Writer {
                    update_seq,
                    doc_count,
                    doc_del_count,
                    dropped: false,
                }),
                visible_seq: AtomicU64::new(update_seq),
                counts: Mutex::new((doc_count, doc_del_count)),
                durable_seq,
                rev_limit,
                instance_start_time: instance_start_time.to_string(),
                flusher: GroupFlush::new(db.clone()),
                figures,
                live_seqs: Mutex::new(None),
            }),
        };
        store.check_figures_version()?;
        Ok(store)
    }

    /// Whether both handles are the same creation of the same database.
    pub(crate) fn same_database(&self, other: &SledStore) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Which creation of the database this is: microseconds since the epoch, different after
    /// the database is deleted and created again (CouchDB's `instance_start_time`).
    pub fn instance_start_time(&self) -> &str {
        &self.inner.instance_start_time
    }

    /// The latest sequence a reader can see.
    pub fn update_seq(&self) -> u64 {
        self.inner.visible_seq.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever a write to this database becomes durable; its value is
    /// the update sequence (`_changes?feed=longpoll` waits on it).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.durable_seq.subscribe()
    }

    /// Marks the database deleted: every later write through any handle fails with 404. Taking
    /// the writer lock waits for a write in flight, so none lands in trees being dropped.
    pub(crate) fn mark_dropped(&self) -> Result<()> {
        let mut writer = self.writer()?;
        writer.dropped = true;
        Ok(())
    }

    /// The writer lock, recovered if a panic poisoned it (see the module's "Panics": the
    /// state it guards is only changed once a transaction committed, so it is consistent).
    fn writer(&self) -> Result<MutexGuard<'_, Writer>> {
        Ok(self.inner.writer.lock().unwrap_or_else(|poisoned| {
            tracing::warn!(db = %self.inner.name, "writer lock was poisoned by a panic; recovered");
            poisoned.into_inner()
        }))
    }

    /// Runs `write` holding the writer lock, with 404 once the database is deleted.
    fn write_with<T>(&self, write: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
        let mut writer = self.writer()?;
        if writer.dropped {
            return Err(no_such_database());
        }
        write(&mut writer)
    }

    /// Runs the synchronous `work` on tokio's blocking pool and awaits it. A panic in it
    /// becomes an internal error of this call alone.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SledStore) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || work(&store)).await {
            Ok(result) => result,
            Err(err) => {
                let what = if err.is_panic() {
                    "panicked"
                } else {
                    "was cancelled"
                };
                Err(Error::Internal(format!(
                    "a store operation on {} {what}",
                    self.inner.name
                )))
            }
        }
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flusher.flush().await.map_err(sled_err)
    }

    fn load_meta(&self, id: &str) -> Result<Option<DocMeta<'static>>> {
        match self.inner.trees.docs.get(id.as_bytes()).map_err(sled_err)? {
            Some(bytes) => Ok(Some(decode("document metadata", &bytes)?)),
            None => Ok(None),
        }
    }

    fn load(&self, id: &DocId) -> Result<Option<DocRecord>> {
        let Some(meta) = self.load_meta(id.as_str())? else {
            return Ok(None);
        };
        let mut leaves = BTreeMap::new();
        for leaf in meta.tree.leaves() {
            let key = body_key(id.as_str(), &leaf.rev);
            if let Some(bytes) = self.inner.trees.bodies.get(key).map_err(sled_err)? {
                leaves.insert(leaf.rev, decode::<StoredRev>("revision body", &bytes)?);
            }
        }
        Ok(Some(DocRecord {
            id: id.clone(),
            tree: meta.tree.into_owned(),
            leaves,
            seq: meta.seq,
        }))
    }

    /// The attachments stored with revisions of documents, one list per `(id, rev)` of
    /// `wanted`: with `Some(rev)` that revision's (a new edit's parent, a leaf or an earlier
    /// revision whose body is kept), with `None` every leaf's (a replicated revision may reuse
    /// the bytes of any). For judging stubs by their stored labels
    /// (`routes::couch::validate::stored_stub_labels`), a whole batch in one call: only each
    /// document's metadata and its stored revisions are read, and their bodies are skipped,
    /// never built. A document or revision this database lacks gives an empty list.
    pub fn stored_attachments(
        &self,
        wanted: &[(DocId, Option<RevId>)],
    ) -> Result<Vec<Vec<BTreeMap<String, StoredAttachment>>>> {
        /// A stored revision, its body skipped.
        #[derive(Deserialize)]
        struct Labels {
            #[serde(default)]
            attachments: BTreeMap<String, StoredAttachment>,
        }
        let bodies = &self.inner.trees.bodies;
        let read = |id: &str, rev: &RevId| -> Result<Option<BTreeMap<String, StoredAttachment>>> {
            match bodies.get(body_key(id, rev)).map_err(sled_err)? {
                Some(bytes) => Ok(Some(decode::<Labels>("revision body", &bytes)?.attachments)),
                None => Ok(None),
            }
        };
        let mut out = Vec::with_capacity(wanted.len());
        for (id, rev) in wanted {
            let revs = match rev {
                Some(rev) => vec![rev.clone()],
                None => match self.load_meta(id.as_str())? {
                    Some(meta) => meta.tree.leaves().into_iter().map(|l| l.rev).collect(),
                    None => Vec::new(),
                },
            };
            let mut found = Vec::with_capacity(revs.len());
            for rev in &revs {
                found.extend(read(id.as_str(), rev)?);
            }
            out.push(found);
        }
        Ok(out)
    }

    /// [`load`](Self::load), plus the body of `rev` when it is an earlier revision whose body
    /// is still kept (not yet compacted), so that reads of it answer.
    fn load_at(&self, id: &DocId, rev: Option<&RevId>) -> Result<Option<DocRecord>> {
        let Some(mut record) = self.load(id)? else {
            return Ok(None);
        };
        if let Some(rev) = rev {
            self.add_old_body(&mut record, rev)?;
        }
        Ok(Some(record))
    }

    fn add_old_body(&self, record: &mut DocRecord, rev: &RevId) -> Result<()> {
        if record.leaves.contains_key(rev) || !record.tree.contains(rev) {
            return Ok(());
        }
        let key = body_key(record.id.as_str(), rev);
        if let Some(bytes) = self.inner.trees.bodies.get(key).map_err(sled_err)? {
            record
                .leaves
                .insert(rev.clone(), decode::<StoredRev>("revision body", &bytes)?);
        }
        Ok(())
    }

    /// Whether the body of revision `rev` of `id` is kept (a leaf, or an earlier revision not
    /// yet compacted); for `_revs_info`.
    pub fn has_body(&self, id: &DocId, rev: &RevId) -> Result<bool> {
        self.inner
            .trees
            .bodies
            .contains_key(body_key(id.as_str(), rev))
            .map_err(sled_err)
    }

    /// CouchDB's compaction: removes the bodies of revisions that are no longer leaves, and
    /// the attachment bytes no remaining body refers to. Holds the writer lock throughout (a
    /// write must not refer to bytes being removed), so run it off the async workers. Returns
    /// how many bodies and attachments it removed.
    pub fn compact(&self) -> Result<(u64, u64)> {
        let writer = self.writer()?;
        if writer.dropped {
            return Err(no_such_database());
        }
        let trees = &self.inner.trees;
        let mut bodies_removed = 0u64;
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        // Keys are `id \0 rev`, so one document's bodies come together: its tree is read once.
        let mut current: Option<(Vec<u8>, Option<RevTree>)> = None;
        for item in trees.bodies.iter() {
            let (key, value) = item.map_err(sled_err)?;
            let Some(split) = key.iter().position(|b| *b == 0) else {
                continue;
            };
            let (id, rev) = (&key[..split], &key[split + 1..]);
            if current.as_ref().is_none_or(|(c, _)| c.as_slice() != id) {
                let tree = match trees.docs.get(id).map_err(sled_err)? {
                    Some(bytes) => Some(
                        decode::<DocMeta>("document metadata", &bytes)?
                            .tree
                            .into_owned(),
                    ),
                    None => None,
                };
                current = Some((id.to_vec(), tree));
            }
            let is_leaf = current
                .as_ref()
                .and_then(|(_, tree)| tree.as_ref())
                .zip(
                    std::str::from_utf8(rev)
                        .ok()
                        .and_then(|r| RevId::parse(r).ok()),
                )
                .is_some_and(|(tree, rev)| tree.is_leaf(&rev));
            if is_leaf {
                let stored: StoredRev = decode("revision body", &value)?;
                referenced.extend(stored.attachments.into_values().map(|a| a.digest));
            } else {
                trees.bodies.remove(&key).map_err(sled_err)?;
                bodies_removed += 1;
            }
        }
        let mut atts_removed = 0u64;
        for item in trees.atts.iter() {
            let (digest, _) = item.map_err(sled_err)?;
            if !std::str::from_utf8(&digest).is_ok_and(|d| referenced.contains(d)) {
                trees.atts.remove(&digest).map_err(sled_err)?;
                atts_removed += 1;
            }
        }
        if bodies_removed > 0 && crate::custody::enabled() {
            // The log says why these bodies are gone (`chaski custody verify`).
            let mut entry = crate::custody::Entry::now(crate::custody::Kind::Compaction);
            entry.db = Some(self.inner.name.clone());
            entry.detail = Some(format!("{bodies_removed} bodies removed"));
            trees.custody.append(&[entry]).map_err(sled_err)?;
        }
        drop(writer);
        // A tree's flush writes out the whole sled log, every tree of the database included.
        self.inner.trees.meta.flush().map_err(sled_err)?;
        Ok((bodies_removed, atts_removed))
    }

    fn attachment_bytes(&self, digest: &str) -> Option<Vec<u8>> {
        match self.inner.trees.atts.get(digest.as_bytes()) {
            Ok(found) => found.map(|v| v.to_vec()),
            Err(err) => {
                tracing::error!(%err, digest, "cannot read attachment bytes");
                None
            }
        }
    }

    fn document(&self, record: &DocRecord, opts: &GetOptions) -> Result<Document> {
        record.document(opts, |digest| self.attachment_bytes(digest))
    }

    /// The winning revision and deleted flag of a document, without its body (`_all_docs`).
    pub fn winner(&self, id: &str) -> Result<Option<(RevId, bool)>> {
        Ok(self
            .load_meta(id)?
            .and_then(|m| m.tree.winner())
            .map(|w| (w.rev, w.deleted)))
    }

    /// Document ids with their winner, in id order, from `start` (inclusive) on, or backwards
    /// from it with `descending`; for `_all_docs`. Deleted documents are skipped. Calls `visit`
    /// until it returns `false`.
    pub fn scan_winners(
        &self,
        start: Option<&str>,
        descending: bool,
        mut visit: impl FnMut(&str, RevId) -> Result<bool>,
    ) -> Result<()> {
        let docs = &self.inner.trees.docs;
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match (start, descending) {
                (None, false) => Box::new(docs.iter()),
                (None, true) => Box::new(docs.iter().rev()),
                (Some(s), false) => Box::new(docs.range(s.as_bytes()..)),
                (Some(s), true) => Box::new(docs.range(..=s.as_bytes()).rev()),
            };
        for item in iter {
            let (key, value) = item.map_err(sled_err)?;
            let meta: DocMeta = decode("document metadata", &value)?;
            let Some(winner) = meta.tree.winner() else {
                continue;
            };
            if winner.deleted {
                continue;
            }
            let id = std::str::from_utf8(&key).map_err(|e| internal("document key", e))?;
            if !visit(id, winner.rev)? {
                break;
            }
        }
        Ok(())
    }

    /// Applies a batch in memory, then writes it in one transaction. Returns the results and,
    /// when anything changed, the sequence the batch reached; the caller flushes, then
    /// [`publish`](Self::publish)es that sequence.
    /// `actor` is the author of the new revisions, for the custody log.
    fn write_batch(
        &self,
        docs: Vec<Document>,
        new_edits: bool,
        actor: &crate::custody::Actor,
    ) -> Result<(Vec<DocResult>, Option<u64>)> {
        let mut writer = self.writer()?;
        if writer.dropped {
            return Err(no_such_database());
        }
        let trees = &self.inner.trees;
        let mut results = Vec::with_capacity(docs.len());
        // The batch's working copy of each record it touches, and what each looked like before
        // (sequence, leaves, winner deleted / absent), to know which keys to remove.
        let mut working: HashMap<DocId, DocRecord> = HashMap::new();
        let mut before: HashMap<DocId, (u64, BTreeSet<RevId>, Option<bool>)> = HashMap::new();
        let mut new_atts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut seq = writer.update_seq;
        for doc in docs {
            let id = doc.id.clone();
            let sent_rev = doc.rev.clone();
            if !working.contains_key(&id) {
                let record = self
                    .load(&id)?
                    .unwrap_or_else(|| DocRecord::new(id.clone()));
                let existed = (!record.tree.is_empty()).then(|| record.is_deleted());
                before.insert(
                    id.clone(),
                    (record.seq, record.leaves.keys().cloned().collect(), existed),
                );
                working.insert(id.clone(), record);
            }
            let Some(record) = working.get_mut(&id) else {
                continue;
            };
            // `update` leaves the record unchanged when it fails.
            match record.update(doc, new_edits, self.inner.rev_limit) {
                Ok(update) => {
                    if update.changed {
                        seq += 1;
                        record.seq = seq;
                        for (digest, bytes) in update.new_attachments {
                            if !new_atts.contains_key(&digest)
                                && !trees
                                    .atts
                                    .contains_key(digest.as_bytes())
                                    .map_err(sled_err)?
                            {
                                new_atts.insert(digest, bytes);
                            }
                        }
                    }
                    results.push(DocResult::written(id.into_string(), update.rev));
                }
                Err(error) => results.push(DocResult::refused(id.into_string(), sent_rev, error)),
            }
        }

        let mut writes = Vec::new();
        let mut figure_rows = Vec::new();
        let mut custody = Vec::new();
        let (mut doc_count, mut doc_del_count) = (writer.doc_count, writer.doc_del_count);
        for (id, record) in &working {
            let Some((old_seq, old_leaves, existed)) = before.get(id) else {
                continue;
            };
            if record.seq == *old_seq {
                continue;
            }
            match existed {
                Some(true) => doc_del_count = doc_del_count.saturating_sub(1),
                Some(false) => doc_count = doc_count.saturating_sub(1),
                None => {}
            }
            let leaves = record.tree.leaves();
            let deleted = leaves.first().is_some_and(|w| w.deleted);
            if deleted {
                doc_del_count += 1;
            } else {
                doc_count += 1;
            }
            let meta = DocMeta {
                seq: record.seq,
                tree: Cow::Borrowed(&record.tree),
            };
            let entry = SeqEntry {
                id: id.as_str().to_owned(),
                revs: leaves.into_iter().map(|l| l.rev).collect(),
                deleted,
            };
            let mut insert_bodies = Vec::new();
            for (rev, stored) in &record.leaves {
                if !old_leaves.contains(rev) {
                    insert_bodies.push((body_key(id.as_str(), rev), encode(stored)?));
                    if crate::custody::enabled() {
                        custody.push(self.custody_entry(record, rev, stored, &new_atts, actor)?);
                    }
                }
            }
            let figures = self.inner.figures.as_ref().map(|_| {
                let winner = record.tree.winner();
                let body = winner
                    .as_ref()
                    .filter(|w| !w.deleted)
                    .and_then(|w| record.leaves.get(&w.rev))
                    .map(|stored| &stored.body);
                let row = winner
                    .as_ref()
                    .and_then(|w| crate::figures::contribution(id.as_str(), &w.rev, body));
                let bytes = row.as_ref().map(crate::figures::encode);
                figure_rows.push((id.as_str().to_owned(), row));
                bytes
            });
            writes.push(DocWrite {
                id: id.as_str().to_owned(),
                figures,
                meta: encode(&meta)?,
                old_seq: *old_seq,
                new_seq: record.seq,
                seq_entry: encode(&entry)?,
                // The bodies of revisions this batch superseded stay until compaction, as in
                // CouchDB: `GET ?rev=<older>` and its attachments still answer (the office
                // shows what changed since a review; the custody log checks old entries).
                remove_bodies: Vec::new(),
                insert_bodies,
            });
        }
        if writes.is_empty() {
            return Ok((results, None));
        }
        let outcome = (
            &trees.docs,
            &trees.bodies,
            &trees.seqs,
            &trees.atts,
            &trees.meta,
            &trees.figures,
            &trees.custody.entries,
            &trees.custody.state,
            &trees.custody.revs,
        )
            .transaction(
                |(docs, bodies, seqs, atts, meta, figures, c_entries, c_state, c_revs)| {
                    for w in &writes {
                        docs.insert(w.id.as_bytes(), w.meta.as_slice())?;
                        match &w.figures {
                            Some(Some(row)) => {
                                figures.insert(w.id.as_bytes(), row.as_slice())?;
                            }
                            Some(None) => {
                                figures.remove(w.id.as_bytes())?;
                            }
                            None => {}
                        }
                        for key in &w.remove_bodies {
                            bodies.remove(key.as_slice())?;
                        }
                        for (key, value) in &w.insert_bodies {
                            bodies.insert(key.as_slice(), value.as_slice())?;
                        }
                        if w.old_seq > 0 {
                            seqs.remove(&w.old_seq.to_be_bytes())?;
                        }
                        seqs.insert(&w.new_seq.to_be_bytes(), w.seq_entry.as_slice())?;
                    }
                    for (digest, bytes) in &new_atts {
                        atts.insert(digest.as_bytes(), bytes.as_slice())?;
                    }
                    meta.insert(DOC_COUNT_KEY, &doc_count.to_be_bytes())?;
                    meta.insert(DOC_DEL_COUNT_KEY, &doc_del_count.to_be_bytes())?;
                    if !custody.is_empty() {
                        crate::custody::Trees::append_tx(c_entries, c_state, c_revs, &custody)?;
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                },
            );
        match outcome {
            Ok(()) => {}
            Err(TransactionError::Storage(err)) => return Err(sled_err(err)),
            Err(TransactionError::Abort(())) => {
                return Err(Error::Internal("batch transaction aborted".into()))
            }
        }
        writer.update_seq = seq;
        writer.doc_count = doc_count;
        writer.doc_del_count = doc_del_count;
        if let Some(live) = self.live_seqs().as_mut() {
            for w in &writes {
                if w.old_seq > 0 {
                    live.remove(w.old_seq);
                }
                live.insert(w.new_seq);
            }
        }
        // The cache follows the committed rows, still under the writer lock.
        if let Some(cache) = &self.inner.figures {
            let mut cache = Self::figures_cache(cache);
            if let Some(cache) = cache.as_mut() {
                let events_of = |owner: &str| self.figure_events(owner);
                for (id, row) in figure_rows {
                    cache.apply(&id, row, &events_of);
                }
            }
        }
        *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (doc_count, doc_del_count);
        Ok((results, Some(seq)))
    }

    /// The custody log entry of a new revision: hashes of its canonical body and of each
    /// attachment's bytes (new in this batch, or already stored).
    fn custody_entry(
        &self,
        record: &DocRecord,
        rev: &RevId,
        stored: &StoredRev,
        new_atts: &BTreeMap<String, Vec<u8>>,
        actor: &crate::custody::Actor,
    ) -> Result<crate::custody::Prepared> {
        use crate::custody::{Entry, Kind};
        let mut entry = Entry::now(Kind::Revision);
        entry.db = Some(self.inner.name.clone());
        entry.id = Some(record.id.as_str().to_owned());
        entry.rev = Some(rev.to_string());
        entry.body_sha256 = Some(crate::custody::body_sha256(&stored.body));
        entry.deleted = record
            .tree
            .leaves()
            .iter()
            .any(|l| &l.rev == rev && l.deleted);
        entry.user = actor.user.clone();
        entry.token_id = actor.token_id.clone();
        for (name, meta) in &stored.attachments {
            let digest = match new_atts.get(&meta.digest) {
                Some(bytes) => crate::custody::sha256_hex(bytes),
                None => match self
                    .inner
                    .trees
                    .atts
                    .get(meta.digest.as_bytes())
                    .map_err(sled_err)?
                {
                    Some(bytes) => crate::custody::sha256_hex(&bytes),
                    None => String::new(),
                },
            };
            entry.attachments.insert(name.clone(), digest);
        }
        Ok(crate::custody::Prepared::new(&entry))
    }

    /// Shows `_changes` readers (and longpoll waiters) everything up to `seq`, which must be
    /// durable. Never lowers what they see.
    fn publish(&self, seq: u64) {
        self.inner.visible_seq.fetch_max(seq, Ordering::AcqRel);
        self.inner.durable_seq.send_if_modified(|current| {
            let newer = *current < seq;
            if newer {
                *current = seq;
            }
            newer
        });
    }

    /// The changes feed newest first (`_changes?descending=true`): rows above `opts.since`,
    /// at most `opts.limit` of them; `last_seq` is the last (oldest) row's sequence, or the
    /// update sequence when there is none.
    pub fn changes_descending(&self, opts: &ChangesOptions) -> Result<Changes> {
        let upto = self.update_seq();
        let limit = opts.limit.unwrap_or(usize::MAX);
        let from = opts.since.saturating_add(1);
        let mut results = Vec::new();
        let mut pending = 0u64;
        if from <= upto {
            let range = self
                .inner
                .trees
                .seqs
                .range(from.to_be_bytes()..=upto.to_be_bytes())
                .rev();
            for item in range {
                let (key, value) = item.map_err(sled_err)?;
                let entry: SeqEntry = decode("changes entry", &value)?;
                if opts
                    .doc_ids
                    .as_ref()
                    .is_some_and(|ids| !ids.contains(&entry.id))
                {
                    continue;
                }
                if results.len() >= limit {
                    pending += 1;
                    continue;
                }
                let seq = <[u8; 8]>::try_from(key.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|e| internal("changes key", e))?;
                let id = DocId::parse(entry.id).map_err(|e| internal("changes entry id", e))?;
                let doc = if opts.include_docs {
                    match self.load(&id)? {
                        Some(record) => opts
                            .doc_options(record.winner().map(|w| w.rev))
                            .map(|get| self.document(&record, &get))
                            .transpose()?,
                        None => None,
                    }
                } else {
                    None
                };
                let revs = match opts.style {
                    ChangesStyle::MainOnly => entry.revs.into_iter().take(1).collect(),
                    ChangesStyle::AllDocs => entry.revs,
                };
                results.push(ChangeRow {
                    seq,
                    id,
                    revs,
                    deleted: entry.deleted,
                    doc,
                });
            }
        }
        let last_seq = results.last().map_or(upto, |row| row.seq);
        Ok(Changes {
            results,
            last_seq,
            pending,
        })
    }

    fn open_rev(&self, record: &DocRecord, rev: &RevId, opts: &GetOptions) -> Result<Document> {
        let opts = GetOptions {
            rev: Some(rev.clone()),
            ..opts.clone()
        };
        self.document(record, &opts)
    }
}

impl Store for SledStore {
    async fn info(&self) -> Result<DbInfo> {
        // Two plain integers: a poisoned lock still holds a whole pair.
        let (doc_count, doc_del_count) = *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(DbInfo {
            update_seq: self.update_seq(),
            doc_count,
            doc_del_count,
            instance_start_time: self.inner.instance_start_time.clone(),
        })
    }

    async fn get(&self, id: &DocId, opts: &GetOptions) -> Result<Document> {
        let (id, opts) = (id.clone(), opts.clone());
        self.blocking(move |store| store.get_now(&id, &opts)).await
    }

    async fn open_revs(
        &self,
        id: &DocId,
        revs: &OpenRevs,
        opts: &GetOptions,
    ) -> Result<Vec<OpenRev>> {
        let (id, revs, opts) = (id.clone(), revs.clone(), opts.clone());
        self.blocking(move |store| store.open_revs_now(&id, &revs, &opts))
            .await
    }

    async fn bulk_docs(&self, docs: Vec<Document>, new_edits: bool) -> Result<Vec<DocResult>> {
        let actor = crate::custody::current_actor();
        let (results, reached) = self
            .blocking(move |store| store.write_batch(docs, new_edits, &actor))
            .await?;
        if let Some(seq) = reached {
            // One flush for the whole batch; nothing is acknowledged, nor shown to `_changes`,
            // before it.
            self.flush().await?;
            self.publish(seq);
        }
        Ok(results)
    }

    async fn changes(&self, opts: &ChangesOptions) -> Result<Changes> {
        let opts = opts.clone();
        self.blocking(move |store| store.changes_now(&opts)).await
    }

    async fn revs_diff(&self, revs: &RevsDiffRequest) -> Result<RevsDiff> {
        let revs = revs.clone();
        self.blocking(move |store| store.revs_diff_now(&revs)).await
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        let id = id.to_owned();
        self.blocking(move |store| store.get_local_now(&id)).await
    }

    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        let rev = self.blocking(move |store| store.put_local_now(doc)).await?;
        self.flush().await?;
        Ok(rev)
    }

    async fn delete_local(&self, id: &str, rev: Option<&str>) -> Result<()> {
        let (id, rev) = (id.to_owned(), rev.map(str::to_owned));
        self.blocking(move |store| store.delete_local_now(&id, rev.as_deref()))
            .await?;
        self.flush().await
    }

    async fn ensure_full_commit(&self) -> Result<()> {
        self.flush().await
    }

    async fn attachment(&self, id: &DocId, name: &str, rev: Option<&RevId>) -> Result<Attachment> {
        let (id, name, rev) = (id.clone(), name.to_owned(), rev.cloned());
        self.blocking(move |store| store.attachment_now(&id, &name, rev.as_ref()))
            .await
    }
}

/// The synchronous bodies of the [`Store`] methods, run by [`SledStore::blocking`]; the public
/// ones are for code that already runs there (the write rules, the office index).
impl SledStore {
    /// [`Store::get`], synchronously.
    pub fn get_now(&self, id: &DocId, opts: &GetOptions) -> Result<Document> {
        let record = self
            .load_at(id, opts.rev.as_ref())?
            .ok_or_else(Error::missing)?;
        self.document(&record, opts)
    }

    /// [`Store::open_revs`], synchronously (`_bulk_get` answers a whole request in one trip
    /// to the blocking pool with it).
    pub fn open_revs_now(
        &self,
        id: &DocId,
        revs: &OpenRevs,
        opts: &GetOptions,
    ) -> Result<Vec<OpenRev>> {
        let mut record = self.load(id)?;
        if let (Some(record), OpenRevs::Revs(asked)) = (&mut record, revs) {
            for rev in asked {
                self.add_old_body(record, rev)?;
            }
        }
        let answers = open_revs_answers(record.as_ref().map(|r| &r.tree), revs, opts.latest)?;
        fn rev_of(answer: &std::result::Result<RevId, RevId>) -> &RevId {
            match answer {
                Ok(rev) | Err(rev) => rev,
            }
        }
        let mut out = Vec::with_capacity(answers.len());
        for (i, answer) in answers.iter().enumerate() {
            let rev = rev_of(answer).clone();
            // The record is dropped after this call: the last answer naming a revision takes
            // its body instead of copying it (answers are a handful; a revision asked twice is
            // rare, and then copied).
            let take = !answers[i + 1..].iter().any(|later| *rev_of(later) == rev);
            out.push(match (answer.is_ok(), &mut record) {
                (true, Some(record)) => {
                    OpenRev::Ok(self.open_rev_taking(record, &rev, opts, take)?)
                }
                (true, None) => return Err(Error::missing()),
                // An earlier revision whose body is kept until compaction answers too.
                (false, Some(record)) if record.leaves.contains_key(&rev) => {
                    OpenRev::Ok(self.open_rev_taking(record, &rev, opts, take)?)
                }
                (false, _) => OpenRev::Missing(rev),
            });
        }
        Ok(out)
    }

    /// [`open_rev`](Self::open_rev) that, with `take`, moves the revision's body out of
    /// `record` rather than copying it.
    fn open_rev_taking(
        &self,
        record: &mut DocRecord,
        rev: &RevId,
        opts: &GetOptions,
        take: bool,
    ) -> Result<Document> {
        let body = take
            .then(|| record.leaves.get_mut(rev))
            .flatten()
            .map(|stored| std::mem::take(&mut stored.body));
        let mut doc = self.open_rev(record, rev, opts)?;
        if let Some(body) = body {
            doc.body = body;
        }
        Ok(doc)
    }

    /// [`Store::changes`], synchronously.
    pub fn changes_now(&self, opts: &ChangesOptions) -> Result<Changes> {
        self.changes_counted(opts, true)
    }

    /// The changes after `since`, at most `limit` of them, each with its winner's stored body
    /// as raw bytes (the JSON of a `StoredRev`: `{"body": {…}, "attachments": {…}}`), for a
    /// reader that needs a few fields of every document (the office index) and must not pay
    /// for decoding, copying and freeing whole documents. Returns the sequence reached (the
    /// update sequence when nothing is left) and whether more changes remain. Synchronous.
    pub fn scan_changes_raw(
        &self,
        since: u64,
        limit: usize,
        mut visit: impl FnMut(RawChange<'_>),
    ) -> Result<(u64, bool)> {
        let upto = self.update_seq();
        let from = since.saturating_add(1);
        if from > upto {
            return Ok((upto, false));
        }
        let mut last = since;
        let range = self
            .inner
            .trees
            .seqs
            .range(from.to_be_bytes()..=upto.to_be_bytes());
        for (seen, item) in range.enumerate() {
            if seen >= limit {
                return Ok((last, true));
            }
            let (key, value) = item.map_err(sled_err)?;
            let seq = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|e| internal("changes key", e))?;
            let entry: SeqEntry = decode("changes entry", &value)?;
            let winner = entry.revs.first();
            let body = match (winner, entry.deleted) {
                (Some(rev), false) => self
                    .inner
                    .trees
                    .bodies
                    .get(body_key(&entry.id, rev))
                    .map_err(sled_err)?,
                _ => None,
            };
            visit(RawChange {
                seq,
                id: &entry.id,
                rev: winner,
                deleted: entry.deleted,
                body: body.as_deref(),
            });
            last = seq;
        }
        Ok((upto, false))
    }

    /// [`changes_now`](Self::changes_now) for a reader that pages through everything (the
    /// office index): `pending` is only 0 (done) or 1 (more), so a page stops at its limit
    /// instead of counting every later row, which would make reading N rows quadratic.
    pub fn changes_page_now(&self, opts: &ChangesOptions) -> Result<Changes> {
        self.changes_counted(opts, false)
    }

    fn changes_counted(&self, opts: &ChangesOptions, count_pending: bool) -> Result<Changes> {
        // Rows above the visible sequence belong to a batch still being written.
        let upto = self.update_seq();
        let limit = opts.limit.unwrap_or(usize::MAX);
        let mut results = Vec::new();
        let mut pending = 0u64;
        let from = opts.since.saturating_add(1);
        if from <= upto {
            let range = self
                .inner
                .trees
                .seqs
                .range(from.to_be_bytes()..=upto.to_be_bytes());
            for item in range {
                let (key, value) = item.map_err(sled_err)?;
                if results.len() >= limit && opts.doc_ids.is_none() {
                    if count_pending {
                        // Every live row from this one on, counted from the index rather than
                        // by walking them (which made paging through a database quadratic).
                        let seq = <[u8; 8]>::try_from(key.as_ref())
                            .map(u64::from_be_bytes)
                            .map_err(|e| internal("changes key", e))?;
                        pending = self.count_live(seq, upto)?;
                    } else {
                        pending = 1;
                    }
                    break;
                }
                let entry: SeqEntry = decode("changes entry", &value)?;
                if let Some(ids) = &opts.doc_ids {
                    if !ids.contains(&entry.id) {
                        continue;
                    }
                }
                if results.len() >= limit {
                    pending += 1;
                    if !count_pending {
                        break;
                    }
                    continue;
                }
                let seq = <[u8; 8]>::try_from(key.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|e| internal("changes key", e))?;
                let id = DocId::parse(entry.id).map_err(|e| internal("changes entry id", e))?;
                let revs = match opts.style {
                    ChangesStyle::MainOnly => entry.revs.into_iter().take(1).collect(),
                    ChangesStyle::AllDocs => entry.revs,
                };
                let doc = if opts.include_docs {
                    let record = self.load(&id)?.ok_or_else(|| {
                        Error::Internal(format!("changes entry for unknown document {id}"))
                    })?;
                    opts.doc_options(record.winner().map(|w| w.rev))
                        .map(|get| self.document(&record, &get))
                        .transpose()?
                } else {
                    None
                };
                results.push(ChangeRow {
                    seq,
                    id,
                    revs,
                    deleted: entry.deleted,
                    doc,
                });
            }
        }
        let last_seq = match results.last() {
            Some(row) if pending > 0 => row.seq,
            _ => upto.max(opts.since.min(upto)),
        };
        Ok(Changes {
            results,
            last_seq,
            pending,
        })
    }

    /// The live-sequence index, recovered if a panic poisoned its lock: a panic can only have
    /// come between two plain updates, so the index is dropped and built again when needed.
    fn live_seqs(&self) -> MutexGuard<'_, Option<LiveSeqs>> {
        self.inner.live_seqs.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            self.inner.live_seqs.clear_poison();
            guard
        })
    }

    /// How many rows the `seqs` tree holds in `from..=to`, from the live-sequence index
    /// (built on first use, under the writer lock so that no batch commits meanwhile).
    fn count_live(&self, from: u64, to: u64) -> Result<u64> {
        if let Some(live) = self.live_seqs().as_ref() {
            return Ok(live.count(from, to));
        }
        let _writer = self.writer()?;
        let mut live = self.live_seqs();
        if live.is_none() {
            let mut built = LiveSeqs::default();
            for key in self.inner.trees.seqs.iter().keys() {
                let key = key.map_err(sled_err)?;
                let seq = <[u8; 8]>::try_from(key.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|e| internal("changes key", e))?;
                built.insert(seq);
            }
            *live = Some(built);
        }
        Ok(live.as_ref().map_or(0, |l| l.count(from, to)))
    }

    fn revs_diff_now(&self, revs: &RevsDiffRequest) -> Result<RevsDiff> {
        let mut out = RevsDiff::new();
        for (id, wanted) in revs {
            let meta = match DocId::parse(id.as_str()) {
                Ok(_) => self.load_meta(id)?,
                Err(_) => None,
            };
            if let Some(entry) = revs_diff_entry(meta.as_ref().map(|m| &*m.tree), wanted) {
                out.insert(id.clone(), entry);
            }
        }
        Ok(out)
    }

    fn get_local_now(&self, id: &str) -> Result<Option<LocalDoc>> {
        validate_local_id(id)?;
        match self
            .inner
            .trees
            .locals
            .get(id.as_bytes())
            .map_err(sled_err)?
        {
            Some(bytes) => {
                let value: serde_json::Value = decode("local document", &bytes)?;
                Ok(Some(LocalDoc::from_json(value)?))
            }
            None => Ok(None),
        }
    }

    fn put_local_now(&self, mut doc: LocalDoc) -> Result<String> {
        validate_local_id(&doc.id)?;
        self.write_with(|_| {
            let locals = &self.inner.trees.locals;
            let current = match locals.get(doc.id.as_bytes()).map_err(sled_err)? {
                Some(bytes) => {
                    let value: serde_json::Value = decode("local document", &bytes)?;
                    LocalDoc::from_json(value)?.rev
                }
                None => None,
            };
            if doc.rev != current {
                return Err(Error::conflict());
            }
            let rev = LocalDoc::next_rev(current.as_deref());
            doc.rev = Some(rev.clone());
            locals
                .insert(doc.id.as_bytes(), encode(&doc.to_json())?)
                .map_err(sled_err)?;
            Ok(rev)
        })
    }

    fn delete_local_now(&self, id: &str, rev: Option<&str>) -> Result<()> {
        validate_local_id(id)?;
        self.write_with(|_| {
            let locals = &self.inner.trees.locals;
            let bytes = locals
                .get(id.as_bytes())
                .map_err(sled_err)?
                .ok_or_else(Error::missing)?;
            let value: serde_json::Value = decode("local document", &bytes)?;
            if LocalDoc::from_json(value)?.rev.as_deref() != rev {
                return Err(Error::conflict());
            }
            locals.remove(id.as_bytes()).map_err(sled_err)?;
            Ok(())
        })
    }

    fn attachment_now(&self, id: &DocId, name: &str, rev: Option<&RevId>) -> Result<Attachment> {
        // Only the asked-for attachment's bytes are read, not every attachment of the revision.
        let record = self.load_at(id, rev)?.ok_or_else(Error::missing)?;
        let opts = GetOptions {
            rev: rev.cloned(),
            ..GetOptions::default()
        };
        let doc = self.document(&record, &opts)?;
        let mut att = doc
            .attachments
            .get(name)
            .cloned()
            .ok_or_else(Error::missing)?;
        att.data = Some(self.attachment_bytes(&att.digest).ok_or_else(|| {
            Error::Internal(format!("attachment bytes for {} are missing", att.digest))
        })?);
        Ok(att)
    }
}

/// The figures index of a region database ([`crate::figures`]).
impl SledStore {
    /// The figures cache lock. A panic while it was held may have left it half-updated, so a
    /// poisoned cache is dropped (the next request loads it again from the rows) and the
    /// poison cleared: left poisoned, every later lock would drop the cache again and every
    /// figures request would reload all the rows.
    fn figures_cache(
        cache: &Mutex<Option<crate::figures::RegionFigures>>,
    ) -> MutexGuard<'_, Option<crate::figures::RegionFigures>> {
        cache.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            cache.clear_poison();
            guard
        })
    }

    /// At open: a region database whose rows are of another version (or from before the
    /// index) is rebuilt; an empty one is simply marked current.
    fn check_figures_version(&self) -> std::result::Result<(), sled::Error> {
        if self.inner.figures.is_none() {
            return Ok(());
        }
        let trees = &self.inner.trees;
        if read_u64(&trees.meta, FIGURES_VERSION_KEY)? == crate::figures::INDEX_VERSION {
            return Ok(());
        }
        if trees.docs.is_empty() {
            trees.meta.insert(
                FIGURES_VERSION_KEY,
                &crate::figures::INDEX_VERSION.to_be_bytes(),
            )?;
            return Ok(());
        }
        tracing::info!(db = %self.inner.name, "rebuilding the figures index (new or older format)");
        self.rebuild_figures()
            .map(|_| ())
            .map_err(|e| sled::Error::Unsupported(format!("figures rebuild: {e}")))
    }

    /// Recomputes every figures row from the winning revisions, from scratch (`chaski figures
    /// rebuild`), and drops the cache. Holds the writer lock throughout; synchronous. Returns
    /// how many documents contribute. Not durable until the next flush.
    pub fn rebuild_figures(&self) -> Result<u64> {
        if self.inner.figures.is_none() {
            return Ok(0);
        }
        let writer = self.writer()?;
        if writer.dropped {
            return Err(no_such_database());
        }
        let trees = &self.inner.trees;
        // The version goes first: a crash halfway leaves no version, so the next open
        // rebuilds again (sled recovers a prefix of its log) instead of trusting half a tree.
        trees.meta.remove(FIGURES_VERSION_KEY).map_err(sled_err)?;
        trees.figures.clear().map_err(sled_err)?;
        let mut rows = 0u64;
        let mut batch = sled::Batch::default();
        let mut pending = 0usize;
        for item in trees.docs.iter() {
            let (key, value) = item.map_err(sled_err)?;
            let id = std::str::from_utf8(&key).map_err(|e| internal("document key", e))?;
            let meta: DocMeta = decode("document metadata", &value)?;
            let Some(winner) = meta.tree.winner() else {
                continue;
            };
            let stored = if winner.deleted {
                None
            } else {
                match trees
                    .bodies
                    .get(body_key(id, &winner.rev))
                    .map_err(sled_err)?
                {
                    Some(bytes) => Some(decode::<StoredRev>("revision body", &bytes)?),
                    None => None,
                }
            };
            let row =
                crate::figures::contribution(id, &winner.rev, stored.as_ref().map(|s| &s.body));
            if let Some(row) = row {
                batch.insert(key.as_ref(), crate::figures::encode(&row));
                rows += 1;
                pending += 1;
                if pending >= 10_000 {
                    trees
                        .figures
                        .apply_batch(std::mem::take(&mut batch))
                        .map_err(sled_err)?;
                    pending = 0;
                }
            }
        }
        trees.figures.apply_batch(batch).map_err(sled_err)?;
        trees
            .meta
            .insert(
                FIGURES_VERSION_KEY,
                &crate::figures::INDEX_VERSION.to_be_bytes(),
            )
            .map_err(sled_err)?;
        if let Some(cache) = &self.inner.figures {
            *Self::figures_cache(cache) = None;
        }
        drop(writer);
        Ok(rows)
    }

    /// Runs `read` on the figures cache, loading it from the rows first if needed; `None` for
    /// a database without figures. Synchronous: call it on the blocking pool.
    pub fn with_figures<T>(
        &self,
        read: impl FnOnce(&crate::figures::RegionFigures) -> T,
    ) -> Result<Option<T>> {
        let Some(cache) = &self.inner.figures else {
            return Ok(None);
        };
        {
            let guard = Self::figures_cache(cache);
            if let Some(figures) = guard.as_ref() {
                return Ok(Some(read(figures)));
            }
        }
        // Loading holds the writer lock (then the cache's, the same order as a write), so no
        // batch commits between reading the rows and installing the cache.
        let writer = self.writer()?;
        if writer.dropped {
            return Err(no_such_database());
        }
        let mut guard = Self::figures_cache(cache);
        if guard.is_none() {
            let rows = self.figure_rows()?;
            *guard = Some(crate::figures::load(
                rows.into_iter()
                    .map(|(id, bytes)| (id, crate::figures::decode(&bytes))),
            ));
        }
        drop(writer);
        Ok(guard.as_ref().map(read))
    }

    /// The valid case events of inspection `owner`, from the figures rows (the cache keeps
    /// none). A row that cannot be read is skipped, like an invalid event.
    fn figure_events(&self, owner: &str) -> Vec<chaski_shared::domain::CaseEvent> {
        let rows = self
            .inner
            .trees
            .figures
            .scan_prefix(crate::figures::events_prefix(owner))
            .filter_map(|item| match item {
                Ok((key, value)) => Some((
                    String::from_utf8(key.to_vec()).ok()?,
                    crate::figures::decode(&value),
                )),
                Err(err) => {
                    tracing::error!(%err, db = %self.inner.name, "cannot read figures rows");
                    None
                }
            });
        crate::figures::events_from_rows(owner, rows)
    }

    /// Every figures row (document id → bytes), in id order: to compare an incremental index
    /// with a rebuild, and to load the cache.
    pub fn figure_rows(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut rows = Vec::new();
        for item in self.inner.trees.figures.iter() {
            let (key, value) = item.map_err(sled_err)?;
            let id = String::from_utf8(key.to_vec()).map_err(|e| internal("figures key", e))?;
            rows.push((id, value.to_vec()));
        }
        Ok(rows)
    }

    /// Flushes the whole sled log: after [`rebuild_figures`](Self::rebuild_figures).
    pub async fn flush_now(&self) -> Result<()> {
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_while_holding_the_writer_fails_that_call_alone_and_the_database_keeps_working()
    {
        let dir = tempfile::tempdir().unwrap();
        let sled = sled::Config::new().path(dir.path()).open().unwrap();
        let store = SledStore::open(&sled, "panics").unwrap();
        let first = Document::from_json(json!({"_id": "before", "v": 1})).unwrap();
        store.bulk_docs(vec![first], true).await.unwrap();

        // A bug in the middle of a write, with the writer lock held.
        let failed = store
            .blocking(|s| s.write_with(|_| -> Result<()> { panic!("a bug while writing") }))
            .await;
        assert!(matches!(failed, Err(Error::Internal(_))), "{failed:?}");
        assert!(store.inner.writer.is_poisoned(), "the panic held the lock");

        let next = Document::from_json(json!({"_id": "after", "v": 2})).unwrap();
        let written = store.bulk_docs(vec![next], true).await.unwrap();
        assert!(written[0].error.is_none(), "{written:?}");
        let id = DocId::parse("after").unwrap();
        let read = store.get(&id, &GetOptions::default()).await.unwrap();
        assert_eq!(read.body["v"], 2);
        let local = LocalDoc::from_json(json!({"_id": "_local/x", "n": 1})).unwrap();
        assert_eq!(store.put_local(local).await.unwrap(), "0-1");
        assert_eq!(store.info().await.unwrap().doc_count, 2);
    }

    fn doc(id: &str) -> Document {
        Document::from_json(serde_json::json!({"_id": id, "v": 1})).expect("test document")
    }

    #[tokio::test]
    async fn an_earlier_revision_asked_twice_in_open_revs_comes_with_its_body_both_times() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = SledStore::open(&db, "d").unwrap();
        let written = store.bulk_docs(vec![doc("a")], true).await.unwrap();
        let first = written[0].rev.clone().unwrap();
        let mut second = doc("a");
        second.rev = Some(first.clone());
        second.body.insert("v".into(), json!(2));
        store.bulk_docs(vec![second], true).await.unwrap();
        let id = DocId::parse("a").unwrap();
        // Not a leaf, its body kept until compaction: answered each time it is asked.
        let asked = OpenRevs::Revs(vec![first.clone(), first]);
        let answers = store
            .open_revs(&id, &asked, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(answers.len(), 2);
        for answer in answers {
            let OpenRev::Ok(found) = answer else {
                panic!("found: {answer:?}");
            };
            assert_eq!(found.body["v"], 1);
        }
    }

    #[tokio::test]
    async fn a_batch_reaches_the_changes_feed_only_once_it_is_durable() {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("temporary sled");
        let store = SledStore::open(&db, "d").expect("store");
        // Committed but not yet flushed: a replicator must not see (and checkpoint) it, since
        // a crash now could take it back.
        let (_, reached) = store
            .write_batch(
                vec![doc("a"), doc("b")],
                true,
                &crate::custody::Actor::default(),
            )
            .expect("write");
        assert_eq!(reached, Some(2));
        assert_eq!(store.update_seq(), 0);
        let feed = store
            .changes(&ChangesOptions::default())
            .await
            .expect("changes");
        assert!(feed.results.is_empty());
        assert_eq!(feed.last_seq, 0);
        // Through the store's own path the batch is flushed, then shown.
        store.bulk_docs(vec![doc("c")], true).await.expect("write");
        assert_eq!(store.update_seq(), 3);
        let feed = store
            .changes(&ChangesOptions::default())
            .await
            .expect("changes");
        assert_eq!(feed.results.len(), 3);
        assert_eq!(feed.last_seq, 3);
    }

    #[tokio::test]
    async fn a_raw_scan_pages_through_winners_bytes_and_shows_deletions_without_a_body() {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("temporary sled");
        let store = SledStore::open(&db, "raw").expect("store");
        let written = store
            .bulk_docs(vec![doc("a"), doc("b"), doc("c")], true)
            .await
            .expect("write");
        let mut gone = doc("b");
        gone.rev = written[1].rev.clone();
        gone.deleted = true;
        gone.body.clear();
        store.bulk_docs(vec![gone], true).await.expect("delete");
        let mut seen = Vec::new();
        let (reached, more) = store
            .scan_changes_raw(0, 1, |c| {
                seen.push((c.id.to_owned(), c.deleted, c.body.is_some()))
            })
            .expect("scan");
        assert_eq!((reached, more), (1, true));
        let (reached, more) = store
            .scan_changes_raw(reached, usize::MAX, |c| {
                let body = c
                    .body
                    .map(|b| serde_json::from_slice::<serde_json::Value>(b).expect("json"));
                assert!(body.is_none_or(|b| b["body"]["v"] == 1));
                seen.push((c.id.to_owned(), c.deleted, c.body.is_some()))
            })
            .expect("scan");
        assert_eq!((reached, more), (4, false));
        assert_eq!(
            seen,
            vec![
                ("a".to_owned(), false, true),
                ("c".to_owned(), false, true),
                ("b".to_owned(), true, false)
            ]
        );
        let (reached, more) = store
            .scan_changes_raw(4, 10, |_| panic!("nothing new"))
            .expect("scan");
        assert_eq!((reached, more), (4, false));
    }

    #[test]
    fn instance_start_times_never_repeat_even_within_one_microsecond() {
        let mut previous = new_instance_start_time();
        for _ in 0..10_000 {
            let next = new_instance_start_time();
            assert!(next > previous, "{next} after {previous}");
            previous = next;
        }
    }
}
