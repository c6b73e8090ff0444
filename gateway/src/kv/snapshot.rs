//! The `ConfigSnapshot` sent to agents and tasks right after the ack
//! (§3.8): the caller's own exclusive entries, short keys, at most 100 per
//! scope, plus the task context the task engine supplies.

use std::collections::HashMap;

use aether_protocol::proto::ConfigSnapshot;
use bytes::Bytes;

use super::namespace::{Scope, namespace};
use super::{Caller, Kv};
use crate::expiring::unix_ms;

/// Most entries per scope.
const SNAPSHOT_ENTRIES: usize = 100;

impl Kv {
    /// The snapshot for `caller`; `task_context` fills the field of the
    /// same name (agents started for an `agent_startup` task).
    pub(crate) fn config_snapshot(
        &self,
        caller: &Caller,
        task_context: Option<HashMap<String, String>>,
    ) -> ConfigSnapshot {
        let owner = caller.owner.as_deref();
        let entries = |scope| -> HashMap<String, Bytes> {
            let Ok(ns) = namespace(scope, owner, &caller.workspace, "") else {
                return HashMap::new();
            };
            self.map
                .read()
                .scan(&ns, "", None, unix_ms())
                .take(SNAPSHOT_ENTRIES)
                .map(|(k, s)| (k.clone(), s.value.clone()))
                .collect()
        };
        ConfigSnapshot {
            workspace_exclusive_kv: entries(Scope::WorkspaceExclusive),
            global_exclusive_kv: entries(Scope::GlobalExclusive),
            task_context: task_context.unwrap_or_default(),
            ..Default::default()
        }
    }
}
