//! The token endpoint (RFC 6749 §3.2, §5): authenticates the client and dispatches on
//! `grant_type` to the registered [`TokenGrant`].

use std::collections::HashMap;
use std::sync::Arc;

use super::check_post_form;
use crate::client::authentication::SUPPORTED_METHODS;
use crate::error::{ErrorCode, OAuth2Error};
use crate::grants::TokenGrant;
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::{OAuth2Response, TokenResponse};
use crate::server_context::ServerContext;

/// The token endpoint: the registry of token-endpoint grants, keyed by `grant_type`,
/// mounted at [`crate::EndpointPaths::token`]. Every server has one; grants join it
/// through [`crate::AuthorizationServer::register_grant`].
#[derive(Default)]
pub struct TokenEndpoint {
    grants: HashMap<String, Arc<dyn TokenGrant>>,
}

impl TokenEndpoint {
    /// Adds a grant under its `grant_type`, replacing one registered before.
    pub(crate) fn insert(&mut self, grant: Arc<dyn TokenGrant>) {
        self.grants.insert(grant.grant_type().to_owned(), grant);
    }

    /// The registered grants.
    pub fn grants(&self) -> impl Iterator<Item = &Arc<dyn TokenGrant>> {
        self.grants.values()
    }

    /// Answers a token request: the JSON token response, or a JSON error (with the realm's
    /// `WWW-Authenticate: Basic` after a failed Basic authentication).
    pub async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        match self.token_response(ctx, req).await {
            Ok(r) => {
                crate::trace::served("token", req);
                r.into_response()
            }
            Err(e) => ctx.refuse("token", req, e),
        }
    }

    async fn token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<TokenResponse, OAuth2Error> {
        check_post_form(req)?;
        let grant_type = req
            .form_value("grant_type")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'grant_type'"))?;
        let grant = self.grants.get(grant_type).ok_or_else(|| {
            OAuth2Error::with_description(
                ErrorCode::UnsupportedGrantType,
                "this server does not support the grant_type",
            )
        })?;
        let client = super::client_of(ctx, req).await?;
        if !client.allows_grant_type(grant_type) {
            return Err(OAuth2Error::unauthorized_client(
                "the client may not use this grant_type",
            ));
        }
        grant.create_token_response(ctx, req, client).await
    }

    /// The token endpoint's metadata: its URL, the client authentication methods, and what
    /// each grant adds.
    pub fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let c = &ctx.config;
        metadata.token_endpoint = Some(c.endpoint_url(&c.endpoints.token));
        Metadata::add(
            &mut metadata.token_endpoint_auth_methods_supported,
            SUPPORTED_METHODS.iter().map(|m| m.as_str()),
        );
        super::advertise_assertions(
            ctx,
            &mut metadata.token_endpoint_auth_methods_supported,
            &mut metadata.token_endpoint_auth_signing_alg_values_supported,
        );
        for g in self.grants.values() {
            g.contribute(ctx, metadata);
        }
    }
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut types: Vec<&String> = self.grants.keys().collect();
        types.sort();
        f.debug_struct("TokenEndpoint")
            .field("grant_types", &types)
            .finish()
    }
}
