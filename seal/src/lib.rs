//! Sealed identities: what identifies a person found (names, identity document, phone, address)
//! and the photos that show people, encrypted on the tablet to the regional office's public key,
//! so that a lost or seized tablet, the server's disk and every relay hold only ciphertext.
//!
//! No construction here is our own:
//! - **Sealing** is HPKE (RFC 9180) in base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
//!   ChaCha20-Poly1305 ([`ALG`]), from the `hpke` crate. The associated data binds a ciphertext
//!   to its place ([`identity_aad`], [`photo_aad`]): a sealed identity copied onto another person
//!   or another inspection does not open.
//! - **A region's private key at rest** is wrapped under a passphrase: argon2id (RFC 9106, 64 MiB,
//!   3 passes) derives a key that encrypts it with XChaCha20-Poly1305 ([`WrappedKey`]). The server
//!   stores only that; the passphrase is typed in the office's browser (or the CLI) and never sent.
//!
//! Every sealed value names its key id ([`key_id`]: the region and 16 hex digits of the SHA-256
//! of the public key), so that after a rotation old records still open with the old key.

use std::fmt;

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use hpke::{Deserializable as _, Kem as _, OpModeR, OpModeS, Serializable as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize as _, Zeroizing};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;

use chaski_shared::b64;
use chaski_shared::sealed::ENC_LEN;
pub use chaski_shared::sealed::{
    valid_key_id, ALG, ENVELOPE_MAGIC, IDENTITY_FIELDS, MAX_KEY_ID, MIN_CIPHERTEXT,
    SEALED_CONTENT_TYPE,
};

/// HPKE's `info`: which application and version a key is used by.
const INFO: &[u8] = b"chaski seal v1";

/// A wrapped key's key-derivation function ([`WrappedKey::kdf`]).
pub const WRAP_KDF: &str = "argon2id";
/// A wrapped key's cipher ([`WrappedKey::aead`]).
pub const WRAP_AEAD: &str = "xchacha20poly1305";
/// Bytes of salt [`wrap`] draws; the fewest a stored key may have.
pub const WRAP_SALT_LEN: usize = 16;
/// Bytes of a wrapped key's nonce (XChaCha20-Poly1305).
pub const WRAP_NONCE_LEN: usize = 24;
/// Bytes of a wrapped key's ciphertext: the 32-byte private key and its 16-byte tag.
pub const WRAPPED_KEY_LEN: usize = 32 + 16;
/// The shortest passphrase a region's key is wrapped under, in characters (the command line's
/// and the office's rule): a wrapped key can be guessed at offline, with no login limit.
pub const MIN_PASSPHRASE_CHARS: usize = 16;

/// What can go wrong; no variant carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("sealed to key {0}, which is not among the keys unlocked here")]
    KeyNotHeld(String),
    #[error("the sealed value is damaged or was moved from another record")]
    Damaged,
    #[error("unknown sealing scheme {0:?}")]
    UnknownAlg(String),
    #[error("{0}")]
    BadShape(&'static str),
    #[error("the wrapped key asks for argon2 costs beyond what this program allows")]
    KdfTooCostly,
    #[error("no random numbers from the system")]
    NoRandom,
}

/// A region's public key, 32 bytes of X25519.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn from_b64(text: &str) -> Result<PublicKey, SealError> {
        let bytes = b64::decode(text).ok_or(SealError::BadShape("the public key is not base64"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SealError::BadShape("a public key has 32 bytes"))?;
        Ok(PublicKey(arr))
    }

    pub fn to_b64(&self) -> String {
        b64::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_b64())
    }
}

/// A region's private key in clear: only ever in memory, zeroed when dropped, never printed.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    pub fn public(&self) -> PublicKey {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.0[..])
            .expect("any 32 bytes are an X25519 private key");
        let pk = Kem::sk_to_pk(&sk);
        let mut out = [0u8; 32];
        out.copy_from_slice(&pk.to_bytes());
        PublicKey(out)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// The system's random numbers for HPKE's ephemeral key. `rand_core`'s `RngCore` cannot fail,
/// so a failure is remembered (and zeros given) for [`hpke_seal`] to turn into
/// [`SealError::NoRandom`] rather than a panic in the tablet's seal module.
struct SystemRng {
    failed: bool,
}

impl rand_core::RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_err() {
            self.failed = true;
            dest.fill(0);
        }
    }
}

impl rand_core::CryptoRng for SystemRng {}

fn random<const N: usize>() -> Result<[u8; N], SealError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| SealError::NoRandom)?;
    Ok(out)
}

/// A new key pair, from the system's random numbers.
pub fn generate() -> Result<SecretKey, SealError> {
    let ikm = Zeroizing::new(random::<32>()?);
    let (sk, _) = Kem::derive_keypair(&ikm[..]);
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(&sk.to_bytes());
    Ok(SecretKey(bytes))
}

/// The id of `public` in `region`: `loreto-3fa2…` (16 hex digits of its SHA-256).
pub fn key_id(region: &str, public: &PublicKey) -> String {
    let digest = Sha256::digest(public.0);
    let mut id = String::with_capacity(region.len() + 17);
    id.push_str(region);
    id.push('-');
    for b in &digest[..8] {
        id.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        id.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    id
}

/// The associated data of a person's sealed identity.
pub fn identity_aad(doc_id: &str, person_code: &str) -> Vec<u8> {
    format!("chaski identity v1\0{doc_id}\0{person_code}").into_bytes()
}

/// The associated data of a sealed photo.
pub fn photo_aad(doc_id: &str, attachment: &str) -> Vec<u8> {
    format!("chaski photo v1\0{doc_id}\0{attachment}").into_bytes()
}

/// A sealed value as it travels in a document: the wire shape of `SealedIdentity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub alg: String,
    pub recipient_key_id: String,
    /// HPKE's encapsulated key followed by the ciphertext, standard base64.
    pub ciphertext_b64: String,
}

fn hpke_seal(public: &PublicKey, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&public.0)
        .map_err(|_| SealError::BadShape("not an X25519 public key"))?;
    let mut rng = SystemRng { failed: false };
    let sealed = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
        &OpModeS::Base,
        &pk,
        INFO,
        plaintext,
        aad,
        &mut rng,
    );
    if rng.failed {
        // What was drawn is not random: whatever it sealed is thrown away.
        return Err(SealError::NoRandom);
    }
    let (enc, ct) = sealed.map_err(|e| match e {
        // The shared secret came out all zeros: a low-order point, not a region's key.
        hpke::HpkeError::EncapError => SealError::BadShape("not a usable public key"),
        _ => SealError::BadShape("the value could not be sealed"),
    })?;
    let mut out = Vec::with_capacity(ENC_LEN + ct.len());
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

fn hpke_open(secret: &SecretKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < MIN_CIPHERTEXT {
        return Err(SealError::Damaged);
    }
    let (enc, ct) = sealed.split_at(ENC_LEN);
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SealError::Damaged)?;
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret.0[..])
        .map_err(|_| SealError::Damaged)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, INFO, ct, aad)
        .map_err(|_| SealError::Damaged)
}

/// Seals `plaintext` to `public` (whose id is `key_id`), bound to `aad`.
pub fn seal(
    public: &PublicKey,
    key_id: &str,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Sealed, SealError> {
    if !valid_key_id(key_id) {
        return Err(SealError::BadShape("not a key id"));
    }
    Ok(Sealed {
        alg: ALG.to_string(),
        recipient_key_id: key_id.to_string(),
        ciphertext_b64: b64::encode(hpke_seal(public, plaintext, aad)?),
    })
}

/// Opens `sealed` with whichever of `keys` (key id, secret) it names.
pub fn open(
    keys: &[(String, SecretKey)],
    sealed: &Sealed,
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    if sealed.alg != ALG {
        return Err(SealError::UnknownAlg(sealed.alg.clone()));
    }
    let secret = keys
        .iter()
        .find(|(id, _)| *id == sealed.recipient_key_id)
        .map(|(_, k)| k)
        .ok_or_else(|| SealError::KeyNotHeld(sealed.recipient_key_id.clone()))?;
    let bytes = b64::decode(&sealed.ciphertext_b64).ok_or(SealError::Damaged)?;
    hpke_open(secret, &bytes, aad)
}

/// Seals bytes (a photo) into a self-describing envelope: [`ENVELOPE_MAGIC`], the key id, a
/// newline, then HPKE's output.
pub fn seal_bytes(
    public: &PublicKey,
    key_id: &str,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    if !valid_key_id(key_id) {
        return Err(SealError::BadShape("not a key id"));
    }
    let sealed = hpke_seal(public, plaintext, aad)?;
    let mut out = Vec::with_capacity(ENVELOPE_MAGIC.len() + key_id.len() + 1 + sealed.len());
    out.extend_from_slice(ENVELOPE_MAGIC);
    out.extend_from_slice(key_id.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Checks the shape of a sealed envelope without opening it, and returns the key id it names.
/// This is what the server checks of a sealed attachment: it cannot open one.
pub fn check_envelope(bytes: &[u8]) -> Result<&str, SealError> {
    chaski_shared::sealed::check_envelope(bytes).map_err(SealError::BadShape)
}

/// Opens an envelope made by [`seal_bytes`].
pub fn open_bytes(
    keys: &[(String, SecretKey)],
    bytes: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, SealError> {
    let id = check_envelope(bytes).map_err(|_| SealError::Damaged)?;
    let secret = keys
        .iter()
        .find(|(k, _)| k == id)
        .map(|(_, s)| s)
        .ok_or_else(|| SealError::KeyNotHeld(id.to_string()))?;
    let start = ENVELOPE_MAGIC.len() + id.len() + 1;
    hpke_open(secret, &bytes[start..], aad)
}

/// Argon2id's costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option, with one lane (a browser runs one thread): 64 MiB,
    /// three passes.
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// The weakest costs the server stores a wrapped key with: OWASP's minimum for argon2id
    /// (19 MiB, two passes). A wrapped key is handed to every supervisor of the region, so its
    /// passphrase must withstand guessing offline.
    pub const MIN: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    /// The costliest a wrapped key may ask for ([`unwrap`] refuses more with
    /// [`SealError::KdfTooCostly`]): a damaged or hostile record must not make a browser
    /// allocate gigabytes or spin for minutes.
    pub const MAX: KdfParams = KdfParams {
        m_kib: 256 * 1024,
        t: 10,
        p: 4,
    };

    /// Whether any cost is below `floor`'s.
    pub fn below(self, floor: KdfParams) -> bool {
        self.m_kib < floor.m_kib || self.t < floor.t || self.p < floor.p
    }

    /// Whether any cost is above `ceiling`'s.
    pub fn above(self, ceiling: KdfParams) -> bool {
        self.m_kib > ceiling.m_kib || self.t > ceiling.t || self.p > ceiling.p
    }
}

/// A region's private key encrypted under a passphrase, as the server stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// [`WRAP_KDF`].
    pub kdf: String,
    #[serde(flatten)]
    pub params: KdfParams,
    pub salt_b64: String,
    /// [`WRAP_AEAD`].
    pub aead: String,
    pub nonce_b64: String,
    pub ciphertext_b64: String,
    /// The key pair's public half, so that a wrong passphrase and a damaged record differ.
    pub public_key_b64: String,
    pub key_id: String,
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, SealError> {
    if params.above(KdfParams::MAX) {
        return Err(SealError::KdfTooCostly);
    }
    let argon_params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|_| SealError::BadShape("argon2 costs out of range"))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut out[..])
        .map_err(|_| SealError::BadShape("argon2 refused its input"))?;
    Ok(out)
}

/// Wraps `secret` (of `key_id`) under `passphrase` with [`KdfParams::DEFAULT`].
pub fn wrap(secret: &SecretKey, key_id: &str, passphrase: &str) -> Result<WrappedKey, SealError> {
    wrap_with(secret, key_id, passphrase, KdfParams::DEFAULT)
}

/// [`wrap`] with other costs (tests use small ones).
pub fn wrap_with(
    secret: &SecretKey,
    key_id: &str,
    passphrase: &str,
    params: KdfParams,
) -> Result<WrappedKey, SealError> {
    let salt = random::<WRAP_SALT_LEN>()?;
    let nonce = random::<WRAP_NONCE_LEN>()?;
    let kek = derive(passphrase, &salt, params)?;
    let cipher = XChaCha20Poly1305::new((&*kek).into());
    let ciphertext = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: &secret.0[..],
                aad: key_id.as_bytes(),
            },
        )
        .map_err(|_| SealError::BadShape("the key could not be wrapped"))?;
    Ok(WrappedKey {
        kdf: WRAP_KDF.to_string(),
        params,
        salt_b64: b64::encode(salt),
        aead: WRAP_AEAD.to_string(),
        nonce_b64: b64::encode(nonce),
        ciphertext_b64: b64::encode(ciphertext),
        public_key_b64: secret.public().to_b64(),
        key_id: key_id.to_string(),
    })
}

/// Unwraps a stored key with `passphrase`: [`SealError::WrongPassphrase`] when it does not open
/// it, [`SealError::Damaged`] when what opens is not the key the record names.
pub fn unwrap(wrapped: &WrappedKey, passphrase: &str) -> Result<SecretKey, SealError> {
    if wrapped.kdf != WRAP_KDF || wrapped.aead != WRAP_AEAD {
        return Err(SealError::UnknownAlg(format!(
            "{}+{}",
            wrapped.kdf, wrapped.aead
        )));
    }
    let salt =
        b64::decode(&wrapped.salt_b64).ok_or(SealError::BadShape("the salt is not base64"))?;
    let nonce: [u8; WRAP_NONCE_LEN] = b64::decode(&wrapped.nonce_b64)
        .and_then(|n| n.try_into().ok())
        .ok_or(SealError::BadShape("the nonce is not 24 bytes of base64"))?;
    let ciphertext = b64::decode(&wrapped.ciphertext_b64)
        .ok_or(SealError::BadShape("the wrapped key is not base64"))?;
    let kek = derive(passphrase, &salt, wrapped.params)?;
    let cipher = XChaCha20Poly1305::new((&*kek).into());
    let mut plain = cipher
        .decrypt(
            (&nonce).into(),
            Payload {
                msg: &ciphertext,
                aad: wrapped.key_id.as_bytes(),
            },
        )
        .map_err(|_| SealError::WrongPassphrase)?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    if plain.len() != bytes.len() {
        plain.zeroize();
        return Err(SealError::Damaged);
    }
    bytes.copy_from_slice(&plain);
    plain.zeroize();
    let secret = SecretKey(bytes);
    if secret.public().to_b64() != wrapped.public_key_b64 {
        return Err(SealError::Damaged);
    }
    Ok(secret)
}

/// What a sealed identity holds, in clear only on the tablet while typed and in the office once
/// opened. Every field is optional: an inspector records what the person gives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub given_names: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family_names: String,
    /// `dni`, `ce` (carné de extranjería), `passport`, `ptp`, `other`, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_number: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    /// Address or community.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Identity {
    /// An identity from its fields in the order of [`IDENTITY_FIELDS`] (how the tablet's seal
    /// module receives them), each trimmed.
    pub fn from_fields(fields: [&str; 7]) -> Identity {
        let [given_names, family_names, document_type, document_number, phone, address, note] =
            fields.map(|f| f.trim().to_string());
        Identity {
            given_names,
            family_names,
            document_type,
            document_number,
            phone,
            address,
            note,
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        *self == Identity::default()
    }

    /// Seals this identity for person `person_code` of document `doc_id`.
    pub fn seal(
        &self,
        public: &PublicKey,
        key_id: &str,
        doc_id: &str,
        person_code: &str,
    ) -> Result<Sealed, SealError> {
        let json =
            Zeroizing::new(serde_json::to_vec(self).map_err(|_| SealError::BadShape("identity"))?);
        seal(public, key_id, &json, &identity_aad(doc_id, person_code))
    }

    /// Opens the identity sealed for person `person_code` of document `doc_id`.
    pub fn open(
        keys: &[(String, SecretKey)],
        sealed: &Sealed,
        doc_id: &str,
        person_code: &str,
    ) -> Result<Identity, SealError> {
        let plain = Zeroizing::new(open(keys, sealed, &identity_aad(doc_id, person_code))?);
        serde_json::from_slice(&plain).map_err(|_| SealError::Damaged)
    }
}

#[cfg(test)]
mod tests;
