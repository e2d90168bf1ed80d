//! A backend that reports how long each storage call took and how it ended, to an
//! application's [`StoreObserver`] (metrics, logs): see [`AnyStore::observed`](crate::AnyStore::observed).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authgate::token::{SecretHash, Selector};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientRegistry,
    ClientStore, ConsentRecord, ConsentStore, DeviceCodeRecord, DeviceCodeStore, DevicePoll,
    KeyStore, ReplayCache, ResourceOwner, SessionRecord, SessionStore, SigningKeyRecord,
    StorageError, TokenRecord, TokenStore, UserStore,
};

use crate::{Admin, Backend, InitialAccessToken, NewUser, PoolState, UserInfo};

/// Told about every storage call an observed store makes.
///
/// Called on the request's task once the call returned, so it must be quick: record a
/// histogram sample or bump a counter, not write to a file.
///
/// ```
/// use std::time::Duration;
/// use authgate::StorageError;
/// use authgate_sql::StoreObserver;
///
/// struct SlowCalls;
///
/// impl StoreObserver for SlowCalls {
///     fn observe(&self, operation: &'static str, took: Duration, result: Result<(), &StorageError>) {
///         if took > Duration::from_millis(100) || result.is_err() {
///             eprintln!("store {operation}: {took:?} {result:?}");
///         }
///     }
/// }
/// ```
pub trait StoreObserver: Send + Sync + 'static {
    /// `operation` is the storage method's name (`find_token`, `save_tokens`...); `took`
    /// runs from the call to its answer (waiting for a connection included); `result`
    /// says whether it failed and how.
    fn observe(&self, operation: &'static str, took: Duration, result: Result<(), &StorageError>);
}

/// Forwards every call to `inner` and reports it to `observer`.
pub(crate) struct Observed {
    pub(crate) inner: Arc<dyn Backend>,
    pub(crate) observer: Arc<dyn StoreObserver>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Observed {
    // Latency on the monotonic clock: a duration, never a time of day.
    #[allow(clippy::disallowed_methods)]
    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        let result = call.await;
        self.observer
            .observe(operation, started.elapsed(), result.as_ref().map(|_| ()));
        result
    }
}

impl Backend for Observed {
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend> {
        Arc::new(Self {
            inner: self.inner.in_tenant(tenant),
            observer: self.observer.clone(),
        })
    }

    fn pool_state(&self) -> PoolState {
        self.inner.pool_state()
    }
}

/// Implements `$trait` for [`Observed`]: each method times the same call on the inner
/// backend under the method's own name.
macro_rules! observed {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for Observed {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StorageError> {
                    self.timed(stringify!($name), self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

observed!(ClientStore {
    fn find_client(&self, client_id: &str) -> Option<Arc<dyn Client>>;
});

observed!(AuthorizationCodeStore {
    fn save_code(&self, code: AuthorizationCodeRecord) -> ();
    fn find_code(&self, selector: &Selector) -> Option<AuthorizationCodeRecord>;
    fn consume_code(&self, selector: &Selector) -> bool;
    fn remove_code(&self, selector: &Selector) -> ();
});

observed!(TokenStore {
    fn save_tokens(&self, tokens: &[TokenRecord]) -> ();
    fn find_token(&self, selector: &Selector) -> Option<TokenRecord>;
    fn revoke_token(&self, selector: &Selector) -> ();
    fn revoke_family(&self, family: &Selector) -> ();
    fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>
    ) -> bool;
});

observed!(UserStore {
    fn authenticate_user(&self, username: &str, password: &str) -> Option<ResourceOwner>;
});

observed!(SessionStore {
    fn save_session(&self, session: &SessionRecord) -> ();
    fn find_session(&self, sid: &str) -> Option<SessionRecord>;
    fn add_session_client(&self, sid: &str, client_id: &str) -> ();
    fn end_session(&self, sid: &str) -> Option<SessionRecord>;
    fn end_sessions_of(&self, subject: &str) -> Vec<SessionRecord>;
});

observed!(DeviceCodeStore {
    fn save_device_code(&self, record: &DeviceCodeRecord) -> bool;
    fn find_device_code(&self, selector: &Selector) -> Option<DeviceCodeRecord>;
    fn find_user_code(&self, user_code_hash: &SecretHash) -> Option<DeviceCodeRecord>;
    fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64
    ) -> bool;
    fn poll_device_code(&self, selector: &Selector, now_ms: i64, slow_down_by: i64) -> DevicePoll;
    fn redeem_device_code(&self, selector: &Selector) -> bool;
});

observed!(ClientRegistry {
    fn create_client(&self, client: &ClientRecord) -> bool;
    fn registered_client(&self, client_id: &str) -> Option<ClientRecord>;
    fn update_client(&self, client: &ClientRecord) -> bool;
    fn delete_client(&self, client_id: &str) -> bool;
});

observed!(KeyStore {
    fn signing_keys(&self) -> Vec<SigningKeyRecord>;
    fn add_signing_key(&self, key: &SigningKeyRecord) -> bool;
    fn update_signing_key(&self, kid: &str, not_before: i64, not_after: i64, expires_at: i64) -> ();
    fn remove_signing_key(&self, kid: &str) -> ();
});

observed!(ConsentStore {
    fn find_consent(&self, subject: &str, client_id: &str) -> Option<ConsentRecord>;
    fn save_consent(&self, consent: &ConsentRecord) -> ();
    fn list_consents(&self, subject: &str) -> Vec<ConsentRecord>;
    fn revoke_consent(&self, subject: &str, client_id: &str) -> bool;
});

observed!(ReplayCache {
    fn first_use(&self, key: &str, expires_at: i64, now: i64) -> bool;
});

observed!(Admin {
    fn upsert_client(&self, client: &ClientRecord) -> ();
    fn remove_client(&self, client_id: &str) -> bool;
    fn list_clients(&self) -> Vec<ClientRecord>;
    fn upsert_user(&self, user: &NewUser) -> ();
    fn remove_user(&self, username: &str) -> bool;
    fn find_user(&self, username: &str) -> Option<UserInfo>;
    fn list_users(&self) -> Vec<UserInfo>;
    fn revoke_tokens(&self, client_id: Option<&str>, subject: Option<&str>) -> u64;
    fn find_user_by_subject(&self, subject: &str) -> Option<UserInfo>;
    fn shared_secret(&self, name: &str) -> Vec<u8>;
    fn add_initial_access_token(&self, token: &InitialAccessToken, hash: &SecretHash) -> ();
    fn list_initial_access_tokens(&self) -> Vec<InitialAccessToken>;
    fn revoke_initial_access_token(&self, id: &str) -> bool;
    fn initial_access_token_valid(&self, hash: &SecretHash) -> bool;
    fn purge_expired(&self, now: i64, batch: usize) -> usize;
});
