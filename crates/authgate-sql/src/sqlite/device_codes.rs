//! [`DeviceCodeStore`] on SQLite. Every state change runs as one job of the single writer,
//! so a read and the write that depends on it see no other write between them.

use async_trait::async_trait;
use authgate::storage::polled_too_soon;
use authgate::token::{SecretHash, Selector};
use authgate::{
    DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll, GrantDetails, ResourceOwner,
    StorageError,
};
use rusqlite::{params, OptionalExtension, Row};

use super::{malformed, SqliteStore};
use crate::codec::{DeviceCodeRow, DEVICE_CODE_COLUMNS};

fn device_row(r: &Row<'_>) -> rusqlite::Result<DeviceCodeRecord> {
    DeviceCodeRow {
        selector: r.get(0)?,
        verifier_hash: r.get(1)?,
        user_code_hash: r.get(2)?,
        client_id: r.get(3)?,
        scope: r.get(4)?,
        issued_at: r.get(5)?,
        expires_at: r.get(6)?,
        interval: r.get(7)?,
        last_polled_ms: r.get(8)?,
        status: r.get(9)?,
        subject: r.get(10)?,
        username: r.get(11)?,
        details: r.get(12)?,
    }
    .into_record()
    .map_err(malformed)
}

impl SqliteStore {
    async fn device_code_where(
        &self,
        column: &'static str,
        value: [u8; 32],
        len: usize,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        let tenant = self.tenant.clone();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {DEVICE_CODE_COLUMNS} FROM authgate_device_codes WHERE tenant = ?1 AND {column} = ?2"
            ))?
            .query_row((&*tenant, &value[..len]), device_row)
            .optional()
        })
        .await
    }
}

#[async_trait]
impl DeviceCodeStore for SqliteStore {
    async fn save_device_code(&self, d: &DeviceCodeRecord) -> Result<bool, StorageError> {
        let (tenant, d) = (self.tenant.clone(), d.clone());
        self.write(move |conn| {
            let n = conn
                .prepare_cached(&format!(
                    "INSERT INTO authgate_device_codes (tenant, {DEVICE_CODE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (tenant, user_code_hash) DO NOTHING"
                ))?
                .execute(params![
                    &*tenant,
                    &d.selector.0[..],
                    &d.verifier_hash.0[..],
                    &d.user_code_hash.0[..],
                    d.client_id,
                    d.scope.to_string(),
                    d.issued_at,
                    d.expires_at,
                    d.interval,
                    d.last_polled_ms,
                    d.status.as_str(),
                    d.subject,
                    d.username,
                    d.details.to_json(),
                ])?;
            Ok(n == 1)
        })
        .await
    }

    async fn find_device_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&selector.0);
        self.device_code_where("selector", key, 16).await
    }

    async fn find_user_code(
        &self,
        user_code_hash: &SecretHash,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        self.device_code_where("user_code_hash", user_code_hash.0, 32)
            .await
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64,
    ) -> Result<bool, StorageError> {
        let (tenant, hash) = (self.tenant.clone(), user_code_hash.0);
        let (status, subject, username, details) = match owner {
            Some(o) => (
                DeviceCodeStatus::Approved,
                Some(o.subject.clone()),
                o.username.clone(),
                GrantDetails::of_owner(o).to_json(),
            ),
            None => (DeviceCodeStatus::Denied, None, None, None),
        };
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_device_codes SET status = ?3, subject = ?4, username = ?5, details = ?6
                     WHERE tenant = ?1 AND user_code_hash = ?2 AND status = 'pending' AND expires_at > ?7",
                )?
                .execute(params![
                    &*tenant,
                    &hash[..],
                    status.as_str(),
                    subject,
                    username,
                    details,
                    now
                ])?;
            Ok(n == 1)
        })
        .await
    }

    async fn poll_device_code(
        &self,
        selector: &Selector,
        now_ms: i64,
        slow_down_by: i64,
    ) -> Result<DevicePoll, StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.write(move |conn| {
            let row: Option<(i64, Option<i64>)> = conn
                .prepare_cached(
                    "SELECT poll_interval, last_polled_ms FROM authgate_device_codes
                     WHERE tenant = ?1 AND selector = ?2 AND status = 'pending'",
                )?
                .query_row((&*tenant, &sel[..]), |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((interval, last)) = row else {
                return Ok(DevicePoll::NotPending);
            };
            let too_fast = polled_too_soon(last, interval, now_ms);
            let interval = if too_fast {
                interval.saturating_add(slow_down_by)
            } else {
                interval
            };
            conn.prepare_cached(
                "UPDATE authgate_device_codes SET poll_interval = ?3, last_polled_ms = ?4
                 WHERE tenant = ?1 AND selector = ?2",
            )?
            .execute(params![&*tenant, &sel[..], interval, now_ms])?;
            Ok(if too_fast {
                DevicePoll::TooFast
            } else {
                DevicePoll::Pending
            })
        })
        .await
    }

    async fn redeem_device_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let (tenant, sel) = (self.tenant.clone(), selector.0);
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE authgate_device_codes SET status = 'redeemed'
                     WHERE tenant = ?1 AND selector = ?2 AND status = 'approved'",
                )?
                .execute((&*tenant, &sel[..]))?;
            Ok(n == 1)
        })
        .await
    }
}
