//! `AuditQuery` → `AuditQueryResponse` and `SubmitAuditEventRequest` →
//! `SubmitAuditEventResponse` (§6.8), given the caller's rights (decided
//! by the session, which knows who the caller is).
//!
//! * A query needs administrator rights; others get `success: false,
//!   error: "audit queries require admin privileges or workspace access"`.
//!   An on-behalf-of `authorization` is refused (no authority grants here
//!   yet). Entries come newest first; `total_count` counts every entry the
//!   query selects, not only this page.
//! * A submission's `event_type` must be `message`, `kv`, `task` or
//!   `custom` (`ERR_AUDIT_TYPE_FORBIDDEN`); its workspace defaults to the
//!   caller's, another one needs administrator rights
//!   (`ERR_PERMISSION_DENIED`); fields have size bounds
//!   (`ERR_INVALID_ARGUMENT`); a caller over its rate gets
//!   `ERR_AUDIT_RATE_LIMITED`. The actor is the session, never the
//!   request. The reply is sent once the entry is on disk.

use aether_protocol::proto::{
    AuditQuery, AuditQueryResponse, SubmitAuditEventRequest, SubmitAuditEventResponse,
};

use super::{Actor, Audit, AuditEvent};
use crate::store::Commit;

/// Why a non-administrator's query is refused (upstream's text).
pub(crate) const QUERY_DENIED: &str = "audit queries require admin privileges or workspace access";

/// Event types a client may submit.
pub(crate) const SUBMITTABLE: [&str; 4] = ["message", "kv", "task", "custom"];

/// Bounds of submitted fields.
const MAX_FIELD: usize = 256;
const MAX_ERROR: usize = 4096;
const MAX_METADATA: usize = 64;
const MAX_META_KEY: usize = 128;
const MAX_META_VALUE: usize = 1024;

/// Answers `q` from a caller who may (`admin`) or may not query.
pub(crate) fn answer_query(audit: &Audit, admin: bool, q: AuditQuery) -> AuditQueryResponse {
    let mut resp = AuditQueryResponse {
        request_id: q.request_id.clone(),
        ..Default::default()
    };
    if !admin {
        resp.error = QUERY_DENIED.to_string();
        return resp;
    }
    if q.authorization
        .as_ref()
        .is_some_and(|a| a.authority_mode == "on_behalf_of")
    {
        resp.error = "authority grants require ACL service".to_string();
        return resp;
    }
    let (entries, total) = audit.query(&q);
    resp.entries = entries;
    resp.total_count = i32::try_from(total).unwrap_or(i32::MAX);
    resp.success = true;
    resp
}

/// Who submits, and what they may do.
pub(crate) struct Submitter {
    pub(crate) actor: Actor,
    /// Administrator rights: may submit for any workspace.
    pub(crate) admin: bool,
    /// Whether the caller is within its submission rate.
    pub(crate) within_rate: bool,
}

fn refusal(id: &str, code: &str, message: impl Into<String>) -> SubmitAuditEventResponse {
    SubmitAuditEventResponse {
        client_request_id: id.to_string(),
        success: false,
        error_code: code.to_string(),
        error_message: message.into(),
    }
}

fn check_sizes(req: &SubmitAuditEventRequest) -> Result<(), String> {
    for (name, value) in [
        ("operation", &req.operation),
        ("resource_type", &req.resource_type),
        ("resource_id", &req.resource_id),
        ("workspace", &req.workspace),
    ] {
        if value.len() > MAX_FIELD {
            return Err(format!("{name} is longer than {MAX_FIELD} bytes"));
        }
    }
    if req.error_message.len() > MAX_ERROR {
        return Err(format!("error_message is longer than {MAX_ERROR} bytes"));
    }
    if req.metadata.len() > MAX_METADATA {
        return Err(format!("more than {MAX_METADATA} metadata entries"));
    }
    if req
        .metadata
        .iter()
        .any(|(k, v)| k.len() > MAX_META_KEY || v.len() > MAX_META_VALUE)
    {
        return Err(format!(
            "metadata keys are limited to {MAX_META_KEY} bytes and values to {MAX_META_VALUE}"
        ));
    }
    Ok(())
}

/// Records a submitted event; the reply and the commit it waits for.
pub(crate) fn submit(
    audit: &Audit,
    who: Submitter,
    req: SubmitAuditEventRequest,
) -> (SubmitAuditEventResponse, Option<Commit>) {
    let id = req.client_request_id.as_str();
    if !who.within_rate {
        return (
            refusal(
                id,
                "ERR_AUDIT_RATE_LIMITED",
                "audit submissions are rate limited",
            ),
            None,
        );
    }
    if !SUBMITTABLE.contains(&req.event_type.as_str()) {
        return (
            refusal(
                id,
                "ERR_AUDIT_TYPE_FORBIDDEN",
                format!("event_type must be one of {}", SUBMITTABLE.join(", ")),
            ),
            None,
        );
    }
    if let Err(e) = check_sizes(&req) {
        return (refusal(id, "ERR_INVALID_ARGUMENT", e), None);
    }
    let workspace = if req.workspace.is_empty() {
        who.actor.workspace.clone()
    } else {
        req.workspace.clone()
    };
    if workspace != who.actor.workspace && !who.admin {
        return (
            refusal(
                id,
                "ERR_PERMISSION_DENIED",
                "submitting audit events for another workspace requires admin privileges",
            ),
            None,
        );
    }
    let mut event = AuditEvent::new(req.event_type, req.operation)
        .by(who.actor)
        .resource(req.resource_type, req.resource_id)
        .workspace(workspace)
        .submitted();
    if !req.success {
        event = event.failed(req.error_message);
    }
    for (k, v) in req.metadata {
        event = event.meta(k, v);
    }
    let commit = audit.record(event);
    let resp = SubmitAuditEventResponse {
        client_request_id: req.client_request_id,
        success: true,
        ..Default::default()
    };
    (resp, Some(commit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn who(admin: bool) -> Submitter {
        Submitter {
            actor: Actor {
                actor_type: "agent".into(),
                actor_id: "ag::w::i::s".into(),
                session_id: "s1".into(),
                workspace: "w".into(),
            },
            admin,
            within_rate: true,
        }
    }

    #[test]
    fn submissions_are_checked_and_stamped() {
        let audit = Audit::load(Store::memory(), 10).unwrap();
        let req = |t: &str, ws: &str| SubmitAuditEventRequest {
            event_type: t.into(),
            workspace: ws.into(),
            client_request_id: "c".into(),
            success: true,
            ..Default::default()
        };
        let (r, _) = submit(&audit, who(false), req("login", ""));
        assert_eq!(
            (r.success, r.error_code.as_str()),
            (false, "ERR_AUDIT_TYPE_FORBIDDEN")
        );
        let (r, _) = submit(&audit, who(false), req("custom", "other"));
        assert_eq!(r.error_code, "ERR_PERMISSION_DENIED");
        let (r, c) = submit(&audit, who(false), req("custom", ""));
        assert!(r.success && c.is_some());
        assert_eq!(r.client_request_id, "c");
        let mut limited = who(false);
        limited.within_rate = false;
        let (r, _) = submit(&audit, limited, req("custom", ""));
        assert_eq!(r.error_code, "ERR_AUDIT_RATE_LIMITED");
        let (r, _) = submit(&audit, who(true), req("kv", "other"));
        assert!(r.success);
        let (entries, total) = audit.query(&AuditQuery::default());
        assert_eq!(total, 2);
        assert_eq!(entries[1].workspace, "w");
        assert_eq!(entries[1].actor_id, "ag::w::i::s");
        assert_eq!(entries[1].source, "client");
        let denied = answer_query(&audit, false, AuditQuery::default());
        assert!(!denied.success && denied.error == QUERY_DENIED);
    }
}
