//! Which entries an `AuditQuery` selects.
//!
//! Every non-empty field must match exactly, except principal types
//! (`actor_type`, `subject_type`, `exclude_actor_types`), which compare
//! ignoring case and `_` (`WorkflowEngine` = `workflow_engine`).
//! `start_time`/`end_time` are unix seconds, both inclusive, 0 = open.
//! `exclude_service_direct` leaves out what services did directly (not on
//! behalf of a subject).

use aether_protocol::proto::{AuditEntry, AuditQuery};

/// Largest page; a limit of 0, below 0 or above it means 100.
pub(crate) const MAX_LIMIT: usize = 500;
/// The page size when the query gives none (or an invalid one).
pub(crate) const DEFAULT_LIMIT: usize = 100;

fn principal_type(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn field(want: &str, have: &str) -> bool {
    want.is_empty() || want == have
}

fn type_field(want: &str, have: &str) -> bool {
    want.is_empty() || principal_type(want) == principal_type(have)
}

/// Whether `q` selects `e`.
pub(crate) fn selects(q: &AuditQuery, e: &AuditEntry) -> bool {
    (q.start_time <= 0 || e.timestamp >= q.start_time)
        && (q.end_time <= 0 || e.timestamp <= q.end_time)
        && field(&q.event_type, &e.event_type)
        && type_field(&q.actor_type, &e.actor_type)
        && field(&q.actor_id, &e.actor_id)
        && field(&q.resource_type, &e.resource_type)
        && field(&q.resource_id, &e.resource_id)
        && field(&q.operation, &e.operation)
        && field(&q.workspace, &e.workspace)
        && (!q.only_failures || !e.success)
        && type_field(&q.subject_type, &e.subject_type)
        && field(&q.subject_id, &e.subject_id)
        && field(&q.authority_mode, &e.authority_mode)
        && field(&q.authority_grant_id, &e.authority_grant_id)
        && !q
            .exclude_actor_types
            .iter()
            .any(|t| !t.is_empty() && type_field(t, &e.actor_type))
        && !q.exclude_workspaces.contains(&e.workspace)
        && !(q.exclude_service_direct
            && principal_type(&e.actor_type) == "service"
            && e.subject_id.is_empty())
}

/// The page bounds of `q`: (offset, limit).
pub(crate) fn page(q: &AuditQuery) -> (usize, usize) {
    let limit = usize::try_from(q.limit)
        .ok()
        .filter(|l| (1..=MAX_LIMIT).contains(l))
        .unwrap_or(DEFAULT_LIMIT);
    (usize::try_from(q.offset).unwrap_or(0), limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            timestamp: 100,
            event_type: "token".into(),
            actor_type: "workflow_engine".into(),
            actor_id: "wfe::shard0".into(),
            operation: "create".into(),
            workspace: "w".into(),
            success: true,
            ..Default::default()
        }
    }

    #[test]
    fn filters() {
        let e = entry();
        assert!(selects(&AuditQuery::default(), &e));
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            selects(&q, &e)
        };
        assert!(q(|q| q.actor_type = "WorkflowEngine".into()));
        assert!(!q(|q| q.actor_type = "agent".into()));
        assert!(q(|q| q.start_time = 100));
        assert!(!q(|q| q.start_time = 101));
        assert!(!q(|q| q.end_time = 99));
        assert!(!q(|q| q.only_failures = true));
        assert!(!q(|q| q.exclude_workspaces = vec!["w".into()]));
        assert!(!q(
            |q| q.exclude_actor_types = vec!["WORKFLOW_ENGINE".into()]
        ));
        assert!(q(|q| q.event_type = "token".into()));
        assert!(!q(|q| q.event_type = "kv".into()));
    }

    #[test]
    fn pages() {
        let mut q = AuditQuery::default();
        assert_eq!(page(&q), (0, 100));
        q.limit = 501;
        q.offset = -3;
        assert_eq!(page(&q), (0, 100));
        q.limit = 7;
        q.offset = 2;
        assert_eq!(page(&q), (2, 7));
    }
}
