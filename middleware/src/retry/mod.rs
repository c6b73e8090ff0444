//! Retry failed requests.
//!
//! [`Retry`] asks a [`RetryPolicy`] after every attempt whether to try again
//! and how long to wait first. [`DefaultRetryPolicy`] covers the usual case:
//! requests say whether they are [`Idempotent`], errors say whether they are
//! [`RetryableError`]s, delays follow an exponential [`Backoff`](crate::backoff::Backoff), and an
//! optional [`RetryBudget`] keeps retries from amplifying an outage.
//!
//! The error type is the inner service's: when the policy gives up, the last
//! error is returned as is.
//!
//! # Example
//!
//! ```
//! use aether_middleware::backoff::Backoff;
//! use aether_middleware::retry::{DefaultRetryPolicy, Idempotent, RetryLayer, RetryableError};
//! use tower_layer::Layer;
//!
//! #[derive(Clone)]
//! struct Get(String);
//! impl Idempotent for Get {
//!     fn is_safe_to_repeat(&self) -> bool { true }
//! }
//!
//! #[derive(Debug)]
//! struct Unavailable;
//! impl RetryableError for Unavailable {
//!     fn is_retryable(&self) -> bool { true }
//! }
//!
//! let svc = tower::service_fn(|req: Get| async move { Ok::<_, Unavailable>(req.0) });
//! let svc = RetryLayer::new(DefaultRetryPolicy::new(Backoff::default(), 3)).layer(svc);
//! # let _ = svc;
//! ```

use std::task::{Context, Poll};

use tower_service::Service;

mod budget;
pub mod future;
mod layer;
mod policy;

pub use self::budget::RetryBudget;
pub use self::layer::RetryLayer;
pub use self::policy::{DefaultRetryPolicy, Idempotent, RetryPolicy, RetryableError};

use self::future::ResponseFuture;

/// Retries requests according to a [`RetryPolicy`].
///
/// Each call takes the inner service that was made ready and leaves a fresh
/// clone in its place; the response future owns the ready service and drives
/// the retries with it, polling it for readiness before every new attempt.
#[derive(Debug, Clone)]
pub struct Retry<S, P> {
    inner: S,
    policy: P,
}

impl<S, P> Retry<S, P> {
    /// Wraps `inner`, retrying according to `policy`.
    pub fn new(inner: S, policy: P) -> Self {
        Retry { inner, policy }
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

impl<S, P, Req> Service<Req> for Retry<S, P>
where
    S: Service<Req> + Clone,
    P: RetryPolicy<Req, S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, P, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let Some(backup) = self.policy.clone_request(&req) else {
            // Never retried: no service or policy clone needed (the fast path).
            return ResponseFuture::direct(self.inner.call(req));
        };
        // `self.inner` is the service that was driven to readiness; keep it
        // and leave a not-yet-ready clone behind.
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        let response = service.call(req);
        ResponseFuture::retrying(service, self.policy.clone(), backup, response)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
    use tower_test::mock::{Handle, SendResponse};

    use super::*;
    use crate::backoff::Backoff;
    use crate::test_util::{TestError, TestMock, TestReq, pair};

    type Fut = task::Spawn<ResponseFuture<TestMock, DefaultRetryPolicy, TestReq>>;

    fn policy(max_attempts: u32) -> DefaultRetryPolicy {
        DefaultRetryPolicy::new(
            Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(5),
                multiplier: 2.0,
                jitter: 0.0,
            },
            max_attempts,
        )
    }

    fn send(policy: DefaultRetryPolicy, req: TestReq) -> (Fut, Handle<TestReq, &'static str>) {
        let (svc, handle) = pair();
        let mut svc = Retry::new(svc, policy);
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        (task::spawn(svc.call(req)), handle)
    }

    fn next(handle: &mut Handle<TestReq, &'static str>) -> (TestReq, SendResponse<&'static str>) {
        assert_ready!(handle.poll_request()).expect("service dropped")
    }

    #[tokio::test(start_paused = true)]
    async fn retries_safe_request_and_succeeds() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        let (req, respond) = next(&mut handle);
        assert_eq!(req, TestReq::new("get"));
        respond.send_error(TestError::Transient);
        assert_pending!(fut.poll());

        tokio::time::advance(Duration::from_millis(100)).await;
        assert_pending!(fut.poll());
        let (req, respond) = next(&mut handle);
        assert_eq!(req, TestReq::new("get"));
        respond.send_response("second time lucky");
        assert_eq!(assert_ready!(fut.poll()), Ok("second time lucky"));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_unsafe_request() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("put").unsafe_to_repeat());
        next(&mut handle).1.send_error(TestError::Transient);
        assert_eq!(assert_ready!(fut.poll()), Err(TestError::Transient));
        // No second attempt (the pass-through future holds no service, so
        // the mock may also report that every service is gone).
        assert!(
            !matches!(handle.poll_request(), std::task::Poll::Ready(Some(_))),
            "an unsafe request was retried"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_non_retryable_error() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        next(&mut handle).1.send_error(TestError::Fatal);
        assert_eq!(assert_ready!(fut.poll()), Err(TestError::Fatal));
        assert_pending!(handle.poll_request());
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_with_last_error() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        next(&mut handle).1.send_error(TestError::Transient);
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_pending!(fut.poll());
        next(&mut handle).1.send_error(TestError::Transient);
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_pending!(fut.poll());
        let last = TestError::TransientAfter(Duration::from_millis(1));
        next(&mut handle).1.send_error(last.clone());
        assert_eq!(assert_ready!(fut.poll()), Err(last));
        assert_pending!(handle.poll_request());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_backoff_before_resending() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        next(&mut handle).1.send_error(TestError::Transient);
        assert_pending!(fut.poll());

        tokio::time::advance(Duration::from_millis(99)).await;
        assert_pending!(fut.poll());
        assert_pending!(handle.poll_request());

        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(fut.is_woken());
        assert_pending!(fut.poll());
        let (_, respond) = next(&mut handle);

        // Second backoff doubles.
        respond.send_error(TestError::Transient);
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(199)).await;
        assert_pending!(fut.poll());
        assert_pending!(handle.poll_request());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_pending!(fut.poll());
        next(&mut handle).1.send_response("ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn honours_larger_retry_after() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        next(&mut handle)
            .1
            .send_error(TestError::TransientAfter(Duration::from_secs(2)));
        assert_pending!(fut.poll());

        tokio::time::advance(Duration::from_millis(1999)).await;
        assert_pending!(fut.poll());
        assert_pending!(handle.poll_request());

        tokio::time::advance(Duration::from_millis(1)).await;
        assert_pending!(fut.poll());
        next(&mut handle).1.send_response("ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn budget_exhaustion_stops_retries() {
        // A reserve of exactly one retry, nothing earned from traffic.
        let budget = RetryBudget::new(Duration::from_secs(1), 1, 0.0);
        let (mut fut, mut handle) = send(policy(5).with_budget(budget), TestReq::new("get"));

        next(&mut handle).1.send_error(TestError::Transient);
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_pending!(fut.poll());
        next(&mut handle).1.send_error(TestError::Transient);

        assert_eq!(assert_ready!(fut.poll()), Err(TestError::Transient));
        assert_pending!(handle.poll_request());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_readiness_before_retrying() {
        let (mut fut, mut handle) = send(policy(3), TestReq::new("get"));
        handle.allow(0);
        next(&mut handle).1.send_error(TestError::Transient);
        assert_pending!(fut.poll());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_pending!(fut.poll());
        assert_pending!(handle.poll_request());

        handle.allow(1);
        assert!(fut.is_woken());
        assert_pending!(fut.poll());
        next(&mut handle).1.send_response("ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_ready_forwards_backpressure() {
        let (svc, mut handle) = pair();
        let mut svc = tower_test::mock::Spawn::new(Retry::new(svc, policy(3)));
        handle.allow(0);
        assert_pending!(svc.poll_ready());
        handle.allow(1);
        assert_ready_ok!(svc.poll_ready());
    }
}
