//! PostgreSQL over TLS (the `postgres-tls` feature): what managed databases ask for with
//! `sslmode=require`. The server here is the machine's PostgreSQL with its self-signed
//! certificate (`.ci/run` turns TLS on when it is off).
#![cfg(feature = "postgres-tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::testing::Fixture;
use authgate::*;
use authgate_sql::testing::{pg_base_url, PgSchema};
use authgate_sql::{connect, StoreOptions};

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Whether the test server serves TLS: outside CI a skip when it does not (say so), under
/// CI a failure (`.ci/run` turns it on).
async fn tls_or_skip() -> bool {
    let Ok(admin) = sqlx::PgPool::connect(&pg_base_url()).await else {
        return true; // PgSchema::create reports an unreachable server
    };
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl").fetch_one(&admin).await.unwrap();
    admin.close().await;
    if ssl == "on" {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs PostgreSQL with TLS on (ssl = on): .ci/run turns it on"
    );
    eprintln!("SKIPPED: the test PostgreSQL has ssl = off");
    false
}

#[tokio::test]
async fn a_store_works_over_tls_with_sslmode_require() {
    if !tls_or_skip().await {
        return;
    }
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    // A name to find this store's connections by in pg_stat_activity.
    let name = format!("authgate-tls-{}", &schema.name[11..]);
    let url = with_param(
        &with_param(&schema.url(), "sslmode=require"),
        &format!("application_name={name}"),
    );
    let store = connect(&url, &StoreOptions::default())
        .await
        .expect("connect with sslmode=require");
    store
        .add_client(ClientRecord::confidential("tls", "secret").grant_types(["client_credentials"]))
        .await;
    assert!(store.find_client("tls").await.unwrap().is_some());
    // Every connection the store holds is encrypted, as the server sees it.
    let admin = sqlx::PgPool::connect(&pg_base_url()).await.unwrap();
    let (total, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl)
           FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.application_name = $1",
    )
    .bind(&name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(total >= 1, "the store's connections were not found");
    assert_eq!(encrypted, total, "a connection of the store is not TLS");
    admin.close().await;
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_no_trusted_ca_signed() {
    // The server's certificate is self-signed: with certificate verification asked for
    // and only the public web roots trusted, the connection must fail, which shows the
    // handshake really checks the certificate rather than skipping it.
    if !tls_or_skip().await {
        return;
    }
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let url = with_param(&schema.url(), "sslmode=verify-full");
    let err = connect(&url, &StoreOptions::default())
        .await
        .expect_err("a self-signed certificate passed verify-full");
    let text = err.to_string().to_lowercase();
    assert!(text.contains("certificate"), "{err}");
}
