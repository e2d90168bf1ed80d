//! End to end through the `authgate` binary, as any OAuth client and browser see it: every
//! flow of the engine, once on SQLite (no `database_url`: `authgate.db` beside the config)
//! and once on PostgreSQL (a fresh schema per test). Each flow is an async fn taking the
//! server's base URL; `on_both_backends!` makes a `sqlite::` and a `postgres::` test of it,
//! each against a server of its own (the login limits are per server, so flows cannot
//! disturb one another).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::oauth::{
    assert_error, authorize_path, fragment_of, issued, pkce, post_as, query_of, token, Auth,
};
use common::server::TestServer;
use common::{Browser, Page};
use serde_json::json;

const WEB_CB: &str = "http://127.0.0.1:9/cb";
const SPA_CB: &str = "http://127.0.0.1:9/spa";
/// A grant this server does not support yet (RFC 7523 2.1), listed by the client `tv`.
const UNSUPPORTED_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The config under test; `{DATABASE}` becomes a `database_url` line or nothing.
const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[tokens]
refresh_tokens = true
[tokens.expires_in]
client_credentials = 600

[scope_descriptions]
profile = "Your name and picture at Example"

# A confidential web application.
[[clients]]
client_id = "web"
client_secret = "web-secret"
client_name = "Web Portal"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "refresh_token"]
response_types = ["code"]
scope = "openid profile email"
token_endpoint_auth_method = "client_secret_basic"

# A service authenticating in the body; it also may use the password grant.
[[clients]]
client_id = "svc"
client_secret = "svc-secret"
redirect_uris = []
grant_types = ["client_credentials", "password"]
response_types = []
scope = "read profile"
token_endpoint_auth_method = "client_secret_post"

# A service authenticating with HTTP Basic.
[[clients]]
client_id = "batch"
client_secret = "batch-secret"
redirect_uris = []
grant_types = ["client_credentials"]
response_types = []
scope = "read"
token_endpoint_auth_method = "client_secret_basic"
# It may not introspect (issue 12 item 8).
may_introspect = false

# A public single-page application.
[[clients]]
client_id = "spa"
client_name = "Single Page App"
redirect_uris = ["http://127.0.0.1:9/spa"]
grant_types = ["authorization_code", "implicit", "refresh_token"]
response_types = ["code", "token"]
scope = "openid profile"
token_endpoint_auth_method = "none"

# A client listing a grant this server does not support.
[[clients]]
client_id = "tv"
client_secret = "tv-secret"
grant_types = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
response_types = []
scope = "profile"

# A service authenticating with a key (private_key_jwt, RFC 7523): its public key only.
[[clients]]
client_id = "keyed"
token_endpoint_auth_method = "private_key_jwt"
grant_types = ["client_credentials"]
scope = "read"
jwks = { keys = [{ kty = "EC", crv = "P-256", x = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8", y = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c", kid = "test-client-key", use = "sig", alg = "ES256" }] }

# An API of its own (RFC 8707): tokens aimed at it carry only `read`, as JWTs (RFC 9068).
[[resources]]
identifier = "https://api.example/"
scope = "read"
access_token_format = "jwt"

[[users]]
username = "alice"
password = "wonderland"
email = "alice@example.com"
name = "Alice Liddell"

[[users]]
username = "dinah"
password = "cheshire"
"#;

// ----- the server under test ------------------------------------------------------------

on_both_backends!(
    crate::CONFIG;
    metadata_documents_agree_and_list_exactly_what_is_supported_rfc8414_3_2,
    code_flow_with_pkce_through_login_and_consent_rfc6749_4_1_rfc7636,
    consent_denied_redirects_with_access_denied_rfc6749_4_1_2_1,
    public_client_refresh_rotates_and_reuse_is_invalid_grant_rfc9700_4_14_2,
    confidential_client_refresh_keeps_its_refresh_token_rfc6749_6,
    client_credentials_with_basic_and_with_post_expire_in_600_rfc6749_4_4,
    password_grant_issues_a_token_for_the_user_rfc6749_4_3,
    implicit_grant_returns_the_token_in_the_fragment_rfc6749_4_2_2,
    revoked_access_token_is_refused_at_api_me_rfc7009_2,
    introspection_answers_active_then_inactive_rfc7662_2_2,
    unknown_client_or_redirect_uri_is_a_400_page_without_redirect_rfc6749_4_1_2_1,
    bad_credentials_answer_401_without_a_session_cookie,
    login_next_outside_the_server_goes_to_root,
    sixth_failed_login_for_one_user_is_429_even_with_the_right_password,
    consent_post_without_the_csrf_field_is_400_and_does_not_redirect,
    session_cookie_is_httponly_and_samesite_lax,
    pages_forbid_framing_rfc9700_4_16,
    healthz_answers_200,
    api_me_publishes_protected_resource_metadata_rfc9728,
    tokens_aimed_at_a_resource_are_refused_by_api_me_rfc8707_2,
    private_key_jwt_assertions_authenticate_once_each_rfc7523_3,
    unsupported_grant_type_of_a_client_is_not_served_nor_advertised,
    jwks_publishes_public_signing_keys_named_by_both_metadata_documents_rfc7517_5,
);

// ----- helpers ---------------------------------------------------------------------------

/// The web client's code request with S256 PKCE.
fn web_request<'a>(challenge: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", WEB_CB),
        ("scope", "openid profile"),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// GET /api/me with a bearer token.
async fn me(base: &str, access_token: &str) -> Page {
    let res = common::http()
        .get(format!("{base}/api/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    Page::read(res).await
}

/// Asserts /api/me answers alice for this token.
async fn assert_me_is_alice(base: &str, access_token: &str) {
    let page = me(base, access_token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["username"], "alice");
}

/// A password-grant access token for alice with scope `profile`, from `svc`.
async fn alice_token(base: &str) -> String {
    let page = token(
        base,
        Auth::Post("svc", "svc-secret"),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonderland"),
            ("scope", "profile"),
        ],
    )
    .await;
    issued(&page)["access_token"].as_str().unwrap().to_owned()
}

/// The browser's part of an authorization request as alice: GET /authorize (the login
/// page), sign in, GET /authorize again (the consent page), then POST it with the page's
/// hidden fields and `confirm`. Answers the consent page and the final response.
async fn authorize_as_alice(base: &str, params: &[(&str, &str)], confirm: &str) -> (Page, Page) {
    let path = authorize_path(params);
    let mut browser = Browser::new(base);
    let login = browser.get(&path).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let signed_in = browser.submit_login(&login, "alice", "wonderland").await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let consent = browser.get(signed_in.location().unwrap()).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let hidden = consent.hidden_fields();
    let mut form: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("confirm", confirm));
    let done = browser.post(&path, &form).await;
    (consent, done)
}

/// The public client `spa`'s tokens for alice, through the code flow with PKCE.
async fn spa_tokens(base: &str) -> serde_json::Value {
    let (code, verifier) = spa_code(base).await;
    issued(
        &token(
            base,
            Auth::Public("spa"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", SPA_CB),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    )
}

/// A code for the public client `spa`, with its verifier.
async fn spa_code(base: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (_, done) = authorize_as_alice(
        base,
        &[
            ("response_type", "code"),
            ("client_id", "spa"),
            ("redirect_uri", SPA_CB),
            ("scope", "openid profile"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        "yes",
    )
    .await;
    assert_eq!(done.status, 302, "{}", done.body);
    (query_of(done.location().unwrap())["code"].clone(), verifier)
}

/// A code for the confidential client `web`, with its verifier.
async fn web_code(base: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (_, done) = authorize_as_alice(base, &web_request(&challenge, "s"), "yes").await;
    assert_eq!(done.status, 302, "{}", done.body);
    (query_of(done.location().unwrap())["code"].clone(), verifier)
}

fn assert_no_session_cookie(page: &Page) {
    assert!(
        page.set_cookie("authgate_session").is_none(),
        "no session cookie may be set: {:?}",
        page.set_cookies()
    );
}

// ----- flows -----------------------------------------------------------------------------

async fn metadata_documents_agree_and_list_exactly_what_is_supported_rfc8414_3_2(base: &str) {
    let http = common::http();
    let mut docs = Vec::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let page = Page::read(http.get(format!("{base}{path}")).send().await.unwrap()).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{path}"
        );
        docs.push(page.json());
    }
    assert_eq!(docs[0], docs[1], "the two metadata documents must agree");
    let m = &docs[0];
    assert_eq!(m["issuer"], base);
    assert_eq!(m["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(m["token_endpoint"], format!("{base}/token"));
    assert_eq!(m["revocation_endpoint"], format!("{base}/revoke"));
    assert_eq!(m["introspection_endpoint"], format!("{base}/introspect"));
    // implicit and password are listed because a configured client lists them; the JWT
    // grant of `tv` is not supported, so it is not. The device grant (RFC 8628) is always
    // served.
    assert_eq!(
        m["grant_types_supported"],
        json!([
            "authorization_code",
            "client_credentials",
            "implicit",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        m["device_authorization_endpoint"],
        format!("{base}/device_authorization")
    );
    assert_eq!(m["response_types_supported"], json!(["code", "token"]));
    assert_eq!(
        m["response_modes_supported"],
        json!(["query", "fragment", "form_post"])
    );
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        m["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "ES384", "EdDSA"]),
        "asymmetric only: never none or HMAC (RFC 8725 3.1)"
    );
    assert_eq!(
        m["scopes_supported"],
        json!(["email", "openid", "profile", "read"])
    );
    // OpenID Connect Discovery §3: the OpenID Provider's fields, as served.
    assert_eq!(m["userinfo_endpoint"], format!("{base}/userinfo"));
    assert_eq!(m["end_session_endpoint"], format!("{base}/end_session"));
    assert_eq!(m["subject_types_supported"], json!(["public", "pairwise"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(
        m["userinfo_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(m["claims_parameter_supported"], json!(true));
    assert_eq!(m["request_parameter_supported"], json!(false));
    assert_eq!(m["request_uri_parameter_supported"], json!(false));
    assert_eq!(m["backchannel_logout_supported"], json!(true));
    assert_eq!(m["backchannel_logout_session_supported"], json!(true));
    let claims: Vec<&str> = m["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "sub",
        "name",
        "email",
        "email_verified",
        "address",
        "updated_at",
    ] {
        assert!(
            claims.contains(&c),
            "claims_supported lacks {c}: {claims:?}"
        );
    }
    assert!(m.get("registration_endpoint").is_none(), "not served");
}

async fn jwks_publishes_public_signing_keys_named_by_both_metadata_documents_rfc7517_5(base: &str) {
    let http = common::http();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let m = Page::read(http.get(format!("{base}{path}")).send().await.unwrap())
            .await
            .json();
        assert_eq!(m["jwks_uri"], format!("{base}/jwks"), "{path}");
    }
    let page = Page::read(http.get(format!("{base}/jwks")).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(
        page.header("content-type"),
        Some("application/jwk-set+json")
    );
    let jwks = page.json();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "ES256"], "the default policy's keys");
    for k in keys {
        for (member, _) in k.as_object().unwrap() {
            assert!(
                ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"].contains(&member.as_str()),
                "{member} in {k}"
            );
        }
    }
    let post = Page::read(http.post(format!("{base}/jwks")).send().await.unwrap()).await;
    assert_error(&post, 405, "invalid_request");
}

async fn code_flow_with_pkce_through_login_and_consent_rfc6749_4_1_rfc7636(base: &str) {
    let (verifier, challenge) = pkce();
    let path = authorize_path(&web_request(&challenge, "st-123"));
    let mut browser = Browser::new(base);

    // Not signed in: the login page, with hidden fields that return to the request.
    let login = browser.get(&path).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(login.body.contains(r#"action="/login""#), "{}", login.body);
    assert_eq!(login.hidden("next").as_deref(), Some(path.as_str()));
    assert!(login.hidden("csrf").is_some_and(|c| c.len() >= 16));

    let signed_in = browser.submit_login(&login, "alice", "wonderland").await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), Some(path.as_str()));
    assert!(browser.jar.contains_key("authgate_session"));

    // Signed in: the consent page names the client and each requested scope.
    let consent = browser.get(&path).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("Web Portal"), "{}", consent.body);
    // Each scope in words (the built-in words for openid, the config's for profile), its
    // name beside.
    assert!(
        consent.body.contains(
            "Confirm who you are: sign you in with your account here <span class=\"muted scope-name\">(openid)</span>"
        ),
        "{}",
        consent.body
    );
    assert!(
        consent.body.contains(
            "Your name and picture at Example <span class=\"muted scope-name\">(profile)</span>"
        ),
        "{}",
        consent.body
    );
    assert!(
        !consent.body.contains("(email)"),
        "only the requested scopes are listed"
    );

    let hidden = consent.hidden_fields();
    assert!(!hidden.is_empty(), "the consent form carries a CSRF token");
    let mut form: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("confirm", "yes"));
    let done = browser.post(&path, &form).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location().unwrap();
    assert!(location.starts_with(&format!("{WEB_CB}?")), "{location}");
    let q = query_of(location);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], base, "RFC 9207");
    let code = q["code"].clone();

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
        ("code_verifier", verifier.as_str()),
    ];
    let body = issued(&token(base, Auth::Basic("web", "web-secret"), &form).await);
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    assert_me_is_alice(base, body["access_token"].as_str().unwrap()).await;

    // The code is single-use (RFC 6749 §4.1.2).
    let replay = token(base, Auth::Basic("web", "web-secret"), &form).await;
    assert_error(&replay, 400, "invalid_grant");
}

async fn consent_denied_redirects_with_access_denied_rfc6749_4_1_2_1(base: &str) {
    let (_, challenge) = pkce();
    let (_, done) = authorize_as_alice(base, &web_request(&challenge, "deny-me"), "no").await;
    // The contract's 302: the consent form carries no credentials (RFC 9700 §4.12).
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location().unwrap();
    assert!(location.starts_with(&format!("{WEB_CB}?")), "{location}");
    let q = query_of(location);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "deny-me");
    assert_eq!(q["iss"], base);
    assert!(!q.contains_key("code"));
}

async fn public_client_refresh_rotates_and_reuse_is_invalid_grant_rfc9700_4_14_2(base: &str) {
    let first = spa_tokens(base).await;
    let r1 = first["refresh_token"]
        .as_str()
        .expect("a refresh token for spa")
        .to_owned();

    let second = issued(
        &token(
            base,
            Auth::Public("spa"),
            &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
        )
        .await,
    );
    let r2 = second["refresh_token"]
        .as_str()
        .expect("rotation issues a new refresh token")
        .to_owned();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], "openid profile");
    let a2 = second["access_token"].as_str().unwrap().to_owned();
    assert_me_is_alice(base, &a2).await;

    // The rotated-out token again: reuse. The whole grant is revoked with it.
    let reuse = token(
        base,
        Auth::Public("spa"),
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_error(&reuse, 400, "invalid_grant");
    let after = token(
        base,
        Auth::Public("spa"),
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    )
    .await;
    assert_error(&after, 400, "invalid_grant");
    assert_eq!(
        me(base, &a2).await.status,
        401,
        "the family's access token is revoked too"
    );
}

async fn confidential_client_refresh_keeps_its_refresh_token_rfc6749_6(base: &str) {
    let (code, verifier) = web_code(base).await;
    let first = issued(
        &token(
            base,
            Auth::Basic("web", "web-secret"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", WEB_CB),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    );
    let r = first["refresh_token"].as_str().unwrap().to_owned();
    // Rotation is for public clients by default: the same refresh token keeps working.
    for _ in 0..2 {
        let refreshed = issued(
            &token(
                base,
                Auth::Basic("web", "web-secret"),
                &[("grant_type", "refresh_token"), ("refresh_token", &r)],
            )
            .await,
        );
        assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
        assert_ne!(refreshed["access_token"], first["access_token"]);
        assert_me_is_alice(base, refreshed["access_token"].as_str().unwrap()).await;
    }
    // A refresh token is bound to its client (RFC 6749 §6).
    let stolen = token(
        base,
        Auth::Public("spa"),
        &[("grant_type", "refresh_token"), ("refresh_token", &r)],
    )
    .await;
    assert_error(&stolen, 400, "invalid_grant");
    // Narrowing the scope is allowed, widening is not.
    let narrowed = issued(
        &token(
            base,
            Auth::Basic("web", "web-secret"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r),
                ("scope", "profile"),
            ],
        )
        .await,
    );
    assert_eq!(narrowed["scope"], "profile");
    let widened = token(
        base,
        Auth::Basic("web", "web-secret"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r),
            ("scope", "openid profile email"),
        ],
    )
    .await;
    assert_error(&widened, 400, "invalid_scope");
}

async fn client_credentials_with_basic_and_with_post_expire_in_600_rfc6749_4_4(base: &str) {
    let cc = [("grant_type", "client_credentials"), ("scope", "read")];
    for auth in [
        Auth::Basic("batch", "batch-secret"),
        Auth::Post("svc", "svc-secret"),
    ] {
        let body = issued(&token(base, auth, &cc).await);
        assert_eq!(
            body["expires_in"], 600,
            "[tokens.expires_in] client_credentials"
        );
        assert_eq!(body["scope"], "read");
        assert!(
            body.get("refresh_token").is_none(),
            "RFC 6749 §4.4.3: {body}"
        );
        // No user behind the token, and no `profile` scope: /api/me refuses it.
        let page = me(base, body["access_token"].as_str().unwrap()).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page
            .header("www-authenticate")
            .is_some_and(|h| h.contains("insufficient_scope")));
    }
    // Only the registered method is accepted.
    let basic_for_post = token(base, Auth::Basic("svc", "svc-secret"), &cc).await;
    assert_error(&basic_for_post, 401, "invalid_client");
    assert!(basic_for_post
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    let wrong_secret = token(base, Auth::Basic("batch", "not-the-secret"), &cc).await;
    assert_error(&wrong_secret, 401, "invalid_client");
    // A client without the grant.
    let web = token(
        base,
        Auth::Basic("web", "web-secret"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_error(&web, 400, "unauthorized_client");
}

async fn password_grant_issues_a_token_for_the_user_rfc6749_4_3(base: &str) {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wonderland"),
        ("scope", "profile"),
    ];
    let body = issued(&token(base, Auth::Post("svc", "svc-secret"), &form).await);
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "profile");
    assert!(
        body.get("refresh_token").is_none(),
        "svc may not use refresh_token: {body}"
    );
    assert_me_is_alice(base, body["access_token"].as_str().unwrap()).await;

    let wrong = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "looking-glass"),
        ("scope", "profile"),
    ];
    assert_error(
        &token(base, Auth::Post("svc", "svc-secret"), &wrong).await,
        400,
        "invalid_grant",
    );
    // A client that does not list the grant.
    assert_error(
        &token(base, Auth::Basic("batch", "batch-secret"), &form).await,
        400,
        "unauthorized_client",
    );
}

async fn implicit_grant_returns_the_token_in_the_fragment_rfc6749_4_2_2(base: &str) {
    let params = [
        ("response_type", "token"),
        ("client_id", "spa"),
        ("redirect_uri", SPA_CB),
        ("scope", "profile"),
        ("state", "imp-1"),
    ];
    let (consent, done) = authorize_as_alice(base, &params, "yes").await;
    assert!(consent.body.contains("Single Page App"), "{}", consent.body);
    assert!(
        consent.body.contains("(profile)</span>"),
        "{}",
        consent.body
    );
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location().unwrap();
    assert!(
        location.starts_with(&format!("{SPA_CB}#")),
        "the token goes in the fragment: {location}"
    );
    let f = fragment_of(location);
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(f["expires_in"], "3600");
    assert_eq!(f["state"], "imp-1");
    assert_eq!(f["iss"], base);
    assert!(
        !f.contains_key("refresh_token"),
        "never a refresh token in a URL (RFC 6749 §4.2.2)"
    );
    assert!(!f.contains_key("code"));
    assert_me_is_alice(base, &f["access_token"]).await;
}

async fn revoked_access_token_is_refused_at_api_me_rfc7009_2(base: &str) {
    let access = alice_token(base).await;
    assert_me_is_alice(base, &access).await;
    let revoked = post_as(
        base,
        "/revoke",
        Auth::Post("svc", "svc-secret"),
        &[("token", &access)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let page = me(base, &access).await;
    assert_eq!(page.status, 401, "{}", page.body);
    let challenge = page.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    // Revoking an unknown token also answers 200 (RFC 7009 §2.2).
    let unknown = post_as(
        base,
        "/revoke",
        Auth::Post("svc", "svc-secret"),
        &[("token", "no-such-token")],
    )
    .await;
    assert_eq!(unknown.status, 200, "{}", unknown.body);
}

async fn introspection_answers_active_then_inactive_rfc7662_2_2(base: &str) {
    let body = issued(
        &token(
            base,
            Auth::Basic("batch", "batch-secret"),
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await,
    );
    let access = body["access_token"].as_str().unwrap().to_owned();

    let active = post_as(
        base,
        "/introspect",
        Auth::Basic("web", "web-secret"),
        &[("token", &access)],
    )
    .await;
    assert_eq!(active.status, 200, "{}", active.body);
    let a = active.json();
    assert_eq!(a["active"], true);
    assert_eq!(a["client_id"], "batch");
    assert_eq!(a["scope"], "read");
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["iss"], base);
    assert_eq!(a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(), 600);

    let revoked = post_as(
        base,
        "/revoke",
        Auth::Basic("batch", "batch-secret"),
        &[("token", &access)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let inactive = post_as(
        base,
        "/introspect",
        Auth::Basic("web", "web-secret"),
        &[("token", &access)],
    )
    .await;
    assert_eq!(inactive.status, 200);
    assert_eq!(
        inactive.json(),
        json!({ "active": false }),
        "nothing more about an inactive token"
    );
    let unknown = post_as(
        base,
        "/introspect",
        Auth::Basic("web", "web-secret"),
        &[("token", "garbage")],
    )
    .await;
    assert_eq!(unknown.json(), json!({ "active": false }));

    // A confidential client the config forbids (`may_introspect = false`) may not either.
    let forbidden = post_as(
        base,
        "/introspect",
        Auth::Basic("batch", "batch-secret"),
        &[("token", &access)],
    )
    .await;
    assert_error(&forbidden, 400, "unauthorized_client");
    // A public client may not introspect (the default policy).
    let public = post_as(
        base,
        "/introspect",
        Auth::Public("spa"),
        &[("token", &access)],
    )
    .await;
    assert_error(&public, 400, "unauthorized_client");
    // Nor may anyone unauthenticated: 401 with a challenge (RFC 7662 §2.1, RFC 6749 §5.2).
    let anonymous = Page::read(
        common::http()
            .post(format!("{base}/introspect"))
            .form(&[("token", &access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&anonymous, 401, "invalid_client");
    assert!(anonymous
        .header("www-authenticate")
        .is_some_and(|c| c.starts_with("Basic")));
}

async fn unknown_client_or_redirect_uri_is_a_400_page_without_redirect_rfc6749_4_1_2_1(base: &str) {
    let (_, challenge) = pkce();
    let mut unknown = web_request(&challenge, "s");
    unknown[1] = ("client_id", "nobody");
    let mut wrong_uri = web_request(&challenge, "s");
    wrong_uri[2] = ("redirect_uri", "http://127.0.0.1:9/elsewhere");
    for params in [unknown, wrong_uri] {
        let mut browser = Browser::new(base);
        // Signed in or not, the answer is the same.
        for _ in 0..2 {
            let page = browser.get(&authorize_path(&params)).await;
            assert_eq!(page.status, 400, "{params:?}: {}", page.body);
            assert!(
                page.location().is_none(),
                "must not redirect: {:?}",
                page.location()
            );
            assert!(page
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")));
            assert!(page.body.contains("<h1>"), "{}", page.body);
            browser.login("alice", "wonderland").await;
        }
    }
}

async fn bad_credentials_answer_401_without_a_session_cookie(base: &str) {
    let mut browser = Browser::new(base);
    let mut page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    for (user, password) in [("alice", "not-wonderland"), ("nobody", "wonderland")] {
        // Each answer is a fresh form (a new CSRF token): submit the latest one.
        page = browser.submit_login(&page, user, password).await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.location().is_none());
        assert_no_session_cookie(&page);
        assert!(
            page.body.contains("Wrong username or password"),
            "{}",
            page.body
        );
        assert!(page.hidden("csrf").is_some(), "the login form again");
    }
    assert!(!browser.jar.contains_key("authgate_session"));
    // And the authorization endpoint still shows the login page.
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_path(&web_request(&challenge, "s")))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"action="/login""#));
}

async fn login_next_outside_the_server_goes_to_root(base: &str) {
    let mut browser = Browser::new(base);
    let page = browser
        .get("/login?next=https%3A%2F%2Fevil.example%2F")
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.hidden("next").as_deref(),
        Some("/"),
        "the form never carries a foreign next"
    );

    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
    ] {
        let mut browser = Browser::new(base);
        let login = browser.get("/login").await;
        let csrf = login.hidden("csrf").unwrap();
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("next", next),
                    ("username", "alice"),
                    ("password", "wonderland"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location(), Some("/"), "next={next}");
        assert!(res.set_cookie("authgate_session").is_some());
    }
    // A local path is kept.
    let mut browser = Browser::new(base);
    let login = browser.get("/login?next=%2Fsomewhere%3Fx%3D1").await;
    assert_eq!(login.hidden("next").as_deref(), Some("/somewhere?x=1"));
    let res = browser.submit_login(&login, "alice", "wonderland").await;
    assert_eq!(res.location(), Some("/somewhere?x=1"));
}

async fn sixth_failed_login_for_one_user_is_429_even_with_the_right_password(base: &str) {
    let mut browser = Browser::new(base);
    let mut page = browser.get("/login").await;
    for attempt in 1..=5 {
        page = browser.submit_login(&page, "dinah", "wrong").await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.body);
    }
    let sixth = browser.submit_login(&page, "dinah", "cheshire").await;
    assert_eq!(sixth.status, 429, "{}", sixth.body);
    assert_no_session_cookie(&sixth);
    assert!(sixth.location().is_none());
    // The limit is per user: alice, from the same address, still signs in.
    Browser::new(base).login("alice", "wonderland").await;
}

async fn consent_post_without_the_csrf_field_is_400_and_does_not_redirect(base: &str) {
    let (_, challenge) = pkce();
    let path = authorize_path(&web_request(&challenge, "s"));
    let mut browser = Browser::new(base);
    browser.login("alice", "wonderland").await;
    let consent = browser.get(&path).await;
    assert_eq!(consent.status, 200);
    let csrf = consent
        .hidden("csrf")
        .expect("the consent form's CSRF field");

    let without = browser.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(without.status, 400, "{}", without.body);
    assert!(without.location().is_none());
    let forged = browser
        .post(
            &path,
            &[("csrf", "forged-token-forged-token"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(forged.location().is_none());
    // Another browser's session with this page's token: refused as well.
    let mut other = Browser::new(base);
    other.login("alice", "wonderland").await;
    let cross = other
        .post(&path, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(cross.status, 400, "{}", cross.body);
    // The page's own form still works.
    let ok = browser
        .post(&path, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(ok.status, 302, "{}", ok.body);
    assert!(query_of(ok.location().unwrap()).contains_key("code"));
}

async fn session_cookie_is_httponly_and_samesite_lax(base: &str) {
    let mut browser = Browser::new(base);
    let login = browser.get("/login").await;
    let csrf_cookie = login
        .set_cookie("authgate_csrf")
        .expect("the login page sets the CSRF cookie");
    let res = browser.submit_login(&login, "alice", "wonderland").await;
    let session = res
        .set_cookie("authgate_session")
        .expect("a session cookie");
    for cookie in [&csrf_cookie, &session] {
        let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
        assert!(attrs.contains(&"HttpOnly"), "{cookie}");
        assert!(attrs.contains(&"SameSite=Lax"), "{cookie}");
        assert!(attrs.contains(&"Path=/"), "{cookie}");
        assert!(
            !attrs.contains(&"Secure"),
            "an http issuer's cookies cannot be Secure: {cookie}"
        );
    }
}

async fn pages_forbid_framing_rfc9700_4_16(base: &str) {
    let (_, challenge) = pkce();
    let mut browser = Browser::new(base);
    let mut pages = vec![
        ("/login", browser.get("/login").await),
        (
            "login for a client",
            browser
                .get(&format!(
                    "/login?next={}",
                    urlencoding(&authorize_path(&web_request(&challenge, "s")))
                ))
                .await,
        ),
        ("/", browser.get("/").await),
    ];
    pages.push((
        "unknown client",
        browser
            .get("/authorize?response_type=code&client_id=nobody")
            .await,
    ));
    browser.login("alice", "wonderland").await;
    pages.push((
        "consent",
        browser
            .get(&authorize_path(&web_request(&challenge, "s")))
            .await,
    ));
    let mut failed = Browser::new(base);
    let login = failed.get("/login").await;
    pages.push((
        "failed login",
        failed.submit_login(&login, "alice", "wrong").await,
    ));
    for (name, page) in pages {
        assert_eq!(page.header("x-frame-options"), Some("DENY"), "{name}");
        // SECURITY.md 18 (RFC 9700 4.2): no referrer from pages that carry codes or state,
        // and nothing loaded from anywhere.
        assert_eq!(
            page.header("referrer-policy"),
            Some("no-referrer"),
            "{name}"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"), "{name}");
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(csp.starts_with("default-src 'none';"), "{name}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{name}: {csp}");
        // Forms post to this server; the consent form's redirect may then go to the
        // client's redirect origin, and nowhere else (issue 12 item 6).
        let form_action = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("form-action "))
            .unwrap_or_else(|| panic!("{name}: no form-action in {csp}"));
        let want = if name == "consent" || name == "login for a client" {
            "form-action 'self' http://127.0.0.1:9"
        } else {
            "form-action 'self'"
        };
        assert_eq!(form_action, want, "{name}");
        assert!(
            page.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{name}"
        );
    }
}

/// RFC 9728: `/api/me`'s 401 names its metadata document (§5.1); the document sits at the
/// well-known URL derived from the resource (§3.1), names that same resource (§3.3) and this
/// server as its authorization server, whose own metadata names the same issuer (RFC 8414
/// §3.3) — what an MCP client walks through.
async fn api_me_publishes_protected_resource_metadata_rfc9728(base: &str) {
    let url = format!("{base}/.well-known/oauth-protected-resource/api/me");
    for token in [None, Some("not-a-token")] {
        let mut req = common::http().get(format!("{base}/api/me"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let page = Page::read(req.send().await.unwrap()).await;
        assert_eq!(page.status, 401, "{}", page.body);
        let challenge = page.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(
            challenge.contains(&format!("resource_metadata=\"{url}\"")),
            "{challenge}"
        );
        assert_eq!(
            token.is_some(),
            challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
    }
    let res = common::http()
        .get(&url)
        .header("origin", "https://any.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "*",
        "a public document, like the server's own metadata"
    );
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["resource"], format!("{base}/api/me"), "RFC 9728 3.3");
    assert_eq!(doc["authorization_servers"], json!([base]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["scopes_supported"], json!(["profile"]));
    let issuer = doc["authorization_servers"][0].as_str().unwrap();
    let meta: serde_json::Value = common::http()
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], issuer, "RFC 8414 3.3");
}

async fn tokens_aimed_at_a_resource_are_refused_by_api_me_rfc8707_2(base: &str) {
    let svc = Auth::Post("svc", "svc-secret");
    let me = format!("{base}/api/me");
    let api_me = |t: String| async move {
        Page::read(
            common::http()
                .get(format!("{base}/api/me"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let aud_of = |t: String| async move {
        post_as(
            base,
            "/introspect",
            Auth::Basic("web", "web-secret"),
            &[("token", &t)],
        )
        .await
        .json()["aud"]
            .clone()
    };
    let access = |p: &Page| issued(p)["access_token"].as_str().unwrap().to_owned();
    let grant = [
        ("grant_type", "client_credentials"),
        ("scope", "read profile"),
    ];

    // Aimed at /api/me: only `profile` is left, and /api/me takes it.
    let p = token(base, svc, &[grant[0], grant[1], ("resource", me.as_str())]).await;
    assert_eq!(issued(&p)["scope"], "profile");
    let t = access(&p);
    assert_eq!(api_me(t.clone()).await.status, 200);
    assert_eq!(aud_of(t).await, json!(me));

    // Aimed at the other API: its `read`, and `profile`, which as an OpenID Connect scope
    // is never cut. /api/me refuses it all the same (401 invalid_token): the audience is
    // not its own. Introspection says whose it is.
    let p = token(
        base,
        svc,
        &[grant[0], grant[1], ("resource", "https://api.example/")],
    )
    .await;
    assert_eq!(issued(&p)["scope"], "profile read");
    let t = access(&p);
    assert_eq!(t.split('.').count(), 3, "a JWT, as the resource asks: {t}");
    let refused = api_me(t.clone()).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused
        .header("www-authenticate")
        .is_some_and(|c| c.contains("invalid_token")));
    assert_eq!(aud_of(t.clone()).await, json!("https://api.example/"));
    // Revoked, the JWT is inactive at introspection at once (RFC 9068 5).
    let r = post_as(base, "/revoke", svc, &[("token", &t)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        post_as(
            base,
            "/introspect",
            Auth::Basic("web", "web-secret"),
            &[("token", &t)]
        )
        .await
        .json(),
        json!({"active": false})
    );

    // For no resource: the server's default audience, the issuer; /api/me takes it.
    let t = access(&token(base, svc, &grant).await);
    assert_eq!(api_me(t.clone()).await.status, 200);
    assert_eq!(aud_of(t).await, json!(base));

    // Unknown or malformed: 400 invalid_target.
    for bad in ["https://unknown.example/", "https://api.example/#f", "api"] {
        let p = token(base, svc, &[grant[0], grant[1], ("resource", bad)]).await;
        assert_error(&p, 400, "invalid_target");
    }
}

async fn healthz_answers_200(base: &str) {
    let page = Page::read(
        common::http()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, "ok");
}

async fn unsupported_grant_type_of_a_client_is_not_served_nor_advertised(base: &str) {
    // The server started although `tv` lists the JWT bearer grant.
    let metadata = Page::read(
        common::http()
            .get(format!("{base}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .json();
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == UNSUPPORTED_GRANT), "{grants:?}");
    let page = token(
        base,
        Auth::Basic("tv", "tv-secret"),
        &[("grant_type", UNSUPPORTED_GRANT), ("assertion", "x")],
    )
    .await;
    assert_error(&page, 400, "unsupported_grant_type");
}

// ----- tests of their own ------------------------------------------------------------------

/// The warnings the contract asks for: the unsupported grant, named, and each discouraged
/// grant enabled because a client lists it.
#[tokio::test]
async fn unsupported_types_and_discouraged_grants_are_logged_as_warnings() {
    let server = TestServer::sqlite("warnings", CONFIG).await;
    let log = std::fs::read_to_string(&server.log).unwrap();
    let line = |needle: &str| log.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let unsupported = line(UNSUPPORTED_GRANT)
        .unwrap_or_else(|| panic!("no warning names the unsupported grant:\n{log}"));
    assert!(
        unsupported.contains("WARN") && unsupported.contains("tv"),
        "{unsupported}"
    );
    let implicit = line("implicit grant")
        .unwrap_or_else(|| panic!("no warning for the implicit grant:\n{log}"));
    assert!(implicit.contains("WARN"), "{implicit}");
    let password = line("password grant")
        .unwrap_or_else(|| panic!("no warning for the password grant:\n{log}"));
    assert!(password.contains("WARN"), "{password}");
    assert!(
        !log.contains("web-secret") && !log.contains("wonderland"),
        "no secret in the logs:\n{log}"
    );
}

/// `[tokens] refresh_grace_seconds` (issue 12 item 12): the public client's rotated-out
/// refresh token, replayed at once (two tabs, a retry), gets the same new pair and the
/// session survives; without the key the same replay revokes it (the flow above).
#[tokio::test]
async fn refresh_grace_window_answers_a_replay_with_the_same_pair_rfc9700_4_14_2() {
    let config = CONFIG.replace(
        "refresh_tokens = true\n",
        "refresh_tokens = true\nrefresh_grace_seconds = 30\n",
    );
    assert_ne!(config, CONFIG);
    let server = TestServer::sqlite("grace", &config).await;
    let base = server.base();
    let first = spa_tokens(base).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
    ];
    let refresh = || token(base, Auth::Public("spa"), &form);
    let (a, b) = tokio::join!(refresh(), refresh());
    let (a, b) = (issued(&a), issued(&b));
    assert_eq!(a["refresh_token"], b["refresh_token"], "one successor");
    assert_eq!(a["access_token"], b["access_token"], "one successor");
    assert_ne!(a["refresh_token"].as_str(), Some(r1.as_str()));
    let again = issued(&refresh().await);
    assert_eq!(again["refresh_token"], a["refresh_token"]);
    assert_me_is_alice(base, a["access_token"].as_str().unwrap()).await;
    // The successor carries on.
    let r2 = a["refresh_token"].as_str().unwrap();
    let next = issued(
        &token(
            base,
            Auth::Public("spa"),
            &[("grant_type", "refresh_token"), ("refresh_token", r2)],
        )
        .await,
    );
    assert_me_is_alice(base, next["access_token"].as_str().unwrap()).await;
}

/// A stop (SIGTERM, which must exit 0) and a start on the same config and database keep
/// the tokens issued before, and the browser's session.
async fn restart_keeps_tokens_and_sessions(server: &mut TestServer) {
    let base = server.base().to_owned();
    let access = alice_token(&base).await;
    assert_me_is_alice(&base, &access).await;
    let mut browser = Browser::new(&base);
    browser.login("alice", "wonderland").await;

    server.restart().await;

    assert_me_is_alice(&base, &access).await;
    let (_, challenge) = pkce();
    let consent = browser
        .get(&authorize_path(&web_request(&challenge, "s")))
        .await;
    assert_eq!(consent.status, 200);
    assert!(
        consent.body.contains("Web Portal"),
        "still signed in after the restart: {}",
        consent.body
    );
    // The configured clients and users were upserted again, not duplicated or broken.
    assert_ne!(alice_token(&base).await, access);
}

#[tokio::test]
async fn restart_keeps_tokens_and_sessions_sqlite() {
    restart_keeps_tokens_and_sessions(&mut TestServer::sqlite("restart", CONFIG).await).await;
}

#[tokio::test]
async fn restart_keeps_tokens_and_sessions_postgres() {
    let Some(mut server) = TestServer::postgres("restart-pg", CONFIG).await else {
        return;
    };
    restart_keeps_tokens_and_sessions(&mut server).await;
}

/// SECURITY.md 13 (logs): values from the network are escaped, so a newline in a client id,
/// grant type or username cannot forge a log line. (At `info`, where the token and login
/// lines are written.)
#[tokio::test]
async fn network_values_cannot_forge_log_lines() {
    let dir = common::temp_dir("log-forging");
    let (config, port) = common::write_config(&dir, &CONFIG.replace("{DATABASE}", ""));
    let log_path = dir.join("server.log");
    let child = std::process::Command::new(common::BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(&dir)
        .env("AUTHGATE_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut running = common::Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir: dir.clone(),
    };
    common::wait_ready(&mut running).await;
    let base = running.base.clone();
    let forged = "x\n2026-01-01T00:00:00Z  INFO authgate::app: FORGED";
    let _ = Page::read(
        common::http()
            .post(format!("{base}/token"))
            .form(&[("grant_type", forged), ("client_id", forged)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A proxy's plain request id is kept and echoed; an odd one is replaced by ours.
    let with_id = |id: String| {
        common::http()
            .get(format!("{base}/.well-known/openid-configuration"))
            .header("x-request-id", id)
            .send()
    };
    let res = with_id("proxy-42".into()).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-42");
    let res = with_id("a".repeat(65)).await.unwrap();
    let ours = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(ours.len() < 40 && ours.contains('-'), "{ours}");
    // Every answer carries an id, a 404 and a refused request too.
    for res in [
        common::http()
            .get(format!("{base}/no/such/page"))
            .send()
            .await
            .unwrap(),
        common::http()
            .post(format!("{base}/token"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    ] {
        assert!(res.status().is_client_error());
        let id = res.headers()["x-request-id"].to_str().unwrap();
        assert!(id.len() < 40 && id.contains('-'), "{id}");
    }
    let mut browser = Browser::new(&base);
    let login = browser.get("/login").await;
    let _ = browser.submit_login(&login, forged, "wrong").await;
    let page = browser.login("alice", "wonderland").await;
    assert_eq!(page.status, 303);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("INFO") && log.contains("token"),
        "info lines are written:\n{log}"
    );
    assert!(
        log.contains("FORGED"),
        "the value is logged, escaped:\n{log}"
    );
    // The engine's refusal, inside the request's span: why, beside what the client was told.
    assert!(
        log.lines().any(|l| l.contains("request{id=")
            && l.contains("refused endpoint=\"token\"")
            && l.contains("error=\"unsupported_grant_type\"")),
        "the engine's refusal event:\n{log}"
    );
    assert!(log.contains("request{id=\"proxy-42\""), "{log}");
    assert!(!log.contains(&"a".repeat(65)), "{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "a forged line:\n{log}"
    );
    let _ = running.child.kill();
    let _ = running.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12 item 3: failed client authentications are limited per (client, address) and
/// per address; past the limit 429 with Retry-After, even for the right secret, while
/// another client from the same address still works.
#[tokio::test]
async fn failed_client_authentication_is_limited_with_429() {
    let server = TestServer::sqlite("client-auth-limit", CONFIG).await;
    let base = server.base();
    for _ in 0..10 {
        let page = token(
            base,
            Auth::Basic("batch", "wrong"),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_error(&page, 401, "invalid_client");
    }
    for path in ["/token", "/revoke", "/introspect"] {
        let page = post_as(
            base,
            path,
            Auth::Basic("batch", "batch-secret"),
            &[("grant_type", "client_credentials"), ("token", "x")],
        )
        .await;
        assert_eq!(page.status, 429, "{path}: {}", page.body);
        assert_eq!(page.json()["error"], "temporarily_unavailable");
        let wait: i64 = page.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=300).contains(&wait), "{wait}");
    }
    issued(
        &token(
            base,
            Auth::Post("svc", "svc-secret"),
            &[("grant_type", "client_credentials")],
        )
        .await,
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert_eq!(
        log.matches("too many failures").count(),
        1,
        "logged once, not per refused request:\n{log}"
    );
}

/// Percent-encodes a query value.
fn urlencoding(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A client assertion for `keyed`, signed with its private key (tests/keys), for `aud`.
fn assertion(aud: &str, jti: &str, lifetime: i64) -> String {
    // The server runs on the system clock: so does its client.
    let now = authgate::Clock::now(&authgate::SystemClock);
    let pem = include_bytes!("keys/client-es256.pem");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("test-client-key".into());
    jsonwebtoken::encode(
        &header,
        &json!({"iss": "keyed", "sub": "keyed", "aud": aud, "jti": jti, "iat": now, "exp": now + lifetime}),
        &jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
    )
    .unwrap()
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn private_key_jwt_assertions_authenticate_once_each_rfc7523_3(base: &str) {
    let meta = common::http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    let token_url = format!("{base}/token");
    let with = |a: &str| {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", a.to_owned()),
        ]
    };
    let post = |form: [(&'static str, String); 3]| {
        let url = token_url.clone();
        async move { Page::read(common::http().post(url).form(&form).send().await.unwrap()).await }
    };
    let a = assertion(&token_url, "e2e-1", 60);
    let t = issued(&post(with(&a)).await);
    assert_eq!(t["scope"], "read");
    // The same assertion again: its jti is spent (RFC 7523 3).
    assert_error(&post(with(&a)).await, 400, "invalid_client");
    // Living longer than five minutes, or for another audience: refused.
    assert_error(
        &post(with(&assertion(&token_url, "e2e-2", 3600))).await,
        400,
        "invalid_client",
    );
    assert_error(
        &post(with(&assertion(
            "https://elsewhere.example/token",
            "e2e-3",
            60,
        )))
        .await,
        400,
        "invalid_client",
    );
    // The keyed client has no secret to fall back to.
    let p = token(
        base,
        Auth::Basic("keyed", "guess"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_error(&p, 401, "invalid_client");
    // 100 concurrent presentations of one assertion: exactly one gets a token, whichever
    // the database. The others are refused: 400 invalid_client, or 429 once the failures
    // reach the server's client authentication limit.
    let a = assertion(&token_url, "e2e-race", 60);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let f = post(with(&a));
        tasks.push(tokio::spawn(f));
    }
    let mut ok = 0;
    for t in tasks {
        let p = t.await.unwrap();
        assert!(
            [200, 400, 429].contains(&p.status),
            "{} {}",
            p.status,
            p.body
        );
        ok += usize::from(p.status == 200);
    }
    assert_eq!(ok, 1, "exactly one of 100");
}

/// A client's logo (RFC 7591 §2 `logo_uri`) is fetched by the server and written into the
/// consent page as a `data:` URL: the page, whose URL carries the request's state, loads
/// nothing from another origin (RFC 9700 4.2.4), and the policy allows `data:` images only
/// on a page that shows one. A logo that is not a PNG, JPEG, GIF or WebP (an SVG, which can
/// carry script) is not shown.
#[tokio::test]
async fn consent_page_shows_the_clients_logo_inline_rfc7591_2_rfc9700_4_2_4() {
    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let images = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let fetched = fetched.clone();
        axum::Router::new()
            .route(
                "/logo.png",
                axum::routing::get(move || {
                    fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async { ([("content-type", "image/png")], PNG) }
                }),
            )
            .route(
                "/logo.svg",
                axum::routing::get(|| async {
                    (
                        [("content-type", "image/png")],
                        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                    )
                }),
            )
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = format!(
        r#"
issuer = "http://127.0.0.1:{{PORT}}"
bind = "127.0.0.1:{{PORT}}"
{{DATABASE}}

[[users]]
username = "alice"
password = "wonderland"

[[clients]]
client_id = "web"
client_secret = "web-secret"
client_name = "Web Portal"
logo_uri = "{images}/logo.png"
tos_uri = "https://web.example/terms"
redirect_uris = ["{WEB_CB}"]
scope = "openid profile"

[[clients]]
client_id = "svg"
client_secret = "svg-secret"
logo_uri = "{images}/logo.svg"
redirect_uris = ["{WEB_CB}"]
scope = "openid profile"
"#
    );
    let server = TestServer::sqlite("logo", &config).await;
    let mut browser = Browser::new(server.base());
    browser.login("alice", "wonderland").await;
    let (_, challenge) = pkce();
    let consent_of = |client: &str| {
        format!("/authorize?response_type=code&client_id={client}&scope=profile&state=s&code_challenge={challenge}&code_challenge_method=S256")
    };
    for _ in 0..2 {
        let page = browser.get(&consent_of("web")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        // Attribute values are escaped (`/` as `&#x2f;`).
        assert!(
            page.body
                .contains(r#"id="client-logo" src="data:image&#x2f;png;base64,iVBORw0KGgo"#),
            "{}",
            page.body
        );
        assert!(!page.body.contains(&images), "{}", page.body);
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("img-src data:;"), "{csp}");
        assert!(page.body.contains(">Terms of service</a>"), "{}", page.body);
    }
    assert_eq!(
        fetched.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );
    let page = browser.get(&consent_of("svg")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("client-logo"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap();
    assert!(!csp.contains("img-src"), "{csp}");
}
