//! PostgreSQL on sqlx's async pool: for several stateless authgate servers sharing one
//! database. Every protocol operation that must be atomic is one statement or one
//! transaction; concurrent servers coordinate through row locks, never through memory.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use authgate::token::{Selector, TokenKey};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientStore,
    ResourceOwner, StorageError, TokenRecord, TokenStore, UserStore,
};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{
    auth_method_from, challenge_from, hash_from, kind_from_int, kind_to_int, list_to_text,
    selector_from, text_to_list, text_to_scope,
};
use crate::{secret_bytes, Admin, NewUser, StoreOptions, UserInfo};

/// The key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x6175_7468_6761_7465; // "authgate"

const MIGRATIONS: &[(i64, &str)] = &[
    (
    1,
    "CREATE TABLE IF NOT EXISTS authgate_clients (
        client_id TEXT PRIMARY KEY,
        secret_hash BYTEA,
        client_name TEXT,
        redirect_uris TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        response_types TEXT NOT NULL,
        scope TEXT NOT NULL,
        auth_method TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS authgate_codes (
        selector BYTEA PRIMARY KEY,
        verifier_hash BYTEA NOT NULL,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        redirect_uri_sent BOOLEAN NOT NULL,
        scope TEXT NOT NULL,
        subject TEXT NOT NULL,
        username TEXT,
        code_challenge TEXT,
        code_challenge_method TEXT,
        nonce TEXT,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used BOOLEAN NOT NULL
    );
    CREATE INDEX IF NOT EXISTS authgate_codes_expires ON authgate_codes (expires_at);
    CREATE TABLE IF NOT EXISTS authgate_tokens (
        selector BYTEA PRIMARY KEY,
        verifier_hash BYTEA NOT NULL,
        kind SMALLINT NOT NULL,
        client_id TEXT NOT NULL,
        subject TEXT,
        username TEXT,
        scope TEXT NOT NULL,
        grant_type TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        family BYTEA NOT NULL,
        revoked BOOLEAN NOT NULL,
        rotated BOOLEAN NOT NULL
    );
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
        "CREATE TABLE IF NOT EXISTS authgate_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);",
    ),
];

const TOKEN_COLUMNS: &str = "selector, verifier_hash, kind, client_id, subject, username, scope, grant_type, issued_at, expires_at, family, revoked, rotated";
const CLIENT_COLUMNS: &str =
    "client_id, secret_hash, client_name, redirect_uris, grant_types, response_types, scope, auth_method";

/// The PostgreSQL store. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    batcher: mpsc::UnboundedSender<SaveJob>,
}

/// New tokens waiting for the next batched INSERT.
struct SaveJob {
    tokens: Vec<TokenRecord>,
    reply: oneshot::Sender<Result<(), StorageError>>,
}

/// Writers that each take every queued token save, write them in one multi-row INSERT (one
/// commit, one WAL flush for the lot), and answer each request once it committed: group
/// commit, as the SQLite writer does. Two run at once, so one batch's flush overlaps the
/// next batch's gathering.
fn spawn_batchers(pool: &PgPool) -> mpsc::UnboundedSender<SaveJob> {
    let (tx, rx) = mpsc::unbounded_channel::<SaveJob>();
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
                write_batch(&pool, jobs).await;
            }
        });
    }
    tx
}

/// Save requests gathered into one INSERT at most (13 bind parameters a row stays far
/// below PostgreSQL's 65,535).
const MAX_BATCH: usize = 256;

async fn write_batch(pool: &PgPool, jobs: Vec<SaveJob>) {
    let all: Vec<&TokenRecord> = jobs.iter().flat_map(|j| j.tokens.iter()).collect();
    let result = insert_tokens_query(all.iter().copied())
        .build()
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(classify);
    match result {
        Ok(()) => {
            for j in jobs {
                let _ = j.reply.send(Ok(()));
            }
        }
        // One bad row fails the statement: retry each request alone, so only it fails.
        Err(e) if jobs.len() > 1 && !matches!(e, StorageError::Unavailable(_)) => {
            for j in jobs {
                let r = insert_tokens_query(j.tokens.iter())
                    .build()
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .map_err(classify);
                let _ = j.reply.send(r);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            let unavailable = matches!(e, StorageError::Unavailable(_));
            for j in jobs {
                let err: Box<dyn std::error::Error + Send + Sync> = msg.clone().into();
                let _ = j.reply.send(Err(if unavailable {
                    StorageError::Unavailable(err)
                } else {
                    StorageError::Other(err)
                }));
            }
        }
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
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
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(classify)?;
        let store = Self::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// A store over an existing pool; call [`Self::migrate`] before use.
    ///
    /// # Panics
    /// Outside a Tokio runtime: the store starts its batched token writers on it.
    pub fn from_pool(pool: PgPool) -> Self {
        let batcher = spawn_batchers(&pool);
        Self { pool, batcher }
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

/// Connection-level failures, timeouts and server shutdowns are outages (503); the rest
/// are errors.
fn classify(e: sqlx::Error) -> StorageError {
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

fn decode(what: &str) -> StorageError {
    StorageError::Other(format!("malformed {what} in the database").into())
}

fn token_from_row(r: &PgRow) -> Result<TokenRecord, StorageError> {
    let get_err = |e: sqlx::Error| StorageError::Other(Box::new(e));
    let sel: Vec<u8> = r.try_get("selector").map_err(get_err)?;
    let hash: Vec<u8> = r.try_get("verifier_hash").map_err(get_err)?;
    let family: Vec<u8> = r.try_get("family").map_err(get_err)?;
    let scope: String = r.try_get("scope").map_err(get_err)?;
    let kind: i16 = r.try_get("kind").map_err(get_err)?;
    let key = TokenKey {
        selector: selector_from(&sel).ok_or_else(|| decode("selector"))?,
        verifier_hash: hash_from(&hash).ok_or_else(|| decode("verifier_hash"))?,
    };
    let mut t = TokenRecord::new(
        key,
        kind_from_int(i64::from(kind)),
        r.try_get::<String, _>("client_id").map_err(get_err)?,
        r.try_get::<String, _>("grant_type").map_err(get_err)?,
        r.try_get("issued_at").map_err(get_err)?,
        r.try_get("expires_at").map_err(get_err)?,
    );
    t.subject = r.try_get("subject").map_err(get_err)?;
    t.username = r.try_get("username").map_err(get_err)?;
    t.scope = text_to_scope(&scope);
    t.family = selector_from(&family).ok_or_else(|| decode("family"))?;
    t.revoked = r.try_get("revoked").map_err(get_err)?;
    t.rotated = r.try_get("rotated").map_err(get_err)?;
    Ok(t)
}

fn client_from_row(r: &PgRow) -> Result<ClientRecord, StorageError> {
    let get_err = |e: sqlx::Error| StorageError::Other(Box::new(e));
    let secret: Option<Vec<u8>> = r.try_get("secret_hash").map_err(get_err)?;
    let redirect: String = r.try_get("redirect_uris").map_err(get_err)?;
    let grants: String = r.try_get("grant_types").map_err(get_err)?;
    let responses: String = r.try_get("response_types").map_err(get_err)?;
    let scope: String = r.try_get("scope").map_err(get_err)?;
    let method: String = r.try_get("auth_method").map_err(get_err)?;
    Ok(ClientRecord {
        client_id: r.try_get("client_id").map_err(get_err)?,
        secret_hash: secret.as_deref().and_then(hash_from),
        client_name: r.try_get("client_name").map_err(get_err)?,
        redirect_uris: text_to_list(&redirect),
        grant_types: text_to_list(&grants),
        response_types: text_to_list(&responses),
        scope: text_to_scope(&scope),
        auth_method: auth_method_from(&method),
    })
}

/// One multi-row INSERT: atomic on its own, one round trip.
fn insert_tokens_query<'a>(
    tokens: impl IntoIterator<Item = &'a TokenRecord>,
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(format!("INSERT INTO authgate_tokens ({TOKEN_COLUMNS}) "));
    q.push_values(tokens, |mut b, t| {
        b.push_bind(&t.selector.0[..])
            .push_bind(&t.verifier_hash.0[..])
            .push_bind(kind_to_int(t.kind))
            .push_bind(&t.client_id)
            .push_bind(&t.subject)
            .push_bind(&t.username)
            .push_bind(t.scope.to_string())
            .push_bind(&t.grant_type)
            .push_bind(t.issued_at)
            .push_bind(t.expires_at)
            .push_bind(&t.family.0[..])
            .push_bind(t.revoked)
            .push_bind(t.rotated);
    });
    q
}

#[async_trait]
impl ClientStore for PgStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        match row {
            Some(r) => Ok(Some(Arc::new(client_from_row(&r)?))),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl AuthorizationCodeStore for PgStore {
    async fn save_code(&self, c: AuthorizationCodeRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO authgate_codes (selector, verifier_hash, client_id, redirect_uri, redirect_uri_sent, scope, subject, username, code_challenge, code_challenge_method, nonce, issued_at, expires_at, used)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&c.selector.0[..])
        .bind(&c.verifier_hash.0[..])
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(c.redirect_uri_sent)
        .bind(c.scope.to_string())
        .bind(&c.subject)
        .bind(&c.username)
        .bind(c.code_challenge.as_ref().map(|ch| ch.challenge.clone()))
        .bind(c.code_challenge.as_ref().map(|ch| ch.method.as_str()))
        .bind(&c.nonce)
        .bind(c.issued_at)
        .bind(c.expires_at)
        .bind(c.used)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        let row = sqlx::query(
            "SELECT selector, verifier_hash, client_id, redirect_uri, redirect_uri_sent, scope, subject, username, code_challenge, code_challenge_method, nonce, issued_at, expires_at, used
             FROM authgate_codes WHERE selector = $1",
        )
        .bind(&selector.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        let Some(r) = row else { return Ok(None) };
        let get_err = |e: sqlx::Error| StorageError::Other(Box::new(e));
        let s: Vec<u8> = r.try_get("selector").map_err(get_err)?;
        let h: Vec<u8> = r.try_get("verifier_hash").map_err(get_err)?;
        let scope: String = r.try_get("scope").map_err(get_err)?;
        let key = TokenKey {
            selector: selector_from(&s).ok_or_else(|| decode("selector"))?,
            verifier_hash: hash_from(&h).ok_or_else(|| decode("verifier_hash"))?,
        };
        let mut c = AuthorizationCodeRecord::new(
            key,
            r.try_get::<String, _>("client_id").map_err(get_err)?,
            r.try_get::<String, _>("redirect_uri").map_err(get_err)?,
            r.try_get::<String, _>("subject").map_err(get_err)?,
            r.try_get("issued_at").map_err(get_err)?,
            r.try_get("expires_at").map_err(get_err)?,
        );
        c.redirect_uri_sent = r.try_get("redirect_uri_sent").map_err(get_err)?;
        c.scope = text_to_scope(&scope);
        c.username = r.try_get("username").map_err(get_err)?;
        c.code_challenge = challenge_from(
            r.try_get("code_challenge").map_err(get_err)?,
            r.try_get::<Option<String>, _>("code_challenge_method")
                .map_err(get_err)?
                .as_deref(),
        );
        c.nonce = r.try_get("nonce").map_err(get_err)?;
        c.used = r.try_get("used").map_err(get_err)?;
        Ok(Some(c))
    }

    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM authgate_codes WHERE selector = $1")
            .bind(&selector.0[..])
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let res =
            sqlx::query("UPDATE authgate_codes SET used = TRUE WHERE selector = $1 AND NOT used")
                .bind(&selector.0[..])
                .execute(&self.pool)
                .await
                .map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let job = SaveJob {
            tokens: tokens.to_vec(),
            reply,
        };
        if self.batcher.send(job).is_err() {
            return Err(StorageError::Unavailable(
                "the token writer has stopped".into(),
            ));
        }
        answer
            .await
            .map_err(|_| StorageError::Unavailable("the token writer has stopped".into()))?
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM authgate_tokens WHERE selector = $1"
        ))
        .bind(&selector.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        sqlx::query("UPDATE authgate_tokens SET revoked = TRUE WHERE selector = $1")
            .bind(&selector.0[..])
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // Ordered after any rotation of this family in flight (it holds the same lock), so
        // the UPDATE's snapshot includes the tokens that rotation adds.
        family_lock(&mut tx, family).await?;
        // Rows are locked in selector order, so concurrent revocations of one family (a
        // burst of replayed codes, say) queue instead of deadlocking; rows already revoked
        // are skipped.
        sqlx::query(
            "UPDATE authgate_tokens SET revoked = TRUE WHERE selector IN
             (SELECT selector FROM authgate_tokens WHERE family = $1 AND NOT revoked
              ORDER BY selector FOR UPDATE)",
        )
        .bind(&family.0[..])
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
    ) -> Result<bool, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        if let Some(first) = replacements.first() {
            family_lock(&mut tx, &first.family).await?;
        }
        // The UPDATE takes the row lock: a concurrent rotation waits, then re-checks the
        // WHERE clause against the committed row and updates nothing.
        let res = sqlx::query(
            "UPDATE authgate_tokens SET rotated = TRUE
             WHERE selector = $1 AND kind = 1 AND NOT revoked AND NOT rotated",
        )
        .bind(&selector.0[..])
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if res.rows_affected() != 1 {
            tx.rollback().await.map_err(classify)?;
            return Ok(false);
        }
        if !replacements.is_empty() {
            insert_tokens_query(replacements)
                .build()
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        let row =
            sqlx::query("SELECT subject, password_hash FROM authgate_users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        let Some(r) = row else {
            authgate::password::verify_unknown_user(password.to_owned()).await?;
            return Ok(None);
        };
        let get_err = |e: sqlx::Error| StorageError::Other(Box::new(e));
        let subject: String = r.try_get("subject").map_err(get_err)?;
        let hash: String = r.try_get("password_hash").map_err(get_err)?;
        Ok(authgate::password::verify(hash, password.to_owned())
            .await?
            .then(|| ResourceOwner::new(subject, username)))
    }
}

#[async_trait]
impl Admin for PgStore {
    async fn upsert_client(&self, c: &ClientRecord) -> Result<(), StorageError> {
        sqlx::query(&format!(
            "INSERT INTO authgate_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash,
               client_name = EXCLUDED.client_name, redirect_uris = EXCLUDED.redirect_uris,
               grant_types = EXCLUDED.grant_types, response_types = EXCLUDED.response_types,
               scope = EXCLUDED.scope, auth_method = EXCLUDED.auth_method"
        ))
        .bind(&c.client_id)
        .bind(secret_bytes(c))
        .bind(&c.client_name)
        .bind(list_to_text(&c.redirect_uris))
        .bind(list_to_text(&c.grant_types))
        .bind(list_to_text(&c.response_types))
        .bind(c.scope.to_string())
        .bind(c.auth_method.as_str())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let res = sqlx::query("DELETE FROM authgate_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM authgate_clients ORDER BY client_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        let hash = authgate::password::hash(user.password.clone()).await?;
        sqlx::query(
            "INSERT INTO authgate_users (username, subject, password_hash, claims) VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET subject = EXCLUDED.subject,
               password_hash = EXCLUDED.password_hash, claims = EXCLUDED.claims",
        )
        .bind(&user.username)
        .bind(&user.subject)
        .bind(hash)
        .bind(user.claims.to_string())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn remove_user(&self, username: &str) -> Result<bool, StorageError> {
        // The user's tokens go with the user, in the same transaction.
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(
            "UPDATE authgate_tokens SET revoked = TRUE WHERE NOT revoked AND subject =
             (SELECT subject FROM authgate_users WHERE username = $1)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        let res = sqlx::query("DELETE FROM authgate_users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        let row =
            sqlx::query("SELECT username, subject, claims FROM authgate_users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        let Some(r) = row else { return Ok(None) };
        let get_err = |e: sqlx::Error| StorageError::Other(Box::new(e));
        let claims: String = r.try_get("claims").map_err(get_err)?;
        Ok(Some(UserInfo {
            username: r.try_get("username").map_err(get_err)?,
            subject: r.try_get("subject").map_err(get_err)?,
            claims: serde_json::from_str(&claims).unwrap_or_default(),
        }))
    }

    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let fresh: [u8; 32] = authgate::rng::random_bytes(&authgate::OsRng);
        // Insert unless present, then read whichever value won (the same for every process).
        sqlx::query("INSERT INTO authgate_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(&fresh[..])
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        let row = sqlx::query("SELECT value FROM authgate_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        row.try_get("value")
            .map_err(|e| StorageError::Other(Box::new(e)))
    }

    async fn purge_expired(&self, now: i64, batch: usize) -> Result<usize, StorageError> {
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let codes = sqlx::query(
            "DELETE FROM authgate_codes WHERE selector IN
             (SELECT selector FROM authgate_codes WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let tokens = sqlx::query(
            "DELETE FROM authgate_tokens WHERE selector IN
             (SELECT selector FROM authgate_tokens WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let n = codes.rows_affected().max(tokens.rows_affected());
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
