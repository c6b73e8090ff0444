//! What each frame of the protocol carries: where an upstream request
//! holds its correlation id, where a downstream reply echoes it, its name
//! for logs, and roughly how much memory it holds. Exhaustive matches: a
//! new protocol variant is a compile error here, not a silently dropped
//! reply.

use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;

/// The correlation id field of an upstream request, if it has one.
pub(crate) fn upstream_request_id_mut(p: &mut Up) -> Option<&mut String> {
    Some(match p {
        Up::KvOp(x) => &mut x.request_id,
        Up::CreateTask(x) => &mut x.request_id,
        Up::CheckpointOp(x) => &mut x.request_id,
        Up::AdminQuery(x) => &mut x.request_id,
        Up::SessionOp(x) => &mut x.request_id,
        Up::TaskQuery(x) => &mut x.request_id,
        Up::TaskOp(x) => &mut x.request_id,
        Up::WorkspaceOp(x) => &mut x.request_id,
        Up::AgentOp(x) => &mut x.request_id,
        Up::AclOp(x) => &mut x.request_id,
        Up::WorkflowOp(x) => &mut x.request_id,
        Up::WorkflowResponse(x) => &mut x.request_id,
        Up::TokenOp(x) => &mut x.request_id,
        Up::AuditQuery(x) => &mut x.request_id,
        Up::AuthorityGrantOp(x) => &mut x.request_id,
        Up::ProxyHttpRequest(x) => &mut x.request_id,
        Up::ProxyHttpBodyChunk(x) => &mut x.request_id,
        Up::ProxyHttpResponse(x) => &mut x.request_id,
        Up::ResolveAuthorityRequest(x) => &mut x.request_id,
        Up::ConnectionStatusRequest(x) => &mut x.request_id,
        Up::SubmitAuditEvent(x) => &mut x.client_request_id,
        Up::AuthorityRequestOp(x) => &mut x.client_request_id,
        Up::TaskSubscriptionOp(x) => &mut x.client_request_id,
        Up::AccessCheck(x) => &mut x.request_id,
        Up::BatchAccessCheck(x) => &mut x.request_id,
        Up::Progress(x) => &mut x.request_id,
        Up::TunnelOpen(x) => &mut x.tunnel_id,
        Up::TunnelData(x) => &mut x.tunnel_id,
        Up::TunnelClose(x) => &mut x.tunnel_id,
        Up::TunnelAck(x) => &mut x.tunnel_id,
        Up::Init(_) | Up::Send(_) | Up::SwitchWorkspace(_) => return None,
    })
}

/// The correlation id a downstream frame answers, if it is a reply.
/// Pushes (messages, assignments, signals, events) return `None`.
pub(crate) fn downstream_request_id(p: &Down) -> Option<&str> {
    let id: &String = match p {
        Down::Error(x) => &x.request_id,
        Down::Kv(x) => &x.request_id,
        Down::Checkpoint(x) => &x.request_id,
        Down::Admin(x) => &x.request_id,
        Down::SessionResponse(x) => &x.request_id,
        Down::TaskQuery(x) => &x.request_id,
        Down::TaskOp(x) => &x.request_id,
        Down::Workspace(x) => &x.request_id,
        Down::Agent(x) => &x.request_id,
        Down::Acl(x) => &x.request_id,
        Down::WorkflowResponse(x) => &x.request_id,
        Down::Token(x) => &x.request_id,
        Down::AuditResponse(x) => &x.request_id,
        Down::AuthorityGrant(x) => &x.request_id,
        Down::CreateTask(x) => &x.request_id,
        Down::ResolveAuthorityResponse(x) => &x.request_id,
        Down::ConnectionStatusResponse(x) => &x.request_id,
        Down::SubmitAuditEventResponse(x) => &x.client_request_id,
        Down::AuthorityRequestResponse(x) => &x.client_request_id,
        Down::TaskSubscriptionResponse(x) => &x.client_request_id,
        Down::AccessCheckResponse(x) => &x.request_id,
        Down::BatchAccessCheckResponse(x) => &x.request_id,
        Down::Msg(_)
        | Down::Config(_)
        | Down::Signal(_)
        | Down::TaskAssignment(_)
        | Down::ConnectionAck(_)
        | Down::ProgressUpdate(_)
        | Down::WorkflowOp(_)
        | Down::ProxyHttpResponse(_)
        | Down::ProxyHttpBodyChunk(_)
        | Down::TunnelAck(_)
        | Down::TunnelClose(_)
        | Down::TunnelData(_)
        | Down::ProxyHttpRequest(_)
        | Down::AuthorityGrantRevocation(_)
        | Down::AuthorityRequestEvent(_)
        | Down::TaskHibernated(_)
        | Down::TaskEvent(_) => return None,
    };
    if id.is_empty() {
        None
    } else {
        Some(id.as_str())
    }
}

/// A short name of a downstream frame, for logs.
pub(crate) fn downstream_name(p: &Down) -> &'static str {
    match p {
        Down::Msg(_) => "msg",
        Down::Config(_) => "config",
        Down::Signal(_) => "signal",
        Down::Error(_) => "error",
        Down::Kv(_) => "kv",
        Down::TaskAssignment(_) => "task_assignment",
        Down::ConnectionAck(_) => "connection_ack",
        Down::Checkpoint(_) => "checkpoint",
        Down::Admin(_) => "admin",
        Down::SessionResponse(_) => "session_response",
        Down::TaskQuery(_) => "task_query",
        Down::TaskOp(_) => "task_op",
        Down::Workspace(_) => "workspace",
        Down::Agent(_) => "agent",
        Down::Acl(_) => "acl",
        Down::ProgressUpdate(_) => "progress_update",
        Down::WorkflowResponse(_) => "workflow_response",
        Down::WorkflowOp(_) => "workflow_op",
        Down::Token(_) => "token",
        Down::AuditResponse(_) => "audit_response",
        Down::AuthorityGrant(_) => "authority_grant",
        Down::CreateTask(_) => "create_task",
        Down::ProxyHttpResponse(_) => "proxy_http_response",
        Down::ProxyHttpBodyChunk(_) => "proxy_http_body_chunk",
        Down::TunnelAck(_) => "tunnel_ack",
        Down::TunnelClose(_) => "tunnel_close",
        Down::TunnelData(_) => "tunnel_data",
        Down::ProxyHttpRequest(_) => "proxy_http_request",
        Down::ResolveAuthorityResponse(_) => "resolve_authority_response",
        Down::ConnectionStatusResponse(_) => "connection_status_response",
        Down::AuthorityGrantRevocation(_) => "authority_grant_revocation",
        Down::SubmitAuditEventResponse(_) => "submit_audit_event_response",
        Down::AuthorityRequestResponse(_) => "authority_request_response",
        Down::AuthorityRequestEvent(_) => "authority_request_event",
        Down::TaskHibernated(_) => "task_hibernated",
        Down::TaskSubscriptionResponse(_) => "task_subscription_response",
        Down::TaskEvent(_) => "task_event",
        Down::AccessCheckResponse(_) => "access_check_response",
        Down::BatchAccessCheckResponse(_) => "batch_access_check_response",
    }
}

/// What a queued frame or message is counted as beyond its data.
pub(crate) const FRAME_OVERHEAD: usize = 64;

/// Roughly what a frame holds in memory, for the byte bounds of inboxes:
/// the variable-size parts of the frames that carry data, the encoded
/// length of the rest.
pub(crate) fn approx_size(p: &Down) -> usize {
    FRAME_OVERHEAD
        + match p {
            Down::Msg(m) => m.payload.len() + m.source_topic.len() + m.workspace.len(),
            Down::ProxyHttpBodyChunk(c) => c.data.len(),
            Down::TunnelData(d) => d.data.len(),
            Down::ProxyHttpResponse(r) => r.body.len(),
            Down::ProxyHttpRequest(r) => r.body.len() + r.path.len(),
            other => other.encoded_len(),
        }
}
