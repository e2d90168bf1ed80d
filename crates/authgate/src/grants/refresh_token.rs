//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2).

use std::sync::Arc;

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::config::RefreshTokenRotation;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
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
/// With a grace window ([`crate::ServerConfig::refresh_token_grace_seconds`]), the
/// rotated-out token presented again by its client within the window is answered with
/// the same successor pair — access and refresh token, the access token's remaining
/// lifetime, a fresh ID token where one is due — and the family stays whole; after the
/// window, or once that successor has itself been rotated or revoked, it is reuse as
/// above. A replay's `scope`, if any, must be within the token's; the pair comes back with
/// the scope it was issued with. [`GrantHooks::issued`] sees such a replay too, with the
/// saved successors ([`GrantHooks::prepare`] does not: nothing is issued).
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
        let invalid = |reason: &'static str| {
            OAuth2Error::invalid_grant("the refresh token is invalid, expired or revoked")
                .reason(reason)
        };
        let key = ctx
            .generator
            .parse(presented)
            .ok_or_else(|| invalid("token_malformed"))?;
        let record = ctx
            .tokens
            .find_token(&key.selector)
            .await?
            .filter(|t| t.kind == TokenKind::Refresh && t.verifier_hash.ct_eq(&key.verifier_hash))
            .ok_or_else(|| invalid("token_unknown"))?;
        if record.client_id != client.client_id() {
            return Err(invalid("token_of_another_client"));
        }
        if record.rotated {
            // A replay answers the successor pair as it was issued; a scope it asks for must
            // still be within what the token was granted (RFC 6749 §6).
            if let Some(s) = req.form_value("scope")? {
                if !crate::scope::Scope::parse(s)?.is_subset_of(&record.scope) {
                    return Err(OAuth2Error::invalid_scope(
                        "the requested scope exceeds the scope originally granted (RFC 6749 section 6)",
                    ));
                }
            }
            return self
                .replay(
                    ctx,
                    presented,
                    &record,
                    &client,
                    &requested_resources(req.form_pairs()),
                )
                .await;
        }
        if record.revoked {
            return Err(invalid("token_revoked"));
        }
        if ctx.now() >= record.expires_at {
            return Err(invalid("token_expired"));
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
        let owner = owner_of(&record);
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
            .refresh_token(rotate)
            .target(
                &ctx.config.resources,
                &requested_resources(req.form_pairs()),
            )?;
        super::prepare(self.hooks.as_ref(), ctx, &mut issue, &record.scope)?;
        // A rotation replaces the refresh token; without one, the old token stays and no
        // second one is issued beside it. Hooks do not change that, nor the new refresh
        // token's scope, which is exactly the old one's (RFC 6749 §6), whatever narrower
        // scope or resource this access token was asked for (RFC 8707 §2.2).
        issue.refresh_token = rotate;
        issue.grant_scope = Some(record.scope.clone());
        // OpenID Connect Core §12.2: a fresh ID token — same `sub` and `auth_time`, no
        // `nonce` — when the refreshed access token carries `openid`. Made before anything
        // is saved: a signing failure must not leave the old refresh token rotated out.
        #[cfg(feature = "jose")]
        let id_token = fresh_id_token(ctx, client.as_ref(), &record, &issue.scope).await?;
        let mut issued = if rotate {
            let issued = ctx.build_tokens(&issue).await?;
            let sealed = if ctx.config.refresh_token_grace_seconds > 0 {
                issued.refresh_token.as_deref().and_then(|refresh| {
                    seal(
                        ctx.rng.as_ref(),
                        ctx.extensions.get::<GraceSecret>(),
                        presented,
                        &record,
                        &issued.access_token,
                        refresh,
                    )
                })
            } else {
                None
            };
            if !ctx
                .tokens
                .rotate_refresh_token(&record.selector, &issued.records, sealed.as_deref())
                .await?
            {
                // Someone rotated it between our read and now: a concurrent refresh with
                // the same token, answered like any replay.
                let now_rotated = ctx
                    .tokens
                    .find_token(&record.selector)
                    .await?
                    .filter(|t| t.rotated)
                    .ok_or_else(|| invalid("token_revoked"))?;
                return self
                    .replay(
                        ctx,
                        presented,
                        &now_rotated,
                        &client,
                        &requested_resources(req.form_pairs()),
                    )
                    .await;
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

impl RefreshTokenGrant {
    /// A rotated-out refresh token presented again: within the grace window, with its
    /// successor still live, the same successor pair; otherwise reuse (RFC 9700 §4.14.2).
    async fn replay(
        &self,
        ctx: &ServerContext,
        presented: &str,
        record: &TokenRecord,
        client: &Arc<dyn Client>,
        requested: &[String],
    ) -> Result<TokenResponse, OAuth2Error> {
        let Some(successors) = self.successors_in_grace(ctx, presented, record).await? else {
            return Err(reused(ctx, record).await);
        };
        let [access, refresh] = successors;
        // The pair comes back as it was issued: resources named now must be the ones its
        // access token is for (RFC 8707 §2.2), never others.
        if !requested.is_empty() {
            let mut named = requested.to_vec();
            named.sort_unstable();
            named.dedup();
            if named != access.1.details().audience {
                return Err(OAuth2Error::with_description(
                    crate::error::ErrorCode::InvalidTarget,
                    "a replay within the grace window gets the tokens as issued: name the same resources",
                ));
            }
        }
        let now = ctx.now();
        let mut issue = IssueContext::new(client.as_ref(), "refresh_token", access.1.scope.clone());
        let owner = owner_of(&access.1);
        if let Some(o) = &owner {
            issue = issue.owner(o);
        }
        let mut issue = issue
            .with_shared_details(access.1.details.clone())
            .family(record.family)
            .refresh_token(true);
        issue.expires_in = Some(u64::try_from(access.1.expires_at - now).unwrap_or(0));
        #[cfg(feature = "jose")]
        let id_token = fresh_id_token(ctx, client.as_ref(), &access.1, &issue.scope).await?;
        let mut issued = crate::context::IssuedTokens {
            access_token: access.0,
            token_type: "Bearer".to_owned(),
            expires_in: issue.expires_in.unwrap_or(0),
            refresh_token: Some(refresh.0),
            scope: access.1.scope.clone(),
            id_token: None,
            extra: serde_json::Map::new(),
            records: vec![access.1, refresh.1],
        };
        self.hooks.issued(ctx, &issue, &mut issued);
        #[cfg(feature = "jose")]
        {
            issued.id_token = id_token;
        }
        Ok(issued.into_response())
    }

    /// The successor pair of a rotated token — `(value, record)` for the access token,
    /// then the refresh token — when the grace window allows answering with it again:
    /// a window is set, the token itself is not revoked, its successors open with the
    /// presented value, and both are still live and were issued no longer ago than the
    /// window.
    async fn successors_in_grace(
        &self,
        ctx: &ServerContext,
        presented: &str,
        record: &TokenRecord,
    ) -> Result<Option<[(String, TokenRecord); 2]>, OAuth2Error> {
        let grace = i64::try_from(ctx.config.refresh_token_grace_seconds).unwrap_or(i64::MAX);
        if grace == 0 || record.revoked {
            return Ok(None);
        }
        let Some((access, refresh)) = record.sealed_successors.as_deref().and_then(|sealed| {
            open(
                ctx.extensions.get::<GraceSecret>(),
                presented,
                record,
                sealed,
            )
        }) else {
            return Ok(None);
        };
        let now = ctx.now();
        let mut found = Vec::with_capacity(2);
        for (value, kind) in [(access, TokenKind::Access), (refresh, TokenKind::Refresh)] {
            let Some(key) = crate::generator::access_token_key(ctx.generator.as_ref(), &value)
            else {
                return Ok(None);
            };
            let Some(t) = ctx.tokens.find_token(&key.selector).await? else {
                return Ok(None);
            };
            let live = t.kind == kind
                && t.verifier_hash.ct_eq(&key.verifier_hash)
                && t.family == record.family
                && t.client_id == record.client_id
                && t.is_active(now)
                && now.saturating_sub(t.issued_at) <= grace;
            if !live {
                return Ok(None);
            }
            found.push((value, t));
        }
        Ok(found.try_into().ok())
    }
}

/// The server's own secret for sealing successors (see
/// [`crate::AuthorizationServer::with_refresh_grace_secret`]), kept in the context's
/// extensions.
#[derive(Clone, Copy)]
pub(crate) struct GraceSecret(pub(crate) [u8; 32]);

/// The owner a token was issued for, if any (with their username, when known).
fn owner_of(token: &TokenRecord) -> Option<ResourceOwner> {
    token.subject.clone().map(|subject| {
        let mut o = ResourceOwner::subject(subject);
        o.username.clone_from(&token.username);
        o
    })
}

/// OpenID Connect Core §12.2: a fresh ID token — the token's `sub` and authentication facts,
/// no `nonce` — when the refreshed access token carries `openid` and the server is a
/// provider; `None` otherwise.
#[cfg(feature = "jose")]
async fn fresh_id_token(
    ctx: &ServerContext,
    client: &dyn Client,
    token: &TokenRecord,
    scope: &crate::scope::Scope,
) -> Result<Option<String>, OAuth2Error> {
    match (crate::oidc::provider(ctx), &token.subject) {
        (Some(openid), Some(subject)) if scope.contains("openid") => {
            let spec = crate::oidc::IdTokenSpec::new(client, subject, token.details(), scope);
            Ok(Some(openid.id_token(ctx, spec).await?))
        }
        _ => Ok(None),
    }
}

/// The key that seals a rotated token's successors: derived from the rotated token's whole
/// value, which the store never holds (it keeps a SHA-256 of the verifier part only), so
/// only someone presenting that token can open them — and, when the server has a secret
/// of its own, from that secret too, so that not even the token and a store dump together
/// open them.
fn sealing_key(presented: &str, secret: Option<&GraceSecret>) -> Option<ChaCha20Poly1305> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(presented.as_bytes()).ok()?;
    mac.update(SEALING_LABEL);
    let mut key = mac.finalize().into_bytes();
    if let Some(GraceSecret(s)) = secret {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(s).ok()?;
        mac.update(&key);
        key = mac.finalize().into_bytes();
    }
    ChaCha20Poly1305::new_from_slice(&key).ok()
}

const SEALING_LABEL: &[u8] = b"authgate: refresh token successors, v1";
const NONCE_LEN: usize = 12;

/// Seals the successor pair: a random nonce, then the ChaCha20-Poly1305 ciphertext of
/// `[access, refresh]` as JSON, bound to the rotated token's selector.
fn seal(
    rng: &dyn crate::rng::Rng,
    secret: Option<&GraceSecret>,
    presented: &str,
    rotated: &TokenRecord,
    access: &str,
    refresh: &str,
) -> Option<Vec<u8>> {
    let cipher = sealing_key(presented, secret)?;
    let nonce: [u8; NONCE_LEN] = crate::rng::random_bytes(rng);
    let plain = serde_json::to_vec(&[access, refresh]).ok()?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &rotated.selector.0,
            },
        )
        .ok()?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(out)
}

/// Opens what [`seal`] made; `None` for any other value or a tampered seal.
fn open(
    secret: Option<&GraceSecret>,
    presented: &str,
    rotated: &TokenRecord,
    sealed: &[u8],
) -> Option<(String, String)> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let plain = sealing_key(presented, secret)?
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: &rotated.selector.0,
            },
        )
        .ok()?;
    let [access, refresh]: [String; 2] = serde_json::from_slice(&plain).ok()?;
    Some((access, refresh))
}

/// A rotated-out refresh token presented again: revoke the family (RFC 9700 §4.14.2).
async fn reused(ctx: &ServerContext, record: &TokenRecord) -> OAuth2Error {
    if let Err(e) = ctx.tokens.revoke_family(&record.family).await {
        return e.into();
    }
    OAuth2Error::invalid_grant("the refresh token was already used; the grant is revoked")
        .reason("token_replayed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::OsRng;
    use crate::storage::TokenKind;
    use crate::token::generate_token;

    fn rotated(value: &str) -> TokenRecord {
        let key = crate::token::parse_token(value).unwrap();
        TokenRecord::new(key, TokenKind::Refresh, "c", "refresh_token", 0, 10)
    }

    #[test]
    fn successors_open_only_with_the_rotated_token_and_its_selector() {
        let old = generate_token(&OsRng, 0).value;
        let other = generate_token(&OsRng, 0).value;
        let (access, refresh) = ("access-value", "refresh-value");
        let record = rotated(&old);
        let sealed = seal(&OsRng, None, &old, &record, access, refresh).unwrap();
        assert_eq!(
            open(None, &old, &record, &sealed),
            Some((access.to_owned(), refresh.to_owned()))
        );
        // Nothing readable is stored.
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains(access) && !text.contains(refresh));
        // Another token, another selector, or any changed byte: nothing opens.
        assert_eq!(open(None, &other, &record, &sealed), None);
        assert_eq!(open(None, &old, &rotated(&other), &sealed), None);
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(open(None, &old, &record, &bad), None, "byte {i} changed");
        }
        assert_eq!(open(None, &old, &record, &sealed[..NONCE_LEN]), None);
        assert_eq!(open(None, &old, &record, &[]), None);
        // Two seals of the same pair differ (fresh nonces).
        assert_ne!(
            seal(&OsRng, None, &old, &record, access, refresh),
            Some(sealed.clone())
        );
        // With the server's secret, the token alone (a dump plus an old token) opens
        // nothing, and the secret alone neither.
        let secret = GraceSecret([9; 32]);
        let keyed = seal(&OsRng, Some(&secret), &old, &record, access, refresh).unwrap();
        assert_eq!(
            open(Some(&secret), &old, &record, &keyed),
            Some((access.to_owned(), refresh.to_owned()))
        );
        assert_eq!(open(None, &old, &record, &keyed), None);
        assert_eq!(
            open(Some(&GraceSecret([8; 32])), &old, &record, &keyed),
            None
        );
        assert_eq!(open(Some(&secret), &other, &record, &keyed), None);
        assert_eq!(open(Some(&secret), &old, &record, &sealed), None);
    }
}
