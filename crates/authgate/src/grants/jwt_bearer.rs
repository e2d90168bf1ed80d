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
//! within it), `resource` works as everywhere (RFC 8707). No refresh token is issued: the
//! client presents a fresh assertion instead.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{issue_with_hooks, DefaultHooks, Grant, GrantHooks, TokenGrant};
use crate::client::metadata_document::DocumentFetcher;
use crate::client::Client;
use crate::client_assertion::{
    check_claims, secs, spend_jti, unverified_claims, AssertionRules, MAX_ASSERTION,
};
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::identifier::has_control_characters;
use crate::jose::remote::{pick, JwksCache};
use crate::jose::{backend, Algorithm};
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
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
}

#[derive(Debug, Clone)]
enum IssuerKeys {
    Fixed(Value),
    Remote(String),
}

impl TrustedIssuer {
    /// `issuer` (its `iss` value) with a fixed JWK Set.
    pub fn with_jwks(issuer: impl Into<String>, jwks: Value) -> Self {
        Self {
            issuer: issuer.into(),
            keys: IssuerKeys::Fixed(jwks),
            local_subjects: false,
        }
    }

    /// `issuer` with its key set at `jwks_uri` (fetched with the grant's
    /// [`JwtBearerGrant::jwks_fetcher`]).
    pub fn with_jwks_uri(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            keys: IssuerKeys::Remote(jwks_uri.into()),
            local_subjects: false,
        }
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

    /// This server's subject for the issuer's `sub`.
    fn subject_of(&self, sub: &str) -> String {
        if self.local_subjects {
            sub.to_owned()
        } else {
            format!("{}|{sub}", self.issuer)
        }
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`; see the module docs.
pub struct JwtBearerGrant {
    issuers: HashMap<String, TrustedIssuer>,
    rules: AssertionRules,
    remote: Option<JwksCache>,
    hooks: Arc<dyn GrantHooks>,
}

impl JwtBearerGrant {
    /// The grant trusting no issuer yet (every assertion is refused until one is added).
    pub fn new() -> Self {
        Self {
            issuers: HashMap::new(),
            rules: AssertionRules::default(),
            remote: None,
            hooks: Arc::new(DefaultHooks),
        }
    }

    /// Trusts `issuer`'s assertions.
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
        self.remote = Some(JwksCache::new(Arc::new(fetcher), self.rules.refetch_after));
        self
    }

    /// The grant with custom hooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: impl GrantHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The user an assertion vouches for, once every rule holds.
    async fn owner(
        &self,
        ctx: &ServerContext,
        assertion: &str,
    ) -> Result<ResourceOwner, OAuth2Error> {
        if assertion.len() > MAX_ASSERTION {
            return Err(bad("the assertion is too large"));
        }
        let (kid, alg, typ) =
            backend::header(assertion).map_err(|_| bad("the assertion is not a JWS"))?;
        // A JWT typed for another use (an access token, `at+jwt`) is not an assertion
        // (RFC 8725 §3.11).
        if typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("jwt"))
        {
            return Err(bad("the assertion's typ is another kind of JWT"));
        }
        let alg = Algorithm::parse(&alg).ok_or_else(|| {
            bad("the assertion's alg is not an asymmetric algorithm this server accepts")
        })?;
        let claimed = unverified_claims(assertion)
            .ok_or_else(|| bad("the assertion's claims are not a JSON object"))?;
        let issuer = claimed["iss"]
            .as_str()
            .and_then(|iss| self.issuers.get(iss))
            .ok_or_else(|| bad("the assertion's issuer is not trusted here"))?;
        let now = ctx.now();
        let key = match &issuer.keys {
            IssuerKeys::Fixed(jwks) => pick(jwks, kid.as_deref(), alg),
            IssuerKeys::Remote(url) => match &self.remote {
                // The issuer's keys cannot be had: 503, not a verdict on the assertion.
                Some(cache) => cache
                    .key(url, kid.as_deref(), alg, now)
                    .await
                    .map_err(|u| {
                        OAuth2Error::from(crate::error::StorageError::Unavailable(u.0.into()))
                    })?,
                None => {
                    return Err(OAuth2Error::with_description(
                        ErrorCode::ServerError,
                        "an issuer's jwks_uri is trusted but the grant has no jwks_fetcher",
                    ))
                }
            },
        }
        .ok_or_else(|| bad("no key of the issuer verifies this assertion's kid and alg"))?;
        let claims = backend::verify(assertion, &key, alg)
            .map_err(|_| bad("the assertion's signature does not verify"))?;
        if claims["iss"].as_str() != Some(issuer.issuer.as_str()) {
            return Err(bad("the assertion's issuer is not trusted here"));
        }
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && !has_control_characters(s))
            .ok_or_else(|| bad("the assertion has no sub (RFC 7523 section 3)"))?;
        let c = &ctx.config;
        let ours = [c.issuer.clone(), c.endpoint_url(&c.endpoints.token)];
        let (exp, jti) = check_claims(&claims, &ours, &self.rules, now).map_err(bad)?;
        if !spend_jti(
            ctx,
            "jwt_bearer",
            &issuer.issuer,
            jti,
            exp,
            &self.rules,
            now,
        )
        .await?
        {
            return Err(bad("the assertion was already used (its jti)"));
        }
        let leeway = secs(self.rules.leeway);
        let mut owner = ResourceOwner::subject(issuer.subject_of(subject));
        // When the user authenticated, if the issuer says and it is not in the future.
        owner.auth_time = claims["auth_time"]
            .as_i64()
            .filter(|t| *t <= now.saturating_add(leeway));
        Ok(owner)
    }
}

impl Default for JwtBearerGrant {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for JwtBearerGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut issuers: Vec<&String> = self.issuers.keys().collect();
        issuers.sort();
        f.debug_struct("JwtBearerGrant")
            .field("issuers", &issuers)
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
        let scope = ctx.resolve_scope(client.as_ref(), req.form_value("scope")?)?;
        // Resources and their scope checked before the assertion's jti is spent.
        let requested = requested_resources(req.form_pairs());
        let audience = ctx.config.resources.resolve(&requested, &[])?;
        ctx.config.resources.scope_for(&audience, &scope)?;
        let owner = self.owner(ctx, assertion).await?;
        let issue = IssueContext::new(client.as_ref(), JWT_BEARER_GRANT_TYPE, scope)
            .owner(&owner)
            .target(&ctx.config.resources, &requested)?;
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, client.scope()).await?;
        // A fresh assertion, not a refresh token, gets the next access token.
        issued.refresh_token = None;
        Ok(issued.into_response())
    }
}

fn bad(description: &'static str) -> OAuth2Error {
    OAuth2Error::invalid_grant(description)
}
