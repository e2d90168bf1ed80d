//! The storage conformance suite, for anyone writing a store: one set of checks every
//! backend must pass, run against your store with one macro. The built-in backends
//! (memory, SQLite, PostgreSQL) run exactly this.
//!
//! Enabled by the `testing` feature; use it from your tests (a dev-dependency on
//! `authgate` with `features = ["testing"]`, and `tokio` with the `macros` and
//! `rt-multi-thread` features):
//!
//! ```
//! use authgate::testing::StoreUnderTest;
//! use authgate::MemoryStore;
//!
//! authgate::storage_conformance_tests!(memory_store, async {
//!     Some(StoreUnderTest::new(MemoryStore::new()))
//! });
//! # fn main() {}
//! ```
//!
//! The macro writes one `#[tokio::test]` per check in a module named by its first
//! argument; the second is an `async` block answering `Option<StoreUnderTest>` — `None`
//! skips the checks (print why: a database that is not there, say). Each check gets a
//! fresh store from the block.
//!
//! What the checks pin: every field of clients, codes and tokens survives a round trip;
//! revoking a token or a family touches exactly that; a code is consumed once; a refresh
//! token rotates once and never after it was revoked or rotated, and a refused rotation
//! saves nothing; users authenticate with their own password only; the purge removes
//! expired rows only; a burst of concurrent saves all land even beside a failing one; and
//! through the engine, 100 concurrent redemptions of one code issue exactly one set of
//! tokens (revoked, since the other 99 were replays) and 100 concurrent refreshes of one
//! rotating refresh token let exactly one succeed. When the store keeps signing keys: they
//! round-trip, of 50 concurrent additions of one key generation exactly one is kept, and
//! two key sets on the store agree on the active key through a scheduled rotation. When it
//! keeps consents: they round-trip, and revoking one revokes that client's tokens and codes
//! for that user and nothing else. When it keeps sessions: they round-trip, collect their
//! clients once each, end exactly once under 20 concurrent ends, and end all at once for a
//! user; the purge removes expired ones. When it keeps device codes: they round-trip
//! (by device code and by user code, which is unique), polls too soon grow the interval,
//! of 20 concurrent decisions exactly one lands, of 20 concurrent redemptions of an
//! approved code exactly one wins, pending, denied and expired codes are neither redeemed
//! nor decided, the purge removes expired ones, and through the engine 100 concurrent polls
//! of one approved device code issue exactly one set of tokens. When it has a client
//! registry: a client id is taken once, updates keep the secret, and deleting a client
//! revokes its tokens and deletes its codes, device codes and approvals, and nothing of
//! another client's. Names holding NUL or other control characters (client ids, usernames,
//! subjects, session ids) are looked up without a backend error — "not found" — and a save
//! of one either keeps it (and finds it again) or answers [`StorageError::InvalidValue`],
//! never another error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed check is a panic in the caller's test

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;

use crate::client::{Client, ClientAuthMethod, ClientRecord};
use crate::clock::FrozenClock;
use crate::config::{RefreshTokenRotation, ServerConfig};
use crate::error::StorageError;
use crate::grants::{AuthorizationCodeGrant, RefreshTokenGrant};
use crate::pkce::{CodeChallenge, CodeChallengeMethod};
use crate::request::OAuth2Request;
use crate::rng::OsRng;
use crate::server::AuthorizationServer;
use crate::storage::{
    AuthorizationCodeRecord, AuthorizationCodeStore, ClientStore, ConsentRecord, DeviceCodeRecord,
    DeviceCodeStatus, DevicePoll, GrantDetails, MemoryStore, ResourceOwner, SessionRecord, Stores,
    TokenKind, TokenRecord, TokenStore, UserStore,
};
use crate::token::{generate_token, Selector};

/// What the checks need beyond the storage traits: a way to add clients and users, and
/// the expiry purge.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// Adds (or replaces) a client.
    async fn add_client(&self, client: ClientRecord);
    /// Adds (or replaces) a user with a password.
    async fn add_user(&self, username: &str, subject: &str, password: &str);
    /// Deletes what expired before `now`; answers how many rows went, or `None` when the
    /// store has no purge (that check is then skipped).
    async fn purge_expired(&self, now: i64) -> Option<usize>;
}

/// A store handed to the checks: its storage traits, and the [`Fixture`] that fills it.
pub struct StoreUnderTest {
    /// Clients, codes and tokens.
    pub stores: Stores,
    /// The password check.
    pub users: Arc<dyn UserStore>,
    /// How the checks add clients and users.
    pub fixture: Arc<dyn Fixture>,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl StoreUnderTest {
    /// One value implementing every trait the checks use.
    pub fn new<S>(store: S) -> Self
    where
        S: ClientStore + AuthorizationCodeStore + TokenStore + UserStore + Fixture + 'static,
    {
        let store = Arc::new(store);
        Self::from_parts(Stores::from_store(store.clone()), store.clone(), store)
    }

    /// The parts, separately.
    pub fn from_parts(
        stores: Stores,
        users: Arc<dyn UserStore>,
        fixture: Arc<dyn Fixture>,
    ) -> Self {
        Self {
            stores,
            users,
            fixture,
            guard: None,
        }
    }

    /// Keeps `guard` alive as long as the store (a throw-away database schema, say).
    #[must_use]
    pub fn keep(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUnderTest")
            .field("guard", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Fixture for MemoryStore {
    async fn add_client(&self, client: ClientRecord) {
        MemoryStore::add_client(self, client);
    }
    async fn add_user(&self, username: &str, subject: &str, password: &str) {
        MemoryStore::add_user(self, ResourceOwner::new(subject, username), password);
    }
    async fn purge_expired(&self, now: i64) -> Option<usize> {
        Some(MemoryStore::purge_expired(self, now))
    }
}

/// Writes one `#[tokio::test]` per conformance check; see [`crate::testing`].
#[macro_export]
macro_rules! storage_conformance_tests {
    ($name:ident, $make:expr) => {
        $crate::storage_conformance_tests!(@each $name, $make,
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
            hundred_concurrent_refreshes_within_the_grace_window_share_one_successor,
            signing_keys_round_trip_update_and_remove,
            fifty_concurrent_additions_of_one_key_generation_keep_exactly_one,
            key_sets_sharing_the_store_agree_through_a_rotation,
            consents_round_trip_and_revocation_takes_that_clients_tokens_for_that_user,
            sessions_round_trip_collect_clients_and_end_once,
            device_codes_move_forward_once_each_step,
            hundred_concurrent_polls_of_an_approved_device_code_issue_one_token,
            client_registry_creates_once_updates_and_deletes_what_the_client_held,
            names_with_nul_or_control_characters_are_not_found_and_saves_fail_cleanly,
            replay_cache_lets_a_value_through_once_until_it_expires,
            hundred_concurrent_first_uses_of_one_value_let_exactly_one_through,
        );
    };
    (@each $name:ident, $make:expr, $($check:ident),* $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let store: ::std::option::Option<$crate::testing::StoreUnderTest> = $make.await;
                    let Some(store) = store else { return };
                    $crate::testing::$check(&store).await;
                }
            )*
        }
    };
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

fn details() -> GrantDetails {
    let mut d = GrantDetails {
        audience: vec!["https://api.example/".into()],
        auth_time: Some(NOW - 5),
        acr: Some("urn:example:loa:2".into()),
        amr: vec!["pwd".into(), "otp".into()],
        session_id: Some("sid-1".into()),
        claims_request: Some(serde_json::json!({"userinfo": {"email": {"essential": true}}})),
        confirmation: Some(
            serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ),
        ..GrantDetails::default()
    };
    d.claims.insert("tenant_role".into(), "admin".into());
    d
}

/// The stored record of a token that must be there.
async fn stored(s: &StoreUnderTest, t: &TokenRecord) -> TokenRecord {
    s.stores
        .tokens
        .find_token(&t.selector)
        .await
        .unwrap()
        .expect("the token is stored")
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

/// Conformance check `client_round_trip`.
pub async fn client_round_trip(s: &StoreUnderTest) {
    let mut c1 = ClientRecord::confidential("c1", "s3cret")
        .name("App One")
        .redirect_uris(["https://app.example/cb", "http://127.0.0.1/cb"])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .scope("profile email")
        .auth_method(ClientAuthMethod::ClientSecretPost);
    c1.metadata
        .insert("client_uri".into(), "https://app.example".into());
    s.fixture.add_client(c1).await;
    let c = s.stores.clients.find_client("c1").await.unwrap().unwrap();
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
    assert_eq!(
        c.metadata().and_then(|m| m.get("client_uri")),
        Some(&serde_json::Value::from("https://app.example")),
        "further client metadata survives the round trip"
    );
    assert!(s
        .stores
        .clients
        .find_client("nobody")
        .await
        .unwrap()
        .is_none());

    s.fixture
        .add_client(ClientRecord::public("p1").grant_types(["authorization_code"]))
        .await;
    let p = s.stores.clients.find_client("p1").await.unwrap().unwrap();
    assert!(p.is_public());
    assert!(
        !p.check_secret(""),
        "a public client matches no secret, not even an empty one"
    );

    // A secret a person chose is kept as its argon2id hash, and comes back as that hash.
    let chosen = ClientRecord::with_chosen_secret("h1", "correct horse").unwrap();
    let phc = chosen.chosen_secret_hash.clone().unwrap();
    s.fixture.add_client(chosen).await;
    let h = s.stores.clients.find_client("h1").await.unwrap().unwrap();
    assert_eq!(h.chosen_secret_hash(), Some(phc.as_str()));
    assert!(!h.is_public());
    assert!(
        !h.check_secret("correct horse"),
        "no fast hash of a chosen secret exists to compare with"
    );
    assert!(crate::password::verify_remembered(&phc, "correct horse")
        .await
        .unwrap());

    // A client_secret_jwt client's sealed secret comes back byte for byte, with its
    // method, and neither as a hash nor as a public client.
    let sealed: Vec<u8> = (0u8..80).collect();
    s.fixture
        .add_client(
            ClientRecord::with_sealed_secret("j1", sealed.clone())
                .grant_types(["client_credentials"]),
        )
        .await;
    let j = s.stores.clients.find_client("j1").await.unwrap().unwrap();
    assert_eq!(j.sealed_secret(), Some(sealed.as_slice()));
    assert_eq!(
        j.token_endpoint_auth_method(),
        ClientAuthMethod::ClientSecretJwt
    );
    assert!(!j.is_public());
    assert_eq!(j.chosen_secret_hash(), None);
}

/// Conformance check `token_round_trip`.
pub async fn token_round_trip(s: &StoreUnderTest) {
    let mut access = token(TokenKind::Access, None, NOW + 3600);
    access.set_details(details());
    let refresh = token(TokenKind::Refresh, Some(access.family), NOW + 86400);
    s.stores
        .tokens
        .save_tokens(&[access.clone(), refresh.clone()])
        .await
        .unwrap();
    let got = s
        .stores
        .tokens
        .find_token(&access.selector)
        .await
        .unwrap()
        .unwrap();
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
    assert_eq!(
        got.details(),
        &details(),
        "grant details survive the round trip"
    );
    let got = s
        .stores
        .tokens
        .find_token(&refresh.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.kind, TokenKind::Refresh);
    assert_eq!(got.family, access.family);
    assert!(got.details().is_empty());
    let unknown = generate_token(&OsRng, NOW * 1000).key.selector;
    assert!(s
        .stores
        .tokens
        .find_token(&unknown)
        .await
        .unwrap()
        .is_none());
}

/// Conformance check `revoke_token_touches_only_that_token`.
pub async fn revoke_token_touches_only_that_token(s: &StoreUnderTest) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let b = token(TokenKind::Access, Some(a.family), NOW + 3600);
    s.stores
        .tokens
        .save_tokens(&[a.clone(), b.clone()])
        .await
        .unwrap();
    s.stores.tokens.revoke_token(&a.selector).await.unwrap();
    assert!(stored(s, &a).await.revoked);
    assert!(!stored(s, &b).await.revoked);
}

/// Conformance check `revoke_family_revokes_every_member_and_nothing_else`.
pub async fn revoke_family_revokes_every_member_and_nothing_else(s: &StoreUnderTest) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let r = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    let other = token(TokenKind::Access, None, NOW + 3600);
    s.stores
        .tokens
        .save_tokens(&[a.clone(), r.clone()])
        .await
        .unwrap();
    s.stores
        .tokens
        .save_tokens(std::slice::from_ref(&other))
        .await
        .unwrap();
    s.stores.tokens.revoke_family(&a.family).await.unwrap();
    assert!(stored(s, &a).await.revoked);
    assert!(stored(s, &r).await.revoked);
    assert!(!stored(s, &other).await.revoked);
}

/// Conformance check `code_round_trip_and_single_consumption`.
pub async fn code_round_trip_and_single_consumption(s: &StoreUnderTest) {
    let mut c = code(NOW + 600);
    c.details = details();
    s.stores.codes.save_code(c.clone()).await.unwrap();
    let got = s
        .stores
        .codes
        .find_code(&c.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.details,
        details(),
        "grant details survive the round trip"
    );
    assert!(got.verifier_hash.ct_eq(&c.verifier_hash));
    assert_eq!(got.redirect_uri, c.redirect_uri);
    assert!(got.redirect_uri_sent);
    assert_eq!(got.code_challenge, c.code_challenge);
    assert_eq!(got.nonce, c.nonce);
    assert_eq!(got.subject, "user-1");
    assert!(!got.used);
    assert!(s.stores.codes.consume_code(&c.selector).await.unwrap());
    assert!(!s.stores.codes.consume_code(&c.selector).await.unwrap());
    assert!(
        s.stores
            .codes
            .find_code(&c.selector)
            .await
            .unwrap()
            .unwrap()
            .used
    );
    let unknown = generate_token(&OsRng, NOW * 1000).key.selector;
    assert!(!s.stores.codes.consume_code(&unknown).await.unwrap());
    assert!(s.stores.codes.find_code(&unknown).await.unwrap().is_none());
}

/// Conformance check `rotation_is_refused_for_rotated_revoked_and_access_tokens`.
pub async fn rotation_is_refused_for_rotated_revoked_and_access_tokens(s: &StoreUnderTest) {
    let a = token(TokenKind::Access, None, NOW + 3600);
    let r = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    s.stores
        .tokens
        .save_tokens(&[a.clone(), r.clone()])
        .await
        .unwrap();
    assert!(
        !s.stores
            .tokens
            .rotate_refresh_token(&a.selector, &[], None)
            .await
            .unwrap(),
        "an access token never rotates"
    );
    let next = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    assert!(s
        .stores
        .tokens
        .rotate_refresh_token(
            &r.selector,
            std::slice::from_ref(&next),
            Some(b"sealed\0\xff")
        )
        .await
        .unwrap());
    let rotated = stored(s, &r).await;
    assert!(rotated.rotated);
    assert_eq!(
        rotated.sealed_successors.as_deref(),
        Some(&b"sealed\0\xff"[..]),
        "the sealed successors are kept as given, on the rotated token"
    );
    assert_eq!(stored(s, &next).await.sealed_successors, None);
    assert!(s
        .stores
        .tokens
        .find_token(&next.selector)
        .await
        .unwrap()
        .is_some());
    let again = token(TokenKind::Refresh, Some(a.family), NOW + 3600);
    assert!(!s
        .stores
        .tokens
        .rotate_refresh_token(&r.selector, std::slice::from_ref(&again), Some(b"other"))
        .await
        .unwrap());
    assert!(
        s.stores
            .tokens
            .find_token(&again.selector)
            .await
            .unwrap()
            .is_none(),
        "nothing saved on refusal"
    );
    assert_eq!(
        stored(s, &r).await.sealed_successors.as_deref(),
        Some(&b"sealed\0\xff"[..]),
        "a refused rotation leaves the first one's successors"
    );
    s.stores.tokens.revoke_token(&next.selector).await.unwrap();
    assert!(!s
        .stores
        .tokens
        .rotate_refresh_token(&next.selector, &[], None)
        .await
        .unwrap());
}

/// Conformance check `users_authenticate_with_their_password_only`.
pub async fn users_authenticate_with_their_password_only(s: &StoreUnderTest) {
    s.fixture.add_user("alice", "user-1", "wonderland").await;
    let owner = s
        .users
        .authenticate_user("alice", "wonderland")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner, ResourceOwner::new("user-1", "alice"));
    assert!(s
        .users
        .authenticate_user("alice", "Wonderland")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .users
        .authenticate_user("bob", "wonderland")
        .await
        .unwrap()
        .is_none());
}

/// Conformance check `purge_removes_expired_rows_only`.
pub async fn purge_removes_expired_rows_only(s: &StoreUnderTest) {
    let live = token(TokenKind::Access, None, NOW + 10);
    let dead: Vec<TokenRecord> = (0..25)
        .map(|_| token(TokenKind::Access, None, NOW - 1))
        .collect();
    s.stores
        .tokens
        .save_tokens(std::slice::from_ref(&live))
        .await
        .unwrap();
    s.stores.tokens.save_tokens(&dead).await.unwrap();
    let dead_code = code(NOW - 1);
    let live_code = code(NOW + 600);
    s.stores.codes.save_code(dead_code.clone()).await.unwrap();
    s.stores.codes.save_code(live_code.clone()).await.unwrap();
    let Some(purged) = s.fixture.purge_expired(NOW).await else {
        return; // this store has no purge
    };
    assert!(purged >= 25);
    assert!(s
        .stores
        .tokens
        .find_token(&live.selector)
        .await
        .unwrap()
        .is_some());
    for d in &dead {
        assert!(s
            .stores
            .tokens
            .find_token(&d.selector)
            .await
            .unwrap()
            .is_none());
    }
    assert!(s
        .stores
        .codes
        .find_code(&dead_code.selector)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .stores
        .codes
        .find_code(&live_code.selector)
        .await
        .unwrap()
        .is_some());
}

/// Conformance check `concurrent_saves_all_land_even_beside_a_failing_one`.
pub async fn concurrent_saves_all_land_even_beside_a_failing_one(s: &StoreUnderTest) {
    let dup = token(TokenKind::Access, None, NOW + 3600);
    s.stores
        .tokens
        .save_tokens(std::slice::from_ref(&dup))
        .await
        .unwrap();
    let fresh: Vec<TokenRecord> = (0..60)
        .map(|_| token(TokenKind::Access, None, NOW + 3600))
        .collect();
    let mut tasks = Vec::new();
    for t in fresh.clone() {
        let tokens = s.stores.tokens.clone();
        tasks.push(tokio::spawn(async move { tokens.save_tokens(&[t]).await }));
    }
    // A save that SQL stores refuse (its selector exists) in the middle of the burst:
    // batched writers must not fail the others with it.
    let tokens = s.stores.tokens.clone();
    let again = tokio::spawn(async move { tokens.save_tokens(&[dup]).await });
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let _ = again.await.unwrap();
    for t in &fresh {
        assert!(s
            .stores
            .tokens
            .find_token(&t.selector)
            .await
            .unwrap()
            .is_some());
    }
}

// ----- races through the engine: exactly one winner ------------------------------------

fn server(s: &StoreUnderTest) -> Arc<AuthorizationServer> {
    let clock = FrozenClock::at(NOW);
    let mut server = AuthorizationServer::new(
        s.stores.clone(),
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

async fn add_web_client(s: &StoreUnderTest) {
    s.fixture
        .add_client(
            ClientRecord::confidential("web", "web-secret")
                .redirect_uris(["https://app.example/cb"])
                .grant_types(["authorization_code", "refresh_token"])
                .response_types(["code"])
                .scope("profile"),
        )
        .await;
}

async fn issue_code(server: &AuthorizationServer) -> String {
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

/// Conformance check `hundred_concurrent_code_redemptions_issue_exactly_one_token`.
pub async fn hundred_concurrent_code_redemptions_issue_exactly_one_token(s: &StoreUnderTest) {
    add_web_client(s).await;
    let server = server(s);
    let code = issue_code(&server).await;
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
    let key = crate::token::parse_token(body["access_token"].as_str().unwrap()).unwrap();
    assert!(
        s.stores
            .tokens
            .find_token(&key.selector)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

/// A server on `s` that always rotates, with this refresh grace window, its clock, and a
/// refresh token issued through the code flow.
async fn rotating_server(
    s: &StoreUnderTest,
    grace_seconds: u64,
) -> (Arc<AuthorizationServer>, FrozenClock, String) {
    add_web_client(s).await;
    let clock = FrozenClock::at(NOW);
    let mut server = AuthorizationServer::new(
        s.stores.clone(),
        ServerConfig {
            refresh_token_rotation: RefreshTokenRotation::Always,
            refresh_token_grace_seconds: grace_seconds,
            ..ServerConfig::new("https://auth.example").refresh_tokens(true)
        },
    )
    .with_clock(clock.clone());
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new());
    let server = Arc::new(server);
    let code = issue_code(&server).await;
    let res = server
        .create_token_response(&token_post(format!(
            "grant_type=authorization_code&code={code}"
        )))
        .await;
    let refresh = res.json_body().unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (server, clock, refresh)
}

/// Refreshes with `refresh`: the status and the JSON body.
async fn refresh_with(server: &AuthorizationServer, refresh: &str) -> (u16, serde_json::Value) {
    let res = server
        .create_token_response(&token_post(format!(
            "grant_type=refresh_token&refresh_token={refresh}"
        )))
        .await;
    (res.status.as_u16(), res.json_body().unwrap())
}

/// `n` refreshes with the same token at once: each one's status and body.
async fn concurrent_refreshes(
    server: &Arc<AuthorizationServer>,
    refresh: &str,
    n: usize,
) -> Vec<(u16, serde_json::Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (server, refresh) = (server.clone(), refresh.to_owned());
            tokio::spawn(async move { refresh_with(&server, &refresh).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Whether the stored token behind `value` is revoked.
async fn is_revoked(s: &StoreUnderTest, server: &AuthorizationServer, value: &str) -> bool {
    let key = server.context().generator.parse(value).unwrap();
    s.stores
        .tokens
        .find_token(&key.selector)
        .await
        .unwrap()
        .unwrap()
        .revoked
}

/// Conformance check `hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed`:
/// without a grace window, exactly one of 100 concurrent refreshes wins and the others,
/// as reuse, revoke the family — the winner's tokens too (RFC 9700 §4.14.2).
pub async fn hundred_concurrent_rotations_of_one_refresh_token_let_exactly_one_succeed(
    s: &StoreUnderTest,
) {
    let (server, _clock, refresh) = rotating_server(s, 0).await;
    let answers = concurrent_refreshes(&server, &refresh, 100).await;
    let winners: Vec<_> = answers.iter().filter(|(st, _)| *st == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotation wins (RFC 9700 4.14.2)"
    );
    for (status, body) in &answers {
        if *status != 200 {
            assert_eq!(
                (*status, body["error"].as_str()),
                (400, Some("invalid_grant"))
            );
        }
    }
    let body = &winners[0].1;
    for field in ["access_token", "refresh_token"] {
        assert!(
            is_revoked(s, &server, body[field].as_str().unwrap()).await,
            "the reuse revoked the winner's {field} with the family"
        );
    }
}

/// Conformance check `hundred_concurrent_refreshes_within_the_grace_window_share_one_successor`:
/// with a grace window (RFC 9700 §4.14.2 allows one if it never forks the family; checklist
/// row 30), all of 100 concurrent refreshes succeed with the same successor pair, which
/// then works; a replay after the window, or once the successor rotated, revokes the family.
pub async fn hundred_concurrent_refreshes_within_the_grace_window_share_one_successor(
    s: &StoreUnderTest,
) {
    let (server, clock, refresh) = rotating_server(s, 30).await;
    let answers = concurrent_refreshes(&server, &refresh, 100).await;
    assert!(
        answers.iter().all(|(st, _)| *st == 200),
        "every refresh in the window succeeds: {:?}",
        answers.iter().find(|(st, _)| *st != 200)
    );
    let first = &answers[0].1;
    for (_, body) in &answers {
        assert_eq!(body["access_token"], first["access_token"], "one successor");
        assert_eq!(
            body["refresh_token"], first["refresh_token"],
            "one successor"
        );
        assert_eq!(body["token_type"], "Bearer");
    }
    assert_ne!(first["refresh_token"].as_str(), Some(refresh.as_str()));
    let successor = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(!is_revoked(s, &server, &successor).await);

    // Still within the window, the replay answers the same pair, with the access token's
    // remaining lifetime.
    clock.advance(20);
    let (status, again) = refresh_with(&server, &refresh).await;
    assert_eq!(status, 200);
    assert_eq!(again["refresh_token"], first["refresh_token"]);
    assert_eq!(
        again["expires_in"].as_u64().unwrap() + 20,
        first["expires_in"].as_u64().unwrap()
    );

    // Past the window: reuse, and the family goes.
    clock.advance(11);
    let (status, body) = refresh_with(&server, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        is_revoked(s, &server, &successor).await,
        "the family is revoked"
    );
    assert!(is_revoked(s, &server, first["access_token"].as_str().unwrap()).await);

    // A fresh family: once the successor has itself rotated, the first token is reuse even
    // inside the window.
    let (server, _clock, refresh) = rotating_server(s, 30).await;
    let (_, one) = refresh_with(&server, &refresh).await;
    let (status, two) = refresh_with(&server, one["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = refresh_with(&server, &refresh).await;
    assert_eq!(status, 400, "the successor moved on: reuse");
    assert!(is_revoked(s, &server, two["refresh_token"].as_str().unwrap()).await);
}

// ----- signing keys ------------------------------------------------------------------------

fn key_record(kid: &str, alg: &str, generation: i64) -> crate::storage::SigningKeyRecord {
    crate::storage::SigningKeyRecord::new(
        kid,
        alg,
        generation,
        generation.to_be_bytes().to_vec(),
        format!(r#"{{"kid":"{kid}"}}"#),
        NOW,
        NOW,
        NOW + 100,
        NOW + 150,
    )
}

/// Conformance check `signing_keys_round_trip_update_and_remove` (skipped for a store
/// without signing keys).
pub async fn signing_keys_round_trip_update_and_remove(s: &StoreUnderTest) {
    let Some(keys) = &s.stores.keys else { return };
    let a = key_record("kid-a", "ES256", 1);
    let b = key_record("kid-b", "RS256", 1);
    assert!(keys.add_signing_key(&a).await.unwrap());
    assert!(keys.add_signing_key(&b).await.unwrap());
    let mut got = keys.signing_keys().await.unwrap();
    got.sort_by(|x, y| x.kid.cmp(&y.kid));
    assert_eq!(got, vec![a.clone(), b.clone()]);
    assert!(
        !keys
            .add_signing_key(&key_record("kid-c", "ES256", 1))
            .await
            .unwrap(),
        "one key per algorithm and generation"
    );
    keys.update_signing_key("kid-a", NOW + 1, NOW + 2, NOW + 3)
        .await
        .unwrap();
    let got = keys.signing_keys().await.unwrap();
    let a2 = got.iter().find(|k| k.kid == "kid-a").unwrap();
    assert_eq!(
        (a2.not_before, a2.not_after, a2.expires_at),
        (NOW + 1, NOW + 2, NOW + 3)
    );
    assert_eq!(a2.sealed_private_key, a.sealed_private_key);
    keys.remove_signing_key("kid-a").await.unwrap();
    let got = keys.signing_keys().await.unwrap();
    assert_eq!(got, vec![b]);
}

/// Conformance check `fifty_concurrent_additions_of_one_key_generation_keep_exactly_one`.
pub async fn fifty_concurrent_additions_of_one_key_generation_keep_exactly_one(s: &StoreUnderTest) {
    let Some(keys) = &s.stores.keys else { return };
    let mut tasks = Vec::new();
    for i in 0..50 {
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            keys.add_signing_key(&key_record(&format!("kid-{i}"), "ES256", 7))
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "exactly one server's key becomes generation 7");
    assert_eq!(keys.signing_keys().await.unwrap().len(), 1);
}

/// Conformance check `key_sets_sharing_the_store_agree_through_a_rotation`: two servers'
/// key sets on one store, started at once, sign with the same key before, during and after
/// a scheduled rotation.
pub async fn key_sets_sharing_the_store_agree_through_a_rotation(s: &StoreUnderTest) {
    #[cfg(feature = "jose")]
    {
        use crate::jose::{Algorithm, KeyEncryptionKey, KeySet, RotationPolicy};
        let Some(store) = &s.stores.keys else { return };
        let clock = FrozenClock::at(NOW);
        let kek = KeyEncryptionKey::generate(&OsRng);
        let policy = RotationPolicy {
            algorithms: vec![Algorithm::ES256],
            signing_period: 100,
            publish_ahead: 20,
            retain: 50,
            refresh_interval: 1,
        };
        let make = || {
            KeySet::new(store.clone(), kek.clone(), policy.clone())
                .with_clock(Arc::new(clock.clone()))
        };
        let (a, b) = (make(), make());
        let (ra, rb) = tokio::join!(a.load(), b.load());
        ra.unwrap();
        rb.unwrap();
        let mut seen = Vec::new();
        for step in [0, 81, 19, 1, 60] {
            clock.advance(step);
            let ka = a.signing_key(Algorithm::ES256).await.unwrap().kid;
            let kb = b.signing_key(Algorithm::ES256).await.unwrap().kid;
            assert_eq!(ka, kb, "both sign with one key at +{step}");
            assert_eq!(a.jwks().await.unwrap(), b.jwks().await.unwrap());
            seen.push(ka);
        }
        seen.dedup();
        assert_eq!(seen.len(), 2, "the rotation happened: {seen:?}");
    }
    #[cfg(not(feature = "jose"))]
    let _ = s;
}

/// Conformance check `consents_round_trip_and_revocation_takes_that_clients_tokens_for_that_user`
/// (skipped for a store without consents).
pub async fn consents_round_trip_and_revocation_takes_that_clients_tokens_for_that_user(
    s: &StoreUnderTest,
) {
    let Some(consents) = &s.stores.consents else {
        return;
    };
    let scope = |v: &str| v.parse::<crate::scope::Scope>().unwrap();
    assert!(consents
        .find_consent("user-1", "c1")
        .await
        .unwrap()
        .is_none());
    let first = ConsentRecord::new("user-1", "c1", scope("openid profile"), NOW);
    consents.save_consent(&first).await.unwrap();
    let wider = ConsentRecord::new("user-1", "c1", scope("email openid profile"), NOW + 5);
    consents.save_consent(&wider).await.unwrap();
    let other_client = ConsentRecord::new("user-1", "c2", scope("openid"), NOW);
    let other_user = ConsentRecord::new("user-2", "c1", scope("openid"), NOW);
    consents.save_consent(&other_client).await.unwrap();
    consents.save_consent(&other_user).await.unwrap();
    assert_eq!(
        consents.find_consent("user-1", "c1").await.unwrap(),
        Some(wider.clone()),
        "a save replaces the (subject, client) record"
    );
    assert_eq!(
        consents.list_consents("user-1").await.unwrap(),
        vec![wider, other_client.clone()]
    );

    // Tokens and a code of user-1 at c1 go; user-1's at c2 and user-2's at c1 stay.
    let mine = token(TokenKind::Access, None, NOW + 100);
    let mine_refresh = token(TokenKind::Refresh, Some(mine.family), NOW + 100);
    let mut at_c2 = token(TokenKind::Access, None, NOW + 100);
    at_c2.client_id = "c2".into();
    let mut of_user2 = token(TokenKind::Access, None, NOW + 100);
    of_user2.subject = Some("user-2".into());
    s.stores
        .tokens
        .save_tokens(&[mine.clone(), mine_refresh.clone()])
        .await
        .unwrap();
    s.stores
        .tokens
        .save_tokens(&[at_c2.clone(), of_user2.clone()])
        .await
        .unwrap();
    let pending = code(NOW + 600);
    s.stores.codes.save_code(pending.clone()).await.unwrap();

    assert!(consents.revoke_consent("user-1", "c1").await.unwrap());
    assert!(!consents.revoke_consent("user-1", "c1").await.unwrap());
    assert!(consents
        .find_consent("user-1", "c1")
        .await
        .unwrap()
        .is_none());
    assert!(stored(s, &mine).await.revoked);
    assert!(stored(s, &mine_refresh).await.revoked);
    assert!(!stored(s, &at_c2).await.revoked, "another client's token");
    assert!(!stored(s, &of_user2).await.revoked, "another user's token");
    assert!(
        s.stores
            .codes
            .find_code(&pending.selector)
            .await
            .unwrap()
            .is_none_or(|c| c.used),
        "an unredeemed code of the revoked approval cannot be redeemed"
    );
    assert_eq!(
        consents.list_consents("user-1").await.unwrap(),
        vec![other_client]
    );
    assert!(consents
        .find_consent("user-2", "c1")
        .await
        .unwrap()
        .is_some());
}

/// Conformance check `sessions_round_trip_collect_clients_and_end_once` (skipped for a
/// store without sessions).
pub async fn sessions_round_trip_collect_clients_and_end_once(s: &StoreUnderTest) {
    let Some(sessions) = &s.stores.sessions else {
        return;
    };
    let one = SessionRecord::new("sid-1", "user-1", NOW - 10, NOW + 3600)
        .username("alice")
        .amr(["pwd", "otp"])
        .acr("urn:example:loa:2");
    sessions.save_session(&one).await.unwrap();
    assert_eq!(
        sessions.find_session("sid-1").await.unwrap(),
        Some(one.clone())
    );
    for c in ["c1", "c2", "c1"] {
        sessions.add_session_client("sid-1", c).await.unwrap();
    }
    sessions.add_session_client("nope", "c1").await.unwrap();
    assert!(sessions.find_session("nope").await.unwrap().is_none());
    let got = sessions.find_session("sid-1").await.unwrap().unwrap();
    assert_eq!(got.clients, vec!["c1".to_owned(), "c2".to_owned()]);

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let sessions = sessions.clone();
        tasks.push(tokio::spawn(
            async move { sessions.end_session("sid-1").await },
        ));
    }
    let mut ended = Vec::new();
    for t in tasks {
        ended.extend(t.await.unwrap().unwrap());
    }
    assert_eq!(ended.len(), 1, "exactly one end gets the session");
    assert_eq!(ended[0].clients, got.clients);
    assert!(sessions.find_session("sid-1").await.unwrap().is_none());

    for sid in ["a", "b"] {
        sessions
            .save_session(&SessionRecord::new(sid, "user-2", NOW, NOW + 60))
            .await
            .unwrap();
    }
    let other = SessionRecord::new("c", "user-3", NOW, NOW + 60);
    sessions.save_session(&other).await.unwrap();
    let mut all = sessions.end_sessions_of("user-2").await.unwrap();
    all.sort_by(|x, y| x.sid.cmp(&y.sid));
    assert_eq!(
        all.iter().map(|x| x.sid.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(sessions.end_sessions_of("user-2").await.unwrap().is_empty());
    assert_eq!(sessions.find_session("c").await.unwrap(), Some(other));

    sessions
        .save_session(&SessionRecord::new("old", "user-3", NOW - 100, NOW - 1))
        .await
        .unwrap();
    if s.fixture.purge_expired(NOW).await.is_some() {
        assert!(sessions.find_session("old").await.unwrap().is_none());
        assert!(sessions.find_session("c").await.unwrap().is_some());
    }
}

fn device_code(user_code: &crate::endpoints::UserCode, expires_at: i64) -> DeviceCodeRecord {
    let t = generate_token(&OsRng, NOW * 1000);
    DeviceCodeRecord::new(
        t.key,
        user_code.hash(),
        "tv",
        "profile openid".parse().unwrap(),
        NOW,
        expires_at,
        5,
    )
}

/// Conformance check `device_codes_move_forward_once_each_step` (skipped for a store
/// without device codes).
pub async fn device_codes_move_forward_once_each_step(s: &StoreUnderTest) {
    use crate::endpoints::UserCode;
    let Some(store) = &s.stores.device_codes else {
        return;
    };
    let code = UserCode::parse("BCDF-GHJK").unwrap();
    let record = device_code(&code, NOW + 600);
    assert!(store.save_device_code(&record).await.unwrap());
    let clash = device_code(&code, NOW + 600);
    assert!(
        !store.save_device_code(&clash).await.unwrap(),
        "a second request with a stored user code is refused"
    );
    assert!(store
        .find_device_code(&clash.selector)
        .await
        .unwrap()
        .is_none());
    let by_selector = store
        .find_device_code(&record.selector)
        .await
        .unwrap()
        .unwrap();
    let by_user_code = store.find_user_code(&code.hash()).await.unwrap().unwrap();
    for got in [&by_selector, &by_user_code] {
        assert_eq!(got.selector, record.selector);
        assert!(got.verifier_hash.ct_eq(&record.verifier_hash));
        assert!(got.user_code_hash.ct_eq(&record.user_code_hash));
        assert_eq!(got.client_id, "tv");
        assert_eq!(got.scope, record.scope);
        assert_eq!(
            (got.issued_at, got.expires_at, got.interval),
            (NOW, NOW + 600, 5)
        );
        assert_eq!(got.status, DeviceCodeStatus::Pending);
        assert_eq!(got.last_polled_ms, None);
        assert!(got.owner().is_none());
    }

    // Polling: the first is fair, one 1 s later too fast (the interval grows by 5), one
    // 10 s after that fair again.
    let ms = NOW * 1000;
    assert_eq!(
        store
            .poll_device_code(&record.selector, ms, 5)
            .await
            .unwrap(),
        DevicePoll::Pending
    );
    assert_eq!(
        store
            .poll_device_code(&record.selector, ms + 1000, 5)
            .await
            .unwrap(),
        DevicePoll::TooFast
    );
    let got = store
        .find_device_code(&record.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.interval, got.last_polled_ms), (10, Some(ms + 1000)));
    assert_eq!(
        store
            .poll_device_code(&record.selector, ms + 11_000, 5)
            .await
            .unwrap(),
        DevicePoll::Pending
    );

    // 20 concurrent decisions: exactly one lands.
    let owner = ResourceOwner::new("user-1", "alice")
        .authenticated_at(NOW - 5)
        .amr(["pwd"])
        .session_id("sid-1");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (store, owner, hash) = (store.clone(), owner.clone(), code.hash());
        tasks.push(tokio::spawn(async move {
            let who = (i % 2 == 0).then_some(&owner);
            store.decide_device_code(&hash, who, NOW + 1).await.unwrap()
        }));
    }
    let mut decided = 0;
    for t in tasks {
        decided += usize::from(t.await.unwrap());
    }
    assert_eq!(decided, 1, "exactly one decision lands");
    let got = store
        .find_device_code(&record.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .poll_device_code(&record.selector, ms + 30_000, 5)
            .await
            .unwrap(),
        DevicePoll::NotPending
    );
    match got.status {
        DeviceCodeStatus::Approved => {
            assert_eq!(got.owner(), Some(owner.clone()));
            let mut tasks = Vec::new();
            for _ in 0..20 {
                let (store, sel) = (store.clone(), record.selector);
                tasks.push(tokio::spawn(async move {
                    store.redeem_device_code(&sel).await.unwrap()
                }));
            }
            let mut won = 0;
            for t in tasks {
                won += usize::from(t.await.unwrap());
            }
            assert_eq!(won, 1, "exactly one redemption of an approved code");
            let got = store
                .find_device_code(&record.selector)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.status, DeviceCodeStatus::Redeemed);
        }
        DeviceCodeStatus::Denied => {
            assert!(got.owner().is_none());
            assert!(
                !store.redeem_device_code(&record.selector).await.unwrap(),
                "a denied code is never redeemed"
            );
        }
        other => panic!("decided, yet {other:?}"),
    }

    // A pending code cannot be redeemed; an expired one cannot be decided.
    let late = UserCode::parse("LMNP-QRST").unwrap();
    let expired = device_code(&late, NOW + 10);
    assert!(store.save_device_code(&expired).await.unwrap());
    assert!(!store.redeem_device_code(&expired.selector).await.unwrap());
    assert!(!store
        .decide_device_code(&late.hash(), Some(&owner), NOW + 10)
        .await
        .unwrap());

    // The purge takes the expired request only.
    if s.fixture.purge_expired(NOW + 20).await.is_some() {
        assert!(store
            .find_device_code(&expired.selector)
            .await
            .unwrap()
            .is_none());
        assert!(store.find_user_code(&late.hash()).await.unwrap().is_none());
        assert!(store
            .find_device_code(&record.selector)
            .await
            .unwrap()
            .is_some());
    }
}

/// Conformance check `hundred_concurrent_polls_of_an_approved_device_code_issue_one_token`
/// (skipped for a store without device codes).
pub async fn hundred_concurrent_polls_of_an_approved_device_code_issue_one_token(
    s: &StoreUnderTest,
) {
    use crate::endpoints::{DeviceAuthorizationEndpoint, DEVICE_CODE_GRANT_TYPE};
    if s.stores.device_codes.is_none() {
        return;
    }
    s.fixture
        .add_client(
            ClientRecord::confidential("web", "web-secret")
                .grant_types([DEVICE_CODE_GRANT_TYPE, "refresh_token"])
                .scope("profile"),
        )
        .await;
    let mut server = AuthorizationServer::new(
        s.stores.clone(),
        ServerConfig::new("https://auth.example").refresh_tokens(true),
    )
    .with_clock(FrozenClock::at(NOW));
    server.register_grant(crate::grants::DeviceCodeGrant::new());
    server
        .register_endpoint(DeviceAuthorizationEndpoint::new("/device"))
        .unwrap();
    let server = Arc::new(server);
    let res = server
        .create_endpoint_response("device_authorization", &token_post("scope=profile".into()))
        .await;
    assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(&res.body));
    let body = res.json_body().unwrap();
    let pending = server
        .find_device_request(body["user_code"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the user code finds the request");
    assert!(server
        .approve_device_request(&pending, &ResourceOwner::new("user-1", "alice"))
        .await
        .unwrap());
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (server, code) = (server.clone(), device_code.clone());
        tasks.push(tokio::spawn(async move {
            let res = server
                .create_token_response(&token_post(format!(
                    "grant_type={DEVICE_CODE_GRANT_TYPE}&device_code={code}"
                )))
                .await;
            (res.status, res.json_body().unwrap())
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == 200 {
            won.push(body);
        } else {
            assert_eq!(status, 400);
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert_eq!(won.len(), 1, "exactly one poll gets tokens (RFC 8628 3.5)");
    let key = crate::token::parse_token(won[0]["access_token"].as_str().unwrap()).unwrap();
    let token = s
        .stores
        .tokens
        .find_token(&key.selector)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        token.subject.as_deref(),
        Some("user-1"),
        "the approving user's token"
    );
    assert!(token.is_active(NOW));
}

/// Conformance check `client_registry_creates_once_updates_and_deletes_what_the_client_held`
/// (skipped for a store without a client registry).
pub async fn client_registry_creates_once_updates_and_deletes_what_the_client_held(
    s: &StoreUnderTest,
) {
    use crate::endpoints::UserCode;
    let Some(registry) = &s.stores.client_registry else {
        return;
    };
    let c1 = ClientRecord::confidential("c1", "s3cret")
        .redirect_uris(["https://app.example/cb"])
        .grant_types(["authorization_code"])
        .response_types(["code"])
        .scope("openid profile")
        .name("Registered")
        .with_metadata(
            "registration",
            serde_json::json!({"token_sha256": "x", "issued_at": NOW}),
        )
        .with_metadata("client_name#fr", "Enregistré");
    assert!(registry.create_client(&c1).await.unwrap());
    assert!(
        !registry
            .create_client(&ClientRecord::public("c1"))
            .await
            .unwrap(),
        "a taken client id is refused"
    );
    let got = registry.registered_client("c1").await.unwrap().unwrap();
    assert!(got.check_secret("s3cret"));
    assert_eq!(got.redirect_uris, c1.redirect_uris);
    assert_eq!(got.scope, c1.scope);
    assert_eq!(got.metadata, c1.metadata);
    assert!(s.stores.clients.find_client("c1").await.unwrap().is_some());
    assert!(registry
        .registered_client("nobody")
        .await
        .unwrap()
        .is_none());

    let renamed = c1.clone().name("Renamed").scope("profile");
    assert!(registry.update_client(&renamed).await.unwrap());
    assert!(!registry
        .update_client(&ClientRecord::public("nobody"))
        .await
        .unwrap());
    let got = registry.registered_client("c1").await.unwrap().unwrap();
    assert_eq!(got.client_name.as_deref(), Some("Renamed"));
    assert_eq!(got.scope.to_string(), "profile");
    assert!(got.check_secret("s3cret"), "the secret is kept");

    // What the client holds goes with it; another client's stays.
    let mine = token(TokenKind::Access, None, NOW + 100);
    let mut theirs = token(TokenKind::Access, None, NOW + 100);
    theirs.client_id = "c2".into();
    s.stores
        .tokens
        .save_tokens(&[mine.clone(), theirs.clone()])
        .await
        .unwrap();
    let pending = code(NOW + 600);
    s.stores.codes.save_code(pending.clone()).await.unwrap();
    if let Some(consents) = &s.stores.consents {
        consents
            .save_consent(&ConsentRecord::new(
                "user-1",
                "c1",
                "profile".parse().unwrap(),
                NOW,
            ))
            .await
            .unwrap();
    }
    let user_code = UserCode::parse("WXZB-CDFG").unwrap();
    let mut device = device_code(&user_code, NOW + 600);
    device.client_id = "c1".into();
    if let Some(devices) = &s.stores.device_codes {
        assert!(devices.save_device_code(&device).await.unwrap());
    }
    assert!(registry.delete_client("c1").await.unwrap());
    assert!(!registry.delete_client("c1").await.unwrap());
    assert!(registry.registered_client("c1").await.unwrap().is_none());
    assert!(s.stores.clients.find_client("c1").await.unwrap().is_none());
    assert!(
        stored(s, &mine).await.revoked,
        "the client's tokens are revoked"
    );
    assert!(
        !stored(s, &theirs).await.revoked,
        "another client's are not"
    );
    assert!(
        s.stores
            .codes
            .find_code(&pending.selector)
            .await
            .unwrap()
            .is_none_or(|c| c.used),
        "the client's codes cannot be redeemed"
    );
    if let Some(consents) = &s.stores.consents {
        assert!(consents
            .find_consent("user-1", "c1")
            .await
            .unwrap()
            .is_none());
    }
    if let Some(devices) = &s.stores.device_codes {
        assert!(devices
            .find_device_code(&device.selector)
            .await
            .unwrap()
            .is_none());
    }
}

/// NUL and other control characters in every name a request can present: lookups answer
/// "not found" (a store whose column type cannot hold NUL must not answer an error), and a
/// save either keeps the value or refuses it with [`StorageError::InvalidValue`].
pub async fn names_with_nul_or_control_characters_are_not_found_and_saves_fail_cleanly(
    s: &StoreUnderTest,
) {
    s.fixture
        .add_client(ClientRecord::confidential("c1", "s3cret"))
        .await;
    s.fixture.add_user("alice", "user-1", "wonderland").await;
    let names = [
        "c1\0", "\0", "a\0b", "c1\u{1}", "\u{7f}", "c1\u{85}", "\0\0\0\0",
    ];
    for name in names {
        assert!(
            s.stores.clients.find_client(name).await.unwrap().is_none(),
            "client {name:?}"
        );
        assert!(
            s.users
                .authenticate_user(name, "wonderland")
                .await
                .unwrap()
                .is_none(),
            "user {name:?}"
        );
        let alice = format!("alice{name}");
        assert!(s
            .users
            .authenticate_user(&alice, "wonderland")
            .await
            .unwrap()
            .is_none());
        if let Some(registry) = &s.stores.client_registry {
            assert!(registry.registered_client(name).await.unwrap().is_none());
            assert!(!registry.delete_client(name).await.unwrap());
        }
        if let Some(consents) = &s.stores.consents {
            assert!(consents.find_consent(name, "c1").await.unwrap().is_none());
            assert!(consents
                .find_consent("user-1", name)
                .await
                .unwrap()
                .is_none());
            assert!(consents.list_consents(name).await.unwrap().is_empty());
            assert!(!consents.revoke_consent("user-1", name).await.unwrap());
        }
        if let Some(sessions) = &s.stores.sessions {
            assert!(sessions.find_session(name).await.unwrap().is_none());
            assert!(sessions.end_session(name).await.unwrap().is_none());
            assert!(sessions.end_sessions_of(name).await.unwrap().is_empty());
            sessions.add_session_client(name, "c1").await.unwrap();
        }
    }
    // The well-formed names are still there.
    assert!(s.stores.clients.find_client("c1").await.unwrap().is_some());
    assert!(s
        .users
        .authenticate_user("alice", "wonderland")
        .await
        .unwrap()
        .is_some());

    // Saves: kept and found again, or refused as an invalid value.
    let kept_or_refused = |what: &str, r: Result<(), StorageError>| match r {
        Ok(()) => true,
        Err(StorageError::InvalidValue(_)) => false,
        Err(e) => panic!("saving {what} failed with a backend error: {e}"),
    };
    if let Some(registry) = &s.stores.client_registry {
        let odd = ClientRecord::public("odd\0id")
            .name("na\0me")
            .with_metadata("note", "x\0y");
        let created = registry.create_client(&odd).await.map(|_| ());
        if kept_or_refused("a client id with NUL", created) {
            let got = registry
                .registered_client("odd\0id")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.client_name.as_deref(), Some("na\0me"));
        }
        let named = ClientRecord::public("named").name("na\0me");
        let created = registry.create_client(&named).await.map(|_| ());
        if !kept_or_refused("a client name with NUL", created) {
            assert!(registry.registered_client("named").await.unwrap().is_none());
        }
        let meta = ClientRecord::public("meta").with_metadata("note", "x\0y");
        let created = registry.create_client(&meta).await.map(|_| ());
        kept_or_refused("client metadata with NUL", created);
    }
    if let Some(sessions) = &s.stores.sessions {
        sessions
            .save_session(&SessionRecord::new("sid-1", "user-1", NOW, NOW + 60))
            .await
            .unwrap();
        let added = sessions.add_session_client("sid-1", "c\0").await;
        if kept_or_refused("a session's client with NUL", added) {
            let got = sessions.find_session("sid-1").await.unwrap().unwrap();
            assert_eq!(got.clients, vec!["c\0".to_owned()]);
        }
        let odd = SessionRecord::new("sid\0", "user\0", NOW, NOW + 60);
        if kept_or_refused("a session id with NUL", sessions.save_session(&odd).await) {
            assert!(sessions.find_session("sid\0").await.unwrap().is_some());
        }
    }
    if let Some(consents) = &s.stores.consents {
        let odd = ConsentRecord::new("user\0", "c1", "openid".parse().unwrap(), NOW);
        if kept_or_refused(
            "a consent's subject with NUL",
            consents.save_consent(&odd).await,
        ) {
            assert!(consents
                .find_consent("user\0", "c1")
                .await
                .unwrap()
                .is_some());
        }
    }
}

/// Conformance check `replay_cache_lets_a_value_through_once_until_it_expires`: a value is
/// accepted once, refused while live (also at its last second), accepted again once
/// expired, and other values (or the same value of another issuer) are independent; the
/// purge forgets expired values only.
pub async fn replay_cache_lets_a_value_through_once_until_it_expires(s: &StoreUnderTest) {
    let Some(r) = s.stores.replay.clone() else {
        return;
    };
    let k = crate::storage::replay_key("client_assertion", "c1", "jti-1");
    let other = crate::storage::replay_key("client_assertion", "c2", "jti-1");
    assert!(r.first_use(&k, NOW + 60, NOW).await.unwrap());
    assert!(!r.first_use(&k, NOW + 60, NOW).await.unwrap(), "replayed");
    assert!(
        !r.first_use(&k, NOW + 120, NOW + 59).await.unwrap(),
        "still live"
    );
    assert!(
        r.first_use(&other, NOW + 60, NOW).await.unwrap(),
        "another issuer's"
    );
    // Expired at NOW + 60: usable again, and live again until its new expiry.
    assert!(r.first_use(&k, NOW + 200, NOW + 60).await.unwrap());
    assert!(!r.first_use(&k, NOW + 200, NOW + 100).await.unwrap());
    // A purge at NOW + 150 forgets `other` (expired) but not `k` (live until NOW + 200).
    if let Some(n) = s.fixture.purge_expired(NOW + 150).await {
        assert!(n >= 1, "the expired value is purged");
    }
    assert!(!r.first_use(&k, NOW + 300, NOW + 150).await.unwrap());
    assert!(r.first_use(&other, NOW + 300, NOW + 150).await.unwrap());
}

/// Conformance check `hundred_concurrent_first_uses_of_one_value_let_exactly_one_through`
/// (RFC 7523 §3: a `jti` is used once): 100 concurrent presentations of one value, exactly
/// one accepted; then 100 of an expired value, again exactly one.
pub async fn hundred_concurrent_first_uses_of_one_value_let_exactly_one_through(
    s: &StoreUnderTest,
) {
    let Some(r) = s.stores.replay.clone() else {
        return;
    };
    for (key, now) in [
        (
            crate::storage::replay_key("client_assertion", "c1", "race"),
            NOW,
        ),
        (
            crate::storage::replay_key("client_assertion", "c1", "race"),
            NOW + 61,
        ),
    ] {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (r, key) = (r.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                r.first_use(&key, now + 60, now).await.unwrap()
            }));
        }
        let mut through = 0;
        for t in tasks {
            through += usize::from(t.await.unwrap());
        }
        assert_eq!(through, 1, "exactly one of 100 at {now}");
    }
}
