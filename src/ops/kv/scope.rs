//! Where a KV key lives ([`KvScope`]) and what a key may be.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::identity::Segment;
use crate::proto::kv_operation::Scope;

/// Longest key the gateway accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Where a KV key lives. Each variant carries the parameters its scope
/// needs, so a scope without its user id or workspace cannot be built.
///
/// *Shared* scopes are visible to every principal allowed to use them;
/// *exclusive* scopes belong to the caller's `implementation|specifier`
/// pair (so principals without both, such as pooled tasks, the workflow
/// engine and the metrics bridge, cannot use them).
///
/// | variant | namespace on the gateway | kind |
/// |---|---|---|
/// | `Global` | tenant-wide | shared |
/// | `Workspace` / `WorkspaceIn(ws)` | the caller's / the given workspace | shared |
/// | `User(uid)` | the caller's, per user | exclusive |
/// | `UserWorkspace { .. }` | the caller's, per user and workspace | exclusive |
/// | `GlobalExclusive` | the caller's | exclusive |
/// | `WorkspaceExclusive` / `WorkspaceExclusiveIn(ws)` | the caller's, per workspace | exclusive |
/// | `UserShared(uid)` | per user | shared |
/// | `UserWorkspaceShared { .. }` | per user and workspace | shared |
///
/// `Global` is the default, as in the reference SDK.
///
/// KV methods exist only on the clients whose principal the gateway lets
/// use KV; on the others they do not compile:
///
/// ```compile_fail
/// # async fn demo(user: aether_client::UserClient) {
/// use aether_client::KvScope;
/// let _ = user.kv_get("k", &KvScope::Global).await; // no such method on UserClient
/// # }
/// ```
///
/// ```
/// use aether_client::KvScope;
/// let shared = KvScope::user_workspace_shared("alice", "ws").unwrap();
/// assert_eq!(shared.name(), "user-workspace-shared");
/// assert!(KvScope::user("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KvScope {
    /// Shared by the whole tenant.
    #[default]
    Global,
    /// Shared within the caller's session workspace.
    Workspace,
    /// Shared within the given workspace.
    WorkspaceIn(Segment),
    /// The caller's own data about a user.
    User(Segment),
    /// The caller's own data about a user within a workspace.
    UserWorkspace {
        /// The user.
        user_id: Segment,
        /// The workspace.
        workspace: Segment,
    },
    /// The caller's own tenant-wide data.
    GlobalExclusive,
    /// The caller's own data within its session workspace.
    WorkspaceExclusive,
    /// The caller's own data within the given workspace.
    WorkspaceExclusiveIn(Segment),
    /// Shared data about a user.
    UserShared(Segment),
    /// Shared data about a user within a workspace.
    UserWorkspaceShared {
        /// The user.
        user_id: Segment,
        /// The workspace.
        workspace: Segment,
    },
}

fn required(what: &'static str, value: &str) -> Result<Segment> {
    Ok(Segment::non_empty(what, value)?)
}

impl KvScope {
    /// Shared within `workspace`.
    pub fn workspace_in(workspace: &str) -> Result<Self> {
        Ok(KvScope::WorkspaceIn(required("workspace", workspace)?))
    }

    /// The caller's own data about `user_id`.
    pub fn user(user_id: &str) -> Result<Self> {
        Ok(KvScope::User(required("user_id", user_id)?))
    }

    /// The caller's own data about `user_id` within `workspace`.
    pub fn user_workspace(user_id: &str, workspace: &str) -> Result<Self> {
        Ok(KvScope::UserWorkspace {
            user_id: required("user_id", user_id)?,
            workspace: required("workspace", workspace)?,
        })
    }

    /// The caller's own data within `workspace`.
    pub fn workspace_exclusive_in(workspace: &str) -> Result<Self> {
        Ok(KvScope::WorkspaceExclusiveIn(required(
            "workspace",
            workspace,
        )?))
    }

    /// Shared data about `user_id`.
    pub fn user_shared(user_id: &str) -> Result<Self> {
        Ok(KvScope::UserShared(required("user_id", user_id)?))
    }

    /// Shared data about `user_id` within `workspace`.
    pub fn user_workspace_shared(user_id: &str, workspace: &str) -> Result<Self> {
        Ok(KvScope::UserWorkspaceShared {
            user_id: required("user_id", user_id)?,
            workspace: required("workspace", workspace)?,
        })
    }

    /// The scope's canonical name (`"global"`, `"user-workspace"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            KvScope::Global => "global",
            KvScope::Workspace | KvScope::WorkspaceIn(_) => "workspace",
            KvScope::User(_) => "user",
            KvScope::UserWorkspace { .. } => "user-workspace",
            KvScope::GlobalExclusive => "global-exclusive",
            KvScope::WorkspaceExclusive | KvScope::WorkspaceExclusiveIn(_) => "workspace-exclusive",
            KvScope::UserShared(_) => "user-shared",
            KvScope::UserWorkspaceShared { .. } => "user-workspace-shared",
        }
    }

    /// Whether the scope is private to the caller.
    pub fn is_exclusive(&self) -> bool {
        matches!(
            self,
            KvScope::User(_)
                | KvScope::UserWorkspace { .. }
                | KvScope::GlobalExclusive
                | KvScope::WorkspaceExclusive
                | KvScope::WorkspaceExclusiveIn(_)
        )
    }

    /// The wire scope, user id and workspace; fails on an empty parameter
    /// (reachable through `Segment::default()`).
    pub(crate) fn wire(&self) -> Result<(Scope, String, String)> {
        let seg =
            |what: &'static str, s: &Segment| required(what, s.as_str()).map(|s| s.into_string());
        Ok(match self {
            KvScope::Global => (Scope::Global, String::new(), String::new()),
            KvScope::Workspace => (Scope::Workspace, String::new(), String::new()),
            KvScope::WorkspaceIn(ws) => (Scope::Workspace, String::new(), seg("workspace", ws)?),
            KvScope::User(u) => (Scope::User, seg("user_id", u)?, String::new()),
            KvScope::UserWorkspace { user_id, workspace } => (
                Scope::UserWorkspace,
                seg("user_id", user_id)?,
                seg("workspace", workspace)?,
            ),
            KvScope::GlobalExclusive => (Scope::GlobalExclusive, String::new(), String::new()),
            KvScope::WorkspaceExclusive => {
                (Scope::WorkspaceExclusive, String::new(), String::new())
            }
            KvScope::WorkspaceExclusiveIn(ws) => (
                Scope::WorkspaceExclusive,
                String::new(),
                seg("workspace", ws)?,
            ),
            KvScope::UserShared(u) => (Scope::UserShared, seg("user_id", u)?, String::new()),
            KvScope::UserWorkspaceShared { user_id, workspace } => (
                Scope::UserWorkspaceShared,
                seg("user_id", user_id)?,
                seg("workspace", workspace)?,
            ),
        })
    }
}

/// Checks a key against the gateway's rules: non-empty, at most
/// [`MAX_KEY_BYTES`] bytes.
///
/// ```
/// use aether_client::kv::validate_key;
/// assert!(validate_key("jobs/42").is_ok());
/// assert!(validate_key("").is_err());
/// assert!(validate_key(&"k".repeat(257)).is_err());
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("KV key must not be empty"));
    }
    validate_prefix(key)
}

pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "KV key is {} bytes; the limit is {MAX_KEY_BYTES}",
            prefix.len()
        )));
    }
    Ok(())
}

/// A TTL on the wire: whole seconds, rounded up (so any lease lasts at
/// least 1 s); `None` means no expiry.
pub(crate) fn ttl_secs(ttl: Option<Duration>) -> i64 {
    match ttl {
        None => 0,
        Some(d) => {
            let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
            i64::try_from(secs.max(1)).unwrap_or(i64::MAX)
        }
    }
}
