//! `ResourceProtector`: Bearer token protection for resource servers (RFC 6750).

pub mod introspection;
#[cfg(feature = "jose")]
pub mod jwt;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};

use crate::clock::{Clock, SystemClock};
use crate::error::{ErrorCode, OAuth2Error, StorageError};
use crate::generator::TokenGenerator;
use crate::request::{authorization_header, strip_scheme, OAuth2Request};
use crate::response::{quote, OAuth2Response};
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::{TokenKind, TokenRecord, TokenStore};

/// The scope a protected resource needs: none, all of a set, or any one of a set.
///
/// ```
/// use authgate::{Scope, ScopeRequirement};
/// let granted: Scope = "profile email".parse().unwrap();
/// assert!(ScopeRequirement::all_of("profile email").is_met_by(&granted));
/// assert!(!ScopeRequirement::all_of("profile admin").is_met_by(&granted));
/// assert!(ScopeRequirement::any_of("admin email").is_met_by(&granted));
/// // A token no scope can hold is never met, rather than silently ignored:
/// assert!(!ScopeRequirement::all_of("caf\u{e9}").is_met_by(&granted));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRequirement {
    /// The tokens as written, invalid ones included: a token no valid scope can hold makes
    /// the requirement unsatisfiable instead of vanishing (fail closed).
    tokens: Vec<String>,
    any: bool,
}

impl ScopeRequirement {
    /// No scope needed: any valid token.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every token of the space-delimited `scope` is needed.
    pub fn all_of(scope: &str) -> Self {
        Self {
            tokens: split_scope(scope),
            any: false,
        }
    }

    /// At least one token of the space-delimited `scope` is needed.
    pub fn any_of(scope: &str) -> Self {
        Self {
            tokens: split_scope(scope),
            any: true,
        }
    }

    /// Whether a granted scope satisfies the requirement.
    pub fn is_met_by(&self, granted: &Scope) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        if self.any {
            self.tokens.iter().any(|s| granted.contains(s))
        } else {
            self.tokens.iter().all(|s| granted.contains(s))
        }
    }

    /// The required scope, space-delimited (the `scope` attribute of an
    /// `insufficient_scope` challenge).
    pub fn scope(&self) -> String {
        self.tokens.join(" ")
    }

    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

fn split_scope(scope: &str) -> Vec<String> {
    let mut v: Vec<String> = scope
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Finds access tokens in a [`TokenStore`]: by selector, the verifier hash compared in
/// constant time. A [`ResourceProtector`] built with [`ResourceProtector::from_server`]
/// hands one to [`BearerValidator::authenticate_token`].
#[derive(Clone)]
pub struct TokenLookup {
    tokens: Arc<dyn TokenStore>,
    generator: Arc<dyn TokenGenerator>,
}

impl TokenLookup {
    /// A lookup over a token store and the generator that made the tokens.
    pub fn new(tokens: Arc<dyn TokenStore>, generator: Arc<dyn TokenGenerator>) -> Self {
        Self { tokens, generator }
    }

    /// The access token a presented string names, whatever its state, or `None`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn find_access_token(
        &self,
        token: &str,
    ) -> Result<Option<TokenRecord>, StorageError> {
        find_access_token(self.tokens.as_ref(), self.generator.as_ref(), token).await
    }
}

/// The access token of `tokens` a presented string names (made by `generator`: opaque or
/// JWT), whatever its state, or `None`: the one lookup the Bearer check and token exchange
/// share.
pub(crate) async fn find_access_token(
    tokens: &dyn TokenStore,
    generator: &dyn TokenGenerator,
    token: &str,
) -> Result<Option<TokenRecord>, StorageError> {
    let Some(key) = crate::generator::access_token_key(generator, token) else {
        return Ok(None);
    };
    Ok(tokens
        .find_token(&key.selector)
        .await?
        .filter(|t| t.kind == TokenKind::Access && t.verifier_hash.ct_eq(&key.verifier_hash)))
}

impl fmt::Debug for TokenLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenLookup").finish_non_exhaustive()
    }
}

/// Validates Bearer tokens. Every method has a default; override one at a time (the
/// Authlib `BearerTokenValidator` habit).
///
/// ```
/// use authgate::{async_trait, BearerValidator, TokenRecord};
/// /// Accepts tokens up to 30 s past their expiry (clock skew between machines).
/// struct Lenient;
/// #[async_trait]
/// impl BearerValidator for Lenient {
///     fn token_expired(&self, token: &TokenRecord, now: i64) -> bool {
///         now >= token.expires_at + 30
///     }
/// }
/// ```
#[async_trait]
pub trait BearerValidator: Send + Sync + 'static {
    /// The token record for a presented token string, or `None` when unknown. The default
    /// asks the protector's [`TokenLookup`]; without one, every token is unknown.
    async fn authenticate_token(
        &self,
        token: &str,
        lookup: Option<&TokenLookup>,
    ) -> Result<Option<TokenRecord>, StorageError> {
        match lookup {
            Some(l) => l.find_access_token(token).await,
            None => Ok(None),
        }
    }

    /// Whether the request itself is unacceptable (answered `invalid_request`): its
    /// method, URI and headers are all here, as a proof-of-possession check needs them.
    fn request_invalid(&self, _method: &Method, _uri: &Uri, _headers: &HeaderMap) -> bool {
        false
    }

    /// Whether the token is revoked.
    fn token_revoked(&self, token: &TokenRecord) -> bool {
        token.revoked || token.rotated
    }

    /// Whether the token is expired at `now` (seconds).
    fn token_expired(&self, token: &TokenRecord, now: i64) -> bool {
        now >= token.expires_at
    }

    /// Whether the token's scope falls short of the requirement.
    fn scope_insufficient(&self, token: &TokenRecord, required: &ScopeRequirement) -> bool {
        !required.is_met_by(&token.scope)
    }

    /// Whether the token is for another resource than this one (RFC 8707; RFC 9068 §4),
    /// as [`ExpectedAudience`] describes.
    fn audience_mismatch(&self, token: &TokenRecord, audience: &ExpectedAudience) -> bool {
        let aud = &token.details().audience;
        let names = |id: &str| aud.iter().any(|a| a == id);
        match audience {
            ExpectedAudience::Any => false,
            ExpectedAudience::Default => !aud.is_empty(),
            ExpectedAudience::Resource(id) => !names(id),
            ExpectedAudience::ResourceOrDefault(id) => !aud.is_empty() && !names(id),
        }
    }
}

/// The tokens a [`ResourceProtector`] accepts, by audience.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedAudience {
    /// Only tokens issued for no resource (the default): a token aimed at a resource is
    /// refused.
    Default,
    /// Only tokens aimed at this resource (among others, maybe): its identifier must be in
    /// the token's audience (RFC 9068 §4). Tokens for no resource are refused.
    Resource(String),
    /// Tokens aimed at this resource, and tokens issued for no resource: for an API of the
    /// authorization server itself, which the default audience names (the reference
    /// server's `/api/me`).
    ResourceOrDefault(String),
    /// Every token, whatever its audience: for the authorization server's own endpoints
    /// (UserInfo serves any token carrying `openid`).
    Any,
}

/// The validator with every default.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultBearerValidator;

impl BearerValidator for DefaultBearerValidator {}

/// Protects resources with Bearer tokens.
///
/// The token is read from `Authorization: Bearer` (RFC 6750 §2.1); from the form body
/// (§2.2) or the query (§2.3) only when enabled. A missing token answers 401 with a bare
/// `WWW-Authenticate: Bearer realm="..."`; a bad or expired one 401 with
/// `error="invalid_token"`; too little scope 403 with `error="insufficient_scope"`.
///
/// ```
/// # use authgate::*;
/// let server = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new("https://a.example"));
/// let protector = ResourceProtector::from_server(&server).realm("api");
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let (request, ()) = http::Request::get("/api").body(()).unwrap().into_parts();
/// let refused = rt.block_on(protector.validate(&request, &ScopeRequirement::none())).unwrap_err();
/// assert_eq!(refused.status(), 401); // no token
/// ```
#[derive(Clone)]
pub struct ResourceProtector {
    validator: Arc<dyn BearerValidator>,
    lookup: Option<TokenLookup>,
    clock: Arc<dyn Clock>,
    realm: Option<String>,
    resource_metadata: Option<String>,
    audience: ExpectedAudience,
    allow_form: bool,
    allow_query: bool,
}

/// Why a request was refused, ready to become a response.
#[derive(Debug, Clone)]
pub struct BearerError {
    error: Option<OAuth2Error>,
    realm: Option<String>,
    required: Option<String>,
    resource_metadata: Option<String>,
}

impl ResourceProtector {
    /// A protector over a validator, with no token lookup (the validator's
    /// `authenticate_token` finds tokens itself), the system clock and no realm.
    pub fn new(validator: impl BearerValidator) -> Self {
        Self {
            validator: Arc::new(validator),
            lookup: None,
            clock: Arc::new(SystemClock),
            realm: None,
            resource_metadata: None,
            audience: ExpectedAudience::Default,
            allow_form: false,
            allow_query: false,
        }
    }

    /// The same, from the server's shared context (what an endpoint module holds).
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            validator: Arc::new(DefaultBearerValidator),
            lookup: Some(TokenLookup::new(ctx.tokens.clone(), ctx.generator.clone())),
            clock: ctx.clock.clone(),
            realm: Some(ctx.config.realm.clone()),
            resource_metadata: None,
            audience: ExpectedAudience::Default,
            allow_form: false,
            allow_query: false,
        }
    }

    /// Replaces the validator (its hooks), keeping the token lookup.
    #[must_use]
    pub fn with_validator(mut self, validator: impl BearerValidator) -> Self {
        self.validator = Arc::new(validator);
        self
    }

    /// Sets the realm of challenges.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Points every challenge at the resource's metadata document (RFC 9728 §5.1): its
    /// `WWW-Authenticate: Bearer` carries `resource_metadata="url"`, so a client that met
    /// the `401` can find the authorization servers. Build the URL with
    /// [`crate::protected_resource::well_known_url`].
    #[must_use]
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Which audiences this protector accepts (RFC 8707): by default only tokens issued
    /// for no resource; [`ExpectedAudience::Resource`] with the resource's identifier only
    /// those aimed at it. Others are refused with `invalid_token`.
    #[must_use]
    pub fn audience(mut self, audience: ExpectedAudience) -> Self {
        self.audience = audience;
        self
    }

    /// How this protector accepts tokens, as RFC 9728's `bearer_methods_supported` names
    /// them: `header`, then `body` and `query` when allowed.
    pub fn bearer_methods(&self) -> Vec<String> {
        let mut m = vec!["header".to_owned()];
        if self.allow_form {
            m.push("body".to_owned());
        }
        if self.allow_query {
            m.push("query".to_owned());
        }
        m
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Accepts `access_token` in a form body (RFC 6750 §2.2).
    #[must_use]
    pub fn allow_form_token(mut self, on: bool) -> Self {
        self.allow_form = on;
        self
    }

    /// Accepts `access_token` in the query (RFC 6750 §2.3; RFC 9700 §4.3.2 advises
    /// against it).
    #[must_use]
    pub fn allow_query_token(mut self, on: bool) -> Self {
        self.allow_query = on;
        self
    }

    /// Validates the token of a request: its `Authorization` header and, when enabled, its
    /// query. The whole request head is taken (method and URI included) so that a
    /// sender-constraining check can see what was requested.
    ///
    /// # Errors
    /// A [`BearerError`] to answer with.
    pub async fn validate(
        &self,
        request: &http::request::Parts,
        required: &ScopeRequirement,
    ) -> Result<TokenRecord, BearerError> {
        match self.validate_optional(request, required).await? {
            Some(t) => Ok(t),
            None => Err(self.challenge(None, required)),
        }
    }

    /// Like [`Self::validate`], but a request with no token at all is `Ok(None)` (optional
    /// protection); a bad token is still refused.
    ///
    /// # Errors
    /// A [`BearerError`] to answer with.
    pub async fn validate_optional(
        &self,
        request: &http::request::Parts,
        required: &ScopeRequirement,
    ) -> Result<Option<TokenRecord>, BearerError> {
        // The query is read when it may carry the token, and also when it names one it may
        // not carry: a token sent two ways is refused either way (RFC 6750 §2).
        let query_pairs: Vec<(String, String)> = match request.uri.query() {
            Some(q) if self.allow_query || q.contains("access_token") => {
                form_urlencoded::parse(q.as_bytes()).into_owned().collect()
            }
            _ => Vec::new(),
        };
        let head = (&request.method, &request.uri, &request.headers);
        self.check(head, &query_pairs, &[], required).await
    }

    /// Validates an [`OAuth2Request`], reading the form body too when enabled.
    ///
    /// # Errors
    /// A [`BearerError`] to answer with.
    pub async fn validate_request(
        &self,
        req: &OAuth2Request,
        required: &ScopeRequirement,
    ) -> Result<TokenRecord, BearerError> {
        let head = (req.method(), req.uri(), req.headers());
        match self
            .check(head, req.query_pairs(), req.form_pairs(), required)
            .await?
        {
            Some(t) => Ok(t),
            None => Err(self.challenge(None, required)),
        }
    }

    /// [`Self::check_token`] with its `tracing` event: a refusal at `info` (`warn` and
    /// `error` for store failures), an accepted token or a request without one at `debug`.
    async fn check(
        &self,
        head: (&Method, &Uri, &HeaderMap),
        query: &[(String, String)],
        form: &[(String, String)],
        required: &ScopeRequirement,
    ) -> Result<Option<TokenRecord>, BearerError> {
        let answer = self.check_token(head, query, form, required).await;
        match &answer {
            Ok(Some(t)) => tracing::debug!(
                endpoint = "bearer",
                client_id = t.client_id.as_str(),
                "accepted"
            ),
            Ok(None) => tracing::debug!(endpoint = "bearer", "no token"),
            Err(e) => match e.error() {
                Some(e) => crate::trace::refusal("bearer", None, e),
                None => tracing::debug!(endpoint = "bearer", "no token"),
            },
        }
        answer
    }

    async fn check_token(
        &self,
        (method, uri, headers): (&Method, &Uri, &HeaderMap),
        query: &[(String, String)],
        form: &[(String, String)],
        required: &ScopeRequirement,
    ) -> Result<Option<TokenRecord>, BearerError> {
        let err = |e: OAuth2Error| self.challenge(Some(e), required);
        if self.validator.request_invalid(method, uri, headers) {
            return Err(err(OAuth2Error::invalid_request(
                "the request is not acceptable",
            )
            .reason("request_refused_by_validator")));
        }
        let places = Places {
            query,
            form,
            allow_query: self.allow_query,
            allow_form: self.allow_form,
        };
        let Some(token) = extract_token(headers, &places).map_err(err)? else {
            return Ok(None);
        };
        let invalid = |d: &'static str, reason: &'static str| {
            err(OAuth2Error::with_description(ErrorCode::InvalidToken, d).reason(reason))
        };
        let record = self
            .validator
            .authenticate_token(token, self.lookup.as_ref())
            .await
            .map_err(|e| err(e.into()))?
            .ok_or_else(|| invalid("the access token is invalid", "token_unknown"))?;
        if self.validator.token_revoked(&record) {
            return Err(invalid("the access token was revoked", "token_revoked"));
        }
        if self.validator.token_expired(&record, self.clock.now()) {
            return Err(invalid("the access token expired", "token_expired"));
        }
        if self.validator.audience_mismatch(&record, &self.audience) {
            return Err(invalid(
                "the access token is for another resource",
                "audience_mismatch",
            ));
        }
        if self.validator.scope_insufficient(&record, required) {
            return Err(err(OAuth2Error::with_description(
                ErrorCode::InsufficientScope,
                "the access token lacks the scope this resource requires",
            )
            .reason("scope_insufficient")));
        }
        Ok(Some(record))
    }

    /// A refusal with this protector's realm: for an endpoint that, past the token check,
    /// finds the token unusable for another reason.
    pub fn refusal(&self, error: OAuth2Error) -> BearerError {
        self.challenge(Some(error), &ScopeRequirement::none())
    }

    fn challenge(&self, error: Option<OAuth2Error>, required: &ScopeRequirement) -> BearerError {
        BearerError {
            error,
            realm: self.realm.clone(),
            required: (!required.is_empty()).then(|| required.scope()),
            resource_metadata: self.resource_metadata.clone(),
        }
    }
}

impl fmt::Debug for ResourceProtector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceProtector")
            .field("realm", &self.realm)
            .field("allow_form", &self.allow_form)
            .field("allow_query", &self.allow_query)
            .finish_non_exhaustive()
    }
}

impl BearerError {
    /// A refusal of the Bearer token a request carried (`error`), or of a request that
    /// carried none (`None`), with a `realm` in the challenge: what endpoints protected by
    /// tokens of their own answer (RFC 7591 §3's initial access token, RFC 7592's
    /// registration access token).
    pub fn new(error: Option<OAuth2Error>, realm: Option<String>) -> Self {
        Self {
            error,
            realm,
            required: None,
            resource_metadata: None,
        }
    }

    /// The protocol error; `None` when the request carried no token (RFC 6750 §3.1: then
    /// no error code is sent).
    pub fn error(&self) -> Option<&OAuth2Error> {
        self.error.as_ref()
    }

    /// The HTTP status: 401, 403 for `insufficient_scope`, 400 for `invalid_request`, 503
    /// when the token store is unavailable.
    pub fn status(&self) -> StatusCode {
        self.error
            .as_ref()
            .map_or(StatusCode::UNAUTHORIZED, OAuth2Error::status)
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    pub fn www_authenticate(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.realm {
            parts.push(format!("realm={}", quote(r)));
        }
        if let Some(e) = &self.error {
            parts.push(format!("error={}", quote(e.code().as_str())));
            if let Some(d) = e.error_description() {
                parts.push(format!("error_description={}", quote(d)));
            }
            if e.code() == ErrorCode::InsufficientScope {
                if let Some(s) = &self.required {
                    parts.push(format!("scope={}", quote(s)));
                }
            }
        }
        if let Some(url) = &self.resource_metadata {
            parts.push(format!("resource_metadata={}", quote(url)));
        }
        if parts.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", parts.join(", "))
        }
    }

    /// The response: status, `WWW-Authenticate`, and a JSON body.
    pub fn into_response(self) -> OAuth2Response {
        let body = match &self.error {
            Some(e) => e.to_json(),
            None => serde_json::json!({
                "error_description": "a Bearer access token is required"
            }),
        };
        let mut res = OAuth2Response::json(self.status(), &body);
        let unavailable = self.status() == StatusCode::SERVICE_UNAVAILABLE;
        if unavailable {
            res.headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::response::RETRY_AFTER_UNAVAILABLE),
            );
        } else if let Ok(v) = HeaderValue::from_str(&self.www_authenticate()) {
            res.headers.insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => e.fmt(f),
            None => f.write_str("no access token"),
        }
    }
}

impl std::error::Error for BearerError {}

/// Where else than the header a token may be, and whether it is taken from there.
struct Places<'a> {
    query: &'a [(String, String)],
    form: &'a [(String, String)],
    allow_query: bool,
    allow_form: bool,
}

/// The token from exactly one of: the Authorization header, the form, the query. A token
/// present in more than one place is `invalid_request` (RFC 6750 §2), even when a place it
/// is in is not enabled; a token only in a place that is not enabled is no token.
fn extract_token<'a>(
    headers: &'a HeaderMap,
    places: &Places<'a>,
) -> Result<Option<&'a str>, OAuth2Error> {
    let (query, form) = (places.query, places.form);
    let mut found: Vec<&str> = Vec::with_capacity(1);
    if let Some(h) = authorization_header(headers)? {
        if let Some(tok) = strip_scheme(h, "Bearer") {
            if tok.is_empty() || !tok.bytes().all(is_b64token_char) {
                return Err(OAuth2Error::with_description(
                    ErrorCode::InvalidToken,
                    "malformed Bearer token",
                )
                .reason("token_malformed"));
            }
            found.push(tok);
        }
    }
    let header_token = found.pop();
    let in_form = form.iter().filter(|(k, _)| k == "access_token");
    let in_query = query.iter().filter(|(k, _)| k == "access_token");
    let others = in_form.clone().count() + in_query.clone().count();
    if others + usize::from(header_token.is_some()) > 1 {
        return Err(OAuth2Error::invalid_request(
            "the access token was sent by more than one method (RFC 6750 section 2)",
        )
        .reason("token_sent_twice"));
    }
    if header_token.is_some() {
        return Ok(header_token);
    }
    let mut allowed = in_form
        .filter(|_| places.allow_form)
        .chain(in_query.filter(|_| places.allow_query));
    Ok(allowed.next().map(|(_, v)| v.as_str()))
}

/// RFC 6750 §2.1 `b64token`.
fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}
