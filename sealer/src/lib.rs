//! The inspector's seal module: what the tablet calls to seal an identity or a photo of people
//! to the region's public key, built as its own small wasm module (`client/build/sealer.sh`).
//!
//! Why a separate module: HPKE and its curve and cipher code are about 17 KB of brotli, and the
//! inspector's first load crosses 3G or satellite links. The app imports this module the first
//! time it seals and prefetches it right after sign-in, so that the service worker holds it
//! before the tablet goes offline (`client/src/components/identity.rs`).
//!
//! The functions take and return plain strings and bytes: the app needs nothing of the seal
//! crate's types, and nothing secret crosses the boundary but the plaintext on its way in. The
//! identity comes field by field rather than as JSON: parsing JSON here would bring serde_json's
//! number parsing and float formatting into the module, about a third of its size.

use chaski_seal::{Identity, PublicKey};
use wasm_bindgen::prelude::*;

/// The region's public key from its base64, or the reason it is not one.
fn public_key(public_key_b64: &str) -> Result<PublicKey, String> {
    PublicKey::from_b64(public_key_b64).map_err(|e| e.to_string())
}

/// Seals an identity (its fields in the order of [`chaski_seal::IDENTITY_FIELDS`], empty when
/// not given) for person `person_code` of the inspection `doc_id`, to the region's key `key_id`
/// (`public_key_b64`).
/// Returns the sealed value as the JSON of `people[i].sealed`.
pub fn seal_identity_fields(
    public_key_b64: &str,
    key_id: &str,
    doc_id: &str,
    person_code: &str,
    fields: [&str; 7],
) -> Result<String, String> {
    let public = public_key(public_key_b64)?;
    let identity = Identity::from_fields(fields);
    if identity.is_empty() {
        return Err("nothing to seal".into());
    }
    let sealed = identity
        .seal(&public, key_id, doc_id, person_code)
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&sealed).map_err(|e| e.to_string())
}

/// Seals the bytes of a photo stored as attachment `attachment` of the inspection `doc_id`:
/// the envelope to store with content type `application/vnd.chaski.sealed`.
pub fn seal_photo_bytes(
    public_key_b64: &str,
    key_id: &str,
    doc_id: &str,
    attachment: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, String> {
    let public = public_key(public_key_b64)?;
    chaski_seal::seal_bytes(
        &public,
        key_id,
        bytes,
        &chaski_seal::photo_aad(doc_id, attachment),
    )
    .map_err(|e| e.to_string())
}

/// [`seal_identity_fields`] for JavaScript: throws an `Error` with the reason.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn seal_identity(
    public_key_b64: &str,
    key_id: &str,
    doc_id: &str,
    person_code: &str,
    given_names: &str,
    family_names: &str,
    document_type: &str,
    document_number: &str,
    phone: &str,
    address: &str,
    note: &str,
) -> Result<String, JsError> {
    let fields = [
        given_names,
        family_names,
        document_type,
        document_number,
        phone,
        address,
        note,
    ];
    seal_identity_fields(public_key_b64, key_id, doc_id, person_code, fields)
        .map_err(|e| JsError::new(&e))
}

/// [`seal_photo_bytes`] for JavaScript: a `Uint8Array`, or throws an `Error` with the reason.
#[wasm_bindgen]
pub fn seal_photo(
    public_key_b64: &str,
    key_id: &str,
    doc_id: &str,
    attachment: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, JsError> {
    seal_photo_bytes(public_key_b64, key_id, doc_id, attachment, bytes)
        .map_err(|e| JsError::new(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaski_seal::{generate, key_id, open_bytes, Sealed};

    #[test]
    fn a_sealed_identity_opens_at_the_office_and_only_for_its_person() {
        let secret = generate().unwrap();
        let public = secret.public();
        let id = key_id("loreto", &public);
        let json = seal_identity_fields(
            &public.to_b64(),
            &id,
            "inspection:x",
            "P-001",
            ["Rosa ", "", "dni", "41234567", "", "", ""],
        )
        .unwrap();
        assert!(!json.contains("Rosa") && !json.contains("41234567"));
        let sealed: Sealed = serde_json::from_str(&json).unwrap();
        let keys = vec![(id.clone(), secret)];
        let opened = Identity::open(&keys, &sealed, "inspection:x", "P-001").unwrap();
        assert_eq!(opened.given_names, "Rosa");
        assert_eq!(opened.document_type, "dni");
        assert_eq!(opened.document_number, "41234567");
        assert!(opened.phone.is_empty());
        assert!(Identity::open(&keys, &sealed, "inspection:x", "P-002").is_err());
        assert!(Identity::open(&keys, &sealed, "inspection:y", "P-001").is_err());
    }

    #[test]
    fn a_sealed_photo_opens_only_under_its_own_name() {
        let secret = generate().unwrap();
        let public = secret.public();
        let id = key_id("loreto", &public);
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let env = seal_photo_bytes(
            &public.to_b64(),
            &id,
            "inspection:x",
            "photo-1.sealed",
            &jpeg,
        )
        .unwrap();
        assert_eq!(chaski_seal::check_envelope(&env).unwrap(), id);
        assert!(!env.windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]));
        let keys = vec![(id, secret)];
        let aad = chaski_seal::photo_aad("inspection:x", "photo-1.sealed");
        assert_eq!(open_bytes(&keys, &env, &aad).unwrap(), jpeg);
        let other = chaski_seal::photo_aad("inspection:x", "photo-2.sealed");
        assert!(open_bytes(&keys, &env, &other).is_err());
    }

    #[test]
    fn bad_keys_and_empty_identities_are_refused_in_words() {
        let public = generate().unwrap().public();
        let id = key_id("loreto", &public);
        let rosa = ["Rosa", "", "", "", "", "", ""];
        assert!(seal_identity_fields("nope", &id, "d", "P-001", rosa).is_err());
        assert_eq!(
            seal_identity_fields(&public.to_b64(), "x", "d", "P-001", rosa),
            Err("not a key id".to_string())
        );
        assert_eq!(
            seal_identity_fields(&public.to_b64(), &id, "d", "P-001", [" "; 7]),
            Err("nothing to seal".to_string())
        );
        assert!(seal_photo_bytes(&public.to_b64(), "x", "d", "p", b"jpeg").is_err());
    }
}
