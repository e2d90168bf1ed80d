//! Human passwords: argon2id, computed off the async workers, at most one per core at a
//! time, with the same work spent for unknown usernames.
//!
//! Machine-generated secrets (client secrets, tokens) are 256-bit random values and use a
//! fast hash instead (see [`crate::token::SecretHash`]); argon2 is for what people type.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::{OnceCell, Semaphore};

use crate::error::StorageError;
use crate::rng::{random_bytes, OsRng, Rng};

/// Hashes a password with argon2id (default parameters) and a 16-byte salt from `rng`, on
/// the calling thread: tens of milliseconds of CPU. Async code uses [`hash`].
///
/// # Errors
/// argon2 refused the input (a password longer than argon2's 4 GiB limit).
pub fn hash_blocking(password: &str, rng: &dyn Rng) -> Result<String, StorageError> {
    let salt_bytes: [u8; 16] = random_bytes(rng);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| StorageError::Other(e.to_string().into()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StorageError::Other(e.to_string().into()))
}

/// Whether `password` matches an argon2 PHC string, on the calling thread. A hash that
/// does not parse matches nothing.
pub fn verify_blocking(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Hashes a password with argon2id on Tokio's blocking pool, behind the gate.
///
/// # Errors
/// The blocking task failed, or argon2 refused the input.
pub async fn hash(password: String) -> Result<String, StorageError> {
    gated(move || hash_blocking(&password, &OsRng)).await?
}

/// Checks a password against an argon2 hash on Tokio's blocking pool, behind the gate.
///
/// # Errors
/// The blocking task failed.
pub async fn verify(hash: String, password: String) -> Result<bool, StorageError> {
    gated(move || verify_blocking(&hash, &password)).await
}

/// Spends the work of one verification for a username that does not exist, so the time a
/// login takes does not tell which usernames exist. Always answers `Ok(())`.
///
/// # Errors
/// The blocking task failed.
pub async fn verify_unknown_user(password: String) -> Result<(), StorageError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| hash(crate::token::generate_client_secret(&OsRng)))
        .await?
        .clone();
    verify(hash, password).await.map(|_| ())
}

/// At most one argon2 computation per core at a time: each takes ~19 MiB and tens of
/// milliseconds, so a burst of logins queues here instead of exhausting memory.
fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
}

async fn gated<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    let _permit = gate()
        .acquire()
        .await
        .map_err(|e| StorageError::Other(Box::new(e)))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Other(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(h.clone(), "correct horse".into()).await.unwrap());
        assert!(!verify(h, "correct horsE".into()).await.unwrap());
        assert!(!verify_blocking("not a hash", "x"));
        verify_unknown_user("whatever".into()).await.unwrap();
    }
}
