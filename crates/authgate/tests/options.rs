//! Behaviours behind configuration switches and less common request shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::*;
use base64::Engine;
use bytes::Bytes;

const ISSUER: &str = "https://auth.example";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

fn store() -> MemoryStore {
    let s = MemoryStore::new();
    s.add_client(
        ClientRecord::confidential("web", "secret")
            .redirect_uris(["https://app.example/cb"])
            .grant_types(["authorization_code", "refresh_token", "client_credentials"])
            .response_types(["code"])
            .scope("profile"),
    );
    s
}

fn get(uri: &str) -> OAuth2Request {
    OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536).unwrap()
}

fn token_post(body: &str) -> OAuth2Request {
    let auth = base64::engine::general_purpose::STANDARD.encode("web:secret");
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

fn server(config: ServerConfig) -> AuthorizationServer {
    let mut s = AuthorizationServer::new(store(), config);
    s.register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new());
    s
}

fn owner() -> ResourceOwner {
    ResourceOwner::new("u1", "alice")
}

/// Approves `authorize_uri` as the owner and exchanges the code: the token response body.
async fn code_exchange(s: &AuthorizationServer, authorize_uri: &str) -> serde_json::Value {
    let res = s
        .create_authorization_response(&get(authorize_uri), Some(&owner()))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    s.create_token_response(&token_post(&format!(
        "grant_type=authorization_code&code={code}"
    )))
    .await
    .json_body()
    .unwrap()
}

fn error_of(res: &OAuth2Response) -> String {
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    loc.query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn require_pkce_makes_confidential_clients_send_a_challenge_rfc9700_2_1_1() {
    let lax = server(ServerConfig::new(ISSUER));
    assert!(lax
        .validate_authorization_request(&get("/authorize?response_type=code&client_id=web"))
        .await
        .is_ok());
    let strict = server(ServerConfig {
        require_pkce: true,
        ..ServerConfig::new(ISSUER)
    });
    let err = strict
        .validate_authorization_request(&get("/authorize?response_type=code&client_id=web"))
        .await
        .unwrap_err();
    let AuthorizationError::Redirect { error, response } = err else {
        panic!("must redirect")
    };
    assert_eq!(error.code(), ErrorCode::InvalidRequest);
    assert_eq!(error_of(&response), "invalid_request");
    let with = format!("/authorize?response_type=code&client_id=web&code_challenge={CHALLENGE}&code_challenge_method=S256");
    assert!(strict
        .validate_authorization_request(&get(&with))
        .await
        .is_ok());
}

#[tokio::test]
async fn allow_plain_pkce_accepts_the_plain_method_and_advertises_it_rfc7636_4_2() {
    let plain = "p".repeat(50);
    let uri = format!("/authorize?response_type=code&client_id=web&code_challenge={plain}&code_challenge_method=plain");
    let default = server(ServerConfig::new(ISSUER));
    assert!(default
        .validate_authorization_request(&get(&uri))
        .await
        .is_err());
    assert_eq!(
        default.metadata().to_json()["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let s = server(ServerConfig {
        allow_plain_pkce: true,
        ..ServerConfig::new(ISSUER)
    });
    assert_eq!(
        s.metadata().to_json()["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    let res = s
        .create_authorization_response(&get(&uri), Some(&owner()))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = s
        .create_token_response(&token_post(&format!(
            "grant_type=authorization_code&code={code}&code_verifier={plain}"
        )))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
}

#[tokio::test]
async fn authorization_redirects_carry_no_referrer_and_no_store_rfc9700_4_2() {
    let s = server(ServerConfig::new(ISSUER));
    let ok = s
        .create_authorization_response(
            &get("/authorize?response_type=code&client_id=web"),
            Some(&owner()),
        )
        .await
        .unwrap();
    let err = s
        .create_authorization_response(&get("/authorize?response_type=code&client_id=web"), None)
        .await
        .unwrap_err()
        .into_response();
    for res in [ok, err] {
        assert_eq!(res.headers["referrer-policy"], "no-referrer");
        assert_eq!(res.headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn never_rotation_keeps_refresh_tokens_of_every_client_rfc6749_6() {
    let s = server(ServerConfig {
        refresh_token_rotation: RefreshTokenRotation::Never,
        ..ServerConfig::new(ISSUER).refresh_tokens(true)
    });
    let body = code_exchange(&s, "/authorize?response_type=code&client_id=web").await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let res = s
            .create_token_response(&token_post(&format!(
                "grant_type=refresh_token&refresh_token={refresh}"
            )))
            .await;
        assert_eq!(res.status, 200);
        assert!(
            res.json_body().unwrap().get("refresh_token").is_none(),
            "no new refresh token"
        );
    }
}

async fn issued_token(s: &AuthorizationServer) -> String {
    let body = s
        .create_token_response(&token_post("grant_type=client_credentials"))
        .await
        .json_body()
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn form_request(headers: &[(&str, String)], uri: &str, body: String) -> OAuth2Request {
    let mut b =
        http::Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    OAuth2Request::from_http(b.body(Bytes::from(body)).unwrap(), 65536).unwrap()
}

#[tokio::test]
async fn form_body_token_only_when_enabled_rfc6750_2_2() {
    let s = server(ServerConfig::new(ISSUER));
    let token = issued_token(&s).await;
    let req = form_request(&[], "/api", format!("access_token={token}"));
    let off = ResourceProtector::from_server(&s);
    let e = off
        .validate_request(&req, &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert!(
        e.error().is_none(),
        "ignored: answered as a request without a token"
    );
    let on = ResourceProtector::from_server(&s).allow_form_token(true);
    on.validate_request(&req, &ScopeRequirement::none())
        .await
        .unwrap();
}

#[tokio::test]
async fn token_sent_two_ways_or_in_two_headers_is_invalid_request_rfc6750_2() {
    let s = server(ServerConfig::new(ISSUER));
    let token = issued_token(&s).await;
    let p = ResourceProtector::from_server(&s)
        .allow_form_token(true)
        .allow_query_token(true);
    let two_ways = form_request(
        &[("authorization", format!("Bearer {token}"))],
        "/api",
        format!("access_token={token}"),
    );
    let e = p
        .validate_request(&two_ways, &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidRequest);
    assert_eq!(e.status(), 400);
    assert!(e.www_authenticate().contains("error=\"invalid_request\""));

    let mut headers = http::HeaderMap::new();
    headers.append("authorization", format!("Bearer {token}").parse().unwrap());
    headers.append("authorization", format!("Bearer {token}").parse().unwrap());
    let e = p
        .validate(&request_with(&headers), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidRequest);

    let query_and_header = {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        h
    };
    let e = p
        .validate(
            &request_with_query(&query_and_header, &format!("access_token={token}")),
            &ScopeRequirement::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidRequest);
    p.validate(
        &request_with_query(&http::HeaderMap::new(), &format!("access_token={token}")),
        &ScopeRequirement::none(),
    )
    .await
    .unwrap();
}

/// RFC 6750 §2 ("MUST NOT use more than one method"): a token in the header and another
/// copy in the query or body is refused even when those places are not enabled — the extra
/// copy is not silently ignored.
#[tokio::test]
async fn token_sent_two_ways_is_invalid_request_even_when_the_other_way_is_disabled_rfc6750_2() {
    let s = server(ServerConfig::new(ISSUER));
    let token = issued_token(&s).await;
    let p = ResourceProtector::from_server(&s); // form and query tokens off
    let mut h = http::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let e = p
        .validate(
            &request_with_query(&h, &format!("access_token={token}")),
            &ScopeRequirement::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.error().unwrap().code()),
        (http::StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest)
    );
    let e = p
        .validate_request(
            &form_request(
                &[("authorization", format!("Bearer {token}"))],
                "/api",
                format!("access_token={token}"),
            ),
            &ScopeRequirement::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidRequest);
    // The header alone, and a query token alone (not enabled: no token), as before.
    p.validate(&request_with(&h), &ScopeRequirement::none())
        .await
        .unwrap();
    let e = p
        .validate(
            &request_with_query(&http::HeaderMap::new(), &format!("access_token={token}")),
            &ScopeRequirement::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), http::StatusCode::UNAUTHORIZED);
    assert!(e.error().is_none(), "no token was taken: a bare challenge");
}

#[tokio::test]
async fn expiry_follows_the_injected_clock_without_sleeping() {
    let clock = FrozenClock::at(1_800_000_000);
    let mut s =
        AuthorizationServer::new(store(), ServerConfig::new(ISSUER)).with_clock(clock.clone());
    s.register_grant(ClientCredentialsGrant::new());
    let token = issued_token(&s).await;
    let p = ResourceProtector::from_server(&s);
    let mut h = http::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    clock.advance(3599);
    p.validate(&request_with(&h), &ScopeRequirement::none())
        .await
        .unwrap();
    clock.advance(1);
    let e = p
        .validate(&request_with(&h), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
}

/// Overrides one hook and keeps every other default, the token lookup included.
struct SkewTolerant;

#[async_trait]
impl BearerValidator for SkewTolerant {
    fn token_expired(&self, token: &TokenRecord, now: i64) -> bool {
        now >= token.expires_at + 30
    }
}

#[tokio::test]
async fn one_validator_hook_is_overridden_and_the_others_keep_their_defaults() {
    let clock = FrozenClock::at(1_800_000_000);
    let mut s =
        AuthorizationServer::new(store(), ServerConfig::new(ISSUER)).with_clock(clock.clone());
    s.register_grant(ClientCredentialsGrant::new());
    let token = issued_token(&s).await;
    let p = ResourceProtector::from_server(&s).with_validator(SkewTolerant);
    let mut h = http::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    clock.advance(3610);
    p.validate(&request_with(&h), &ScopeRequirement::none())
        .await
        .unwrap();
    // Defaults still apply: scope check and revocation.
    let e = p
        .validate(&request_with(&h), &ScopeRequirement::all_of("admin"))
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InsufficientScope);
    clock.advance(30);
    let e = p
        .validate(&request_with(&h), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn rotated_refresh_token_keeps_the_original_scope_when_access_narrows_rfc6749_6() {
    let s = {
        let store = MemoryStore::new();
        store.add_client(
            ClientRecord::confidential("web", "secret")
                .redirect_uris(["https://app.example/cb"])
                .grant_types(["authorization_code", "refresh_token"])
                .response_types(["code"])
                .scope("profile email"),
        );
        let mut s = AuthorizationServer::new(
            store,
            ServerConfig {
                refresh_token_rotation: RefreshTokenRotation::Always,
                ..ServerConfig::new(ISSUER).refresh_tokens(true)
            },
        );
        s.register_grant(AuthorizationCodeGrant::new())
            .register_grant(RefreshTokenGrant::new());
        s
    };
    let body = code_exchange(
        &s,
        "/authorize?response_type=code&client_id=web&scope=profile%20email",
    )
    .await;
    let first = body["refresh_token"].as_str().unwrap().to_owned();
    let narrowed = s
        .create_token_response(&token_post(&format!(
            "grant_type=refresh_token&refresh_token={first}&scope=profile"
        )))
        .await
        .json_body()
        .unwrap();
    assert_eq!(narrowed["scope"], "profile");
    let second = narrowed["refresh_token"].as_str().unwrap().to_owned();
    // The rotated refresh token still carries "profile email".
    let wide = s
        .create_token_response(&token_post(&format!(
            "grant_type=refresh_token&refresh_token={second}"
        )))
        .await;
    assert_eq!(wide.status, 200);
    assert_eq!(wide.json_body().unwrap()["scope"], "email profile");
}

/// A GET request head carrying `headers` (what `ResourceProtector::validate` takes).
fn request_with(headers: &http::HeaderMap) -> http::request::Parts {
    let (mut parts, ()) = http::Request::get("/api").body(()).unwrap().into_parts();
    parts.headers = headers.clone();
    parts
}

/// The same with a query string.
fn request_with_query(headers: &http::HeaderMap, query: &str) -> http::request::Parts {
    let mut parts = request_with(headers);
    parts.uri = format!("/api?{query}").parse().unwrap();
    parts
}
