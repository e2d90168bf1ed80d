//! The admin listener (`[admin] bind`): Prometheus metrics at `/metrics`, liveness at
//! `/healthz` and readiness at `/readyz`, on an address of its own so that neither the
//! metrics nor the probes are reachable where the OAuth endpoints are public.
//!
//! Metrics go through the `metrics` facade, recorded by `metrics-exporter-prometheus`
//! when `[admin]` is configured; without it no recorder is installed and every recording
//! is a no-op. Labels are bounded sets (route templates, grant types and error codes this
//! server knows, status codes): never a client id, username, token or raw path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests answered, by route, method and status.
pub(crate) const REQUESTS: &str = "authgate_http_requests_total";
/// Time to answer, by route.
pub(crate) const LATENCY: &str = "authgate_http_request_duration_seconds";
/// Access tokens issued at the token endpoint, by grant type.
pub(crate) const TOKENS_ISSUED: &str = "authgate_tokens_issued_total";
/// Token requests refused, by grant type and error code.
pub(crate) const TOKEN_ERRORS: &str = "authgate_token_errors_total";
/// Sign-in attempts, by outcome (`ok`, `bad_credentials`, `locked`).
pub(crate) const LOGINS: &str = "authgate_logins_total";
/// Seconds since the signing key now in use for each algorithm began to sign.
const KEY_AGE: &str = "authgate_signing_key_age_seconds";
/// 1 when the store answered the last readiness probe or scrape, else 0.
const STORE_UP: &str = "authgate_store_up";
/// Time a storage call took, by operation (the storage method's name).
const STORE_LATENCY: &str = "authgate_store_operation_duration_seconds";
/// Storage calls that failed, by operation and kind (`unavailable`, `failed`, `refused`).
const STORE_ERRORS: &str = "authgate_store_errors_total";
/// The store's connections, by state (`busy`, `idle`; SQLite's as `open`).
const STORE_CONNECTIONS: &str = "authgate_store_connections";
/// The most connections the store opens.
const STORE_MAX_CONNECTIONS: &str = "authgate_store_max_connections";
/// Work waiting for a store connection, by queue (`writes`, `reads`; SQLite).
const STORE_QUEUED: &str = "authgate_store_queued";
/// Counter, labels `cache` (tokens, clients) and `result` (hit, miss, bypassed).
const CACHE_LOOKUPS: &str = "authgate_token_cache_lookups_total";
/// Counter, label `reason` (changes, failed_read).
const CACHE_EMPTIED: &str = "authgate_token_cache_emptied_total";
/// Gauge, label `cache` (tokens, clients).
const CACHE_ENTRIES: &str = "authgate_token_cache_entries";

/// Histogram buckets for request latency, in seconds: from half a millisecond (a Bearer
/// check in memory) to 2.5 s (past the store's 3 s timeout, a 503 shows up there).
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Histogram buckets for one storage call, in seconds: from 50 µs (an indexed read on a
/// warm SQLite page) to the 3 s acquire timeout.
const STORE_BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 3.0,
];

/// Whether metrics are recorded (`[admin]` configured): without it, nothing is.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether metrics are recorded.
pub(crate) fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// How often recorded histogram samples are folded into their buckets when nobody
/// scrapes (without it they would pile up until the next scrape).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Series handles of one route: by (method, status), the request counter and the
/// latency histogram.
type RouteSeries = HashMap<(&'static str, u16), (metrics::Counter, metrics::Histogram)>;

thread_local! {
    /// Each worker thread's handles, by route template: a request costs a lookup by the
    /// template and two atomic updates, with no allocation and no shared lock once its
    /// series exists.
    static SERIES: RefCell<HashMap<String, RouteSeries>> = RefCell::new(HashMap::new());
}

/// Records one answered request.
pub(crate) fn record_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    if !enabled() {
        return;
    }
    SERIES.with(|series| {
        let mut series = series.borrow_mut();
        // One lookup once the route is known; the owned key is made only the first time.
        let by_route = match series.get_mut(route) {
            Some(by_route) => by_route,
            None => series.entry(route.to_owned()).or_default(),
        };
        let (counter, histogram) = by_route.entry((method, status)).or_insert_with(|| {
            (
                metrics::counter!(
                    REQUESTS,
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string(),
                ),
                metrics::histogram!(LATENCY, "route" => route.to_owned()),
            )
        });
        counter.increment(1);
        histogram.record(seconds);
    });
}

/// A token counter's labels: the grant, and the error (`None`: issued).
type TokenLabels = (&'static str, Option<&'static str>);

thread_local! {
    /// Each worker thread's token counters, by grant label and error label (`None` for
    /// issued): both labels are static strings from bounded lists, so a request costs a
    /// short scan of a few pairs and one atomic add, without building the series key.
    static TOKEN_SERIES: RefCell<Vec<(TokenLabels, metrics::Counter)>> =
        const { RefCell::new(Vec::new()) };
}

/// Records one token request: issued, or refused with `error`.
pub(crate) fn record_token(grant: &str, error: Option<&str>) {
    if !enabled() {
        return;
    }
    let key = (grant_label(grant), error.map(error_label));
    TOKEN_SERIES.with(|series| {
        let mut series = series.borrow_mut();
        if let Some((_, counter)) = series.iter().find(|(k, _)| *k == key) {
            counter.increment(1);
            return;
        }
        let counter = match key.1 {
            None => metrics::counter!(TOKENS_ISSUED, "grant_type" => key.0),
            Some(e) => metrics::counter!(TOKEN_ERRORS, "grant_type" => key.0, "error" => e),
        };
        counter.increment(1);
        series.push((key, counter));
    });
}

/// Records one sign-in attempt's outcome (`ok`, `bad_credentials`, `locked`).
pub(crate) fn record_login(outcome: &'static str) {
    if enabled() {
        metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
    }
}

/// Installs the process's Prometheus recorder and describes the metrics; from then on
/// metrics are recorded.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(LATENCY.to_owned()),
            &LATENCY_BUCKETS,
        )
        .map_err(|e| format!("admin: metrics: {e}"))?
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(STORE_LATENCY.to_owned()),
            &STORE_BUCKETS,
        )
        .map_err(|e| format!("admin: metrics: {e}"))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| "admin: a metrics recorder is already installed".to_owned())?;
    metrics::describe_counter!(REQUESTS, "Requests answered, by route, method and status.");
    metrics::describe_histogram!(
        LATENCY,
        metrics::Unit::Seconds,
        "Time to answer a request, by route."
    );
    metrics::describe_counter!(
        TOKENS_ISSUED,
        "Access tokens issued at the token endpoint, by grant type."
    );
    metrics::describe_counter!(
        TOKEN_ERRORS,
        "Token requests refused, by grant type and error code."
    );
    metrics::describe_counter!(LOGINS, "Sign-in attempts, by outcome.");
    metrics::describe_gauge!(
        KEY_AGE,
        metrics::Unit::Seconds,
        "Seconds since the signing key in use for each algorithm began to sign."
    );
    metrics::describe_gauge!(
        STORE_UP,
        "1 when the store answered the last probe, else 0."
    );
    metrics::describe_histogram!(
        STORE_LATENCY,
        metrics::Unit::Seconds,
        "Time a storage call took, waiting for a connection included, by operation."
    );
    metrics::describe_counter!(
        STORE_ERRORS,
        "Storage calls that failed, by operation and kind (unavailable, failed, refused)."
    );
    metrics::describe_gauge!(
        STORE_CONNECTIONS,
        "The store's connections at the last scrape, by state (busy, idle; open where not tracked)."
    );
    metrics::describe_gauge!(
        STORE_MAX_CONNECTIONS,
        "The most connections the store opens."
    );
    metrics::describe_gauge!(
        STORE_QUEUED,
        "Work waiting for a store connection at the last scrape, by queue (writes, reads)."
    );
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        "Token cache lookups, by cache (tokens, clients) and result (hit; miss: asked of the database; bypassed: asked of the database because the change count was not read recently)."
    );
    metrics::describe_counter!(
        CACHE_EMPTIED,
        "Times the token cache emptied itself, by reason (changes: a revocation or client change made elsewhere; failed_read: the change count could not be read)."
    );
    metrics::describe_gauge!(
        CACHE_ENTRIES,
        "Entries the token cache holds at the last scrape, by cache (tokens, clients)."
    );
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP_EVERY).await;
            upkeep.run_upkeep();
        }
    });
    ON.store(true, Ordering::Relaxed);
    Ok(handle)
}

thread_local! {
    /// Each worker thread's store series, by operation: a storage call costs a short scan
    /// by the static name's address and one histogram sample.
    static STORE_SERIES: RefCell<Vec<(&'static str, metrics::Histogram)>> =
        const { RefCell::new(Vec::new()) };
}

/// The histogram of `operation` in `series`, added when new.
fn store_series<'a>(
    series: &'a mut Vec<(&'static str, metrics::Histogram)>,
    operation: &'static str,
) -> &'a metrics::Histogram {
    if let Some(at) = series
        .iter()
        .position(|(name, _)| std::ptr::eq(*name, operation))
    {
        return &series[at].1;
    }
    // New here, or the same name at another address: the latter gets an entry of its own
    // sharing the series, so that the next call finds it by address.
    let histogram = match series.iter().find(|(name, _)| *name == operation) {
        Some((_, h)) => h.clone(),
        None => metrics::histogram!(STORE_LATENCY, "operation" => operation),
    };
    series.push((operation, histogram));
    &series[series.len() - 1].1
}

/// Records every storage call of the store it observes: its latency, and its failures by
/// kind. Installed only when metrics are (see `main`), so a server without `[admin]` does
/// not time its storage calls at all.
pub(crate) struct StoreMetrics;

impl authgate_sql::StoreObserver for StoreMetrics {
    fn observe(
        &self,
        operation: &'static str,
        took: Duration,
        result: Result<(), &authgate::StorageError>,
    ) {
        STORE_SERIES.with(|series| {
            store_series(&mut series.borrow_mut(), operation).record(took.as_secs_f64());
        });
        if let Err(e) = result {
            let kind = match e {
                authgate::StorageError::Unavailable(_) => "unavailable",
                authgate::StorageError::InvalidValue(_) => "refused",
                _ => "failed",
            };
            metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => kind).increment(1);
        }
    }
}

/// What the admin routes read.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) metrics: PrometheusHandle,
    pub(crate) store: authgate_sql::AnyStore,
    pub(crate) server: Arc<authgate::AuthorizationServer>,
}

/// The admin router.
pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Whether the store answers (a lookup of a client id no client can have).
async fn store_up(state: &AdminState) -> bool {
    let up = state.store.find_client("").await.is_ok();
    metrics::gauge!(STORE_UP).set(if up { 1.0 } else { 0.0 });
    up
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if store_up(&state).await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store does not answer\n",
        )
            .into_response()
    }
}

async fn metrics_page(State(state): State<AdminState>) -> Response {
    // Gauges read at scrape time: the store and its pool, and how old each algorithm's
    // key in use is.
    store_up(&state).await;
    let pool = state.store.pool_state();
    match pool.idle {
        Some(idle) => {
            let busy = pool.connections.saturating_sub(idle);
            metrics::gauge!(STORE_CONNECTIONS, "state" => "busy").set(f64::from(busy));
            metrics::gauge!(STORE_CONNECTIONS, "state" => "idle").set(f64::from(idle));
        }
        // SQLite's connections are always open; which is busy is not tracked.
        None => {
            metrics::gauge!(STORE_CONNECTIONS, "state" => "open").set(f64::from(pool.connections));
        }
    }
    metrics::gauge!(STORE_MAX_CONNECTIONS).set(f64::from(pool.max_connections));
    metrics::gauge!(STORE_QUEUED, "queue" => "writes").set(f64::from(pool.queued_writes));
    metrics::gauge!(STORE_QUEUED, "queue" => "reads").set(f64::from(pool.queued_reads));
    if let Some(c) = state.store.cache_stats() {
        for (cache, hits, misses, bypassed, entries) in [
            (
                "tokens",
                c.token_hits,
                c.token_misses,
                c.token_bypassed,
                c.tokens,
            ),
            (
                "clients",
                c.client_hits,
                c.client_misses,
                c.client_bypassed,
                c.clients,
            ),
        ] {
            for (result, n) in [("hit", hits), ("miss", misses), ("bypassed", bypassed)] {
                metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result).absolute(n);
            }
            #[allow(clippy::cast_precision_loss)] // entries: far below 2^52
            metrics::gauge!(CACHE_ENTRIES, "cache" => cache).set(entries as f64);
        }
        metrics::counter!(CACHE_EMPTIED, "reason" => "changes").absolute(c.emptied_by_changes);
        metrics::counter!(CACHE_EMPTIED, "reason" => "failed_read").absolute(c.failed_reads);
    }
    // Read from the store as it is: a scrape neither loads, rotates nor opens any key.
    if let Ok(records) = authgate::KeyStore::signing_keys(&*state.store).await {
        let now = state.server.context().now();
        for k in authgate::jose::summarize(records, now)
            .iter()
            .filter(|k| k.state == authgate::jose::KeyState::Active)
        {
            #[allow(clippy::cast_precision_loss)] // seconds: far below 2^52
            let age = now.saturating_sub(k.not_before).max(0) as f64;
            metrics::gauge!(KEY_AGE, "alg" => k.alg.clone()).set(age);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// A grant type as a label: the ones this server knows, else `other` (the parameter is
/// the client's to choose).
pub(crate) fn grant_label(grant: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "implicit",
    ];
    KNOWN.into_iter().find(|k| *k == grant).unwrap_or("other")
}

/// An error code as a label: the registered ones, else `other`.
pub(crate) fn error_label(code: &str) -> &'static str {
    const KNOWN: [&str; 12] = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
        "authorization_pending",
        "slow_down",
        "access_denied",
        "expired_token",
        "server_error",
    ];
    KNOWN.into_iter().find(|k| *k == code).unwrap_or("other")
}
