//! The client credentials grant (RFC 6749 §4.4).

use std::sync::Arc;

use async_trait::async_trait;

use super::{issue_with_hooks, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::server_context::ServerContext;

/// `grant_type=client_credentials`: confidential clients only (RFC 6749 §4.4), no refresh
/// token (§4.4.3).
pub struct ClientCredentialsGrant {
    hooks: Arc<dyn GrantHooks>,
}

hooked_grant!(ClientCredentialsGrant);

impl Grant for ClientCredentialsGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for ClientCredentialsGrant {
    fn grant_type(&self) -> &str {
        "client_credentials"
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        if client.is_public() {
            return Err(OAuth2Error::unauthorized_client(
                "client_credentials is for confidential clients only (RFC 6749 section 4.4)",
            ));
        }
        let scope = ctx.resolve_scope(client.as_ref(), req.form_value("scope")?)?;
        let issue = IssueContext::new(client.as_ref(), "client_credentials", scope).target(
            &ctx.config.resources,
            &requested_resources(req.form_pairs()),
        )?;
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, client.scope()).await?;
        // RFC 6749 §4.4.3: whatever a hook did, no refresh token here.
        issued.refresh_token = None;
        Ok(issued.into_response())
    }
}
