//! PostgreSQL on sqlx's async pool: for several stateless authgate servers sharing one
//! database. Every protocol operation that must be atomic is one statement or one
//! transaction; concurrent servers coordinate through row locks, never through memory.
//!
//! One file per storage trait: [`clients`](self::clients), [`codes`](self::codes),
//! [`tokens`](self::tokens), [`keys`](self::keys), [`users`](self::users),
//! [`admin`](self::admin).

mod admin;
mod clients;
mod codes;
mod consents;
mod device_codes;
mod keys;
mod registry;
mod replay;
mod sessions;
mod tokens;
mod users;

use std::fmt;
use std::sync::Arc;

use authgate::token::Selector;
use authgate::{StorageError, TokenRecord};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Postgres;
use tokio::sync::{mpsc, oneshot};

use crate::{Backend, PoolState, StoreOptions};

impl Backend for PgStore {
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend> {
        Arc::new(self.tenant(tenant))
    }

    fn pool_state(&self) -> PoolState {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        PoolState::new(
            self.pool.size(),
            Some(idle),
            self.pool.options().get_max_connections(),
        )
    }
}

/// The key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x6175_7468_6761_7465; // "authgate"

/// The migrations, in order: embedded `.sql` files.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_secrets.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_tenants.sql"),
    ),
    (4, include_str!("../../migrations/postgres/0004_keys.sql")),
    (5, include_str!("../../migrations/postgres/0005_openid.sql")),
    (
        6,
        include_str!("../../migrations/postgres/0006_device_codes.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_initial_access_tokens.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_refresh_grace.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_replay_cache.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_token_changes.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_client_changes.sql"),
    ),
];

/// The PostgreSQL store. Cheap to clone: clones share the pool.
///
/// A handle works in one tenant (one issuer's share of the database): the default tenant
/// unless [`Self::tenant`] picked another. Nothing of one tenant is found through another's
/// handle.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    batcher: mpsc::UnboundedSender<SaveJob>,
    revoker: mpsc::UnboundedSender<RevokeJob>,
    tenant: Arc<str>,
}

/// A request waiting for the next batch of one kind of token write (`T`: the tokens to
/// insert, or the selector to revoke), with where its outcome goes.
pub(super) struct Job<T> {
    pub(super) tenant: Arc<str>,
    pub(super) work: T,
    reply: oneshot::Sender<Result<(), StorageError>>,
}

/// New tokens waiting for the next batched INSERT.
pub(super) type SaveJob = Job<Vec<TokenRecord>>;

/// One token waiting for the next batched revocation.
pub(super) type RevokeJob = Job<Selector>;

/// A kind of token write done for a whole batch of requests in one statement.
pub(super) trait BatchWork: Sized + Send + Sync + 'static {
    /// Does the work of `jobs` in one statement (one commit).
    fn execute<'a>(
        pool: &'a PgPool,
        jobs: &'a [Job<Self>],
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'a;
}

/// Writers that each take every queued request of one kind, do them in one statement (one
/// commit, one WAL flush for the lot) and answer each request once it committed: group
/// commit, as the SQLite writer does. Two run at once: one batch's flush overlaps the next
/// batch's gathering, and a batch that waits on a row lock held elsewhere (a long
/// transaction touching a token) holds up that batch only.
///
/// For token saves this is one multi-row INSERT. For revocations it is one UPDATE, and one
/// move of the change count: its row is locked by every revoking transaction until it
/// commits, so one transaction per revocation would queue them all behind each other's
/// WAL flush.
fn spawn_writers<T: BatchWork>(pool: &PgPool) -> mpsc::UnboundedSender<Job<T>> {
    let (tx, rx) = mpsc::unbounded_channel::<Job<T>>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..2 {
        let (pool, rx) = (pool.clone(), rx.clone());
        tokio::spawn(async move {
            loop {
                let mut jobs = Vec::new();
                {
                    let mut rx = rx.lock().await;
                    let Some(first) = rx.recv().await else { return };
                    jobs.push(first);
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                }
                run_batch(&pool, jobs).await;
            }
        });
    }
    tx
}

/// Save requests gathered into one INSERT at most (15 bind parameters a row, two rows a
/// request, stays far below PostgreSQL's 65,535), and revocations into one UPDATE.
const MAX_BATCH: usize = 256;

/// Does one batch and answers its requests. A failed statement (one bad row, a deadlock
/// between the two writers) is retried one request at a time, so only the request at
/// fault fails; an outage is every request's answer.
async fn run_batch<T: BatchWork>(pool: &PgPool, jobs: Vec<Job<T>>) {
    match T::execute(pool, &jobs).await {
        Err(e) if jobs.len() > 1 && !matches!(e, StorageError::Unavailable(_)) => {
            for j in jobs {
                let r = T::execute(pool, std::slice::from_ref(&j)).await;
                let _ = j.reply.send(r);
            }
        }
        Ok(()) => {
            for j in jobs {
                let _ = j.reply.send(Ok(()));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for j in jobs {
                let err: Box<dyn std::error::Error + Send + Sync> = msg.clone().into();
                let _ = j.reply.send(Err(match &e {
                    StorageError::Unavailable(_) => StorageError::Unavailable(err),
                    StorageError::InvalidValue(m) => StorageError::InvalidValue(m.clone()),
                    _ => StorageError::Other(err),
                }));
            }
        }
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("tenant", &self.tenant)
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects a pool and applies the migrations (under an advisory lock).
    ///
    /// # Errors
    /// The database is unreachable, or a migration fails.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StorageError> {
        let pool = Self::pool_options()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(classify)?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// How long a pooled connection may sit idle before [`Self::pool_options`]'s pool
    /// checks it with a round trip before use.
    pub const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(10);

    /// The pool settings [`Self::connect`] starts from, for a pool of your own passed to
    /// [`Self::from_pool`]: sqlx's defaults, except that a connection is checked with a
    /// round trip before use only when it has sat idle for
    /// [`IDLE_BEFORE_PING`](Self::IDLE_BEFORE_PING) or more.
    ///
    /// By default sqlx checks every connection it hands out: one more round trip per
    /// statement, which made a token lookup a fifth slower and cost PostgreSQL a fifth more
    /// CPU (`authgate-bench pgdriver`, BENCHMARKS.md). sqlx still checks each
    /// connection when it comes back to the pool, and closes it when that fails.
    ///
    /// The price: a connection the database dropped (a restart, a failover,
    /// `pg_terminate_backend`, a proxy's idle timeout shorter than
    /// [`IDLE_BEFORE_PING`](Self::IDLE_BEFORE_PING)) while it sat in the pool fails the
    /// one statement that next uses it with [`StorageError::Unavailable`] (endpoints
    /// answer 503); for a batched write, every request in that batch gets the 503. The
    /// next statement gets a fresh connection.
    ///
    /// ```
    /// use authgate_sql::PgStore;
    ///
    /// let options = PgStore::pool_options().max_connections(20);
    /// assert_eq!(options.get_max_connections(), 20);
    /// ```
    #[must_use]
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Self::IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// A store over an existing pool; call [`Self::migrate`] before use.
    ///
    /// # Panics
    /// Outside a Tokio runtime: the store starts its batched token writers on it.
    pub fn from_pool(pool: PgPool) -> Self {
        let batcher = spawn_writers(&pool);
        let revoker = spawn_writers(&pool);
        Self {
            pool,
            batcher,
            revoker,
            tenant: Arc::from(""),
        }
    }

    /// A handle on the same pool working in `tenant` (`""` is the default tenant).
    #[must_use]
    pub fn tenant(&self, tenant: &str) -> Self {
        Self {
            tenant: Arc::from(tenant),
            ..self.clone()
        }
    }

    /// Queues `work` for the next batch of its kind and waits for its outcome.
    async fn hand_over<T: BatchWork>(
        &self,
        queue: &mpsc::UnboundedSender<Job<T>>,
        work: T,
    ) -> Result<(), StorageError> {
        let stopped = || StorageError::Unavailable("the token writers have stopped".into());
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: self.tenant.clone(),
            work,
            reply,
        };
        queue.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The tenant this handle works in.
    pub fn tenant_name(&self) -> &str {
        &self.tenant
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations. Safe when several processes start at once: they take
    /// a transaction-scoped advisory lock, so one migrates and the others then see the
    /// versions recorded.
    ///
    /// # Errors
    /// The database is unreachable, or a migration fails.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS authgate_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        for (version, sql) in MIGRATIONS {
            let done = sqlx::query("SELECT 1 FROM authgate_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            if done.is_none() {
                sqlx::raw_sql(sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                sqlx::query("INSERT INTO authgate_migrations (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
        }
        tx.commit().await.map_err(classify)
    }
}

/// A transaction-scoped advisory lock per token family (keyed by the selector's last,
/// random, eight bytes): serialises a rotation of the family with its revocation.
async fn family_lock(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    family: &Selector,
) -> Result<(), StorageError> {
    let mut key = [0u8; 8];
    key.copy_from_slice(&family.0[8..16]);
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(i64::from_be_bytes(key))
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    Ok(())
}

/// Whether PostgreSQL's `text` (and `jsonb`) can hold `value`: they refuse NUL. No stored
/// row can equal a value they cannot hold, so a lookup by one answers "not found" without
/// asking the database (which would answer an error).
fn holdable(value: &str) -> bool {
    !value.contains('\0')
}

/// A save of a value PostgreSQL cannot hold.
fn unholdable(what: &str) -> StorageError {
    StorageError::InvalidValue(format!(
        "{what} holds a NUL character, which PostgreSQL cannot store"
    ))
}

/// Connection-level failures, timeouts and server shutdowns are outages (503); a value the
/// database's types refuse (a NUL in `text`, `\u0000` in `jsonb`: SQLSTATE 22021, 22P05) is
/// the request's fault; the rest are errors.
fn classify(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        if db.code().is_some_and(|c| c == "22021" || c == "22P05") {
            return StorageError::InvalidValue(db.message().to_owned());
        }
    }
    let outage = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            // 08: connection exception; 57P: operator intervention (shutdown, terminated);
            // 53300: too many connections.
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        }),
        _ => false,
    };
    if outage {
        StorageError::Unavailable(Box::new(e))
    } else {
        StorageError::Other(Box::new(e))
    }
}

/// A row the codec could not read.
fn malformed(e: crate::codec::Malformed) -> StorageError {
    StorageError::Other(Box::new(e))
}

/// A column that could not be read.
fn column(e: sqlx::Error) -> StorageError {
    StorageError::Other(Box::new(e))
}
