//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), with the
//! client metadata of OpenID Connect Dynamic Registration 1.0 when the server is an OpenID
//! Provider.
//!
//! [`ClientRegistrationEndpoint`] takes `POST` with a JSON document of client metadata,
//! checks every member it knows (unknown ones are ignored and not echoed), lets a
//! [`RegistrationPolicy`] admit the caller and narrow or refuse the metadata, creates the
//! client with a generated `client_id` (and a 256-bit secret unless it is public) and answers
//! `201` with a `registration_access_token`. [`ClientConfigurationEndpoint`] answers `GET`,
//! `PUT` and `DELETE` at the `registration_client_uri` for that token.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use http::{header, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};
use url::Url;

use super::{Endpoint, SetupError};
use crate::client::{Client, ClientAuthMethod, ClientRecord};
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuth2Error};
use crate::grants::DEVICE_CODE_GRANT_TYPE;
use crate::identifier::has_control_characters;
use crate::metadata::Metadata;
use crate::params::ResponseType;
use crate::request::{authorization_header, strip_scheme, OAuth2Request};
use crate::resource::BearerError;
use crate::response::OAuth2Response;
use crate::rng::random_bytes;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::ClientRegistry;
use crate::token::{generate_client_secret, SecretHash};

/// The member of a registered client's metadata that holds its registration bookkeeping
/// (the registration access token's hash, when it was issued). Never echoed.
pub use crate::client::REGISTRATION_KEY;

/// A registration error of RFC 7591 §3.2.2, answered with status 400.
fn refuse(code: ErrorCode, description: impl Into<String>) -> OAuth2Error {
    OAuth2Error::with_description(code, description.into())
}

/// `invalid_client_metadata` (RFC 7591 §3.2.2).
pub fn invalid_client_metadata(description: impl Into<String>) -> OAuth2Error {
    refuse(ErrorCode::InvalidClientMetadata, description)
}

/// `invalid_redirect_uri` (RFC 7591 §3.2.2).
pub fn invalid_redirect_uri(description: impl Into<String>) -> OAuth2Error {
    refuse(ErrorCode::InvalidRedirectUri, description)
}

/// `invalid_software_statement` (RFC 7591 §3.2.2).
pub fn invalid_software_statement(description: impl Into<String>) -> OAuth2Error {
    refuse(ErrorCode::InvalidSoftwareStatement, description)
}

/// `unapproved_software_statement` (RFC 7591 §3.2.2).
pub fn unapproved_software_statement(description: impl Into<String>) -> OAuth2Error {
    refuse(ErrorCode::UnapprovedSoftwareStatement, description)
}

/// Checked client metadata, before it becomes a client: what a [`RegistrationPolicy`]
/// reviews (and may narrow in place).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ClientMetadata {
    /// Absolute redirect URIs without fragments: https, loopback http, or (public clients)
    /// a private-use scheme.
    pub redirect_uris: Vec<String>,
    /// How the client authenticates (`client_secret_basic` unless asked otherwise).
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// The grant types (`authorization_code` unless asked otherwise).
    pub grant_types: Vec<String>,
    /// The response types (`code` unless asked otherwise; none for a client without the
    /// authorization endpoint's grants).
    pub response_types: Vec<String>,
    /// The display name.
    pub client_name: Option<String>,
    /// The scope asked for, if any; the policy narrows it.
    pub scope: Option<Scope>,
    /// The signed software statement, if one was sent (RFC 7591 §2.3).
    pub software_statement: Option<String>,
    /// Every other checked member: `client_uri`, `logo_uri`, `policy_uri`, `tos_uri`,
    /// `contacts`, `jwks` or `jwks_uri`, `software_id`, `software_version`, the `#lang`
    /// variants of the names and URIs, and the OpenID Connect members.
    pub extra: Map<String, Value>,
}

impl ClientMetadata {
    /// Whether the client is public (`token_endpoint_auth_method` `none`).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == ClientAuthMethod::None
    }
}

/// Decides who may register and what they get: the registration policy.
///
/// Both methods have defaults (anyone may register; the metadata is taken as checked), so
/// a policy overrides what it cares about. [`RegistrationRules`] is a ready one.
#[async_trait]
pub trait RegistrationPolicy: Send + Sync + 'static {
    /// Whether a registration request may proceed, given the Bearer token it carried
    /// (`None` without one): RFC 7591 §3's initial access token. False answers 401
    /// `invalid_token` with a `WWW-Authenticate` challenge (RFC 6750 §3).
    ///
    /// # Errors
    /// A failure to decide (a store outage, say).
    async fn admit(
        &self,
        _ctx: &ServerContext,
        _initial_access_token: Option<&str>,
    ) -> Result<bool, OAuth2Error> {
        Ok(true)
    }

    /// Reviews checked metadata at registration and at every update: narrow it in place
    /// (scope, grant types), or refuse with [`invalid_client_metadata`] (or another RFC
    /// 7591 error). The default is [`RegistrationRules::new`]'s review: the authorization
    /// code, refresh and device grants only, the scope within
    /// [`ServerConfig::scopes_supported`] (none when that is empty), and no software
    /// statements — so a policy that overrides only [`Self::admit`] stays safe.
    ///
    /// # Errors
    /// The refusal.
    fn review(
        &self,
        ctx: &ServerContext,
        metadata: &mut ClientMetadata,
    ) -> Result<(), OAuth2Error> {
        RegistrationRules::new().review(ctx, metadata)
    }
}

/// A ready [`RegistrationPolicy`]: an optional initial access token, the grant types and
/// scope self-registered clients may have, and the keys of trusted software statement
/// issuers.
///
/// By default anyone may register; clients may use the authorization code, refresh token
/// and device grants (the client credentials grant only when allowed here: a client acting
/// for itself is an operator's decision; implicit and password never, RFC 9700 §2.1.2,
/// §2.4); the scope is narrowed to [`ServerConfig::scopes_supported`] (to nothing when that
/// is empty: set [`Self::scope`]).
///
/// ```
/// use authgate::endpoints::registration::RegistrationRules;
/// let rules = RegistrationRules::new()
///     .initial_access_token("s3cret-onboarding-token")
///     .grant_types(["authorization_code", "refresh_token"])
///     .scope("openid profile");
/// ```
#[derive(Clone)]
pub struct RegistrationRules {
    initial_access_token: Option<SecretHash>,
    grant_types: Vec<String>,
    scope: Option<Scope>,
    #[cfg(feature = "jose")]
    statements: Option<crate::jose::JwksVerifier>,
}

impl std::fmt::Debug for RegistrationRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationRules")
            .field("initial_access_token", &self.initial_access_token.is_some())
            .field("grant_types", &self.grant_types)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Default for RegistrationRules {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistrationRules {
    /// Open registration with the default grant types and scope (see the type).
    pub fn new() -> Self {
        Self {
            initial_access_token: None,
            grant_types: [
                "authorization_code",
                "refresh_token",
                DEVICE_CODE_GRANT_TYPE,
            ]
            .map(str::to_owned)
            .to_vec(),
            scope: None,
            #[cfg(feature = "jose")]
            statements: None,
        }
    }

    /// Requires this initial access token as a Bearer token (RFC 7591 §3); kept as its
    /// SHA-256 hash and compared in constant time.
    #[must_use]
    pub fn initial_access_token(mut self, token: &str) -> Self {
        self.initial_access_token = Some(SecretHash::of(token.as_bytes()));
        self
    }

    /// The grant types self-registered clients may have (within what the server serves).
    #[must_use]
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, g: I) -> Self {
        self.grant_types = g.into_iter().map(Into::into).collect();
        self
    }

    /// The scope self-registered clients may have: what they ask for is narrowed to it, and
    /// a client asking for none gets all of it.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.split(' ').collect());
        self
    }

    /// Trusts software statements signed by these keys (RFC 7591 §2.3): a statement that
    /// verifies (and has not expired) has its claims take precedence over the request's
    /// members; one that does not is `invalid_software_statement`.
    #[cfg(feature = "jose")]
    #[must_use]
    pub fn trust_software_statements(mut self, keys: crate::jose::JwksVerifier) -> Self {
        self.statements = Some(keys);
        self
    }
}

#[async_trait]
impl RegistrationPolicy for RegistrationRules {
    async fn admit(
        &self,
        _ctx: &ServerContext,
        initial_access_token: Option<&str>,
    ) -> Result<bool, OAuth2Error> {
        Ok(match (&self.initial_access_token, initial_access_token) {
            (None, _) => true,
            (Some(want), Some(got)) => want.ct_eq(&SecretHash::of(got.as_bytes())),
            (Some(_), None) => false,
        })
    }

    fn review(
        &self,
        ctx: &ServerContext,
        metadata: &mut ClientMetadata,
    ) -> Result<(), OAuth2Error> {
        if metadata.software_statement.is_some() {
            #[cfg(feature = "jose")]
            if let Some(keys) = &self.statements {
                apply_statement(ctx, keys, metadata)?;
            } else {
                return Err(unapproved_software_statement(
                    "this server trusts no software statements",
                ));
            }
            #[cfg(not(feature = "jose"))]
            return Err(unapproved_software_statement(
                "this server trusts no software statements",
            ));
        }
        if let Some(g) = metadata
            .grant_types
            .iter()
            .find(|g| !self.grant_types.contains(g))
        {
            return Err(invalid_client_metadata(format!(
                "grant type '{g}' is not open to self-registered clients here"
            )));
        }
        // No ceiling configured means no scope, never any scope.
        let ceiling: Scope = self.scope.clone().unwrap_or_else(|| {
            ctx.config
                .scopes_supported
                .iter()
                .map(String::as_str)
                .collect()
        });
        metadata.scope = Some(match &metadata.scope {
            Some(asked) if !asked.is_empty() => asked.intersection(&ceiling),
            _ => ceiling,
        });
        Ok(())
    }
}

/// Verifies a software statement and lets its claims take precedence (RFC 7591 §2.3).
#[cfg(feature = "jose")]
fn apply_statement(
    ctx: &ServerContext,
    keys: &crate::jose::JwksVerifier,
    metadata: &mut ClientMetadata,
) -> Result<(), OAuth2Error> {
    let statement = metadata.software_statement.clone().unwrap_or_default();
    let verified = keys.verify(&statement).map_err(|e| {
        invalid_software_statement(format!("the software statement does not verify: {e}"))
    })?;
    let Value::Object(claims) = verified.claims else {
        return Err(invalid_software_statement(
            "the software statement's claims are not an object",
        ));
    };
    if let Some(exp) = claims.get("exp") {
        if exp.as_i64().is_none_or(|e| e <= ctx.now()) {
            return Err(invalid_software_statement("the software statement expired"));
        }
    }
    let mut merged = Map::new();
    merged.extend(metadata_to_map(metadata));
    for (k, v) in claims {
        if !matches!(
            k.as_str(),
            "iss" | "iat" | "exp" | "nbf" | "jti" | "aud" | "sub"
        ) {
            merged.insert(k, v);
        }
    }
    let mut again = parse_metadata(ctx, &merged)?;
    again.software_statement = None;
    *metadata = again;
    metadata
        .extra
        .insert("software_statement".into(), statement.into());
    Ok(())
}

/// The metadata as the JSON members it was read from.
#[cfg(feature = "jose")]
fn metadata_to_map(m: &ClientMetadata) -> Map<String, Value> {
    let mut out = m.extra.clone();
    out.insert("redirect_uris".into(), json!(m.redirect_uris));
    out.insert(
        "token_endpoint_auth_method".into(),
        m.token_endpoint_auth_method.as_str().into(),
    );
    out.insert("grant_types".into(), json!(m.grant_types));
    out.insert("response_types".into(), json!(m.response_types));
    if let Some(n) = &m.client_name {
        out.insert("client_name".into(), n.clone().into());
    }
    if let Some(s) = &m.scope {
        out.insert("scope".into(), s.to_string().into());
    }
    out
}

// ----- checking the metadata ----------------------------------------------------------------

/// Members whose value is a URL that must be https (RFC 7591 §2: "MUST" for `jwks_uri`;
/// the others point people at pages, and an http page is an invitation to tamper).
const HTTPS_URLS: &[&str] = &[
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "jwks_uri",
    "initiate_login_uri",
    "backchannel_logout_uri",
];
/// Members whose value is a plain string.
const STRINGS: &[&str] = &["software_id", "software_version"];

fn string_member<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, OAuth2Error> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(invalid_client_metadata(format!("{name} must be a string"))),
    }
}

fn string_list(body: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuth2Error> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    invalid_client_metadata(format!("{name} must be an array of strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid_client_metadata(format!(
            "{name} must be an array of strings"
        ))),
    }
}

/// An https URL without fragment or credentials.
fn https_url(name: &str, value: &str) -> Result<(), OAuth2Error> {
    let ok = Url::parse(value).is_ok_and(|u| {
        u.scheme() == "https"
            && u.host_str().is_some()
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(invalid_client_metadata(format!(
            "{name} must be an absolute https URL without fragment"
        )))
    }
}

pub use crate::redirect_uri::check_redirect_uri;

/// What each response type needs among the grant types (RFC 7591 §2.1).
fn grants_needed(response_type: &str) -> &'static [&'static str] {
    let Some(rt) = ResponseType::parse(response_type) else {
        return &[];
    };
    let code = rt.contains("code");
    let other = rt.contains("token") || rt.contains("id_token");
    match (code, other) {
        (true, true) => &["authorization_code", "implicit"],
        (true, false) => &["authorization_code"],
        _ => &["implicit"],
    }
}

/// Reads and checks a registration request's members (RFC 7591 §2, OpenID Connect Dynamic
/// Registration §2 when the server is an OpenID Provider). Unknown members are left out.
///
/// # Errors
/// `invalid_client_metadata` or `invalid_redirect_uri` naming the member.
pub fn parse_metadata(
    ctx: &ServerContext,
    body: &Map<String, Value>,
) -> Result<ClientMetadata, OAuth2Error> {
    let method = match string_member(body, "token_endpoint_auth_method")? {
        None => ClientAuthMethod::ClientSecretBasic,
        Some(m) => ClientAuthMethod::parse(m).ok_or_else(|| {
            invalid_client_metadata(format!(
                "token_endpoint_auth_method '{m}' is not supported: use client_secret_basic, client_secret_post or none"
            ))
        })?,
    };
    if matches!(
        method,
        ClientAuthMethod::PrivateKeyJwt | ClientAuthMethod::ClientSecretJwt
    ) {
        // Self-registered keys would need their own checks (jwks, jwks_uri fetched from
        // the registrant's choice of host), and a self-registered client_secret_jwt
        // secret would need sealing here; neither is offered yet.
        return Err(invalid_client_metadata(format!(
            "token_endpoint_auth_method '{method}' is not offered to self-registered clients: use client_secret_basic, client_secret_post or none",
        )));
    }
    let public = method == ClientAuthMethod::None;
    let grant_types =
        string_list(body, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    let uses_authorization_endpoint = grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    let response_types = match string_list(body, "response_types")? {
        Some(r) => r,
        None if uses_authorization_endpoint => vec!["code".into()],
        None => Vec::new(),
    };
    let supported = &ctx.supported;
    for g in &grant_types {
        if !supported.grant_types.contains(g) {
            return Err(invalid_client_metadata(format!(
                "grant type '{g}' is not supported by this server"
            )));
        }
    }
    for r in &response_types {
        let known = ResponseType::parse(r)
            .is_some_and(|p| supported.response_types.contains(&p.to_string()));
        if !known {
            return Err(invalid_client_metadata(format!(
                "response type '{r}' is not supported by this server"
            )));
        }
        if let Some(g) = grants_needed(r)
            .iter()
            .find(|g| !grant_types.iter().any(|x| x == *g))
        {
            return Err(invalid_client_metadata(format!(
                "response type '{r}' needs grant type '{g}' (RFC 7591 section 2.1)"
            )));
        }
    }
    for (grant, what) in [("authorization_code", "code"), ("implicit", "token")] {
        if grant_types.iter().any(|g| g == grant)
            && !response_types
                .iter()
                .any(|r| grants_needed(r).contains(&grant))
        {
            return Err(invalid_client_metadata(format!(
                "grant type '{grant}' needs a response type with '{what}' (RFC 7591 section 2.1)"
            )));
        }
    }
    if public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(invalid_client_metadata(
            "a public client (token_endpoint_auth_method none) cannot use client_credentials",
        ));
    }
    let redirect_uris = string_list(body, "redirect_uris")?.unwrap_or_default();
    for uri in &redirect_uris {
        check_redirect_uri(uri, public)?;
    }
    if uses_authorization_endpoint && redirect_uris.is_empty() {
        return Err(invalid_redirect_uri(
            "redirect_uris is required for the authorization code and implicit grants",
        ));
    }
    let scope = match string_member(body, "scope")? {
        None => None,
        Some(s) => {
            Some(Scope::parse(s).map_err(|_| invalid_client_metadata("scope is malformed"))?)
        }
    };
    let client_name = string_member(body, "client_name")?.map(str::to_owned);
    let software_statement = string_member(body, "software_statement")?.map(str::to_owned);

    let mut extra = Map::new();
    for (name, value) in body {
        let (base, lang) = match name.split_once('#') {
            Some((b, l)) => (b, Some(l)),
            None => (name.as_str(), None),
        };
        if let Some(lang) = lang {
            // Human-readable members in other languages (RFC 7591 §2.2).
            let valid_tag = !lang.is_empty()
                && lang.len() <= 35
                && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid_tag
                || !matches!(
                    base,
                    "client_name" | "client_uri" | "logo_uri" | "policy_uri" | "tos_uri"
                )
            {
                continue;
            }
        }
        match base {
            "client_name" if lang.is_some() => {
                string_member(body, name)?;
                extra.insert(name.clone(), value.clone());
            }
            b if HTTPS_URLS.contains(&b) => {
                if let Some(v) = string_member(body, name)? {
                    https_url(name, v)?;
                    extra.insert(name.clone(), value.clone());
                }
            }
            b if STRINGS.contains(&b) => {
                string_member(body, name)?;
                if !value.is_null() {
                    extra.insert(name.clone(), value.clone());
                }
            }
            "contacts" => {
                if let Some(list) = string_list(body, "contacts")? {
                    if list.iter().any(|c| c.is_empty() || c.len() > 320) {
                        return Err(invalid_client_metadata(
                            "contacts must be non-empty addresses",
                        ));
                    }
                    extra.insert(name.clone(), json!(list));
                }
            }
            "jwks" => match value {
                Value::Object(o) if o.get("keys").is_some_and(Value::is_array) => {
                    extra.insert(name.clone(), value.clone());
                }
                Value::Null => {}
                _ => {
                    return Err(invalid_client_metadata(
                        "jwks must be a JWK Set: an object with a keys array",
                    ))
                }
            },
            _ => {}
        }
    }
    if extra.contains_key("jwks") && extra.contains_key("jwks_uri") {
        return Err(invalid_client_metadata(
            "jwks and jwks_uri are mutually exclusive (RFC 7591 section 2)",
        ));
    }
    #[cfg(feature = "jose")]
    if crate::oidc::provider(ctx).is_some() {
        openid_members(ctx, body, public, &mut extra)?;
    }
    Ok(ClientMetadata {
        redirect_uris,
        token_endpoint_auth_method: method,
        grant_types,
        response_types,
        client_name,
        scope,
        software_statement,
        extra,
    })
}

/// OpenID Connect Dynamic Registration §2's members.
#[cfg(feature = "jose")]
fn openid_members(
    ctx: &ServerContext,
    body: &Map<String, Value>,
    public: bool,
    extra: &mut Map<String, Value>,
) -> Result<(), OAuth2Error> {
    let algorithms: Vec<&str> = ctx
        .keys
        .as_ref()
        .map(|k| k.policy().algorithms.iter().map(|a| a.as_str()).collect())
        .unwrap_or_default();
    for name in [
        "id_token_signed_response_alg",
        "userinfo_signed_response_alg",
    ] {
        if let Some(alg) = string_member(body, name)? {
            if !algorithms.contains(&alg) {
                return Err(invalid_client_metadata(format!(
                    "{name} '{alg}' is not one this server signs with ({})",
                    algorithms.join(", ")
                )));
            }
            extra.insert(name.into(), alg.into());
        }
    }
    match string_member(body, "subject_type")? {
        None | Some("public") => {}
        Some("pairwise") => {
            let provider_pairwise =
                crate::oidc::provider(ctx).is_some_and(|p| p.supports_pairwise());
            if !provider_pairwise {
                return Err(invalid_client_metadata(
                    "pairwise subjects are not offered here",
                ));
            }
            // A self-registered client is a pairwise sector of its own (see
            // `oidc::subject::sector_of`): its redirect URIs may span hosts.
            extra.insert("subject_type".into(), "pairwise".into());
        }
        Some(other) => {
            return Err(invalid_client_metadata(format!(
                "subject_type '{other}' is not supported: public or pairwise"
            )))
        }
    }
    if let Some(uri) = string_member(body, "sector_identifier_uri")? {
        // Fetched and checked by the endpoint (OpenID Connect Dynamic Registration §5).
        extra.insert("sector_identifier_uri".into(), uri.into());
    }
    if let Some(uris) = string_list(body, "post_logout_redirect_uris")? {
        for uri in &uris {
            check_redirect_uri(uri, public).map_err(|_| {
                invalid_client_metadata(format!(
                    "post_logout_redirect_uris: '{uri}' is not a valid redirect URI"
                ))
            })?;
        }
        extra.insert("post_logout_redirect_uris".into(), json!(uris));
    }
    for name in ["backchannel_logout_session_required", "require_auth_time"] {
        match body.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => {
                extra.insert(name.into(), (*b).into());
            }
            Some(_) => return Err(invalid_client_metadata(format!("{name} must be a boolean"))),
        }
    }
    match body.get("default_max_age") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let secs = v.as_u64().ok_or_else(|| {
                invalid_client_metadata("default_max_age must be a non-negative integer")
            })?;
            extra.insert("default_max_age".into(), secs.into());
        }
    }
    Ok(())
}

// ----- answering --------------------------------------------------------------------------

/// The registration bookkeeping kept in a client's metadata.
fn bookkeeping(client: &ClientRecord) -> Option<(SecretHash, i64)> {
    let r = client.metadata.get(REGISTRATION_KEY)?;
    let hash = r.get("token_sha256")?.as_str()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(hash)
        .ok()?;
    let hash = SecretHash(bytes.try_into().ok()?);
    Some((hash, r.get("issued_at")?.as_i64()?))
}

fn set_bookkeeping(client: &mut ClientRecord, token_hash: &SecretHash, issued_at: i64) {
    client.metadata.insert(
        REGISTRATION_KEY.into(),
        json!({
            "token_sha256": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_hash.0),
            "issued_at": issued_at,
        }),
    );
}

/// The client a registration creates (or an update makes), keeping `secret_hash`.
fn record_of(client_id: &str, m: &ClientMetadata, secret_hash: Option<SecretHash>) -> ClientRecord {
    let mut r = match secret_hash {
        Some(h) if !m.is_public() => ClientRecord::with_secret_hash(client_id, h),
        _ => ClientRecord::public(client_id),
    }
    .auth_method(m.token_endpoint_auth_method)
    .redirect_uris(m.redirect_uris.clone())
    .grant_types(m.grant_types.clone())
    .response_types(m.response_types.clone());
    r.scope = m.scope.clone().unwrap_or_default();
    r.client_name.clone_from(&m.client_name);
    r.metadata = m.extra.clone();
    r
}

/// The client's registered metadata as RFC 7591 §3.2.1 answers it (no secret, no token).
fn client_information(ctx: &ServerContext, path: &str, c: &ClientRecord) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("client_id".into(), c.client_id.clone().into());
    if let Some((_, issued_at)) = bookkeeping(c) {
        out.insert("client_id_issued_at".into(), issued_at.into());
    }
    if c.secret_hash.is_some() {
        out.insert("client_secret_expires_at".into(), 0.into());
    }
    out.insert(
        "registration_client_uri".into(),
        ctx.config
            .endpoint_url(&format!("{path}/{}", c.client_id))
            .into(),
    );
    out.insert("redirect_uris".into(), json!(c.redirect_uris));
    out.insert(
        "token_endpoint_auth_method".into(),
        c.auth_method.as_str().into(),
    );
    out.insert("grant_types".into(), json!(c.grant_types));
    out.insert("response_types".into(), json!(c.response_types));
    if let Some(n) = &c.client_name {
        out.insert("client_name".into(), n.clone().into());
    }
    if !c.scope.is_empty() {
        out.insert("scope".into(), c.scope.to_string().into());
    }
    for (k, v) in &c.metadata {
        if k != REGISTRATION_KEY {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn json_answer(status: StatusCode, body: Map<String, Value>) -> OAuth2Response {
    OAuth2Response::json(status, &Value::Object(body))
}

/// The registry, or a 500 naming what is missing.
fn registry(ctx: &ServerContext) -> Result<&Arc<dyn ClientRegistry>, OAuth2Error> {
    ctx.client_registry.as_ref().ok_or_else(|| {
        OAuth2Error::with_description(ErrorCode::ServerError, "the server has no client registry")
    })
}

/// The JSON object a request carries.
fn json_body(req: &OAuth2Request) -> Result<Map<String, Value>, OAuth2Error> {
    if !req.is_json() {
        return Err(invalid_client_metadata("the body must be application/json"));
    }
    match serde_json::from_slice::<Value>(req.body()) {
        Ok(Value::Object(m)) => {
            if let Some(name) = m
                .iter()
                .find(|(k, v)| has_control_characters(k) || holds_control_characters(v))
                .map(|(k, _)| k)
            {
                return Err(invalid_client_metadata(format!(
                    "the member '{}' holds a control character",
                    name.escape_debug()
                )));
            }
            Ok(m)
        }
        Ok(_) => Err(invalid_client_metadata("the body must be a JSON object")),
        Err(_) => Err(invalid_client_metadata("the body is not valid JSON")),
    }
}

/// Whether a JSON value holds a control character in a string or a member name, at any
/// depth: no store keeps one in every column type (PostgreSQL's `text` and `jsonb` refuse
/// NUL), and none belongs in client metadata.
fn holds_control_characters(v: &Value) -> bool {
    match v {
        Value::String(s) => has_control_characters(s),
        Value::Array(items) => items.iter().any(holds_control_characters),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| has_control_characters(k) || holds_control_characters(v)),
        _ => false,
    }
}

/// The Bearer token of the `Authorization` header, if any.
fn bearer(req: &OAuth2Request) -> Result<Option<&str>, OAuth2Error> {
    Ok(authorization_header(req.headers())?
        .and_then(|h| strip_scheme(h, "Bearer"))
        .map(str::trim)
        .filter(|t| !t.is_empty()))
}

fn unauthorized(ctx: &ServerContext, description: &'static str, had_token: bool) -> OAuth2Response {
    let error =
        had_token.then(|| OAuth2Error::with_description(ErrorCode::InvalidToken, description));
    let mut res = BearerError::new(error, Some(ctx.config.realm.clone())).into_response();
    if !had_token {
        res = OAuth2Response::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_token", "error_description": description}),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            &BearerError::new(None, Some(ctx.config.realm.clone())).www_authenticate(),
        );
    }
    res
}

/// A fresh client id: 128 random bits, base64url (never chosen by the client).
fn new_client_id(ctx: &ServerContext) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>(ctx.rng.as_ref()))
}

// ----- the endpoints -------------------------------------------------------------------------

/// The client registration endpoint (RFC 7591 §3), registered with
/// [`crate::AuthorizationServer::register_endpoint`] and mounted at
/// [`crate::EndpointPaths::registration`]. It needs the stores' [`ClientRegistry`]; register
/// [`Self::configuration`] beside it for RFC 7592.
///
/// ```
/// use authgate::endpoints::registration::{ClientRegistrationEndpoint, RegistrationRules};
/// use authgate::{AuthorizationCodeGrant, AuthorizationServer, MemoryStore, ServerConfig};
/// let store = MemoryStore::new();
/// let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new("https://as.example"));
/// server.register_grant(AuthorizationCodeGrant::new());
/// let registration = ClientRegistrationEndpoint::new(RegistrationRules::new());
/// server.register_endpoint(registration.configuration()).unwrap();
/// server.register_endpoint(registration).unwrap();
/// assert_eq!(
///     server.metadata().registration_endpoint.as_deref(),
///     Some("https://as.example/register"),
/// );
/// ```
#[derive(Clone)]
pub struct ClientRegistrationEndpoint {
    policy: Arc<dyn RegistrationPolicy>,
    sectors: Option<SectorCheck>,
}

/// How `sector_identifier_uri` documents are fetched.
#[derive(Clone)]
struct SectorCheck {
    fetcher: Arc<dyn crate::client::metadata_document::DocumentFetcher>,
    allow_loopback_http: bool,
}

/// OpenID Connect Dynamic Registration §5: the document at `sector_identifier_uri` is a
/// JSON array that must list every redirect URI of the client. A client with one may not
/// use the device grant: its tokens would carry the sector's subjects without ever going
/// to the sector's redirect URIs.
async fn check_sector(
    sectors: Option<&SectorCheck>,
    metadata: &ClientMetadata,
) -> Result<(), OAuth2Error> {
    let Some(uri) = metadata
        .extra
        .get("sector_identifier_uri")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let Some(check) = sectors else {
        return Err(invalid_client_metadata(
            "sector_identifier_uri is not supported here: this server does not fetch it",
        ));
    };
    let fetchable = uri.starts_with("https://")
        || (check.allow_loopback_http
            && crate::client::metadata_document::is_document_url(uri, true));
    if !fetchable || Url::parse(uri).map_or(true, |u| u.fragment().is_some()) {
        return Err(invalid_client_metadata(
            "sector_identifier_uri must be an https URL",
        ));
    }
    if metadata
        .grant_types
        .iter()
        .any(|g| g == DEVICE_CODE_GRANT_TYPE)
    {
        return Err(invalid_client_metadata(
            "a client with a sector_identifier_uri cannot use the device grant",
        ));
    }
    let doc = check.fetcher.fetch(uri).await.map_err(|e| {
        invalid_client_metadata(format!("sector_identifier_uri could not be fetched: {e}"))
    })?;
    let listed: Vec<String> = serde_json::from_slice(&doc.body).map_err(|_| {
        invalid_client_metadata("the sector_identifier_uri document is not a JSON array of URIs")
    })?;
    if let Some(missing) = metadata.redirect_uris.iter().find(|u| !listed.contains(u)) {
        return Err(invalid_client_metadata(format!(
            "redirect URI '{missing}' is not listed at the sector_identifier_uri (OpenID Connect Dynamic Registration section 5)"
        )));
    }
    Ok(())
}

impl std::fmt::Debug for ClientRegistrationEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRegistrationEndpoint")
            .finish_non_exhaustive()
    }
}

impl ClientRegistrationEndpoint {
    /// The endpoint, deciding with `policy`.
    pub fn new(policy: impl RegistrationPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
            sectors: None,
        }
    }

    /// Fetches `sector_identifier_uri` documents with `fetcher` and checks that they list
    /// the client's redirect URIs (OpenID Connect Dynamic Registration §5); without it, a
    /// registration naming one is refused. `allow_loopback_http` takes `http` on loopback
    /// hosts too (tests only).
    #[must_use]
    pub fn sector_identifier_fetcher(
        mut self,
        fetcher: impl crate::client::metadata_document::DocumentFetcher,
        allow_loopback_http: bool,
    ) -> Self {
        self.sectors = Some(SectorCheck {
            fetcher: Arc::new(fetcher),
            allow_loopback_http,
        });
        self
    }

    /// The client configuration endpoint (RFC 7592) with the same policy.
    pub fn configuration(&self) -> ClientConfigurationEndpoint {
        ClientConfigurationEndpoint {
            policy: self.policy.clone(),
            sectors: self.sectors.clone(),
        }
    }

    async fn register(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        if req.method() != Method::POST {
            return ctx.refuse(
                "registration",
                req,
                OAuth2Error::invalid_request("this endpoint accepts POST only")
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
            );
        }
        let token = match bearer(req) {
            Ok(t) => t,
            Err(e) => return ctx.refuse("registration", req, e),
        };
        match self.policy.admit(ctx, token).await {
            Ok(true) => {}
            Ok(false) => {
                let reason = if token.is_some() {
                    "initial_access_token_invalid"
                } else {
                    "initial_access_token_missing"
                };
                let refusal = OAuth2Error::new(ErrorCode::InvalidToken).reason(reason);
                crate::trace::refused("registration", req, &refusal);
                return unauthorized(
                    ctx,
                    "a valid initial access token is required to register (RFC 7591 section 3)",
                    token.is_some(),
                );
            }
            Err(e) => return ctx.refuse("registration", req, e),
        }
        match self.create(ctx, req).await {
            Ok(body) => {
                crate::trace::served("registration", req);
                json_answer(StatusCode::CREATED, body)
            }
            Err(e) => ctx.refuse("registration", req, e),
        }
    }

    async fn create(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<Map<String, Value>, OAuth2Error> {
        let registry = registry(ctx)?;
        let body = json_body(req)?;
        let mut metadata = parse_metadata(ctx, &body)?;
        self.policy.review(ctx, &mut metadata)?;
        check_sector(self.sectors.as_ref(), &metadata).await?;
        let secret = (!metadata.is_public()).then(|| generate_client_secret(ctx.rng.as_ref()));
        let token = generate_client_secret(ctx.rng.as_ref());
        let now = ctx.now();
        for _ in 0..4 {
            let client_id = new_client_id(ctx);
            let mut record = record_of(
                &client_id,
                &metadata,
                secret.as_deref().map(|s| SecretHash::of(s.as_bytes())),
            );
            set_bookkeeping(&mut record, &SecretHash::of(token.as_bytes()), now);
            if registry.create_client(&record).await? {
                let path = ctx.config.endpoints.registration.clone();
                let mut out = client_information(ctx, &path, &record);
                if let Some(s) = &secret {
                    out.insert("client_secret".into(), s.clone().into());
                }
                out.insert("registration_access_token".into(), token.into());
                return Ok(out);
            }
        }
        Err(OAuth2Error::with_description(
            ErrorCode::ServerError,
            "no free client id was found",
        ))
    }
}

#[async_trait]
impl Endpoint for ClientRegistrationEndpoint {
    fn name(&self) -> &'static str {
        "registration"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.registration.clone()
    }

    fn check(&self, ctx: &ServerContext) -> Result<(), SetupError> {
        if ctx.client_registry.is_none() {
            return Err(SetupError::Missing {
                needed_by: "client registration endpoint",
                what: "a client registry (Stores::with_client_registry)",
            });
        }
        Ok(())
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        metadata.registration_endpoint = Some(ctx.config.endpoint_url(&self.path(&ctx.config)));
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        self.register(ctx, req).await
    }
}

/// The client configuration endpoint (RFC 7592): `GET`, `PUT` and `DELETE` at
/// `{registration path}/{client_id}`, the `registration_client_uri` a registration
/// answered, authenticated by the registration access token. Made by
/// [`ClientRegistrationEndpoint::configuration`].
#[derive(Clone)]
pub struct ClientConfigurationEndpoint {
    policy: Arc<dyn RegistrationPolicy>,
    sectors: Option<SectorCheck>,
}

impl std::fmt::Debug for ClientConfigurationEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfigurationEndpoint")
            .finish_non_exhaustive()
    }
}

impl ClientConfigurationEndpoint {
    /// The registered client the request's path names, if its registration access token
    /// is the one presented.
    async fn authorized(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<Result<ClientRecord, OAuth2Response>, OAuth2Error> {
        let prefix = format!(
            "{}/",
            ctx.config.endpoints.registration.trim_end_matches('/')
        );
        let path = req.uri().path();
        let client_id = path
            .rfind(&prefix)
            .map(|at| &path[at + prefix.len()..])
            .filter(|id| !id.is_empty() && !id.contains('/'));
        let token = bearer(req)?;
        let Some(token) = token else {
            return Ok(Err(unauthorized(
                ctx,
                "the registration access token is required",
                false,
            )));
        };
        let refused = || {
            unauthorized(
                ctx,
                "the registration access token is not valid for this client",
                true,
            )
        };
        let Some(client_id) = client_id else {
            return Ok(Err(refused()));
        };
        // Registered client ids are base64url: the segment is compared as it is.
        let Some(client) = registry(ctx)?.registered_client(client_id).await? else {
            return Ok(Err(refused()));
        };
        match bookkeeping(&client) {
            Some((hash, _)) if hash.ct_eq(&SecretHash::of(token.as_bytes())) => Ok(Ok(client)),
            _ => Ok(Err(refused())),
        }
    }

    async fn manage(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<OAuth2Response, OAuth2Error> {
        let client = match self.authorized(ctx, req).await? {
            Ok(c) => c,
            Err(res) => return Ok(res),
        };
        let path = ctx.config.endpoints.registration.clone();
        match *req.method() {
            Method::GET => Ok(json_answer(
                StatusCode::OK,
                client_information(ctx, &path, &client),
            )),
            Method::DELETE => {
                registry(ctx)?.delete_client(&client.client_id).await?;
                let mut res = OAuth2Response::json(StatusCode::NO_CONTENT, &Value::Null);
                res.body = bytes::Bytes::new();
                res.headers.remove(header::CONTENT_TYPE);
                Ok(res)
            }
            Method::PUT => self.update(ctx, req, client, &path).await,
            _ => Err(
                OAuth2Error::invalid_request("this endpoint accepts GET, PUT and DELETE")
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
            ),
        }
    }

    /// RFC 7592 §2.2: a full replacement, checked as a registration is.
    async fn update(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        current: ClientRecord,
        path: &str,
    ) -> Result<OAuth2Response, OAuth2Error> {
        let body = json_body(req)?;
        for forbidden in [
            "registration_access_token",
            "registration_client_uri",
            "client_secret_expires_at",
            "client_id_issued_at",
        ] {
            if body.contains_key(forbidden) {
                return Err(OAuth2Error::invalid_request(format!(
                    "{forbidden} must not be sent in an update (RFC 7592 section 2.2)"
                )));
            }
        }
        if body.get("client_id").and_then(Value::as_str) != Some(current.client_id.as_str()) {
            return Err(OAuth2Error::invalid_request(
                "client_id must be sent and must be this client's (RFC 7592 section 2.2)",
            ));
        }
        if let Some(secret) = body.get("client_secret") {
            let matches = secret.as_str().is_some_and(|s| current.check_secret(s));
            if !matches {
                return Err(OAuth2Error::invalid_request(
                    "client_secret, when sent, must be the client's current secret",
                ));
            }
        }
        // RFC 7591 §2.3: what a statement asserted takes precedence, updates included; a
        // client registered with one sends it again or has the stored one applied.
        let mut body = body;
        if !body.contains_key("software_statement") {
            if let Some(kept) = current.metadata.get("software_statement") {
                body.insert("software_statement".into(), kept.clone());
            }
        }
        let mut metadata = parse_metadata(ctx, &body)?;
        self.policy.review(ctx, &mut metadata)?;
        check_sector(self.sectors.as_ref(), &metadata).await?;
        // A client that becomes confidential gets a secret, shown once here.
        let fresh_secret = (current.secret_hash.is_none() && !metadata.is_public())
            .then(|| generate_client_secret(ctx.rng.as_ref()));
        let secret_hash = match &fresh_secret {
            Some(s) => Some(SecretHash::of(s.as_bytes())),
            None => current.secret_hash,
        };
        let mut record = record_of(&current.client_id, &metadata, secret_hash);
        if let Some(kept) = current.metadata.get(REGISTRATION_KEY) {
            record
                .metadata
                .insert(REGISTRATION_KEY.into(), kept.clone());
        }
        if !registry(ctx)?.update_client(&record).await? {
            return Ok(unauthorized(ctx, "the client no longer exists", true));
        }
        let mut out = client_information(ctx, path, &record);
        if let Some(s) = fresh_secret {
            out.insert("client_secret".into(), s.into());
        }
        Ok(json_answer(StatusCode::OK, out))
    }
}

#[async_trait]
impl Endpoint for ClientConfigurationEndpoint {
    fn name(&self) -> &'static str {
        "client_configuration"
    }

    fn path(&self, config: &ServerConfig) -> String {
        format!("{}/{{client_id}}", config.endpoints.registration)
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::PUT, Method::DELETE]
    }

    fn check(&self, ctx: &ServerContext) -> Result<(), SetupError> {
        if ctx.client_registry.is_none() {
            return Err(SetupError::Missing {
                needed_by: "client configuration endpoint",
                what: "a client registry (Stores::with_client_registry)",
            });
        }
        Ok(())
    }

    fn contribute(&self, _ctx: &ServerContext, _metadata: &mut Metadata) {}

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        match self.manage(ctx, req).await {
            Ok(res) => res,
            Err(e) => ctx.refuse("client_configuration", req, e),
        }
    }
}

impl OAuth2Response {
    /// Sets a header (a value that is not a valid header value is dropped).
    #[must_use]
    pub(crate) fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}
