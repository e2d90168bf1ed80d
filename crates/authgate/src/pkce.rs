//! PKCE (RFC 7636): code challenges and their verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuth2Error;

/// A code challenge method (RFC 7636 §4.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChallengeMethod {
    /// `BASE64URL(SHA256(verifier)) == challenge`.
    S256,
    /// `verifier == challenge`; off unless the server config enables it (RFC 9700 §2.1.1).
    Plain,
}

impl CodeChallengeMethod {
    /// The method's registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }

    /// Parses a method name (case-sensitive, as registered).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "S256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }
}

/// A code challenge bound to an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    /// The challenge string as the client sent it.
    pub challenge: String,
    /// How the verifier is checked against it.
    pub method: CodeChallengeMethod,
}

impl CodeChallenge {
    /// Parses a challenge and its method.
    ///
    /// # Errors
    /// `invalid_request` for a challenge outside 43–128 unreserved characters
    /// (RFC 7636 §4.2) or, for S256, not exactly 43 base64url characters.
    pub fn new(challenge: &str, method: CodeChallengeMethod) -> Result<Self, OAuth2Error> {
        let ok = is_pkce_string(challenge)
            && (method != CodeChallengeMethod::S256 || challenge.len() == 43);
        if !ok {
            return Err(OAuth2Error::invalid_request(
                "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 section 4.2)",
            ));
        }
        Ok(Self {
            challenge: challenge.to_owned(),
            method,
        })
    }

    /// Checks a code verifier against the challenge, in constant time.
    ///
    /// # Errors
    /// `invalid_request` for a malformed verifier (RFC 7636 §4.1), `invalid_grant` for one
    /// that does not match (RFC 7636 §4.6).
    pub fn verify(&self, verifier: &str) -> Result<(), OAuth2Error> {
        if !is_pkce_string(verifier) {
            return Err(OAuth2Error::invalid_request(
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 section 4.1)",
            ));
        }
        let computed = match self.method {
            CodeChallengeMethod::S256 => {
                URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
            }
            CodeChallengeMethod::Plain => verifier.to_owned(),
        };
        let same: bool = computed.as_bytes().ct_eq(self.challenge.as_bytes()).into();
        if same {
            Ok(())
        } else {
            Err(
                OAuth2Error::invalid_grant("code_verifier does not match the code_challenge")
                    .reason("pkce_mismatch"),
            )
        }
    }
}

/// 43 to 128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 7636 §4.1).
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently: base64url(sha256(VERIFIER)) with Python's hashlib.
    const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
    const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

    #[test]
    fn s256_verifier_matches_its_challenge_rfc7636_4_6() {
        let c = CodeChallenge::new(CHALLENGE, CodeChallengeMethod::S256).unwrap();
        c.verify(VERIFIER).unwrap();
    }

    #[test]
    fn wrong_verifier_is_invalid_grant_rfc7636_4_6() {
        let c = CodeChallenge::new(CHALLENGE, CodeChallengeMethod::S256).unwrap();
        let e = c.verify(&"a".repeat(43)).unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_grant");
    }

    #[test]
    fn verifier_syntax_is_checked_rfc7636_4_1() {
        let c = CodeChallenge::new(CHALLENGE, CodeChallengeMethod::S256).unwrap();
        for bad in [
            "short".to_owned(),
            "a".repeat(129),
            format!("{}+", "a".repeat(42)),
        ] {
            assert_eq!(
                c.verify(&bad).unwrap_err().code().as_str(),
                "invalid_request"
            );
        }
    }

    #[test]
    fn challenge_syntax_is_checked_rfc7636_4_2() {
        assert!(CodeChallenge::new("abc", CodeChallengeMethod::S256).is_err());
        assert!(CodeChallenge::new(&"a".repeat(44), CodeChallengeMethod::S256).is_err());
        assert!(CodeChallenge::new(&"a".repeat(44), CodeChallengeMethod::Plain).is_ok());
    }

    #[test]
    fn plain_compares_verbatim() {
        let v = "a".repeat(50);
        let c = CodeChallenge::new(&v, CodeChallengeMethod::Plain).unwrap();
        c.verify(&v).unwrap();
        assert!(c.verify(&"b".repeat(50)).is_err());
    }
}
