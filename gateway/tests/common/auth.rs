//! Raw helpers for API tokens and the audit log.

use aether_protocol::proto::downstream_message::Payload;
use aether_protocol::proto::{
    AuditEntry, AuditQuery, AuditQueryResponse, TokenCreateRequest, TokenOperation, TokenResponse,
    token_operation::OpType, upstream_message,
};

use super::{Conn, up};

/// Sends a token operation and returns its reply (by request id).
pub async fn token_op(c: &mut Conn, mut op: TokenOperation) -> TokenResponse {
    if op.request_id.is_empty() {
        op.request_id = uuid::Uuid::new_v4().to_string();
    }
    let id = op.request_id.clone();
    c.send(up(upstream_message::Payload::TokenOp(Box::new(op))))
        .await;
    loop {
        match c.payload().await {
            Payload::Token(r) if r.request_id == id => return *r,
            _ => continue,
        }
    }
}

/// A token creation request.
pub fn create(principal_type: &str, patterns: &[&str], created_by: &str) -> TokenOperation {
    TokenOperation {
        op: OpType::Create as i32,
        create_request: Some(TokenCreateRequest {
            name: format!("{principal_type} token"),
            principal_type: principal_type.into(),
            workspace_patterns: patterns.iter().map(|s| s.to_string()).collect(),
            created_by: created_by.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Mints a token on an administrator's stream: (secret, token id).
pub async fn mint(
    admin: &mut Conn,
    principal_type: &str,
    patterns: &[&str],
    created_by: &str,
) -> (String, String) {
    let r = token_op(admin, create(principal_type, patterns, created_by)).await;
    assert!(r.success, "token minted: {}", r.error);
    let info = r.created_token.expect("created_token");
    (r.plaintext_token, info.id)
}

/// A token operation on one token id.
pub fn by_id(op: OpType, id: &str) -> TokenOperation {
    TokenOperation {
        op: op as i32,
        token_id: id.into(),
        ..Default::default()
    }
}

/// Runs an audit query (by request id).
pub async fn audit(c: &mut Conn, mut q: AuditQuery) -> AuditQueryResponse {
    if q.request_id.is_empty() {
        q.request_id = uuid::Uuid::new_v4().to_string();
    }
    let id = q.request_id.clone();
    c.send(up(upstream_message::Payload::AuditQuery(Box::new(q))))
        .await;
    loop {
        match c.payload().await {
            Payload::AuditResponse(r) if r.request_id == id => return *r,
            _ => continue,
        }
    }
}

/// The entries of one event type and operation, newest first.
pub async fn entries(c: &mut Conn, event_type: &str, operation: &str) -> Vec<AuditEntry> {
    let r = audit(
        c,
        AuditQuery {
            event_type: event_type.into(),
            operation: operation.into(),
            limit: 500,
            ..Default::default()
        },
    )
    .await;
    assert!(r.success, "audit query: {}", r.error);
    r.entries
}
