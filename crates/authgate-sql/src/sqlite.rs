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

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use async_trait::async_trait;
use authgate::token::{Selector, TokenKey};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientStore,
    ResourceOwner, StorageError, TokenRecord, TokenStore, UserStore,
};
use crossbeam_channel::{Receiver, Sender};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tokio::sync::oneshot;

use crate::codec::{
    auth_method_from, challenge_from, hash_from, kind_from_int, kind_to_int, list_to_text,
    selector_from, text_to_list, text_to_scope,
};
use crate::{secret_bytes, Admin, NewUser, StoreOptions, UserInfo};

/// What the writer answers a job with once the batch's COMMIT returned.
type Reply = Box<dyn FnOnce(Result<(), StorageError>) + Send>;
/// A write: runs on the writer's connection inside the open transaction; `None` when the
/// transaction could not be opened, and the job must only produce its (failed) reply.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> Reply + Send>;
/// A read: runs on a reader's connection and answers by itself.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS authgate_clients (
        client_id TEXT PRIMARY KEY,
        secret_hash BLOB,
        client_name TEXT,
        redirect_uris TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        response_types TEXT NOT NULL,
        scope TEXT NOT NULL,
        auth_method TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS authgate_codes (
        selector BLOB PRIMARY KEY,
        verifier_hash BLOB NOT NULL,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        redirect_uri_sent INTEGER NOT NULL,
        scope TEXT NOT NULL,
        subject TEXT NOT NULL,
        username TEXT,
        code_challenge TEXT,
        code_challenge_method TEXT,
        nonce TEXT,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS authgate_codes_expires ON authgate_codes (expires_at);
    CREATE TABLE IF NOT EXISTS authgate_tokens (
        selector BLOB PRIMARY KEY,
        verifier_hash BLOB NOT NULL,
        kind INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        subject TEXT,
        username TEXT,
        scope TEXT NOT NULL,
        grant_type TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        family BLOB NOT NULL,
        revoked INTEGER NOT NULL,
        rotated INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS authgate_tokens_family ON authgate_tokens (family);
    CREATE INDEX IF NOT EXISTS authgate_tokens_expires ON authgate_tokens (expires_at);
    CREATE TABLE IF NOT EXISTS authgate_users (
        username TEXT PRIMARY KEY,
        subject TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        claims TEXT NOT NULL
    );",
    ),
    (
        2,
        "CREATE TABLE IF NOT EXISTS authgate_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);",
    ),
];

/// The SQLite store. Cheap to clone: clones share the writer and readers.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Sender<WriteJob>,
    readers: Option<Sender<ReadJob>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
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
        let wal = {
            let mut p = path.clone().into_os_string();
            p.push("-wal");
            std::path::PathBuf::from(p)
        };
        let _ = thread::Builder::new()
            .name("authgate-sqlite-checkpoint".into())
            .spawn(move || checkpointer(&checkpoints, &wal, &alive));
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
            }),
        }
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

/// Copies the WAL back into the database four times a second while the store lives.
/// PASSIVE never blocks the writer or the readers. Under a steady stream of writes a
/// passive checkpoint never catches the WAL's end, so the WAL could only grow: once it
/// passes `WAL_LIMIT` bytes, one TRUNCATE checkpoint (which holds the writer back for the
/// short remainder the passive rounds left) resets it.
fn checkpointer(conn: &Connection, wal: &Path, alive: &std::sync::Weak<Inner>) {
    while alive.strong_count() > 0 {
        thread::sleep(std::time::Duration::from_millis(250));
        let big = std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_LIMIT);
        let mode = if big { "TRUNCATE" } else { "PASSIVE" };
        // A busy database, or any other failure, only delays the checkpoint to the next
        // round: the thread must outlive errors, or the WAL would grow without bound.
        let _ = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
    }
    // The last handle is gone: leave a small WAL behind.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// The WAL size past which the checkpointer resets it.
const WAL_LIMIT: u64 = 64 * 1024 * 1024;

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
        if let Err(e) = conn.execute_batch("BEGIN") {
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

fn bad_row(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_owned(), rusqlite::types::Type::Blob)
}

const TOKEN_COLUMNS: &str = "selector, verifier_hash, kind, client_id, subject, username, scope, grant_type, issued_at, expires_at, family, revoked, rotated";

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let sel: Vec<u8> = r.get(0)?;
    let hash: Vec<u8> = r.get(1)?;
    let family: Vec<u8> = r.get(10)?;
    let scope: String = r.get(6)?;
    let key = TokenKey {
        selector: selector_from(&sel).ok_or_else(|| bad_row("selector"))?,
        verifier_hash: hash_from(&hash).ok_or_else(|| bad_row("verifier_hash"))?,
    };
    let mut t = TokenRecord::new(
        key,
        kind_from_int(r.get(2)?),
        r.get::<_, String>(3)?,
        r.get::<_, String>(7)?,
        r.get(8)?,
        r.get(9)?,
    );
    t.subject = r.get(4)?;
    t.username = r.get(5)?;
    t.scope = text_to_scope(&scope);
    t.family = selector_from(&family).ok_or_else(|| bad_row("family"))?;
    t.revoked = r.get(11)?;
    t.rotated = r.get(12)?;
    Ok(t)
}

fn insert_tokens(conn: &Connection, tokens: &[TokenRecord]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO authgate_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?;
    for t in tokens {
        stmt.execute(params![
            &t.selector.0[..],
            &t.verifier_hash.0[..],
            kind_to_int(t.kind),
            t.client_id,
            t.subject,
            t.username,
            t.scope.to_string(),
            t.grant_type,
            t.issued_at,
            t.expires_at,
            &t.family.0[..],
            t.revoked,
            t.rotated,
        ])?;
    }
    Ok(())
}

fn client_from_row(r: &Row<'_>) -> rusqlite::Result<ClientRecord> {
    let secret: Option<Vec<u8>> = r.get(1)?;
    let redirect: String = r.get(3)?;
    let grants: String = r.get(4)?;
    let responses: String = r.get(5)?;
    let scope: String = r.get(6)?;
    let method: String = r.get(7)?;
    Ok(ClientRecord {
        client_id: r.get(0)?,
        secret_hash: secret.as_deref().and_then(hash_from),
        client_name: r.get(2)?,
        redirect_uris: text_to_list(&redirect),
        grant_types: text_to_list(&grants),
        response_types: text_to_list(&responses),
        scope: text_to_scope(&scope),
        auth_method: auth_method_from(&method),
    })
}

const CLIENT_COLUMNS: &str =
    "client_id, secret_hash, client_name, redirect_uris, grant_types, response_types, scope, auth_method";

#[async_trait]
impl ClientStore for SqliteStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        let id = client_id.to_owned();
        let c = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE client_id = ?1"
                ))?
                .query_row([id], client_from_row)
                .optional()
            })
            .await?;
        Ok(c.map(|c| Arc::new(c) as Arc<dyn Client>))
    }
}

#[async_trait]
impl AuthorizationCodeStore for SqliteStore {
    async fn save_code(&self, c: AuthorizationCodeRecord) -> Result<(), StorageError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO authgate_codes (selector, verifier_hash, client_id, redirect_uri, redirect_uri_sent, scope, subject, username, code_challenge, code_challenge_method, nonce, issued_at, expires_at, used)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                &c.selector.0[..],
                &c.verifier_hash.0[..],
                c.client_id,
                c.redirect_uri,
                c.redirect_uri_sent,
                c.scope.to_string(),
                c.subject,
                c.username,
                c.code_challenge.as_ref().map(|ch| ch.challenge.clone()),
                c.code_challenge.as_ref().map(|ch| ch.method.as_str()),
                c.nonce,
                c.issued_at,
                c.expires_at,
                c.used,
            ])?;
            Ok(())
        })
        .await
    }

    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        let sel = selector.0;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT selector, verifier_hash, client_id, redirect_uri, redirect_uri_sent, scope, subject, username, code_challenge, code_challenge_method, nonce, issued_at, expires_at, used
                 FROM authgate_codes WHERE selector = ?1",
            )?
            .query_row([&sel[..]], |r| {
                let s: Vec<u8> = r.get(0)?;
                let h: Vec<u8> = r.get(1)?;
                let scope: String = r.get(5)?;
                let key = TokenKey {
                    selector: selector_from(&s).ok_or_else(|| bad_row("selector"))?,
                    verifier_hash: hash_from(&h).ok_or_else(|| bad_row("verifier_hash"))?,
                };
                let mut c = AuthorizationCodeRecord::new(
                    key,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(6)?,
                    r.get(11)?,
                    r.get(12)?,
                );
                c.redirect_uri_sent = r.get(4)?;
                c.scope = text_to_scope(&scope);
                c.username = r.get(7)?;
                c.code_challenge =
                    challenge_from(r.get(8)?, r.get::<_, Option<String>>(9)?.as_deref());
                c.nonce = r.get(10)?;
                c.used = r.get(13)?;
                Ok(c)
            })
            .optional()
        })
        .await
    }

    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError> {
        let sel = selector.0;
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM authgate_codes WHERE selector = ?1")?
                .execute([&sel[..]])?;
            Ok(())
        })
        .await
    }

    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let sel = selector.0;
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_codes SET used = 1 WHERE selector = ?1 AND used = 0",
                )?
                .execute([&sel[..]])?;
            Ok(n == 1)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        let tokens = tokens.to_vec();
        self.write(move |conn| insert_tokens(conn, &tokens)).await
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        let sel = selector.0;
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM authgate_tokens WHERE selector = ?1"
            ))?
            .query_row([&sel[..]], token_from_row)
            .optional()
        })
        .await
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        let sel = selector.0;
        self.write(move |conn| {
            conn.prepare_cached("UPDATE authgate_tokens SET revoked = 1 WHERE selector = ?1")?
                .execute([&sel[..]])?;
            Ok(())
        })
        .await
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let fam = family.0;
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE authgate_tokens SET revoked = 1 WHERE family = ?1 AND revoked = 0",
            )?
            .execute([&fam[..]])?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
    ) -> Result<bool, StorageError> {
        let sel = selector.0;
        let repl = replacements.to_vec();
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_tokens SET rotated = 1 WHERE selector = ?1 AND kind = 1 AND revoked = 0 AND rotated = 0",
                )?
                .execute([&sel[..]])?;
            if n != 1 {
                return Ok(false);
            }
            insert_tokens(conn, &repl)?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        let name = username.to_owned();
        let row: Option<(String, String)> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT subject, password_hash FROM authgate_users WHERE username = ?1",
                )?
                .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
            })
            .await?;
        let Some((subject, hash)) = row else {
            authgate::password::verify_unknown_user(password.to_owned()).await?;
            return Ok(None);
        };
        Ok(authgate::password::verify(hash, password.to_owned())
            .await?
            .then(|| ResourceOwner::new(subject, username)))
    }
}

#[async_trait]
impl Admin for SqliteStore {
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError> {
        let c = client.clone();
        let secret = secret_bytes(&c);
        self.write(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO authgate_clients ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash,
                       client_name = excluded.client_name, redirect_uris = excluded.redirect_uris,
                       grant_types = excluded.grant_types, response_types = excluded.response_types,
                       scope = excluded.scope, auth_method = excluded.auth_method"
                ),
                params![
                    c.client_id,
                    secret,
                    c.client_name,
                    list_to_text(&c.redirect_uris),
                    list_to_text(&c.grant_types),
                    list_to_text(&c.response_types),
                    c.scope.to_string(),
                    c.auth_method.as_str(),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let id = client_id.to_owned();
        self.write(move |conn| {
            Ok(conn.execute("DELETE FROM authgate_clients WHERE client_id = ?1", [id])? == 1)
        })
        .await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CLIENT_COLUMNS} FROM authgate_clients ORDER BY client_id"
            ))?;
            let rows = stmt.query_map([], client_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        let hash = authgate::password::hash(user.password.clone()).await?;
        let (name, subject, claims) = (
            user.username.clone(),
            user.subject.clone(),
            user.claims.to_string(),
        );
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO authgate_users (username, subject, password_hash, claims) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (username) DO UPDATE SET subject = excluded.subject,
                   password_hash = excluded.password_hash, claims = excluded.claims",
                params![name, subject, hash, claims],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_user(&self, username: &str) -> Result<bool, StorageError> {
        let name = username.to_owned();
        self.write(move |conn| {
            // The user's tokens go with the user, in the same transaction.
            conn.execute(
                "UPDATE authgate_tokens SET revoked = 1 WHERE revoked = 0 AND subject =
                 (SELECT subject FROM authgate_users WHERE username = ?1)",
                [&name],
            )?;
            Ok(conn.execute("DELETE FROM authgate_users WHERE username = ?1", [&name])? == 1)
        })
        .await
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        let name = username.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT username, subject, claims FROM authgate_users WHERE username = ?1",
                [name],
                |r| {
                    let claims: String = r.get(2)?;
                    Ok(UserInfo {
                        username: r.get(0)?,
                        subject: r.get(1)?,
                        claims: serde_json::from_str(&claims).unwrap_or_default(),
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let name = name.to_owned();
        let fresh: [u8; 32] = authgate::rng::random_bytes(&authgate::OsRng);
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO authgate_secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, &fresh[..]],
            )?;
            conn.query_row("SELECT value FROM authgate_secrets WHERE name = ?1", [name], |r| r.get(0))
        })
        .await
    }

    async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StorageError> {
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let codes = conn
                .prepare_cached(
                    "DELETE FROM authgate_codes WHERE selector IN
                     (SELECT selector FROM authgate_codes WHERE expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, limit])?;
            let tokens = conn
                .prepare_cached(
                    "DELETE FROM authgate_tokens WHERE selector IN
                     (SELECT selector FROM authgate_tokens WHERE expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, limit])?;
            Ok(codes.max(tokens))
        })
        .await
    }
}
