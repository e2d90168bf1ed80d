//! Local validation of JWT access tokens (RFC 9068 §4), for an API that checks tokens
//! itself with its authorization server's published keys, without asking the server:
//! [`JwtValidator`], a [`BearerValidator`] for [`ResourceProtector`].
//!
//! A token is accepted when:
//! - its `typ` header is `at+jwt` (or `application/at+jwt`), so an ID token or another
//!   JWT signed by the same keys is never taken for an access token;
//! - its algorithm is one of the pinned ones (asymmetric only: never `none`, never HMAC)
//!   and a key of the authorization server's set, of the type that algorithm needs,
//!   verifies it (RFC 8725 §3.1);
//! - `iss` is the expected issuer, and `aud` names this resource;
//! - `exp` is present and not passed, and `nbf`/`iat` not in the future, within the
//!   leeway;
//! - `scope`, if present, is a valid scope (what [`ScopeRequirement`](crate::ScopeRequirement) then checks).
//!
//! Keys come from a fixed set, or from the server's `jwks_uri` through the application's
//! [`DocumentFetcher`]: cached, and fetched again when a token names an unknown `kid` (a
//! rotation), at most once per [`JwtValidator::refetch_after`].
//!
//! **Revocation is not seen:** a revoked token stays valid here until it expires (RFC 9068
//! §5 leaves this trade to the resource). Keep such tokens short-lived, or introspect where
//! revocation must count at once.
//!
//! ```no_run
//! # async fn run(fetcher: impl authgate::client::metadata_document::DocumentFetcher) {
//! use authgate::resource::jwt::JwtValidator;
//! use authgate::ScopeRequirement;
//! let protector = JwtValidator::with_jwks_uri(
//!     "https://auth.example.com",
//!     "https://api.example.com/",
//!     "https://auth.example.com/jwks",
//!     fetcher,
//! )
//! .protector();
//! # let (request, ()) = http::Request::get("/").body(()).unwrap().into_parts();
//! let token = protector.validate(&request, &ScopeRequirement::all_of("read")).await;
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{BearerValidator, ExpectedAudience, ResourceProtector, TokenLookup};
use crate::client::metadata_document::DocumentFetcher;
use crate::clock::{Clock, SystemClock};
use crate::error::StorageError;
use crate::jose::remote::{pick, JwksCache};
use crate::jose::{backend, Algorithm};
use crate::scope::Scope;
use crate::storage::{GrantDetails, TokenKind, TokenRecord};
use crate::token::{SecretHash, Selector, TokenKey};

/// Checks JWT access tokens locally; see the module docs.
pub struct JwtValidator {
    issuer: String,
    audience: String,
    keys: Keys,
    algorithms: Vec<Algorithm>,
    leeway: i64,
    clock: Arc<dyn Clock>,
}

enum Keys {
    Fixed(Value),
    Remote {
        url: String,
        cache: JwksCache,
        fetcher: Arc<dyn DocumentFetcher>,
    },
}

impl JwtValidator {
    /// A validator of tokens from `issuer` for the resource `audience`, with a fixed key
    /// set (a JWK Set, as the server's `/jwks` serves it).
    pub fn with_keys(issuer: impl Into<String>, audience: impl Into<String>, jwks: Value) -> Self {
        Self::build(issuer.into(), audience.into(), Keys::Fixed(jwks))
    }

    /// A validator of tokens from `issuer` for the resource `audience`, with the key set
    /// at `jwks_uri`, fetched by `fetcher` (which must bound time and size).
    pub fn with_jwks_uri(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_uri: impl Into<String>,
        fetcher: impl DocumentFetcher,
    ) -> Self {
        let fetcher: Arc<dyn DocumentFetcher> = Arc::new(fetcher);
        let keys = Keys::Remote {
            url: jwks_uri.into(),
            cache: JwksCache::new(fetcher.clone(), 60),
            fetcher,
        };
        Self::build(issuer.into(), audience.into(), keys)
    }

    fn build(issuer: String, audience: String, keys: Keys) -> Self {
        Self {
            issuer,
            audience,
            keys,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: 30,
            clock: Arc::new(SystemClock),
        }
    }

    /// Accepts only these algorithms (all of RS256, PS256, ES256, ES384 and EdDSA by
    /// default).
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 30).
    #[must_use]
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = i64::try_from(secs).unwrap_or(i64::MAX);
        self
    }

    /// The shortest time between two fetches of the key set for an unknown `kid`, in
    /// seconds (default 60).
    #[must_use]
    pub fn refetch_after(mut self, secs: u64) -> Self {
        if let Keys::Remote { cache, fetcher, .. } = &mut self.keys {
            *cache = JwksCache::new(fetcher.clone(), secs);
        }
        self
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A [`ResourceProtector`] over this validator, taking only tokens whose `aud` names
    /// this resource, on the same clock.
    pub fn protector(self) -> ResourceProtector {
        let audience = ExpectedAudience::Resource(self.audience.clone());
        let clock = self.clock.clone();
        ResourceProtector::new(self)
            .audience(audience)
            .with_clock(clock)
    }

    /// Checks `token` and answers what it says, or why it is refused. `exp` is checked
    /// too, with the leeway.
    ///
    /// # Errors
    /// A short reason, never echoing the token.
    pub async fn validate(&self, token: &str) -> Result<TokenRecord, &'static str> {
        let record = self.check(token).await.map_err(|r| match r {
            Refusal::Invalid(why) => why,
            Refusal::Unavailable(_) => "the issuer's keys cannot be fetched",
        })?;
        if self.clock.now() >= record.expires_at.saturating_add(self.leeway) {
            return Err("the access token expired");
        }
        Ok(record)
    }

    /// Everything but `exp`, which [`BearerValidator::token_expired`] tells apart.
    async fn check(&self, token: &str) -> Result<TokenRecord, Refusal> {
        if token.len() > crate::jwt_access_token::MAX_LEN {
            return Err(Refusal::Invalid("the access token is too large"));
        }
        let (kid, alg, typ) = backend::header(token).map_err(|_| "not a JWS")?;
        let typ_ok = typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(Refusal::Invalid(
                "not a JWT access token (typ at+jwt, RFC 9068 section 4)",
            ));
        }
        let alg = Algorithm::parse(&alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or("an algorithm this resource does not accept")?;
        let now = self.clock.now();
        let key = match &self.keys {
            Keys::Fixed(jwks) => pick(jwks, kid.as_deref(), alg),
            Keys::Remote { url, cache, .. } => cache
                .key(url, kid.as_deref(), alg, now)
                .await
                .map_err(|u| Refusal::Unavailable(u.0))?,
        }
        .ok_or("no key of the issuer verifies this token")?;
        let claims =
            backend::verify(token, &key, alg).map_err(|_| "the signature does not verify")?;
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(Refusal::Invalid("another issuer's token"));
        }
        let audience: Vec<String> = match &claims["aud"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(all) => all
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if !audience.contains(&self.audience) {
            return Err(Refusal::Invalid("a token for another resource"));
        }
        // A sender-constrained token (RFC 9449, RFC 8705) needs its proof checked, which
        // this validator does not do: refused rather than taken as a plain bearer token.
        if claims.get("cnf").is_some() {
            return Err(Refusal::Invalid(
                "a sender-constrained token (cnf), whose proof this resource does not check",
            ));
        }
        let exp = claims["exp"].as_i64().ok_or("no exp")?;
        let time = |name: &str| match &claims[name] {
            Value::Null => Ok(None),
            v => v.as_i64().map(Some).ok_or("a malformed time claim"),
        };
        let iat = time("iat")?;
        for t in [iat, time("nbf")?].into_iter().flatten() {
            if t > now.saturating_add(self.leeway) {
                return Err(Refusal::Invalid("a token not valid yet"));
            }
        }
        let scope = match claims["scope"].as_str() {
            Some(s) => Scope::parse(s).map_err(|_| "a malformed scope")?,
            None => Scope::empty(),
        };
        let client_id = claims["client_id"].as_str().unwrap_or_default();
        let hash = SecretHash::of(token.as_bytes());
        let selector = claims["jti"]
            .as_str()
            .and_then(Selector::from_base64)
            .unwrap_or_else(|| {
                let mut s = [0u8; 16];
                s.copy_from_slice(&hash.0[..16]);
                Selector(s)
            });
        let key = TokenKey {
            selector,
            verifier_hash: hash,
        };
        let mut r = TokenRecord::new(key, TokenKind::Access, client_id, "", iat.unwrap_or(0), exp);
        r.scope = scope;
        // RFC 9068 §2.2: a token without a user names its client as `sub`.
        r.subject = claims["sub"]
            .as_str()
            .filter(|s| *s != client_id)
            .map(str::to_owned);
        let mut details = GrantDetails {
            audience,
            auth_time: claims["auth_time"].as_i64(),
            acr: claims["acr"].as_str().map(str::to_owned),
            ..GrantDetails::default()
        };
        if let Some(amr) = claims["amr"].as_array() {
            details.amr = amr
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
        }
        r.set_details(details);
        Ok(r)
    }
}

#[async_trait]
impl BearerValidator for JwtValidator {
    async fn authenticate_token(
        &self,
        token: &str,
        _lookup: Option<&TokenLookup>,
    ) -> Result<Option<TokenRecord>, StorageError> {
        match self.check(token).await {
            Ok(record) => Ok(Some(record)),
            Err(Refusal::Invalid(_)) => Ok(None),
            // Keys that cannot be fetched are an outage (503), not a bad token.
            Err(Refusal::Unavailable(why)) => Err(StorageError::Unavailable(why.into())),
        }
    }

    fn token_expired(&self, token: &TokenRecord, now: i64) -> bool {
        now >= token.expires_at.saturating_add(self.leeway)
    }
}

/// Why a token is not taken.
enum Refusal {
    /// The token is not acceptable.
    Invalid(&'static str),
    /// The issuer's keys cannot be had.
    Unavailable(String),
}

impl From<&'static str> for Refusal {
    fn from(why: &'static str) -> Self {
        Self::Invalid(why)
    }
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}
