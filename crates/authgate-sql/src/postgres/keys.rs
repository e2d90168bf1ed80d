//! [`KeyStore`] on PostgreSQL: several servers on one database agree on their keys through
//! the unique (tenant, alg, generation).

use async_trait::async_trait;
use authgate::{KeyStore, SigningKeyRecord, StorageError};
use sqlx::Row;

use super::{classify, column, PgStore};
use crate::codec::KEY_COLUMNS;

#[async_trait]
impl KeyStore for PgStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM authgate_keys WHERE tenant = $1"
        ))
        .bind(&*self.tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRecord::new(
                    r.try_get::<String, _>("kid").map_err(column)?,
                    r.try_get::<String, _>("alg").map_err(column)?,
                    r.try_get("generation").map_err(column)?,
                    r.try_get("sealed_private_key").map_err(column)?,
                    r.try_get::<String, _>("public_jwk").map_err(column)?,
                    r.try_get("created_at").map_err(column)?,
                    r.try_get("not_before").map_err(column)?,
                    r.try_get("not_after").map_err(column)?,
                    r.try_get("expires_at").map_err(column)?,
                ))
            })
            .collect()
    }

    async fn add_signing_key(&self, k: &SigningKeyRecord) -> Result<bool, StorageError> {
        let res = sqlx::query(&format!(
            "INSERT INTO authgate_keys (tenant, {KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT DO NOTHING"
        ))
        .bind(&*self.tenant)
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(k.generation)
        .bind(&k.sealed_private_key)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.not_before)
        .bind(k.not_after)
        .bind(k.expires_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(res.rows_affected() == 1)
    }

    async fn update_signing_key(
        &self,
        kid: &str,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE authgate_keys SET not_before = $3, not_after = $4, expires_at = $5
             WHERE tenant = $1 AND kid = $2",
        )
        .bind(&*self.tenant)
        .bind(kid)
        .bind(not_before)
        .bind(not_after)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn remove_signing_key(&self, kid: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM authgate_keys WHERE tenant = $1 AND kid = $2")
            .bind(&*self.tenant)
            .bind(kid)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
