//! `AuthorizationServer`: the grant registry and the endpoints.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use url::Url;

use crate::client::{authenticate_client, Client};
use crate::clock::{Clock, SystemClock};
use crate::config::ServerConfig;
use crate::context::ServerContext;
use crate::endpoints::{IntrospectionEndpoint, RevocationEndpoint};
use crate::error::{ErrorCode, OAuth2Error};
use crate::generator::{ConfigExpiresIn, ExpiresIn, OpaqueTokenGenerator, TokenGenerator};
use crate::grants::{AuthorizationGrant, Grant, ResponseMode, TokenGrant};
use crate::pkce::CodeChallenge;
use crate::redirect_uri::redirect_uri_matches;
use crate::request::OAuth2Request;
use crate::response::{quote, OAuth2Response};
use crate::rng::{OsRng, Rng};
use crate::scope::Scope;
use crate::storage::{AuthorizationCodeStore, ClientStore, ResourceOwner, TokenStore};

/// The OAuth 2.0 authorization server: a grant registry in front of the token,
/// authorization, revocation and introspection endpoints.
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
    token_grants: HashMap<String, Arc<dyn TokenGrant>>,
    authorization_grants: HashMap<String, Arc<dyn AuthorizationGrant>>,
    revocation: Option<RevocationEndpoint>,
    introspection: Option<IntrospectionEndpoint>,
}

/// A validated authorization request: what a consent page shows, and what the grant acts
/// on once the owner decides.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The requesting client.
    pub client: Arc<dyn Client>,
    /// The `response_type`.
    pub response_type: String,
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` itself.
    pub redirect_uri_sent: bool,
    /// The scope to be granted.
    pub scope: Scope,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// Where the response parameters go.
    pub response_mode: ResponseMode,
    /// The PKCE challenge, if any.
    pub code_challenge: Option<CodeChallenge>,
    /// The OpenID Connect `nonce`, if any.
    pub nonce: Option<String>,
}

/// Why an authorization request failed, and how the failure must be delivered.
#[derive(Debug)]
pub enum AuthorizationError {
    /// The client or the redirect URI could not be verified: the error must be shown to the
    /// user, never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
    Invalid(OAuth2Error),
    /// The client and redirect URI are verified: the error goes back to the client in this
    /// redirect (with `state` and `iss`).
    Redirect {
        /// The error.
        error: OAuth2Error,
        /// The 302 response carrying it.
        response: OAuth2Response,
    },
}

impl AuthorizationError {
    /// The protocol error.
    pub fn error(&self) -> &OAuth2Error {
        match self {
            Self::Invalid(e) | Self::Redirect { error: e, .. } => e,
        }
    }

    /// The response: the redirect, or for [`Self::Invalid`] a 400 JSON error (applications
    /// usually render their own page instead).
    pub fn into_response(self) -> OAuth2Response {
        match self {
            Self::Invalid(e) => {
                let status = if e.status() == StatusCode::SERVICE_UNAVAILABLE {
                    e.status()
                } else {
                    StatusCode::BAD_REQUEST
                };
                OAuth2Response::from(e.with_status(status))
            }
            Self::Redirect { response, .. } => response,
        }
    }
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error().fmt(f)
    }
}

impl std::error::Error for AuthorizationError {}

impl AuthorizationServer {
    /// A server over one store holding clients, codes and tokens (such as
    /// [`crate::MemoryStore`]), with the system clock, opaque tokens and the config's
    /// lifetimes. No grant is registered yet.
    pub fn new<S>(store: S, config: ServerConfig) -> Self
    where
        S: ClientStore + AuthorizationCodeStore + TokenStore + 'static,
    {
        let store = Arc::new(store);
        Self::with_stores(store.clone(), store.clone(), store, config)
    }

    /// A server over separate stores.
    pub fn with_stores(
        clients: Arc<dyn ClientStore>,
        codes: Arc<dyn AuthorizationCodeStore>,
        tokens: Arc<dyn TokenStore>,
        config: ServerConfig,
    ) -> Self {
        Self {
            ctx: ServerContext {
                expires_in: Arc::new(ConfigExpiresIn::new(config.clone())),
                config,
                clients,
                codes,
                tokens,
                clock: Arc::new(SystemClock),
                rng: Arc::new(OsRng),
                generator: Arc::new(OpaqueTokenGenerator),
            },
            token_grants: HashMap::new(),
            authorization_grants: HashMap::new(),
            revocation: None,
            introspection: None,
        }
    }

    /// Replaces the clock (tests freeze time with [`crate::FrozenClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.ctx.clock = Arc::new(clock);
        self
    }

    /// Replaces the random number generator (tests make it deterministic; production keeps
    /// the OS one).
    #[must_use]
    pub fn with_rng(mut self, rng: impl Rng) -> Self {
        self.ctx.rng = Arc::new(rng);
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

    /// Registers a grant: its token-endpoint side under its `grant_type`, its
    /// authorization-endpoint side under its `response_type`. A later registration for the
    /// same key replaces the earlier one.
    pub fn register_grant(&mut self, grant: impl Grant) -> &mut Self {
        let grant = Arc::new(grant);
        if let Some(t) = grant.clone().token_grant() {
            self.token_grants.insert(t.grant_type().to_owned(), t);
        }
        if let Some(a) = grant.authorization_grant() {
            self.authorization_grants
                .insert(a.response_type().to_owned(), a);
        }
        self
    }

    /// Enables the revocation endpoint (RFC 7009).
    pub fn register_revoke_token_endpoint(&mut self, endpoint: RevocationEndpoint) -> &mut Self {
        self.revocation = Some(endpoint);
        self
    }

    /// Enables the introspection endpoint (RFC 7662).
    pub fn register_introspection_endpoint(
        &mut self,
        endpoint: IntrospectionEndpoint,
    ) -> &mut Self {
        self.introspection = Some(endpoint);
        self
    }

    /// The shared context (config, stores, clock, generators).
    pub fn context(&self) -> &ServerContext {
        &self.ctx
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.ctx.config
    }

    /// The registered grant types, sorted.
    pub fn grant_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .token_grants
            .values()
            .filter(|g| g.advertised())
            .map(|g| g.grant_type())
            .collect();
        for a in self.authorization_grants.values() {
            if !v.contains(&a.grant_type()) {
                v.push(a.grant_type());
            }
        }
        v.sort_unstable();
        v
    }

    /// The registered response types, sorted.
    pub fn response_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .authorization_grants
            .keys()
            .map(String::as_str)
            .collect();
        v.sort_unstable();
        v
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
        let (client, redirect_uri, redirect_uri_sent) =
            self.verify_client_and_redirect(req).await?;
        // From here on errors are redirected. The response mode is known only once the
        // response type is; until then, the query.
        // Echo the first `state` even when it is repeated; the repeat itself is rejected
        // below, with that error redirected.
        let state = req
            .query_pairs()
            .iter()
            .chain(req.form_pairs())
            .find(|(k, v)| k == "state" && !v.is_empty())
            .map(|(_, v)| v.clone());
        let mut mode = ResponseMode::Query;
        let redirect = |e: OAuth2Error, mode| self.redirect_error(&redirect_uri, mode, e, &state);

        let response_type = match req.authorization_value("response_type") {
            Ok(Some(rt)) => rt.to_owned(),
            Ok(None) => {
                return Err(redirect(
                    OAuth2Error::invalid_request("missing 'response_type'"),
                    mode,
                ))
            }
            Err(e) => return Err(redirect(e, mode)),
        };
        let Some(grant) = self.authorization_grants.get(&response_type) else {
            return Err(redirect(
                OAuth2Error::with_description(
                    ErrorCode::UnsupportedResponseType,
                    "this server does not support the response_type",
                ),
                mode,
            ));
        };
        mode = grant.default_response_mode();
        let result = async {
            mode = response_mode(req, mode)?;
            req.authorization_value("state")?;
            if !client.allows_response_type(&response_type)
                || !client.allows_grant_type(grant.grant_type())
            {
                return Err(OAuth2Error::unauthorized_client(
                    "the client may not use this response_type",
                ));
            }
            let scope = self
                .ctx
                .resolve_scope(client.as_ref(), req.authorization_value("scope")?)?;
            let nonce = req.authorization_value("nonce")?.map(str::to_owned);
            let mut request = AuthorizationRequest {
                client: client.clone(),
                response_type: response_type.clone(),
                redirect_uri: redirect_uri.clone(),
                redirect_uri_sent,
                scope,
                state: state.clone(),
                response_mode: mode,
                code_challenge: None,
                nonce,
            };
            grant.validate_request(&self.ctx, req, &mut request)?;
            Ok(request)
        }
        .await;
        result.map_err(|e| redirect(e, mode))
    }

    /// Answers an authorization request once the resource owner decided: `Some(owner)`
    /// grants, `None` denies (`access_denied`). The request is validated again, so the
    /// consent form can simply post back to the same URL. Redirects are 302 for a GET and
    /// 303 for a POST (RFC 9700 §4.12).
    ///
    /// # Errors
    /// As [`Self::validate_authorization_request`]; grant failures after validation are
    /// redirected.
    pub async fn create_authorization_response(
        &self,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<OAuth2Response, AuthorizationError> {
        let result = self.authorization_response(req, owner).await;
        if req.method() != Method::POST {
            return result;
        }
        // After a form POST, 303 makes the browser GET the redirect URI and never re-send
        // the form (RFC 9700 §4.12 forbids 307); 302 when the application configured it.
        let status = match self.ctx.config.post_redirect_status {
            StatusCode::FOUND => StatusCode::FOUND,
            _ => StatusCode::SEE_OTHER,
        };
        let see_other = |mut r: OAuth2Response| {
            r.status = status;
            r
        };
        match result {
            Ok(r) => Ok(see_other(r)),
            Err(AuthorizationError::Redirect { error, response }) => {
                Err(AuthorizationError::Redirect {
                    error,
                    response: see_other(response),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn authorization_response(
        &self,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<OAuth2Response, AuthorizationError> {
        let request = self.validate_authorization_request(req).await?;
        let mode = request.response_mode;
        let fail =
            |e: OAuth2Error| self.redirect_error(&request.redirect_uri, mode, e, &request.state);
        let Some(owner) = owner else {
            return Err(fail(OAuth2Error::with_description(
                ErrorCode::AccessDenied,
                "the resource owner denied the request",
            )));
        };
        let Some(grant) = self.authorization_grants.get(&request.response_type) else {
            return Err(fail(OAuth2Error::new(ErrorCode::UnsupportedResponseType)));
        };
        let mut params = grant
            .authorize(&self.ctx, &request, owner)
            .await
            .map_err(fail)?;
        if let Some(s) = &request.state {
            params.push(("state".into(), s.clone()));
        }
        params.push(("iss".into(), self.ctx.config.issuer.clone()));
        Ok(OAuth2Response::redirect(&build_redirect(
            &request.redirect_uri,
            mode,
            &params,
        )))
    }

    async fn verify_client_and_redirect(
        &self,
        req: &OAuth2Request,
    ) -> Result<(Arc<dyn Client>, String, bool), AuthorizationError> {
        let invalid = AuthorizationError::Invalid;
        let client_id = req
            .authorization_value("client_id")
            .map_err(invalid)?
            .ok_or_else(|| invalid(OAuth2Error::invalid_request("missing 'client_id'")))?;
        let client = self
            .ctx
            .clients
            .find_client(client_id)
            .await
            .map_err(|e| invalid(e.into()))?
            .ok_or_else(|| invalid(OAuth2Error::invalid_request("unknown client_id")))?;
        let requested = req.authorization_value("redirect_uri").map_err(invalid)?;
        match requested {
            Some(uri) => {
                if client
                    .redirect_uris()
                    .iter()
                    .any(|r| redirect_uri_matches(r, uri))
                {
                    Ok((client, uri.to_owned(), true))
                } else {
                    Err(invalid(OAuth2Error::invalid_request(
                        "redirect_uri is not registered for this client",
                    )))
                }
            }
            None => match client.default_redirect_uri() {
                Some(uri) => {
                    let uri = uri.to_owned();
                    Ok((client, uri, false))
                }
                None => Err(invalid(OAuth2Error::invalid_request(
                    "redirect_uri is required: the client has no single registered one",
                ))),
            },
        }
    }

    fn redirect_error(
        &self,
        redirect_uri: &str,
        mode: ResponseMode,
        error: OAuth2Error,
        state: &Option<String>,
    ) -> AuthorizationError {
        let error = error.state(state.clone());
        let mut params: Vec<(String, String)> = error
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        params.push(("iss".into(), self.ctx.config.issuer.clone()));
        let response = OAuth2Response::redirect(&build_redirect(redirect_uri, mode, &params));
        AuthorizationError::Redirect { error, response }
    }

    // ----- token endpoint -----------------------------------------------------------------

    /// The token endpoint (RFC 6749 §3.2, §5): dispatches on `grant_type`.
    pub async fn create_token_response(&self, req: &OAuth2Request) -> OAuth2Response {
        match self.token_response(req).await {
            Ok(body) => OAuth2Response::json(StatusCode::OK, &Value::Object(body)),
            Err(e) => self.error_response(e),
        }
    }

    async fn token_response(
        &self,
        req: &OAuth2Request,
    ) -> Result<serde_json::Map<String, Value>, OAuth2Error> {
        check_post_form(req)?;
        let grant_type = req
            .form_value("grant_type")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'grant_type'"))?;
        let grant = self.token_grants.get(grant_type).ok_or_else(|| {
            OAuth2Error::with_description(
                ErrorCode::UnsupportedGrantType,
                "this server does not support the grant_type",
            )
        })?;
        let client = authenticate_client(self.ctx.clients.as_ref(), req).await?;
        if !client.allows_grant_type(grant_type) {
            return Err(OAuth2Error::unauthorized_client(
                "the client may not use this grant_type",
            ));
        }
        grant.create_token_response(&self.ctx, req, client).await
    }

    /// A JSON error answer with this server's realm in any `WWW-Authenticate: Basic`.
    pub fn error_response(&self, err: OAuth2Error) -> OAuth2Response {
        let basic = err.has_basic_challenge();
        let mut res = OAuth2Response::from(err);
        if basic {
            let realm = quote(&self.ctx.config.realm);
            if let Ok(v) = HeaderValue::from_str(&format!("Basic realm={realm}, charset=\"UTF-8\""))
            {
                res.headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        res
    }

    // ----- revocation and introspection ---------------------------------------------------

    /// The revocation endpoint (RFC 7009).
    pub async fn create_revocation_response(&self, req: &OAuth2Request) -> OAuth2Response {
        let Some(endpoint) = &self.revocation else {
            return not_enabled("revocation");
        };
        match self.authenticated(req).await {
            Ok(client) => match endpoint.revoke(&self.ctx, req, client.as_ref()).await {
                Ok(()) => OAuth2Response::empty_ok(),
                Err(e) => self.error_response(e),
            },
            Err(e) => self.error_response(e),
        }
    }

    /// The introspection endpoint (RFC 7662).
    pub async fn create_introspection_response(&self, req: &OAuth2Request) -> OAuth2Response {
        let Some(endpoint) = &self.introspection else {
            return not_enabled("introspection");
        };
        match self.authenticated(req).await {
            Ok(client) => match endpoint.introspect(&self.ctx, req, client.as_ref()).await {
                Ok(body) => OAuth2Response::json(StatusCode::OK, &body),
                Err(e) => self.error_response(e),
            },
            Err(e) => self.error_response(e),
        }
    }

    async fn authenticated(&self, req: &OAuth2Request) -> Result<Arc<dyn Client>, OAuth2Error> {
        check_post_form(req)?;
        authenticate_client(self.ctx.clients.as_ref(), req).await
    }

    // ----- metadata ----------------------------------------------------------------------

    /// The authorization server metadata (RFC 8414 §2), listing what is registered.
    pub fn metadata(&self) -> Value {
        let c = &self.ctx.config;
        let methods = ["client_secret_basic", "client_secret_post", "none"];
        let mut m = json!({
            "issuer": c.issuer,
            "token_endpoint": c.endpoint_url(&c.endpoints.token),
            "grant_types_supported": self.grant_types(),
            "token_endpoint_auth_methods_supported": methods,
            "authorization_response_iss_parameter_supported": true,
        });
        let obj = m.as_object_mut();
        let Some(obj) = obj else { return m };
        if !self.authorization_grants.is_empty() {
            obj.insert(
                "authorization_endpoint".into(),
                c.endpoint_url(&c.endpoints.authorization).into(),
            );
            obj.insert(
                "response_types_supported".into(),
                json!(self.response_types()),
            );
            obj.insert(
                "response_modes_supported".into(),
                json!(["query", "fragment"]),
            );
        }
        if self.authorization_grants.contains_key("code") {
            let mut pkce = vec!["S256"];
            if c.allow_plain_pkce {
                pkce.push("plain");
            }
            obj.insert("code_challenge_methods_supported".into(), json!(pkce));
        }
        if self.revocation.is_some() {
            obj.insert(
                "revocation_endpoint".into(),
                c.endpoint_url(&c.endpoints.revocation).into(),
            );
            obj.insert(
                "revocation_endpoint_auth_methods_supported".into(),
                json!(methods),
            );
        }
        if self.introspection.is_some() {
            obj.insert(
                "introspection_endpoint".into(),
                c.endpoint_url(&c.endpoints.introspection).into(),
            );
            obj.insert(
                "introspection_endpoint_auth_methods_supported".into(),
                json!(["client_secret_basic", "client_secret_post"]),
            );
        }
        if !c.scopes_supported.is_empty() {
            obj.insert("scopes_supported".into(), json!(c.scopes_supported));
        }
        m
    }

    /// The metadata as a JSON response (cacheable, unlike token responses).
    pub fn create_metadata_response(&self) -> OAuth2Response {
        let mut res = OAuth2Response::json(StatusCode::OK, &self.metadata());
        res.headers.remove(header::PRAGMA);
        res.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        res
    }
}

impl fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.ctx.config.issuer)
            .field("grant_types", &self.grant_types())
            .field("response_types", &self.response_types())
            .finish_non_exhaustive()
    }
}

/// RFC 6749 §3.2: the token endpoint takes POST with a form body; RFC 7009 and RFC 7662 say
/// the same of theirs.
fn check_post_form(req: &OAuth2Request) -> Result<(), OAuth2Error> {
    if req.method() != Method::POST {
        return Err(
            OAuth2Error::invalid_request("this endpoint accepts POST only")
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    if !req.is_form_encoded() {
        return Err(OAuth2Error::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(())
}

fn not_enabled(what: &str) -> OAuth2Response {
    OAuth2Response::from(
        OAuth2Error::invalid_request(format!("the {what} endpoint is not enabled"))
            .with_status(StatusCode::NOT_FOUND),
    )
}

/// The `response_mode` parameter: `query` or `fragment`; tokens never go in a query.
fn response_mode(req: &OAuth2Request, default: ResponseMode) -> Result<ResponseMode, OAuth2Error> {
    match req.authorization_value("response_mode")? {
        None => Ok(default),
        Some("fragment") => Ok(ResponseMode::Fragment),
        Some("query") if default == ResponseMode::Query => Ok(ResponseMode::Query),
        Some("query") => Err(OAuth2Error::invalid_request(
            "response_mode=query is not allowed for this response_type (RFC 9700 section 4.3.2)",
        )),
        Some(_) => Err(OAuth2Error::invalid_request("unsupported response_mode")),
    }
}

/// The redirect URI with the parameters added to its query or set as its fragment.
fn build_redirect(redirect_uri: &str, mode: ResponseMode, params: &[(String, String)]) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        // The URI was verified against a registered one; registration rejects unparsable
        // URIs, so this is reached only through a broken custom Client.
        return redirect_uri.to_owned();
    };
    match mode {
        ResponseMode::Query => {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        ResponseMode::Fragment => {
            let frag: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            url.set_fragment(Some(&frag));
        }
    }
    url.into()
}
