//! Signed checkpoints of the custody log, in the C2SP tlog-checkpoint format (a C2SP signed
//! note), with the log's Ed25519 key.
//!
//! A checkpoint reads
//! ```text
//! <origin>
//! <tree size, decimal>
//! <base64 of the root hash>
//!
//! — <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>
//! ```
//! The signature covers the first three lines with their newlines. The key id is the first
//! four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key). The key name is the origin.
//!
//! The key is made at the first start and kept in the sled database itself (tree
//! `custody_state`, key `signing_key`, as a note signer key string
//! `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ seed)>`), so a backup carries it.

use chaski_shared::b64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;
use super::Trees;

const KEY_KEY: &[u8] = b"signing_key";

/// The log's key and origin.
#[derive(Clone)]
pub struct LogKey {
    pub name: String,
    signing: SigningKey,
}

/// The 4-byte key id of an Ed25519 key named `name`.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

impl LogKey {
    /// The stored key, or a new one stored now (named `chaski-custody/<8 hex of its id>`).
    pub fn load_or_create(trees: &Trees) -> Result<Self, sled::Error> {
        if let Some(bytes) = trees.state.get(KEY_KEY)? {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            return Self::parse(&text).ok_or_else(|| {
                sled::Error::Unsupported("the custody log's key is unreadable".into())
            });
        }
        let mut seed = [0u8; 32];
        use password_hash::rand_core::RngCore;
        password_hash::rand_core::OsRng.fill_bytes(&mut seed);
        let signing = SigningKey::from_bytes(&seed);
        let public = signing.verifying_key().to_bytes();
        let name = format!(
            "chaski-custody/{}",
            super::hex(&Sha256::digest(public)[..4])
        );
        let key = Self { name, signing };
        // Only set if still absent: two starts racing keep one key.
        trees
            .state
            .compare_and_swap(
                KEY_KEY,
                None as Option<&[u8]>,
                Some(key.encode().as_bytes()),
            )?
            .ok();
        trees.state.flush()?;
        match trees.state.get(KEY_KEY)? {
            Some(bytes) => Self::parse(&String::from_utf8_lossy(&bytes))
                .ok_or_else(|| sled::Error::Unsupported("custody key".into())),
            None => Ok(key),
        }
    }

    fn encode(&self) -> String {
        let public = self.signing.verifying_key().to_bytes();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&self.signing.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            super::hex(&key_id(&self.name, &public)),
            b64::encode(raw)
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("PRIVATE+KEY+")?;
        // A key name never holds `+`; base64 may.
        let mut parts = rest.splitn(3, '+');
        let (name, _id, encoded) = (parts.next()?, parts.next()?, parts.next()?);
        let raw = b64::decode(encoded)?;
        let seed: [u8; 32] = raw.get(1..)?.try_into().ok()?;
        (raw.first() == Some(&1)).then(|| Self {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The verifier key string `<name>+<key id hex>+<base64(0x01 ‖ public key)>` (the note
    /// format's), for whoever checks checkpoints.
    pub fn verifier(&self) -> String {
        let public = self.verifying_key().to_bytes();
        let mut raw = vec![1u8];
        raw.extend_from_slice(&public);
        format!(
            "{}+{}+{}",
            self.name,
            super::hex(&key_id(&self.name, &public)),
            b64::encode(raw)
        )
    }

    /// The signed checkpoint of a tree of `size` leaves with root `root`.
    pub fn sign(&self, size: u64, root: &Hash) -> String {
        let text = format!("{}\n{}\n{}\n", self.name, size, b64::encode(root));
        let signature = self.signing.sign(text.as_bytes());
        let public = self.verifying_key().to_bytes();
        let mut sig = key_id(&self.name, &public).to_vec();
        sig.extend_from_slice(&signature.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, b64::encode(sig))
    }
}

/// A checkpoint's origin, size and root, parsed (the signature is not checked here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The signed text (the first three lines).
    pub text: String,
    /// `(key name, key id ‖ signature)` per signature line.
    pub signatures: Vec<(String, Vec<u8>)>,
}

pub fn parse(note: &str) -> Option<Parsed> {
    let (text, sigs) = note.split_once("\n\n")?;
    let mut lines = text.split('\n');
    let origin = lines.next()?.to_owned();
    let size = lines.next()?.parse().ok()?;
    let root: Hash = b64::decode(lines.next()?)?.try_into().ok()?;
    let mut signatures = Vec::new();
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ")?;
        let (name, encoded) = rest.split_once(' ')?;
        signatures.push((name.to_owned(), b64::decode(encoded)?));
    }
    Some(Parsed {
        origin,
        size,
        root,
        text: format!("{text}\n"),
        signatures,
    })
}

/// Checks a checkpoint's signature by `key`.
pub fn verify(note: &str, key: &VerifyingKey, name: &str) -> Option<Parsed> {
    let parsed = parse(note)?;
    let id = key_id(name, &key.to_bytes());
    let ok = parsed.signatures.iter().any(|(n, sig)| {
        n == name
            && sig.len() == 68
            && sig[..4] == id
            && ed25519_dalek::Signature::from_slice(&sig[4..])
                .is_ok_and(|s| key.verify_strict(parsed.text.as_bytes(), &s).is_ok())
    });
    ok.then_some(parsed)
}

/// The checkpoint of the log as it stands: the stored one if the log has not grown since,
/// else a new one, signed and stored now. A sled call: run it on the blocking pool.
pub fn current(trees: &Trees, key: &LogKey) -> Result<String, sled::Error> {
    let range = trees.range()?;
    if let Some((_, note)) = trees.checkpoints.last()? {
        let note = String::from_utf8_lossy(&note).into_owned();
        if parse(&note).is_some_and(|p| p.size == range.size) {
            return Ok(note);
        }
    }
    let note = key.sign(range.size, &range.root());
    trees
        .checkpoints
        .insert(range.size.to_be_bytes(), note.as_bytes())?;
    Ok(note)
}

/// Signs a checkpoint every `every` while the log grows, until `stopping` turns true. The
/// sled work runs on the blocking pool.
pub async fn run_signer(
    trees: Trees,
    key: LogKey,
    storage: crate::storage::Storage,
    every: std::time::Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
        let (t, k) = (trees.clone(), key.clone());
        match tokio::task::spawn_blocking(move || current(&t, &k)).await {
            Ok(Ok(_)) => {
                if let Err(err) = storage.flush().await {
                    tracing::error!(%err, "cannot flush the custody checkpoint");
                }
            }
            Ok(Err(err)) => tracing::error!(%err, "cannot sign a custody checkpoint"),
            Err(err) => tracing::error!(%err, "the custody checkpoint task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_a_changed_one_does_not() {
        let key = LogKey {
            name: "example.com/log".into(),
            signing: SigningKey::from_bytes(&[7u8; 32]),
        };
        let note = key.sign(5, &[9u8; 32]);
        assert!(note.starts_with("example.com/log\n5\n"));
        let parsed = verify(&note, &key.verifying_key(), &key.name).expect("verifies");
        assert_eq!((parsed.size, parsed.root), (5, [9u8; 32]));
        let forged = note.replacen("\n5\n", "\n6\n", 1);
        assert!(verify(&forged, &key.verifying_key(), &key.name).is_none());
        let again = LogKey::parse(&key.encode()).unwrap();
        assert_eq!(again.verifier(), key.verifier());
    }
}
