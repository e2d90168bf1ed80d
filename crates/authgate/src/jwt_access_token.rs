//! JWT access tokens (RFC 9068): what a resource can check by itself, with the server's
//! published keys, without asking the server.
//!
//! An access token is a JWT when its audience asks for one
//! ([`RegisteredResource::access_token_format`](crate::RegisteredResource::access_token_format))
//! or, for a token with no resource, when
//! [`ServerConfig::access_token_format`](crate::ServerConfig::access_token_format) says so.
//! Refresh tokens, codes and device codes stay opaque.
//!
//! - **Header:** `typ: at+jwt` (§2.1), `kid` of the signing key, `alg` ES256 unless
//!   [`AuthorizationServer::with_access_token_algorithm`](crate::AuthorizationServer::with_access_token_algorithm)
//!   names another the key set keeps.
//! - **Claims (§2.2):** `iss`; `exp`; `aud` (the token's resources, or the server's default
//!   audience); `sub` (the user, or for a token without one the client, §2.2); `client_id`;
//!   `iat`; `jti`; `scope` when not empty; `auth_time`, `acr` and `amr` when a user
//!   authenticated; `cnf` when the token is sender-constrained; extension claims of the
//!   grant, which never replace the ones above.
//! - **Revocation still counts.** The server keeps a record of every JWT it issues, filed
//!   by its `jti` under the SHA-256 of the whole token, like an opaque token's verifier.
//!   Introspection and the server's own protectors read that record, so a revoked JWT is
//!   `active: false` there at once. A resource that validates the JWT locally sees a
//!   revocation only when the token expires (RFC 9068 §5 leaves that choice to the
//!   resource): keep such tokens short-lived, or introspect where revocation must count
//!   at once.
//! - **`sub` is the user as the client knows them**: pairwise for a client with pairwise
//!   subjects (OpenID Connect Core §8.1), so the access token, which the client can read,
//!   does not reveal the subject its ID tokens hide (RFC 9068 §6).

use serde_json::{Map, Value};

use crate::config::ServerConfig;
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::jose::{Algorithm, JoseError, KeySet};
use crate::token::Selector;

/// The `typ` header of a JWT access token (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";

/// The algorithm JWT access tokens are signed with, kept in the context's extensions (see
/// [`crate::AuthorizationServer::with_access_token_algorithm`]); ES256 when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenAlgorithm(pub Algorithm);

/// The largest JWT access token issued: what [`crate::token::parse_jwt_key`] reads back.
/// Issuing a larger one fails rather than handing out a token the server cannot revoke.
pub const MAX_LEN: usize = 16 * 1024;

/// The claims this module sets; a grant's extension claims never supply them.
const RESERVED: [&str; 13] = [
    "iss",
    "exp",
    "aud",
    "sub",
    "client_id",
    "iat",
    "jti",
    "scope",
    "auth_time",
    "acr",
    "amr",
    "cnf",
    "nbf",
];

/// How a user's subject appears to a client: what OpenID Connect makes pairwise for a
/// pairwise client (kept in the context's extensions by
/// [`crate::AuthorizationServer::enable_openid`]). Without it the local subject is used.
#[derive(Clone)]
pub struct SubjectMapping(pub std::sync::Arc<MapSubject>);

/// The function of a [`SubjectMapping`]: the client, the local subject; the subject the
/// client knows.
pub type MapSubject =
    dyn Fn(&dyn crate::client::Client, &str) -> Result<String, OAuth2Error> + Send + Sync;

impl std::fmt::Debug for SubjectMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectMapping(..)")
    }
}

/// What a JWT access token says: every claim of RFC 9068 §2.2 for the token about to be
/// issued. `sub` is the user as the client knows them (pairwise for a pairwise client), or
/// the client when there is no user.
pub(crate) fn claims(
    config: &ServerConfig,
    issue: &IssueContext<'_>,
    subject: Option<&str>,
    jti: &Selector,
    iat: i64,
    exp: i64,
) -> Value {
    let client_id = issue.client.client_id();
    let details = issue.details();
    let mut c = Map::new();
    for (k, v) in &details.claims {
        if !RESERVED.contains(&k.as_str()) {
            c.insert(k.clone(), v.clone());
        }
    }
    c.insert("iss".into(), config.issuer.clone().into());
    c.insert("exp".into(), exp.into());
    c.insert(
        "aud".into(),
        match issue.audience.as_slice() {
            [] => config.default_audience().into(),
            [one] => one.as_str().into(),
            many => many.into(),
        },
    );
    c.insert("sub".into(), subject.unwrap_or(client_id).into());
    c.insert("client_id".into(), client_id.into());
    c.insert("iat".into(), iat.into());
    c.insert("jti".into(), jti.to_base64().into());
    if !issue.scope.is_empty() {
        c.insert("scope".into(), issue.scope.to_string().into());
    }
    if issue.owner.is_some() {
        if let Some(t) = details.auth_time {
            c.insert("auth_time".into(), t.into());
        }
        if let Some(acr) = &details.acr {
            c.insert("acr".into(), acr.as_str().into());
        }
        if !details.amr.is_empty() {
            c.insert("amr".into(), details.amr.clone().into());
        }
    }
    if let Some(cnf) = &details.confirmation {
        c.insert("cnf".into(), cnf.clone());
    }
    Value::Object(c)
}

/// Signs a JWT access token with the server's keys, with `alg` (ES256 when `None`).
pub(crate) async fn sign(
    keys: Option<&KeySet>,
    alg: Option<AccessTokenAlgorithm>,
    claims: &Value,
) -> Result<String, OAuth2Error> {
    let Some(keys) = keys else {
        return Err(OAuth2Error::with_description(
            ErrorCode::ServerError,
            "JWT access tokens need signing keys (AuthorizationServer::with_signing_keys)",
        ));
    };
    let alg = alg.map_or(Algorithm::ES256, |a| a.0);
    let jwt = keys
        .sign(alg, Some(TYP), claims)
        .await
        .map_err(|e| match e {
            JoseError::Storage(s) => s.into(),
            other => OAuth2Error::with_description(ErrorCode::ServerError, other.to_string()),
        })?;
    if jwt.len() > MAX_LEN {
        return Err(OAuth2Error::with_description(
            ErrorCode::ServerError,
            "the JWT access token would be larger than 16 KiB (too many audiences or claims)",
        ));
    }
    Ok(jwt)
}
