//! The access-token and client cache (`AnyStore::cached`): it answers repeated lookups
//! without the database, and never answers what the database would not: a revocation or a
//! client's change through it is seen at once, one made by another process within the
//! poll interval, and while the database cannot be asked, nothing is answered from memory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authgate::rng::OsRng;
use authgate::token::{generate_token, Selector};
use authgate::{ClientRecord, StorageError, TokenKind, TokenRecord};
use authgate_sql::testing::PgSchema;
use authgate_sql::{connect, AnyStore, StoreObserver, StoreOptions, TokenCacheOptions};

/// Counts the lookups that reached the database: of tokens, of clients.
#[derive(Default)]
struct Lookups(AtomicUsize, AtomicUsize);

impl StoreObserver for Lookups {
    fn observe(&self, operation: &'static str, _: Duration, _: Result<(), &StorageError>) {
        match operation {
            "find_token" => self.0.fetch_add(1, Ordering::SeqCst),
            "find_client" => self.1.fetch_add(1, Ordering::SeqCst),
            _ => 0,
        };
    }
}

impl Lookups {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn clients(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }
}

fn now() -> i64 {
    // Tokens live for an hour from the real time, so that the database's own idea of
    // "live" (its triggers) agrees with the test's.
    #[allow(clippy::disallowed_methods)] // the real clock, on purpose (see above)
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

fn token(kind: TokenKind, client_id: &str) -> TokenRecord {
    let now = now();
    let t = generate_token(&OsRng, now * 1000);
    TokenRecord::new(
        t.key,
        kind,
        client_id,
        "client_credentials",
        now,
        now + 3600,
    )
}

fn options() -> TokenCacheOptions {
    TokenCacheOptions {
        poll_interval: Duration::from_millis(20),
        ..TokenCacheOptions::default()
    }
}

/// A cached store on `url` over an observer counting the lookups that reach the
/// database, once its first read of the change count is done.
async fn counted_cache(url: &str) -> (AnyStore, Arc<Lookups>) {
    let lookups = Arc::new(Lookups::default());
    let store = connect(url, &StoreOptions::default())
        .await
        .unwrap()
        .observed(lookups.clone())
        .cached(&options());
    settle().await;
    (store, lookups)
}

/// The stated bound with these options is two intervals (40 ms); the tests allow more for
/// a loaded CI machine's scheduling, and still fail on a cache that waits for anything
/// slower than its own polling (a reconnect, a timeout, an expiry).
const BOUND_WITH_SLACK: Duration = Duration::from_millis(250);

/// Lets the cache's first read of the change count happen (until then it is bypassed).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

async fn revoked(store: &AnyStore, selector: &Selector) -> bool {
    store.find_token(selector).await.unwrap().unwrap().revoked
}

/// How long until `done` holds, trying every millisecond; panics after `limit`, saying
/// what was still answered.
#[allow(clippy::disallowed_methods)] // a measured delay, on the monotonic clock
async fn time_until<F, Fut>(limit: Duration, still: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{still} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

/// How long until `store` reports the token revoked; panics after `limit`.
async fn time_until_revoked(store: &AnyStore, selector: &Selector, limit: Duration) -> Duration {
    time_until(limit, "the cache still answered the token live", || {
        revoked(store, selector)
    })
    .await
}

/// The cached store answers a second lookup without the database; a revocation through
/// it, one token or many at once, shows at the very next lookup.
async fn revocations_through_the_cache_show_at_once(url: &str) {
    let (store, lookups) = counted_cache(url).await;
    let one = token(TokenKind::Access, "c1");
    let other = token(TokenKind::Access, "c2");
    store
        .save_tokens(&[one.clone(), other.clone()])
        .await
        .unwrap();

    assert!(!revoked(&store, &one.selector).await);
    let before = lookups.count();
    assert!(!revoked(&store, &one.selector).await);
    assert_eq!(
        lookups.count(),
        before,
        "the second lookup came from the cache"
    );
    // The cache's own counts say the same: one miss, then one hit.
    let stats = store.cache_stats().unwrap();
    assert_eq!(
        (stats.token_misses, stats.token_hits, stats.token_bypassed),
        (1, 1, 0)
    );
    assert_eq!(stats.tokens, 1);

    store.revoke_token(&one.selector).await.unwrap();
    assert!(revoked(&store, &one.selector).await);

    assert!(!revoked(&store, &other.selector).await);
    assert!(!revoked(&store, &other.selector).await);
    assert_eq!(store.revoke_tokens(Some("c2"), None).await.unwrap(), 1);
    assert!(revoked(&store, &other.selector).await);
}

#[tokio::test]
async fn revocations_through_the_cache_show_at_once_sqlite() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    revocations_through_the_cache_show_at_once(&url).await;
}

#[tokio::test]
async fn revocations_through_the_cache_show_at_once_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    revocations_through_the_cache_show_at_once(&schema.url()).await;
}

/// Instance B caches a token; instance A (another pool, as another process would) revokes
/// it; B refuses it within the poll interval plus a read.
async fn a_revocation_elsewhere_shows_within_the_interval(a: &AnyStore, b_url: &str) {
    let (b, lookups) = counted_cache(b_url).await;
    let t = token(TokenKind::Access, "c1");
    a.save_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert!(!revoked(&b, &t.selector).await);
    let before = lookups.count();
    assert!(!revoked(&b, &t.selector).await);
    assert_eq!(lookups.count(), before, "B answered from its cache");

    assert_eq!(b.cache_stats().unwrap().emptied_by_changes, 0);

    a.revoke_token(&t.selector).await.unwrap();
    let took = time_until_revoked(&b, &t.selector, BOUND_WITH_SLACK).await;
    eprintln!("revoked through A, refused by B after {took:?} (poll interval 20 ms)");
    assert!(b.cache_stats().unwrap().emptied_by_changes >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_another_process_shows_within_the_interval_sqlite() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let a = connect(&url, &StoreOptions::default()).await.unwrap();
    a_revocation_elsewhere_shows_within_the_interval(&a, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_another_instance_shows_within_the_interval_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let a = schema.store().await;
    a_revocation_elsewhere_shows_within_the_interval(&a, &schema.url()).await;
}

/// A statement by hand (no authgate code involved) is seen too: the triggers count it.
#[tokio::test]
async fn a_revocation_by_hand_shows_within_the_interval_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let b = schema.store().await.cached(&options());
    settle().await;
    let t = token(TokenKind::Access, "c1");
    b.save_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert!(!revoked(&b, &t.selector).await);
    HandConnection(schema.url())
        .execute("UPDATE authgate_tokens SET revoked = TRUE")
        .await
        .unwrap();
    time_until_revoked(&b, &t.selector, BOUND_WITH_SLACK).await;
}

/// Runs statements on a connection of its own, outside authgate, as an operator's `psql`
/// would.
struct HandConnection(String);

impl HandConnection {
    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.0).await?;
        sqlx::raw_sql(sql).execute(&mut conn).await?;
        conn.close().await
    }
}

/// While the change count cannot be read, nothing is answered from memory: a lookup
/// fails as it would without the cache (the server answers 503), and once the database
/// is back a revocation made meanwhile is seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_empties_the_cache_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let a = schema.store().await;
    let (proxy, via) = support::pg_through_proxy().await;
    let store_options = StoreOptions {
        acquire_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let b = connect(&schema.url_via(&via), &store_options)
        .await
        .unwrap()
        .cached(&options());
    settle().await;
    let t = token(TokenKind::Access, "c1");
    a.save_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert!(!revoked(&b, &t.selector).await);
    assert!(!revoked(&b, &t.selector).await);

    proxy.cut();
    // One failed read of the count (at most an interval plus the acquire timeout).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        b.find_token(&t.selector).await.is_err(),
        "with the database gone, the token is not answered from memory"
    );
    let stats = b.cache_stats().unwrap();
    assert!(stats.failed_reads >= 1, "{stats:?}");
    assert!(stats.token_bypassed >= 1, "{stats:?}");
    assert_eq!(stats.tokens, 0, "a failed read empties the cache");
    a.revoke_token(&t.selector).await.unwrap();
    proxy.restore();
    time_until_revoked_allowing_errors(&b, &t.selector).await;
}

/// Like [`time_until_revoked`], while the pool reconnects (errors allowed, a live answer
/// not).
#[allow(clippy::disallowed_methods)] // a bounded wait, on the monotonic clock
async fn time_until_revoked_allowing_errors(store: &AnyStore, selector: &Selector) {
    let started = Instant::now();
    loop {
        match store.find_token(selector).await {
            Ok(Some(r)) if r.revoked => return,
            Ok(Some(_)) => panic!("a token revoked while the cache was cut off was answered live"),
            Ok(None) => panic!("the token vanished"),
            Err(_) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A refresh token is never kept (its grant reads the database each time), nor an
/// unknown selector.
#[tokio::test]
async fn only_access_tokens_that_exist_are_kept() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let (store, lookups) = counted_cache(&url).await;
    let refresh = token(TokenKind::Refresh, "c1");
    store
        .save_tokens(std::slice::from_ref(&refresh))
        .await
        .unwrap();
    let unknown = token(TokenKind::Access, "c1");
    let before = lookups.count();
    for _ in 0..2 {
        assert!(store.find_token(&refresh.selector).await.unwrap().is_some());
        assert!(store.find_token(&unknown.selector).await.unwrap().is_none());
    }
    assert_eq!(
        lookups.count(),
        before + 4,
        "every lookup reached the database"
    );
}

/// Over `memory:` (which cannot count its changes, and needs no cache) nothing is kept.
#[tokio::test]
async fn nothing_is_cached_over_the_memory_backend() {
    let (store, lookups) = counted_cache("memory:").await;
    let t = token(TokenKind::Access, "c1");
    store.save_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert!(!revoked(&store, &t.selector).await);
    assert!(!revoked(&store, &t.selector).await);
    assert_eq!(lookups.count(), 2);
    assert_eq!(store.cache_stats().unwrap().token_hits, 0);
    // A store without a cache has no cache figures.
    let plain = connect("memory:", &StoreOptions::default()).await.unwrap();
    assert!(plain.cache_stats().is_none());
}

/// A token cached through one tenant's handle is not answered through another's.
#[tokio::test]
async fn tenants_stay_apart_in_the_cache() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let store = connect(&url, &StoreOptions::default())
        .await
        .unwrap()
        .cached(&options());
    settle().await;
    let (a, b) = (store.tenant("a"), store.tenant("b"));
    let t = token(TokenKind::Access, "c1");
    a.save_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert!(a.find_token(&t.selector).await.unwrap().is_some());
    assert!(a.find_token(&t.selector).await.unwrap().is_some());
    assert!(b.find_token(&t.selector).await.unwrap().is_none());
    assert!(store.find_token(&t.selector).await.unwrap().is_none());
}

/// With its polling stopped (here: the runtime that ran it is gone), the cache stops
/// answering within two intervals, so a revocation made elsewhere is seen anyway.
#[test]
fn a_cache_whose_polling_stopped_answers_nothing() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let first = tokio::runtime::Runtime::new().unwrap();
    let (cached, t) = first.block_on(async {
        let cached = connect(&url, &StoreOptions::default())
            .await
            .unwrap()
            .cached(&options());
        settle().await;
        let t = token(TokenKind::Access, "c1");
        cached.save_tokens(std::slice::from_ref(&t)).await.unwrap();
        assert!(!revoked(&cached, &t.selector).await);
        assert!(!revoked(&cached, &t.selector).await);
        (cached, t)
    });
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let other = connect(&url, &StoreOptions::default()).await.unwrap();
        other.revoke_token(&t.selector).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            revoked(&cached, &t.selector).await,
            "a cache nobody keeps in step answered a revoked token"
        );
    });
}

/// A confidential client `id` whose secret is `secret`.
fn client(id: &str, secret: &str) -> ClientRecord {
    ClientRecord::confidential(id, secret).grant_types(["client_credentials"])
}

/// Whether `store` finds client `id` and it takes `secret`; `None` when it finds no such
/// client.
async fn takes(store: &AnyStore, id: &str, secret: &str) -> Option<bool> {
    store
        .find_client(id)
        .await
        .unwrap()
        .map(|c| c.check_secret(secret))
}

/// A client found once is authenticated again without the database; a new secret or a
/// removal through the cached store shows at the very next lookup; an unknown client id is
/// asked of the database every time.
async fn client_changes_through_the_cache_show_at_once(url: &str) {
    let (store, lookups) = counted_cache(url).await;
    store.upsert_client(&client("svc", "first")).await.unwrap();
    assert_eq!(takes(&store, "svc", "first").await, Some(true));
    let before = lookups.clients();
    assert_eq!(takes(&store, "svc", "first").await, Some(true));
    assert_eq!(
        lookups.clients(),
        before,
        "the second lookup came from the cache"
    );

    store.upsert_client(&client("svc", "second")).await.unwrap();
    assert_eq!(takes(&store, "svc", "first").await, Some(false));
    assert_eq!(takes(&store, "svc", "second").await, Some(true));

    assert!(store.remove_client("svc").await.unwrap());
    assert_eq!(takes(&store, "svc", "second").await, None);

    let before = lookups.clients();
    assert_eq!(takes(&store, "nobody", "x").await, None);
    assert_eq!(takes(&store, "nobody", "x").await, None);
    assert_eq!(lookups.clients(), before + 2, "an absence is never kept");
}

#[tokio::test]
async fn client_changes_through_the_cache_show_at_once_sqlite() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    client_changes_through_the_cache_show_at_once(&url).await;
}

#[tokio::test]
async fn client_changes_through_the_cache_show_at_once_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    client_changes_through_the_cache_show_at_once(&schema.url()).await;
}

/// How long until `store` no longer authenticates client `id` with `secret`; panics after
/// `limit`.
async fn time_until_refused(store: &AnyStore, id: &str, secret: &str, limit: Duration) -> Duration {
    time_until(limit, "the cache still took the old secret", || async {
        takes(store, id, secret).await != Some(true)
    })
    .await
}

/// Instance B keeps a client; instance A changes its secret, then removes it; B refuses the
/// old secret, then the client, within the poll interval plus a read. A client A adds is
/// found by B at once (B never kept its absence).
async fn a_client_changed_elsewhere_shows_within_the_interval(a: &AnyStore, b_url: &str) {
    let (b, lookups) = counted_cache(b_url).await;
    a.upsert_client(&client("svc", "first")).await.unwrap();
    assert_eq!(takes(&b, "svc", "first").await, Some(true));
    let before = lookups.clients();
    assert_eq!(takes(&b, "svc", "first").await, Some(true));
    assert_eq!(lookups.clients(), before, "B answered from its cache");

    a.upsert_client(&client("svc", "second")).await.unwrap();
    let took = time_until_refused(&b, "svc", "first", BOUND_WITH_SLACK).await;
    eprintln!("secret changed through A, old one refused by B after {took:?}");
    assert_eq!(takes(&b, "svc", "second").await, Some(true));
    assert_eq!(takes(&b, "svc", "second").await, Some(true));

    assert!(a.remove_client("svc").await.unwrap());
    time_until_refused(&b, "svc", "second", BOUND_WITH_SLACK).await;
    assert_eq!(takes(&b, "svc", "second").await, None);

    assert_eq!(takes(&b, "late", "x").await, None);
    a.upsert_client(&client("late", "x")).await.unwrap();
    assert_eq!(takes(&b, "late", "x").await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_changed_by_another_process_shows_within_the_interval_sqlite() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let a = connect(&url, &StoreOptions::default()).await.unwrap();
    a_client_changed_elsewhere_shows_within_the_interval(&a, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_changed_by_another_instance_shows_within_the_interval_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let a = schema.store().await;
    a_client_changed_elsewhere_shows_within_the_interval(&a, &schema.url()).await;
}

/// A client deleted by hand (no authgate code involved) is refused too: the triggers count
/// it.
#[tokio::test]
async fn a_client_deleted_by_hand_is_refused_within_the_interval_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let b = schema.store().await.cached(&options());
    settle().await;
    b.upsert_client(&client("svc", "first")).await.unwrap();
    assert_eq!(takes(&b, "svc", "first").await, Some(true));
    assert_eq!(takes(&b, "svc", "first").await, Some(true));
    HandConnection(schema.url())
        .execute("DELETE FROM authgate_clients WHERE client_id = 'svc'")
        .await
        .unwrap();
    time_until_refused(&b, "svc", "first", BOUND_WITH_SLACK).await;
}

/// A client kept through one tenant's handle is not answered through another's, and
/// `clients: 0` keeps none.
#[tokio::test]
async fn clients_stay_apart_by_tenant_and_none_are_kept_when_told() {
    let url = format!("sqlite://{}", support::temp_sqlite_path().display());
    let store = connect(&url, &StoreOptions::default())
        .await
        .unwrap()
        .cached(&options());
    settle().await;
    let (a, b) = (store.tenant("a"), store.tenant("b"));
    a.upsert_client(&client("svc", "first")).await.unwrap();
    assert_eq!(takes(&a, "svc", "first").await, Some(true));
    assert_eq!(takes(&a, "svc", "first").await, Some(true));
    assert_eq!(takes(&b, "svc", "first").await, None);
    assert_eq!(takes(&store, "svc", "first").await, None);
    assert_eq!(takes(&a, "svc", "first").await, Some(true));

    let lookups = Arc::new(Lookups::default());
    let uncached = connect(&url, &StoreOptions::default())
        .await
        .unwrap()
        .tenant("a")
        .observed(lookups.clone())
        .cached(&TokenCacheOptions {
            clients: 0,
            ..options()
        });
    settle().await;
    for _ in 0..2 {
        assert_eq!(takes(&uncached, "svc", "first").await, Some(true));
    }
    assert_eq!(
        lookups.clients(),
        2,
        "with clients: 0 every lookup reached the database"
    );
}
