//! `OAuth2Response`: what an endpoint answers, independent of the web framework.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::error::OAuth2Error;

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
        if err.has_basic_challenge() {
            res.headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authgate\", charset=\"UTF-8\""),
            );
        }
        res
    }
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
