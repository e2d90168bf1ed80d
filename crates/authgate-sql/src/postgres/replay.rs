//! [`ReplayCache`] on PostgreSQL.

use async_trait::async_trait;
use authgate::{ReplayCache, StorageError};

use super::{classify, holdable, PgStore};

#[async_trait]
impl ReplayCache for PgStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError> {
        if !holdable(key) {
            return Err(StorageError::InvalidValue(
                "a replay key holds a NUL character".into(),
            ));
        }
        // One statement: the unique key serialises concurrent callers; the loser of an
        // insert race waits for the winner's row, then finds it live and updates nothing.
        let done = sqlx::query(
            "INSERT INTO authgate_replay (tenant, key, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, key) DO UPDATE SET expires_at = EXCLUDED.expires_at
             WHERE authgate_replay.expires_at <= $4",
        )
        .bind(&*self.tenant)
        .bind(key)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}
