//! Desk passwords: the minimum policy every new password meets, and argon2id hashing (no I/O).
//!
//! Checking a password at sign-in lives with the HTTP auth (`http::auth::verify_password`),
//! which runs it off the async threads; both use argon2's default parameters.

use argon2::password_hash::{PasswordHasher, SaltString};

/// The shortest desk password accepted (NIST SP 800-63B asks for at least 8; a helpdesk's
/// accounts see every caller's data, so 12).
pub const MIN_LEN: usize = 12;
/// The longest (argon2 takes any length; this bounds what a request can make us hash).
pub const MAX_LEN: usize = 256;

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Fewer than [`MIN_LEN`] characters.
    #[error("the password must have at least {MIN_LEN} characters")]
    TooShort,
    /// More than [`MAX_LEN`] bytes.
    #[error("the password must have at most {MAX_LEN} bytes")]
    TooLong,
    /// It contains the login, or is one character repeated.
    #[error("the password must not contain the login or repeat one character")]
    Guessable,
}

/// Hashing failed (argon2's error type is not `std::error::Error` in 0.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// Checks a new password for `login` against the minimum policy.
pub fn check_policy(login: &str, password: &str) -> Result<(), PolicyError> {
    if password.len() > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    if password.chars().count() < MIN_LEN {
        return Err(PolicyError::TooShort);
    }
    let lower = password.to_lowercase();
    let login = login.trim().to_lowercase();
    let mut chars = password.chars();
    let first = chars.next();
    if (!login.is_empty() && lower.contains(&login)) || chars.all(|c| Some(c) == first) {
        return Err(PolicyError::Guessable);
    }
    Ok(())
}

/// An argon2id PHC string with argon2's default parameters and a random 16-byte salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| HashError(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[test]
    fn the_policy_refuses_short_long_and_guessable_passwords() {
        assert_eq!(check_policy("ann", "short-1"), Err(PolicyError::TooShort));
        assert_eq!(
            check_policy("ann", &"x".repeat(MAX_LEN + 1)),
            Err(PolicyError::TooLong)
        );
        assert_eq!(
            check_policy("ann", "hello-ANN-2026"),
            Err(PolicyError::Guessable)
        );
        assert_eq!(
            check_policy("ann", "aaaaaaaaaaaaaaa"),
            Err(PolicyError::Guessable)
        );
        // Twelve characters, counted as characters, not bytes.
        assert_eq!(check_policy("ann", "ééééééééééé1"), Ok(()));
        assert_eq!(check_policy("ann", "correct horse battery"), Ok(()));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        let a = argon2::Argon2::default();
        assert!(a.verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(
            a.verify_password(b"correct horse batterY", &parsed)
                .is_err()
        );
    }
}
