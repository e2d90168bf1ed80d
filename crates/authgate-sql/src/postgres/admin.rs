//! [`Admin`] on PostgreSQL: client and user management, shared secrets, the expiry purge.

use async_trait::async_trait;
use authgate::rng::{random_bytes, OsRng};
use authgate::{password, ClientRecord, StorageError};
use sqlx::Row;

use super::clients::client_row;
use super::{classify, column, holdable, PgStore};
use crate::codec::CLIENT_COLUMNS;
use crate::{Admin, InitialAccessToken, NewUser, UserInfo};

#[async_trait]
impl Admin for PgStore {
    async fn upsert_client(&self, c: &ClientRecord) -> Result<(), StorageError> {
        let sql = format!(
            "INSERT INTO authgate_clients (tenant, {CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant, client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash,
               client_name = EXCLUDED.client_name, redirect_uris = EXCLUDED.redirect_uris,
               grant_types = EXCLUDED.grant_types, response_types = EXCLUDED.response_types,
               scope = EXCLUDED.scope, auth_method = EXCLUDED.auth_method,
               metadata = EXCLUDED.metadata"
        );
        self.execute_client(&sql, c).await?;
        Ok(())
    }

    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        authgate::ClientRegistry::delete_client(self, client_id).await
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE tenant = $1 ORDER BY client_id"
        ))
        .bind(&*self.tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| client_row(r).map(crate::codec::ClientRow::into_record))
            .collect()
    }

    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        let hash = password::hash(user.password.clone()).await?;
        sqlx::query(
            "INSERT INTO authgate_users (tenant, username, subject, password_hash, claims) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, username) DO UPDATE SET subject = EXCLUDED.subject,
               password_hash = EXCLUDED.password_hash, claims = EXCLUDED.claims",
        )
        .bind(&*self.tenant)
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
        // The user's tokens, codes, device approvals, consents and sessions go with the
        // user, in one transaction.
        let removed = self
            .remove_with(
                &[
                    "DELETE FROM authgate_codes WHERE tenant = $1 AND subject =
                     (SELECT subject FROM authgate_users WHERE tenant = $1 AND username = $2)",
                    "DELETE FROM authgate_device_codes WHERE tenant = $1 AND subject =
                     (SELECT subject FROM authgate_users WHERE tenant = $1 AND username = $2)",
                    "UPDATE authgate_tokens SET revoked = TRUE WHERE NOT revoked AND tenant = $1 AND subject =
                     (SELECT subject FROM authgate_users WHERE tenant = $1 AND username = $2)",
                    "DELETE FROM authgate_consents WHERE tenant = $1 AND subject =
                     (SELECT subject FROM authgate_users WHERE tenant = $1 AND username = $2)",
                    "DELETE FROM authgate_sessions WHERE tenant = $1 AND subject =
                     (SELECT subject FROM authgate_users WHERE tenant = $1 AND username = $2)",
                ],
                "DELETE FROM authgate_users WHERE tenant = $1 AND username = $2",
                username,
            )
            .await?;
        Ok(removed == 1)
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        self.user_where("username", username).await
    }

    async fn list_users(&self) -> Result<Vec<UserInfo>, StorageError> {
        let rows = sqlx::query(
            "SELECT username, subject, claims FROM authgate_users WHERE tenant = $1 ORDER BY username",
        )
        .bind(&*self.tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(user_row).collect()
    }

    async fn revoke_tokens(
        &self,
        client_id: Option<&str>,
        subject: Option<&str>,
    ) -> Result<u64, StorageError> {
        if client_id.is_none() && subject.is_none() {
            return Ok(0);
        }
        // A value PostgreSQL's text cannot hold names no token.
        if !client_id.is_none_or(holdable) || !subject.is_none_or(holdable) {
            return Ok(0);
        }
        // Codes and device codes not yet exchanged would buy new tokens: they go too, in
        // the same transaction.
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let mut revoked = 0;
        for statement in [
            "DELETE FROM authgate_codes WHERE tenant = $1
             AND ($2::text IS NULL OR client_id = $2) AND ($3::text IS NULL OR subject = $3)",
            "DELETE FROM authgate_device_codes WHERE tenant = $1
             AND ($2::text IS NULL OR client_id = $2) AND ($3::text IS NULL OR subject = $3)",
            // Last: its count is the answer.
            "UPDATE authgate_tokens SET revoked = TRUE WHERE tenant = $1 AND NOT revoked
             AND ($2::text IS NULL OR client_id = $2) AND ($3::text IS NULL OR subject = $3)",
        ] {
            revoked = sqlx::query(statement)
                .bind(&*self.tenant)
                .bind(client_id)
                .bind(subject)
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(revoked)
    }

    async fn find_user_by_subject(&self, subject: &str) -> Result<Option<UserInfo>, StorageError> {
        self.user_where("subject", subject).await
    }

    async fn add_initial_access_token(
        &self,
        token: &InitialAccessToken,
        hash: &authgate::token::SecretHash,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO authgate_initial_access_tokens (tenant, id, token_hash, label, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&*self.tenant)
        .bind(&token.id)
        .bind(&hash.0[..])
        .bind(&token.label)
        .bind(token.created_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, label, created_at, revoked FROM authgate_initial_access_tokens WHERE tenant = $1 ORDER BY id",
        )
        .bind(&*self.tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(InitialAccessToken {
                    id: r.try_get("id").map_err(classify)?,
                    label: r.try_get("label").map_err(classify)?,
                    created_at: r.try_get("created_at").map_err(classify)?,
                    revoked: r.try_get("revoked").map_err(classify)?,
                })
            })
            .collect()
    }

    async fn revoke_initial_access_token(&self, id: &str) -> Result<bool, StorageError> {
        if !holdable(id) {
            return Ok(false);
        }
        let res =
            sqlx::query("DELETE FROM authgate_initial_access_tokens WHERE tenant = $1 AND id = $2")
                .bind(&*self.tenant)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }

    async fn initial_access_token_valid(
        &self,
        hash: &authgate::token::SecretHash,
    ) -> Result<bool, StorageError> {
        let row = sqlx::query(
            "SELECT 1 FROM authgate_initial_access_tokens WHERE tenant = $1 AND token_hash = $2 AND NOT revoked",
        )
        .bind(&*self.tenant)
        .bind(&hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.is_some())
    }

    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let fresh: [u8; 32] = random_bytes(&OsRng);
        // Insert unless present, then read whichever value won (the same for every process).
        sqlx::query(
            "INSERT INTO authgate_secrets (tenant, name, value) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, name) DO NOTHING",
        )
        .bind(&*self.tenant)
        .bind(name)
        .bind(&fresh[..])
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let row = sqlx::query("SELECT value FROM authgate_secrets WHERE tenant = $1 AND name = $2")
            .bind(&*self.tenant)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        row.try_get("value").map_err(column)
    }

    async fn token_changes(&self) -> Result<Option<u64>, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT n FROM authgate_token_changes WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        Ok(Some(n.cast_unsigned()))
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
        let sessions = sqlx::query(
            "DELETE FROM authgate_sessions WHERE (tenant, sid) IN
             (SELECT tenant, sid FROM authgate_sessions WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let devices = sqlx::query(
            "DELETE FROM authgate_device_codes WHERE (tenant, selector) IN
             (SELECT tenant, selector FROM authgate_device_codes WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let replay = sqlx::query(
            "DELETE FROM authgate_replay WHERE (tenant, key) IN
             (SELECT tenant, key FROM authgate_replay WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        let n = codes
            .rows_affected()
            .max(tokens.rows_affected())
            .max(sessions.rows_affected())
            .max(devices.rows_affected())
            .max(replay.rows_affected());
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl PgStore {
    /// The user whose `column` (username or subject, both unique per tenant) is `value`.
    async fn user_where(
        &self,
        column_name: &'static str,
        value: &str,
    ) -> Result<Option<UserInfo>, StorageError> {
        if !holdable(value) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT username, subject, claims FROM authgate_users WHERE tenant = $1 AND {column_name} = $2"
        ))
        .bind(&*self.tenant)
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(user_row).transpose()
    }
}

/// A user from a row of `username, subject, claims`.
fn user_row(r: &sqlx::postgres::PgRow) -> Result<UserInfo, StorageError> {
    let claims: String = r.try_get("claims").map_err(column)?;
    Ok(UserInfo {
        username: r.try_get("username").map_err(column)?,
        subject: r.try_get("subject").map_err(column)?,
        claims: serde_json::from_str(&claims).unwrap_or_default(),
    })
}
