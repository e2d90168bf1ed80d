//! Signing keys: generation, sealing at rest, rotation on a frozen clock (publish ahead,
//! switch, retire, removal), the JWKS endpoint, and verification that pins the algorithm
//! per key (RFC 8725 §3.1).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use authgate::jose::{Algorithm, JoseError, KeyEncryptionKey, KeySet, KeyState, RotationPolicy};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;

const T0: i64 = 1_800_000_000;

fn policy(algorithms: &[Algorithm]) -> RotationPolicy {
    let mut p = RotationPolicy::default();
    p.algorithms = algorithms.to_vec();
    p.signing_period = 100;
    p.publish_ahead = 20;
    p.retain = 50;
    p.refresh_interval = 1;
    p
}

fn key_set(
    store: &MemoryStore,
    clock: &FrozenClock,
    kek: &KeyEncryptionKey,
    p: RotationPolicy,
) -> KeySet {
    KeySet::new(Arc::new(store.clone()), kek.clone(), p).with_clock(Arc::new(clock.clone()))
}

/// A store, a clock at T0 and a key set over them with a fresh key encryption key.
fn fresh(algorithms: &[Algorithm]) -> (MemoryStore, FrozenClock, KeySet) {
    let (store, clock) = (MemoryStore::new(), FrozenClock::at(T0));
    let keys = key_set(
        &store,
        &clock,
        &KeyEncryptionKey::generate(&OsRng),
        policy(algorithms),
    );
    (store, clock, keys)
}

async fn kids(keys: &KeySet) -> Vec<String> {
    keys.jwks()
        .await
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect()
}

#[tokio::test]
async fn keys_are_published_ahead_switch_retire_and_disappear_on_schedule_rfc7517() {
    let (store, clock) = (MemoryStore::new(), FrozenClock::at(T0));
    let kek = KeyEncryptionKey::generate(&OsRng);
    let keys = key_set(&store, &clock, &kek, policy(&[Algorithm::ES256]));
    keys.load().await.unwrap();
    let first = keys.signing_key(Algorithm::ES256).await.unwrap().kid;
    assert_eq!(
        kids(&keys).await,
        std::slice::from_ref(&first),
        "first start: one key, signing at once"
    );
    let early = keys
        .sign(
            Algorithm::ES256,
            Some("JWT"),
            &json!({ "sub": "a", "exp": T0 + 30 }),
        )
        .await
        .unwrap();

    // 20 s before the switch the successor is published, but does not sign yet.
    clock.advance(80);
    let published = kids(&keys).await;
    assert_eq!(published.len(), 2, "{published:?}");
    let second = published.iter().find(|k| **k != first).unwrap().clone();
    assert_eq!(keys.signing_key(Algorithm::ES256).await.unwrap().kid, first);
    let states: Vec<KeyState> = keys
        .summary()
        .await
        .unwrap()
        .iter()
        .map(|k| k.state)
        .collect();
    assert_eq!(states, [KeyState::Active, KeyState::Next]);

    // At the end of the signing period the successor signs; the first stays published.
    clock.advance(20);
    assert_eq!(
        keys.signing_key(Algorithm::ES256).await.unwrap().kid,
        second
    );
    let late = keys
        .sign(Algorithm::ES256, None, &json!({ "sub": "b" }))
        .await
        .unwrap();
    let v = keys.verifier().await.unwrap();
    assert_eq!(
        v.verify(&early).unwrap().kid,
        first,
        "a retired key still verifies"
    );
    assert_eq!(v.verify(&late).unwrap().kid, second);

    // It stays published for `retain` (50 s) after it stopped signing, then goes.
    clock.advance(49);
    assert!(kids(&keys).await.contains(&first));
    clock.advance(1);
    assert!(!kids(&keys).await.contains(&first));
    assert!(matches!(
        keys.verifier().await.unwrap().verify(&early),
        Err(JoseError::Invalid(_))
    ));
    assert!(
        store
            .signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kid != first),
        "removed from the store too"
    );
}

#[tokio::test]
async fn nothing_is_signed_that_would_outlive_its_key() {
    let (store, clock) = (MemoryStore::new(), FrozenClock::at(T0));
    let kek = KeyEncryptionKey::generate(&OsRng);
    let keys = key_set(&store, &clock, &kek, policy(&[Algorithm::ES256]));
    // A key stays published 50 s (retain) after it stops signing: anything signed now must
    // expire within 50 s, or it could outlive the key.
    keys.sign(Algorithm::ES256, None, &json!({ "exp": T0 + 50 }))
        .await
        .unwrap();
    assert!(matches!(
        keys.sign(Algorithm::ES256, None, &json!({ "exp": T0 + 51 }))
            .await,
        Err(JoseError::OutlivesKey)
    ));
    // What was signed stays verifiable until it expires, even across a rotation.
    let jwt = keys
        .sign(Algorithm::ES256, None, &json!({ "exp": T0 + 50 }))
        .await
        .unwrap();
    keys.rotate(None, true).await.unwrap();
    clock.advance(49);
    keys.verifier().await.unwrap().verify(&jwt).unwrap();
}

#[tokio::test]
async fn every_algorithm_signs_and_verifies() {
    let (_store, _clock, keys) = fresh(&Algorithm::ALL);
    keys.load().await.unwrap();
    let v = keys.verifier().await.unwrap();
    for alg in Algorithm::ALL {
        let jwt = keys
            .sign(
                alg,
                Some("at+jwt"),
                &json!({ "alg_under_test": alg.as_str() }),
            )
            .await
            .unwrap();
        let got = v.verify(&jwt).unwrap();
        assert_eq!(got.alg, alg);
        assert_eq!(got.typ.as_deref(), Some("at+jwt"));
        assert_eq!(got.claims["alg_under_test"], alg.as_str());
    }
}

#[tokio::test]
async fn jwks_holds_public_members_only_rfc7517_and_rfc7518_6() {
    let (_store, clock, keys) = fresh(&Algorithm::ALL);
    keys.load().await.unwrap();
    clock.advance(85); // a next key for every algorithm as well
    let json = serde_json::to_value(keys.jwks().await.unwrap()).unwrap();
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2 * Algorithm::ALL.len());
    let public = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"];
    for k in keys {
        for (member, _) in k.as_object().unwrap() {
            assert!(
                public.contains(&member.as_str()),
                "private or unknown member {member} in {k}"
            );
        }
        assert_eq!(k["use"], "sig");
        match k["kty"].as_str().unwrap() {
            "RSA" => assert!(k["n"].is_string() && k["e"].is_string()),
            "EC" => assert!(k["x"].is_string() && k["y"].is_string()),
            "OKP" => assert_eq!(k["crv"], "Ed25519"),
            other => panic!("unexpected kty {other}"),
        }
    }
}

#[tokio::test]
async fn private_keys_are_sealed_and_a_wrong_key_encryption_key_fails_the_start() {
    let (store, clock) = (MemoryStore::new(), FrozenClock::at(T0));
    let right = KeyEncryptionKey::generate(&OsRng);
    key_set(&store, &clock, &right, policy(&[Algorithm::EdDSA]))
        .load()
        .await
        .unwrap();
    let rows = store.signing_keys().await.unwrap();
    assert_eq!(rows.len(), 1);
    // The stored bytes are not a PKCS#8 key (Ed25519 PKCS#8 v1 starts 30 2e 02 01 00).
    assert_ne!(
        &rows[0].sealed_private_key[..5],
        &[0x30, 0x2e, 0x02, 0x01, 0x00]
    );
    assert!(!rows[0].public_jwk.contains("\"d\""));
    let wrong = key_set(
        &store,
        &clock,
        &KeyEncryptionKey::generate(&OsRng),
        policy(&[Algorithm::EdDSA]),
    );
    assert!(matches!(
        wrong.load().await,
        Err(JoseError::Undecryptable { .. })
    ));
    // A sealed key moved under another key id does not open either.
    let mut moved = rows[0].clone();
    moved.kid = "someone-else".into();
    moved.generation = 2;
    let other_store = MemoryStore::new();
    other_store.add_signing_key(&moved).await.unwrap();
    let keys = key_set(&other_store, &clock, &right, policy(&[Algorithm::EdDSA]));
    assert!(matches!(
        keys.load().await,
        Err(JoseError::Undecryptable { .. })
    ));
}

#[tokio::test]
async fn an_immediate_rotation_switches_at_once_and_keeps_the_old_key_published() {
    let (_store, clock, keys) = fresh(&[Algorithm::RS256]);
    keys.load().await.unwrap();
    let before = keys.signing_key(Algorithm::RS256).await.unwrap().kid;
    clock.advance(10);
    keys.rotate(None, true).await.unwrap();
    let after = keys.signing_key(Algorithm::RS256).await.unwrap().kid;
    assert_ne!(before, after);
    assert!(kids(&keys).await.contains(&before));
    clock.advance(50);
    assert!(
        !kids(&keys).await.contains(&before),
        "retained 50 s after the rotation"
    );
}

#[tokio::test]
async fn a_scheduled_rotation_publishes_the_successor_before_it_signs() {
    let (_store, clock, keys) = fresh(&[Algorithm::ES256]);
    keys.load().await.unwrap();
    let before = keys.signing_key(Algorithm::ES256).await.unwrap().kid;
    clock.advance(10);
    keys.rotate(Some(Algorithm::ES256), false).await.unwrap();
    // Published now, signing only after publish_ahead (20 s).
    let published = kids(&keys).await;
    assert_eq!(published.len(), 2);
    let successor = published.iter().find(|k| **k != before).unwrap().clone();
    assert_eq!(
        keys.signing_key(Algorithm::ES256).await.unwrap().kid,
        before
    );
    clock.advance(19);
    assert_eq!(
        keys.signing_key(Algorithm::ES256).await.unwrap().kid,
        before
    );
    clock.advance(1);
    assert_eq!(
        keys.signing_key(Algorithm::ES256).await.unwrap().kid,
        successor
    );
    assert!(
        kids(&keys).await.contains(&before),
        "the old key stays published"
    );
}

#[tokio::test]
async fn a_server_with_another_key_encryption_key_writes_nothing() {
    let (store, clock, good) = fresh(&[Algorithm::ES256]);
    good.load().await.unwrap();
    let rows = store.signing_keys().await.unwrap();
    // Near the end of the signing period a successor is due; a misconfigured server must
    // not be the one to create it, nor rotate.
    clock.advance(85);
    let wrong = key_set(
        &store,
        &clock,
        &KeyEncryptionKey::generate(&OsRng),
        policy(&[Algorithm::ES256]),
    );
    assert!(matches!(
        wrong.load().await,
        Err(JoseError::Undecryptable { .. })
    ));
    assert!(matches!(
        wrong.rotate(None, true).await,
        Err(JoseError::Undecryptable { .. })
    ));
    assert_eq!(store.signing_keys().await.unwrap(), rows, "nothing written");
    // The right server publishes the successor as usual.
    assert_eq!(good.jwks().await.unwrap().keys.len(), 2);
}

#[tokio::test]
async fn two_key_sets_on_one_store_agree_on_the_active_key() {
    let (store, clock) = (MemoryStore::new(), FrozenClock::at(T0));
    let kek = KeyEncryptionKey::generate(&OsRng);
    let a = key_set(&store, &clock, &kek, policy(&[Algorithm::ES256]));
    let b = key_set(&store, &clock, &kek, policy(&[Algorithm::ES256]));
    let (ra, rb) = tokio::join!(a.load(), b.load());
    ra.unwrap();
    rb.unwrap();
    for step in [0, 80, 20, 60] {
        clock.advance(step);
        assert_eq!(
            a.signing_key(Algorithm::ES256).await.unwrap().kid,
            b.signing_key(Algorithm::ES256).await.unwrap().kid,
            "at +{step}"
        );
        assert_eq!(kids(&a).await, kids(&b).await);
    }
}

fn forge(header: &serde_json::Value, claims: &serde_json::Value, sig: &[u8]) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

#[tokio::test]
async fn verification_pins_the_algorithm_of_the_key_rfc8725_3_1() {
    let (_store, _clock, keys) = fresh(&[Algorithm::RS256, Algorithm::ES256]);
    let rs = keys.signing_key(Algorithm::RS256).await.unwrap();
    let es = keys.signing_key(Algorithm::ES256).await.unwrap();
    let v = keys.verifier().await.unwrap();

    // alg "none", with or without a kid.
    for header in [
        json!({ "alg": "none" }),
        json!({ "alg": "none", "kid": rs.kid }),
    ] {
        assert!(v
            .verify(&forge(&header, &json!({ "sub": "x" }), b""))
            .is_err());
    }
    // HS256 keyed with the RSA public key's modulus (the classic key-confusion attack).
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rs.n.as_deref().unwrap())
        .unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(rs.kid.clone());
    let hs = jsonwebtoken::encode(
        &h,
        &json!({ "sub": "x" }),
        &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
    )
    .unwrap();
    assert!(matches!(v.verify(&hs), Err(JoseError::Invalid(_))));
    // A real ES256 signature presented as RS256 (or under the RSA key's kid).
    let good = keys
        .sign(Algorithm::ES256, None, &json!({ "sub": "x" }))
        .await
        .unwrap();
    v.verify(&good).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    for header in [
        json!({ "alg": "RS256", "kid": es.kid }),
        json!({ "alg": "ES256", "kid": rs.kid }),
        json!({ "alg": "ES256" }),
        json!({ "alg": "ES256", "kid": "unknown" }),
    ] {
        assert!(
            v.verify(&forge(&header, &json!({ "sub": "x" }), &sig))
                .is_err(),
            "{header}"
        );
    }
    // A changed claim breaks the signature.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#),
        parts[2]
    );
    assert!(v.verify(&tampered).is_err());
}

// ----- the JWKS endpoint, through the server ---------------------------------------------

fn get(path: &str) -> OAuth2Request {
    OAuth2Request::from_http(http::Request::get(path).body(Bytes::new()).unwrap(), 65536).unwrap()
}

#[tokio::test]
async fn the_jwks_endpoint_needs_signing_keys_at_registration_not_at_request_time() {
    let store = MemoryStore::new();
    let mut no_store =
        AuthorizationServer::new(store.clone(), ServerConfig::new("https://a.example"));
    let e = no_store
        .register_endpoint(JwksEndpoint::new())
        .err()
        .unwrap();
    assert!(e.to_string().contains("key store"), "{e}");
    let mut no_kek =
        AuthorizationServer::new(store.stores(), ServerConfig::new("https://a.example"));
    let e = no_kek.register_endpoint(JwksEndpoint::new()).err().unwrap();
    assert!(e.to_string().contains("with_signing_keys"), "{e}");
}

#[tokio::test]
async fn the_jwks_endpoint_publishes_the_key_set_and_metadata_names_it() {
    let store = MemoryStore::new();
    let mut server =
        AuthorizationServer::new(store.stores(), ServerConfig::new("https://a.example"))
            .with_signing_keys(
                KeyEncryptionKey::generate(&OsRng),
                RotationPolicy::default(),
            );
    server.register_endpoint(JwksEndpoint::new()).unwrap();
    server
        .context()
        .keys
        .as_ref()
        .unwrap()
        .load()
        .await
        .unwrap();
    let m = server.metadata().to_json();
    assert_eq!(m["jwks_uri"], "https://a.example/jwks");

    let res = server.create_endpoint_response("jwks", &get("/jwks")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["cache-control"], "public, max-age=3600");
    let body = res.json_body().unwrap();
    let algs: Vec<&str> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);

    let post = OAuth2Request::from_http(
        http::Request::post("/jwks").body(Bytes::new()).unwrap(),
        65536,
    )
    .unwrap();
    let res = server.create_endpoint_response("jwks", &post).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_request");
}
