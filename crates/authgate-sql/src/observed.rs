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

    fn cache_stats(&self) -> Option<crate::CacheStats> {
        self.inner.cache_stats()
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

for_each_store_trait!(observed);
