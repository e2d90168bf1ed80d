//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2).

use std::sync::Arc;

use async_trait::async_trait;

use super::{Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::config::RefreshTokenRotation;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::response::TokenResponse;
use crate::server_context::ServerContext;
use crate::storage::{ResourceOwner, TokenKind, TokenRecord};

/// `grant_type=refresh_token`.
///
/// The token is bound to its client; the scope may only narrow (`invalid_scope`
/// otherwise). Rotation follows [`crate::ServerConfig::refresh_token_rotation`] (public
/// clients by default): the old token is retired atomically as its replacement is saved,
/// and a retired token presented again revokes the whole grant family.
///
/// The new tokens keep the owner and how they authenticated (`auth_time`, `acr`, `amr`,
/// session), the audience and the claims of the grant. [`GrantHooks`] shape them like any
/// grant's; when the token rotates, the grant saves the new tokens itself, atomically with
/// retiring the old one, so [`GrantHooks::issue_tokens`] is called only when it does not.
pub struct RefreshTokenGrant {
    hooks: Arc<dyn GrantHooks>,
}

hooked_grant!(RefreshTokenGrant);

impl Grant for RefreshTokenGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for RefreshTokenGrant {
    fn grant_type(&self) -> &str {
        "refresh_token"
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        let presented = req
            .form_value("refresh_token")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'refresh_token'"))?;
        let invalid =
            || OAuth2Error::invalid_grant("the refresh token is invalid, expired or revoked");
        let key = ctx.generator.parse(presented).ok_or_else(invalid)?;
        let record = ctx
            .tokens
            .find_token(&key.selector)
            .await?
            .filter(|t| t.kind == TokenKind::Refresh && t.verifier_hash.ct_eq(&key.verifier_hash))
            .ok_or_else(invalid)?;
        if record.client_id != client.client_id() {
            return Err(invalid());
        }
        if record.rotated {
            return Err(reused(ctx, &record).await);
        }
        if record.revoked || ctx.now() >= record.expires_at {
            return Err(invalid());
        }
        let scope = match req.form_value("scope")? {
            None => record.scope.clone(),
            Some(s) => {
                let s = crate::scope::Scope::parse(s)?;
                if !s.is_subset_of(&record.scope) {
                    return Err(OAuth2Error::invalid_scope(
                        "the requested scope exceeds the scope originally granted (RFC 6749 section 6)",
                    ));
                }
                if s.is_empty() {
                    record.scope.clone()
                } else {
                    s
                }
            }
        };
        let owner = record.subject.clone().map(|subject| {
            let mut o = ResourceOwner::subject(subject);
            o.username.clone_from(&record.username);
            o
        });
        let rotate = match ctx.config.refresh_token_rotation {
            RefreshTokenRotation::Always => true,
            RefreshTokenRotation::PublicClients => client.is_public(),
            RefreshTokenRotation::Never => false,
        };
        let mut issue = IssueContext::new(client.as_ref(), "refresh_token", scope);
        if let Some(o) = &owner {
            issue = issue.owner(o);
        }
        let mut issue = issue
            .with_shared_details(record.details.clone())
            .family(record.family)
            .refresh_token(rotate);
        super::prepare(self.hooks.as_ref(), ctx, &mut issue, &record.scope)?;
        // A rotation replaces the refresh token; without one, the old token stays and no
        // second one is issued beside it. Hooks do not change that.
        issue.refresh_token = rotate;
        // OpenID Connect Core §12.2: a fresh ID token — same `sub` and `auth_time`, no
        // `nonce` — when the refreshed access token carries `openid`. Made before anything
        // is saved: a signing failure must not leave the old refresh token rotated out.
        #[cfg(feature = "jose")]
        let id_token = match (crate::oidc::provider(ctx), &record.subject) {
            (Some(openid), Some(subject)) if issue.scope.contains("openid") => {
                let spec = crate::oidc::IdTokenSpec::new(
                    client.as_ref(),
                    subject,
                    record.details(),
                    &issue.scope,
                );
                Some(openid.id_token(ctx, spec).await?)
            }
            _ => None,
        };
        let mut issued = if rotate {
            let mut issued = ctx.build_tokens(&issue);
            // RFC 6749 §6: a new refresh token has exactly the old one's scope, whatever
            // narrower scope this access token was asked with.
            for r in &mut issued.records {
                if r.kind == TokenKind::Refresh {
                    r.scope = record.scope.clone();
                }
            }
            if !ctx
                .tokens
                .rotate_refresh_token(&record.selector, &issued.records)
                .await?
            {
                // Someone rotated it between our read and now: that is reuse too.
                return Err(reused(ctx, &record).await);
            }
            issued
        } else {
            self.hooks.issue_tokens(ctx, &issue).await?
        };
        self.hooks.issued(ctx, &issue, &mut issued);
        #[cfg(feature = "jose")]
        {
            issued.id_token = id_token;
        }
        Ok(issued.into_response())
    }
}

/// A rotated-out refresh token presented again: revoke the family (RFC 9700 §4.14.2).
async fn reused(ctx: &ServerContext, record: &TokenRecord) -> OAuth2Error {
    if let Err(e) = ctx.tokens.revoke_family(&record.family).await {
        return e.into();
    }
    OAuth2Error::invalid_grant("the refresh token was already used; the grant is revoked")
}
