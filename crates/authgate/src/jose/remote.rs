//! Key sets published by others (a client's `jwks_uri`, an authorization server's
//! `jwks_uri`): fetched through the application's [`DocumentFetcher`], cached, fetched
//! again for an unknown `kid` no more often than a set interval; and the choice of the one
//! key that may verify a JWS, its algorithm pinned by the key (RFC 8725 §3.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;

use super::{Algorithm, PublicJwk};
use crate::client::metadata_document::DocumentFetcher;

/// The most key sets cached.
const MAX_CACHED: usize = 10_000;

/// Key sets by URL, as last fetched.
pub struct JwksCache {
    fetcher: Arc<dyn DocumentFetcher>,
    refetch_after: i64,
    sets: Mutex<HashMap<String, Cached>>,
    /// One fetch per URL at a time: requests that find a set wanting wait for its fetch,
    /// then read what it brought; a slow host delays only requests for its own keys.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Clone)]
struct Cached {
    keys: Arc<Value>,
    fetched_at: i64,
    expires_at: i64,
}

/// How long past its cache lifetime a set still serves while fetches of it fail: long
/// enough to ride out an outage, short enough that a key rotated out (perhaps
/// compromised) does not live on because its host cannot be reached.
const MAX_STALE: i64 = 3600;

/// Why no key could be had: the set could not be fetched, and none is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl JwksCache {
    /// A cache fetching with `fetcher`, and fetching a URL again for an unknown key at most
    /// once per `refetch_after` seconds.
    pub fn new(fetcher: Arc<dyn DocumentFetcher>, refetch_after: u64) -> Self {
        Self {
            fetcher,
            refetch_after: secs(refetch_after),
            sets: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// The key of the set at `url` for a JWS with `kid` and `alg` (see [`pick`]): from the
    /// cache while it is fresh; fetched when it is not, or when the cached set has no such
    /// key and the last fetch is at least `refetch_after` old (a rotation on the other
    /// side). Fetches of one URL are one at a time and at most one per `refetch_after`,
    /// however many requests ask. A failed fetch keeps the keys fetched before, stale, for
    /// at most an hour past their lifetime.
    ///
    /// # Errors
    /// [`Unreachable`] when the set cannot be fetched and no keys of it are held (the
    /// caller answers 503, not "invalid": the token may be fine).
    pub async fn key(
        &self,
        url: &str,
        kid: Option<&str>,
        alg: Algorithm,
        now: i64,
    ) -> Result<Option<PublicJwk>, Unreachable> {
        if let Some(decided) = self.cached(url, kid, alg, now) {
            return decided;
        }
        let gate = {
            let mut fetching = lock(&self.fetching);
            if fetching.len() >= MAX_CACHED {
                fetching.retain(|_, g| Arc::strong_count(g) > 1);
            }
            fetching.entry(url.to_owned()).or_default().clone()
        };
        let _one = gate.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(decided) = self.cached(url, kid, alg, now) {
            return decided;
        }
        let fetched = self.fetch(url).await;
        let mut sets = lock(&self.sets);
        if sets.len() >= MAX_CACHED && !sets.contains_key(url) {
            sets.retain(|_, c| c.expires_at.saturating_add(MAX_STALE) > now);
            if sets.len() >= MAX_CACHED {
                return Err(Unreachable("too many key sets cached".into()));
            }
        }
        let entry = sets.entry(url.to_owned()).or_insert_with(|| Cached {
            keys: Arc::new(Value::Null),
            fetched_at: now,
            expires_at: now,
        });
        entry.fetched_at = now;
        match fetched {
            Ok((keys, ttl)) => {
                entry.keys = keys;
                entry.expires_at = now.saturating_add(ttl);
            }
            Err(why) if usable(entry, now) == 0 => return Err(Unreachable(why)),
            Err(_) => {}
        }
        Ok(pick(&held(entry, now), kid, alg))
    }

    /// What the cache decides without a fetch: a key of a fresh set; or, when the set was
    /// fetched (or a fetch tried) less than `refetch_after` ago, whatever it holds (stale
    /// within the limit), or that it is unreachable. `None`: a fetch is due.
    fn cached(
        &self,
        url: &str,
        kid: Option<&str>,
        alg: Algorithm,
        now: i64,
    ) -> Option<Result<Option<PublicJwk>, Unreachable>> {
        let sets = lock(&self.sets);
        let c = sets.get(url)?;
        if c.expires_at > now {
            if let Some(k) = pick(&c.keys, kid, alg) {
                return Some(Ok(Some(k)));
            }
        }
        if now >= c.fetched_at.saturating_add(self.refetch_after) {
            return None;
        }
        if usable(c, now) == 0 && c.keys.is_null() {
            return Some(Err(Unreachable(
                "the key set could not be fetched; not asked again yet".into(),
            )));
        }
        Some(Ok(pick(&held(c, now), kid, alg)))
    }

    /// The set at `url` and how long to keep it, or why it could not be had.
    async fn fetch(&self, url: &str) -> Result<(Arc<Value>, i64), String> {
        let doc = self.fetcher.fetch(url).await.inspect_err(|why| {
            self.fetcher.refused(url, why);
        })?;
        match serde_json::from_slice::<Value>(&doc.body) {
            Ok(v) if v["keys"].is_array() => Ok((
                Arc::new(v),
                secs(doc.max_age.unwrap_or(300).clamp(60, 3600)),
            )),
            _ => {
                let why = "the document is not a JWK Set";
                self.fetcher.refused(url, why);
                Err(why.into())
            }
        }
    }
}

/// The keys a cached set may still serve: all of them within the stale limit, none after.
fn held(c: &Cached, now: i64) -> Arc<Value> {
    if now < c.expires_at.saturating_add(MAX_STALE) {
        c.keys.clone()
    } else {
        Arc::new(Value::Null)
    }
}

fn usable(c: &Cached, now: i64) -> usize {
    usable_keys(&held(c, now))
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("refetch_after", &self.refetch_after)
            .finish_non_exhaustive()
    }
}

/// How many keys of a JWK Set a JWS could be verified with (public, for signatures, of a
/// supported type). A key with private members makes the whole set unusable (answers 0):
/// it was published by mistake and must not be trusted, nor stored.
pub fn usable_keys(jwks: &Value) -> usize {
    let Some(keys) = jwks["keys"].as_array() else {
        return 0;
    };
    // Private (d, p, q, dp, dq, qi, oth) or symmetric (k) material anywhere: the set was
    // published or pasted by mistake.
    let secret = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if keys
        .iter()
        .any(|k| secret.iter().any(|m| k.get(*m).is_some()))
    {
        return 0;
    }
    keys.iter()
        .filter_map(|k| AnyJwk::deserialize(k).ok())
        .filter(|k| Algorithm::ALL.into_iter().any(|a| k.usable_for(a)))
        .count()
}

/// The key of `jwks` that may verify a JWS with `kid` and `alg`: the one key with that
/// `kid` fit for `alg`, or, for a JWS naming no `kid`, the only key fit for `alg`. Fit:
/// for signatures, public, of the type `alg` needs (RSA of 2048 bits or more for RS256
/// and PS256, EC P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA), and of that `alg`
/// when it names one. `None` when no key or several fit.
pub fn pick(jwks: &Value, kid: Option<&str>, alg: Algorithm) -> Option<PublicJwk> {
    if usable_keys(jwks) == 0 {
        return None;
    }
    let mut fit = jwks["keys"]
        .as_array()?
        .iter()
        .filter_map(|k| AnyJwk::deserialize(k).ok())
        .filter(|k| k.usable_for(alg))
        .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)));
    let key = fit.next()?;
    if fit.next().is_some() {
        return None;
    }
    Some(key.into_public(alg))
}

/// A JWK as others publish it: `kid`, `use` and `alg` optional.
#[derive(Deserialize)]
struct AnyJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<Value>,
}

impl AnyJwk {
    fn usable_for(&self, alg: Algorithm) -> bool {
        if self.d.is_some() || self.use_.as_deref().is_some_and(|u| u != "sig") {
            return false;
        }
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return false;
        }
        let crv = self.crv.as_deref();
        match alg {
            // 2048 bits: a 256-byte modulus is 342 base64url characters. An RSA key naming
            // no `alg` is pinned to RS256, never also PS256.
            Algorithm::RS256 | Algorithm::PS256 => {
                self.kty == "RSA"
                    && self.n.as_ref().is_some_and(|n| n.len() >= 342)
                    && (self.alg.is_some() || alg == Algorithm::RS256)
            }
            Algorithm::ES256 => self.kty == "EC" && crv == Some("P-256"),
            Algorithm::ES384 => self.kty == "EC" && crv == Some("P-384"),
            Algorithm::EdDSA => self.kty == "OKP" && crv == Some("Ed25519"),
        }
    }

    fn into_public(self, alg: Algorithm) -> PublicJwk {
        PublicJwk {
            kty: self.kty,
            kid: self.kid.unwrap_or_default(),
            use_: "sig".into(),
            alg: alg.as_str().into(),
            n: self.n,
            e: self.e,
            crv: self.crv,
            x: self.x,
            y: self.y,
        }
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const X: &str = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8";
    const Y: &str = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c";

    #[test]
    fn a_key_is_picked_by_kid_and_fit_for_the_algorithm_rfc8725_3_1() {
        let set = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "a"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "b", "alg": "ES256"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "c"},
        ]});
        assert_eq!(pick(&set, Some("b"), Algorithm::ES256).unwrap().kid, "b");
        // The key's type fixes the algorithm: an EC key never verifies EdDSA or RS256.
        assert!(pick(&set, Some("a"), Algorithm::EdDSA).is_none());
        assert!(pick(&set, Some("a"), Algorithm::RS256).is_none());
        // No kid: only when exactly one key fits.
        assert!(
            pick(&set, None, Algorithm::ES256).is_none(),
            "two EC keys fit"
        );
        assert_eq!(pick(&set, None, Algorithm::EdDSA).unwrap().kid, "c");
        assert!(pick(&set, Some("zz"), Algorithm::ES256).is_none());
        // An RSA key without alg verifies RS256 only, never PS256 too.
        let rsa = json!({"keys": [{"kty": "RSA", "n": "A".repeat(342), "e": "AQAB", "kid": "r"}]});
        assert!(pick(&rsa, Some("r"), Algorithm::RS256).is_some());
        assert!(pick(&rsa, Some("r"), Algorithm::PS256).is_none());
    }

    #[test]
    fn private_symmetric_and_weak_keys_are_never_used() {
        let private = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": X, "y": Y, "d": "s"}]});
        assert_eq!(usable_keys(&private), 0);
        assert!(pick(&private, None, Algorithm::ES256).is_none());
        let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(usable_keys(&oct), 0);
        // A good key beside secret material: the whole set is refused.
        let mixed = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y},
            {"kty": "oct", "k": "c2VjcmV0"},
        ]});
        assert_eq!(usable_keys(&mixed), 0);
        let rsa_parts =
            json!({"keys": [{"kty": "RSA", "n": "A".repeat(342), "e": "AQAB", "p": "x"}]});
        assert_eq!(usable_keys(&rsa_parts), 0);
        let small_rsa = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        assert_eq!(usable_keys(&small_rsa), 0);
        let enc = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": X, "y": Y, "use": "enc"}]});
        assert_eq!(usable_keys(&enc), 0);
        assert_eq!(usable_keys(&json!({"keys": "no"})), 0);
        assert_eq!(usable_keys(&json!(null)), 0);
    }
}
