//! An RFC 7662 introspection client, for an API that accepts opaque tokens (or wants
//! revocations to count at once) and asks its authorization server about each:
//! [`IntrospectionValidator`], a [`BearerValidator`] for [`ResourceProtector`].
//!
//! - The API authenticates to the introspection endpoint as a client of the server (HTTP
//!   Basic, RFC 7662 §2.1), through the application's [`IntrospectionTransport`] (its HTTP
//!   client, which bounds time and size).
//! - An active access token becomes a [`TokenRecord`]: `client_id`, `sub`, `scope`, `exp`,
//!   `iat` and `aud`, so scope and audience checks work as for the server's own tokens. Not
//!   taken: an answer with no `exp` (its lifetime would be unknown), one whose
//!   `token_type` is not `Bearer` (a refresh token presented as a Bearer token), and a
//!   sender-constrained token (`cnf`), whose proof this client does not check.
//! - Answers are cached by a hash of the token (the token itself is not kept): an active
//!   one until its `exp` and at most [`IntrospectionValidator::cache_for`] (60 s by
//!   default; 0 turns the cache off), so a revocation takes at most that long to reach the
//!   API; an inactive one for one second at most (RFC 7662 §4 warns against caching them
//!   longer). At most 10,000 answers are kept.
//! - The server names a token issued for no resource by its default audience (its
//!   issuer): an API behind this validator sets [`ExpectedAudience::Resource`] with its
//!   own identifier, and takes only tokens aimed at it.
//! - The server unreachable, or answering anything but 200 with JSON: the request is
//!   answered 503 (a storage failure), never taken as a valid or an invalid token.
//!
//! ```no_run
//! # async fn run(transport: impl authgate::resource::introspection::IntrospectionTransport) {
//! use authgate::resource::introspection::IntrospectionValidator;
//! use authgate::{ExpectedAudience, ResourceProtector};
//! let validator = IntrospectionValidator::new(
//!     "https://auth.example.com/introspect",
//!     "orders-api",
//!     "its-secret",
//!     transport,
//! );
//! let protector = ResourceProtector::new(validator)
//!     .audience(ExpectedAudience::Resource("https://orders.example.com/".into()));
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::{BearerValidator, TokenLookup};
#[cfg(doc)]
use super::{ExpectedAudience, ResourceProtector};
use crate::clock::{Clock, SystemClock};
use crate::error::StorageError;
use crate::scope::Scope;
use crate::storage::{GrantDetails, TokenKind, TokenRecord};
use crate::token::{SecretHash, Selector, TokenKey};

/// How the API reaches the introspection endpoint: the application's HTTP client.
#[async_trait]
pub trait IntrospectionTransport: Send + Sync + 'static {
    /// POSTs `body` (`application/x-www-form-urlencoded`) to `url` with the
    /// `Authorization` header `authorization` and `Accept: application/json`; answers the
    /// status and the body, or why the request failed.
    async fn post_form(
        &self,
        url: &str,
        authorization: &str,
        body: String,
    ) -> Result<(u16, Vec<u8>), String>;
}

/// Validates tokens by asking the authorization server; see the module docs.
pub struct IntrospectionValidator {
    endpoint: String,
    authorization: String,
    transport: Arc<dyn IntrospectionTransport>,
    cache_for: i64,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

struct Cached {
    record: Option<TokenRecord>,
    until: i64,
}

/// The most answers cached.
const MAX_CACHED: usize = 10_000;
/// How long an inactive answer is kept, at most.
const NEGATIVE_CACHE: i64 = 1;

impl IntrospectionValidator {
    /// A validator asking `endpoint`, authenticated as `client_id` with `client_secret`
    /// (HTTP Basic, form-urlencoded first as RFC 6749 §2.3.1 asks).
    pub fn new(
        endpoint: impl Into<String>,
        client_id: &str,
        client_secret: &str,
        transport: impl IntrospectionTransport,
    ) -> Self {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!("{}:{}", enc(client_id), enc(client_secret)));
        Self {
            endpoint: endpoint.into(),
            authorization: format!("Basic {basic}"),
            transport: Arc::new(transport),
            cache_for: 60,
            clock: Arc::new(SystemClock),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps an active answer at most `secs` seconds (and never past the token's `exp`);
    /// 0: ask every time.
    #[must_use]
    pub fn cache_for(mut self, secs: u64) -> Self {
        self.cache_for = i64::try_from(secs).unwrap_or(i64::MAX);
        self
    }

    /// Replaces the clock (of the cache; the protector has its own).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// What the server says of `token`: its record when active, `None` when not.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] when the server cannot be asked or its answer is not
    /// an RFC 7662 one.
    pub async fn introspect(&self, token: &str) -> Result<Option<TokenRecord>, StorageError> {
        let key = SecretHash::of(token.as_bytes()).0;
        let now = self.clock.now();
        if let Some(c) = lock(&self.cache).get(&key) {
            if now < c.until {
                return Ok(c.record.clone());
            }
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let (status, answer) = self
            .transport
            .post_form(&self.endpoint, &self.authorization, body)
            .await
            .map_err(|why| unavailable(format!("introspection failed: {why}")))?;
        if status != 200 {
            return Err(unavailable(format!(
                "the introspection endpoint answered HTTP {status}"
            )));
        }
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|_| unavailable("the introspection answer is not JSON".into()))?;
        let record = match answer["active"].as_bool() {
            Some(true) => record_of(token, &answer),
            Some(false) => None,
            None => {
                return Err(unavailable(
                    "the introspection answer has no boolean `active` (RFC 7662 section 2.2)"
                        .into(),
                ))
            }
        };
        let until = match &record {
            Some(r) => now.saturating_add(self.cache_for).min(r.expires_at),
            None => now.saturating_add(NEGATIVE_CACHE.min(self.cache_for)),
        };
        let mut cache = lock(&self.cache);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, c| c.until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        if until > now {
            cache.insert(
                key,
                Cached {
                    record: record.clone(),
                    until,
                },
            );
        }
        Ok(record)
    }
}

#[async_trait]
impl BearerValidator for IntrospectionValidator {
    async fn authenticate_token(
        &self,
        token: &str,
        _lookup: Option<&TokenLookup>,
    ) -> Result<Option<TokenRecord>, StorageError> {
        self.introspect(token).await
    }
}

impl fmt::Debug for IntrospectionValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionValidator")
            .field("endpoint", &self.endpoint)
            .field("cache_for", &self.cache_for)
            .finish_non_exhaustive()
    }
}

/// An active answer as a record; `None` when it lacks what a decision needs (`exp`) or
/// holds a malformed scope.
fn record_of(token: &str, a: &Value) -> Option<TokenRecord> {
    // The server answers for refresh tokens too (RFC 7662 §2.1 lets the caller send any
    // token): only an access token is a credential here.
    if let Some(t) = a["token_type"].as_str() {
        if !t.eq_ignore_ascii_case("bearer") && !t.eq_ignore_ascii_case("access_token") {
            return None;
        }
    }
    // A sender-constrained token's proof is not checked here: refused rather than taken as
    // a plain bearer token.
    if a.get("cnf").is_some() {
        return None;
    }
    let exp = a["exp"].as_i64()?;
    let scope = match a["scope"].as_str() {
        Some(s) => Scope::parse(s).ok()?,
        None => Scope::empty(),
    };
    let hash = SecretHash::of(token.as_bytes());
    let mut selector = [0u8; 16];
    selector.copy_from_slice(&hash.0[..16]);
    let key = TokenKey {
        selector: Selector(selector),
        verifier_hash: hash,
    };
    let client_id = a["client_id"].as_str().unwrap_or_default();
    let mut r = TokenRecord::new(
        key,
        TokenKind::Access,
        client_id,
        "",
        a["iat"].as_i64().unwrap_or(0),
        exp,
    );
    r.scope = scope;
    r.subject = a["sub"].as_str().map(str::to_owned);
    r.username = a["username"].as_str().map(str::to_owned);
    let audience = match &a["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(all) => all
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    r.set_details(GrantDetails {
        audience,
        ..GrantDetails::default()
    });
    Some(r)
}

fn unavailable(why: String) -> StorageError {
    StorageError::Unavailable(why.into())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::FrozenClock;

    /// Answers `answer` with `status`, counting requests.
    struct Fake {
        status: u16,
        answer: Value,
        asked: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl IntrospectionTransport for Fake {
        async fn post_form(
            &self,
            _url: &str,
            authorization: &str,
            body: String,
        ) -> Result<(u16, Vec<u8>), String> {
            assert!(authorization.starts_with("Basic "));
            assert!(body.starts_with("token="), "{body}");
            self.asked.fetch_add(1, Ordering::SeqCst);
            Ok((self.status, serde_json::to_vec(&self.answer).unwrap()))
        }
    }

    fn validator(
        status: u16,
        answer: Value,
    ) -> (IntrospectionValidator, Arc<AtomicUsize>, FrozenClock) {
        let asked = Arc::new(AtomicUsize::new(0));
        let clock = FrozenClock::at(1_000);
        let v = IntrospectionValidator::new(
            "https://as.example/introspect",
            "api",
            "s",
            Fake {
                status,
                answer,
                asked: asked.clone(),
            },
        )
        .with_clock(Arc::new(clock.clone()));
        (v, asked, clock)
    }

    #[tokio::test]
    async fn an_active_answer_is_cached_until_exp_or_the_maximum_rfc7662_2_2() {
        let active = serde_json::json!({"active": true, "client_id": "c", "scope": "read",
            "sub": "u", "exp": 1_030, "iat": 990, "aud": "https://api.example/"});
        let (v, asked, clock) = validator(200, active);
        let r = v.introspect("tok").await.unwrap().unwrap();
        assert_eq!(
            (r.client_id.as_str(), r.scope.to_string().as_str()),
            ("c", "read")
        );
        assert_eq!(r.details().audience, ["https://api.example/"]);
        v.introspect("tok").await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 1, "cached");
        clock.advance(30); // the token's exp
        v.introspect("tok").await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2, "never cached past exp");
        let (v, asked, _) = validator(200, serde_json::json!({"active": true, "exp": 5_000}));
        let v = v.cache_for(0);
        v.introspect("tok").await.unwrap();
        v.introspect("tok").await.unwrap();
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "cache_for(0) asks every time"
        );
    }

    #[tokio::test]
    async fn an_inactive_answer_is_kept_one_second_at_most_rfc7662_4() {
        let (v, asked, clock) = validator(200, serde_json::json!({"active": false}));
        assert!(v.introspect("tok").await.unwrap().is_none());
        assert!(v.introspect("tok").await.unwrap().is_none());
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        clock.advance(1);
        v.introspect("tok").await.unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn odd_answers_are_an_outage_or_no_token_never_a_valid_one() {
        // Not 200, not JSON, no `active`: 503-worthy, not a verdict.
        for (status, answer) in [
            (401, serde_json::json!({"error": "invalid_client"})),
            (200, serde_json::json!("active")),
            (200, serde_json::json!({"valid": true})),
        ] {
            let (v, _, _) = validator(status, answer);
            assert!(matches!(
                v.introspect("tok").await,
                Err(StorageError::Unavailable(_))
            ));
        }
        // Active without exp, or with a malformed scope: not taken.
        for answer in [
            serde_json::json!({"active": true}),
            serde_json::json!({"active": true, "exp": 5_000, "scope": "a\"b"}),
            // A refresh token presented as a Bearer token, a sender-constrained token.
            serde_json::json!({"active": true, "exp": 5_000, "token_type": "refresh_token"}),
            serde_json::json!({"active": true, "exp": 5_000, "cnf": {"jkt": "x"}}),
        ] {
            let (v, _, _) = validator(200, answer);
            assert!(v.introspect("tok").await.unwrap().is_none());
        }
    }
}
