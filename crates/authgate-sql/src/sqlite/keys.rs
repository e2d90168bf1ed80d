//! [`KeyStore`] on SQLite.

use async_trait::async_trait;
use authgate::{KeyStore, SigningKeyRecord, StorageError};
use rusqlite::params;

use super::SqliteStore;
use crate::codec::KEY_COLUMNS;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let tenant = self.tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM authgate_keys WHERE tenant = ?1"
            ))?;
            let rows = stmt.query_map([&*tenant], |r| {
                Ok(SigningKeyRecord::new(
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })?;
            rows.collect()
        })
        .await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StorageError> {
        let (tenant, k) = (self.tenant.clone(), key.clone());
        self.write(move |conn| {
            let n = conn.execute(
                &format!(
                    "INSERT INTO authgate_keys (tenant, {KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT DO NOTHING"
                ),
                params![
                    &*tenant,
                    k.kid,
                    k.alg,
                    k.generation,
                    k.sealed_private_key,
                    k.public_jwk,
                    k.created_at,
                    k.not_before,
                    k.not_after,
                    k.expires_at,
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn update_signing_key(
        &self,
        kid: &str,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let (tenant, kid) = (self.tenant.clone(), kid.to_owned());
        self.write(move |conn| {
            conn.execute(
                "UPDATE authgate_keys SET not_before = ?3, not_after = ?4, expires_at = ?5
                 WHERE tenant = ?1 AND kid = ?2",
                params![&*tenant, kid, not_before, not_after, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_signing_key(&self, kid: &str) -> Result<(), StorageError> {
        let (tenant, kid) = (self.tenant.clone(), kid.to_owned());
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM authgate_keys WHERE tenant = ?1 AND kid = ?2",
                (&*tenant, kid),
            )?;
            Ok(())
        })
        .await
    }
}
