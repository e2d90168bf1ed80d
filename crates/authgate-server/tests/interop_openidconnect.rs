//! Interoperability: the `openidconnect` crate (v4) as a relying party of the reference
//! server, configured with the issuer URL only — discovery, sign-in through the login and
//! consent pages, the ID token verified for RS256, ES256 and EdDSA clients, UserInfo, a
//! refresh with a new ID token, and RP-initiated logout — on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

#[path = "../../authgate-axum/tests/support/rp.rs"]
#[allow(dead_code, unreachable_pub)]
mod rp;

use common::Browser;
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[tokens]
refresh_tokens = true

[keys]
algorithms = ["RS256", "ES256", "EdDSA"]

[[clients]]
client_id = "rs"
client_secret = "rs-secret"
client_name = "RS256 App"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "refresh_token"]
scope = "openid email profile"
post_logout_redirect_uris = ["http://127.0.0.1:9/bye"]

[[clients]]
client_id = "es"
client_secret = "es-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "refresh_token"]
scope = "openid email profile"
id_token_signed_response_alg = "ES256"

[[clients]]
client_id = "ed"
client_secret = "ed-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "refresh_token"]
scope = "openid email profile"
id_token_signed_response_alg = "EdDSA"

[[users]]
username = "alice"
password = "wonderland"
subject = "user-alice"
name = "Alice Liddell"
email = "alice@example.com"
email_verified = true
"#;

on_both_backends!(
    crate::CONFIG;
    openidconnect_signs_in_verifies_reads_userinfo_refreshes_and_logs_out,
);

async fn openidconnect_signs_in_verifies_reads_userinfo_refreshes_and_logs_out(base: &str) {
    let mut browser = Browser::new(base);
    browser.login("alice", "wonderland").await;
    for (client_id, secret, alg) in [
        ("rs", "rs-secret", Alg::RsaSsaPkcs1V15Sha256),
        ("es", "es-secret", Alg::EcdsaP256Sha256),
        ("ed", "ed-secret", Alg::EdDsa),
    ] {
        let party = rp::RelyingParty {
            client_id,
            client_secret: secret,
            redirect_uri: "http://127.0.0.1:9/cb",
            alg,
            scopes: &["email", "profile"],
        };
        let signed_in = rp::sign_in(
            base,
            &party,
            Some("http://127.0.0.1:9/bye"),
            async |url: String| {
                let consent = browser.get(&url).await;
                assert_eq!(consent.status, 200, "{}", consent.body);
                let csrf = consent.hidden("csrf").unwrap();
                let done = browser
                    .post(&url, &[("csrf", csrf.as_str()), ("confirm", "yes")])
                    .await;
                assert_eq!(done.status, 302, "{}", done.body);
                done.location().unwrap().to_owned()
            },
        )
        .await;
        let c = &signed_in.claims;
        assert_eq!(c.subject().as_str(), "user-alice", "{client_id}");
        assert_eq!(c.issuer().as_str(), base);
        assert!(c.auth_time().is_some());
        let info = &signed_in.userinfo;
        assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
        assert_eq!(info.email_verified(), Some(true));
        assert_eq!(
            info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
            Some("Alice Liddell")
        );
        assert_eq!(signed_in.refreshed.subject(), c.subject());
        assert_eq!(signed_in.refreshed.auth_time(), c.auth_time());

        if client_id == "rs" {
            // The RP logs the user out with the URL it built from discovery.
            let url = signed_in
                .logout_url
                .expect("end_session_endpoint is discovered");
            let out = browser.get(&url).await;
            assert_eq!(out.status, 303, "{}", out.body);
            assert_eq!(
                out.location(),
                Some("http://127.0.0.1:9/bye?state=logged-out")
            );
            assert!(!browser.jar.contains_key("authgate_session"));
            browser.login("alice", "wonderland").await;
        }
    }
}
