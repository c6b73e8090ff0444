//! KV operations: scopes, keys, request builders and reply parsing.
//!
//! The principal clients the gateway lets use KV (agents, tasks, services,
//! the workflow engine and the metrics bridge, async and blocking) have
//! `kv_*` methods; the others do not, so a KV call from a user,
//! orchestrator or bridge client is a compile error rather than a gateway
//! refusal. This module holds the shapes they share.
//!
//! # Errors
//!
//! * Keys are checked before sending (non-empty, at most
//!   [`MAX_KEY_BYTES`]): [`ErrorKind::InvalidArgument`].
//! * No reply in time: [`ErrorKind::Timeout`] (never a silent `None`).
//! * A `KVResponse{success: false}`: [`ErrorKind::Rejected`]. KV replies
//!   carry no reason; the gateway sends it next, as an
//!   `ErrorResponse{KV_ERROR}` with the same request id. That frame arrives
//!   after the call has been resolved, so it reaches `on_error` (and
//!   `Client::frames`) as an uncorrelated push: expect one there per
//!   refused KV call, and read its message for the reason.
//! * A refusal the gateway announces with an `ErrorResponse` first resolves
//!   the call with that error's kind: an invalid authorization context is
//!   [`ErrorKind::PermissionDenied`], a value over the gateway's quota
//!   (`ERR_QUOTA_001`) [`ErrorKind::PayloadTooLarge`].
//! * `_nowait` methods fail only locally (`InvalidArgument`, `QueueFull`,
//!   `NotConnected`, `Closed`); the gateway's refusal of one reaches
//!   `on_error`.
//!
//! The retry layer resends only GET, LIST, SET_CARD, PUT and DELETE;
//! counters, guarded counters, SET_NX, CAS, CAD, SET_ADD and purges are
//! never resent automatically.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use super::OpRequest;
use crate::error::{Error, ErrorKind, Result};
use crate::identity::Segment;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::kv_operation::{OpType, Scope};
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{KvOperation, KvResponse};

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
    fn wire(&self) -> Result<(Scope, String, String)> {
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
/// use aether_client::ops::kv::validate_key;
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

fn validate_prefix(prefix: &str) -> Result<()> {
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

/// One page of a KV listing.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KvPage {
    /// The keys of this page, in the gateway's order.
    pub keys: Vec<String>,
    /// The values of the keys of this page.
    pub entries: HashMap<String, Bytes>,
    /// Where the next page starts, when more keys remain.
    pub next_cursor: Option<String>,
}

impl KvPage {
    /// Whether more keys remain after this page.
    pub fn has_more(&self) -> bool {
        self.next_cursor.is_some()
    }

    /// The page's `(key, value)` pairs in key order of the page; a key the
    /// gateway listed without a value comes with an empty one.
    pub fn into_entries(mut self) -> Vec<(String, Bytes)> {
        let mut out = Vec::with_capacity(self.keys.len().max(self.entries.len()));
        for key in self.keys {
            let value = self.entries.remove(&key).unwrap_or_default();
            out.push((key, value));
        }
        let mut rest: Vec<_> = self.entries.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(rest);
        out
    }

    pub(crate) fn from_reply(r: KvResponse) -> Result<Self> {
        let next_cursor = match (r.has_more, r.next_cursor.is_empty()) {
            (true, true) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "kv_list: the gateway said more keys remain but gave no cursor",
                ));
            }
            (_, false) => Some(r.next_cursor),
            (false, true) => None,
        };
        Ok(KvPage {
            keys: r.keys,
            entries: r.kv_map,
            next_cursor,
        })
    }
}

/// A KV operation ready to send awaited or fire-and-forget.
#[derive(Debug, Clone)]
pub(crate) struct KvCall {
    name: &'static str,
    idempotent: bool,
    op: KvOperation,
}

impl KvCall {
    /// The operation, its reply awaited.
    pub(crate) fn awaited(self) -> OpRequest {
        OpRequest::awaited(self.name, Up::KvOp(Box::new(self.op))).idempotent(self.idempotent)
    }

    /// The operation as a fire-and-forget frame (no request id).
    pub(crate) fn nowait(self) -> OpRequest {
        OpRequest::fire_and_forget(self.name, Up::KvOp(Box::new(self.op)))
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

fn call(name: &'static str, op: OpType, key: &str, scope: &KvScope) -> Result<KvCall> {
    let (scope, user_id, workspace) = scope.wire()?;
    let idempotent = matches!(
        op,
        OpType::Get | OpType::List | OpType::SetCard | OpType::Put | OpType::Delete
    );
    Ok(KvCall {
        name,
        idempotent,
        op: KvOperation {
            op: op as i32,
            scope: scope as i32,
            key: key.to_string(),
            user_id,
            workspace,
            ..Default::default()
        },
    })
}

fn keyed(name: &'static str, op: OpType, key: &str, scope: &KvScope) -> Result<KvCall> {
    validate_key(key)?;
    call(name, op, key, scope)
}

/// GET.
pub(crate) fn get(key: &str, scope: &KvScope) -> Result<KvCall> {
    keyed("kv_get", OpType::Get, key, scope)
}

/// PUT with an optional TTL.
pub(crate) fn put(
    key: &str,
    value: Bytes,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<KvCall> {
    let mut c = keyed("kv_put", OpType::Put, key, scope)?;
    c.op.value = value;
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// One LIST page (`limit` 0 = the gateway's default, 100).
pub(crate) fn list(
    prefix: &str,
    scope: &KvScope,
    limit: u32,
    cursor: Option<&str>,
) -> Result<KvCall> {
    validate_prefix(prefix)?;
    let mut c = call("kv_list", OpType::List, prefix, scope)?;
    c.op.limit = i32::try_from(limit).unwrap_or(i32::MAX);
    c.op.cursor = cursor.unwrap_or_default().to_string();
    Ok(c)
}

/// DELETE.
pub(crate) fn delete(key: &str, scope: &KvScope) -> Result<KvCall> {
    keyed("kv_delete", OpType::Delete, key, scope)
}

/// INCREMENT by one (the TTL applies only when the counter is created).
pub(crate) fn increment(key: &str, scope: &KvScope, ttl: Option<Duration>) -> Result<KvCall> {
    let mut c = keyed("kv_increment", OpType::Increment, key, scope)?;
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// DECREMENT by one.
pub(crate) fn decrement(key: &str, scope: &KvScope) -> Result<KvCall> {
    keyed("kv_decrement", OpType::Decrement, key, scope)
}

fn guarded(
    name: &'static str,
    op: OpType,
    key: &str,
    delta: i64,
    guard: i64,
    scope: &KvScope,
) -> Result<KvCall> {
    if delta < 1 {
        return Err(Error::invalid(format!(
            "{name}: delta must be at least 1, got {delta}"
        )));
    }
    let mut c = keyed(name, op, key, scope)?;
    c.op.delta_value = delta;
    c.op.guard_value = guard;
    Ok(c)
}

/// INCREMENT_IF: add `delta` only if the result stays `<= ceiling` (the
/// TTL applies to a counter this creates).
pub(crate) fn increment_if(
    key: &str,
    delta: i64,
    ceiling: i64,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<KvCall> {
    let mut c = guarded(
        "kv_increment_if",
        OpType::IncrementIf,
        key,
        delta,
        ceiling,
        scope,
    )?;
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// DECREMENT_IF: subtract `delta` only if the result stays `>= floor`.
pub(crate) fn decrement_if(key: &str, delta: i64, floor: i64, scope: &KvScope) -> Result<KvCall> {
    guarded(
        "kv_decrement_if",
        OpType::DecrementIf,
        key,
        delta,
        floor,
        scope,
    )
}

/// SET_NX: write only if absent.
pub(crate) fn set_nx(
    key: &str,
    value: Bytes,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<KvCall> {
    let mut c = keyed("kv_set_nx", OpType::SetNx, key, scope)?;
    c.op.value = value;
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// COMPARE_AND_SET: write only if present and equal to `expected`.
pub(crate) fn compare_and_set(
    key: &str,
    expected: Bytes,
    value: Bytes,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<KvCall> {
    let mut c = keyed("kv_compare_and_set", OpType::CompareAndSet, key, scope)?;
    c.op.expected_value = expected;
    c.op.value = value;
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// COMPARE_AND_DELETE: delete only if equal to `expected`.
pub(crate) fn compare_and_delete(key: &str, expected: Bytes, scope: &KvScope) -> Result<KvCall> {
    let mut c = keyed(
        "kv_compare_and_delete",
        OpType::CompareAndDelete,
        key,
        scope,
    )?;
    c.op.expected_value = expected;
    Ok(c)
}

/// SET_ADD: add a member to a set (TTL applied when the member is new).
pub(crate) fn set_add(
    key: &str,
    member: &str,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<KvCall> {
    let mut c = keyed("kv_set_add", OpType::SetAdd, key, scope)?;
    c.op.value = Bytes::copy_from_slice(member.as_bytes());
    c.op.ttl = ttl_secs(ttl);
    Ok(c)
}

/// SET_CARD: the cardinality of a set.
pub(crate) fn set_card(key: &str, scope: &KvScope) -> Result<KvCall> {
    keyed("kv_set_card", OpType::SetCard, key, scope)
}

/// PURGE_IDENTITY: delete another identity's global-exclusive keys
/// (optionally only those under a prefix). The gateway forces the user id
/// and workspace of a purge empty, so global-exclusive is the one scope it
/// can purge.
pub(crate) fn purge_identity(target_identity: &str, prefix: &str) -> Result<KvCall> {
    if target_identity.is_empty() {
        return Err(Error::invalid(
            "kv_purge_identity: the target identity must not be empty",
        ));
    }
    validate_prefix(prefix)?;
    let mut c = call(
        "kv_purge_identity",
        OpType::PurgeIdentity,
        prefix,
        &KvScope::GlobalExclusive,
    )?;
    c.op.target_identity = target_identity.to_string();
    Ok(c)
}

/// The successful `KVResponse` of a call, or the error it stands for.
///
/// A `success=false` reply carries no reason (the gateway only logs it), so
/// it becomes [`ErrorKind::Rejected`]. The gateway follows it with an
/// `ErrorResponse{KV_ERROR}` bearing the same request id; by then the call
/// has been resolved, so that frame reaches `on_error` (and
/// [`Client::frames`](crate::Client::frames)) as an uncorrelated push.
pub(crate) fn reply(name: &str, reply: Option<Down>) -> Result<KvResponse> {
    match reply {
        Some(Down::Kv(r)) if r.success => Ok(*r),
        Some(Down::Kv(_)) => Err(Error::new(
            ErrorKind::Rejected,
            format!(
                "{name} refused by the gateway (KV replies carry no reason: the principal or \
                 scope may not be allowed, a scope parameter may be missing, an ACL may deny \
                 it, or the stored value is not a counter or set)"
            ),
        )),
        Some(other) => Err(crate::clients::core::unexpected(name, &other)),
        None => Err(Error::new(ErrorKind::Protocol, format!("{name}: no reply"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(c: KvCall) -> KvOperation {
        match c.awaited().payload().clone() {
            Up::KvOp(op) => *op,
            other => panic!("not a KV op: {other:?}"),
        }
    }

    #[test]
    fn scopes_map_to_the_wire() {
        let cases = [
            (KvScope::Global, Scope::Global, "", ""),
            (KvScope::Workspace, Scope::Workspace, "", ""),
            (
                KvScope::workspace_in("w").unwrap(),
                Scope::Workspace,
                "",
                "w",
            ),
            (KvScope::user("u").unwrap(), Scope::User, "u", ""),
            (
                KvScope::user_workspace("u", "w").unwrap(),
                Scope::UserWorkspace,
                "u",
                "w",
            ),
            (KvScope::GlobalExclusive, Scope::GlobalExclusive, "", ""),
            (
                KvScope::WorkspaceExclusive,
                Scope::WorkspaceExclusive,
                "",
                "",
            ),
            (
                KvScope::workspace_exclusive_in("w").unwrap(),
                Scope::WorkspaceExclusive,
                "",
                "w",
            ),
            (
                KvScope::user_shared("u").unwrap(),
                Scope::UserShared,
                "u",
                "",
            ),
            (
                KvScope::user_workspace_shared("u", "w").unwrap(),
                Scope::UserWorkspaceShared,
                "u",
                "w",
            ),
        ];
        for (scope, wire, user, ws) in cases {
            let o = op(get("k", &scope).unwrap());
            assert_eq!(o.scope, wire as i32, "{scope:?}");
            assert_eq!(o.user_id, user, "{scope:?}");
            assert_eq!(o.workspace, ws, "{scope:?}");
        }
    }

    #[test]
    fn missing_scope_parameters_are_rejected() {
        assert!(KvScope::user("").is_err());
        assert!(KvScope::user_workspace("u", "").is_err());
        assert!(KvScope::workspace_in("a::b").is_err());
        let sneaky = KvScope::User(Segment::default());
        assert_eq!(
            get("k", &sneaky).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn keys_are_validated_before_sending() {
        assert_eq!(
            get("", &KvScope::Global).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            put(&long, Bytes::new(), &KvScope::Global, None)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidArgument
        );
        assert!(get(&"k".repeat(MAX_KEY_BYTES), &KvScope::Global).is_ok());
        // A listing prefix may be empty.
        assert!(list("", &KvScope::Global, 0, None).is_ok());
        assert!(list(&long, &KvScope::Global, 0, None).is_err());
    }

    #[test]
    fn ttls_are_whole_seconds_rounded_up() {
        assert_eq!(ttl_secs(None), 0);
        assert_eq!(ttl_secs(Some(Duration::ZERO)), 1);
        assert_eq!(ttl_secs(Some(Duration::from_millis(1))), 1);
        assert_eq!(ttl_secs(Some(Duration::from_millis(1500))), 2);
        assert_eq!(ttl_secs(Some(Duration::from_secs(30))), 30);
        assert_eq!(ttl_secs(Some(Duration::MAX)), i64::MAX);
    }

    #[test]
    fn operations_carry_their_fields() {
        let g = KvScope::Global;
        let o = op(put(
            "k",
            Bytes::from_static(b"v"),
            &g,
            Some(Duration::from_secs(5)),
        )
        .unwrap());
        assert_eq!(
            (o.op, o.value.as_ref(), o.ttl),
            (OpType::Put as i32, &b"v"[..], 5)
        );
        let o = op(list("pre", &g, 50, Some("c1")).unwrap());
        assert_eq!(
            (o.op, o.key.as_str(), o.limit, o.cursor.as_str()),
            (OpType::List as i32, "pre", 50, "c1")
        );
        let o = op(increment_if("n", 2, 10, &g, Some(Duration::from_secs(4))).unwrap());
        assert_eq!(
            (o.op, o.delta_value, o.guard_value, o.ttl),
            (OpType::IncrementIf as i32, 2, 10, 4)
        );
        let o = op(decrement_if("n", 1, 0, &g).unwrap());
        assert_eq!(
            (o.op, o.delta_value, o.guard_value),
            (OpType::DecrementIf as i32, 1, 0)
        );
        assert!(increment_if("n", 0, 10, &g, None).is_err());
        let o = op(compare_and_set("k", "a".into(), "b".into(), &g, None).unwrap());
        assert_eq!(
            (o.op, o.expected_value.as_ref(), o.value.as_ref()),
            (OpType::CompareAndSet as i32, &b"a"[..], &b"b"[..])
        );
        let o = op(compare_and_delete("k", "a".into(), &g).unwrap());
        assert_eq!(
            (o.op, o.expected_value.as_ref()),
            (OpType::CompareAndDelete as i32, &b"a"[..])
        );
        let o = op(set_add("s", "m", &g, Some(Duration::from_secs(9))).unwrap());
        assert_eq!(
            (o.op, o.value.as_ref(), o.ttl),
            (OpType::SetAdd as i32, &b"m"[..], 9)
        );
        let o = op(purge_identity("ag::w::i::s", "p/").unwrap());
        assert_eq!(
            (o.op, o.scope, o.target_identity.as_str(), o.key.as_str()),
            (
                OpType::PurgeIdentity as i32,
                Scope::GlobalExclusive as i32,
                "ag::w::i::s",
                "p/"
            )
        );
        assert!(purge_identity("", "").is_err());
    }

    #[test]
    fn only_repeatable_operations_are_idempotent() {
        let g = KvScope::Global;
        let v = || Bytes::from_static(b"v");
        for c in [
            get("k", &g),
            put("k", v(), &g, None),
            list("", &g, 0, None),
            delete("k", &g),
            set_card("k", &g),
        ] {
            assert!(c.unwrap().awaited().is_idempotent());
        }
        for c in [
            increment("k", &g, None),
            decrement("k", &g),
            increment_if("k", 1, 1, &g, None),
            decrement_if("k", 1, 0, &g),
            set_nx("k", v(), &g, None),
            compare_and_set("k", v(), v(), &g, None),
            compare_and_delete("k", v(), &g),
            set_add("k", "m", &g, None),
            purge_identity("ag::w::i::s", ""),
        ] {
            assert!(!c.unwrap().awaited().is_idempotent());
        }
        let nowait = put("k", v(), &g, None).unwrap().nowait();
        assert!(!nowait.expects_reply());
    }

    #[test]
    fn replies_are_parsed() {
        let ok = Some(Down::Kv(Box::new(KvResponse {
            success: true,
            counter_value: 3,
            ..Default::default()
        })));
        assert_eq!(reply("kv_increment", ok).unwrap().counter_value, 3);
        let refused = Some(Down::Kv(Box::default()));
        assert_eq!(
            reply("kv_get", refused).unwrap_err().kind(),
            ErrorKind::Rejected
        );
        let other = Some(Down::Checkpoint(Default::default()));
        assert_eq!(
            reply("kv_get", other).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        assert_eq!(
            reply("kv_get", None).unwrap_err().kind(),
            ErrorKind::Protocol
        );
    }

    #[test]
    fn pages_keep_keys_values_and_cursors() {
        let r = KvResponse {
            success: true,
            keys: vec!["b".into(), "a".into()],
            kv_map: [
                ("a".to_string(), Bytes::from_static(b"1")),
                ("b".to_string(), Bytes::from_static(b"2")),
            ]
            .into(),
            next_cursor: "c".into(),
            has_more: true,
            ..Default::default()
        };
        let page = KvPage::from_reply(r).unwrap();
        assert!(page.has_more());
        assert_eq!(page.next_cursor.as_deref(), Some("c"));
        assert_eq!(
            page.into_entries(),
            vec![
                ("b".to_string(), Bytes::from_static(b"2")),
                ("a".to_string(), Bytes::from_static(b"1"))
            ]
        );
        let broken = KvResponse {
            success: true,
            has_more: true,
            ..Default::default()
        };
        assert_eq!(
            KvPage::from_reply(broken).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let last = KvPage::from_reply(KvResponse {
            success: true,
            ..Default::default()
        })
        .unwrap();
        assert!(!last.has_more());
    }
}
