//! [`ClientStore`] on SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use authgate::{Client, ClientStore, StorageError};
use rusqlite::{OptionalExtension, Row};

use super::SqliteStore;
use crate::codec::{ClientRow, CLIENT_COLUMNS};

/// Reads a row selected with [`CLIENT_COLUMNS`].
pub(super) fn client_row(r: &Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        client_id: r.get(0)?,
        secret_hash: r.get(1)?,
        client_name: r.get(2)?,
        redirect_uris: r.get(3)?,
        grant_types: r.get(4)?,
        response_types: r.get(5)?,
        scope: r.get(6)?,
        auth_method: r.get(7)?,
        metadata: r.get(8)?,
    })
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        let (tenant, id) = (self.tenant.clone(), client_id.to_owned());
        let c = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM authgate_clients WHERE tenant = ?1 AND client_id = ?2"
                ))?
                .query_row((&*tenant, id), client_row)
                .optional()
            })
            .await?;
        Ok(c.map(|c| Arc::new(c.into_record()) as Arc<dyn Client>))
    }
}
