//! The resource-server side over HTTP: the example API service
//! (`authgate-axum/examples/api_jwt.rs`, its own axum app on its own port) checks JWT
//! access tokens (RFC 9068 §4) from the reference server with the server's `/jwks` alone:
//! a token for it passes; one for another resource, from another issuer, or expired gets
//! 401 `invalid_token`; a missing one a bare challenge naming its metadata (RFC 9728); and
//! after a key rotation, a token of the new key validates through a refetch of the key set.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

#[allow(dead_code, unreachable_pub)] // the example's main() and helpers not used here
#[path = "../../authgate-axum/examples/api_jwt.rs"]
mod api_jwt;

#[allow(dead_code, unreachable_pub)] // the example's main() not used here
#[path = "../../authgate-axum/examples/api_introspect.rs"]
mod api_introspect;

use std::sync::Arc;

use authgate::resource::introspection::IntrospectionValidator;
use authgate::resource::jwt::JwtValidator;
use authgate::{Clock, FrozenClock, SystemClock};
use common::oauth::{issued, token, Auth};
use common::server::TestServer;
use common::Page;

const API: &str = "https://api.example/";
const ORDERS: &str = "https://orders.example/";

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[[clients]]
client_id = "svc"
client_secret = "svc-secret-long-enough"
grant_types = ["client_credentials"]
scope = "profile read"

[[resources]]
identifier = "https://api.example/"
scope = "profile"
access_token_format = "jwt"
access_token_ttl = 300

# An API of opaque tokens, which asks the server about each (RFC 7662).
[[clients]]
client_id = "orders-api"
client_secret = "orders-api-secret-long"
grant_types = ["client_credentials"]
scope = ""

[[resources]]
identifier = "https://orders.example/"
scope = "profile"

[[resources]]
identifier = "https://other.example/"
scope = "profile"
access_token_format = "jwt"
"#;

/// An access token of the server at `base` for `resource` (a JWT or opaque, as the
/// resource asks).
async fn token_for(base: &str, resource: &str) -> String {
    let p = token(
        base,
        Auth::Basic("svc", "svc-secret-long-enough"),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "profile"),
            ("resource", resource),
        ],
    )
    .await;
    issued(&p)["access_token"].as_str().unwrap().to_owned()
}

/// The example API on a port of its own, on `clock`; answers its base URL.
async fn start_api(issuer: &str, clock: &FrozenClock) -> String {
    let validator = JwtValidator::with_jwks_uri(
        issuer,
        API,
        format!("{issuer}/jwks"),
        api_jwt::HttpFetcher::new().unwrap(),
    )
    .with_clock(Arc::new(clock.clone()));
    serve(api_jwt::app_with(validator, issuer, API)).await
}

/// Serves `app` on a port of its own; answers its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn hello(api: &str, token: Option<&str>) -> Page {
    let mut req = common::http().get(format!("{api}/hello"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Page::read(req.send().await.unwrap()).await
}

fn refused_as_invalid_token(p: &Page, what: &str) {
    assert_eq!(p.status, 401, "{what}: {}", p.body);
    let c = p.header("www-authenticate").unwrap_or_default();
    assert!(c.starts_with("Bearer "), "{what}: {c}");
    assert!(c.contains("error=\"invalid_token\""), "{what}: {c}");
}

#[tokio::test]
async fn an_api_service_validates_the_reference_server_s_jwts_by_itself_rfc9068_4() {
    let mut server = TestServer::sqlite("resource-server", CONFIG).await;
    let base = server.base().to_owned();
    let clock = FrozenClock::at(SystemClock.now());
    let api = start_api(&base, &clock).await;

    // A token for this API passes, and says what it carries.
    let t = token_for(&base, API).await;
    let ok = hello(&api, Some(&t)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body = ok.json();
    let t_exp = body["exp"].as_i64().unwrap();
    assert_eq!(body["client_id"], "svc");
    assert_eq!(body["aud"], serde_json::json!([API]));
    assert_eq!(body["scope"], "profile");

    // No token: a bare challenge pointing at the API's metadata, which names the server.
    let none = hello(&api, None).await;
    assert_eq!(none.status, 401);
    let c = none
        .header("www-authenticate")
        .unwrap_or_default()
        .to_owned();
    assert!(!c.contains("error="), "{c}");
    let url = c
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("https://api.example", &api);
    let doc: serde_json::Value = common::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], API);
    assert_eq!(doc["authorization_servers"], serde_json::json!([base]));

    // Another resource's token, another issuer's token: 401 invalid_token.
    let elsewhere = token_for(&base, "https://other.example/").await;
    refused_as_invalid_token(&hello(&api, Some(&elsewhere)).await, "another resource");
    let other = TestServer::sqlite("resource-server-other", CONFIG).await;
    let foreign = token_for(other.base(), API).await;
    refused_as_invalid_token(&hello(&api, Some(&foreign)).await, "another issuer");

    // A key rotation switched at once (`--now`), then a restart so the server signs with
    // the new key; the old key stays published for keys.retain, as for any rotation. The API has not seen its kid: it fetches the set again (no
    // sooner than a minute after the last fetch), and the new token passes.
    let config = server.dir().join("config.toml");
    let (code, _, err) = common::run(
        server.dir(),
        &[
            "keys",
            "rotate",
            "--alg",
            "ES256",
            "--now",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    server.restart().await;
    let after = token_for(&base, API).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid;
    assert_ne!(kid(&after), kid(&t), "signed by the new key");
    refused_as_invalid_token(
        &hello(&api, Some(&after)).await,
        "within a minute of the last fetch",
    );
    clock.advance(61);
    let ok = hello(&api, Some(&after)).await;
    assert_eq!(ok.status, 200, "after the refetch: {}", ok.body);
    // The retired key is still published: the earlier token still passes while it lives.
    assert_eq!(hello(&api, Some(&t)).await.status, 200);

    // Expired (the API's clock moves past exp and the 30 s leeway): 401 invalid_token.
    clock.advance(t_exp + 31 - clock.now());
    refused_as_invalid_token(&hello(&api, Some(&t)).await, "expired");
}

#[tokio::test]
async fn an_api_service_asks_the_server_about_opaque_tokens_rfc7662_2() {
    let server = TestServer::sqlite("resource-introspect", CONFIG).await;
    let base = server.base().to_owned();
    let clock = FrozenClock::at(SystemClock.now());
    let validator = |secret: &str| {
        IntrospectionValidator::new(
            format!("{base}/introspect"),
            "orders-api",
            secret,
            api_introspect::HttpTransport::new().unwrap(),
        )
        .with_clock(Arc::new(clock.clone()))
    };
    let api = serve(api_introspect::app(
        validator("orders-api-secret-long"),
        ORDERS,
    ))
    .await;

    // An opaque token for this API: the server vouches for it.
    let t = token_for(&base, ORDERS).await;
    assert_eq!(t.len(), 64, "opaque");
    let ok = hello(&api, Some(&t)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["aud"], serde_json::json!([ORDERS]));
    assert_eq!(ok.json()["client_id"], "svc");

    // A token for another API, one for no API (its audience is the server's), an unknown
    // one: 401 invalid_token.
    refused_as_invalid_token(
        &hello(&api, Some(&token_for(&base, API).await)).await,
        "another API's",
    );
    let p = token(
        &base,
        Auth::Basic("svc", "svc-secret-long-enough"),
        &[("grant_type", "client_credentials"), ("scope", "profile")],
    )
    .await;
    let unaimed = issued(&p)["access_token"].as_str().unwrap().to_owned();
    refused_as_invalid_token(&hello(&api, Some(&unaimed)).await, "no resource");
    refused_as_invalid_token(&hello(&api, Some(&"x".repeat(64))).await, "unknown");

    // Revoked: the cached answer holds for at most a minute, then the server's answer
    // (inactive) is taken.
    let r = common::oauth::post_as(
        &base,
        "/revoke",
        Auth::Basic("svc", "svc-secret-long-enough"),
        &[("token", &t)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(hello(&api, Some(&t)).await.status, 200, "cached");
    clock.advance(61);
    refused_as_invalid_token(&hello(&api, Some(&t)).await, "revoked");

    // The API's own credentials refused by the server: 503, never a verdict on the token.
    let wrong = serve(api_introspect::app(validator("not-the-secret"), ORDERS)).await;
    let fresh = token_for(&base, ORDERS).await;
    let p = hello(&wrong, Some(&fresh)).await;
    assert_eq!(p.status, 503, "{}", p.body);
}
