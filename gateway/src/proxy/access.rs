//! Who may call whom (§8.1), decided by the authorization engine.
//!
//! Any principal may be a caller and any topic a target; the principal
//! type matrix of plain sends does not apply. The gate is the one of
//! sends: the caller needs READ_WRITE on the resolved target's workspace
//! when it has one (its own always; another by a rule; superadmin
//! sessions everything); targets without a workspace (services, bridges,
//! users) need nothing more. An authorization context is resolved as for
//! sends: on behalf of a subject, the subject's rights capped by the grant
//! decide. The deciding level on the workspace (the target's, else the
//! caller's or subject's own) is minted into `X-Auth-Workspace-Access`.

use aether_protocol::proto::{AuthorizationContext, ResolvedAuthorityInfo};

use crate::authz::grants::obo;
use crate::authz::{Authz, Level, Resource};
use crate::context::handle::SessionHandle;

/// What a caller is granted on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Grant {
    /// Access level on the workspace (0: none).
    pub(super) workspace_access: i32,
    /// The subject and grant of an on-behalf-of call.
    pub(super) on_behalf: Option<OnBehalfOf>,
}

/// Who an on-behalf-of call is for, as the target is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OnBehalfOf {
    pub(super) subject_type: &'static str,
    pub(super) subject_id: String,
    pub(super) grant_id: String,
    /// The subject's own workspace (the tenant the call is made in).
    pub(super) workspace: String,
    /// The grant summary the forwarded context carries.
    pub(super) resolved: ResolvedAuthorityInfo,
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
    let on_behalf = obo::resolve(authz, &caller.acl, context)?;
    let (actor, caller_ws) = match &on_behalf {
        Some(o) => (o.actor(), o.workspace.as_str()),
        None => (caller.authz_actor(caller_ws), caller_ws),
    };
    let target_ws = target.workspace.lock().clone();
    let ws = if target_ws.is_empty() {
        caller_ws
    } else {
        target_ws.as_str()
    };
    let level = if ws.is_empty() {
        0
    } else {
        let level = authz.decide(&actor, Resource::workspace(ws)).level;
        if !target_ws.is_empty() && level < Level::READ_WRITE {
            return Err(format!("not authorized to reach workspace {target_ws}"));
        }
        level.get()
    };
    Ok(Grant {
        workspace_access: level,
        on_behalf: on_behalf.map(|o| OnBehalfOf {
            subject_type: o.subject.ptype.name(),
            subject_id: o.subject.id,
            grant_id: o.grant_id,
            workspace: o.workspace,
            resolved: o.resolved,
        }),
    })
}
