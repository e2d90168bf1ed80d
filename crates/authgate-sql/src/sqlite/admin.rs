//! [`Admin`] on SQLite: client and user management, shared secrets, the expiry purge.

use async_trait::async_trait;
use authgate::rng::{random_bytes, OsRng};
use authgate::{password, ClientRecord, StorageError};
use rusqlite::{params, OptionalExtension};

use super::clients::client_row;
use super::SqliteStore;
use crate::codec::CLIENT_COLUMNS;
use crate::{Admin, InitialAccessToken, NewUser, UserInfo};

#[async_trait]
impl Admin for SqliteStore {
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError> {
        let (tenant, c) = (self.tenant.clone(), client.clone());
        self.write(move |conn| {
            let sql = format!(
                "INSERT INTO authgate_clients (tenant, {CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (tenant, client_id) DO UPDATE SET secret_hash = excluded.secret_hash,
                   client_name = excluded.client_name, redirect_uris = excluded.redirect_uris,
                   grant_types = excluded.grant_types, response_types = excluded.response_types,
                   scope = excluded.scope, auth_method = excluded.auth_method,
                   metadata = excluded.metadata"
            );
            super::registry::execute_client(conn, &sql, &tenant, &c)?;
            Ok(())
        })
        .await
    }

    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        authgate::ClientRegistry::delete_client(self, client_id).await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        let tenant = self.tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE tenant = ?1 ORDER BY client_id"
            ))?;
            let rows = stmt.query_map([&*tenant], client_row)?;
            rows.map(|r| r.map(crate::codec::ClientRow::into_record))
                .collect()
        })
        .await
    }

    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        let hash = password::hash(user.password.clone()).await?;
        let (tenant, name, subject, claims) = (
            self.tenant.clone(),
            user.username.clone(),
            user.subject.clone(),
            user.claims.to_string(),
        );
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO authgate_users (tenant, username, subject, password_hash, claims) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, username) DO UPDATE SET subject = excluded.subject,
                   password_hash = excluded.password_hash, claims = excluded.claims",
                params![&*tenant, name, subject, hash, claims],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_user(&self, username: &str) -> Result<bool, StorageError> {
        let (tenant, name) = (self.tenant.clone(), username.to_owned());
        self.write(move |conn| {
            // The user's tokens, codes, device approvals, consents and sessions go with the
            // user, in one transaction.
            for statement in [
                "DELETE FROM authgate_codes WHERE tenant = ?1 AND subject =
                 (SELECT subject FROM authgate_users WHERE tenant = ?1 AND username = ?2)",
                "DELETE FROM authgate_device_codes WHERE tenant = ?1 AND subject =
                 (SELECT subject FROM authgate_users WHERE tenant = ?1 AND username = ?2)",
                "UPDATE authgate_tokens SET revoked = 1 WHERE revoked = 0 AND tenant = ?1 AND subject =
                 (SELECT subject FROM authgate_users WHERE tenant = ?1 AND username = ?2)",
                "DELETE FROM authgate_consents WHERE tenant = ?1 AND subject =
                 (SELECT subject FROM authgate_users WHERE tenant = ?1 AND username = ?2)",
                "DELETE FROM authgate_sessions WHERE tenant = ?1 AND subject =
                 (SELECT subject FROM authgate_users WHERE tenant = ?1 AND username = ?2)",
            ] {
                conn.execute(statement, (&*tenant, &name))?;
            }
            Ok(conn.execute(
                "DELETE FROM authgate_users WHERE tenant = ?1 AND username = ?2",
                (&*tenant, &name),
            )? == 1)
        })
        .await
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        self.user_where("username", username).await
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StorageError> {
        let tenant = self.tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT username, subject, claims FROM authgate_users WHERE tenant = ?1 ORDER BY username",
            )?;
            let rows = stmt.query_map([&*tenant], user_row)?;
            rows.collect()
        })
        .await
    }

    async fn revoke_tokens(
        &self,
        client_id: Option<&str>,
        subject: Option<&str>,
    ) -> Result<u64, StorageError> {
        if client_id.is_none() && subject.is_none() {
            return Ok(0);
        }
        let (tenant, client_id, subject) = (
            self.tenant.clone(),
            client_id.map(str::to_owned),
            subject.map(str::to_owned),
        );
        self.write(move |conn| {
            // Codes and device codes not yet exchanged would buy new tokens: they go too,
            // in the same transaction.
            for statement in [
                "DELETE FROM authgate_codes WHERE tenant = ?1
                 AND (?2 IS NULL OR client_id = ?2) AND (?3 IS NULL OR subject = ?3)",
                "DELETE FROM authgate_device_codes WHERE tenant = ?1
                 AND (?2 IS NULL OR client_id = ?2) AND (?3 IS NULL OR subject = ?3)",
            ] {
                conn.execute(statement, params![&*tenant, client_id, subject])?;
            }
            let n = conn.execute(
                "UPDATE authgate_tokens SET revoked = 1 WHERE tenant = ?1 AND revoked = 0
                 AND (?2 IS NULL OR client_id = ?2) AND (?3 IS NULL OR subject = ?3)",
                params![&*tenant, client_id, subject],
            )?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn find_user_by_subject(&self, subject: &str) -> Result<Option<UserInfo>, StorageError> {
        self.user_where("subject", subject).await
    }

    async fn add_initial_access_token(
        &self,
        token: &InitialAccessToken,
        hash: &authgate::token::SecretHash,
    ) -> Result<(), StorageError> {
        let (tenant, t, h) = (self.tenant.clone(), token.clone(), hash.0);
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO authgate_initial_access_tokens (tenant, id, token_hash, label, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&*tenant, t.id, &h[..], t.label, t.created_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, StorageError> {
        let tenant = self.tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, label, created_at, revoked FROM authgate_initial_access_tokens WHERE tenant = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([&*tenant], |r| {
                Ok(InitialAccessToken {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    created_at: r.get(2)?,
                    revoked: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn revoke_initial_access_token(&self, id: &str) -> Result<bool, StorageError> {
        let (tenant, id) = (self.tenant.clone(), id.to_owned());
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE authgate_initial_access_tokens SET revoked = 1 WHERE tenant = ?1 AND id = ?2 AND revoked = 0",
                (&*tenant, id),
            )? == 1)
        })
        .await
    }

    async fn initial_access_token_valid(
        &self,
        hash: &authgate::token::SecretHash,
    ) -> Result<bool, StorageError> {
        let (tenant, h) = (self.tenant.clone(), hash.0);
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT 1 FROM authgate_initial_access_tokens WHERE tenant = ?1 AND token_hash = ?2 AND revoked = 0",
                )?
                .query_row((&*tenant, &h[..]), |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }

    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let (tenant, name) = (self.tenant.clone(), name.to_owned());
        let fresh: [u8; 32] = random_bytes(&OsRng);
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO authgate_secrets (tenant, name, value) VALUES (?1, ?2, ?3) ON CONFLICT (tenant, name) DO NOTHING",
                params![&*tenant, name, &fresh[..]],
            )?;
            conn.query_row(
                "SELECT value FROM authgate_secrets WHERE tenant = ?1 AND name = ?2",
                (&*tenant, name),
                |r| r.get(0),
            )
        })
        .await
    }

    async fn token_changes(&self) -> Result<Option<u64>, StorageError> {
        let n = self
            .read(|conn| {
                conn.query_row(
                    "SELECT n FROM authgate_token_changes WHERE id = 1",
                    [],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        Ok(Some(n.cast_unsigned()))
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
            let sessions = conn
                .prepare_cached(
                    "DELETE FROM authgate_sessions WHERE rowid IN
                     (SELECT rowid FROM authgate_sessions WHERE expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, limit])?;
            let devices = conn
                .prepare_cached(
                    "DELETE FROM authgate_device_codes WHERE rowid IN
                     (SELECT rowid FROM authgate_device_codes WHERE expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, limit])?;
            let replay = conn
                .prepare_cached(
                    "DELETE FROM authgate_replay WHERE rowid IN
                     (SELECT rowid FROM authgate_replay WHERE expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, limit])?;
            Ok(codes.max(tokens).max(sessions).max(devices).max(replay))
        })
        .await
    }
}

impl SqliteStore {
    /// The user whose `column` (username or subject, both unique per tenant) is `value`.
    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserInfo>, StorageError> {
        let (tenant, value) = (self.tenant.clone(), value.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT username, subject, claims FROM authgate_users WHERE tenant = ?1 AND {column} = ?2"
            ))?
            .query_row((&*tenant, value), user_row)
            .optional()
        })
        .await
    }
}

/// A user from a row of `username, subject, claims`.
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserInfo> {
    let claims: String = r.get(2)?;
    Ok(UserInfo {
        username: r.get(0)?,
        subject: r.get(1)?,
        claims: serde_json::from_str(&claims).unwrap_or_default(),
    })
}
