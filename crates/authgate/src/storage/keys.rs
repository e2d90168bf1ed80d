//! [`KeyStore`]: where the server's signing keys live.

use async_trait::async_trait;

use crate::error::StorageError;

/// A signing key as stored. The private key is sealed (AES-256-GCM under the application's
/// key encryption key, see [`crate::jose::KeySet`]); a store never sees it in clear.
///
/// Times are seconds since the epoch: the key is published from `created_at`, signs from
/// `not_before` until `not_after`, and stays published until `expires_at`, so that what it
/// signed can still be verified.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The key id (the public key's RFC 7638 thumbprint).
    pub kid: String,
    /// The algorithm (`RS256`, `ES256`, ...).
    pub alg: String,
    /// Its place in the algorithm's sequence of keys: 1, 2, ... Two servers creating the
    /// same generation at once race, and the store keeps exactly one.
    pub generation: i64,
    /// The sealed PKCS#8 private key.
    pub sealed_private_key: Vec<u8>,
    /// The public JWK, as JSON.
    pub public_jwk: String,
    /// When it was created (and first published).
    pub created_at: i64,
    /// When it starts signing.
    pub not_before: i64,
    /// When it stops signing.
    pub not_after: i64,
    /// When it leaves the published key set.
    pub expires_at: i64,
}

impl SigningKeyRecord {
    /// A record; see the fields.
    #[allow(clippy::too_many_arguments)] // one argument per column, as a row is read
    pub fn new(
        kid: impl Into<String>,
        alg: impl Into<String>,
        generation: i64,
        sealed_private_key: Vec<u8>,
        public_jwk: impl Into<String>,
        created_at: i64,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            kid: kid.into(),
            alg: alg.into(),
            generation,
            sealed_private_key,
            public_jwk: public_jwk.into(),
            created_at,
            not_before,
            not_after,
            expires_at,
        }
    }
}

impl std::fmt::Debug for SigningKeyRecord {
    /// Everything but the sealed key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("generation", &self.generation)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Keeps the server's signing keys (one set per store handle, so per tenant).
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key, in no particular order.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StorageError>;

    /// Adds a key unless one of the same algorithm and generation exists; answers whether
    /// it was added. Atomic: of concurrent additions of one generation, exactly one wins.
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StorageError>;

    /// Sets a key's signing window and expiry (a manual rotation).
    async fn update_signing_key(
        &self,
        kid: &str,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Result<(), StorageError>;

    /// Deletes a key.
    async fn remove_signing_key(&self, kid: &str) -> Result<(), StorageError>;
}
