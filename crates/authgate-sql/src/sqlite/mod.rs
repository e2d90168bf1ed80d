//! SQLite on rusqlite: one group-commit writer thread, reader threads of their own.
//!
//! Every write is a job sent to the writer. The writer takes the first job, opens a
//! transaction, runs that job and every job already queued behind it (up to
//! `sqlite_max_batch`), each inside its own SAVEPOINT so one failing job cannot spoil the
//! others, commits once, and only then answers every job. So a request is answered only
//! once its data is committed, and a burst of N writes costs one commit instead of N.
//! Reads go to reader threads with their own connections (WAL lets them read while the
//! writer writes). An in-memory database has a single connection, so there reads go to the
//! writer too.
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
use std::path::Path;
use std::sync::Arc;
use std::thread;

use authgate::StorageError;
use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::{Backend, PoolState, StoreOptions};

impl Backend for SqliteStore {
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend> {
        Arc::new(self.tenant(tenant))
    }

    fn pool_state(&self) -> PoolState {
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        PoolState::new(self.inner.connections, None, self.inner.connections).with_queues(
            len(self.inner.writer.len()),
            len(self.inner.readers.as_ref().map_or(0, Sender::len)),
        )
    }
}

/// What the writer answers a job with once the batch's COMMIT returned.
type Reply = Box<dyn FnOnce(Result<(), StorageError>) + Send>;
/// A write: runs on the writer's connection inside the open transaction; `None` when the
/// transaction could not be opened, and the job must only produce its (failed) reply.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> Reply + Send>;
/// A read: runs on a reader's connection and answers by itself.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// The migrations, in order: embedded `.sql` files.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_secrets.sql")),
    (3, include_str!("../../migrations/sqlite/0003_tenants.sql")),
    (4, include_str!("../../migrations/sqlite/0004_keys.sql")),
    (5, include_str!("../../migrations/sqlite/0005_openid.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_device_codes.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_initial_access_tokens.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_refresh_grace.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_replay_cache.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_token_changes.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_client_changes.sql"),
    ),
];

/// The SQLite store. Cheap to clone: clones share the writer and readers.
///
/// A handle works in one tenant (one issuer's share of the database): the default tenant
/// unless [`Self::tenant`] picked another. Nothing of one tenant is found through another's
/// handle.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    tenant: Arc<str>,
}

struct Inner {
    writer: Sender<WriteJob>,
    readers: Option<Sender<ReadJob>>,
    /// The writer's and the readers' connections.
    connections: u32,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("tenant", &self.tenant)
            .field("readers", &self.inner.readers.is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) a database file in WAL mode and applies migrations.
    ///
    /// # Errors
    /// The file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self, StorageError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Other(Box::new(e)))?;
        }
        create_private(&path)?;
        let writer = Connection::open(&path).map_err(other)?;
        configure(&writer, options)?;
        // Checkpoints move off the writer (see `checkpointer`): a COMMIT never waits for
        // one, which keeps the token endpoint's tail latency low.
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(other)?;
        migrate(&writer)?;
        let checkpoints = Connection::open(&path).map_err(other)?;
        configure(&checkpoints, options)?;
        let mut reader_conns = Vec::new();
        for _ in 0..options.sqlite_readers.max(1) {
            let c = Connection::open(&path).map_err(other)?;
            configure(&c, options)?;
            reader_conns.push(c);
        }
        let store = Self::start(writer, reader_conns, options.sqlite_max_batch);
        let alive = Arc::downgrade(&store.inner);
        let _ = thread::Builder::new()
            .name("authgate-sqlite-checkpoint".into())
            .spawn(move || checkpointer(&checkpoints, &alive));
        Ok(store)
    }

    /// An in-memory database (for tests): one connection serves reads and writes.
    ///
    /// # Errors
    /// SQLite cannot allocate the database.
    pub fn open_in_memory(options: &StoreOptions) -> Result<Self, StorageError> {
        let writer = Connection::open_in_memory().map_err(other)?;
        configure(&writer, options)?;
        migrate(&writer)?;
        Ok(Self::start(writer, Vec::new(), options.sqlite_max_batch))
    }

    fn start(writer: Connection, readers: Vec<Connection>, max_batch: usize) -> Self {
        let (wtx, wrx) = crossbeam_channel::unbounded::<WriteJob>();
        let connections = u32::try_from(readers.len() + 1).unwrap_or(u32::MAX);
        let read_tx = if readers.is_empty() {
            None
        } else {
            let (rtx, rrx) = crossbeam_channel::unbounded::<ReadJob>();
            for (i, conn) in readers.into_iter().enumerate() {
                let rrx: Receiver<ReadJob> = rrx.clone();
                let _ = thread::Builder::new()
                    .name(format!("authgate-sqlite-reader-{i}"))
                    .spawn(move || {
                        while let Ok(job) = rrx.recv() {
                            job(&conn);
                        }
                    });
            }
            Some(rtx)
        };
        let _ = thread::Builder::new()
            .name("authgate-sqlite-writer".into())
            .spawn(move || writer_loop(&writer, &wrx, max_batch.max(1)));
        Self {
            inner: Arc::new(Inner {
                writer: wtx,
                readers: read_tx,
                connections,
            }),
            tenant: Arc::from(""),
        }
    }

    /// A handle on the same database working in `tenant` (`""` is the default tenant).
    #[must_use]
    pub fn tenant(&self, tenant: &str) -> Self {
        Self {
            inner: self.inner.clone(),
            tenant: Arc::from(tenant),
        }
    }

    /// The tenant this handle works in.
    pub fn tenant_name(&self) -> &str {
        &self.tenant
    }

    /// Runs a write in the writer's next batch; answers after the batch committed.
    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StorageError>>();
        let job: WriteJob = Box::new(move |conn: Option<&Connection>| {
            let result = match conn {
                Some(conn) => in_savepoint(conn, f),
                None => Err(StorageError::Unavailable(
                    "the SQLite transaction could not be opened".into(),
                )),
            };
            Box::new(move |commit: Result<(), StorageError>| {
                let _ = tx.send(commit.and(result));
            })
        });
        self.inner.writer.send(job).map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    /// Runs a read on a reader thread (or the writer, in memory).
    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let Some(readers) = &self.inner.readers else {
            return self.write(f).await;
        };
        let (tx, rx) = oneshot::channel::<Result<T, StorageError>>();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn).map_err(classify));
        });
        readers.send(job).map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }
}

/// Copies the WAL back into the database while the store lives: four times a second
/// while little is written, every 5 ms while the WAL holds more than `BUSY_WAL` bytes
/// written since it last started over. PASSIVE never blocks the writer or the readers. The writer starts the
/// WAL over from its beginning only when a checkpoint has caught up with its end, which
/// under a steady stream of writes never happens: past `RESTART_WAL` bytes, one RESTART
/// checkpoint holds the writer back for the remainder the frequent passive rounds left
/// (a few milliseconds of writes), so the next commit starts the WAL over. RESTART, not
/// TRUNCATE: the file is written over in place (and cut to `journal_size_limit` at the
/// restart), where truncating it and growing it again held the writer for 30 to 90 ms
/// at saturation, which was the token endpoint's p99 on SQLite.
///
/// A RESTART waits for the writer's lock and then for readers still on the old WAL (a
/// backup, a long query by hand), as long as any lock wait of the store
/// (`acquire_timeout`), holding the writer while it waits for readers. After a restart
/// that could not finish, the next one waits twice as long to be tried (250 ms up to
/// 8 s), so a long reader costs the writer a stall now and then, never a siege; the WAL
/// grows meanwhile, as it must while a reader needs its old pages.
// The monotonic clock times the back-off between restarts; no time of day is read.
#[allow(clippy::disallowed_methods)]
fn checkpointer(conn: &Connection, alive: &std::sync::Weak<Inner>) {
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    // The WAL's length since it last started over, as of the last round; its frame
    // count then.
    let (mut length, mut last_frames) = (0_i64, -1_i64);
    let mut backoff = std::time::Duration::ZERO;
    let mut next_restart = std::time::Instant::now();
    while alive.strong_count() > 0 {
        let pause = if length > BUSY_WAL { 5 } else { 250 };
        thread::sleep(std::time::Duration::from_millis(pause));
        let restart = length > RESTART_WAL && std::time::Instant::now() >= next_restart;
        let mode = if restart { "RESTART" } else { "PASSIVE" };
        // A busy database, or any other failure, only delays the checkpoint to the next
        // round: the thread must outlive errors, or the WAL would grow without bound.
        let round = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        let Ok((busy, frames, copied)) = round else {
            continue;
        };
        length = frames.max(0).saturating_mul(page);
        if frames == copied && frames == last_frames {
            // Caught up with no commit since the last round: the next commit starts the
            // WAL over, whatever its length (the frame count shows the old end until
            // then). A round that caught up while commits go on says nothing of the kind:
            // the writer's next transaction may have begun on the old WAL already.
            length = 0;
        }
        last_frames = frames;
        if restart {
            backoff = if busy == 0 {
                std::time::Duration::ZERO
            } else {
                (backoff * 2).clamp(
                    std::time::Duration::from_millis(250),
                    std::time::Duration::from_secs(8),
                )
            };
            next_restart = std::time::Instant::now() + backoff;
        }
    }
    // The last handle is gone: leave a small WAL behind.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// Past this many bytes in the WAL the checkpointer runs every 5 ms.
const BUSY_WAL: i64 = 16 * 1024 * 1024;

/// Past this many bytes in the WAL the checkpointer starts it over (RESTART).
const RESTART_WAL: i64 = 32 * 1024 * 1024;

fn configure(conn: &Connection, options: &StoreOptions) -> Result<(), StorageError> {
    conn.busy_timeout(options.acquire_timeout).map_err(other)?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .map_err(other)
}

fn migrate(conn: &Connection) -> Result<(), StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS authgate_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(other)?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> = conn
            .query_row(
                "SELECT version FROM authgate_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()
            .map_err(other)?;
        if done.is_none() {
            // BEGIN IMMEDIATE takes the write lock, so two processes migrating the same file
            // run one after the other, and the second finds the version recorded.
            conn.execute_batch("BEGIN IMMEDIATE").map_err(other)?;
            let res = (|| {
                let again: Option<i64> = conn
                    .query_row(
                        "SELECT version FROM authgate_migrations WHERE version = ?1",
                        [version],
                        |r| r.get(0),
                    )
                    .optional()?;
                if again.is_none() {
                    conn.execute_batch(sql)?;
                    conn.execute(
                        "INSERT INTO authgate_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
                        [version],
                    )?;
                }
                Ok::<(), rusqlite::Error>(())
            })();
            match res {
                Ok(()) => conn.execute_batch("COMMIT").map_err(other)?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(other(e));
                }
            }
        }
    }
    Ok(())
}

fn writer_loop(conn: &Connection, jobs: &Receiver<WriteJob>, max_batch: usize) {
    while let Ok(first) = jobs.recv() {
        // IMMEDIATE: the write lock is taken now, under the busy timeout. A deferred
        // transaction whose first job only reads (a job that reads, then writes) would have
        // to upgrade later, and an upgrade after the checkpointer reset the WAL fails at once
        // with SQLITE_BUSY_SNAPSHOT instead of waiting.
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // The transaction could not start: run nothing, answer the error.
            first(None)(Err(StorageError::Unavailable(Box::new(e))));
            continue;
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(16);
        replies.push(first(Some(conn)));
        while replies.len() < max_batch && !conn.is_autocommit() {
            match jobs.try_recv() {
                Ok(job) => replies.push(job(Some(conn))),
                Err(_) => break,
            }
        }
        // A job can end the transaction itself (SQLite rolls back on a full disk or an I/O
        // error): then nothing of the batch was kept, and every job hears so. Jobs still
        // queued run in the next batch, never outside a transaction.
        let commit = if conn.is_autocommit() {
            Err(StorageError::Unavailable(
                "the SQLite transaction was rolled back".into(),
            ))
        } else {
            conn.execute_batch("COMMIT").map_err(classify)
        };
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(StorageError::Unavailable(e.to_string().into())),
            });
        }
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, StorageError> {
    conn.execute_batch("SAVEPOINT job").map_err(classify)?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE job").map_err(classify)?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(classify(e))
        }
    }
}

fn other(e: rusqlite::Error) -> StorageError {
    StorageError::Other(Box::new(e))
}

/// Busy or locked databases and I/O failures are outages (503); the rest are errors.
fn classify(e: rusqlite::Error) -> StorageError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(
            C::DatabaseBusy | C::DatabaseLocked | C::SystemIoFailure | C::CannotOpen | C::DiskFull,
        ) => StorageError::Unavailable(Box::new(e)),
        _ => StorageError::Other(Box::new(e)),
    }
}

fn writer_gone() -> StorageError {
    StorageError::Unavailable("the SQLite writer thread has stopped".into())
}

/// Creates the database file readable by its owner only (0600) when it does not exist yet:
/// it holds token hashes, client secrets' hashes and sealed keys. SQLite gives its `-wal`
/// and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StorageError::Other(Box::new(e))),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A row the codec could not read, as a rusqlite error (so it travels like one).
fn malformed(e: crate::codec::Malformed) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
}
