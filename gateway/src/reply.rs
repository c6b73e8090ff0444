//! In-stream error replies (`ErrorResponse`) and their codes.

use aether_protocol::proto::{DownstreamMessage, ErrorResponse, downstream_message};

/// An `ErrorResponse` about to be sent; the session survives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorReply {
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    pub retry_after_ms: i64,
    pub request_id: String,
}

impl ErrorReply {
    /// A permanent error without a correlation id.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ErrorReply {
            code,
            message: message.into(),
            retryable: false,
            retry_after_ms: 0,
            request_id: String::new(),
        }
    }

    /// Marks the error retryable, optionally after `after_ms`.
    pub fn retryable(mut self, after_ms: i64) -> Self {
        self.retryable = true;
        self.retry_after_ms = after_ms;
        self
    }

    /// Sets the correlation id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// The downstream frame carrying this error.
    pub fn into_downstream(self) -> DownstreamMessage {
        DownstreamMessage {
            payload: Some(downstream_message::Payload::Error(Box::new(
                ErrorResponse {
                    code: self.code.to_string(),
                    message: self.message,
                    retryable: self.retryable,
                    retry_after_ms: self.retry_after_ms,
                    request_id: self.request_id,
                },
            ))),
            active_extensions: Vec::new(),
        }
    }
}

/// Error codes this gateway emits.
pub(crate) mod code {
    pub const INVALID_TOPIC: &str = "ERR_INVALID_TOPIC";
    pub const PERMISSION_DENIED: &str = "ERR_PERMISSION_DENIED";
    pub const PAYLOAD_TOO_LARGE: &str = "ERR_PAYLOAD_TOO_LARGE";
    pub const FRAME_TOO_LARGE: &str = "ERR_FRAME_TOO_LARGE";
    pub const RATE_LIMITED: &str = "ERR_RATE_LIMITED";
    pub const SV_UNAVAILABLE: &str = "ERR_SV_UNAVAILABLE";
    pub const INVALID_PRINCIPAL: &str = "ERR_INVALID_PRINCIPAL";
    pub const INVALID_ARGUMENT: &str = "ERR_INVALID_ARGUMENT";
    pub const METRIC_INVALID: &str = "ERR_METRIC_INVALID";
    pub const METRIC_EMPTY: &str = "ERR_METRIC_EMPTY";
    pub const METRIC_INVALID_ENTRY: &str = "ERR_METRIC_INVALID_ENTRY";
    pub const METRIC_NEGATIVE_FORBIDDEN: &str = "ERR_METRIC_NEGATIVE_FORBIDDEN";
    pub const NOT_IMPLEMENTED: &str = "ERR_NOT_IMPLEMENTED";
    pub const KV_ERROR: &str = "KV_ERROR";
    pub const QUOTA_EXCEEDED: &str = "ERR_QUOTA_001";
}
