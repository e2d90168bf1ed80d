//! The metadata endpoint (RFC 8414 §3; OpenID Connect Discovery 1.0 §4): the document at
//! `/.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
//!
//! Nobody writes the document by hand: the server asks the token and authorization
//! endpoints, their grants and every registered endpoint to add what they support
//! ([`crate::Endpoint::contribute`], [`crate::TokenGrant::contribute`],
//! [`crate::AuthorizationGrant::contribute`]), so it lists exactly what is registered.

use std::sync::Arc;

use super::{AuthorizationEndpoint, Endpoint, TokenEndpoint};
use crate::metadata::Metadata;
use crate::server_context::ServerContext;

/// Assembles the document from what is registered.
pub(crate) fn build(
    ctx: &ServerContext,
    token: &TokenEndpoint,
    authorization: &AuthorizationEndpoint,
    grant_types: Vec<&str>,
    endpoints: &[Arc<dyn Endpoint>],
) -> Metadata {
    let c = &ctx.config;
    let mut m = Metadata::new(c.issuer.clone());
    token.contribute(ctx, &mut m);
    Metadata::add(&mut m.grant_types_supported, grant_types);
    authorization.contribute(ctx, &mut m);
    // RFC 9207: every authorization response (errors too) carries `iss`.
    m.authorization_response_iss_parameter_supported = Some(true);
    for e in endpoints {
        e.contribute(ctx, &mut m);
    }
    if ctx
        .extensions
        .get::<crate::client::metadata_document::DocumentsEnabled>()
        .is_some()
    {
        m.client_id_metadata_document_supported = Some(true);
    }
    if !c.scopes_supported.is_empty() {
        Metadata::add(&mut m.scopes_supported, c.scopes_supported.iter().cloned());
    }
    #[cfg(feature = "jose")]
    if let Some(openid) = crate::oidc::provider(ctx) {
        openid.contribute(ctx, &mut m);
    }
    m
}
