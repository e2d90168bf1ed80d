//! [`SessionStore`] on SQLite.

use async_trait::async_trait;
use authgate::{SessionRecord, SessionStore, StorageError};
use rusqlite::{params, OptionalExtension, Row};

use super::{malformed, SqliteStore};
use crate::codec::{with_client, SessionRow, SessionValues, SESSION_COLUMNS};

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    SessionRow {
        sid: r.get(0)?,
        subject: r.get(1)?,
        username: r.get(2)?,
        auth_time: r.get(3)?,
        expires_at: r.get(4)?,
        acr: r.get(5)?,
        amr: r.get(6)?,
        clients: r.get(7)?,
    }
    .into_record()
    .map_err(malformed)
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn save_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let (tenant, s) = (self.tenant.clone(), session.clone());
        self.write(move |conn| {
            let v = SessionValues::of(&s);
            conn.prepare_cached(&format!(
                "INSERT OR REPLACE INTO authgate_sessions (tenant, {SESSION_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                &*tenant,
                s.sid,
                s.subject,
                s.username,
                s.auth_time,
                s.expires_at,
                s.acr,
                v.amr,
                v.clients
            ])?;
            Ok(())
        })
        .await
    }

    async fn find_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        let (tenant, sid) = (self.tenant.clone(), sid.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM authgate_sessions WHERE tenant = ?1 AND sid = ?2"
            ))?
            .query_row((&*tenant, sid), session_row)
            .optional()
        })
        .await
    }

    async fn add_session_client(&self, sid: &str, client_id: &str) -> Result<(), StorageError> {
        let (tenant, sid, client_id) = (self.tenant.clone(), sid.to_owned(), client_id.to_owned());
        // Read and write in one job of the single writer: no other write runs between.
        self.write(move |conn| {
            let clients: Option<String> = conn
                .prepare_cached(
                    "SELECT clients FROM authgate_sessions WHERE tenant = ?1 AND sid = ?2",
                )?
                .query_row((&*tenant, &sid), |r| r.get(0))
                .optional()?;
            let Some(clients) = clients else {
                return Ok(());
            };
            let updated = with_client(&clients, &client_id).map_err(malformed)?;
            if updated != clients {
                conn.prepare_cached(
                    "UPDATE authgate_sessions SET clients = ?3 WHERE tenant = ?1 AND sid = ?2",
                )?
                .execute((&*tenant, &sid, updated))?;
            }
            Ok(())
        })
        .await
    }

    async fn end_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        let (tenant, sid) = (self.tenant.clone(), sid.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "DELETE FROM authgate_sessions WHERE tenant = ?1 AND sid = ?2 RETURNING {SESSION_COLUMNS}"
            ))?
            .query_row((&*tenant, sid), session_row)
            .optional()
        })
        .await
    }

    async fn end_sessions_of(&self, subject: &str) -> Result<Vec<SessionRecord>, StorageError> {
        let (tenant, subject) = (self.tenant.clone(), subject.to_owned());
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "DELETE FROM authgate_sessions WHERE tenant = ?1 AND subject = ?2 RETURNING {SESSION_COLUMNS}"
            ))?;
            let rows = stmt.query_map((&*tenant, subject), session_row)?;
            rows.collect()
        })
        .await
    }
}
