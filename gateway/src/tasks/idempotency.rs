//! The idempotency ledger of `CreateTaskRequest.idempotency_key` (§5.2
//! step 9), kept in this component's own durable table (`Table::Meta`,
//! `tasks/idem/{workspace}/{key}`) rather than in GLOBAL KV as upstream
//! does, so it commits atomically with the task it names. Keys are scoped
//! by task workspace and live 24 h.

use std::collections::HashMap;

use crate::store::{Mutation, Table};

/// Meta key prefix of ledger entries.
pub(crate) const PREFIX: &str = "tasks/idem/";

/// How long a key is remembered.
const TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Ledger entries: `(workspace, key)` -> `(created_ms, task_id)`.
#[derive(Default)]
pub(crate) struct Ledger {
    entries: HashMap<String, (i64, String)>,
}

fn storage_key(workspace: &str, key: &str) -> String {
    format!("{PREFIX}{workspace}/{key}")
}

impl Ledger {
    /// Loads entries from `Table::Meta` rows (others are ignored).
    pub(crate) fn load(rows: &[(String, Vec<u8>)]) -> Self {
        let entries = rows
            .iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .filter_map(|(k, v)| {
                let text = std::str::from_utf8(v).ok()?;
                let (ms, id) = text.split_once(':')?;
                Some((k.clone(), (ms.parse().ok()?, id.to_string())))
            })
            .collect();
        Ledger { entries }
    }

    /// The task an unexpired `key` already created.
    pub(crate) fn get(&self, workspace: &str, key: &str, now: i64) -> Option<&str> {
        self.entries
            .get(&storage_key(workspace, key))
            .filter(|(at, _)| now - at < TTL_MS)
            .map(|(_, id)| id.as_str())
    }

    /// Forgets `key` if it still names `task_id` (the task is gone);
    /// returns the mutation to submit.
    pub(crate) fn forget(&mut self, workspace: &str, key: &str, task_id: &str) -> Option<Mutation> {
        let k = storage_key(workspace, key);
        if self.entries.get(&k).is_some_and(|(_, id)| id == task_id) {
            self.entries.remove(&k);
            return Some(Mutation::delete(Table::Meta, k));
        }
        None
    }

    /// Records that `key` created `task_id`.
    pub(crate) fn record(
        &mut self,
        workspace: &str,
        key: &str,
        task_id: &str,
        now: i64,
    ) -> Mutation {
        let k = storage_key(workspace, key);
        self.entries.insert(k.clone(), (now, task_id.to_string()));
        Mutation::put(Table::Meta, k, format!("{now}:{task_id}").into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_keys_per_workspace_for_a_day() {
        let mut l = Ledger::default();
        let m = l.record("w", "k", "t1", 10);
        assert_eq!(l.get("w", "k", 11), Some("t1"));
        assert_eq!(l.get("other", "k", 11), None);
        assert_eq!(l.get("w", "k", 10 + TTL_MS), None);
        let mut back = Ledger::load(&[(m.key, m.value.unwrap_or_default())]);
        assert_eq!(back.get("w", "k", 11), Some("t1"));
        assert!(back.forget("w", "k", "other").is_none());
        assert!(back.forget("w", "k", "t1").is_some());
        assert_eq!(back.get("w", "k", 11), None);
    }
}
