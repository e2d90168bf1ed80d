//! Dynamic client registration (RFC 7591, RFC 7592) through the reference server: a client
//! registers over HTTP and then runs the code flow (consent page marked unverified),
//! client credentials and refresh; it reads, updates and deletes its registration, after
//! which its tokens fail; bad documents never get a 5xx; initial access tokens from the
//! config and from the CLI; the per-address limit. Each flow on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::oauth::{assert_error, issued, pkce, query_of, token, Auth};
use common::server::TestServer;
use common::{Browser, Page};
use serde_json::{json, Value};

const CB: &str = "http://127.0.0.1:9/cb";

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[tokens]
refresh_tokens = true

[registration]
enabled = true
allowed_grant_types = ["authorization_code", "refresh_token", "client_credentials"]
allowed_scope = "openid profile"

[[clients]]
client_id = "first-party"
client_secret = "first-party-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
scope = "openid profile email admin"

[[users]]
username = "alice"
password = "alice-password"
subject = "user-alice"
"#;

on_both_backends!(crate::CONFIG;
    a_registered_client_runs_the_code_flow_client_credentials_and_refresh,
    rfc7592_read_update_delete_and_the_deleted_clients_tokens_fail,
    bad_documents_get_json_errors_never_a_5xx,
);

async fn register(base: &str, body: &Value, bearer: Option<&str>) -> Page {
    let mut req = common::http().post(format!("{base}/register")).json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    Page::read(req.send().await.unwrap()).await
}

async fn raw(
    base: &str,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    bearer: Option<&str>,
) -> Page {
    let mut req = common::http()
        .request(method, format!("{base}{path}"))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    Page::read(req.send().await.unwrap()).await
}

async fn me(base: &str, access: &str) -> u16 {
    common::http()
        .get(format!("{base}/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_registered_client_runs_the_code_flow_client_credentials_and_refresh(base: &str) {
    // RFC 8414 / RFC 7591: the endpoint is advertised when enabled.
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta: Value = common::http()
            .get(format!("{base}{doc}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            meta["registration_endpoint"],
            format!("{base}/register"),
            "{doc}"
        );
    }
    let page = register(
        base,
        &json!({
            "redirect_uris": [CB],
            "client_name": "first-party",
            "client_uri": "https://first-party.example/",
            "policy_uri": "https://first-party.example/privacy",
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "openid profile email admin",
        }),
        None,
    )
    .await;
    assert_eq!(page.status, 201, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let c = page.json();
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    assert_ne!(id, "first-party");
    assert_eq!(
        c["scope"], "openid profile",
        "narrowed to registration.allowed_scope"
    );

    // The consent page names it as it claims, marked unverified (RFC 9700 4.15).
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(base);
    browser.login("alice", "alice-password").await;
    let authorize = format!(
        "/authorize?response_type=code&client_id={id}&scope=profile&state=s&code_challenge={challenge}&code_challenge_method=S256"
    );
    let consent = browser.get(&authorize).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("id=\"unverified\""),
        "{}",
        consent.body
    );
    assert!(consent.body.contains("first-party"));
    // With the links it registered, as its claims (RFC 7591 section 2); the page escapes
    // `/` in attributes as `&#x2f;`.
    for link in [
        r#"<a href="https:&#x2f;&#x2f;first-party.example&#x2f;" rel="noopener noreferrer nofollow">Website</a>"#,
        r#"<a href="https:&#x2f;&#x2f;first-party.example&#x2f;privacy" rel="noopener noreferrer nofollow">Privacy policy</a>"#,
    ] {
        assert!(consent.body.contains(link), "{link}: {}", consent.body);
    }
    assert!(!consent.body.contains("Terms of service"));
    let csrf = consent.hidden("csrf").unwrap();
    let back = browser
        .post(&authorize, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    let code = query_of(back.location().unwrap())["code"].clone();
    let tokens = issued(
        &token(
            base,
            Auth::Basic(id, secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    );
    assert_eq!(
        me(base, tokens["access_token"].as_str().unwrap()).await,
        200
    );
    issued(
        &token(
            base,
            Auth::Basic(id, secret),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await,
    );
    let cc = issued(
        &token(
            base,
            Auth::Basic(id, secret),
            &[("grant_type", "client_credentials"), ("scope", "profile")],
        )
        .await,
    );
    assert_eq!(me(base, cc["access_token"].as_str().unwrap()).await, 200);
    // A configured client's page carries no such mark.
    let (_, challenge) = pkce();
    let page = browser
        .get(&format!(
            "/authorize?response_type=code&client_id=first-party&scope=profile&code_challenge={challenge}&code_challenge_method=S256"
        ))
        .await;
    assert!(!page.body.contains("id=\"unverified\""));
}

async fn rfc7592_read_update_delete_and_the_deleted_clients_tokens_fail(base: &str) {
    let c = register(
        base,
        &json!({"grant_types": ["client_credentials"], "scope": "profile"}),
        None,
    )
    .await
    .json();
    let (id, secret) = (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    );
    let uri = c["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, format!("{base}/register/{id}"));
    let rat = c["registration_access_token"].as_str().unwrap().to_owned();
    let http = common::http();
    let read = Page::read(http.get(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["client_id"], id.as_str());
    let wrong = Page::read(
        http.get(&uri)
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(wrong.json()["error"], "invalid_token");
    let updated = Page::read(
        http.put(&uri)
            .bearer_auth(&rat)
            .json(&json!({"client_id": id, "grant_types": ["client_credentials"], "client_name": "Nightly job", "scope": "profile"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["client_name"], "Nightly job");
    let access = issued(
        &token(
            base,
            Auth::Basic(&id, &secret),
            &[("grant_type", "client_credentials")],
        )
        .await,
    )["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me(base, &access).await, 200);
    let deleted = Page::read(http.delete(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    assert_eq!(deleted.status, 204);
    // RFC 7592 2.3: the client and what it held stop working at once.
    assert_eq!(
        me(base, &access).await,
        401,
        "the deleted client's token is refused"
    );
    let again = token(
        base,
        Auth::Basic(&id, &secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_error(&again, 401, "invalid_client");
    let gone = Page::read(http.get(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    assert_eq!(gone.status, 401);
}

async fn bad_documents_get_json_errors_never_a_5xx(base: &str) {
    let post = reqwest::Method::POST;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("application/x-www-form-urlencoded", b"redirect_uris=x".to_vec(), 400, "invalid_client_metadata"),
        ("application/json", b"{\"redirect_uris\": [".to_vec(), 400, "invalid_client_metadata"),
        ("application/json", vec![0xff, 0xfe, b'{'], 400, "invalid_client_metadata"),
        ("application/json", b"{\"redirect_uris\": \"x\"}".to_vec(), 400, "invalid_client_metadata"),
        ("application/json", b"{\"redirect_uris\": [\"https://a.example/cb#f\"]}".to_vec(), 400, "invalid_redirect_uri"),
        ("application/json", b"{\"redirect_uris\": [\"cb\"]}".to_vec(), 400, "invalid_redirect_uri"),
        ("application/json", b"{\"redirect_uris\": [\"javascript:alert(1)\"], \"token_endpoint_auth_method\": \"none\"}".to_vec(), 400, "invalid_redirect_uri"),
        ("application/json", b"{\"grant_types\": [\"password\"]}".to_vec(), 400, "invalid_client_metadata"),
        ("application/json", b"{\"redirect_uris\": [\"https://a.example/cb\"], \"software_statement\": \"x.y.z\"}".to_vec(), 400, "unapproved_software_statement"),
        ("application/json", format!("{{\"client_name\": \"{}\"}}", "a".repeat(70_000)).into_bytes(), 413, "invalid_request"),
    ];
    for (ct, body, status, code) in cases {
        let page = raw(base, post.clone(), "/register", ct, body, None).await;
        assert_eq!(page.status, status, "{ct}: {}", page.body);
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{}",
            page.body
        );
        assert_eq!(page.json()["error"], code, "{}", page.body);
    }
    let get = Page::read(
        common::http()
            .get(format!("{base}/register"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(get.status, 405);
    assert_eq!(get.json()["error"], "invalid_request");
    let page = raw(
        base,
        reqwest::Method::PATCH,
        "/register/x",
        "application/json",
        b"{}".to_vec(),
        None,
    )
    .await;
    assert_eq!(page.status, 401);
}

const GUARDED: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[registration]
enabled = true
initial_access_token = "config-onboarding-token"
requests_per_hour = 8
"#;

async fn initial_access_tokens_from_the_config_and_the_cli(server: &TestServer) {
    let base = server.base();
    let doc = json!({"redirect_uris": [CB]});
    // RFC 7591 3 / RFC 6750 3: without a token, or with a wrong one, 401 invalid_token.
    let page = register(base, &doc, None).await;
    assert_eq!(page.status, 401);
    assert_eq!(page.json()["error"], "invalid_token");
    assert!(page
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    let page = register(base, &doc, Some("guess")).await;
    assert_eq!(page.status, 401);
    assert!(page
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        register(base, &doc, Some("config-onboarding-token"))
            .await
            .status,
        201
    );

    // A token made with the CLI works until it is revoked; only its hash is kept.
    let dir = server.dir();
    let (code, out, err) = common::run(
        dir,
        &[
            "registration",
            "token",
            "create",
            "--config",
            "config.toml",
            "--label",
            "ci",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = out.split_whitespace().nth(3).unwrap().to_owned();
    let made = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(register(base, &doc, Some(&made)).await.status, 201);
    let (_, listed, _) = common::run(
        dir,
        &["registration", "token", "list", "--config", "config.toml"],
    );
    assert!(listed.contains(&id) && listed.contains("ci"), "{listed}");
    assert!(!listed.contains(&made), "the token itself is never listed");
    let (code, _, err) = common::run(
        dir,
        &[
            "registration",
            "token",
            "revoke",
            "--config",
            "config.toml",
            &id,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(register(base, &doc, Some(&made)).await.status, 401);
    let (code, _, _) = common::run(
        dir,
        &[
            "registration",
            "token",
            "revoke",
            "--config",
            "config.toml",
            &id,
        ],
    );
    assert_ne!(code, 0, "revoking twice is an error");

    // The per-address limit: 8 an hour, then 429 with Retry-After.
    let mut last = None;
    for _ in 0..4 {
        last = Some(register(base, &doc, None).await);
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{}", last.body);
    assert_eq!(last.json()["error"], "temporarily_unavailable");
    let wait: u64 = last.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 3600);
}

#[tokio::test]
async fn initial_access_tokens_sqlite() {
    let server = TestServer::sqlite("registration-tokens", GUARDED).await;
    initial_access_tokens_from_the_config_and_the_cli(&server).await;
}

#[tokio::test]
async fn initial_access_tokens_postgres() {
    let Some(server) = TestServer::postgres("registration-tokens", GUARDED).await else {
        return;
    };
    initial_access_tokens_from_the_config_and_the_cli(&server).await;
}

#[tokio::test]
async fn registration_is_off_unless_enabled_and_open_registration_is_logged() {
    let off = TestServer::sqlite(
        "registration-off",
        "issuer = \"http://127.0.0.1:{PORT}\"\nbind = \"127.0.0.1:{PORT}\"\n",
    )
    .await;
    let meta: Value = common::http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            off.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta.get("registration_endpoint").is_none(), "{meta}");
    let page = register(off.base(), &json!({"redirect_uris": [CB]}), None).await;
    assert_eq!(page.status, 404);
    assert_eq!(page.json()["error"], "invalid_request");

    let open = TestServer::sqlite("registration-open", CONFIG).await;
    let log = std::fs::read_to_string(&open.log).unwrap();
    assert!(log.contains("client registration is open"), "{log}");
}

/// RFC 7591 2.3 through the binary: a statement signed by a key in
/// `registration.software_statement_jwks` is taken, its claims over the request's; one
/// signed by another key is `invalid_software_statement`.
#[tokio::test]
async fn software_statements_signed_by_a_configured_key_are_trusted() {
    use authgate::jose::{Algorithm, KeyEncryptionKey, KeySet, RotationPolicy};
    let keys = |_: u8| {
        KeySet::new(
            std::sync::Arc::new(authgate::MemoryStore::new()),
            KeyEncryptionKey::generate(&authgate::OsRng),
            RotationPolicy::default(),
        )
    };
    let (trusted, stranger) = (keys(1), keys(2));
    let jwks = serde_json::to_value(trusted.jwks().await.unwrap()).unwrap();
    let jwks_toml = toml::to_string(&json!({"software_statement_jwks": jwks})).unwrap();
    let config = format!(
        "issuer = \"http://127.0.0.1:{{PORT}}\"\nbind = \"127.0.0.1:{{PORT}}\"\n\n[registration]\nenabled = true\n{}",
        jwks_toml.replace("[software_statement_jwks", "[registration.software_statement_jwks")
    );
    let server = TestServer::sqlite("registration-statements", &config).await;
    let claims =
        json!({"software_id": "tool-7", "client_name": "Certified Tool", "redirect_uris": [CB]});
    let statement = trusted.sign(Algorithm::ES256, None, &claims).await.unwrap();
    let page = register(
        server.base(),
        &json!({"redirect_uris": ["http://127.0.0.1:9/other"], "client_name": "Claimed", "software_statement": statement}),
        None,
    )
    .await;
    assert_eq!(page.status, 201, "{}", page.body);
    let c = page.json();
    assert_eq!(c["client_name"], "Certified Tool");
    assert_eq!(c["software_id"], "tool-7");
    assert_eq!(
        c["redirect_uris"],
        json!([CB]),
        "the statement's redirect URIs win"
    );
    let forged = stranger
        .sign(Algorithm::ES256, None, &claims)
        .await
        .unwrap();
    let page = register(
        server.base(),
        &json!({"redirect_uris": [CB], "software_statement": forged}),
        None,
    )
    .await;
    assert_eq!(page.status, 400);
    assert_eq!(page.json()["error"], "invalid_software_statement");
}

const DOCUMENTS: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[registration]
client_id_metadata_documents = true
allowed_scope = "openid profile"

[[users]]
username = "alice"
password = "alice-password"
subject = "user-alice"
"#;

/// Client ID Metadata Documents: a URL client id runs the code flow with PKCE; the consent
/// page shows the publishing host and the unverified mark; a document naming another
/// client_id, a redirect, and a missing document are unknown clients.
async fn metadata_document_clients(base: &str) {
    let meta: Value = common::http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    assert!(
        meta.get("registration_endpoint").is_none(),
        "RFC 7591 registration stays off"
    );
    let docs_base = {
        // The documents must name their own URL, so the port is picked first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let good = json!({"client_id": format!("{base}/client.json"), "client_name": "MCP Inspector", "redirect_uris": [CB], "scope": "profile admin"});
        let liar = json!({"client_id": format!("{base}/client.json"), "redirect_uris": [CB]});
        let app = axum::Router::new()
            .route(
                "/client.json",
                axum::routing::get(move || {
                    let d = good.clone();
                    async move {
                        (
                            [
                                ("cache-control", "max-age=600"),
                                ("content-type", "application/json"),
                            ],
                            d.to_string(),
                        )
                    }
                }),
            )
            .route(
                "/liar.json",
                axum::routing::get(move || {
                    let d = liar.clone();
                    async move { ([("content-type", "application/json")], d.to_string()) }
                }),
            )
            .route(
                "/moved.json",
                axum::routing::get(|| async {
                    (http::StatusCode::FOUND, [("location", "/client.json")])
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    };
    let client_id = format!("{docs_base}/client.json");
    let (verifier, challenge) = pkce();
    let q = |id: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", id)
            .append_pair("scope", "profile")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    };
    let mut browser = Browser::new(base);
    browser.login("alice", "alice-password").await;
    let consent = browser.get(&format!("/authorize?{}", q(&client_id))).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("MCP Inspector"));
    assert!(
        consent.body.contains("id=\"client-host\""),
        "{}",
        consent.body
    );
    assert!(consent.body.contains("<strong>127.0.0.1</strong>"));
    assert!(consent.body.contains("id=\"unverified\""));
    let csrf = consent.hidden("csrf").unwrap();
    let back = browser
        .post(
            &format!("/authorize?{}", q(&client_id)),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    let code = query_of(back.location().unwrap())["code"].clone();
    let tokens = issued(
        &token(
            base,
            Auth::Public(&client_id),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    );
    assert_eq!(tokens["scope"], "profile");
    assert_eq!(
        me(base, tokens["access_token"].as_str().unwrap()).await,
        200
    );
    for bad in ["liar.json", "moved.json", "missing.json"] {
        let page = browser
            .get(&format!("/authorize?{}", q(&format!("{docs_base}/{bad}"))))
            .await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
        assert!(
            page.body.contains("invalid_client")
                || page.body.contains("unknown client")
                || page.body.contains("client"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn metadata_document_clients_sqlite() {
    let server = TestServer::sqlite("cimd", DOCUMENTS).await;
    metadata_document_clients(server.base()).await;
}

#[tokio::test]
async fn metadata_document_clients_postgres() {
    let Some(server) = TestServer::postgres("cimd", DOCUMENTS).await else {
        return;
    };
    metadata_document_clients(server.base()).await;
}

/// Once an initial access token was made, registration stays closed, even after the last
/// one is revoked (a leaked token is revoked to close the door, not to open it).
#[tokio::test]
async fn revoking_the_last_cli_token_does_not_open_registration() {
    let server = TestServer::sqlite("registration-revoke-last", CONFIG).await;
    let base = server.base();
    let doc = json!({"redirect_uris": [CB]});
    assert_eq!(
        register(base, &doc, None).await.status,
        201,
        "open at first"
    );
    let (code, out, err) = common::run(
        server.dir(),
        &["registration", "token", "create", "--config", "config.toml"],
    );
    assert_eq!(code, 0, "{err}");
    let id = out.split_whitespace().nth(3).unwrap().to_owned();
    let made = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(
        register(base, &doc, None).await.status,
        401,
        "a token is needed now"
    );
    assert_eq!(register(base, &doc, Some(&made)).await.status, 201);
    let (code, _, err) = common::run(
        server.dir(),
        &[
            "registration",
            "token",
            "revoke",
            "--config",
            "config.toml",
            &id,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(register(base, &doc, None).await.status, 401, "still closed");
    assert_eq!(
        register(base, &doc, Some(&made)).await.status,
        401,
        "the revoked token fails"
    );
    let (_, listed, _) = common::run(
        server.dir(),
        &["registration", "token", "list", "--config", "config.toml"],
    );
    assert!(listed.contains("(revoked)"), "{listed}");
}

/// RFC 9700 4.11.2: a self-registered client's redirect URI is its own claim, so the
/// server never sends a browser there without the user: errors before consent are shown.
#[tokio::test]
async fn a_self_registered_clients_errors_are_shown_not_redirected() {
    let server = TestServer::sqlite("registration-open-redirect", CONFIG).await;
    let base = server.base();
    let c = register(
        base,
        &json!({"redirect_uris": ["https://evil.example/landing"], "token_endpoint_auth_method": "none"}),
        None,
    )
    .await
    .json();
    let id = c["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let http = common::http();
    for extra in ["&prompt=none", "&scope=admin", "&response_type=token"] {
        let rt = if extra.contains("response_type") {
            ""
        } else {
            "&response_type=code"
        };
        let page = Page::read(
            http.get(format!(
                "{base}/authorize?client_id={id}{rt}&code_challenge={challenge}&code_challenge_method=S256&state=s{extra}"
            ))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(
            page.status,
            400,
            "{extra}: {:?} {}",
            page.location(),
            page.body
        );
        assert!(page.location().is_none(), "{extra}: no redirect");
        assert!(page
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
    }
}

/// OpenID Connect Dynamic Registration 5 through the binary: the sector document is
/// fetched and must list the client's redirect URIs.
#[tokio::test]
async fn a_sector_identifier_uri_is_fetched_and_checked() {
    let server = TestServer::sqlite("registration-sector", CONFIG).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let docs = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = axum::Router::new().route(
        "/sector.json",
        axum::routing::get(|| async {
            (
                [("content-type", "application/json")],
                json!([CB]).to_string(),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let ok = register(
        server.base(),
        &json!({"redirect_uris": [CB], "subject_type": "pairwise", "sector_identifier_uri": format!("{docs}/sector.json")}),
        None,
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(
        ok.json()["sector_identifier_uri"],
        format!("{docs}/sector.json")
    );
    let refused = register(
        server.base(),
        &json!({"redirect_uris": ["http://127.0.0.1:9/elsewhere"], "subject_type": "pairwise", "sector_identifier_uri": format!("{docs}/sector.json")}),
        None,
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "invalid_client_metadata");
}

/// Issue 12 item 1 (SECURITY.md 19): behind a trusted proxy each client's own address is
/// limited (not the proxy's, shared by everyone); from an untrusted peer the forwarding
/// header is ignored.
#[tokio::test]
async fn per_address_limits_see_through_trusted_proxies_only() {
    let config = |proxies: &str| {
        format!(
            "issuer = \"http://127.0.0.1:{{PORT}}\"\nbind = \"127.0.0.1:{{PORT}}\"\n{proxies}\n[registration]\nenabled = true\nrequests_per_hour = 2\n"
        )
    };
    let send = |base: String, forwarded: &'static str| async move {
        common::http()
            .post(format!("{base}/register"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"redirect_uris": [CB]}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let behind = TestServer::sqlite(
        "proxies-trusted",
        &config("trusted_proxies = [\"127.0.0.1\"]"),
    )
    .await;
    let base = behind.base().to_owned();
    assert_eq!(send(base.clone(), "203.0.113.1").await, 201);
    assert_eq!(send(base.clone(), "203.0.113.1").await, 201);
    assert_eq!(
        send(base.clone(), "203.0.113.1").await,
        429,
        "this client's limit"
    );
    assert_eq!(
        send(base.clone(), "6.6.6.6, 203.0.113.2").await,
        201,
        "another client is unaffected"
    );
    let direct = TestServer::sqlite("proxies-none", &config("")).await;
    let base = direct.base().to_owned();
    assert_eq!(send(base.clone(), "203.0.113.1").await, 201);
    assert_eq!(send(base.clone(), "203.0.113.2").await, 201);
    assert_eq!(
        send(base.clone(), "203.0.113.3").await,
        429,
        "the header is not believed: one address"
    );
}

/// Issue 12 item 2 (SECURITY.md 22): guesses from one address lock that address out for
/// the user (429), never the user: signing in from elsewhere still works, after a short
/// delay while the account is under attack. The password grant counts the same way.
#[tokio::test]
#[allow(clippy::disallowed_methods)] // the delay is real time, measured as such
async fn password_guesses_elsewhere_cannot_lock_a_user_out() {
    let server = TestServer::sqlite(
        "password-limits",
        "issuer = \"http://127.0.0.1:{PORT}\"\nbind = \"127.0.0.1:{PORT}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\n[[clients]]\nclient_id = \"svc\"\nclient_secret = \"svc-secret-0123456789\"\ngrant_types = [\"password\"]\nscope = \"profile\"\n\n[[users]]\nusername = \"alice\"\npassword = \"alice-password\"\n",
    )
    .await;
    let base = server.base().to_owned();
    let login = |from: &'static str, password: &'static str| {
        let base = base.clone();
        async move {
            let http = common::http();
            let page = Page::read(
                http.get(format!("{base}/login"))
                    .header("x-forwarded-for", from)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let csrf = page.hidden("csrf").unwrap();
            let cookie = page.set_cookie("authgate_csrf").unwrap();
            let res = http
                .post(format!("{base}/login"))
                .header("x-forwarded-for", from)
                .header("cookie", cookie.split(';').next().unwrap())
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", "alice"),
                    ("password", password),
                    ("next", "/"),
                ])
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(login("203.0.113.66", "guess").await, 401);
    }
    assert_eq!(
        login("203.0.113.66", "alice-password").await,
        429,
        "that address is out, for alice"
    );
    // Alice from her own address: in, after a delay (her account was being guessed at).
    let started = std::time::Instant::now();
    assert_eq!(login("198.51.100.10", "alice-password").await, 303);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "delayed"
    );
    // The password grant: per address too.
    let grant = |from: &'static str, password: &'static str| {
        let base = base.clone();
        async move {
            let res = common::http()
                .post(format!("{base}/token"))
                .header("x-forwarded-for", from)
                .basic_auth("svc", Some("svc-secret-0123456789"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(grant("192.0.2.77", "guess").await, 400);
    }
    assert_eq!(
        grant("192.0.2.77", "alice-password").await,
        400,
        "refused from there"
    );
    assert_eq!(
        grant("198.51.100.10", "alice-password").await,
        200,
        "not from alice's address"
    );
}

/// Issue 12 item 7: a client dropped from the config file is reported at start (it still
/// works until `authgate client remove`); clients made with the CLI are not.
#[tokio::test]
async fn a_client_dropped_from_the_config_is_reported_at_start() {
    let mut server = TestServer::sqlite(
        "dropped-client",
        "issuer = \"http://127.0.0.1:{PORT}\"\nbind = \"127.0.0.1:{PORT}\"\n\n[[clients]]\nclient_id = \"keep\"\nclient_secret = \"keep-secret-0123456789\"\ngrant_types = [\"client_credentials\"]\n\n[[clients]]\nclient_id = \"dropped\"\nclient_secret = \"dropped-secret-0123456\"\ngrant_types = [\"client_credentials\"]\n",
    )
    .await;
    let (code, _, err) = common::run(
        server.dir(),
        &[
            "client",
            "add",
            "cli-made",
            "--grant-type",
            "client_credentials",
            "--config",
            "config.toml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let path = server.dir().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("[[clients]]\nclient_id = \"dropped\"").unwrap();
    std::fs::write(&path, &text[..cut]).unwrap();
    server.restart().await;
    let log = std::fs::read_to_string(server.log.with_extension("2.log")).unwrap();
    let reported: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("earlier config file"))
        .collect();
    assert_eq!(reported.len(), 1, "{log}");
    assert!(reported[0].contains("dropped"), "{log}");
}
