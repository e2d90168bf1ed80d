//! The opaque token format: a time-ordered selector plus a secret verifier.
//!
//! Every access token, refresh token and authorization code is 48 random-looking bytes,
//! base64url without padding (64 characters):
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..6 | milliseconds since the epoch, big-endian (48 bits) |
//! | 6..16 | 80 random bits |
//! | 16..48 | the 256-bit random verifier |
//!
//! The first 16 bytes, the *selector*, are the storage key: time-ordered, so stores append
//! to their index. Only the SHA-256 hash of the verifier is stored; a presented token is
//! found by selector and its verifier hash compared in constant time. A database dump holds
//! nothing that can be replayed.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::rng::{random_bytes, Rng};

/// The storage key of a token or code: 48 bits of time and 80 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector(pub [u8; 16]);

impl Selector {
    /// The selector as base64url (22 characters), convenient as a text key.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Parses the base64url form of [`Self::to_base64`].
    pub fn from_base64(s: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        let n = URL_SAFE_NO_PAD.decode_slice(s, &mut out).ok()?;
        (n == 16 && s.len() == 22).then_some(Self(out))
    }

    /// The milliseconds since the epoch encoded in the selector.
    pub fn millis(&self) -> i64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.0[..6]);
        i64::from_be_bytes(b)
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Selector({})", self.to_base64())
    }
}

/// The SHA-256 hash of a verifier or secret. Compared only in constant time.
#[derive(Clone, Copy)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    /// Hashes a secret with SHA-256 (right for machine-generated, high-entropy secrets;
    /// human passwords use argon2id instead).
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Where a token lives in a store: its selector and the hash of its verifier.
#[derive(Debug, Clone, Copy)]
pub struct TokenKey {
    /// The storage key.
    pub selector: Selector,
    /// SHA-256 of the verifier.
    pub verifier_hash: SecretHash,
}

/// A freshly generated token: the string handed to the client and its storage key.
pub struct GeneratedToken {
    /// The token as the client sees it. Never stored, never logged.
    pub value: String,
    /// What the store keeps.
    pub key: TokenKey,
}

impl fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedToken")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Generates a token in the selector + verifier format at the given time, drawing its 42
/// random bytes from `rng`.
pub fn generate_token(rng: &dyn Rng, now_millis: i64) -> GeneratedToken {
    let rnd: [u8; 42] = random_bytes(rng);
    let mut raw = [0u8; 48];
    raw[..6].copy_from_slice(&now_millis.to_be_bytes()[2..]);
    raw[6..].copy_from_slice(&rnd);
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&raw[..16]);
    GeneratedToken {
        value: URL_SAFE_NO_PAD.encode(raw),
        key: TokenKey {
            selector: Selector(selector),
            verifier_hash: SecretHash::of(&raw[16..]),
        },
    }
}

/// The storage key of a JWT access token (RFC 9068) the server issued: the selector is its
/// `jti`, and the hash is SHA-256 of the whole token, as stored when it was issued. The
/// signature is not checked here: the store is the authority, and only the exact string
/// issued hashes to the stored value, so a forged JWT with a real `jti` matches nothing.
/// `None` when the value is not a compact JWS whose claims carry such a `jti`.
pub fn parse_jwt_key(value: &str) -> Option<TokenKey> {
    // Large enough for any token this server signs; bounds the work on hostile input.
    if value.len() > 16 * 1024 {
        return None;
    }
    let mut parts = value.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let claims = URL_SAFE_NO_PAD.decode(payload).ok()?;
    #[derive(serde::Deserialize)]
    struct Jti<'a> {
        #[serde(borrow)]
        jti: Option<std::borrow::Cow<'a, str>>,
    }
    let jti: Jti<'_> = serde_json::from_slice(&claims).ok()?;
    Some(TokenKey {
        selector: Selector::from_base64(jti.jti.as_deref()?)?,
        verifier_hash: SecretHash::of(value.as_bytes()),
    })
}

/// Parses a presented token into its storage key; `None` when it is not of this format.
pub fn parse_token(value: &str) -> Option<TokenKey> {
    if value.len() != 64 {
        return None;
    }
    let mut raw = [0u8; 48];
    let n = URL_SAFE_NO_PAD.decode_slice(value, &mut raw).ok()?;
    if n != 48 {
        return None;
    }
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&raw[..16]);
    Some(TokenKey {
        selector: Selector(selector),
        verifier_hash: SecretHash::of(&raw[16..]),
    })
}

/// A random secret for a client: 256 bits, base64url (43 characters).
pub fn generate_client_secret(rng: &dyn Rng) -> String {
    crate::rng::random_token(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::OsRng;

    #[test]
    fn generated_token_parses_back_to_its_key() {
        let t = generate_token(&OsRng, 1_700_000_000_123);
        assert_eq!(t.value.len(), 64);
        let k = parse_token(&t.value).unwrap();
        assert_eq!(k.selector, t.key.selector);
        assert!(k.verifier_hash.ct_eq(&t.key.verifier_hash));
        assert_eq!(k.selector.millis(), 1_700_000_000_123);
    }

    #[test]
    fn selectors_are_time_ordered() {
        let a = generate_token(&OsRng, 1_000).key.selector;
        let b = generate_token(&OsRng, 2_000).key.selector;
        assert!(a < b);
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        assert!(parse_token("").is_none());
        assert!(parse_token(&"a".repeat(63)).is_none());
        assert!(parse_token(&"*".repeat(64)).is_none());
    }

    #[test]
    fn tampered_verifier_changes_the_hash() {
        let t = generate_token(&OsRng, 5);
        let mut s = t.value.clone().into_bytes();
        s[63] = if s[63] == b'A' { b'Q' } else { b'A' };
        let k = parse_token(std::str::from_utf8(&s).unwrap()).unwrap();
        assert!(!k.verifier_hash.ct_eq(&t.key.verifier_hash));
    }

    #[test]
    fn selector_base64_round_trips() {
        let t = generate_token(&OsRng, 42).key.selector;
        assert_eq!(Selector::from_base64(&t.to_base64()), Some(t));
    }
}
