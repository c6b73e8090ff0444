//! [`TaskQuery`]: the filter of a task listing, and one [`TaskPage`] of results.

use crate::proto::{self, PrincipalRef, TaskClass, TaskFilter, TaskInfo, TaskPriority, TaskStatus};

/// A filter for [`Client::query_tasks`](crate::Client::query_tasks), with
/// every field of the protocol's `TaskFilter`.
///
/// An empty workspace means the caller's own. Results are ordered by last
/// update, newest first; page with [`page_token`](Self::page_token) (or let
/// [`Client::query_tasks_stream`](crate::Client::query_tasks_stream) do it).
///
/// ```
/// use aether_client::tasks::TaskQuery;
/// use aether_client::proto::TaskStatus;
///
/// let q = TaskQuery::new()
///     .workspace("ws")
///     .status(TaskStatus::Running)
///     .status(TaskStatus::Queued)
///     .task_type("summarize")
///     .limit(50);
/// assert_eq!(q.to_proto().statuses.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct TaskQuery {
    filter: TaskFilter,
}

impl TaskQuery {
    /// Every task of the caller's workspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workspace to list (default: the caller's).
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.filter.workspace = workspace.into();
        self
    }

    /// Adds a status to match (any of the added statuses matches).
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.filter.statuses.push(status as i32);
        self
    }

    /// Adds statuses to match.
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = TaskStatus>) -> Self {
        self.filter
            .statuses
            .extend(statuses.into_iter().map(|s| s as i32));
        self
    }

    /// Adds a status to exclude.
    pub fn exclude_status(mut self, status: TaskStatus) -> Self {
        self.filter.exclude_statuses.push(status as i32);
        self
    }

    /// Only tasks of this type.
    pub fn task_type(mut self, task_type: impl Into<String>) -> Self {
        self.filter.task_type = task_type.into();
        self
    }

    /// Only tasks of this class.
    pub fn task_class(mut self, class: TaskClass) -> Self {
        self.filter.set_task_class(class);
        self
    }

    /// Adds a task class to exclude.
    pub fn exclude_task_class(mut self, class: TaskClass) -> Self {
        self.filter.exclude_task_classes.push(class as i32);
        self
    }

    /// At most this many tasks per page (gateway default 100, max 1000).
    pub fn limit(mut self, limit: u32) -> Self {
        self.filter.limit = i32::try_from(limit).unwrap_or(i32::MAX);
        self
    }

    /// Skips this many tasks.
    pub fn offset(mut self, offset: u32) -> Self {
        self.filter.offset = i32::try_from(offset).unwrap_or(i32::MAX);
        self
    }

    /// Continues a listing from a previous page's
    /// [`next_page_token`](TaskPage::next_page_token).
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.filter.page_token = token.into();
        self
    }

    /// Only children of this task (with
    /// [`include_descendants`](Self::include_descendants), the whole subtree).
    pub fn parent_task(mut self, task_id: impl Into<String>) -> Self {
        self.filter.parent_task_id = task_id.into();
        self
    }

    /// With [`parent_task`](Self::parent_task): every descendant, not only children.
    pub fn include_descendants(mut self, yes: bool) -> Self {
        self.filter.include_descendants = yes;
        self
    }

    /// Only tasks with this context id.
    pub fn context_id(mut self, id: impl Into<String>) -> Self {
        self.filter.context_id = id.into();
        self
    }

    /// Only tasks with this correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.filter.correlation_id = id.into();
        self
    }

    /// Only tasks of this task tree.
    pub fn root_task(mut self, task_id: impl Into<String>) -> Self {
        self.filter.root_task_id = task_id.into();
        self
    }

    /// Only tasks created by this principal (type such as `"agent"`, and
    /// identity string).
    pub fn creator(mut self, principal_type: impl Into<String>, id: impl Into<String>) -> Self {
        self.filter.creator_actor = Some(PrincipalRef {
            principal_type: principal_type.into(),
            principal_id: id.into(),
        });
        self
    }

    /// Only tasks whose status changed after this time (unix ms).
    pub fn status_changed_after_unix_ms(mut self, ts: i64) -> Self {
        self.filter.status_timestamp_after_unix_ms = ts;
        self
    }

    /// Only tasks of exactly this priority.
    pub fn priority(mut self, priority: TaskPriority) -> Self {
        self.filter.set_priority(priority);
        self
    }

    /// Only tasks of at least this priority.
    pub fn min_priority(mut self, priority: TaskPriority) -> Self {
        self.filter.set_min_priority(priority);
        self
    }

    /// Only tasks acting for this subject.
    pub fn subject(mut self, subject_type: impl Into<String>, id: impl Into<String>) -> Self {
        self.filter.subject_type = subject_type.into();
        self.filter.subject_id = id.into();
        self
    }

    /// Only tasks with this authority mode.
    pub fn authority_mode(mut self, mode: impl Into<String>) -> Self {
        self.filter.authority_mode = mode.into();
        self
    }

    /// Only tasks under this authority grant.
    pub fn authority_grant(mut self, grant_id: impl Into<String>) -> Self {
        self.filter.authority_grant_id = grant_id.into();
        self
    }

    /// Only tasks under this root authority grant.
    pub fn root_authority_grant(mut self, grant_id: impl Into<String>) -> Self {
        self.filter.root_authority_grant_id = grant_id.into();
        self
    }

    /// Starts from a raw protocol filter.
    pub fn from_proto(filter: TaskFilter) -> Self {
        TaskQuery { filter }
    }

    /// The filter as sent.
    pub fn to_proto(&self) -> TaskFilter {
        self.filter.clone()
    }

    pub(crate) fn current_page_token(&self) -> &str {
        &self.filter.page_token
    }
}

/// One page of a task listing.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TaskPage {
    /// The tasks of this page.
    pub tasks: Vec<TaskInfo>,
    /// Where the next page starts; empty on the last page.
    pub next_page_token: String,
}

impl TaskPage {
    pub(crate) fn from_response(r: proto::TaskQueryResponse) -> Self {
        TaskPage {
            tasks: r.tasks,
            next_page_token: r.next_page_token,
        }
    }

    /// Whether more pages follow.
    pub fn has_more(&self) -> bool {
        !self.next_page_token.is_empty()
    }
}
