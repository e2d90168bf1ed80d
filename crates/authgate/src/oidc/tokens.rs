//! What the provider issues and answers: ID tokens (OpenID Connect Core §2, §3.1.3.6),
//! UserInfo claims (§5.3), logout tokens (Back-Channel Logout §2.4), signed UserInfo, and
//! the metadata it adds (Discovery §3); and the check of an `id_token_hint`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::claims::{claims_of_scope, ClaimsRequest, ClaimsTarget};
use super::half_hash;
use super::provider::OpenIdProvider;
use crate::client::Client;
use crate::error::{ErrorCode, OAuth2Error};
use crate::jose::{Algorithm, JoseError};
use crate::metadata::Metadata;
use crate::rng::random_bytes;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::GrantDetails;

/// Claims no [`ClaimsSource`] may set: the protocol's own.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "c_hash",
    "events",
];

/// What an ID token is issued for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct IdTokenSpec<'a> {
    /// The client (the audience).
    pub client: &'a dyn Client,
    /// The user's local subject.
    pub subject: &'a str,
    /// How the user authenticated, and the `claims` request.
    pub details: &'a GrantDetails,
    /// The authentication request's `nonce`, echoed exactly.
    pub nonce: Option<&'a str>,
    /// The granted scope.
    pub scope: &'a Scope,
    /// The access token issued with the ID token at the authorization endpoint (for
    /// `at_hash`).
    pub access_token: Option<&'a str>,
    /// The code issued with it (for `c_hash`, hybrid responses).
    pub code: Option<&'a str>,
    /// Whether the scope's claims go into the ID token: only when no access token is
    /// issued for UserInfo (response type `id_token`, OpenID Connect Core §5.4).
    pub scope_claims: bool,
}

impl<'a> IdTokenSpec<'a> {
    /// An ID token for `client` about `subject`.
    pub fn new(
        client: &'a dyn Client,
        subject: &'a str,
        details: &'a GrantDetails,
        scope: &'a Scope,
    ) -> Self {
        Self {
            client,
            subject,
            details,
            nonce: None,
            scope,
            access_token: None,
            code: None,
            scope_claims: false,
        }
    }
}

impl OpenIdProvider {
    /// Creates and signs an ID token (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11).
    ///
    /// # Errors
    /// The claims source or key store failed (503 when unavailable), or no key signs with
    /// the client's algorithm.
    pub async fn id_token(
        &self,
        ctx: &ServerContext,
        spec: IdTokenSpec<'_>,
    ) -> Result<String, OAuth2Error> {
        let alg = Self::id_token_alg(spec.client)?;
        let now = ctx.now();
        let d = spec.details;
        let mut claims = Map::new();
        // The user's claims first, so that no claims source can override the protocol's.
        let request = d
            .claims_request
            .clone()
            .map(ClaimsRequest::new)
            .unwrap_or_default();
        let mut names: Vec<&str> = if spec.scope_claims {
            claims_of_scope(spec.scope)
        } else {
            Vec::new()
        };
        names.extend(consented(request.names(ClaimsTarget::IdToken), spec.scope));
        claims.extend(self.user_claims(spec.subject, &names).await?);
        claims.insert("iss".into(), ctx.config.issuer.clone().into());
        claims.insert(
            "sub".into(),
            self.subject_for(spec.client, spec.subject)?.into(),
        );
        claims.insert("aud".into(), spec.client.client_id().into());
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(i64::try_from(self.id_token_ttl).unwrap_or(i64::MAX))
                .into(),
        );
        if let Some(t) = d.auth_time {
            claims.insert("auth_time".into(), t.into());
        }
        if let Some(n) = spec.nonce {
            claims.insert("nonce".into(), n.into());
        }
        if let Some(acr) = &d.acr {
            claims.insert("acr".into(), acr.clone().into());
        }
        if !d.amr.is_empty() {
            claims.insert("amr".into(), d.amr.clone().into());
        }
        if let Some(sid) = &d.session_id {
            claims.insert("sid".into(), sid.clone().into());
        }
        if let Some(at) = spec.access_token {
            claims.insert("at_hash".into(), half_hash(alg, at).into());
        }
        if let Some(code) = spec.code {
            claims.insert("c_hash".into(), half_hash(alg, code).into());
        }
        self.sign(ctx, alg, "JWT", &Value::Object(claims)).await
    }

    /// The UserInfo claims of a token (OpenID Connect Core §5.3): `sub` as `client` sees it,
    /// the claims of the granted scope, and those the `claims` request asks for UserInfo.
    ///
    /// # Errors
    /// The claims source failed, or the client's subject cannot be derived.
    pub async fn userinfo(
        &self,
        client: &dyn Client,
        subject: &str,
        scope: &Scope,
        details: &GrantDetails,
    ) -> Result<Map<String, Value>, OAuth2Error> {
        let request = details
            .claims_request
            .clone()
            .map(ClaimsRequest::new)
            .unwrap_or_default();
        let mut names = claims_of_scope(scope);
        names.extend(consented(request.names(ClaimsTarget::UserInfo), scope));
        let mut claims = self.user_claims(subject, &names).await?;
        claims.insert("sub".into(), self.subject_for(client, subject)?.into());
        Ok(claims)
    }

    /// A logout token (OpenID Connect Back-Channel Logout §2.4) for `client` about a
    /// user's local subject and session: `iss`, `aud`, `iat`, `exp` (two minutes), a fresh
    /// `jti`, `sub`, `sid`, the logout `events` member, and no `nonce`.
    ///
    /// # Errors
    /// As [`Self::id_token`].
    pub async fn logout_token(
        &self,
        ctx: &ServerContext,
        client: &dyn Client,
        subject: &str,
        session_id: Option<&str>,
    ) -> Result<String, OAuth2Error> {
        let alg = Self::id_token_alg(client)?;
        let now = ctx.now();
        let mut claims = json!({
            "iss": ctx.config.issuer,
            "aud": client.client_id(),
            "iat": now,
            "exp": now + 120,
            "jti": URL_SAFE_NO_PAD.encode(random_bytes::<16>(ctx.rng.as_ref())),
            "sub": self.subject_for(client, subject)?,
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        if let (Some(sid), Some(obj)) = (session_id, claims.as_object_mut()) {
            obj.insert("sid".into(), sid.into());
        }
        self.sign(ctx, alg, "logout+jwt", &claims).await
    }

    /// Signs a UserInfo response for a client that registered
    /// `userinfo_signed_response_alg` (OpenID Connect Core §5.3.2): the claims plus `iss`
    /// and `aud`.
    ///
    /// # Errors
    /// As [`Self::id_token`], or an unsupported algorithm.
    pub async fn signed_userinfo(
        &self,
        ctx: &ServerContext,
        client: &dyn Client,
        mut claims: Map<String, Value>,
    ) -> Result<Option<String>, OAuth2Error> {
        let Some(alg) = client.userinfo_signed_response_alg() else {
            return Ok(None);
        };
        let alg = Algorithm::parse(alg).ok_or_else(|| {
            OAuth2Error::with_description(
                ErrorCode::ServerError,
                "the client's userinfo_signed_response_alg is not supported",
            )
        })?;
        claims.insert("iss".into(), ctx.config.issuer.clone().into());
        claims.insert("aud".into(), client.client_id().into());
        self.sign(ctx, alg, "JWT", &Value::Object(claims))
            .await
            .map(Some)
    }

    /// What OpenID Connect adds to the metadata (Discovery §3).
    pub(crate) fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let mut subjects = vec!["public"];
        if self.supports_pairwise() {
            subjects.push("pairwise");
        }
        Metadata::add(&mut metadata.subject_types_supported, subjects);
        if let Some(keys) = &ctx.keys {
            let algs: Vec<&str> = keys
                .policy()
                .algorithms
                .iter()
                .map(|a| a.as_str())
                .collect();
            Metadata::add(
                &mut metadata.id_token_signing_alg_values_supported,
                algs.clone(),
            );
            Metadata::add(&mut metadata.userinfo_signing_alg_values_supported, algs);
        }
        Metadata::add(
            &mut metadata.claims_supported,
            self.claims_supported.clone(),
        );
        if !self.acr_values.is_empty() {
            Metadata::add(&mut metadata.acr_values_supported, self.acr_values.clone());
        }
        if self.logout {
            metadata.end_session_endpoint =
                Some(ctx.config.endpoint_url(&ctx.config.endpoints.end_session));
            if ctx.sessions.is_some() {
                metadata.backchannel_logout_supported = Some(true);
                metadata.backchannel_logout_session_supported = Some(true);
            }
        }
        metadata.claims_parameter_supported = Some(true);
        metadata.request_parameter_supported = Some(false);
        metadata.request_uri_parameter_supported = Some(false);
        Metadata::add(&mut metadata.scopes_supported, ["openid"]);
    }

    async fn user_claims(
        &self,
        subject: &str,
        names: &[&str],
    ) -> Result<Map<String, Value>, OAuth2Error> {
        let mut names: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !PROTOCOL_CLAIMS.contains(n))
            .collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            return Ok(Map::new());
        }
        let mut got = self.claims.claims(subject, &names).await?;
        got.retain(|k, _| names.contains(&k.as_str()));
        Ok(got)
    }

    async fn sign(
        &self,
        ctx: &ServerContext,
        alg: Algorithm,
        typ: &str,
        claims: &Value,
    ) -> Result<String, OAuth2Error> {
        let Some(keys) = &ctx.keys else {
            return Err(OAuth2Error::with_description(
                ErrorCode::ServerError,
                "no signing keys",
            ));
        };
        keys.sign(alg, Some(typ), claims)
            .await
            .map_err(|e| match e {
                JoseError::Storage(s) => s.into(),
                other => OAuth2Error::with_description(ErrorCode::ServerError, other.to_string()),
            })
    }
}

/// The error for an `id_token_hint` this server did not issue (or not to this client).
pub(crate) fn not_our_id_token() -> OAuth2Error {
    OAuth2Error::invalid_request(
        "id_token_hint is not an ID token this server issued to the client",
    )
}

/// The claims of an ID token this server signed (with a key it still publishes), expired
/// or not: what `id_token_hint` may be (OpenID Connect Core §3.1.2.1, RP-Initiated Logout
/// §2).
pub(crate) async fn verify_own_id_token(
    ctx: &ServerContext,
    token: &str,
) -> Result<Value, OAuth2Error> {
    let Some(keys) = &ctx.keys else {
        return Err(not_our_id_token());
    };
    let verifier = keys.verifier().await.map_err(|e| match e {
        JoseError::Storage(s) => s.into(),
        _ => not_our_id_token(),
    })?;
    let verified = verifier.verify(token).map_err(|_| not_our_id_token())?;
    // An ID token, not another JWT the same keys sign (a logout token, signed UserInfo):
    // `typ` JWT or absent, no logout `events`, and the times an ID token has.
    let typ_ok = verified
        .typ
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
    let claims = verified.claims;
    if !typ_ok
        || claims.get("events").is_some()
        || !claims["iat"].is_i64()
        || !claims["exp"].is_i64()
        || claims["iss"] != ctx.config.issuer.as_str()
        || !claims["sub"].is_string()
    {
        return Err(not_our_id_token());
    }
    Ok(claims)
}

/// The claims a `claims` request names that the granted scope covers (OpenID Connect
/// Core §5.5): consent is given per scope here, so the request can steer those claims to
/// the ID token or UserInfo, and ask for nothing beyond what the user approved.
fn consented<'a>(requested: Vec<&'a str>, scope: &Scope) -> Vec<&'a str> {
    let allowed = claims_of_scope(scope);
    requested
        .into_iter()
        .filter(|c| allowed.contains(c))
        .collect()
}

/// Whether a token's `aud` is or holds `client_id`.
pub(crate) fn audience_has(claims: &Value, client_id: &str) -> bool {
    match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(a) => a.iter().any(|v| v == client_id),
        _ => false,
    }
}
