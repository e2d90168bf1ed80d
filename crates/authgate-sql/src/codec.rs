//! Conversions between authgate's records and SQL column values, shared by both backends.

use authgate::token::{SecretHash, Selector};
use authgate::{ClientAuthMethod, CodeChallenge, CodeChallengeMethod, Scope};

/// A list of strings as a JSON array (redirect URIs, grant types, response types).
pub(crate) fn list_to_text(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// A JSON array back to strings; anything malformed reads as empty.
pub(crate) fn text_to_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A stored scope string: written by us from a valid [`Scope`], so tokens that fail the
/// grammar are dropped rather than failing the whole read.
pub(crate) fn text_to_scope(s: &str) -> Scope {
    s.split(' ').collect()
}

pub(crate) fn selector_from(bytes: &[u8]) -> Option<Selector> {
    bytes.try_into().ok().map(Selector)
}

pub(crate) fn hash_from(bytes: &[u8]) -> Option<SecretHash> {
    bytes.try_into().ok().map(SecretHash)
}

pub(crate) fn auth_method_from(s: &str) -> ClientAuthMethod {
    // An unknown stored method fails closed: the client cannot authenticate with a secret
    // it does not have, and no request names "unknown".
    ClientAuthMethod::parse(s).unwrap_or(ClientAuthMethod::ClientSecretBasic)
}

pub(crate) fn challenge_from(
    challenge: Option<String>,
    method: Option<&str>,
) -> Option<CodeChallenge> {
    let challenge = challenge?;
    // A stored challenge whose method cannot be read stays a challenge, checked the strict
    // way: the code must never read back as issued without PKCE.
    let method = method
        .and_then(CodeChallengeMethod::parse)
        .unwrap_or(CodeChallengeMethod::S256);
    Some(CodeChallenge { challenge, method })
}

/// `TokenKind` as a small integer column.
pub(crate) fn kind_to_int(kind: authgate::TokenKind) -> i16 {
    match kind {
        authgate::TokenKind::Refresh => 1,
        _ => 0,
    }
}

pub(crate) fn kind_from_int(v: i64) -> authgate::TokenKind {
    if v == 1 {
        authgate::TokenKind::Refresh
    } else {
        authgate::TokenKind::Access
    }
}
