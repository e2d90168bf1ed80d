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
//! - **`sub` is the server's own subject**, not a client's pairwise one: resources share
//!   it (RFC 9068 §6 privacy: give a resource only the scopes it needs).

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

/// What a JWT access token says: every claim of RFC 9068 §2.2 for the token about to be
/// issued.
pub(crate) fn claims(
    config: &ServerConfig,
    issue: &IssueContext<'_>,
    jti: &Selector,
    iat: i64,
    exp: i64,
) -> Value {
    let client_id = issue.client.client_id();
    let details = issue.details();
    let mut c = Map::new();
    // Extension claims first, so the registered ones below always win.
    for (k, v) in &details.claims {
        c.insert(k.clone(), v.clone());
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
    c.insert(
        "sub".into(),
        issue.owner.map_or(client_id, |o| o.subject.as_str()).into(),
    );
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
    keys.sign(alg, Some(TYP), claims)
        .await
        .map_err(|e| match e {
            JoseError::Storage(s) => s.into(),
            other => OAuth2Error::with_description(ErrorCode::ServerError, other.to_string()),
        })
}
