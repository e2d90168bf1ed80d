//! [`TokenStore`] on SQLite.

use async_trait::async_trait;
use authgate::token::Selector;
use authgate::{StorageError, TokenRecord, TokenStore};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{malformed, SqliteStore};
use crate::codec::{TokenRow, TokenValues, TOKEN_COLUMNS};

/// Reads a row selected with [`TOKEN_COLUMNS`].
fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        selector: r.get(0)?,
        verifier_hash: r.get(1)?,
        kind: r.get(2)?,
        client_id: r.get(3)?,
        subject: r.get(4)?,
        username: r.get(5)?,
        scope: r.get(6)?,
        grant_type: r.get(7)?,
        issued_at: r.get(8)?,
        expires_at: r.get(9)?,
        family: r.get(10)?,
        revoked: r.get(11)?,
        rotated: r.get(12)?,
        details: r.get(13)?,
        successors: r.get(14)?,
    })
}

fn insert_tokens(conn: &Connection, tenant: &str, tokens: &[TokenRecord]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO authgate_tokens (tenant, {TOKEN_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?;
    for t in tokens {
        let v = TokenValues::of(t);
        stmt.execute(params![
            tenant,
            v.selector,
            v.verifier_hash,
            v.kind,
            v.client_id,
            v.subject,
            v.username,
            v.scope,
            v.grant_type,
            v.issued_at,
            v.expires_at,
            v.family,
            v.revoked,
            v.rotated,
            v.details,
            v.successors,
        ])?;
    }
    Ok(())
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        let (tenant, tokens) = (self.tenant.clone(), tokens.to_vec());
        self.write(move |conn| insert_tokens(conn, &tenant, &tokens))
            .await
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.read(move |conn| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM authgate_tokens WHERE selector = ?1 AND tenant = ?2"
                ))?
                .query_row((&sel[..], &*tenant), token_row)
                .optional()?;
            row.map(|r| r.into_record().map_err(malformed)).transpose()
        })
        .await
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE authgate_tokens SET revoked = 1 WHERE selector = ?1 AND tenant = ?2",
            )?
            .execute((&sel[..], &*tenant))?;
            Ok(())
        })
        .await
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let (tenant, fam) = (self.tenant.clone(), family.0);
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE authgate_tokens SET revoked = 1 WHERE family = ?1 AND tenant = ?2 AND revoked = 0",
            )?
            .execute((&fam[..], &*tenant))?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        let (tenant, sel, repl) = (self.tenant.clone(), selector.0, replacements.to_vec());
        let sealed = sealed_successors.map(<[u8]>::to_vec);
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_tokens SET rotated = 1, successors = ?3
                     WHERE selector = ?1 AND tenant = ?2 AND kind = 1 AND revoked = 0 AND rotated = 0",
                )?
                .execute((&sel[..], &*tenant, sealed))?;
            if n != 1 {
                return Ok(false);
            }
            insert_tokens(conn, &tenant, &repl)?;
            Ok(true)
        })
        .await
    }
}
