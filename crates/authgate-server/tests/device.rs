//! The device authorization grant (RFC 8628) through the reference server: a stock client
//! (the `oauth2` crate's device flow, polling) while a user approves on the verification
//! page; the page's rules (sign-in first, CSRF, wrong codes, attempt limits); and the
//! errors a device hears. Each flow runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::oauth::{assert_error, issued, post_as, token, Auth};
use common::{Browser, Page};
use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse,
    TokenUrl,
};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[tokens]
refresh_tokens = true

[[clients]]
client_id = "tv"
client_name = "Living Room TV"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
scope = "openid profile"

[[clients]]
client_id = "cli"
client_secret = "cli-secret"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
scope = "profile"

[[clients]]
client_id = "svc"
client_secret = "svc-secret"
grant_types = ["client_credentials"]
scope = "profile"

[[users]]
username = "alice"
password = "alice-password"
subject = "user-alice"
"#;

on_both_backends!(crate::CONFIG;
    stock_client_polls_while_the_user_approves_on_the_page,
    the_page_needs_a_session_and_its_csrf_field,
    wrong_codes_say_nothing_and_are_limited_per_session,
    a_denied_request_answers_access_denied_and_a_decision_is_final,
    device_authorization_errors_and_discovery,
);

/// Signs in as alice and approves the request whose `verification_uri_complete` is `url`.
async fn approve(base: &str, url: &str, confirm: &str) -> Page {
    let mut browser = Browser::new(base);
    // Unsigned, the page sends the user to sign in, and back to it afterwards.
    let login = browser.get(url).await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Sign in"), "{}", login.body);
    let back = browser
        .submit_login(&login, "alice", "alice-password")
        .await;
    assert_eq!(back.status, 303);
    let confirm_page = browser.get(back.location().unwrap()).await;
    assert_eq!(confirm_page.status, 200, "{}", confirm_page.body);
    assert!(
        confirm_page.body.contains("Living Room TV"),
        "{}",
        confirm_page.body
    );
    let user_code = confirm_page.hidden("user_code").unwrap();
    assert!(
        confirm_page.body.contains(&format!(">{user_code}<")),
        "the code is shown to compare with the device's"
    );
    let csrf = confirm_page.hidden("csrf").unwrap();
    browser
        .post(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", &user_code),
                ("confirm", confirm),
            ],
        )
        .await
}

async fn start(base: &str, client: &str) -> serde_json::Value {
    let page = post_as(
        base,
        "/device_authorization",
        Auth::Public(client),
        &[("scope", "openid profile")],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.json()
}

async fn stock_client_polls_while_the_user_approves_on_the_page(base: &str) {
    let client = BasicClient::new(ClientId::new("tv".into()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!("{base}/device_authorization")).unwrap(),
        )
        .set_token_uri(TokenUrl::new(format!("{base}/token")).unwrap());
    let http = common::http();
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{base}/device")
    );
    assert_eq!(details.expires_in(), Duration::from_secs(600));
    assert_eq!(details.interval(), Duration::from_secs(5));
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    let approver = {
        let base = base.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let done = approve(&base, &complete, "yes").await;
            assert_eq!(done.status, 200, "{}", done.body);
            assert!(done.body.contains("Device connected"), "{}", done.body);
        })
    };
    let tokens = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    approver.await.unwrap();
    // The tokens belong to the approving user.
    let me = http
        .get(format!("{base}/api/me"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["sub"], "user-alice");
    assert_eq!(me["client_id"], "tv");
    // The refresh token works for the device.
    let refreshed = token(
        base,
        Auth::Public("tv"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token().unwrap().secret()),
        ],
    )
    .await;
    issued(&refreshed);
    // RFC 8628 3.5: the device code is spent.
    let again = token(
        base,
        Auth::Public("tv"),
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", details.device_code().secret()),
        ],
    )
    .await;
    assert_error(&again, 400, "invalid_grant");
}

async fn the_page_needs_a_session_and_its_csrf_field(base: &str) {
    let started = start(base, "tv").await;
    let user_code = started["user_code"].as_str().unwrap();
    let mut browser = Browser::new(base);
    // A POST without a session: the sign-in page, which comes back to the code.
    let page = browser
        .post("/device", &[("user_code", user_code), ("confirm", "yes")])
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("Sign in"));
    assert!(page
        .hidden("next")
        .unwrap()
        .starts_with("/device?user_code="));
    browser.login("alice", "alice-password").await;
    let form = browser.get("/device").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"user_code\""));
    // Without the page's CSRF field nothing is decided.
    let forged = browser
        .post("/device", &[("user_code", user_code), ("confirm", "yes")])
        .await;
    assert_eq!(forged.status, 400);
    let pending = token(
        base,
        Auth::Public("tv"),
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", started["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_error(&pending, 400, "authorization_pending");
    // Typed in lower case without the dash, the code still finds the request.
    let csrf = form.hidden("csrf").unwrap();
    let typed = user_code.replace('-', "").to_lowercase();
    let confirm = browser
        .post("/device", &[("csrf", &csrf), ("user_code", &typed)])
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert_eq!(confirm.hidden("user_code").as_deref(), Some(user_code));
    let done = browser
        .post(
            "/device",
            &[("csrf", &csrf), ("user_code", &typed), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    // With openid granted, the device gets an ID token too (the stock client above drops
    // members it does not know).
    let tokens = issued(
        &token(
            base,
            Auth::Public("tv"),
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", started["device_code"].as_str().unwrap()),
            ],
        )
        .await,
    );
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");
}

async fn wrong_codes_say_nothing_and_are_limited_per_session(base: &str) {
    let mut browser = Browser::new(base);
    browser.login("alice", "alice-password").await;
    let form = browser.get("/device").await;
    let csrf = form.hidden("csrf").unwrap();
    // RFC 8628 5.1: entry attempts are limited; the message is the same for every code.
    let mut statuses = Vec::new();
    for code in ["BCDF-GHJK", "not a code", "ZZZZ-ZZZZ", "<b>x</b>"] {
        let page = browser
            .post("/device", &[("csrf", &csrf), ("user_code", code)])
            .await;
        assert!(
            page.body.contains("not valid or has expired"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<b>x"), "the typed text is escaped");
        statuses.push(page.status);
    }
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    for _ in 4..10 {
        browser
            .post("/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")])
            .await;
    }
    let limited = browser
        .post("/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")])
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    // Even a right code waits now: the limit does not tell right from wrong.
    let started = start(base, "tv").await;
    let page = browser
        .post(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", started["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(page.status, 429);
}

async fn a_denied_request_answers_access_denied_and_a_decision_is_final(base: &str) {
    let started = start(base, "tv").await;
    let url = started["verification_uri_complete"].as_str().unwrap();
    let done = approve(base, url, "no").await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("Request denied"), "{}", done.body);
    let device_code = started["device_code"].as_str().unwrap();
    let polled = token(
        base,
        Auth::Public("tv"),
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await;
    // RFC 8628 3.5: access_denied, with 400 like every token endpoint error.
    assert_error(&polled, 400, "access_denied");
    // The same code cannot be approved afterwards.
    let mut browser = Browser::new(base);
    browser.login("alice", "alice-password").await;
    let again = browser.get(url).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("not valid or has expired"));
}

async fn device_authorization_errors_and_discovery(base: &str) {
    // RFC 8628 3.1: an unknown client, a client not registered for the grant, a wrong
    // secret, a scope beyond the client's.
    // (400: RFC 6749 5.2 keeps 401 for a failed Authorization header.)
    let page = post_as(base, "/device_authorization", Auth::Public("nobody"), &[]).await;
    assert_error(&page, 400, "invalid_client");
    let page = post_as(
        base,
        "/device_authorization",
        Auth::Basic("svc", "svc-secret"),
        &[],
    )
    .await;
    assert_error(&page, 400, "unauthorized_client");
    let page = post_as(
        base,
        "/device_authorization",
        Auth::Basic("cli", "wrong"),
        &[],
    )
    .await;
    assert_error(&page, 401, "invalid_client");
    let page = post_as(
        base,
        "/device_authorization",
        Auth::Public("tv"),
        &[("scope", "admin")],
    )
    .await;
    assert_error(&page, 400, "invalid_scope");
    let page = post_as(
        base,
        "/device_authorization",
        Auth::Basic("cli", "cli-secret"),
        &[],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let get = common::http()
        .get(format!("{base}/device_authorization"))
        .send()
        .await
        .unwrap();
    let get = Page::read(get).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.json()["error"], "invalid_request");
    // Polling: pending, then slow_down when polled at once again.
    let started = start(base, "tv").await;
    let code = started["device_code"].as_str().unwrap();
    let form = [("grant_type", DEVICE_GRANT), ("device_code", code)];
    assert_error(
        &token(base, Auth::Public("tv"), &form).await,
        400,
        "authorization_pending",
    );
    assert_error(
        &token(base, Auth::Public("tv"), &form).await,
        400,
        "slow_down",
    );
    // Another client's code.
    let other = token(
        base,
        Auth::Basic("cli", "cli-secret"),
        &[("grant_type", DEVICE_GRANT), ("device_code", code)],
    )
    .await;
    assert_error(&other, 400, "invalid_grant");
    // RFC 8414 / RFC 8628 4: discovery.
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta: serde_json::Value = common::http()
            .get(format!("{base}{doc}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            meta["device_authorization_endpoint"],
            format!("{base}/device_authorization")
        );
        assert!(meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == DEVICE_GRANT));
    }
}
