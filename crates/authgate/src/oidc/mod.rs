//! OpenID Connect: the provider's configuration ([`OpenIdProvider`]), where user claims
//! come from ([`ClaimsSource`]), ID tokens (OpenID Connect Core §2, §3.1.3.6), UserInfo
//! claims (§5.3), subject types (§8) and logout tokens (Back-Channel Logout §2.4).
//!
//! Enabled with [`crate::AuthorizationServer::enable_openid`], which needs the server's
//! signing keys. Then the code grant answers an `id_token` whenever `openid` was granted,
//! the refresh grant a fresh one (without `nonce`, OpenID Connect Core §12.2), the
//! [`crate::OpenIdGrant`]s serve the implicit and hybrid response types, and
//! [`crate::UserInfoEndpoint`] answers claims.

mod claims;
pub(crate) mod provider;
mod subject;
mod tokens;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384, Sha512};

pub use claims::{claims_of_scope, standard_claims, ClaimsRequest, ClaimsTarget, SCOPE_CLAIMS};
pub use provider::{ClaimsSource, OpenIdProvider};
pub use subject::{sector_of, subject_for};
pub use tokens::IdTokenSpec;
pub(crate) use tokens::{audience_has, not_our_id_token, verify_own_id_token};

use crate::jose::Algorithm;
use crate::server_context::ServerContext;

/// The server's OpenID Provider, when OpenID Connect is enabled
/// ([`crate::AuthorizationServer::enable_openid`]).
pub fn provider(ctx: &ServerContext) -> Option<&std::sync::Arc<OpenIdProvider>> {
    ctx.extensions.get::<std::sync::Arc<OpenIdProvider>>()
}

/// `at_hash` / `c_hash` (OpenID Connect Core §3.1.3.6, §3.3.2.11): the left half of the
/// hash the signing algorithm uses, base64url. Ed25519 uses SHA-512.
pub fn half_hash(alg: Algorithm, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::ES384 => Sha384::digest(value.as_bytes()).to_vec(),
        Algorithm::EdDSA => Sha512::digest(value.as_bytes()).to_vec(),
        _ => Sha256::digest(value.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash_oidc_core_3_1_3_6() {
        // The example of OpenID Connect Core's Appendix A.3 (RS256).
        assert_eq!(
            half_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(half_hash(Algorithm::ES384, "x").len(), 32);
        assert_eq!(half_hash(Algorithm::EdDSA, "x").len(), 43);
    }
}
