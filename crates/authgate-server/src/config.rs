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
];
pub(crate) const RESPONSE_TYPES: &[&str] = &["code", "token"];

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
    /// A folder whose `*.html` files replace the built-in page templates.
    pub(crate) templates_dir: Option<PathBuf>,
    #[serde(default)]
    pub(crate) tokens: Tokens,
    #[serde(default)]
    pub(crate) keys: Keys,
    #[serde(default)]
    pub(crate) clients: Vec<ClientConfig>,
    #[serde(default)]
    pub(crate) users: Vec<UserConfig>,
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
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            refresh_tokens: false,
            access_token_ttl: default_ttl(),
            expires_in: BTreeMap::new(),
        }
    }
}

fn default_ttl() -> u64 {
    3600
}

/// The signing keys: where the key that seals them at rest is, and how they rotate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keys {
    /// A file holding the 32-byte key encryption key (base64); absent: `authgate.kek`
    /// beside the config file. Created on first start when missing. Every server on one
    /// database needs the same file.
    pub(crate) encryption_key_file: Option<PathBuf>,
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

/// A client, with RFC 7591 metadata names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) client_name: Option<String>,
    #[serde(default)]
    pub(crate) redirect_uris: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub(crate) grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub(crate) response_types: Vec<String>,
    #[serde(default)]
    pub(crate) scope: String,
    pub(crate) token_endpoint_auth_method: Option<String>,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}

fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}

/// A user; `email` and `name` are optional claims.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) username: String,
    pub(crate) password: String,
    /// The stable subject identifier; defaults to the username.
    pub(crate) subject: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
}

impl Config {
    /// Reads and checks a config file.
    ///
    /// # Errors
    /// One line naming the file and the problem (the key, for unknown or bad keys).
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            match e.span().map(|s| line_of(&text, s.start)) {
                Some(line) => format!("config {} line {line}: {msg}", path.display()),
                None => format!("config {}: {msg}", path.display()),
            }
        })?;
        config
            .check()
            .map_err(|e| format!("config {}: {e}", path.display()))?;
        // Relative paths in the file are relative to the file.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
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
        let longest = self
            .tokens
            .expires_in
            .values()
            .copied()
            .chain([self.tokens.access_token_ttl])
            .max()
            .unwrap_or(0);
        if self.keys.retain < longest {
            return Err(format!(
                "keys.retain: {} seconds is shorter than the longest token lifetime ({longest} s); a signed token must not outlive its key",
                self.keys.retain
            ));
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
                    format!("{at}.token_endpoint_auth_method: '{m}' is not one of client_secret_basic, client_secret_post, none")
                })?;
                let public = parsed == authgate::ClientAuthMethod::None;
                if public && c.client_secret.is_some() {
                    return Err(format!("{at}: a client with token_endpoint_auth_method = \"none\" has no client_secret"));
                }
                if !public && c.client_secret.is_none() {
                    return Err(format!(
                        "{at}: token_endpoint_auth_method = \"{m}\" needs a client_secret"
                    ));
                }
            }
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
