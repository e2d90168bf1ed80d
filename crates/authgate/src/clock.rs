//! Injected time: the only place the engine reads the system clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current time, in whole seconds and milliseconds since the Unix epoch.
///
/// Production uses [`SystemClock`]; tests use [`FrozenClock`] and advance it instead of
/// sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_millis(&self) -> i64 {
        (**self).now_millis()
    }

    fn now(&self) -> i64 {
        (**self).now()
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one sanctioned read of the system time (see clippy.toml).
    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until told to move: share it (it is cheap to clone) between
/// the server under test and the test body.
///
/// ```
/// use authgate::{Clock, FrozenClock};
/// let clock = FrozenClock::at(1_000);
/// clock.advance(61);
/// assert_eq!(clock.now(), 1_061);
/// ```
#[derive(Debug, Clone)]
pub struct FrozenClock(Arc<AtomicI64>);

impl FrozenClock {
    /// A clock frozen at `secs` seconds after the epoch.
    pub fn at(secs: i64) -> Self {
        Self(Arc::new(AtomicI64::new(secs * 1000)))
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for FrozenClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
