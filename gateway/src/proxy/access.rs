//! Who may call whom (§8.1), decided by the authorization engine.
//!
//! Any principal may be a caller and any topic a target; the principal
//! type matrix of plain sends does not apply. The gate is the one of
//! sends: the caller needs READ_WRITE on the resolved target's workspace
//! when it has one (its own always; another by a rule; superadmin
//! sessions everything); targets without a workspace (services, bridges,
//! users) need nothing more. An authorization context is checked as for
//! sends. The caller's level on the workspace (the target's, else its
//! own) is minted into `X-Auth-Workspace-Access`.

use aether_protocol::proto::AuthorizationContext;

use crate::authz::{Authz, Level, Resource};
use crate::context::handle::SessionHandle;
use crate::routing::authorization;

/// What a caller is granted on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Grant {
    /// Access level on the workspace (0: none).
    pub(super) workspace_access: i32,
}

/// Whether `caller` (in `caller_ws`) may reach `target`; the refusal's
/// text otherwise.
pub(super) fn check(
    authz: &Authz,
    caller: &SessionHandle,
    caller_ws: &str,
    target: &SessionHandle,
    context: Option<&AuthorizationContext>,
) -> Result<Grant, String> {
    authorization::check(context).map_err(|e| e.message)?;
    let actor = caller.actor(caller_ws);
    let target_ws = target.workspace.lock().clone();
    let ws = if target_ws.is_empty() {
        caller_ws
    } else {
        target_ws.as_str()
    };
    if ws.is_empty() {
        return Ok(Grant {
            workspace_access: 0,
        });
    }
    let level = authz.decide(&actor, Resource::workspace(ws)).level;
    if !target_ws.is_empty() && level < Level::READ_WRITE {
        return Err(format!("not authorized to reach workspace {target_ws}"));
    }
    Ok(Grant {
        workspace_access: level.get(),
    })
}
