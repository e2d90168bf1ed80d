//! [`DeviceCodeStore`] on PostgreSQL: every state change is one statement, so concurrent
//! requests on several servers are ordered by the row lock.

use async_trait::async_trait;
use authgate::token::{SecretHash, Selector};
use authgate::{
    DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll, GrantDetails, ResourceOwner,
    StorageError,
};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{classify, column, malformed, PgStore};
use crate::codec::{DeviceCodeRow, DEVICE_CODE_COLUMNS};

fn device_row(r: &PgRow) -> Result<DeviceCodeRecord, StorageError> {
    DeviceCodeRow {
        selector: r.try_get("selector").map_err(column)?,
        verifier_hash: r.try_get("verifier_hash").map_err(column)?,
        user_code_hash: r.try_get("user_code_hash").map_err(column)?,
        client_id: r.try_get("client_id").map_err(column)?,
        scope: r.try_get("scope").map_err(column)?,
        issued_at: r.try_get("issued_at").map_err(column)?,
        expires_at: r.try_get("expires_at").map_err(column)?,
        interval: r.try_get("poll_interval").map_err(column)?,
        last_polled_ms: r.try_get("last_polled_ms").map_err(column)?,
        status: r.try_get("status").map_err(column)?,
        subject: r.try_get("subject").map_err(column)?,
        username: r.try_get("username").map_err(column)?,
        details: r.try_get("details").map_err(column)?,
    }
    .into_record()
    .map_err(malformed)
}

impl PgStore {
    async fn device_code_where(
        &self,
        column: &'static str,
        value: &[u8],
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_CODE_COLUMNS} FROM authgate_device_codes WHERE tenant = $1 AND {column} = $2"
        ))
        .bind(&*self.tenant)
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(device_row).transpose()
    }
}

#[async_trait]
impl DeviceCodeStore for PgStore {
    async fn save_device_code(&self, d: &DeviceCodeRecord) -> Result<bool, StorageError> {
        let done = sqlx::query(&format!(
            "INSERT INTO authgate_device_codes (tenant, {DEVICE_CODE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (tenant, user_code_hash) DO NOTHING"
        ))
        .bind(&*self.tenant)
        .bind(&d.selector.0[..])
        .bind(&d.verifier_hash.0[..])
        .bind(&d.user_code_hash.0[..])
        .bind(&d.client_id)
        .bind(d.scope.to_string())
        .bind(d.issued_at)
        .bind(d.expires_at)
        .bind(d.interval)
        .bind(d.last_polled_ms)
        .bind(d.status.as_str())
        .bind(&d.subject)
        .bind(&d.username)
        .bind(d.details.to_json())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_device_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        self.device_code_where("selector", &selector.0).await
    }

    async fn find_user_code(
        &self,
        user_code_hash: &SecretHash,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        self.device_code_where("user_code_hash", &user_code_hash.0)
            .await
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64,
    ) -> Result<bool, StorageError> {
        let (status, subject, username, details) = match owner {
            Some(o) => (
                DeviceCodeStatus::Approved,
                Some(o.subject.as_str()),
                o.username.as_deref(),
                GrantDetails::of_owner(o).to_json(),
            ),
            None => (DeviceCodeStatus::Denied, None, None, None),
        };
        let done = sqlx::query(
            "UPDATE authgate_device_codes SET status = $3, subject = $4, username = $5, details = $6
             WHERE tenant = $1 AND user_code_hash = $2 AND status = 'pending' AND expires_at > $7",
        )
        .bind(&*self.tenant)
        .bind(&user_code_hash.0[..])
        .bind(status.as_str())
        .bind(subject)
        .bind(username)
        .bind(details)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn poll_device_code(
        &self,
        selector: &Selector,
        now_ms: i64,
        slow_down_by: i64,
    ) -> Result<DevicePoll, StorageError> {
        // The CTE locks the row and reads its latest version (a concurrent poll waits,
        // then sees the first one's time), and the UPDATE writes from those values.
        let row = sqlx::query(
            "WITH old AS (
                SELECT poll_interval, last_polled_ms,
                       (last_polled_ms IS NOT NULL AND $3 - last_polled_ms < poll_interval * 1000) AS too_fast
                FROM authgate_device_codes
                WHERE tenant = $1 AND selector = $2 AND status = 'pending'
                FOR UPDATE
             )
             UPDATE authgate_device_codes d
             SET last_polled_ms = $3,
                 poll_interval = CASE WHEN old.too_fast THEN old.poll_interval + $4 ELSE old.poll_interval END
             FROM old
             WHERE d.tenant = $1 AND d.selector = $2
             RETURNING old.too_fast",
        )
        .bind(&*self.tenant)
        .bind(&selector.0[..])
        .bind(now_ms)
        .bind(slow_down_by)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(match row {
            None => DevicePoll::NotPending,
            Some(r) if r.try_get::<bool, _>(0).map_err(column)? => DevicePoll::TooFast,
            Some(_) => DevicePoll::Pending,
        })
    }

    async fn redeem_device_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE authgate_device_codes SET status = 'redeemed'
             WHERE tenant = $1 AND selector = $2 AND status = 'approved'",
        )
        .bind(&*self.tenant)
        .bind(&selector.0[..])
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}
