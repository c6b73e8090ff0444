//! The task record and its status machine (§5.1).
//!
//! A record is a prost message so it is stored in the database exactly as
//! it is kept in memory; [`TaskRecord::info`] projects it onto the wire
//! `TaskInfo` (timestamps in unix seconds).

use std::collections::HashMap;

use aether_protocol::proto::{
    RetryPolicy, TaskCompletionEvent, TaskInfo, TaskPriority, TaskStatus, WaitSpec,
};

/// `task_type` of the tasks that ask an orchestrator to start an agent.
pub(crate) const AGENT_STARTUP: &str = "agent_startup";

/// Default `max_attempts` (upstream's max retries).
pub(crate) const DEFAULT_MAX_ATTEMPTS: i32 = 3;

/// `TaskInfo.metadata` key (server-managed, not stored) holding the unix ms
/// of a task's next attempt while a retry is scheduled.
pub(crate) const NEXT_ATTEMPT_KEY: &str = "_next_attempt_at_unix_ms";
/// Metadata key a woken hibernated task keeps its checkpoint key under
/// (upstream's reserved key).
pub(crate) const HIBERNATION_CHECKPOINT_KEY: &str = "_hibernation_checkpoint_key";
/// Metadata key a woken hibernated task keeps its resume session id under.
pub(crate) const HIBERNATION_RESUME_KEY: &str = "_hibernation_resume_session_id";

/// A task's internal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Pending,
    Assigned,
    Starting,
    Running,
    Completed,
    Failed,
    Dlq,
    Cancelled,
    WaitingInput,
    WaitingAuthority,
    WaitingDependency,
    Hibernated,
    Rejected,
}

impl Status {
    const ALL: [Status; 13] = [
        Status::Pending,
        Status::Assigned,
        Status::Starting,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Dlq,
        Status::Cancelled,
        Status::WaitingInput,
        Status::WaitingAuthority,
        Status::WaitingDependency,
        Status::Hibernated,
        Status::Rejected,
    ];

    /// The internal status string (`"pending"`, `"waiting_input"`, ...).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Assigned => "assigned",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Dlq => "dlq",
            Status::Cancelled => "cancelled",
            Status::WaitingInput => "waiting_input",
            Status::WaitingAuthority => "waiting_authority",
            Status::WaitingDependency => "waiting_dependency",
            Status::Hibernated => "hibernated",
            Status::Rejected => "rejected",
        }
    }

    /// Parses an internal status string.
    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The wire status.
    pub(crate) fn wire(self) -> TaskStatus {
        match self {
            Status::Pending | Status::Assigned | Status::Starting => TaskStatus::Queued,
            Status::Running => TaskStatus::Running,
            Status::Completed => TaskStatus::Completed,
            Status::Failed | Status::Dlq => TaskStatus::Failed,
            Status::Cancelled => TaskStatus::Cancelled,
            Status::WaitingInput => TaskStatus::WaitingInput,
            Status::WaitingAuthority => TaskStatus::WaitingAuthority,
            Status::WaitingDependency => TaskStatus::WaitingDependency,
            Status::Hibernated => TaskStatus::Hibernated,
            Status::Rejected => TaskStatus::Rejected,
        }
    }

    /// The internal status a wire status matches in a filter (lossy:
    /// QUEUED matches only `pending`, FAILED only `failed`).
    pub(crate) fn from_filter(wire: i32) -> Option<Status> {
        Some(match TaskStatus::try_from(wire).ok()? {
            TaskStatus::Unspecified => return None,
            TaskStatus::Queued => Status::Pending,
            TaskStatus::Running => Status::Running,
            TaskStatus::Completed => Status::Completed,
            TaskStatus::Failed => Status::Failed,
            TaskStatus::Cancelled => Status::Cancelled,
            TaskStatus::WaitingInput => Status::WaitingInput,
            TaskStatus::WaitingAuthority => Status::WaitingAuthority,
            TaskStatus::WaitingDependency => Status::WaitingDependency,
            TaskStatus::Hibernated => Status::Hibernated,
            TaskStatus::Rejected => Status::Rejected,
        })
    }

    /// Whether the task is finished.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Dlq | Status::Cancelled | Status::Rejected
        )
    }

    /// Whether the task waits (for input, authority, dependencies or a wake).
    pub(crate) fn is_waiting(self) -> bool {
        matches!(
            self,
            Status::WaitingInput
                | Status::WaitingAuthority
                | Status::WaitingDependency
                | Status::Hibernated
        )
    }

    /// Whether `self -> to` is an allowed transition (`ValidateTransition`).
    pub(crate) fn can_become(self, to: Status) -> bool {
        use Status::*;
        match self {
            Pending => matches!(
                to,
                Assigned | Starting | Cancelled | Rejected | WaitingDependency
            ),
            Assigned => matches!(
                to,
                Starting | Running | Failed | Cancelled | Rejected | Pending
            ),
            Starting => matches!(to, Running | Failed | Cancelled),
            Running => matches!(
                to,
                Completed
                    | Failed
                    | Cancelled
                    | WaitingInput
                    | WaitingAuthority
                    | WaitingDependency
                    | Hibernated
            ),
            WaitingInput | WaitingAuthority => {
                matches!(to, Running | Failed | Cancelled | Rejected)
            }
            WaitingDependency | Hibernated => matches!(to, Running | Pending | Failed | Cancelled),
            Failed | Cancelled => to == Pending,
            Completed | Dlq | Rejected => false,
        }
    }
}

/// One task, as stored.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TaskRecord {
    #[prost(string, tag = "1")]
    pub(crate) id: String,
    #[prost(string, tag = "2")]
    pub(crate) task_type: String,
    /// Internal status string (see [`Status`]).
    #[prost(string, tag = "3")]
    pub(crate) status: String,
    #[prost(string, tag = "4")]
    pub(crate) workspace: String,
    /// `TaskAssignmentMode`.
    #[prost(int32, tag = "5")]
    pub(crate) mode: i32,
    /// TARGETED: the target's identity string.
    #[prost(string, tag = "6")]
    pub(crate) target_agent_id: String,
    /// POOL: the implementation whose consumers may take it; startup
    /// tasks: the agent implementation to start.
    #[prost(string, tag = "7")]
    pub(crate) target_implementation: String,
    #[prost(string, tag = "8")]
    pub(crate) assigned_to: String,
    /// Creator's identity string.
    #[prost(string, tag = "9")]
    pub(crate) creator: String,
    #[prost(string, tag = "10")]
    pub(crate) parent_task_id: String,
    #[prost(int32, tag = "11")]
    pub(crate) task_class: i32,
    #[prost(int32, tag = "12")]
    pub(crate) priority: i32,
    #[prost(map = "string, string", tag = "13")]
    pub(crate) metadata: HashMap<String, String>,
    /// Launch parameters (startup tasks: registry defaults + overrides;
    /// other tasks: the request's overrides).
    #[prost(map = "string, string", tag = "14")]
    pub(crate) launch_params: HashMap<String, String>,
    #[prost(bytes = "vec", tag = "15")]
    pub(crate) payload: Vec<u8>,
    #[prost(string, tag = "16")]
    pub(crate) context_id: String,
    #[prost(string, tag = "17")]
    pub(crate) correlation_id: String,
    #[prost(string, tag = "18")]
    pub(crate) root_task_id: String,
    #[prost(int64, tag = "19")]
    pub(crate) created_ms: i64,
    /// Last change of any kind (orders LIST).
    #[prost(int64, tag = "20")]
    pub(crate) updated_ms: i64,
    #[prost(int64, tag = "21")]
    pub(crate) started_ms: i64,
    #[prost(int64, tag = "22")]
    pub(crate) completed_ms: i64,
    #[prost(int64, tag = "23")]
    pub(crate) disconnected_ms: i64,
    #[prost(int64, tag = "24")]
    pub(crate) paused_ms: i64,
    /// Retry count (FAIL adds one).
    #[prost(int32, tag = "25")]
    pub(crate) attempt: i32,
    #[prost(int32, tag = "26")]
    pub(crate) max_attempts: i32,
    #[prost(string, tag = "27")]
    pub(crate) error: String,
    #[prost(message, optional, tag = "28")]
    pub(crate) wait_spec: Option<WaitSpec>,
    #[prost(string, repeated, tag = "29")]
    pub(crate) depends_on: Vec<String>,
    #[prost(message, optional, tag = "30")]
    pub(crate) completion_event: Option<TaskCompletionEvent>,
    #[prost(message, optional, tag = "31")]
    pub(crate) retry_policy: Option<RetryPolicy>,
    #[prost(int64, tag = "32")]
    pub(crate) grace_window_ms: i64,
    /// Startup tasks: the orchestrator profile.
    #[prost(string, tag = "33")]
    pub(crate) profile: String,
    /// Startup tasks: the agent specifier to start.
    #[prost(string, tag = "34")]
    pub(crate) target_specifier: String,
    /// Time of the last status change.
    #[prost(int64, tag = "35")]
    pub(crate) status_changed_ms: i64,
    /// A `pending` task is not offered before this time (a scheduled
    /// retry); 0 = at once.
    #[prost(int64, tag = "36")]
    pub(crate) not_before_ms: i64,
    /// A token-bound worker whose stream broke must be back by this time,
    /// or its task fails; 0 = no grace window running.
    #[prost(int64, tag = "37")]
    pub(crate) grace_deadline_ms: i64,
    /// The wait timeout of a hibernated task with escalation policy
    /// `alert` fired (it stays hibernated).
    #[prost(bool, tag = "38")]
    pub(crate) timeout_alerted: bool,
    /// TARGETED tasks whose create started the target through an
    /// orchestrator: the registry's launch parameters then (a retry while
    /// the target is offline starts it the same way).
    #[prost(map = "string, string", tag = "39")]
    pub(crate) startup_defaults: HashMap<String, String>,
    /// Whether the create started the target through an orchestrator.
    #[prost(bool, tag = "40")]
    pub(crate) orchestrated: bool,
    /// The create's idempotency key (its ledger entry goes with the task).
    #[prost(string, tag = "41")]
    pub(crate) idempotency_key: String,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl TaskRecord {
    /// The status (an unreadable one reads as `failed`, so it is never lost
    /// in a non-terminal limbo).
    pub(crate) fn state(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Failed)
    }

    /// Sets the status and stamps the change at `now` (a scheduled start
    /// only applies to a pending task).
    pub(crate) fn set_state(&mut self, to: Status, now: i64) {
        self.status = to.as_str().to_string();
        self.status_changed_ms = now;
        self.updated_ms = now;
        if to != Status::Pending {
            self.not_before_ms = 0;
        }
        if !to.is_waiting() {
            self.timeout_alerted = false;
        }
        if to.is_terminal() {
            self.grace_deadline_ms = 0;
        }
    }

    /// Whether the task waits for its scheduled start (a retry's backoff).
    pub(crate) fn is_scheduled(&self) -> bool {
        self.not_before_ms > 0 && self.state() == Status::Pending
    }

    /// Whether this is an `agent_startup` task.
    pub(crate) fn is_startup(&self) -> bool {
        self.task_type == AGENT_STARTUP
    }

    /// The identity of the agent (or unique task) a startup task starts.
    pub(crate) fn startup_target(&self) -> String {
        if !self.target_agent_id.is_empty() {
            return self.target_agent_id.clone();
        }
        format!(
            "ag::{}::{}::{}",
            self.workspace, self.target_implementation, self.target_specifier
        )
    }

    /// The stored priority (0 reads as NORMAL).
    pub(crate) fn effective_priority(&self) -> i32 {
        if self.priority == 0 {
            TaskPriority::Normal as i32
        } else {
            self.priority
        }
    }

    /// The wire projection (`taskToProto`).
    pub(crate) fn info(&self) -> TaskInfo {
        let secs = |ms: i64| ms / 1000;
        TaskInfo {
            task_id: self.id.clone(),
            task_type: self.task_type.clone(),
            status: self.state().wire() as i32,
            workspace: self.workspace.clone(),
            target_topic: self.target_agent_id.clone(),
            assigned_to: self.assigned_to.clone(),
            created_at: secs(self.created_ms),
            started_at: secs(self.started_ms),
            completed_at: secs(self.completed_ms),
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            error: self.error.clone(),
            metadata: self.info_metadata(),
            creator_actor_id: self.creator.clone(),
            parent_task_id: self.parent_task_id.clone(),
            task_class: self.task_class,
            disconnected_at: secs(self.disconnected_ms),
            grace_window_ms: self.grace_window_ms,
            wait_spec: self.wait_spec.clone(),
            depends_on: self.depends_on.clone(),
            context_id: self.context_id.clone(),
            paused_at: secs(self.paused_ms),
            priority: self.effective_priority(),
            correlation_id: self.correlation_id.clone(),
            root_task_id: if self.root_task_id.is_empty() {
                self.id.clone()
            } else {
                self.root_task_id.clone()
            },
            completion_event: self.completion_event.clone(),
            ..Default::default()
        }
    }
}

impl TaskRecord {
    /// The metadata `TaskInfo` shows: the task's own, plus the time of the
    /// next attempt while a retry is scheduled.
    fn info_metadata(&self) -> HashMap<String, String> {
        let mut m = self.metadata.clone();
        if self.is_scheduled() {
            m.insert(NEXT_ATTEMPT_KEY.to_string(), self.not_before_ms.to_string());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn status_strings_round_trip_and_map_to_the_wire() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::Assigned.wire(), TaskStatus::Queued);
        assert_eq!(Status::Dlq.wire(), TaskStatus::Failed);
        assert_eq!(
            Status::from_filter(TaskStatus::Queued as i32),
            Some(Status::Pending)
        );
        assert_eq!(Status::from_filter(0), None);
        assert_eq!(Status::from_filter(99), None);
    }

    #[test]
    fn transitions_follow_validate_transition() {
        use Status::*;
        assert!(Pending.can_become(Assigned));
        assert!(!Pending.can_become(Running));
        assert!(Running.can_become(Hibernated));
        assert!(Hibernated.can_become(Running));
        assert!(WaitingInput.can_become(Rejected));
        assert!(!WaitingDependency.can_become(Rejected));
        assert!(Failed.can_become(Pending));
        assert!(!Completed.can_become(Pending));
        assert!(!Rejected.can_become(Running));
        for s in Status::ALL {
            assert!(!Dlq.can_become(s));
        }
        assert!(Completed.is_terminal() && Rejected.is_terminal());
        assert!(!Hibernated.is_terminal() && Hibernated.is_waiting());
    }

    #[test]
    fn records_round_trip_and_project() {
        let mut r = TaskRecord {
            id: "t1".into(),
            status: "running".into(),
            created_ms: 5_500,
            ..Default::default()
        };
        r.metadata.insert("k".into(), "v".into());
        let back = TaskRecord::decode(r.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, r);
        let info = r.info();
        assert_eq!(info.status, TaskStatus::Running as i32);
        assert_eq!(info.created_at, 5);
        assert_eq!(info.root_task_id, "t1");
        assert_eq!(info.priority, TaskPriority::Normal as i32);
        r.status = "bogus".into();
        assert_eq!(r.state(), Status::Failed);
    }
}
