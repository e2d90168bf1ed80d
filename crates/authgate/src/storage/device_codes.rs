//! [`DeviceCodeStore`]: pending device authorizations (RFC 8628), from the device's request
//! through the user's decision to the one redemption at the token endpoint.

use async_trait::async_trait;

use super::{GrantDetails, ResourceOwner};
use crate::error::StorageError;
use crate::scope::Scope;
use crate::token::{SecretHash, Selector, TokenKey};

/// Where a device authorization stands. It moves only forwards: pending, then approved or
/// denied, and an approved one is redeemed once.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceCodeStatus {
    /// Waiting for the user (the device polls and hears `authorization_pending`).
    Pending,
    /// The user approved; the next poll gets the tokens.
    Approved,
    /// The user refused (`access_denied`).
    Denied,
    /// The tokens were issued; the device code is spent.
    Redeemed,
}

impl DeviceCodeStatus {
    /// The name stores keep: `pending`, `approved`, `denied`, `redeemed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "redeemed" => Self::Redeemed,
            _ => return None,
        })
    }
}

/// A device authorization request, as stored.
///
/// The device code is kept like a token (selector + SHA-256 of the verifier); the user code
/// only as its SHA-256 (the normalised eight letters), which is what the verification page
/// looks it up by.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct DeviceCodeRecord {
    /// The device code's storage key.
    pub selector: Selector,
    /// SHA-256 of the device code's verifier.
    pub verifier_hash: SecretHash,
    /// SHA-256 of the normalised user code (unique among stored requests).
    pub user_code_hash: SecretHash,
    /// The client that asked.
    pub client_id: String,
    /// The scope asked for (already checked against the client's).
    pub scope: Scope,
    /// Issue time, seconds since the epoch.
    pub issued_at: i64,
    /// Expiry time, seconds since the epoch.
    pub expires_at: i64,
    /// Seconds the device must wait between polls; grows by five on each `slow_down`
    /// (RFC 8628 §3.5).
    pub interval: i64,
    /// When the device last polled, milliseconds since the epoch.
    pub last_polled_ms: Option<i64>,
    /// Where the request stands.
    pub status: DeviceCodeStatus,
    /// The approving user's subject, once approved.
    pub subject: Option<String>,
    /// The approving user's login name, once approved.
    pub username: Option<String>,
    /// How the approving user authenticated (and their session), once approved.
    pub details: GrantDetails,
}

impl DeviceCodeRecord {
    /// A pending request of `client_id`.
    pub fn new(
        key: TokenKey,
        user_code_hash: SecretHash,
        client_id: impl Into<String>,
        scope: Scope,
        issued_at: i64,
        expires_at: i64,
        interval: i64,
    ) -> Self {
        Self {
            selector: key.selector,
            verifier_hash: key.verifier_hash,
            user_code_hash,
            client_id: client_id.into(),
            scope,
            issued_at,
            expires_at,
            interval,
            last_polled_ms: None,
            status: DeviceCodeStatus::Pending,
            subject: None,
            username: None,
            details: GrantDetails::default(),
        }
    }

    /// The approving user, with how they authenticated; `None` before approval.
    pub fn owner(&self) -> Option<ResourceOwner> {
        let subject = self.subject.clone()?;
        Some(ResourceOwner {
            subject,
            username: self.username.clone(),
            auth_time: self.details.auth_time,
            acr: self.details.acr.clone(),
            amr: self.details.amr.clone(),
            session_id: self.details.session_id.clone(),
        })
    }
}

/// What a poll of a pending request found.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePoll {
    /// The request is no longer pending (decided, redeemed, or gone): read it again.
    NotPending,
    /// Polled at a fair pace: still pending.
    Pending,
    /// Polled sooner than the interval allows: the interval grew (RFC 8628 §3.5
    /// `slow_down`).
    TooFast,
}

/// Keeps device authorization requests. Every state change is one atomic method, so a
/// SQL backend can make each a single statement or transaction.
#[async_trait]
pub trait DeviceCodeStore: Send + Sync {
    /// Saves a new pending request. Answers false (and saves nothing) when another stored
    /// request holds the same user code; the caller draws another.
    async fn save_device_code(&self, record: &DeviceCodeRecord) -> Result<bool, StorageError>;

    /// The request with this device code selector, in any state, or `None`.
    async fn find_device_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<DeviceCodeRecord>, StorageError>;

    /// The request holding this user code, in any state, or `None`.
    async fn find_user_code(
        &self,
        user_code_hash: &SecretHash,
    ) -> Result<Option<DeviceCodeRecord>, StorageError>;

    /// Records the user's decision on the request holding this user code, if it is still
    /// pending and unexpired at `now`: approved for `owner`, or denied when `owner` is
    /// `None`. Answers true for exactly one of any number of concurrent calls.
    async fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64,
    ) -> Result<bool, StorageError>;

    /// A poll of a pending request at `now_ms`: records the time, and when the previous
    /// poll was less than the interval ago, adds `slow_down_by` seconds to the interval
    /// and answers [`DevicePoll::TooFast`]. Atomic.
    async fn poll_device_code(
        &self,
        selector: &Selector,
        now_ms: i64,
        slow_down_by: i64,
    ) -> Result<DevicePoll, StorageError>;

    /// Marks an approved request redeemed. Answers true for exactly one of any number of
    /// concurrent calls; false for a request in any other state.
    async fn redeem_device_code(&self, selector: &Selector) -> Result<bool, StorageError>;
}

/// Whether a poll at `now_ms` comes sooner than `interval` seconds after `last_ms`.
pub fn polled_too_soon(last_ms: Option<i64>, interval: i64, now_ms: i64) -> bool {
    last_ms.is_some_and(|last| now_ms.saturating_sub(last) < interval.saturating_mul(1000))
}
