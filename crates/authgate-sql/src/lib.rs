//! Persistent storage for authgate: SQLite as the embedded default, PostgreSQL for
//! deployments of several stateless servers sharing one database.
//!
//! Both backends implement every authgate storage trait ([`ClientStore`],
//! [`AuthorizationCodeStore`], [`TokenStore`], [`UserStore`], [`KeyStore`],
//! [`ConsentStore`], [`SessionStore`], [`DeviceCodeStore`], [`ClientRegistry`]) plus
//! [`Admin`] (client and user management, expiry purges): together, a [`Backend`]. Pick one by URL with
//! [`connect`]:
//!
//! | URL | store |
//! | --- | --- |
//! | `sqlite://path/to/file.db` (or `sqlite:path`) | `SqliteStore` on a file, created if missing, WAL mode (feature `sqlite`) |
//! | `sqlite::memory:` | `SqliteStore` in memory (tests) |
//! | `postgres://…` / `postgresql://…` | `PgStore` (feature `postgres`; `sslmode` as libpq reads it, TLS with `postgres-tls`) |
//! | `memory:` | [`MemoryBackend`]: the engine's in-memory store (forgets on restart) |
//!
//! Migrations are `.sql` files under `migrations/sqlite` and `migrations/postgres`,
//! embedded and applied by [`connect`] (idempotent; on PostgreSQL under an advisory lock,
//! so two processes may start at once). Each backend has one file per storage trait.
//!
//! # Tenants
//! Every row belongs to a tenant: one issuer's share of the database. A handle works in
//! one ([`AnyStore::tenant`]; the default tenant unless chosen), so several
//! `AuthorizationServer`s, one per issuer, can share a database without one ever finding
//! another's clients, codes, tokens or users. The expiry purge works across tenants.
//!
//! # Why two drivers
//! SQLite runs on `rusqlite` with one writer thread that commits queued writes in a single
//! transaction (group commit) and answers each request only after its COMMIT returned,
//! plus reader threads of their own: measured here, several times less CPU per write than
//! one sqlx transaction per request. PostgreSQL runs on `sqlx`'s async pool.
//!
//! # At rest
//! Tokens and codes are stored under their selector with only the SHA-256 hash of their
//! verifier; generated client secrets as SHA-256 (they carry 256 bits of entropy), secrets
//! a person chose and user passwords as argon2id, and `client_secret_jwt` secrets sealed
//! under the application's key encryption key. Nothing in a dump can be replayed.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `sqlite` | yes | `SqliteStore` and `sqlite:` URLs (rusqlite, with SQLite compiled in) |
//! | `postgres` | no | `PgStore` and `postgres://` URLs (sqlx, plain TCP or a Unix socket) |
//! | `postgres-tls` | no | `postgres` over TLS (rustls on aws-lc-rs): `?sslmode=require`, `verify-ca` or `verify-full` in the URL, as managed databases ask |
//! | `testing` | no | `testing`: the conformance suite's fixture and a throw-away PostgreSQL schema per test (turns on both backends) |
//!
//! `memory:` (the engine's in-memory store) is always there. A URL whose backend was left
//! out is [`ConnectError::NotCompiledIn`].
//!
//! ```no_run
//! # async fn run() -> Result<(), authgate_sql::ConnectError> {
//! use authgate::{AuthorizationServer, ServerConfig};
//! let store = authgate_sql::connect("sqlite://authgate.db", &authgate_sql::StoreOptions::default()).await?;
//! let server = AuthorizationServer::new(store.stores(), ServerConfig::new("https://auth.example.com"));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

#[macro_use]
mod forward;
mod cached;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod codec;
mod memory;
mod observed;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authgate::{
    AuthorizationCodeStore, ClientRecord, ClientRegistry, ClientStore, Clock, ConsentStore,
    DeviceCodeStore, KeyStore, ReplayCache, SessionStore, StorageError, Stores, TokenStore,
    UserStore,
};

pub use cached::{CacheStats, TokenCacheOptions};
pub use memory::MemoryBackend;
pub use observed::StoreObserver;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A user as the admin side creates it; the password is hashed with argon2id on the way in.
#[derive(Clone)]
pub struct NewUser {
    /// The login name.
    pub username: String,
    /// The stable subject identifier (`sub`).
    pub subject: String,
    /// The password, in clear only until it is hashed.
    pub password: String,
    /// Extra claims (`email`, `name`, …) as a JSON object.
    pub claims: serde_json::Value,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A stored user, without the password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    /// The login name.
    pub username: String,
    /// The subject identifier.
    pub subject: String,
    /// Extra claims.
    pub claims: serde_json::Value,
}

/// An initial access token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessToken {
    /// A short id naming it.
    pub id: String,
    /// What the operator called it.
    pub label: Option<String>,
    /// When it was made, seconds since the epoch.
    pub created_at: i64,
    /// Revoked: no longer accepted (the row stays, see [`Admin::revoke_initial_access_token`]).
    pub revoked: bool,
}

/// Management operations beyond the protocol's storage traits: what the reference
/// server's CLI and start-up use, and the expiry purge.
#[async_trait]
pub trait Admin: Send + Sync {
    /// Creates or replaces a client (the record carries only the secret's hash, or for a
    /// `client_secret_jwt` client its sealed secret): how an application seeds its
    /// clients at start, as the reference server does with its config file's.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use authgate::{ClientRecord, ClientStore};
    /// use authgate_sql::{connect, Admin, StoreOptions};
    ///
    /// let store = connect("sqlite::memory:", &StoreOptions::default()).await?;
    /// // A generated secret (256 bits): show it once, keep only its hash.
    /// let secret = authgate::token::generate_client_secret(&authgate::OsRng);
    /// store
    ///     .upsert_client(
    ///         &ClientRecord::confidential("billing", &secret)
    ///             .grant_types(["client_credentials"])
    ///             .scope("invoices:read"),
    ///     )
    ///     .await?;
    /// assert!(store.find_client("billing").await?.is_some());
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
    /// ```
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError>;
    /// Removes a client, revokes every token issued to it and deletes its codes (as
    /// [`ClientRegistry::delete_client`]); answers whether it existed.
    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError>;
    /// Every client, ordered by id.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError>;
    /// Creates or replaces a user.
    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError>;
    /// Removes a user, revokes every token issued for them, deletes their unredeemed codes
    /// and device approvals, and forgets their consents and sessions; answers whether the user existed. (Call
    /// [`SessionStore::end_sessions_of`] first to learn which sessions to announce in
    /// back-channel logouts.)
    async fn remove_user(&self, username: &str) -> Result<bool, StorageError>;
    /// A user by username.
    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError>;
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<UserInfo>, StorageError>;
    /// Revokes the unrevoked tokens issued to `client_id`, or for the user `subject`, or,
    /// with both, those the client holds for that user, and deletes their authorization
    /// and device codes not yet exchanged (which would buy new tokens), at once; answers
    /// how many tokens it revoked. At least one must be named (neither does nothing).
    /// Consents and sessions stay: this stops what was issued, it forgets no decision.
    /// JWT access tokens are checked offline by resource servers and stay usable there
    /// until they expire; introspection answers them inactive at once.
    async fn revoke_tokens(
        &self,
        client_id: Option<&str>,
        subject: Option<&str>,
    ) -> Result<u64, StorageError>;
    /// A user by subject identifier.
    async fn find_user_by_subject(&self, subject: &str) -> Result<Option<UserInfo>, StorageError>;
    /// A named 256-bit secret shared by every server on this database (e.g. the key that
    /// signs session cookies): created at random on first use, the same bytes after.
    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// Keeps a new initial access token for client registration (RFC 7591 §3) by its hash,
    /// under a short `id` for listing and revocation.
    async fn add_initial_access_token(
        &self,
        token: &InitialAccessToken,
        hash: &authgate::token::SecretHash,
    ) -> Result<(), StorageError>;
    /// The initial access tokens ever made, revoked ones included (without their hashes),
    /// ordered by id.
    async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, StorageError>;
    /// Revokes an initial access token; answers whether a live one of that id existed. The
    /// row stays: once a token was made, registering needs a live one, even after the last
    /// is revoked.
    async fn revoke_initial_access_token(&self, id: &str) -> Result<bool, StorageError>;
    /// Whether a live (unrevoked) initial access token has this hash.
    async fn initial_access_token_valid(
        &self,
        hash: &authgate::token::SecretHash,
    ) -> Result<bool, StorageError>;
    /// Deletes at most `batch` codes, at most `batch` tokens, at most `batch` sessions and
    /// at most `batch` device codes that expired before `now`; answers the most rows that went from one table (a value
    /// of `batch` means there may be more).
    async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StorageError>;
    /// A count that moves whenever a stored token is revoked, or a live one deleted, or a
    /// client changed or deleted, by any writer on the database (this process, another
    /// instance, the CLI, an `UPDATE ... SET revoked` by hand): the cache
    /// ([`AnyStore::cached`]) empties when it moves. Other changes to a token row
    /// (rotation, or a hand-edited expiry or scope) and new clients do not move it.
    /// `None` (the default) when the backend cannot tell, and then no cache is kept over
    /// it.
    async fn token_changes(&self) -> Result<Option<u64>, StorageError> {
        Ok(None)
    }
}

/// Pool sizes and timeouts. The defaults suit a server on a machine of a few cores; start
/// from them and change what a measurement says.
///
/// ```
/// use std::time::Duration;
/// use authgate_sql::StoreOptions;
/// let options = StoreOptions {
///     // A busier PostgreSQL deployment: more connections, a shorter wait before 503.
///     max_connections: 32,
///     acquire_timeout: Duration::from_secs(1),
///     ..StoreOptions::default()
/// };
/// assert_eq!(options.sqlite_readers, 2);
/// ```
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL: the most connections in the pool (default 10).
    pub max_connections: u32,
    /// How long a request may wait for a connection or the database before the endpoint
    /// answers 503 (default 3 s).
    pub acquire_timeout: Duration,
    /// SQLite: reader threads (default 2).
    pub sqlite_readers: usize,
    /// SQLite: the most writes committed in one transaction (default 512).
    pub sqlite_max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            sqlite_readers: 2,
            sqlite_max_batch: 512,
        }
    }
}

/// Why [`connect`] failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names no supported database.
    #[error(
        "unsupported database URL '{0}': use sqlite://PATH, sqlite::memory: or postgres://..."
    )]
    UnsupportedUrl(String),
    /// The URL names a database whose cargo feature this build left out.
    #[error("this build has no {0} support: enable authgate-sql's \"{0}\" feature")]
    NotCompiledIn(&'static str),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Storage(#[from] StorageError),
}

/// Opens the store a URL names and applies the migrations.
///
/// # Errors
/// An unsupported URL, or a database that cannot be opened or migrated.
pub async fn connect(url: &str, options: &StoreOptions) -> Result<AnyStore, ConnectError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(AnyStore::new(PgStore::connect(url, options).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(ConnectError::NotCompiledIn("postgres"));
    }
    if url == "memory:" {
        return Ok(AnyStore::new(MemoryBackend::new()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        }
        #[cfg(feature = "sqlite")]
        return Ok(AnyStore::new(if path == ":memory:" {
            SqliteStore::open_in_memory(options)?
        } else {
            SqliteStore::open(path, options)?
        }));
        #[cfg(not(feature = "sqlite"))]
        return Err(ConnectError::NotCompiledIn("sqlite"));
    }
    let _ = options;
    Err(ConnectError::UnsupportedUrl(url.to_owned()))
}

/// What every backend of this crate is: every protocol storage trait plus [`Admin`], and
/// handles on other tenants of the same database.
pub trait Backend:
    ClientStore
    + AuthorizationCodeStore
    + TokenStore
    + UserStore
    + KeyStore
    + ConsentStore
    + SessionStore
    + DeviceCodeStore
    + ClientRegistry
    + ReplayCache
    + Admin
    + std::fmt::Debug
    + 'static
{
    /// A handle on the same database working in `tenant` (`""` is the default tenant):
    /// one issuer's clients, codes, tokens, users and secrets, invisible to the others.
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend>;

    /// The backend's connections and queues right now, for a metrics gauge. The default
    /// reports nothing (every field 0).
    fn pool_state(&self) -> PoolState {
        PoolState::default()
    }

    /// The token cache's counts, when this backend is (or wraps) one made by
    /// [`AnyStore::cached`]; `None` otherwise (the default).
    fn cache_stats(&self) -> Option<CacheStats> {
        None
    }
}

/// A backend's connections and queues at one moment ([`Backend::pool_state`]).
///
/// PostgreSQL fills `connections`, `idle` and `max_connections` from its pool; SQLite
/// fills `connections` (its writer and readers, all always open; which of them is busy is
/// not tracked, so `idle` is `None`) and the two queues.
///
/// ```
/// use authgate_sql::PoolState;
/// // A backend of one's own reports its pool through `Backend::pool_state`.
/// let state = PoolState::new(4, Some(3), 10).with_queues(0, 0);
/// assert_eq!(state.idle, Some(3));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open now.
    pub connections: u32,
    /// Of those, connections no request is using, when the backend knows.
    pub idle: Option<u32>,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// Writes waiting for the writer (SQLite).
    pub queued_writes: u32,
    /// Reads waiting for a reader (SQLite).
    pub queued_reads: u32,
}

impl PoolState {
    /// Open, idle (when known) and most connections; nothing queued.
    #[must_use]
    pub fn new(connections: u32, idle: Option<u32>, max_connections: u32) -> Self {
        Self {
            connections,
            idle,
            max_connections,
            queued_writes: 0,
            queued_reads: 0,
        }
    }

    /// The same, with writes and reads waiting for a connection.
    #[must_use]
    pub fn with_queues(mut self, queued_writes: u32, queued_reads: u32) -> Self {
        self.queued_writes = queued_writes;
        self.queued_reads = queued_reads;
        self
    }
}

/// Whichever backend [`connect`] opened. Cheap to clone.
///
/// It dereferences to [`Backend`], so every storage and [`Admin`] method is called on it
/// directly; [`Self::stores`] hands the engine its stores.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use authgate::{AuthorizationServer, ServerConfig};
/// let db = authgate_sql::connect("sqlite://authgate.db", &Default::default()).await?;
/// // Two issuers on one database, each seeing only its own rows.
/// let a = AuthorizationServer::new(db.tenant("a").stores(), ServerConfig::new("https://a.example"));
/// let b = AuthorizationServer::new(db.tenant("b").stores(), ServerConfig::new("https://b.example"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AnyStore(Arc<dyn Backend>);

impl AnyStore {
    /// Wraps a backend.
    pub fn new(backend: impl Backend) -> Self {
        Self(Arc::new(backend))
    }

    /// A handle on the same database working in `tenant` (see [`Backend::in_tenant`]).
    #[must_use]
    pub fn tenant(&self, tenant: &str) -> Self {
        Self(self.0.in_tenant(tenant))
    }

    /// The engine's stores, all served by this backend: signing keys, consents and
    /// sessions included.
    pub fn stores(&self) -> Stores {
        Stores::new(self.0.clone(), self.0.clone(), self.0.clone())
            .with_keys(self.0.clone())
            .with_consents(self.0.clone())
            .with_sessions(self.0.clone())
            .with_device_codes(self.0.clone())
            .with_replay_cache(self.0.clone())
            .with_client_registry(self.0.clone())
    }

    /// The backend, shared.
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.0.clone()
    }

    /// The same database, with every storage call reported to `observer` (its name, how
    /// long it took, whether it failed): for store latency and error metrics. Handles from
    /// [`Self::tenant`] on the result report too.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use authgate::StorageError;
    /// use authgate_sql::{connect, StoreObserver};
    ///
    /// struct Failures;
    /// impl StoreObserver for Failures {
    ///     fn observe(&self, operation: &'static str, _took: Duration, result: Result<(), &StorageError>) {
    ///         if let Err(e) = result {
    ///             eprintln!("{operation} failed: {e}");
    ///         }
    ///     }
    /// }
    ///
    /// let store = connect("memory:", &Default::default()).await?.observed(Arc::new(Failures));
    /// assert!(store.list_clients().await?.is_empty());
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
    /// ```
    #[must_use]
    pub fn observed(&self, observer: Arc<dyn StoreObserver>) -> Self {
        Self(Arc::new(observed::Observed {
            inner: self.0.clone(),
            observer,
        }))
    }

    /// The same database, with access tokens and clients kept in bounded in-process
    /// caches, so that Bearer checks and introspection of a token seen recently skip the
    /// database, and so does authenticating a client seen recently.
    ///
    /// The cache never answers what the database would not:
    /// - a revocation through this store (or any handle from [`Self::tenant`] on it)
    ///   removes the entries it affects before it returns, and a client changed or
    ///   removed through it empties the clients kept;
    /// - a revocation or a client's change anywhere else (another instance, the CLI, an
    ///   `UPDATE` by hand) moves the database's count of changes
    ///   ([`Admin::token_changes`], kept by triggers), read every
    ///   [`TokenCacheOptions::poll_interval`]: the cache empties
    ///   when it moved, so such a revocation takes effect here within one interval and
    ///   one read (50 ms and about a millisecond by default);
    /// - the cache answers only while the last successful read of that count began less
    ///   than two intervals ago: when reads fail, time out or hang, it is bypassed (and a
    ///   failed read empties it), so no revocation goes unseen for longer than that
    ///   (100 ms by default);
    /// - every revocation or client change, here or elsewhere, empties the whole cache of
    ///   every instance at its next read: with many revocations a second it helps less;
    /// - only access tokens and clients that exist are kept: refresh tokens, unknown
    ///   selectors and unknown client ids go to the database each time.
    ///
    /// Over a backend that cannot count its changes (`memory:`, which needs no cache, or
    /// one whose [`Admin::token_changes`] answers `None`), nothing is ever cached.
    ///
    /// # Panics
    /// Outside a Tokio runtime: the count is read by a task spawned here.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use authgate_sql::{connect, TokenCacheOptions};
    /// let dir = std::env::temp_dir().join(format!("authgate-cache-doc-{}", std::process::id()));
    /// let url = format!("sqlite://{}", dir.join("authgate.db").display());
    /// # std::fs::create_dir_all(&dir)?;
    /// let store = connect(&url, &Default::default())
    ///     .await?
    ///     .cached(&TokenCacheOptions::default());
    /// // Hand `store.stores()` to the AuthorizationServer as usual.
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
    /// ```
    #[must_use]
    pub fn cached(&self, options: &TokenCacheOptions) -> Self {
        Self(Arc::new(cached::Cached::new(self.0.clone(), options)))
    }
}

impl std::ops::Deref for AnyStore {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl From<AnyStore> for Stores {
    fn from(store: AnyStore) -> Self {
        store.stores()
    }
}

/// Purges expired codes and tokens every `every`, in batches of `batch` rows, until the
/// task is aborted. Errors (an unreachable database) are skipped until the next round.
///
/// Nothing else deletes expired rows: the stores refuse expired codes, tokens, sessions
/// and device codes, but keep them until a purge. An application that never runs one
/// grows its database for ever (the reference server runs this every minute).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use authgate::SystemClock;
/// use authgate_sql::{connect, spawn_purger, StoreOptions};
///
/// let store = connect("sqlite://authgate.db", &StoreOptions::default()).await?;
/// let purger = spawn_purger(store.clone(), Arc::new(SystemClock), Duration::from_secs(60), 1000);
/// // ... serve; on shutdown:
/// purger.abort();
/// # Ok(()) }
/// ```
pub fn spawn_purger(
    store: AnyStore,
    clock: Arc<dyn Clock>,
    every: Duration,
    batch: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match store.purge_expired(clock.now(), batch).await {
                    Ok(n) if n >= batch => tokio::task::yield_now().await,
                    _ => break,
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}
