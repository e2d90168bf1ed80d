//! The JWT bearer authorization grant (RFC 7523 §2.1, §3) through the engine: an assertion
//! a trusted issuer signed about a user becomes an access token for that user, once.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use authgate::jose::{self, KeyEncryptionKey, KeySet, RotationPolicy};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const PARTNER: &str = "https://idp.partner.example";
const T0: i64 = 1_800_000_000;

async fn issuer_keys() -> KeySet {
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![jose::Algorithm::ES256];
    let keys = KeySet::new(
        Arc::new(MemoryStore::new()),
        KeyEncryptionKey::generate(&OsRng),
        policy,
    )
    .with_clock(Arc::new(FrozenClock::at(T0)));
    keys.load().await.unwrap();
    keys
}

struct Fixture {
    server: Arc<AuthorizationServer>,
    partner: KeySet,
}

async fn fixture() -> Fixture {
    let partner = issuer_keys().await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("app", "secret")
            .grant_types([JWT_BEARER_GRANT_TYPE])
            .scope("read"),
    );
    store.add_client(
        ClientRecord::confidential("other", "secret")
            .grant_types(["client_credentials"])
            .scope("read"),
    );
    let mut config = ServerConfig::new(ISSUER).refresh_tokens(true);
    config.resources =
        ResourceRegistry::new().with(RegisteredResource::new("https://api.example/").unwrap());
    let jwks = serde_json::to_value(partner.jwks().await.unwrap()).unwrap();
    let mut server =
        AuthorizationServer::new(store.stores(), config).with_clock(FrozenClock::at(T0));
    server
        .register_grant(JwtBearerGrant::new().trust(TrustedIssuer::with_jwks(PARTNER, jwks)))
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    Fixture {
        server: Arc::new(server),
        partner,
    }
}

fn claims(jti: &str) -> Value {
    json!({
        "iss": PARTNER, "sub": "user-7", "aud": "https://auth.example/token",
        "jti": jti, "iat": T0, "exp": T0 + 60,
    })
}

async fn sign(keys: &KeySet, claims: &Value) -> String {
    keys.sign(jose::Algorithm::ES256, None, claims)
        .await
        .unwrap()
}

fn post(client: &str, body: &str) -> OAuth2Request {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{client}:secret"));
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

fn grant(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={assertion}",
        url::form_urlencoded::byte_serialize(JWT_BEARER_GRANT_TYPE.as_bytes()).collect::<String>()
    )
}

/// What introspection says of the access token of a token response `t`.
async fn introspect(s: &AuthorizationServer, t: &Value) -> Value {
    let body = format!("token={}", t["access_token"].as_str().unwrap());
    s.create_introspection_response(&post("app", &body))
        .await
        .json_body()
        .unwrap()
}

async fn token(s: &AuthorizationServer, client: &str, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&post(client, body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

#[tokio::test]
async fn a_trusted_issuer_s_assertion_gets_a_token_for_its_user_rfc7523_2_1() {
    let f = fixture().await;
    let a = sign(&f.partner, &claims("j-1")).await;
    let (status, t) = token(&f.server, "app", &grant(&a)).await;
    assert_eq!(status, 200, "{t}");
    assert!(
        t.get("refresh_token").is_none(),
        "a fresh assertion instead"
    );
    let i = introspect(&f.server, &t).await;
    // The issuer's users are its own: `{issuer}|{sub}`, never a local user of the same name.
    assert_eq!(i["sub"], "https://idp.partner.example|user-7");
    assert_eq!(i["client_id"], "app");
    // With a resource (RFC 8707), and aud the issuer itself.
    let mut c = claims("j-2");
    c["aud"] = json!(ISSUER);
    let a = sign(&f.partner, &c).await;
    let body = format!("{}&resource=https%3A%2F%2Fapi.example%2F", grant(&a));
    let (status, t) = token(&f.server, "app", &body).await;
    assert_eq!(status, 200, "{t}");
    // The grant is advertised.
    let m = serde_json::to_value(f.server.metadata()).unwrap();
    assert!(m["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(JWT_BEARER_GRANT_TYPE)));
}

#[tokio::test]
async fn assertions_that_break_rfc7523_3_are_invalid_grant() {
    let f = fixture().await;
    let stranger = issuer_keys().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("x");
        change(&mut c);
        c
    };
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(claims("none").to_string())
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "an untrusted issuer",
            sign(
                &stranger,
                &with(&|c| c["iss"] = json!("https://evil.example")),
            )
            .await,
        ),
        (
            "the trusted issuer's name, another key",
            sign(&stranger, &claims("k")).await,
        ),
        (
            "no sub",
            sign(
                &f.partner,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            )
            .await,
        ),
        (
            "no jti",
            sign(
                &f.partner,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            )
            .await,
        ),
        (
            "no exp",
            sign(
                &f.partner,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            )
            .await,
        ),
        (
            "expired",
            sign(
                &f.partner,
                &with(&|c| {
                    c["iat"] = json!(T0 - 600);
                    c["exp"] = json!(T0 - 60);
                }),
            )
            .await,
        ),
        (
            "lives too long",
            sign(&f.partner, &with(&|c| c["exp"] = json!(T0 + 3600))).await,
        ),
        (
            "not valid yet",
            sign(&f.partner, &with(&|c| c["nbf"] = json!(T0 + 120))).await,
        ),
        (
            "aud elsewhere",
            sign(
                &f.partner,
                &with(&|c| c["aud"] = json!("https://elsewhere.example/token")),
            )
            .await,
        ),
        ("alg none", unsigned),
        ("not a JWT", "a.b.c".to_owned()),
    ];
    for (what, a) in &cases {
        let (status, e) = token(&f.server, "app", &grant(a)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{what}: {e}"
        );
    }
    // A JWT typed for another use (an access token) is no assertion.
    let typed = f
        .partner
        .sign(jose::Algorithm::ES256, Some("at+jwt"), &claims("typed"))
        .await
        .unwrap();
    assert_eq!(
        token(&f.server, "app", &grant(&typed)).await.1["error"],
        "invalid_grant"
    );
    // Missing assertion: invalid_request. A client not allowed the grant: unauthorized_client.
    let (_, e) = token(
        &f.server,
        "app",
        &format!("grant_type={}", JWT_BEARER_GRANT_TYPE),
    )
    .await;
    assert_eq!(e["error"], "invalid_request");
    let a = sign(&f.partner, &claims("keep")).await;
    let (_, e) = token(&f.server, "other", &grant(&a)).await;
    assert_eq!(e["error"], "unauthorized_client");
    // An unknown resource is refused before the assertion's jti is spent...
    let body = format!("{}&resource=https%3A%2F%2Fnope.example%2F", grant(&a));
    assert_eq!(
        token(&f.server, "app", &body).await.1["error"],
        "invalid_target"
    );
    // ...so the same assertion still works, once.
    assert_eq!(token(&f.server, "app", &grant(&a)).await.0, 200);
    assert_eq!(
        token(&f.server, "app", &grant(&a)).await.1["error"],
        "invalid_grant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_is_used_once_even_by_100_concurrent_requests_rfc7523_3() {
    let f = fixture().await;
    let a = sign(&f.partner, &claims("race")).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (s, body) = (f.server.clone(), grant(&a));
        tasks.push(tokio::spawn(async move { token(&s, "app", &body).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, e) = t.await.unwrap();
        if status == 200 {
            ok += 1;
        } else {
            assert_eq!(e["error"], "invalid_grant", "{e}");
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn only_the_registered_key_under_its_kid_verifies_rfc8725_3_1() {
    const KEY: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8","y":"1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c","kid":"test-client-key"}]}"#;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("app", "secret")
            .grant_types([JWT_BEARER_GRANT_TYPE])
            .scope("read"),
    );
    let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(FrozenClock::at(T0));
    s.register_grant(JwtBearerGrant::new().trust(TrustedIssuer::with_jwks(
        PARTNER,
        serde_json::from_str(KEY).unwrap(),
    )));
    let signed = |pem: &[u8], jti: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some("test-client-key".into());
        jsonwebtoken::encode(
            &h,
            &claims(jti),
            &jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
        )
        .unwrap()
    };
    let own = signed(include_bytes!("keys/client-es256.pem"), "p-1");
    assert_eq!(token(&s, "app", &grant(&own)).await.0, 200);
    // Another key under the registered kid: the signature check is what refuses it.
    let forged = signed(include_bytes!("keys/other-es256.pem"), "p-2");
    let (status, e) = token(&s, "app", &grant(&forged)).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{e}"
    );
}

#[tokio::test]
async fn an_issuer_sharing_this_server_s_users_may_name_them_directly() {
    let partner = issuer_keys().await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("app", "secret")
            .grant_types([JWT_BEARER_GRANT_TYPE])
            .scope("read"),
    );
    let jwks = serde_json::to_value(partner.jwks().await.unwrap()).unwrap();
    let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(FrozenClock::at(T0));
    s.register_grant(
        JwtBearerGrant::new().trust(TrustedIssuer::with_jwks(PARTNER, jwks).local_subjects(true)),
    )
    .register_introspection_endpoint(IntrospectionEndpoint::new());
    let a = sign(&partner, &claims("local")).await;
    let (status, t) = token(&s, "app", &grant(&a)).await;
    assert_eq!(status, 200, "{t}");
    let i = introspect(&s, &t).await;
    assert_eq!(i["sub"], "user-7");
}
