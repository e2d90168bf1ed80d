//! Token exchange (RFC 8693) through the engine: a service trades the user's access token
//! it received for one aimed at the next service, under a policy that refuses by default.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::token::generate_token;
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const ORDERS: &str = "https://orders.example/";
const BILLING: &str = "https://billing.example/";
const T0: i64 = 1_800_000_000;

fn post(client: &str, body: &str) -> OAuth2Request {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{client}:secret"));
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

struct Fixture {
    server: AuthorizationServer,
    store: MemoryStore,
}

/// The orders service may exchange tokens for billing; nobody else may exchange.
fn fixture(allow: bool) -> Fixture {
    let store = MemoryStore::new();
    for id in ["orders", "web"] {
        store.add_client(
            ClientRecord::confidential(id, "secret")
                .grant_types([TOKEN_EXCHANGE_GRANT_TYPE, "client_credentials"])
                .scope("read write"),
        );
    }
    let mut config = ServerConfig::new(ISSUER);
    config.resources = ResourceRegistry::new()
        .with(RegisteredResource::new(ORDERS).unwrap())
        .with(
            RegisteredResource::new(BILLING)
                .unwrap()
                .scope("read".parse().unwrap()),
        );
    let mut server =
        AuthorizationServer::new(store.stores(), config).with_clock(FrozenClock::at(T0));
    let mut grant = TokenExchangeGrant::new();
    if allow {
        grant = grant.policy(|r: &grants::ExchangeRequest<'_>| {
            r.client.client_id() == "orders" && r.audience == [BILLING]
        });
    }
    server
        .register_grant(grant)
        .register_grant(ClientCredentialsGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new());
    Fixture { server, store }
}

/// A user's access token the web app obtained for the orders service, saved as the server
/// would have; answers its value and record.
async fn user_token(f: &Fixture, act: Option<Value>) -> (String, TokenRecord) {
    let t = generate_token(&OsRng, T0 * 1000);
    let mut r = TokenRecord::new(
        t.key,
        TokenKind::Access,
        "web",
        "authorization_code",
        T0,
        T0 + 600,
    );
    r.subject = Some("user-1".into());
    r.username = Some("alice".into());
    r.scope = "read write".parse().unwrap();
    let mut d = GrantDetails::default();
    d.audience = vec![ORDERS.into()];
    if let Some(act) = act {
        d.claims.insert("act".into(), act);
    }
    r.set_details(d);
    f.store.save_tokens(std::slice::from_ref(&r)).await.unwrap();
    (t.value, r)
}

fn exchange(subject: &str, extra: &str) -> String {
    format!(
        "grant_type={}&subject_token={subject}&subject_token_type={}&resource={}{extra}",
        enc(TOKEN_EXCHANGE_GRANT_TYPE),
        enc("urn:ietf:params:oauth:token-type:access_token"),
        enc(BILLING)
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn token(s: &AuthorizationServer, client: &str, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&post(client, body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

async fn introspect(s: &AuthorizationServer, t: &str) -> Value {
    s.create_introspection_response(&post("orders", &format!("token={t}")))
        .await
        .json_body()
        .unwrap()
}

#[tokio::test]
async fn nothing_is_exchanged_unless_the_policy_allows_it_rfc8693_5() {
    let f = fixture(false);
    let (subject, _) = user_token(&f, None).await;
    let (status, e) = token(&f.server, "orders", &exchange(&subject, "")).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "RFC 8693 section 2.2.2: unacceptable by policy is invalid_request"
    );
    // With a policy: only the orders service, only towards billing.
    let f = fixture(true);
    let (subject, _) = user_token(&f, None).await;
    assert_eq!(
        token(&f.server, "web", &exchange(&subject, "")).await.1["error"],
        "invalid_request"
    );
    let body = exchange(&subject, "").replace(&enc(BILLING), &enc(ORDERS));
    assert_eq!(
        token(&f.server, "orders", &body).await.1["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn an_exchanged_token_acts_for_the_user_at_the_next_service_rfc8693_2_2_1() {
    let f = fixture(true);
    let (subject, record) = user_token(&f, None).await;
    let (status, t) = token(&f.server, "orders", &exchange(&subject, "")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(t["token_type"], "Bearer");
    assert!(t.get("refresh_token").is_none());
    // Billing accepts `read` only: the exchanged token is cut to it.
    assert_eq!(t["scope"], "read");
    let i = introspect(&f.server, t["access_token"].as_str().unwrap()).await;
    assert_eq!(i["sub"], "user-1");
    assert_eq!(i["client_id"], "orders");
    assert_eq!(i["aud"], BILLING);
    assert!(i.get("act").is_none(), "impersonation: no actor");
    // It joined the subject token's grant family: revoking the family reaches it.
    f.store.revoke_family(&record.family).await.unwrap();
    let i = introspect(&f.server, t["access_token"].as_str().unwrap()).await;
    assert_eq!(i, json!({"active": false}));
}

#[tokio::test]
async fn delegation_records_the_actor_nested_along_the_chain_rfc8693_4_1() {
    let f = fixture(true);
    // The orders service's own token is the actor; the subject already carries an actor.
    let (actor, _) = {
        let (s, t) = token(
            &f.server,
            "orders",
            "grant_type=client_credentials&scope=read",
        )
        .await;
        assert_eq!(s, 200);
        (t["access_token"].as_str().unwrap().to_owned(), ())
    };
    let (subject, _) = user_token(&f, Some(json!({"sub": "gateway"}))).await;
    let extra = format!(
        "&actor_token={actor}&actor_token_type={}",
        enc("urn:ietf:params:oauth:token-type:access_token")
    );
    let (status, t) = token(&f.server, "orders", &exchange(&subject, &extra)).await;
    assert_eq!(status, 200, "{t}");
    let i = introspect(&f.server, t["access_token"].as_str().unwrap()).await;
    assert_eq!(
        i["act"],
        json!({"sub": "orders", "act": {"sub": "gateway"}})
    );
}

#[tokio::test]
async fn bad_exchanges_get_the_errors_of_rfc8693_2_2_2() {
    let f = fixture(true);
    let (subject, record) = user_token(&f, None).await;
    let cases = [
        (
            "scope beyond the subject's",
            exchange(&subject, "&scope=admin"),
            "invalid_scope",
        ),
        (
            "unknown target",
            exchange(&subject, "").replace(&enc(BILLING), &enc("https://x.example/")),
            "invalid_target",
        ),
        (
            "unknown audience",
            format!("{}&audience=elsewhere", exchange(&subject, "")),
            "invalid_target",
        ),
        (
            "refresh token requested",
            exchange(
                &subject,
                &format!(
                    "&requested_token_type={}",
                    enc("urn:ietf:params:oauth:token-type:refresh_token")
                ),
            ),
            "invalid_request",
        ),
        (
            "no subject_token_type",
            exchange(&subject, "").replace("subject_token_type", "x"),
            "invalid_request",
        ),
        (
            "actor without its type",
            exchange(&subject, &format!("&actor_token={subject}")),
            "invalid_request",
        ),
        (
            "not a token of ours",
            exchange("not-a-token", ""),
            "invalid_request",
        ),
    ];
    for (what, body, code) in cases {
        let (status, e) = token(&f.server, "orders", &body).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some(code)),
            "{what}: {e}"
        );
    }
    // A revoked subject token: invalid_request too (RFC 8693 section 2.2.2: "invalid for
    // any reason").
    f.store.revoke_token(&record.selector).await.unwrap();
    let (_, e) = token(&f.server, "orders", &exchange(&subject, "")).await;
    assert_eq!(e["error"], "invalid_request");
}
