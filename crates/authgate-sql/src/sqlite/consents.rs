//! [`ConsentStore`] on SQLite.

use async_trait::async_trait;
use authgate::{ConsentRecord, ConsentStore, StorageError};
use rusqlite::{params, OptionalExtension, Row};

use super::{malformed, SqliteStore};
use crate::codec::consent_record;

fn consent_row(r: &Row<'_>) -> rusqlite::Result<ConsentRecord> {
    let scope: String = r.get(2)?;
    consent_record(r.get(0)?, r.get(1)?, &scope, r.get(3)?).map_err(malformed)
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn find_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StorageError> {
        let (tenant, subject, client_id) = (
            self.tenant.clone(),
            subject.to_owned(),
            client_id.to_owned(),
        );
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT subject, client_id, scope, granted_at FROM authgate_consents
                 WHERE tenant = ?1 AND subject = ?2 AND client_id = ?3",
            )?
            .query_row((&*tenant, subject, client_id), consent_row)
            .optional()
        })
        .await
    }

    async fn save_consent(&self, consent: &ConsentRecord) -> Result<(), StorageError> {
        let (tenant, c) = (self.tenant.clone(), consent.clone());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO authgate_consents (tenant, subject, client_id, scope, granted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, subject, client_id) DO UPDATE SET
                   scope = excluded.scope, granted_at = excluded.granted_at",
            )?
            .execute(params![
                &*tenant,
                c.subject,
                c.client_id,
                c.scope.to_string(),
                c.granted_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn list_consents(&self, subject: &str) -> Result<Vec<ConsentRecord>, StorageError> {
        let (tenant, subject) = (self.tenant.clone(), subject.to_owned());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT subject, client_id, scope, granted_at FROM authgate_consents
                 WHERE tenant = ?1 AND subject = ?2 ORDER BY client_id",
            )?;
            let rows = stmt.query_map((&*tenant, subject), consent_row)?;
            rows.collect()
        })
        .await
    }

    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        let (tenant, subject, client_id) = (
            self.tenant.clone(),
            subject.to_owned(),
            client_id.to_owned(),
        );
        // One write job: the three statements commit together.
        self.write(move |conn| {
            let existed = conn.execute(
                "DELETE FROM authgate_consents WHERE tenant = ?1 AND subject = ?2 AND client_id = ?3",
                (&*tenant, &subject, &client_id),
            )? == 1;
            conn.execute(
                "UPDATE authgate_tokens SET revoked = 1
                 WHERE tenant = ?1 AND subject = ?2 AND client_id = ?3 AND revoked = 0",
                (&*tenant, &subject, &client_id),
            )?;
            conn.execute(
                "DELETE FROM authgate_codes WHERE tenant = ?1 AND subject = ?2 AND client_id = ?3",
                (&*tenant, &subject, &client_id),
            )?;
            Ok(existed)
        })
        .await
    }
}
