//! [`ReplayCache`]: single use of one-time values (a client assertion's `jti`, RFC 7523
//! §3) until they expire.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::error::StorageError;

/// Remembers one-time values until they expire, so that each is accepted once: a client
/// assertion's `jti` (RFC 7523 §3; RFC 9700's checklist row 24), and later DPoP proofs.
///
/// Values are kept under a fixed-length key ([`replay_key`]) and forgotten once expired
/// (the SQL backends' purger deletes them).
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` as used until `expires_at` and answers true when it was not in use
    /// at `now` (never seen, or seen with an expiry at or before `now`); answers false for
    /// a live one. Atomic: of any number of concurrent calls with one key, exactly one
    /// answers true.
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError>;
}

/// The key a one-time value is filed under: SHA-256 over `purpose`, `issuer` (the client,
/// say) and `value`, hex, so that a long or odd value costs the store a fixed 64
/// characters and different issuers' values never collide.
///
/// ```
/// use authgate::storage::replay_key;
/// let a = replay_key("client_assertion", "svc", "jti-1");
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, replay_key("client_assertion", "svc2", "jti-1"));
/// ```
pub fn replay_key(purpose: &str, issuer: &str, value: &str) -> String {
    let mut h = Sha256::new();
    for part in [purpose, issuer, value] {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
