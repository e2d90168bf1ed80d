//! `OAuth2Request`: an HTTP request reduced to what the protocol reads.

use bytes::Bytes;
use http::{header, HeaderMap, Method, StatusCode, Uri};

use crate::error::OAuth2Error;

/// The default cap on a request body: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// A request as the endpoints see it: method, URI, headers, and the query and form
/// parameters, each kept in order with repeats (RFC 6749 §3.1 and §3.2 forbid repeated
/// parameters, so an endpoint must be able to see them).
///
/// ```
/// use authgate::OAuth2Request;
/// let req = http::Request::post("/token")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(bytes::Bytes::from_static(b"grant_type=client_credentials&scope=a&scope=b"))
///     .unwrap();
/// let req = OAuth2Request::from_http(req, 65536).unwrap();
/// assert_eq!(req.form_value("grant_type").unwrap(), Some("client_credentials"));
/// assert!(req.form_value("scope").is_err()); // repeated: invalid_request
/// ```
#[derive(Clone)]
pub struct OAuth2Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    form_encoded: bool,
    /// A body that is not a form (client registration's JSON), as sent; empty otherwise.
    other_body: Vec<u8>,
}

impl OAuth2Request {
    /// Builds a request from its parts and an already-read body.
    ///
    /// The body is parsed as `application/x-www-form-urlencoded` only when the content type
    /// says so; otherwise it is ignored and [`Self::is_form_encoded`] is false, which the
    /// token, revocation and introspection endpoints answer with `invalid_request`.
    ///
    /// # Errors
    /// A body longer than `max_body_bytes` gives a 413 `invalid_request` error.
    pub fn from_parts(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: &[u8],
        max_body_bytes: usize,
    ) -> Result<Self, OAuth2Error> {
        if body.len() > max_body_bytes {
            return Err(body_too_large(max_body_bytes));
        }
        let query = uri
            .query()
            .map(|q| parse_pairs(q.as_bytes()))
            .unwrap_or_default();
        let form_encoded = is_form_content_type(&headers);
        let (form, other_body) = if form_encoded {
            (parse_pairs(body), Vec::new())
        } else {
            (Vec::new(), body.to_vec())
        };
        Ok(Self {
            method,
            uri,
            headers,
            query,
            form,
            form_encoded,
            other_body,
        })
    }

    /// Builds a request from an `http::Request` whose body is already in memory.
    ///
    /// # Errors
    /// See [`Self::from_parts`].
    pub fn from_http(
        req: http::Request<Bytes>,
        max_body_bytes: usize,
    ) -> Result<Self, OAuth2Error> {
        let (parts, body) = req.into_parts();
        Self::from_parts(
            parts.method,
            parts.uri,
            parts.headers,
            &body,
            max_body_bytes,
        )
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether the body was `application/x-www-form-urlencoded`.
    pub fn is_form_encoded(&self) -> bool {
        self.form_encoded
    }

    /// The body when it is not a form (a JSON document, say), as sent; empty for a form or
    /// no body.
    pub fn body(&self) -> &[u8] {
        &self.other_body
    }

    /// Whether the content type is `application/json` (parameters such as `charset`
    /// allowed).
    pub fn is_json(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    }

    /// All query parameters in order, repeats included.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// All form parameters in order, repeats included.
    pub fn form_pairs(&self) -> &[(String, String)] {
        &self.form
    }

    /// The single value of a query parameter. An empty value counts as absent
    /// (RFC 6749 §3.1: "parameters sent without a value MUST be treated as if they were
    /// omitted").
    ///
    /// # Errors
    /// `invalid_request` when the parameter is repeated.
    pub fn query_value(&self, name: &str) -> Result<Option<&str>, OAuth2Error> {
        single(&self.query, name)
    }

    /// The single value of a form parameter; see [`Self::query_value`].
    ///
    /// # Errors
    /// `invalid_request` when the parameter is repeated.
    pub fn form_value(&self, name: &str) -> Result<Option<&str>, OAuth2Error> {
        single(&self.form, name)
    }

    /// The authorization endpoint's parameters: the query for GET, query then form for POST
    /// (RFC 6749 §3.1 allows both methods).
    ///
    /// # Errors
    /// `invalid_request` when the parameter is repeated, across query and form too.
    pub fn authorization_value(&self, name: &str) -> Result<Option<&str>, OAuth2Error> {
        let q = single(&self.query, name)?;
        let f = single(&self.form, name)?;
        match (q, f) {
            (Some(_), Some(_)) => Err(repeated(name)),
            (a, b) => Ok(a.or(b)),
        }
    }

    /// The raw value of a header, if it is valid visible ASCII.
    pub fn header_str(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl std::fmt::Debug for OAuth2Request {
    /// Names only: headers, query and form carry credentials (Basic secrets, tokens,
    /// codes, passwords), so no value is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(k, _)| k.clone()).collect()
        };
        f.debug_struct("OAuth2Request")
            .field("method", &self.method)
            .field("path", &self.uri.path())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("query", &names(&self.query))
            .field("form", &names(&self.form))
            .finish()
    }
}

/// The one `Authorization` header of a request, as visible ASCII; `None` when absent.
///
/// A request with two `Authorization` headers, or one that is not visible ASCII, is
/// malformed, not unauthenticated: ignoring such a header would let other credentials (a
/// body's `client_id`, a query's token) decide a request that also carries it.
///
/// # Errors
/// `invalid_request` for a repeated or non-ASCII header.
#[inline]
pub fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, OAuth2Error> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(OAuth2Error::invalid_request(
            "more than one Authorization header",
        ));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| OAuth2Error::invalid_request("malformed Authorization header"))
}

/// The credentials of an `Authorization: <scheme> <credentials>` header value, the scheme
/// compared case-insensitively (RFC 9110 §11.1); `None` for another scheme.
#[inline]
pub fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = header.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim_start())
}

/// The error for a body over the cap: HTTP 413 with an `invalid_request` JSON body.
pub fn body_too_large(max_body_bytes: usize) -> OAuth2Error {
    OAuth2Error::invalid_request(format!(
        "request body exceeds the limit of {max_body_bytes} bytes"
    ))
    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

fn repeated(name: &str) -> OAuth2Error {
    OAuth2Error::invalid_request(format!("parameter '{name}' is repeated"))
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, OAuth2Error> {
    let mut found: Option<&str> = None;
    for (k, v) in pairs {
        if k == name {
            if found.is_some() {
                return Err(repeated(name));
            }
            found = Some(v);
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn is_form_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(ct: &str, body: &'static [u8]) -> Result<OAuth2Request, OAuth2Error> {
        let req = http::Request::post("/token?x=1")
            .header("content-type", ct)
            .body(Bytes::from_static(body))
            .unwrap();
        OAuth2Request::from_http(req, 64)
    }

    #[test]
    fn repeated_parameter_is_invalid_request_rfc6749_3_2() {
        let r = post("application/x-www-form-urlencoded", b"a=1&a=2").unwrap();
        assert_eq!(
            r.form_value("a").unwrap_err().code().as_str(),
            "invalid_request"
        );
    }

    #[test]
    fn empty_value_is_treated_as_omitted_rfc6749_3_1() {
        let r = post("application/x-www-form-urlencoded", b"a=&b=2").unwrap();
        assert_eq!(r.form_value("a").unwrap(), None);
        assert_eq!(r.form_value("b").unwrap(), Some("2"));
    }

    #[test]
    fn content_type_parameters_are_accepted() {
        let r = post("application/x-www-form-urlencoded; charset=UTF-8", b"a=1").unwrap();
        assert!(r.is_form_encoded());
        assert_eq!(r.form_value("a").unwrap(), Some("1"));
    }

    #[test]
    fn other_content_types_leave_no_form() {
        let r = post("application/json", b"{\"a\":1}").unwrap();
        assert!(!r.is_form_encoded());
        assert!(r.form_pairs().is_empty());
        assert_eq!(r.query_value("x").unwrap(), Some("1"));
    }

    #[test]
    fn body_over_the_cap_is_413() {
        let big: &'static [u8] = &[b'a'; 65];
        let e = post("application/x-www-form-urlencoded", big).unwrap_err();
        assert_eq!(e.status(), 413);
        assert_eq!(e.code().as_str(), "invalid_request");
    }

    #[test]
    fn debug_output_names_parameters_but_never_prints_values() {
        let req = http::Request::post("/token?code=QUERYSECRET")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", "Basic SEADERSECRET")
            .body(Bytes::from_static(b"client_secret=FORMSECRET"))
            .unwrap();
        let r = OAuth2Request::from_http(req, 1024).unwrap();
        let dbg = format!("{r:?}");
        assert!(dbg.contains("client_secret") && dbg.contains("authorization"));
        for secret in ["QUERYSECRET", "SEADERSECRET", "FORMSECRET"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
    }

    #[test]
    fn authorization_parameter_in_query_and_form_is_repeated() {
        let req = http::Request::post("/authorize?client_id=a")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"client_id=a"))
            .unwrap();
        let r = OAuth2Request::from_http(req, 1024).unwrap();
        assert!(r.authorization_value("client_id").is_err());
    }
}
