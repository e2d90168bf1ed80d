//! [`TokenStore`] on PostgreSQL: saves go through the batched writers (group commit);
//! rotation and family revocation serialise on a per-family advisory lock.

use async_trait::async_trait;
use authgate::token::Selector;
use authgate::{StorageError, TokenRecord, TokenStore};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use super::{classify, column, family_lock, malformed, BatchWork, PgStore, RevokeJob, SaveJob};
use crate::codec::{TokenRow, TokenValues, TOKEN_COLUMNS};

/// One multi-row INSERT of `(tenant, token)` pairs: atomic on its own, one round trip.
pub(super) fn insert_query<'a>(
    tokens: impl IntoIterator<Item = (&'a str, &'a TokenRecord)>,
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(format!(
        "INSERT INTO authgate_tokens (tenant, {TOKEN_COLUMNS}) "
    ));
    q.push_values(tokens, |mut b, (tenant, t)| {
        let v = TokenValues::of(t);
        b.push_bind(tenant)
            .push_bind(v.selector)
            .push_bind(v.verifier_hash)
            .push_bind(v.kind)
            .push_bind(v.client_id)
            .push_bind(v.subject)
            .push_bind(v.username)
            .push_bind(v.scope)
            .push_bind(v.grant_type)
            .push_bind(v.issued_at)
            .push_bind(v.expires_at)
            .push_bind(v.family)
            .push_bind(v.revoked)
            .push_bind(v.rotated)
            .push_bind(v.details)
            .push_bind(v.successors);
    });
    q
}

impl BatchWork for Vec<TokenRecord> {
    fn execute<'a>(
        pool: &'a PgPool,
        jobs: &'a [SaveJob],
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'a {
        let mut query = insert_query(
            jobs.iter()
                .flat_map(|j| j.work.iter().map(|t| (&*j.tenant, t))),
        );
        async move {
            query.build().execute(pool).await.map_err(classify)?;
            Ok(())
        }
    }
}

impl BatchWork for Selector {
    /// Revokes the jobs' tokens in one statement (one commit), locking rows in selector
    /// order as family revocation does (PostgreSQL's join may still take another order:
    /// a deadlock fails the batch, which is then retried one token at a time); tokens
    /// already revoked, or unknown, are left as they are.
    fn execute<'a>(
        pool: &'a PgPool,
        jobs: &'a [RevokeJob],
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'a {
        let mut pairs: Vec<(&[u8], &str)> =
            jobs.iter().map(|j| (&j.work.0[..], &*j.tenant)).collect();
        pairs.sort_unstable();
        let (selectors, tenants): (Vec<&[u8]>, Vec<&str>) = pairs.into_iter().unzip();
        async move {
            sqlx::query(
                "UPDATE authgate_tokens t SET revoked = TRUE
                 FROM unnest($1::bytea[], $2::text[]) AS v(selector, tenant)
                 WHERE t.selector = v.selector AND t.tenant = v.tenant AND NOT t.revoked",
            )
            .bind(selectors)
            .bind(tenants)
            .execute(pool)
            .await
            .map_err(classify)?;
            Ok(())
        }
    }
}

fn token_row(r: &PgRow) -> Result<TokenRecord, StorageError> {
    let kind: i16 = r.try_get("kind").map_err(column)?;
    TokenRow {
        selector: r.try_get("selector").map_err(column)?,
        verifier_hash: r.try_get("verifier_hash").map_err(column)?,
        kind: i64::from(kind),
        client_id: r.try_get("client_id").map_err(column)?,
        subject: r.try_get("subject").map_err(column)?,
        username: r.try_get("username").map_err(column)?,
        scope: r.try_get("scope").map_err(column)?,
        grant_type: r.try_get("grant_type").map_err(column)?,
        issued_at: r.try_get("issued_at").map_err(column)?,
        expires_at: r.try_get("expires_at").map_err(column)?,
        family: r.try_get("family").map_err(column)?,
        revoked: r.try_get("revoked").map_err(column)?,
        rotated: r.try_get("rotated").map_err(column)?,
        details: r.try_get("details").map_err(column)?,
        successors: r.try_get("successors").map_err(column)?,
    }
    .into_record()
    .map_err(malformed)
}

#[async_trait]
impl TokenStore for PgStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        if tokens.is_empty() {
            return Ok(());
        }
        self.hand_over(&self.batcher, tokens.to_vec()).await
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM authgate_tokens WHERE selector = $1 AND tenant = $2"
        ))
        .bind(&selector.0[..])
        .bind(&*self.tenant)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(token_row).transpose()
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        self.hand_over(&self.revoker, *selector).await
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // Ordered after any rotation of this family in flight (it holds the same lock), so
        // the UPDATE's snapshot includes the tokens that rotation adds.
        family_lock(&mut tx, family).await?;
        // Rows are locked in selector order, so concurrent revocations of one family (a
        // burst of replayed codes, say) queue instead of deadlocking; rows already revoked
        // are skipped.
        sqlx::query(
            "UPDATE authgate_tokens SET revoked = TRUE WHERE tenant = $2 AND selector IN
             (SELECT selector FROM authgate_tokens WHERE family = $1 AND tenant = $2 AND NOT revoked
              ORDER BY selector FOR UPDATE)",
        )
        .bind(&family.0[..])
        .bind(&*self.tenant)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        if let Some(first) = replacements.first() {
            family_lock(&mut tx, &first.family).await?;
        }
        // The UPDATE takes the row lock: a concurrent rotation waits, then re-checks the
        // WHERE clause against the committed row and updates nothing.
        let res = sqlx::query(
            "UPDATE authgate_tokens SET rotated = TRUE, successors = $3
             WHERE selector = $1 AND tenant = $2 AND kind = 1 AND NOT revoked AND NOT rotated",
        )
        .bind(&selector.0[..])
        .bind(&*self.tenant)
        .bind(sealed_successors)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if res.rows_affected() != 1 {
            tx.rollback().await.map_err(classify)?;
            return Ok(false);
        }
        if !replacements.is_empty() {
            insert_query(replacements.iter().map(|t| (&*self.tenant, t)))
                .build()
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }
}
