//! [`ReplayCache`] on SQLite.

use async_trait::async_trait;
use authgate::{ReplayCache, StorageError};
use rusqlite::params;

use super::SqliteStore;

#[async_trait]
impl ReplayCache for SqliteStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError> {
        let (tenant, key) = (self.tenant.clone(), key.to_owned());
        // One statement on the single writer: a new key is inserted, an expired one taken
        // over; a live one changes nothing, so no row is touched.
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO authgate_replay (tenant, key, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant, key) DO UPDATE SET expires_at = excluded.expires_at
                     WHERE authgate_replay.expires_at <= ?4",
                )?
                .execute(params![&*tenant, key, expires_at, now])?;
            Ok(n == 1)
        })
        .await
    }
}
