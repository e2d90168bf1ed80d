//! The implicit grant (RFC 6749 §4.2): discouraged by RFC 9700 §2.1.2, registered only when
//! an application asks for it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{AuthorizationGrant, Grant, GrantHooks, ResponseMode};
use crate::context::{ServerContext, TokenSpec};
use crate::error::OAuth2Error;
use crate::server::AuthorizationRequest;
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
    fn response_type(&self) -> &str {
        "token"
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
    ) -> Result<Vec<(String, String)>, OAuth2Error> {
        let spec = TokenSpec {
            client: request.client.as_ref(),
            grant_type: "implicit",
            owner: Some(owner),
            scope: request.scope.clone(),
            family: None,
            refresh_token: false,
            expires_in: None,
        };
        let mut issued = self.hooks.issue_tokens(ctx, spec).await?;
        // A hook may not smuggle a refresh token into a URL fragment.
        issued.refresh_token = None;
        Ok(issued.to_fragment_params())
    }
}
