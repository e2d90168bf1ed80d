//! The request layer: each request gets an id (a plain one from the proxy in front is
//! kept), runs labelled with its id, method and path in a task-local the log formatter
//! (`logline`) reads, gets a line at `info` when it is answered, and its answer carries
//! the id in `X-Request-Id`.
//!
//! One layer does what tower-http's request-id layers (set and propagate) and a
//! `map_request` that dropped odd incoming ids did as four: fewer services and futures
//! per request, and no boxing. Measured, that saves about 3 µs of a 16 µs Bearer check
//! (BENCHMARKS.md, "The request layers"), which is why this is written here rather than
//! taken from tower-http.
//!
//! A `tracing` span per request (tower-http's trace layer, created, entered and left at
//! every poll, closed, its fields formatted into the registry) cost more than the line
//! itself (BENCHMARKS.md, "The info log, second pass"); a task-local costs three shared
//! clones (id, method, URI) per request and a swap per poll, and it is formatted only
//! when a line is written. Like a span, it
//! does not follow work spawned onto another task; the inner service's synchronous
//! `call` (routing) runs outside it, and no event is written there.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::response::Response;
use http::{HeaderValue, Method, Request, Uri};
use tracing::Level;

/// What names a request in its log lines. The URI is kept whole (a clone shares its
/// bytes), but only its path is ever written: the query can carry codes.
pub(crate) struct RequestLabel {
    pub(crate) id: Option<HeaderValue>,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
}

tokio::task_local! {
    static REQUEST: RequestLabel;
}

/// Runs `f` with the label of the request this task is answering, if any.
pub(crate) fn with_label<R>(f: impl FnOnce(&RequestLabel) -> R) -> Option<R> {
    REQUEST.try_with(f).ok()
}

/// Runs `f` as if in the request `label` (for tests).
#[cfg(test)]
pub(crate) fn in_request<R>(label: RequestLabel, f: impl FnOnce() -> R) -> R {
    REQUEST.sync_scope(label, f)
}

/// Marks a response whose handler wrote the request's log line itself (the token
/// endpoint's, with client, grant and outcome): [`RequestScope`] writes none for it.
#[derive(Clone, Copy)]
pub(crate) struct OwnLogLine;

/// The id header, in requests and answers.
const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Whether an incoming `X-Request-Id` is kept: 1 to 64 characters of `[A-Za-z0-9._:-]`.
/// Any other is replaced by one of ours, so a client cannot make every line of its
/// request's log long or odd. (A client may still choose a plain id: ids correlate lines,
/// they prove nothing.)
fn plain_id(v: &HeaderValue) -> bool {
    let v = v.as_bytes();
    !v.is_empty()
        && v.len() <= 64
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new request id: unique within the process (a counter after a random per-process
/// prefix), cheap enough for every request; an id identifies, it does not authorize.
fn new_id() -> HeaderValue {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| crate::session::random_token()[..8].to_owned());
    let id = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    // Base64url characters, a dash and digits: always a valid header value.
    HeaderValue::try_from(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The request layer: each request gets its id, runs with its label in a task-local, and
/// a line at `info` gives its status and latency when it is answered (unless the handler
/// wrote its own, see [`OwnLogLine`]); the answer carries the id.
#[derive(Clone, Copy, Default)]
pub(crate) struct RequestScopeLayer;

impl<S> tower_layer::Layer<S> for RequestScopeLayer {
    type Service = RequestScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestScope { inner }
    }
}

/// The service of [`RequestScopeLayer`].
#[derive(Clone)]
pub(crate) struct RequestScope<S> {
    inner: S,
}

impl<S, B> tower_service::Service<Request<B>> for RequestScope<S>
where
    S: tower_service::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = tokio::task::futures::TaskLocalFuture<RequestLabel, Answered<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    // Latency on the monotonic clock, as in the token handler.
    #[allow(clippy::disallowed_methods)]
    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = match req.headers().get(X_REQUEST_ID) {
            Some(v) if plain_id(v) => v.clone(),
            _ => {
                let id = new_id();
                req.headers_mut().insert(X_REQUEST_ID, id.clone());
                id
            }
        };
        let label = RequestLabel {
            id: Some(id.clone()),
            method: req.method().clone(),
            uri: req.uri().clone(),
        };
        let started = tracing::enabled!(Level::INFO).then(Instant::now);
        REQUEST.scope(
            label,
            Answered {
                started,
                id: Some(id),
                inner: self.inner.call(req),
            },
        )
    }
}

pin_project_lite::pin_project! {
    /// The future of [`RequestScope`] (polled inside the request's label): the inner one,
    /// then the request's line and the id on the answer.
    pub(crate) struct Answered<F> {
        started: Option<Instant>,
        id: Option<HeaderValue>,
        #[pin]
        inner: F,
    }
}

impl<F, E> Future for Answered<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let (Ok(res), Some(id)) = (&mut out, this.id.take()) {
            if !res.headers().contains_key(X_REQUEST_ID) {
                res.headers_mut().insert(X_REQUEST_ID, id);
            }
        }
        if let (Ok(res), Some(started)) = (&out, this.started.take()) {
            if res.extensions().get::<OwnLogLine>().is_none() {
                // The target the line had when tower-http's trace layer wrote it.
                tracing::info!(
                    target: "authgate::app",
                    status = res.status().as_u16(),
                    latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    "request"
                );
            }
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_kept_and_odd_ones_are_not() {
        let id = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(plain_id(&id("proxy-42")));
        assert!(plain_id(&id("a.b_c:d-E9")));
        assert!(plain_id(&id(&"a".repeat(64))));
        assert!(!plain_id(&id(&"a".repeat(65))));
        assert!(!plain_id(&id("")));
        assert!(!plain_id(&id("two words")));
        assert!(!plain_id(&id("a/b")));
        assert!(!plain_id(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()));
        let ours = new_id();
        assert!(plain_id(&ours), "{ours:?}");
        assert_ne!(new_id(), ours);
    }
}
