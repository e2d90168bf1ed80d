//! `ServerContext`: what grants and endpoints share — config, stores, clock, generators —
//! and token issuance.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::error::OAuth2Error;
use crate::generator::{ExpiresIn, TokenGenerator};
use crate::rng::Rng;
use crate::scope::Scope;
use crate::storage::{
    AuthorizationCodeStore, ClientStore, ResourceOwner, TokenKind, TokenRecord, TokenStore,
};
use crate::token::Selector;

/// The server's shared parts, handed to every grant and endpoint.
pub struct ServerContext {
    /// The configuration.
    pub config: ServerConfig,
    /// Client lookups.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeStore>,
    /// Access and refresh tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The random number generator.
    pub rng: Arc<dyn Rng>,
    /// The token generator.
    pub generator: Arc<dyn TokenGenerator>,
    /// The access token lifetime policy.
    pub expires_in: Arc<dyn ExpiresIn>,
}

impl fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What to issue: the input of [`ServerContext::issue_tokens`] and of
/// [`crate::GrantHooks::issue_tokens`].
#[derive(Debug, Clone)]
pub struct TokenSpec<'a> {
    /// The client the tokens are for.
    pub client: &'a dyn Client,
    /// The grant type issuing them (selects `expires_in`).
    pub grant_type: &'a str,
    /// The resource owner, if any.
    pub owner: Option<&'a ResourceOwner>,
    /// The granted scope.
    pub scope: Scope,
    /// The grant family the tokens join; `None` starts a new one.
    pub family: Option<Selector>,
    /// Whether to issue a refresh token as well.
    pub refresh_token: bool,
    /// Overrides the access token lifetime, in seconds.
    pub expires_in: Option<u64>,
}

/// Tokens just issued: what the token response says, and the records to store.
pub struct IssuedTokens {
    /// The access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: Scope,
    /// Extra members for the token response (e.g. `id_token`).
    pub extra: Map<String, Value>,
    /// The records to store (access first, then refresh).
    pub records: Vec<TokenRecord>,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl IssuedTokens {
    /// The token response body (RFC 6749 §5.1): `access_token`, `token_type` "Bearer",
    /// `expires_in`, `refresh_token` when issued, `scope`, and any extra members.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::with_capacity(5 + self.extra.len());
        m.insert("access_token".into(), self.access_token.clone().into());
        m.insert("token_type".into(), "Bearer".into());
        m.insert("expires_in".into(), self.expires_in.into());
        if let Some(r) = &self.refresh_token {
            m.insert("refresh_token".into(), r.clone().into());
        }
        if !self.scope.is_empty() {
            m.insert("scope".into(), self.scope.to_string().into());
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }

    /// The parameters of an implicit grant's fragment (RFC 6749 §4.2.2).
    pub fn to_fragment_params(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("access_token".to_owned(), self.access_token.clone()),
            ("token_type".to_owned(), "Bearer".to_owned()),
            ("expires_in".to_owned(), self.expires_in.to_string()),
        ];
        if !self.scope.is_empty() {
            v.push(("scope".to_owned(), self.scope.to_string()));
        }
        for (k, val) in &self.extra {
            let s = match val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            v.push((k.clone(), s));
        }
        v
    }
}

impl ServerContext {
    /// The current time in seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Creates tokens without saving them (for rotation, which saves atomically with the
    /// retirement of the old refresh token).
    pub fn build_tokens(&self, spec: &TokenSpec<'_>) -> IssuedTokens {
        let now_ms = self.clock.now_millis();
        let now = now_ms.div_euclid(1000);
        let expires_in = spec
            .expires_in
            .unwrap_or_else(|| self.expires_in.expires_in(spec.grant_type, spec.client));
        let access = self
            .generator
            .generate(TokenKind::Access, now_ms, self.rng.as_ref());
        let family = spec.family.unwrap_or(access.key.selector);
        let record = |kind, key: crate::token::TokenKey, ttl: u64| TokenRecord {
            selector: key.selector,
            verifier_hash: key.verifier_hash,
            kind,
            client_id: spec.client.client_id().to_owned(),
            subject: spec.owner.map(|o| o.subject.clone()),
            username: spec.owner.and_then(|o| o.username.clone()),
            scope: spec.scope.clone(),
            grant_type: spec.grant_type.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            family,
            revoked: false,
            rotated: false,
        };
        let mut records = Vec::with_capacity(2);
        records.push(record(TokenKind::Access, access.key, expires_in));
        let refresh_token = spec.refresh_token.then(|| {
            let r = self
                .generator
                .generate(TokenKind::Refresh, now_ms, self.rng.as_ref());
            records.push(record(
                TokenKind::Refresh,
                r.key,
                self.config.refresh_token_ttl,
            ));
            r.value
        });
        IssuedTokens {
            access_token: access.value,
            expires_in,
            refresh_token,
            scope: spec.scope.clone(),
            extra: Map::new(),
            records,
        }
    }

    /// Creates the tokens and saves them.
    ///
    /// # Errors
    /// A storage failure (503 when the store is unavailable).
    pub async fn issue_tokens(&self, spec: TokenSpec<'_>) -> Result<IssuedTokens, OAuth2Error> {
        let issued = self.build_tokens(&spec);
        self.tokens.save_tokens(&issued.records).await?;
        Ok(issued)
    }

    /// Resolves a requested scope against the client's: the client's whole scope when none
    /// is asked (its default), otherwise the request, which must be within the client's.
    ///
    /// # Errors
    /// `invalid_scope` for a malformed scope or one beyond the client's (RFC 6749 §3.3).
    pub fn resolve_scope(
        &self,
        client: &dyn Client,
        requested: Option<&str>,
    ) -> Result<Scope, OAuth2Error> {
        let Some(requested) = requested else {
            return Ok(client.scope().clone());
        };
        let scope = Scope::parse(requested)?;
        if scope.is_empty() {
            return Ok(client.scope().clone());
        }
        if !scope.is_subset_of(client.scope()) {
            return Err(OAuth2Error::invalid_scope(
                "the requested scope exceeds what the client may ask for",
            ));
        }
        Ok(scope)
    }

    /// Whether a client gets refresh tokens: the config turns them on and the client may use
    /// the `refresh_token` grant.
    pub fn issues_refresh_token(&self, client: &dyn Client) -> bool {
        self.config.refresh_tokens && client.allows_grant_type("refresh_token")
    }
}
