//! The implicit grant (RFC 6749 §4.2): discouraged by RFC 9700 §2.1.2, registered only when
//! an application asks for it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{issue_with_hooks, AuthorizationGrant, Grant, GrantHooks};
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::params::{AuthorizationRequest, ResponseMode, ResponseType};
use crate::response::AuthorizationResponse;
use crate::server_context::ServerContext;
use crate::storage::ResourceOwner;

/// `response_type=token`: the access token goes back in the redirect URI's fragment, and
/// never with a refresh token (RFC 6749 §4.2.2).
pub struct ImplicitGrant {
    hooks: Arc<dyn GrantHooks>,
}

hooked_grant!(ImplicitGrant);

impl Grant for ImplicitGrant {
    fn authorization_grant(self: Arc<Self>) -> Option<Arc<dyn AuthorizationGrant>> {
        Some(self)
    }
}

#[async_trait]
impl AuthorizationGrant for ImplicitGrant {
    fn response_type(&self) -> ResponseType {
        ResponseType::token()
    }

    fn default_response_mode(&self) -> ResponseMode {
        ResponseMode::Fragment
    }

    fn grant_type(&self) -> &str {
        "implicit"
    }

    async fn authorize(
        &self,
        ctx: &ServerContext,
        request: &AuthorizationRequest,
        owner: &ResourceOwner,
    ) -> Result<AuthorizationResponse, OAuth2Error> {
        let issue = IssueContext::new(request.client.as_ref(), "implicit", request.scope.clone())
            .owner(owner)
            .nonce(request.nonce.clone())
            .target(&ctx.config.resources, &request.resource)?;
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &request.scope).await?;
        // A hook may not smuggle a refresh token into a URL fragment.
        issued.refresh_token = None;
        let mut response = AuthorizationResponse::new(&request.redirect_uri, request.response_mode);
        response.params = issued.into_response().to_params();
        Ok(response)
    }
}
