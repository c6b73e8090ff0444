//! Who may use which KV namespace (§3.3), decided by the authorization
//! engine.
//!
//! * Exclusive scopes are the caller's own: always allowed.
//! * A rule on `kv_key/{key}` decides when one covers the key (READ for
//!   GET, LIST and SET_CARD, READ_WRITE for changes) in the tenant-wide
//!   scopes; in the workspace-bound ones it can only lower the level the
//!   workspace gives (key names are not per workspace, so a key rule must
//!   not open every workspace's key of that name).
//! * Otherwise `global` and `user-shared` are checked as `kv_scope/{name}`
//!   (agents, tasks and services have READ_WRITE by default; the workflow
//!   engine and the metrics bridge nothing, except the workflow engine's
//!   `_sys/coord/` keys in `global`), and the workspace-bound shared scopes
//!   (`workspace`, `user-workspace-shared`) as `workspace/{name}`: the
//!   caller's own workspace, or one a rule opens to it.
//! * PURGE_IDENTITY of another identity needs READ_WRITE on
//!   `capability/kv_purge_identity`.

use aether_protocol::proto::kv_operation::OpType;

use super::KvError;
use super::namespace::Scope;
use crate::authz::principal::PType;
use crate::authz::resource::{capability, rtype};
use crate::authz::{Actor, Authz, Level, Resource};

/// Keys the workflow engine may always use in the `global` scope.
const COORD_PREFIX: &str = "_sys/coord/";

/// Checks that `actor` may run `kind` on `key` of `scope` (with the
/// defaulted `workspace`); `target` is PURGE_IDENTITY's target identity.
pub(super) fn check(
    authz: &Authz,
    actor: &Actor<'_>,
    kind: OpType,
    scope: Scope,
    key: &str,
    workspace: &str,
    target: &str,
) -> Result<(), KvError> {
    if actor.superadmin && actor.limit.is_none() {
        return Ok(());
    }
    if kind == OpType::PurgeIdentity {
        if target == actor.principal.id {
            return Ok(());
        }
        let cap = Resource::capability(capability::KV_PURGE_IDENTITY);
        return if authz.allows(actor, cap, Level::READ_WRITE) {
            Ok(())
        } else {
            Err(KvError::new(
                "permission denied: purging another identity's KV needs capability/kv_purge_identity",
            ))
        };
    }
    if scope.is_exclusive() {
        return Ok(());
    }
    let need = if matches!(kind, OpType::Get | OpType::List | OpType::SetCard) {
        Level::READ
    } else {
        Level::READ_WRITE
    };
    let key_level = if kind == OpType::List {
        None
    } else {
        authz.rule_level(actor, Resource::new(rtype::KV_KEY, key))
    };
    let ok = match scope {
        Scope::Workspace | Scope::UserWorkspaceShared => {
            key_level.is_none_or(|l| l >= need)
                && authz.allows(actor, Resource::workspace(workspace), need)
        }
        _ if key_level.is_some() => key_level.is_some_and(|l| l >= need),
        _ => {
            (actor.principal.ptype == PType::WorkflowEngine
                && scope == Scope::Global
                && kind != OpType::List
                && key.starts_with(COORD_PREFIX))
                || authz.allows(actor, Resource::new(rtype::KV_SCOPE, scope.name()), need)
        }
    };
    allowed(ok, scope, workspace)
}

fn allowed(ok: bool, scope: Scope, workspace: &str) -> Result<(), KvError> {
    if ok {
        return Ok(());
    }
    Err(KvError::new(match scope {
        Scope::Workspace | Scope::UserWorkspaceShared => format!(
            "permission denied: no access to scope {} of workspace {workspace}",
            scope.name()
        ),
        _ => format!("permission denied: no access to scope {}", scope.name()),
    }))
}
