//! `client_secret_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core
//! §9) through the engine: HMAC assertions keyed by a secret the server keeps sealed under
//! its key encryption key, and the ways such an assertion or client is refused.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::client_assertion::{seal_client_secret, ClientAssertions, ASSERTION_TYPE};
use authgate::jose::KeyEncryptionKey;
use authgate::*;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const TOKEN_URL: &str = "https://auth.example/token";
const T0: i64 = 1_800_000_000;
/// 64 bytes: long enough for HS512.
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// 32 bytes: enough for HS256 only.
const SHORT_SECRET: &str = "0123456789abcdef0123456789abcdef";

struct Fixture {
    server: AuthorizationServer,
    clock: FrozenClock,
}

fn fixture_with(kek: &KeyEncryptionKey, accept: bool) -> Fixture {
    let store = MemoryStore::new();
    let sealed = |id: &str, secret: &str| seal_client_secret(kek, id, secret, &OsRng).unwrap();
    let client = |id: &str, secret: &str| {
        ClientRecord::with_sealed_secret(id, sealed(id, secret))
            .grant_types(["client_credentials"])
            .scope("read")
    };
    store.add_client(client("csj", SECRET));
    for (id, alg) in [("csj384", "HS384"), ("csj512", "HS512")] {
        store.add_client(client(id, SECRET).with_metadata("token_endpoint_auth_signing_alg", alg));
    }
    // Misconfigured: HS512 needs a 64-byte secret, this one has 32.
    store.add_client(
        client("short", SHORT_SECRET).with_metadata("token_endpoint_auth_signing_alg", "HS512"),
    );
    store.add_client(client("short256", SHORT_SECRET));
    // A row whose sealed secret was made for another client.
    store.add_client(
        ClientRecord::with_sealed_secret("moved", sealed("csj", SECRET))
            .grant_types(["client_credentials"]),
    );
    // A client_secret_basic client whose secret is the same string.
    store.add_client(
        ClientRecord::confidential("basic", SECRET)
            .grant_types(["client_credentials"])
            .scope("read"),
    );
    let clock = FrozenClock::at(T0);
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone());
    let assertions = if accept {
        ClientAssertions::new().client_secrets(kek.clone())
    } else {
        ClientAssertions::new()
    };
    server
        .register_grant(ClientCredentialsGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new())
        .enable_private_key_jwt(assertions)
        .unwrap();
    Fixture { server, clock }
}

fn fixture() -> Fixture {
    fixture_with(&KeyEncryptionKey::generate(&OsRng), true)
}

fn claims(sub: &str, jti: &str) -> Value {
    json!({
        "iss": sub, "sub": sub, "aud": TOKEN_URL, "jti": jti,
        "iat": T0, "exp": T0 + 60,
    })
}

fn hmac(alg: jsonwebtoken::Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn hs256(claims: &Value) -> String {
    hmac(jsonwebtoken::Algorithm::HS256, SECRET, claims)
}

fn form(body: &str) -> OAuth2Request {
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

fn with_assertion(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        url::form_urlencoded::byte_serialize(ASSERTION_TYPE.as_bytes()).collect::<String>()
    )
}

async fn token(s: &AuthorizationServer, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&form(body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

async fn refused(s: &AuthorizationServer, body: &str, why: &str) -> Value {
    let (status, e) = token(s, body).await;
    assert_eq!(status, 400, "{why}: {e}");
    assert_eq!(e["error"], "invalid_client", "{why}: {e}");
    e
}

#[tokio::test]
async fn an_hmac_assertion_keyed_by_the_secret_authenticates_rfc7523_2_2_oidc_core_9() {
    let f = fixture();
    for (client, alg) in [
        ("csj", jsonwebtoken::Algorithm::HS256),
        ("csj384", jsonwebtoken::Algorithm::HS384),
        ("csj512", jsonwebtoken::Algorithm::HS512),
    ] {
        let a = hmac(alg, SECRET, &claims(client, "ok"));
        let (status, t) = token(&f.server, &with_assertion(&a)).await;
        assert_eq!(status, 200, "{alg:?}: {t}");
        assert_eq!(t["scope"], "read");
    }
    // The introspection endpoint takes it too, with its own URL as `aud`.
    let mut c = claims("csj", "introspect");
    c["aud"] = json!("https://auth.example/introspect");
    let (_, t) = token(&f.server, &with_assertion(&hs256(&claims("csj", "t")))).await;
    let body = format!(
        "token={}&{}",
        t["access_token"].as_str().unwrap(),
        with_assertion(&hs256(&c)).trim_start_matches("grant_type=client_credentials&")
    );
    let res = f
        .server
        .create_introspection_response(&form(&body))
        .await
        .json_body()
        .unwrap();
    assert_eq!(res["active"], true, "{res}");
    assert_eq!(res["client_id"], "csj");
}

#[tokio::test]
async fn a_replayed_jti_is_refused_rfc7523_3() {
    let f = fixture();
    let a = hs256(&claims("csj", "once"));
    assert_eq!(token(&f.server, &with_assertion(&a)).await.0, 200);
    let e = refused(&f.server, &with_assertion(&a), "replay").await;
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{e}"
    );
    // Still refused later in its life.
    f.clock.advance(50);
    refused(&f.server, &with_assertion(&a), "replay later").await;
}

#[tokio::test]
async fn hundred_concurrent_presentations_let_exactly_one_through_rfc7523_3() {
    let f = std::sync::Arc::new(fixture());
    let a = hs256(&claims("csj", "race"));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (f, body) = (f.clone(), with_assertion(&a));
            tokio::spawn(async move { token(&f.server, &body).await.0 })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn the_attack_list_is_refused_rfc7523_3_rfc7518_3_2() {
    let f = fixture();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = {
        use base64::Engine;
        let h = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = b64.encode(serde_json::to_vec(&claims("csj", "none")).unwrap());
        format!("{h}.{p}.")
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("csj", "attack");
        change(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong secret",
            hmac(
                jsonwebtoken::Algorithm::HS256,
                &SECRET.replace('0', "1"),
                &claims("csj", "a1"),
            ),
        ),
        ("alg none", unsigned),
        (
            "expired",
            hs256(&with(&|c| {
                c["iat"] = json!(T0 - 600);
                c["exp"] = json!(T0 - 60);
            })),
        ),
        (
            "lifetime over the maximum",
            hs256(&with(&|c| c["exp"] = json!(T0 + 3600))),
        ),
        (
            "missing jti",
            hs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
        ),
        (
            "missing exp",
            hs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "iss differs from sub",
            hs256(&with(&|c| c["iss"] = json!("basic"))),
        ),
        (
            "another client's sub, signed with this one's secret",
            hs256(&claims("basic", "a2")),
        ),
        (
            "wrong aud",
            hs256(&with(&|c| {
                c["aud"] = json!("https://elsewhere.example/token");
            })),
        ),
        (
            "not yet valid",
            hs256(&with(&|c| c["nbf"] = json!(T0 + 120))),
        ),
        // RFC 7518 §3.2: HS512 needs a 64-byte key; this client's secret has 32.
        (
            "HS512 with a 32-byte secret",
            hmac(
                jsonwebtoken::Algorithm::HS512,
                SHORT_SECRET,
                &claims("short", "a3"),
            ),
        ),
        // RFC 8725 §3.1: one algorithm per key; csj registered none, so HS256.
        (
            "HS512 by a client pinned to HS256",
            hmac(jsonwebtoken::Algorithm::HS512, SECRET, &claims("csj", "a5")),
        ),
        (
            "HS256 by a client registered for HS512",
            hs256(&claims("csj512", "a6")),
        ),
        (
            "a sealed secret moved to another client's row",
            hs256(&claims("moved", "a4")),
        ),
    ];
    for (why, a) in cases {
        let (status, e) = token(&f.server, &with_assertion(&a)).await;
        match why {
            // Not the client's fault: the row does not open for this client (500).
            "a sealed secret moved to another client's row" => {
                assert_eq!(status, 500, "{why}: {e}");
                assert_eq!(e["error"], "server_error", "{why}: {e}");
            }
            _ => {
                assert_eq!(status, 400, "{why}: {e}");
                assert_eq!(e["error"], "invalid_client", "{why}: {e}");
            }
        }
    }
    // A 32-byte secret is enough for HS256.
    let a = hmac(
        jsonwebtoken::Algorithm::HS256,
        SHORT_SECRET,
        &claims("short256", "ok"),
    );
    assert_eq!(token(&f.server, &with_assertion(&a)).await.0, 200);
    // The too-short secret is refused like a wrong signature: the answer does not tell
    // anyone how long a client's secret is.
    let a = hmac(
        jsonwebtoken::Algorithm::HS512,
        SHORT_SECRET,
        &claims("short", "a7"),
    );
    let (_, e) = token(&f.server, &with_assertion(&a)).await;
    assert_eq!(
        e["error_description"], "the client assertion's signature does not verify",
        "{e}"
    );
}

#[tokio::test]
async fn one_client_one_method_rfc7591_2_oidc_core_9() {
    let f = fixture();
    // The client_secret_jwt client sends its secret instead: it has no hash to compare
    // with, and the method is not its registered one.
    refused(
        &f.server,
        &format!("grant_type=client_credentials&client_id=csj&client_secret={SECRET}"),
        "client_secret_post",
    )
    .await;
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("csj:{SECRET}"))
    };
    let res = f
        .server
        .create_token_response(&{
            let req = http::Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", format!("Basic {basic}"))
                .body(Bytes::from_static(b"grant_type=client_credentials"))
                .unwrap();
            OAuth2Request::from_http(req, 4096).unwrap()
        })
        .await;
    assert_eq!(res.status, 401, "client_secret_basic");
    // A client_secret_basic client cannot present an HMAC assertion keyed by its secret.
    refused(
        &f.server,
        &with_assertion(&hs256(&claims("basic", "b1"))),
        "assertion by a basic client",
    )
    .await;
    // An assertion and a secret in one request: invalid_request (RFC 6749 §2.3).
    let (status, e) = token(
        &f.server,
        &format!(
            "{}&client_secret={SECRET}",
            with_assertion(&hs256(&claims("csj", "b2")))
        ),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // An asymmetric alg in the header of a client_secret_jwt client's assertion: the
    // alg names private_key_jwt, which is not this client's method.
    let es256 = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = b64.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let p = b64.encode(serde_json::to_vec(&claims("csj", "b3")).unwrap());
        format!("{h}.{p}.c2lnbmF0dXJl")
    };
    refused(&f.server, &with_assertion(&es256), "ES256 header").await;
}

#[tokio::test]
async fn metadata_lists_client_secret_jwt_only_when_enabled_rfc8414_2() {
    let kek = KeyEncryptionKey::generate(&OsRng);
    for accept in [true, false] {
        let f = fixture_with(&kek, accept);
        let m = f.server.metadata();
        let m = serde_json::to_value(&m).unwrap();
        for (methods, algs) in [
            (
                "token_endpoint_auth_methods_supported",
                "token_endpoint_auth_signing_alg_values_supported",
            ),
            (
                "introspection_endpoint_auth_methods_supported",
                "introspection_endpoint_auth_signing_alg_values_supported",
            ),
        ] {
            let has = |k: &str, v: &str| m[k].as_array().is_some_and(|a| a.iter().any(|x| x == v));
            assert_eq!(has(methods, "client_secret_jwt"), accept, "{methods}: {m}");
            assert_eq!(has(algs, "HS256"), accept, "{algs}: {m}");
            assert!(has(methods, "private_key_jwt"), "{methods}: {m}");
        }
        if !accept {
            // Without the key encryption key, HMAC assertions are refused outright.
            refused(
                &f.server,
                &with_assertion(&hs256(&claims("csj", "off"))),
                "disabled",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_secret_sealed_under_another_key_is_a_server_error_not_a_verdict() {
    // The server's key encryption key is not the one the secret was sealed with (a
    // misconfigured second instance, say): 500, so the operator sees it, and the client
    // is not told its credentials are wrong.
    let sealed_elsewhere = {
        let store = MemoryStore::new();
        store.add_client(
            ClientRecord::with_sealed_secret(
                "csj",
                seal_client_secret(&KeyEncryptionKey::generate(&OsRng), "csj", SECRET, &OsRng)
                    .unwrap(),
            )
            .grant_types(["client_credentials"]),
        );
        let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
            .with_clock(FrozenClock::at(T0));
        s.register_grant(ClientCredentialsGrant::new())
            .enable_private_key_jwt(
                ClientAssertions::new().client_secrets(KeyEncryptionKey::generate(&OsRng)),
            )
            .unwrap();
        s
    };
    let (status, e) = token(
        &sealed_elsewhere,
        &with_assertion(&hs256(&claims("csj", "k1"))),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (500, Some("server_error")),
        "{e}"
    );
}

#[test]
fn secrets_shorter_than_32_bytes_are_not_sealed_rfc7518_3_2() {
    let kek = KeyEncryptionKey::generate(&OsRng);
    assert!(seal_client_secret(&kek, "c", &SECRET[..31], &OsRng).is_err());
    let a = seal_client_secret(&kek, "c", SHORT_SECRET, &OsRng).unwrap();
    let b = seal_client_secret(&kek, "c", SHORT_SECRET, &OsRng).unwrap();
    // Fresh nonce each time; the secret never appears in the clear.
    assert_ne!(a, b);
    assert!(!a
        .windows(SHORT_SECRET.len())
        .any(|w| w == SHORT_SECRET.as_bytes()));
}
