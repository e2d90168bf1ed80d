//! The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636).

use std::sync::Arc;

use async_trait::async_trait;

use super::{issue_with_hooks, AuthorizationGrant, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::generator::NewToken;
use crate::metadata::Metadata;
use crate::params::{AuthorizationRequest, ResponseMode, ResponseType};
use crate::pkce::{CodeChallenge, CodeChallengeMethod};
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::{AuthorizationResponse, TokenResponse};
use crate::server_context::ServerContext;
use crate::storage::{AuthorizationCodeRecord, GrantDetails, ResourceOwner, TokenKind};

/// `response_type=code` at the authorization endpoint and
/// `grant_type=authorization_code` at the token endpoint.
///
/// Codes are single-use, live `code_ttl` seconds (10 minutes by default), are bound to the
/// client and redirect URI, and a replayed code revokes every token issued from it
/// (RFC 9700 §4.5). PKCE is required of public clients (and of all clients when
/// [`crate::ServerConfig::require_pkce`] is set); S256 always, `plain` only when enabled.
pub struct AuthorizationCodeGrant {
    hooks: Arc<dyn GrantHooks>,
}

hooked_grant!(AuthorizationCodeGrant);

impl Grant for AuthorizationCodeGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
    fn authorization_grant(self: Arc<Self>) -> Option<Arc<dyn AuthorizationGrant>> {
        Some(self)
    }
}

#[async_trait]
impl AuthorizationGrant for AuthorizationCodeGrant {
    fn response_type(&self) -> ResponseType {
        ResponseType::code()
    }

    fn default_response_mode(&self) -> ResponseMode {
        ResponseMode::Query
    }

    fn grant_type(&self) -> &str {
        "authorization_code"
    }

    fn validate_request(
        &self,
        ctx: &ServerContext,
        request: &mut AuthorizationRequest,
    ) -> Result<(), OAuth2Error> {
        validate_pkce(ctx, request)
    }

    async fn authorize(
        &self,
        ctx: &ServerContext,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<AuthorizationResponse, OAuth2Error> {
        let code = issue_code(ctx, request, owner).await?;
        let mut response = AuthorizationResponse::new(&request.redirect_uri, request.response_mode);
        response.push("code", code);
        Ok(response)
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let mut pkce = vec!["S256"];
        if ctx.config.allow_plain_pkce {
            pkce.push("plain");
        }
        Metadata::add(&mut metadata.code_challenge_methods_supported, pkce);
    }
}

#[async_trait]
impl TokenGrant for AuthorizationCodeGrant {
    fn grant_type(&self) -> &str {
        "authorization_code"
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        let code = req
            .form_value("code")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'code'"))?;
        let redirect_uri = req.form_value("redirect_uri")?;
        let verifier = req.form_value("code_verifier")?;
        let invalid = |reason: &'static str| {
            OAuth2Error::invalid_grant("the authorization code is invalid or expired")
                .reason(reason)
        };

        let key = ctx
            .generator
            .parse(code)
            .ok_or_else(|| invalid("code_malformed"))?;
        let record = ctx
            .codes
            .find_code(&key.selector)
            .await?
            .filter(|r| r.verifier_hash.ct_eq(&key.verifier_hash))
            .ok_or_else(|| invalid("code_unknown"))?;
        if record.client_id != client.client_id() {
            // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
            return Err(invalid("code_of_another_client"));
        }
        if record.used {
            return Err(replayed(ctx, &record).await);
        }
        if ctx.now() >= record.expires_at {
            return Err(invalid("code_expired"));
        }
        match (record.redirect_uri_sent, redirect_uri) {
            (true, None) => {
                return Err(OAuth2Error::invalid_request(
                    "redirect_uri is required: it was sent in the authorization request",
                ))
            }
            (_, Some(uri)) if uri != record.redirect_uri => {
                return Err(OAuth2Error::invalid_grant(
                    "redirect_uri does not match the authorization request",
                )
                .reason("redirect_uri_mismatch"))
            }
            _ => {}
        }
        match (&record.code_challenge, verifier) {
            (Some(c), Some(v)) => c.verify(v)?,
            (Some(_), None) => {
                return Err(OAuth2Error::invalid_request(
                    "code_verifier is required: the code was issued with a code_challenge",
                ))
            }
            (None, Some(_)) => {
                // RFC 9700 §2.1.1: no challenge was bound, so a verifier is a downgrade.
                return Err(OAuth2Error::invalid_grant(
                    "code_verifier sent for a code issued without code_challenge",
                )
                .reason("pkce_downgrade"));
            }
            (None, None) => {}
        }
        // The resources and their scopes are checked before the code is spent, so a wrong
        // `resource` leaves the code usable (RFC 8707 §2.2: `invalid_target`).
        let requested = requested_resources(req.form_pairs());
        let audience = ctx
            .config
            .resources
            .resolve(&requested, &record.details.audience)?;
        ctx.config.resources.scope_for(&audience, &record.scope)?;
        if !ctx.codes.consume_code(&record.selector).await? {
            // Another request redeemed it first: treat as a replay.
            return Err(replayed(ctx, &record).await);
        }
        // OpenID Connect Core §3.1.3.3: an ID token whenever `openid` was granted. Made
        // before the tokens are saved, so a signing failure leaves no orphaned tokens.
        #[cfg(feature = "jose")]
        let id_token = match crate::oidc::provider(ctx) {
            Some(openid) if record.scope.contains("openid") => {
                let mut spec = crate::oidc::IdTokenSpec::new(
                    client.as_ref(),
                    &record.subject,
                    &record.details,
                    &record.scope,
                );
                spec.nonce = record.nonce.as_deref();
                Some(openid.id_token(ctx, spec).await?)
            }
            _ => None,
        };
        let owner = record.owner();
        let issue = IssueContext::new(client.as_ref(), "authorization_code", record.scope.clone())
            .owner(&owner)
            .with_details(record.details.clone())
            .nonce(record.nonce.clone())
            .family(record.selector)
            .refresh_token(ctx.issues_refresh_token(client.as_ref()))
            .target(&ctx.config.resources, &requested)?;
        #[allow(unused_mut)] // without `jose` there is no ID token to add
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &record.scope).await?;
        #[cfg(feature = "jose")]
        {
            issued.id_token = id_token;
        }
        // A replay caught while this request was issuing deleted the code (see
        // `replayed`) and may have revoked the family before these tokens were saved:
        // revoke them now, so the replay revokes every token the code gave (RFC 9700 §4.5).
        // The answer stays the one this redemption earned, as when the replay comes later:
        // exactly one redemption gets tokens, and they are revoked.
        if ctx.codes.find_code(&record.selector).await?.is_none() {
            ctx.tokens.revoke_family(&record.selector).await?;
        }
        Ok(issued.into_response())
    }
}

/// PKCE at the authorization endpoint (RFC 7636 §4.3; RFC 9700 §2.1.1): required of public
/// clients (and of all with [`crate::ServerConfig::require_pkce`]), S256 unless `plain` is
/// enabled. Shared by every response type that issues a code.
pub(crate) fn validate_pkce(
    ctx: &ServerContext,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuth2Error> {
    let challenge = request.params.code_challenge.as_deref();
    let method = request.params.code_challenge_method.as_deref();
    let Some(challenge) = challenge else {
        if method.is_some() {
            return Err(OAuth2Error::invalid_request(
                "code_challenge_method was sent without code_challenge",
            ));
        }
        if request.client.is_public() || ctx.config.require_pkce {
            return Err(OAuth2Error::invalid_request(
                "code_challenge is required (PKCE, RFC 7636; RFC 9700 section 2.1.1)",
            ));
        }
        return Ok(());
    };
    // RFC 7636 §4.3: an absent method means "plain".
    let method = match method.map_or(Some(CodeChallengeMethod::Plain), CodeChallengeMethod::parse) {
        Some(CodeChallengeMethod::Plain) if !ctx.config.allow_plain_pkce => {
            return Err(OAuth2Error::invalid_request(
                "code_challenge_method 'plain' is not allowed; use S256",
            ))
        }
        Some(m) => m,
        None => {
            return Err(OAuth2Error::invalid_request(
                "unsupported code_challenge_method; use S256",
            ))
        }
    };
    request.code_challenge = Some(CodeChallenge::new(challenge, method)?);
    Ok(())
}

/// Issues and saves a code for an approved request; answers the code. Shared by every
/// response type that issues one.
pub(crate) async fn issue_code(
    ctx: &ServerContext,
    request: &AuthorizationRequest,
    owner: &ResourceOwner,
) -> Result<String, OAuth2Error> {
    let now_ms = ctx.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    let expires_at = now.saturating_add(i64::try_from(ctx.config.code_ttl).unwrap_or(600));
    let code = ctx.generator.generate(&NewToken::new(
        TokenKind::AuthorizationCode,
        now_ms,
        expires_at,
        &ctx.config.issuer,
        ctx.rng.as_ref(),
    ));
    let mut record = AuthorizationCodeRecord::new(
        code.key,
        request.client.client_id(),
        request.redirect_uri.clone(),
        owner.subject.clone(),
        now,
        expires_at,
    );
    record.redirect_uri_sent = request.redirect_uri_sent;
    record.scope = request.scope.clone();
    record.username.clone_from(&owner.username);
    record.code_challenge.clone_from(&request.code_challenge);
    record.nonce.clone_from(&request.nonce);
    // How the owner authenticated, and the claims asked for, travel with the code to
    // the tokens issued from it.
    record.details = GrantDetails {
        claims_request: request.params.claims.clone(),
        audience: request.resource.clone(),
        ..GrantDetails::of_owner(owner)
    };
    ctx.codes.save_code(record).await?;
    Ok(code.value)
}

/// A redeemed code presented again: revoke what it issued (RFC 9700 §4.5, RFC 6749 §4.1.2)
/// and answer `invalid_grant`.
async fn replayed(ctx: &ServerContext, record: &AuthorizationCodeRecord) -> OAuth2Error {
    // First the mark a still-running redemption looks for, then the revocation.
    if let Err(e) = ctx.codes.remove_code(&record.selector).await {
        return e.into();
    }
    if let Err(e) = ctx.tokens.revoke_family(&record.selector).await {
        return e.into();
    }
    OAuth2Error::invalid_grant("the authorization code was already used").reason("code_replayed")
}
