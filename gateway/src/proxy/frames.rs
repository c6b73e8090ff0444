//! The downstream frames the gateway writes itself about flows: refusals
//! and the notices that end a flow.

use aether_protocol::proto::{
    DownstreamMessage, ProxyError, ProxyHttpBodyChunk, ProxyHttpResponse, TunnelClose,
    downstream_message::Payload, proxy_error, tunnel_close,
};

pub(super) use proxy_error::Kind as ErrorKind;
pub(super) use tunnel_close::Reason;

pub(super) fn down(payload: Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
}

/// `ProxyHttpResponse{request_id, error{kind, message}}`.
pub(super) fn http_error(
    id: &str,
    kind: ErrorKind,
    message: impl Into<String>,
) -> DownstreamMessage {
    down(Payload::ProxyHttpResponse(Box::new(ProxyHttpResponse {
        request_id: id.to_string(),
        error: Some(ProxyError {
            kind: kind as i32,
            message: message.into(),
        }),
        ..Default::default()
    })))
}

/// The closing response chunk `ProxyHttpBodyChunk{id, is_request: false,
/// seq, fin: true}` that follows an error notice (§8.5).
pub(super) fn http_fin(id: &str, seq: u32) -> DownstreamMessage {
    down(Payload::ProxyHttpBodyChunk(Box::new(ProxyHttpBodyChunk {
        request_id: id.to_string(),
        is_request: false,
        seq,
        data: Default::default(),
        fin: true,
    })))
}

/// `TunnelClose{tunnel_id, reason, detail}`.
pub(super) fn tunnel_close(
    id: &str,
    reason: Reason,
    detail: impl Into<String>,
) -> DownstreamMessage {
    down(Payload::TunnelClose(Box::new(TunnelClose {
        tunnel_id: id.to_string(),
        reason: reason as i32,
        detail: detail.into(),
    })))
}
