//! Password rules and argon2id hashing.
//!
//! Hashing and checking are deliberately slow (argon2id with the crate's default cost, about
//! 19 MiB and two passes), so callers run them on a blocking thread, never on the async
//! executor, and no more than a few at once (see `Accounts`).
//!
//! A new password must be at least ten characters and hard to guess: the `zxcvbn` estimator
//! (which knows common passwords, keyboard rows, sequences, dates and the user's own name)
//! must rate it at least [`MIN_STRENGTH`] of 4, and a refusal says why in words.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shorter passwords are refused: a tablet lost in the field must not be one guess away from
/// a region's data.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer ones are refused too, so that nobody can make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The lowest `zxcvbn` score accepted: 3 is "safely unguessable" (about 10^10 guesses), out
/// of reach of an attacker who copied the hashes and far out of reach of online guessing.
pub const MIN_STRENGTH: u8 = 3;

/// The estimator looks at this many characters at most: it is slow on very long inputs, and
/// a password this long that is still guessable in its first part is rare enough.
const STRENGTH_CHARS: usize = 100;

/// Checks a new password for the account `name` against the rules; the error says what to
/// change.
pub fn validate_password(password: &str, name: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The password is too short: use at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "The password is too long: use at most {MAX_PASSWORD_BYTES} bytes."
        ));
    }
    if password.trim().is_empty() {
        return Err("The password cannot be only spaces.".to_owned());
    }
    check_strength(password, name)
}

/// Refuses a password that `zxcvbn` can guess, with its warning and suggestions as the reason.
fn check_strength(password: &str, name: &str) -> Result<(), String> {
    let sample: String = password.chars().take(STRENGTH_CHARS).collect();
    // The name is also given in parts, so "ana.maria" catches "maria2024" too.
    let mut inputs: Vec<&str> = vec![name, "chaski"];
    inputs.extend(
        name.split(|c: char| !c.is_alphanumeric())
            .filter(|p| p.len() > 2),
    );
    let estimate = zxcvbn::zxcvbn(&sample, &inputs);
    if u8::from(estimate.score()) >= MIN_STRENGTH {
        return Ok(());
    }
    let mut why = Vec::new();
    if name.chars().count() >= 3 && sample.to_lowercase().contains(&name.to_lowercase()) {
        why.push("it contains the user's name.".to_owned());
    }
    if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        why.push(warning.to_string());
    }
    let mut reason = String::from("The password is too easy to guess");
    if !why.is_empty() {
        reason.push_str(": ");
        reason.push_str(&why.join(" "));
    }
    if !reason.ends_with('.') {
        reason.push('.');
    }
    let suggestions: Vec<String> = estimate
        .feedback()
        .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    if suggestions.is_empty() {
        reason.push_str(" Use a few unrelated words, or a longer mix of letters and digits.");
    } else {
        reason.push(' ');
        reason.push_str(&suggestions.join(" "));
    }
    Err(reason)
}

/// The PHC string (`$argon2id$v=19$…`) of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| format!("argon2: {err}"))
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as checking a real password, for unknown accounts: an attacker must
/// not tell from the answer's delay which names exist.
pub fn waste_time_like_a_verification(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash_password("not-a-real-password").ok()) {
        let _ = verify_password(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_shorter_than_ten_characters_are_refused() {
        let err = validate_password("kx7#vq2!m", "ana").unwrap_err();
        assert!(err.contains("too short"), "{err}");
        assert!(validate_password("kx7#vq2!mz", "ana").is_ok());
        // Characters, not bytes: ten accented letters count as ten.
        assert!(validate_password("ñáéíóúüñáé", "ana").is_ok());
        assert!(validate_password("ñáéíóúüñá", "ana").is_err());
    }

    #[test]
    fn blank_and_huge_passwords_are_refused() {
        assert!(validate_password("            ", "ana").is_err());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES + 1), "ana").is_err());
    }

    #[test]
    fn guessable_passwords_are_refused_with_the_reason_in_words() {
        for weak in [
            "1234567890",
            "password12",
            "qwertyuiop",
            "ana.maria2024",
            "anamaria123",
            "aaaaaaaaaaaa",
        ] {
            let err = validate_password(weak, "ana.maria").unwrap_err();
            assert!(
                err.starts_with("The password is too easy to guess"),
                "{weak}: {err}"
            );
            assert!(err.len() > 40, "{weak}: the reason says what to do: {err}");
        }
        // Including the passwords the API, CLI and browser tests use.
        for (strong, name) in [
            ("correct horse battery", "ana.admin"),
            ("una clave larga", "ana"),
            ("una clave larga y segura", "ana"),
            ("clave-de-ana-123", "ana"),
            ("clave-de-beto-123", "beto"),
            ("clave-de-jefa-123", "jefa"),
            ("selva verde 2026", "ines.inspectora"),
            ("dos regiones 2026", "rosa.inspectora"),
            ("otra cuenta 2026", "otro.inspector"),
            ("Tr3s tigres tristes", "ana"),
        ] {
            assert_eq!(validate_password(strong, name), Ok(()), "{strong}");
        }
    }

    #[test]
    fn a_hash_verifies_its_own_password_only() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn the_same_password_gets_a_different_salt_each_time() {
        assert_ne!(
            hash_password("correct horse battery").unwrap(),
            hash_password("correct horse battery").unwrap()
        );
    }
}
