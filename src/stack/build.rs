//! Builds the tower stack every operation runs through:
//! `trace -> timeout -> retry -> auth -> correlation -> multiplexer`,
//! then any layers the user added on top.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aether_middleware::auth::{Auth, AuthLayer};
use aether_middleware::backoff::Backoff;
use aether_middleware::correlation::{
    Correlation, CorrelationLayer, DefaultMakeRequestId, MakeRequestId,
};
use aether_middleware::retry::{DefaultRetryPolicy, Retry, RetryBudget, RetryLayer};
use aether_middleware::timeout::{MakeTimeout, Timeout, TimeoutLayer};
use aether_middleware::trace::{DefaultMakeSpan, MakeSpan, Trace, TraceLayer};
use parking_lot::Mutex;
use tower::util::BoxCloneSyncService;
use tower::util::Oneshot;
use tower::{ServiceBuilder, ServiceExt};
use tower_service::Service;

use super::authority::{AuthorizationHook, StaticAuthorization};
use crate::connection::{Expect, Multiplexer, OpRequest, Reply};
use crate::error::Error;
use crate::proto::AuthorizationContext;

/// A complete operation stack, type-erased: what principal clients compose.
/// It is a `tower::Service<OpRequest, Response = Reply>`; wrap it in your
/// own layers with [`ClientBuilder::layer`](crate::ClientBuilder::layer).
#[derive(Clone)]
pub struct OperationService(BoxCloneSyncService<OpRequest, Reply, Error>);

impl OperationService {
    /// Erases any suitable service into an `OperationService`.
    pub fn new<S>(service: S) -> Self
    where
        S: Service<OpRequest, Response = Reply, Error = Error> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        OperationService(BoxCloneSyncService::new(service))
    }
}

impl Service<OpRequest> for OperationService {
    type Response = Reply;
    type Error = Error;
    type Future = <BoxCloneSyncService<OpRequest, Reply, Error> as Service<OpRequest>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: OpRequest) -> Self::Future {
        self.0.call(req)
    }
}

impl std::fmt::Debug for OperationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationService").finish_non_exhaustive()
    }
}

/// The per-call timeout, else the stack's default.
#[derive(Clone, Copy, Debug)]
pub struct OpTimeout(pub Duration);

impl MakeTimeout<OpRequest> for OpTimeout {
    fn make_timeout(&self, req: &OpRequest) -> Option<Duration> {
        Some(req.call_timeout().unwrap_or(self.0))
    }
}

/// The auth layer's credentials: stamps each frame that carries an
/// authorization context and has none yet with the scoped context
/// ([`on_behalf_of`](super::authority::on_behalf_of)), else the client's
/// [`AuthorizationHook`]'s.
#[derive(Clone, Default)]
pub struct StampAuthorization(Option<Arc<dyn AuthorizationHook>>);

impl std::fmt::Debug for StampAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StampAuthorization")
            .field(&self.0.is_some())
            .finish()
    }
}

impl StampAuthorization {
    /// Stamps `ctx` (or nothing, with `None`).
    pub fn new(ctx: Option<AuthorizationContext>) -> Self {
        StampAuthorization(ctx.map(|c| Arc::new(StaticAuthorization(Some(c))) as _))
    }

    /// Stamps what `hook` decides.
    pub fn hook(hook: Arc<dyn AuthorizationHook>) -> Self {
        StampAuthorization(Some(hook))
    }
}

impl StampAuthorization {
    /// Stamps `req` (what [`apply`](aether_middleware::auth::MakeCredentials::apply) does).
    fn stamp(&self, req: &mut OpRequest) {
        if !req.lacks_authorization() {
            return;
        }
        if let Some(ctx) = super::authority::scoped() {
            req.stamp_authorization(&ctx);
        } else if let Some(ctx) = self.0.as_ref().and_then(|h| h.authorization(req)) {
            req.stamp_authorization(&ctx);
        }
    }
}

impl aether_middleware::auth::MakeCredentials<OpRequest> for StampAuthorization {
    type Error = Error;
    fn apply(&mut self, req: &mut OpRequest) -> Result<(), Error> {
        self.stamp(req);
        Ok(())
    }
}

/// A shareable request-id source.
#[derive(Clone)]
pub(crate) struct SharedRequestIds(Arc<Mutex<Box<dyn MakeRequestId + Send>>>);

impl SharedRequestIds {
    pub(crate) fn new(m: impl MakeRequestId + Send + 'static) -> Self {
        SharedRequestIds(Arc::new(Mutex::new(Box::new(m))))
    }
}

impl Default for SharedRequestIds {
    fn default() -> Self {
        SharedRequestIds::new(DefaultMakeRequestId::default())
    }
}

impl MakeRequestId for SharedRequestIds {
    fn make_request_id(&mut self) -> String {
        self.0.lock().make_request_id()
    }
}

/// A user layer over the whole stack.
pub(crate) type UserLayer = Arc<dyn Fn(OperationService) -> OperationService + Send + Sync>;

/// How to build a client's operation stack.
#[derive(Clone)]
pub(crate) struct StackConfig {
    pub(crate) timeout: Duration,
    pub(crate) retry_backoff: Backoff,
    pub(crate) retry_attempts: u32,
    pub(crate) retry_budget: RetryBudget,
    pub(crate) authorization: Option<Arc<dyn AuthorizationHook>>,
    pub(crate) request_ids: SharedRequestIds,
    pub(crate) layers: Vec<UserLayer>,
}

impl StackConfig {
    pub(crate) fn new(timeout: Duration) -> Self {
        StackConfig {
            timeout,
            retry_backoff: Backoff::default(),
            retry_attempts: 3,
            retry_budget: RetryBudget::new(Duration::from_secs(10), 10, 0.2),
            authorization: None,
            request_ids: SharedRequestIds::default(),
            layers: Vec::new(),
        }
    }
}

/// The default stack as a concrete type: calling it costs no boxing.
pub(crate) type DefaultStack = Trace<
    Timeout<
        Retry<
            Auth<Correlation<Multiplexer, SharedRequestIds>, StampAuthorization>,
            DefaultRetryPolicy,
        >,
        OpTimeout,
    >,
    DefaultMakeSpan,
>;

/// A client's operation stack: the default one, called directly, or one
/// wrapped in layers of the user's, called through its box.
#[derive(Clone)]
pub(crate) enum Stack {
    Default(DefaultStack, FastQueue),
    Layered(OperationService),
}

/// The default stack's shortcut for fire-and-forget frames (sends, mostly).
///
/// For a frame nobody waits for, which is never retried, the default
/// stack's layers do nothing observable when no subscriber takes its
/// spans and the frame fits in the outbound queue: no request id is made
/// (correlation), no retry is possible (retry), the timeout cannot fire
/// (the frame is queued at once), and trace only makes a disabled span.
/// The shortcut does what is left (the disabled span, the authorization
/// stamp, the queueing) without cloning the stack or building its nested
/// futures. Anything else (a subscriber that may take the span, a full
/// queue, an unusable connection, an idempotent frame) goes through the
/// stack as before.
#[derive(Clone)]
pub(crate) struct FastQueue {
    make_span: DefaultMakeSpan,
    stamp: StampAuthorization,
    mux: Multiplexer,
}

impl FastQueue {
    /// Queues `req` at once (`Ok` with the outcome), or hands it back for
    /// the whole stack.
    fn try_queue(&self, mut req: OpRequest) -> Result<Result<(), Error>, OpRequest> {
        if req.expect() != Expect::Nothing || req.is_idempotent() || self.make_span.may_be_enabled()
        {
            return Err(req);
        }
        // What the trace layer does with a span nobody takes.
        let span = self.make_span.clone().make_span(&req);
        let _entered = span.enter();
        self.stamp.stamp(&mut req);
        self.mux.try_queue(req)
    }
}

impl Stack {
    /// The stack as a boxed tower service.
    pub(crate) fn service(&self) -> OperationService {
        match self {
            Stack::Default(s, _) => OperationService::new(s.clone()),
            Stack::Layered(s) => s.clone(),
        }
    }

    /// Runs one request through the stack.
    ///
    /// The default stack is called at once: every one of its layers is
    /// always ready (none reserves capacity, and the multiplexer waits for
    /// queue room inside its future), so there is no readiness to wait for.
    /// A stack with layers of the user's is driven to readiness first, on
    /// the first poll, as tower requires.
    ///
    /// A fire-and-forget frame the default stack would only queue is queued
    /// at once ([`FastQueue`]), and the future is ready.
    pub(crate) fn call(&self, req: OpRequest) -> StackFuture {
        StackFuture {
            inner: match self {
                Stack::Default(s, fast) => match fast.try_queue(req) {
                    Ok(queued) => Call::Done {
                        result: Some(queued.map(|()| Reply::Sent)),
                    },
                    Err(req) => Call::Default {
                        call: always_ready(s).call(req),
                    },
                },
                Stack::Layered(s) => Call::Layered {
                    call: s.clone().oneshot(req),
                },
            },
        }
    }
}

impl Stack {
    /// Runs a fire-and-forget request: done at once when the default stack
    /// would only queue it ([`FastQueue`]), else through the stack like
    /// [`call`](Self::call), with the stack's future boxed so the awaiting
    /// caller's future stays small (sends are awaited in hot loops).
    pub(crate) fn call_small(&self, req: OpRequest) -> SmallCall {
        let req = match self {
            Stack::Default(_, fast) => match fast.try_queue(req) {
                Ok(queued) => return SmallCall::Done(Some(queued.map(|()| Reply::Sent))),
                Err(req) => req,
            },
            Stack::Layered(_) => req,
        };
        SmallCall::Stack(Box::pin(self.call(req)))
    }
}

/// What [`Stack::call_small`] returns: a pointer-sized future.
pub(crate) enum SmallCall {
    Done(Option<Result<Reply, Error>>),
    Stack(std::pin::Pin<Box<StackFuture>>),
}

impl std::future::Future for SmallCall {
    type Output = Result<Reply, Error>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            SmallCall::Done(result) => Poll::Ready(
                result
                    .take()
                    .unwrap_or_else(|| Err(Error::protocol("future polled after completion"))),
            ),
            SmallCall::Stack(call) => call.as_mut().poll(cx),
        }
    }
}

/// A clone of the default stack to call without `poll_ready` (checked in
/// debug builds).
fn always_ready(stack: &DefaultStack) -> DefaultStack {
    let mut svc = stack.clone();
    debug_assert!(matches!(
        svc.poll_ready(&mut Context::from_waker(std::task::Waker::noop())),
        Poll::Ready(Ok(()))
    ));
    svc
}

pin_project_lite::pin_project! {
    /// One request on its way through a client's stack.
    pub(crate) struct StackFuture {
        #[pin]
        inner: Call,
    }
}

pin_project_lite::pin_project! {
    #[project = CallProj]
    enum Call {
        Done { result: Option<Result<Reply, Error>> },
        Default { #[pin] call: <DefaultStack as Service<OpRequest>>::Future },
        Layered { #[pin] call: Oneshot<OperationService, OpRequest> },
    }
}

impl std::future::Future for StackFuture {
    type Output = Result<Reply, Error>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            CallProj::Done { result } => Poll::Ready(
                result
                    .take()
                    .unwrap_or_else(|| Err(Error::protocol("future polled after completion"))),
            ),
            CallProj::Default { call } => call.poll(cx),
            CallProj::Layered { call } => call.poll(cx),
        }
    }
}

/// Assembles the stack over a multiplexer.
pub(crate) fn build(mux: Multiplexer, cfg: &StackConfig) -> Stack {
    let fast = FastQueue {
        make_span: DefaultMakeSpan::default(),
        stamp: StampAuthorization(cfg.authorization.clone()),
        mux: mux.clone(),
    };
    let policy = DefaultRetryPolicy {
        backoff: cfg.retry_backoff,
        max_attempts: cfg.retry_attempts,
        budget: Some(cfg.retry_budget.clone()),
    };
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new(fast.make_span.clone()))
        .layer(TimeoutLayer::new(OpTimeout(cfg.timeout)))
        .layer(RetryLayer::new(policy))
        .layer(AuthLayer::new(fast.stamp.clone()))
        .layer(CorrelationLayer::new(cfg.request_ids.clone()))
        .service(mux);
    if cfg.layers.is_empty() {
        return Stack::Default(stack, fast);
    }
    let mut svc = OperationService::new(stack);
    for layer in &cfg.layers {
        svc = layer(svc);
    }
    Stack::Layered(svc)
}
