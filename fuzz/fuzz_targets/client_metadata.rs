//! `registration::parse_metadata` on arbitrary JSON: the members of a client registration
//! request (RFC 7591 §2, OpenID Connect Dynamic Registration §2), on an OpenID Provider
//! with every grant registered.
//!
//! The input is the request body; anything that is not a JSON object is skipped (the
//! endpoint refuses it before this parser, and the `registration` target covers that).
#![no_main]

#[path = "shared/openid_server.rs"]
mod openid_server;

use authgate::endpoints::registration::{check_redirect_uri, parse_metadata};
use authgate::{ClientAuthMethod, ClientMetadata, ResponseType};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

/// Members that must be https URLs when present, with or without a language tag.
const HTTPS_MEMBERS: &[&str] = &[
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "jwks_uri",
    "initiate_login_uri",
    "backchannel_logout_uri",
];

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let ctx = openid_server::fixture().server.context();
    let m = match parse_metadata(ctx, &body) {
        Ok(m) => m,
        Err(e) => {
            let code = e.code().as_str();
            assert!(
                matches!(code, "invalid_client_metadata" | "invalid_redirect_uri"),
                "unexpected error code {code}"
            );
            assert_eq!(e.status().as_u16(), 400);
            return;
        }
    };
    check(ctx, &m);

    // What was accepted, written back as a request, is accepted again unchanged.
    let written = as_request(&m);
    let again = parse_metadata(ctx, &written)
        .unwrap_or_else(|e| panic!("{written:?} was refused the second time: {e:?}"));
    assert_eq!(as_request(&again), written);
});

/// The properties every accepted registration has, restated.
fn check(ctx: &authgate::ServerContext, m: &ClientMetadata) {
    assert!(matches!(
        m.token_endpoint_auth_method,
        ClientAuthMethod::ClientSecretBasic
            | ClientAuthMethod::ClientSecretPost
            | ClientAuthMethod::None
    ));
    let public = m.is_public();
    for g in &m.grant_types {
        assert!(ctx.supported.grant_types.contains(g), "grant {g:?}");
    }
    for r in &m.response_types {
        let rt = ResponseType::parse(r).expect("a response type");
        assert!(ctx.supported.response_types.contains(&rt.to_string()));
        // RFC 7591 §2.1: a response type comes with the grant it needs.
        if rt.contains("code") {
            assert!(m.grant_types.iter().any(|g| g == "authorization_code"));
        }
        if rt.contains("token") || rt.contains("id_token") {
            assert!(m.grant_types.iter().any(|g| g == "implicit"));
        }
    }
    let front_channel = m
        .grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    assert!(!front_channel || !m.redirect_uris.is_empty());
    assert!(!(public && m.grant_types.iter().any(|g| g == "client_credentials")));
    for uri in &m.redirect_uris {
        assert!(check_redirect_uri(uri, public).is_ok(), "{uri:?}");
        assert!(!uri.contains('#'));
    }
    assert!(!(m.extra.contains_key("jwks") && m.extra.contains_key("jwks_uri")));
    for (name, value) in &m.extra {
        let base = name.split_once('#').map_or(name.as_str(), |(b, _)| b);
        if HTTPS_MEMBERS.contains(&base) {
            let url = url::Url::parse(value.as_str().expect("a string")).expect("a URL");
            assert_eq!(url.scheme(), "https");
            assert!(url.host_str().is_some() && url.fragment().is_none());
            assert!(url.username().is_empty() && url.password().is_none());
        }
    }
    if let Some(list) = m.extra.get("contacts") {
        let list = list.as_array().expect("an array");
        assert!(list
            .iter()
            .all(|c| c.as_str().is_some_and(|c| !c.is_empty() && c.len() <= 320)));
    }
    if let Some(uris) = m.extra.get("post_logout_redirect_uris") {
        for uri in uris.as_array().expect("an array") {
            assert!(check_redirect_uri(uri.as_str().expect("a string"), public).is_ok());
        }
    }
}

/// The registration request that asks for exactly `m`.
fn as_request(m: &ClientMetadata) -> Map<String, Value> {
    let mut out = m.extra.clone();
    out.insert("redirect_uris".into(), json!(m.redirect_uris));
    out.insert(
        "token_endpoint_auth_method".into(),
        m.token_endpoint_auth_method.as_str().into(),
    );
    out.insert("grant_types".into(), json!(m.grant_types));
    out.insert("response_types".into(), json!(m.response_types));
    if let Some(n) = &m.client_name {
        out.insert("client_name".into(), n.clone().into());
    }
    if let Some(s) = &m.scope {
        out.insert("scope".into(), s.to_string().into());
    }
    if let Some(s) = &m.software_statement {
        out.insert("software_statement".into(), s.clone().into());
    }
    out
}
