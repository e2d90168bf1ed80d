//! The OpenID Connect implicit and hybrid flows (OpenID Connect Core §3.2, §3.3; OAuth 2.0
//! Multiple Response Type Encoding Practices): `id_token`, `id_token token`,
//! `code id_token`, `code token` and `code id_token token`.

use std::sync::Arc;

use async_trait::async_trait;

use super::authorization_code::{issue_code, validate_pkce};
use super::{issue_with_hooks, AuthorizationGrant, DefaultHooks, Grant, GrantHooks};
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::oidc::IdTokenSpec;
use crate::params::{AuthorizationRequest, ResponseMode, ResponseType};
use crate::response::AuthorizationResponse;
use crate::server_context::ServerContext;
use crate::storage::{GrantDetails, ResourceOwner};

/// One OpenID Connect response type beyond `code`, served at the authorization endpoint
/// (the code grant serves `code` itself, adding an ID token at the token endpoint).
///
/// Every one of them needs the `openid` scope when it returns an ID token, a `nonce`
/// (OpenID Connect Core §3.2.2.1, §3.3.2.11), a client registered for the response type,
/// and, when it issues a code, PKCE as the code grant asks it. The answer goes in the
/// fragment (or a form-post page), never the query. An access token issued here has no
/// refresh token; an ID token issued with an access token or a code carries `at_hash` /
/// `c_hash`, and the scope's claims only when no access token is issued (response type
/// `id_token`, §5.4).
///
/// ```
/// # use authgate::*;
/// # fn register(server: &mut AuthorizationServer) {
/// for grant in OpenIdGrant::all() {
///     server.register_grant(grant);
/// }
/// # }
/// ```
pub struct OpenIdGrant {
    response_type: ResponseType,
    hooks: Arc<dyn GrantHooks>,
}

impl OpenIdGrant {
    fn of(response_type: &str) -> Self {
        Self {
            response_type: ResponseType::parse(response_type).unwrap_or_else(ResponseType::code),
            hooks: Arc::new(DefaultHooks),
        }
    }

    /// `id_token` (implicit, no access token).
    pub fn id_token() -> Self {
        Self::of("id_token")
    }

    /// `id_token token` (implicit).
    pub fn id_token_token() -> Self {
        Self::of("id_token token")
    }

    /// `code id_token` (hybrid).
    pub fn code_id_token() -> Self {
        Self::of("code id_token")
    }

    /// `code token` (hybrid).
    pub fn code_token() -> Self {
        Self::of("code token")
    }

    /// `code id_token token` (hybrid).
    pub fn code_id_token_token() -> Self {
        Self::of("code id_token token")
    }

    /// All five.
    pub fn all() -> [Self; 5] {
        [
            Self::id_token(),
            Self::id_token_token(),
            Self::code_id_token(),
            Self::code_token(),
            Self::code_id_token_token(),
        ]
    }

    /// The grant with custom hooks (for the access token it issues).
    #[must_use]
    pub fn with_hooks(mut self, hooks: impl GrantHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    fn issues(&self, value: &str) -> bool {
        self.response_type.contains(value)
    }
}

impl Grant for OpenIdGrant {
    fn authorization_grant(self: Arc<Self>) -> Option<Arc<dyn AuthorizationGrant>> {
        Some(self)
    }
}

#[async_trait]
impl AuthorizationGrant for OpenIdGrant {
    fn response_type(&self) -> ResponseType {
        self.response_type.clone()
    }

    fn default_response_mode(&self) -> ResponseMode {
        ResponseMode::Fragment
    }

    fn grant_type(&self) -> &str {
        if self.issues("code") {
            "authorization_code"
        } else {
            "implicit"
        }
    }

    fn validate_request(
        &self,
        ctx: &ServerContext,
        request: &mut AuthorizationRequest,
    ) -> Result<(), OAuth2Error> {
        if crate::oidc::provider(ctx).is_none() {
            return Err(OAuth2Error::with_description(
                ErrorCode::UnsupportedResponseType,
                "OpenID Connect is not enabled on this server",
            ));
        }
        // OpenID Connect Registration §2: the hybrid flows use both grants.
        if self.issues("code") && !request.client.allows_grant_type("implicit") {
            return Err(OAuth2Error::unauthorized_client(
                "the client may not use this response_type (it needs the implicit grant too)",
            ));
        }
        if self.issues("id_token") && !request.is_openid() {
            return Err(OAuth2Error::invalid_request(
                "this response_type returns an ID token: the openid scope is required (OpenID Connect Core section 3.2.2.1)",
            ));
        }
        if request.nonce.is_none() {
            return Err(OAuth2Error::invalid_request(
                "nonce is required for this response_type (OpenID Connect Core sections 3.2.2.1, 3.3.2.11)",
            ));
        }
        if self.issues("code") {
            validate_pkce(ctx, request)?;
        }
        Ok(())
    }

    async fn authorize(
        &self,
        ctx: &ServerContext,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<AuthorizationResponse, OAuth2Error> {
        let mut response = AuthorizationResponse::new(&request.redirect_uri, request.response_mode);
        let code = if self.issues("code") {
            Some(issue_code(ctx, request, owner).await?)
        } else {
            None
        };
        let details = GrantDetails {
            claims_request: request.params.claims.clone(),
            ..GrantDetails::of_owner(owner)
        };
        let token = if self.issues("token") {
            let issue =
                IssueContext::new(request.client.as_ref(), "implicit", request.scope.clone())
                    .owner(owner)
                    .with_details(details.clone())
                    .nonce(request.nonce.clone())
                    .target(&ctx.config.resources, &request.resource)?;
            let mut issued =
                issue_with_hooks(self.hooks.as_ref(), ctx, issue, &request.scope).await?;
            // Never a refresh token from the authorization endpoint (RFC 6749 §4.2.2).
            issued.refresh_token = None;
            Some(issued.into_response())
        } else {
            None
        };
        if let Some(c) = &code {
            response.push("code", c.clone());
        }
        if let Some(t) = &token {
            for (k, v) in t.to_params() {
                response.push(k, v);
            }
        }
        if self.issues("id_token") {
            let Some(openid) = crate::oidc::provider(ctx) else {
                return Err(OAuth2Error::new(ErrorCode::ServerError));
            };
            let mut spec = IdTokenSpec::new(
                request.client.as_ref(),
                &owner.subject,
                &details,
                &request.scope,
            );
            spec.nonce = request.nonce.as_deref();
            spec.access_token = token.as_ref().map(|t| t.access_token.as_str());
            spec.code = code.as_deref();
            spec.scope_claims = token.is_none() && code.is_none();
            response.push("id_token", openid.id_token(ctx, spec).await?);
        }
        Ok(response)
    }
}
