//! The task table: every task in memory, its indexes and timers, and the
//! mutation that mirrors each change into `Table::Tasks`.

use std::collections::HashMap;

use prost::Message;

use super::index::{Index, Key};
use super::model::TaskRecord;
use super::timers::{Timers, Timing};
use crate::store::{Mutation, StoreError, Table};

/// Tasks by id, with their indexes.
#[derive(Default)]
pub(crate) struct TaskTable {
    records: HashMap<String, TaskRecord>,
    index: Index,
    /// Every pending timer, in due order.
    pub(crate) timers: Timers,
}

impl TaskTable {
    /// Rebuilds the table from stored rows, with timers computed for
    /// `timing`; an undecodable row refuses the store.
    pub(crate) fn load(rows: Vec<(String, Vec<u8>)>, timing: Timing) -> Result<Self, StoreError> {
        let mut t = TaskTable {
            timers: Timers::new(timing),
            ..TaskTable::default()
        };
        for (key, bytes) in rows {
            match TaskRecord::decode(bytes.as_slice()) {
                Ok(r) => {
                    t.index.update(None, Some(&r));
                    t.timers.update(None, Some(&r));
                    t.records.insert(r.id.clone(), r);
                }
                Err(e) => return Err(StoreError::unreadable(Table::Tasks, &key, e)),
            }
        }
        Ok(t)
    }

    /// The task `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&TaskRecord> {
        self.records.get(id)
    }

    /// Every task.
    pub(crate) fn all(&self) -> impl Iterator<Item = &TaskRecord> {
        self.records.values()
    }

    /// Inserts or replaces `r`; returns the mutation to submit.
    pub(crate) fn put(&mut self, r: TaskRecord) -> Mutation {
        let m = Mutation::put(Table::Tasks, r.id.clone(), r.encode_to_vec());
        let old = self.records.remove(&r.id);
        self.index.update(old.as_ref(), Some(&r));
        self.timers.update(old.as_ref(), Some(&r));
        self.records.insert(r.id.clone(), r);
        m
    }

    /// Deletes task `id`; returns it and the mutation to submit.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(TaskRecord, Mutation)> {
        let old = self.records.remove(id)?;
        self.index.update(Some(&old), None);
        self.timers.update(Some(&old), None);
        Some((old, Mutation::delete(Table::Tasks, id.to_string())))
    }

    /// Task ids in an index bucket, oldest first.
    pub(crate) fn ids(&self, k: &Key) -> Vec<String> {
        self.index.ids(k)
    }

    /// Size of an index bucket.
    pub(crate) fn count(&self, k: &Key) -> usize {
        self.index.len(k)
    }

    /// Index buckets matching `pred`.
    pub(crate) fn keys_where(&self, pred: impl Fn(&Key) -> bool) -> Vec<Key> {
        self.index.keys_where(pred)
    }

    /// Every descendant of `id` (breadth first), at most `max`.
    pub(crate) fn descendants(&self, id: &str, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut frontier = vec![id.to_string()];
        while let Some(p) = frontier.pop() {
            for c in self.index.ids(&Key::Children(p)) {
                if out.len() >= max {
                    return out;
                }
                if c != id && !out.contains(&c) {
                    out.push(c.clone());
                    frontier.insert(0, c);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_what_it_stored_and_walks_descendants() {
        let mut t = TaskTable::default();
        let mut rows = Vec::new();
        for (id, parent) in [("a", ""), ("b", "a"), ("c", "b"), ("d", "a")] {
            let m = t.put(TaskRecord {
                id: id.into(),
                parent_task_id: parent.into(),
                status: "pending".into(),
                ..Default::default()
            });
            rows.push((m.key, m.value.unwrap_or_default()));
        }
        let mut with_junk = rows.clone();
        with_junk.push(("junk".into(), vec![0xff, 0xff]));
        let Err(refused) = TaskTable::load(with_junk, Timing::default()) else {
            panic!("junk is refused");
        };
        assert!(refused.is_corrupt());
        assert!(
            refused.0.contains("table tasks, key \"junk\""),
            "{}",
            refused.0
        );
        let back = TaskTable::load(rows, Timing::default()).unwrap();
        assert_eq!(back.all().count(), 4);
        let mut d = back.descendants("a", 256);
        d.sort();
        assert_eq!(d, vec!["b", "c", "d"]);
        assert_eq!(back.descendants("a", 1).len(), 1);
    }
}
