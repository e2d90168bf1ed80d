//! [`AuthorizationServer`]: the registry of grants and endpoints, and the dispatcher that
//! hands each request to the endpoint module that answers it (see [`crate::endpoints`]).

use std::fmt;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::ServerConfig;
use crate::endpoints::authorization::AuthorizationError;
use crate::endpoints::{
    metadata, not_enabled, AuthorizationEndpoint, Endpoint, IntrospectionEndpoint,
    RevocationEndpoint, SetupError, TokenEndpoint,
};
use crate::error::{ErrorCode, OAuth2Error};
use crate::generator::{ConfigExpiresIn, ExpiresIn, OpaqueTokenGenerator, TokenGenerator};
use crate::grants::Grant;
use crate::metadata::Metadata;
use crate::params::AuthorizationRequest;
use crate::request::OAuth2Request;
use crate::response::{AuthorizationResponse, FormPostPage, OAuth2Response};
use crate::rng::{OsRng, Rng};
use crate::server_context::ServerContext;
use crate::storage::{ResourceOwner, Stores};

/// The OAuth 2.0 authorization server: the authorization and token endpoints with their
/// grants, and the endpoints registered beside them.
///
/// Build it first, register grants and endpoints, then hand it (in an `Arc`) to the web
/// layer — it knows nothing of the framework, so it can exist before the router does.
///
/// ```
/// use authgate::{AuthorizationServer, ClientCredentialsGrant, ClientRecord, MemoryStore, ServerConfig};
/// let store = MemoryStore::new();
/// store.add_client(ClientRecord::confidential("svc", "secret").grant_types(["client_credentials"]));
/// let mut server = AuthorizationServer::new(store, ServerConfig::new("https://auth.example.com"));
/// server.register_grant(ClientCredentialsGrant::new());
/// server.register_revoke_token_endpoint(authgate::RevocationEndpoint::new());
/// ```
pub struct AuthorizationServer {
    ctx: ServerContext,
    authorization: AuthorizationEndpoint,
    token: TokenEndpoint,
    endpoints: Vec<Arc<dyn Endpoint>>,
    #[cfg(feature = "jose")]
    signing: Option<(crate::jose::KeyEncryptionKey, crate::jose::RotationPolicy)>,
}

impl AuthorizationServer {
    /// A server over its stores — a [`Stores`], or one value holding clients, codes and
    /// tokens (such as [`crate::MemoryStore`]) — with the system clock, the OS RNG, opaque
    /// tokens and the config's lifetimes. No grant is registered yet.
    pub fn new(stores: impl Into<Stores>, config: ServerConfig) -> Self {
        let stores = stores.into();
        Self {
            ctx: ServerContext {
                expires_in: Arc::new(ConfigExpiresIn::new(config.clone())),
                config,
                clients: stores.clients,
                codes: stores.codes,
                tokens: stores.tokens,
                clock: Arc::new(SystemClock),
                rng: Arc::new(OsRng),
                generator: Arc::new(OpaqueTokenGenerator),
                key_store: stores.keys,
                consents: stores.consents,
                sessions: stores.sessions,
                device_codes: stores.device_codes,
                client_registry: stores.client_registry,
                replay: stores.replay,
                supported: crate::server_context::SupportedTypes::default(),
                #[cfg(feature = "jose")]
                keys: None,
                extensions: http::Extensions::new(),
            },
            authorization: AuthorizationEndpoint::default(),
            token: TokenEndpoint::default(),
            endpoints: Vec::new(),
            #[cfg(feature = "jose")]
            signing: None,
        }
    }

    /// Signs with keys kept in the stores' [`crate::KeyStore`] (see [`Stores::with_keys`]),
    /// their private parts sealed with `kek`, rotated by `policy`: what the JWKS endpoint
    /// publishes, and what signs ID tokens, logout tokens and signed UserInfo (and, later,
    /// JWT access tokens). Without a key store, endpoints that sign are refused at
    /// registration.
    ///
    /// Call [`crate::jose::KeySet::load`] (on [`ServerContext::keys`]) at start, so that a
    /// wrong key encryption key fails the start, not a request.
    #[cfg(feature = "jose")]
    #[must_use]
    pub fn with_signing_keys(
        mut self,
        kek: crate::jose::KeyEncryptionKey,
        policy: crate::jose::RotationPolicy,
    ) -> Self {
        self.signing = Some((kek, policy));
        self.rebuild_keys();
        self
    }

    /// Makes the server an OpenID Provider (see [`crate::oidc`]): the code grant answers
    /// an `id_token` whenever `openid` was granted, the refresh grant a fresh one, and the
    /// metadata lists what OpenID Connect Discovery asks for. Register
    /// [`crate::OpenIdGrant`]s for the implicit and hybrid response types and
    /// [`crate::UserInfoEndpoint`] for UserInfo.
    ///
    /// # Errors
    /// [`SetupError::Missing`] without signing keys ([`Self::with_signing_keys`] first).
    #[cfg(feature = "jose")]
    pub fn enable_openid(
        &mut self,
        provider: crate::oidc::OpenIdProvider,
    ) -> Result<&mut Self, SetupError> {
        if self.ctx.keys.is_none() {
            return Err(SetupError::Missing {
                needed_by: "OpenID Connect",
                what: "signing keys (AuthorizationServer::with_signing_keys, before enable_openid)",
            });
        }
        let provider = Arc::new(provider);
        // JWT access tokens name the user as ID tokens do: pairwise for a pairwise client.
        let mapping = provider.clone();
        self.ctx
            .extensions
            .insert(crate::jwt_access_token::SubjectMapping(Arc::new(
                move |client, local| mapping.subject_for(client, local),
            )));
        self.ctx.extensions.insert(provider);
        Ok(self)
    }

    /// Accepts `private_key_jwt` client authentication (RFC 7523; see
    /// [`crate::client_assertion`]) at the token, introspection, revocation and device
    /// authorization endpoints, and advertises it in the metadata.
    ///
    /// # Errors
    /// [`SetupError::Missing`] when the stores keep no replay cache
    /// ([`crate::Stores::with_replay_cache`]): without one an assertion could be replayed.
    ///
    /// ```
    /// use authgate::{AuthorizationServer, MemoryStore, ServerConfig};
    /// use authgate::client_assertion::ClientAssertions;
    /// let mut server = AuthorizationServer::new(MemoryStore::new().stores(), ServerConfig::new("https://a.example"));
    /// server.enable_private_key_jwt(ClientAssertions::new()).unwrap();
    /// ```
    #[cfg(feature = "jose")]
    pub fn enable_private_key_jwt(
        &mut self,
        assertions: crate::client_assertion::ClientAssertions,
    ) -> Result<&mut Self, SetupError> {
        if self.ctx.replay.is_none() {
            return Err(SetupError::Missing {
                needed_by: "private_key_jwt client authentication",
                what: "a replay cache (Stores::with_replay_cache)",
            });
        }
        self.ctx.extensions.insert(Arc::new(assertions));
        Ok(self)
    }

    /// Signs JWT access tokens (RFC 9068) with `alg`: ES256 by default, which every JOSE
    /// library checks and which signs about ten times faster than RS256 (EdDSA signs
    /// faster still, but fewer resource-side libraries take it; BENCHMARKS.md has the
    /// figures). The key set must keep a key of `alg` ([`crate::jose::RotationPolicy`]),
    /// or issuing such a token fails with `server_error`. Which tokens are JWTs is the
    /// config's choice ([`crate::ServerConfig::access_token_format`],
    /// [`crate::RegisteredResource::access_token_format`]).
    #[cfg(feature = "jose")]
    #[must_use]
    pub fn with_access_token_algorithm(mut self, alg: crate::jose::Algorithm) -> Self {
        self.ctx
            .extensions
            .insert(crate::jwt_access_token::AccessTokenAlgorithm(alg));
        self
    }

    /// Mixes a secret of the server's into the key that seals a rotated refresh token's
    /// successors for the grace window ([`crate::ServerConfig::refresh_token_grace_seconds`]):
    /// then a store dump together with an old rotated-out token still opens nothing without
    /// this secret too. Every server on one store needs the same secret, and changing it
    /// turns a replay of a token rotated before the change into reuse. Keep it outside the
    /// store (the reference server derives it from its session key).
    ///
    /// ```
    /// use authgate::{AuthorizationServer, MemoryStore, ServerConfig};
    /// let server = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new("https://a.example"))
    ///     .with_refresh_grace_secret([7u8; 32]);
    /// # let _ = server;
    /// ```
    #[must_use]
    pub fn with_refresh_grace_secret(mut self, secret: [u8; 32]) -> Self {
        self.ctx
            .extensions
            .insert(crate::grants::GraceSecret(secret));
        self
    }

    /// The key set follows the server's clock and generator, whichever order the builder
    /// calls come in.
    fn rebuild_keys(&mut self) {
        #[cfg(feature = "jose")]
        {
            self.ctx.keys = match (&self.signing, &self.ctx.key_store) {
                (Some((kek, policy)), Some(store)) => Some(Arc::new(
                    crate::jose::KeySet::new(store.clone(), kek.clone(), policy.clone())
                        .with_clock(self.ctx.clock.clone())
                        .with_rng(self.ctx.rng.clone()),
                )),
                _ => None,
            };
        }
    }

    /// Takes clients by their Client ID Metadata Documents (see
    /// [`crate::client::metadata_document`]): a `client_id` that is an https URL is fetched
    /// with `fetcher`, checked, and used as a public client whose scope is at most
    /// `ceiling`; other ids are looked up as before. The metadata advertises
    /// `client_id_metadata_document_supported`. Call it after [`Self::with_clock`] (the
    /// cache follows the server's clock at the time of this call).
    #[must_use]
    pub fn with_client_id_metadata_documents(
        mut self,
        fetcher: impl crate::client::metadata_document::DocumentFetcher,
        ceiling: crate::scope::Scope,
        allow_loopback_http: bool,
    ) -> Self {
        let wrapped = crate::client::metadata_document::MetadataDocumentClients::new(
            self.ctx.clients.clone(),
            Arc::new(fetcher),
            self.ctx.clock.clone(),
            ceiling,
        )
        .allow_loopback_http(allow_loopback_http);
        self.ctx.clients = Arc::new(wrapped);
        self.ctx
            .extensions
            .insert(crate::client::metadata_document::DocumentsEnabled);
        self
    }

    /// Replaces the clock (tests freeze time with [`crate::FrozenClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.ctx.clock = Arc::new(clock);
        self.rebuild_keys();
        self
    }

    /// Replaces the random number generator (tests make it deterministic; production keeps
    /// the OS one).
    #[must_use]
    pub fn with_rng(mut self, rng: impl Rng) -> Self {
        self.ctx.rng = Arc::new(rng);
        self.rebuild_keys();
        self
    }

    /// Replaces the token generator.
    #[must_use]
    pub fn with_token_generator(mut self, generator: impl TokenGenerator) -> Self {
        self.ctx.generator = Arc::new(generator);
        self
    }

    /// Replaces the `expires_in` policy.
    #[must_use]
    pub fn with_expires_in(mut self, expires_in: impl ExpiresIn) -> Self {
        self.ctx.expires_in = Arc::new(expires_in);
        self
    }

    /// Offers `response_mode=form_post` (OAuth 2.0 Form Post Response Mode), its page
    /// rendered by `page`; without one, the mode is refused and not advertised.
    #[must_use]
    pub fn with_form_post(mut self, page: impl FormPostPage) -> Self {
        self.authorization.set_form_post(Arc::new(page));
        self
    }

    /// Registers a grant: its token-endpoint side under its `grant_type`, its
    /// authorization-endpoint side under its `response_type`. A later registration for the
    /// same key replaces the earlier one.
    pub fn register_grant(&mut self, grant: impl Grant) -> &mut Self {
        let grant = Arc::new(grant);
        if let Some(t) = grant.clone().token_grant() {
            self.token.insert(t);
        }
        if let Some(a) = grant.authorization_grant() {
            self.authorization.insert(a);
        }
        self.ctx.supported = crate::server_context::SupportedTypes {
            grant_types: self.grant_types().into_iter().map(str::to_owned).collect(),
            response_types: self.response_types(),
        };
        self
    }

    /// Registers an endpoint (revocation, introspection, JWKS, or your own), after checking
    /// the server has what it needs.
    ///
    /// # Errors
    /// [`SetupError`] when the endpoint needs something the server lacks, or one of the
    /// same name is registered.
    pub fn register_endpoint(&mut self, endpoint: impl Endpoint) -> Result<&mut Self, SetupError> {
        endpoint.check(&self.ctx)?;
        if self.endpoint(endpoint.name()).is_some() {
            return Err(SetupError::Duplicate(endpoint.name()));
        }
        self.endpoints.push(Arc::new(endpoint));
        Ok(self)
    }

    /// Enables the revocation endpoint (RFC 7009); the Authlib name for
    /// `register_endpoint(RevocationEndpoint::new())`. A later call replaces the endpoint.
    pub fn register_revoke_token_endpoint(&mut self, endpoint: RevocationEndpoint) -> &mut Self {
        self.replace_endpoint(endpoint)
    }

    /// Enables the introspection endpoint (RFC 7662); the Authlib name for
    /// `register_endpoint(IntrospectionEndpoint::new())`. A later call replaces the
    /// endpoint.
    pub fn register_introspection_endpoint(
        &mut self,
        endpoint: IntrospectionEndpoint,
    ) -> &mut Self {
        self.replace_endpoint(endpoint)
    }

    /// Registers an endpoint that needs nothing beyond clients, codes and tokens,
    /// replacing one of the same name.
    fn replace_endpoint(&mut self, endpoint: impl Endpoint) -> &mut Self {
        self.endpoints.retain(|e| e.name() != endpoint.name());
        self.endpoints.push(Arc::new(endpoint));
        self
    }

    /// The registered endpoints, in registration order.
    pub fn endpoints(&self) -> impl Iterator<Item = &Arc<dyn Endpoint>> {
        self.endpoints.iter()
    }

    /// The registered endpoint of this name.
    pub fn endpoint(&self, name: &str) -> Option<&Arc<dyn Endpoint>> {
        self.endpoints.iter().find(|e| e.name() == name)
    }

    /// The shared context (config, stores, clock, generators).
    pub fn context(&self) -> &ServerContext {
        &self.ctx
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.ctx.config
    }

    /// The registered grant types, sorted: every advertised token grant, and the grant type
    /// of every authorization grant.
    pub fn grant_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .token
            .grants()
            .filter(|g| g.advertised())
            .map(|g| g.grant_type())
            .collect();
        v.extend(self.authorization.grants().map(|a| a.grant_type()));
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The registered response types, sorted.
    pub fn response_types(&self) -> Vec<String> {
        self.authorization
            .response_types()
            .into_iter()
            .map(ToString::to_string)
            .collect()
    }

    // ----- authorization endpoint -------------------------------------------------------

    /// Validates an authorization request (RFC 6749 §4.1.1, §4.2.1) for the consent page.
    ///
    /// # Errors
    /// [`AuthorizationError::Invalid`] while the client or redirect URI is unverified,
    /// [`AuthorizationError::Redirect`] after.
    pub async fn validate_authorization_request(
        &self,
        req: &OAuth2Request,
    ) -> Result<AuthorizationRequest, AuthorizationError> {
        self.authorization
            .validate(&self.ctx, req)
            .await
            .inspect_err(|e| crate::trace::refused("authorization", req, e.error()))
    }

    /// Answers an authorization request once the resource owner decided: `Some(owner)`
    /// grants, `None` denies (`access_denied`). The request is validated again, so the
    /// consent form can simply post back to the same URL. Redirects are 302 for a GET and
    /// 303 for a POST (RFC 9700 §4.12); form_post answers its page.
    ///
    /// # Errors
    /// As [`Self::validate_authorization_request`]; grant failures after validation are
    /// redirected.
    pub async fn create_authorization_response(
        &self,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<OAuth2Response, AuthorizationError> {
        let answer = self.authorization.respond(&self.ctx, req, owner).await;
        log_authorization(req, answer.as_ref().err());
        answer
    }

    /// The typed authorization response, for an integration that delivers it itself (its
    /// own form-post page, say). `state` and `iss` are in it.
    ///
    /// # Errors
    /// As [`Self::create_authorization_response`].
    pub async fn authorization_response(
        &self,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<AuthorizationResponse, AuthorizationError> {
        let answer = self.authorization.authorize(&self.ctx, req, owner).await;
        log_authorization(req, answer.as_ref().err());
        answer
    }

    /// Fails a validated authorization request with `error`, delivered as its response
    /// would have been (redirect or form-post page, `state` and `iss`, 303 after a POST):
    /// `login_required` or `consent_required` when `prompt=none` forbids asking
    /// (OpenID Connect Core §3.1.2.6), say.
    pub fn create_authorization_error(
        &self,
        req: &OAuth2Request,
        request: &AuthorizationRequest,
        error: OAuth2Error,
    ) -> OAuth2Response {
        crate::trace::refused("authorization", req, &error);
        self.authorization
            .error_response(&self.ctx, req, request, error)
    }

    /// Whether a request's `id_token_hint` names the user whose local subject is `local`
    /// (pairwise subjects compared as the client sees them). `true` when the request has
    /// no hint.
    #[cfg(feature = "jose")]
    pub fn hint_names(&self, request: &AuthorizationRequest, local: &str) -> bool {
        let Some(hinted) = &request.id_token_hint_subject else {
            return true;
        };
        match crate::oidc::provider(&self.ctx) {
            Some(o) => o
                .subject_for(request.client.as_ref(), local)
                .is_ok_and(|s| &s == hinted),
            None => hinted == local,
        }
    }

    /// Whether the user must be asked to consent to a validated request (OpenID Connect
    /// Core §3.1.2.4): yes for `prompt=consent`; no for a client registered with
    /// `skip_consent`; yes for a public client whose redirect URI is not https (a native
    /// app's loopback or custom-scheme URI proves nothing about who asks); no when the user
    /// approved this client before for at least the requested scope (the stores'
    /// [`crate::ConsentStore`]); yes otherwise. With
    /// `prompt=none`, a `true` here means answering `consent_required`.
    ///
    /// # Errors
    /// The consent store failed (503).
    pub async fn consent_required(
        &self,
        request: &AuthorizationRequest,
        subject: &str,
    ) -> Result<bool, OAuth2Error> {
        if request.has_prompt("consent") || request.client.skip_consent() {
            return Ok(request.consent_required(None));
        }
        // A public client is only who its redirect URI says: a loopback port or a custom
        // scheme can be taken by any local app, so an earlier approval does not prove the
        // client asking now is the one approved (RFC 8252 §8.6, RFC 6749 §10.2). Only an
        // https redirect URI makes remembered consent count for a public client.
        if request.client.is_public() && !request.redirect_uri.starts_with("https://") {
            return Ok(true);
        }
        let remembered = match &self.ctx.consents {
            Some(c) => c
                .find_consent(subject, request.client.client_id())
                .await?
                .map(|c| c.scope),
            None => None,
        };
        Ok(request.consent_required(remembered.as_ref()))
    }

    /// Forgets a user's approval of a client and revokes every token and code the client
    /// holds for the user (OpenID Connect: revoking consent). Answers whether an approval
    /// existed.
    ///
    /// # Errors
    /// No consent store, or it failed.
    pub async fn revoke_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<bool, OAuth2Error> {
        let Some(c) = &self.ctx.consents else {
            return Err(OAuth2Error::with_description(
                ErrorCode::ServerError,
                "the server keeps no consents",
            ));
        };
        // No client is named with a control character: nothing to revoke.
        if crate::identifier::has_control_characters(client_id) {
            return Ok(false);
        }
        Ok(c.revoke_consent(subject, client_id).await?)
    }

    /// Validates an RP-initiated logout request (OpenID Connect RP-Initiated Logout §2,
    /// §3); see [`crate::EndSessionRequest`].
    ///
    /// # Errors
    /// `invalid_request` to show on a page (never redirected), 503 on a store outage.
    #[cfg(feature = "jose")]
    pub async fn validate_end_session_request(
        &self,
        req: &OAuth2Request,
    ) -> Result<crate::endpoints::end_session::EndSessionRequest, OAuth2Error> {
        crate::endpoints::end_session::EndSessionRequest::validate(&self.ctx, req).await
    }

    /// Ends a login session (logout): removes it from the stores' [`crate::SessionStore`]
    /// and answers it with a back-channel logout token for each of its clients that
    /// registered a `backchannel_logout_uri`. `None` when the session had already ended.
    ///
    /// # Errors
    /// No session store, or it failed.
    #[cfg(feature = "jose")]
    pub async fn end_session(
        &self,
        sid: &str,
    ) -> Result<Option<crate::endpoints::end_session::EndedSession>, OAuth2Error> {
        let Some(sessions) = &self.ctx.sessions else {
            return Err(no_sessions());
        };
        match sessions.end_session(sid).await? {
            Some(s) => Ok(Some(
                crate::endpoints::end_session::EndedSession::announce(&self.ctx, s).await,
            )),
            None => Ok(None),
        }
    }

    /// Ends every session of a user (a password change, the user's removal), as
    /// [`Self::end_session`] does one.
    ///
    /// # Errors
    /// No session store, or it failed.
    #[cfg(feature = "jose")]
    pub async fn end_sessions_of(
        &self,
        subject: &str,
    ) -> Result<Vec<crate::endpoints::end_session::EndedSession>, OAuth2Error> {
        let Some(sessions) = &self.ctx.sessions else {
            return Err(no_sessions());
        };
        let mut out = Vec::new();
        for s in sessions.end_sessions_of(subject).await? {
            out.push(crate::endpoints::end_session::EndedSession::announce(&self.ctx, s).await);
        }
        Ok(out)
    }

    // ----- device authorization (RFC 8628) -------------------------------------------------

    /// The pending device authorization holding the code a user typed on the verification
    /// page, or `None` (malformed, unknown, expired or decided alike); see
    /// [`crate::endpoints::device_authorization::DeviceRequest`]. Approve or deny it with [`Self::approve_device_request`]
    /// and [`Self::deny_device_request`].
    ///
    /// # Errors
    /// No device code store, or it failed.
    pub async fn find_device_request(
        &self,
        user_code: &str,
    ) -> Result<Option<crate::endpoints::device_authorization::DeviceRequest>, OAuth2Error> {
        crate::endpoints::device_authorization::DeviceRequest::find(&self.ctx, user_code).await
    }

    /// The user approves a device's request: its next poll gets tokens for `owner`.
    /// Answers false when the request was decided meanwhile or expired.
    ///
    /// # Errors
    /// A store failed.
    pub async fn approve_device_request(
        &self,
        request: &crate::endpoints::device_authorization::DeviceRequest,
        owner: &ResourceOwner,
    ) -> Result<bool, OAuth2Error> {
        request.approve(&self.ctx, owner).await
    }

    /// The user refuses a device's request: its next poll hears `access_denied`.
    /// Answers false when the request was decided meanwhile or expired.
    ///
    /// # Errors
    /// A store failed.
    pub async fn deny_device_request(
        &self,
        request: &crate::endpoints::device_authorization::DeviceRequest,
    ) -> Result<bool, OAuth2Error> {
        request.deny(&self.ctx).await
    }

    // ----- token endpoint -----------------------------------------------------------------

    /// The token endpoint (RFC 6749 §3.2, §5): dispatches on `grant_type`.
    pub async fn create_token_response(&self, req: &OAuth2Request) -> OAuth2Response {
        self.token.respond(&self.ctx, req).await
    }

    /// A JSON error answer with this server's realm in any `WWW-Authenticate: Basic`.
    pub fn error_response(&self, err: OAuth2Error) -> OAuth2Response {
        self.ctx.error_response(err)
    }

    // ----- registered endpoints -------------------------------------------------------------

    /// Hands a request to the endpoint registered under `name`; a 404 JSON error when none
    /// is.
    pub async fn create_endpoint_response(
        &self,
        name: &str,
        req: &OAuth2Request,
    ) -> OAuth2Response {
        match self.endpoint(name) {
            Some(e) => e.respond(&self.ctx, req).await,
            None => not_enabled(name),
        }
    }

    /// The revocation endpoint (RFC 7009).
    pub async fn create_revocation_response(&self, req: &OAuth2Request) -> OAuth2Response {
        self.create_endpoint_response("revocation", req).await
    }

    /// The introspection endpoint (RFC 7662).
    pub async fn create_introspection_response(&self, req: &OAuth2Request) -> OAuth2Response {
        self.create_endpoint_response("introspection", req).await
    }

    // ----- metadata ----------------------------------------------------------------------

    /// The metadata document (RFC 8414 §2): what the token and authorization endpoints,
    /// their grants and every registered endpoint contribute.
    pub fn metadata(&self) -> Metadata {
        metadata::build(
            &self.ctx,
            &self.token,
            &self.authorization,
            self.grant_types(),
            &self.endpoints,
        )
    }

    /// The metadata as a JSON response (cacheable, unlike token responses).
    pub fn create_metadata_response(&self) -> OAuth2Response {
        self.metadata().to_response()
    }
}

impl fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.ctx.config.issuer)
            .field("grant_types", &self.grant_types())
            .field("response_types", &self.response_types())
            .field(
                "endpoints",
                &self.endpoints.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The authorization endpoint's event for an answered request.
fn log_authorization(req: &OAuth2Request, err: Option<&AuthorizationError>) {
    match err {
        Some(e) => crate::trace::refused("authorization", req, e.error()),
        None => crate::trace::served("authorization", req),
    }
}

#[cfg(feature = "jose")]
fn no_sessions() -> OAuth2Error {
    OAuth2Error::with_description(ErrorCode::ServerError, "the server keeps no sessions")
}

/// Built here, beside the server, so that `resource.rs` (which endpoints use) needs nothing
/// from above it.
impl crate::resource::ResourceProtector {
    /// A protector over a server's own token store, generator, clock and realm.
    pub fn from_server(server: &AuthorizationServer) -> Self {
        Self::from_context(server.context())
    }
}
