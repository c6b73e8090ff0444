//! Trace each request in its own span.
//!
//! [`Trace`] creates a span per request with a [`MakeSpan`] hook, runs the
//! inner service's `call` and every poll of its future inside that span, and
//! on completion records the outcome and latency and emits one event: at
//! `DEBUG` on success, at `WARN` with the error's `Display` on failure.
//!
//! [`DefaultMakeSpan`] creates a span named `aether.op` with the fields
//! `op`, `request_id`, `outcome` (`"ok"` or `"error"`) and `latency_ms`,
//! filled from the request's [`Operation`] implementation.
//!
//! # Example
//!
//! ```
//! use aether_middleware::trace::{DefaultMakeSpan, Operation, TraceLayer};
//! use tower_layer::Layer;
//!
//! struct Get;
//! impl Operation for Get {
//!     fn operation_name(&self) -> &'static str { "get" }
//! }
//!
//! let svc = tower::service_fn(|_: Get| async move { Ok::<_, std::io::Error>("value") });
//! let svc = TraceLayer::new(DefaultMakeSpan::new().level(tracing::Level::INFO)).layer(svc);
//! # let _ = svc;
//! ```

use std::fmt;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;
use tracing::{Level, Span};

pub mod future;
mod layer;

pub use self::layer::TraceLayer;

use self::future::ResponseFuture;

/// Implemented by requests to describe themselves in traces.
pub trait Operation {
    /// Short, low-cardinality name of the operation, e.g. `"publish"`.
    fn operation_name(&self) -> &'static str;

    /// The request's correlation id, if known when the span is created.
    fn trace_request_id(&self) -> Option<&str> {
        None
    }
}

/// Creates the span for a request.
///
/// Implemented for any `FnMut(&Req) -> Span`.
pub trait MakeSpan<Req> {
    /// Returns the span in which `req` is processed.
    fn make_span(&mut self, req: &Req) -> Span;
}

impl<Req, F> MakeSpan<Req> for F
where
    F: FnMut(&Req) -> Span,
{
    fn make_span(&mut self, req: &Req) -> Span {
        self(req)
    }
}

/// Creates an `aether.op` span at a configurable level (`DEBUG` by default).
///
/// Fields: `op` (the [operation name](Operation::operation_name)),
/// `request_id` (the [trace id](Operation::trace_request_id), empty if none),
/// and `outcome` and `latency_ms`, recorded by [`Trace`] on completion.
#[derive(Debug, Clone)]
pub struct DefaultMakeSpan {
    level: Level,
}

impl DefaultMakeSpan {
    /// Creates a `DEBUG` level span maker.
    pub fn new() -> Self {
        DefaultMakeSpan {
            level: Level::DEBUG,
        }
    }

    /// Sets the span level.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Whether a span made now could be enabled: `false` when the span's
    /// level is above the most verbose level any subscriber enables (or
    /// the compile-time maximum), in which case
    /// [`make_span`](MakeSpan::make_span) is certain to return a disabled
    /// span. One atomic load; no span is made.
    ///
    /// ```
    /// use aether_middleware::trace::DefaultMakeSpan;
    /// // No subscriber is installed in this doctest: nothing is enabled.
    /// assert!(!DefaultMakeSpan::new().may_be_enabled());
    /// ```
    pub fn may_be_enabled(&self) -> bool {
        self.level <= tracing::level_filters::STATIC_MAX_LEVEL
            && self.level <= tracing::level_filters::LevelFilter::current()
    }
}

impl Default for DefaultMakeSpan {
    fn default() -> Self {
        Self::new()
    }
}

impl<Req: Operation> MakeSpan<Req> for DefaultMakeSpan {
    fn make_span(&mut self, req: &Req) -> Span {
        macro_rules! make_span {
            ($level:expr) => {
                tracing::span!(
                    $level,
                    "aether.op",
                    op = req.operation_name(),
                    request_id = req.trace_request_id().unwrap_or(""),
                    outcome = tracing::field::Empty,
                    latency_ms = tracing::field::Empty,
                )
            };
        }

        match self.level {
            Level::ERROR => make_span!(Level::ERROR),
            Level::WARN => make_span!(Level::WARN),
            Level::INFO => make_span!(Level::INFO),
            Level::DEBUG => make_span!(Level::DEBUG),
            Level::TRACE => make_span!(Level::TRACE),
        }
    }
}

/// Runs each request of the inner service in its own span.
///
/// See the [module docs](self) for details.
#[derive(Debug, Clone)]
pub struct Trace<S, M> {
    inner: S,
    make_span: M,
}

impl<S, M> Trace<S, M> {
    /// Wraps `inner`, creating spans with `make_span`.
    pub fn new(inner: S, make_span: M) -> Self {
        Trace { inner, make_span }
    }

    /// Returns a reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Returns a mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, M, Req> Service<Req> for Trace<S, M>
where
    S: Service<Req>,
    S::Error: fmt::Display,
    M: MakeSpan<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let span = self.make_span.make_span(&req);
        // No clock reads when nobody listens to the span.
        let start = (!span.is_disabled()).then(Instant::now);
        let future = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ResponseFuture::new(future, span, start)
    }
}

#[cfg(test)]
mod tests;
