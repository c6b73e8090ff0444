//! Who may call whom: the seam for an ACL engine (§8.1).
//!
//! Any principal may be a caller and any topic a target; the principal
//! type matrix of plain sends does not apply. The only gate today is the
//! authorization context (§6.9), checked as for sends: a direct context
//! passes, an on-behalf-of one is refused (no ACL engine grants
//! authority). An ACL engine plugs in here: it decides on the resolved
//! target and returns the caller's access level on the workspace, which is
//! minted into `X-Auth-Workspace-Access`.

use aether_protocol::proto::AuthorizationContext;

use crate::context::handle::SessionHandle;
use crate::routing::authorization;

/// What a caller is granted on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Grant {
    /// Access level on the workspace (0: none, as without ACL upstream).
    pub(super) workspace_access: i32,
}

/// Whether `caller` may reach `target`; the refusal's text otherwise.
pub(super) fn check(
    _caller: &SessionHandle,
    _target: &SessionHandle,
    context: Option<&AuthorizationContext>,
) -> Result<Grant, String> {
    authorization::check(context).map_err(|e| e.message)?;
    Ok(Grant {
        workspace_access: 0,
    })
}
