//! Give every request a unique id.
//!
//! Requests implement [`Correlate`]; when a request needs an id and has none
//! (or an empty one), [`Correlation`] sets one made by a [`MakeRequestId`]
//! hook before calling the inner service. A request that already carries an
//! id keeps it, so retried attempts reuse the id of the first attempt.
//!
//! # Example
//!
//! ```
//! use aether_middleware::correlation::{Correlate, CorrelationLayer, DefaultMakeRequestId};
//! use tower_layer::Layer;
//!
//! struct Req { id: Option<String> }
//! impl Correlate for Req {
//!     fn request_id(&self) -> Option<&str> { self.id.as_deref() }
//!     fn set_request_id(&mut self, id: String) { self.id = Some(id); }
//! }
//!
//! let svc = tower::service_fn(|req: Req| async move { Ok::<_, ()>(req.id) });
//! let svc = CorrelationLayer::new(DefaultMakeRequestId::new()).layer(svc);
//! # let _ = svc;
//! ```

use std::task::{Context, Poll};

use tower_service::Service;

mod layer;
mod make;

pub use self::layer::CorrelationLayer;
pub use self::make::{DefaultMakeRequestId, MakeRequestId};

/// Implemented by requests that carry a correlation id.
pub trait Correlate {
    /// The request's id, if it has one.
    fn request_id(&self) -> Option<&str>;

    /// Whether this request should be given an id; `true` by default.
    fn needs_request_id(&self) -> bool {
        true
    }

    /// Sets the request's id.
    fn set_request_id(&mut self, id: String);
}

/// Assigns request ids before calling the inner service.
///
/// See the [module docs](self) for details.
#[derive(Debug, Clone)]
pub struct Correlation<S, M> {
    inner: S,
    make_request_id: M,
}

impl<S, M> Correlation<S, M> {
    /// Wraps `inner`, making ids with `make_request_id`.
    pub fn new(inner: S, make_request_id: M) -> Self {
        Correlation {
            inner,
            make_request_id,
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

impl<S, M, Req> Service<Req> for Correlation<S, M>
where
    S: Service<Req>,
    M: MakeRequestId,
    Req: Correlate,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Req) -> Self::Future {
        if req.needs_request_id() && req.request_id().is_none_or(str::is_empty) {
            req.set_request_id(self.make_request_id.make_request_id());
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
    use tower_test::assert_request_eq;

    use super::*;
    use crate::test_util::{TestReq, pair};

    fn with_id(id: &str) -> TestReq {
        TestReq {
            id: Some(id.to_string()),
            ..TestReq::new("get")
        }
    }

    #[tokio::test]
    async fn assigns_missing_and_empty_ids() {
        let (svc, mut handle) = pair();
        let mut svc = Correlation::new(svc, DefaultMakeRequestId::with_prefix("cafebabe"));

        for req in [TestReq::new("get"), with_id("")] {
            assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
            let mut fut = task::spawn(svc.call(req));
            let (seen, respond) = handle.next_request().await.expect("request");
            let id = seen.id.expect("id assigned");
            assert!(id.starts_with("cafebabe-"), "{id}");
            respond.send_response("ok");
            assert_eq!(assert_ready!(fut.poll()), Ok("ok"));
        }
    }

    #[tokio::test]
    async fn keeps_existing_id() {
        let (svc, mut handle) = pair();
        let mut svc = Correlation::new(svc, || -> String { panic!("must not be called") });
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let _fut = svc.call(with_id("mine"));
        assert_request_eq!(handle, with_id("mine")).send_response("ok");
    }

    #[tokio::test]
    async fn skips_requests_that_need_no_id() {
        let (svc, mut handle) = pair();
        let mut svc = Correlation::new(svc, DefaultMakeRequestId::new());
        let req = TestReq {
            wants_id: false,
            ..TestReq::new("ping")
        };
        assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
        let _fut = svc.call(req.clone());
        assert_request_eq!(handle, req).send_response("ok");
    }

    #[tokio::test]
    async fn poll_ready_forwards_backpressure() {
        let (svc, mut handle) = pair();
        let mut svc =
            tower_test::mock::Spawn::new(Correlation::new(svc, DefaultMakeRequestId::new()));
        handle.allow(0);
        assert_pending!(svc.poll_ready());
        handle.allow(1);
        assert_ready_ok!(svc.poll_ready());
    }
}
