//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9)
//! through the engine: the accepted shape, and the attack list of issue 11, each refused.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use authgate::client::metadata_document::{DocumentFetcher, FetchedDocument};
use authgate::client_assertion::{ClientAssertions, ASSERTION_TYPE};
use authgate::jose::{self, KeyEncryptionKey, KeySet, RotationPolicy};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const TOKEN_URL: &str = "https://auth.example/token";
const T0: i64 = 1_800_000_000;

/// A client's own signing key: a key set in a store of its own (the client's side).
async fn client_key(alg: jose::Algorithm) -> KeySet {
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![alg];
    let keys = KeySet::new(
        Arc::new(MemoryStore::new()),
        KeyEncryptionKey::generate(&OsRng),
        policy,
    )
    .with_clock(Arc::new(FrozenClock::at(T0)));
    keys.load().await.unwrap();
    keys
}

/// The public half, as the client registers it.
async fn public_jwks(keys: &KeySet) -> Value {
    serde_json::to_value(keys.jwks().await.unwrap()).unwrap()
}

struct Fixture {
    server: AuthorizationServer,
    clock: FrozenClock,
    key: KeySet,
}

async fn fixture() -> Fixture {
    let key = client_key(jose::Algorithm::ES256).await;
    let other = client_key(jose::Algorithm::ES256).await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::public("pkj")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .grant_types(["client_credentials"])
            .scope("read")
            .with_metadata("jwks", public_jwks(&key).await),
    );
    store.add_client(
        ClientRecord::public("pkj2")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .grant_types(["client_credentials"])
            .scope("read")
            .with_metadata("jwks", public_jwks(&other).await),
    );
    store.add_client(
        ClientRecord::confidential("basic", "secret")
            .grant_types(["client_credentials"])
            .scope("read"),
    );
    let clock = FrozenClock::at(T0);
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone());
    server
        .register_grant(ClientCredentialsGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new())
        .enable_private_key_jwt(ClientAssertions::new())
        .unwrap();
    Fixture { server, clock, key }
}

fn claims(sub: &str, jti: &str) -> Value {
    json!({
        "iss": sub, "sub": sub, "aud": TOKEN_URL, "jti": jti,
        "iat": T0, "exp": T0 + 60,
    })
}

async fn sign(key: &KeySet, claims: &Value) -> String {
    key.sign(jose::Algorithm::ES256, None, claims)
        .await
        .unwrap()
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

#[tokio::test]
async fn a_signed_assertion_authenticates_its_client_rfc7523_2_2() {
    let f = fixture().await;
    let a = sign(&f.key, &claims("pkj", "j-1")).await;
    let (status, t) = token(&f.server, &with_assertion(&a)).await;
    assert_eq!(status, 200, "{t}");
    // `aud` may also be the issuer; `client_id` may be sent if it agrees.
    let mut c = claims("pkj", "j-2");
    c["aud"] = json!([ISSUER]);
    let a = sign(&f.key, &c).await;
    let (status, t) = token(&f.server, &format!("{}&client_id=pkj", with_assertion(&a))).await;
    assert_eq!(status, 200, "{t}");
    // The introspection endpoint takes assertions too (aud: its own URL).
    let mut c = claims("pkj", "j-3");
    c["aud"] = json!("https://auth.example/introspect");
    let a = sign(&f.key, &c).await;
    let body = format!(
        "token={}&{}",
        t["access_token"].as_str().unwrap(),
        with_assertion(&a).trim_start_matches("grant_type=client_credentials&")
    );
    let res = f
        .server
        .create_introspection_response(&form(&body))
        .await
        .json_body()
        .unwrap();
    assert_eq!(res["active"], true, "{res}");
    // The metadata says so.
    let m = serde_json::to_value(f.server.metadata()).unwrap();
    assert!(m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert!(m["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("ES256")));
    assert!(!m["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS")));
}

#[tokio::test]
async fn a_replayed_jti_is_refused_until_the_assertion_expires_rfc7523_3() {
    let f = fixture().await;
    let a = sign(&f.key, &claims("pkj", "once")).await;
    assert_eq!(token(&f.server, &with_assertion(&a)).await.0, 200);
    let (status, e) = token(&f.server, &with_assertion(&a)).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_client")));
    assert!(e["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    // A fresh assertion reusing the jti while the first lives: refused too.
    f.clock.advance(30);
    let mut c = claims("pkj", "once");
    c["iat"] = json!(T0 + 30);
    c["exp"] = json!(T0 + 90);
    let again = sign(&f.key, &c).await;
    assert_eq!(token(&f.server, &with_assertion(&again)).await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_presentations_of_one_assertion_let_exactly_one_through_rfc7523_3() {
    let f = fixture().await;
    let a = sign(&f.key, &claims("pkj", "race")).await;
    let server = Arc::new(f.server);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (server, body) = (server.clone(), with_assertion(&a));
        tasks.push(tokio::spawn(async move { token(&server, &body).await.0 }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn the_attack_list_is_refused_rfc7523_3_rfc8725_3_1() {
    let f = fixture().await;
    let other = client_key(jose::Algorithm::ES256).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let public = public_jwks(&f.key).await;
    let unsigned = {
        let h = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = b64.encode(serde_json::to_vec(&claims("pkj", "none")).unwrap());
        format!("{h}.{p}.")
    };
    let hs256_with_public_key = {
        // The classic confusion: the public key's bytes used as an HMAC secret.
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = public["keys"][0]["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &h,
            &claims("pkj", "hs"),
            &jsonwebtoken::EncodingKey::from_secret(public["keys"][0].to_string().as_bytes())
                .unwrap(),
        )
        .unwrap()
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("pkj", "attack");
        change(&mut c);
        c
    };
    let cases: Vec<(&str, String)> = vec![
        ("wrong key", sign(&other, &claims("pkj", "a1")).await),
        (
            "expired",
            sign(
                &f.key,
                &with(&|c| {
                    c["iat"] = json!(T0 - 600);
                    c["exp"] = json!(T0 - 60);
                }),
            )
            .await,
        ),
        (
            "lifetime over the maximum",
            sign(&f.key, &with(&|c| c["exp"] = json!(T0 + 3600))).await,
        ),
        (
            "exp - iat over the maximum",
            sign(
                &f.key,
                &with(&|c| {
                    c["iat"] = json!(T0 - 400);
                    c["exp"] = json!(T0 + 10);
                }),
            )
            .await,
        ),
        (
            "missing jti",
            sign(
                &f.key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            )
            .await,
        ),
        (
            "missing exp",
            sign(
                &f.key,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            )
            .await,
        ),
        (
            "iss differs from sub",
            sign(&f.key, &with(&|c| c["iss"] = json!("someone"))).await,
        ),
        (
            "another client's sub",
            sign(&f.key, &claims("pkj2", "a2")).await,
        ),
        (
            "a secret client's sub",
            sign(&f.key, &claims("basic", "a3")).await,
        ),
        (
            "unknown client",
            sign(&f.key, &claims("nobody", "a4")).await,
        ),
        (
            "aud elsewhere",
            sign(
                &f.key,
                &with(&|c| c["aud"] = json!("https://elsewhere.example/token")),
            )
            .await,
        ),
        (
            "issued in the future",
            sign(&f.key, &with(&|c| c["iat"] = json!(T0 + 120))).await,
        ),
        (
            "not valid yet",
            sign(&f.key, &with(&|c| c["nbf"] = json!(T0 + 120))).await,
        ),
        ("alg none", unsigned),
        ("HS256 keyed with the public key", hs256_with_public_key),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    for (what, assertion) in &cases {
        let (status, e) = token(&f.server, &with_assertion(assertion)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_client")),
            "{what}: {e}"
        );
        assert!(e["error_description"].is_string(), "{what}");
    }
    let good = sign(&f.key, &claims("pkj", "a5")).await;
    // A wrong client_assertion_type.
    let body = with_assertion(&good).replace("jwt-bearer", "saml2-bearer");
    assert_eq!(token(&f.server, &body).await.1["error"], "invalid_client");
    // An assertion and Basic in one request: invalid_request.
    let auth = base64::engine::general_purpose::STANDARD.encode("basic:secret");
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(with_assertion(&good)))
        .unwrap();
    let res = f
        .server
        .create_token_response(&OAuth2Request::from_http(req, 65536).unwrap())
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_request");
    // An assertion and a client_secret: invalid_request.
    let body = format!("{}&client_secret=x", with_assertion(&good));
    assert_eq!(token(&f.server, &body).await.1["error"], "invalid_request");
    // A private_key_jwt client trying client_secret_basic (or post): refused.
    for body in [
        "grant_type=client_credentials&client_id=pkj&client_secret=anything",
        "grant_type=client_credentials&client_id=pkj",
    ] {
        let (status, e) = token(&f.server, body).await;
        assert!(status == 400 || status == 401, "{body}: {status}");
        assert_eq!(e["error"], "invalid_client", "{body}");
    }
    // None of the refused ones spent the good assertion's jti.
    assert_eq!(token(&f.server, &with_assertion(&good)).await.0, 200);
}

/// Serves a JWK Set that a test can switch, counting fetches.
#[derive(Clone)]
struct Keys {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

#[async_trait]
impl DocumentFetcher for Keys {
    async fn fetch(&self, url: &str) -> Result<FetchedDocument, String> {
        assert_eq!(url, "https://client.example/jwks");
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::to_vec(&*self.jwks.lock().unwrap()).unwrap();
        Ok(FetchedDocument::new(body, Some(3600)))
    }
}

#[tokio::test]
async fn jwks_uri_keys_are_cached_and_refetched_for_an_unknown_kid_once_a_minute() {
    let first = client_key(jose::Algorithm::ES256).await;
    let second = client_key(jose::Algorithm::EdDSA).await;
    let keys = Keys {
        jwks: Arc::new(Mutex::new(public_jwks(&first).await)),
        fetches: Arc::new(AtomicUsize::new(0)),
    };
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::public("pkj")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .grant_types(["client_credentials"])
            .with_metadata("jwks_uri", "https://client.example/jwks"),
    );
    let clock = FrozenClock::at(T0);
    let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone());
    s.register_grant(ClientCredentialsGrant::new())
        .enable_private_key_jwt(ClientAssertions::new().jwks_fetcher(keys.clone()))
        .unwrap();
    let fetches = || keys.fetches.load(Ordering::SeqCst);

    for jti in ["k1", "k2"] {
        let a = sign(&first, &claims("pkj", jti)).await;
        assert_eq!(token(&s, &with_assertion(&a)).await.0, 200);
    }
    assert_eq!(fetches(), 1, "cached");

    // The client rotates to a new key: the unknown kid makes the server fetch again...
    *keys.jwks.lock().unwrap() = public_jwks(&second).await;
    let eddsa = |c: &Value| {
        let c = c.clone();
        let second = &second;
        async move { second.sign(jose::Algorithm::EdDSA, None, &c).await.unwrap() }
    };
    clock.advance(61);
    let mut c = claims("pkj", "k3");
    c["iat"] = json!(T0 + 61);
    c["exp"] = json!(T0 + 120);
    assert_eq!(token(&s, &with_assertion(&eddsa(&c).await)).await.0, 200);
    assert_eq!(fetches(), 2);
    // ...but assertions under unknown kids do not make it fetch more than once a minute.
    let stranger = client_key(jose::Algorithm::ES256).await;
    for jti in ["k4", "k5", "k6"] {
        let mut c = claims("pkj", jti);
        c["iat"] = json!(T0 + 61);
        c["exp"] = json!(T0 + 120);
        let a = sign(&stranger, &c).await;
        assert_eq!(
            token(&s, &with_assertion(&a)).await.1["error"],
            "invalid_client"
        );
    }
    assert_eq!(fetches(), 2, "no refetch within a minute of the last");
}

#[tokio::test]
async fn private_key_jwt_needs_a_replay_cache() {
    let mut s = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new(ISSUER));
    let e = s
        .enable_private_key_jwt(ClientAssertions::new())
        .err()
        .unwrap();
    assert!(e.to_string().contains("replay"), "{e}");
}

/// The test client's registered public key (its private half is `keys/client-es256.pem`),
/// and a second P-256 key of its own.
const TEST_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8","y":"1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c","kid":"test-client-key"}"#;
const SECOND_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"2LwGZrjTByw5vcrcE-Er3xxKNDhk_WitMWREiCotmpE","y":"ZHp6tgVekqXDR1EqDvGjauEzqOCYpyS6S35v_d4yft0","kid":"second"}"#;

/// Signs `claims` with a PEM key of `tests/keys`, as `alg`, naming `kid`.
fn sign_pem(pem: &[u8], alg: jsonwebtoken::Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(alg);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &h,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_key_is_the_registered_one_for_its_kid_and_fits_the_alg_rfc8725_3_1() {
    let store = MemoryStore::new();
    let keys = |set: &[&str]| json!({ "keys": set.iter().map(|k| serde_json::from_str::<Value>(k).unwrap()).collect::<Vec<_>>() });
    for (id, set) in [
        ("one", keys(&[TEST_KEY])),
        ("two", keys(&[TEST_KEY, SECOND_KEY])),
    ] {
        store.add_client(
            ClientRecord::public(id)
                .auth_method(ClientAuthMethod::PrivateKeyJwt)
                .grant_types(["client_credentials"])
                .with_metadata("jwks", set),
        );
    }
    let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(FrozenClock::at(T0));
    s.register_grant(ClientCredentialsGrant::new())
        .enable_private_key_jwt(ClientAssertions::new())
        .unwrap();
    let own = include_bytes!("keys/client-es256.pem");
    let other = include_bytes!("keys/other-es256.pem");
    let p384 = include_bytes!("keys/other-es384.pem");
    let es256 = jsonwebtoken::Algorithm::ES256;

    // The registered key, by kid: accepted; and with no kid when it is the only key.
    let ok = sign_pem(own, es256, Some("test-client-key"), &claims("one", "k-1"));
    assert_eq!(token(&s, &with_assertion(&ok)).await.0, 200);
    let ok = sign_pem(own, es256, None, &claims("one", "k-2"));
    assert_eq!(token(&s, &with_assertion(&ok)).await.0, 200);

    let refused = [
        // Another key naming the registered kid: the signature is what fails.
        (
            "another key under the registered kid",
            sign_pem(other, es256, Some("test-client-key"), &claims("one", "k-3")),
        ),
        // An ES384 signature naming a P-256 key: the key's type fixes the algorithm.
        (
            "ES384 against a P-256 key",
            sign_pem(
                p384,
                jsonwebtoken::Algorithm::ES384,
                Some("test-client-key"),
                &claims("one", "k-4"),
            ),
        ),
        // No kid while two keys fit: which one is not guessed.
        (
            "no kid, two keys fit",
            sign_pem(own, es256, None, &claims("two", "k-5")),
        ),
    ];
    for (what, a) in &refused {
        let (status, e) = token(&s, &with_assertion(a)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_client")),
            "{what}: {e}"
        );
    }
    // With its kid, the two-key client's own key works.
    let ok = sign_pem(own, es256, Some("test-client-key"), &claims("two", "k-6"));
    assert_eq!(token(&s, &with_assertion(&ok)).await.0, 200);
}

/// A key set host that fails after its first answer, counting fetches.
#[derive(Clone)]
struct Flaky {
    jwks: Value,
    fetches: Arc<AtomicUsize>,
}

#[async_trait]
impl DocumentFetcher for Flaky {
    async fn fetch(&self, _url: &str) -> Result<FetchedDocument, String> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if n == 0 {
            Ok(FetchedDocument::new(
                serde_json::to_vec(&self.jwks).unwrap(),
                Some(60),
            ))
        } else {
            Err("503".into())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_uri_fetches_are_one_at_a_time_and_a_failed_one_keeps_the_keys() {
    let key = client_key(jose::Algorithm::ES256).await;
    let flaky = Flaky {
        jwks: public_jwks(&key).await,
        fetches: Arc::new(AtomicUsize::new(0)),
    };
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::public("pkj")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .grant_types(["client_credentials"])
            .with_metadata("jwks_uri", "https://client.example/jwks"),
    );
    let clock = FrozenClock::at(T0);
    let mut s = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone());
    s.register_grant(ClientCredentialsGrant::new())
        .enable_private_key_jwt(ClientAssertions::new().jwks_fetcher(flaky.clone()))
        .unwrap();
    let s = Arc::new(s);
    // 20 concurrent first requests, 10 of them naming an unknown kid: one fetch.
    let stranger = client_key(jose::Algorithm::ES256).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let signer = if i % 2 == 0 { &key } else { &stranger };
        let a = sign(signer, &claims("pkj", &format!("c-{i}"))).await;
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            token(&s, &with_assertion(&a)).await.0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap() == 200);
    }
    assert_eq!(ok, 10, "every assertion of the registered key");
    assert_eq!(
        flaky.fetches.load(Ordering::SeqCst),
        1,
        "one fetch for all of them"
    );
    // Two minutes on the set has expired; the refetch fails, and the keys fetched before
    // are kept rather than dropped: the client still authenticates.
    clock.advance(120);
    let mut c = claims("pkj", "after");
    c["iat"] = json!(T0 + 120);
    c["exp"] = json!(T0 + 170);
    let a = sign(&key, &c).await;
    assert_eq!(token(&s, &with_assertion(&a)).await.0, 200);
    assert_eq!(flaky.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_registered_signing_alg_pins_the_client_s_assertions_rfc8725_3_1() {
    // OpenID Connect Dynamic Registration §2: token_endpoint_auth_signing_alg names the
    // one algorithm the client signs with; any other is refused, even by a key that fits.
    let key = client_key(jose::Algorithm::ES256).await;
    let store = MemoryStore::new();
    for (id, alg) in [("pinned-es256", "ES256"), ("pinned-es384", "ES384")] {
        store.add_client(
            ClientRecord::public(id)
                .auth_method(ClientAuthMethod::PrivateKeyJwt)
                .grant_types(["client_credentials"])
                .with_metadata("jwks", public_jwks(&key).await)
                .with_metadata("token_endpoint_auth_signing_alg", alg),
        );
    }
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(FrozenClock::at(T0));
    server
        .register_grant(ClientCredentialsGrant::new())
        .enable_private_key_jwt(ClientAssertions::new())
        .unwrap();
    let a = sign(&key, &claims("pinned-es256", "p-1")).await;
    assert_eq!(token(&server, &with_assertion(&a)).await.0, 200);
    let a = sign(&key, &claims("pinned-es384", "p-2")).await;
    let (status, e) = token(&server, &with_assertion(&a)).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_client")));
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("token_endpoint_auth_signing_alg"),
        "{e}"
    );
}
