//! [`AuthorizationCodeStore`] on PostgreSQL.

use async_trait::async_trait;
use authgate::token::Selector;
use authgate::{AuthorizationCodeRecord, AuthorizationCodeStore, StorageError};
use sqlx::Row;

use super::{classify, column, malformed, PgStore};
use crate::codec::{CodeRow, CodeValues, CODE_COLUMNS};

#[async_trait]
impl AuthorizationCodeStore for PgStore {
    async fn save_code(&self, c: AuthorizationCodeRecord) -> Result<(), StorageError> {
        let v = CodeValues::of(&c);
        sqlx::query(&format!(
            "INSERT INTO authgate_codes (tenant, {CODE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(&*self.tenant)
        .bind(v.selector)
        .bind(v.verifier_hash)
        .bind(v.client_id)
        .bind(v.redirect_uri)
        .bind(v.redirect_uri_sent)
        .bind(v.scope)
        .bind(v.subject)
        .bind(v.username)
        .bind(v.code_challenge)
        .bind(v.code_challenge_method)
        .bind(v.nonce)
        .bind(v.issued_at)
        .bind(v.expires_at)
        .bind(v.used)
        .bind(v.details)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM authgate_codes WHERE selector = $1 AND tenant = $2"
        ))
        .bind(&selector.0[..])
        .bind(&*self.tenant)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        let Some(r) = row else { return Ok(None) };
        let row = CodeRow {
            selector: r.try_get("selector").map_err(column)?,
            verifier_hash: r.try_get("verifier_hash").map_err(column)?,
            client_id: r.try_get("client_id").map_err(column)?,
            redirect_uri: r.try_get("redirect_uri").map_err(column)?,
            redirect_uri_sent: r.try_get("redirect_uri_sent").map_err(column)?,
            scope: r.try_get("scope").map_err(column)?,
            subject: r.try_get("subject").map_err(column)?,
            username: r.try_get("username").map_err(column)?,
            code_challenge: r.try_get("code_challenge").map_err(column)?,
            code_challenge_method: r.try_get("code_challenge_method").map_err(column)?,
            nonce: r.try_get("nonce").map_err(column)?,
            issued_at: r.try_get("issued_at").map_err(column)?,
            expires_at: r.try_get("expires_at").map_err(column)?,
            used: r.try_get("used").map_err(column)?,
            details: r.try_get("details").map_err(column)?,
        };
        row.into_record().map(Some).map_err(malformed)
    }

    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM authgate_codes WHERE selector = $1 AND tenant = $2")
            .bind(&selector.0[..])
            .bind(&*self.tenant)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let res = sqlx::query(
            "UPDATE authgate_codes SET used = TRUE WHERE selector = $1 AND tenant = $2 AND NOT used",
        )
        .bind(&selector.0[..])
        .bind(&*self.tenant)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }
}
