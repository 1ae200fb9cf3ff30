//! The custody log: an append-only Merkle log (RFC 6962/9162) of every accepted revision,
//! every administration change and every opening of a sealed identity, with signed
//! checkpoints (C2SP tlog-checkpoint), so that a rewrite or deletion of the record by someone
//! with access to the server is detectable by the national office and by a court.
//!
//! # Layout
//! - [`merkle`]: the hashing, the compact range and the proofs (no I/O).
//! - [`checkpoint`]: the log's Ed25519 key (`custody.key` in the data folder) and the signed
//!   notes; the background task that signs one at least every minute.
//! - [`verify`]: `chaski custody verify`, on a stopped server.
//!
//! # Entries
//! An entry is canonical JSON: an object with its keys in byte order, no whitespace, strings
//! and numbers as `serde_json` writes them (only `"`, `\` and control characters escaped),
//! absent fields left out. See [`Entry`]. The body hash is SHA-256 of the revision's body (the
//! fields not starting with `_`) in the same canonical JSON, at every depth.
//!
//! # Storage (sled trees)
//! - `custody_entries`: big-endian `u64` index → leaf hash (32 bytes) ‖ entry bytes.
//! - `custody_state`: `range` → the [`merkle::CompactRange`] of the whole log (O(log n)).
//! - `custody_revs`: `db \0 id \0 rev` → big-endian index of that revision's entry.
//! - `custody_checkpoints`: big-endian tree size → the signed note.
//! - `custody_openings`: `db \0 id \0` big-endian index → nothing: the `identity_opened`
//!   entries of a document (the office's "openings of this case"), written in the same
//!   transaction as the entry. Derived data: built from the entries at open when missing (a
//!   log from before the index), checked by [`verify`].
//!
//! A revision's entry is written in the same sled transaction as the revision itself
//! ([`crate::db::SledStore`]), so a write acknowledged is a write logged. sled runs its
//! transactions one at a time (a process-wide lock), so reading the compact range inside
//! the transaction is enough to give each entry one index.

pub mod checkpoint;
pub mod merkle;
pub mod verify;
pub mod witness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;

use merkle::{CompactRange, Hash};

pub const ENTRIES_TREE: &str = "custody_entries";
pub const STATE_TREE: &str = "custody_state";
pub const REVS_TREE: &str = "custody_revs";
pub const CHECKPOINTS_TREE: &str = "custody_checkpoints";
pub const OPENINGS_TREE: &str = "custody_openings";
const RANGE_KEY: &[u8] = b"range";
/// In `custody_state`: present once `custody_openings` holds every opening of the log.
const OPENINGS_INDEXED_KEY: &[u8] = b"openings_indexed";

/// Whether revisions are logged (on unless `--custody-log off`, which only a measurement of its
/// cost should use). Process-wide: set once at start.
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A revision accepted into a database (any path: PUT, `_bulk_docs`, relay, deletion).
    Revision,
    /// An administration change (the admin audit log, [`crate::audit`]).
    Admin,
    /// A supervisor opened a sealed identity.
    IdentityOpened,
    /// `POST /db/{db}/_compact` removed the bodies of non-leaf revisions of `db`.
    Compaction,
}

/// One entry. Fields are declared in byte order of their names: `serde_json` writes them in
/// that order, which makes the encoding canonical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Admin entries: `thing.verb` (`user.add`, `db.delete`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Server time, RFC 3339 UTC to the second.
    pub at: String,
    /// Openings of a sealed photo: the attachment opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    /// Revision entries: attachment name → hex SHA-256 of its bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attachments: BTreeMap<String, String>,
    /// Revision entries: hex SHA-256 of the canonical JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    /// Revision entries: the revision is a deletion (tombstone).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Admin entries: the change in words; compaction: how many bodies were removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Entries written before the device token id was recorded (`token_id`): the device's
    /// name as its owner typed it. New entries leave it out; old ones keep it, so that their
    /// bytes, and the log's hashes, never change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The document id; admin entries: the user, token, key or database changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Openings: the id of the region's key that opened the sealed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub kind: Kind,
    /// Openings of a sealed identity: the person's pseudonymous code (`P-001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// The id of the device token (or session) the change came through (the device list's
    /// id: `chaski tokens list`), when known; absent for HTTP Basic, the relay and the command
    /// line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// Who: the signed-in user, `relay:<source>` for the relay, `cli (…)` for the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Entry {
    /// The canonical bytes (what the leaf hash covers).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an entry always serializes")
    }

    pub fn now(kind: Kind) -> Self {
        Self {
            action: None,
            at: crate::auth::accounts::rfc3339(crate::auth::accounts::now_secs()),
            attachment: None,
            attachments: BTreeMap::new(),
            body_sha256: None,
            db: None,
            deleted: false,
            detail: None,
            device: None,
            id: None,
            key_id: None,
            kind,
            person: None,
            rev: None,
            token_id: None,
            user: None,
        }
    }
}

/// An opening of a sealed value, for [`CustodyLog::record_opening`].
#[derive(Clone, Copy, Debug)]
pub struct Opening<'a> {
    pub user: &'a str,
    pub token_id: Option<&'a str>,
    pub db: &'a str,
    pub doc_id: &'a str,
    pub person: Option<&'a str>,
    pub attachment: Option<&'a str>,
    pub key_id: &'a str,
}

/// Who made the revisions of the current request: a task-local the document routes set with
/// [`as_actor`], because revisions reach [`crate::db::SledStore`] through the shared crate's
/// store trait, which knows nothing of users. Administration changes pass theirs explicitly
/// ([`crate::audit::By`]).
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user: Option<String>,
    /// The device token's (or session's) id.
    pub token_id: Option<String>,
}

tokio::task_local! {
    static ACTOR: Actor;
}

impl Actor {
    /// The signed-in user and device of a request.
    pub fn of(principal: &crate::auth::Principal) -> Self {
        Self {
            user: Some(principal.name.clone()),
            token_id: principal.token_id.clone(),
        }
    }
}

/// Runs `work` with `actor` as the author of the revisions it writes.
pub async fn as_actor<F: std::future::Future>(actor: Actor, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// The author set by [`as_actor`], or nobody.
pub fn current_actor() -> Actor {
    ACTOR.try_with(Clone::clone).unwrap_or_default()
}

/// Canonical JSON of a value: object keys sorted by their bytes at every depth, no whitespace.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => canonical_object(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("a scalar serializes"),
    }
}

fn canonical_object(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push(b'{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key).expect("a string serializes");
        out.push(b':');
        canonical_json(&map[key], out);
    }
    out.push(b'}');
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a body's canonical JSON.
pub fn body_sha256(body: &serde_json::Map<String, Value>) -> String {
    let mut out = Vec::with_capacity(1024);
    canonical_object(body, &mut out);
    hex(&Sha256::digest(&out))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The `custody_revs` key of a revision.
pub fn rev_key(db: &str, id: &str, rev: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(db.len() + id.len() + rev.len() + 2);
    key.extend_from_slice(db.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key.push(0);
    key.extend_from_slice(rev.as_bytes());
    key
}

/// The `custody_openings` prefix of a document's openings (`db \0 id \0`).
pub fn openings_prefix(db: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(db.len() + id.len() + 2 + 8);
    key.extend_from_slice(db.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key.push(0);
    key
}

/// The `custody_openings` key of the opening at `index`, from its prefix.
fn opening_key(prefix: &[u8], index: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// An entry ready to append: its bytes, leaf hash, (revisions) its `custody_revs` key and
/// (openings) its `custody_openings` prefix.
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub leaf: Hash,
    pub rev_key: Option<Vec<u8>>,
    pub opening_prefix: Option<Vec<u8>>,
}

/// The key prefix under which an opening entry is indexed (`custody_openings`), or `None`
/// for any other entry.
fn opening_prefix(entry: &Entry) -> Option<Vec<u8>> {
    match (entry.kind, &entry.db, &entry.id) {
        (Kind::IdentityOpened, Some(db), Some(id)) => Some(openings_prefix(db, id)),
        _ => None,
    }
}

impl Prepared {
    pub fn new(entry: &Entry) -> Self {
        let bytes = entry.encode();
        let rev_key = match (entry.kind, &entry.db, &entry.id, &entry.rev) {
            (Kind::Revision, Some(db), Some(id), Some(rev)) => Some(rev_key(db, id, rev)),
            _ => None,
        };
        let opening_prefix = opening_prefix(entry);
        Self {
            leaf: merkle::leaf_hash(&bytes),
            bytes,
            rev_key,
            opening_prefix,
        }
    }
}

/// The log's trees. Cloning is cheap.
#[derive(Clone)]
pub struct Trees {
    pub entries: sled::Tree,
    pub state: sled::Tree,
    pub revs: sled::Tree,
    pub checkpoints: sled::Tree,
    pub openings: sled::Tree,
}

impl Trees {
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Self {
            entries: db.open_tree(ENTRIES_TREE)?,
            state: db.open_tree(STATE_TREE)?,
            revs: db.open_tree(REVS_TREE)?,
            checkpoints: db.open_tree(CHECKPOINTS_TREE)?,
            openings: db.open_tree(OPENINGS_TREE)?,
        })
    }

    /// Appends revision entries inside a transaction over (`entries`, `state`, `revs`) (the
    /// database's batch). Returns the new size. Openings go through [`Trees::append`], whose
    /// transaction also covers `custody_openings`; one here is refused, not left unindexed.
    pub fn append_tx(
        entries: &TransactionalTree,
        state: &TransactionalTree,
        revs: &TransactionalTree,
        items: &[Prepared],
    ) -> Result<u64, UnabortableTransactionError> {
        Self::append_items(entries, state, revs, None, items)
    }

    fn append_items(
        entries: &TransactionalTree,
        state: &TransactionalTree,
        revs: &TransactionalTree,
        openings: Option<&TransactionalTree>,
        items: &[Prepared],
    ) -> Result<u64, UnabortableTransactionError> {
        let mut range = decode_range(state.get(RANGE_KEY)?.as_deref())
            .map_err(UnabortableTransactionError::Storage)?;
        for item in items {
            let index = range.size;
            let mut value = Vec::with_capacity(32 + item.bytes.len());
            value.extend_from_slice(&item.leaf);
            value.extend_from_slice(&item.bytes);
            entries.insert(&index.to_be_bytes(), value)?;
            if let Some(key) = &item.rev_key {
                revs.insert(key.as_slice(), &index.to_be_bytes())?;
            }
            if let Some(prefix) = &item.opening_prefix {
                let Some(openings) = openings else {
                    return Err(UnabortableTransactionError::Storage(
                        sled::Error::Unsupported(
                            "an opening is appended with Trees::append, which indexes it".into(),
                        ),
                    ));
                };
                openings.insert(opening_key(prefix, index), &[])?;
            }
            range.push(item.leaf);
        }
        state.insert(RANGE_KEY, range.encode())?;
        Ok(range.size)
    }

    /// Appends entries in a transaction of their own (admin changes, openings, compactions).
    /// Not durable until the caller flushes.
    pub fn append(&self, entries: &[Entry]) -> Result<u64, sled::Error> {
        let items: Vec<Prepared> = entries.iter().map(Prepared::new).collect();
        (&self.entries, &self.state, &self.revs, &self.openings)
            .transaction(|(e, s, r, o)| {
                Self::append_items(e, s, r, Some(o), &items)
                    .map_err(ConflictableTransactionError::from)
            })
            .map_err(|e: TransactionError<()>| match e {
                TransactionError::Storage(err) => err,
                TransactionError::Abort(()) => sled::Error::Unsupported("aborted".into()),
            })
    }

    /// The compact range of the whole log.
    pub fn range(&self) -> Result<CompactRange, sled::Error> {
        decode_range(self.state.get(RANGE_KEY)?.as_deref())
    }

    /// The entry at `index`: its stored leaf hash and bytes.
    pub fn entry(&self, index: u64) -> Result<Option<(Hash, Vec<u8>)>, sled::Error> {
        Ok(self
            .entries
            .get(index.to_be_bytes())?
            .and_then(|v| split_stored(&v)))
    }

    /// The stored leaf hashes of the first `size` entries (fewer if entries are missing).
    pub fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, sled::Error> {
        let mut out = Vec::with_capacity(size as usize);
        for item in self.entries.range(..size.to_be_bytes()) {
            let (_, value) = item?;
            // Only the leaf: no copy of the entry's bytes.
            if let Some(leaf) = value.get(..32).and_then(|l| Hash::try_from(l).ok()) {
                out.push(leaf);
            }
        }
        Ok(out)
    }

    /// The openings of document `id` of `db`, newest first: each entry's index and bytes.
    pub fn openings_of(&self, db: &str, id: &str) -> Result<Vec<(u64, Vec<u8>)>, sled::Error> {
        let prefix = openings_prefix(db, id);
        let mut out = Vec::new();
        for key in self.openings.scan_prefix(&prefix).keys().rev() {
            let key = key?;
            // Longer: a document whose id starts with this one's and a `\0`.
            let Ok(index) = <[u8; 8]>::try_from(&key[prefix.len()..]).map(u64::from_be_bytes)
            else {
                continue;
            };
            let (_, bytes) = self.entry(index)?.ok_or_else(|| {
                sled::Error::Unsupported(format!("custody_openings names entry {index}, missing"))
            })?;
            out.push((index, bytes));
        }
        Ok(out)
    }

    /// Builds `custody_openings` from the entries if it was never built (a log from before
    /// the index). Run at open, before any append. Returns how many openings it indexed, or
    /// `None` when the index was there.
    pub fn ensure_openings_index(&self) -> Result<Option<usize>, sled::Error> {
        if self.state.get(OPENINGS_INDEXED_KEY)?.is_some() {
            return Ok(None);
        }
        self.openings.clear()?;
        let mut batch = sled::Batch::default();
        let mut count = 0;
        for (index, prefix) in self.openings_in_entries()? {
            batch.insert(opening_key(&prefix, index), &[]);
            count += 1;
        }
        self.openings.apply_batch(batch)?;
        // Marked only once the index is whole: a crash before this rebuilds it again.
        self.state.insert(OPENINGS_INDEXED_KEY, &[])?;
        Ok(Some(count))
    }

    /// Every opening in the entries: its index and `custody_openings` prefix.
    fn openings_in_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, sled::Error> {
        let mut out = Vec::new();
        for item in self.entries.iter() {
            let (key, value) = item?;
            let Ok(index) = <[u8; 8]>::try_from(key.as_ref()).map(u64::from_be_bytes) else {
                continue;
            };
            let Some(entry) = value
                .get(32..)
                .and_then(|bytes| serde_json::from_slice::<Entry>(bytes).ok())
            else {
                continue;
            };
            // Only the prefix: no re-encoding or hashing of the entry.
            if let Some(prefix) = opening_prefix(&entry) {
                out.push((index, prefix));
            }
        }
        Ok(out)
    }

    /// Checks that `custody_openings` names exactly the openings in the entries, and
    /// rebuilds it from them when it does not (or was never built): it is derived data, the
    /// entries are the record. `Ok(count)`, or `Err(what was wrong)` after the rebuild.
    pub fn check_openings_index(&self) -> Result<Result<usize, String>, sled::Error> {
        let expected: std::collections::BTreeSet<Vec<u8>> = self
            .openings_in_entries()?
            .into_iter()
            .map(|(index, prefix)| opening_key(&prefix, index))
            .collect();
        if self.state.get(OPENINGS_INDEXED_KEY)?.is_none() {
            self.ensure_openings_index()?;
            return Ok(Ok(expected.len()));
        }
        let mut stored = std::collections::BTreeSet::new();
        for key in self.openings.iter().keys() {
            stored.insert(key?.to_vec());
        }
        if stored == expected {
            return Ok(Ok(expected.len()));
        }
        let missing = expected.difference(&stored).count();
        let extra = stored.difference(&expected).count();
        self.state.remove(OPENINGS_INDEXED_KEY)?;
        self.ensure_openings_index()?;
        Ok(Err(format!(
            "the openings index did not match the log ({missing} openings missing from it, \
             {extra} that are not openings): rebuilt from the entries"
        )))
    }

    /// The index of a revision's entry.
    pub fn index_of(&self, db: &str, id: &str, rev: &str) -> Result<Option<u64>, sled::Error> {
        Ok(self.revs.get(rev_key(db, id, rev))?.and_then(|v| {
            let bytes: [u8; 8] = v.as_ref().try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }))
    }
}

/// The log's compact range from its stored bytes (`None`: the empty log).
fn decode_range(bytes: Option<&[u8]>) -> Result<CompactRange, sled::Error> {
    match bytes {
        Some(bytes) => CompactRange::decode(bytes)
            .ok_or_else(|| sled::Error::Unsupported("corrupt custody_state".into())),
        None => Ok(CompactRange::default()),
    }
}

/// Splits a stored `custody_entries` value into leaf hash and entry bytes.
pub fn split_stored(value: &[u8]) -> Option<(Hash, Vec<u8>)> {
    let leaf: Hash = value.get(..32)?.try_into().ok()?;
    Some((leaf, value[32..].to_vec()))
}

/// The log as the server uses it: append admin changes and openings, durably. Cloning is
/// cheap.
#[derive(Clone)]
pub struct CustodyLog {
    pub trees: Trees,
    storage: crate::storage::Storage,
}

impl CustodyLog {
    pub fn open(storage: &crate::storage::Storage) -> Result<Self, sled::Error> {
        let trees = Trees::open(storage.sled())?;
        if let Some(count) = trees.ensure_openings_index()? {
            tracing::info!(count, "custody log: openings index built from the entries");
        }
        Ok(Self {
            trees,
            storage: storage.clone(),
        })
    }

    /// Appends `entry` and returns once it is on disk, with its index.
    pub async fn append(&self, entry: Entry) -> Result<u64, sled::Error> {
        let trees = self.trees.clone();
        let size = tokio::task::spawn_blocking(move || trees.append(&[entry]))
            .await
            .map_err(|e| sled::Error::Io(std::io::Error::other(format!("custody task: {e}"))))??;
        self.storage.flush().await?;
        Ok(size - 1)
    }

    /// The openings of document `id` of `db`, newest first ([`Trees::openings_of`]).
    pub async fn openings_of(
        &self,
        db: &str,
        id: &str,
    ) -> Result<Vec<(u64, Vec<u8>)>, sled::Error> {
        let (trees, db, id) = (self.trees.clone(), db.to_owned(), id.to_owned());
        tokio::task::spawn_blocking(move || trees.openings_of(&db, &id))
            .await
            .map_err(|e| sled::Error::Io(std::io::Error::other(format!("custody task: {e}"))))?
    }

    /// Records an opening at the office (issue 11, §3): who, through which device token, opened
    /// which person's sealed identity (or which sealed photo) of which document, with which
    /// key. Durable on return, with its index.
    pub async fn record_opening(&self, opening: Opening<'_>) -> Result<u64, sled::Error> {
        let mut entry = Entry::now(Kind::IdentityOpened);
        entry.user = Some(opening.user.to_owned());
        entry.token_id = opening.token_id.map(str::to_owned);
        entry.db = Some(opening.db.to_owned());
        entry.id = Some(opening.doc_id.to_owned());
        entry.person = opening.person.map(str::to_owned);
        entry.attachment = opening.attachment.map(str::to_owned);
        entry.key_id = Some(opening.key_id.to_owned());
        self.append(entry).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_encodes_with_sorted_keys_and_no_absent_fields() {
        let mut entry = Entry::now(Kind::Revision);
        entry.at = "2026-12-01T04:00:00Z".into();
        entry.db = Some("loreto".into());
        entry.id = Some("a".into());
        entry.rev = Some("1-x".into());
        entry.body_sha256 = Some("00".into());
        entry.attachments.insert("p.jpg".into(), "ff".into());
        assert_eq!(
            String::from_utf8(entry.encode()).unwrap(),
            r#"{"at":"2026-12-01T04:00:00Z","attachments":{"p.jpg":"ff"},"body_sha256":"00","db":"loreto","id":"a","kind":"revision","rev":"1-x"}"#
        );
    }

    #[test]
    fn an_entry_written_with_a_device_name_still_reads_and_encodes_to_the_same_bytes() {
        // The shape of revision entries before the device token id (session 6).
        let old = r#"{"at":"2026-11-30T10:00:00Z","body_sha256":"00","db":"loreto","device":"tablet 07","id":"a","kind":"revision","rev":"1-x","user":"ines"}"#;
        let entry: Entry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.device.as_deref(), Some("tablet 07"));
        assert_eq!(entry.token_id, None);
        assert_eq!(entry.encode(), old.as_bytes(), "its leaf hash is unchanged");
    }

    #[test]
    fn an_opening_records_the_token_id_person_and_key_in_canonical_order() {
        let mut entry = Entry::now(Kind::IdentityOpened);
        entry.at = "2026-12-01T06:00:00Z".into();
        entry.db = Some("loreto".into());
        entry.id = Some("inspection:a".into());
        entry.person = Some("P-001".into());
        entry.key_id = Some("loreto-0123456789abcdef".into());
        entry.token_id = Some("t1".into());
        entry.user = Some("sara".into());
        assert_eq!(
            String::from_utf8(entry.encode()).unwrap(),
            r#"{"at":"2026-12-01T06:00:00Z","db":"loreto","id":"inspection:a","key_id":"loreto-0123456789abcdef","kind":"identity_opened","person":"P-001","token_id":"t1","user":"sara"}"#
        );
        let mut value: Value = serde_json::from_slice(&entry.encode()).unwrap();
        let mut canonical = Vec::new();
        canonical_json(&value, &mut canonical);
        assert_eq!(canonical, entry.encode());
        value["attachment"] = "p1".into();
        let photo: Entry = serde_json::from_value(value).unwrap();
        let mut canonical = Vec::new();
        canonical_json(&serde_json::to_value(&photo).unwrap(), &mut canonical);
        assert_eq!(canonical, photo.encode(), "declared in byte order");
    }

    fn opening(db: &str, id: &str) -> Entry {
        let mut entry = Entry::now(Kind::IdentityOpened);
        entry.db = Some(db.into());
        entry.id = Some(id.into());
        entry
    }

    fn indexes(trees: &Trees, db: &str, id: &str) -> Vec<u64> {
        let found = trees.openings_of(db, id).unwrap();
        found.into_iter().map(|(index, _)| index).collect()
    }

    #[test]
    fn openings_are_indexed_with_their_entry_and_rebuilt_when_the_index_is_missing_or_wrong() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = Trees::open(&db).unwrap();
        assert_eq!(trees.ensure_openings_index().unwrap(), Some(0), "a new log");
        let mut revision = Entry::now(Kind::Revision);
        (revision.db, revision.id) = (Some("loreto".into()), Some("a".into()));
        revision.rev = Some("1-x".into());
        trees
            .append(&[opening("loreto", "a"), revision, opening("loreto", "a\0b")])
            .unwrap();
        trees.append(&[opening("loreto", "a")]).unwrap();
        assert_eq!(indexes(&trees, "loreto", "a"), [3, 0], "newest first");
        assert_eq!(indexes(&trees, "loreto", "a\0b"), [2]);
        assert_eq!(indexes(&trees, "cusco", "a"), Vec::<u64>::new());
        let (_, bytes) = &trees.openings_of("loreto", "a").unwrap()[0];
        assert_eq!(*bytes, trees.entry(3).unwrap().unwrap().1);
        assert_eq!(trees.check_openings_index().unwrap(), Ok(3));

        // A log from before the index: built at open.
        trees.openings.clear().unwrap();
        trees.state.remove(OPENINGS_INDEXED_KEY).unwrap();
        assert_eq!(trees.ensure_openings_index().unwrap(), Some(3));
        assert_eq!(trees.ensure_openings_index().unwrap(), None, "once");
        assert_eq!(indexes(&trees, "loreto", "a"), [3, 0]);

        // An index changed behind the log's back: named, and rebuilt from the entries.
        trees
            .openings
            .remove(opening_key(&openings_prefix("loreto", "a"), 0))
            .unwrap();
        let found = trees.check_openings_index().unwrap();
        assert!(found.unwrap_err().contains("1 openings missing"));
        assert_eq!(indexes(&trees, "loreto", "a"), [3, 0]);
        assert_eq!(trees.check_openings_index().unwrap(), Ok(3));
    }

    #[test]
    fn an_opening_in_a_database_batch_is_refused_rather_than_left_unindexed() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = Trees::open(&db).unwrap();
        let items = [Prepared::new(&opening("loreto", "a"))];
        let outcome: Result<u64, TransactionError<()>> =
            (&trees.entries, &trees.state, &trees.revs)
                .transaction(|(e, s, r)| Ok(Trees::append_tx(e, s, r, &items)?));
        assert!(matches!(outcome, Err(TransactionError::Storage(_))));
        assert_eq!(trees.range().unwrap().size, 0);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v: Value =
            serde_json::from_str(r#"{"b":{"z":1,"a":[{"y":2,"x":"é"}]},"a":null}"#).unwrap();
        let mut out = Vec::new();
        canonical_json(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":null,"b":{"a":[{"x":"é","y":2}],"z":1}}"#
        );
    }
}
