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
mod device_code;
mod implicit;
#[cfg(feature = "jose")]
mod jwt_bearer;
#[cfg(feature = "jose")]
mod openid;
mod password;
mod refresh_token;
mod token_exchange;

use std::sync::Arc;

use async_trait::async_trait;

pub use authorization_code::AuthorizationCodeGrant;
pub use client_credentials::ClientCredentialsGrant;
pub(crate) use device_code::device_store;
pub use device_code::{DeviceCodeGrant, DEVICE_CODE_GRANT_TYPE};
pub use implicit::ImplicitGrant;
#[cfg(feature = "jose")]
pub use jwt_bearer::{JwtBearerGrant, TrustedIssuer, TrustedIssuers, JWT_BEARER_GRANT_TYPE};
#[cfg(feature = "jose")]
pub use openid::OpenIdGrant;
pub use password::PasswordGrant;
pub(crate) use refresh_token::GraceSecret;
pub use refresh_token::RefreshTokenGrant;
pub use token_exchange::{
    DenyAll, ExchangePolicy, ExchangeRequest, ExchangeSubject, TokenExchangeGrant, TrustedToken,
    ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE,
};

use crate::client::Client;
use crate::context::{IssueContext, IssuedTokens};
use crate::error::OAuth2Error;
use crate::metadata::Metadata;
use crate::params::{AuthorizationRequest, ResponseMode, ResponseType};
use crate::request::OAuth2Request;
use crate::response::{AuthorizationResponse, TokenResponse};
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::ResourceOwner;

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

    /// Handles a token request; the answer becomes the JSON body of a 200 response.
    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error>;

    /// Adds what the grant supports to the metadata, beyond its grant type (which the
    /// server lists).
    fn contribute(&self, _ctx: &ServerContext, _metadata: &mut Metadata) {}
}

/// A grant served at the authorization endpoint, keyed by its `response_type`.
#[async_trait]
pub trait AuthorizationGrant: Send + Sync {
    /// The `response_type` (a set of values: `code id_token` is `id_token code`).
    fn response_type(&self) -> ResponseType;

    /// Where the response parameters go unless `response_mode` says otherwise.
    fn default_response_mode(&self) -> ResponseMode;

    /// The grant type a client must be allowed to use this response type (e.g. `implicit`
    /// for `token`).
    fn grant_type(&self) -> &str;

    /// Checks the grant's own parameters once the client and redirect URI are verified
    /// (PKCE for the code grant), reading [`AuthorizationRequest::params`]. Errors here
    /// are redirected to the client.
    fn validate_request(
        &self,
        _ctx: &ServerContext,
        _request: &mut AuthorizationRequest,
    ) -> Result<(), OAuth2Error> {
        Ok(())
    }

    /// Issues what the response carries (a code, a token) for an approving owner.
    /// `state` and `iss` are added by the endpoint.
    async fn authorize(
        &self,
        ctx: &ServerContext,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<AuthorizationResponse, OAuth2Error>;

    /// Adds what the grant supports to the metadata (PKCE methods, for the code grant).
    fn contribute(&self, _ctx: &ServerContext, _metadata: &mut Metadata) {}
}

/// Hooks into a built-in grant's token issuance, the refresh grant's included. Every
/// method has a default; override one to change that step alone. A grant calls
/// [`Self::prepare`], then [`Self::issue_tokens`], then [`Self::issued`] — except the
/// refresh grant when it rotates, which builds the tokens and saves them atomically with
/// the retirement of the old refresh token, between `prepare` and `issued`.
///
/// ```
/// use authgate::{async_trait, GrantHooks, IssueContext, OAuth2Error, ServerContext};
/// struct ShortLived;
/// #[async_trait]
/// impl GrantHooks for ShortLived {
///     fn prepare(&self, _ctx: &ServerContext, issue: &mut IssueContext<'_>)
///         -> Result<(), OAuth2Error> {
///         issue.expires_in = Some(60);
///         Ok(())
///     }
/// }
/// let grant = authgate::ImplicitGrant::new().with_hooks(ShortLived);
/// ```
#[async_trait]
pub trait GrantHooks: Send + Sync + 'static {
    /// Shapes what is about to be issued: lifetime, audience, claims, the scope within
    /// what the grant allows (the client's scope, or what the owner approved); the grant
    /// family cannot change. The default changes nothing. It runs on the request's task and must not
    /// block; what needs I/O belongs in [`Self::issue_tokens`] or [`Self::issued`].
    fn prepare(
        &self,
        _ctx: &ServerContext,
        _issue: &mut IssueContext<'_>,
    ) -> Result<(), OAuth2Error> {
        Ok(())
    }

    /// Creates and saves the tokens. The default is [`ServerContext::issue_tokens`].
    async fn issue_tokens(
        &self,
        ctx: &ServerContext,
        issue: &IssueContext<'_>,
    ) -> Result<IssuedTokens, OAuth2Error> {
        ctx.issue_tokens(issue).await
    }

    /// Sees the tokens once saved; may add members to the response. Like
    /// [`Self::prepare`] it must not block. It cannot undo the issuance (the tokens are
    /// saved), so it has no error to return.
    fn issued(&self, _ctx: &ServerContext, _issue: &IssueContext<'_>, _tokens: &mut IssuedTokens) {}
}

/// The hooks of a grant nobody customised.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHooks;

impl GrantHooks for DefaultHooks {}

/// Runs [`GrantHooks::prepare`], holding it to what a hook may change: the tokens stay in
/// their grant family (so revoking it, on a code replay or refresh reuse, reaches them)
/// and their grant's resources (the ceiling of later requests); the scopes stay within
/// `ceiling`, what the grant could issue at most (the client's scope, or what the owner
/// approved), and the access token's within what its resources accept; its audience may
/// only narrow, to registered resources of the grant (RFC 8707).
fn prepare(
    hooks: &dyn GrantHooks,
    ctx: &ServerContext,
    issue: &mut IssueContext<'_>,
    ceiling: &Scope,
) -> Result<(), OAuth2Error> {
    let family = issue.family;
    let grant_resources = issue.details().audience.clone();
    let audience = issue.audience.clone();
    hooks.prepare(ctx, issue)?;
    issue.family = family;
    if issue.details().audience != grant_resources {
        issue.details_mut().audience = grant_resources.clone();
    }
    let widened = |what: &'static str| {
        Err(OAuth2Error::with_description(
            crate::error::ErrorCode::ServerError,
            what,
        ))
    };
    if issue.audience != audience {
        let narrowed = if audience.is_empty() {
            !issue.audience.is_empty()
        } else {
            !issue.audience.is_empty() && issue.audience.iter().all(|a| audience.contains(a))
        };
        let registered = ctx
            .config
            .resources
            .resolve(&issue.audience, &grant_resources)
            .is_ok();
        if !narrowed || !registered {
            return widened("a grant hook widened the audience beyond what the grant allows");
        }
    }
    let for_audience = ctx
        .config
        .resources
        .scope_for(&issue.audience, &issue.scope)
        .ok();
    if !issue.scope.is_subset_of(ceiling) || for_audience.as_ref() != Some(&issue.scope) {
        return widened("a grant hook widened the scope beyond what the grant allows");
    }
    if issue
        .grant_scope
        .as_ref()
        .is_some_and(|s| !s.is_subset_of(ceiling))
    {
        return widened("a grant hook widened the refresh token's scope beyond the grant");
    }
    Ok(())
}

/// Runs the three hooks around one issuance.
async fn issue_with_hooks(
    hooks: &dyn GrantHooks,
    ctx: &ServerContext,
    mut issue: IssueContext<'_>,
    ceiling: &Scope,
) -> Result<IssuedTokens, OAuth2Error> {
    prepare(hooks, ctx, &mut issue, ceiling)?;
    let mut issued = hooks.issue_tokens(ctx, &issue).await?;
    hooks.issued(ctx, &issue, &mut issued);
    Ok(issued)
}
