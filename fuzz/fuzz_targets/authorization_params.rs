//! `AuthorizationParams::from_request` on arbitrary authorization requests, and the OpenID
//! Connect `claims` parameter it parses (Core §5.5) through `ClaimsRequest`.
//!
//! Input layout: `QUERY \n BODY`. The request is a GET with the query alone, or, when the
//! body is not empty, a form POST with both (OpenID Connect Core §3.1.2.1 allows POST).
#![no_main]

use authgate::oidc::{ClaimsRequest, ClaimsTarget};
use authgate::{AuthorizationParams, OAuth2Request, ResponseMode, ResponseType};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::Uri;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Parameters taken as single values.
const SINGLE: &[&str] = &[
    "redirect_uri",
    "response_mode",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "login_hint",
    "id_token_hint",
    "request",
    "request_uri",
    "registration",
];

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut path = b"/authorize?".to_vec();
    path.extend_from_slice(query);
    let Ok(uri) = Uri::try_from(path) else {
        return;
    };
    let builder = if body.is_empty() {
        http::Request::get(uri)
    } else {
        http::Request::post(uri).header(CONTENT_TYPE, "application/x-www-form-urlencoded")
    };
    let req = builder
        .body(Bytes::copy_from_slice(body))
        .expect("a valid request");
    let Ok(req) = OAuth2Request::from_http(req, 65536) else {
        return;
    };

    let value = |name: &str| req.authorization_value(name);
    let p = match AuthorizationParams::from_request(&req) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e.code().as_str(), "invalid_request");
            return;
        }
    };

    // Every single-valued parameter is what the request holds, once, non-empty.
    assert_eq!(
        value("client_id").ok().flatten(),
        Some(p.client_id.as_str())
    );
    let fields = [
        &p.redirect_uri,
        &p.response_mode,
        &p.scope,
        &p.state,
        &p.code_challenge,
        &p.code_challenge_method,
        &p.nonce,
        &p.login_hint,
        &p.id_token_hint,
        &p.request,
        &p.request_uri,
        &p.registration,
    ];
    for (name, field) in SINGLE.iter().zip(fields) {
        assert_eq!(value(name).ok().flatten(), field.as_deref(), "{name}");
    }
    if let Some(state) = &p.state {
        assert_eq!(AuthorizationParams::first_state(&req).as_ref(), Some(state));
    }

    // response_type: a set, written sorted, parsed back to itself.
    if let Some(rt) = &p.response_type {
        let text = rt.to_string();
        assert_eq!(ResponseType::parse(&text).as_ref(), Some(rt));
        let values: Vec<&str> = rt.iter().collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        assert!(values.iter().all(|v| !v.is_empty() && !v.contains(' ')));
        assert_eq!(text, values.join(" "));
        let raw = value("response_type").ok().flatten().expect("sent");
        let mut sent: Vec<&str> = raw.split(' ').collect();
        sent.sort_unstable();
        assert_eq!(sent, values);
    }
    if let Some(mode) = p.response_mode.as_deref().and_then(ResponseMode::parse) {
        assert_eq!(mode.as_str(), p.response_mode.as_deref().expect("sent"));
    }

    // Space-separated lists: the sent values, in order, no empty ones.
    for (name, list) in [
        ("prompt", &p.prompt),
        ("acr_values", &p.acr_values),
        ("ui_locales", &p.ui_locales),
    ] {
        let sent: Vec<&str> = value(name)
            .ok()
            .flatten()
            .map(|v| v.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        assert_eq!(list.iter().map(String::as_str).collect::<Vec<_>>(), sent);
    }
    match value("max_age").ok().flatten() {
        None => assert_eq!(p.max_age, None),
        Some(v) => assert_eq!(p.max_age, Some(v.parse().expect("accepted as a number"))),
    }
    assert!(p.resource.iter().all(|r| !r.is_empty()));

    // claims: a JSON object, read the same way whatever its shape.
    match (&p.claims, value("claims").ok().flatten()) {
        (None, None) => {}
        (Some(c), Some(raw)) => {
            assert!(c.is_object());
            assert_eq!(
                serde_json::from_str::<Value>(raw).ok().as_ref(),
                Some(c),
                "{raw:?}"
            );
            check_claims(&ClaimsRequest::new(c.clone()), c);
        }
        (c, raw) => panic!("claims {c:?} from {raw:?}"),
    }
});

fn check_claims(r: &ClaimsRequest, raw: &Value) {
    for (target, member) in [
        (ClaimsTarget::UserInfo, "userinfo"),
        (ClaimsTarget::IdToken, "id_token"),
    ] {
        let names = r.names(target);
        let requested = raw.get(member).and_then(Value::as_object);
        assert_eq!(names.len(), requested.map_or(0, |m| m.len()));
        for name in &names {
            let spec = &requested.expect("names come from the member")[*name];
            assert_eq!(
                r.is_essential(target, name),
                spec.get("essential") == Some(&Value::Bool(true))
            );
            let values = r.values(target, name);
            match spec.get("value").and_then(Value::as_str) {
                Some(v) => assert_eq!(values, [v]),
                None => {
                    let listed = spec.get("values").and_then(Value::as_array);
                    let strings = listed.map_or(0, |a| a.iter().filter(|v| v.is_string()).count());
                    assert_eq!(values.len(), strings);
                }
            }
        }
    }
}
