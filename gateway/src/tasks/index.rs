//! Secondary indexes over the task table, derived from each record: what
//! waits for which consumer, who holds what, which tasks are children of
//! which, and who waits on whom. They are rebuilt at load and kept in step
//! by [`Index::update`] on every change.

use std::collections::{BTreeSet, HashMap};

use aether_protocol::proto::TaskAssignmentMode;

use super::model::{Status, TaskRecord};

/// One index bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// Pending POOL tasks of `(workspace, implementation)`.
    Pool(String, String),
    /// Pending TARGETED tasks for an identity (startup tasks excluded).
    Target(String),
    /// Pending `agent_startup` tasks of an orchestrator profile.
    Startup(String),
    /// Tasks assigned to an identity and not yet claimed.
    Assigned(String),
    /// Tasks an identity holds (`assigned`, `starting`, `running`): its load.
    Active(String),
    /// The active (`pending|assigned|starting|running`) startup task of an agent identity.
    ActiveStartup(String),
    /// Children of a task.
    Children(String),
    /// Tasks in `waiting_dependency` on a task.
    Dependants(String),
}

/// Ordered by creation, then id.
type Entry = (i64, String);

/// All buckets.
#[derive(Default)]
pub(crate) struct Index {
    buckets: HashMap<Key, BTreeSet<Entry>>,
}

/// The buckets `r` belongs to.
fn keys(r: &TaskRecord) -> Vec<Key> {
    let st = r.state();
    let mut out = Vec::new();
    // Waiting for a scheduled start (a retry's backoff): not offered yet.
    let pending = st == Status::Pending && r.not_before_ms == 0;
    if r.is_startup() {
        if pending {
            out.push(Key::Startup(r.profile.clone()));
        }
        if matches!(
            st,
            Status::Pending | Status::Assigned | Status::Starting | Status::Running
        ) {
            out.push(Key::ActiveStartup(r.startup_target()));
        }
    } else if pending && r.mode == TaskAssignmentMode::Pool as i32 {
        out.push(Key::Pool(
            r.workspace.clone(),
            r.target_implementation.clone(),
        ));
    } else if pending && r.mode == TaskAssignmentMode::Targeted as i32 {
        out.push(Key::Target(r.target_agent_id.clone()));
    }
    if !r.assigned_to.is_empty() {
        if st == Status::Assigned {
            out.push(Key::Assigned(r.assigned_to.clone()));
        }
        if matches!(st, Status::Assigned | Status::Starting | Status::Running) {
            out.push(Key::Active(r.assigned_to.clone()));
        }
    }
    if !r.parent_task_id.is_empty() {
        out.push(Key::Children(r.parent_task_id.clone()));
    }
    if st == Status::WaitingDependency {
        for d in &r.depends_on {
            out.push(Key::Dependants(d.clone()));
        }
    }
    out
}

impl Index {
    /// Moves a record from the buckets of `old` to those of `new` (either
    /// may be absent: insert, delete).
    pub(super) fn update(&mut self, old: Option<&TaskRecord>, new: Option<&TaskRecord>) {
        if let Some(o) = old {
            let e = (o.created_ms, o.id.clone());
            for k in keys(o) {
                if let Some(set) = self.buckets.get_mut(&k) {
                    set.remove(&e);
                    if set.is_empty() {
                        self.buckets.remove(&k);
                    }
                }
            }
        }
        if let Some(n) = new {
            let e = (n.created_ms, n.id.clone());
            for k in keys(n) {
                self.buckets.entry(k).or_default().insert(e.clone());
            }
        }
    }

    /// Task ids in bucket `k`, oldest first.
    pub(super) fn ids(&self, k: &Key) -> Vec<String> {
        self.buckets
            .get(k)
            .map(|s| s.iter().map(|(_, id)| id.clone()).collect())
            .unwrap_or_default()
    }

    /// How many tasks bucket `k` holds.
    pub(super) fn len(&self, k: &Key) -> usize {
        self.buckets.get(k).map_or(0, BTreeSet::len)
    }

    /// Every pending-queue bucket key matching `pred` (used to find work
    /// for a newly connected consumer).
    pub(super) fn keys_where(&self, pred: impl Fn(&Key) -> bool) -> Vec<Key> {
        self.buckets.keys().filter(|k| pred(k)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, status: Status) -> TaskRecord {
        TaskRecord {
            id: id.into(),
            status: status.as_str().into(),
            workspace: "w".into(),
            mode: TaskAssignmentMode::Pool as i32,
            target_implementation: "i".into(),
            ..Default::default()
        }
    }

    #[test]
    fn records_move_between_buckets() {
        let mut ix = Index::default();
        let pool = Key::Pool("w".into(), "i".into());
        let a = rec("a", Status::Pending);
        ix.update(None, Some(&a));
        assert_eq!(ix.ids(&pool), vec!["a"]);
        let mut b = a.clone();
        b.status = "assigned".into();
        b.assigned_to = "ag::w::i::x".into();
        ix.update(Some(&a), Some(&b));
        assert_eq!(ix.len(&pool), 0);
        assert_eq!(ix.ids(&Key::Assigned("ag::w::i::x".into())), vec!["a"]);
        assert_eq!(ix.len(&Key::Active("ag::w::i::x".into())), 1);
        ix.update(Some(&b), None);
        assert!(ix.keys_where(|_| true).is_empty());
    }

    #[test]
    fn startup_and_dependency_buckets() {
        let mut ix = Index::default();
        let s = TaskRecord {
            id: "s".into(),
            task_type: "agent_startup".into(),
            status: "pending".into(),
            workspace: "w".into(),
            target_implementation: "i".into(),
            target_specifier: "x".into(),
            profile: "p".into(),
            ..Default::default()
        };
        ix.update(None, Some(&s));
        assert_eq!(ix.ids(&Key::Startup("p".into())), vec!["s"]);
        assert_eq!(ix.ids(&Key::ActiveStartup("ag::w::i::x".into())), vec!["s"]);
        let w = TaskRecord {
            id: "w1".into(),
            status: "waiting_dependency".into(),
            depends_on: vec!["d1".into(), "d2".into()],
            parent_task_id: "s".into(),
            ..Default::default()
        };
        ix.update(None, Some(&w));
        assert_eq!(ix.ids(&Key::Dependants("d2".into())), vec!["w1"]);
        assert_eq!(ix.ids(&Key::Children("s".into())), vec!["w1"]);
    }
}
