//! The layer every route runs inside: the request's metrics sample and the 503's
//! `Retry-After`.

use std::task::Poll;
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// The layer every route runs inside (after routing, so the route's template is known):
/// it counts the answer for the metrics when they are on (by route template, method and
/// status, with its latency) and gives every 503 a `Retry-After` (the database is
/// unreachable or full; the engine's JSON answers already carry one, pages do not).
///
/// A plain tower layer rather than `axum::middleware::from_fn`, which boxes the inner
/// service and the future of every request.
#[derive(Clone, Copy)]
pub(crate) struct AnswerLayer;

impl<S> tower_layer::Layer<S> for AnswerLayer {
    type Service = Answer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Answer { inner }
    }
}

/// The service of [`AnswerLayer`].
#[derive(Clone)]
pub(crate) struct Answer<S> {
    inner: S,
}

/// What a request's metrics sample needs from the request.
struct Timed {
    /// The route's template (`None`: no route matched).
    route: Option<MatchedPath>,
    method: &'static str,
    started: Instant,
}

impl<S, B> tower_service::Service<axum::http::Request<B>> for Answer<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Answered<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    // Latency on the monotonic clock, as in the token handler.
    #[allow(clippy::disallowed_methods)]
    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let timed = crate::admin::enabled().then(|| Timed {
            route: req.extensions().get::<MatchedPath>().cloned(),
            method: method_label(req.method()),
            started: Instant::now(),
        });
        Answered {
            timed,
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Answer`].
    pub(crate) struct Answered<F> {
        timed: Option<Timed>,
        #[pin]
        inner: F,
    }
}

impl<F, E> std::future::Future for Answered<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let Ok(res) = &mut out {
            if let Some(t) = this.timed.take() {
                crate::admin::record_request(
                    t.route.as_ref().map_or("unmatched", MatchedPath::as_str),
                    t.method,
                    res.status().as_u16(),
                    t.started.elapsed().as_secs_f64(),
                );
            }
            if res.status() == StatusCode::SERVICE_UNAVAILABLE
                && !res.headers().contains_key(header::RETRY_AFTER)
            {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(authgate::response::RETRY_AFTER_UNAVAILABLE),
                );
            }
        }
        Poll::Ready(out)
    }
}

/// A method as a label: the usual ones, else `other`.
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        _ => "other",
    }
}
