//! [`OpenIdProvider`]: the provider's configuration, and [`ClaimsSource`], where user
//! claims come from. Nothing here needs the server's context: the server's context holds
//! the provider (see `tokens.rs` for what it issues).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::claims::standard_claims;
use super::subject::subject_for;
use crate::client::Client;
use crate::error::{ErrorCode, OAuth2Error, StorageError};
use crate::jose::Algorithm;

/// Where user claims come from: the application's user store. Answers the claims of a
/// user (by local subject) among the standard claim names asked for (OpenID Connect Core
/// §5.1); a claim the user has no value for is left out.
///
/// ```
/// use authgate::{async_trait, StorageError};
/// use authgate::oidc::ClaimsSource;
/// use serde_json::{json, Map, Value};
/// struct Users;
/// #[async_trait]
/// impl ClaimsSource for Users {
///     async fn claims(&self, subject: &str, names: &[&str]) -> Result<Map<String, Value>, StorageError> {
///         let all = json!({ "name": "Alice Liddell", "email": "alice@example.com", "email_verified": true });
///         Ok(all.as_object().unwrap().iter()
///             .filter(|(k, _)| names.contains(&k.as_str()))
///             .map(|(k, v)| (k.clone(), v.clone()))
///             .collect())
///     }
/// }
/// ```
#[async_trait]
pub trait ClaimsSource: Send + Sync + 'static {
    /// The user's values for `names`.
    async fn claims(
        &self,
        subject: &str,
        names: &[&str],
    ) -> Result<Map<String, Value>, StorageError>;
}

/// The OpenID Provider's configuration.
///
/// ```
/// # use authgate::oidc::{ClaimsSource, OpenIdProvider};
/// # struct Users;
/// # #[authgate::async_trait]
/// # impl ClaimsSource for Users {
/// #     async fn claims(&self, _: &str, _: &[&str]) -> Result<serde_json::Map<String, serde_json::Value>, authgate::StorageError> { Ok(Default::default()) }
/// # }
/// let provider = OpenIdProvider::new(Users)
///     .id_token_ttl(600)
///     .pairwise_secret(vec![42; 32]);
/// ```
pub struct OpenIdProvider {
    pub(super) claims: Arc<dyn ClaimsSource>,
    pub(super) id_token_ttl: u64,
    pairwise_secret: Option<Vec<u8>>,
    pub(super) acr_values: Vec<String>,
    pub(super) claims_supported: Vec<String>,
    pub(super) logout: bool,
}

impl OpenIdProvider {
    /// A provider answering user claims from `claims`: ID tokens live an hour; subjects
    /// are public (pairwise ones need [`Self::pairwise_secret`]).
    pub fn new(claims: impl ClaimsSource) -> Self {
        Self {
            claims: Arc::new(claims),
            id_token_ttl: 3600,
            pairwise_secret: None,
            acr_values: Vec::new(),
            claims_supported: standard_claims().into_iter().map(str::to_owned).collect(),
            logout: false,
        }
    }

    /// Advertises the application's end-session page (`end_session_endpoint`, at
    /// [`crate::config::EndpointPaths::end_session`]; RP-Initiated Logout 1.0) and, when the stores
    /// keep sessions, back-channel logout with `sid` (`backchannel_logout_supported`,
    /// `backchannel_logout_session_supported`; Back-Channel Logout 1.0). The application
    /// serves the page (see [`crate::EndSessionRequest`]) and delivers the logout tokens
    /// [`crate::AuthorizationServer::end_session`] answers.
    #[must_use]
    pub fn logout(mut self, enabled: bool) -> Self {
        self.logout = enabled;
        self
    }

    /// Sets the ID token lifetime, in seconds (default 3600). It must be within the key
    /// set's retention ([`crate::jose::RotationPolicy::retain`]).
    #[must_use]
    pub fn id_token_ttl(mut self, secs: u64) -> Self {
        self.id_token_ttl = secs;
        self
    }

    /// Offers pairwise subjects, derived with this secret (keep it stable: changing it
    /// changes every pairwise `sub`).
    #[must_use]
    pub fn pairwise_secret(mut self, secret: Vec<u8>) -> Self {
        self.pairwise_secret = Some(secret);
        self
    }

    /// The authentication context classes the application can satisfy (advertised as
    /// `acr_values_supported`).
    #[must_use]
    pub fn acr_values_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        v: I,
    ) -> Self {
        self.acr_values = v.into_iter().map(Into::into).collect();
        self
    }

    /// The claims the [`ClaimsSource`] can answer (advertised as `claims_supported`;
    /// default: every standard claim).
    #[must_use]
    pub fn claims_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.claims_supported = v.into_iter().map(Into::into).collect();
        self
    }

    /// The ID token lifetime.
    pub fn id_token_lifetime(&self) -> u64 {
        self.id_token_ttl
    }

    /// Whether pairwise subjects are offered.
    pub fn supports_pairwise(&self) -> bool {
        self.pairwise_secret.is_some()
    }

    /// The `sub` `client` sees for a user's local subject.
    ///
    /// # Errors
    /// A pairwise client without a pairwise secret or sector.
    pub fn subject_for(&self, client: &dyn Client, local: &str) -> Result<String, OAuth2Error> {
        subject_for(client, local, self.pairwise_secret.as_deref())
    }

    /// The signing algorithm of `client`'s ID tokens (its `id_token_signed_response_alg`,
    /// RS256 when unset).
    ///
    /// # Errors
    /// An algorithm that is not a supported asymmetric one (`none` and HMAC never are).
    pub fn id_token_alg(client: &dyn Client) -> Result<Algorithm, OAuth2Error> {
        match client.id_token_signed_response_alg() {
            None => Ok(Algorithm::RS256),
            Some(a) => Algorithm::parse(a).ok_or_else(|| {
                OAuth2Error::with_description(
                    ErrorCode::ServerError,
                    "the client's id_token_signed_response_alg is not supported",
                )
            }),
        }
    }
}

impl fmt::Debug for OpenIdProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenIdProvider")
            .field("id_token_ttl", &self.id_token_ttl)
            .field("pairwise", &self.supports_pairwise())
            .finish_non_exhaustive()
    }
}
