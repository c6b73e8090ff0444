//! `ConfigSnapshot.task_context` (§3.8): what an agent started by an
//! orchestrator learns about its `agent_startup` task at connect.

use std::collections::HashMap;

use super::index::Key;
use super::table::TaskTable;

/// The context of the active startup task for agent `identity` (empty
/// when there is none): `task_id`, `workspace`, `implementation`,
/// `specifier`, `profile`, every metadata entry and every launch parameter
/// as `lp.<name>`.
pub(crate) fn task_context(table: &TaskTable, identity: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(r) = table
        .ids(&Key::ActiveStartup(identity.to_string()))
        .last()
        .and_then(|id| table.get(id))
    else {
        return out;
    };
    for (k, v) in &r.metadata {
        out.insert(k.clone(), v.clone());
    }
    for (k, v) in &r.launch_params {
        out.insert(format!("lp.{k}"), v.clone());
    }
    out.insert("task_id".into(), r.id.clone());
    out.insert("workspace".into(), r.workspace.clone());
    out.insert("implementation".into(), r.target_implementation.clone());
    out.insert("specifier".into(), r.target_specifier.clone());
    out.insert("profile".into(), r.profile.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::model::TaskRecord;

    #[test]
    fn context_of_the_active_startup_task() {
        let mut t = TaskTable::default();
        assert!(task_context(&t, "ag::w::i::s").is_empty());
        let mut r = TaskRecord {
            id: "t".into(),
            task_type: "agent_startup".into(),
            status: "assigned".into(),
            workspace: "w".into(),
            target_implementation: "i".into(),
            target_specifier: "s".into(),
            profile: "p".into(),
            ..Default::default()
        };
        r.launch_params.insert("model".into(), "m".into());
        r.metadata.insert("trigger".into(), "x".into());
        let _ = t.put(r);
        let c = task_context(&t, "ag::w::i::s");
        assert_eq!(c.get("task_id").map(String::as_str), Some("t"));
        assert_eq!(c.get("lp.model").map(String::as_str), Some("m"));
        assert_eq!(c.get("trigger").map(String::as_str), Some("x"));
        assert_eq!(c.get("profile").map(String::as_str), Some("p"));
    }
}
