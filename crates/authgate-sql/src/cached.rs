//! A bounded in-process cache of access tokens and clients over a backend: see
//! [`AnyStore::cached`](crate::AnyStore::cached).
//!
//! What keeps it true:
//! - A write through the cached store that revokes tokens forgets the affected entries
//!   before it returns: one selector for a single revocation, every entry for anything
//!   wider (a family, a client, a user, a consent). A write that changes or removes a
//!   client forgets every client kept.
//! - A write anywhere else (another instance, the CLI, a statement by hand) moves the
//!   database's count of changes ([`Admin::token_changes`]: revoked or deleted tokens,
//!   changed or deleted clients), kept by triggers. A
//!   task reads that count every `poll_interval` and empties the cache when it moved, so
//!   such a write is seen within one interval and a read.
//! - The cache answers only while the last successful read of the count began less than
//!   two intervals ago: a read that fails, times out or hangs, or a polling task that
//!   stopped, leaves the cache bypassed (and a failed read empties it). So a revocation
//!   is never answered as live for longer than two intervals.
//! - A lookup that went to the database stores its answer only if no invalidation
//!   happened while it was in flight (an epoch, checked and the answer stored under the
//!   lock every invalidation takes), so a slow read cannot put back what a revocation
//!   just removed, not even for a moment.
//! - Only access tokens are kept (refresh tokens are rotated, and their grant reads the
//!   database each time), and only tokens and clients found: an unknown selector or
//!   client id is asked of the database every time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authgate::token::{SecretHash, Selector};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientRegistry,
    ClientStore, ConsentRecord, ConsentStore, DeviceCodeRecord, DeviceCodeStore, DevicePoll,
    KeyStore, ReplayCache, ResourceOwner, SessionRecord, SessionStore, SigningKeyRecord,
    StorageError, TokenKind, TokenRecord, TokenStore, UserStore,
};

use crate::{Admin, Backend, InitialAccessToken, NewUser, PoolState, UserInfo};

/// How big the token and client caches are and how often they check the database for
/// changes made elsewhere ([`AnyStore::cached`](crate::AnyStore::cached)).
///
/// ```
/// use std::time::Duration;
/// use authgate_sql::TokenCacheOptions;
/// let options = TokenCacheOptions {
///     capacity: 50_000,
///     ..TokenCacheOptions::default()
/// };
/// assert_eq!(options.poll_interval, Duration::from_millis(50));
/// assert_eq!(options.clients, 1_000);
/// ```
#[derive(Clone, Debug)]
pub struct TokenCacheOptions {
    /// The most access tokens kept (each a copy of the token's record, a few hundred
    /// bytes); when full, `quick_cache`'s policy (S3-FIFO) evicts tokens seen once before
    /// tokens seen again.
    pub capacity: usize,
    /// The most clients kept (each a copy of the client's registration, from a few
    /// hundred bytes to a few kilobytes with a JWK Set), so that client authentication at
    /// the token, introspection and revocation endpoints does not read the database each
    /// time; `0` keeps none. Default 1,000.
    pub clients: usize,
    /// How often the database's count of token changes is read: a revocation made by
    /// another process goes unseen for at most this plus one read, and never for more
    /// than twice this (past it without a successful read, the cache is bypassed).
    /// Default 50 ms.
    pub poll_interval: Duration,
}

impl Default for TokenCacheOptions {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            clients: 1_000,
            poll_interval: Duration::from_millis(50),
        }
    }
}

/// What a token cache has done since it started ([`Backend::cache_stats`], through an
/// [`AnyStore`](crate::AnyStore) made by `cached`), for a metrics page: how often it
/// answered, how often it had to ask the database, and how often it emptied itself.
///
/// A lookup counts once: as a hit (answered from the cache), a miss (asked of the
/// database, because the entry was not there or belongs to another tenant), or bypassed
/// (asked of the database because the change count was not read recently, see
/// [`TokenCacheOptions::poll_interval`]). Client lookups are not counted when the cache
/// keeps no clients.
///
/// ```
/// use authgate_sql::CacheStats;
/// let stats = CacheStats::default();
/// assert_eq!(stats.token_hits + stats.token_misses + stats.token_bypassed, 0);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Access-token lookups answered from the cache.
    pub token_hits: u64,
    /// Access-token lookups asked of the database: not kept, or kept for another tenant.
    pub token_misses: u64,
    /// Token lookups asked of the database because the cache was out of step.
    pub token_bypassed: u64,
    /// Client lookups answered from the cache.
    pub client_hits: u64,
    /// Client lookups asked of the database.
    pub client_misses: u64,
    /// Client lookups asked of the database because the cache was out of step.
    pub client_bypassed: u64,
    /// Times the whole cache was emptied because the database's change count moved (a
    /// revocation or a client change made elsewhere).
    pub emptied_by_changes: u64,
    /// Reads of the change count that failed or timed out (each empties the cache).
    pub failed_reads: u64,
    /// Access tokens kept now.
    pub tokens: u64,
    /// Clients kept now.
    pub clients: u64,
}

/// The counters behind [`CacheStats`].
#[derive(Default)]
struct Counters {
    token_hits: AtomicU64,
    token_misses: AtomicU64,
    token_bypassed: AtomicU64,
    client_hits: AtomicU64,
    client_misses: AtomicU64,
    client_bypassed: AtomicU64,
    emptied_by_changes: AtomicU64,
    failed_reads: AtomicU64,
}

/// Adds one to a counter (a statistic: no ordering with anything else).
fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// One cached token, with the tenant handle it was read through.
type Entry = Arc<(Option<Arc<str>>, TokenRecord)>;

/// One cached client, with the tenant handle it was read through.
type ClientEntry = (Option<Arc<str>>, Arc<dyn Client>);

/// What every handle of one cache shares.
pub(crate) struct Shared {
    tokens: quick_cache::sync::Cache<Selector, Entry>,
    /// Keyed by client id alone: a tenant's lookup of an id another tenant's entry holds
    /// goes to the database, and its answer takes the place.
    clients: Option<quick_cache::sync::Cache<String, ClientEntry>>,
    /// Moves on every invalidation: a lookup stores its answer only if it did not move
    /// while the lookup was in flight.
    epoch: AtomicU64,
    /// Taken by every invalidation (around moving `epoch` and removing entries) and by
    /// every store of a database answer (around checking `epoch` and inserting), so that
    /// no answer read before an invalidation is ever visible after it. Never taken to
    /// answer from the cache.
    writes: Mutex<()>,
    /// When the last successful read of the change count began, in milliseconds since
    /// `start` (`u64::MAX`: never): the cache answers only while it is recent.
    last_read: AtomicU64,
    start: Instant,
    /// How recent `last_read` must be: two poll intervals.
    max_age: Duration,
    counters: Counters,
}

impl Shared {
    /// The invalidation lock; a panic elsewhere while holding it left nothing half done
    /// (an epoch moved, entries removed), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, selector: &Selector) {
        let _guard = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.tokens.remove(selector);
    }

    fn forget_all(&self) {
        let _guard = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.tokens.clear();
        if let Some(clients) = &self.clients {
            clients.clear();
        }
    }

    fn forget_clients(&self) {
        let _guard = self.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(clients) = &self.clients {
            clients.clear();
        }
    }

    /// Runs `insert` if no invalidation happened since `epoch` was read (the lookup's
    /// start) and the change count is in step.
    fn store_if_current(&self, epoch: u64, insert: impl FnOnce()) {
        let _guard = self.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch && self.in_step() {
            insert();
        }
    }

    /// Milliseconds since `start`.
    // A duration on the monotonic clock, not a time of day.
    #[allow(clippy::disallowed_methods)]
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            token_hits: get(&c.token_hits),
            token_misses: get(&c.token_misses),
            token_bypassed: get(&c.token_bypassed),
            client_hits: get(&c.client_hits),
            client_misses: get(&c.client_misses),
            client_bypassed: get(&c.client_bypassed),
            emptied_by_changes: get(&c.emptied_by_changes),
            failed_reads: get(&c.failed_reads),
            tokens: self.tokens.len() as u64,
            clients: self.clients.as_ref().map_or(0, |c| c.len() as u64),
        }
    }

    /// Whether the change count was read recently enough for the cache to answer.
    fn in_step(&self) -> bool {
        let last = self.last_read.load(Ordering::SeqCst);
        last != u64::MAX
            && u128::from(self.now_ms().saturating_sub(last)) <= self.max_age.as_millis()
    }
}

/// Forwards every call to `inner`, answering `find_token` for access tokens from the
/// cache when it can.
pub(crate) struct Cached {
    pub(crate) inner: Arc<dyn Backend>,
    pub(crate) shared: Arc<Shared>,
    /// The tenant this handle was made for by [`Backend::in_tenant`]; `None` for the
    /// handle `cached` was called on (its tenant is not known here, so its entries are
    /// never answered through another handle).
    pub(crate) tenant: Option<Arc<str>>,
}

impl Cached {
    /// A cache over `inner`, with its polling task on the current Tokio runtime.
    // The monotonic clock's origin for the cache's ages.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn new(inner: Arc<dyn Backend>, options: &TokenCacheOptions) -> Self {
        let interval = options.poll_interval.max(Duration::from_millis(1));
        let shared = Arc::new(Shared {
            tokens: quick_cache::sync::Cache::new(options.capacity.max(1)),
            clients: (options.clients > 0).then(|| quick_cache::sync::Cache::new(options.clients)),
            epoch: AtomicU64::new(0),
            writes: Mutex::new(()),
            last_read: AtomicU64::new(u64::MAX),
            start: Instant::now(),
            max_age: interval * 2,
            counters: Counters::default(),
        });
        tokio::spawn(keep_in_step(
            inner.clone(),
            Arc::downgrade(&shared),
            interval,
        ));
        Self {
            inner,
            shared,
            tenant: None,
        }
    }
}

/// The longest a read of the change count may take before it counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads the change count every `interval` until the cache is dropped; empties the cache
/// whenever the count moved or could not be read, and notes when each successful read
/// began. The first failed read after a good one, and the first good read after failed
/// ones, are logged (a warning, then an info line), not every read of an outage.
async fn keep_in_step(inner: Arc<dyn Backend>, shared: Weak<Shared>, interval: Duration) {
    let mut last = None;
    // Reads failed in a row.
    let mut failing = 0_u64;
    loop {
        let Some(began) = shared.upgrade().map(|s| s.now_ms()) else {
            return;
        };
        let changes = tokio::time::timeout(READ_TIMEOUT.max(interval), inner.token_changes())
            .await
            .unwrap_or_else(|_| {
                Err(StorageError::Unavailable(
                    "reading the token change count timed out".into(),
                ))
            });
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match changes {
            Ok(Some(n)) => {
                if last != Some(n) {
                    shared.forget_all();
                    if last.is_some() {
                        count(&shared.counters.emptied_by_changes);
                    }
                    last = Some(n);
                }
                shared.last_read.store(began, Ordering::SeqCst);
                if failing > 0 {
                    tracing::info!(
                        failed_reads = failing,
                        "token cache: the change count reads again; the cache answers again"
                    );
                    failing = 0;
                }
            }
            // The backend cannot tell: no cache is kept over it.
            Ok(None) => return,
            // The cache stops answering once `last_read` ages; emptied now, it also holds
            // nothing from before the outage when reads succeed again.
            Err(e) => {
                shared.forget_all();
                count(&shared.counters.failed_reads);
                last = None;
                failing += 1;
                if failing == 1 {
                    tracing::warn!(
                        error = %e,
                        "token cache: reading the change count failed; the cache is emptied and every lookup goes to the database until a read succeeds"
                    );
                }
            }
        }
        drop(shared);
        tokio::time::sleep(interval).await;
    }
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .field("entries", &self.shared.tokens.len())
            .field(
                "clients",
                &self
                    .shared
                    .clients
                    .as_ref()
                    .map_or(0, quick_cache::sync::Cache::len),
            )
            .finish_non_exhaustive()
    }
}

impl Backend for Cached {
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend> {
        Arc::new(Self {
            inner: self.inner.in_tenant(tenant),
            shared: self.shared.clone(),
            tenant: Some(Arc::from(tenant)),
        })
    }

    fn pool_state(&self) -> PoolState {
        self.inner.pool_state()
    }

    fn cache_stats(&self) -> Option<CacheStats> {
        Some(self.shared.stats())
    }
}

#[async_trait]
impl ClientStore for Cached {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        let shared = &self.shared;
        let Some(clients) = shared.clients.as_ref() else {
            return self.inner.find_client(client_id).await;
        };
        if !shared.in_step() {
            count(&shared.counters.client_bypassed);
            return self.inner.find_client(client_id).await;
        }
        if let Some((tenant, client)) = clients.get(client_id) {
            if tenant == self.tenant {
                count(&shared.counters.client_hits);
                return Ok(Some(client));
            }
        }
        count(&shared.counters.client_misses);
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let found = self.inner.find_client(client_id).await?;
        if let Some(client) = &found {
            shared.store_if_current(epoch, || {
                clients.insert(client_id.to_owned(), (self.tenant.clone(), client.clone()));
            });
        }
        Ok(found)
    }
}

#[async_trait]
impl TokenStore for Cached {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        self.inner.save_tokens(tokens).await
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        let shared = &self.shared;
        if !shared.in_step() {
            count(&shared.counters.token_bypassed);
            return self.inner.find_token(selector).await;
        }
        if let Some(entry) = shared.tokens.get(selector) {
            if entry.0 == self.tenant {
                count(&shared.counters.token_hits);
                return Ok(Some(entry.1.clone()));
            }
        }
        count(&shared.counters.token_misses);
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let found = self.inner.find_token(selector).await?;
        if let Some(record) = found.as_ref().filter(|r| r.kind == TokenKind::Access) {
            // An invalidation that ran while the database answered may hold an older
            // view than the one it invalidated for: then nothing is stored.
            shared.store_if_current(epoch, || {
                shared
                    .tokens
                    .insert(*selector, Arc::new((self.tenant.clone(), record.clone())));
            });
        }
        Ok(found)
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        let result = self.inner.revoke_token(selector).await;
        self.shared.forget(selector);
        result
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let result = self.inner.revoke_family(family).await;
        self.shared.forget_all();
        result
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        let result = self
            .inner
            .rotate_refresh_token(selector, replacements, sealed_successors)
            .await;
        self.shared.forget(selector);
        result
    }
}

/// The other storage calls that revoke tokens (many at once): the cache empties after
/// each, whatever its outcome.
const REVOKES_MANY: [&str; 5] = [
    "remove_client",
    "remove_user",
    "revoke_tokens",
    "delete_client",
    "revoke_consent",
];

/// The storage calls that change or remove a client: the clients kept are forgotten after
/// each, whatever its outcome. (`create_client` adds only a client id nobody has, and no
/// cache keeps an absence; left out, open registration does not empty the cache.)
const CHANGES_CLIENTS: [&str; 4] = [
    "update_client",
    "delete_client",
    "upsert_client",
    "remove_client",
];

/// Implements `$trait` for [`Cached`]: each method forwards to the inner backend, empties
/// the cache after the ones of [`REVOKES_MANY`] and forgets the clients after the ones of
/// [`CHANGES_CLIENTS`]. `ClientStore` and `TokenStore` are written out above.
macro_rules! cached {
    (TokenStore { $($rest:tt)* }) => {};
    (ClientStore { $($rest:tt)* }) => {};
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for Cached {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StorageError> {
                    let result = self.inner.$name($($arg),*).await;
                    if REVOKES_MANY.contains(&stringify!($name)) {
                        self.shared.forget_all();
                    } else if CHANGES_CLIENTS.contains(&stringify!($name)) {
                        self.shared.forget_clients();
                    }
                    result
                }
            )*
        }
    };
}

for_each_store_trait!(cached);
