//! Token revocation (RFC 7009).

use super::find_presented_token;
use crate::client::Client;
use crate::context::ServerContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::storage::TokenKind;

/// The revocation endpoint, enabled with
/// [`crate::AuthorizationServer::register_revoke_token_endpoint`].
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

    pub(crate) async fn revoke(
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
            TokenKind::Access | TokenKind::AuthorizationCode => {
                ctx.tokens.revoke_token(&token.selector).await?;
            }
        }
        Ok(())
    }
}
