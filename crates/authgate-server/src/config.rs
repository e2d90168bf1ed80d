//! The TOML configuration file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Grant types and response types this server can serve.
pub(crate) const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "implicit",
    "password",
    authgate::DEVICE_CODE_GRANT_TYPE,
];
pub(crate) const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

/// The whole file. Unknown keys are an error, named with their place in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The issuer identifier, e.g. `https://auth.example.com`.
    pub(crate) issuer: String,
    /// Where to listen, e.g. `127.0.0.1:8080`.
    pub(crate) bind: String,
    /// `sqlite://PATH`, `postgres://...` or `memory:` (forgets on restart); absent: `authgate.db` beside
    /// the config file.
    pub(crate) database_url: Option<String>,
    /// A file holding `database_url` (a mounted secret); not both.
    pub(crate) database_url_file: Option<PathBuf>,
    /// A folder whose `*.html` files replace the built-in page templates.
    pub(crate) templates_dir: Option<PathBuf>,
    /// The reverse proxies in front of the server (addresses or CIDR blocks): only from
    /// them is `X-Forwarded-For` / `Forwarded` read, to find the client's address for the
    /// per-address limits. Empty: the socket's address is the client's.
    #[serde(default)]
    pub(crate) trusted_proxies: Vec<String>,
    /// Browser origins (`https://app.example`) allowed to call the token, revocation and
    /// UserInfo endpoints besides the origins of the clients' redirect URIs.
    #[serde(default)]
    pub(crate) cors_origins: Vec<String>,
    #[serde(default)]
    pub(crate) tokens: Tokens,
    #[serde(default)]
    pub(crate) keys: Keys,
    #[serde(default)]
    pub(crate) clients: Vec<ClientConfig>,
    #[serde(default)]
    pub(crate) users: Vec<UserConfig>,
    #[serde(default)]
    pub(crate) registration: Registration,
    /// The APIs tokens can be issued for (RFC 8707 resource indicators).
    #[serde(default)]
    pub(crate) resources: Vec<ResourceConfig>,
    /// Issuers whose signed assertions about users the JWT bearer grant takes (RFC 7523
    /// §2.1); none: the grant is not served.
    #[serde(default)]
    pub(crate) trusted_issuers: Vec<TrustedIssuerConfig>,
    /// The admin listener: metrics and health probes on an address of their own.
    pub(crate) admin: Option<AdminConfig>,
    /// What the consent pages say each scope gives, by scope name (over the built-in
    /// descriptions of `openid`, `profile`, `email`, `address`, `phone`, `offline_access`).
    #[serde(default)]
    pub(crate) scope_descriptions: BTreeMap<String, String>,
}

/// `[admin]`: the admin listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` listen, e.g. `127.0.0.1:9090`.
    pub(crate) bind: String,
}

/// One `[[trusted_issuers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrustedIssuerConfig {
    /// Its `iss` value.
    pub(crate) issuer: String,
    /// Its public keys (a JWK Set).
    pub(crate) jwks: Option<serde_json::Value>,
    /// Where it publishes them (https).
    pub(crate) jwks_uri: Option<String>,
    /// `"namespaced"` (default: a user is `{issuer}|{sub}`, never a local user) or
    /// `"local"` (the issuer's `sub` is this server's user: it shares the users).
    #[serde(default = "default_subjects")]
    pub(crate) subjects: String,
    /// The most a token got with its JWTs may carry (space-delimited); absent: only the
    /// client's scope limits it.
    pub(crate) scope: Option<String>,
}

fn default_subjects() -> String {
    "namespaced".into()
}

impl TrustedIssuerConfig {
    fn check(&self, i: usize) -> Result<(), String> {
        let at = format!("trusted_issuers[{i}] ({})", self.issuer);
        if self.issuer.is_empty() {
            return Err(format!("trusted_issuers[{i}].issuer: must not be empty"));
        }
        if self.subjects != "namespaced" && self.subjects != "local" {
            return Err(format!(
                "{at}.subjects: '{}' is neither \"namespaced\" nor \"local\"",
                self.subjects
            ));
        }
        if let Some(scope) = &self.scope {
            authgate::Scope::parse(scope).map_err(|_| {
                format!("{at}.scope: '{scope}' holds a character RFC 6749 section 3.3 forbids")
            })?;
        }
        check_key_source(&at, self.jwks.as_ref(), self.jwks_uri.as_deref())
    }

    /// The engine's entry.
    pub(crate) fn trusted(&self) -> authgate::TrustedIssuer {
        let t = match (&self.jwks, &self.jwks_uri) {
            (Some(jwks), _) => authgate::TrustedIssuer::with_jwks(&self.issuer, jwks.clone()),
            (None, uri) => authgate::TrustedIssuer::with_jwks_uri(
                &self.issuer,
                uri.clone().unwrap_or_default(),
            ),
        }
        .local_subjects(self.subjects == "local");
        match self.scope.as_deref().map(authgate::Scope::parse) {
            Some(Ok(scope)) => t.scope(scope),
            _ => t,
        }
    }
}

/// Exactly one of `jwks` (with a usable public key and no private member) and `jwks_uri`
/// (https; http to a loopback host only where tests allow private outbound addresses).
fn check_key_source(
    at: &str,
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
) -> Result<(), String> {
    match (jwks, jwks_uri) {
        (Some(jwks), None) => {
            if authgate::client_assertion::usable_keys(jwks) == 0 {
                return Err(format!(
                    "{at}.jwks: no usable public signing key (RSA of 2048 bits or more, EC P-256 or P-384, Ed25519), or private or symmetric key material, which must never be here"
                ));
            }
            Ok(())
        }
        (None, Some(uri)) => {
            let tests =
                std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
            let ok = url::Url::parse(uri).is_ok_and(|u| match (u.scheme(), u.host()) {
                ("https", Some(_)) => true,
                ("http", Some(url::Host::Ipv4(a))) => tests && a.is_loopback(),
                ("http", Some(url::Host::Domain("localhost"))) => tests,
                _ => false,
            });
            if ok {
                Ok(())
            } else {
                Err(format!("{at}.jwks_uri: '{uri}' is not an https URL"))
            }
        }
        (Some(_), Some(_)) => Err(format!(
            "{at}: jwks and jwks_uri are exclusive (RFC 7591 section 2)"
        )),
        (None, None) => Err(format!("{at}: needs jwks or jwks_uri")),
    }
}

/// One `[[resources]]` entry: an API clients name with `resource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceConfig {
    /// An absolute URI without a fragment, as clients send it and tokens carry it in `aud`.
    pub(crate) identifier: String,
    /// The scopes it accepts (space-separated); absent: whatever the grant holds.
    pub(crate) scope: Option<String>,
    /// `"opaque"` (default) or `"jwt"`: the format of access tokens for it.
    #[serde(default = "default_format")]
    pub(crate) access_token_format: String,
    /// The lifetime of its access tokens, in seconds; absent: `[tokens]`'s.
    pub(crate) access_token_ttl: Option<u64>,
}

fn default_format() -> String {
    "opaque".into()
}

impl ResourceConfig {
    /// The engine's entry.
    pub(crate) fn registered(&self) -> Result<authgate::RegisteredResource, String> {
        let mut r = authgate::RegisteredResource::new(&self.identifier).map_err(|_| {
            format!(
                "resources: identifier '{}' must be an absolute URI without a fragment (RFC 8707 section 2)",
                self.identifier
            )
        })?;
        if let Some(scope) = &self.scope {
            let scope = authgate::Scope::parse(scope).map_err(|_| {
                format!(
                    "resources ({}).scope: '{scope}' is not a valid scope",
                    self.identifier
                )
            })?;
            r = r.scope(scope);
        }
        r = r.access_token_format(parse_format(
            &self.access_token_format,
            &format!("resources ({}).access_token_format", self.identifier),
        )?);
        if let Some(ttl) = self.access_token_ttl {
            if ttl == 0 {
                return Err(format!(
                    "resources ({}).access_token_ttl: must be at least 1 second",
                    self.identifier
                ));
            }
            r = r.access_token_lifetime(ttl);
        }
        Ok(r)
    }
}

/// Reads `"opaque"` or `"jwt"`, naming `key` when it is neither.
pub(crate) fn parse_format(value: &str, key: &str) -> Result<authgate::AccessTokenFormat, String> {
    authgate::AccessTokenFormat::parse(value)
        .ok_or_else(|| format!("{key}: '{value}' is neither \"opaque\" nor \"jwt\""))
}

/// Dynamic client registration (RFC 7591, RFC 7592).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Registration {
    /// Absent or false: no registration endpoint, nothing advertised.
    #[serde(default)]
    pub(crate) enabled: bool,
    /// When set, registering needs it as a Bearer token (RFC 7591 §3); tokens made with
    /// `authgate registration token create` are accepted too.
    pub(crate) initial_access_token: Option<String>,
    /// A file holding `initial_access_token`; not both.
    pub(crate) initial_access_token_file: Option<PathBuf>,
    /// The grant types self-registered clients may have.
    #[serde(default = "default_registration_grants")]
    pub(crate) allowed_grant_types: Vec<String>,
    /// The scope self-registered clients may have; absent: the OpenID Connect scopes
    /// (`openid profile email address phone`), which a user consents to.
    pub(crate) allowed_scope: Option<String>,
    /// Registration requests one address may make per hour (429 beyond).
    #[serde(default = "default_registrations_per_hour")]
    pub(crate) requests_per_hour: usize,
    /// Client ID Metadata Documents: an https `client_id` names the client's metadata,
    /// fetched from there (public addresses only) and taken as a public client.
    #[serde(default)]
    pub(crate) client_id_metadata_documents: bool,
    /// The public keys (a JWK Set; each key with `kid`, `use` and `alg`) whose signed
    /// software statements are trusted (RFC 7591 §2.3); absent: statements are refused.
    pub(crate) software_statement_jwks: Option<authgate::jose::Jwks>,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            enabled: false,
            initial_access_token: None,
            initial_access_token_file: None,
            allowed_grant_types: default_registration_grants(),
            allowed_scope: None,
            requests_per_hour: default_registrations_per_hour(),
            client_id_metadata_documents: false,
            software_statement_jwks: None,
        }
    }
}

fn default_registration_grants() -> Vec<String> {
    [
        "authorization_code",
        "refresh_token",
        authgate::DEVICE_CODE_GRANT_TYPE,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_registrations_per_hour() -> usize {
    30
}

/// What self-registered clients may have when `allowed_scope` is absent: scopes a user
/// consents to, never an operator's service scopes.
const DEFAULT_REGISTRATION_SCOPE: &str = "openid profile email address phone";

impl Registration {
    /// The scope self-registered and metadata-document clients may have.
    pub(crate) fn scope_ceiling(&self) -> String {
        self.allowed_scope
            .clone()
            .unwrap_or_else(|| DEFAULT_REGISTRATION_SCOPE.to_owned())
    }

    fn check(&self) -> Result<(), String> {
        for g in &self.allowed_grant_types {
            if g == "implicit" || g == "password" {
                return Err(format!(
                    "registration.allowed_grant_types: '{g}' is not offered to self-registered clients (RFC 9700 sections 2.1.2 and 2.4)"
                ));
            }
            if !GRANT_TYPES.contains(&g.as_str()) {
                return Err(format!(
                    "registration.allowed_grant_types: '{g}' is not a grant type this server supports ({})",
                    GRANT_TYPES.join(", ")
                ));
            }
        }
        if self.initial_access_token.as_deref() == Some("") {
            return Err("registration.initial_access_token: must not be empty (leave it out for open registration)".into());
        }
        if let Some(scope) = &self.allowed_scope {
            authgate::Scope::parse(scope).map_err(|_| {
                format!("registration.allowed_scope: '{scope}' is not a valid scope")
            })?;
        }
        if let Some(jwks) = &self.software_statement_jwks {
            for k in &jwks.keys {
                if authgate::jose::Algorithm::parse(&k.alg).is_none() {
                    return Err(format!(
                        "registration.software_statement_jwks: key '{}' has alg '{}', not an asymmetric algorithm this server verifies",
                        k.kid, k.alg
                    ));
                }
            }
        }
        if self.requests_per_hour == 0 {
            return Err("registration.requests_per_hour: must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tokens {
    #[serde(default)]
    pub(crate) refresh_tokens: bool,
    #[serde(default = "default_ttl")]
    pub(crate) access_token_ttl: u64,
    #[serde(default)]
    pub(crate) expires_in: BTreeMap<String, u64>,
    /// The refresh grace window in seconds (0: none); see
    /// `authgate::ServerConfig::refresh_token_grace_seconds` for the trade-off.
    #[serde(default)]
    pub(crate) refresh_grace_seconds: u64,
    /// The format of access tokens issued for no resource: `"opaque"` (default) or
    /// `"jwt"`.
    #[serde(default = "default_format")]
    pub(crate) access_token_format: String,
    /// How many access tokens the Bearer check and introspection keep in memory (SQLite
    /// and PostgreSQL; 0: none, and no clients kept either; otherwise up to 1,000
    /// clients are kept for client authentication). A revocation or a client's change
    /// made elsewhere (another instance, the CLI) takes effect here within the 50 ms poll
    /// interval and one read, never more than 100 ms.
    #[serde(default = "default_cache_size")]
    pub(crate) cache_size: usize,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            refresh_tokens: false,
            access_token_ttl: default_ttl(),
            expires_in: BTreeMap::new(),
            refresh_grace_seconds: 0,
            access_token_format: default_format(),
            cache_size: default_cache_size(),
        }
    }
}

fn default_cache_size() -> usize {
    10_000
}

/// The largest token cache the server accepts (each entry a copy of a token's record, a
/// few hundred bytes: some hundreds of MB at most).
pub(crate) const MAX_CACHE_SIZE: usize = 1_000_000;

/// The longest refresh grace window the server accepts.
const MAX_REFRESH_GRACE_SECONDS: u64 = 300;

fn default_ttl() -> u64 {
    3600
}

/// The top-level keys an `AUTHGATE_` variable without `__` may set; other such variables
/// (`AUTHGATE_LOG`, `AUTHGATE_SESSION_KEY`, `AUTHGATE_KEY_ENCRYPTION_KEY`,
/// `AUTHGATE_PASSWORD`, the tests' own) are the server's, not the config file's.
const TOP_LEVEL_KEYS: [&str; 7] = [
    "issuer",
    "bind",
    "database_url",
    "database_url_file",
    "templates_dir",
    "trusted_proxies",
    "cors_origins",
];

/// The server's own `AUTHGATE_` variables (not config keys); any other `AUTHGATE_`
/// variable without `__` that names no key is reported, not silently ignored.
const SERVER_VARIABLES: [&str; 4] = [
    "AUTHGATE_LOG",
    "AUTHGATE_SESSION_KEY",
    "AUTHGATE_KEY_ENCRYPTION_KEY",
    "AUTHGATE_PASSWORD",
];

/// `AUTHGATE_` variables that are neither config keys nor the server's own (a misspelt
/// top-level key, most likely); the tests' `AUTHGATE_TEST_*` are left alone.
pub(crate) fn stray_variables() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| {
            k.starts_with("AUTHGATE_")
                && !k.starts_with("AUTHGATE_TEST_")
                && env_key(k).is_none()
                && !SERVER_VARIABLES.contains(&k.as_str())
        })
        .collect()
}

/// The config key an environment variable overrides, if it is one:
/// `AUTHGATE_<KEY>` for a top-level key, `AUTHGATE_<TABLE>__<KEY>` (any depth) inside a
/// table, e.g. `AUTHGATE_TOKENS__ACCESS_TOKEN_TTL` for `[tokens] access_token_ttl`.
/// A variable with `__` always names a key, so a misspelt one is an error, not ignored.
pub(crate) fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("AUTHGATE_")?.to_ascii_lowercase();
    if rest.contains("__") {
        return Some(rest.replace("__", "."));
    }
    TOP_LEVEL_KEYS.contains(&rest.as_str()).then_some(rest)
}

/// The file's configuration with the environment's `AUTHGATE_` values laid over it
/// (figment: each value parsed like TOML; an error names the key and the variable).
fn with_overrides(text: &str) -> Result<Config, String> {
    use figment::providers::{Env, Format, Toml};
    // Exactly the variables `env_key` names (upper case, as set), prefix removed.
    let env = Env::raw()
        .filter_map(|k| {
            let name = k.as_str();
            env_key(name)?;
            name.strip_prefix("AUTHGATE_")
                .map(|rest| rest.to_owned().into())
        })
        .split("__");
    let from_env: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.to_str().and_then(env_key))
        .collect();
    let mut config = figment::Figment::from(Toml::string(text))
        .merge(env)
        .extract::<Config>()
        .map_err(|e| {
            let mut all: Vec<String> = e
                .into_iter()
                .map(|e| {
                    let from_env = e
                        .metadata
                        .as_ref()
                        .is_some_and(|m| m.name.contains("environment"));
                    if from_env {
                        // Name the variable as it is set, not figment's dotted key; never
                        // echo its value (it may be a secret).
                        let var = format!("AUTHGATE_{}", e.path.join("__").to_ascii_uppercase());
                        match &e.kind {
                            figment::error::Kind::InvalidType(_, expected)
                            | figment::error::Kind::InvalidValue(_, expected) => format!(
                                "{var}: not a value of the kind this key takes (expected {expected}; quote a string that looks like a number or a boolean: '\"...\"')"
                            ),
                            other => format!("{var}: {other}"),
                        }
                    } else {
                        e.to_string()
                    }
                })
                .collect();
            all.dedup();
            all.join("; ")
        })?;
    // A key set through the environment replaces the file's `_file` form, and the other
    // way round, rather than being refused as both.
    let set = |key: &str| from_env.iter().any(|k| k == key);
    if set("database_url") && !set("database_url_file") {
        config.database_url_file = None;
    }
    if set("database_url_file") && !set("database_url") {
        config.database_url = None;
    }
    let (token, token_file) = (
        "registration.initial_access_token",
        "registration.initial_access_token_file",
    );
    if set(token) && !set(token_file) {
        config.registration.initial_access_token_file = None;
    }
    if set(token_file) && !set(token) {
        config.registration.initial_access_token = None;
    }
    Ok(config)
}

/// The signing keys: where the key that seals them at rest is, and how they rotate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keys {
    /// A file holding the 32-byte key encryption key (base64); absent: `authgate.kek`
    /// beside the config file. Created on first start when missing. Every server on one
    /// database needs the same file.
    pub(crate) encryption_key_file: Option<PathBuf>,
    /// A file holding the 32-byte key (base64) that signs session cookies; absent:
    /// `authgate.session-key` in the working directory. Created on first start when missing;
    /// `AUTHGATE_SESSION_KEY` overrides it. Every server on one database needs the same.
    pub(crate) session_key_file: Option<PathBuf>,
    /// The algorithms to keep keys for.
    #[serde(default = "default_algorithms")]
    pub(crate) algorithms: Vec<String>,
    /// How long a key signs, in seconds.
    #[serde(default = "default_signing_period")]
    pub(crate) signing_period: u64,
    /// How long before it signs a key is published, in seconds.
    #[serde(default = "default_publish_ahead")]
    pub(crate) publish_ahead: u64,
    /// How long a key stays published after it stopped signing, in seconds.
    #[serde(default = "default_retain")]
    pub(crate) retain: u64,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            encryption_key_file: None,
            session_key_file: None,
            algorithms: default_algorithms(),
            signing_period: default_signing_period(),
            publish_ahead: default_publish_ahead(),
            retain: default_retain(),
        }
    }
}

/// How long `/jwks` may be cached (its `Cache-Control: max-age`).
const JWKS_MAX_AGE: u64 = 3600;

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}

fn default_signing_period() -> u64 {
    90 * 24 * 3600
}

fn default_publish_ahead() -> u64 {
    2 * 24 * 3600
}

fn default_retain() -> u64 {
    7 * 24 * 3600
}

impl Keys {
    /// The rotation policy these settings describe.
    pub(crate) fn policy(&self) -> authgate::jose::RotationPolicy {
        let mut p = authgate::jose::RotationPolicy::default();
        p.algorithms = self
            .algorithms
            .iter()
            .filter_map(|a| authgate::jose::Algorithm::parse(a))
            .collect();
        p.signing_period = self.signing_period;
        p.publish_ahead = self.publish_ahead;
        p.retain = self.retain;
        p
    }

    /// What JWT access tokens are signed with: ES256 when listed, else the first
    /// algorithm listed.
    pub(crate) fn access_token_algorithm(&self) -> authgate::jose::Algorithm {
        let listed = self.policy().algorithms;
        if listed.contains(&authgate::jose::Algorithm::ES256) {
            authgate::jose::Algorithm::ES256
        } else {
            listed
                .first()
                .copied()
                .unwrap_or(authgate::jose::Algorithm::ES256)
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.algorithms.is_empty() {
            return Err("keys.algorithms: list at least one algorithm".into());
        }
        for a in &self.algorithms {
            if authgate::jose::Algorithm::parse(a).is_none() {
                return Err(format!(
                    "keys.algorithms: '{a}' is not one of RS256, PS256, ES256, ES384, EdDSA"
                ));
            }
        }
        if self.signing_period == 0 || self.retain == 0 {
            return Err("keys: signing_period and retain must be more than 0 seconds".into());
        }
        if self.publish_ahead >= self.signing_period {
            return Err("keys.publish_ahead: must be shorter than keys.signing_period".into());
        }
        if self.publish_ahead < JWKS_MAX_AGE {
            return Err(format!(
                "keys.publish_ahead: must be at least {JWKS_MAX_AGE} seconds, how long clients may cache /jwks"
            ));
        }
        Ok(())
    }
}

/// `uri` parsed, when the pages may show it (a client's logo and links): https, or http on
/// a loopback host.
pub(crate) fn displayable(uri: &str) -> Option<url::Url> {
    let url = url::Url::parse(uri).ok()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let fit = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    fit.then_some(url)
}

/// A client, with RFC 7591 metadata names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    /// A file holding `client_secret` (a mounted secret); not both.
    pub(crate) client_secret_file: Option<PathBuf>,
    pub(crate) client_name: Option<String>,
    /// The client's home page, shown on the consent page (RFC 7591 §2).
    pub(crate) client_uri: Option<String>,
    /// The client's logo, shown on the consent page (RFC 7591 §2).
    pub(crate) logo_uri: Option<String>,
    /// The client's privacy policy, linked from the consent page (RFC 7591 §2).
    pub(crate) policy_uri: Option<String>,
    /// The client's terms of service, linked from the consent page (RFC 7591 §2).
    pub(crate) tos_uri: Option<String>,
    #[serde(default)]
    pub(crate) redirect_uris: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub(crate) grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub(crate) response_types: Vec<String>,
    #[serde(default)]
    pub(crate) scope: String,
    pub(crate) token_endpoint_auth_method: Option<String>,
    /// OpenID Connect Registration §2: the ID token's signing algorithm (RS256 when
    /// unset); one of `keys.algorithms`.
    pub(crate) id_token_signed_response_alg: Option<String>,
    /// Signs UserInfo answers with this algorithm (plain JSON when unset).
    pub(crate) userinfo_signed_response_alg: Option<String>,
    /// `public` (default) or `pairwise`.
    pub(crate) subject_type: Option<String>,
    /// The sector of pairwise subjects, when the redirect URIs span several hosts.
    pub(crate) sector_identifier_uri: Option<String>,
    /// Where RP-initiated logout may return to (RP-Initiated Logout §3.1).
    #[serde(default)]
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout §2.2).
    pub(crate) backchannel_logout_uri: Option<String>,
    /// Whether the logout token must carry `sid`.
    #[serde(default)]
    pub(crate) backchannel_logout_session_required: bool,
    /// A first-party client: no consent page.
    #[serde(default)]
    pub(crate) skip_consent: bool,
    /// The `max_age` of requests that send none, in seconds.
    pub(crate) default_max_age: Option<u64>,
    /// `auth_time` is always in this client's ID tokens (as it is for every client here).
    #[serde(default)]
    pub(crate) require_auth_time: bool,
    /// Whether the client may call the introspection endpoint (RFC 7662 §4). Absent: any
    /// confidential client may; `false` refuses it; `true` on a public client is an error.
    pub(crate) may_introspect: Option<bool>,
    /// The client's public keys (a JWK Set), for `private_key_jwt`.
    pub(crate) jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys (https), for `private_key_jwt`.
    pub(crate) jwks_uri: Option<String>,
    /// The one algorithm of its client assertions (OpenID Connect Dynamic Registration
    /// §2), for `private_key_jwt` and `client_secret_jwt` (whose default is HS256).
    pub(crate) token_endpoint_auth_signing_alg: Option<String>,
}

/// The shortest `client_secret_jwt` secret the server takes: 256 random bits written in
/// base64url. Longer than RFC 7518's 32 bytes so that a password a person chose is less
/// likely to pass (RFC 8725 §3.5: never a human-memorable key for HMAC).
const MIN_HMAC_SECRET_CHARS: usize = 43;

impl ClientConfig {
    /// A `client_secret_jwt` secret: long enough to be generated (43 characters), and at
    /// least the hash output of its algorithm (RFC 7518 §3.2).
    fn check_hmac_secret(&self, at: &str) -> Result<(), String> {
        let secret = self.client_secret.as_deref().unwrap_or_default();
        if secret.chars().count() < MIN_HMAC_SECRET_CHARS {
            return Err(format!(
                "{at}.client_secret: a client_secret_jwt secret keys HMAC, so it must be generated, never chosen (RFC 8725 section 3.5), and at least {MIN_HMAC_SECRET_CHARS} characters: `openssl rand -base64 48` makes one"
            ));
        }
        let alg = self
            .token_endpoint_auth_signing_alg
            .as_deref()
            .unwrap_or("HS256");
        if authgate::client_assertion::hmac_secret_len(alg).is_some_and(|min| secret.len() < min) {
            return Err(format!(
                "{at}.client_secret: {alg} needs a secret of at least its hash output (RFC 7518 section 3.2)"
            ));
        }
        Ok(())
    }

    /// `token_endpoint_auth_signing_alg`: an HMAC algorithm for `client_secret_jwt`, an
    /// asymmetric one for `private_key_jwt`, absent otherwise.
    fn check_signing_alg(&self, at: &str) -> Result<(), String> {
        let Some(alg) = &self.token_endpoint_auth_signing_alg else {
            return Ok(());
        };
        let allowed: &[&str] = match self.token_endpoint_auth_method.as_deref() {
            Some("client_secret_jwt") => &authgate::client_assertion::HMAC_ALGORITHMS,
            Some("private_key_jwt") => &authgate::client_assertion::SIGNING_ALGORITHMS,
            _ => {
                return Err(format!(
                    "{at}.token_endpoint_auth_signing_alg: only for token_endpoint_auth_method = \"client_secret_jwt\" or \"private_key_jwt\""
                ))
            }
        };
        if !allowed.contains(&alg.as_str()) {
            return Err(format!(
                "{at}.token_endpoint_auth_signing_alg: '{alg}' is not one of {}",
                allowed.join(", ")
            ));
        }
        Ok(())
    }

    /// A `private_key_jwt` client: no secret, and exactly one of `jwks` (with a usable
    /// public key and no private member) and `jwks_uri` (https).
    fn check_keys(&self, at: &str) -> Result<(), String> {
        if self.client_secret.is_some() {
            return Err(format!(
                "{at}: a private_key_jwt client has keys, not a client_secret"
            ));
        }
        check_key_source(at, self.jwks.as_ref(), self.jwks_uri.as_deref()).map_err(|e| {
            if e.ends_with("needs jwks or jwks_uri") {
                format!(
                    "{at}: token_endpoint_auth_method = \"private_key_jwt\" needs jwks or jwks_uri"
                )
            } else {
                e
            }
        })
    }

    /// The pages' URIs (`client_uri`, `logo_uri`, `policy_uri`, `tos_uri`): https, or http
    /// on a loopback host, as the consent page shows no other.
    fn check_display_uris(&self, at: &str) -> Result<(), String> {
        for (key, uri) in self.display_uris() {
            let Some(uri) = uri else { continue };
            if displayable(uri).is_none() {
                return Err(format!(
                    "{at}.{key}: '{uri}' must be an https URL (http only on 127.0.0.1, [::1] or localhost)"
                ));
            }
        }
        Ok(())
    }

    /// The URIs the consent page shows, by their RFC 7591 names.
    pub(crate) fn display_uris(&self) -> [(&'static str, Option<&String>); 4] {
        [
            ("client_uri", self.client_uri.as_ref()),
            ("logo_uri", self.logo_uri.as_ref()),
            ("policy_uri", self.policy_uri.as_ref()),
            ("tos_uri", self.tos_uri.as_ref()),
        ]
    }

    /// The OpenID Connect metadata: algorithms the keys can sign with, a subject type the
    /// server knows (and, for pairwise, one sector), URIs that are absolute without a
    /// fragment, and response types the client's grant types allow.
    fn check_openid(&self, at: &str, algorithms: &[String]) -> Result<(), String> {
        for (key, alg) in [
            (
                "id_token_signed_response_alg",
                &self.id_token_signed_response_alg,
            ),
            (
                "userinfo_signed_response_alg",
                &self.userinfo_signed_response_alg,
            ),
        ] {
            if let Some(a) = alg {
                if !algorithms.contains(a) {
                    return Err(format!(
                        "{at}.{key}: '{a}' is not one of keys.algorithms ({})",
                        algorithms.join(", ")
                    ));
                }
            }
        }
        if self.id_token_signed_response_alg.is_none() && !algorithms.iter().any(|a| a == "RS256") {
            return Err(format!(
                "{at}: ID tokens default to RS256, which keys.algorithms lacks; set id_token_signed_response_alg"
            ));
        }
        match self.subject_type.as_deref() {
            None | Some("public") => {}
            Some("pairwise") => {
                let mut record = authgate::ClientRecord::public(self.client_id.clone())
                    .redirect_uris(self.redirect_uris.clone());
                if let Some(u) = &self.sector_identifier_uri {
                    record = record.with_metadata("sector_identifier_uri", u.clone());
                }
                authgate::oidc::sector_of(&record).map_err(|e| {
                    format!(
                        "{at}.subject_type: {}",
                        e.error_description().unwrap_or("no sector")
                    )
                })?;
            }
            Some(other) => {
                return Err(format!(
                    "{at}.subject_type: '{other}' is not public or pairwise"
                ))
            }
        }
        let uris = self
            .post_logout_redirect_uris
            .iter()
            .map(|u| ("post_logout_redirect_uris", u))
            .chain(
                self.backchannel_logout_uri
                    .iter()
                    .map(|u| ("backchannel_logout_uri", u)),
            )
            .chain(
                self.sector_identifier_uri
                    .iter()
                    .map(|u| ("sector_identifier_uri", u)),
            );
        for (key, uri) in uris {
            if !authgate::is_valid_redirect_uri(uri) {
                return Err(format!(
                    "{at}.{key}: '{uri}' must be an absolute URI without a fragment"
                ));
            }
        }
        if let Some(u) = &self.backchannel_logout_uri {
            let scheme = url::Url::parse(u)
                .map(|u| u.scheme().to_owned())
                .unwrap_or_default();
            // Back-Channel Logout §2.2: https, or http for a confidential client.
            if scheme != "https" && !(scheme == "http" && self.client_secret.is_some()) {
                return Err(format!(
                    "{at}.backchannel_logout_uri: '{u}' must be https (http only for a confidential client)"
                ));
            }
        }
        if self.default_max_age == Some(0) {
            return Err(format!("{at}.default_max_age: 0 would ask for a login every time; leave it out or use prompt=login"));
        }
        // The OpenID Connect response types (plain `code` and `token` were accepted before
        // and are checked by the engine at request time).
        for rt in self
            .response_types
            .iter()
            .filter(|r| r.contains(' ') || r.as_str() == "id_token")
        {
            let Some(parsed) = authgate::ResponseType::parse(rt) else {
                continue; // unknown ones are warned about at start
            };
            let needs = if parsed.contains("code") {
                "authorization_code"
            } else {
                "implicit"
            };
            if RESPONSE_TYPES.contains(&rt.as_str()) && !self.grant_types.iter().any(|g| g == needs)
            {
                return Err(format!(
                    "{at}.response_types: '{rt}' needs grant_types to list {needs}"
                ));
            }
        }
        Ok(())
    }
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}

fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}

/// A user: login name, password, subject, and the standard claims of OpenID Connect Core
/// §5.1 (each optional).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    #[serde(skip_serializing)]
    pub(crate) username: String,
    #[serde(skip_serializing)]
    pub(crate) password: String,
    /// The stable subject identifier; defaults to the username.
    #[serde(skip_serializing)]
    pub(crate) subject: Option<String>,
    #[serde(flatten)]
    pub(crate) claims: StandardClaims,
}

/// The standard claims a user may have (OpenID Connect Core §5.1), as the config file and
/// `authgate user add` spell them.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub(crate) struct StandardClaims {
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) given_name: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) family_name: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) middle_name: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nickname: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preferred_username: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) picture: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) website: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email_verified: Option<bool>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gender: Option<String>,
    /// YYYY, or YYYY-MM-DD (0000 for an unknown year).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) birthdate: Option<String>,
    /// A zoneinfo time zone, e.g. Europe/Paris.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) zoneinfo: Option<String>,
    /// A BCP47 language tag, e.g. en-US.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) locale: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone_number: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone_number_verified: Option<bool>,
    #[command(flatten)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) address: Option<Address>,
    /// Seconds since the epoch of the last change of the user's claims.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) updated_at: Option<i64>,
}

/// The `address` claim (OpenID Connect Core §5.1.1).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub(crate) struct Address {
    #[arg(long = "address-formatted")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) formatted: Option<String>,
    #[arg(long = "address-street")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) street_address: Option<String>,
    #[arg(long = "address-locality")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) locality: Option<String>,
    #[arg(long = "address-region")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<String>,
    #[arg(long = "address-postal-code")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) postal_code: Option<String>,
    #[arg(long = "address-country")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) country: Option<String>,
}

impl StandardClaims {
    /// The claims as the JSON object the user store keeps (claims without a value left
    /// out; an address without any part left out).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}));
        if v.get("address")
            .is_some_and(|a| a.as_object().is_some_and(serde_json::Map::is_empty))
        {
            if let Some(o) = v.as_object_mut() {
                o.remove("address");
            }
        }
        v
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(b) = &self.birthdate {
            let ok = (b.len() == 4 || (b.len() == 10 && &b[4..5] == "-" && &b[7..8] == "-"))
                && b.bytes()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_digit() || i == 4 || i == 7);
            if !ok {
                return Err(format!("birthdate: '{b}' is not YYYY or YYYY-MM-DD"));
            }
        }
        for (name, uri) in [
            ("profile", &self.profile),
            ("picture", &self.picture),
            ("website", &self.website),
        ] {
            if let Some(u) = uri {
                if url::Url::parse(u).is_err() {
                    return Err(format!("{name}: '{u}' is not a URL"));
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// Reads and checks a config file.
    ///
    /// # Errors
    /// One line naming the file and the problem (the key, for unknown or bad keys).
    /// The file's values, each overridden by an `AUTHGATE_` variable naming its key (see
    /// [`env_key`]), then `*_file` secrets read and everything checked.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        // The file alone first, so that its mistakes are told with their line.
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            match e.span().map(|s| line_of(&text, s.start)) {
                Some(line) => format!("config {} line {line}: {msg}", path.display()),
                None => format!("config {}: {msg}", path.display()),
            }
        })?;
        for var in stray_variables() {
            tracing::warn!(variable = %var, "an AUTHGATE_ variable that is neither a config key nor one of the server's own is ignored: a misspelling?");
        }
        if std::env::vars_os().any(|(k, _)| k.to_str().and_then(env_key).is_some()) {
            config = with_overrides(&text).map_err(|e| {
                format!(
                    "config {} with the environment's overrides: {e}",
                    path.display()
                )
            })?;
        }
        // Relative paths in the file are relative to the file.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        config
            .read_secret_files(&dir)
            .map_err(|e| format!("config {}: {e}", path.display()))?;
        config
            .check()
            .map_err(|e| format!("config {}: {e}", path.display()))?;
        let dir = dir.as_path();
        if config.database_url.is_none() {
            config.database_url = Some(format!("sqlite://{}", dir.join("authgate.db").display()));
        }
        let kek = config
            .keys
            .encryption_key_file
            .take()
            .unwrap_or_else(|| PathBuf::from("authgate.kek"));
        config.keys.encryption_key_file = Some(dir.join(kek));
        if let Some(t) = config.templates_dir.take() {
            config.templates_dir = Some(dir.join(t));
        }
        Ok(config)
    }

    /// Reads the `*_file` secrets (paths relative to the config file's folder): each file's
    /// text, without a trailing newline, becomes the key's value. A key and its `_file`
    /// together are an error, as is an empty file.
    fn read_secret_files(&mut self, dir: &Path) -> Result<(), String> {
        fn read(
            dir: &Path,
            key: &str,
            value: &mut Option<String>,
            file: &mut Option<PathBuf>,
        ) -> Result<(), String> {
            let Some(f) = file.take() else {
                return Ok(());
            };
            if value.is_some() {
                return Err(format!("{key}: set {key} or {key}_file, not both"));
            }
            let path = dir.join(f);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{key}_file: cannot read {}: {e}", path.display()))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.is_empty() {
                return Err(format!("{key}_file: {} is empty", path.display()));
            }
            *value = Some(text.to_owned());
            Ok(())
        }
        read(
            dir,
            "database_url",
            &mut self.database_url,
            &mut self.database_url_file,
        )?;
        read(
            dir,
            "registration.initial_access_token",
            &mut self.registration.initial_access_token,
            &mut self.registration.initial_access_token_file,
        )?;
        for (i, c) in self.clients.iter_mut().enumerate() {
            let key = format!("clients[{i}] ({}).client_secret", c.client_id);
            read(dir, &key, &mut c.client_secret, &mut c.client_secret_file)?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| format!("issuer: '{}' is not a URL ({e})", self.issuer))?;
        if !matches!(issuer.scheme(), "http" | "https")
            || issuer.query().is_some()
            || issuer.fragment().is_some()
        {
            return Err(format!(
                "issuer: '{}' must be an http(s) URL without query or fragment (RFC 8414 section 2)",
                self.issuer
            ));
        }
        self.bind.parse::<std::net::SocketAddr>().map_err(|_| {
            format!(
                "bind: '{}' is not an address like 127.0.0.1:8080",
                self.bind
            )
        })?;
        if let Some(admin) = &self.admin {
            let addr = admin.bind.parse::<std::net::SocketAddr>().map_err(|_| {
                format!(
                    "admin.bind: '{}' is not an address like 127.0.0.1:9090",
                    admin.bind
                )
            })?;
            if self.bind.parse::<std::net::SocketAddr>().ok() == Some(addr) {
                return Err(format!(
                    "admin.bind: '{}' is the public bind too; the admin listener needs an address of its own",
                    admin.bind
                ));
            }
        }
        if let Some(url) = &self.database_url {
            let ok = url == "memory:"
                || url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://");
            if !ok {
                let shown = url
                    .split_once("://")
                    .map_or(url.as_str(), |(scheme, _)| scheme);
                return Err(format!(
                    "database_url: '{shown}://...' is not supported; use sqlite://PATH, postgres://... or memory:"
                ));
            }
        }
        self.keys.check()?;
        self.registration.check()?;
        for (name, description) in &self.scope_descriptions {
            let one_scope = authgate::Scope::parse(name).is_ok_and(|s| s.iter().count() == 1);
            if !one_scope {
                return Err(format!(
                    "scope_descriptions: '{}' is not a scope name (RFC 6749 section 3.3: no spaces, quotes or backslashes)",
                    name.escape_debug()
                ));
            }
            if description.trim().is_empty()
                || description.chars().count() > 200
                || description.chars().any(char::is_control)
            {
                return Err(format!(
                    "scope_descriptions.{name}: a description is one line of 1 to 200 characters"
                ));
            }
        }
        for o in &self.cors_origins {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http")
                    && u.origin().ascii_serialization() == o.trim_end_matches('/')
            });
            if !ok {
                return Err(format!(
                    "cors_origins: '{o}' is not an origin like https://app.example (scheme, host, port; no path)"
                ));
            }
        }
        for p in &self.trusted_proxies {
            crate::proxies::Cidr::parse(p).ok_or_else(|| {
                format!(
                    "trusted_proxies: '{p}' is not an IP address or a CIDR block like 10.0.0.0/8"
                )
            })?;
        }
        let longest = self
            .tokens
            .expires_in
            .values()
            .copied()
            .chain([self.tokens.access_token_ttl])
            .chain(self.resources.iter().filter_map(|r| r.access_token_ttl))
            .max()
            .unwrap_or(0);
        if self.keys.retain < longest {
            return Err(format!(
                "keys.retain: {} seconds is shorter than the longest token lifetime ({longest} s); a signed token must not outlive its key",
                self.keys.retain
            ));
        }
        if self.tokens.refresh_grace_seconds > MAX_REFRESH_GRACE_SECONDS {
            return Err(format!(
                "tokens.refresh_grace_seconds: {} is longer than {MAX_REFRESH_GRACE_SECONDS} seconds; within the window a stolen rotated-out refresh token still works, so keep it to seconds",
                self.tokens.refresh_grace_seconds
            ));
        }
        if self.tokens.cache_size > MAX_CACHE_SIZE {
            return Err(format!(
                "tokens.cache_size: {} is more than {MAX_CACHE_SIZE} tokens (about 300 bytes each)",
                self.tokens.cache_size
            ));
        }
        parse_format(
            &self.tokens.access_token_format,
            "tokens.access_token_format",
        )?;
        let mut issuers = std::collections::HashSet::new();
        for (i, t) in self.trusted_issuers.iter().enumerate() {
            t.check(i)?;
            if t.issuer.trim_end_matches('/') == self.issuer.trim_end_matches('/') {
                return Err(format!(
                    "trusted_issuers[{i}]: '{}' is this server itself; its own tokens are no assertions",
                    t.issuer
                ));
            }
            if !issuers.insert(&t.issuer) {
                return Err(format!("trusted_issuers: '{}' is listed twice", t.issuer));
            }
        }
        let mut identifiers = std::collections::HashSet::new();
        for r in &self.resources {
            r.registered()?;
            if !identifiers.insert(&r.identifier) {
                return Err(format!(
                    "resources: identifier '{}' is listed twice",
                    r.identifier
                ));
            }
        }
        for grant in self.tokens.expires_in.keys() {
            if !GRANT_TYPES.contains(&grant.as_str()) {
                return Err(format!(
                    "tokens.expires_in.{grant}: not a grant type this server supports ({})",
                    GRANT_TYPES.join(", ")
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = format!("clients[{i}] ({})", c.client_id);
            if c.client_id.is_empty() {
                return Err(format!("clients[{i}].client_id: must not be empty"));
            }
            if c.may_introspect == Some(true)
                && c.client_secret.is_none()
                && c.token_endpoint_auth_method.as_deref() != Some("private_key_jwt")
            {
                return Err(format!(
                    "clients[{i}] ({}).may_introspect: a public client cannot introspect (it cannot authenticate)",
                    c.client_id
                ));
            }
            if c.client_secret.as_deref() == Some("") {
                return Err(format!(
                    "clients[{i}] ({}).client_secret: must not be empty (leave it out for a public client)",
                    c.client_id
                ));
            }
            if !seen.insert(&c.client_id) {
                return Err(format!("{at}: client_id is listed twice"));
            }
            for uri in &c.redirect_uris {
                if !authgate::is_valid_redirect_uri(uri) {
                    return Err(format!(
                        "{at}.redirect_uris: '{uri}' must be an absolute URI without a fragment"
                    ));
                }
            }
            if let Some(m) = &c.token_endpoint_auth_method {
                let parsed = authgate::ClientAuthMethod::parse(m).ok_or_else(|| {
                    format!("{at}.token_endpoint_auth_method: '{m}' is not one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none")
                })?;
                let public = parsed == authgate::ClientAuthMethod::None;
                if parsed == authgate::ClientAuthMethod::PrivateKeyJwt {
                    c.check_keys(&at)?;
                } else if public && c.client_secret.is_some() {
                    return Err(format!("{at}: a client with token_endpoint_auth_method = \"none\" has no client_secret"));
                } else if !public && c.client_secret.is_none() {
                    return Err(format!(
                        "{at}: token_endpoint_auth_method = \"{m}\" needs a client_secret"
                    ));
                } else if parsed == authgate::ClientAuthMethod::ClientSecretJwt {
                    c.check_hmac_secret(&at)?;
                }
            }
            let private_key_jwt =
                c.token_endpoint_auth_method.as_deref() == Some("private_key_jwt");
            if !private_key_jwt && (c.jwks.is_some() || c.jwks_uri.is_some()) {
                return Err(format!(
                    "{at}: jwks and jwks_uri are for token_endpoint_auth_method = \"private_key_jwt\""
                ));
            }
            c.check_signing_alg(&at)?;
            c.check_openid(&at, &self.keys.algorithms)?;
            c.check_display_uris(&at)?;
            authgate::Scope::parse(&c.scope).map_err(|_| {
                format!(
                    "{at}.scope: '{}' holds a character RFC 6749 section 3.3 forbids",
                    c.scope
                )
            })?;
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.username.is_empty() || u.password.is_empty() {
                return Err(format!(
                    "users[{i}]: username and password must not be empty"
                ));
            }
            u.claims
                .check()
                .map_err(|e| format!("users[{i}] ({}).{e}", u.username))?;
            // A client's own tokens name it as their `sub` (RFC 9068 §2.2), so a client id
            // equal to a user's subject would let its tokens pass for that user's (§5).
            let subject = u.subject.as_deref().unwrap_or(&u.username);
            if self.clients.iter().any(|c| c.client_id == subject) {
                return Err(format!(
                    "users[{i}] ({}): its subject '{subject}' is also a client_id; a client's tokens would pass for this user's (RFC 9068 section 5)",
                    u.username
                ));
            }
        }
        Ok(())
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_variables_name_keys_by_path() {
        assert_eq!(env_key("AUTHGATE_BIND").as_deref(), Some("bind"));
        assert_eq!(
            env_key("AUTHGATE_TOKENS__ACCESS_TOKEN_TTL").as_deref(),
            Some("tokens.access_token_ttl")
        );
        assert_eq!(
            env_key("AUTHGATE_ADMIN__BIND").as_deref(),
            Some("admin.bind")
        );
        // The server's own variables, and anything without the prefix, are no keys.
        for var in SERVER_VARIABLES
            .into_iter()
            .chain(["AUTHGATE_TEST_X", "BIND", "authgate_bind"])
        {
            assert_eq!(env_key(var), None, "{var}");
        }
    }

    #[test]
    fn every_top_level_key_an_environment_variable_may_set_is_a_config_key() {
        // A stale or misspelt name in TOP_LEVEL_KEYS would be taken from the environment
        // and then refused as an unknown field: each must parse as a key of the file.
        for key in TOP_LEVEL_KEYS {
            let value = match key {
                "trusted_proxies" | "cors_origins" => "[]",
                _ => "\"x\"",
            };
            let body = format!("issuer = \"http://a\"\nbind = \"127.0.0.1:1\"\n{key} = {value}\n");
            // `issuer` and `bind` are in every file already.
            let body = if key == "issuer" || key == "bind" {
                "issuer = \"http://a\"\nbind = \"127.0.0.1:1\"\n".to_owned()
            } else {
                body
            };
            let parsed = toml::from_str::<Config>(&body);
            assert!(parsed.is_ok(), "{key}: {:?}", parsed.err());
        }
    }

    fn user(body: &str) -> Result<UserConfig, String> {
        toml::from_str::<UserConfig>(body).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn users_take_the_standard_claims_and_nothing_else() {
        let u = user(
            r#"
username = "alice"
password = "pw"
email = "alice@example.com"
email_verified = true
updated_at = 1700000000
address = { locality = "Oxford", country = "UK" }
"#,
        )
        .unwrap();
        assert_eq!(
            u.claims.to_json(),
            serde_json::json!({
                "email": "alice@example.com",
                "email_verified": true,
                "updated_at": 1_700_000_000,
                "address": { "locality": "Oxford", "country": "UK" }
            })
        );
        let e = user("username = \"a\"\npassword = \"p\"\nshoe_size = 9\n").unwrap_err();
        assert!(e.contains("shoe_size"), "{e}");
        let e = user("username = \"a\"\npassword = \"p\"\naddress = { planet = \"Mars\" }\n")
            .unwrap_err();
        assert!(e.contains("planet"), "{e}");
    }
}
