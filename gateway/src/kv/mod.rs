//! The KV store (§3): eight scopes over shared and caller-exclusive
//! namespaces, fourteen operations, TTLs, and the exact reply sequences.
//!
//! Data lives in memory (an ordered map per namespace, behind one lock)
//! and every change is journaled to `Table::Kv`. An operation runs under
//! the lock from its read to its journal submission, so read-modify-write
//! operations are atomic across sessions and the journal sees changes in
//! memory order. Reads answer at once; a change answers once its commit
//! is on disk (the session does not wait for it before reading on).

mod access;
mod list;
mod namespace;
mod ops;
mod record;
mod reply;
mod set_codec;
mod snapshot;
mod state;

use aether_protocol::identity::{Principal, PrincipalKind};
use aether_protocol::proto::{KvOperation, KvResponse, kv_operation::OpType};
use parking_lot::RwLock;

use crate::answer::Answer;
use crate::authz::{Actor, Authz};
use crate::expiring::unix_ms;
use crate::store::{Commit, Store, StoreError};
use namespace::{Scope, may_use_kv, namespace, owner_of, owner_of_identity};
use state::{KvMap, Space};

/// Why an operation failed (logged and appended to the `KV_ERROR` text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvError(pub(crate) String);

impl KvError {
    /// A failure with `reason`.
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        KvError(reason.into())
    }
}

/// Why an operation was refused, by failure sequence (§3.6).
enum Refusal {
    /// `KVResponse{false}` then `KV_ERROR`.
    Failed(KvError),
    /// `ERR_PERMISSION_DENIED` then `KVResponse{false}`.
    Authorization,
    /// `ERR_QUOTA_001` alone.
    TooLarge(usize),
}

impl From<KvError> for Refusal {
    fn from(e: KvError) -> Self {
        Refusal::Failed(e)
    }
}

/// Who is asking: what namespaces it may reach.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) kind: PrincipalKind,
    /// Sanitized `impl|spec` keying its exclusive namespaces, if it has both.
    pub(crate) owner: Option<String>,
    /// Its session workspace (the default for workspace scopes).
    pub(crate) workspace: String,
}

impl Caller {
    /// The caller `principal`, currently in `workspace`.
    pub(crate) fn of(principal: &Principal, workspace: &str) -> Caller {
        Caller {
            kind: principal.kind(),
            owner: owner_of(principal),
            workspace: workspace.to_string(),
        }
    }
}

/// The gateway's KV store.
pub(crate) struct Kv {
    map: RwLock<KvMap>,
    store: Store,
    max_value_bytes: usize,
}

impl Kv {
    /// The store's KV data; PUT values above `max_value_bytes` are refused.
    pub(crate) fn load(store: Store, max_value_bytes: usize) -> Result<Kv, StoreError> {
        let map = state::load(&store, unix_ms())?;
        Ok(Kv {
            map: RwLock::new(map),
            store,
            max_value_bytes,
        })
    }

    /// Runs `op` for `caller`, as far as `authz` lets `actor`.
    pub(crate) fn handle(
        &self,
        authz: &Authz,
        actor: &Actor<'_>,
        caller: &Caller,
        op: KvOperation,
    ) -> Answer {
        let rid = op.request_id.clone();
        match self.run(authz, actor, caller, &op) {
            Ok((resp, commit)) => Answer::after(commit, reply::success(resp, &rid), move |e| {
                reply::failure(&rid, &KvError::new(e.to_string()))
            }),
            Err(Refusal::Failed(e)) => {
                tracing::debug!(reason = %e.0, "KV operation failed");
                Answer::Now(reply::failure(&rid, &e))
            }
            Err(Refusal::Authorization) => Answer::Now(reply::invalid_authorization(&rid)),
            Err(Refusal::TooLarge(size)) => {
                Answer::Now(reply::too_large(&rid, size, self.max_value_bytes))
            }
        }
    }

    fn run(
        &self,
        authz: &Authz,
        actor: &Actor<'_>,
        caller: &Caller,
        op: &KvOperation,
    ) -> Result<(KvResponse, Commit), Refusal> {
        if !may_use_kv(caller.kind) {
            return Err(KvError::new(
                "only agents, tasks, services, the metrics bridge, and the workflow engine can access KV store",
            )
            .into());
        }
        if op.authorization.is_some() {
            return Err(Refusal::Authorization);
        }
        let kind = OpType::try_from(op.op).map_err(|_| KvError::new("unknown KV operation"))?;
        if kind == OpType::Put && op.value.len() > self.max_value_bytes {
            return Err(Refusal::TooLarge(op.value.len()));
        }
        let scope = Scope::from_wire(op.scope);
        let workspace = match op.workspace.as_str() {
            "" => caller.workspace.as_str(),
            ws => ws,
        };
        let ns = if kind == OpType::PurgeIdentity {
            purge_namespace(scope, &op.target_identity)?
        } else {
            namespace(scope, caller.owner.as_deref(), workspace, &op.user_id)?
        };
        if !matches!(kind, OpType::List | OpType::PurgeIdentity) {
            ops::check_key(&op.key)?;
        }
        access::check(
            authz,
            actor,
            kind,
            scope,
            &op.key,
            workspace,
            &op.target_identity,
        )?;
        let now = unix_ms();
        if matches!(kind, OpType::Get | OpType::List | OpType::SetCard) {
            let map = self.map.read();
            let resp = match kind {
                OpType::Get => ops::get(&map, &ns, &op.key, now),
                OpType::List => list::page(&map, &ns, &op.key, op.limit, &op.cursor, now),
                _ => ops::set_card(&map, &ns, &op.key, now)?,
            };
            return Ok((resp, Commit::done()));
        }
        let mut map = self.map.write();
        let mut space = Space::new(&mut map, &ns, now, self.store.is_durable());
        let resp = match kind {
            OpType::Put => ops::put(&mut space, op),
            OpType::Delete => ops::delete(&mut space, &op.key),
            OpType::Increment => ops::step(&mut space, op, true)?,
            OpType::Decrement => ops::step(&mut space, op, false)?,
            OpType::IncrementIf => ops::step_if(&mut space, op, true)?,
            OpType::DecrementIf => ops::step_if(&mut space, op, false)?,
            OpType::SetNx => ops::set_nx(&mut space, op),
            OpType::CompareAndSet => ops::compare_and_set(&mut space, op),
            OpType::CompareAndDelete => ops::compare_and_delete(&mut space, op),
            OpType::SetAdd => ops::set_add(&mut space, op)?,
            OpType::PurgeIdentity => ops::purge(&mut space, &op.key),
            // Answered above.
            OpType::Get | OpType::List | OpType::SetCard => KvResponse::default(),
        };
        // Submitted under the lock, so the journal sees memory's order.
        let commit = self.store.submit(space.into_mutations());
        drop(map);
        Ok((resp, commit))
    }

    /// Removes expired entries (and journals their deletion).
    pub(crate) fn sweep(&self, now_ms: u64) {
        let mut map = self.map.write();
        let expired = map.take_expired(now_ms);
        if !expired.is_empty() && self.store.is_durable() {
            drop(self.store.submit(state::deletions(expired)));
        }
    }
}

/// The target's namespace for PURGE_IDENTITY: workspace and user are
/// forced empty, and only exclusive scopes may be purged.
fn purge_namespace(scope: Scope, target: &str) -> Result<String, KvError> {
    if target.is_empty() {
        return Err(KvError::new("purge_identity requires target_identity"));
    }
    if !scope.is_exclusive() {
        return Err(KvError::new(format!(
            "purge_identity only purges exclusive scopes, not {}",
            scope.name()
        )));
    }
    let owner = owner_of_identity(target).ok_or_else(|| {
        KvError::new(format!(
            "target identity {target} has no exclusive namespaces"
        ))
    })?;
    namespace(scope, Some(&owner), "", "")
}

#[cfg(test)]
mod tests;
