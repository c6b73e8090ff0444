//! In-stream error replies (`ErrorResponse`) and their codes.

use aether_protocol::proto::{DownstreamMessage, ErrorResponse, downstream_message};

/// An `ErrorResponse` about to be sent; the session survives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorReply {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) retryable: bool,
    pub(crate) retry_after_ms: i64,
    pub(crate) request_id: String,
}

impl ErrorReply {
    /// A permanent error without a correlation id.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        ErrorReply {
            code,
            message: message.into(),
            retryable: false,
            retry_after_ms: 0,
            request_id: String::new(),
        }
    }

    /// Marks the error retryable, optionally after `after_ms`.
    pub(crate) fn retryable(mut self, after_ms: i64) -> Self {
        self.retryable = true;
        self.retry_after_ms = after_ms;
        self
    }

    /// Sets the correlation id.
    pub(crate) fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// The downstream frame carrying this error.
    pub(crate) fn into_downstream(self) -> DownstreamMessage {
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
    pub(crate) const INVALID_TOPIC: &str = "ERR_INVALID_TOPIC";
    pub(crate) const PERMISSION_DENIED: &str = "ERR_PERMISSION_DENIED";
    pub(crate) const PAYLOAD_TOO_LARGE: &str = "ERR_PAYLOAD_TOO_LARGE";
    pub(crate) const FRAME_TOO_LARGE: &str = "ERR_FRAME_TOO_LARGE";
    pub(crate) const RATE_LIMITED: &str = "ERR_RATE_LIMITED";
    pub(crate) const SV_UNAVAILABLE: &str = "ERR_SV_UNAVAILABLE";
    pub(crate) const INVALID_PRINCIPAL: &str = "ERR_INVALID_PRINCIPAL";
    pub(crate) const INVALID_ARGUMENT: &str = "ERR_INVALID_ARGUMENT";
    pub(crate) const METRIC_INVALID: &str = "ERR_METRIC_INVALID";
    pub(crate) const METRIC_EMPTY: &str = "ERR_METRIC_EMPTY";
    pub(crate) const METRIC_INVALID_ENTRY: &str = "ERR_METRIC_INVALID_ENTRY";
    pub(crate) const METRIC_NEGATIVE_FORBIDDEN: &str = "ERR_METRIC_NEGATIVE_FORBIDDEN";
    pub(crate) const NOT_IMPLEMENTED: &str = "ERR_NOT_IMPLEMENTED";
    pub(crate) const KV_ERROR: &str = "KV_ERROR";
    pub(crate) const QUOTA_EXCEEDED: &str = "ERR_QUOTA_001";
    /// A target's mailbox is at its message or byte bound; the message was
    /// refused (retryable) and nothing already queued was dropped.
    pub(crate) const MAILBOX_FULL: &str = "ERR_MAILBOX_FULL";
}
