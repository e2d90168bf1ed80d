//! `OAuth2Request::from_http` and its parameter accessors on arbitrary requests.
//!
//! Input layout: `AUTHORIZATION \n QUERY \n BODY`. A line that is not a valid header value
//! (or not a valid URI query) is left out, so the rest of the request is still exercised.
//! The body is every byte after the second newline, newlines included.
#![no_main]

use authgate::OAuth2Request;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "code_verifier",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "refresh_token",
    "access_token",
    "",
];

fuzz_target!(|data: &[u8]| {
    let (auth, rest) = split(data);
    let (query, body) = split(rest);

    let mut builder = http::Request::builder()
        .method(Method::POST)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        builder = builder.header(AUTHORIZATION, v);
    }
    let mut path = b"/token?".to_vec();
    path.extend_from_slice(query);
    let uri = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/token"));
    let Ok(req) = builder.uri(uri).body(Bytes::copy_from_slice(body)) else {
        return;
    };

    let req = OAuth2Request::from_http(req, 65536);
    // libFuzzer's inputs are far below the cap, so the request must be accepted.
    assert_eq!(req.is_ok(), body.len() <= 65536);
    let Ok(req) = req else { return };
    assert!(req.is_form_encoded());

    // Names from the protocol, plus the first few the input itself uses (so repeats of
    // arbitrary names are reached too).
    let own: Vec<String> = req
        .form_pairs()
        .iter()
        .chain(req.query_pairs())
        .take(4)
        .map(|(k, _)| k.clone())
        .collect();
    for name in NAMES.iter().copied().chain(own.iter().map(String::as_str)) {
        let f = req.form_value(name);
        check_single(
            req.form_pairs(),
            name,
            f.as_ref().map(|v| *v).map_err(|_| ()),
        );
        let q = req.query_value(name);
        check_single(
            req.query_pairs(),
            name,
            q.as_ref().map(|v| *v).map_err(|_| ()),
        );
        let a = req.authorization_value(name);
        match (&q, &f) {
            (Err(_), _) | (_, Err(_)) | (Ok(Some(_)), Ok(Some(_))) => assert!(a.is_err()),
            (Ok(qv), Ok(fv)) => assert_eq!(a.ok().flatten(), qv.or(*fv)),
        }
        if let Err(e) = f.and(q) {
            assert_eq!(e.code().as_str(), "invalid_request");
        }
    }

    // Never a present-but-empty client id.
    if let Some(id) = authgate::presented_client_id(&req) {
        assert!(!id.is_empty());
    }
    let _ = format!("{req:?}");
});

/// What `single` must answer, restated: repeated is an error; a single empty value is
/// absent (RFC 6749 §3.1).
fn check_single(pairs: &[(String, String)], name: &str, got: Result<Option<&str>, ()>) {
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect();
    match values.as_slice() {
        [] => assert_eq!(got, Ok(None)),
        [v] => assert_eq!(got, Ok(Some(*v).filter(|v| !v.is_empty()))),
        _ => assert!(got.is_err()),
    }
}

/// Splits at the first newline; without one, everything is the head.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
