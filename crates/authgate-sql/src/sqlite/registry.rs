//! [`ClientRegistry`] on SQLite: dynamic registration's client writes. A deletion and the
//! revocation of what the client held are one job of the single writer, so one commit.

use async_trait::async_trait;
use authgate::{ClientRecord, ClientRegistry, StorageError};
use rusqlite::{params, Connection, OptionalExtension};

use super::clients::client_row;
use super::SqliteStore;
use crate::codec::{ClientValues, CLIENT_COLUMNS};

/// Runs `sql` (an INSERT or UPDATE of `authgate_clients` whose parameters are the tenant
/// then the client's columns in [`CLIENT_COLUMNS`] order, `?1`..`?10`) for a client; answers
/// the rows changed. The admin upsert, the registry's create and update share it.
pub(super) fn execute_client(
    conn: &Connection,
    sql: &str,
    tenant: &str,
    c: &ClientRecord,
) -> rusqlite::Result<usize> {
    let v = ClientValues::of(c);
    conn.execute(
        sql,
        params![
            tenant,
            v.client_id,
            v.secret_hash,
            v.client_name,
            v.redirect_uris,
            v.grant_types,
            v.response_types,
            v.scope,
            v.auth_method,
            v.metadata,
        ],
    )
}

#[async_trait]
impl ClientRegistry for SqliteStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        let (tenant, c) = (self.tenant.clone(), client.clone());
        self.write(move |conn| {
            let sql = format!(
                "INSERT INTO authgate_clients (tenant, {CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (tenant, client_id) DO NOTHING"
            );
            Ok(execute_client(conn, &sql, &tenant, &c)? == 1)
        })
        .await
    }

    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StorageError> {
        let (tenant, id) = (self.tenant.clone(), client_id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE tenant = ?1 AND client_id = ?2"
                ))?
                .query_row((&*tenant, id), client_row)
                .optional()
            })
            .await?;
        Ok(row.map(crate::codec::ClientRow::into_record))
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        let (tenant, c) = (self.tenant.clone(), client.clone());
        self.write(move |conn| {
            let sql = "UPDATE authgate_clients SET secret_hash = ?3, client_name = ?4, redirect_uris = ?5,
                   grant_types = ?6, response_types = ?7, scope = ?8, auth_method = ?9, metadata = ?10
                 WHERE tenant = ?1 AND client_id = ?2";
            Ok(execute_client(conn, sql, &tenant, &c)? == 1)
        })
        .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let (tenant, id) = (self.tenant.clone(), client_id.to_owned());
        self.write(move |conn| {
            for statement in [
                "UPDATE authgate_tokens SET revoked = 1 WHERE tenant = ?1 AND client_id = ?2 AND revoked = 0",
                "DELETE FROM authgate_codes WHERE tenant = ?1 AND client_id = ?2",
                "DELETE FROM authgate_device_codes WHERE tenant = ?1 AND client_id = ?2",
                "DELETE FROM authgate_consents WHERE tenant = ?1 AND client_id = ?2",
            ] {
                conn.execute(statement, (&*tenant, &id))?;
            }
            Ok(conn.execute(
                "DELETE FROM authgate_clients WHERE tenant = ?1 AND client_id = ?2",
                (&*tenant, &id),
            )? == 1)
        })
        .await
    }
}
