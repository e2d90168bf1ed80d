//! Endpoint throughput per store: client_credentials issuance and Bearer validation over
//! real HTTP, for the in-memory store, SQLite and PostgreSQL, each as a ratio to the
//! in-memory store measured in the same run.
//!
//! `cargo bench -p authgate-sql --bench throughput` (BENCH_SECS=N per scenario, default 5;
//! BENCH_CONCURRENCY, default 32; BENCH_COMPARE_GROUP_COMMIT=1 adds SQLite with one commit
//! per write). Under `cargo test` (no `--bench` argument) it runs a
//! short smoke pass so it cannot rot.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
#![allow(missing_docs)]
// a benchmark binary, not an API
// A benchmark measures wall-clock time; the injected-clock rule is for the library.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authgate::*;
use authgate_axum::{routes, CurrentToken, RequireBearerLayer, Server};
use authgate_sql::{connect, StoreOptions};
use axum::routing::get;
use axum::{Json, Router};

fn app(store: impl Into<Stores>) -> Router {
    let mut server = AuthorizationServer::new(store, ServerConfig::new("http://bench.test"));
    server.register_grant(ClientCredentialsGrant::new());
    let server: Server = Arc::new(server);
    let protector = Arc::new(ResourceProtector::from_server(&server));
    routes(&server)
        .route(
            "/api/me",
            get(|CurrentToken(t): CurrentToken| async move {
                Json(serde_json::json!({ "client_id": t.client_id }))
            })
            .route_layer(RequireBearerLayer::new(
                protector,
                ScopeRequirement::all_of("read"),
            )),
        )
        .with_state(server)
}

fn client() -> ClientRecord {
    ClientRecord::confidential("bench", "bench-secret")
        .grant_types(["client_credentials"])
        .scope("read")
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[derive(Clone, Copy)]
enum Scenario {
    Issue,
    Validate,
}

/// Runs `concurrency` request loops for `secs`; answers requests per second. Any non-200
/// answer is counted and reported.
async fn drive(
    base: &str,
    token: &str,
    scenario: Scenario,
    concurrency: usize,
    secs: f64,
) -> (f64, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    // Warm-up: connections opened, caches filled.
    let warm = Duration::from_secs_f64((secs / 5.0).min(1.0));
    let measure = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, base, token, done, errors) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let elapsed = start.elapsed();
                if elapsed > warm + measure {
                    return;
                }
                let res = match scenario {
                    Scenario::Issue => {
                        http.post(format!("{base}/token"))
                            .basic_auth("bench", Some("bench-secret"))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body("grant_type=client_credentials&scope=read")
                            .send()
                            .await
                    }
                    Scenario::Validate => {
                        http.get(format!("{base}/api/me"))
                            .bearer_auth(&token)
                            .send()
                            .await
                    }
                };
                let ok = matches!(&res, Ok(r) if r.status() == 200);
                if let Ok(r) = res {
                    let _ = r.bytes().await;
                }
                if elapsed >= warm {
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        done.load(Ordering::Relaxed) as f64 / secs,
        errors.load(Ordering::Relaxed),
    )
}

async fn issue_one(base: &str) -> String {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("bench", Some("bench-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["access_token"].as_str().unwrap().to_owned()
}

struct Row {
    store: &'static str,
    issue: f64,
    validate: f64,
    errors: u64,
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench_mode { 5.0 } else { 0.3 });
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut bases: Vec<(&'static str, String)> = Vec::new();

        let memory = MemoryStore::new();
        memory.add_client(client());
        bases.push(("memory", serve(app(memory)).await));

        let dir = std::env::temp_dir().join(format!("authgate-bench-{}", std::process::id()));
        let sqlite = connect(&format!("sqlite://{}/bench.db", dir.display()), &StoreOptions::default()).await.unwrap();
        sqlite.upsert_client(&client()).await.unwrap();
        bases.push(("sqlite", serve(app(sqlite)).await));
        if std::env::var_os("BENCH_COMPARE_GROUP_COMMIT").is_some() {
            // The same store with one COMMIT per write: what the group-commit writer saves.
            let one = StoreOptions { sqlite_max_batch: 1, ..StoreOptions::default() };
            let s = connect(&format!("sqlite://{}/bench-single.db", dir.display()), &one).await.unwrap();
            s.upsert_client(&client()).await.unwrap();
            bases.push(("sqlite, commit per write", serve(app(s)).await));
        }

        let pg_url = std::env::var("AUTHGATE_BENCH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pg_schema = format!("authgate_bench_{}", std::process::id());
        let pg = match sqlx::PgPool::connect(&pg_url).await {
            Ok(admin) => {
                sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {pg_schema}")).execute(&admin).await.unwrap();
                let url = format!("{pg_url}?options=-c%20search_path%3D{pg_schema}");
                let store = connect(&url, &StoreOptions::default()).await.unwrap();
                store.upsert_client(&client()).await.unwrap();
                bases.push(("postgres", serve(app(store)).await));
                Some(admin)
            }
            Err(e) => {
                eprintln!("postgres: skipped ({e})");
                None
            }
        };

        let mut rows = Vec::new();
        for (store, base) in &bases {
            let token = issue_one(base).await;
            let (issue, e1) = drive(base, &token, Scenario::Issue, concurrency, secs).await;
            let (validate, e2) = drive(base, &token, Scenario::Validate, concurrency, secs).await;
            rows.push(Row { store, issue, validate, errors: e1 + e2 });
        }
        if let Some(admin) = pg {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {pg_schema} CASCADE")).execute(&admin).await;
        }
        let _ = std::fs::remove_dir_all(&dir);

        let (mi, mv) = (rows[0].issue, rows[0].validate);
        println!("endpoint throughput, {concurrency} connections, {secs} s per scenario, one process, 2 tokio workers");
        println!("| store | issuance req/s | ratio | Bearer GET req/s | ratio | errors |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for r in &rows {
            println!(
                "| {} | {:.0} | {:.2} | {:.0} | {:.2} | {} |",
                r.store, r.issue, r.issue / mi, r.validate, r.validate / mv, r.errors
            );
        }
        let errors: u64 = rows.iter().map(|r| r.errors).sum();
        assert_eq!(errors, 0, "requests failed during the benchmark");
    });
}
