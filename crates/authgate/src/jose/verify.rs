//! [`JwksVerifier`]: checks a JWS against a published key set, the algorithm pinned by the
//! key.

use super::backend;
use super::{Algorithm, JoseError, Jwks};

/// A verified JWS: its header's `kid`, `alg` and `typ`, and its claims.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct VerifiedJwt {
    /// The key that signed it.
    pub kid: String,
    /// The algorithm.
    pub alg: Algorithm,
    /// The `typ` header, if any.
    pub typ: Option<String>,
    /// The claims (not checked: `exp`, `iss`, `aud` are the caller's to check).
    pub claims: serde_json::Value,
}

/// Verifies compact JWSs against a key set (RFC 8725 §3.1): the header must name a key by
/// `kid`, and its `alg` must be exactly that key's `alg` — a token cannot choose how it is
/// checked. `none`, HMAC and any algorithm a key is not for are refused.
///
/// ```
/// use authgate::jose::{Jwks, JwksVerifier};
/// let v = JwksVerifier::new(Jwks::default());
/// // An unsigned token ("alg": "none") never verifies.
/// assert!(v.verify("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct JwksVerifier {
    jwks: Jwks,
}

impl JwksVerifier {
    /// A verifier over a key set.
    pub fn new(jwks: Jwks) -> Self {
        Self { jwks }
    }

    /// The keys.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Checks the signature and answers the token's header facts and claims.
    ///
    /// # Errors
    /// [`JoseError::Invalid`]: a malformed token, no `kid`, an unknown `kid`, an `alg`
    /// other than the key's, or a signature that does not verify.
    pub fn verify(&self, token: &str) -> Result<VerifiedJwt, JoseError> {
        let (kid, alg, typ) = backend::header(token)?;
        let kid = kid.ok_or(JoseError::Invalid("the token names no key (kid)"))?;
        let jwk = self
            .jwks
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JoseError::Invalid("the token's key is not in the key set"))?;
        if jwk.alg != alg {
            return Err(JoseError::Invalid(
                "the token's alg is not its key's algorithm (RFC 8725 section 3.1)",
            ));
        }
        let alg = Algorithm::parse(&alg).ok_or(JoseError::Invalid("unsupported alg"))?;
        let claims = backend::verify(token, jwk, alg)?;
        Ok(VerifiedJwt {
            kid,
            alg,
            typ,
            claims,
        })
    }
}
