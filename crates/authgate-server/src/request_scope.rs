//! The request layer: each request runs labelled with its id, method and path, in a
//! task-local the log formatter (`logline`) reads, and gets a line at `info` when it is
//! answered.
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

/// The request layer: each request runs with its label in a task-local, and a line at
/// `info` gives its status and latency when it is answered (unless the handler wrote its
/// own, see [`OwnLogLine`]). Placed inside the request-id layers, so the id is set.
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
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let label = RequestLabel {
            id: req.headers().get("x-request-id").cloned(),
            method: req.method().clone(),
            uri: req.uri().clone(),
        };
        let started = tracing::enabled!(Level::INFO).then(Instant::now);
        REQUEST.scope(
            label,
            Answered {
                started,
                inner: self.inner.call(req),
            },
        )
    }
}

pin_project_lite::pin_project! {
    /// The future of [`RequestScope`] (polled inside the request's label): the inner one,
    /// then the request's line.
    pub(crate) struct Answered<F> {
        started: Option<Instant>,
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
        let out = std::task::ready!(this.inner.poll(cx));
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
