//! Token revocation (RFC 7009).

use async_trait::async_trait;

use super::{authenticated_client, find_presented_token, Endpoint};
use crate::client::authentication::SUPPORTED_METHODS;
use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::OAuth2Error;
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::OAuth2Response;
use crate::server_context::ServerContext;
use crate::storage::TokenKind;

/// The revocation endpoint, registered with
/// [`crate::AuthorizationServer::register_endpoint`] (or
/// [`crate::AuthorizationServer::register_revoke_token_endpoint`]), mounted at
/// [`crate::EndpointPaths::revocation`].
///
/// The caller authenticates as a client (public clients with their `client_id`). An
/// unknown token, or another client's, answers 200 and changes nothing (RFC 7009 §2.2).
/// Revoking an access token revokes that token; revoking a refresh token revokes every
/// token of its grant (RFC 7009 §2.1: "all access tokens based on the same authorization
/// grant").
#[derive(Debug, Clone, Default)]
pub struct RevocationEndpoint {
    _private: (),
}

impl RevocationEndpoint {
    /// The endpoint.
    pub fn new() -> Self {
        Self::default()
    }

    async fn revoke(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: &dyn Client,
    ) -> Result<(), OAuth2Error> {
        let Some(token) = find_presented_token(ctx, req).await? else {
            return Ok(());
        };
        if token.client_id != client.client_id() {
            return Ok(());
        }
        match token.kind {
            TokenKind::Refresh => ctx.tokens.revoke_family(&token.family).await?,
            TokenKind::Access | TokenKind::AuthorizationCode | TokenKind::DeviceCode => {
                ctx.tokens.revoke_token(&token.selector).await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Endpoint for RevocationEndpoint {
    fn name(&self) -> &'static str {
        "revocation"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.revocation.clone()
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let c = &ctx.config;
        metadata.revocation_endpoint = Some(c.endpoint_url(&c.endpoints.revocation));
        Metadata::add(
            &mut metadata.revocation_endpoint_auth_methods_supported,
            SUPPORTED_METHODS.iter().map(|m| m.as_str()),
        );
        super::advertise_assertions(
            ctx,
            &mut metadata.revocation_endpoint_auth_methods_supported,
            &mut metadata.revocation_endpoint_auth_signing_alg_values_supported,
        );
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        let result = match authenticated_client(ctx, req).await {
            Ok(client) => self.revoke(ctx, req, client.as_ref()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                crate::trace::served("revocation", req);
                OAuth2Response::empty_ok()
            }
            Err(e) => ctx.refuse("revocation", req, e),
        }
    }
}
