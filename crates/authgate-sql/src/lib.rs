//! Persistent storage for authgate: SQLite as the embedded default, PostgreSQL for
//! deployments of several stateless servers sharing one database.
//!
//! Both backends implement every authgate storage trait ([`ClientStore`],
//! [`AuthorizationCodeStore`], [`TokenStore`], [`UserStore`]) plus [`Admin`] (client and
//! user management, expiry purges). Pick one by URL with [`connect`]:
//!
//! | URL | store |
//! | --- | --- |
//! | `sqlite://path/to/file.db` (or `sqlite:path`) | [`SqliteStore`] on a file, created if missing, WAL mode |
//! | `sqlite::memory:` | [`SqliteStore`] in memory (tests) |
//! | `postgres://…` / `postgresql://…` | [`PgStore`] |
//! | `memory:` | [`MemoryBackend`]: the engine's in-memory store (forgets on restart) |
//!
//! Migrations are embedded and applied by [`connect`] (idempotent; on PostgreSQL under an
//! advisory lock, so two processes may start at once).
//!
//! # Why two drivers
//! SQLite runs on `rusqlite` with one writer thread that commits queued writes in a single
//! transaction (group commit) and answers each request only after its COMMIT returned,
//! plus reader threads of their own: measured here, several times less CPU per write than
//! one sqlx transaction per request. PostgreSQL runs on `sqlx`'s async pool.
//!
//! # At rest
//! Tokens and codes are stored under their selector with only the SHA-256 hash of their
//! verifier; client secrets as SHA-256 (they are generated with 256 bits of entropy);
//! user passwords as argon2id. Nothing in a dump can be replayed.
//!
//! ```no_run
//! # async fn run() -> Result<(), authgate_sql::ConnectError> {
//! use authgate::{AuthorizationServer, ServerConfig};
//! let store = authgate_sql::connect("sqlite://authgate.db", &authgate_sql::StoreOptions::default()).await?;
//! let server = AuthorizationServer::new(store, ServerConfig::new("https://auth.example.com"));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod codec;
mod memory;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authgate::token::{SecretHash, Selector};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientStore, Clock,
    ResourceOwner, StorageError, TokenRecord, TokenStore, UserStore,
};

pub use memory::MemoryBackend;
pub use postgres::PgStore;
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

/// Management operations beyond the protocol's storage traits: what the reference
/// server's CLI and start-up use, and the expiry purge.
#[async_trait]
pub trait Admin: Send + Sync {
    /// Creates or replaces a client (the record carries only the secret's hash).
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError>;
    /// Removes a client; answers whether it existed.
    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError>;
    /// Every client, ordered by id.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError>;
    /// Creates or replaces a user.
    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError>;
    /// Removes a user and revokes every token issued for them; answers whether the user
    /// existed.
    async fn remove_user(&self, username: &str) -> Result<bool, StorageError>;
    /// A user by username.
    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError>;
    /// A named 256-bit secret shared by every server on this database (e.g. the key that
    /// signs session cookies): created at random on first use, the same bytes after.
    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// Deletes at most `batch` codes and at most `batch` tokens that expired before `now`;
    /// answers how many rows went.
    async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StorageError>;
}

/// Pool sizes and timeouts.
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
        return Ok(AnyStore::Postgres(PgStore::connect(url, options).await?));
    }
    if url == "memory:" {
        return Ok(AnyStore::Memory(MemoryBackend::new()));
    }
    if url == "sqlite::memory:" || url == "sqlite://:memory:" {
        return Ok(AnyStore::Sqlite(SqliteStore::open_in_memory(options)?));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        }
        return Ok(AnyStore::Sqlite(SqliteStore::open(path, options)?));
    }
    Err(ConnectError::UnsupportedUrl(url.to_owned()))
}

/// Either backend, chosen at run time by [`connect`].
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
    /// In memory.
    Memory(MemoryBackend),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
            AnyStore::Memory($s) => $e,
        }
    };
}

#[async_trait]
impl ClientStore for AnyStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        delegate!(self, s => s.find_client(client_id).await)
    }
}

#[async_trait]
impl AuthorizationCodeStore for AnyStore {
    async fn save_code(&self, code: AuthorizationCodeRecord) -> Result<(), StorageError> {
        delegate!(self, s => s.save_code(code).await)
    }
    async fn find_code(
        &self,
        sel: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        delegate!(self, s => s.find_code(sel).await)
    }
    async fn consume_code(&self, sel: &Selector) -> Result<bool, StorageError> {
        delegate!(self, s => s.consume_code(sel).await)
    }
    async fn remove_code(&self, sel: &Selector) -> Result<(), StorageError> {
        delegate!(self, s => s.remove_code(sel).await)
    }
}

#[async_trait]
impl TokenStore for AnyStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        delegate!(self, s => s.save_tokens(tokens).await)
    }
    async fn find_token(&self, sel: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        delegate!(self, s => s.find_token(sel).await)
    }
    async fn revoke_token(&self, sel: &Selector) -> Result<(), StorageError> {
        delegate!(self, s => s.revoke_token(sel).await)
    }
    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        delegate!(self, s => s.revoke_family(family).await)
    }
    async fn rotate_refresh_token(
        &self,
        sel: &Selector,
        repl: &[TokenRecord],
    ) -> Result<bool, StorageError> {
        delegate!(self, s => s.rotate_refresh_token(sel, repl).await)
    }
}

#[async_trait]
impl UserStore for AnyStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        delegate!(self, s => s.authenticate_user(username, password).await)
    }
}

#[async_trait]
impl Admin for AnyStore {
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError> {
        delegate!(self, s => s.upsert_client(client).await)
    }
    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        delegate!(self, s => s.remove_client(client_id).await)
    }
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        delegate!(self, s => s.list_clients().await)
    }
    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        delegate!(self, s => s.upsert_user(user).await)
    }
    async fn remove_user(&self, username: &str) -> Result<bool, StorageError> {
        delegate!(self, s => s.remove_user(username).await)
    }
    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        delegate!(self, s => s.find_user(username).await)
    }
    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        delegate!(self, s => s.shared_secret(name).await)
    }
    async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StorageError> {
        delegate!(self, s => s.purge_expired(now, batch).await)
    }
}

/// Purges expired codes and tokens every `every`, in batches of `batch` rows, until the
/// task is aborted. Errors (an unreachable database) are skipped until the next round.
pub fn spawn_purger<S>(
    store: S,
    clock: Arc<dyn Clock>,
    every: Duration,
    batch: usize,
) -> tokio::task::JoinHandle<()>
where
    S: Admin + 'static,
{
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

/// The secret hash column of a client record.
pub(crate) fn secret_bytes(client: &ClientRecord) -> Option<Vec<u8>> {
    client.secret_hash.map(|h: SecretHash| h.0.to_vec())
}
