//! Scopes and storage namespaces (§3.2): which callers may use KV, which
//! scopes are shared and which are exclusive to the caller, and the
//! namespace each resolves to.

use aether_protocol::identity::{Principal, PrincipalKind};
use aether_protocol::proto::kv_operation;

use super::KvError;

/// A KV scope after defaulting (unspecified and unknown values are
/// `Workspace`, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Global,
    Workspace,
    User,
    UserWorkspace,
    GlobalExclusive,
    WorkspaceExclusive,
    UserShared,
    UserWorkspaceShared,
}

impl Scope {
    /// The scope of a wire `KVOperation.scope`.
    pub(super) fn from_wire(scope: i32) -> Scope {
        use kv_operation::Scope as W;
        match W::try_from(scope) {
            Ok(W::Global) => Scope::Global,
            Ok(W::User) => Scope::User,
            Ok(W::UserWorkspace) => Scope::UserWorkspace,
            Ok(W::GlobalExclusive) => Scope::GlobalExclusive,
            Ok(W::WorkspaceExclusive) => Scope::WorkspaceExclusive,
            Ok(W::UserShared) => Scope::UserShared,
            Ok(W::UserWorkspaceShared) => Scope::UserWorkspaceShared,
            Ok(W::Unspecified | W::Workspace) | Err(_) => Scope::Workspace,
        }
    }

    /// Whether the namespace belongs to the caller alone.
    pub(super) fn is_exclusive(self) -> bool {
        matches!(
            self,
            Scope::User | Scope::UserWorkspace | Scope::GlobalExclusive | Scope::WorkspaceExclusive
        )
    }

    fn needs_user(self) -> bool {
        matches!(
            self,
            Scope::User | Scope::UserWorkspace | Scope::UserShared | Scope::UserWorkspaceShared
        )
    }

    fn needs_workspace(self) -> bool {
        matches!(
            self,
            Scope::Workspace
                | Scope::UserWorkspace
                | Scope::WorkspaceExclusive
                | Scope::UserWorkspaceShared
        )
    }

    /// The canonical scope name (upstream's `KVScope`).
    pub(super) fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Workspace => "workspace",
            Scope::User => "user",
            Scope::UserWorkspace => "user-workspace",
            Scope::GlobalExclusive => "global-exclusive",
            Scope::WorkspaceExclusive => "workspace-exclusive",
            Scope::UserShared => "user-shared",
            Scope::UserWorkspaceShared => "user-workspace-shared",
        }
    }
}

/// Whether sessions of `kind` may use KV (§3.1).
pub(crate) fn may_use_kv(kind: PrincipalKind) -> bool {
    matches!(
        kind,
        PrincipalKind::Agent
            | PrincipalKind::UniqueTask
            | PrincipalKind::PooledTask
            | PrincipalKind::Service
            | PrincipalKind::WorkflowEngine
            | PrincipalKind::MetricsBridge
    )
}

/// Escapes a namespace component: `%`, the separators `:` and `|`, and
/// NUL (which separates namespace and key in the database) become `%25`,
/// `%3A`, `%7C` and `%00`, so that distinct components never share a
/// namespace (upstream's `_` replacement made `svc:` and `svc_` one).
fn escape(component: &str) -> String {
    if !component.contains(['%', ':', '|', '\0']) {
        return component.to_string();
    }
    let mut out = String::with_capacity(component.len() + 8);
    for c in component.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            '|' => out.push_str("%7C"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// What keys a principal's exclusive namespaces: its escaped identity
/// string. `None` for principals without a stable identity with an
/// implementation and specifier (pooled tasks, the workflow engine, the
/// metrics bridge, users).
///
/// Upstream keys them by `impl|spec` alone, so that `ag::A::x::y`,
/// `ag::B::x::y`, `tu::A::x::y` and `sv::x::y` share one namespace. Here
/// the identity lock is per identity string (two of those can be
/// connected at once, as different principals), so each identity owns its
/// own exclusive data: another workspace's agent with the same
/// implementation and specifier cannot read it.
pub(crate) fn owner_of(principal: &Principal) -> Option<String> {
    match principal {
        Principal::Agent { .. }
        | Principal::Service { .. }
        | Principal::Bridge { .. }
        | Principal::Orchestrator { .. }
        | Principal::Task {
            unique_specifier: Some(_),
            ..
        } => Some(escape(&principal.identity_string())),
        _ => None,
    }
}

/// The owner of an identity string (`PURGE_IDENTITY.target_identity`):
/// `ag::w::i::s`, `tu::w::i::s`, `sv::i::s`, `br::i::s`, `orc::i::s`.
pub(crate) fn owner_of_identity(identity: &str) -> Option<String> {
    let parts: Vec<&str> = identity.split("::").collect();
    let well_formed = match parts.as_slice() {
        ["ag" | "tu", w, i, s] => [w, i, s].iter().all(|p| !p.is_empty()),
        ["sv" | "br" | "orc", i, s] => !i.is_empty() && !s.is_empty(),
        _ => false,
    };
    well_formed.then(|| escape(identity))
}

/// Resolves the namespace of `scope` for a caller whose exclusive
/// namespaces are keyed by `owner`, with the (already defaulted)
/// `workspace` and `user_id`.
pub(crate) fn namespace(
    scope: Scope,
    owner: Option<&str>,
    workspace: &str,
    user_id: &str,
) -> Result<String, KvError> {
    if scope.needs_workspace() && workspace.is_empty() {
        return Err(KvError::new(format!(
            "invalid scope config: scope {} requires a workspace",
            scope.name()
        )));
    }
    if scope.needs_user() && user_id.is_empty() {
        return Err(KvError::new(format!(
            "invalid scope config: scope {} requires a user_id",
            scope.name()
        )));
    }
    let owner = match (scope.is_exclusive(), owner) {
        (true, None) => {
            return Err(KvError::new(format!(
                "invalid scope config: scope {} requires a caller with an implementation and a specifier",
                scope.name()
            )));
        }
        (_, o) => o.unwrap_or_default(),
    };
    let ws = escape(workspace);
    let uid = escape(user_id);
    Ok(match scope {
        Scope::Global => "kv:global".to_string(),
        Scope::Workspace => format!("kv:ws:{ws}"),
        Scope::User => format!("kv:agent:{owner}:user:{uid}"),
        Scope::UserWorkspace => format!("kv:agent:{owner}:user:{uid}:ws:{ws}"),
        Scope::GlobalExclusive => format!("kv:agent:{owner}:global"),
        Scope::WorkspaceExclusive => format!("kv:agent:{owner}:ws:{ws}"),
        Scope::UserShared => format!("kv:user:{uid}"),
        Scope::UserWorkspaceShared => format!("kv:user:{uid}:ws:{ws}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(scope: Scope) -> Result<String, KvError> {
        namespace(scope, Some("i|s"), "w", "u")
    }

    #[test]
    fn every_scope_has_its_namespace() {
        let table = [
            (Scope::Global, "kv:global"),
            (Scope::Workspace, "kv:ws:w"),
            (Scope::User, "kv:agent:i|s:user:u"),
            (Scope::UserWorkspace, "kv:agent:i|s:user:u:ws:w"),
            (Scope::GlobalExclusive, "kv:agent:i|s:global"),
            (Scope::WorkspaceExclusive, "kv:agent:i|s:ws:w"),
            (Scope::UserShared, "kv:user:u"),
            (Scope::UserWorkspaceShared, "kv:user:u:ws:w"),
        ];
        for (scope, want) in table {
            assert_eq!(ns(scope).unwrap(), want, "{}", scope.name());
        }
    }

    #[test]
    fn wire_scopes_default_to_workspace() {
        assert_eq!(Scope::from_wire(0), Scope::Workspace);
        assert_eq!(Scope::from_wire(1), Scope::Global);
        assert_eq!(Scope::from_wire(8), Scope::UserWorkspaceShared);
        assert_eq!(Scope::from_wire(99), Scope::Workspace);
        assert_eq!(Scope::from_wire(-1), Scope::Workspace);
    }

    #[test]
    fn requirements_are_checked() {
        assert!(namespace(Scope::Workspace, None, "", "").is_err());
        assert!(namespace(Scope::UserShared, None, "w", "").is_err());
        assert!(namespace(Scope::GlobalExclusive, None, "w", "u").is_err());
        assert_eq!(namespace(Scope::Global, None, "", "").unwrap(), "kv:global");
    }

    #[test]
    fn components_are_escaped_without_collisions() {
        assert_eq!(
            namespace(Scope::UserWorkspaceShared, None, "a:b", "c|d\0").unwrap(),
            "kv:user:c%7Cd%00:ws:a%3Ab"
        );
        assert_eq!(escape("plain"), "plain");
        assert_ne!(escape("svc:"), escape("svc_"));
        assert_ne!(escape("a%3A"), escape("a:"));
        let a = Principal::agent("w", "s:vc", "s").unwrap();
        let b = Principal::agent("w", "s_vc", "s").unwrap();
        assert_ne!(owner_of(&a), owner_of(&b));
    }

    #[test]
    fn owners_are_identities() {
        let agent = Principal::agent("w", "i", "s").unwrap();
        let other_ws = Principal::agent("w2", "i", "s").unwrap();
        let task = Principal::unique_task("w", "i", "s").unwrap();
        let svc = Principal::service("i", "s", false).unwrap();
        // Each identity owns its exclusive namespaces.
        assert_eq!(owner_of(&agent).as_deref(), Some("ag%3A%3Aw%3A%3Ai%3A%3As"));
        assert_ne!(owner_of(&other_ws), owner_of(&agent));
        assert_ne!(owner_of(&task), owner_of(&agent));
        assert_ne!(owner_of(&svc), owner_of(&agent));
        assert_eq!(owner_of(&Principal::pooled_task("w", "i").unwrap()), None);
        assert_eq!(owner_of(&Principal::workflow_engine()), None);
        assert_eq!(owner_of_identity("ag::w::i::s"), owner_of(&agent));
        assert_eq!(owner_of_identity("sv::i::s"), owner_of(&svc));
        assert_eq!(owner_of_identity("ta::w::i::"), None);
        assert_eq!(owner_of_identity("ag::w::i::"), None);
        assert_eq!(owner_of_identity("us::u::w"), None);
        assert_eq!(owner_of_identity(""), None);
    }
}
