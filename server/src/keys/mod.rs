//! The regions' sealing keys (issue 11, §1): each region's public key, which tablets seal
//! names, identity numbers and photos of people to, and its private key wrapped under a
//! passphrase ([`chaski_seal::WrappedKey`]), which only the regional office's browser (or the
//! command line that made it) can unwrap. The server never holds a private key in clear and
//! never sees a passphrase: it stores what `chaski keys create` or the admin page made.
//!
//! # Rotation
//! A region may have several keys. The newest is the **current** one: `/api/me` gives it to
//! the tablets, which seal new records to it. Older keys are kept for ever (a key that is gone
//! is a record that can never be opened again), and `GET /api/keys` lists them all, newest
//! first, for the office to unlock whichever a sealed value names.
//!
//! # Storage
//! The sled tree `seal_keys`: `region \0 big-endian u64` (sled's monotonic id, so the order is
//! the order of creation) → the [`StoredKey`] as JSON. The tree `seal_key_ids`: key id → that
//! record's key, written in the same transaction, so that one key is stored once even when
//! two requests add it at the same moment (rebuilt at open for stores from before it).
//! Backups carry both like every tree.
//!
//! # Layout
//! - this module: [`StoredKey`], [`KeyStore`] and the checks of a new key;
//! - [`cli`]: `chaski keys create | list` (on the data folder, or a running server);
//! - the HTTP side is `crate::routes::keys`.

pub mod cli;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chaski_seal::{
    KdfParams, PublicKey, WrappedKey, WRAPPED_KEY_LEN, WRAP_AEAD, WRAP_KDF, WRAP_NONCE_LEN,
    WRAP_SALT_LEN,
};
use serde::{Deserialize, Serialize};
use sled::Transactional as _;

use crate::auth::accounts::{now_secs, rfc3339};

/// The sled tree of the keys.
pub const TREE: &str = "seal_keys";
/// The sled tree of the key ids (the uniqueness check).
pub const IDS_TREE: &str = "seal_key_ids";

/// One key of a region, as stored and as `GET /api/keys` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub region: String,
    /// `<region>-<16 hex digits of SHA-256(public key)>` ([`chaski_seal::key_id`]).
    pub key_id: String,
    pub public_key_b64: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The private key, wrapped under the region's passphrase.
    pub wrapped: WrappedKey,
}

/// The public half of a region's current key, as `/api/me` gives it to devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSealKey {
    pub region: String,
    pub key_id: String,
    pub public_key_b64: String,
}

impl From<&StoredKey> for PublicSealKey {
    fn from(key: &StoredKey) -> Self {
        Self {
            region: key.region.clone(),
            key_id: key.key_id.clone(),
            public_key_b64: key.public_key_b64.clone(),
        }
    }
}

/// Why a key was not stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is malformed or does not belong where it is sent (400), in words.
    #[error("{0}")]
    Invalid(String),
    /// This key is stored already (409).
    #[error("the key {0} is stored already")]
    Exists(String),
    #[error("the key store: {0}")]
    Store(#[from] sled::Error),
    /// The region's newest key record does not read: no older key is made current in its
    /// place (tablets would seal to a key the office may have rotated away from).
    #[error("the newest sealing key of {0} is unreadable; store a new key for the region")]
    Unreadable(String),
    /// The blocking pool's task failed (panicked or was cancelled).
    #[error("the key store task: {0}")]
    Task(String),
}

impl From<KeyError> for crate::error::ApiError {
    fn from(err: KeyError) -> Self {
        use crate::error::ApiError;
        match err {
            KeyError::Invalid(reason) => ApiError::BadRequest(reason),
            KeyError::Exists(_) => ApiError::Conflict(err.to_string()),
            KeyError::Store(e) => ApiError::Internal(format!("seal keys: {e}")),
            KeyError::Unreadable(_) => ApiError::Internal(err.to_string()),
            KeyError::Task(e) => ApiError::Internal(format!("seal keys task: {e}")),
        }
    }
}

fn decoded_len(field: &str, text: &str) -> Result<usize, KeyError> {
    B64.decode(text)
        .map(|b| b.len())
        .map_err(|_| KeyError::Invalid(format!("wrapped.{field} is not standard base64")))
}

/// Checks a new key of `region` and returns its id: the region is one of the 25, the public
/// key is 32 bytes of base64, the wrapped key is the seal crate's (argon2id within
/// [`KdfParams::MIN`]..=[`KdfParams::MAX`], so that every stored key withstands offline
/// guessing and unwraps in a browser; XChaCha20-Poly1305, salt, nonce and a wrapped 32-byte
/// key) and
/// names this very public key and the id the server derives from it.
pub fn check_new(
    region: &str,
    public_key_b64: &str,
    wrapped: &WrappedKey,
) -> Result<String, KeyError> {
    let bad = |why: String| Err(KeyError::Invalid(why));
    if !crate::regions::is_region_db(region) {
        return bad(format!(
            "{region:?} is not a region; use one of: {}",
            crate::regions::db_names().collect::<Vec<_>>().join(", ")
        ));
    }
    let public = PublicKey::from_b64(public_key_b64)
        .map_err(|e| KeyError::Invalid(format!("public_key_b64: {e}")))?;
    if wrapped.public_key_b64 != public_key_b64 {
        return bad(
            "wrapped.public_key_b64 differs from public_key_b64: the wrapped key is not this \
             key's private half"
                .into(),
        );
    }
    let key_id = chaski_seal::key_id(region, &public);
    if wrapped.key_id != key_id {
        return bad(format!(
            "wrapped.key_id is {:?}, but this public key's id in {region} is {key_id}: was it \
             wrapped for another region?",
            wrapped.key_id
        ));
    }
    if wrapped.kdf != WRAP_KDF || wrapped.aead != WRAP_AEAD {
        return bad(format!(
            "the key must be wrapped with {WRAP_KDF} and {WRAP_AEAD}, not {} and {}",
            wrapped.kdf, wrapped.aead
        ));
    }
    let (p, min, max) = (wrapped.params, KdfParams::MIN, KdfParams::MAX);
    if p.below(min) {
        return bad(format!(
            "the passphrase's argon2id costs are too low (m_kib {}, t {}, p {}): at least \
             m_kib {}, t {} and p {} (a wrapped key can be guessed at offline by anyone who \
             holds it)",
            p.m_kib, p.t, p.p, min.m_kib, min.t, min.p
        ));
    }
    if p.above(max) {
        return bad(format!(
            "the passphrase's argon2id costs are too high to unwrap in a browser: at most \
             m_kib {}, t {}, p {}",
            max.m_kib, max.t, max.p
        ));
    }
    if decoded_len("salt_b64", &wrapped.salt_b64)? < WRAP_SALT_LEN {
        return bad(format!(
            "wrapped.salt_b64 must hold at least {WRAP_SALT_LEN} bytes"
        ));
    }
    if decoded_len("nonce_b64", &wrapped.nonce_b64)? != WRAP_NONCE_LEN {
        return bad(format!(
            "wrapped.nonce_b64 must hold {WRAP_NONCE_LEN} bytes ({WRAP_AEAD})"
        ));
    }
    if decoded_len("ciphertext_b64", &wrapped.ciphertext_b64)? != WRAPPED_KEY_LEN {
        return bad(format!(
            "wrapped.ciphertext_b64 must hold {WRAPPED_KEY_LEN} bytes (a 32-byte key and its \
             tag)"
        ));
    }
    Ok(key_id)
}

/// The keys' tree. Cloning is cheap. Every method is a sled call: on the blocking pool.
#[derive(Clone)]
pub struct KeyStore {
    tree: sled::Tree,
    ids: sled::Tree,
    db: sled::Db,
}

fn prefix(region: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(region.len() + 1);
    p.extend_from_slice(region.as_bytes());
    p.push(0);
    p
}

impl KeyStore {
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        let store = Self {
            tree: db.open_tree(TREE)?,
            ids: db.open_tree(IDS_TREE)?,
            db: db.clone(),
        };
        // A store from before `seal_key_ids`: index its keys (a region has a handful).
        if store.ids.is_empty() {
            for item in store.tree.iter() {
                let (k, bytes) = item?;
                if let Ok(key) = serde_json::from_slice::<StoredKey>(&bytes) {
                    store.ids.insert(key.key_id.as_bytes(), k)?;
                }
            }
        }
        Ok(store)
    }

    /// Runs `work` on the blocking pool (every method here is a sled call), for the routes.
    /// Stores a key made elsewhere as `region`'s current key ([`KeyStore::add`], on the
    /// blocking pool) and records it in the administration log, and so in the custody log;
    /// on disk when it returns (the log's record flushes). The one way both the admin API and
    /// `chaski keys create` add a key.
    pub async fn add_recorded(
        &self,
        audit: &crate::audit::AuditLog,
        by: impl Into<crate::audit::By<'_>>,
        region: &str,
        public_key_b64: &str,
        wrapped: WrappedKey,
    ) -> Result<StoredKey, KeyError> {
        let (region_owned, public_key_b64) = (region.to_owned(), public_key_b64.to_owned());
        let stored = self
            .blocking(move |k| k.add(&region_owned, &public_key_b64, wrapped))
            .await?;
        audit
            .record(
                by,
                "key.add",
                &stored.key_id,
                &format!("sealing key of {region}"),
            )
            .await?;
        Ok(stored)
    }

    pub async fn blocking<T, F>(&self, work: F) -> Result<T, KeyError>
    where
        T: Send + 'static,
        F: FnOnce(&KeyStore) -> Result<T, KeyError> + Send + 'static,
    {
        let keys = self.clone();
        tokio::task::spawn_blocking(move || work(&keys))
            .await
            .map_err(|e| KeyError::Task(e.to_string()))?
    }

    /// Stores a new key of `region` (checked by [`check_new`]); it becomes the region's
    /// current key. Not durable until the caller flushes.
    pub fn add(
        &self,
        region: &str,
        public_key_b64: &str,
        wrapped: WrappedKey,
    ) -> Result<StoredKey, KeyError> {
        let key_id = check_new(region, public_key_b64, &wrapped)?;
        let stored = StoredKey {
            region: region.to_owned(),
            key_id,
            public_key_b64: public_key_b64.to_owned(),
            created_at: rfc3339(now_secs()),
            wrapped,
        };
        let mut k = prefix(region);
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        let bytes = serde_json::to_vec(&stored)
            .map_err(|e| KeyError::Invalid(format!("the key does not serialize: {e}")))?;
        // The id and the record in one transaction: of two requests adding one key, one wins.
        (&self.tree, &self.ids)
            .transaction(|(tree, ids)| {
                if ids.get(stored.key_id.as_bytes())?.is_some() {
                    return sled::transaction::abort(());
                }
                ids.insert(stored.key_id.as_bytes(), k.as_slice())?;
                tree.insert(k.as_slice(), bytes.as_slice())?;
                Ok(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(()) => {
                    KeyError::Exists(stored.key_id.clone())
                }
                sled::transaction::TransactionError::Storage(e) => KeyError::Store(e),
            })?;
        Ok(stored)
    }

    /// Every key of `region`, newest (the current one) first.
    pub fn list(&self, region: &str) -> Result<Vec<StoredKey>, sled::Error> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix(region)).rev() {
            let (_, bytes) = item?;
            match serde_json::from_slice(&bytes) {
                Ok(key) => out.push(key),
                Err(err) => tracing::error!(%err, region, "an unreadable seal key record"),
            }
        }
        Ok(out)
    }

    /// The current (newest) key of `region`: only the newest record is read. One that does
    /// not read is [`KeyError::Unreadable`], never an older key in its place.
    pub fn current(&self, region: &str) -> Result<Option<StoredKey>, KeyError> {
        let Some((_, bytes)) = self
            .tree
            .scan_prefix(prefix(region))
            .next_back()
            .transpose()?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|err| {
            tracing::error!(%err, region, "the newest seal key record is unreadable");
            KeyError::Unreadable(region.to_owned())
        })
    }

    /// The current key of each of `regions` that has one, in the order given. A region whose
    /// newest record is unreadable is left out (logged by [`KeyStore::current`]): its devices
    /// get no key to seal to, rather than an older one, and everyone else's `/api/me` works.
    pub fn current_of<'a>(
        &self,
        regions: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<PublicSealKey>, KeyError> {
        let mut out = Vec::new();
        for region in regions {
            match self.current(region) {
                Ok(Some(key)) => out.push(PublicSealKey::from(&key)),
                Ok(None) | Err(KeyError::Unreadable(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The passphrase rules: at least [`MIN_PASSPHRASE_CHARS`] characters (the seal crate's, which
/// the office's page uses too) and the best `zxcvbn` score (4, "very unguessable"): a wrapped
/// key is attacked offline, with no login limit.
pub use chaski_seal::MIN_PASSPHRASE_CHARS;
const MAX_PASSPHRASE_BYTES: usize = 1024;

/// Checks a new passphrase for a key of `region`; the error says why it is refused and never
/// repeats it.
pub fn check_passphrase(passphrase: &str, region: &str) -> Result<(), String> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(format!(
            "The passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters (four \
             or five unrelated words)."
        ));
    }
    if passphrase.len() > MAX_PASSPHRASE_BYTES {
        return Err(format!(
            "The passphrase is too long: use at most {MAX_PASSPHRASE_BYTES} bytes."
        ));
    }
    let sample: String = passphrase.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&sample, &[region, "chaski", "region", "clave"]);
    if u8::from(estimate.score()) >= 4 {
        return Ok(());
    }
    let mut reason = String::from("The passphrase is too easy to guess");
    if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        reason.push_str(&format!(": {warning}"));
    }
    if !reason.ends_with('.') {
        reason.push('.');
    }
    reason.push_str(
        " It protects every sealed identity of the region and can be guessed at offline: use \
         four or five unrelated words, or a longer mix of letters and digits.",
    );
    Err(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams::MIN;

    fn wrapped(region: &str) -> (String, WrappedKey) {
        let secret = chaski_seal::generate().unwrap();
        let public = secret.public();
        let id = chaski_seal::key_id(region, &public);
        let w =
            chaski_seal::wrap_with(&secret, &id, "correct horse battery staple", CHEAP).unwrap();
        (public.to_b64(), w)
    }

    #[test]
    fn keys_are_listed_newest_first_and_the_newest_is_current() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = KeyStore::open(&db).unwrap();
        let (pk1, w1) = wrapped("loreto");
        let (pk2, w2) = wrapped("loreto");
        let (pk3, w3) = wrapped("cusco");
        let first = store.add("loreto", &pk1, w1.clone()).unwrap();
        let second = store.add("loreto", &pk2, w2).unwrap();
        store.add("cusco", &pk3, w3).unwrap();
        let ids: Vec<_> = store
            .list("loreto")
            .unwrap()
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        assert_eq!(ids, [second.key_id.clone(), first.key_id.clone()]);
        assert_eq!(
            store.current("loreto").unwrap().unwrap().key_id,
            second.key_id
        );
        assert!(store.current("ucayali").unwrap().is_none());
        let again = store.add("loreto", &pk1, w1).unwrap_err();
        assert!(matches!(again, KeyError::Exists(_)), "{again}");
        // "loreto" is no prefix trap for another region's keys.
        assert_eq!(store.list("cusco").unwrap().len(), 1);
    }

    #[test]
    fn one_key_added_by_two_requests_at_once_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = KeyStore::open(&db).unwrap();
        let (pk, w) = wrapped("loreto");
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| store.add("loreto", &pk, w.clone())))
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
        assert!(outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, KeyError::Exists(_))));
        assert_eq!(store.list("loreto").unwrap().len(), 1);
    }

    #[test]
    fn a_store_from_before_the_id_index_still_refuses_a_key_twice() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let (pk, w) = wrapped("loreto");
        KeyStore::open(&db)
            .unwrap()
            .add("loreto", &pk, w.clone())
            .unwrap();
        db.drop_tree(IDS_TREE).unwrap();
        let store = KeyStore::open(&db).unwrap();
        let again = store.add("loreto", &pk, w).unwrap_err();
        assert!(matches!(again, KeyError::Exists(_)), "{again}");
    }

    #[test]
    fn an_unreadable_newest_key_never_makes_an_older_one_current() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = KeyStore::open(&db).unwrap();
        let (pk1, w1) = wrapped("loreto");
        let (pk2, w2) = wrapped("cusco");
        store.add("loreto", &pk1, w1).unwrap();
        store.add("cusco", &pk2, w2).unwrap();
        let mut newest = prefix("loreto");
        newest.extend_from_slice(&u64::MAX.to_be_bytes());
        store.tree.insert(newest, b"not json".as_slice()).unwrap();
        let err = store.current("loreto").unwrap_err();
        assert!(matches!(err, KeyError::Unreadable(_)), "{err}");
        let regions: Vec<_> = store
            .current_of(["loreto", "cusco"])
            .unwrap()
            .into_iter()
            .map(|k| k.region)
            .collect();
        assert_eq!(
            regions,
            ["cusco"],
            "loreto is left out, not given its older key"
        );
    }

    #[test]
    fn a_key_that_is_not_what_it_claims_is_refused_with_the_reason() {
        let (pk, w) = wrapped("loreto");
        assert!(check_new("loreto", &pk, &w).is_ok());
        let err = |region: &str, pk: &str, w: &WrappedKey| {
            check_new(region, pk, w).unwrap_err().to_string()
        };
        assert!(err("atlantis", &pk, &w).contains("not a region"));
        assert!(err("cusco", &pk, &w).contains("another region"));
        let (other_pk, _) = wrapped("loreto");
        assert!(err("loreto", &other_pk, &w).contains("not this key's private half"));
        assert!(err("loreto", "AAAA", &w).contains("public_key_b64"));
        let mut weak = w.clone();
        weak.params.m_kib = 1024;
        assert!(err("loreto", &pk, &weak).contains("too low"));
        let mut costly = w.clone();
        costly.params.t = 100;
        assert!(err("loreto", &pk, &costly).contains("too high"));
        let mut short = w.clone();
        short.ciphertext_b64 = B64.encode([0u8; 10]);
        assert!(err("loreto", &pk, &short).contains("48 bytes"));
        let mut alg = w;
        alg.kdf = "scrypt".into();
        assert!(err("loreto", &pk, &alg).contains("argon2id"));
    }

    #[test]
    fn weak_passphrases_are_refused_with_a_reason_that_does_not_repeat_them() {
        for weak in ["corta", "loretoloreto2026", "passwordpassword"] {
            let reason = check_passphrase(weak, "loreto").unwrap_err();
            assert!(!reason.contains(weak), "{reason}");
        }
        check_passphrase("ribera tambor quinua lancha nublado", "loreto").unwrap();
    }
}
