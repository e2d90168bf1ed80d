//! Grants: the registry's building blocks, and the five RFC 6749 grants.
//!
//! A grant handles the token endpoint for one `grant_type` ([`TokenGrant`]), the
//! authorization endpoint for one `response_type` ([`AuthorizationGrant`]), or both (the
//! authorization code grant). Register any value implementing [`Grant`] with
//! [`crate::AuthorizationServer::register_grant`]; custom grants implement the same traits.
//! Built-in grants are customised through [`GrantHooks`], not by copying them.

/// `new()` (default hooks), `with_hooks(...)` and `Default` for a built-in grant whose only
/// field is `hooks`.
macro_rules! hooked_grant {
    ($grant:ident) => {
        impl $grant {
            /// The grant with default hooks.
            pub fn new() -> Self {
                Self {
                    hooks: std::sync::Arc::new($crate::grants::DefaultHooks),
                }
            }

            /// The grant with custom hooks.
            #[must_use]
            pub fn with_hooks(mut self, hooks: impl $crate::grants::GrantHooks) -> Self {
                self.hooks = std::sync::Arc::new(hooks);
                self
            }
        }

        impl Default for $grant {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

mod authorization_code;
mod client_credentials;
mod implicit;
mod password;
mod refresh_token;

use std::sync::Arc;

use async_trait::async_trait;

pub use authorization_code::AuthorizationCodeGrant;
pub use client_credentials::ClientCredentialsGrant;
pub use implicit::ImplicitGrant;
pub use password::PasswordGrant;
pub use refresh_token::RefreshTokenGrant;

use crate::client::Client;
use crate::context::{IssuedTokens, ServerContext, TokenSpec};
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::server::AuthorizationRequest;
use crate::storage::ResourceOwner;

/// How authorization response parameters travel back to the client.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the redirect URI's query (the code grant's default).
    Query,
    /// In the redirect URI's fragment (the implicit grant's default; tokens never travel in
    /// a query, RFC 9700 §4.3.2).
    Fragment,
}

impl ResponseMode {
    /// The `response_mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
        }
    }
}

/// Anything that can be registered with the server: a token-endpoint grant, an
/// authorization-endpoint grant, or both.
pub trait Grant: Send + Sync + 'static {
    /// The token-endpoint side, if any.
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        None
    }

    /// The authorization-endpoint side, if any.
    fn authorization_grant(self: Arc<Self>) -> Option<Arc<dyn AuthorizationGrant>> {
        None
    }
}

/// A grant served at the token endpoint, keyed by its `grant_type`.
///
/// The server has already checked the request's method and content type, authenticated
/// the client, and checked the client may use this grant type (`unauthorized_client`).
#[async_trait]
pub trait TokenGrant: Send + Sync {
    /// The `grant_type` value, e.g. `client_credentials` or a `urn:` for extensions.
    fn grant_type(&self) -> &str;

    /// Whether the grant is advertised in `grant_types_supported`.
    fn advertised(&self) -> bool {
        true
    }

    /// Handles a token request; the answer is the JSON body of a 200 response.
    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OAuth2Error>;
}

/// A grant served at the authorization endpoint, keyed by its `response_type`.
#[async_trait]
pub trait AuthorizationGrant: Send + Sync {
    /// The `response_type` value.
    fn response_type(&self) -> &str;

    /// Where the response parameters go unless `response_mode` says otherwise.
    fn default_response_mode(&self) -> ResponseMode;

    /// The grant type a client must be allowed to use this response type (e.g. `implicit`
    /// for `token`).
    fn grant_type(&self) -> &str;

    /// Checks the grant's own parameters once the client and redirect URI are verified
    /// (PKCE for the code grant). Errors here are redirected to the client.
    fn validate_request(
        &self,
        _ctx: &ServerContext,
        _req: &OAuth2Request,
        _request: &mut AuthorizationRequest,
    ) -> Result<(), OAuth2Error> {
        Ok(())
    }

    /// Issues what the response carries (a code, a token) for an approving owner, as
    /// parameters to send to the redirect URI. `state` and `iss` are added by the server.
    async fn authorize(
        &self,
        ctx: &ServerContext,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<Vec<(String, String)>, OAuth2Error>;
}

/// Hooks into a built-in grant's token issuance. Every method has a default; override one
/// to change that step alone.
///
/// ```
/// use authgate::{async_trait, GrantHooks, IssuedTokens, OAuth2Error, ServerContext, TokenSpec};
/// struct ShortLived;
/// #[async_trait]
/// impl GrantHooks for ShortLived {
///     async fn issue_tokens(&self, ctx: &ServerContext, mut spec: TokenSpec<'_>)
///         -> Result<IssuedTokens, OAuth2Error> {
///         spec.expires_in = Some(60);
///         ctx.issue_tokens(spec).await
///     }
/// }
/// let grant = authgate::ImplicitGrant::new().with_hooks(ShortLived);
/// ```
#[async_trait]
pub trait GrantHooks: Send + Sync + 'static {
    /// Creates and saves the tokens. The default is [`ServerContext::issue_tokens`].
    async fn issue_tokens(
        &self,
        ctx: &ServerContext,
        spec: TokenSpec<'_>,
    ) -> Result<IssuedTokens, OAuth2Error> {
        ctx.issue_tokens(spec).await
    }
}

/// The hooks of a grant nobody customised.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHooks;

impl GrantHooks for DefaultHooks {}
