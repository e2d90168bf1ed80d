//! The storage conformance suite: one set of test bodies, run against the in-memory store,
//! SQLite (in memory and on a file) and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod support;

use std::sync::Arc;

use authgate::token::{generate_token, Selector};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use support::Fixture;

/// Everything a backend must be for the suite.
trait Backend:
    Fixture + ClientStore + AuthorizationCodeStore + TokenStore + UserStore + Clone + 'static
{
}
impl<T> Backend for T where
    T: Fixture + ClientStore + AuthorizationCodeStore + TokenStore + UserStore + Clone + 'static
{
}

const NOW: i64 = 1_800_000_000;

fn token(kind: TokenKind, family: Option<Selector>, expires_at: i64) -> TokenRecord {
    let t = generate_token(&OsRng, NOW * 1000);
    let mut r = TokenRecord::new(t.key, kind, "c1", "authorization_code", NOW, expires_at);
    r.subject = Some("user-1".into());
    r.username = Some("alice".into());
    r.scope = "profile email".parse().unwrap();
    if let Some(f) = family {
        r.family = f;
    }
    r
}

fn code(expires_at: i64) -> AuthorizationCodeRecord {
    let t = generate_token(&OsRng, NOW * 1000);
    let mut c = AuthorizationCodeRecord::new(
        t.key,
        "c1",
        "https://app.example/cb",
        "user-1",
        NOW,
        expires_at,
    );
    c.redirect_uri_sent = true;
    c.scope = "profile".parse().unwrap();
    c.username = Some("alice".into());
    c.code_challenge = Some(
        CodeChallenge::new(
            "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es",
            CodeChallengeMethod::S256,
        )
        .unwrap(),
    );
    c.nonce = Some("n-0S6_WzA2Mj".into());
    c
}

async fn client_round_trip<S: Backend>(s: &S) {
    s.add_client(
        ClientRecord::confidential("c1", "s3cret")
            .name("App One")
            .redirect_uris(["https://app.example/cb", "http://127.0.0.1/cb"])
            .grant_types(["authorization_code", "refresh_token"])
            .response_types(["code"])
            .scope("profile email")
            .auth_method(ClientAuthMethod::ClientSecretPost),
    )
    .await;
    let c = s.find_client("c1").await.unwrap().unwrap();
    assert_eq!(c.client_id(), "c1");
    assert!(c.check_secret("s3cret"));
    assert!(!c.check_secret("s3cret "));
    assert_eq!(c.client_name(), Some("App One"));
    assert_eq!(c.redirect_uris().len(), 2);
    assert!(c.allows_grant_type("refresh_token"));
    assert!(c.allows_response_type("code"));
    assert_eq!(c.scope().to_string(), "email profile");
    assert_eq!(
        c.token_endpoint_auth_method(),
        ClientAuthMethod::ClientSecretPost
    );
    assert!(s.find_client("nobody").await.unwrap().is_none());

    s.add_client(ClientRecord::public("p1").grant_types(["authorization_code"]))
        .await;
    let p = s.find_client("p1").await.unwrap().unwrap();
    assert!(p.is_public());
    assert!(
        !p.check_secret(""),
        "a public client matches no secret, not even an empty one"
    );
}

async fn token_round_trip<S: Backend>(s: &S) {
    let access = token(TokenKind::Access, None, NOW + 3600);
    let refresh = token(TokenKind::Refresh, Some(access.family), NOW + 86400);
    s.save_tokens(&[access.clone(), refresh.clone()])
        .await
        .unwrap();
    let got = s.find_token(&access.selector).await.unwrap().unwrap();
    assert_eq!(got.kind, TokenKind::Access);
    assert!(got.verifier_hash.ct_eq(&access.verifier_hash));
    assert_eq!(got.client_id, "c1");
    assert_eq!(got.subject.as_deref(), Some("user-1"));
    assert_eq!(got.username.as_deref(), Some("alice"));
    assert_eq!(got.scope, access.scope);
    assert_eq!(got.grant_type, "authorization_code");
    assert_eq!((got.issued_at, got.expires_at), (NOW, NOW + 3600));
    assert_eq!(got.family, access.family);
    assert!(!got.revoked && !got.rotated);
    let got = s.find_token(&refresh.selector).await.unwrap().unwrap();
    assert_eq!(got.kind, TokenKind::Refresh);
    assert_eq!(got.family, access.family);
    let unknown = generate_token(&OsRng, NOW * 1000).key.selector;
    assert!(s.find_token(&unknown).await.unwrap().is_none());
}

async fn revoke_token_touches_only_that_token<S: Backend>(s: &S) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let b = token(TokenKind::Access, Some(a.family), NOW + 3600);
    s.save_tokens(&[a.clone(), b.clone()]).await.unwrap();
    s.revoke_token(&a.selector).await.unwrap();
    assert!(s.find_token(&a.selector).await.unwrap().unwrap().revoked);
    assert!(!s.find_token(&b.selector).await.unwrap().unwrap().revoked);
}

async fn revoke_family_revokes_every_member_and_nothing_else<S: Backend>(s: &S) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let r = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    let other = token(TokenKind::Access, None, NOW + 3600);
    s.save_tokens(&[a.clone(), r.clone()]).await.unwrap();
    s.save_tokens(std::slice::from_ref(&other)).await.unwrap();
    s.revoke_family(&a.family).await.unwrap();
    assert!(s.find_token(&a.selector).await.unwrap().unwrap().revoked);
    assert!(s.find_token(&r.selector).await.unwrap().unwrap().revoked);
    assert!(
        !s.find_token(&other.selector)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

async fn code_round_trip_and_single_consumption<S: Backend>(s: &S) {
    let c = code(NOW + 600);
    s.save_code(c.clone()).await.unwrap();
    let got = s.find_code(&c.selector).await.unwrap().unwrap();
    assert!(got.verifier_hash.ct_eq(&c.verifier_hash));
    assert_eq!(got.redirect_uri, c.redirect_uri);
    assert!(got.redirect_uri_sent);
    assert_eq!(got.code_challenge, c.code_challenge);
    assert_eq!(got.nonce, c.nonce);
    assert_eq!(got.subject, "user-1");
    assert!(!got.used);
    assert!(s.consume_code(&c.selector).await.unwrap());
    assert!(!s.consume_code(&c.selector).await.unwrap());
    assert!(s.find_code(&c.selector).await.unwrap().unwrap().used);
    let unknown = generate_token(&OsRng, NOW * 1000).key.selector;
    assert!(!s.consume_code(&unknown).await.unwrap());
    assert!(s.find_code(&unknown).await.unwrap().is_none());
}

async fn rotation_is_refused_for_rotated_revoked_and_access_tokens<S: Backend>(s: &S) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let r = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    s.save_tokens(&[a.clone(), r.clone()]).await.unwrap();
    assert!(
        !s.rotate_refresh_token(&a.selector, &[]).await.unwrap(),
        "an access token never rotates"
    );
    let next = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    assert!(s
        .rotate_refresh_token(&r.selector, std::slice::from_ref(&next))
        .await
        .unwrap());
    assert!(s.find_token(&r.selector).await.unwrap().unwrap().rotated);
    assert!(s.find_token(&next.selector).await.unwrap().is_some());
    let again = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    assert!(!s
        .rotate_refresh_token(&r.selector, std::slice::from_ref(&again))
        .await
        .unwrap());
    assert!(
        s.find_token(&again.selector).await.unwrap().is_none(),
        "nothing saved on refusal"
    );
    s.revoke_token(&next.selector).await.unwrap();
    assert!(!s.rotate_refresh_token(&next.selector, &[]).await.unwrap());
}

async fn users_authenticate_with_their_password_only<S: Backend>(s: &S) {
    s.add_user("alice", "user-1", "wonderland").await;
    let owner = s
        .authenticate_user("alice", "wonderland")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner, ResourceOwner::new("user-1", "alice"));
    assert!(s
        .authenticate_user("alice", "Wonderland")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .authenticate_user("bob", "wonderland")
        .await
        .unwrap()
        .is_none());
}

async fn purge_removes_expired_rows_only<S: Backend>(s: &S) {
    let live = token(TokenKind::Access, None, NOW + 10);
    let dead: Vec<TokenRecord> = (0..25)
        .map(|_| token(TokenKind::Access, None, NOW - 1))
        .collect();
    s.save_tokens(std::slice::from_ref(&live)).await.unwrap();
    s.save_tokens(&dead).await.unwrap();
    let dead_code = code(NOW - 1);
    let live_code = code(NOW + 600);
    s.save_code(dead_code.clone()).await.unwrap();
    s.save_code(live_code.clone()).await.unwrap();
    assert!(s.purge(NOW).await >= 25);
    assert!(s.find_token(&live.selector).await.unwrap().is_some());
    for d in &dead {
        assert!(s.find_token(&d.selector).await.unwrap().is_none());
    }
    assert!(s.find_code(&dead_code.selector).await.unwrap().is_none());
    assert!(s.find_code(&live_code.selector).await.unwrap().is_some());
}

async fn concurrent_saves_all_land_even_beside_a_failing_one<S: Backend>(s: &S) {
    let dup = token(TokenKind::Access, None, NOW + 3600);
    s.save_tokens(std::slice::from_ref(&dup)).await.unwrap();
    let fresh: Vec<TokenRecord> = (0..60)
        .map(|_| token(TokenKind::Access, None, NOW + 3600))
        .collect();
    let mut tasks = Vec::new();
    for t in fresh.clone() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.save_tokens(&[t]).await }));
    }
    // A save that SQL stores refuse (its selector exists) in the middle of the burst:
    // batched writers must not fail the others with it.
    let s2 = s.clone();
    let again = tokio::spawn(async move { s2.save_tokens(&[dup]).await });
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let _ = again.await.unwrap();
    for t in &fresh {
        assert!(s.find_token(&t.selector).await.unwrap().is_some());
    }
}

// ----- races through the engine: exactly one winner ------------------------------------

fn server<S: Backend>(s: &S) -> Arc<AuthorizationServer> {
    let clock = FrozenClock::at(NOW);
    let mut server = AuthorizationServer::new(
        s.clone(),
        ServerConfig::new("https://auth.example").refresh_tokens(true),
    )
    .with_clock(clock);
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new());
    Arc::new(server)
}

fn token_post(body: String) -> OAuth2Request {
    let auth = base64::engine::general_purpose::STANDARD.encode("web:web-secret");
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

async fn add_web_client<S: Backend>(s: &S) {
    s.add_client(
        ClientRecord::confidential("web", "web-secret")
            .redirect_uris(["https://app.example/cb"])
            .grant_types(["authorization_code", "refresh_token"])
            .response_types(["code"])
            .scope("profile"),
    )
    .await;
}

async fn issue_code<S: Backend>(server: &AuthorizationServer) -> String {
    let req = OAuth2Request::from_http(
        http::Request::get("/authorize?response_type=code&client_id=web&state=s")
            .body(Bytes::new())
            .unwrap(),
        65536,
    )
    .unwrap();
    let res = server
        .create_authorization_response(&req, Some(&ResourceOwner::new("user-1", "alice")))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    loc.query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

async fn hundred_concurrent_code_redemptions_issue_exactly_one_token<S: Backend>(s: &S) {
    add_web_client(s).await;
    let server = server(s);
    let code = issue_code::<S>(&server).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (server, code) = (server.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let res = server
                .create_token_response(&token_post(format!(
                    "grant_type=authorization_code&code={code}"
                )))
                .await;
            (res.status, String::from_utf8_lossy(&res.body).into_owned())
        }));
    }
    let mut ok = 0;
    let mut won = None;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 200 || status == 400, "status {status}: {body}");
        if status == 200 {
            ok += 1;
            won = Some(body);
        }
    }
    assert_eq!(
        ok, 1,
        "exactly one redemption wins (RFC 6749 4.1.2: single use)"
    );
    // The 99 others were replays: whatever their timing, the winner's tokens end revoked
    // (RFC 9700 4.5).
    let body: serde_json::Value = serde_json::from_str(&won.unwrap()).unwrap();
    let key = authgate::token::parse_token(body["access_token"].as_str().unwrap()).unwrap();
    assert!(s.find_token(&key.selector).await.unwrap().unwrap().revoked);
}

async fn hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed<S: Backend>(
    s: &S,
) {
    add_web_client(s).await;
    let mut server = AuthorizationServer::new(
        s.clone(),
        ServerConfig {
            refresh_token_rotation: RefreshTokenRotation::Always,
            ..ServerConfig::new("https://auth.example").refresh_tokens(true)
        },
    )
    .with_clock(FrozenClock::at(NOW));
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new());
    let server = Arc::new(server);
    let code = issue_code::<S>(&server).await;
    let res = server
        .create_token_response(&token_post(format!(
            "grant_type=authorization_code&code={code}"
        )))
        .await;
    let refresh = res.json_body().unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (server, refresh) = (server.clone(), refresh.clone());
        tasks.push(tokio::spawn(async move {
            server
                .create_token_response(&token_post(format!(
                    "grant_type=refresh_token&refresh_token={refresh}"
                )))
                .await
                .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap() == 200);
    }
    assert_eq!(ok, 1, "exactly one rotation wins (RFC 9700 4.14.2)");
}

macro_rules! suite {
    ($backend:ident, $make:expr, $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    #[allow(unused_variables)] // the guard of a PostgreSQL schema
                    let Some((store, guard)) = $make.await else { return };
                    super::$test(&store).await;
                }
            )*
        }
    };
}

macro_rules! all_tests {
    ($backend:ident, $make:expr) => {
        suite!(
            $backend,
            $make,
            client_round_trip,
            token_round_trip,
            revoke_token_touches_only_that_token,
            revoke_family_revokes_every_member_and_nothing_else,
            code_round_trip_and_single_consumption,
            rotation_is_refused_for_rotated_revoked_and_access_tokens,
            users_authenticate_with_their_password_only,
            purge_removes_expired_rows_only,
            concurrent_saves_all_land_even_beside_a_failing_one,
            hundred_concurrent_code_redemptions_issue_exactly_one_token,
            hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed,
        );
    };
}

all_tests!(memory, async {
    crate::support::memory().await.map(|s| (s, ()))
});
all_tests!(memory_backend, async {
    crate::support::memory_backend().await.map(|s| (s, ()))
});
all_tests!(sqlite_memory, async {
    crate::support::sqlite_memory().await.map(|s| (s, ()))
});
all_tests!(sqlite_file, async {
    crate::support::sqlite_file().await.map(|s| (s, ()))
});
all_tests!(postgres, crate::support::postgres());

mod shared_secrets {
    use authgate_sql::Admin;

    async fn same_secret_on_every_call(s: &authgate_sql::AnyStore) {
        let a = s.shared_secret("session").await.unwrap();
        let b = s.shared_secret("session").await.unwrap();
        let other = s.shared_secret("other").await.unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[tokio::test]
    async fn sqlite() {
        let s = crate::support::sqlite_memory().await.unwrap();
        same_secret_on_every_call(&s).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some((s, guard)) = crate::support::postgres().await else {
            return;
        };
        same_secret_on_every_call(&s).await;
        // A second pool (another process) sees the same bytes.
        let again = guard.store().await;
        assert_eq!(
            again.shared_secret("session").await.unwrap(),
            s.shared_secret("session").await.unwrap()
        );
    }
}

mod user_removal {
    use super::{token, Fixture, NOW};
    use authgate::{TokenKind, TokenStore};
    use authgate_sql::{Admin, AnyStore};

    async fn removing_a_user_revokes_their_tokens(s: &AnyStore) {
        s.add_user("alice", "user-1", "pw").await;
        let mine = token(TokenKind::Refresh, None, NOW + 3600); // subject user-1
        let mut other = token(TokenKind::Access, None, NOW + 3600);
        other.subject = Some("user-2".into());
        s.save_tokens(&[mine.clone(), other.clone()]).await.unwrap();
        assert!(s.remove_user("alice").await.unwrap());
        assert!(s.find_token(&mine.selector).await.unwrap().unwrap().revoked);
        assert!(
            !s.find_token(&other.selector)
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
        assert!(!s.remove_user("alice").await.unwrap());
    }

    #[tokio::test]
    async fn memory() {
        removing_a_user_revokes_their_tokens(&crate::support::memory_backend().await.unwrap())
            .await;
    }

    #[tokio::test]
    async fn sqlite() {
        removing_a_user_revokes_their_tokens(&crate::support::sqlite_memory().await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some((s, _guard)) = crate::support::postgres().await else {
            return;
        };
        removing_a_user_revokes_their_tokens(&s).await;
    }
}
