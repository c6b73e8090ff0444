//! The created workspaces, in memory and in `Table::Workspaces`.

use std::collections::BTreeMap;

use aether_protocol::proto::WorkspaceInfo;
use parking_lot::Mutex;
use prost::Message;

use crate::store::{Commit, Mutation, Store, StoreError, Table};

/// Workspace id -> its stored metadata.
pub(crate) struct Workspaces {
    entries: Mutex<BTreeMap<String, WorkspaceInfo>>,
    store: Store,
}

impl Workspaces {
    /// Loads the workspaces from `store`, which it then writes through.
    pub(crate) fn load(store: Store) -> Result<Self, StoreError> {
        let mut entries = BTreeMap::new();
        for (k, v) in store.load(Table::Workspaces)? {
            let w = WorkspaceInfo::decode(v.as_slice())
                .map_err(|e| StoreError::unreadable(Table::Workspaces, &k, e))?;
            entries.insert(k, w);
        }
        Ok(Workspaces {
            entries: Mutex::new(entries),
            store,
        })
    }

    /// Every stored workspace.
    pub(crate) fn all(&self) -> Vec<WorkspaceInfo> {
        self.entries.lock().values().cloned().collect()
    }

    /// Applies `f` to the entry of `id` (`None`: absent) under the lock;
    /// `f` returns the new entry (`None`: delete) or an error. Returns the
    /// stored entry and the commit.
    pub(crate) fn change(
        &self,
        id: &str,
        f: impl FnOnce(Option<&WorkspaceInfo>) -> Result<Option<WorkspaceInfo>, String>,
    ) -> Result<(Option<WorkspaceInfo>, Commit), String> {
        let mut entries = self.entries.lock();
        let next = f(entries.get(id))?;
        let m = match &next {
            Some(w) => {
                entries.insert(id.to_string(), w.clone());
                Mutation::put(Table::Workspaces, id, w.encode_to_vec())
            }
            None => {
                entries.remove(id);
                Mutation::delete(Table::Workspaces, id)
            }
        };
        let commit = self.store.submit(vec![m]);
        Ok((next, commit))
    }

    /// How many are stored.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }
}
