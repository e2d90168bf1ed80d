//! Token exchange (RFC 8693): a client (a service in a call chain) trades an access token
//! it received for another, aimed at the next service, acting for the same user —
//! impersonation — or, with an `actor_token`, for the user through itself — delegation,
//! recorded in an `act` claim (nested along a chain, §4.1).
//!
//! - `subject_token` (with `subject_token_type`
//!   `urn:ietf:params:oauth:token-type:access_token` or `...:jwt`) must be a live access
//!   token of this server or, with `TokenExchangeGrant::trusting` (the `jose` feature), a
//!   JWT signed by a `TrustedIssuer`: `typ: at+jwt` (or untyped, for an issuer allowed
//!   `untyped_tokens`), its `aud` this server, `exp` not passed; its user `{issuer}|{sub}`
//!   unless the issuer shares this server's users, and so every `sub` of its `act` chain;
//!   its `scope` claim (or else the client's scope) as the ceiling, within the client's
//!   scope and the issuer's limit. `actor_token` likewise when sent (then
//!   `actor_token_type` is required).
//! - `resource` and `audience` name the target (each a registered resource, RFC 8707;
//!   `invalid_target` otherwise); `scope` may only narrow the subject token's.
//! - `requested_token_type`, when sent, must be the access token type; the answer carries
//!   `issued_token_type` (§2.2.1). No refresh token is issued.
//! - Who may exchange what is an [`ExchangePolicy`]'s decision; the default refuses every
//!   exchange, so nothing is exchanged until the application says.
//! - An invalid or unacceptable `subject_token` or `actor_token`, and an exchange the
//!   policy refuses, are `invalid_request`; an unknown target is `invalid_target`
//!   (RFC 8693 §2.2.2).
//! - The new token joins the subject token's grant family when the subject is this
//!   server's token: revoking that family (a code replay, a refresh token reuse, the
//!   user's consent withdrawn) reaches it. A trusted issuer's JWT starts a family of its
//!   own.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

#[cfg(feature = "jose")]
use super::jwt_bearer::{JwtUse, TrustedIssuers};
use super::{issue_with_hooks, DefaultHooks, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::{ResourceOwner, TokenRecord};

/// `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a JWT (RFC 8693 §3).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A token presented to an exchange, once checked.
#[non_exhaustive]
#[derive(Debug)]
pub enum ExchangeSubject {
    /// A live access token of this server.
    Issued(TokenRecord),
    /// A JWT a trusted issuer signed.
    Trusted(TrustedToken),
}

/// A JWT from a trusted issuer (`TrustedIssuer`, with the `jose` feature), presented to
/// an exchange.
#[non_exhaustive]
#[derive(Debug)]
pub struct TrustedToken {
    /// Its issuer (`iss`).
    pub issuer: String,
    /// This server's subject for its `sub` (`{issuer}|{sub}` unless the issuer shares
    /// this server's users).
    pub subject: String,
    /// The most an exchanged token may carry: its `scope` claim, or else the client's,
    /// within the issuer's limit.
    pub scope: Scope,
    /// Every claim, as the issuer wrote them.
    pub claims: Value,
    /// Its `act` claim in this server's terms (each actor's `sub` namespaced like the
    /// token's own subject), if it had a well-formed one.
    pub act: Option<Value>,
}

impl ExchangeSubject {
    /// The user (or, for a token of a client acting for itself, nothing).
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Issued(t) => t.subject.as_deref(),
            Self::Trusted(t) => Some(&t.subject),
        }
    }

    /// Who issued it: `None` for this server's own tokens.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Self::Issued(_) => None,
            Self::Trusted(t) => Some(&t.issuer),
        }
    }

    /// Its scope: the most an exchanged token may carry.
    pub fn scope(&self) -> &Scope {
        match self {
            Self::Issued(t) => &t.scope,
            Self::Trusted(t) => &t.scope,
        }
    }

    /// The `act` claim it carries (a delegation chain already recorded).
    fn act(&self) -> Option<Value> {
        match self {
            Self::Issued(t) => t.details().claims.get("act").cloned(),
            Self::Trusted(t) => t.act.clone(),
        }
    }

    /// Who acted, as the `sub` of an `act` claim: the user, else the client.
    fn actor_name(&self) -> &str {
        match self {
            Self::Issued(t) => t.subject.as_deref().unwrap_or(&t.client_id),
            Self::Trusted(t) => &t.subject,
        }
    }
}

/// An exchange about to happen, for the [`ExchangePolicy`] to judge.
#[non_exhaustive]
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    /// The client asking.
    pub client: &'a dyn Client,
    /// The token it presents as the subject.
    pub subject: &'a ExchangeSubject,
    /// The actor's token, for delegation; `None` for impersonation.
    pub actor: Option<&'a ExchangeSubject>,
    /// The resources the new token is for (empty: the server's default audience).
    pub audience: &'a [String],
    /// The scope it would carry.
    pub scope: &'a Scope,
}

/// Decides who may exchange what (RFC 8693 §5: the server must decide, per client, which
/// tokens it may exchange for which targets).
pub trait ExchangePolicy: Send + Sync + 'static {
    /// Whether the exchange may happen.
    fn allows(&self, request: &ExchangeRequest<'_>) -> bool;
}

impl<F> ExchangePolicy for F
where
    F: Fn(&ExchangeRequest<'_>) -> bool + Send + Sync + 'static,
{
    fn allows(&self, request: &ExchangeRequest<'_>) -> bool {
        self(request)
    }
}

/// The default policy: no exchange at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl ExchangePolicy for DenyAll {
    fn allows(&self, _request: &ExchangeRequest<'_>) -> bool {
        false
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`; see the module docs.
pub struct TokenExchangeGrant {
    policy: Arc<dyn ExchangePolicy>,
    hooks: Arc<dyn GrantHooks>,
    #[cfg(feature = "jose")]
    issuers: TrustedIssuers,
}

impl TokenExchangeGrant {
    /// The grant with the default policy ([`DenyAll`]).
    pub fn new() -> Self {
        Self {
            policy: Arc::new(DenyAll),
            hooks: Arc::new(DefaultHooks),
            #[cfg(feature = "jose")]
            issuers: TrustedIssuers::new(),
        }
    }

    #[cfg(feature = "jose")]
    /// Takes JWTs of `issuers` as `subject_token` and `actor_token` too (clone the set
    /// the [`JwtBearerGrant`](crate::JwtBearerGrant) uses to share its key cache).
    #[must_use]
    pub fn trusting(mut self, issuers: TrustedIssuers) -> Self {
        self.issuers = issuers;
        self
    }

    /// Replaces the policy.
    #[must_use]
    pub fn policy(mut self, policy: impl ExchangePolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The grant with custom hooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: impl GrantHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }
}

impl Default for TokenExchangeGrant {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TokenExchangeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TokenExchangeGrant");
        #[cfg(feature = "jose")]
        d.field("issuers", &self.issuers);
        d.finish_non_exhaustive()
    }
}

impl Grant for TokenExchangeGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for TokenExchangeGrant {
    fn grant_type(&self) -> &str {
        TOKEN_EXCHANGE_GRANT_TYPE
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        if let Some(t) = req.form_value("requested_token_type")? {
            if t != ACCESS_TOKEN_TYPE {
                return Err(OAuth2Error::invalid_request(
                    "requested_token_type: this server issues access tokens only",
                ));
            }
        }
        let subject = self
            .presented(ctx, req, client.as_ref(), "subject_token", false)
            .await?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'subject_token'"))?;
        let actor = self
            .presented(ctx, req, client.as_ref(), "actor_token", true)
            .await?;
        // Targets: `resource` and `audience` (RFC 8693 §2.1), each a registered resource.
        let mut targets = requested_resources(req.form_pairs());
        targets.extend(
            req.form_pairs()
                .iter()
                .filter(|(k, v)| k == "audience" && !v.is_empty())
                .map(|(_, v)| v.clone()),
        );
        let ceiling = subject.scope().clone();
        let scope = match req.form_value("scope")? {
            None => ceiling.clone(),
            Some(s) => {
                let s = Scope::parse(s)?;
                if !s.is_subset_of(&ceiling) {
                    return Err(OAuth2Error::invalid_scope(
                        "the requested scope exceeds the subject token's",
                    ));
                }
                if s.is_empty() {
                    ceiling.clone()
                } else {
                    s
                }
            }
        };
        let owner = subject.subject().map(|sub| {
            let mut o = ResourceOwner::subject(sub.to_owned());
            if let ExchangeSubject::Issued(t) = &subject {
                o.username.clone_from(&t.username);
            }
            o
        });
        let mut issue = IssueContext::new(client.as_ref(), TOKEN_EXCHANGE_GRANT_TYPE, scope);
        if let Some(o) = &owner {
            issue = issue.owner(o);
        }
        if let ExchangeSubject::Issued(t) = &subject {
            issue = issue.family(t.family);
        }
        // The subject token's audience is not a ceiling here: moving to another service
        // is the point; the policy decides which moves are allowed.
        let mut issue = issue.target(&ctx.config.resources, &targets)?;
        let allowed = self.policy.allows(&ExchangeRequest {
            client: client.as_ref(),
            subject: &subject,
            actor: actor.as_ref(),
            audience: &issue.audience,
            scope: &issue.scope,
        });
        if !allowed {
            // RFC 8693 §2.2.2: tokens unacceptable by policy are invalid_request.
            return Err(OAuth2Error::invalid_request(
                "this client may not exchange this token for this target",
            ));
        }
        if let Some(actor) = &actor {
            // Delegation (§4.1): the actor, and before it whoever acted in the subject
            // token, nested.
            let mut act = json!({ "sub": actor.actor_name() });
            if let Some(prior) = subject.act() {
                act["act"] = prior;
            }
            issue.details_mut().claims.insert("act".into(), act);
        } else if let Some(prior) = subject.act() {
            // Impersonation keeps the chain already recorded.
            issue.details_mut().claims.insert("act".into(), prior);
        }
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &ceiling).await?;
        issued.refresh_token = None;
        issued
            .extra
            .insert("issued_token_type".into(), Value::from(ACCESS_TOKEN_TYPE));
        Ok(issued.into_response())
    }
}

impl TokenExchangeGrant {
    /// The token named by `name` (with its type in `type_name`), if sent: a live access
    /// token of this server, or a trusted issuer's JWT. Anything else is `invalid_request`
    /// (RFC 8693 §2.2.2).
    async fn presented(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: &dyn Client,
        name: &str,
        actor: bool,
    ) -> Result<Option<ExchangeSubject>, OAuth2Error> {
        let type_name = &format!("{name}_type");
        let Some(value) = req.form_value(name)? else {
            if req.form_value(type_name)?.is_some() {
                return Err(OAuth2Error::invalid_request(
                    "a token type was sent without its token",
                ));
            }
            return Ok(None);
        };
        match req.form_value(type_name)? {
            Some(ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE) => {}
            Some(_) => {
                return Err(OAuth2Error::invalid_request(
                    "unsupported token type: this server exchanges access tokens and JWTs",
                ))
            }
            None => {
                return Err(OAuth2Error::invalid_request(
                    "the token's type is required (RFC 8693 section 2.1)",
                ))
            }
        }
        // One of this server's access tokens (opaque or JWT), whichever type was named.
        let found =
            crate::resource::find_access_token(ctx.tokens.as_ref(), ctx.generator.as_ref(), value)
                .await?;
        if let Some(record) = found {
            return if record.is_active(ctx.now()) {
                Ok(Some(ExchangeSubject::Issued(record)))
            } else {
                Err(unacceptable("the presented token is expired or revoked"))
            };
        }
        #[cfg(feature = "jose")]
        if !self.issuers.is_empty() && value.split('.').count() == 3 {
            return self.trusted(ctx, client, value, actor).await.map(Some);
        }
        #[cfg(not(feature = "jose"))]
        let _ = (client, actor);
        Err(unacceptable(
            "the presented token is not a live access token of this server",
        ))
    }

    /// A trusted issuer's JWT, once every rule holds.
    #[cfg(feature = "jose")]
    async fn trusted(
        &self,
        ctx: &ServerContext,
        client: &dyn Client,
        value: &str,
        actor: bool,
    ) -> Result<ExchangeSubject, OAuth2Error> {
        let v = self
            .issuers
            .verify(ctx, value, JwtUse::Token, unacceptable)
            .await?;
        // The ceiling: the token's own scope (or else the client's), within the client's
        // and the issuer's. An actor's scope plays no part.
        let scope = if actor {
            Scope::empty()
        } else {
            let own = match v.claims.get("scope") {
                None => client.scope().clone(),
                Some(Value::String(s)) => Scope::parse(s)
                    .map_err(|_| unacceptable("the presented token's scope is malformed"))?,
                Some(_) => return Err(unacceptable("the presented token's scope is malformed")),
            };
            v.issuer
                .narrow(own.intersection(client.scope()), false)
                .map_err(|_| {
                    unacceptable("the presented token's issuer may vouch for none of its scope")
                })?
        };
        let act = v.claims.get("act").and_then(|a| v.issuer.act_of(a));
        Ok(ExchangeSubject::Trusted(TrustedToken {
            issuer: v.issuer.issuer().to_owned(),
            subject: v.issuer.subject_of(&v.sub),
            scope,
            claims: v.claims,
            act,
        }))
    }
}

/// A presented token this server will not exchange (RFC 8693 §2.2.2).
fn unacceptable(description: &'static str) -> OAuth2Error {
    OAuth2Error::invalid_request(description)
}
