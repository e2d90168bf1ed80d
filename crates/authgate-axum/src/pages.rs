//! What an application that embeds authgate writes around its login and consent pages,
//! ready-made (feature `pages`):
//!
//! - [`SessionCookies`]: signed session cookies for the application's own login, and
//!   [`LoginLimits`] against online password guessing.
//! - [`ConsentCsrf`]: a CSRF token for the consent form, bound to the user's session and to
//!   the authorization request it approves, so a forged POST (or a token taken from one
//!   consent form and posted with another request) is refused.
//! - [`PageHeadersLayer`]: the headers login and consent pages need — they must not be
//!   framed (clickjacking, RFC 6749 §10.13), cached, or leak their URL (it carries `state`
//!   and PKCE challenges) in `Referer`.
//! - [`local_path`] and [`login_redirect`]: the redirect-to-login-and-back pattern, with
//!   the `next` parameter checked so the login page cannot be used as an open redirector.
//! - [`escape_html`]: for everything those pages show from a request or a client.
//! - [`RefusalPage`]: renders [`crate::ValidatedAuthorization`]'s refusals (a request whose
//!   client or redirect URI cannot be verified, which must be shown to the user and never
//!   redirected) as the application's own HTML page instead of JSON.
//!
//! The crate's `tutorial` example uses them all: an axum application with its own users
//! and login session becomes an authorization server in under 150 lines.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authgate::{AuthorizationRequest, Clock, OAuth2Error, SystemClock};
use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::{header, HeaderMap, HeaderValue, Uri};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

/// CSRF tokens for a consent form: an HMAC of the session's id and of everything the
/// authorization request asks (the validated client, redirect URI, scope and resources, and
/// every parameter as parsed: response type and mode, state, nonce, PKCE challenge and
/// method, prompt, max_age, claims...), under a key of the application's.
///
/// Nothing is stored: the token is recomputed when the form comes back. Servers sharing
/// one key accept each other's tokens; a new key refuses forms already shown.
///
/// ```
/// use authgate_axum::pages::ConsentCsrf;
///
/// /// The consent form's hidden field; the POST handler checks it with `verify`.
/// fn csrf_field(csrf: &ConsentCsrf, session_id: &str, request: &authgate::AuthorizationRequest) -> String {
///     format!(r#"<input type="hidden" name="csrf" value="{}">"#, csrf.token(session_id, request))
/// }
/// ```
#[derive(Clone)]
pub struct ConsentCsrf {
    key: [u8; 32],
}

impl ConsentCsrf {
    /// Tokens under this key. Give every instance of the application the same key (from
    /// its configuration or a secret file), or forms shown by one are refused by another.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Tokens under a fresh random key: for a single process; forms shown before a restart
    /// are refused after it.
    pub fn random() -> Self {
        Self::new(authgate::rng::random_bytes(&authgate::OsRng))
    }

    /// The token to put in the consent form's hidden field, for this session and request.
    pub fn token(&self, session_id: &str, request: &AuthorizationRequest) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(session_id, request))
    }

    /// Whether `presented` is the token of this session and request (compared in constant
    /// time).
    pub fn verify(
        &self,
        session_id: &str,
        request: &AuthorizationRequest,
        presented: &str,
    ) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        bool::from(bytes.ct_eq(&self.mac(session_id, request)))
    }

    fn mac(&self, session_id: &str, request: &AuthorizationRequest) -> [u8; 32] {
        #[allow(clippy::expect_used)] // HMAC takes a key of any length
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        let scope = request.scope.to_string();
        // The parameters as parsed, present or not, each string quoted and escaped by
        // `Debug`: a token shown by one version of authgate may be refused by the next,
        // which costs a user one more click.
        let params = format!("{:?}", request.params);
        let parts = [
            "authgate consent",
            session_id,
            request.client.client_id(),
            &request.redirect_uri,
            &scope,
            &params,
        ];
        // Each part length-prefixed, so no two requests concatenate to the same input.
        let resources = request.resource.iter().map(String::as_str);
        for part in parts.iter().copied().chain(resources) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for ConsentCsrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentCsrf").finish_non_exhaustive()
    }
}

/// Who is signed in, as read from a [`SessionCookies`] cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The session's random id (256 bits, base64url): what [`ConsentCsrf`] binds its
    /// tokens to, and a key for anything the application keeps per session.
    pub id: String,
    /// The user, as the application named them at sign-in.
    pub user: String,
    /// When the session ends, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Signed session cookies: who signed in, until when, under an HMAC-SHA256 of a key of
/// the application's. Nothing is stored server-side, so instances sharing the key accept
/// each other's sessions. The cookie is `HttpOnly`, `SameSite=Lax` and, unless
/// [`Self::secure`] turns it off for plain-http development, `Secure` under a `__Host-`
/// name no subdomain can set.
///
/// Signing out clears the browser's cookie, but a copy taken earlier stays valid until it
/// expires (8 hours unless [`Self::lifetime`] says otherwise): an application that must end
/// sessions at once (password change, removed user) also checks [`Session::id`] or
/// [`Session::user`] against its own records.
///
/// ```
/// use authgate_axum::pages::SessionCookies;
/// let sessions = SessionCookies::new([9; 32]);
/// let (session, set_cookie) = sessions.sign_in("alice");
/// // The browser sends the cookie back:
/// let cookie = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", cookie.parse().unwrap());
/// assert_eq!(sessions.current(&headers), Some(session));
/// // Another key refuses it.
/// assert_eq!(SessionCookies::new([8; 32]).current(&headers), None);
/// ```
#[derive(Clone)]
pub struct SessionCookies {
    key: [u8; 32],
    secure: bool,
    lifetime: i64,
    clock: Arc<dyn Clock>,
}

impl SessionCookies {
    /// Sessions signed with `key`, lasting 8 hours, in `Secure` cookies (see
    /// [`Self::secure`] for a site on plain `http://`, in development).
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key,
            secure: true,
            lifetime: 8 * 3600,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sessions under a fresh random key: for a single process; a restart signs everyone
    /// out.
    pub fn random() -> Self {
        Self::new(authgate::rng::random_bytes(&authgate::OsRng))
    }

    /// `Secure` cookies named `__Host-session` (RFC 6265bis §4.1.3.2), the default; `false`
    /// for a site on plain `http://` (development), where the cookie is `session` without
    /// `Secure`, which any page of the host over http, or a sibling subdomain, can set.
    #[must_use]
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// How long a session lasts from sign-in.
    #[must_use]
    pub fn lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Reads the time from `clock` (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn name(&self) -> &'static str {
        if self.secure {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// A new session for `user` and the `Set-Cookie` value that starts it.
    pub fn sign_in(&self, user: &str) -> (Session, HeaderValue) {
        let session = Session {
            id: authgate::rng::random_token(&authgate::OsRng),
            user: user.to_owned(),
            expires_at: self.clock.now().saturating_add(self.lifetime),
        };
        let body = format!(
            "{}.{}.{}",
            session.id,
            session.expires_at,
            URL_SAFE_NO_PAD.encode(user)
        );
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&body));
        let cookie = format!(
            "{}={body}.{mac}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            self.name(),
            self.lifetime,
            if self.secure { "; Secure" } else { "" }
        );
        #[allow(clippy::expect_used)] // base64url, digits, dots and fixed ASCII only
        let value = HeaderValue::from_str(&cookie).expect("a cookie of visible ASCII");
        (session, value)
    }

    /// The session a request's cookie names, if it is signed with this key and unexpired.
    pub fn current(&self, headers: &HeaderMap) -> Option<Session> {
        let value = cookie(headers, self.name())?;
        let (body, mac) = value.rsplit_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if !bool::from(mac.ct_eq(&self.mac(body))) {
            return None;
        }
        let mut parts = body.splitn(3, '.');
        let (id, expires_at, user) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_at: i64 = expires_at.parse().ok()?;
        if self.clock.now() >= expires_at {
            return None;
        }
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        Some(Session {
            id: id.to_owned(),
            user,
            expires_at,
        })
    }

    /// The `Set-Cookie` value that clears the session cookie.
    pub fn sign_out(&self) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        #[allow(clippy::expect_used)] // fixed ASCII
        HeaderValue::from_str(&format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            self.name()
        ))
        .expect("a cookie of visible ASCII")
    }

    fn mac(&self, body: &str) -> [u8; 32] {
        #[allow(clippy::expect_used)] // HMAC takes a key of any length
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"authgate session\0");
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookies")
            .field("secure", &self.secure)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Failed sign-ins counted per key (a user name; an address too, if the application knows
/// the client's): after `max` failures within `window` the key is refused until the window
/// since its first failure has passed, so a password cannot be guessed online at speed
/// (RFC 6749 §10.10 asks the same of the password grant). A success clears the count.
///
/// At most 65,536 keys are counted; when that many are within their window, keys not yet
/// counted are refused too until some expire (failing closed: an attacker who fills the table
/// delays sign-ins, and cannot guess beyond the limits).
///
/// ```
/// use authgate_axum::pages::LoginLimits;
/// let limits = LoginLimits::new(3, std::time::Duration::from_secs(300));
/// for _ in 0..3 {
///     assert!(limits.allows("alice"));
///     limits.failed("alice");
/// }
/// assert!(!limits.allows("alice"));
/// assert!(limits.allows("bob"));
/// ```
#[derive(Clone)]
pub struct LoginLimits {
    max: u32,
    window: i64,
    clock: Arc<dyn Clock>,
    failures: Arc<std::sync::Mutex<std::collections::HashMap<String, (u32, i64)>>>,
}

/// How many keys [`LoginLimits`] counts at most.
const MAX_COUNTED: usize = 65_536;

impl LoginLimits {
    /// At most `max` failures per key within `window`.
    pub fn new(max: u32, window: std::time::Duration) -> Self {
        Self {
            max,
            window: i64::try_from(window.as_secs()).unwrap_or(i64::MAX),
            clock: Arc::new(SystemClock),
            failures: Arc::default(),
        }
    }

    /// Reads the time from `clock` (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn table(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (u32, i64)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `key` may try to sign in now.
    pub fn allows(&self, key: &str) -> bool {
        let now = self.clock.now();
        let mut table = self.table();
        match table.get(key) {
            Some(&(count, since)) if now < since.saturating_add(self.window) => count < self.max,
            Some(_) => {
                table.remove(key);
                true
            }
            None => {
                table.len() < MAX_COUNTED || {
                    table.retain(|_, (_, since)| now < since.saturating_add(self.window));
                    table.len() < MAX_COUNTED
                }
            }
        }
    }

    /// Counts a failed sign-in of `key`.
    pub fn failed(&self, key: &str) {
        let now = self.clock.now();
        let mut table = self.table();
        if table.len() >= MAX_COUNTED && !table.contains_key(key) {
            return; // refused anyway by `allows` until the table drains
        }
        let entry = table.entry(key.to_owned()).or_insert((0, now));
        if now >= entry.1.saturating_add(self.window) {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// Forgets the failures of `key` (after a successful sign-in).
    pub fn succeeded(&self, key: &str) {
        self.table().remove(key);
    }
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimits")
            .field("max", &self.max)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// The value of the first cookie named `name` in a request's `Cookie` headers.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", "a=1; session=xyz".parse().unwrap());
/// assert_eq!(authgate_axum::pages::cookie(&headers, "session"), Some("xyz"));
/// assert_eq!(authgate_axum::pages::cookie(&headers, "other"), None);
/// ```
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The path a login page may send the user back to: `next` when it is a path on this site
/// (`/authorize?...`), else `/`. A scheme, a host (`//evil.example`), a backslash or any
/// control character or space (which browsers drop or read as `/`) makes it unsafe.
///
/// ```
/// use authgate_axum::pages::local_path;
/// assert_eq!(local_path(Some("/authorize?client_id=app")), "/authorize?client_id=app");
/// for unsafe_next in ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", "evil"] {
///     assert_eq!(local_path(Some(unsafe_next)), "/");
/// }
/// assert_eq!(local_path(None), "/");
/// ```
pub fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b > 0x20 && b != 0x7f && b != b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

/// Escapes text for HTML content and quoted attribute values (the engine's, re-exported
/// here beside the pages' other helpers).
pub use authgate::response::escape_html;

/// A `303 See Other` to the login page at `login_path`, with `next` naming the request
/// being answered (its path and query), for the login handler to send the user back to
/// through [`local_path`] once signed in.
///
/// ```
/// use authgate_axum::pages::login_redirect;
/// let uri: http::Uri = "/authorize?response_type=code&client_id=app".parse().unwrap();
/// let res = login_redirect("/login", &uri);
/// assert_eq!(res.status(), 303);
/// assert_eq!(
///     res.headers()["location"],
///     "/login?next=%2Fauthorize%3Fresponse_type%3Dcode%26client_id%3Dapp"
/// );
/// ```
pub fn login_redirect(login_path: &str, back_to: &Uri) -> Response {
    let next = back_to.path_and_query().map_or("/", |p| p.as_str());
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("{login_path}?next={next}")).into_response()
}

/// Renders the refusals [`crate::ValidatedAuthorization`] must show the user rather than
/// redirect (an unknown client, an unregistered redirect URI: RFC 6749 §4.1.2.1) as the
/// application's own page. Without it they are answered as JSON.
///
/// Add it to the router as an extension; the answer keeps the refusal's status (400, or
/// 503 when the store is down) whatever the page returns. Show the code and description
/// (escaped) if you like, never [`OAuth2Error::internal_reason`]: that is for the logs.
///
/// ```
/// use axum::{response::Html, Extension, Router};
/// use authgate_axum::pages::{escape_html, RefusalPage};
///
/// let page = RefusalPage::new(|err| {
///     // Escape what you show: the description can quote the request.
///     let text = err.error_description().unwrap_or("the request is invalid");
///     Html(format!("<h1>Cannot sign you in</h1><p>{}</p>", escape_html(text)))
/// });
/// let app: Router = Router::new().layer(Extension(page));
/// ```
#[derive(Clone)]
pub struct RefusalPage(Arc<dyn Fn(&OAuth2Error) -> Response + Send + Sync>);

impl RefusalPage {
    /// A page rendered by `render`.
    pub fn new<R: IntoResponse>(
        render: impl Fn(&OAuth2Error) -> R + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(move |e| render(e).into_response()))
    }

    /// The page for `error`: status 400 (503 with `Retry-After` when the store is
    /// unavailable, as the JSON answer has), the [`PageHeadersLayer`] headers, and never a
    /// `Location` (these refusals must not redirect).
    pub fn render(&self, error: &OAuth2Error) -> Response {
        let mut res = (self.0)(error);
        let unavailable = error.status() == http::StatusCode::SERVICE_UNAVAILABLE;
        *res.status_mut() = if unavailable {
            http::StatusCode::SERVICE_UNAVAILABLE
        } else {
            http::StatusCode::BAD_REQUEST
        };
        let h = res.headers_mut();
        h.remove(header::LOCATION);
        if unavailable {
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(authgate::response::RETRY_AFTER_UNAVAILABLE),
            );
        }
        set_page_headers(&mut res);
        res
    }
}

impl std::fmt::Debug for RefusalPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalPage").finish_non_exhaustive()
    }
}

/// Sets the headers of a login or consent page on every answer of the routes it wraps:
/// `Content-Security-Policy: frame-ancestors 'none'` (a policy of its own, beside any the
/// page sets) and `X-Frame-Options: DENY` (no framing: RFC 6749 §10.13, RFC 9700 §4.16),
/// `Cache-Control: no-store`, `Referrer-Policy: no-referrer` and
/// `X-Content-Type-Options: nosniff`.
///
/// ```
/// use axum::{routing::get, Router};
/// use authgate_axum::pages::PageHeadersLayer;
/// let app: Router = Router::new()
///     .route("/login", get(|| async { "the login form" }))
///     .route_layer(PageHeadersLayer);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PageHeadersLayer;

impl<S> Layer<S> for PageHeadersLayer {
    type Service = PageHeaders<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PageHeaders { inner }
    }
}

/// The service of [`PageHeadersLayer`].
#[derive(Debug, Clone)]
pub struct PageHeaders<S> {
    inner: S,
}

impl<S> Service<Request> for PageHeaders<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            set_page_headers(&mut res);
            Ok(res)
        })
    }
}

fn set_page_headers(res: &mut Response) {
    let h = res.headers_mut();
    // A policy of its own, beside any the page has: every policy is enforced, so the page's
    // stay whole and no `frame-ancestors` of theirs can loosen this one.
    h.append(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
    use super::*;
    use authgate::FrozenClock;

    fn sent_back(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("other=1; {pair}").parse().unwrap());
        h
    }

    #[test]
    fn a_session_lasts_its_lifetime_and_no_longer() {
        let clock = FrozenClock::at(1_000_000);
        let sessions = SessionCookies::new([1; 32])
            .secure(false)
            .lifetime(std::time::Duration::from_secs(60))
            .with_clock(clock.clone());
        let (session, cookie) = sessions.sign_in("a.b c");
        assert_eq!(session.user, "a.b c");
        assert_eq!(session.expires_at, 1_000_060);
        let headers = sent_back(&cookie);
        assert_eq!(sessions.current(&headers), Some(session));
        clock.advance(60);
        assert_eq!(sessions.current(&headers), None);
    }

    #[test]
    fn login_limits_refuse_after_max_failures_until_the_window_passes() {
        let clock = FrozenClock::at(1_000);
        let limits =
            LoginLimits::new(2, std::time::Duration::from_secs(300)).with_clock(clock.clone());
        limits.failed("alice");
        limits.failed("alice");
        assert!(!limits.allows("alice"));
        clock.advance(299);
        assert!(!limits.allows("alice"));
        clock.advance(1);
        assert!(limits.allows("alice"));
        limits.failed("alice");
        limits.succeeded("alice");
        limits.failed("alice");
        assert!(limits.allows("alice"));
    }

    #[test]
    fn a_tampered_session_cookie_is_no_session() {
        let sessions = SessionCookies::new([1; 32]).secure(false);
        let (_, cookie) = sessions.sign_in("alice");
        let value = cookie.to_str().unwrap().split(';').next().unwrap();
        let (body, mac) = value.rsplit_once('.').unwrap();
        // Another user, a later expiry, another id: each breaks the MAC.
        let (prefix, user) = body.rsplit_once('.').unwrap();
        let forged_user = format!("{prefix}.{}.{mac}", URL_SAFE_NO_PAD.encode("root"));
        let mut parts: Vec<&str> = body.split('.').collect();
        let later = (parts[1].parse::<i64>().unwrap() + 86_400).to_string();
        parts[1] = &later;
        let forged_exp = format!("{}.{mac}", parts.join("."));
        for forged in [forged_user, forged_exp, format!("{body}.{user}")] {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, forged.parse().unwrap());
            assert_eq!(sessions.current(&h), None, "{forged}");
        }
    }

    #[test]
    fn secure_sessions_use_a_host_prefixed_secure_cookie_rfc6265bis_4_1_3_2() {
        let sessions = SessionCookies::new([1; 32]).secure(true);
        let (session, cookie) = sessions.sign_in("alice");
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("__Host-session="), "{text}");
        for attribute in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
            assert!(text.contains(attribute), "{text}");
        }
        assert_eq!(sessions.current(&sent_back(&cookie)), Some(session));
        // A plain `session` cookie (settable over http or by a subdomain) is ignored.
        let (_, plain) = SessionCookies::new([1; 32]).secure(false).sign_in("alice");
        assert_eq!(sessions.current(&sent_back(&plain)), None);
        assert!(sessions.sign_out().to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn page_headers_add_a_frame_ancestors_policy_beside_the_page_s_own() {
        let mut res = Response::new(axum::body::Body::empty());
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        set_page_headers(&mut res);
        let policies: Vec<_> = res
            .headers()
            .get_all(header::CONTENT_SECURITY_POLICY)
            .iter()
            .collect();
        assert_eq!(policies, ["default-src 'self'", "frame-ancestors 'none'"]);
        let mut bare = Response::new(axum::body::Body::empty());
        set_page_headers(&mut bare);
        assert_eq!(
            bare.headers()[header::CONTENT_SECURITY_POLICY],
            "frame-ancestors 'none'"
        );
        assert_eq!(bare.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(bare.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(bare.headers()[header::REFERRER_POLICY], "no-referrer");
    }
}
