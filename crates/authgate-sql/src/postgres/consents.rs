//! [`ConsentStore`] on PostgreSQL.

use async_trait::async_trait;
use authgate::{ConsentRecord, ConsentStore, StorageError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{classify, column, holdable, malformed, PgStore};
use crate::codec::consent_record;

fn consent_row(r: &PgRow) -> Result<ConsentRecord, StorageError> {
    let scope: String = r.try_get("scope").map_err(column)?;
    consent_record(
        r.try_get("subject").map_err(column)?,
        r.try_get("client_id").map_err(column)?,
        &scope,
        r.try_get("granted_at").map_err(column)?,
    )
    .map_err(malformed)
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn find_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StorageError> {
        if !holdable(subject) || !holdable(client_id) {
            return Ok(None);
        }
        sqlx::query(
            "SELECT subject, client_id, scope, granted_at FROM authgate_consents
             WHERE tenant = $1 AND subject = $2 AND client_id = $3",
        )
        .bind(&*self.tenant)
        .bind(subject)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?
        .as_ref()
        .map(consent_row)
        .transpose()
    }

    async fn save_consent(&self, c: &ConsentRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO authgate_consents (tenant, subject, client_id, scope, granted_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, subject, client_id) DO UPDATE SET
               scope = EXCLUDED.scope, granted_at = EXCLUDED.granted_at",
        )
        .bind(&*self.tenant)
        .bind(&c.subject)
        .bind(&c.client_id)
        .bind(c.scope.to_string())
        .bind(c.granted_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn list_consents(&self, subject: &str) -> Result<Vec<ConsentRecord>, StorageError> {
        if !holdable(subject) {
            return Ok(Vec::new());
        }
        sqlx::query(
            "SELECT subject, client_id, scope, granted_at FROM authgate_consents
             WHERE tenant = $1 AND subject = $2 ORDER BY client_id",
        )
        .bind(&*self.tenant)
        .bind(subject)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?
        .iter()
        .map(consent_row)
        .collect()
    }

    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        if !holdable(subject) || !holdable(client_id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let gone = sqlx::query(
            "DELETE FROM authgate_consents WHERE tenant = $1 AND subject = $2 AND client_id = $3",
        )
        .bind(&*self.tenant)
        .bind(subject)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        for statement in [
            "UPDATE authgate_tokens SET revoked = TRUE
             WHERE tenant = $1 AND subject = $2 AND client_id = $3 AND NOT revoked",
            "DELETE FROM authgate_codes WHERE tenant = $1 AND subject = $2 AND client_id = $3",
        ] {
            sqlx::query(statement)
                .bind(&*self.tenant)
                .bind(subject)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(gone.rows_affected() == 1)
    }
}
