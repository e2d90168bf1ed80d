//! [`ServerContext`]: what grants and endpoints share — config, stores, clock, randomness,
//! generators — and token issuance.

use std::fmt;
use std::sync::Arc;

use http::{header, HeaderValue};
use serde_json::Map;

use crate::client::Client;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::context::{IssueContext, IssuedTokens};
use crate::error::OAuth2Error;
use crate::generator::{ExpiresIn, NewToken, TokenGenerator};
use crate::resource_indicators::AccessTokenFormat;
use crate::response::{quote, OAuth2Response};
use crate::rng::Rng;
use crate::scope::Scope;
use crate::storage::{
    AuthorizationCodeStore, ClientRegistry, ClientStore, ConsentStore, DeviceCodeStore, KeyStore,
    ReplayCache, SessionStore, TokenKind, TokenRecord, TokenStore,
};

/// The server's shared parts, handed to every grant and endpoint.
pub struct ServerContext {
    /// The configuration.
    pub config: ServerConfig,
    /// Client lookups.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeStore>,
    /// Access and refresh tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The random number generator.
    pub rng: Arc<dyn Rng>,
    /// The token generator.
    pub generator: Arc<dyn TokenGenerator>,
    /// The access token lifetime policy.
    pub expires_in: Arc<dyn ExpiresIn>,
    /// The signing key store, when the stores have one.
    pub key_store: Option<Arc<dyn KeyStore>>,
    /// Remembered consent, when the stores keep it.
    pub consents: Option<Arc<dyn ConsentStore>>,
    /// Login sessions, when the stores keep them.
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// Pending device authorizations, when the stores keep them (RFC 8628).
    pub device_codes: Option<Arc<dyn DeviceCodeStore>>,
    /// Client creation and removal, when the stores allow it (dynamic registration).
    pub client_registry: Option<Arc<dyn ClientRegistry>>,
    /// One-time values, when the stores keep them (JWT client authentication).
    pub replay: Option<Arc<dyn ReplayCache>>,
    /// The grant and response types the server serves, kept up to date as grants are
    /// registered (what dynamic registration lets clients ask for).
    pub supported: SupportedTypes,
    /// The signing keys, when the server signs (see
    /// [`crate::AuthorizationServer::with_signing_keys`]).
    #[cfg(feature = "jose")]
    pub keys: Option<Arc<crate::jose::KeySet>>,
    /// What features add to the server, one value per type: OpenID Connect's provider
    /// (see [`crate::AuthorizationServer::enable_openid`] and `oidc::provider`), say. A
    /// feature keeps its own configuration here, so the context need not know it.
    pub extensions: http::Extensions,
}

/// The grant types and response types a server serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportedTypes {
    /// Every grant type, sorted.
    pub grant_types: Vec<String>,
    /// Every response type, sorted.
    pub response_types: Vec<String>,
}

impl fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ServerContext {
    /// The current time in seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Creates tokens without saving them (for rotation, which saves atomically with the
    /// retirement of the old refresh token). The access token takes the format its
    /// audience asks for (a signed JWT, RFC 9068, or opaque; see
    /// [`crate::jwt_access_token`]).
    ///
    /// # Errors
    /// A JWT access token could not be signed (no signing keys, a store failure), or is
    /// asked for without the `jose` feature.
    pub async fn build_tokens(
        &self,
        issue: &IssueContext<'_>,
    ) -> Result<IssuedTokens, OAuth2Error> {
        let now_ms = self.clock.now_millis();
        let now = now_ms.div_euclid(1000);
        // A hook's lifetime first, then the shortest of the audience's resources, then
        // the policy.
        let expires_in = issue
            .expires_in
            .or_else(|| self.config.resources.lifetime_for(&issue.audience))
            .unwrap_or_else(|| self.expires_in.expires_in(issue));
        let expiry = |ttl: u64| now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        let new_token = |kind, expires_at| {
            self.generator.generate(
                &NewToken::new(
                    kind,
                    now_ms,
                    expires_at,
                    &self.config.issuer,
                    self.rng.as_ref(),
                )
                .context(issue),
            )
        };
        #[cfg_attr(not(feature = "jose"), allow(unused_mut))] // only a JWT changes it
        let mut access = new_token(TokenKind::Access, expiry(expires_in));
        let format = self
            .config
            .resources
            .format_for(&issue.audience, self.config.access_token_format);
        if format == AccessTokenFormat::Jwt {
            // The JWT is filed under its `jti` (the selector), its whole value hashed.
            #[cfg(feature = "jose")]
            {
                let subject = match (
                    issue.owner,
                    self.extensions
                        .get::<crate::jwt_access_token::SubjectMapping>(),
                ) {
                    (Some(o), Some(map)) => Some((map.0)(issue.client, &o.subject)?),
                    (Some(o), None) => Some(o.subject.clone()),
                    (None, _) => None,
                };
                let claims = crate::jwt_access_token::claims(
                    &self.config,
                    issue,
                    subject.as_deref(),
                    &access.key.selector,
                    now,
                    expiry(expires_in),
                );
                access.value = crate::jwt_access_token::sign(
                    self.keys.as_deref(),
                    self.extensions
                        .get::<crate::jwt_access_token::AccessTokenAlgorithm>()
                        .copied(),
                    &claims,
                )
                .await?;
                access.key.verifier_hash = crate::token::SecretHash::of(access.value.as_bytes());
            }
            #[cfg(not(feature = "jose"))]
            return Err(OAuth2Error::with_description(
                crate::error::ErrorCode::ServerError,
                "JWT access tokens need authgate's `jose` feature",
            ));
        }
        let family = issue.family.unwrap_or(access.key.selector);
        // The refresh token keeps the grant's details (its resources the ceiling of later
        // requests) and scope; the access token carries its own audience and scope.
        let details = issue.details.clone().filter(|d| !d.is_empty());
        let access_details = if issue.audience == issue.details().audience {
            details.clone()
        } else {
            let mut d = issue.details().clone();
            d.audience.clone_from(&issue.audience);
            (!d.is_empty()).then(|| std::sync::Arc::new(d))
        };
        let record = |kind, key, expires_at, details: &Option<std::sync::Arc<_>>| {
            let mut r = TokenRecord::new(
                key,
                kind,
                issue.client.client_id(),
                issue.grant_type,
                now,
                expires_at,
            );
            r.subject = issue.owner.map(|o| o.subject.clone());
            r.username = issue.owner.and_then(|o| o.username.clone());
            r.scope = if kind == TokenKind::Refresh {
                issue.grant_scope.as_ref().unwrap_or(&issue.scope).clone()
            } else {
                issue.scope.clone()
            };
            r.family = family;
            r.details.clone_from(details);
            r
        };
        let mut records = Vec::with_capacity(2);
        records.push(record(
            TokenKind::Access,
            access.key,
            expiry(expires_in),
            &access_details,
        ));
        let refresh_token = issue.refresh_token.then(|| {
            let expires_at = expiry(self.config.refresh_token_ttl);
            let r = new_token(TokenKind::Refresh, expires_at);
            records.push(record(TokenKind::Refresh, r.key, expires_at, &details));
            r.value
        });
        Ok(IssuedTokens {
            access_token: access.value,
            token_type: "Bearer".to_owned(),
            expires_in,
            refresh_token,
            scope: issue.scope.clone(),
            id_token: None,
            extra: Map::new(),
            records,
        })
    }

    /// Creates the tokens and saves them.
    ///
    /// # Errors
    /// A storage failure (503 when the store is unavailable).
    pub async fn issue_tokens(
        &self,
        issue: &IssueContext<'_>,
    ) -> Result<IssuedTokens, OAuth2Error> {
        let issued = self.build_tokens(issue).await?;
        self.tokens.save_tokens(&issued.records).await?;
        Ok(issued)
    }

    /// Resolves a requested scope against the client's: the client's whole scope when none
    /// is asked (its default), otherwise the request, which must be within the client's.
    ///
    /// # Errors
    /// `invalid_scope` for a malformed scope or one beyond the client's (RFC 6749 §3.3).
    pub fn resolve_scope(
        &self,
        client: &dyn Client,
        requested: Option<&str>,
    ) -> Result<Scope, OAuth2Error> {
        let Some(requested) = requested else {
            return Ok(client.scope().clone());
        };
        let scope = Scope::parse(requested)?;
        if scope.is_empty() {
            return Ok(client.scope().clone());
        }
        if !scope.is_subset_of(client.scope()) {
            return Err(OAuth2Error::invalid_scope(
                "the requested scope exceeds what the client may ask for",
            ));
        }
        Ok(scope)
    }

    /// Whether a client gets refresh tokens: the config turns them on and the client may use
    /// the `refresh_token` grant.
    pub fn issues_refresh_token(&self, client: &dyn Client) -> bool {
        self.config.refresh_tokens && client.allows_grant_type("refresh_token")
    }

    /// A refusal: logs it (the [`crate::trace`] event, with the error's internal reason)
    /// and answers it as [`Self::error_response`] does. Endpoints answer their errors
    /// through it; `endpoint` names the endpoint in the log.
    pub fn refuse(
        &self,
        endpoint: &'static str,
        req: &crate::request::OAuth2Request,
        err: OAuth2Error,
    ) -> OAuth2Response {
        crate::trace::refused(endpoint, req, &err);
        self.error_response(err)
    }

    /// A JSON error answer (RFC 6749 §5.2), with this server's realm in any
    /// `WWW-Authenticate: Basic`. Unlike [`Self::refuse`], it logs nothing.
    pub fn error_response(&self, err: OAuth2Error) -> OAuth2Response {
        let basic = err.has_basic_challenge();
        let mut res = OAuth2Response::from(err);
        if basic {
            let realm = quote(&self.config.realm);
            if let Ok(v) = HeaderValue::from_str(&format!("Basic realm={realm}, charset=\"UTF-8\""))
            {
                res.headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        res
    }
}
