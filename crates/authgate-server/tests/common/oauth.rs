//! The client side of OAuth in the tests: PKCE pairs, authorization URLs, redirect
//! parameters, authenticated token requests.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Page;

/// A PKCE pair: (code_verifier, S256 code_challenge).
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(authgate::rng::random_bytes::<32>(&authgate::OsRng));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/authorize?` with `params` form-encoded.
pub fn authorize_path(params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("/authorize?{query}")
}

/// A redirect's query parameters.
pub fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// A redirect's fragment parameters.
pub fn fragment_of(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    Public(&'a str),
}

/// POSTs a form to an endpoint of the server, authenticated as `auth`.
pub async fn post_as(base: &str, path: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Page {
    let mut fields = form.to_vec();
    let mut req = super::http().post(format!("{base}{path}"));
    match auth {
        Auth::Basic(id, secret) => req = req.basic_auth(id, Some(secret)),
        Auth::Post(id, secret) => fields.extend([("client_id", id), ("client_secret", secret)]),
        Auth::Public(id) => fields.push(("client_id", id)),
    }
    Page::read(req.form(&fields).send().await.unwrap()).await
}

pub async fn token(base: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Page {
    post_as(base, "/token", auth, form).await
}

/// A successful token response's JSON, with its no-store header checked (RFC 6749 §5.1).
pub fn issued(page: &Page) -> Value {
    assert_eq!(page.status, 200, "token request failed: {}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let body = page.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}

/// An error response: its status and `error` code.
pub fn assert_error(page: &Page, status: u16, code: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.json()["error"], code, "{}", page.body);
}
