//! Shared test support: stores per backend, and a TCP proxy that can cut the database off.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use authgate_sql::testing::PgSchema;
use authgate_sql::{connect, AnyStore, StoreOptions};

pub async fn memory_backend() -> Option<AnyStore> {
    Some(connect("memory:", &StoreOptions::default()).await.unwrap())
}

pub async fn sqlite_memory() -> Option<AnyStore> {
    Some(
        connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap(),
    )
}

/// A fresh SQLite file in a temporary folder (left for the OS to clean).
pub fn temp_sqlite_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "authgate-test-{}-{}",
        std::process::id(),
        authgate::token::generate_client_secret(&authgate::OsRng)
    ));
    dir.join("authgate.db")
}

pub async fn sqlite_file() -> Option<AnyStore> {
    let path = temp_sqlite_path();
    Some(
        connect(
            &format!("sqlite://{}", path.display()),
            &StoreOptions::default(),
        )
        .await
        .unwrap(),
    )
}

/// A PostgreSQL store in a fresh schema; keep the guard alive for the test's length.
pub async fn postgres() -> Option<(AnyStore, PgSchema)> {
    let schema = PgSchema::create().await?;
    let store = schema.store().await;
    Some((store, schema))
}

/// A [`CutProxy`](authgate_sql::testing::CutProxy) in front of the test PostgreSQL server,
/// and the server's base URL through it (for `PgSchema::url_via`).
pub async fn pg_through_proxy() -> (authgate_sql::testing::CutProxy, String) {
    let base = url::Url::parse(&authgate_sql::testing::pg_base_url()).unwrap();
    let target = format!(
        "{}:{}",
        base.host_str().unwrap(),
        base.port().unwrap_or(5432)
    );
    let proxy = authgate_sql::testing::CutProxy::start(&target).await;
    let mut via = base;
    via.set_port(Some(proxy.addr.port())).unwrap();
    (proxy, via.to_string())
}
