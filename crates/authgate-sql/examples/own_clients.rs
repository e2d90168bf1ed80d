//! The guide's "Bring your own database", worked: an app whose OAuth clients are rows of its
//! own `applications` table keeps them there — a `ClientStore` on plain sqlx maps each row
//! to a client — and puts the rest of authgate's data (codes, tokens, users...) in
//! `authgate_*` tables on the same connection pool.
//!
//! Run against a PostgreSQL database (it creates `applications` and the `authgate_*`
//! tables): `DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run -p authgate-sql
//! --features postgres --example own_clients`, then, with the secret it prints,
//! `curl -s -u reporting:SECRET -d grant_type=client_credentials http://127.0.0.1:3001/token`.

use std::sync::Arc;

use authgate::token::{generate_client_secret, SecretHash};
use authgate::OsRng;
use authgate::{
    async_trait, AuthorizationCodeGrant, AuthorizationServer, Client, ClientCredentialsGrant,
    ClientRecord, ClientStore, RefreshTokenGrant, ServerConfig, StorageError,
};
use authgate_sql::{AnyStore, PgStore};
use sqlx::{PgPool, Row};

/// The app's table: one row per application allowed to ask for tokens. `kind` says how it
/// authenticates and what it may do: `web` (a server-side app: code flow, a secret),
/// `spa` (a browser app: code flow with PKCE, no secret), `service` (client credentials).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('web', 'spa', 'service')),
    secret_sha256 BYTEA,
    callback_urls TEXT[] NOT NULL DEFAULT '{}',
    scopes TEXT NOT NULL DEFAULT ''
)";

/// The `ClientStore` over `applications`.
#[derive(Clone)]
pub struct Applications {
    pool: PgPool,
}

impl Applications {
    /// The table on `pool`, created if missing.
    ///
    /// # Errors
    /// The database refused.
    pub async fn new(pool: PgPool) -> Result<Self, sqlx::Error> {
        sqlx::query(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// Adds an application. A `web` or `service` one gets a generated secret (256 random
    /// bits), answered to be shown once: the table keeps only its SHA-256.
    ///
    /// # Errors
    /// The database refused (a duplicate id, say).
    pub async fn add(
        &self,
        id: &str,
        name: &str,
        kind: &str,
        callbacks: &[&str],
        scopes: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let secret = (kind != "spa").then(|| generate_client_secret(&OsRng));
        let hash = secret
            .as_ref()
            .map(|s| SecretHash::of(s.as_bytes()).0.to_vec());
        sqlx::query(
            "INSERT INTO applications (id, display_name, kind, secret_sha256, callback_urls, scopes)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(hash)
        .bind(callbacks)
        .bind(scopes)
        .execute(&self.pool)
        .await?;
        Ok(secret)
    }
}

#[async_trait]
impl ClientStore for Applications {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        // PostgreSQL's text cannot hold NUL: such an id names no application.
        if client_id.contains('\0') {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT display_name, kind, secret_sha256, callback_urls, scopes
             FROM applications WHERE id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
        let Some(row) = row else { return Ok(None) };
        let column = |e: sqlx::Error| StorageError::Other(Box::new(e));
        let kind: String = row.try_get("kind").map_err(column)?;
        let secret: Option<Vec<u8>> = row.try_get("secret_sha256").map_err(column)?;
        let hash = secret
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
            .map(SecretHash);
        let mut client = match (kind.as_str(), hash) {
            ("spa", _) => ClientRecord::public(client_id)
                .grant_types(["authorization_code", "refresh_token"])
                .response_types(["code"]),
            ("web", Some(hash)) => ClientRecord::with_secret_hash(client_id, hash)
                .grant_types(["authorization_code", "refresh_token"])
                .response_types(["code"]),
            ("service", Some(hash)) => {
                ClientRecord::with_secret_hash(client_id, hash).grant_types(["client_credentials"])
            }
            // A confidential kind without a secret cannot authenticate: no client.
            _ => return Ok(None),
        };
        client = client
            .name(row.try_get::<String, _>("display_name").map_err(column)?)
            .redirect_uris(
                row.try_get::<Vec<String>, _>("callback_urls")
                    .map_err(column)?,
            )
            .scope(&row.try_get::<String, _>("scopes").map_err(column)?);
        Ok(Some(Arc::new(client)))
    }
}

/// The authorization server on the app's pool: clients from `applications`, everything
/// else in `authgate_*` tables (migrated here).
///
/// # Errors
/// The migration failed.
pub async fn server(pool: PgPool, issuer: &str) -> Result<AuthorizationServer, StorageError> {
    let authgate_tables = PgStore::from_pool(pool.clone());
    authgate_tables.migrate().await?;
    let mut stores = AnyStore::new(authgate_tables).stores();
    stores.clients = Arc::new(Applications { pool });
    // Clients are the app's to create: no dynamic registration into authgate's table.
    stores.client_registry = None;
    let mut server = AuthorizationServer::new(stores, ServerConfig::new(issuer));
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new());
    Ok(server)
}

#[allow(dead_code)] // the test includes this file for its items only
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")?;
    let pool = PgPool::connect(&url).await?;
    let apps = Applications::new(pool.clone()).await?;
    // Shown once; a second run finds the row there already.
    if let Ok(Some(secret)) = apps
        .add("reporting", "Reporting", "service", &[], "reports")
        .await
    {
        println!("client reporting, secret (shown once): {secret}");
    }
    let server = Arc::new(server(pool, "http://127.0.0.1:3001").await?);
    let app = authgate_axum::routes(&server).with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://127.0.0.1:3001");
    axum::serve(listener, app).await?;
    Ok(())
}
