//! The JWT bearer grant (RFC 7523 §2.1) through the binary, on SQLite and PostgreSQL: with
//! `[[trusted_issuers]]` configured, an assertion that issuer signed about a user gets a
//! token acting for that user, exactly once, even under 100 concurrent presentations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::oauth::{assert_error, issued, token, Auth};
use common::Page;
use serde_json::json;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const PARTNER: &str = "https://idp.partner.example";

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

# A partner identity provider whose signed statements about users this server takes.
[[trusted_issuers]]
issuer = "https://idp.partner.example"
jwks = { keys = [{ kty = "EC", crv = "P-256", x = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8", y = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c", kid = "test-client-key", use = "sig", alg = "ES256" }] }
# What the partner may vouch for: tokens from its assertions carry no more.
scope = "profile"

[[clients]]
client_id = "app"
client_secret = "app-secret-long-enough"
grant_types = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
scope = "profile email"
"#;

/// An assertion of the partner about `sub`, signed with its key (tests/keys).
fn assertion(base: &str, sub: &str, jti: &str) -> String {
    let now = authgate::Clock::now(&authgate::SystemClock);
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("test-client-key".into());
    jsonwebtoken::encode(
        &h,
        &json!({"iss": PARTNER, "sub": sub, "aud": format!("{base}/token"), "jti": jti,
            "iat": now, "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_ec_pem(include_bytes!("keys/client-es256.pem")).unwrap(),
    )
    .unwrap()
}

async fn grant(base: &str, assertion: &str) -> Page {
    token(
        base,
        Auth::Basic("app", "app-secret-long-enough"),
        &[("grant_type", GRANT), ("assertion", assertion)],
    )
    .await
}

on_both_backends!(
    crate::CONFIG;
    a_partner_s_assertion_is_traded_once_for_a_user_token_rfc7523_2_1,
);

async fn a_partner_s_assertion_is_traded_once_for_a_user_token_rfc7523_2_1(base: &str) {
    let meta: serde_json::Value = common::http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));
    let a = assertion(base, "partner-user-1", "b-1");
    let t = issued(&grant(base, &a).await);
    assert!(t.get("refresh_token").is_none());
    assert_eq!(
        t["scope"], "profile",
        "the client's scope, cut to what the partner may vouch for"
    );
    let me = Page::read(
        common::http()
            .get(format!("{base}/api/me"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    // The partner's users are its own: namespaced, never a local user of the same name.
    assert_eq!(
        me.json()["sub"],
        "https://idp.partner.example|partner-user-1"
    );
    // Once only (RFC 7523 3: jti).
    assert_error(&grant(base, &a).await, 400, "invalid_grant");
    // 100 concurrent presentations of one fresh assertion: exactly one token.
    let a = assertion(base, "partner-user-1", "b-race");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (base, a) = (base.to_owned(), a.clone());
        tasks.push(tokio::spawn(async move { grant(&base, &a).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let p = t.await.unwrap();
        assert!(
            p.status == 200 || p.status == 400,
            "{} {}",
            p.status,
            p.body
        );
        ok += usize::from(p.status == 200);
    }
    assert_eq!(ok, 1);
}
