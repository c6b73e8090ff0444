//! The one public error type of the SDK.
//!
//! Every failure is an [`Error`] with a [`kind()`](Error::kind). Gateway
//! `ErrorResponse` codes, refusals in typed replies and gRPC statuses are
//! mapped onto kinds in one place ([`classify`]); the original code, the
//! gateway's retry hints and the source chain are kept.

mod classify;
mod rpc;

pub use rpc::RpcCode;

use std::fmt;
use std::time::Duration;

use crate::proto;

/// A boxed error of any kind, as bodies and sources carry them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in a form to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input rejected before anything was sent (an invalid identity
    /// segment or topic, a missing argument).
    InvalidArgument,
    /// The call was made before `connect()`.
    NotConnected,
    /// The client was closed (by `close()`, a forced disconnect, or because
    /// reconnecting gave up).
    Closed,
    /// The operation did not complete in time.
    Timeout,
    /// The stream to the gateway died while the call was in flight.
    /// `may_have_been_sent` says whether the request may have reached the
    /// gateway; when false it is safe to send it again.
    ConnectionLost {
        /// Whether the request may have been written to the stream.
        may_have_been_sent: bool,
    },
    /// The gateway could not be reached.
    Unreachable,
    /// The gateway refused the credentials.
    Unauthenticated,
    /// The gateway refused the operation or the connection.
    PermissionDenied,
    /// Another connection already holds this identity.
    DuplicateIdentity,
    /// The thing asked for does not exist.
    NotFound,
    /// The gateway does not implement the operation.
    Unimplemented,
    /// A payload or frame exceeded a limit.
    PayloadTooLarge,
    /// The outbound queue is full (only from non-waiting `try_`/`_nowait` calls).
    QueueFull,
    /// The gateway answered with an `ErrorResponse` not covered above; see
    /// [`Error::code`].
    Gateway,
    /// The gateway answered with a typed reply whose `success` is false.
    Rejected,
    /// The gateway ended the stream with a gRPC status not covered above;
    /// see [`Error::status_code`].
    Rpc,
    /// TLS configuration or certificate material is invalid.
    Tls,
    /// The gateway sent something the SDK did not expect.
    Protocol,
    /// A coordination lease (a lock, a leadership term, a permit) ran out
    /// or was taken before it was released: someone else may hold it now.
    LeaseLost,
    /// A consumer (a stream, a handler queue) fell so far behind, while
    /// calls awaited replies, that items could not be kept; see
    /// [`Error::lagged_items`].
    Lagged,
    /// The gateway (or a quota) limits the rate; retry after
    /// [`Error::retry_after`].
    RateLimited,
    /// The target cannot take it now (no instance connected, target
    /// offline, its mailbox full, a circuit open); often retryable, see
    /// [`Error::retry_after`].
    Unavailable,
}

/// An SDK error: a kind, a message, and the details the gateway gave.
pub struct Error {
    kind: ErrorKind,
    message: String,
    code: Option<String>,
    status: Option<RpcCode>,
    retryable: bool,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
    permanent: bool,
    lagged: u64,
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
            status: None,
            retryable: false,
            retry_after: None,
            source: None,
            permanent: false,
            lagged: 0,
        }
    }

    /// Attaches a source error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub(crate) fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// `n` items lost by a consumer that fell behind.
    pub(crate) fn lagged(n: u64) -> Self {
        let mut e = Error::new(
            ErrorKind::Lagged,
            format!(
                "{n} item(s) lost: the consumer fell behind while calls awaited replies \
                 and the client's overflow budget was spent"
            ),
        );
        e.lagged = n;
        e
    }

    /// A typed reply refused the operation `op` on a `subject` (`"task"`,
    /// `"session"`, ...) with `reason` (its `success` was false).
    pub(crate) fn refused(op: &str, subject: &str, reason: &str) -> Self {
        Error::new(
            classify::refusal_kind(subject, reason),
            format!("{op} rejected by the gateway: {reason}"),
        )
    }

    /// An HTTP-over-Aether failure (`ProxyError`): its kind names the
    /// proxy error (`code()` is e.g. `SIDECAR_UNAVAILABLE`).
    pub(crate) fn proxy(kind: i32, message: &str) -> Self {
        let (k, code) = classify::proxy_kind(kind);
        let message = if message.is_empty() { code } else { message };
        Error::new(k, message.to_string()).with_code(code)
    }

    /// A tunnel closed by its peer or the gateway for `reason` (not
    /// NORMAL): `code()` is the reason name (e.g. `PEER_RESET`), or, for a
    /// refused open (`ERROR` whose detail starts with a proxy error name,
    /// as in `SIDECAR_UNAVAILABLE: no instance`), that name.
    pub(crate) fn tunnel_closed(reason: i32, detail: &str) -> Self {
        let (k, code) = classify::tunnel_close_kind(reason);
        let (k, code) = match (code, classify::proxy_code_prefix(detail)) {
            ("ERROR", Some(refusal)) => refusal,
            _ => (k, code),
        };
        let message = if detail.is_empty() {
            format!("tunnel closed: {code}")
        } else {
            format!("tunnel closed: {code}: {detail}")
        };
        Error::new(k, message).with_code(code)
    }

    /// A reply of the wrong type for `op`.
    pub(crate) fn unexpected(op: &str, got: &proto::downstream_message::Payload) -> Self {
        Error::protocol(format!(
            "{op}: unexpected reply {}",
            crate::frames::downstream_name(got)
        ))
    }

    pub(crate) fn connection_lost(may_have_been_sent: bool, why: &str) -> Self {
        let sent = if may_have_been_sent {
            "may have been sent"
        } else {
            "was not sent"
        };
        Error::new(
            ErrorKind::ConnectionLost { may_have_been_sent },
            format!("connection to the gateway lost ({why}); the request {sent}"),
        )
    }

    /// A copy without the source chain (which is not `Clone`): kind,
    /// message, code, retry hints.
    pub(crate) fn clone_lossy(&self) -> Error {
        Error {
            kind: self.kind,
            message: self.message.clone(),
            code: self.code.clone(),
            status: self.status,
            retryable: self.retryable,
            retry_after: self.retry_after,
            source: None,
            permanent: self.permanent,
            lagged: self.lagged,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The gateway's error code (`ErrorResponse.code`, e.g.
    /// `"ERR_PAYLOAD_TOO_LARGE"`), when the error came from one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The gRPC status code, when the gateway ended the stream with one.
    pub fn status_code(&self) -> Option<RpcCode> {
        self.status
    }

    /// Whether the same request may succeed if sent again later: the
    /// gateway said so, or the request never left this process.
    pub fn is_retryable(&self) -> bool {
        self.retryable
            || matches!(
                self.kind,
                ErrorKind::ConnectionLost { .. } | ErrorKind::Unreachable | ErrorKind::QueueFull
            )
    }

    /// How long the gateway asked to wait before retrying, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// For a [`Lagged`](ErrorKind::Lagged) error, how many items were lost.
    pub fn lagged_items(&self) -> u64 {
        self.lagged
    }

    /// Whether this error means the connection can never succeed as
    /// configured (bad credentials, duplicate identity, invalid identity...),
    /// so reconnecting is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
            || self.status.is_some_and(RpcCode::is_permanent)
            || matches!(self.kind, ErrorKind::Tls | ErrorKind::InvalidArgument)
    }

    /// Maps a gRPC status (from the `Connect` stream) onto an error.
    pub(crate) fn from_status(status: &tonic::Status) -> Self {
        let code = RpcCode::from(status.code());
        let mut err = Error::new(code.kind(), format!("gateway: {}", status.message()));
        err.status = Some(code);
        err.code = Some(format!("{code:?}"));
        err
    }

    /// Maps an in-stream `ErrorResponse` onto an error.
    pub fn from_error_response(resp: &proto::ErrorResponse) -> Self {
        let kind = classify::code_kind(&resp.code, resp.retryable);
        let message = if resp.message.is_empty() {
            resp.code.clone()
        } else {
            resp.message.clone()
        };
        let mut err = Error::new(kind, message).with_code(resp.code.clone());
        err.retryable = resp.retryable;
        if resp.retry_after_ms > 0 {
            err.retry_after = Some(Duration::from_millis(resp.retry_after_ms as u64));
        }
        err
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(code) = &self.code {
            d.field("code", code);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) if !self.message.contains(code.as_str()) => {
                write!(f, "[{code}] {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<aether_middleware::timeout::error::Elapsed> for Error {
    fn from(e: aether_middleware::timeout::error::Elapsed) -> Self {
        Error::new(ErrorKind::Timeout, "operation timed out").with_source(e)
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl From<crate::identity::SegmentError> for Error {
    fn from(e: crate::identity::SegmentError) -> Self {
        Error::invalid(format!("invalid identity: {e}")).with_source(e)
    }
}

impl From<crate::identity::TopicError> for Error {
    fn from(e: crate::identity::TopicError) -> Self {
        Error::invalid(format!("invalid topic: {e}")).with_source(e)
    }
}

impl aether_middleware::retry::RetryableError for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_gateway_codes() {
        let e = |code: &str| {
            Error::from_error_response(&proto::ErrorResponse {
                code: code.into(),
                ..Default::default()
            })
            .kind()
        };
        assert_eq!(e("ERR_PERMISSION_DENIED"), ErrorKind::PermissionDenied);
        assert_eq!(e("ERR_PAYLOAD_TOO_LARGE"), ErrorKind::PayloadTooLarge);
        assert_eq!(e("ERR_NOT_IMPLEMENTED"), ErrorKind::Unimplemented);
        assert_eq!(e("ERR_INVALID_TOPIC"), ErrorKind::InvalidArgument);
        assert_eq!(e("KV_ERROR"), ErrorKind::Gateway);
    }

    #[test]
    fn keeps_retry_hints() {
        let err = Error::from_error_response(&proto::ErrorResponse {
            code: "ERR_RATE_LIMITED".into(),
            message: "slow down".into(),
            retryable: true,
            retry_after_ms: 250,
            request_id: String::new(),
        });
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
        assert_eq!(err.to_string(), "[ERR_RATE_LIMITED] slow down");
    }

    #[test]
    fn maps_statuses() {
        let dup = Error::from_status(&tonic::Status::already_exists("DuplicateIdentityError: x"));
        assert_eq!(dup.kind(), ErrorKind::DuplicateIdentity);
        assert_eq!(dup.status_code(), Some(RpcCode::AlreadyExists));
        assert_eq!(dup.code(), Some("AlreadyExists"));
        assert!(dup.is_permanent());
        let gone = Error::from_status(&tonic::Status::unavailable("down"));
        assert_eq!(gone.kind(), ErrorKind::Unreachable);
        assert!(!gone.is_permanent());
    }
}
