//! Password rules and argon2id hashing.
//!
//! Hashing and checking are deliberately slow (argon2id with the crate's default cost, about
//! 19 MiB and two passes), so callers run them on a blocking thread, never on the async
//! executor.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shorter passwords are refused: a tablet lost in the field must not be one guess away from
/// a region's data.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer ones are refused too, so that nobody can make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a new password against the rules; the error says what to change.
pub fn validate_password(password: &str) -> Result<(), String> {
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
    Ok(())
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
        assert!(validate_password("123456789").is_err());
        assert!(validate_password("1234567890").is_ok());
        // Characters, not bytes: ten accented letters are fine.
        assert!(validate_password("ññññññññññ").is_ok());
        assert!(validate_password("ñññññññññ").is_err());
    }

    #[test]
    fn blank_and_huge_passwords_are_refused() {
        assert!(validate_password("            ").is_err());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
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
