//! The JWT bearer authorization grant (RFC 7523 §2.1 and §3): a client trades a JWT that an
//! issuer this server trusts signed about a user for an access token acting for that user
//! (a partner's identity provider, a service acting for a user it already authenticated).
//!
//! What the assertion must be, or the answer is `invalid_grant` (RFC 7523 §3.1):
//! - signed by an issuer registered with [`JwtBearerGrant::trust`], with one of its keys
//!   whose type fits the algorithm (RS256, PS256, ES256, ES384, EdDSA; never `none`, never
//!   HMAC);
//! - `sub` present: the user the tokens act for, as this server's subject `{issuer}|{sub}`,
//!   or `sub` itself for an issuer that shares this server's users
//!   ([`TrustedIssuer::local_subjects`]); the user consents to nothing here, and the scope
//!   is what the client may have (RFC 7521 §4.1 leaves both to the server);
//! - `typ`, if present, is `JWT` (an access token, `at+jwt`, is no assertion);
//! - `aud` naming this server: its issuer or its token endpoint URL;
//! - `exp` present, not passed and at most [`AssertionRules::max_lifetime`] ahead (`exp -
//!   iat` too); `iat`/`nbf` not in the future, within the leeway;
//! - `jti` present and never seen from that issuer while the assertion lives (the stores'
//!   [`ReplayCache`](crate::ReplayCache), checked last; SECURITY.md row 24).
//!
//! The client authenticates as at any grant; the scope is the client's (or what it asks
//! within it), cut to what the issuer may vouch for ([`TrustedIssuer::scope`]) and to the
//! assertion's own `scope` claim when it has one; `resource` works as everywhere
//! (RFC 8707). No refresh token is issued: the client presents a fresh assertion instead.
//! The issuer is never this server itself.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{issue_with_hooks, DefaultHooks, Grant, GrantHooks, TokenGrant};
use crate::client::metadata_document::DocumentFetcher;
use crate::client::Client;
use crate::client_assertion::{
    check_claims, check_times, secs, spend_jti, unverified_claims, AssertionRules, MAX_ASSERTION,
};
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::identifier::has_control_characters;
use crate::jose::remote::{pick, JwksCache};
use crate::jose::{backend, Algorithm};
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::ResourceOwner;

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An issuer whose assertions the grant accepts, and where its keys are.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    issuer: String,
    keys: IssuerKeys,
    local_subjects: bool,
    scope: Option<Scope>,
    untyped_tokens: bool,
}

#[derive(Debug, Clone)]
enum IssuerKeys {
    Fixed(Value),
    Remote(String),
}

impl TrustedIssuer {
    /// `issuer` with `keys`, every option at its default.
    fn new(issuer: String, keys: IssuerKeys) -> Self {
        Self {
            issuer,
            keys,
            local_subjects: false,
            scope: None,
            untyped_tokens: false,
        }
    }

    /// `issuer` (its `iss` value) with a fixed JWK Set.
    pub fn with_jwks(issuer: impl Into<String>, jwks: Value) -> Self {
        Self::new(issuer.into(), IssuerKeys::Fixed(jwks))
    }

    /// `issuer` with its key set at `jwks_uri` (fetched with the grant's
    /// [`JwtBearerGrant::jwks_fetcher`]).
    pub fn with_jwks_uri(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Self::new(issuer.into(), IssuerKeys::Remote(jwks_uri.into()))
    }

    /// Takes the assertion's `sub` as this server's own subject (the issuer shares this
    /// server's users: a company's own identity provider). Off by default: the subject is
    /// then `{issuer}|{sub}`, so no issuer can act as a local user, nor as another
    /// issuer's.
    #[must_use]
    pub fn local_subjects(mut self, on: bool) -> Self {
        self.local_subjects = on;
        self
    }

    /// The most a token got with this issuer's JWT may carry (the client's scope is a
    /// limit too). Unset: only the client's scope limits it.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Takes this issuer's untyped (or `typ: JWT`) tokens as tokens to exchange, for an
    /// issuer whose access tokens are not typed `at+jwt` (RFC 9068 §2.1). Off by default:
    /// on, its JWTs are no longer told apart by type, so an assertion it signed for the
    /// [`JwtBearerGrant`] could also be exchanged until it expires, however often its
    /// `jti` was spent. Turn it on only for an issuer that signs no assertions, or whose
    /// assertions this server does not take.
    #[must_use]
    pub fn untyped_tokens(mut self, on: bool) -> Self {
        self.untyped_tokens = on;
        self
    }

    /// The issuer's `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// An `act` claim of this issuer's (a chain of actors, RFC 8693 §4.1) in this server's
    /// terms: each `sub` made this server's subject like the token's own, every other
    /// member left out. `None` for anything malformed or nested deeper than eight.
    pub(crate) fn act_of(&self, act: &Value) -> Option<Value> {
        fn walk(issuer: &TrustedIssuer, act: &Value, depth: usize) -> Option<Value> {
            let sub = act
                .get("sub")?
                .as_str()
                .filter(|s| !s.is_empty() && !has_control_characters(s))?;
            let mut out = serde_json::json!({ "sub": issuer.subject_of(sub) });
            if let Some(inner) = act.get("act") {
                out["act"] = walk(issuer, inner, depth.checked_sub(1)?)?;
            }
            Some(out)
        }
        walk(self, act, 8)
    }

    /// `scope` within what this issuer may vouch for: asked for explicitly (`explicit`),
    /// all of it must be; taken by default, it is cut to it. Nothing left of a scope that
    /// was not empty is `invalid_scope`.
    pub(crate) fn narrow(&self, scope: Scope, explicit: bool) -> Result<Scope, OAuth2Error> {
        let Some(limit) = &self.scope else {
            return Ok(scope);
        };
        if explicit && !scope.is_subset_of(limit) {
            return Err(OAuth2Error::invalid_scope(
                "the requested scope exceeds what this token's issuer may vouch for",
            ));
        }
        let narrowed = scope.intersection(limit);
        if narrowed.is_empty() && !scope.is_empty() {
            return Err(OAuth2Error::invalid_scope(
                "this token's issuer may vouch for none of the scope asked for",
            ));
        }
        Ok(narrowed)
    }

    /// This server's subject for the issuer's `sub`.
    pub(crate) fn subject_of(&self, sub: &str) -> String {
        if self.local_subjects {
            sub.to_owned()
        } else {
            format!("{}|{sub}", self.issuer)
        }
    }
}

/// The issuers whose JWTs this server takes, with the keys that check them: shared by
/// the [`JwtBearerGrant`] (their assertions) and the
/// [`TokenExchangeGrant`](crate::grants::TokenExchangeGrant) (their tokens as
/// `subject_token` or `actor_token`). Cheap to clone: clones share one key cache.
#[derive(Clone)]
pub struct TrustedIssuers {
    issuers: HashMap<String, TrustedIssuer>,
    rules: AssertionRules,
    remote: Option<Arc<JwksCache>>,
}

/// What a JWT from a trusted issuer is presented as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtUse {
    /// An assertion (RFC 7523 §2.1): `typ` JWT if any, `jti` single-use, `exp` bounded.
    Assertion,
    /// A token to exchange (RFC 8693): `typ` JWT or `at+jwt` if any; neither `jti` nor a
    /// bound on its lifetime is required (a service may exchange one token several times).
    Token,
}

/// A JWT whose signature, issuer, `sub`, `aud` and times hold.
#[derive(Debug)]
pub(crate) struct Vouched<'a> {
    /// Who signed it.
    pub(crate) issuer: &'a TrustedIssuer,
    /// Its `sub`, as the issuer wrote it.
    pub(crate) sub: String,
    /// Every claim.
    pub(crate) claims: Value,
    /// Its `exp`.
    pub(crate) exp: i64,
    /// Its `jti` (always there for an assertion).
    pub(crate) jti: Option<String>,
    /// The clock reading every check used.
    pub(crate) now: i64,
}

impl TrustedIssuers {
    /// No issuer yet.
    pub fn new() -> Self {
        Self {
            issuers: HashMap::new(),
            rules: AssertionRules::default(),
            remote: None,
        }
    }

    /// Trusts `issuer`'s JWTs.
    #[must_use]
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers.insert(issuer.issuer.clone(), issuer);
        self
    }

    /// Replaces the bounds on assertions (set them before [`Self::jwks_fetcher`]).
    #[must_use]
    pub fn rules(mut self, rules: AssertionRules) -> Self {
        self.rules = rules;
        self
    }

    /// Fetches issuers' `jwks_uri` with `fetcher` (which must bound time and size, and
    /// refuse private addresses outside tests).
    #[must_use]
    pub fn jwks_fetcher(mut self, fetcher: impl DocumentFetcher) -> Self {
        self.remote = Some(Arc::new(JwksCache::new(
            Arc::new(fetcher),
            self.rules.refetch_after,
        )));
        self
    }

    /// Whether no issuer is trusted.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Checks a JWT one of the issuers signed, presented as `used_as`: every rule but the
    /// single use of its `jti`, which is the caller's to spend once its own checks pass.
    /// Failures are `bad` with a description.
    pub(crate) async fn verify(
        &self,
        ctx: &ServerContext,
        jwt: &str,
        used_as: JwtUse,
        bad: fn(&'static str) -> OAuth2Error,
    ) -> Result<Vouched<'_>, OAuth2Error> {
        if jwt.len() > MAX_ASSERTION {
            return Err(bad("the JWT is too large"));
        }
        let (kid, alg, typ) = backend::header(jwt).map_err(|_| bad("the JWT is not a JWS"))?;
        // A JWT typed for another use (a logout token, a DPoP proof; for an assertion,
        // also an access token) is not taken for this one (RFC 8725 §3.11).
        let alg = Algorithm::parse(&alg).ok_or_else(|| {
            bad("the JWT's alg is not an asymmetric algorithm this server accepts")
        })?;
        let claimed =
            unverified_claims(jwt).ok_or_else(|| bad("the JWT's claims are not a JSON object"))?;
        let issuer = claimed["iss"]
            .as_str()
            .and_then(|iss| self.issuers.get(iss))
            .ok_or_else(|| bad("the JWT's issuer is not trusted here"))?;
        // This server's own tokens are checked against its own records, never as an
        // outsider's (a revoked one would pass as a signed JWT).
        if issuer.issuer == ctx.config.issuer {
            return Err(bad("this server's own JWTs are not a trusted issuer's"));
        }
        // Explicit typing keeps the uses apart (RFC 8725 §3.11): an assertion is untyped or
        // `JWT`; a token to exchange is an access token, `at+jwt` (RFC 9068 §2.1), or
        // untyped only for an issuer that does not type its access tokens.
        let typ_ok = match typ.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("jwt") => used_as == JwtUse::Assertion || issuer.untyped_tokens,
            Some("at+jwt" | "application/at+jwt") => used_as == JwtUse::Token,
            Some(_) => false,
        };
        if !typ_ok {
            return Err(bad("the JWT's typ is not the one this use needs"));
        }
        let now = ctx.now();
        let key = match &issuer.keys {
            IssuerKeys::Fixed(jwks) => pick(jwks, kid.as_deref(), alg),
            IssuerKeys::Remote(url) => match &self.remote {
                // The issuer's keys cannot be had: 503, not a verdict on the JWT.
                Some(cache) => cache
                    .key(url, kid.as_deref(), alg, now)
                    .await
                    .map_err(|u| {
                        OAuth2Error::from(crate::error::StorageError::Unavailable(u.0.into()))
                    })?,
                None => {
                    return Err(OAuth2Error::with_description(
                        ErrorCode::ServerError,
                        "an issuer's jwks_uri is trusted but no jwks_fetcher is set",
                    ))
                }
            },
        }
        .ok_or_else(|| bad("no key of the issuer verifies this JWT's kid and alg"))?;
        let claims = backend::verify(jwt, &key, alg)
            .map_err(|_| bad("the JWT's signature does not verify"))?;
        if claims["iss"].as_str() != Some(issuer.issuer.as_str()) {
            return Err(bad("the JWT's issuer is not trusted here"));
        }
        let sub = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && !has_control_characters(s))
            .ok_or_else(|| bad("the JWT has no sub (RFC 7523 section 3)"))?
            .to_owned();
        let c = &ctx.config;
        let ours = [c.issuer.clone(), c.endpoint_url(&c.endpoints.token)];
        let (exp, jti) = match used_as {
            JwtUse::Assertion => check_claims(&claims, &ours, &self.rules, now)
                .map(|(exp, jti)| (exp, Some(jti.to_owned()))),
            JwtUse::Token => {
                check_times(&claims, &ours, &self.rules, now, false).map(|e| (e, None))
            }
        }
        .map_err(bad)?;
        Ok(Vouched {
            issuer,
            sub,
            claims,
            exp,
            jti,
            now,
        })
    }
}

impl Default for TrustedIssuers {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TrustedIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut issuers: Vec<&String> = self.issuers.keys().collect();
        issuers.sort();
        f.debug_struct("TrustedIssuers")
            .field("issuers", &issuers)
            .finish_non_exhaustive()
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`; see the module docs.
pub struct JwtBearerGrant {
    issuers: TrustedIssuers,
    hooks: Arc<dyn GrantHooks>,
}

impl JwtBearerGrant {
    /// The grant trusting no issuer yet (every assertion is refused until one is added).
    pub fn new() -> Self {
        Self::trusting(TrustedIssuers::new())
    }

    /// The grant taking assertions of `issuers`.
    pub fn trusting(issuers: TrustedIssuers) -> Self {
        Self {
            issuers,
            hooks: Arc::new(DefaultHooks),
        }
    }

    /// Trusts `issuer`'s assertions.
    #[must_use]
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers = self.issuers.trust(issuer);
        self
    }

    /// Replaces the bounds on assertions (set them before [`Self::jwks_fetcher`]).
    #[must_use]
    pub fn rules(mut self, rules: AssertionRules) -> Self {
        self.issuers = self.issuers.rules(rules);
        self
    }

    /// Fetches issuers' `jwks_uri` with `fetcher` (which must bound time and size, and
    /// refuse private addresses outside tests).
    #[must_use]
    pub fn jwks_fetcher(mut self, fetcher: impl DocumentFetcher) -> Self {
        self.issuers = self.issuers.jwks_fetcher(fetcher);
        self
    }

    /// The grant with custom hooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: impl GrantHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The user an assertion vouches for and the scope the token gets, once every rule
    /// holds: `narrow` decides the scope from the issuer (before the `jti` is spent, so a
    /// refused request does not use the assertion up).
    async fn owner(
        &self,
        ctx: &ServerContext,
        assertion: &str,
        narrow: impl FnOnce(&Vouched<'_>) -> Result<(Scope, Scope), OAuth2Error>,
    ) -> Result<(ResourceOwner, Scope, Scope), OAuth2Error> {
        let v = self
            .issuers
            .verify(ctx, assertion, JwtUse::Assertion, bad)
            .await?;
        let (scope, ceiling) = narrow(&v)?;
        let rules = &self.issuers.rules;
        let jti = v.jti.as_deref().unwrap_or_default();
        if !spend_jti(
            ctx,
            "jwt_bearer",
            &v.issuer.issuer,
            jti,
            v.exp,
            rules,
            v.now,
        )
        .await?
        {
            return Err(bad("the assertion was already used (its jti)"));
        }
        let leeway = secs(rules.leeway);
        let mut owner = ResourceOwner::subject(v.issuer.subject_of(&v.sub));
        // When the user authenticated, if the issuer says and it is not in the future.
        owner.auth_time = v.claims["auth_time"]
            .as_i64()
            .filter(|t| *t <= v.now.saturating_add(leeway));
        Ok((owner, scope, ceiling))
    }
}

impl Default for JwtBearerGrant {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for JwtBearerGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtBearerGrant")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

impl Grant for JwtBearerGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for JwtBearerGrant {
    fn grant_type(&self) -> &str {
        JWT_BEARER_GRANT_TYPE
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        let assertion = req
            .form_value("assertion")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'assertion'"))?;
        let asked = req.form_value("scope")?;
        let scope = ctx.resolve_scope(client.as_ref(), asked)?;
        let requested = requested_resources(req.form_pairs());
        // The issuer's limit, the resources and their scope, checked before the
        // assertion's jti is spent.
        let (owner, scope, ceiling) = self
            .owner(ctx, assertion, |v| {
                // The most the token may carry: the client's, within what the issuer may
                // vouch for and what the assertion itself says (a `scope` claim).
                let mut ceiling = v.issuer.narrow(client.scope().clone(), false)?;
                let mut scope = v.issuer.narrow(scope, asked.is_some())?;
                match v.claims.get("scope") {
                    None => {}
                    Some(Value::String(s)) => {
                        let said = Scope::parse(s)
                            .map_err(|_| bad("the assertion's scope claim is malformed"))?;
                        if asked.is_some() && !scope.is_subset_of(&said) {
                            return Err(OAuth2Error::invalid_scope(
                                "the requested scope exceeds the assertion's scope claim",
                            ));
                        }
                        scope = scope.intersection(&said);
                        ceiling = ceiling.intersection(&said);
                    }
                    Some(_) => return Err(bad("the assertion's scope claim is malformed")),
                }
                let audience = ctx.config.resources.resolve(&requested, &[])?;
                ctx.config.resources.scope_for(&audience, &scope)?;
                Ok((scope, ceiling))
            })
            .await?;
        let issue = IssueContext::new(client.as_ref(), JWT_BEARER_GRANT_TYPE, scope)
            .owner(&owner)
            .target(&ctx.config.resources, &requested)?;
        // Hooks may narrow but never widen past the issuer's limit either.
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &ceiling).await?;
        // A fresh assertion, not a refresh token, gets the next access token.
        issued.refresh_token = None;
        Ok(issued.into_response())
    }
}

fn bad(description: &'static str) -> OAuth2Error {
    OAuth2Error::invalid_grant(description)
}
