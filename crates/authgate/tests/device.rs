//! The device authorization grant (RFC 8628) through the engine: the device authorization
//! endpoint, polling at the token endpoint, and the verification page's steps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

const T0: i64 = 1_800_000_000;

struct Fixture {
    server: AuthorizationServer,
    clock: FrozenClock,
    store: MemoryStore,
}

fn fixture() -> Fixture {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::public("tv")
            .grant_types([DEVICE_CODE_GRANT_TYPE, "refresh_token"])
            .scope("profile email"),
    );
    store.add_client(
        ClientRecord::confidential("cli", "cli-secret")
            .grant_types([DEVICE_CODE_GRANT_TYPE])
            .scope("profile"),
    );
    store.add_client(
        ClientRecord::confidential("web", "web-secret")
            .grant_types(["client_credentials"])
            .scope("profile"),
    );
    let clock = FrozenClock::at(T0);
    let mut server = AuthorizationServer::new(
        store.stores(),
        ServerConfig::new("https://as.example").refresh_tokens(true),
    )
    .with_clock(clock.clone());
    server.register_grant(DeviceCodeGrant::new());
    server
        .register_endpoint(DeviceAuthorizationEndpoint::new("/device"))
        .unwrap();
    Fixture {
        server,
        clock,
        store,
    }
}

fn post(path: &str, body: &str, basic: Option<&str>) -> OAuth2Request {
    let mut req =
        http::Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(creds) = basic {
        let auth = base64::engine::general_purpose::STANDARD.encode(creds);
        req = req.header("authorization", format!("Basic {auth}"));
    }
    OAuth2Request::from_http(req.body(Bytes::from(body.to_owned())).unwrap(), 65536).unwrap()
}

impl Fixture {
    async fn device(&self, body: &str, basic: Option<&str>) -> (u16, Value) {
        let res = self
            .server
            .create_endpoint_response(
                "device_authorization",
                &post("/device_authorization", body, basic),
            )
            .await;
        (res.status.as_u16(), res.json_body().unwrap())
    }

    async fn start(&self) -> Value {
        let (status, body) = self.device("client_id=tv&scope=profile", None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn poll(&self, device_code: &str, client: &str) -> (u16, Value) {
        let res = self
            .server
            .create_token_response(&post(
                "/token",
                &format!("grant_type={DEVICE_CODE_GRANT_TYPE}&device_code={device_code}&client_id={client}"),
                None,
            ))
            .await;
        (res.status.as_u16(), res.json_body().unwrap())
    }

    async fn approve(&self, user_code: &str, owner: &ResourceOwner) -> bool {
        let request = self
            .server
            .find_device_request(user_code)
            .await
            .unwrap()
            .unwrap();
        self.server
            .approve_device_request(&request, owner)
            .await
            .unwrap()
    }
}

fn code(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rfc8628_3_2_answers_codes_uris_lifetime_and_interval() {
    let f = fixture();
    let res = f
        .server
        .create_endpoint_response(
            "device_authorization",
            &post("/device_authorization", "client_id=tv", None),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "no-store");
    let body = res.json_body().unwrap();
    let user_code = code(&body, "user_code");
    // RFC 8628 6.1: eight consonants shown as XXXX-XXXX.
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(body["verification_uri"], "https://as.example/device");
    assert_eq!(
        body["verification_uri_complete"],
        format!("https://as.example/device?user_code={user_code}")
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    assert!(
        code(&body, "device_code").len() > 40,
        "the opaque token format"
    );
    let second = f.start().await;
    assert_ne!(second["user_code"], body["user_code"]);
    assert_ne!(second["device_code"], body["device_code"]);
}

#[tokio::test]
async fn rfc8628_3_1_client_authentication_and_errors() {
    let f = fixture();
    // A confidential client authenticates; without its secret it is invalid_client.
    let (status, _) = f.device("scope=profile", Some("cli:cli-secret")).await;
    assert_eq!(status, 200);
    let (status, body) = f.device("scope=profile", Some("cli:wrong")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = f.device("client_id=cli", None).await;
    assert_eq!(body["error"], "invalid_client", "{status}");
    // Unknown client.
    let (status, body) = f.device("client_id=nobody", None).await;
    assert_eq!(body["error"], "invalid_client", "{status}");
    // RFC 8628 3.2 (RFC 6749 5.2): a client not registered for the grant.
    let (status, body) = f.device("scope=profile", Some("web:web-secret")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    // Scope beyond the client's.
    let (status, body) = f.device("client_id=tv&scope=admin", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Repeated parameter.
    let (status, body) = f
        .device("client_id=tv&scope=profile&scope=email", None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // POST with a form only.
    let get = OAuth2Request::from_http(
        http::Request::get("/device_authorization?client_id=tv")
            .body(Bytes::new())
            .unwrap(),
        65536,
    )
    .unwrap();
    let res = f
        .server
        .create_endpoint_response("device_authorization", &get)
        .await;
    assert_eq!(res.status, 405);
}

#[tokio::test]
async fn rfc8628_3_5_pending_then_slow_down_then_tokens_once_for_the_approving_user() {
    let f = fixture();
    let body = f.start().await;
    let device_code = code(&body, "device_code");
    let (status, err) = f.poll(&device_code, "tv").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    // RFC 8628 3.5: polled sooner than the interval: slow_down, and the interval is now 10 s.
    f.clock.advance(1);
    let (status, err) = f.poll(&device_code, "tv").await;
    assert_eq!((status, err["error"].as_str()), (400, Some("slow_down")));
    f.clock.advance(6);
    let (_, err) = f.poll(&device_code, "tv").await;
    assert_eq!(
        err["error"], "slow_down",
        "6 s is under the grown 10 s interval"
    );
    f.clock.advance(16);
    let (_, err) = f.poll(&device_code, "tv").await;
    assert_eq!(err["error"], "authorization_pending");

    let alice = ResourceOwner::new("user-1", "alice").authenticated_at(T0);
    assert!(f.approve(&code(&body, "user_code"), &alice).await);
    let (status, tokens) = f.poll(&device_code, "tv").await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "profile");
    assert!(
        tokens["refresh_token"].is_string(),
        "the client may refresh"
    );
    let key = token::parse_token(tokens["access_token"].as_str().unwrap()).unwrap();
    let stored = f.store.find_token(&key.selector).await.unwrap().unwrap();
    assert_eq!(stored.subject.as_deref(), Some("user-1"));
    assert_eq!(stored.username.as_deref(), Some("alice"));
    assert_eq!(stored.grant_type, DEVICE_CODE_GRANT_TYPE);
    assert_eq!(stored.details().auth_time, Some(T0));

    // RFC 8628 3.5 / RFC 6749 5.2: a second redemption is invalid_grant.
    let (status, err) = f.poll(&device_code, "tv").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn rfc8628_3_5_access_denied_after_the_user_refuses() {
    let f = fixture();
    let body = f.start().await;
    let request = f
        .server
        .find_device_request(&code(&body, "user_code"))
        .await
        .unwrap()
        .unwrap();
    assert!(f.server.deny_device_request(&request).await.unwrap());
    assert!(
        !f.server
            .approve_device_request(&request, &ResourceOwner::new("user-1", "alice"))
            .await
            .unwrap(),
        "a decision is final"
    );
    let (status, err) = f.poll(&code(&body, "device_code"), "tv").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("access_denied"))
    );
}

#[tokio::test]
async fn rfc8628_3_5_expired_token_after_expiry() {
    let f = fixture();
    let body = f.start().await;
    f.clock.advance(600);
    let (status, err) = f.poll(&code(&body, "device_code"), "tv").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("expired_token"))
    );
    assert!(
        f.server
            .find_device_request(&code(&body, "user_code"))
            .await
            .unwrap()
            .is_none(),
        "an expired code cannot be approved"
    );
}

#[tokio::test]
async fn rfc8628_3_4_codes_bound_to_their_client_unknown_and_missing_codes() {
    let f = fixture();
    let body = f.start().await;
    let device_code = code(&body, "device_code");
    assert!(
        f.approve(
            &code(&body, "user_code"),
            &ResourceOwner::new("user-1", "alice")
        )
        .await
    );
    // Another client presenting the code: invalid_grant, and the code stays redeemable.
    let res = f
        .server
        .create_token_response(&post(
            "/token",
            &format!("grant_type={DEVICE_CODE_GRANT_TYPE}&device_code={device_code}"),
            Some("cli:cli-secret"),
        ))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_grant");
    let (_, err) = f.poll("not-a-device-code", "tv").await;
    assert_eq!(err["error"], "invalid_grant");
    let mut forged = device_code.clone();
    forged.pop();
    forged.push(if device_code.ends_with('A') { 'B' } else { 'A' });
    let (_, err) = f.poll(&forged, "tv").await;
    assert_eq!(err["error"], "invalid_grant", "a wrong verifier");
    let res = f
        .server
        .create_token_response(&post(
            "/token",
            &format!("grant_type={DEVICE_CODE_GRANT_TYPE}&client_id=tv"),
            None,
        ))
        .await;
    assert_eq!(res.json_body().unwrap()["error"], "invalid_request");
    let (status, _) = f.poll(&device_code, "tv").await;
    assert_eq!(status, 200, "the rightful client still redeems it");
}

#[tokio::test]
async fn rfc8628_6_1_user_codes_are_typed_in_any_case_with_or_without_the_dash() {
    let f = fixture();
    let body = f.start().await;
    let shown = code(&body, "user_code");
    for typed in [
        shown.clone(),
        shown.to_lowercase(),
        shown.replace('-', ""),
        format!(" {} ", shown.replace('-', " ").to_lowercase()),
    ] {
        let found = f.server.find_device_request(&typed).await.unwrap();
        let found = found.unwrap_or_else(|| panic!("{typed:?} finds the request"));
        assert_eq!(found.user_code(), shown);
        assert_eq!(found.client.client_id(), "tv");
        assert_eq!(found.scope.to_string(), "profile");
    }
    for wrong in [
        "",
        "BCDF",
        "AAAA-AAAA",
        "BCDF-GHJK-L",
        "<script>",
        "ZZZZ-ZZZZ",
    ] {
        assert!(
            f.server.find_device_request(wrong).await.unwrap().is_none(),
            "{wrong:?}"
        );
    }
}

#[tokio::test]
async fn rfc8628_4_metadata_lists_the_endpoint_and_the_grant_type() {
    let f = fixture();
    let m = f.server.metadata();
    assert_eq!(
        m.device_authorization_endpoint.as_deref(),
        Some("https://as.example/device_authorization")
    );
    assert!(m
        .grant_types_supported
        .unwrap()
        .iter()
        .any(|g| g == DEVICE_CODE_GRANT_TYPE));
}

#[tokio::test]
async fn the_endpoint_needs_a_device_code_store() {
    let store = MemoryStore::new();
    let mut server = AuthorizationServer::new(store, ServerConfig::new("https://as.example"));
    let err = server
        .register_endpoint(DeviceAuthorizationEndpoint::new("/device"))
        .unwrap_err();
    assert!(err.to_string().contains("device code store"), "{err}");
}
