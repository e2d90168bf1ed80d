//! The shapes users deploy: a restart on a SQLite file, two servers on one PostgreSQL,
//! and a database outage — each over real HTTP, but for the pool's handling of a dropped
//! connection, which is checked on the store itself.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod support;

use std::sync::Arc;
use std::time::Duration;

use authgate::testing::Fixture;
use authgate::*;
use authgate_axum::{
    authorization_response, routes, CurrentToken, OAuthRequest, RequireBearerLayer, Server,
};
use authgate_sql::testing::PgSchema;
use authgate_sql::{connect, spawn_purger, AnyStore, StoreOptions};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

const ISSUER: &str = "http://authgate.test";

async fn seed(store: &AnyStore) {
    store
        .add_client(
            ClientRecord::confidential("web", "web-secret")
                .redirect_uris(["http://127.0.0.1:9/cb"])
                .grant_types(["authorization_code", "client_credentials", "refresh_token"])
                .response_types(["code"])
                .scope("profile read"),
        )
        .await;
}

fn app(store: AnyStore) -> Router {
    let mut server = AuthorizationServer::new(store, ServerConfig::new(ISSUER));
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new());
    let server: Server = Arc::new(server);
    let protector = Arc::new(ResourceProtector::from_server(&server));
    routes(&server)
        .route("/authorize", get(approve))
        .route(
            "/api/me",
            get(me).route_layer(RequireBearerLayer::new(protector, ScopeRequirement::none())),
        )
        .with_state(server)
}

/// Approves every authorization request as alice (the consent step is not under test).
async fn approve(State(server): State<Server>, OAuthRequest(req): OAuthRequest) -> Response {
    let alice = ResourceOwner::new("user-1", "alice");
    authorization_response(
        server
            .create_authorization_response(&req, Some(&alice))
            .await,
    )
}

async fn me(CurrentToken(t): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "client_id": t.client_id }))
}

async fn serve(router: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}"), handle)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn client_credentials(base: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/token"))
        .basic_auth("web", Some("web-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await
        .unwrap()
}

async fn token_at(base: &str) -> String {
    let res = client_credentials(base).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn api_status(base: &str, token: &str) -> u16 {
    http()
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_before_a_restart_still_validate_after_it_sqlite_file() {
    let path = support::temp_sqlite_path();
    let url = format!("sqlite://{}", path.display());
    let token = {
        let store = connect(&url, &StoreOptions::default()).await.unwrap();
        seed(&store).await;
        let (base, handle) = serve(app(store)).await;
        let token = token_at(&base).await;
        assert_eq!(api_status(&base, &token).await, 200);
        handle.abort();
        let _ = handle.await;
        token
    };
    // A new store on the same file: a new process would see exactly this.
    let store = connect(&url, &StoreOptions::default()).await.unwrap();
    let (base, _handle) = serve(app(store)).await;
    assert_eq!(api_status(&base, &token).await, 200);
    assert_eq!(api_status(&base, "garbage").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_share_codes_and_revocations() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let store_a = schema.store().await;
    let store_b = schema.store().await; // a pool of its own, as another process would have
    seed(&store_a).await;
    let (a, _ha) = serve(app(store_a)).await;
    let (b, _hb) = serve(app(store_b)).await;

    // A code issued by A is redeemed at B.
    let res = http()
        .get(format!(
            "{a}/authorize?response_type=code&client_id=web&state=s"
        ))
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = http()
        .post(format!("{b}/token"))
        .basic_auth("web", Some("web-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(api_status(&a, &token).await, 200);
    assert_eq!(api_status(&b, &token).await, 200);

    // Revoked at A, rejected by B's ResourceProtector.
    let res = http()
        .post(format!("{a}/revoke"))
        .basic_auth("web", Some("web-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(api_status(&b, &token).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_migrating_at_once_both_start_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (url, options) = (schema.url(), StoreOptions::default());
    let (a, b) = tokio::join!(connect(&url, &options), connect(&url, &options));
    let (a, b) = (a.unwrap(), b.unwrap());
    seed(&a).await;
    assert_eq!(b.list_clients().await.unwrap().len(), 1);
}

/// `PgStore::pool_options` checks a pooled connection with a round trip before use only
/// when it has sat idle for `PgStore::IDLE_BEFORE_PING`, so a connection the database
/// dropped moments ago is found out by the statement that uses it: that statement fails
/// (`Unavailable`), sqlx closes the connection as it comes back (its check on release
/// fails), and the next statement gets a fresh one. With sqlx's default (a check before
/// every use) no statement would fail; were a broken connection put back, more would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pooled_connection_fails_one_statement_then_is_replaced_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    seed(&schema.store().await).await;
    let (proxy, via) = crate::support::pg_through_proxy().await;
    let options = StoreOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        ..StoreOptions::default()
    };
    let store = connect(&schema.url_via(&via), &options).await.unwrap();
    let (x, y) = tokio::join!(store.list_clients(), store.list_clients());
    assert_eq!((x.unwrap().len(), y.unwrap().len()), (1, 1));
    // Both connections back in the pool (sqlx returns them from a task of its own).
    for _ in 0..100 {
        if store.pool_state().idle == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.pool_state().idle, Some(2), "{:?}", store.pool_state());
    proxy.cut();
    proxy.restore();
    let mut failed = Vec::new();
    for i in 0..20 {
        match store.list_clients().await {
            Ok(clients) => assert_eq!(clients.len(), 1),
            Err(e) => {
                assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
                failed.push(i);
            }
        }
    }
    assert_eq!(
        failed,
        [0, 1],
        "each of the two dropped connections fails the one statement that uses it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_json_and_recovers_by_itself_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    seed(&schema.store().await).await;
    let (proxy, via) = crate::support::pg_through_proxy().await;
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let store = connect(&schema.url_via(&via), &options).await.unwrap();
    let (base, _h) = serve(app(store)).await;
    let token = token_at(&base).await;
    assert_eq!(api_status(&base, &token).await, 200);

    proxy.cut();
    // Token endpoint: 503 with an RFC-shaped JSON body.
    let res = client_credentials(&base).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.headers()["retry-after"],
        "5",
        "RFC 9110 10.2.3: when to try again"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].is_string());
    // Resource server: 503 JSON too, not a 401 that would make clients drop the token.
    let res = http()
        .get(format!("{base}/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert!(res.headers().get("www-authenticate").is_none());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Authorization endpoint: the client cannot be verified, so the error is shown (503),
    // never redirected.
    let res = http()
        .get(format!("{base}/authorize?response_type=code&client_id=web"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("location").is_none());

    proxy.restore();
    // Recovers without a restart: the pool reconnects on its own.
    let mut recovered = false;
    for _ in 0..50 {
        if client_credentials(&base).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the token endpoint did not recover after the database came back"
    );
    assert_eq!(api_status(&base, &token).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purger_deletes_expired_tokens_in_the_background_sqlite() {
    let store = connect("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap();
    seed(&store).await;
    let clock = FrozenClock::at(1_800_000_000);
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone());
    server.register_grant(ClientCredentialsGrant::new());
    let auth = "Basic d2ViOndlYi1zZWNyZXQ="; // web:web-secret
    let mut selectors = Vec::new();
    for _ in 0..30 {
        let req = http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", auth)
            .body(bytes::Bytes::from_static(b"grant_type=client_credentials"))
            .unwrap();
        let res = server
            .create_token_response(&OAuth2Request::from_http(req, 65536).unwrap())
            .await;
        let tok = res.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        selectors.push(authgate::token::parse_token(&tok).unwrap().selector);
    }
    clock.advance(3601);
    let purger = spawn_purger(store.clone(), Arc::new(clock), Duration::from_millis(20), 7);
    let mut gone = false;
    for _ in 0..100 {
        let mut left = 0;
        for s in &selectors {
            left += usize::from(store.find_token(s).await.unwrap().is_some());
        }
        if left == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    purger.abort();
    assert!(gone, "expired tokens were not purged in batches of 7");
}

/// A database written before tenants existed (migrations 1 and 2 only) upgrades in place:
/// its rows join the default tenant and keep working.
#[tokio::test]
async fn a_database_from_before_tenants_upgrades_and_keeps_its_rows_sqlite() {
    let path = support::temp_sqlite_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0002_secrets.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE authgate_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO authgate_migrations VALUES (1, 0), (2, 0);
             INSERT INTO authgate_clients VALUES ('web', NULL, 'Web', '[]', '[\"client_credentials\"]', '[]', 'read', 'none');
             INSERT INTO authgate_secrets VALUES ('session-key', x'00');",
        )
        .unwrap();
    }
    let store = connect(
        &format!("sqlite://{}", path.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    let c = store.find_client("web").await.unwrap().unwrap();
    assert_eq!(c.client_name(), Some("Web"));
    assert_eq!(store.shared_secret("session-key").await.unwrap(), vec![0u8]);
    assert!(store
        .tenant("other")
        .find_client("web")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_database_from_before_tenants_upgrades_and_keeps_its_rows_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&schema.url()).await.unwrap();
    for sql in [
        include_str!("../migrations/postgres/0001_init.sql"),
        include_str!("../migrations/postgres/0002_secrets.sql"),
        "CREATE TABLE authgate_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
         INSERT INTO authgate_migrations (version) VALUES (1), (2);
         INSERT INTO authgate_clients VALUES ('web', NULL, 'Web', '[]', '[\"client_credentials\"]', '[]', 'read', 'none');
         INSERT INTO authgate_users VALUES ('alice', 'user-1', 'x', '{}');
         INSERT INTO authgate_secrets VALUES ('session-key', '\\x00');",
    ] {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let store = schema.store().await;
    let c = store.find_client("web").await.unwrap().unwrap();
    assert_eq!(c.client_name(), Some("Web"));
    assert_eq!(
        store.find_user("alice").await.unwrap().unwrap().subject,
        "user-1"
    );
    assert_eq!(store.shared_secret("session-key").await.unwrap(), vec![0u8]);
    assert!(store
        .tenant("other")
        .find_client("web")
        .await
        .unwrap()
        .is_none());
}

/// Two servers (two pools) on one PostgreSQL database, started at once, create one set of
/// signing keys between them, publish the same key set and sign with the same key, before
/// and after a scheduled switch and after a manual rotation by one of them.
#[tokio::test]
async fn two_servers_on_one_postgres_agree_on_their_signing_keys() {
    use authgate::jose::{Algorithm, KeyEncryptionKey, KeySet, RotationPolicy};
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let (one, two) = (schema.store().await, schema.store().await);
    let clock = FrozenClock::at(1_800_000_000);
    let kek = KeyEncryptionKey::generate(&OsRng);
    let mut policy = RotationPolicy::default();
    policy.signing_period = 100;
    policy.publish_ahead = 20;
    policy.retain = 50;
    policy.refresh_interval = 1;
    let key_set = |db: &AnyStore| {
        KeySet::new(db.backend(), kek.clone(), policy.clone()).with_clock(Arc::new(clock.clone()))
    };
    let (a, b) = (key_set(&one), key_set(&two));
    let (ra, rb) = tokio::join!(a.load(), b.load());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        one.signing_keys().await.unwrap().len(),
        2,
        "one key per algorithm, not one per server"
    );
    let agree = || async {
        for alg in [Algorithm::RS256, Algorithm::ES256] {
            assert_eq!(
                a.signing_key(alg).await.unwrap().kid,
                b.signing_key(alg).await.unwrap().kid
            );
        }
        assert_eq!(a.jwks().await.unwrap(), b.jwks().await.unwrap());
    };
    agree().await;
    clock.advance(85);
    agree().await;
    assert_eq!(a.jwks().await.unwrap().keys.len(), 4, "next keys published");
    clock.advance(15);
    agree().await;
    let before = b.signing_key(Algorithm::ES256).await.unwrap().kid;
    a.rotate(Some(Algorithm::ES256), true).await.unwrap();
    clock.advance(1); // b re-reads within its refresh interval
    agree().await;
    assert_ne!(b.signing_key(Algorithm::ES256).await.unwrap().kid, before);
}
