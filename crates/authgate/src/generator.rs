//! Token and lifetime generators: the replaceable parts of token issuance.

use crate::client::Client;
use crate::config::ServerConfig;
use crate::rng::Rng;
use crate::storage::TokenKind;
use crate::token::{generate_token, parse_token, GeneratedToken, TokenKey};

/// Makes the strings handed out as access tokens, refresh tokens and codes, and finds the
/// storage key of a presented one. Replace it to change the token format; the default is
/// [`OpaqueTokenGenerator`].
pub trait TokenGenerator: Send + Sync + 'static {
    /// A new token of `kind`, issued at `now_millis`, its randomness drawn from `rng`.
    fn generate(&self, kind: TokenKind, now_millis: i64, rng: &dyn Rng) -> GeneratedToken;

    /// The storage key of a presented token, or `None` when it cannot be one of ours.
    fn parse(&self, value: &str) -> Option<TokenKey>;
}

/// The default generator: the selector + verifier format of [`crate::token`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OpaqueTokenGenerator;

impl TokenGenerator for OpaqueTokenGenerator {
    fn generate(&self, _kind: TokenKind, now_millis: i64, rng: &dyn Rng) -> GeneratedToken {
        generate_token(rng, now_millis)
    }

    fn parse(&self, value: &str) -> Option<TokenKey> {
        parse_token(value)
    }
}

/// Decides an access token's `expires_in`, in seconds. Any
/// `Fn(&str, &dyn Client) -> u64` closure is one.
///
/// ```
/// use authgate::{ExpiresIn, Client};
/// let f = |grant_type: &str, _c: &dyn Client| if grant_type == "implicit" { 300 } else { 3600 };
/// fn takes(_: impl ExpiresIn) {}
/// takes(f);
/// ```
pub trait ExpiresIn: Send + Sync + 'static {
    /// The lifetime for a token issued by `grant_type` to `client`.
    fn expires_in(&self, grant_type: &str, client: &dyn Client) -> u64;
}

impl<F> ExpiresIn for F
where
    F: Fn(&str, &dyn Client) -> u64 + Send + Sync + 'static,
{
    fn expires_in(&self, grant_type: &str, client: &dyn Client) -> u64 {
        self(grant_type, client)
    }
}

/// The default lifetimes: the per-grant table of [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct ConfigExpiresIn {
    config: ServerConfig,
}

impl ConfigExpiresIn {
    /// Lifetimes from a config's `expires_in` table and `access_token_ttl`.
    pub fn new(config: ServerConfig) -> Self {
        Self { config }
    }
}

impl ExpiresIn for ConfigExpiresIn {
    fn expires_in(&self, grant_type: &str, _client: &dyn Client) -> u64 {
        self.config.expires_in_for(grant_type)
    }
}
