//! axum integration for [authgate]: a thin layer that turns axum requests into
//! [`OAuth2Request`]s and authgate's answers into axum responses.
//!
//! - [`OAuthRequest`]: an extractor reading the request (body capped by the server's
//!   `max_body_bytes`; over it, 413 with a JSON error).
//! - [`token`], [`revoke`], [`introspect`], [`metadata`]: ready-made handlers;
//!   [`routes`] mounts the token endpoint and every endpoint registered on the server
//!   (revocation, introspection, JWKS...) at the paths they name.
//! - [`ValidatedAuthorization`]: an extractor handing the consent page's handler the
//!   validated authorization request (failures are answered for it).
//! - [`authorization_response`]: turns the result of `validate_authorization_request` /
//!   `create_authorization_response` errors into the right answer (redirect, or a 400 that
//!   is never redirected).
//! - [`RequireBearerLayer`] with [`CurrentToken`] / [`OptionalToken`]: Bearer protection
//!   declared at the route, the current token handed to the handler.
//!
//! The server is shared as [`Server`] (`Arc<AuthorizationServer>`); the handlers take it
//! with `State<Server>`, so any router state `S` with `Server: FromRef<S>` works.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::get, Json, Router};
//! use authgate::*;
//! use authgate_axum::{routes, CurrentToken, RequireBearerLayer, Server};
//!
//! # async fn run() {
//! let store = MemoryStore::new();
//! store.add_client(ClientRecord::confidential("svc", "secret")
//!     .grant_types(["client_credentials"]).scope("read"));
//! let mut server = AuthorizationServer::new(store, ServerConfig::new("http://127.0.0.1:3000"));
//! server.register_grant(ClientCredentialsGrant::new());
//! let server: Server = Arc::new(server);
//! let protector = Arc::new(ResourceProtector::from_server(&server));
//!
//! async fn api(CurrentToken(token): CurrentToken) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "client": token.client_id }))
//! }
//! let app: Router = routes(&server)
//!     .route("/api", get(api).route_layer(RequireBearerLayer::new(protector, ScopeRequirement::all_of("read"))))
//!     .with_state(server);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `pages` | no | [`pages`]: the consent form's CSRF token, the login and consent pages' headers, the safe `next` check and login redirect, and HTML refusal pages |
//!
//! The rest follows authgate's features (with authgate's default `jose`, the JWKS,
//! UserInfo and end-session endpoints mount through [`routes`] like the others).
#![forbid(unsafe_code)]

#[cfg(feature = "pages")]
pub mod pages;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authgate::{
    request::body_too_large, AuthorizationError, AuthorizationServer, BearerError, OAuth2Error,
    OAuth2Request, OAuth2Response, ResourceProtector, ScopeRequirement, TokenRecord,
};
use axum::body::Body;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post, MethodFilter};
use axum::Router;
use http::request::Parts;
use tower::{Layer, Service};

/// The authorization server as router state.
pub type Server = Arc<AuthorizationServer>;

/// Converts an authgate response into an axum response.
pub fn into_response(res: OAuth2Response) -> Response {
    let mut out = Response::new(Body::from(res.body));
    *out.status_mut() = res.status;
    *out.headers_mut() = res.headers;
    out
}

/// An authgate response as an axum response.
#[derive(Debug)]
pub struct OAuthResponse(pub OAuth2Response);

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        into_response(self.0)
    }
}

/// The answer to an authorization endpoint result: the success redirect, the error
/// redirect, or — when the client or redirect URI could not be verified — a 400 JSON error
/// that is never redirected. Applications that render their own error page match on
/// [`AuthorizationError::Invalid`] first.
pub fn authorization_response(result: Result<OAuth2Response, AuthorizationError>) -> Response {
    match result {
        Ok(res) => into_response(res),
        Err(e) => into_response(e.into_response()),
    }
}

/// An [`OAuth2Request`] extracted from an axum request: query, headers and the
/// form-urlencoded body, the body capped at the server's `max_body_bytes`.
#[derive(Debug, Clone)]
pub struct OAuthRequest(pub OAuth2Request);

impl<S> FromRequest<S> for OAuthRequest
where
    S: Send + Sync,
    Server: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let server = Server::from_ref(state);
        let limit = server.config().max_body_bytes;
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(e) => {
                let (err, reason) = if is_length_limit(&e) {
                    (body_too_large(limit), "body_too_large")
                } else {
                    (
                        OAuth2Error::invalid_request("the request body could not be read"),
                        "body_unreadable",
                    )
                };
                log_rejection(&err, reason);
                return Err(into_response(OAuth2Response::from(err)));
            }
        };
        OAuth2Request::from_parts(parts.method, parts.uri, parts.headers, &bytes, limit)
            .map(OAuthRequest)
            .map_err(|e| {
                log_rejection(&e, e.internal_reason().unwrap_or("request_malformed"));
                into_response(OAuth2Response::from(e))
            })
    }
}

/// A validated authorization request, for the consent page's handler: extracting it runs
/// [`AuthorizationServer::validate_authorization_request`], and a failed validation is
/// answered for the handler (an error redirect, or a 400 that is never redirected).
///
/// It also carries the [`OAuth2Request`], which the POST handler hands back to
/// `create_authorization_response`.
#[derive(Debug, Clone)]
pub struct ValidatedAuthorization {
    /// What the consent page shows: client, scope, redirect URI, state.
    pub request: authgate::AuthorizationRequest,
    /// The raw request.
    pub raw: OAuth2Request,
}

impl<S> FromRequest<S> for ValidatedAuthorization
where
    S: Send + Sync,
    Server: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        #[cfg(feature = "pages")]
        let page = req.extensions().get::<pages::RefusalPage>().cloned();
        let OAuthRequest(raw) = OAuthRequest::from_request(req, state).await?;
        let server = Server::from_ref(state);
        match server.validate_authorization_request(&raw).await {
            Ok(request) => Ok(Self { request, raw }),
            Err(e) => {
                #[cfg(feature = "pages")]
                if let (AuthorizationError::Invalid(err), Some(page)) = (&e, &page) {
                    return Err(page.render(err));
                }
                Err(into_response(e.into_response()))
            }
        }
    }
}

/// A request refused before it reaches the engine (its body too large or not a form):
/// logged at `info` with the fields of the engine's refusals (`authgate::trace`); the
/// application's request span, if any, says where.
fn log_rejection(err: &OAuth2Error, reason: &'static str) {
    tracing::info!(error = err.code().as_str(), reason, "refused");
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// `POST` token endpoint (RFC 6749 §3.2).
pub async fn token(State(server): State<Server>, OAuthRequest(req): OAuthRequest) -> OAuthResponse {
    OAuthResponse(server.create_token_response(&req).await)
}

/// `POST` revocation endpoint (RFC 7009).
pub async fn revoke(
    State(server): State<Server>,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    OAuthResponse(server.create_revocation_response(&req).await)
}

/// `POST` introspection endpoint (RFC 7662).
pub async fn introspect(
    State(server): State<Server>,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    OAuthResponse(server.create_introspection_response(&req).await)
}

/// `GET` authorization server metadata (RFC 8414).
pub async fn metadata(State(server): State<Server>) -> OAuthResponse {
    OAuthResponse(server.create_metadata_response())
}

/// A router with the token endpoint and every registered endpoint (revocation,
/// introspection, JWKS, UserInfo, ...) at the paths they name, and the metadata at
/// `/.well-known/oauth-authorization-server` (and, once OpenID Connect is enabled, at
/// `/.well-known/openid-configuration` too). The authorization endpoint is the
/// application's: it renders the consent page (see the crate example).
pub fn routes<S>(server: &AuthorizationServer) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Server: FromRef<S>,
{
    let config = server.config();
    // Other methods reach the handler too, so the engine answers them with its JSON
    // `invalid_request` (405); axum adds `Allow`.
    let mut router = Router::new().route(&config.endpoints.token, post(token).fallback(token));
    for endpoint in server.endpoints() {
        let name = endpoint.name();
        let handler = move |State(server): State<Server>, OAuthRequest(req): OAuthRequest| async move {
            OAuthResponse(server.create_endpoint_response(name, &req).await)
        };
        let Some(filter) = endpoint
            .methods()
            .iter()
            .filter_map(|m| MethodFilter::try_from(m.clone()).ok())
            .reduce(MethodFilter::or)
        else {
            continue;
        };
        router = router.route(
            &endpoint.path(config),
            on(filter, handler).fallback(handler),
        );
    }
    if authgate::oidc::provider(server.context()).is_some() {
        router = router.route("/.well-known/openid-configuration", get(metadata));
    }
    router.route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The current token, put in the request by [`RequireBearerLayer`].
///
/// Without the layer in front of the handler there is no token, and the request is refused
/// with 401 (fail closed).
#[derive(Debug, Clone)]
pub struct CurrentToken(pub TokenRecord);

/// The current token if the request carried a valid one, under
/// [`RequireBearerLayer::optional`].
#[derive(Debug, Clone)]
pub struct OptionalToken(pub Option<TokenRecord>);

#[derive(Clone)]
struct Validated(Option<TokenRecord>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Taken, not cloned: the layer put it there for this handler alone.
        match parts.extensions.remove::<Validated>() {
            Some(Validated(Some(t))) => Ok(CurrentToken(t)),
            _ => Err(into_response(OAuth2Response::from(
                OAuth2Error::with_description(
                    authgate::ErrorCode::InvalidToken,
                    "a valid Bearer access token is required",
                )
                .with_status(http::StatusCode::UNAUTHORIZED),
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OptionalToken {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(OptionalToken(
            parts.extensions.remove::<Validated>().and_then(|v| v.0),
        ))
    }
}

/// Bearer protection for a route, with its scope requirement:
///
/// ```
/// use std::sync::Arc;
/// use axum::{routing::get, Router};
/// use authgate::{AuthorizationServer, MemoryStore, ResourceProtector, ScopeRequirement, ServerConfig};
/// use authgate_axum::{CurrentToken, RequireBearerLayer};
///
/// let server = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new("https://auth.example"));
/// let protector = Arc::new(ResourceProtector::from_server(&server));
///
/// async fn me(CurrentToken(token): CurrentToken) -> String {
///     token.client_id
/// }
/// let api: Router = Router::new().route(
///     "/api/me",
///     get(me).route_layer(RequireBearerLayer::new(protector, ScopeRequirement::all_of("profile"))),
/// );
/// ```
///
/// A missing token answers 401 with `WWW-Authenticate: Bearer realm=...`; an invalid one
/// 401 `invalid_token`; too little scope 403 `insufficient_scope` (RFC 6750 §3).
#[derive(Clone)]
pub struct RequireBearerLayer {
    protector: Arc<ResourceProtector>,
    required: Arc<ScopeRequirement>,
    optional: bool,
}

impl RequireBearerLayer {
    /// Requires a valid token meeting `required`.
    pub fn new(protector: impl Into<Arc<ResourceProtector>>, required: ScopeRequirement) -> Self {
        Self {
            protector: protector.into(),
            required: Arc::new(required),
            optional: false,
        }
    }

    /// Optional protection: a request without a token passes (the handler sees
    /// `OptionalToken(None)`); one with a bad token is still refused.
    pub fn optional(protector: Arc<ResourceProtector>, required: ScopeRequirement) -> Self {
        Self {
            optional: true,
            ..Self::new(protector, required)
        }
    }
}

impl<S> Layer<S> for RequireBearerLayer {
    type Service = RequireBearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireBearer {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequireBearerLayer`] wraps around a route.
#[derive(Clone)]
pub struct RequireBearer<S> {
    inner: S,
    layer: RequireBearerLayer,
}

impl<S> Service<Request> for RequireBearer<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was polled ready is the one we call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let p = &layer.protector;
            let result: Result<Option<TokenRecord>, BearerError> = if layer.optional {
                p.validate_optional(&parts, &layer.required).await
            } else {
                p.validate(&parts, &layer.required).await.map(Some)
            };
            match result {
                Ok(token) => {
                    parts.extensions.insert(Validated(token));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(e) => Ok(into_response(e.into_response())),
            }
        })
    }
}
