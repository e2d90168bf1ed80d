//! What endpoints answer: [`OAuth2Response`] (status, headers, body, for any web
//! framework), and the typed answers grants produce before they become one:
//! [`TokenResponse`] and [`AuthorizationResponse`].

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use url::Url;

use crate::error::OAuth2Error;
use crate::params::ResponseMode;
use crate::scope::Scope;

/// An endpoint's answer: status, headers and body, ready to convert into any framework's
/// response type (`authgate-axum` does it for axum; [`Self::into_http`] gives an
/// `http::Response`).
#[derive(Debug, Clone)]
pub struct OAuth2Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl OAuth2Response {
    /// A JSON response with the given status. Token-bearing and error answers of the token
    /// endpoint must not be cached (RFC 6749 §5.1), so this also sets `Cache-Control:
    /// no-store` and `Pragma: no-cache`.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        // Serialising a serde_json::Value cannot fail: its keys are strings.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self {
            status,
            headers,
            body: Bytes::from(body),
        }
    }

    /// A 302 redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        let mut headers = HeaderMap::with_capacity(3);
        if let Ok(v) = HeaderValue::from_str(location) {
            headers.insert(header::LOCATION, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        Self {
            status: StatusCode::FOUND,
            headers,
            body: Bytes::new(),
        }
    }

    /// An empty 200 answer (the revocation endpoint's success, RFC 7009 §2.2).
    pub fn empty_ok() -> Self {
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Self {
            status: StatusCode::OK,
            headers,
            body: Bytes::new(),
        }
    }

    /// The `Location` header of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Converts into an `http::Response`.
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut res = http::Response::new(self.body);
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        res
    }
}

impl From<OAuth2Error> for OAuth2Response {
    /// A direct JSON error answer (RFC 6749 §5.2), with `WWW-Authenticate: Basic` when the
    /// error answers a failed Basic authentication.
    fn from(err: OAuth2Error) -> Self {
        let mut res = Self::json(err.status(), &err.to_json());
        if err.status() == StatusCode::SERVICE_UNAVAILABLE {
            res.headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
            );
        }
        if err.has_basic_challenge() {
            res.headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authgate\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

/// `Retry-After` of a 503 (the store is unavailable), in seconds: long enough for a pool
/// to reconnect, short enough that a retrying client does not give up (RFC 9110 §10.2.3).
pub const RETRY_AFTER_UNAVAILABLE: &str = "5";

/// Authorization response parameters the protocol defines: never taken from extra
/// members.
const RESERVED_PARAMS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "scope",
    "id_token",
    "refresh_token",
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
    "session_state",
];

/// A successful token response (RFC 6749 §5.1), before it becomes JSON.
///
/// ```
/// use authgate::TokenResponse;
/// let r = TokenResponse::bearer("at", 3600);
/// let json = r.to_json();
/// assert_eq!(json["token_type"], "Bearer");
/// assert_eq!(json["expires_in"], 3600);
/// ```
#[non_exhaustive]
#[derive(Clone)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: String,
    /// `token_type`: `Bearer` unless a sender-constraining scheme says otherwise.
    pub token_type: String,
    /// `expires_in`, in seconds.
    pub expires_in: Option<u64>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `scope`; sent when not empty.
    pub scope: Scope,
    /// `id_token` (OpenID Connect).
    pub id_token: Option<String>,
    /// `issued_token_type` (RFC 8693).
    pub issued_token_type: Option<String>,
    /// Any other members (extension grants, hooks).
    pub extra: Map<String, Value>,
}

impl TokenResponse {
    /// A Bearer token with its lifetime.
    pub fn bearer(access_token: impl Into<String>, expires_in: u64) -> Self {
        Self {
            access_token: access_token.into(),
            token_type: "Bearer".to_owned(),
            expires_in: Some(expires_in),
            refresh_token: None,
            scope: Scope::empty(),
            id_token: None,
            issued_token_type: None,
            extra: Map::new(),
        }
    }

    /// The JSON body, consuming the response (no copies of the tokens).
    pub fn into_json(self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("access_token".into(), self.access_token.into());
        m.insert("token_type".into(), self.token_type.into());
        if let Some(e) = self.expires_in {
            m.insert("expires_in".into(), e.into());
        }
        if let Some(r) = self.refresh_token {
            m.insert("refresh_token".into(), r.into());
        }
        if !self.scope.is_empty() {
            m.insert("scope".into(), self.scope.to_string().into());
        }
        if let Some(t) = self.id_token {
            m.insert("id_token".into(), t.into());
        }
        if let Some(t) = self.issued_token_type {
            m.insert("issued_token_type".into(), t.into());
        }
        if !self.extra.is_empty() {
            m.extend(self.extra);
        }
        m
    }

    /// The JSON body: `access_token`, `token_type`, then each member that is set.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("access_token".into(), self.access_token.clone().into());
        m.insert("token_type".into(), self.token_type.clone().into());
        if let Some(e) = self.expires_in {
            m.insert("expires_in".into(), e.into());
        }
        if let Some(r) = &self.refresh_token {
            m.insert("refresh_token".into(), r.clone().into());
        }
        if !self.scope.is_empty() {
            m.insert("scope".into(), self.scope.to_string().into());
        }
        if let Some(t) = &self.id_token {
            m.insert("id_token".into(), t.clone().into());
        }
        if let Some(t) = &self.issued_token_type {
            m.insert("issued_token_type".into(), t.clone().into());
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }

    /// The members as authorization response parameters (the implicit grant's fragment,
    /// RFC 6749 §4.2.2). A refresh token is never among them, and an extra member cannot
    /// take the name of a protocol parameter (`state`, `iss`, `code`, `error`...).
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("access_token".to_owned(), self.access_token.clone()),
            ("token_type".to_owned(), self.token_type.clone()),
        ];
        if let Some(e) = self.expires_in {
            v.push(("expires_in".to_owned(), e.to_string()));
        }
        if !self.scope.is_empty() {
            v.push(("scope".to_owned(), self.scope.to_string()));
        }
        if let Some(t) = &self.id_token {
            v.push(("id_token".to_owned(), t.clone()));
        }
        for (k, val) in &self.extra {
            if RESERVED_PARAMS.contains(&k.as_str()) {
                continue;
            }
            let s = match val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            v.push((k.clone(), s));
        }
        v
    }

    /// The 200 JSON answer.
    pub fn into_response(self) -> OAuth2Response {
        OAuth2Response::json(StatusCode::OK, &Value::Object(self.into_json()))
    }
}

impl std::fmt::Debug for TokenResponse {
    /// Names and lifetimes only: the tokens are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

/// An authorization response (RFC 6749 §4.1.2, §4.2.2), before it becomes a redirect or
/// a form-post page: the parameters and how they travel.
#[non_exhaustive]
#[derive(Clone)]
pub struct AuthorizationResponse {
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// How the parameters travel.
    pub mode: ResponseMode,
    /// The parameters, in order.
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// An empty response to `redirect_uri`.
    pub fn new(redirect_uri: impl Into<String>, mode: ResponseMode) -> Self {
        Self {
            redirect_uri: redirect_uri.into(),
            mode,
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.params.push((name.into(), value.into()));
    }

    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The redirect URI with the parameters in its query or fragment; `None` for
    /// [`ResponseMode::FormPost`], whose parameters travel in a page.
    pub fn location(&self) -> Option<String> {
        let Ok(mut url) = Url::parse(&self.redirect_uri) else {
            // The URI was verified against a registered one; registration rejects
            // unparsable URIs, so this is reached only through a broken custom Client.
            return Some(self.redirect_uri.clone());
        };
        let pairs = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        match self.mode {
            ResponseMode::Query => {
                url.query_pairs_mut().extend_pairs(pairs);
            }
            ResponseMode::Fragment => {
                let frag: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                url.set_fragment(Some(&frag));
            }
            ResponseMode::FormPost => return None,
        }
        Some(url.into())
    }

    /// The answer: a 302 redirect, or for form_post the page `form_post` renders.
    pub fn into_response(self, form_post: &dyn FormPostPage) -> OAuth2Response {
        match self.location() {
            Some(loc) => OAuth2Response::redirect(&loc),
            None => form_post.render(&self),
        }
    }
}

impl std::fmt::Debug for AuthorizationResponse {
    /// Parameter names only: codes and tokens travel here.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationResponse")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Renders the page of the form_post response mode: an HTML form that the browser posts
/// to the redirect URI. The engine says when one is needed; the web integration (or the
/// application) owns how it looks. A server offers `response_mode=form_post` only once it
/// has one ([`crate::AuthorizationServer::with_form_post`]).
pub trait FormPostPage: Send + Sync + 'static {
    /// The 200 response carrying the page for `response`.
    fn render(&self, response: &AuthorizationResponse) -> OAuth2Response;
}

/// A quoted-string for a `WWW-Authenticate` parameter; quotes, backslashes and control
/// characters are dropped rather than escaped, so no value can break out of the header.
pub(crate) fn quote(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    format!("\"{cleaned}\"")
}

/// The form_post page of the OAuth 2.0 Form Post Response Mode, ready to use: a form
/// posting the parameters to the redirect URI, with a visible "Continue" button for
/// browsers without scripts and one inline script that submits it at once where scripts
/// run. Its Content-Security-Policy allows only that script (by its SHA-256 hash), no
/// other source of anything, and form submission only to the redirect URI's origin.
///
/// ```
/// use authgate::{AuthorizationServer, AutoSubmitForm, MemoryStore, ServerConfig};
/// let server = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new("https://op.example"))
///     .with_form_post(AutoSubmitForm::new());
/// ```
#[derive(Debug, Clone, Default)]
pub struct AutoSubmitForm {
    title: Option<String>,
}

/// The one script the page runs.
const AUTO_SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

impl AutoSubmitForm {
    /// The page with the default title ("Continue to the application").
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page title (shown while the browser posts, or beside the button).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The CSP source of the script: `'sha256-…'`.
    fn script_hash() -> &'static str {
        use base64::Engine;
        use sha2::Digest;
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        HASH.get_or_init(|| {
            let digest = sha2::Sha256::digest(AUTO_SUBMIT_SCRIPT.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
    }
}

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'`. Everything a page shows from a request or a client's registration (its name,
/// the scope, a `next` path) goes through it.
///
/// ```
/// use authgate::response::escape_html;
/// assert_eq!(escape_html(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl FormPostPage for AutoSubmitForm {
    fn render(&self, response: &AuthorizationResponse) -> OAuth2Response {
        let title = escape_html(
            self.title
                .as_deref()
                .unwrap_or("Continue to the application"),
        );
        let fields: String = response
            .params
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    escape_html(k),
                    escape_html(v)
                )
            })
            .collect();
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><form method=\"post\" action=\"{action}\">{fields}\
             <noscript><p>{title}</p></noscript><button type=\"submit\">Continue</button></form>\
             <script>{AUTO_SUBMIT_SCRIPT}</script></body></html>",
            action = escape_html(&response.redirect_uri),
        );
        // form-action: only where the response goes (scheme, host and port), when the
        // redirect URI has an origin; a custom-scheme URI has none to name.
        let form_action = Url::parse(&response.redirect_uri)
            .ok()
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .map(|o| format!(" form-action {};", o.ascii_serialization()))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'none'; script-src {};{form_action} frame-ancestors 'none'; base-uri 'none'",
            Self::script_hash()
        );
        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        OAuth2Response {
            status: StatusCode::OK,
            headers,
            body: Bytes::from(body),
        }
    }
}

#[cfg(test)]
mod form_post_tests {
    use super::*;

    #[test]
    fn the_page_escapes_values_posts_to_the_redirect_uri_and_allows_only_its_own_script() {
        let mut r =
            AuthorizationResponse::new("https://rp.example:8443/cb?x=1", ResponseMode::FormPost);
        r.push("code", "a\"b<c>&'d");
        r.push("state", "s");
        let res = AutoSubmitForm::new().render(&r);
        assert_eq!(res.status, StatusCode::OK);
        let html = String::from_utf8(res.body.to_vec()).unwrap_or_default();
        assert!(html.contains("action=\"https://rp.example:8443/cb?x=1\""));
        assert!(html.contains("value=\"a&quot;b&lt;c&gt;&amp;&#39;d\""));
        assert!(
            html.contains("<button type=\"submit\">Continue</button>"),
            "works without scripts"
        );
        let csp = res.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default();
        // The hash of the script as the page carries it (computed independently here).
        let expected = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(b"document.forms[0].submit();"))
        };
        assert!(html.contains("<script>document.forms[0].submit();</script>"));
        assert!(
            csp.contains(&format!("script-src 'sha256-{expected}';")),
            "{csp}"
        );
        assert!(
            csp.contains("form-action https://rp.example:8443;"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none'"));
        assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
    }
}
