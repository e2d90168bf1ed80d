//! [`UserStore`] on PostgreSQL: argon2id hashes, checked off the async workers.

use async_trait::async_trait;
use authgate::{password, ResourceOwner, StorageError, UserStore};
use sqlx::Row;

use super::{classify, column, holdable, PgStore};

#[async_trait]
impl UserStore for PgStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        if !holdable(username) {
            // Nobody is named so; the work of an unknown user's check is spent all the same.
            password::verify_unknown_user(password.to_owned()).await?;
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT subject, password_hash FROM authgate_users WHERE tenant = $1 AND username = $2",
        )
        .bind(&*self.tenant)
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        let Some(r) = row else {
            password::verify_unknown_user(password.to_owned()).await?;
            return Ok(None);
        };
        let subject: String = r.try_get("subject").map_err(column)?;
        let hash: String = r.try_get("password_hash").map_err(column)?;
        Ok(password::verify(hash, password.to_owned())
            .await?
            .then(|| ResourceOwner::new(subject, username)))
    }
}
