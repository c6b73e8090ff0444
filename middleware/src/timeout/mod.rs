//! Fail requests that do not complete within a deadline.
//!
//! The deadline is chosen per request by a [`MakeTimeout`] hook: a plain
//! [`Duration`] applies the same timeout to every request, `None` disables it.
//! The timer starts when [`Service::call`] is invoked, not while waiting for
//! readiness, so back-pressure from the inner service does not eat into it.
//!
//! When the deadline passes, the inner future is dropped and the service
//! returns [`error::Elapsed`] converted into the inner service's error type,
//! so typed errors flow through the stack.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use aether_middleware::timeout::{error::Elapsed, TimeoutLayer};
//! use tower_layer::Layer;
//!
//! #[derive(Debug)]
//! enum MyError { TimedOut }
//! impl From<Elapsed> for MyError {
//!     fn from(_: Elapsed) -> Self { MyError::TimedOut }
//! }
//!
//! let svc = tower::service_fn(|req: u32| async move { Ok::<_, MyError>(req) });
//! let svc = TimeoutLayer::new(Duration::from_secs(5)).layer(svc);
//! # let _ = svc;
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

pub mod error;
pub mod future;
mod layer;

pub use self::layer::TimeoutLayer;

use self::error::Elapsed;
use self::future::ResponseFuture;

/// Chooses the timeout for a request.
///
/// Returning `None` means the request has no timeout.
pub trait MakeTimeout<Req> {
    /// Returns the timeout for `req`, or `None` for no timeout.
    fn make_timeout(&self, req: &Req) -> Option<Duration>;
}

impl<Req> MakeTimeout<Req> for Duration {
    fn make_timeout(&self, _req: &Req) -> Option<Duration> {
        Some(*self)
    }
}

impl<Req> MakeTimeout<Req> for Option<Duration> {
    fn make_timeout(&self, _req: &Req) -> Option<Duration> {
        *self
    }
}

/// Applies a per-request timeout to an inner service.
///
/// See the [module docs](self) for details.
#[derive(Debug, Clone)]
pub struct Timeout<S, T> {
    inner: S,
    make_timeout: T,
}

impl<S, T> Timeout<S, T> {
    /// Wraps `inner`, choosing timeouts with `make_timeout`.
    pub fn new(inner: S, make_timeout: T) -> Self {
        Timeout {
            inner,
            make_timeout,
        }
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

impl<S, T, Req> Service<Req> for Timeout<S, T>
where
    S: Service<Req>,
    S::Error: From<Elapsed>,
    T: MakeTimeout<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let timeout = self.make_timeout.make_timeout(&req);
        let response = self.inner.call(req);
        ResponseFuture::new(response, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TestError, TestReq, pair};
    use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
    use tower_test::assert_request_eq;

    #[tokio::test(start_paused = true)]
    async fn completes_before_deadline() {
        let (svc, mut handle) = pair();
        let mut svc = Timeout::new(svc, Duration::from_secs(1));
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("get")));

        tokio::time::advance(Duration::from_millis(900)).await;
        assert_pending!(fut.poll());
        assert_request_eq!(handle, TestReq::new("get")).send_response("pong");
        assert_eq!(assert_ready!(fut.poll()), Ok("pong"));
    }

    #[tokio::test(start_paused = true)]
    async fn fails_after_deadline() {
        let (svc, mut handle) = pair();
        let mut svc = Timeout::new(svc, Duration::from_secs(1));
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("get")));
        let (_req, _respond) = handle.next_request().await.expect("request");

        tokio::time::advance(Duration::from_millis(999)).await;
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(fut.is_woken());
        assert_eq!(assert_ready!(fut.poll()), Err(TestError::Timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn timer_starts_at_call_not_poll_ready() {
        let (svc, mut handle) = pair();
        let mut svc = Timeout::new(svc, Duration::from_secs(1));
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        // Time spent between readiness and call does not count.
        tokio::time::advance(Duration::from_secs(5)).await;
        let mut fut = task::spawn(svc.call(TestReq::new("get")));
        assert_pending!(fut.poll());
        assert_request_eq!(handle, TestReq::new("get")).send_response("late but ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("late but ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn none_means_no_timeout() {
        struct PerOp;
        impl MakeTimeout<TestReq> for PerOp {
            fn make_timeout(&self, req: &TestReq) -> Option<Duration> {
                (req.op != "watch").then_some(Duration::from_secs(1))
            }
        }

        let (svc, mut handle) = pair();
        let mut svc = Timeout::new(svc, PerOp);
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("watch")));
        let (_req, respond) = handle.next_request().await.expect("request");

        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_pending!(fut.poll());
        respond.send_response("done");
        assert_eq!(assert_ready!(fut.poll()), Ok("done"));

        // The same hook still applies a timeout to other operations.
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("get")));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(assert_ready!(fut.poll()), Err(TestError::Timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn option_none_disables_timeout() {
        let (svc, mut handle) = pair();
        let mut svc = Timeout::new(svc, None::<Duration>);
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("get")));
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_pending!(fut.poll());
        assert_request_eq!(handle, TestReq::new("get")).send_response("ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_ready_forwards_backpressure() {
        let (svc, mut handle) = pair();
        let mut svc = tower_test::mock::Spawn::new(Timeout::new(svc, Duration::from_secs(1)));
        handle.allow(0);
        assert_pending!(svc.poll_ready());
        handle.allow(1);
        assert!(svc.is_woken());
        assert_ready_ok!(svc.poll_ready());
    }
}
