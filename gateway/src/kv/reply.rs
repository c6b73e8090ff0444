//! The frames a KV operation answers with (§3.5, §3.6): the typed
//! `KVResponse` echoing the request id, and the exact failure sequences.

use aether_protocol::proto::{DownstreamMessage, KvResponse, downstream_message::Payload};

use super::KvError;
use crate::answer::frame;
use crate::reply::{ErrorReply, code};

/// Upstream's `KV_ERROR` text; the reason follows it.
const KV_ERROR_TEXT: &str = "internal error processing KV operation";

/// `resp` with the request id.
pub(crate) fn success(mut resp: KvResponse, request_id: &str) -> Vec<DownstreamMessage> {
    resp.request_id = request_id.to_string();
    vec![frame(Payload::Kv(Box::new(resp)))]
}

fn refusal(request_id: &str) -> Option<DownstreamMessage> {
    (!request_id.is_empty()).then(|| {
        frame(Payload::Kv(Box::new(KvResponse {
            success: false,
            request_id: request_id.to_string(),
            ..Default::default()
        })))
    })
}

/// Row 3: `KVResponse{success:false}` (when there is a request id), then
/// `ErrorResponse{KV_ERROR}`.
pub(crate) fn failure(request_id: &str, e: &KvError) -> Vec<DownstreamMessage> {
    let error = ErrorReply::new(code::KV_ERROR, format!("{KV_ERROR_TEXT}: {}", e.0))
        .with_request_id(request_id)
        .into_downstream();
    refusal(request_id).into_iter().chain([error]).collect()
}

/// Row 2: `ErrorResponse{ERR_PERMISSION_DENIED}`, then
/// `KVResponse{success:false}` (when there is a request id).
pub(crate) fn invalid_authorization(request_id: &str) -> Vec<DownstreamMessage> {
    let error = ErrorReply::new(code::PERMISSION_DENIED, "invalid authorization context")
        .with_request_id(request_id)
        .into_downstream();
    std::iter::once(error).chain(refusal(request_id)).collect()
}

/// Row 1: only `ErrorResponse{ERR_QUOTA_001}`.
pub(crate) fn too_large(request_id: &str, size: usize, limit: usize) -> Vec<DownstreamMessage> {
    vec![
        ErrorReply::new(
            code::QUOTA_EXCEEDED,
            format!("KV value is {size} bytes; the limit is {limit} bytes"),
        )
        .with_request_id(request_id)
        .into_downstream(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(msgs: &[DownstreamMessage]) -> Vec<String> {
        msgs.iter()
            .map(|m| match &m.payload {
                Some(Payload::Kv(r)) => format!("kv:{}:{}", r.success, r.request_id),
                Some(Payload::Error(e)) => format!("err:{}:{}", e.code, e.request_id),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn sequences() {
        let e = KvError::new("bad");
        assert_eq!(kinds(&failure("r", &e)), ["kv:false:r", "err:KV_ERROR:r"]);
        assert_eq!(kinds(&failure("", &e)), ["err:KV_ERROR:"]);
        assert_eq!(
            kinds(&invalid_authorization("r")),
            ["err:ERR_PERMISSION_DENIED:r", "kv:false:r"]
        );
        assert_eq!(kinds(&too_large("r", 2, 1)), ["err:ERR_QUOTA_001:r"]);
        assert_eq!(kinds(&success(KvResponse::default(), "r")), ["kv:false:r"]);
    }
}
