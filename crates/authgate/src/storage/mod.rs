//! Storage: a small set of async traits, and the records they hold.
//!
//! Lookups answer `Ok(None)` for "not found"; errors are reserved for the backend failing.
//! Tokens and codes are keyed by their [`Selector`] and hold only the hash of their
//! verifier (see [`crate::token`]). The operations that must be atomic (consuming a code,
//! rotating a refresh token) are single trait methods, so a SQL backend can make each one a
//! single statement or transaction.

mod consents;
mod device_codes;
mod keys;
mod memory;
mod registry;
mod replay;
mod sessions;

use async_trait::async_trait;

pub use consents::{ConsentRecord, ConsentStore};
pub use device_codes::{
    polled_too_soon, DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll,
};
pub use keys::{KeyStore, SigningKeyRecord};
pub use memory::MemoryStore;
pub use registry::ClientRegistry;
pub use replay::{replay_key, ReplayCache};
pub use sessions::{SessionRecord, SessionStore};

use std::sync::Arc;

pub use crate::client::ClientStore;
use crate::error::StorageError;
use crate::pkce::CodeChallenge;
use crate::scope::Scope;
use crate::token::{SecretHash, Selector, TokenKey};

/// The resource owner a grant acts for: the user who approved, or whose password was
/// checked, and — when the application knows it — how they authenticated (what OpenID
/// Connect reports as `auth_time`, `acr`, `amr` and the session id `sid`).
///
/// ```
/// use authgate::ResourceOwner;
/// let owner = ResourceOwner::new("user-1", "alice")
///     .authenticated_at(1_700_000_000)
///     .amr(["pwd"])
///     .session_id("s-42");
/// assert_eq!(owner.auth_time, Some(1_700_000_000));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceOwner {
    /// A stable, unique identifier (`sub`).
    pub subject: String,
    /// The login name (`username` in introspection).
    pub username: Option<String>,
    /// When the owner last authenticated, seconds since the epoch.
    pub auth_time: Option<i64>,
    /// The authentication context class reference satisfied.
    pub acr: Option<String>,
    /// The authentication methods used (RFC 8176 values, e.g. `pwd`, `otp`).
    pub amr: Vec<String>,
    /// The login session, for logout.
    pub session_id: Option<String>,
}

impl ResourceOwner {
    /// An owner with a subject and a username.
    pub fn new(subject: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            username: Some(username.into()),
            ..Self::subject(subject)
        }
    }

    /// An owner known by subject alone.
    pub fn subject(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            username: None,
            auth_time: None,
            acr: None,
            amr: Vec::new(),
            session_id: None,
        }
    }

    /// Sets when the owner authenticated.
    #[must_use]
    pub fn authenticated_at(mut self, auth_time: i64) -> Self {
        self.auth_time = Some(auth_time);
        self
    }

    /// Sets the authentication context class reference.
    #[must_use]
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// Sets the authentication methods.
    #[must_use]
    pub fn amr<I: IntoIterator<Item = S>, S: Into<String>>(mut self, amr: I) -> Self {
        self.amr = amr.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the login session id.
    #[must_use]
    pub fn session_id(mut self, sid: impl Into<String>) -> Self {
        self.session_id = Some(sid.into());
        self
    }
}

/// What an authorization carries beyond the core columns of a code or token, kept with
/// it so that it flows from a code to its tokens and on through refreshes: the audience
/// (resource indicators), how the owner authenticated, the OpenID Connect `claims`
/// request, a confirmation key (`cnf`, for sender-constrained tokens) and extension
/// claims.
///
/// Stores keep it as one serialised value (JSON in the SQL backends), so a later feature
/// adds a field here, not a column to every backend.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GrantDetails {
    /// The resources the token is for (RFC 8707); empty: the server's default audience.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// When the owner authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The authentication context class reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The authentication methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The login session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The OpenID Connect `claims` request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_request: Option<serde_json::Value>,
    /// The confirmation key (`cnf`) of a sender-constrained token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<serde_json::Value>,
    /// Extension claims, issued as they are.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl GrantDetails {
    /// Details with nothing set, shared.
    pub fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<GrantDetails> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Self::default)
    }

    /// Whether nothing is set (stores keep no value then).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The authentication facts of an owner.
    pub fn of_owner(owner: &ResourceOwner) -> Self {
        Self {
            auth_time: owner.auth_time,
            acr: owner.acr.clone(),
            amr: owner.amr.clone(),
            session_id: owner.session_id.clone(),
            ..Self::default()
        }
    }

    /// The serialised form stores keep; `None` when empty.
    pub fn to_json(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        serde_json::to_string(self).ok()
    }

    /// Reads the serialised form; a missing or unreadable value reads as empty (it was
    /// written by [`Self::to_json`], so unreadable means a newer writer's field this
    /// version ignores).
    pub fn from_json(s: Option<&str>) -> Self {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
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
    /// A device code (RFC 8628; generated, never stored as a token).
    DeviceCode,
}

impl TokenKind {
    /// `"access_token"` or `"refresh_token"` (the RFC 7009 hint values).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
            Self::AuthorizationCode => "authorization_code",
            Self::DeviceCode => "device_code",
        }
    }
}

/// An issued access or refresh token, as stored.
#[non_exhaustive]
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
    /// A refresh token replaced by rotation; presenting it again is reuse (or, within the
    /// grace window, a replay answered with the same successors).
    pub rotated: bool,
    /// For a rotated refresh token under a grace window: its successors, sealed under a key
    /// only the rotated token's value yields (opaque to the store). `None` otherwise.
    pub sealed_successors: Option<Vec<u8>>,
    /// Audience, authentication facts, confirmation key, extension claims; `None` when
    /// there are none (most client tokens). Shared, since an access token and its refresh
    /// token carry the same; read it with [`Self::details`].
    pub details: Option<Arc<GrantDetails>>,
}

impl TokenRecord {
    /// A live token of `kind` for `client_id`, founding its own family, with no owner, an
    /// empty scope and no details; set the other fields as needed.
    pub fn new(
        key: TokenKey,
        kind: TokenKind,
        client_id: impl Into<String>,
        grant_type: impl Into<String>,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            selector: key.selector,
            verifier_hash: key.verifier_hash,
            kind,
            client_id: client_id.into(),
            subject: None,
            username: None,
            scope: Scope::empty(),
            grant_type: grant_type.into(),
            issued_at,
            expires_at,
            family: key.selector,
            revoked: false,
            rotated: false,
            sealed_successors: None,
            details: None,
        }
    }

    /// The grant details (empty when the token has none).
    pub fn details(&self) -> &GrantDetails {
        self.details
            .as_deref()
            .unwrap_or_else(|| GrantDetails::empty())
    }

    /// Sets the grant details (kept as `None` when empty).
    pub fn set_details(&mut self, details: GrantDetails) {
        self.details = (!details.is_empty()).then(|| Arc::new(details));
    }

    /// Whether the token is neither revoked, rotated out nor expired at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        !self.revoked && !self.rotated && now < self.expires_at
    }
}

/// An issued authorization code, as stored.
#[non_exhaustive]
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
    /// Audience, authentication facts, `claims` request: what the tokens issued from the
    /// code carry on.
    pub details: GrantDetails,
}

impl AuthorizationCodeRecord {
    /// An unused code for `client_id` and `subject`, sent to `redirect_uri`; set the other
    /// fields as needed.
    pub fn new(
        key: TokenKey,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        subject: impl Into<String>,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            selector: key.selector,
            verifier_hash: key.verifier_hash,
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            redirect_uri_sent: false,
            scope: Scope::empty(),
            subject: subject.into(),
            username: None,
            code_challenge: None,
            nonce: None,
            issued_at,
            expires_at,
            used: false,
            details: GrantDetails::default(),
        }
    }

    /// The resource owner the code was issued for, with the authentication facts kept.
    pub fn owner(&self) -> ResourceOwner {
        ResourceOwner {
            subject: self.subject.clone(),
            username: self.username.clone(),
            auth_time: self.details.auth_time,
            acr: self.details.acr.clone(),
            amr: self.details.amr.clone(),
            session_id: self.details.session_id.clone(),
        }
    }
}

/// The stores a server works with: clients, codes and tokens, which every server needs,
/// and the capabilities some endpoints and grants add (attached with `with_*`; an endpoint
/// that needs a missing one is refused at registration, not at its first request).
///
/// ```
/// use std::sync::Arc;
/// use authgate::{MemoryStore, Stores};
/// let store = Arc::new(MemoryStore::new());
/// let stores = Stores::new(store.clone(), store.clone(), store);
/// // or, for one value holding them all:
/// let stores = Stores::from(MemoryStore::new());
/// // with signing keys too:
/// let store = Arc::new(MemoryStore::new());
/// let stores = Stores::from_store(store.clone()).with_keys(store);
/// ```
#[derive(Clone)]
pub struct Stores {
    /// Client lookups.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeStore>,
    /// Access and refresh tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Signing keys, for endpoints and grants that sign (the JWKS endpoint, ID tokens,
    /// JWT access tokens).
    pub keys: Option<Arc<dyn KeyStore>>,
    /// Remembered consent (OpenID Connect: skipping the consent page, `prompt=none`).
    pub consents: Option<Arc<dyn ConsentStore>>,
    /// Login sessions kept on the server (logout, back-channel logout).
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// Pending device authorizations (RFC 8628).
    pub device_codes: Option<Arc<dyn DeviceCodeStore>>,
    /// Client creation and removal, for dynamic registration (RFC 7591, RFC 7592).
    pub client_registry: Option<Arc<dyn ClientRegistry>>,
    /// One-time values (client assertions' `jti`), for JWT client authentication.
    pub replay: Option<Arc<dyn ReplayCache>>,
}

impl Stores {
    /// Clients, codes and tokens from separate stores.
    pub fn new(
        clients: Arc<dyn ClientStore>,
        codes: Arc<dyn AuthorizationCodeStore>,
        tokens: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            clients,
            codes,
            tokens,
            keys: None,
            consents: None,
            sessions: None,
            device_codes: None,
            client_registry: None,
            replay: None,
        }
    }

    /// Adds the client registry (dynamic registration, RFC 7591 and RFC 7592).
    #[must_use]
    pub fn with_client_registry(mut self, registry: Arc<dyn ClientRegistry>) -> Self {
        self.client_registry = Some(registry);
        self
    }

    /// Adds the replay cache (single-use client assertions, RFC 7523 §3).
    #[must_use]
    pub fn with_replay_cache(mut self, replay: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(replay);
        self
    }

    /// Adds the device authorization store (RFC 8628).
    #[must_use]
    pub fn with_device_codes(mut self, device_codes: Arc<dyn DeviceCodeStore>) -> Self {
        self.device_codes = Some(device_codes);
        self
    }

    /// Adds the remembered-consent store.
    #[must_use]
    pub fn with_consents(mut self, consents: Arc<dyn ConsentStore>) -> Self {
        self.consents = Some(consents);
        self
    }

    /// Adds the session store.
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Adds the signing key store.
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Clients, codes and tokens all from one shared store.
    pub fn from_store<S>(store: Arc<S>) -> Self
    where
        S: ClientStore + AuthorizationCodeStore + TokenStore + 'static,
    {
        Self::new(store.clone(), store.clone(), store)
    }
}

impl<S> From<S> for Stores
where
    S: ClientStore + AuthorizationCodeStore + TokenStore + 'static,
{
    fn from(store: S) -> Self {
        Self::from_store(Arc::new(store))
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
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

    /// Atomically marks a refresh token that is neither revoked nor rotated as rotated,
    /// keeps `sealed_successors` on it (returned as [`TokenRecord::sealed_successors`] by
    /// [`Self::find_token`]), and saves its replacements. Answers true for exactly one of
    /// any number of concurrent calls for the same token; false (and nothing saved) when it
    /// was already rotated or revoked.
    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>,
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
