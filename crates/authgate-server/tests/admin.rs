//! The admin listener (`[admin] bind`): Prometheus metrics scraped over HTTP after real
//! traffic, and the liveness and readiness probes, on an address apart from the public
//! one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use common::oauth::{token, Auth};
use common::server::TestServer;

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[admin]
bind = "127.0.0.1:{ADMIN}"

[[clients]]
client_id = "svc"
client_secret = "svc-secret-long-enough"
grant_types = ["client_credentials"]
scope = "read"
"#;

async fn get(url: &str) -> (u16, String) {
    let res = common::http().get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The value of the first sample line starting with `prefix`.
fn sample(page: &str, prefix: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_errors_and_the_probes_answer() {
    let admin_port = common::free_port();
    let config = CONFIG.replace("{ADMIN}", &admin_port.to_string());
    let server = TestServer::sqlite("admin", &config).await;
    let admin = format!("http://127.0.0.1:{admin_port}");
    // Some traffic: two tokens, one wrong secret, one unknown grant type, a 404.
    for _ in 0..2 {
        let page = token(
            server.base(),
            Auth::Basic("svc", "svc-secret-long-enough"),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
    }
    let page = token(
        server.base(),
        Auth::Basic("svc", "wrong"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(page.status, 401);
    let page = token(
        server.base(),
        Auth::Basic("svc", "svc-secret-long-enough"),
        &[("grant_type", "made-up")],
    )
    .await;
    assert_eq!(page.status, 400);
    let (status, _) = get(&format!("{}/no/such/page", server.base())).await;
    assert_eq!(status, 404);

    let (status, page) = get(&format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &page,
            "authgate_tokens_issued_total{grant_type=\"client_credentials\"}"
        ),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            "authgate_token_errors_total{grant_type=\"client_credentials\",error=\"invalid_client\"}"
        ),
        Some(1.0),
        "{page}"
    );
    // A grant type the client made up is a bounded label, not its own series.
    assert_eq!(
        sample(
            &page,
            "authgate_token_errors_total{grant_type=\"other\",error=\"unsupported_grant_type\"}"
        ),
        Some(1.0),
        "{page}"
    );
    // Requests by route template and status; an unknown path is "unmatched", never itself.
    assert_eq!(
        sample(
            &page,
            "authgate_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"}"
        ),
        Some(2.0),
        "{page}"
    );
    assert!(page.contains("route=\"unmatched\""), "{page}");
    assert!(!page.contains("/no/such/page"), "{page}");
    assert!(
        page.contains(
            "authgate_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.005\"}"
        ),
        "{page}"
    );
    assert_eq!(sample(&page, "authgate_store_up"), Some(1.0), "{page}");
    // Store latency by operation: the two issued tokens were two saves.
    assert_eq!(
        sample(
            &page,
            "authgate_store_operation_duration_seconds_count{operation=\"save_tokens\"}"
        ),
        Some(2.0),
        "{page}"
    );
    // Three client authentications: the first read the database, the cache (which keeps
    // clients) may have answered the others, and those are no database calls.
    assert!(
        sample(
            &page,
            "authgate_store_operation_duration_seconds_count{operation=\"find_client\"}"
        )
        .is_some_and(|n| (1.0..=3.0).contains(&n)),
        "{page}"
    );
    assert!(!page.contains("authgate_store_errors_total{"), "{page}");
    // The token cache's counts: every client authentication above was one client lookup
    // (a hit, a miss, or bypassed while the change count was not read recently).
    let client_lookups: f64 = ["hit", "miss", "bypassed"]
        .iter()
        .filter_map(|r| {
            sample(
                &page,
                &format!("authgate_token_cache_lookups_total{{cache=\"clients\",result=\"{r}\"}}"),
            )
        })
        .sum();
    assert!(client_lookups >= 3.0, "{page}");
    assert_eq!(
        sample(
            &page,
            "authgate_token_cache_emptied_total{reason=\"failed_read\"}"
        ),
        Some(0.0),
        "{page}"
    );
    assert!(
        page.contains("authgate_token_cache_entries{cache=\"tokens\"}"),
        "{page}"
    );
    // The pool: SQLite's writer and two readers, nothing waiting.
    assert_eq!(
        sample(&page, "authgate_store_max_connections"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "authgate_store_queued{queue=\"writes\"}"),
        Some(0.0),
        "{page}"
    );
    assert!(
        page.contains("authgate_store_connections{state=\"open\"} 3"),
        "{page}"
    );
    assert!(
        page.contains("authgate_signing_key_age_seconds{alg=\"RS256\"}"),
        "{page}"
    );
    // No client id, secret or token in any label.
    assert!(!page.contains("svc"), "{page}");

    assert_eq!(get(&format!("{admin}/healthz")).await, (200, "ok\n".into()));
    assert_eq!(get(&format!("{admin}/readyz")).await.0, 200);
    // The probes and the metrics are not on the public port.
    assert_eq!(get(&format!("{}/metrics", server.base())).await.0, 404);
    assert_eq!(get(&format!("{}/readyz", server.base())).await.0, 404);
}
