//! [`ClientRegistry`] on PostgreSQL: dynamic registration's client writes. A deletion and
//! the revocation of what the client held commit together, in one transaction.

use async_trait::async_trait;
use authgate::{ClientRecord, ClientRegistry, StorageError};

use super::clients::client_row;
use super::{classify, holdable, PgStore};
use crate::codec::{ClientValues, CLIENT_COLUMNS};

impl PgStore {
    /// Runs `sql` (an INSERT or UPDATE of `authgate_clients` whose parameters are the
    /// tenant then the client's columns in [`CLIENT_COLUMNS`] order, `$1`..`$10`) for a
    /// client; answers the rows changed. The admin upsert, the registry's create and update
    /// share it.
    pub(super) async fn execute_client(
        &self,
        sql: &str,
        c: &ClientRecord,
    ) -> Result<u64, StorageError> {
        let v = ClientValues::of(c);
        let done = sqlx::query(sql)
            .bind(&*self.tenant)
            .bind(v.client_id)
            .bind(v.secret_hash)
            .bind(v.client_name)
            .bind(v.redirect_uris)
            .bind(v.grant_types)
            .bind(v.response_types)
            .bind(v.scope)
            .bind(v.auth_method)
            .bind(v.metadata)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected())
    }

    /// Runs each statement (parameters: the tenant, then `value`) and then `last`, in one
    /// transaction; answers the rows `last` changed. A client's or a user's removal, with
    /// what they held.
    pub(super) async fn remove_with(
        &self,
        statements: &[&str],
        last: &str,
        value: &str,
    ) -> Result<u64, StorageError> {
        if !holdable(value) {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.map_err(classify)?;
        for statement in statements {
            sqlx::query(statement)
                .bind(&*self.tenant)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        let done = sqlx::query(last)
            .bind(&*self.tenant)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl ClientRegistry for PgStore {
    async fn create_client(&self, c: &ClientRecord) -> Result<bool, StorageError> {
        let sql = format!(
            "INSERT INTO authgate_clients (tenant, {CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant, client_id) DO NOTHING"
        );
        Ok(self.execute_client(&sql, c).await? == 1)
    }

    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StorageError> {
        if !holdable(client_id) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE tenant = $1 AND client_id = $2"
        ))
        .bind(&*self.tenant)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.map(|r| client_row(&r).map(crate::codec::ClientRow::into_record))
            .transpose()
    }

    async fn update_client(&self, c: &ClientRecord) -> Result<bool, StorageError> {
        let sql =
            "UPDATE authgate_clients SET secret_hash = $3, client_name = $4, redirect_uris = $5,
               grant_types = $6, response_types = $7, scope = $8, auth_method = $9, metadata = $10
             WHERE tenant = $1 AND client_id = $2";
        Ok(self.execute_client(sql, c).await? == 1)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let removed = self
            .remove_with(
                &[
                    "UPDATE authgate_tokens SET revoked = TRUE WHERE tenant = $1 AND client_id = $2 AND NOT revoked",
                    "DELETE FROM authgate_codes WHERE tenant = $1 AND client_id = $2",
                    "DELETE FROM authgate_device_codes WHERE tenant = $1 AND client_id = $2",
                    "DELETE FROM authgate_consents WHERE tenant = $1 AND client_id = $2",
                ],
                "DELETE FROM authgate_clients WHERE tenant = $1 AND client_id = $2",
                client_id,
            )
            .await?;
        Ok(removed == 1)
    }
}
