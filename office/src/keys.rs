//! The region's private keys, unlocked in this browser for this session only.
//!
//! A supervisor (or an administrator) types the region's passphrase; the office fetches the
//! region's wrapped keys (`GET /api/keys?region=R`: every key, newest first, each encrypted
//! under its passphrase with argon2id + XChaCha20-Poly1305) and unwraps them here with
//! [`chaski_seal::unwrap`]. The keys in clear live only in this module's memory: never in
//! `localStorage`, `sessionStorage` or IndexedDB, gone on sign-out (the header calls
//! [`KeyRing::lock`]) and on reload (nothing persists them). No error or log line carries key
//! material: [`chaski_seal::SealError`] has none, and nothing here prints.

use chaski_client::api::ApiError;
use chaski_seal::{SealError, SecretKey, WrappedKey};
use leptos::prelude::*;
use serde_json::Value;

use crate::api;

/// A key of a region as `GET /api/keys` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionKey {
    pub region: String,
    pub key_id: String,
    pub created_at: String,
    /// The newest key of its region: the one tablets seal new records to.
    pub current: bool,
    pub wrapped: Option<WrappedKey>,
}

impl RegionKey {
    /// The keys of `{"keys": [...]}`, newest first as the server sends them; the first is the
    /// current one. A key whose wrapped form does not parse is kept (listed) without it; an
    /// answer with no list of keys is an error, not "no key".
    pub fn list(v: &Value) -> Result<Vec<RegionKey>, ApiError> {
        let keys = v.get("keys").and_then(Value::as_array).ok_or_else(|| {
            ApiError::Server("The server's answer lists no keys of the region.".into())
        })?;
        Ok(keys
            .iter()
            .enumerate()
            .map(|(i, k)| RegionKey {
                region: text(k, "region"),
                key_id: text(k, "key_id"),
                created_at: text(k, "created_at"),
                current: i == 0,
                wrapped: k
                    .get("wrapped")
                    .and_then(|w| serde_json::from_value(w.clone()).ok()),
            })
            .collect())
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Why the region's keys could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum FetchError {
    /// `403`: another region's keys, with the server's reason.
    Forbidden(String),
    Api(ApiError),
}

impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> ApiError {
        match e {
            FetchError::Forbidden(reason) => ApiError::Server(reason),
            FetchError::Api(e) => e,
        }
    }
}

/// `GET /api/keys?region=R`: the region's keys, newest first (for the administration's list and
/// for an unlock alike). The status is read here only to tell a `403` apart.
pub async fn fetch(token: &str, region: &str) -> Result<Vec<RegionKey>, FetchError> {
    let url = format!("/api/keys?region={}", api::encode(region));
    let (status, text) = chaski_client::api::fetch_text("GET", &url, Some(token), None)
        .await
        .map_err(|_| FetchError::Api(ApiError::Network))?;
    match status {
        200..=299 => api::parse(&text)
            .and_then(|v| RegionKey::list(&v))
            .map_err(FetchError::Api),
        403 => Err(FetchError::Forbidden(chaski_client::api::reason_of(&text))),
        _ => Err(FetchError::Api(api::refusal(status, &text))),
    }
}

/// Why an unlock failed.
#[derive(Clone, Debug, PartialEq)]
pub enum UnlockError {
    /// The passphrase opened none of the region's keys.
    WrongPassphrase,
    /// The region has no key yet.
    NoKeys,
    /// The keys could not be read (a `403` named: another region's key).
    Fetch(FetchError),
    /// A stored key is damaged or asks for costs this program refuses.
    Damaged(String),
    /// The keys were locked (or the user signed out) while the unlock ran: it added nothing
    /// after that, and there is nothing to say.
    Interrupted,
}

/// What an unlock did: the keys of the region this passphrase did not open (a region may have
/// rotated to a key under a new passphrase).
#[derive(Clone, Debug, PartialEq)]
pub struct Unlocked {
    pub not_opened: Vec<String>,
}

/// The unlocked keys of this session. `Copy`: a handle to arena-held values.
#[derive(Clone, Copy)]
pub struct KeyRing {
    keys: StoredValue<Vec<(String, SecretKey)>>,
    /// Moves on every lock (and so on sign-out). Work begun before (an unlock's fetch, an opening
    /// waiting for the custody log) reads it at its start and drops its result if it moved, so
    /// nothing opened comes back on a locked page.
    generation: StoredValue<u64>,
    /// Notified when keys come or go: the pages read the keys through it.
    changed: Trigger,
}

impl KeyRing {
    pub fn provide() -> KeyRing {
        let ring = KeyRing {
            keys: StoredValue::new(Vec::new()),
            generation: StoredValue::new(0),
            changed: Trigger::new(),
        };
        provide_context(ring);
        ring
    }

    /// Forgets every key (the secrets are zeroed as they drop), and whatever is under way.
    pub fn lock(self) {
        self.keys.update_value(Vec::clear);
        self.generation.update_value(|g| *g += 1);
        self.changed.notify();
    }

    /// Where the ring is now, for work that must not outlive a lock (see [`KeyRing::still`]).
    pub fn generation(self) -> u64 {
        self.generation.get_value()
    }

    /// Whether no lock came since `generation` was read.
    pub fn still(self, generation: u64) -> bool {
        self.generation.try_get_value() == Some(generation)
    }

    /// The ids of the keys held (reactive).
    pub fn ids(self) -> Vec<String> {
        self.changed.track();
        self.keys
            .with_value(|keys| keys.iter().map(|(id, _)| id.clone()).collect())
    }

    /// Whether the key `key_id` is held (reactive).
    pub fn holds(self, key_id: &str) -> bool {
        self.changed.track();
        self.keys
            .with_value(|keys| keys.iter().any(|(id, _)| id == key_id))
    }

    /// Whether any key of `region` is held (reactive).
    pub fn holds_region(self, region: &str) -> bool {
        self.changed.track();
        self.keys.with_value(|keys| {
            keys.iter()
                .any(|(id, _)| id.rsplit_once('-').is_some_and(|(r, _)| r == region))
        })
    }

    fn add(self, key_id: String, secret: SecretKey) {
        self.keys.update_value(|keys| {
            if !keys.iter().any(|(id, _)| *id == key_id) {
                keys.push((key_id, secret));
            }
        });
        self.changed.notify();
    }

    /// Runs `f` with the keys held (never hands them out).
    pub fn with_keys<T>(self, f: impl FnOnce(&[(String, SecretKey)]) -> T) -> T {
        self.keys.with_value(|k| f(k))
    }

    /// Fetches `region`'s wrapped keys and unwraps each with `passphrase`, telling `progress`
    /// in words what it is doing (argon2id takes a second or two per key in the browser; the
    /// page repaints between keys). A lock meanwhile ends it: [`UnlockError::Interrupted`], and
    /// no key is added after the lock.
    pub async fn unlock(
        self,
        token: &str,
        region: &str,
        passphrase: &str,
        progress: impl Fn(Progress),
    ) -> Result<Unlocked, UnlockError> {
        let generation = self.generation();
        progress(Progress::Fetching);
        let keys = fetch(token, region).await.map_err(UnlockError::Fetch)?;
        if !self.still(generation) {
            return Err(UnlockError::Interrupted);
        }
        if keys.is_empty() {
            return Err(UnlockError::NoKeys);
        }
        let total = keys.len();
        let mut opened = 0;
        let mut not_opened = Vec::new();
        let mut damaged = None;
        for (i, key) in keys.into_iter().enumerate() {
            if self.holds(&key.key_id) {
                opened += 1;
                continue;
            }
            let Some(wrapped) = key.wrapped.as_ref() else {
                damaged.get_or_insert(key.key_id.clone());
                continue;
            };
            progress(Progress::Unwrapping {
                n: i + 1,
                of: total,
            });
            // Let the browser paint the words before argon2id holds the thread.
            repaint().await;
            if !self.still(generation) {
                return Err(UnlockError::Interrupted);
            }
            match chaski_seal::unwrap(wrapped, passphrase) {
                Ok(secret) if wrapped.key_id == key.key_id => {
                    self.add(key.key_id, secret);
                    opened += 1;
                }
                Ok(_) => {
                    damaged.get_or_insert(key.key_id.clone());
                }
                Err(SealError::WrongPassphrase) => not_opened.push(key.key_id),
                Err(_) => {
                    damaged.get_or_insert(key.key_id.clone());
                }
            }
        }
        if opened == 0 {
            return Err(match damaged {
                Some(id) if not_opened.is_empty() => UnlockError::Damaged(id),
                _ => UnlockError::WrongPassphrase,
            });
        }
        Ok(Unlocked { not_opened })
    }
}

/// Where an unlock is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Fetching,
    Unwrapping { n: usize, of: usize },
}

pub fn use_keys() -> KeyRing {
    expect_context::<KeyRing>()
}

/// Yields to the browser long enough for it to paint (a timer, not a microtask).
pub async fn repaint() {
    chaski_client::timer::Sleep::new(40).await;
}

/// A rough strength of a new passphrase, for the hint beside its field and the key's creation:
/// `0` too short, `1` weak, `2` fair, `3` strong, and only `3` is accepted (as `chaski keys
/// create` accepts only zxcvbn's best score: a wrapped key is attacked offline, with no limit on
/// guesses). Counts length, words and kinds of characters; a long sentence of ordinary words is
/// strong, which is what we advise.
pub fn strength(passphrase: &str) -> u8 {
    let chars = passphrase.chars().count();
    // The server's and the CLI's shortest passphrase.
    if chars < chaski_seal::MIN_PASSPHRASE_CHARS {
        return 0;
    }
    let words = passphrase
        .split_whitespace()
        .filter(|w| w.len() >= 3)
        .count();
    let distinct = {
        let mut c: Vec<char> = passphrase.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    let kinds = [
        passphrase.chars().any(|c| c.is_lowercase()),
        passphrase.chars().any(|c| c.is_uppercase()),
        passphrase.chars().any(|c| c.is_ascii_digit()),
        passphrase
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if distinct < 6 {
        1
    } else if (chars >= 24 && words >= 4) || (chars >= 20 && kinds >= 3) {
        3
    } else if chars >= 16 || words >= 3 || kinds >= 3 {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_key_is_current_and_a_bad_wrapped_key_is_still_listed() {
        let v: Value = serde_json::json!({"keys": [
            {"region": "loreto", "key_id": "loreto-00000000000000aa", "created_at": "2026-12-01T06:00:00Z",
             "public_key_b64": "x", "wrapped": {"kdf": "argon2id"}},
            {"region": "loreto", "key_id": "loreto-00000000000000bb", "created_at": "2026-11-01T06:00:00Z"}
        ]});
        let keys = RegionKey::list(&v).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].current && !keys[1].current);
        assert!(keys[0].wrapped.is_none());
        assert_eq!(keys[1].key_id, "loreto-00000000000000bb");
        // A malformed answer is an error, never "this region has no key".
        assert!(RegionKey::list(&Value::Null).is_err());
        assert!(RegionKey::list(&serde_json::json!({"keys": []}))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_long_sentence_is_strong_and_a_short_word_is_refused() {
        assert_eq!(strength("corta"), 0);
        assert_eq!(strength("abcdefghijklmno"), 0);
        assert_eq!(strength("aaaaaaaaaaaaaaaaaaaa"), 1);
        // Fair is refused too: three short words are not enough.
        assert_eq!(strength("río inambari madera"), 2);
        assert_eq!(strength("balsa verde sobre el río inambari"), 3);
        // The sentences of the end-to-end tests are strong.
        for p in [
            "balsa roja bajo la lluvia del tambopata",
            "garza blanca sobre el lago valencia",
        ] {
            assert_eq!(strength(p), 3, "{p}");
        }
    }

    #[test]
    fn the_too_short_message_names_the_seal_crates_minimum() {
        use chaski_client::i18n::{Label, Lang};
        for lang in [Lang::Es, Lang::En] {
            let said = crate::i18n::O::PassphraseTooShort.label(lang);
            assert!(
                said.contains(&chaski_seal::MIN_PASSPHRASE_CHARS.to_string()),
                "{said}"
            );
        }
    }
}
