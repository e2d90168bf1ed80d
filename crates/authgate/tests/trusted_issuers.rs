//! JWTs of trusted issuers beyond the JWT bearer grant's assertions: as `subject_token` and
//! `actor_token` of a token exchange (RFC 8693 §2.1), and the scope an issuer may vouch for
//! (in both grants).
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use authgate::grants::{ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE};
use authgate::jose::{self, KeyEncryptionKey, KeySet, RotationPolicy};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const PARTNER: &str = "https://idp.partner.example";
const BILLING: &str = "https://billing.example/";
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
    server: AuthorizationServer,
    partner: KeySet,
}

/// The orders service may exchange the partner's tokens for billing; `app` trades the
/// partner's assertions. `limit`: the scope the partner may vouch for.
async fn fixture(limit: Option<&str>) -> Fixture {
    let partner = issuer_keys().await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("orders", "secret")
            .grant_types([TOKEN_EXCHANGE_GRANT_TYPE])
            .scope("read write"),
    );
    store.add_client(
        ClientRecord::confidential("app", "secret")
            .grant_types([JWT_BEARER_GRANT_TYPE])
            .scope("read write"),
    );
    let mut config = ServerConfig::new(ISSUER);
    config.resources = ResourceRegistry::new().with(RegisteredResource::new(BILLING).unwrap());
    let jwks = serde_json::to_value(partner.jwks().await.unwrap()).unwrap();
    let mut trusted = TrustedIssuer::with_jwks(PARTNER, jwks);
    if let Some(limit) = limit {
        trusted = trusted.scope(limit.parse().unwrap());
    }
    let issuers = TrustedIssuers::new().trust(trusted);
    let mut server =
        AuthorizationServer::new(store.stores(), config).with_clock(FrozenClock::at(T0));
    server
        .register_grant(TokenExchangeGrant::new().trusting(issuers.clone()).policy(
            |r: &grants::ExchangeRequest<'_>| {
                r.client.client_id() == "orders"
                    && r.subject.issuer() == Some(PARTNER)
                    && r.audience == [BILLING]
            },
        ))
        .register_grant(JwtBearerGrant::trusting(issuers))
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    Fixture { server, partner }
}

/// A token the partner issued to a user for this server.
fn partner_token(sub: &str) -> Value {
    json!({
        "iss": PARTNER, "sub": sub, "aud": ISSUER, "scope": "read write",
        "iat": T0 - 60, "exp": T0 + 600,
    })
}

/// The partner's access token: typed `at+jwt` (RFC 9068 §2.1).
async fn sign(keys: &KeySet, claims: &Value) -> String {
    keys.sign(jose::Algorithm::ES256, Some("at+jwt"), claims)
        .await
        .unwrap()
}

/// An untyped JWT of the partner's (an assertion, say).
async fn sign_untyped(keys: &KeySet, claims: &Value) -> String {
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

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn exchange(subject: &str, ty: &str, extra: &str) -> String {
    format!(
        "grant_type={}&subject_token={subject}&subject_token_type={}&resource={}{extra}",
        enc(TOKEN_EXCHANGE_GRANT_TYPE),
        enc(ty),
        enc(BILLING)
    )
}

async fn token(s: &AuthorizationServer, client: &str, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&post(client, body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

async fn introspect(s: &AuthorizationServer, t: &Value) -> Value {
    let body = format!("token={}", t["access_token"].as_str().unwrap());
    s.create_introspection_response(&post("orders", &body))
        .await
        .json_body()
        .unwrap()
}

#[tokio::test]
async fn a_trusted_issuer_s_jwt_is_exchanged_for_its_user_rfc8693_2_1() {
    let f = fixture(None).await;
    let jwt = sign(&f.partner, &partner_token("user-7")).await;
    for ty in [JWT_TOKEN_TYPE, ACCESS_TOKEN_TYPE] {
        // Not single-use: a service may exchange the token it holds more than once.
        for _ in 0..2 {
            let (status, t) = token(&f.server, "orders", &exchange(&jwt, ty, "")).await;
            assert_eq!(status, 200, "{ty}: {t}");
            assert_eq!(t["issued_token_type"], ACCESS_TOKEN_TYPE);
            assert!(t.get("refresh_token").is_none());
            let i = introspect(&f.server, &t).await;
            // The partner's user, namespaced so it can never be a local user.
            assert_eq!(i["sub"], format!("{PARTNER}|user-7"));
            assert_eq!(i["client_id"], "orders");
            assert_eq!(i["aud"], BILLING);
            assert_eq!(i["scope"], "read write");
        }
    }
    // The token's own scope is the ceiling.
    let mut c = partner_token("user-7");
    c["scope"] = json!("read");
    let narrow = sign(&f.partner, &c).await;
    let (status, e) = token(
        &f.server,
        "orders",
        &exchange(&narrow, JWT_TOKEN_TYPE, "&scope=write"),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
}

#[tokio::test]
async fn a_trusted_actor_is_recorded_in_act_rfc8693_4_1() {
    let f = fixture(None).await;
    let subject = sign(&f.partner, &partner_token("user-7")).await;
    let mut a = partner_token("gateway");
    a["act"] = json!("not an object: ignored");
    let actor = sign(&f.partner, &a).await;
    let extra = format!(
        "&actor_token={actor}&actor_token_type={}",
        enc(JWT_TOKEN_TYPE)
    );
    let (status, t) = token(
        &f.server,
        "orders",
        &exchange(&subject, JWT_TOKEN_TYPE, &extra),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let i = introspect(&f.server, &t).await;
    assert_eq!(i["act"], json!({ "sub": format!("{PARTNER}|gateway") }));
    // A chain the subject token already records is nested under the new actor.
    let mut s = partner_token("user-7");
    s["act"] = json!({"sub": "edge"});
    let subject = sign(&f.partner, &s).await;
    let (_, t) = token(
        &f.server,
        "orders",
        &exchange(&subject, JWT_TOKEN_TYPE, &extra),
    )
    .await;
    let i = introspect(&f.server, &t).await;
    // Every actor the partner names is the partner's, like its users: it cannot record a
    // local name as a past actor.
    assert_eq!(
        i["act"],
        json!({ "sub": format!("{PARTNER}|gateway"), "act": {"sub": format!("{PARTNER}|edge")} })
    );
}

#[tokio::test]
async fn trusted_jwts_that_break_the_rules_are_invalid_request_rfc8693_2_2_2() {
    let f = fixture(None).await;
    let stranger = issuer_keys().await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = partner_token("user-7");
        change(&mut c);
        c
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(partner_token("user-7").to_string())
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by a key the partner does not have",
            sign(&stranger, &partner_token("user-7")).await,
        ),
        (
            "an issuer nobody trusts",
            sign(
                &f.partner,
                &with(&|c| c["iss"] = json!("https://evil.example")),
            )
            .await,
        ),
        (
            "aimed at another server",
            sign(
                &f.partner,
                &with(&|c| c["aud"] = json!("https://elsewhere.example")),
            )
            .await,
        ),
        (
            "expired",
            sign(&f.partner, &with(&|c| c["exp"] = json!(T0 - 120))).await,
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
            "a malformed scope",
            sign(&f.partner, &with(&|c| c["scope"] = json!(["read"]))).await,
        ),
        ("alg none", unsigned),
        ("not a JWT at all", "a.b.c".to_owned()),
    ];
    for (what, jwt) in cases {
        let (status, e) = token(&f.server, "orders", &exchange(&jwt, JWT_TOKEN_TYPE, "")).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_request")),
            "{what}: {e}"
        );
    }
}

#[tokio::test]
async fn a_jwt_typed_for_another_use_is_not_exchanged_rfc8725_3_11() {
    let f = fixture(None).await;
    // The partner's own signature, but `typ` says it is a logout token.
    let logout = f
        .partner
        .sign(
            jose::Algorithm::ES256,
            Some("logout+jwt"),
            &partner_token("user-7"),
        )
        .await
        .unwrap();
    let (status, e) = token(&f.server, "orders", &exchange(&logout, JWT_TOKEN_TYPE, "")).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        e["error_description"].as_str().unwrap().contains("typ"),
        "{e}"
    );
}

#[tokio::test]
async fn an_issuer_vouches_only_for_its_scope_in_both_grants() {
    let f = fixture(Some("read")).await;
    // Token exchange: the partner's token says "read write"; the partner may vouch for
    // "read" only, so that is the ceiling.
    let jwt = sign(&f.partner, &partner_token("user-7")).await;
    let (status, t) = token(&f.server, "orders", &exchange(&jwt, JWT_TOKEN_TYPE, "")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "read");
    let (status, e) = token(
        &f.server,
        "orders",
        &exchange(&jwt, JWT_TOKEN_TYPE, "&scope=write"),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));

    // The JWT bearer grant: asking beyond the limit is invalid_scope, and does not spend
    // the assertion, which then works within it; by default the scope is cut to the limit.
    let assertion = |jti: &str| {
        json!({
            "iss": PARTNER, "sub": "user-7", "aud": "https://auth.example/token",
            "jti": jti, "iat": T0, "exp": T0 + 60,
        })
    };
    let a = sign_untyped(&f.partner, &assertion("j-1")).await;
    let grant = |a: &str, extra: &str| {
        format!(
            "grant_type={}&assertion={a}{extra}",
            enc(JWT_BEARER_GRANT_TYPE)
        )
    };
    let (status, e) = token(&f.server, "app", &grant(&a, "&scope=write")).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
    let (status, t) = token(&f.server, "app", &grant(&a, "&scope=read")).await;
    assert_eq!(
        status, 200,
        "the refused request did not spend the jti: {t}"
    );
    assert_eq!(t["scope"], "read");
    let b = sign_untyped(&f.partner, &assertion("j-2")).await;
    let (status, t) = token(&f.server, "app", &grant(&b, "")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t["scope"], "read",
        "the client's read write, cut to the issuer's limit"
    );
}

#[tokio::test]
async fn assertions_and_tokens_are_told_apart_by_typ_rfc8725_3_11() {
    let f = fixture(None).await;
    // An assertion (untyped, spent once at the JWT bearer grant) cannot be exchanged
    // over and over as a subject token.
    let assertion = json!({
        "iss": PARTNER, "sub": "user-7", "aud": ISSUER, "scope": "read",
        "jti": "a-1", "iat": T0, "exp": T0 + 60,
    });
    let untyped = sign_untyped(&f.partner, &assertion).await;
    let grant = format!(
        "grant_type={}&assertion={untyped}",
        enc(JWT_BEARER_GRANT_TYPE)
    );
    assert_eq!(token(&f.server, "app", &grant).await.0, 200);
    let (status, e) = token(&f.server, "orders", &exchange(&untyped, JWT_TOKEN_TYPE, "")).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    // Nor can an access token be traded at the JWT bearer grant.
    let typed = sign(
        &f.partner,
        &json!({
            "iss": PARTNER, "sub": "user-7", "aud": ISSUER, "jti": "a-2", "iat": T0, "exp": T0 + 60,
        }),
    )
    .await;
    let grant = format!(
        "grant_type={}&assertion={typed}",
        enc(JWT_BEARER_GRANT_TYPE)
    );
    let (status, e) = token(&f.server, "app", &grant).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
}

#[tokio::test]
async fn an_issuer_allowed_untyped_tokens_has_them_exchanged() {
    // For an issuer whose access tokens are not typed: opt in, per issuer.
    let partner = issuer_keys().await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("orders", "secret")
            .grant_types([TOKEN_EXCHANGE_GRANT_TYPE])
            .scope("read"),
    );
    let mut config = ServerConfig::new(ISSUER);
    config.resources = ResourceRegistry::new().with(RegisteredResource::new(BILLING).unwrap());
    let jwks = serde_json::to_value(partner.jwks().await.unwrap()).unwrap();
    let issuers =
        TrustedIssuers::new().trust(TrustedIssuer::with_jwks(PARTNER, jwks).untyped_tokens(true));
    let mut server =
        AuthorizationServer::new(store.stores(), config).with_clock(FrozenClock::at(T0));
    server.register_grant(
        TokenExchangeGrant::new()
            .trusting(issuers)
            .policy(|_: &grants::ExchangeRequest<'_>| true),
    );
    let untyped = sign_untyped(&partner, &partner_token("user-7")).await;
    let (status, t) = token(&server, "orders", &exchange(&untyped, JWT_TOKEN_TYPE, "")).await;
    assert_eq!(status, 200, "{t}");
    // The token said "read write"; the client may have "read" only.
    assert_eq!(t["scope"], "read");
}

#[tokio::test]
async fn this_server_is_never_its_own_trusted_issuer() {
    // A library user trusting the server's own issuer: its JWTs are still not taken as
    // an outsider's (a revoked one of its own would pass as merely signed).
    let keys = issuer_keys().await;
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("orders", "secret")
            .grant_types([TOKEN_EXCHANGE_GRANT_TYPE])
            .scope("read"),
    );
    let mut config = ServerConfig::new(ISSUER);
    config.resources = ResourceRegistry::new().with(RegisteredResource::new(BILLING).unwrap());
    let jwks = serde_json::to_value(keys.jwks().await.unwrap()).unwrap();
    let mut server =
        AuthorizationServer::new(store.stores(), config).with_clock(FrozenClock::at(T0));
    server.register_grant(
        TokenExchangeGrant::new()
            .trusting(TrustedIssuers::new().trust(TrustedIssuer::with_jwks(ISSUER, jwks)))
            .policy(|_: &grants::ExchangeRequest<'_>| true),
    );
    let mut c = partner_token("user-7");
    c["iss"] = json!(ISSUER);
    let own = sign(&keys, &c).await;
    let (status, e) = token(&server, "orders", &exchange(&own, JWT_TOKEN_TYPE, "")).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
}

#[tokio::test]
async fn an_assertion_s_scope_claim_is_a_ceiling_rfc7521_4_1() {
    // RFC 7521 §4.1 leaves the scope to the server; an assertion that says what it is
    // for is not turned into more.
    let f = fixture(None).await;
    let assertion = |jti: &str| {
        json!({
            "iss": PARTNER, "sub": "user-7", "aud": "https://auth.example/token",
            "scope": "read", "jti": jti, "iat": T0, "exp": T0 + 60,
        })
    };
    let grant = |a: &str, extra: &str| {
        format!(
            "grant_type={}&assertion={a}{extra}",
            enc(JWT_BEARER_GRANT_TYPE)
        )
    };
    let a = sign_untyped(&f.partner, &assertion("s-1")).await;
    let (status, t) = token(&f.server, "app", &grant(&a, "")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t["scope"], "read",
        "the client's read write, cut to the claim"
    );
    let b = sign_untyped(&f.partner, &assertion("s-2")).await;
    let (status, e) = token(&f.server, "app", &grant(&b, "&scope=write")).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
}
