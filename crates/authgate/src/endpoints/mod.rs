//! Endpoints registered explicitly: revocation (RFC 7009) and introspection (RFC 7662).

mod introspection;
mod revocation;

pub use introspection::{ConfidentialClients, IntrospectionEndpoint, IntrospectionPolicy};
pub use revocation::RevocationEndpoint;

use crate::context::ServerContext;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::storage::TokenRecord;

/// Finds the token named by the `token` parameter, whatever its kind; `token_type_hint` is
/// read but not trusted (RFC 7009 §2.1: the search extends to every type, and one store
/// keyed by selector already searches every type at once).
async fn find_presented_token(
    ctx: &ServerContext,
    req: &OAuth2Request,
) -> Result<Option<TokenRecord>, OAuth2Error> {
    let token = req
        .form_value("token")?
        .ok_or_else(|| OAuth2Error::invalid_request("missing 'token'"))?;
    // The hint only needs to be well-formed (not repeated): one lookup by selector finds
    // any kind, and an unknown hint value is ignored, as RFC 7009 §2.1 lets the server do.
    req.form_value("token_type_hint")?;
    let Some(key) = ctx.generator.parse(token) else {
        return Ok(None);
    };
    Ok(ctx
        .tokens
        .find_token(&key.selector)
        .await?
        .filter(|t| t.verifier_hash.ct_eq(&key.verifier_hash)))
}
