//! [`UserStore`] on SQLite: argon2id hashes, checked off the async workers.

use async_trait::async_trait;
use authgate::{password, ResourceOwner, StorageError, UserStore};
use rusqlite::OptionalExtension;

use super::SqliteStore;

#[async_trait]
impl UserStore for SqliteStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        let (tenant, name) = (self.tenant.clone(), username.to_owned());
        let row: Option<(String, String)> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT subject, password_hash FROM authgate_users WHERE tenant = ?1 AND username = ?2",
                )?
                .query_row((&*tenant, name), |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
            })
            .await?;
        let Some((subject, hash)) = row else {
            password::verify_unknown_user(password.to_owned()).await?;
            return Ok(None);
        };
        Ok(password::verify(hash, password.to_owned())
            .await?
            .then(|| ResourceOwner::new(subject, username)))
    }
}
