//! The reference server as an OpenID Provider, over HTTP as relying parties and browsers
//! see it: ID tokens (verified against `/jwks`), UserInfo, prompt and max_age, remembered
//! consent, form_post, implicit and hybrid responses, pairwise subjects, RP-initiated and
//! back-channel logout, and sessions that end when the user's password changes. Each flow
//! runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authgate::jose::{Jwks, JwksVerifier, VerifiedJwt};
use common::oauth::{fragment_of, issued, pkce, query_of, token, Auth};
use common::server::TestServer;
use common::{Browser, Page};
use serde_json::{json, Value};

const CB: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}
cors_origins = ["https://spa.example"]

[tokens]
refresh_tokens = true

[keys]
algorithms = ["RS256", "ES256", "EdDSA"]

[[clients]]
client_id = "rp"
client_secret = "rp-secret"
client_name = "Relying Party"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "refresh_token", "implicit"]
response_types = ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"]
scope = "openid profile email address phone"
post_logout_redirect_uris = ["http://127.0.0.1:9/bye"]

[[clients]]
client_id = "es"
client_secret = "es-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code"]
scope = "openid email"
id_token_signed_response_alg = "ES256"
userinfo_signed_response_alg = "EdDSA"

[[clients]]
client_id = "pw"
client_secret = "pw-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code"]
scope = "openid email"
subject_type = "pairwise"

[[clients]]
client_id = "first"
client_secret = "first-secret"
client_name = "First Party"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code"]
scope = "openid profile"
skip_consent = true
default_max_age = 600

[[users]]
username = "alice"
password = "wonderland"
subject = "user-alice"
name = "Alice Liddell"
given_name = "Alice"
email = "alice@example.com"
email_verified = true
phone_number = "+44 1865 000000"
updated_at = 1700000000
address = { locality = "Oxford", country = "UK" }

[[users]]
username = "bob"
password = "builder"
"#;

on_both_backends!(
    crate::CONFIG;
    code_flow_answers_an_id_token_verified_with_the_published_keys_oidc_core_3_1_3_7,
    userinfo_answers_the_granted_claims_by_get_and_post_with_cors_oidc_core_5_3,
    refresh_answers_a_new_id_token_with_the_same_sub_and_auth_time_oidc_core_12_2,
    remembered_consent_skips_the_page_and_lets_prompt_none_succeed_oidc_core_3_1_2_1,
    prompt_none_without_a_session_is_login_required_at_the_redirect_uri_oidc_core_3_1_2_6,
    prompt_login_and_max_age_ask_for_a_fresh_sign_in_oidc_core_3_1_2_1,
    login_hint_fills_in_the_username_oidc_core_3_1_2_1,
    form_post_answers_a_page_that_posts_to_the_redirect_uri_form_post_response_mode_2,
    implicit_and_hybrid_responses_carry_their_hashes_oidc_core_3_2_and_3_3,
    each_client_gets_its_signing_algorithm_and_pairwise_clients_their_own_sub_oidc_core_8,
    rp_initiated_logout_ends_the_session_and_returns_to_the_registered_uri_rp_initiated_logout_2,
    an_unregistered_post_logout_redirect_uri_is_never_followed_rp_initiated_logout_3_1,
    revoking_an_approval_revokes_the_clients_tokens,
    a_first_party_client_skips_consent_and_its_default_max_age_applies,
    requests_sent_by_post_are_taken_oidc_core_3_1_2_1_and_rp_initiated_logout_2,
);

// ----- helpers ---------------------------------------------------------------------------

/// The server's published keys.
async fn verifier(base: &str) -> JwksVerifier {
    let jwks: Jwks = common::http()
        .get(format!("{base}/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    JwksVerifier::new(jwks)
}

async fn verify(base: &str, jwt: &str) -> VerifiedJwt {
    verifier(base).await.verify(jwt).unwrap()
}

fn authorize_url(client: &str, response_type: &str, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client)
        .append_pair("response_type", response_type)
        .append_pair("redirect_uri", CB)
        .append_pair("state", "st");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

/// A code request of `client` with `extra` parameters and S256 PKCE: (verifier, path).
fn code_url(client: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut params = extra.to_vec();
    params.extend([
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    (verifier, authorize_url(client, "code", &params))
}

/// Approves the consent page `page` (posting its form back to `path`).
async fn approve(browser: &mut Browser, path: &str, page: &Page) -> Page {
    assert_eq!(page.status, 200, "expected the consent page: {}", page.body);
    assert!(page.body.contains("id=\"approve\""), "{}", page.body);
    let csrf = page.hidden("csrf").unwrap();
    browser
        .post(path, &[("csrf", csrf.as_str()), ("confirm", "yes")])
        .await
}

/// Signs `browser` in as alice and runs the authorization request through the consent page
/// (approving it when it shows); answers the final response.
async fn authorize(browser: &mut Browser, path: &str) -> Page {
    if !browser.jar.contains_key("authgate_session") {
        browser.login("alice", "wonderland").await;
    }
    let page = browser.get(path).await;
    if page.status == 200 && page.body.contains("id=\"approve\"") {
        approve(browser, path, &page).await
    } else {
        page
    }
}

/// A code for `client` (S256 PKCE, the nonce `n-0S6`), with its verifier.
async fn code(browser: &mut Browser, client: &str, scope: &str) -> (String, String) {
    let (verifier, path) = code_url(client, &[("scope", scope), ("nonce", "n-0S6")]);
    let done = authorize(browser, &path).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.body);
    let q = query_of(done.location().unwrap());
    (q["code"].clone(), verifier)
}

async fn redeem(base: &str, client: &str, secret: &str, code: &str, verifier: &str) -> Value {
    issued(
        &token(
            base,
            Auth::Basic(client, secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
                ("code_verifier", verifier),
            ],
        )
        .await,
    )
}

/// Alice's tokens at `rp` for `scope`.
async fn rp_tokens(browser: &mut Browser, scope: &str) -> Value {
    let (c, v) = code(browser, "rp", scope).await;
    redeem(&browser.base.clone(), "rp", "rp-secret", &c, &v).await
}

async fn userinfo_get(base: &str, token: &str, origin: Option<&str>) -> Page {
    let mut req = common::http()
        .get(format!("{base}/userinfo"))
        .bearer_auth(token);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    Page::read(req.send().await.unwrap()).await
}

// ----- flows -----------------------------------------------------------------------------

async fn code_flow_answers_an_id_token_verified_with_the_published_keys_oidc_core_3_1_3_7(
    base: &str,
) {
    let mut browser = Browser::new(base);
    let body = rp_tokens(&mut browser, "openid profile email").await;
    let id = verify(base, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id.alg, authgate::jose::Algorithm::RS256, "RS256 by default");
    let c = &id.claims;
    assert_eq!(c["iss"], base);
    assert_eq!(c["aud"], "rp");
    assert_eq!(c["sub"], "user-alice");
    assert_eq!(
        c["nonce"], "n-0S6",
        "the nonce exactly as sent (3.1.3.7 step 11)"
    );
    let now = authgate::Clock::now(&authgate::SystemClock);
    let auth_time = c["auth_time"].as_i64().unwrap();
    assert!((now - 60..=now).contains(&auth_time), "{auth_time}");
    assert!(c["exp"].as_i64().unwrap() > now);
    assert!(c["sid"].is_string(), "the session, for logout");
    assert_eq!(c["amr"], json!(["pwd"]));
    // at_hash is optional from the token endpoint; when present it must match (3.1.3.8).
    if let Some(h) = c.get("at_hash") {
        use sha2::Digest;
        let d = sha2::Sha256::digest(body["access_token"].as_str().unwrap().as_bytes());
        let want =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &d[..16]);
        assert_eq!(h, want.as_str());
    }
    assert!(
        c.get("email").is_none(),
        "an access token was issued: scope claims go to UserInfo (5.4)"
    );
}

async fn userinfo_answers_the_granted_claims_by_get_and_post_with_cors_oidc_core_5_3(base: &str) {
    let mut browser = Browser::new(base);
    let body = rp_tokens(&mut browser, "openid email address").await;
    let at = body["access_token"].as_str().unwrap();
    let got = userinfo_get(base, at, Some("https://spa.example")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.header("access-control-allow-origin"),
        Some("https://spa.example"),
        "a configured origin (SECURITY.md 17)"
    );
    let elsewhere = userinfo_get(base, at, Some("https://evil.example")).await;
    assert_eq!(
        elsewhere.header("access-control-allow-origin"),
        None,
        "not configured"
    );
    assert_eq!(
        got.json(),
        json!({
            "sub": "user-alice",
            "email": "alice@example.com",
            "email_verified": true,
            "address": { "locality": "Oxford", "country": "UK" }
        }),
        "the claims of the granted scope, nothing else"
    );
    // POST with the token in the body (RFC 6750 §2.2).
    let posted = Page::read(
        common::http()
            .post(format!("{base}/userinfo"))
            .form(&[("access_token", at)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.json()["sub"], "user-alice");
    // A CORS preflight from a browser application.
    let preflight = Page::read(
        common::http()
            .request(reqwest::Method::OPTIONS, format!("{base}/userinfo"))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(preflight.status, 200);
    assert!(preflight
        .header("access-control-allow-headers")
        .unwrap()
        .contains("authorization"));
    // A single-page app redeems its code at the token endpoint from its own origin.
    let token_preflight = Page::read(
        common::http()
            .request(reqwest::Method::OPTIONS, format!("{base}/token"))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        token_preflight.header("access-control-allow-origin"),
        Some("https://spa.example")
    );
    // A configured client's redirect origin is allowed without being listed.
    let own = Page::read(
        common::http()
            .request(reqwest::Method::OPTIONS, format!("{base}/token"))
            .header("origin", "http://127.0.0.1:9")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        own.header("access-control-allow-origin"),
        Some("http://127.0.0.1:9")
    );
    // Discovery and the keys are public: any origin. The pages: none.
    for (path, want) in [
        ("/.well-known/openid-configuration", Some("*")),
        ("/jwks", Some("*")),
        ("/login", None),
        ("/authorize?client_id=rp&response_type=code", None),
    ] {
        let page = Page::read(
            common::http()
                .get(format!("{base}{path}"))
                .header("origin", "https://evil.example")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page.header("access-control-allow-origin"), want, "{path}");
    }
    // RFC 6750 §3.1: no token / a bad token.
    let bad = userinfo_get(base, "not-a-token", None).await;
    assert_eq!(bad.status, 401);
    assert!(bad
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    // An access token without openid is not for UserInfo.
    let (c, v) = code(&mut browser, "rp", "profile").await;
    let plain = redeem(base, "rp", "rp-secret", &c, &v).await;
    assert!(plain.get("id_token").is_none(), "no openid, no ID token");
    let refused = userinfo_get(base, plain["access_token"].as_str().unwrap(), None).await;
    assert_eq!(refused.status, 403);
    assert!(refused
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
}

async fn refresh_answers_a_new_id_token_with_the_same_sub_and_auth_time_oidc_core_12_2(base: &str) {
    let mut browser = Browser::new(base);
    let first = rp_tokens(&mut browser, "openid profile").await;
    let before = verify(base, first["id_token"].as_str().unwrap())
        .await
        .claims;
    let refreshed = issued(
        &token(
            base,
            Auth::Basic("rp", "rp-secret"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        )
        .await,
    );
    let after = verify(base, refreshed["id_token"].as_str().unwrap())
        .await
        .claims;
    assert_eq!(after["sub"], before["sub"]);
    assert_eq!(after["auth_time"], before["auth_time"]);
    assert_eq!(after["aud"], "rp");
    assert!(after.get("nonce").is_none(), "no nonce after a refresh");
}

async fn remembered_consent_skips_the_page_and_lets_prompt_none_succeed_oidc_core_3_1_2_1(
    base: &str,
) {
    let mut browser = Browser::new(base);
    rp_tokens(&mut browser, "openid email").await;
    // The same client, a subset of the scope: straight back with a code.
    let again = code_url("rp", &[("scope", "openid")]).1;
    let page = browser.get(&again).await;
    assert_eq!(page.status, 302, "no consent page: {}", page.body);
    assert!(query_of(page.location().unwrap()).contains_key("code"));
    let silent = browser.get(&format!("{again}&prompt=none")).await;
    assert_eq!(silent.status, 302);
    assert!(query_of(silent.location().unwrap()).contains_key("code"));
    // More scope than approved: the page, or consent_required with prompt=none.
    let more = code_url("rp", &[("scope", "openid phone")]).1;
    assert!(browser.get(&more).await.body.contains("id=\"approve\""));
    let q = query_of(
        browser
            .get(&format!("{more}&prompt=none"))
            .await
            .location()
            .unwrap(),
    );
    assert_eq!(q["error"], "consent_required");
    assert_eq!(q["state"], "st");
    assert_eq!(q["iss"], base);
    // prompt=consent asks again even for what was approved.
    assert!(browser
        .get(&format!("{again}&prompt=consent"))
        .await
        .body
        .contains("id=\"approve\""));
    // prompt=none with another value is invalid (3.1.2.1).
    let q = query_of(
        browser
            .get(&format!("{again}&prompt=none%20login"))
            .await
            .location()
            .unwrap(),
    );
    assert_eq!(q["error"], "invalid_request");
}

async fn prompt_none_without_a_session_is_login_required_at_the_redirect_uri_oidc_core_3_1_2_6(
    base: &str,
) {
    let path = code_url("rp", &[("scope", "openid"), ("prompt", "none")]).1;
    let mut browser = Browser::new(base);
    let res = browser.get(&path).await;
    assert_eq!(res.status, 302, "no page with prompt=none: {}", res.body);
    let q = query_of(res.location().unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str(), q["iss"].as_str()),
        ("login_required", "st", base)
    );
    // An id_token_hint naming another user than the session's: login_required too.
    let bob = {
        let mut b = Browser::new(base);
        b.login("bob", "builder").await;
        let t = rp_tokens_for_current(&mut b).await;
        t["id_token"].as_str().unwrap().to_owned()
    };
    browser.login("alice", "wonderland").await;
    let q = query_of(
        browser
            .get(&format!("{path}&id_token_hint={bob}"))
            .await
            .location()
            .unwrap(),
    );
    assert_eq!(q["error"], "login_required");
}

/// Tokens at `rp` for whoever `browser` is signed in as.
async fn rp_tokens_for_current(browser: &mut Browser) -> Value {
    let (verifier, path) = code_url("rp", &[("scope", "openid")]);
    let page = browser.get(&path).await;
    let done = if page.status == 200 {
        approve(browser, &path, &page).await
    } else {
        page
    };
    let code = query_of(done.location().unwrap())["code"].clone();
    redeem(&browser.base.clone(), "rp", "rp-secret", &code, &verifier).await
}

async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in_oidc_core_3_1_2_1(base: &str) {
    let mut browser = Browser::new(base);
    let first = rp_tokens(&mut browser, "openid").await;
    let first_id = verify(base, first["id_token"].as_str().unwrap())
        .await
        .claims;
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let (verifier, path) = code_url("rp", &[("scope", "openid"), extra]);
        let login = browser.get(&path).await;
        assert_eq!(login.status, 200, "{extra:?}");
        assert!(
            login.body.contains("id=\"sign-in\""),
            "{extra:?}: the login page"
        );
        let next = login.hidden("next").unwrap();
        assert!(
            !next.contains("prompt=login") && !next.contains("max_age=0"),
            "after signing in the request is not asked again: {next}"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await; // a later auth_time
        let back = browser.submit_login(&login, "alice", "wonderland").await;
        assert_eq!(back.status, 303);
        let done = browser.get(back.location().unwrap()).await;
        assert_eq!(done.status, 302, "approved before: {}", done.body);
        let code = query_of(done.location().unwrap())["code"].clone();
        let body = redeem(base, "rp", "rp-secret", &code, &verifier).await;
        let id = verify(base, body["id_token"].as_str().unwrap())
            .await
            .claims;
        assert!(
            id["auth_time"].as_i64() > first_id["auth_time"].as_i64(),
            "{extra:?}: a fresh sign-in"
        );
        assert_eq!(id["sid"], first_id["sid"], "the same session, renewed");
    }
}

async fn login_hint_fills_in_the_username_oidc_core_3_1_2_1(base: &str) {
    let mut browser = Browser::new(base);
    let page = browser
        .get(&authorize_url(
            "rp",
            "code",
            &[("scope", "openid"), ("login_hint", "alice")],
        ))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("name=\"username\" value=\"alice\""),
        "{}",
        page.body
    );
}

async fn form_post_answers_a_page_that_posts_to_the_redirect_uri_form_post_response_mode_2(
    base: &str,
) {
    let mut browser = Browser::new(base);
    let path = code_url("rp", &[("scope", "openid"), ("response_mode", "form_post")]).1;
    let done = authorize(&mut browser, &path).await;
    assert_eq!(done.status, 200, "the consent POST answers the form page");
    assert!(done.location().is_none());
    assert!(done.body.contains(&format!("action=\"{CB}\"")));
    assert!(done.hidden("code").is_some_and(|c| !c.is_empty()));
    assert_eq!(done.hidden("state").as_deref(), Some("st"));
    assert_eq!(done.hidden("iss").as_deref(), Some(base));
    assert_eq!(done.header("cache-control"), Some("no-store"));
    let csp = done.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("form-action http://127.0.0.1:9"), "{csp}");
    // A later request (consent remembered) answers the page to the GET itself.
    let again = browser.get(&path).await;
    assert_eq!(again.status, 200);
    assert!(again.hidden("code").is_some());
}

async fn implicit_and_hybrid_responses_carry_their_hashes_oidc_core_3_2_and_3_3(base: &str) {
    let mut browser = Browser::new(base);
    browser.login("alice", "wonderland").await;
    let half = |v: &str| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(v.as_bytes());
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &d[..16])
    };
    let path = authorize_url(
        "rp",
        "id_token",
        &[("scope", "openid email"), ("nonce", "imp")],
    );
    let done = authorize(&mut browser, &path).await;
    let f = fragment_of(done.location().unwrap());
    assert!(!f.contains_key("access_token") && !f.contains_key("code"));
    let id = verify(base, &f["id_token"]).await.claims;
    assert_eq!(id["nonce"], "imp");
    assert_eq!(
        id["email"], "alice@example.com",
        "no access token: the scope's claims are in the ID token (5.4)"
    );

    let path = authorize_url(
        "rp",
        "code id_token token",
        &[("scope", "openid email"), ("nonce", "hyb")],
    );
    let done = authorize(&mut browser, &path).await;
    let f = fragment_of(done.location().unwrap());
    let id = verify(base, &f["id_token"]).await.claims;
    assert_eq!(id["c_hash"], half(&f["code"]));
    assert_eq!(id["at_hash"], half(&f["access_token"]));
    assert_eq!(f["token_type"], "Bearer");

    // A nonce is required for these response types (3.2.2.1), reported in the fragment.
    let path = authorize_url("rp", "code id_token", &[("scope", "openid")]);
    let f = fragment_of(browser.get(&path).await.location().unwrap());
    assert_eq!(f["error"], "invalid_request");
    assert_eq!(f["iss"], base);
}

async fn each_client_gets_its_signing_algorithm_and_pairwise_clients_their_own_sub_oidc_core_8(
    base: &str,
) {
    let mut browser = Browser::new(base);
    let (c, v) = code(&mut browser, "es", "openid email").await;
    let es = redeem(base, "es", "es-secret", &c, &v).await;
    let id = verify(base, es["id_token"].as_str().unwrap()).await;
    assert_eq!(id.alg, authgate::jose::Algorithm::ES256);
    // UserInfo signed with the client's userinfo_signed_response_alg (5.3.2).
    let signed = userinfo_get(base, es["access_token"].as_str().unwrap(), None).await;
    assert_eq!(signed.status, 200);
    assert_eq!(signed.header("content-type"), Some("application/jwt"));
    let ui = verify(base, &signed.body).await;
    assert_eq!(ui.alg, authgate::jose::Algorithm::EdDSA);
    assert_eq!(ui.claims["sub"], "user-alice");
    assert_eq!(ui.claims["aud"], "es");

    let (c, v) = code(&mut browser, "pw", "openid email").await;
    let pw = redeem(base, "pw", "pw-secret", &c, &v).await;
    let sub = verify(base, pw["id_token"].as_str().unwrap()).await.claims["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(sub, "user-alice", "pairwise: not the local subject");
    let info = userinfo_get(base, pw["access_token"].as_str().unwrap(), None).await;
    assert_eq!(
        info.json()["sub"],
        sub.as_str(),
        "UserInfo's sub is the ID token's"
    );
}

async fn rp_initiated_logout_ends_the_session_and_returns_to_the_registered_uri_rp_initiated_logout_2(
    base: &str,
) {
    let mut browser = Browser::new(base);
    let tokens = rp_tokens(&mut browser, "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    // Tied to the session by its id_token_hint: no question asked.
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", BYE)
        .append_pair("state", "bye-1")
        .finish();
    let out = browser.get(&format!("/end_session?{q}")).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.location(), Some(&*format!("{BYE}?state=bye-1")));
    assert!(
        !browser.jar.contains_key("authgate_session"),
        "the cookie is cleared"
    );
    // The session is over on the server too: the old cookie no longer signs anyone in.
    let path = code_url("rp", &[("scope", "openid")]).1;
    assert!(browser.get(&path).await.body.contains("id=\"sign-in\""));

    // Not tied to the session (client_id only): the user is asked first.
    browser.login("alice", "wonderland").await;
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "rp")
        .append_pair("post_logout_redirect_uri", BYE)
        .finish();
    let ask = browser.get(&format!("/end_session?{q}")).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Relying Party"), "{}", ask.body);
    let mut form: Vec<(String, String)> = ask.hidden_fields();
    form.push(("confirm".into(), "yes".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post("/end_session", &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), Some(BYE));
    assert!(!browser.jar.contains_key("authgate_session"));
    // Without the form's CSRF field nothing ends.
    browser.login("alice", "wonderland").await;
    let forged = browser
        .post("/end_session", &[("client_id", "rp"), ("confirm", "yes")])
        .await;
    assert_eq!(forged.status, 400);
    assert!(browser.get("/").await.body.contains("Signed in as"));
    // Without a session: straight back, or a "signed out" page.
    let mut stranger = Browser::new(base);
    let page = stranger.get("/end_session").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Signed out"));
}

async fn an_unregistered_post_logout_redirect_uri_is_never_followed_rp_initiated_logout_3_1(
    base: &str,
) {
    let mut browser = Browser::new(base);
    let tokens = rp_tokens(&mut browser, "openid").await;
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://evil.example/")
        .finish();
    let page = browser.get(&format!("/end_session?{q}")).await;
    assert_eq!(page.status, 400);
    assert!(page.location().is_none());
    assert!(
        browser.get("/").await.body.contains("Signed in as"),
        "still signed in"
    );
}

async fn revoking_an_approval_revokes_the_clients_tokens(base: &str) {
    let mut browser = Browser::new(base);
    let tokens = rp_tokens(&mut browser, "openid email").await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_get(base, at, None).await.status, 200);
    let home = browser.get("/").await;
    assert!(home.body.contains("Relying Party"), "{}", home.body);
    // The account page: each approval with its date and what it gives, in words.
    assert!(home.body.contains("approved 20"), "{}", home.body);
    assert!(
        home.body.contains("<li>Your email address</li>"),
        "{}",
        home.body
    );
    assert!(
        home.body.contains("aria-label=\"Revoke Relying Party\""),
        "{}",
        home.body
    );
    let csrf = home.hidden("csrf").unwrap();
    let res = browser
        .post(
            "/consents/revoke",
            &[("csrf", csrf.as_str()), ("client_id", "rp")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(userinfo_get(base, at, None).await.status, 401);
    let refresh = token(
        base,
        Auth::Basic("rp", "rp-secret"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refresh.status, 400);
    assert!(!browser.get("/").await.body.contains("Relying Party"));
}

async fn a_first_party_client_skips_consent_and_its_default_max_age_applies(base: &str) {
    let mut browser = Browser::new(base);
    browser.login("alice", "wonderland").await;
    let path = code_url("first", &[("scope", "openid profile")]).1;
    let done = browser.get(&path).await;
    assert_eq!(done.status, 302, "skip_consent: {}", done.body);
    assert!(query_of(done.location().unwrap()).contains_key("code"));
}

// ----- back-channel logout and ended sessions (SQLite and PostgreSQL) ------------------------

/// A relying party's back-channel logout endpoint: records each logout token; answers 503
/// to the first `fail_first` requests.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn receiver(fail_first: usize) -> Receiver {
    use axum::routing::post;
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::new(Mutex::new(0usize));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let t = tokens.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        post(move |body: String| {
            let (t, seen) = (t.clone(), seen.clone());
            async move {
                let n = {
                    let mut s = seen.lock().unwrap();
                    *s += 1;
                    *s
                };
                if n <= fail_first {
                    return http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let token = form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                t.lock().unwrap().push(token);
                http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, tokens }
}

fn backchannel_config(receiver: &str) -> String {
    format!(
        "{CONFIG}
[[clients]]
client_id = \"bc\"
client_secret = \"bc-secret\"
client_name = \"Back-Channel App\"
redirect_uris = [\"http://127.0.0.1:9/cb\"]
grant_types = [\"authorization_code\"]
scope = \"openid\"
backchannel_logout_uri = \"{receiver}\"
backchannel_logout_session_required = true
"
    )
}

async fn wait_for_tokens(r: &Receiver, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let got = r.tokens.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no back-channel logout arrived")
}

async fn logout_tells_the_client_by_back_channel(server: &TestServer, r: &Receiver) {
    let base = server.base();
    let mut browser = Browser::new(base);
    let (c, v) = code(&mut browser, "bc", "openid").await;
    let tokens = redeem(base, "bc", "bc-secret", &c, &v).await;
    let id = verify(base, tokens["id_token"].as_str().unwrap())
        .await
        .claims;
    rp_tokens(&mut browser, "openid").await; // rp registered no back-channel URI
    let home = browser.get("/").await;
    let csrf = home.hidden("csrf").unwrap();
    let out = browser.post("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status, 303);
    // The first delivery fails with 503; the retry a second later lands.
    let got = wait_for_tokens(r, 1).await;
    assert_eq!(got.len(), 1, "one notice, for bc only");
    let t = verify(base, &got[0]).await;
    assert_eq!(t.typ.as_deref(), Some("logout+jwt"));
    let c = &t.claims;
    assert_eq!(c["iss"], base);
    assert_eq!(c["aud"], "bc");
    assert_eq!(c["sub"], "user-alice");
    assert_eq!(c["sid"], id["sid"], "the session the ID token named");
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c["jti"].is_string() && c["iat"].is_i64() && c["exp"].is_i64());
    assert!(
        c.get("nonce").is_none(),
        "Back-Channel Logout 2.4: no nonce"
    );
}

/// A new password (`authgate user set-password`) ends the user's sessions, and the command
/// tells the sessions' clients by back-channel logout. (A user the config file declares
/// is refused: the file's password would return at the next start.)
async fn a_new_password_ends_the_users_sessions(server: &TestServer, r: &Receiver) {
    let base = server.base();
    let config = server.dir().join("config.toml");
    let dir = server.dir().to_owned();
    let cli = move |args: Vec<String>| {
        let dir = dir.clone();
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend(["--config", config.to_str().unwrap()]);
            common::run(&dir, &all)
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let (status, out, err) = cli(args(&["user", "add", "dave", "--password", "first"]))
        .await
        .unwrap();
    assert_eq!(status, 0, "{out}{err}");
    let before = r.tokens.lock().unwrap().len();
    let mut browser = Browser::new(base);
    browser.login("dave", "first").await;
    let (c, v) = code(&mut browser, "bc", "openid").await;
    redeem(base, "bc", "bc-secret", &c, &v).await;
    assert!(browser.get("/").await.body.contains("Signed in as"));
    let (status, out, err) = cli(args(&[
        "user",
        "set-password",
        "dave",
        "--password",
        "second",
    ]))
    .await
    .unwrap();
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        err.contains("ended 1 session(s) of dave; back-channel logout delivered to 1 client(s)"),
        "{out}{err}"
    );
    assert!(!browser.get("/").await.body.contains("Signed in as"));
    let got = wait_for_tokens(r, before + 1).await;
    let t = verify(base, &got[before]).await;
    assert_eq!(t.claims["sub"], "dave");
    assert_eq!(t.claims["aud"], "bc");
    // bob is the config file's: his password is changed there, not here.
    let (status, _, err) = cli(args(&["user", "set-password", "bob", "--password", "x"]))
        .await
        .unwrap();
    assert_ne!(status, 0);
    assert!(err.contains("declared in"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_channel_logout_and_ended_sessions_sqlite() {
    let r = receiver(1).await;
    let server = TestServer::sqlite("backchannel", &backchannel_config(&r.url)).await;
    logout_tells_the_client_by_back_channel(&server, &r).await;
    a_new_password_ends_the_users_sessions(&server, &r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_channel_logout_and_ended_sessions_postgres() {
    let r = receiver(1).await;
    let Some(server) = TestServer::postgres("backchannel-pg", &backchannel_config(&r.url)).await
    else {
        return;
    };
    logout_tells_the_client_by_back_channel(&server, &r).await;
    a_new_password_ends_the_users_sessions(&server, &r).await;
}

async fn requests_sent_by_post_are_taken_oidc_core_3_1_2_1_and_rp_initiated_logout_2(base: &str) {
    let mut browser = Browser::new(base);
    let tokens = rp_tokens(&mut browser, "openid").await;
    // An authentication request as a form POST (from the relying party's page, so without
    // the SameSite=Lax session cookie): sent back as a GET, which the browser then makes
    // with its cookie.
    let (_, challenge) = pkce();
    let form = [
        ("client_id", "rp"),
        ("response_type", "code"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "by-post"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let cross_site = Browser::new(base).post("/authorize", &form).await;
    assert_eq!(cross_site.status, 303, "{}", cross_site.body);
    let again = cross_site.location().unwrap().to_owned();
    assert!(
        again.starts_with("/authorize?") && again.contains("state=by-post"),
        "{again}"
    );
    let done = browser.get(&again).await;
    assert_eq!(done.status, 302, "remembered consent: {}", done.body);
    assert_eq!(query_of(done.location().unwrap())["state"], "by-post");

    // A logout request as a form POST from the relying party's page: the same, and the
    // GET with the cookie ends the session.
    let form = [
        ("id_token_hint", tokens["id_token"].as_str().unwrap()),
        ("post_logout_redirect_uri", BYE),
        ("state", "s"),
    ];
    let cross_site = Browser::new(base).post("/end_session", &form).await;
    assert_eq!(cross_site.status, 303);
    let out = browser.get(cross_site.location().unwrap()).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), Some(&*format!("{BYE}?state=s")));
    assert!(!browser.get("/").await.body.contains("Signed in as"));
}
