//! Clients (RFC 6749 §2) and how they authenticate (§2.3).
//!
//! [`Client`] is what the engine needs to know of a registered client; [`ClientRecord`]
//! is a ready-made one. [`authentication`] checks the credentials a request presents.

pub mod authentication;
pub mod metadata_document;

pub use authentication::{authenticate_client, presented_client_id};

/// The member of a registered client's metadata that holds its dynamic registration
/// bookkeeping (RFC 7591: the registration access token's hash, when it was issued); its
/// presence marks a self-registered client.
pub const REGISTRATION_KEY: &str = "registration";

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::StorageError;
use crate::scope::Scope;
use crate::token::SecretHash;

/// How a client authenticates at the token, revocation and introspection endpoints
/// (the RFC 7591 `token_endpoint_auth_method` values).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// No authentication: a public client names itself with `client_id`.
    None,
    /// A JWT signed with the client's private key (RFC 7523 §2.2; OpenID Connect Core
    /// §9): see [`crate::client_assertion`].
    PrivateKeyJwt,
    /// A JWT signed with HMAC keyed by the client's secret (RFC 7523 §2.2; OpenID Connect
    /// Core §9). The server must be able to use the secret as a key, so it keeps it sealed
    /// rather than hashed: see [`Client::sealed_secret`] and [`crate::client_assertion`].
    ClientSecretJwt,
}

impl ClientAuthMethod {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
        }
    }

    /// Parses a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "none" => Some(Self::None),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "client_secret_jwt" => Some(Self::ClientSecretJwt),
            _ => None,
        }
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered client, as the engine needs to see it. Implement it on your own client
/// type, or use [`ClientRecord`].
pub trait Client: Send + Sync + fmt::Debug {
    /// The client identifier.
    fn client_id(&self) -> &str;

    /// Checks a presented secret, in constant time. Public clients answer false.
    fn check_secret(&self, secret: &str) -> bool;

    /// The argon2id hash (a PHC string) of a secret a person chose, for a client whose
    /// secret is kept that way instead of the fast hash [`Self::check_secret`] compares.
    /// The engine checks a presented secret against it off the async workers and
    /// remembers, in memory only, the last secret that matched, so the slow hash is paid
    /// once per process rather than per request (see
    /// [`crate::password::verify_remembered`]). The default is none.
    fn chosen_secret_hash(&self) -> Option<&str> {
        None
    }

    /// The secret of a `client_secret_jwt` client, sealed (AES-256-GCM) under the
    /// server's [`KeyEncryptionKey`](crate::jose::KeyEncryptionKey) and bound to the
    /// client id, as [`crate::client_assertion::seal_client_secret`] makes it. HMAC needs
    /// the secret itself, so it cannot be kept as a hash; sealed, a copy of the store alone
    /// gives it away no more than a hash would. The default is none.
    fn sealed_secret(&self) -> Option<&[u8]> {
        None
    }

    /// The registered redirect URIs.
    fn redirect_uris(&self) -> &[String];

    /// The redirect URI used when a request names none: the only registered one, if there is
    /// exactly one (RFC 6749 §3.1.2.3).
    fn default_redirect_uri(&self) -> Option<&str> {
        match self.redirect_uris() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// The grant types the client may use.
    fn grant_types(&self) -> &[String];

    /// The response types the client may use at the authorization endpoint.
    fn response_types(&self) -> &[String];

    /// The most the client may ask for; also its default when a request names no scope.
    fn scope(&self) -> &Scope;

    /// How the client authenticates.
    fn token_endpoint_auth_method(&self) -> ClientAuthMethod;

    /// Whether the client is public (RFC 6749 §2.1): it holds no secret.
    fn is_public(&self) -> bool {
        self.token_endpoint_auth_method() == ClientAuthMethod::None
    }

    /// A name to show on consent pages.
    fn client_name(&self) -> Option<&str> {
        None
    }

    /// Further registered metadata (RFC 7591 §2 names), when the client keeps any.
    fn metadata(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        None
    }

    /// A string member of the further metadata.
    fn metadata_str(&self, name: &str) -> Option<&str> {
        self.metadata()?.get(name)?.as_str()
    }

    /// A boolean member of the further metadata (absent: false).
    fn metadata_bool(&self, name: &str) -> bool {
        self.metadata()
            .and_then(|m| m.get(name))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }

    /// `id_token_signed_response_alg` (OpenID Connect Registration §2); absent: RS256.
    fn id_token_signed_response_alg(&self) -> Option<&str> {
        self.metadata_str("id_token_signed_response_alg")
    }

    /// `userinfo_signed_response_alg`: when set, UserInfo answers a signed JWT.
    fn userinfo_signed_response_alg(&self) -> Option<&str> {
        self.metadata_str("userinfo_signed_response_alg")
    }

    /// `subject_type`: `public` (absent) or `pairwise` (OpenID Connect Core §8).
    fn subject_type(&self) -> Option<&str> {
        self.metadata_str("subject_type")
    }

    /// `sector_identifier_uri`: whose host is the pairwise sector.
    fn sector_identifier_uri(&self) -> Option<&str> {
        self.metadata_str("sector_identifier_uri")
    }

    /// `post_logout_redirect_uris` (OpenID Connect RP-Initiated Logout §3.1).
    fn post_logout_redirect_uris(&self) -> Vec<&str> {
        self.metadata()
            .and_then(|m| m.get("post_logout_redirect_uris"))
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `backchannel_logout_uri` (OpenID Connect Back-Channel Logout §2.2).
    fn backchannel_logout_uri(&self) -> Option<&str> {
        self.metadata_str("backchannel_logout_uri")
    }

    /// `backchannel_logout_session_required`: the logout token must carry `sid`.
    fn backchannel_logout_session_required(&self) -> bool {
        self.metadata_bool("backchannel_logout_session_required")
    }

    /// `default_max_age`: the `max_age` of requests that send none.
    fn default_max_age(&self) -> Option<u64> {
        self.metadata()?.get("default_max_age")?.as_u64()
    }

    /// `require_auth_time`: every ID token carries `auth_time` (authgate's always do when
    /// the application says when the user authenticated).
    fn require_auth_time(&self) -> bool {
        self.metadata_bool("require_auth_time")
    }

    /// `skip_consent`: a first-party client whose requests need no consent page.
    fn skip_consent(&self) -> bool {
        self.metadata_bool("skip_consent")
    }

    /// Whether the client registered itself (RFC 7591) or was taken from its metadata
    /// document: its name and URIs are only what it claims (RFC 9700 §4.15), its redirect
    /// URIs are not vouched for by the operator (§4.11.2), and it gets a pairwise sector
    /// of its own.
    fn is_self_registered(&self) -> bool {
        self.metadata().is_some_and(|m| {
            m.contains_key(REGISTRATION_KEY)
                || m.contains_key(metadata_document::DOCUMENT_CLIENT_KEY)
        })
    }

    /// Whether the client may use `grant_type`.
    fn allows_grant_type(&self, grant_type: &str) -> bool {
        self.grant_types().iter().any(|g| g == grant_type)
    }

    /// Whether the client may use `response_type`, compared as a set of values
    /// (`code id_token` is `id_token code`).
    fn allows_response_type(&self, response_type: &str) -> bool {
        let wanted = value_set(response_type);
        self.response_types().iter().any(|r| value_set(r) == wanted)
    }
}

/// Looks up clients: the storage capability every server needs (re-exported as
/// [`crate::storage::ClientStore`]).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// The client with this id, or `None`.
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError>;
}

/// A client held as data: what the in-memory store keeps, and what SQL stores load.
///
/// The secret is kept only as its SHA-256 hash (secrets are generated with 256 bits of
/// entropy, so a fast hash is safe and keeps the token endpoint fast).
///
/// ```
/// use authgate::{ClientRecord, Client, ClientAuthMethod};
/// let c = ClientRecord::confidential("svc", "s3cret")
///     .grant_types(["client_credentials"])
///     .scope("read write");
/// assert!(c.check_secret("s3cret"));
/// assert!(!c.check_secret("S3cret"));
/// assert_eq!(c.token_endpoint_auth_method(), ClientAuthMethod::ClientSecretBasic);
/// ```
#[non_exhaustive]
#[derive(Clone)]
pub struct ClientRecord {
    /// The client identifier.
    pub client_id: String,
    /// SHA-256 of the secret, for a generated (≥ 256-bit random) secret; `None` for public
    /// clients and for secrets a person chose.
    pub secret_hash: Option<SecretHash>,
    /// The argon2id hash (PHC string) of a secret a person chose (a config file's, say),
    /// which a store dump must not give away at SHA-256 speed; see
    /// [`Client::chosen_secret_hash`].
    pub chosen_secret_hash: Option<String>,
    /// The sealed secret of a `client_secret_jwt` client; see [`Client::sealed_secret`].
    pub sealed_secret: Option<Vec<u8>>,
    /// A display name.
    pub client_name: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Allowed response types.
    pub response_types: Vec<String>,
    /// The allowed scope.
    pub scope: Scope,
    /// How it authenticates.
    pub auth_method: ClientAuthMethod,
    /// Further registered metadata (RFC 7591 §2 names: `client_uri`, `logo_uri`,
    /// `contacts`, `jwks`, ...), kept as JSON.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ClientRecord {
    /// A confidential client authenticating with `client_secret_basic`.
    pub fn confidential(client_id: impl Into<String>, secret: &str) -> Self {
        Self::with_secret_hash(client_id, SecretHash::of(secret.as_bytes()))
    }

    /// A confidential client authenticating with `client_secret_basic` whose secret a
    /// person chose: kept as an argon2id hash (tens of milliseconds to compute, on the
    /// calling thread), never as a fast hash. Use [`Self::confidential`] for generated
    /// secrets.
    ///
    /// ```
    /// use authgate::{Client, ClientRecord};
    /// let c = ClientRecord::with_chosen_secret("web", "correct horse battery").unwrap();
    /// assert!(c.chosen_secret_hash().unwrap().starts_with("$argon2id$"));
    /// assert!(c.secret_hash.is_none());
    /// ```
    ///
    /// # Errors
    /// argon2 refused the input (a secret over its 4 GiB limit).
    #[cfg(feature = "password")]
    pub fn with_chosen_secret(
        client_id: impl Into<String>,
        secret: &str,
    ) -> Result<Self, crate::error::StorageError> {
        let hash = crate::password::hash_blocking(secret, &crate::rng::OsRng)?;
        Ok(Self::with_chosen_secret_hash(client_id, hash))
    }

    /// A confidential client whose chosen secret is known only by its argon2id hash (as
    /// stores load it).
    pub fn with_chosen_secret_hash(client_id: impl Into<String>, hash: String) -> Self {
        Self {
            secret_hash: None,
            chosen_secret_hash: Some(hash),
            ..Self::confidential(client_id, "")
        }
    }

    /// A confidential client whose secret is known only by its hash (as stores load it).
    pub fn with_secret_hash(client_id: impl Into<String>, secret_hash: SecretHash) -> Self {
        Self {
            client_id: client_id.into(),
            secret_hash: Some(secret_hash),
            chosen_secret_hash: None,
            sealed_secret: None,
            client_name: None,
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            response_types: Vec::new(),
            scope: Scope::empty(),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            metadata: serde_json::Map::new(),
        }
    }

    /// A `client_secret_jwt` client whose secret is known only sealed (as
    /// [`crate::client_assertion::seal_client_secret`] makes it, and as stores load it).
    /// It has no hash to compare a presented secret with, so it can never authenticate
    /// with `client_secret_basic` or `client_secret_post`.
    pub fn with_sealed_secret(client_id: impl Into<String>, sealed: Vec<u8>) -> Self {
        Self {
            secret_hash: None,
            sealed_secret: Some(sealed),
            auth_method: ClientAuthMethod::ClientSecretJwt,
            ..Self::confidential(client_id, "")
        }
    }

    /// A public client (`token_endpoint_auth_method = none`): a browser app or a native
    /// app, which cannot keep a secret. It names itself with `client_id` alone, so the
    /// code flow requires PKCE of it.
    ///
    /// ```
    /// use authgate::{Client, ClientAuthMethod, ClientRecord};
    /// let spa = ClientRecord::public("spa")
    ///     .redirect_uris(["https://app.example.com/callback"])
    ///     .grant_types(["authorization_code", "refresh_token"])
    ///     .response_types(["code"])
    ///     .scope("openid profile");
    /// assert!(spa.is_public());
    /// assert_eq!(spa.token_endpoint_auth_method(), ClientAuthMethod::None);
    /// assert!(!spa.check_secret(""), "no secret ever matches");
    /// ```
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            secret_hash: None,
            auth_method: ClientAuthMethod::None,
            ..Self::confidential(client_id, "")
        }
    }

    /// Sets the redirect URIs.
    #[must_use]
    pub fn redirect_uris<I: IntoIterator<Item = S>, S: Into<String>>(mut self, uris: I) -> Self {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the grant types.
    #[must_use]
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, g: I) -> Self {
        self.grant_types = g.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the response types.
    #[must_use]
    pub fn response_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, r: I) -> Self {
        self.response_types = r.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the allowed scope from a space-delimited string; invalid tokens are dropped.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.split(' ').collect();
        self
    }

    /// Sets the authentication method.
    #[must_use]
    pub fn auth_method(mut self, m: ClientAuthMethod) -> Self {
        self.auth_method = m;
        self
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Sets a further metadata member (`id_token_signed_response_alg`,
    /// `post_logout_redirect_uris`, ...).
    #[must_use]
    pub fn with_metadata(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(name.to_owned(), value.into());
        self
    }
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("client_id", &self.client_id)
            .field("auth_method", &self.auth_method)
            .field("grant_types", &self.grant_types)
            .finish_non_exhaustive()
    }
}

impl Client for ClientRecord {
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn check_secret(&self, secret: &str) -> bool {
        // An empty secret never authenticates, whatever was stored (SECURITY.md 21).
        !secret.is_empty()
            && self
                .secret_hash
                .is_some_and(|h| h.ct_eq(&SecretHash::of(secret.as_bytes())))
    }
    fn chosen_secret_hash(&self) -> Option<&str> {
        self.chosen_secret_hash.as_deref()
    }
    fn sealed_secret(&self) -> Option<&[u8]> {
        self.sealed_secret.as_deref()
    }
    fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }
    fn grant_types(&self) -> &[String] {
        &self.grant_types
    }
    fn response_types(&self) -> &[String] {
        &self.response_types
    }
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn token_endpoint_auth_method(&self) -> ClientAuthMethod {
        self.auth_method
    }
    fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }
    fn metadata(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        Some(&self.metadata)
    }
}

/// The space-delimited values of a string, sorted and without duplicates.
fn value_set(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    v
}
