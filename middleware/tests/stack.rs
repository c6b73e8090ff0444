//! All five layers composed over a mock service.

use std::fmt;
use std::time::Duration;

use aether_middleware::timeout::error::Elapsed;
use aether_middleware::{
    AuthLayer, Backoff, Correlate, CorrelationLayer, DefaultMakeRequestId, DefaultMakeSpan,
    DefaultRetryPolicy, Idempotent, Operation, RetryLayer, RetryableError, TimeoutLayer,
    TraceLayer,
};
use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_test::mock;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Default)]
struct Req {
    op: &'static str,
    id: Option<String>,
    token: Option<String>,
}

impl Idempotent for Req {
    fn is_safe_to_repeat(&self) -> bool {
        true
    }
}

impl Correlate for Req {
    fn request_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn set_request_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

impl Operation for Req {
    fn operation_name(&self) -> &'static str {
        self.op
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Error {
    Unavailable,
    TimedOut,
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<Elapsed> for Error {
    fn from(_: Elapsed) -> Self {
        Error::TimedOut
    }
}

impl RetryableError for Error {
    fn is_retryable(&self) -> bool {
        *self == Error::Unavailable
    }
}

fn from_box(e: BoxError) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => *e,
        Err(e) => Error::Other(e.to_string()),
    }
}

fn stack() -> (
    impl Service<Req, Response = &'static str, Error = Error>,
    mock::Handle<Req, &'static str>,
) {
    let (inner, handle) = mock::pair::<Req, &'static str>();
    let inner = inner.map_err(from_box as fn(BoxError) -> Error);
    let policy = DefaultRetryPolicy::new(
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.0,
        },
        5,
    );
    let svc = ServiceBuilder::new()
        .layer(TraceLayer::new(DefaultMakeSpan::new()))
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .layer(RetryLayer::new(policy))
        .layer(AuthLayer::new(|req: &mut Req| -> Result<(), Error> {
            req.token = Some("secret".into());
            Ok(())
        }))
        .layer(CorrelationLayer::new(DefaultMakeRequestId::with_prefix(
            "stack",
        )))
        .service(inner);
    (svc, handle)
}

#[tokio::test(start_paused = true)]
async fn layers_compose() {
    let (mut svc, mut handle) = stack();
    assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
    let mut fut = task::spawn(svc.call(Req {
        op: "get",
        ..Req::default()
    }));

    // First attempt: id and credentials attached, then a retryable failure.
    let (first, respond) = assert_ready!(handle.poll_request()).expect("first attempt");
    assert_eq!(first.token.as_deref(), Some("secret"));
    let first_id = first.id.clone().expect("id");
    assert!(first_id.starts_with("stack-"), "{first_id}");
    respond.send_error(Error::Unavailable);
    assert_pending!(fut.poll());

    // The retry waits for the backoff, then goes through auth and
    // correlation again: each attempt has its own id.
    assert_pending!(handle.poll_request());
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_pending!(fut.poll());
    let (second, respond) = assert_ready!(handle.poll_request()).expect("retry");
    assert_eq!(second.token.as_deref(), Some("secret"));
    let second_id = second.id.clone().expect("id");
    assert!(second_id.starts_with("stack-"));
    assert_ne!(first_id, second_id);
    respond.send_response("value");
    assert_eq!(assert_ready!(fut.poll()), Ok("value"));
}

#[tokio::test(start_paused = true)]
async fn timeout_bounds_all_attempts() {
    let (mut svc, mut handle) = stack();
    assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
    let mut fut = task::spawn(svc.call(Req {
        op: "get",
        ..Req::default()
    }));

    // Fail fast twice (100ms + 200ms backoff), then hang.
    assert_ready!(handle.poll_request())
        .expect("attempt 1")
        .1
        .send_error(Error::Unavailable);
    assert_pending!(fut.poll());
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_pending!(fut.poll());
    assert_ready!(handle.poll_request())
        .expect("attempt 2")
        .1
        .send_error(Error::Unavailable);
    assert_pending!(fut.poll());
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_pending!(fut.poll());
    let (_third, _respond) = assert_ready!(handle.poll_request()).expect("attempt 3");

    tokio::time::advance(Duration::from_millis(699)).await;
    assert_pending!(fut.poll());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(assert_ready!(fut.poll()), Err(Error::TimedOut));
}
