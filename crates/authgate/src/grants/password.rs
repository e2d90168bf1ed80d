//! The resource owner password credentials grant (RFC 6749 §4.3): forbidden by RFC 9700
//! §2.4 for new deployments, registered only when an application asks for it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{issue_with_hooks, DefaultHooks, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::server_context::ServerContext;
use crate::storage::UserStore;

/// `grant_type=password`: the owner's credentials are checked by a [`UserStore`] (the
/// user-authentication hook).
pub struct PasswordGrant {
    users: Arc<dyn UserStore>,
    hooks: Arc<dyn GrantHooks>,
}

impl PasswordGrant {
    /// The grant, checking credentials with `users`.
    pub fn new(users: impl UserStore + 'static) -> Self {
        Self {
            users: Arc::new(users),
            hooks: Arc::new(DefaultHooks),
        }
    }

    /// The grant with custom hooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: impl GrantHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }
}

impl Grant for PasswordGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for PasswordGrant {
    fn grant_type(&self) -> &str {
        "password"
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        let username = req
            .form_value("username")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'username'"))?;
        let password = req
            .form_value("password")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'password'"))?;
        let scope = ctx.resolve_scope(client.as_ref(), req.form_value("scope")?)?;
        // A username with a control character names no user (and some stores cannot look
        // one up): the answer for wrong credentials, without asking the user store.
        if crate::identifier::has_control_characters(username) {
            return Err(OAuth2Error::invalid_grant(
                "invalid resource owner credentials",
            ));
        }
        let owner = self
            .users
            .authenticate_user(username, password)
            .await?
            .ok_or_else(|| OAuth2Error::invalid_grant("invalid resource owner credentials"))?;
        let issue = IssueContext::new(client.as_ref(), "password", scope)
            .owner(&owner)
            .refresh_token(ctx.issues_refresh_token(client.as_ref()))
            .target(
                &ctx.config.resources,
                &requested_resources(req.form_pairs()),
            )?;
        let issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, client.scope()).await?;
        Ok(issued.into_response())
    }
}
