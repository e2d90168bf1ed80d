//! [`AuthorizationCodeStore`] on SQLite.

use async_trait::async_trait;
use authgate::token::Selector;
use authgate::{AuthorizationCodeRecord, AuthorizationCodeStore, StorageError};
use rusqlite::{params, OptionalExtension};

use super::{malformed, SqliteStore};
use crate::codec::{CodeRow, CodeValues, CODE_COLUMNS};

#[async_trait]
impl AuthorizationCodeStore for SqliteStore {
    async fn save_code(&self, c: AuthorizationCodeRecord) -> Result<(), StorageError> {
        let tenant = self.tenant.clone();
        self.write(move |conn| {
            let v = CodeValues::of(&c);
            conn.prepare_cached(&format!(
                "INSERT INTO authgate_codes (tenant, {CODE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(params![
                &*tenant,
                v.selector,
                v.verifier_hash,
                v.client_id,
                v.redirect_uri,
                v.redirect_uri_sent,
                v.scope,
                v.subject,
                v.username,
                v.code_challenge,
                v.code_challenge_method,
                v.nonce,
                v.issued_at,
                v.expires_at,
                v.used,
                v.details,
            ])?;
            Ok(())
        })
        .await
    }

    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.read(move |conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {CODE_COLUMNS} FROM authgate_codes WHERE selector = ?1 AND tenant = ?2"
                ))?
                .query_row((&sel[..], &*tenant), |r| {
                    Ok(CodeRow {
                        selector: r.get(0)?,
                        verifier_hash: r.get(1)?,
                        client_id: r.get(2)?,
                        redirect_uri: r.get(3)?,
                        redirect_uri_sent: r.get(4)?,
                        scope: r.get(5)?,
                        subject: r.get(6)?,
                        username: r.get(7)?,
                        code_challenge: r.get(8)?,
                        code_challenge_method: r.get(9)?,
                        nonce: r.get(10)?,
                        issued_at: r.get(11)?,
                        expires_at: r.get(12)?,
                        used: r.get(13)?,
                        details: r.get(14)?,
                    })
                })
                .optional()?;
            row.map(|r| r.into_record().map_err(malformed)).transpose()
        })
        .await
    }

    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM authgate_codes WHERE selector = ?1 AND tenant = ?2")?
                .execute((&sel[..], &*tenant))?;
            Ok(())
        })
        .await
    }

    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_codes SET used = 1 WHERE selector = ?1 AND tenant = ?2 AND used = 0",
                )?
                .execute((&sel[..], &*tenant))?;
            Ok(n == 1)
        })
        .await
    }
}
