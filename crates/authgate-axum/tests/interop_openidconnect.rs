//! Interoperability: the `openidconnect` crate (v4) as a relying party of the crate's
//! example app, knowing nothing but the issuer URL: discovery, the code flow with PKCE and
//! a nonce, the ID token verified with the discovered keys, UserInfo and a refresh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

#[path = "../examples/server.rs"]
#[allow(dead_code, unreachable_pub)]
mod example;

#[path = "support/rp.rs"]
#[allow(dead_code, unreachable_pub)] // the logout URL is the reference server's test's
mod rp;

use openidconnect::core::CoreJwsSigningAlgorithm;

#[tokio::test]
async fn the_example_app_is_an_openid_provider_to_the_openidconnect_crate() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let app = example::app(&issuer).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let party = rp::RelyingParty {
        client_id: "demo-client",
        client_secret: "demo-secret",
        redirect_uri: "http://127.0.0.1:9000/callback",
        alg: CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        scopes: &["email", "profile"],
    };
    let base = issuer.clone();
    let signed_in = rp::sign_in(&issuer, &party, None, async move |url: String| {
        // The example shows a consent page; its form posts `confirm=yes` back.
        let http = rp::http_client();
        let page = http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let res = http
            .post(&url)
            .form(&[("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{}", res.status());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(!location.starts_with(&base));
        location
    })
    .await;
    assert_eq!(signed_in.claims.subject().as_str(), "user-1");
    assert_eq!(signed_in.claims.issuer().as_str(), issuer);
    assert!(signed_in.claims.auth_time().is_some());
    assert_eq!(
        signed_in.userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(signed_in.refreshed.subject(), signed_in.claims.subject());
    assert_eq!(
        signed_in.refreshed.auth_time(),
        signed_in.claims.auth_time()
    );
}
