//! Shared request, error and mock types for the unit tests.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use tower::ServiceExt;
use tower_test::mock;

use crate::auth::MakeCredentials;
use crate::correlation::Correlate;
use crate::retry::{Idempotent, RetryableError};
use crate::timeout::error::Elapsed;
use crate::trace::Operation;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TestReq {
    pub(crate) op: &'static str,
    pub(crate) id: Option<String>,
    pub(crate) wants_id: bool,
    pub(crate) safe: bool,
    pub(crate) token: Option<String>,
}

impl TestReq {
    pub(crate) fn new(op: &'static str) -> Self {
        TestReq {
            op,
            id: None,
            wants_id: true,
            safe: true,
            token: None,
        }
    }

    pub(crate) fn unsafe_to_repeat(mut self) -> Self {
        self.safe = false;
        self
    }
}

impl Idempotent for TestReq {
    fn is_safe_to_repeat(&self) -> bool {
        self.safe
    }
}

impl Correlate for TestReq {
    fn request_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn needs_request_id(&self) -> bool {
        self.wants_id
    }
    fn set_request_id(&mut self, id: String) {
        self.id = Some(id);
    }
}

impl Operation for TestReq {
    fn operation_name(&self) -> &'static str {
        self.op
    }
    fn trace_request_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TestError {
    Transient,
    TransientAfter(Duration),
    Fatal,
    Timeout,
    Auth(String),
    Other(String),
}

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "test error: {self:?}")
    }
}

impl std::error::Error for TestError {}

impl From<Elapsed> for TestError {
    fn from(_: Elapsed) -> Self {
        TestError::Timeout
    }
}

impl From<Infallible> for TestError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

impl RetryableError for TestError {
    fn is_retryable(&self) -> bool {
        matches!(self, TestError::Transient | TestError::TransientAfter(_))
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            TestError::TransientAfter(d) => Some(*d),
            _ => None,
        }
    }
}

fn to_test_error(e: BoxError) -> TestError {
    match e.downcast::<TestError>() {
        Ok(e) => *e,
        Err(e) => TestError::Other(e.to_string()),
    }
}

pub(crate) type TestMock =
    tower::util::MapErr<mock::Mock<TestReq, &'static str>, fn(BoxError) -> TestError>;

/// A mock service whose errors are [`TestError`]s.
pub(crate) fn pair() -> (TestMock, mock::Handle<TestReq, &'static str>) {
    let (svc, handle) = mock::pair();
    let svc = svc.map_err(to_test_error as fn(BoxError) -> TestError);
    (svc, handle)
}

/// A credentials hook that stamps a fixed token and fails for `op == "forbidden"`.
#[derive(Clone)]
pub(crate) struct StaticToken(pub(crate) &'static str);

impl MakeCredentials<TestReq> for StaticToken {
    type Error = TestError;
    fn apply(&mut self, req: &mut TestReq) -> Result<(), TestError> {
        if req.op == "forbidden" {
            return Err(TestError::Auth("no permission".into()));
        }
        req.token = Some(self.0.to_string());
        Ok(())
    }
}
