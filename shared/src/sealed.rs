//! The shape of sealed values, which the server and every client check without being able to
//! open them. The sealing itself (HPKE, keys, passphrases) is in the `chaski-seal` crate, which
//! the inspector's first load does not link; it re-exports these.

/// The sealing scheme's name, as `alg` of every sealed value.
pub const ALG: &str = "hpke-x25519-sha256-chacha20poly1305";

/// Bytes of HPKE's encapsulated key (an X25519 public key).
pub const ENC_LEN: usize = 32;
/// Bytes of the AEAD tag.
pub const TAG_LEN: usize = 16;
/// The shortest possible ciphertext (an empty plaintext): anything shorter is damaged.
pub const MIN_CIPHERTEXT: usize = ENC_LEN + TAG_LEN;

/// The content type of a sealed photo attachment.
pub const SEALED_CONTENT_TYPE: &str = "application/vnd.chaski.sealed";
/// The first bytes of a sealed attachment; the key id and a newline follow, then HPKE's output.
pub const ENVELOPE_MAGIC: &[u8] = b"CHASKI-SEALED-1\n";

/// The fields of a sealed identity's plaintext (`chaski_seal::Identity`), in the order the
/// tablet's seal module takes them.
pub const IDENTITY_FIELDS: [&str; 7] = [
    "given_names",
    "family_names",
    "document_type",
    "document_number",
    "phone",
    "address",
    "note",
];

/// Longest key id, in bytes.
pub const MAX_KEY_ID: usize = 64;

/// Whether `id` has the shape of a key id: lowercase letters, digits and `-`, ending in `-` and
/// 16 lowercase hex digits, at most [`MAX_KEY_ID`] bytes.
pub fn valid_key_id(id: &str) -> bool {
    let Some((region, hex)) = id.rsplit_once('-') else {
        return false;
    };
    id.len() <= MAX_KEY_ID
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && hex.len() == 16
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks the shape of a sealed envelope without opening it, and returns the key id it names;
/// the error says in words what is wrong.
pub fn check_envelope(bytes: &[u8]) -> Result<&str, &'static str> {
    let rest = bytes
        .strip_prefix(ENVELOPE_MAGIC)
        .ok_or("not a sealed envelope")?;
    let head = &rest[..rest.len().min(MAX_KEY_ID + 1)];
    let end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("the sealed envelope names no key")?;
    let id = std::str::from_utf8(&rest[..end])
        .ok()
        .filter(|id| valid_key_id(id))
        .ok_or("the sealed envelope names no valid key")?;
    if rest.len() - end - 1 < MIN_CIPHERTEXT {
        return Err("the sealed envelope is truncated");
    }
    Ok(id)
}
