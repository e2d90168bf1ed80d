//! Signed session cookies, CSRF tokens and login attempt limits.
//!
//! A session cookie holds `base64url(json) "." base64url(HMAC-SHA256(key, json))`, naming a
//! session kept in the database (its `sid`). The key is a shared secret in the database, so
//! every server on one database accepts the others' cookies; the session row is what makes
//! a cookie count, so logout, a password change or the user's removal end it at once.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub(crate) const SESSION_COOKIE: &str = "authgate_session";
pub(crate) const CSRF_COOKIE: &str = "authgate_csrf";
/// How long a login lasts.
pub(crate) const SESSION_TTL: i64 = 8 * 3600;

/// Who is logged in, the server-side session it names, and the CSRF token bound to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) sid: String,
    pub(crate) sub: String,
    pub(crate) username: String,
    pub(crate) exp: i64,
    pub(crate) csrf: String,
}

pub(crate) struct Sessions {
    key: Vec<u8>,
    secure: bool,
}

impl Sessions {
    /// Sessions signed with `key`; `secure` (an https issuer) makes the cookies `Secure`
    /// and gives their names the `__Host-` prefix, so that no subdomain nor plain-http
    /// page can set or shadow them (RFC 6265bis §4.1.3.2).
    pub(crate) fn new(key: Vec<u8>, secure: bool) -> Self {
        Self { key, secure }
    }

    /// Whether an issuer URL is https (parsed: the scheme in any case).
    pub(crate) fn is_https(issuer: &str) -> bool {
        url::Url::parse(issuer).is_ok_and(|u| u.scheme() == "https")
    }

    fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// The pre-login CSRF cookie's value in a request.
    pub(crate) fn csrf_from<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        cookie(headers, &self.name(CSRF_COOKIE))
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length; new_from_slice cannot fail for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// The cookie value for a session.
    pub(crate) fn seal(&self, s: &Session) -> String {
        let json = serde_json::to_vec(s).unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(self.mac(&json))
        )
    }

    /// The session in a request's cookie, if it is ours, intact and not expired.
    pub(crate) fn open(&self, headers: &HeaderMap, now: i64) -> Option<Session> {
        let raw = cookie(headers, &self.name(SESSION_COOKIE))?;
        let (body, sig) = raw.split_once('.')?;
        let json = URL_SAFE_NO_PAD.decode(body).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !bool::from(self.mac(&json).ct_eq(&sig)) {
            return None;
        }
        let s: Session = serde_json::from_slice(&json).ok()?;
        (s.exp > now).then_some(s)
    }

    /// `Set-Cookie` for a session.
    pub(crate) fn set_cookie(&self, value: &str, max_age: i64) -> String {
        self.cookie_header(&self.name(SESSION_COOKIE), value, max_age)
    }

    /// `Set-Cookie` for a pre-login CSRF token.
    pub(crate) fn csrf_cookie(&self, value: &str) -> String {
        self.cookie_header(&self.name(CSRF_COOKIE), value, 3600)
    }

    fn cookie_header(&self, name: &str, value: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

/// A cookie's value (the library's, which the embedding apps' pages use too).
pub(crate) use authgate_axum::pages::cookie;

/// A fresh random token (CSRF).
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(authgate::rng::random_bytes::<24>(&authgate::OsRng))
}

/// Constant-time comparison of two CSRF tokens; an empty token never matches.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Event times per key, within a sliding window: the one structure under every limiter
/// here. Memory stays bounded: keys whose events aged out go when the map grows, and past
/// `max_keys` the half least recently active goes too.
struct Windows {
    map: Mutex<HashMap<String, Vec<i64>>>,
    window: i64,
    max_keys: usize,
}

/// The locked map, for one limiter decision.
struct Held<'a> {
    map: std::sync::MutexGuard<'a, HashMap<String, Vec<i64>>>,
    window: i64,
    max_keys: usize,
}

impl Windows {
    fn new(window: i64, max_keys: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            window,
            max_keys,
        }
    }

    fn lock(&self) -> Held<'_> {
        Held {
            map: self
                .map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            window: self.window,
            max_keys: self.max_keys,
        }
    }
}

impl Held<'_> {
    /// The events of `key` still in the window at `now` (older ones are dropped).
    fn live(&mut self, key: &str, now: i64) -> usize {
        let window = self.window;
        let Some(v) = self.map.get_mut(key) else {
            return 0;
        };
        // The list is kept in time order (see `push`): the expired events are a prefix,
        // found by bisection (under a high limit, a walk per request would cost in
        // proportion to the events kept).
        let expired = v.partition_point(|t| now - t >= window);
        v.drain(..expired);
        let n = v.len();
        if n == 0 {
            self.map.remove(key);
        }
        n
    }

    /// Seconds until the oldest live event of `key` leaves the window (at least 1).
    fn wait(&self, key: &str, now: i64) -> i64 {
        let oldest = self.map.get(key).and_then(|v| v.first().copied());
        (oldest.unwrap_or(now) + self.window - now).max(1)
    }

    /// Records an event; answers the key's count with it.
    fn push(&mut self, key: String, now: i64) -> usize {
        let v = self.map.entry(key).or_default();
        // In time order even when requests read the clock in one order and take the
        // lock in another, or the wall clock stepped back.
        let at = v.partition_point(|t| *t <= now);
        v.insert(at, now);
        let n = v.len();
        if self.map.len() > self.max_keys {
            self.shrink(now);
        }
        n
    }

    /// Takes the latest event of `key` back.
    fn pop(&mut self, key: &str) {
        if let Some(v) = self.map.get_mut(key) {
            v.pop();
        }
    }

    fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Drops keys whose events all aged out.
    fn purge(&mut self, now: i64) {
        let window = self.window;
        self.map.retain(|_, v| v.iter().any(|t| now - t < window));
    }

    fn shrink(&mut self, now: i64) {
        self.purge(now);
        if self.map.len() > self.max_keys {
            let mut last: Vec<i64> = self
                .map
                .values()
                .filter_map(|v| v.last().copied())
                .collect();
            last.sort_unstable();
            let cut = last.get(last.len() / 2).copied().unwrap_or(now);
            self.map.retain(|_, v| v.last().is_some_and(|t| *t > cut));
        }
    }
}

/// The most keys a limiter keeps.
const MAX_KEYS: usize = 200_000;

/// Failed attempts per key (a session) and per client address, in a sliding window: the
/// device page's user-code guesses.
///
/// An attempt is counted when it starts ([`Self::begin`]), before the lookup, and one is
/// given back when it succeeds: concurrent guesses cannot all slip past the limit.
pub(crate) struct LoginLimiter {
    failures: Windows,
    per_user: usize,
    per_addr: usize,
}

impl LoginLimiter {
    pub(crate) fn new(per_user: usize, per_addr: usize, window: i64) -> Self {
        Self {
            failures: Windows::new(window, MAX_KEYS),
            per_user,
            per_addr,
        }
    }

    /// Starts an attempt for `key` (and `addr`, when known): false when either is over its
    /// limit, else the attempt is counted as failed until [`Self::give_back`] returns one.
    pub(crate) fn begin(&self, key: &str, addr: Option<&str>, now: i64) -> bool {
        let mut held = self.failures.lock();
        let mut keys = vec![(format!("u:{key}"), self.per_user)];
        if let Some(a) = addr {
            keys.push((format!("a:{a}"), self.per_addr));
        }
        if keys.iter().any(|(k, limit)| held.live(k, now) >= *limit) {
            return false;
        }
        for (k, _) in keys {
            held.push(k, now);
        }
        true
    }

    /// The attempt begun for `key` succeeded, but earlier failures stand: only this
    /// attempt is given back, to the key and the address. (For guesses where a success
    /// proves nothing about the failures — a user code the guesser could get for
    /// themselves — so that a success cannot wipe the count.)
    pub(crate) fn give_back(&self, key: &str, addr: Option<&str>) {
        let mut held = self.failures.lock();
        held.pop(&format!("u:{key}"));
        if let Some(a) = addr {
            held.pop(&format!("a:{a}"));
        }
    }
}

/// Usernames longer than this are refused before any bookkeeping (nobody has one; an
/// attacker would fill memory with them).
pub(crate) const MAX_USERNAME: usize = 256;

/// What a password attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Go ahead, after waiting this many seconds (0 mostly).
    Go(u64),
    /// Refused: this address, for this user or for everyone, is over its limit.
    Refused,
}

/// Failed password attempts (the login page and the password grant), so that guessing is
/// slow and nobody can lock a user out (SECURITY.md 22): a hard limit per (user, address)
/// and per address; for the user across all addresses only a growing delay — a legitimate
/// user signing in from their own address always gets through, however many guesses are
/// made elsewhere.
pub(crate) struct PasswordLimiter {
    failures: Windows,
    per_pair: usize,
    per_addr: usize,
    /// Failures of a user (any address) before each attempt is delayed.
    user_free: usize,
}

impl PasswordLimiter {
    pub(crate) fn new(per_pair: usize, per_addr: usize, user_free: usize, window: i64) -> Self {
        Self {
            failures: Windows::new(window, MAX_KEYS),
            per_pair,
            per_addr,
            user_free,
        }
    }

    fn keys(username: &str, addr: &str) -> (String, String, String) {
        (
            format!("p:{username}\u{0}{addr}"),
            format!("a:{addr}"),
            format!("u:{username}"),
        )
    }

    /// Starts an attempt; it counts as failed until [`Self::succeeded`].
    pub(crate) fn begin(&self, username: &str, addr: &str, now: i64) -> Attempt {
        if username.len() > MAX_USERNAME {
            return Attempt::Refused;
        }
        let (pair, address, user) = Self::keys(username, addr);
        let mut held = self.failures.lock();
        if held.live(&pair, now) >= self.per_pair || held.live(&address, now) >= self.per_addr {
            return Attempt::Refused;
        }
        let user_failures = held.live(&user, now);
        // 1, 2, 4, 8, 16, then 30 seconds.
        let delay = user_failures
            .checked_sub(self.user_free)
            .map_or(0, |n| (1u64 << n.min(5)).min(30));
        for k in [pair, address, user] {
            held.push(k, now);
        }
        Attempt::Go(delay)
    }

    /// The attempt succeeded: the user's failures (here and overall) are forgotten and the
    /// address gets its attempt back.
    pub(crate) fn succeeded(&self, username: &str, addr: &str) {
        let (pair, address, user) = Self::keys(username, addr);
        let mut held = self.failures.lock();
        held.remove(&pair);
        held.remove(&user);
        held.pop(&address);
    }

    /// Drops what aged out (a timer calls it every minute).
    pub(crate) fn purge(&self, now: i64) {
        self.failures.lock().purge(now);
    }

    #[cfg(test)]
    fn keys_held(&self) -> usize {
        self.failures.lock().map.len()
    }
}

/// Requests per key (an address) in a sliding window: what the registration endpoint
/// allows one address.
pub(crate) struct RateLimiter {
    hits: Windows,
    limit: usize,
}

impl RateLimiter {
    pub(crate) fn new(limit: usize, window: i64) -> Self {
        Self {
            hits: Windows::new(window, MAX_KEYS),
            limit,
        }
    }

    /// Counts a request of `key` at `now`: `Ok(())` within the limit, else `Err(seconds)`
    /// until the oldest counted request leaves the window (for `Retry-After`).
    pub(crate) fn hit(&self, key: &str, now: i64) -> Result<(), i64> {
        let mut held = self.hits.lock();
        if held.live(key, now) >= self.limit {
            return Err(held.wait(key, now));
        }
        held.push(key.to_owned(), now);
        Ok(())
    }
}

/// Failed client authentications, per (client id, address) and per address, in a sliding
/// window: past a limit the endpoints answer 429 before checking anything, so secrets
/// cannot be guessed at speed. The pair (not the client id alone) is counted so that an
/// attacker elsewhere cannot lock a client out.
pub(crate) struct ClientAuthLimits {
    failures: Windows,
    per_pair: usize,
    per_addr: usize,
    /// When each (address, credentials as sent) pair last authenticated, by a keyed hash
    /// of the two (the credentials name the client): a request presenting the same
    /// credentials from the same address
    /// and dropped unanswered is not counted as a failure (its check was a cached one, and
    /// it guesses nothing). Any other credentials still count.
    successes: Mutex<HashMap<u64, i64>>,
    hasher: std::hash::RandomState,
}

/// How long after a success the same credentials' dropped requests are not counted: a
/// client that just proved its secret and then hung up (a load generator stopping, a
/// proxy's timeout) is not guessing it.
const SUCCESS_GRACE: i64 = 60;

/// Client ids longer than this are counted by their first characters (memory stays
/// bounded whatever is presented).
const KEY_CHARS: usize = 128;

impl ClientAuthLimits {
    pub(crate) fn new(per_pair: usize, per_addr: usize, window: i64) -> Self {
        Self {
            failures: Windows::new(window, MAX_KEYS),
            per_pair,
            per_addr,
            successes: Mutex::new(HashMap::new()),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// SipHash under this process's random key: no one outside can aim at a collision.
    fn pair(&self, addr: &str, credentials: &[&[u8]]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one((addr, credentials))
    }

    fn successes(&self) -> std::sync::MutexGuard<'_, HashMap<u64, i64>> {
        self.successes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes that these credentials authenticated now: one lock and no allocation once
    /// they are known.
    pub(crate) fn succeeded(&self, addr: &str, credentials: &[&[u8]], now: i64) {
        let key = self.pair(addr, credentials);
        let mut seen = self.successes();
        if seen.len() >= MAX_KEYS && !seen.contains_key(&key) {
            seen.retain(|_, at| now - *at < SUCCESS_GRACE);
            if seen.len() >= MAX_KEYS {
                seen.clear();
            }
        }
        seen.insert(key, now);
    }

    /// Whether these credentials authenticated from this address within the last minute.
    pub(crate) fn recently_succeeded(&self, addr: &str, credentials: &[&[u8]], now: i64) -> bool {
        let key = self.pair(addr, credentials);
        self.successes()
            .get(&key)
            .is_some_and(|at| now - *at < SUCCESS_GRACE)
    }

    fn keys(&self, client_id: &str, addr: &str) -> [(String, usize); 2] {
        let id: String = client_id.chars().take(KEY_CHARS).collect();
        [
            (format!("p:{id}\u{0}{addr}"), self.per_pair),
            (format!("a:{addr}"), self.per_addr),
        ]
    }

    /// Whether no failure is counted at all: the common case, where the token endpoint
    /// pays for one uncontended lock and nothing else.
    pub(crate) fn quiet(&self) -> bool {
        self.failures.lock().is_empty()
    }

    /// `Some(seconds to wait)` when the pair or the address is over its limit.
    pub(crate) fn blocked(&self, client_id: &str, addr: &str, now: i64) -> Option<i64> {
        let mut held = self.failures.lock();
        let mut wait = None;
        for (k, limit) in self.keys(client_id, addr) {
            if held.live(&k, now) >= limit {
                wait = wait.max(Some(held.wait(&k, now)));
            }
        }
        wait
    }

    /// Counts a failure; answers true when it is the one that reached a limit (log it
    /// once, not on every refused request).
    pub(crate) fn failed(&self, client_id: &str, addr: &str, now: i64) -> bool {
        let mut held = self.failures.lock();
        let mut reached = false;
        for (k, limit) in self.keys(client_id, addr) {
            held.live(&k, now);
            reached |= held.push(k, now) == limit;
        }
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_elsewhere_cannot_lock_a_user_out_but_slow_down() {
        let l = PasswordLimiter::new(5, 20, 5, 300);
        for _ in 0..5 {
            assert_eq!(l.begin("alice", "6.6.6.6", 0), Attempt::Go(0));
        }
        assert_eq!(
            l.begin("alice", "6.6.6.6", 1),
            Attempt::Refused,
            "that address, for alice"
        );
        // Alice at home is not locked out: delayed, since her account is being guessed at.
        assert_eq!(l.begin("alice", "1.1.1.1", 2), Attempt::Go(1));
        l.succeeded("alice", "1.1.1.1");
        assert_eq!(
            l.begin("alice", "1.1.1.1", 3),
            Attempt::Go(0),
            "success forgets"
        );
        // The attacker's address is still refused for alice, not for others (until 20).
        assert_eq!(l.begin("alice", "6.6.6.6", 4), Attempt::Refused);
        assert_eq!(l.begin("bob", "6.6.6.6", 4), Attempt::Go(0));
        assert_eq!(
            l.begin("alice", "6.6.6.6", 301),
            Attempt::Go(0),
            "the window slides"
        );
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let l = PasswordLimiter::new(1000, 1000, 2, 300);
        let delays: Vec<Attempt> = (0..10)
            .map(|i| l.begin("carol", &format!("10.0.0.{i}"), 0))
            .collect();
        assert_eq!(
            delays,
            [0, 0, 1, 2, 4, 8, 16, 30, 30, 30].map(Attempt::Go).to_vec()
        );
    }

    #[test]
    fn long_usernames_are_refused_before_any_bookkeeping_and_old_keys_age_out() {
        let l = PasswordLimiter::new(5, 20, 5, 300);
        assert_eq!(
            l.begin(&"x".repeat(MAX_USERNAME + 1), "1.1.1.1", 0),
            Attempt::Refused
        );
        assert_eq!(l.keys_held(), 0);
        l.begin("dave", "1.1.1.1", 0);
        assert_eq!(l.keys_held(), 3);
        l.purge(301);
        assert_eq!(l.keys_held(), 0);
    }

    #[test]
    fn client_auth_failures_block_the_pair_and_the_address_only() {
        let l = ClientAuthLimits::new(2, 3, 60);
        assert!(!l.failed("web", "1.1.1.1", 0));
        assert!(
            l.failed("web", "1.1.1.1", 0),
            "the second reaches the pair limit"
        );
        assert_eq!(l.blocked("web", "1.1.1.1", 10), Some(50));
        assert_eq!(
            l.blocked("web", "2.2.2.2", 10),
            None,
            "the client elsewhere is unaffected"
        );
        assert_eq!(
            l.blocked("svc", "1.1.1.1", 10),
            None,
            "another client here too, so far"
        );
        l.failed("svc", "1.1.1.1", 10);
        assert!(
            l.blocked("svc", "1.1.1.1", 10).is_some(),
            "now the address is over"
        );
        assert_eq!(
            l.blocked("svc", "1.1.1.1", 59),
            Some(1),
            "until the oldest leaves"
        );
        assert_eq!(
            l.blocked("web", "1.1.1.1", 60),
            None,
            "both windows moved on"
        );
        assert!(!l.quiet());
    }

    #[test]
    fn an_https_issuer_gets_host_prefixed_secure_cookies() {
        assert!(Sessions::is_https("HTTPS://auth.example"));
        assert!(!Sessions::is_https("http://127.0.0.1:8080"));
        assert!(!Sessions::is_https("https-but-not://x"));
        let s = Sessions::new(vec![1; 32], true);
        let c = s.set_cookie("v", 60);
        assert!(c.starts_with("__Host-authgate_session=v; Path=/;"), "{c}");
        assert!(c.ends_with("; Secure") && !c.contains("Domain"), "{c}");
        assert!(s.csrf_cookie("t").starts_with("__Host-authgate_csrf=t;"));
        let plain = Sessions::new(vec![1; 32], false);
        assert!(plain.set_cookie("v", 60).starts_with("authgate_session=v;"));
        assert!(!plain.set_cookie("v", 60).contains("Secure"));
        // A cookie under the other name is not read.
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, "authgate_csrf=t".parse().unwrap());
        assert_eq!(plain.csrf_from(&h), Some("t"));
        assert_eq!(s.csrf_from(&h), None);
    }

    #[test]
    fn giving_back_one_attempt_keeps_the_earlier_failures() {
        let l = LoginLimiter::new(3, 10, 60);
        assert!(l.begin("sid", Some("a"), 0));
        assert!(l.begin("sid", Some("a"), 0));
        assert!(l.begin("sid", Some("a"), 0)); // a right code, given back
        l.give_back("sid", Some("a"));
        assert!(l.begin("sid", Some("a"), 0));
        assert!(
            !l.begin("sid", Some("a"), 0),
            "two failures and the last attempt stand"
        );
    }

    #[test]
    fn the_rate_limiter_counts_per_key_in_a_sliding_window() {
        let l = RateLimiter::new(2, 60);
        assert!(l.hit("a", 0).is_ok());
        assert!(l.hit("a", 10).is_ok());
        assert_eq!(l.hit("a", 20), Err(40), "until the first leaves the window");
        assert!(l.hit("b", 20).is_ok(), "another key is unaffected");
        assert!(l.hit("a", 60).is_ok(), "the window slides");
    }

    #[test]
    fn the_rate_limiter_expires_events_that_arrived_out_of_time_order() {
        let l = RateLimiter::new(2, 10);
        assert!(l.hit("a", 100).is_ok());
        // A request that read the clock earlier took the lock later (or the clock stepped
        // back): its event is still the oldest.
        assert!(l.hit("a", 95).is_ok());
        assert_eq!(l.hit("a", 104), Err(1), "until 95 leaves the window");
        assert!(l.hit("a", 105).is_ok(), "95 left the window, 100 did not");
        assert_eq!(l.hit("a", 105), Err(5), "100 and 105 are live");
    }

    fn headers(cookie_value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={cookie_value}")
                .parse()
                .unwrap(),
        );
        h
    }

    #[test]
    fn sealed_session_opens_and_tampering_is_refused() {
        let s = Sessions::new(vec![7; 32], false);
        let v = s.seal(&Session {
            sid: "s1".into(),
            sub: "u1".into(),
            username: "alice".into(),
            exp: 100,
            csrf: "c".into(),
        });
        assert_eq!(s.open(&headers(&v), 50).unwrap().username, "alice");
        assert!(s.open(&headers(&v), 100).is_none(), "expired");
        let other = Sessions::new(vec![8; 32], false);
        assert!(other.open(&headers(&v), 50).is_none(), "another key");
        let (body, sig) = v.split_once('.').unwrap();
        let forged = format!(
            "{}.{sig}",
            URL_SAFE_NO_PAD
                .encode(br#"{"sid":"s1","sub":"root","username":"root","exp":99,"csrf":"c"}"#)
        );
        assert!(s.open(&headers(&forged), 50).is_none());
        assert!(s.open(&headers(body), 50).is_none());
    }

    #[test]
    fn cookies_are_httponly_lax_and_secure_for_https() {
        assert!(Sessions::new(vec![1], true)
            .set_cookie("v", 10)
            .contains("HttpOnly; SameSite=Lax; Max-Age=10; Secure"));
        assert!(!Sessions::new(vec![1], false)
            .set_cookie("v", 10)
            .contains("Secure"));
    }

    #[test]
    fn limiter_blocks_per_user_and_per_address_within_the_window() {
        let l = LoginLimiter::new(3, 5, 60);
        let ip = Some("1.1.1.1");
        for _ in 0..3 {
            assert!(l.begin("alice", ip, 0));
        }
        assert!(!l.begin("alice", Some("2.2.2.2"), 1), "per user");
        assert!(l.begin("bob", ip, 1));
        assert!(l.begin("carol", ip, 1));
        assert!(!l.begin("dave", ip, 2), "per address");
        assert!(l.begin("alice", Some("2.2.2.2"), 61), "the window slides");
    }
}
