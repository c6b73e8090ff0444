//! `TaskQuery` GET and LIST (§5.7), and `authorizeTaskOp`.
//!
//! Who sees a task: its creator and its assignee, and whoever has READ on
//! its workspace (`authz`: one's own workspace, or one a rule opens; every
//! workspace for superadmin sessions). LIST applies the same check to
//! every task it returns, so it never shows what GET hides (upstream's
//! LIST does no per-task check).
//!
//! LIST orders by last update (newest first), then task id (descending).
//! `page_token` is opaque to clients: it names the last task of the
//! previous page (`{updated_ms}.{task_id}`), so pages stay stable while
//! tasks are created; `next_page_token` is set when a full page was
//! returned. An empty filter workspace means the caller's workspace, or
//! every workspace for a caller without one (services, orchestrators,
//! users before `SwitchWorkspace`).

use std::collections::{HashMap, HashSet};

use aether_protocol::proto::{PrincipalRef, TaskFilter, TaskQuery, TaskQueryResponse, task_query};

use super::model::{Status, TaskRecord};
use super::table::TaskTable;
use super::{Tasks, Txn};
use crate::authz::{Level, Resource};
use crate::context::Context;
use crate::context::handle::SessionHandle;

/// Default LIST page.
const DEFAULT_LIMIT: usize = 100;
/// Largest LIST page.
const MAX_LIMIT: usize = 1000;

/// Info-hiding error for missing and forbidden tasks alike.
pub(crate) const NOT_FOUND: &str = "task not found";

/// `authorizeTaskOp`: the creator and the assignee always; otherwise
/// whoever has `need` on the task's workspace. In dev mode (where every
/// session is a superadmin so that nothing administrative is refused)
/// the tasks of other workspaces stay hidden from principals that live in
/// a workspace, as they were without the engine.
pub(crate) fn authorized(
    cx: &Context,
    caller: &SessionHandle,
    caller_ws: &str,
    r: &TaskRecord,
    need: Level,
) -> bool {
    if caller.identity == r.creator || caller.identity == r.assigned_to {
        return true;
    }
    if cx.config.dev && caller.administrator {
        return caller_ws.is_empty() || caller_ws == r.workspace;
    }
    cx.authz.allows(
        &caller.authz_actor(caller_ws),
        Resource::workspace(&r.workspace),
        need,
    )
}

/// Answers a `TaskQuery`.
pub(crate) fn task_query(
    tasks: &Tasks,
    caller: &SessionHandle,
    caller_ws: &str,
    q: TaskQuery,
) -> TaskQueryResponse {
    let mut resp = TaskQueryResponse {
        request_id: q.request_id.clone(),
        ..Default::default()
    };
    let txn = Txn::begin(tasks);
    match task_query::OpType::try_from(q.op) {
        Ok(task_query::OpType::Get) => {
            match txn
                .get(&q.task_id)
                .filter(|r| authorized(&tasks.cx, caller, caller_ws, r, Level::READ))
            {
                Some(r) => {
                    resp.success = true;
                    resp.task = Some(r.info());
                }
                None => resp.error = NOT_FOUND.to_string(),
            }
        }
        Ok(task_query::OpType::List) => {
            let filter = q.filter.unwrap_or_default();
            let mut seen: HashMap<String, bool> = HashMap::new();
            let mut visible = |r: &TaskRecord| {
                if caller.identity == r.creator || caller.identity == r.assigned_to {
                    return true;
                }
                if let Some(v) = seen.get(&r.workspace) {
                    return *v;
                }
                let v = authorized(&tasks.cx, caller, caller_ws, r, Level::READ);
                seen.insert(r.workspace.clone(), v);
                v
            };
            match list(&txn.st.table, caller_ws, &filter, &mut visible) {
                Ok((tasks, next)) => {
                    resp.success = true;
                    resp.total_count = tasks.len() as i32;
                    resp.tasks = tasks.iter().map(|r| r.info()).collect();
                    resp.next_page_token = next;
                }
                Err(e) => resp.error = e,
            }
        }
        Err(_) => resp.error = "unknown task query operation".to_string(),
    }
    resp
}

/// Sort key: newest update first, then larger id first.
fn order(a: &TaskRecord, b: &TaskRecord) -> std::cmp::Ordering {
    (b.updated_ms, &b.id).cmp(&(a.updated_ms, &a.id))
}

fn page_token(r: &TaskRecord) -> String {
    format!("{}.{}", r.updated_ms, r.id)
}

fn parse_token(t: &str) -> Result<(i64, String), String> {
    let bad = || format!("invalid page_token {t:?}");
    let (ms, id) = t.split_once('.').ok_or_else(bad)?;
    Ok((ms.parse().map_err(|_| bad())?, id.to_string()))
}

/// One LIST page and the next page token.
fn list(
    table: &TaskTable,
    caller_ws: &str,
    f: &TaskFilter,
    visible: &mut dyn FnMut(&TaskRecord) -> bool,
) -> Result<(Vec<TaskRecord>, String), String> {
    let after = if f.page_token.is_empty() {
        None
    } else {
        Some(parse_token(&f.page_token)?)
    };
    let limit = match usize::try_from(f.limit) {
        Ok(0) | Err(_) => DEFAULT_LIMIT,
        Ok(n) => n.min(MAX_LIMIT),
    };
    let offset = usize::try_from(f.offset).unwrap_or(0);
    let m = Matcher::new(table, caller_ws, f);
    let mut hits: Vec<&TaskRecord> = table.all().filter(|r| m.matches(r) && visible(r)).collect();
    hits.sort_by(|a, b| order(a, b));
    let page: Vec<TaskRecord> = hits
        .into_iter()
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|(ms, id)| (r.updated_ms, &r.id) < (*ms, id))
        })
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    let next = if page.len() == limit {
        page.last().map(page_token).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((page, next))
}

/// A compiled `TaskFilter`.
struct Matcher<'f> {
    f: &'f TaskFilter,
    workspace: Option<String>,
    statuses: Vec<Status>,
    excluded: Vec<Status>,
    parents: Option<HashSet<String>>,
    creator: Option<String>,
}

/// The identity string a `PrincipalRef` names (`agent` + `w::i::s` ->
/// `ag::w::i::s`; qualified ids are kept).
fn creator_identity(p: &PrincipalRef) -> Option<String> {
    if p.principal_id.is_empty() {
        return None;
    }
    let prefix = match p.principal_type.to_ascii_lowercase().as_str() {
        "agent" => "ag",
        "task" | "unique_task" => "tu",
        "non_unique_task" => "ta",
        "user" => "us",
        "orchestrator" => "orc",
        "bridge" => "br",
        "service" => "sv",
        _ => return Some(p.principal_id.clone()),
    };
    if p.principal_id.contains("::")
        && p.principal_id
            .split("::")
            .next()
            .is_some_and(|head| ["ag", "tu", "ta", "us", "orc", "br", "sv"].contains(&head))
    {
        Some(p.principal_id.clone())
    } else {
        Some(format!("{prefix}::{}", p.principal_id))
    }
}

impl<'f> Matcher<'f> {
    fn new(table: &TaskTable, caller_ws: &str, f: &'f TaskFilter) -> Self {
        let statuses = if f.statuses.is_empty() {
            Status::from_filter(f.status).into_iter().collect()
        } else {
            f.statuses
                .iter()
                .filter_map(|s| Status::from_filter(*s))
                .collect()
        };
        let workspace = if !f.workspace.is_empty() {
            Some(f.workspace.clone())
        } else if !caller_ws.is_empty() {
            Some(caller_ws.to_string())
        } else {
            None
        };
        let parents = (!f.parent_task_id.is_empty()).then(|| {
            let mut set = HashSet::from([f.parent_task_id.clone()]);
            if f.include_descendants {
                set.extend(table.descendants(&f.parent_task_id, usize::MAX));
            }
            set
        });
        Matcher {
            f,
            workspace,
            statuses,
            excluded: f
                .exclude_statuses
                .iter()
                .filter_map(|s| Status::from_filter(*s))
                .collect(),
            parents,
            creator: f.creator_actor.as_ref().and_then(creator_identity),
        }
    }

    fn matches(&self, r: &TaskRecord) -> bool {
        let f = self.f;
        let eq = |want: &str, have: &str| want.is_empty() || want == have;
        let st = r.state();
        self.workspace.as_ref().is_none_or(|w| *w == r.workspace)
            && (self.statuses.is_empty() || self.statuses.contains(&st))
            && !self.excluded.contains(&st)
            && eq(&f.task_type, &r.task_type)
            && (f.task_class == 0 || f.task_class == r.task_class)
            && !f.exclude_task_classes.contains(&r.task_class)
            && self
                .parents
                .as_ref()
                .is_none_or(|p| p.contains(&r.parent_task_id))
            && eq(&f.context_id, &r.context_id)
            && eq(&f.correlation_id, &r.correlation_id)
            && (f.root_task_id.is_empty() || r.info().root_task_id == f.root_task_id)
            && self.creator.as_ref().is_none_or(|c| *c == r.creator)
            && r.status_changed_ms > f.status_timestamp_after_unix_ms
            && (f.priority == 0 || f.priority == r.effective_priority())
            && (f.min_priority == 0 || r.effective_priority() >= f.min_priority)
            // Authority lineage: tasks here carry none, so a filter on it
            // matches nothing.
            && f.subject_type.is_empty()
            && f.subject_id.is_empty()
            && f.authority_mode.is_empty()
            && f.authority_grant_id.is_empty()
            && f.root_authority_grant_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TaskTable {
        let mut t = TaskTable::default();
        let rows = [
            ("a", "w", "pending", "", 1, "x", 0),
            ("b", "w", "running", "a", 2, "y", 40),
            ("c", "w", "completed", "b", 3, "x", 20),
            ("d", "v", "assigned", "", 4, "x", 0),
        ];
        for (id, ws, st, parent, ms, ty, prio) in rows {
            let _ = t.put(TaskRecord {
                id: id.into(),
                workspace: ws.into(),
                status: st.into(),
                parent_task_id: parent.into(),
                updated_ms: ms,
                status_changed_ms: ms,
                task_type: ty.into(),
                priority: prio,
                ..Default::default()
            });
        }
        t
    }

    fn ids(t: &TaskTable, ws: &str, f: TaskFilter) -> Vec<String> {
        list(t, ws, &f, &mut |_| true)
            .unwrap()
            .0
            .into_iter()
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn filters() {
        use aether_protocol::proto::{TaskPriority, TaskStatus};
        let t = table();
        let all = TaskFilter::default();
        assert_eq!(ids(&t, "w", all.clone()), ["c", "b", "a"]);
        assert_eq!(ids(&t, "", all.clone()), ["d", "c", "b", "a"]);
        let f = TaskFilter {
            status: TaskStatus::Queued as i32,
            ..all.clone()
        };
        assert_eq!(ids(&t, "", f), ["a"], "QUEUED matches only pending");
        let f = TaskFilter {
            statuses: vec![TaskStatus::Running as i32, TaskStatus::Completed as i32],
            status: TaskStatus::Queued as i32,
            ..all.clone()
        };
        assert_eq!(ids(&t, "w", f), ["c", "b"], "statuses win over status");
        let f = TaskFilter {
            exclude_statuses: vec![TaskStatus::Completed as i32],
            task_type: "x".into(),
            ..all.clone()
        };
        assert_eq!(ids(&t, "w", f), ["a"]);
        let f = TaskFilter {
            parent_task_id: "a".into(),
            ..all.clone()
        };
        assert_eq!(ids(&t, "w", f.clone()), ["b"]);
        let f = TaskFilter {
            include_descendants: true,
            ..f
        };
        assert_eq!(ids(&t, "w", f), ["c", "b"]);
        let f = TaskFilter {
            min_priority: TaskPriority::Normal as i32,
            ..all.clone()
        };
        assert_eq!(ids(&t, "w", f), ["b", "a"], "0 is stored as NORMAL");
        let f = TaskFilter {
            priority: TaskPriority::High as i32,
            ..all.clone()
        };
        assert_eq!(ids(&t, "w", f), ["b"]);
        let f = TaskFilter {
            status_timestamp_after_unix_ms: 1,
            workspace: "w".into(),
            ..all.clone()
        };
        assert_eq!(ids(&t, "v", f), ["c", "b"]);
        let f = TaskFilter {
            subject_id: "u".into(),
            ..all
        };
        assert!(ids(&t, "w", f).is_empty());
    }

    #[test]
    fn paging() {
        let t = table();
        let f = TaskFilter {
            limit: 2,
            ..Default::default()
        };
        let (p1, next) = list(&t, "", &f, &mut |_| true).unwrap();
        assert_eq!(p1.len(), 2);
        assert!(!next.is_empty());
        let f2 = TaskFilter {
            page_token: next,
            ..f.clone()
        };
        let (p2, next2) = list(&t, "", &f2, &mut |_| true).unwrap();
        let ids: Vec<&str> = p1.iter().chain(&p2).map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["d", "c", "b", "a"]);
        assert!(!next2.is_empty(), "a full page gets a token");
        let f3 = TaskFilter {
            page_token: next2,
            ..f.clone()
        };
        assert_eq!(
            list(&t, "", &f3, &mut |_| true).unwrap(),
            (Vec::new(), String::new())
        );
        let f4 = TaskFilter {
            offset: 3,
            ..f.clone()
        };
        assert_eq!(list(&t, "", &f4, &mut |_| true).unwrap().0.len(), 1);
        let bad = TaskFilter {
            page_token: "zz".into(),
            ..f
        };
        assert!(list(&t, "", &bad, &mut |_| true).is_err());
    }

    #[test]
    fn page_tokens_round_trip() {
        let r = TaskRecord {
            id: "abc".into(),
            updated_ms: 42,
            ..Default::default()
        };
        assert_eq!(parse_token(&page_token(&r)), Ok((42, "abc".to_string())));
        assert!(parse_token("garbage").is_err());
        assert!(parse_token("x.y").is_err());
    }

    #[test]
    fn creator_refs_become_identities() {
        let p = |t: &str, id: &str| PrincipalRef {
            principal_type: t.into(),
            principal_id: id.into(),
        };
        assert_eq!(
            creator_identity(&p("agent", "w::i::s")).as_deref(),
            Some("ag::w::i::s")
        );
        assert_eq!(
            creator_identity(&p("user", "us::u::w")).as_deref(),
            Some("us::u::w")
        );
        assert_eq!(creator_identity(&p("agent", "")), None);
    }

    #[test]
    fn ordering_is_newest_update_then_larger_id() {
        let r = |id: &str, ms: i64| TaskRecord {
            id: id.into(),
            updated_ms: ms,
            ..Default::default()
        };
        let mut v = [r("a", 1), r("b", 2), r("c", 2)];
        v.sort_by(order);
        let ids: Vec<&str> = v.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
    }
}
