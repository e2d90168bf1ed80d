//! [`ClientStore`] on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use authgate::{Client, ClientStore, StorageError};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{classify, column, holdable, PgStore};
use crate::codec::{ClientRow, CLIENT_COLUMNS};

/// Reads a row selected with [`CLIENT_COLUMNS`].
pub(super) fn client_row(r: &PgRow) -> Result<ClientRow, StorageError> {
    Ok(ClientRow {
        client_id: r.try_get("client_id").map_err(column)?,
        secret_hash: r.try_get("secret_hash").map_err(column)?,
        client_name: r.try_get("client_name").map_err(column)?,
        redirect_uris: r.try_get("redirect_uris").map_err(column)?,
        grant_types: r.try_get("grant_types").map_err(column)?,
        response_types: r.try_get("response_types").map_err(column)?,
        scope: r.try_get("scope").map_err(column)?,
        auth_method: r.try_get("auth_method").map_err(column)?,
        metadata: r.try_get("metadata").map_err(column)?,
    })
}

#[async_trait]
impl ClientStore for PgStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
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
        match row {
            Some(r) => Ok(Some(Arc::new(client_row(&r)?.into_record()))),
            None => Ok(None),
        }
    }
}
