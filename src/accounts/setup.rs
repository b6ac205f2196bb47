//! The first admin without a default password (issue 13 point 2): when the server starts and no
//! active admin exists, it makes a one-time setup token and prints a link with it
//! (`/setup.html#<token>`); whoever opens the link creates the first admin account, which uses
//! the token up. The token lives in memory only (a restart makes a new one) and only its
//! SHA-256 is kept, compared in constant time.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// The pending setup token, if any; cheap to clone (one shared slot).
#[derive(Debug, Clone, Default)]
pub struct SetupToken {
    digest: Arc<Mutex<Option<[u8; 32]>>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl SetupToken {
    /// Makes a new random token (128 bits, hex) and keeps its digest; returns the token.
    pub fn issue(&self) -> String {
        let token = format!("{:032x}", rand::random::<u128>());
        *self.slot() = Some(digest(&token));
        token
    }

    /// Whether a setup is open (a token issued and not used yet).
    pub fn pending(&self) -> bool {
        self.slot().is_some()
    }

    /// Uses the token up when `token` is it; false (and nothing changes) otherwise.
    pub fn take(&self, token: &str) -> bool {
        let mut slot = self.slot();
        let Some(want) = *slot else {
            return false;
        };
        let got = digest(token);
        let diff = want
            .iter()
            .zip(got.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff != 0 {
            return false;
        }
        *slot = None;
        true
    }

    /// Puts a token back (the account it was used for could not be stored).
    pub fn restore(&self, token: &str) {
        *self.slot() = Some(digest(token));
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<[u8; 32]>> {
        self.digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::SetupToken;

    #[test]
    fn a_token_works_once_and_a_wrong_one_changes_nothing() {
        let slot = SetupToken::default();
        assert!(!slot.pending() && !slot.take(""));
        let token = slot.issue();
        assert_eq!(token.len(), 32);
        assert!(!slot.take("0".repeat(32).as_str()));
        assert!(slot.pending(), "a wrong token leaves the setup open");
        assert!(slot.clone().take(&token), "clones share the slot");
        assert!(!slot.pending() && !slot.take(&token), "used up");
        slot.restore(&token);
        assert!(slot.take(&token));
    }
}
