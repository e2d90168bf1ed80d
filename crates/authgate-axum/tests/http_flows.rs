//! Protocol behaviour over a real socket: every endpoint of the full test server (see
//! `common`), driven with plain `reqwest` requests, so status codes, headers and JSON
//! members are checked exactly as a client sees them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

// `common` is shared by several test binaries; its items are `pub` so that each can use
// them, which `unreachable_pub` flags inside any one binary.
#[allow(unreachable_pub)]
mod common;

// The example's `app` is `pub` for the same reason; only `app` is used here, its `main` is
// the example's entry point.
#[path = "../examples/server.rs"]
#[allow(dead_code, unreachable_pub)]
mod example;

use std::collections::HashMap;

use authgate::{Client, IntrospectionEndpoint};
use common::*;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// The status of the authorization endpoint's redirects after the consent form's POST:
/// 303, so the browser never re-sends the form (RFC 9700 §4.12).
const POST_REDIRECT: StatusCode = StatusCode::SEE_OTHER;

// ----- helpers ---------------------------------------------------------------------------

/// The authorization endpoint's URL with `params` in its query.
fn authorize_url(ts: &TestServer, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&ts.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// GET /authorize (the consent page's validation).
async fn authorize_get(ts: &TestServer, params: &[(&str, &str)]) -> Response {
    http().get(authorize_url(ts, params)).send().await.unwrap()
}

/// POST /authorize with the owner's decision; the request parameters stay in the query,
/// as when the consent form posts back to the page's URL.
async fn authorize_post(ts: &TestServer, params: &[(&str, &str)], confirm: &str) -> Response {
    http()
        .post(authorize_url(ts, params))
        .form(&[("confirm", confirm)])
        .send()
        .await
        .unwrap()
}

/// The authorization request of the web client: code, explicit redirect URI, S256 PKCE.
fn web_request() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", WEB_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// The authorization request of the native client: code, default redirect URI, S256 PKCE.
fn native_request() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", NATIVE_ID),
        ("state", "n-state"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// Approves `params` as alice and answers the code.
async fn code_for(ts: &TestServer, params: &[(&str, &str)]) -> String {
    let res = authorize_post(ts, params, "yes").await;
    assert_eq!(res.status(), POST_REDIRECT);
    redirect_params(&res)
        .remove("code")
        .expect("a code in the redirect")
}

/// The parameters of an authorization error redirect, after checking it is one.
fn error_redirect(res: &Response, status: StatusCode) -> HashMap<String, String> {
    assert_eq!(res.status(), status);
    let p = redirect_params(res);
    assert!(
        !p.contains_key("code"),
        "an error redirect with a code: {p:?}"
    );
    assert!(!p.contains_key("access_token"), "{p:?}");
    p
}

fn location(res: &Response) -> &str {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

/// POST /token authenticated with HTTP Basic.
async fn token_basic(ts: &TestServer, id: &str, secret: &str, form: &[(&str, &str)]) -> Response {
    http()
        .post(ts.url("/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// POST /token with whatever credentials `form` carries.
async fn token_form(ts: &TestServer, form: &[(&str, &str)]) -> Response {
    http()
        .post(ts.url("/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Checks a successful token response (RFC 6749 §5.1): 200, JSON, not cacheable, a Bearer
/// token; answers the body.
async fn expect_tokens(res: Response) -> Value {
    let status = res.status();
    let ct = header(&res, "content-type").map(str::to_owned);
    let cache = header(&res, "cache-control").map(str::to_owned);
    let pragma = header(&res, "pragma").map(str::to_owned);
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(pragma.as_deref(), Some("no-cache"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert!(
        v["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{v}"
    );
    v
}

/// Checks a JSON error answer (RFC 6749 §5.2): status, JSON content type, `error`; answers
/// the body.
async fn expect_error(res: Response, status: StatusCode, code: &str) -> Value {
    let got = res.status();
    let ct = header(&res, "content-type").map(str::to_owned);
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    assert_eq!(ct.as_deref(), Some("application/json"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"], code, "{v}");
    v
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Redeems a code of [`web_request`] as the web client (Basic), with the redirect URI and
/// the PKCE verifier.
async fn redeem_web_code(ts: &TestServer, code: &str) -> Response {
    token_basic(
        ts,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// The web client's tokens: code with PKCE, redeemed with Basic authentication.
async fn web_tokens(ts: &TestServer) -> Value {
    let code = code_for(ts, &web_request()).await;
    expect_tokens(redeem_web_code(ts, &code).await).await
}

/// The native (public) client's tokens: code with PKCE, redeemed with `client_id` only.
async fn native_tokens(ts: &TestServer) -> Value {
    let code = code_for(ts, &native_request()).await;
    expect_tokens(
        token_form(
            ts,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", NATIVE_ID),
                ("code_verifier", VERIFIER),
            ],
        )
        .await,
    )
    .await
}

/// The poster client's password-grant request for alice.
async fn password_request(ts: &TestServer, password: &str, scope: Option<&str>) -> Response {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", USER),
        ("password", password),
        ("client_id", POST_ID),
        ("client_secret", POST_SECRET),
    ];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    token_form(ts, &form).await
}

/// The poster client's tokens for alice (password grant).
async fn password_tokens(ts: &TestServer, scope: Option<&str>) -> Value {
    expect_tokens(password_request(ts, PASSWORD, scope).await).await
}

/// A client_credentials token for svc.
async fn svc_token(ts: &TestServer, scope: &str) -> Value {
    expect_tokens(
        token_basic(
            ts,
            SVC_ID,
            SVC_SECRET,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await,
    )
    .await
}

/// A refresh request; `client` is the form credentials.
async fn refresh(
    ts: &TestServer,
    client: &[(&str, &str)],
    token: &str,
    scope: Option<&str>,
) -> Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    form.extend_from_slice(client);
    token_form(ts, &form).await
}

const POSTER: [(&str, &str); 2] = [("client_id", POST_ID), ("client_secret", POST_SECRET)];
const NATIVE: [(&str, &str); 1] = [("client_id", NATIVE_ID)];

/// A web-client refresh request (Basic).
async fn web_refresh(ts: &TestServer, token: &str) -> Response {
    token_basic(
        ts,
        WEB_ID,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// GET `path` with an optional Bearer token.
async fn api(ts: &TestServer, path: &str, token: Option<&str>) -> Response {
    let mut req = http().get(ts.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The status of GET /api/me with `token`.
async fn me_status(ts: &TestServer, token: &str) -> StatusCode {
    api(ts, "/api/me", Some(token)).await.status()
}

/// Checks a 401 `invalid_token` answer of a protected route (RFC 6750 §3.1).
async fn expect_invalid_token(res: Response) {
    let challenge = header(&res, "www-authenticate").map(str::to_owned);
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let challenge = challenge.expect("a WWW-Authenticate challenge");
    assert!(
        challenge.starts_with(r#"Bearer realm="authgate", error="invalid_token""#),
        "{challenge}"
    );
}

/// POST /revoke with form credentials.
async fn revoke(ts: &TestServer, client: &[(&str, &str)], token: Option<&str>) -> Response {
    let mut form: Vec<(&str, &str)> = client.to_vec();
    if let Some(t) = token {
        form.push(("token", t));
    }
    http()
        .post(ts.url("/revoke"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Checks the revocation endpoint's success: 200 with an empty body (RFC 7009 §2.2).
async fn expect_revoked_ok(res: Response) {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "");
}

/// POST /introspect authenticated with Basic.
async fn introspect(ts: &TestServer, id: &str, secret: &str, token: &str) -> Response {
    http()
        .post(ts.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

async fn introspect_json(ts: &TestServer, token: &str) -> Value {
    let res = introspect(ts, SVC_ID, SVC_SECRET, token).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

// ----- authorization code grant: the happy path ------------------------------------------

#[tokio::test]
async fn code_flow_with_pkce_issues_tokens_that_open_the_api_rfc6749_4_1() {
    let ts = start().await;

    // The consent page sees the validated request.
    let res = authorize_get(&ts, &web_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v,
        json!({
            "client_id": WEB_ID,
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "state": "xyz",
            "response_type": "code",
        })
    );

    // Approval redirects to the registered URI with code, state and iss (RFC 9207 §2).
    let res = authorize_post(&ts, &web_request(), "yes").await;
    assert_eq!(res.status(), POST_REDIRECT);
    assert!(
        location(&res).starts_with(&format!("{REDIRECT}?")),
        "{}",
        location(&res)
    );
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
    let p = redirect_params(&res);
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
    let code = p["code"].clone();
    assert!(!code.is_empty());
    assert_eq!(p.len(), 3, "{p:?}");

    let t = expect_tokens(
        token_basic(
            &ts,
            WEB_ID,
            WEB_SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "openid profile");
    assert!(t["refresh_token"].is_string(), "{t}");

    let res = api(&ts, "/api/me", Some(s(&t["access_token"]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "sub": SUBJECT, "username": USER, "client_id": WEB_ID })
    );
}

// ----- authorization endpoint errors -----------------------------------------------------

#[tokio::test]
async fn unknown_client_id_is_400_and_never_redirected_rfc6749_4_1_2_1() {
    let ts = start().await;
    let mut params = web_request();
    params[1] = ("client_id", "nobody");
    for res in [
        authorize_get(&ts, &params).await,
        authorize_post(&ts, &params, "yes").await,
    ] {
        assert!(res.headers().get("location").is_none());
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

#[tokio::test]
async fn unregistered_redirect_uri_is_400_and_never_redirected_rfc6749_4_1_2_1() {
    let ts = start().await;
    for bad in [
        "https://evil.example/cb",
        "http://127.0.0.1:9/cb/extra",
        "http://127.0.0.1:9/cb?x=1",
    ] {
        let mut params = web_request();
        params[2] = ("redirect_uri", bad);
        for res in [
            authorize_get(&ts, &params).await,
            authorize_post(&ts, &params, "yes").await,
        ] {
            assert!(res.headers().get("location").is_none(), "{bad}");
            expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }
}

#[tokio::test]
async fn missing_response_type_is_redirected_invalid_request_with_state_and_iss_rfc6749_4_1_2_1() {
    let ts = start().await;
    let params: Vec<_> = web_request()
        .into_iter()
        .filter(|(k, _)| *k != "response_type")
        .collect();
    let res = authorize_get(&ts, &params).await;
    assert!(location(&res).starts_with(&format!("{REDIRECT}?")));
    let p = error_redirect(&res, StatusCode::FOUND);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn unsupported_response_type_is_redirected_with_state_and_iss_rfc6749_4_1_2_1() {
    let ts = start().await;
    let mut params = web_request();
    params[0] = ("response_type", "id_token");
    let res = authorize_get(&ts, &params).await;
    let p = error_redirect(&res, StatusCode::FOUND);
    assert_eq!(p["error"], "unsupported_response_type");
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn response_type_the_client_may_not_use_is_unauthorized_client_rfc6749_4_2_2_1() {
    let ts = start().await;
    // web is registered for `code` only; `token` errors travel in the fragment.
    let params = [
        ("response_type", "token"),
        ("client_id", WEB_ID),
        ("redirect_uri", REDIRECT),
        ("state", "xyz"),
    ];
    let res = authorize_get(&ts, &params).await;
    assert!(
        location(&res).starts_with(&format!("{REDIRECT}#")),
        "{}",
        location(&res)
    );
    let p = error_redirect(&res, StatusCode::FOUND);
    assert_eq!(p["error"], "unauthorized_client");
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn scope_beyond_the_client_is_redirected_invalid_scope_rfc6749_4_1_2_1() {
    let ts = start().await;
    let mut params = web_request();
    params[3] = ("scope", "profile admin");
    let res = authorize_get(&ts, &params).await;
    let p = error_redirect(&res, StatusCode::FOUND);
    assert_eq!(p["error"], "invalid_scope");
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn denied_consent_redirects_access_denied_with_state_and_iss_rfc9207_2() {
    let ts = start().await;
    let res = authorize_post(&ts, &web_request(), "no").await;
    assert!(location(&res).starts_with(&format!("{REDIRECT}?")));
    let p = error_redirect(&res, POST_REDIRECT);
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn public_client_without_code_challenge_is_invalid_request_rfc9700_2_1_1() {
    let ts = start().await;
    let params = [
        ("response_type", "code"),
        ("client_id", NATIVE_ID),
        ("state", "n-state"),
    ];
    for (res, status) in [
        (authorize_get(&ts, &params).await, StatusCode::FOUND),
        (authorize_post(&ts, &params, "yes").await, POST_REDIRECT),
    ] {
        assert!(location(&res).starts_with(&format!("{NATIVE_REDIRECT}?")));
        let p = error_redirect(&res, status);
        assert_eq!(p["error"], "invalid_request");
        assert_eq!(p["state"], "n-state");
        assert_eq!(p["iss"], ISSUER);
    }
}

#[tokio::test]
async fn plain_code_challenge_method_is_rejected_by_default_rfc9700_2_1_1() {
    let ts = start().await;
    let mut params = native_request();
    params[3] = ("code_challenge", VERIFIER);
    params[4] = ("code_challenge_method", "plain");
    let p = error_redirect(&authorize_get(&ts, &params).await, StatusCode::FOUND);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "n-state");
    assert_eq!(p["iss"], ISSUER);

    // No method means plain (RFC 7636 §4.3): rejected as well.
    params.truncate(4);
    let p = error_redirect(&authorize_get(&ts, &params).await, StatusCode::FOUND);
    assert_eq!(p["error"], "invalid_request");
}

#[tokio::test]
async fn unknown_code_challenge_method_is_invalid_request_rfc7636_4_4_1() {
    let ts = start().await;
    let mut params = native_request();
    params[4] = ("code_challenge_method", "S512");
    let p = error_redirect(&authorize_get(&ts, &params).await, StatusCode::FOUND);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "n-state");
    assert_eq!(p["iss"], ISSUER);
}

#[tokio::test]
async fn repeated_authorization_parameter_is_invalid_request_rfc6749_3_1() {
    let ts = start().await;
    let mut params = web_request();
    params.push(("scope", "profile"));
    for (res, status) in [
        (authorize_get(&ts, &params).await, StatusCode::FOUND),
        (authorize_post(&ts, &params, "yes").await, POST_REDIRECT),
    ] {
        let p = error_redirect(&res, status);
        assert_eq!(p["error"], "invalid_request");
        assert_eq!(p["state"], "xyz");
        assert_eq!(p["iss"], ISSUER);
    }
}

#[tokio::test]
async fn repeated_state_is_invalid_request_rfc6749_3_1() {
    let ts = start().await;
    let mut params = web_request();
    params.push(("state", "other"));
    for (res, status) in [
        (authorize_get(&ts, &params).await, StatusCode::FOUND),
        (authorize_post(&ts, &params, "yes").await, POST_REDIRECT),
    ] {
        let p = error_redirect(&res, status);
        assert_eq!(p["error"], "invalid_request");
        assert_eq!(p["iss"], ISSUER);
    }
}

#[tokio::test]
async fn repeated_client_id_is_400_and_never_redirected_rfc6749_3_1() {
    let ts = start().await;
    let mut params = web_request();
    params.push(("client_id", WEB_ID));
    let res = authorize_get(&ts, &params).await;
    assert!(res.headers().get("location").is_none());
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn response_mode_query_with_token_response_is_rejected_rfc9700_4_3_2() {
    let ts = start().await;
    let params = [
        ("response_type", "token"),
        ("client_id", NATIVE_ID),
        ("response_mode", "query"),
        ("state", "n-state"),
    ];
    for (res, status) in [
        (authorize_get(&ts, &params).await, StatusCode::FOUND),
        (authorize_post(&ts, &params, "yes").await, POST_REDIRECT),
    ] {
        // The error goes where the token would have: the fragment, never the query.
        let loc = location(&res).to_owned();
        assert!(loc.starts_with(&format!("{NATIVE_REDIRECT}#")), "{loc}");
        let p = error_redirect(&res, status);
        assert_eq!(p["error"], "invalid_request");
        assert_eq!(p["state"], "n-state");
        assert_eq!(p["iss"], ISSUER);
    }
}

// ----- token endpoint: authorization codes -----------------------------------------------

#[tokio::test]
async fn code_replay_is_invalid_grant_and_revokes_tokens_rfc6749_4_1_2() {
    let ts = start().await;
    let code = code_for(&ts, &web_request()).await;
    let first = expect_tokens(redeem_web_code(&ts, &code).await).await;
    let access = s(&first["access_token"]);
    let refresh_token = s(&first["refresh_token"]);
    assert_eq!(me_status(&ts, access).await, StatusCode::OK);

    let res = redeem_web_code(&ts, &code).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // RFC 9700 §4.5: everything issued from the code is revoked.
    expect_invalid_token(api(&ts, "/api/me", Some(access)).await).await;
    let res = web_refresh(&ts, refresh_token).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn code_expires_after_ten_minutes_rfc6749_4_1_2() {
    let ts = start().await;
    let early = code_for(&ts, &web_request()).await;
    let late = code_for(&ts, &web_request()).await;
    ts.clock.advance(599);
    expect_tokens(redeem_web_code(&ts, &early).await).await;
    ts.clock.advance(2);
    let res = redeem_web_code(&ts, &late).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn code_is_bound_to_its_client_rfc6749_4_1_3() {
    let ts = start().await;
    let code = code_for(&ts, &web_request()).await;
    let res = token_form(
        &ts,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", POST_ID),
            ("client_secret", POST_SECRET),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn redirect_uri_sent_at_authorization_is_required_at_token_endpoint_rfc6749_4_1_3() {
    let ts = start().await;
    let code = code_for(&ts, &web_request()).await;
    let res = token_basic(
        &ts,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn redirect_uri_at_token_endpoint_must_match_rfc6749_4_1_3() {
    let ts = start().await;
    let code = code_for(&ts, &web_request()).await;
    let res = token_basic(
        &ts,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant_rfc7636_4_6() {
    let ts = start().await;
    let code = code_for(&ts, &native_request()).await;
    let wrong = "a".repeat(43);
    let res = token_form(
        &ts,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", NATIVE_ID),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn code_verifier_for_code_issued_without_challenge_is_rejected_rfc9700_2_1_1() {
    let ts = start().await;
    // web is confidential, so PKCE is optional for it; this code binds no challenge.
    let params: Vec<_> = web_request()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let code = code_for(&ts, &params).await;
    let res = token_basic(
        &ts,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn missing_code_verifier_when_challenge_bound_is_rejected_rfc7636_4_5() {
    let ts = start().await;
    let code = code_for(&ts, &web_request()).await;
    let res = token_basic(
        &ts,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

// ----- token endpoint: client authentication and request shape ---------------------------

#[tokio::test]
async fn wrong_basic_secret_is_401_invalid_client_with_basic_challenge_rfc6749_5_2() {
    let ts = start().await;
    let res = token_basic(
        &ts,
        SVC_ID,
        "wrong",
        &[("grant_type", "client_credentials")],
    )
    .await;
    let challenge = header(&res, "www-authenticate").map(str::to_owned);
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let challenge = challenge.expect("a WWW-Authenticate header");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert!(challenge.contains(r#"realm="authgate""#), "{challenge}");
}

#[tokio::test]
async fn basic_and_body_secret_together_is_invalid_request_rfc6749_2_3() {
    let ts = start().await;
    let res = token_basic(
        &ts,
        SVC_ID,
        SVC_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", SVC_SECRET),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn wrong_post_secret_is_400_invalid_client_without_challenge_rfc6749_5_2() {
    let ts = start().await;
    let res = token_form(
        &ts,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", POST_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert!(res.headers().get("www-authenticate").is_none());
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_client").await;
}

#[tokio::test]
async fn unsupported_grant_type_is_rejected_rfc6749_5_2() {
    let ts = start().await;
    let res = token_basic(
        &ts,
        SVC_ID,
        SVC_SECRET,
        &[("grant_type", "urn:example:unknown")],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
}

#[tokio::test]
async fn grant_type_not_allowed_for_client_is_unauthorized_client_rfc6749_5_2() {
    let ts = start().await;
    let res = token_basic(
        &ts,
        SVC_ID,
        SVC_SECRET,
        &[
            ("grant_type", "password"),
            ("username", USER),
            ("password", PASSWORD),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn json_token_request_is_invalid_request_rfc6749_3_2() {
    let ts = start().await;
    let res = http()
        .post(ts.url("/token"))
        .basic_auth(SVC_ID, Some(SVC_SECRET))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn get_on_token_endpoint_is_a_json_error_rfc6749_3_2() {
    let ts = start().await;
    let res = http()
        .get(ts.url("/token?grant_type=client_credentials"))
        .basic_auth(SVC_ID, Some(SVC_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "allow"), Some("POST"));
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "invalid_request").await;

    // The revocation and introspection endpoints answer the same way (RFC 7009 §2.1,
    // RFC 7662 §2.1: POST only).
    for path in ["/revoke", "/introspect"] {
        let res = http()
            .get(ts.url(&format!("{path}?token=x")))
            .basic_auth(SVC_ID, Some(SVC_SECRET))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&res, "allow"), Some("POST"), "{path}");
        expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "invalid_request").await;
    }
}

#[tokio::test]
async fn token_request_body_over_64_kib_is_413_json_error() {
    let ts = start().await;
    let pad = "a".repeat(64 * 1024);
    let res = token_basic(
        &ts,
        SVC_ID,
        SVC_SECRET,
        &[("grant_type", "client_credentials"), ("pad", &pad)],
    )
    .await;
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
}

// ----- token responses --------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_token_lives_the_configured_600_seconds_rfc6749_5_1() {
    let ts = start().await;
    let t = svc_token(&ts, "read").await;
    assert_eq!(t["expires_in"], 600);
    assert_eq!(t["scope"], "read");
}

#[tokio::test]
async fn password_token_lives_the_default_3600_seconds_rfc6749_5_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    assert_eq!(t["expires_in"], 3600);
}

#[tokio::test]
async fn token_error_responses_are_not_cacheable_rfc6749_5_1() {
    let ts = start().await;
    let res = password_request(&ts, "wrong", None).await;
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
    assert_eq!(header(&res, "pragma"), Some("no-cache"));
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

// ----- implicit grant ---------------------------------------------------------------------

#[tokio::test]
async fn implicit_grant_returns_token_in_fragment_without_refresh_token_rfc6749_4_2_2() {
    let ts = start().await;
    let params = [
        ("response_type", "token"),
        ("client_id", NATIVE_ID),
        ("state", "n-state"),
        ("scope", "profile"),
    ];
    let res = authorize_post(&ts, &params, "yes").await;
    assert_eq!(res.status(), POST_REDIRECT);
    let loc = url::Url::parse(location(&res)).unwrap();
    assert_eq!(loc.query(), None, "tokens never travel in the query");
    assert!(loc.fragment().is_some());
    let p = redirect_params(&res);
    assert_eq!(p["token_type"], "Bearer");
    assert_eq!(p["state"], "n-state");
    assert_eq!(p["iss"], ISSUER);
    assert_eq!(p["expires_in"], "3600");
    assert_eq!(p["scope"], "profile");
    assert!(!p.contains_key("refresh_token"), "{p:?}");
    let access = &p["access_token"];
    assert!(!access.is_empty());

    let res = api(&ts, "/api/me", Some(access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "sub": SUBJECT, "username": USER, "client_id": NATIVE_ID })
    );
}

// ----- password grant ---------------------------------------------------------------------

#[tokio::test]
async fn password_grant_issues_access_and_refresh_tokens_rfc6749_4_3_3() {
    let ts = start().await;
    let t = password_tokens(&ts, Some("profile")).await;
    assert_eq!(t["scope"], "profile");
    assert!(
        t["refresh_token"].as_str().is_some_and(|r| !r.is_empty()),
        "{t}"
    );
    let res = api(&ts, "/api/me", Some(s(&t["access_token"]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "sub": SUBJECT, "username": USER, "client_id": POST_ID })
    );
}

#[tokio::test]
async fn password_grant_with_wrong_password_is_invalid_grant_rfc6749_5_2() {
    let ts = start().await;
    let res = password_request(&ts, "not-wonderland", None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

// ----- client credentials grant -----------------------------------------------------------

#[tokio::test]
async fn client_credentials_for_public_client_is_unauthorized_client_rfc6749_4_4() {
    let ts = start().await;
    let res = token_form(
        &ts,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", NATIVE_ID),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn client_credentials_never_issues_a_refresh_token_rfc6749_4_4_3() {
    let ts = start().await;
    // poster may use the refresh_token grant, and refresh tokens are on: still none.
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(&POSTER);
    let t = expect_tokens(token_form(&ts, &form).await).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert_eq!(t["expires_in"], 600);

    let t = svc_token(&ts, "read write").await;
    assert!(t.get("refresh_token").is_none(), "{t}");
}

// ----- refresh token grant ----------------------------------------------------------------

#[tokio::test]
async fn refresh_may_narrow_the_scope_rfc6749_6() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    assert_eq!(t["scope"], "email profile read");
    let r =
        expect_tokens(refresh(&ts, &POSTER, s(&t["refresh_token"]), Some("profile")).await).await;
    assert_eq!(r["scope"], "profile");
    assert_eq!(me_status(&ts, s(&r["access_token"])).await, StatusCode::OK);
    let i = introspect_json(&ts, s(&r["access_token"])).await;
    assert_eq!(i["scope"], "profile");
}

#[tokio::test]
async fn refresh_may_not_widen_the_scope_rfc6749_6() {
    let ts = start().await;
    // Granted profile only; email is within the client's scope but not the grant's.
    let t = password_tokens(&ts, Some("profile")).await;
    let res = refresh(&ts, &POSTER, s(&t["refresh_token"]), Some("profile email")).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;
}

#[tokio::test]
async fn confidential_client_refresh_token_is_not_rotated() {
    let ts = start().await;
    let t = web_tokens(&ts).await;
    let rt = s(&t["refresh_token"]);

    let r1 = expect_tokens(web_refresh(&ts, rt).await).await;
    assert!(r1.get("refresh_token").is_none(), "{r1}");
    assert_eq!(r1["scope"], "openid profile");
    assert_eq!(me_status(&ts, s(&r1["access_token"])).await, StatusCode::OK);

    // The same refresh token keeps working, and the earlier tokens stay valid.
    let r2 = expect_tokens(web_refresh(&ts, rt).await).await;
    assert_ne!(r2["access_token"], r1["access_token"]);
    assert_eq!(me_status(&ts, s(&r1["access_token"])).await, StatusCode::OK);
    assert_eq!(me_status(&ts, s(&t["access_token"])).await, StatusCode::OK);
}

#[tokio::test]
async fn public_client_refresh_token_rotates_rfc9700_4_14_2() {
    let ts = start().await;
    let t = native_tokens(&ts).await;
    let old = s(&t["refresh_token"]);

    let r1 = expect_tokens(refresh(&ts, &NATIVE, old, None).await).await;
    let new = s(&r1["refresh_token"]);
    assert_ne!(new, old);
    assert_eq!(me_status(&ts, s(&r1["access_token"])).await, StatusCode::OK);

    // The replacement works, and rotates in turn.
    let r2 = expect_tokens(refresh(&ts, &NATIVE, new, None).await).await;
    assert!(r2["refresh_token"].is_string());
    assert_ne!(r2["refresh_token"], r1["refresh_token"]);
    assert_eq!(me_status(&ts, s(&r2["access_token"])).await, StatusCode::OK);
}

#[tokio::test]
async fn reused_rotated_refresh_token_revokes_the_family_rfc9700_4_14_2() {
    let ts = start().await;
    let t = native_tokens(&ts).await;
    let old = s(&t["refresh_token"]);
    let r = expect_tokens(refresh(&ts, &NATIVE, old, None).await).await;
    let newest_access = s(&r["access_token"]);
    let newest_refresh = s(&r["refresh_token"]);
    assert_eq!(me_status(&ts, newest_access).await, StatusCode::OK);

    let res = refresh(&ts, &NATIVE, old, None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // The whole grant is gone: the newest access and refresh tokens, and the first ones.
    expect_invalid_token(api(&ts, "/api/me", Some(newest_access)).await).await;
    expect_invalid_token(api(&ts, "/api/me", Some(s(&t["access_token"]))).await).await;
    let res = refresh(&ts, &NATIVE, newest_refresh, None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn refresh_token_of_another_client_is_invalid_grant_rfc6749_6() {
    let ts = start().await;
    let t = web_tokens(&ts).await;
    let rt = s(&t["refresh_token"]);
    let res = refresh(&ts, &POSTER, rt, None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The attempt did not harm the owner's token.
    expect_tokens(web_refresh(&ts, rt).await).await;
}

// ----- revocation (RFC 7009) --------------------------------------------------------------

#[tokio::test]
async fn revoked_access_token_is_refused_rfc7009_2_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    assert_eq!(me_status(&ts, access).await, StatusCode::OK);
    expect_revoked_ok(revoke(&ts, &POSTER, Some(access)).await).await;
    expect_invalid_token(api(&ts, "/api/me", Some(access)).await).await;
}

#[tokio::test]
async fn revoking_an_unknown_token_answers_200_rfc7009_2_2() {
    let ts = start().await;
    expect_revoked_ok(revoke(&ts, &POSTER, Some("no-such-token")).await).await;
}

#[tokio::test]
async fn revoking_another_clients_token_answers_200_and_changes_nothing_rfc7009_2_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    let res = http()
        .post(ts.url("/revoke"))
        .basic_auth(WEB_ID, Some(WEB_SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    expect_revoked_ok(res).await;
    assert_eq!(me_status(&ts, access).await, StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_grants_access_tokens_rfc7009_2_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    let rt = s(&t["refresh_token"]);
    // A second access token of the same grant, from the (non-rotating) refresh token.
    let r = expect_tokens(refresh(&ts, &POSTER, rt, None).await).await;
    let access2 = s(&r["access_token"]);

    let res = http()
        .post(ts.url("/revoke"))
        .form(&[
            ("token", rt),
            ("token_type_hint", "refresh_token"),
            ("client_id", POST_ID),
            ("client_secret", POST_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_revoked_ok(res).await;
    expect_invalid_token(api(&ts, "/api/me", Some(access)).await).await;
    expect_invalid_token(api(&ts, "/api/me", Some(access2)).await).await;
    let res = refresh(&ts, &POSTER, rt, None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn public_client_revokes_its_own_token_with_client_id_only_rfc7009_2_1() {
    let ts = start().await;
    let t = native_tokens(&ts).await;
    let access = s(&t["access_token"]);
    assert_eq!(me_status(&ts, access).await, StatusCode::OK);
    expect_revoked_ok(revoke(&ts, &NATIVE, Some(access)).await).await;
    expect_invalid_token(api(&ts, "/api/me", Some(access)).await).await;
}

#[tokio::test]
async fn revocation_without_token_is_invalid_request_rfc7009_2_1() {
    let ts = start().await;
    let res = revoke(&ts, &POSTER, None).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

// ----- introspection (RFC 7662) -----------------------------------------------------------

#[tokio::test]
async fn introspection_of_an_active_token_lists_its_claims_rfc7662_2_2() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let i = introspect_json(&ts, s(&t["access_token"])).await;
    let iat = 1_800_000_000_i64;
    assert_eq!(
        i,
        json!({
            "active": true,
            "scope": "email profile read",
            "client_id": POST_ID,
            "username": USER,
            "sub": SUBJECT,
            "token_type": "Bearer",
            "exp": iat + 3600,
            "iat": iat,
            "iss": ISSUER,
            // No resource named (RFC 8707): the server's default audience, the issuer.
            "aud": ISSUER,
        })
    );
}

#[tokio::test]
async fn introspection_of_a_revoked_token_is_only_inactive_rfc7662_2_2() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    expect_revoked_ok(revoke(&ts, &POSTER, Some(access)).await).await;
    assert_eq!(
        introspect_json(&ts, access).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn introspection_of_an_expired_token_is_only_inactive_rfc7662_2_2() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    ts.clock.advance(3599);
    assert_eq!(introspect_json(&ts, access).await["active"], true);
    ts.clock.advance(2);
    assert_eq!(
        introspect_json(&ts, access).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn introspection_of_an_unknown_token_is_only_inactive_rfc7662_2_2() {
    let ts = start().await;
    assert_eq!(
        introspect_json(&ts, "no-such-token").await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn public_client_may_not_introspect_rfc7662_4() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let res = http()
        .post(ts.url("/introspect"))
        .form(&[("token", s(&t["access_token"])), ("client_id", NATIVE_ID)])
        .send()
        .await
        .unwrap();
    let v = expect_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert!(v.get("active").is_none(), "{v}");
}

#[tokio::test]
async fn introspection_without_any_client_authentication_is_401_with_a_challenge_rfc7662_2_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let res = http()
        .post(ts.url("/introspect"))
        .form(&[("token", s(&t["access_token"]))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&res, "www-authenticate").unwrap().to_owned();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    let v = expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(v.get("active").is_none(), "{v}");
}

#[tokio::test]
async fn custom_introspection_policy_decides_who_may_introspect_rfc7662_4() {
    let ts = start_with(|mut s| {
        s.register_introspection_endpoint(
            IntrospectionEndpoint::new().policy(|c: &dyn Client| c.client_id() == "web"),
        );
        s
    })
    .await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);

    let res = introspect(&ts, SVC_ID, SVC_SECRET, access).await;
    expect_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;

    let res = introspect(&ts, WEB_ID, WEB_SECRET, access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], POST_ID);
}

// ----- resource protection (RFC 6750) -----------------------------------------------------

#[tokio::test]
async fn missing_token_is_401_with_a_bare_bearer_challenge_rfc6750_3_1() {
    let ts = start().await;
    let res = api(&ts, "/api/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&res, "www-authenticate"),
        Some(r#"Bearer realm="authgate""#)
    );
    let v: Value = res.json().await.unwrap();
    assert!(v.get("error").is_none(), "{v}");
}

#[tokio::test]
async fn garbage_token_is_401_invalid_token_rfc6750_3_1() {
    let ts = start().await;
    expect_invalid_token(api(&ts, "/api/me", Some("garbage-token")).await).await;
}

#[tokio::test]
async fn expired_token_is_401_invalid_token_rfc6750_3_1() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let access = s(&t["access_token"]);
    ts.clock.advance(3599);
    assert_eq!(me_status(&ts, access).await, StatusCode::OK);
    ts.clock.advance(2);
    expect_invalid_token(api(&ts, "/api/me", Some(access)).await).await;
}

#[tokio::test]
async fn insufficient_scope_is_403_naming_the_required_scope_rfc6750_3_1() {
    let ts = start().await;
    let t = svc_token(&ts, "read").await;
    let res = api(&ts, "/api/me", Some(s(&t["access_token"]))).await;
    let challenge = header(&res, "www-authenticate").map(str::to_owned);
    expect_error(res, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let challenge = challenge.expect("a WWW-Authenticate challenge");
    assert!(
        challenge.starts_with(r#"Bearer realm="authgate", error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="profile""#), "{challenge}");
}

#[tokio::test]
async fn any_of_route_accepts_a_token_with_one_of_the_scopes() {
    let ts = start().await;
    let t = svc_token(&ts, "read").await;
    let res = api(&ts, "/api/any", Some(s(&t["access_token"]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v,
        json!({ "sub": null, "username": null, "client_id": SVC_ID })
    );

    // A token with neither scope is still refused.
    let t = svc_token(&ts, "write").await;
    let res = api(&ts, "/api/any", Some(s(&t["access_token"]))).await;
    expect_error(res, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[tokio::test]
async fn optional_route_works_with_and_without_a_token() {
    let ts = start().await;
    let res = api(&ts, "/api/open", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "client_id": null })
    );

    let t = password_tokens(&ts, None).await;
    let res = api(&ts, "/api/open", Some(s(&t["access_token"]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "client_id": POST_ID })
    );

    // A bad token is refused even where none is needed.
    expect_invalid_token(api(&ts, "/api/open", Some("garbage-token")).await).await;
}

#[tokio::test]
async fn token_in_query_string_is_ignored_by_default_rfc6750_2_3() {
    let ts = start().await;
    let t = password_tokens(&ts, None).await;
    let mut url = url::Url::parse(&ts.url("/api/me")).unwrap();
    url.query_pairs_mut()
        .append_pair("access_token", s(&t["access_token"]));
    let res = http().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&res, "www-authenticate"),
        Some(r#"Bearer realm="authgate""#)
    );
    let v: Value = res.json().await.unwrap();
    assert!(v.get("error").is_none(), "{v}");
}

// ----- metadata (RFC 8414) ----------------------------------------------------------------

#[tokio::test]
async fn metadata_lists_issuer_endpoints_grants_and_pkce_rfc8414_2() {
    let ts = start().await;
    let res = http()
        .get(ts.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-type"), Some("application/json"));
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(m["authorization_endpoint"], format!("{ISSUER}/authorize"));
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/token"));
    assert_eq!(m["revocation_endpoint"], format!("{ISSUER}/revoke"));
    assert_eq!(m["introspection_endpoint"], format!("{ISSUER}/introspect"));
    assert_eq!(
        m["grant_types_supported"],
        json!([
            "authorization_code",
            "client_credentials",
            "implicit",
            "password",
            "refresh_token"
        ])
    );
    assert_eq!(m["response_types_supported"], json!(["code", "token"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

// ----- the example server -----------------------------------------------------------------

#[tokio::test]
async fn example_app_issues_tokens_that_open_its_api() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = example::app(&base).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = http();

    let res = client
        .post(format!("{base}/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
        .send()
        .await
        .unwrap();
    let cc = expect_tokens(res).await;
    assert!(cc.get("refresh_token").is_none(), "{cc}");
    let res = client
        .get(format!("{base}/api/me"))
        .bearer_auth(s(&cc["access_token"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "sub": null, "username": null })
    );

    let res = client
        .post(format!("{base}/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonderland"),
        ])
        .send()
        .await
        .unwrap();
    let pw = expect_tokens(res).await;
    assert!(pw["refresh_token"].is_string(), "{pw}");
    let res = client
        .get(format!("{base}/api/me"))
        .bearer_auth(s(&pw["access_token"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "sub": "user-1", "username": "alice" })
    );

    // And the example protects its API.
    let res = client.get(format!("{base}/api/me")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
