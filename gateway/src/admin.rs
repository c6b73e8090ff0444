//! Session administration (§7.1) and connection status (§7.2).
//!
//! Gates (`authz`): LIST and GET need READ on `admin/sessions`, DISCONNECT
//! needs ADMIN on it; anyone may GET its own session. Connection status of
//! another principal needs READ on `capability/query_connections` or on
//! `admin/sessions`. Superadmin sessions (the admin key, dev mode) pass.

use std::time::Duration;

use aether_protocol::identity::{METRICS_BRIDGE_IDENTITY, Principal, WORKFLOW_ENGINE_IDENTITY};
use aether_protocol::proto::{
    ConnectionInfo, ConnectionStatusRequest, ConnectionStatusResponse, PrincipalType,
    SessionOperation, SessionOperationResponse, Signal, session_operation::OpType,
    signal::SignalType,
};

use crate::audit::AuditEvent;
use crate::authz::gates::Family;
use crate::authz::grants::obo;
use crate::authz::resource::capability;
use crate::authz::{Level, Resource};
use crate::context::Context;
use crate::context::handle::SessionHandle;

/// Formats a duration the way Go does for whole seconds ("1h2m3s").
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn info(s: &SessionHandle) -> ConnectionInfo {
    let (implementation, specifier) = match &s.principal {
        Principal::Agent {
            implementation,
            specifier,
            ..
        }
        | Principal::Orchestrator {
            implementation,
            specifier,
            ..
        }
        | Principal::Bridge {
            implementation,
            specifier,
        }
        | Principal::Service {
            implementation,
            specifier,
            ..
        } => (implementation.to_string(), specifier.to_string()),
        Principal::Task {
            implementation,
            unique_specifier,
            ..
        } => (
            implementation.to_string(),
            unique_specifier.as_deref().map_or_else(
                || {
                    s.identity
                        .rsplit("::")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                },
                str::to_string,
            ),
        ),
        Principal::User { window_id, .. } => (String::new(), window_id.to_string()),
        _ => (String::new(), String::new()),
    };
    ConnectionInfo {
        session_id: s.session_id.clone(),
        r#type: s.kind.principal_type() as i32,
        identity: s.identity.clone(),
        workspace: s.workspace.lock().clone(),
        implementation,
        specifier,
        connected_at: s.connected_at_unix_s,
        duration: go_duration(s.connected_at.elapsed()),
        remote_addr: String::new(),
        last_activity: 0,
    }
}

/// Answers a `SessionOperation` from `caller` (in `caller_ws`).
pub(crate) fn session_op(
    cx: &Context,
    caller: &SessionHandle,
    caller_ws: &str,
    op: SessionOperation,
) -> SessionOperationResponse {
    let mut resp = SessionOperationResponse {
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    // On behalf of a subject, the subject's rights under the grant decide
    // (no system-level bypass).
    let on_behalf = match obo::resolve(&cx.authz, &caller.acl, op.authorization.as_ref()) {
        Ok(o) => o,
        Err(e) => {
            resp.error = e;
            return resp;
        }
    };
    let actor = match &on_behalf {
        Some(o) => o.actor(),
        None => caller.authz_actor(caller_ws),
    };
    let own = op.op == OpType::Get as i32 && op.session_id == caller.session_id;
    let need = if op.op == OpType::Disconnect as i32 {
        Level::ADMIN
    } else {
        Level::READ
    };
    if !own && let Err(denied) = cx.authz.gate(&actor, Family::Sessions, need) {
        resp.error = denied;
        return resp;
    }
    match OpType::try_from(op.op) {
        Ok(OpType::List) => {
            let filter = op.filter.unwrap_or_default();
            let mut all: Vec<_> = cx
                .sessions()
                .into_iter()
                .filter(|s| {
                    filter.r#type == PrincipalType::Unspecified as i32
                        || s.kind.principal_type() as i32 == filter.r#type
                })
                .filter(|s| filter.workspace.is_empty() || *s.workspace.lock() == filter.workspace)
                .collect();
            all.sort_by(|a, b| {
                (a.connected_at, &a.session_id).cmp(&(b.connected_at, &b.session_id))
            });
            let offset = usize::try_from(filter.offset).unwrap_or(0);
            let limit = usize::try_from(filter.limit)
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(usize::MAX);
            resp.connections = all
                .iter()
                .skip(offset)
                .take(limit)
                .map(|s| info(s))
                .collect();
            resp.total_count = i32::try_from(resp.connections.len()).unwrap_or(i32::MAX);
            resp.success = true;
        }
        Ok(OpType::Get) | Ok(OpType::Disconnect) if op.session_id.is_empty() => {
            let name = if op.op == OpType::Get as i32 {
                "GET"
            } else {
                "DISCONNECT"
            };
            resp.error = format!("session_id required for {name}");
        }
        Ok(OpType::Get) => match cx.session(&op.session_id) {
            Some(s) => {
                resp.connection = Some(info(&s));
                resp.success = true;
            }
            None => resp.error = format!("session not found: {}", op.session_id),
        },
        Ok(OpType::Disconnect) => match cx.session(&op.session_id) {
            Some(s) => {
                drop(
                    cx.audit.record(
                        AuditEvent::new("admin", "disconnect_session")
                            .by(caller.actor())
                            .resource("session", s.session_id.clone())
                            .workspace(s.workspace.lock().clone())
                            .meta("identity", s.identity.clone()),
                    ),
                );
                cx.remove(&s);
                s.cancel_by_admin(Some(Signal {
                    r#type: SignalType::ForceDisconnect as i32,
                    reason: "disconnected by administrator".to_string(),
                }));
                resp.success = true;
                resp.message = "session disconnected".to_string();
            }
            None => resp.error = format!("session not found: {}", op.session_id),
        },
        Err(_) => resp.error = "unknown session operation".to_string(),
    }
    resp
}

/// The identity string a `PrincipalRef` names, or `Bare(user_id)` for a
/// user given by bare id.
enum Named {
    Identity(String),
    AnyWindowOf(String),
}

fn resolve_principal(principal_type: &str, id: &str) -> Result<Named, String> {
    let t = principal_type.to_ascii_lowercase();
    let (prefix, qualified) = match t.as_str() {
        "workflow_engine" => return Ok(Named::Identity(WORKFLOW_ENGINE_IDENTITY.to_string())),
        "metrics_bridge" => return Ok(Named::Identity(METRICS_BRIDGE_IDENTITY.to_string())),
        "agent" => ("ag", id.starts_with("ag::")),
        "task" | "unique_task" => ("tu", id.starts_with("tu::") || id.starts_with("ta::")),
        "non_unique_task" => ("ta", id.starts_with("ta::")),
        "user" => ("us", id.starts_with("us::")),
        "orchestrator" => ("orc", id.starts_with("orc::")),
        "bridge" => ("br", id.starts_with("br::")),
        "service" => ("sv", id.starts_with("sv::")),
        other => {
            return Err(format!(
                "invalid principal: unknown principal type {other:?}"
            ));
        }
    };
    if id.is_empty() {
        return Err("invalid principal: principal_id is required".to_string());
    }
    if qualified {
        return Ok(Named::Identity(id.to_string()));
    }
    if prefix == "us" && !id.contains("::") {
        return Ok(Named::AnyWindowOf(id.to_string()));
    }
    Ok(Named::Identity(format!("{prefix}::{id}")))
}

/// Answers a `ConnectionStatusRequest` from `caller` (in `caller_ws`).
pub(crate) fn connection_status(
    cx: &Context,
    caller: &SessionHandle,
    caller_ws: &str,
    req: ConnectionStatusRequest,
) -> ConnectionStatusResponse {
    let mut resp = ConnectionStatusResponse {
        request_id: req.request_id,
        ..Default::default()
    };
    let Some(principal) = req.principal else {
        resp.error = "principal is required".to_string();
        return resp;
    };
    let named = match resolve_principal(&principal.principal_type, &principal.principal_id) {
        Ok(n) => n,
        Err(e) => {
            resp.error = e;
            return resp;
        }
    };
    let is_self = match &named {
        Named::Identity(id) => *id == caller.identity,
        Named::AnyWindowOf(uid) => caller.user_id() == Some(uid.as_str()),
    };
    let actor = caller.authz_actor(caller_ws);
    let may_query = || {
        cx.authz.allows(
            &actor,
            Resource::capability(capability::QUERY_CONNECTIONS),
            Level::READ,
        ) || cx.authz.admin(&actor, Family::Sessions, Level::READ)
    };
    if !(is_self || may_query()) {
        resp.error = "not authorized".to_string();
        return resp;
    }
    resp.ok = true;
    resp.connected = match &named {
        Named::Identity(id) => cx.is_connected(id),
        Named::AnyWindowOf(uid) => cx.user_connected(uid),
    };
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations() {
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_secs(125)), "2m5s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
    }

    #[test]
    fn principal_refs() {
        assert!(matches!(
            resolve_principal("Agent", "ag::w::i::s"),
            Ok(Named::Identity(s)) if s == "ag::w::i::s"
        ));
        assert!(matches!(
            resolve_principal("agent", "w::i::s"),
            Ok(Named::Identity(s)) if s == "ag::w::i::s"
        ));
        assert!(matches!(
            resolve_principal("user", "alice"),
            Ok(Named::AnyWindowOf(s)) if s == "alice"
        ));
        assert!(resolve_principal("nope", "x").is_err());
        assert!(resolve_principal("agent", "").is_err());
    }
}
