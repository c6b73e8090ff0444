//! The default branch (§11 P0 item 7): every upstream operation this
//! gateway does not implement yet is answered at once with
//! `ErrorResponse{ERR_NOT_IMPLEMENTED}` carrying the operation's
//! correlation id, so no client waits for a timeout.

use aether_protocol::proto::upstream_message::Payload;

use crate::reply::{ErrorReply, code};

/// The operation's name (its oneof field) and correlation id: `request_id`,
/// `client_request_id` (audit events, authority requests, task
/// subscriptions) or `tunnel_id` (tunnel frames).
pub(crate) fn describe(payload: Option<&Payload>) -> (&'static str, &str) {
    let Some(p) = payload else {
        return ("unset upstream payload", "");
    };
    match p {
        Payload::Init(_) => ("init", ""),
        Payload::Send(_) => ("send", ""),
        Payload::SwitchWorkspace(_) => ("switch_workspace", ""),
        Payload::KvOp(o) => ("kv_op", &o.request_id),
        Payload::CreateTask(o) => ("create_task", &o.request_id),
        Payload::CheckpointOp(o) => ("checkpoint_op", &o.request_id),
        Payload::AdminQuery(o) => ("admin_query", &o.request_id),
        Payload::SessionOp(o) => ("session_op", &o.request_id),
        Payload::TaskQuery(o) => ("task_query", &o.request_id),
        Payload::TaskOp(o) => ("task_op", &o.request_id),
        Payload::WorkspaceOp(o) => ("workspace_op", &o.request_id),
        Payload::AgentOp(o) => ("agent_op", &o.request_id),
        Payload::AclOp(o) => ("acl_op", &o.request_id),
        Payload::Progress(o) => ("progress", &o.request_id),
        Payload::WorkflowOp(o) => ("workflow_op", &o.request_id),
        Payload::WorkflowResponse(o) => ("workflow_response", &o.request_id),
        Payload::TokenOp(o) => ("token_op", &o.request_id),
        Payload::AuditQuery(o) => ("audit_query", &o.request_id),
        Payload::AuthorityGrantOp(o) => ("authority_grant_op", &o.request_id),
        Payload::ProxyHttpRequest(o) => ("proxy_http_request", &o.request_id),
        Payload::ProxyHttpBodyChunk(o) => ("proxy_http_body_chunk", &o.request_id),
        Payload::ProxyHttpResponse(o) => ("proxy_http_response", &o.request_id),
        Payload::TunnelOpen(o) => ("tunnel_open", &o.tunnel_id),
        Payload::TunnelData(o) => ("tunnel_data", &o.tunnel_id),
        Payload::TunnelClose(o) => ("tunnel_close", &o.tunnel_id),
        Payload::TunnelAck(o) => ("tunnel_ack", &o.tunnel_id),
        Payload::ResolveAuthorityRequest(o) => ("resolve_authority_request", &o.request_id),
        Payload::ConnectionStatusRequest(o) => ("connection_status_request", &o.request_id),
        Payload::SubmitAuditEvent(o) => ("submit_audit_event", &o.client_request_id),
        Payload::AuthorityRequestOp(o) => ("authority_request_op", &o.client_request_id),
        Payload::TaskSubscriptionOp(o) => ("task_subscription_op", &o.client_request_id),
        Payload::AccessCheck(o) => ("access_check", &o.request_id),
        Payload::BatchAccessCheck(o) => ("batch_access_check", &o.request_id),
    }
}

/// The `ERR_NOT_IMPLEMENTED` reply to `payload`.
pub(crate) fn reply(payload: Option<&Payload>) -> ErrorReply {
    let (op, id) = describe(payload);
    ErrorReply::new(
        code::NOT_IMPLEMENTED,
        format!("{op} is not implemented by this gateway yet"),
    )
    .with_request_id(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::{KvOperation, TaskSubscriptionOperation, TunnelData};

    #[test]
    fn carries_the_correlation_id() {
        let kv = Payload::KvOp(Box::new(KvOperation {
            request_id: "r1".into(),
            ..Default::default()
        }));
        let r = reply(Some(&kv));
        assert_eq!(r.code, "ERR_NOT_IMPLEMENTED");
        assert_eq!(r.request_id, "r1");
        assert_eq!(r.message, "kv_op is not implemented by this gateway yet");
        let sub = Payload::TaskSubscriptionOp(Box::new(TaskSubscriptionOperation {
            client_request_id: "c".into(),
            ..Default::default()
        }));
        assert_eq!(describe(Some(&sub)).1, "c");
        let t = Payload::TunnelData(Box::new(TunnelData {
            tunnel_id: "t".into(),
            ..Default::default()
        }));
        assert_eq!(describe(Some(&t)), ("tunnel_data", "t"));
        assert_eq!(reply(None).request_id, "");
    }
}
