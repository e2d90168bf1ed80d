//! Token exchange (RFC 8693): a client (a service in a call chain) trades an access token
//! it received for another, aimed at the next service, acting for the same user —
//! impersonation — or, with an `actor_token`, for the user through itself — delegation,
//! recorded in an `act` claim (nested along a chain, §4.1).
//!
//! - `subject_token` (with `subject_token_type`
//!   `urn:ietf:params:oauth:token-type:access_token`) must be a live access token of this
//!   server; `actor_token` likewise when sent (then `actor_token_type` is required).
//! - `resource` and `audience` name the target (each a registered resource, RFC 8707;
//!   `invalid_target` otherwise); `scope` may only narrow the subject token's.
//! - `requested_token_type`, when sent, must be the access token type; the answer carries
//!   `issued_token_type` (§2.2.1). No refresh token is issued.
//! - Who may exchange what is an [`ExchangePolicy`]'s decision; the default refuses every
//!   exchange (`unauthorized_client`), so nothing is exchanged until the application says.
//! - The new token joins the subject token's grant family: revoking that family (a code
//!   replay, a refresh token reuse, the user's consent withdrawn) reaches it.
//!
//! Not here yet: a JWT from a trusted issuer as `subject_token`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{issue_with_hooks, DefaultHooks, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::generator::access_token_key;
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::{ResourceOwner, TokenKind, TokenRecord};

/// `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// An exchange about to happen, for the [`ExchangePolicy`] to judge.
#[non_exhaustive]
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    /// The client asking.
    pub client: &'a dyn Client,
    /// The token it presents as the subject.
    pub subject: &'a TokenRecord,
    /// The actor's token, for delegation; `None` for impersonation.
    pub actor: Option<&'a TokenRecord>,
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
}

impl TokenExchangeGrant {
    /// The grant with the default policy ([`DenyAll`]).
    pub fn new() -> Self {
        Self {
            policy: Arc::new(DenyAll),
            hooks: Arc::new(DefaultHooks),
        }
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
        f.debug_struct("TokenExchangeGrant").finish_non_exhaustive()
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
        let subject = presented(ctx, req, "subject_token", "subject_token_type")
            .await?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'subject_token'"))?;
        let actor = presented(ctx, req, "actor_token", "actor_token_type").await?;
        // Targets: `resource` and `audience` (RFC 8693 §2.1), each a registered resource.
        let mut targets = requested_resources(req.form_pairs());
        targets.extend(
            req.form_pairs()
                .iter()
                .filter(|(k, v)| k == "audience" && !v.is_empty())
                .map(|(_, v)| v.clone()),
        );
        let scope = match req.form_value("scope")? {
            None => subject.scope.clone(),
            Some(s) => {
                let s = Scope::parse(s)?;
                if !s.is_subset_of(&subject.scope) {
                    return Err(OAuth2Error::invalid_scope(
                        "the requested scope exceeds the subject token's",
                    ));
                }
                if s.is_empty() {
                    subject.scope.clone()
                } else {
                    s
                }
            }
        };
        let owner = subject.subject.clone().map(|sub| {
            let mut o = ResourceOwner::subject(sub);
            o.username.clone_from(&subject.username);
            o
        });
        let mut issue = IssueContext::new(client.as_ref(), TOKEN_EXCHANGE_GRANT_TYPE, scope);
        if let Some(o) = &owner {
            issue = issue.owner(o);
        }
        // The subject token's audience is not a ceiling here: moving to another service
        // is the point; the policy decides which moves are allowed.
        let mut issue = issue
            .family(subject.family)
            .target(&ctx.config.resources, &targets)?;
        let allowed = self.policy.allows(&ExchangeRequest {
            client: client.as_ref(),
            subject: &subject,
            actor: actor.as_ref(),
            audience: &issue.audience,
            scope: &issue.scope,
        });
        if !allowed {
            return Err(OAuth2Error::unauthorized_client(
                "this client may not exchange this token for this target",
            ));
        }
        if let Some(actor) = &actor {
            // Delegation (§4.1): the actor, and before it whoever acted in the subject
            // token, nested.
            let mut act = json!({ "sub": actor.subject.as_deref().unwrap_or(&actor.client_id) });
            if let Some(prior) = subject.details().claims.get("act") {
                act["act"] = prior.clone();
            }
            issue.details_mut().claims.insert("act".into(), act);
        } else if let Some(prior) = subject.details().claims.get("act") {
            // Impersonation keeps the chain already recorded.
            issue
                .details_mut()
                .claims
                .insert("act".into(), prior.clone());
        }
        let ceiling = subject.scope.clone();
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &ceiling).await?;
        issued.refresh_token = None;
        issued
            .extra
            .insert("issued_token_type".into(), Value::from(ACCESS_TOKEN_TYPE));
        Ok(issued.into_response())
    }
}

/// The live access token of this server named by `name` (with its type in `type_name`),
/// if sent.
async fn presented(
    ctx: &ServerContext,
    req: &OAuth2Request,
    name: &str,
    type_name: &str,
) -> Result<Option<TokenRecord>, OAuth2Error> {
    let Some(value) = req.form_value(name)? else {
        if req.form_value(type_name)?.is_some() {
            return Err(OAuth2Error::invalid_request(
                "a token type was sent without its token",
            ));
        }
        return Ok(None);
    };
    match req.form_value(type_name)? {
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(OAuth2Error::invalid_request(
                "unsupported token type: this server exchanges its own access tokens",
            ))
        }
        None => {
            return Err(OAuth2Error::invalid_request(
                "the token's type is required (RFC 8693 section 2.1)",
            ))
        }
    }
    let invalid = || {
        OAuth2Error::with_description(
            ErrorCode::InvalidGrant,
            "the presented token is invalid, expired or revoked",
        )
    };
    let key = access_token_key(ctx.generator.as_ref(), value).ok_or_else(invalid)?;
    let record = ctx
        .tokens
        .find_token(&key.selector)
        .await?
        .filter(|t| t.kind == TokenKind::Access && t.verifier_hash.ct_eq(&key.verifier_hash))
        .filter(|t| t.is_active(ctx.now()))
        .ok_or_else(invalid)?;
    Ok(Some(record))
}
