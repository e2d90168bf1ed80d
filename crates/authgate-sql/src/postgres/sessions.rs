//! [`SessionStore`] on PostgreSQL.

use async_trait::async_trait;
use authgate::{SessionRecord, SessionStore, StorageError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{classify, column, holdable, malformed, unholdable, PgStore};
use crate::codec::{SessionRow, SessionValues, SESSION_COLUMNS};

fn session_row(r: &PgRow) -> Result<SessionRecord, StorageError> {
    SessionRow {
        sid: r.try_get("sid").map_err(column)?,
        subject: r.try_get("subject").map_err(column)?,
        username: r.try_get("username").map_err(column)?,
        auth_time: r.try_get("auth_time").map_err(column)?,
        expires_at: r.try_get("expires_at").map_err(column)?,
        acr: r.try_get("acr").map_err(column)?,
        amr: r.try_get("amr").map_err(column)?,
        clients: r.try_get("clients").map_err(column)?,
    }
    .into_record()
    .map_err(malformed)
}

#[async_trait]
impl SessionStore for PgStore {
    async fn save_session(&self, s: &SessionRecord) -> Result<(), StorageError> {
        let v = SessionValues::of(s);
        sqlx::query(&format!(
            "INSERT INTO authgate_sessions (tenant, {SESSION_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant, sid) DO UPDATE SET subject = EXCLUDED.subject,
               username = EXCLUDED.username, auth_time = EXCLUDED.auth_time,
               expires_at = EXCLUDED.expires_at, acr = EXCLUDED.acr, amr = EXCLUDED.amr,
               clients = EXCLUDED.clients"
        ))
        .bind(&*self.tenant)
        .bind(&s.sid)
        .bind(&s.subject)
        .bind(&s.username)
        .bind(s.auth_time)
        .bind(s.expires_at)
        .bind(&s.acr)
        .bind(v.amr)
        .bind(v.clients)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn find_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM authgate_sessions WHERE tenant = $1 AND sid = $2"
        );
        Ok(self.sessions_where(&sql, sid).await?.pop())
    }

    async fn add_session_client(&self, sid: &str, client_id: &str) -> Result<(), StorageError> {
        if !holdable(sid) {
            // No such session: nothing to add to.
            return Ok(());
        }
        if !holdable(client_id) {
            return Err(unholdable("the client id"));
        }
        // One statement: the append and the "not yet there" test see the same row version,
        // so concurrent additions of one client add it once.
        sqlx::query(
            "UPDATE authgate_sessions SET clients = (clients::jsonb || to_jsonb($3::text))::text
             WHERE tenant = $1 AND sid = $2 AND NOT (clients::jsonb ? $3)",
        )
        .bind(&*self.tenant)
        .bind(sid)
        .bind(client_id)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn end_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        let sql = format!(
            "DELETE FROM authgate_sessions WHERE tenant = $1 AND sid = $2 RETURNING {SESSION_COLUMNS}"
        );
        Ok(self.sessions_where(&sql, sid).await?.pop())
    }

    async fn end_sessions_of(&self, subject: &str) -> Result<Vec<SessionRecord>, StorageError> {
        let sql = format!(
            "DELETE FROM authgate_sessions WHERE tenant = $1 AND subject = $2 RETURNING {SESSION_COLUMNS}"
        );
        self.sessions_where(&sql, subject).await
    }
}

impl PgStore {
    /// The sessions a statement over (tenant, `key`) answers with [`SESSION_COLUMNS`].
    async fn sessions_where(
        &self,
        sql: &str,
        key: &str,
    ) -> Result<Vec<SessionRecord>, StorageError> {
        if !holdable(key) {
            return Ok(Vec::new());
        }
        sqlx::query(sql)
            .bind(&*self.tenant)
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?
            .iter()
            .map(session_row)
            .collect()
    }
}
