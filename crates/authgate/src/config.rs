//! Server configuration, set in code or from `AUTHGATE_*` environment variables.

use std::collections::HashMap;

use crate::request::DEFAULT_MAX_BODY_BYTES;

/// When refresh tokens are rotated on use.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTokenRotation {
    /// Every refresh replaces the refresh token.
    Always,
    /// Only public clients' refresh tokens rotate (RFC 9700 §4.14.2 requires it for them:
    /// their tokens are not sender-constrained). The default.
    PublicClients,
    /// Refresh tokens are never rotated.
    Never,
}

/// The authorization server's configuration.
///
/// ```
/// use authgate::ServerConfig;
/// let config = ServerConfig::new("https://auth.example.com")
///     .refresh_tokens(true)
///     .expires_in("client_credentials", 600);
/// assert_eq!(config.expires_in_for("client_credentials"), 600);
/// assert_eq!(config.expires_in_for("password"), 3600);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The issuer identifier (RFC 8414 §2, RFC 9207): an https URL without query or
    /// fragment in production.
    pub issuer: String,
    /// Issue refresh tokens where the grant allows (off by default; the analog of Authlib's
    /// `OAUTH2_REFRESH_TOKEN_GENERATOR`).
    pub refresh_tokens: bool,
    /// Access token lifetime in seconds for grants without their own entry.
    pub access_token_ttl: u64,
    /// Access token lifetime per grant type, overriding `access_token_ttl`.
    pub expires_in: HashMap<String, u64>,
    /// Refresh token lifetime in seconds (default 14 days).
    pub refresh_token_ttl: u64,
    /// Authorization code lifetime in seconds (default 600, RFC 6749 §4.1.2).
    pub code_ttl: u64,
    /// When refresh tokens rotate.
    pub refresh_token_rotation: RefreshTokenRotation,
    /// The grace window of a rotated refresh token, in seconds (default 0: none). Within
    /// it, the same client presenting the token it just rotated out gets the same successor
    /// pair again — two tabs or a retried request no longer look like theft — instead of
    /// the family being revoked; after it, reuse revokes the family as always (RFC 9700
    /// §4.14.2).
    ///
    /// The trade-off: within the window, a thief holding the old token receives the live
    /// successors rather than tripping reuse detection. Keep it short (seconds, not
    /// minutes). The successors are kept sealed, on the rotated row, under a key only the
    /// old token's value yields: a store dump alone reveals nothing. A dump together with
    /// that old token would open them while they are live, unless the server also mixes in
    /// a secret of its own ([`crate::AuthorizationServer::with_refresh_grace_secret`]; the
    /// reference server does). The engine does not cap the window; the reference server
    /// refuses more than 300 seconds.
    pub refresh_token_grace_seconds: u64,
    /// Require PKCE from every client, not only public ones (RFC 9700 §2.1.1 recommends it).
    pub require_pkce: bool,
    /// Accept the `plain` PKCE method (off by default).
    pub allow_plain_pkce: bool,
    /// The largest request body accepted, in bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// The status of authorization redirects answering a POST (default 303 See Other, so
    /// the browser never re-sends the form: RFC 9700 §4.12). 302 is safe only when the
    /// form carries no credentials (a consent form, not a login form); 307 and 308 are
    /// never used — setting them falls back to 303.
    pub post_redirect_status: http::StatusCode,
    /// The realm of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Endpoint paths, joined to the issuer in the metadata document.
    pub endpoints: EndpointPaths,
    /// Scopes to advertise as `scopes_supported`; empty: not advertised.
    pub scopes_supported: Vec<String>,
    /// The resources tokens can be issued for (RFC 8707 resource indicators); empty by
    /// default, when every `resource` parameter is refused with `invalid_target`.
    pub resources: crate::resource_indicators::ResourceRegistry,
    /// The audience of tokens issued for no resource, as introspection and JWT access
    /// tokens state it; `None`: the issuer.
    pub default_audience: Option<String>,
    /// The format of access tokens issued for no resource (opaque by default); a token
    /// for resources takes theirs ([`crate::RegisteredResource::access_token_format`]).
    pub access_token_format: crate::resource_indicators::AccessTokenFormat,
}

/// Where the endpoints are mounted, relative to the issuer.
#[derive(Debug, Clone)]
pub struct EndpointPaths {
    /// The authorization endpoint (default `/authorize`).
    pub authorization: String,
    /// The token endpoint (default `/token`).
    pub token: String,
    /// The revocation endpoint (default `/revoke`).
    pub revocation: String,
    /// The introspection endpoint (default `/introspect`).
    pub introspection: String,
    /// The JWKS endpoint, the server's public signing keys (default `/jwks`).
    pub jwks: String,
    /// The UserInfo endpoint (default `/userinfo`).
    pub userinfo: String,
    /// The end-session endpoint of RP-initiated logout (default `/end_session`).
    pub end_session: String,
    /// The device authorization endpoint of RFC 8628 (default `/device_authorization`).
    pub device_authorization: String,
    /// The client registration endpoint of RFC 7591 (default `/register`); each client's
    /// configuration endpoint (RFC 7592) is below it, at `/register/{client_id}`.
    pub registration: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        Self {
            authorization: "/authorize".into(),
            token: "/token".into(),
            revocation: "/revoke".into(),
            introspection: "/introspect".into(),
            jwks: "/jwks".into(),
            userinfo: "/userinfo".into(),
            end_session: "/end_session".into(),
            device_authorization: "/device_authorization".into(),
            registration: "/register".into(),
        }
    }
}

impl ServerConfig {
    /// The defaults, for an issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            refresh_tokens: false,
            access_token_ttl: 3600,
            expires_in: HashMap::new(),
            refresh_token_ttl: 14 * 24 * 3600,
            code_ttl: 600,
            refresh_token_rotation: RefreshTokenRotation::PublicClients,
            refresh_token_grace_seconds: 0,
            require_pkce: false,
            allow_plain_pkce: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            post_redirect_status: http::StatusCode::SEE_OTHER,
            realm: "authgate".into(),
            endpoints: EndpointPaths::default(),
            scopes_supported: Vec::new(),
            resources: crate::resource_indicators::ResourceRegistry::new(),
            default_audience: None,
            access_token_format: crate::resource_indicators::AccessTokenFormat::Opaque,
        }
    }

    /// Turns refresh tokens on or off.
    #[must_use]
    pub fn refresh_tokens(mut self, on: bool) -> Self {
        self.refresh_tokens = on;
        self
    }

    /// Sets the access token lifetime for one grant type.
    #[must_use]
    pub fn expires_in(mut self, grant_type: impl Into<String>, secs: u64) -> Self {
        self.expires_in.insert(grant_type.into(), secs);
        self
    }

    /// The audience of tokens issued for no resource: [`Self::default_audience`], or
    /// the issuer.
    pub fn default_audience(&self) -> &str {
        self.default_audience.as_deref().unwrap_or(&self.issuer)
    }

    /// The access token lifetime for a grant type.
    pub fn expires_in_for(&self, grant_type: &str) -> u64 {
        self.expires_in
            .get(grant_type)
            .copied()
            .unwrap_or(self.access_token_ttl)
    }

    /// Applies `AUTHGATE_*` variables from the process environment; see
    /// [`Self::apply_env_vars`].
    ///
    /// # Errors
    /// A variable with a value that does not parse, named in the message.
    pub fn from_env(self) -> Result<Self, String> {
        self.apply_env_vars(std::env::vars())
    }

    /// Applies configuration variables:
    ///
    /// | variable | effect |
    /// | --- | --- |
    /// | `AUTHGATE_REFRESH_TOKEN_GENERATOR=true\|false` | issue refresh tokens |
    /// | `AUTHGATE_EXPIRES_<GRANT_TYPE>=seconds` | lifetime for a grant type, e.g. `AUTHGATE_EXPIRES_CLIENT_CREDENTIALS=600` |
    /// | `AUTHGATE_ACCESS_TOKEN_TTL=seconds` | default lifetime |
    /// | `AUTHGATE_REQUIRE_PKCE=true\|false` | PKCE for every client |
    ///
    /// Other variables are ignored.
    ///
    /// # Errors
    /// A recognised variable whose value does not parse, named in the message.
    pub fn apply_env_vars(
        mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, String> {
        for (k, v) in vars {
            let bad = || format!("{k}: cannot parse '{v}'");
            if k == "AUTHGATE_REFRESH_TOKEN_GENERATOR" {
                self.refresh_tokens = parse_bool(&v).ok_or_else(bad)?;
            } else if k == "AUTHGATE_REQUIRE_PKCE" {
                self.require_pkce = parse_bool(&v).ok_or_else(bad)?;
            } else if k == "AUTHGATE_ACCESS_TOKEN_TTL" {
                self.access_token_ttl = v.trim().parse().map_err(|_| bad())?;
            } else if let Some(grant) = k.strip_prefix("AUTHGATE_EXPIRES_") {
                let secs = v.trim().parse().map_err(|_| bad())?;
                self.expires_in.insert(grant.to_ascii_lowercase(), secs);
            }
        }
        Ok(self)
    }

    /// The full URL of an endpoint path.
    pub fn endpoint_url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_set_refresh_tokens_and_per_grant_expiry() {
        let c = ServerConfig::new("https://a.example/")
            .apply_env_vars([
                ("AUTHGATE_REFRESH_TOKEN_GENERATOR".into(), "true".into()),
                ("AUTHGATE_EXPIRES_CLIENT_CREDENTIALS".into(), "600".into()),
                ("PATH".into(), "/bin".into()),
            ])
            .unwrap();
        assert!(c.refresh_tokens);
        assert_eq!(c.expires_in_for("client_credentials"), 600);
        assert_eq!(c.expires_in_for("authorization_code"), 3600);
        assert_eq!(c.issuer, "https://a.example");
    }

    #[test]
    fn bad_env_value_is_reported_with_its_name() {
        let e = ServerConfig::new("https://a.example")
            .apply_env_vars([("AUTHGATE_EXPIRES_PASSWORD".into(), "soon".into())])
            .unwrap_err();
        assert!(e.contains("AUTHGATE_EXPIRES_PASSWORD"));
    }

    #[test]
    fn refresh_tokens_are_off_by_default() {
        assert!(!ServerConfig::new("https://a.example").refresh_tokens);
    }
}
