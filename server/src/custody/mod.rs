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
const RANGE_KEY: &[u8] = b"range";

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
    /// The device (token or session) the change came through, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The document id; admin entries: the user, token or database changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
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
            attachments: BTreeMap::new(),
            body_sha256: None,
            db: None,
            deleted: false,
            detail: None,
            device: None,
            id: None,
            kind,
            rev: None,
            user: None,
        }
    }
}

/// Who made the writes of the current request (a task-local the routes set).
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user: Option<String>,
    pub device: Option<String>,
}

tokio::task_local! {
    static ACTOR: Actor;
}

impl Actor {
    /// The signed-in user and device of a request.
    pub fn of(principal: &crate::auth::Principal) -> Self {
        Self {
            user: Some(principal.name.clone()),
            device: principal.device.clone(),
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

/// An entry ready to append: its bytes, leaf hash and (revisions) its `custody_revs` key.
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub leaf: Hash,
    pub rev_key: Option<Vec<u8>>,
}

impl Prepared {
    pub fn new(entry: &Entry) -> Self {
        let bytes = entry.encode();
        let rev_key = match (entry.kind, &entry.db, &entry.id, &entry.rev) {
            (Kind::Revision, Some(db), Some(id), Some(rev)) => Some(rev_key(db, id, rev)),
            _ => None,
        };
        Self {
            leaf: merkle::leaf_hash(&bytes),
            bytes,
            rev_key,
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
}

impl Trees {
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Self {
            entries: db.open_tree(ENTRIES_TREE)?,
            state: db.open_tree(STATE_TREE)?,
            revs: db.open_tree(REVS_TREE)?,
            checkpoints: db.open_tree(CHECKPOINTS_TREE)?,
        })
    }

    /// Appends `items` inside a transaction over (`entries`, `state`, `revs`). Returns the new
    /// size.
    pub fn append_tx(
        entries: &TransactionalTree,
        state: &TransactionalTree,
        revs: &TransactionalTree,
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
            range.push(item.leaf);
        }
        state.insert(RANGE_KEY, range.encode())?;
        Ok(range.size)
    }

    /// Appends entries in a transaction of their own (admin changes, openings, compactions).
    /// Not durable until the caller flushes.
    pub fn append(&self, entries: &[Entry]) -> Result<u64, sled::Error> {
        let items: Vec<Prepared> = entries.iter().map(Prepared::new).collect();
        (&self.entries, &self.state, &self.revs)
            .transaction(|(e, s, r)| {
                Self::append_tx(e, s, r, &items).map_err(ConflictableTransactionError::from)
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
        Ok(Self {
            trees: Trees::open(storage.sled())?,
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

    /// Records that `user` (through `device`) opened the sealed identity of document `id` in
    /// `db`. For the office's opening of sealed identities (issue 11, §3).
    pub async fn record_identity_opened(
        &self,
        user: &str,
        device: Option<&str>,
        db: &str,
        id: &str,
    ) -> Result<u64, sled::Error> {
        let mut entry = Entry::now(Kind::IdentityOpened);
        entry.user = Some(user.to_owned());
        entry.device = device.map(str::to_owned);
        entry.db = Some(db.to_owned());
        entry.id = Some(id.to_owned());
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
