//! Token and lifetime generators: the replaceable parts of token issuance.

use crate::client::Client;
use crate::config::ServerConfig;
use crate::context::IssueContext;
use crate::rng::Rng;
use crate::storage::TokenKind;
use crate::token::{generate_token, parse_token, GeneratedToken, TokenKey};

/// What a [`TokenGenerator`] knows of the token it is asked for.
#[non_exhaustive]
pub struct NewToken<'a> {
    /// Access token, refresh token or authorization code.
    pub kind: TokenKind,
    /// Issue time, milliseconds since the epoch.
    pub issued_at_millis: i64,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// The issuer identifier.
    pub issuer: &'a str,
    /// For access and refresh tokens: the client, owner, scope, audience, authentication
    /// facts and claims they carry (what a self-contained token encodes). `None` for
    /// authorization codes.
    pub context: Option<&'a IssueContext<'a>>,
    /// Where randomness comes from.
    pub rng: &'a dyn Rng,
}

impl<'a> NewToken<'a> {
    /// A request for a token of `kind`.
    pub fn new(
        kind: TokenKind,
        issued_at_millis: i64,
        expires_at: i64,
        issuer: &'a str,
        rng: &'a dyn Rng,
    ) -> Self {
        Self {
            kind,
            issued_at_millis,
            expires_at,
            issuer,
            context: None,
            rng,
        }
    }

    /// With the issuance context.
    #[must_use]
    pub fn context(mut self, context: &'a IssueContext<'a>) -> Self {
        self.context = Some(context);
        self
    }
}

impl std::fmt::Debug for NewToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("kind", &self.kind)
            .field("issued_at_millis", &self.issued_at_millis)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Makes the strings handed out as access tokens, refresh tokens and codes, and finds the
/// storage key of a presented one. Replace it to change the token format; the default is
/// [`OpaqueTokenGenerator`].
///
/// A self-contained format (a signed JWT, say) puts what [`NewToken::context`] holds into
/// the token and still answers a [`TokenKey`]: the store keeps a record under it, so
/// revocation and introspection keep working.
pub trait TokenGenerator: Send + Sync + 'static {
    /// A new token.
    fn generate(&self, token: &NewToken<'_>) -> GeneratedToken;

    /// The storage key of a presented token, or `None` when it cannot be one of ours.
    fn parse(&self, value: &str) -> Option<TokenKey>;
}

/// The storage key of a presented access token: what `generator` reads, or else a JWT
/// access token's ([`crate::token::parse_jwt_key`]).
pub fn access_token_key(generator: &dyn TokenGenerator, value: &str) -> Option<TokenKey> {
    generator
        .parse(value)
        .or_else(|| crate::token::parse_jwt_key(value))
}

/// The default generator: the opaque selector + verifier format of [`crate::token`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OpaqueTokenGenerator;

impl TokenGenerator for OpaqueTokenGenerator {
    fn generate(&self, token: &NewToken<'_>) -> GeneratedToken {
        generate_token(token.rng, token.issued_at_millis)
    }

    fn parse(&self, value: &str) -> Option<TokenKey> {
        parse_token(value)
    }
}

/// Decides an access token's `expires_in`, in seconds. Any
/// `Fn(&str, &dyn Client) -> u64` closure (grant type, client) is one.
///
/// ```
/// use authgate::{ExpiresIn, Client};
/// let f = |grant_type: &str, _c: &dyn Client| if grant_type == "implicit" { 300 } else { 3600 };
/// fn takes(_: impl ExpiresIn) {}
/// takes(f);
/// ```
pub trait ExpiresIn: Send + Sync + 'static {
    /// The lifetime for the access token about to be issued.
    fn expires_in(&self, context: &IssueContext<'_>) -> u64;
}

impl<F> ExpiresIn for F
where
    F: Fn(&str, &dyn Client) -> u64 + Send + Sync + 'static,
{
    fn expires_in(&self, context: &IssueContext<'_>) -> u64 {
        self(context.grant_type, context.client)
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
    fn expires_in(&self, context: &IssueContext<'_>) -> u64 {
        self.config.expires_in_for(context.grant_type)
    }
}
