//! Storage: a small set of async traits, and the records they hold.
//!
//! Lookups answer `Ok(None)` for "not found"; errors are reserved for the backend failing.
//! Tokens and codes are keyed by their [`Selector`] and hold only the hash of their
//! verifier (see [`crate::token`]). The operations that must be atomic (consuming a code,
//! rotating a refresh token) are single trait methods, so a SQL backend can make each one a
//! single statement or transaction.

mod memory;

use std::sync::Arc;

use async_trait::async_trait;

pub use memory::MemoryStore;

use crate::client::Client;
use crate::error::StorageError;
use crate::pkce::CodeChallenge;
use crate::scope::Scope;
use crate::token::{SecretHash, Selector};

/// The resource owner a grant acts for: the user who approved, or whose password was
/// checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceOwner {
    /// A stable, unique identifier (`sub`).
    pub subject: String,
    /// The login name (`username` in introspection).
    pub username: Option<String>,
}

impl ResourceOwner {
    /// An owner with a subject and a username.
    pub fn new(subject: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            username: Some(username.into()),
        }
    }
}

/// What kind of token a [`TokenRecord`] is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A Bearer access token.
    Access,
    /// A refresh token.
    Refresh,
    /// An authorization code (generated, never stored as a token).
    AuthorizationCode,
}

impl TokenKind {
    /// `"access_token"` or `"refresh_token"` (the RFC 7009 hint values).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
            Self::AuthorizationCode => "authorization_code",
        }
    }
}

/// An issued access or refresh token, as stored.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The storage key.
    pub selector: Selector,
    /// SHA-256 of the verifier.
    pub verifier_hash: SecretHash,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner's subject; `None` for client_credentials.
    pub subject: Option<String>,
    /// The resource owner's username, if known.
    pub username: Option<String>,
    /// The granted scope.
    pub scope: Scope,
    /// The grant type that issued it.
    pub grant_type: String,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// Expiry time, seconds since the epoch.
    pub expires_at: i64,
    /// The grant family: every token that descends from one authorization (one code, one
    /// password or client_credentials request) shares it, so revoking the family revokes
    /// them all (RFC 7009 §2.1, RFC 9700 §4.5 and §4.14.2).
    pub family: Selector,
    /// Revoked: no longer valid.
    pub revoked: bool,
    /// A refresh token replaced by rotation; presenting it again is reuse.
    pub rotated: bool,
}

impl TokenRecord {
    /// Whether the token is neither revoked, rotated out nor expired at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        !self.revoked && !self.rotated && now < self.expires_at
    }
}

/// An issued authorization code, as stored.
#[derive(Debug, Clone)]
pub struct AuthorizationCodeRecord {
    /// The storage key; also the family of every token issued from the code.
    pub selector: Selector,
    /// SHA-256 of the verifier.
    pub verifier_hash: SecretHash,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri` explicitly, in which case
    /// the token request must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// The approved scope.
    pub scope: Scope,
    /// The resource owner's subject.
    pub subject: String,
    /// The resource owner's username.
    pub username: Option<String>,
    /// The PKCE challenge, if one was sent.
    pub code_challenge: Option<CodeChallenge>,
    /// The OpenID Connect nonce, if one was sent.
    pub nonce: Option<String>,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// Expiry time, seconds since the epoch.
    pub expires_at: i64,
    /// Whether it has been redeemed.
    pub used: bool,
}

/// Looks up clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// The client with this id, or `None`.
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError>;
}

/// Keeps authorization codes.
#[async_trait]
pub trait AuthorizationCodeStore: Send + Sync {
    /// Saves a new code.
    async fn save_code(&self, code: AuthorizationCodeRecord) -> Result<(), StorageError>;

    /// The code with this selector, used or not, or `None`.
    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError>;

    /// Atomically marks an unused code used. Answers true for exactly one of any number of
    /// concurrent calls for the same code, false for all others and for unknown codes.
    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError>;

    /// Deletes a code. The engine deletes a code it caught being replayed, so that the
    /// request that redeemed it, if still finishing, sees the replay and revokes what it
    /// issued (see the authorization code grant).
    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError>;
}

/// Keeps access and refresh tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Saves newly issued tokens (an access token and maybe its refresh token) together.
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError>;

    /// The token with this selector, whatever its state, or `None`.
    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError>;

    /// Marks one token revoked.
    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError>;

    /// Marks every token of a grant family revoked, including tokens a concurrent rotation
    /// of that family commits (a store must order the two, not interleave them).
    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError>;

    /// Atomically marks a refresh token that is neither revoked nor rotated as rotated, and
    /// saves its replacements. Answers true for exactly one of any number of concurrent
    /// calls for the same token; false (and nothing saved) when it was already rotated or
    /// revoked.
    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
    ) -> Result<bool, StorageError>;
}

/// Checks resource owner credentials for the password grant.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The owner whose username and password these are, or `None`. Implementations must
    /// compare against a slow password hash (argon2id) and do that work off the async
    /// runtime's worker threads.
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError>;
}
