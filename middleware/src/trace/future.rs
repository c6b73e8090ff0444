//! Response future for [`Trace`](super::Trace).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tracing::Span;

pin_project! {
    /// Response future for [`Trace`](super::Trace).
    ///
    /// Polls the inner future inside the request's span and records the
    /// outcome when it completes (the latency only when the span is
    /// enabled).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Option<Instant>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, span: Span, start: Option<Instant>) -> Self {
        ResponseFuture { inner, span, start }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));

        let Some(start) = this.start else {
            if let Err(error) = &result {
                tracing::warn!(%error, "request failed");
            }
            return Poll::Ready(result);
        };
        let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        this.span.record("latency_ms", latency_ms);
        match &result {
            Ok(_) => {
                this.span.record("outcome", "ok");
                tracing::debug!(latency_ms, "request completed");
            }
            Err(error) => {
                this.span.record("outcome", "error");
                tracing::warn!(latency_ms, %error, "request failed");
            }
        }
        Poll::Ready(result)
    }
}
