//! The one file that calls the crypto libraries: key generation, JWS signatures and
//! AES-256-GCM from `aws-lc-rs`; JWS verification and JWK encoding from `jsonwebtoken` on
//! its `aws_lc_rs` provider. Everything else in the engine sees authgate's own types.
//!
//! Signing uses `aws-lc-rs` key pairs parsed once, when a key is loaded: `jsonwebtoken`
//! parses its key on every signature, which for RSA costs more than the signature itself.

use std::sync::Once;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};

use super::{Algorithm, JoseError, PublicJwk};

/// jsonwebtoken picks its provider from its features; with any other crate in the build
/// enabling the `rust_crypto` one too, it would have to be told. It is told, once.
fn provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Already installed (by the application, or on another path) is fine.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
    });
}

fn crypto(e: impl std::fmt::Display) -> JoseError {
    JoseError::Crypto(e.to_string())
}

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

/// A new private key for `alg`, as PKCS#8 DER.
pub(crate) fn generate(alg: Algorithm) -> Result<Vec<u8>, JoseError> {
    let der: Vec<u8> = match alg {
        Algorithm::RS256 | Algorithm::PS256 => {
            let k = RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto)?;
            let der: Pkcs8V1Der<'static> = k.as_der().map_err(crypto)?;
            der.as_ref().to_vec()
        }
        Algorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(crypto)?
            .as_ref()
            .to_vec(),
        Algorithm::ES384 => EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(crypto)?
            .as_ref()
            .to_vec(),
        Algorithm::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map_err(crypto)?
            .as_ref()
            .to_vec(),
    };
    Ok(der)
}

/// A private key ready to sign, with its public JWK.
pub(crate) struct Signer {
    alg: Algorithm,
    key: ParsedKey,
    jwk: PublicJwk,
}

/// A private key as `aws-lc-rs` holds it, parsed once.
enum ParsedKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Signer {
    /// Loads a PKCS#8 private key for `alg`.
    pub(crate) fn new(alg: Algorithm, pkcs8: &[u8]) -> Result<Self, JoseError> {
        provider();
        let key = match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                ParsedKey::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(crypto)?)
            }
            Algorithm::ES256 => ParsedKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(crypto)?,
            ),
            Algorithm::ES384 => ParsedKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8)
                    .map_err(crypto)?,
            ),
            Algorithm::EdDSA => {
                ParsedKey::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(crypto)?)
            }
        };
        // The public JWK through jsonwebtoken's encoder (it reads RSA keys as PKCS#1; its
        // PEM reader unwraps PKCS#8).
        let encoding = match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                EncodingKey::from_rsa_pem(pem(pkcs8).as_bytes()).map_err(crypto)?
            }
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_der(pkcs8),
            Algorithm::EdDSA => EncodingKey::from_ed_der(pkcs8),
        };
        let full = Jwk::from_encoding_key(&encoding, jwt_alg(alg)).map_err(crypto)?;
        let kid = full.thumbprint(ThumbprintHash::SHA256).map_err(crypto)?;
        let jwk = public_members(&full, alg, kid)?;
        Ok(Self { alg, key, jwk })
    }

    /// The public key.
    pub(crate) fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims`, with `alg`, `kid` and, when given, `typ`
    /// in its header.
    pub(crate) fn sign(
        &self,
        typ: Option<&str>,
        claims: &serde_json::Value,
    ) -> Result<String, JoseError> {
        let mut header = serde_json::Map::with_capacity(3);
        header.insert("alg".into(), self.alg.as_str().into());
        header.insert("kid".into(), self.jwk.kid.clone().into());
        if let Some(t) = typ {
            header.insert("typ".into(), t.into());
        }
        let header = serde_json::to_vec(&header).map_err(crypto)?;
        let payload = serde_json::to_vec(claims).map_err(crypto)?;
        let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
        URL_SAFE_NO_PAD.encode_string(&header, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let signature = self.signature(out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }

    /// The JWS signature of `input` (RFC 7518 §3: PKCS#1 v1.5 or PSS with SHA-256, ECDSA
    /// as the fixed-length R || S, Ed25519).
    fn signature(&self, input: &[u8]) -> Result<Vec<u8>, JoseError> {
        match &self.key {
            ParsedKey::Rsa(k) => {
                let padding = if self.alg == Algorithm::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), input, &mut sig)
                    .map_err(crypto)?;
                Ok(sig)
            }
            ParsedKey::Ecdsa(k) => Ok(k
                .sign(&SystemRandom::new(), input)
                .map_err(crypto)?
                .as_ref()
                .to_vec()),
            ParsedKey::Ed25519(k) => Ok(k.sign(input).as_ref().to_vec()),
        }
    }
}

/// Copies the public members of a JWK the library produced: whatever else it might carry,
/// only these leave this function.
fn public_members(full: &Jwk, alg: Algorithm, kid: String) -> Result<PublicJwk, JoseError> {
    let v = serde_json::to_value(full).map_err(crypto)?;
    let member = |name: &str| v.get(name).and_then(|m| m.as_str()).map(str::to_owned);
    Ok(PublicJwk {
        kty: member("kty").ok_or(JoseError::Crypto("a JWK without kty".into()))?,
        kid,
        use_: "sig".to_owned(),
        alg: alg.as_str().to_owned(),
        n: member("n"),
        e: member("e"),
        crv: member("crv"),
        x: member("x"),
        y: member("y"),
    })
}

/// The header of a compact JWS: `kid`, `alg` and `typ`. An `alg` the library does not
/// know (`none` among them) is an error.
pub(crate) fn header(token: &str) -> Result<(Option<String>, String, Option<String>), JoseError> {
    provider();
    let h = jsonwebtoken::decode_header(token)
        .map_err(|_| JoseError::Invalid("malformed JWS header"))?;
    let alg = serde_json::to_value(h.alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((h.kid, alg, h.typ))
}

/// Checks a compact JWS's signature with `jwk`, for `alg` only, and answers its claims.
/// No claim is checked here (callers check `exp`, `iss`, `aud` as their specification
/// says).
pub(crate) fn verify(
    token: &str,
    jwk: &PublicJwk,
    alg: Algorithm,
) -> Result<serde_json::Value, JoseError> {
    provider();
    let as_lib: Jwk = serde_json::to_value(jwk)
        .and_then(serde_json::from_value)
        .map_err(crypto)?;
    let key = DecodingKey::from_jwk(&as_lib).map_err(crypto)?;
    let mut v = Validation::new(jwt_alg(alg));
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|_| JoseError::Invalid("the signature does not verify"))
}

/// Checks an HMAC-signed JWS (`HS256`, `HS384` or `HS512`, as `alg` names, which must be
/// the header's) with `secret`, answering its claims. Like [`verify`], the claims are the
/// caller's to check.
pub(crate) fn verify_hmac(
    token: &str,
    secret: &[u8],
    alg: &str,
) -> Result<serde_json::Value, JoseError> {
    provider();
    let alg = match alg {
        "HS256" => jsonwebtoken::Algorithm::HS256,
        "HS384" => jsonwebtoken::Algorithm::HS384,
        "HS512" => jsonwebtoken::Algorithm::HS512,
        _ => return Err(JoseError::Invalid("not an HMAC algorithm")),
    };
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let key = DecodingKey::from_secret(secret).map_err(crypto)?;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|_| JoseError::Invalid("the signature does not verify"))
}

/// Seals `plaintext` with AES-256-GCM under `key`, bound to `aad`: nonce || ciphertext ||
/// tag.
pub(crate) fn seal(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, JoseError> {
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(crypto)?);
    let mut out = plaintext.to_vec();
    k.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut out,
    )
    .map_err(crypto)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&out);
    Ok(sealed)
}

/// Opens what [`seal`] sealed; `None` for a wrong key, altered bytes or another `aad`.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 12 {
        return None;
    }
    let (nonce, body) = sealed.split_at(12);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let mut buf = body.to_vec();
    let plain = k.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

/// PKCS#8 DER as PEM, for the library's PEM reader.
fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut s = String::with_capacity(b64.len() + 64);
    s.push_str("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str("-----END PRIVATE KEY-----\n");
    s
}
