//! Attach credentials to requests.
//!
//! A [`MakeCredentials`] hook mutates each request before it reaches the
//! inner service, e.g. to stamp a token. If the hook fails, the request is
//! answered with the hook's error (converted into the inner service's error
//! type) and the inner service is never called.
//!
//! # Readiness trade-off
//!
//! [`Auth::poll_ready`] forwards to the inner service, which may reserve
//! capacity for the coming call (a semaphore permit, a buffer slot). When the
//! hook fails, that call never happens and the reservation is only released
//! when the inner service is next called or dropped. tower-http's auth layers
//! make the same trade-off; hooks that can fail should fail rarely.
//!
//! # Example
//!
//! ```
//! use aether_middleware::auth::AuthLayer;
//! use tower_layer::Layer;
//!
//! struct Req { token: Option<String> }
//!
//! let token = String::from("secret");
//! let stamp = move |req: &mut Req| -> Result<(), std::convert::Infallible> {
//!     req.token = Some(token.clone());
//!     Ok(())
//! };
//! let svc = tower::service_fn(|req: Req| async move { Ok::<_, std::convert::Infallible>(req.token) });
//! let svc = AuthLayer::new(stamp).layer(svc);
//! # let _ = svc;
//! ```

use std::convert::Infallible;
use std::task::{Context, Poll};

use tower_service::Service;

pub mod future;
mod layer;

pub use self::layer::AuthLayer;

use self::future::ResponseFuture;

/// Applies credentials to a request.
///
/// Implemented for any `FnMut(&mut Req) -> Result<(), E>`.
pub trait MakeCredentials<Req> {
    /// Error returned when credentials cannot be applied.
    type Error;

    /// Adds credentials to `req`.
    fn apply(&mut self, req: &mut Req) -> Result<(), Self::Error>;
}

impl<Req, F, E> MakeCredentials<Req> for F
where
    F: FnMut(&mut Req) -> Result<(), E>,
{
    type Error = E;

    fn apply(&mut self, req: &mut Req) -> Result<(), E> {
        self(req)
    }
}

/// A [`MakeCredentials`] hook that leaves requests untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredentials;

impl<Req> MakeCredentials<Req> for NoCredentials {
    type Error = Infallible;

    fn apply(&mut self, _req: &mut Req) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Applies credentials before calling the inner service.
///
/// See the [module docs](self) for details.
#[derive(Debug, Clone)]
pub struct Auth<S, C> {
    inner: S,
    credentials: C,
}

impl<S, C> Auth<S, C> {
    /// Wraps `inner`, applying credentials with `credentials`.
    pub fn new(inner: S, credentials: C) -> Self {
        Auth { inner, credentials }
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

impl<S, C, Req> Service<Req> for Auth<S, C>
where
    S: Service<Req>,
    C: MakeCredentials<Req>,
    S::Error: From<C::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Req) -> Self::Future {
        match self.credentials.apply(&mut req) {
            Ok(()) => ResponseFuture::future(self.inner.call(req)),
            Err(e) => ResponseFuture::error(S::Error::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};

    use super::*;
    use crate::test_util::{StaticToken, TestError, TestReq, pair};

    #[tokio::test]
    async fn hook_mutates_request() {
        let (svc, mut handle) = pair();
        let mut svc = Auth::new(svc, StaticToken("t0k3n"));
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("get")));
        let (seen, respond) = handle.next_request().await.expect("request");
        assert_eq!(seen.token.as_deref(), Some("t0k3n"));
        respond.send_response("ok");
        assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
    }

    #[tokio::test]
    async fn hook_error_short_circuits() {
        let (svc, mut handle) = pair();
        let mut svc = Auth::new(svc, StaticToken("t0k3n"));
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let mut fut = task::spawn(svc.call(TestReq::new("forbidden")));
        assert_eq!(
            assert_ready!(fut.poll()),
            Err(TestError::Auth("no permission".into()))
        );
        assert_pending!(handle.poll_request());
    }

    #[tokio::test]
    async fn closures_and_no_credentials() {
        let (svc, mut handle) = pair();
        let mut svc = Auth::new(svc, |req: &mut TestReq| -> Result<(), TestError> {
            req.token = Some(format!("for-{}", req.op));
            Ok(())
        });
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let _fut = svc.call(TestReq::new("list"));
        let (seen, _) = handle.next_request().await.expect("request");
        assert_eq!(seen.token.as_deref(), Some("for-list"));

        let (svc, mut handle) = pair();
        let mut svc = Auth::new(svc, NoCredentials);
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let _fut = svc.call(TestReq::new("list"));
        let (seen, _) = handle.next_request().await.expect("request");
        assert_eq!(seen, TestReq::new("list"));
    }

    #[tokio::test]
    async fn poll_ready_forwards_backpressure() {
        let (svc, mut handle) = pair();
        let mut svc = tower_test::mock::Spawn::new(Auth::new(svc, NoCredentials));
        handle.allow(0);
        assert_pending!(svc.poll_ready());
        handle.allow(1);
        assert_ready_ok!(svc.poll_ready());
    }
}
