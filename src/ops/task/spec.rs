//! [`TaskSpec`]: every option of `CreateTaskRequest`, and the
//! [`CreatedTask`] the gateway answers with.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Segment, Topic};
use crate::proto::{
    self, AuthorizationContext, RetryPolicy, TargetOfflinePolicy, TaskAssignmentMode, TaskClass,
    TaskCompletionEvent, TaskPriority,
};

/// A task to create, with every option of the protocol's
/// `CreateTaskRequest`.
///
/// The assignment mode follows the reference SDK unless you set one: a
/// target agent makes the task TARGETED, else a target implementation makes
/// it POOL, else it is SELF_ASSIGN (assigned to the creator). An explicit
/// [`mode`](Self::mode) always wins.
///
/// ```
/// use aether_client::tasks::TaskSpec;
/// use aether_client::proto::{TaskAssignmentMode, TaskPriority};
///
/// let spec = TaskSpec::new("summarize")
///     .workspace("ws")
///     .target_implementation("summarizer")        // -> POOL
///     .payload(r#"{"doc":"..."}"#)
///     .metadata("origin", "docs")
///     .priority(TaskPriority::High)
///     .idempotency_key("summarize-doc-42");
/// let req = spec.to_proto();
/// assert_eq!(req.assignment_mode(), TaskAssignmentMode::Pool);
/// assert!(spec.is_safe_to_repeat());
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TaskSpec {
    req: proto::CreateTaskRequest,
    mode: Option<TaskAssignmentMode>,
    timeout: Option<Duration>,
}

impl TaskSpec {
    /// A task of `task_type`, in the caller's workspace unless
    /// [`workspace`](Self::workspace) says otherwise.
    pub fn new(task_type: impl Into<String>) -> Self {
        TaskSpec {
            req: proto::CreateTaskRequest {
                task_type: task_type.into(),
                ..Default::default()
            },
            mode: None,
            timeout: None,
        }
    }

    /// The workspace of the task (default: the caller's session workspace;
    /// workspace-less callers such as services and orchestrators must set it).
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.req.workspace = workspace.into();
        self
    }

    /// Targets one principal by identity string (`ag::ws::impl::spec`,
    /// `tu::...`): the task becomes TARGETED unless a mode is set.
    pub fn target_agent(mut self, identity: impl Into<String>) -> Self {
        self.req.target_agent_id = identity.into();
        self
    }

    /// Targets a pool of workers of an implementation: the task becomes
    /// POOL unless a mode is set (or a target agent is given).
    pub fn target_implementation(mut self, implementation: impl Into<String>) -> Self {
        self.req.target_implementation = implementation.into();
        self
    }

    /// Sets the assignment mode explicitly (no promotion happens then).
    pub fn mode(mut self, mode: TaskAssignmentMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Adds one launch parameter override (merged over the registry's
    /// launch parameters when an orchestrator starts the target).
    pub fn launch_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.req
            .launch_param_overrides
            .insert(key.into(), value.into());
        self
    }

    /// Adds launch parameter overrides.
    pub fn launch_param_overrides<K, V>(mut self, params: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.req
            .launch_param_overrides
            .extend(params.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.req.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds metadata entries.
    pub fn metadata_map<K, V>(mut self, entries: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.req
            .metadata
            .extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The task's payload (the gateway caps it, 512 KiB by default).
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.req.payload = payload.into();
        self
    }

    /// The task's priority (the gateway stores unspecified as NORMAL).
    pub fn priority(mut self, priority: TaskPriority) -> Self {
        self.req.set_priority(priority);
        self
    }

    /// How the gateway retries the task after a failed attempt (a
    /// [`Retry`](super::Retry) or a wire [`RetryPolicy`]).
    pub fn retry_policy(mut self, policy: impl Into<RetryPolicy>) -> Self {
        self.req.retry_policy = Some(policy.into());
        self
    }

    /// The task class (interactive, background, batch).
    pub fn task_class(mut self, class: TaskClass) -> Self {
        self.req.set_task_class(class);
        self
    }

    /// An active parent task assigned to the caller.
    pub fn parent_task(mut self, task_id: impl Into<String>) -> Self {
        self.req.parent_task_id = task_id.into();
        self
    }

    /// What to do when the TARGETED principal is offline: orchestrate (start
    /// it), queue until it connects, or reject the create.
    pub fn target_offline_policy(mut self, policy: TargetOfflinePolicy) -> Self {
        self.req.set_target_offline_policy(policy);
        self
    }

    /// Makes the create idempotent: a second create with the same key
    /// answers with the first task's id and creates nothing. It also makes
    /// the call safe for the retry layer to repeat.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.req.idempotency_key = key.into();
        self
    }

    /// A correlation id of yours (filterable in queries).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.req.correlation_id = id.into();
        self
    }

    /// The root of the task tree this task belongs to (defaults to its own id).
    pub fn root_task(mut self, task_id: impl Into<String>) -> Self {
        self.req.root_task_id = task_id.into();
        self
    }

    /// A conversation or context id.
    pub fn context_id(mut self, id: impl Into<String>) -> Self {
        self.req.context_id = id.into();
        self
    }

    /// The identity string of a worker you will spawn for this task: the
    /// gateway mints a per-task token for it ([`CreatedTask::task_token`]).
    pub fn target_identity(mut self, identity: impl Into<String>) -> Self {
        self.req.target_identity = identity.into();
        self
    }

    /// Publish an event for the workflow engine when the task ends.
    pub fn completion_event(mut self, event: TaskCompletionEvent) -> Self {
        self.req.completion_event = Some(event);
        self
    }

    /// Creates the task on behalf of a subject (needs an ACL engine).
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.req.authorization = Some(ctx);
        self
    }

    /// How many further authority hops the task may delegate.
    pub fn required_downstream_authority_hops(mut self, hops: u32) -> Self {
        self.req.required_downstream_authority_hops = hops;
        self
    }

    /// The workflow schedule that originated the task.
    pub fn originating_schedule_id(mut self, id: impl Into<String>) -> Self {
        self.req.originating_schedule_id = id.into();
        self
    }

    /// Overrides the client's request timeout for this create.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The per-call timeout, if set.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the create may safely be sent twice (it has an idempotency key).
    pub fn is_safe_to_repeat(&self) -> bool {
        !self.req.idempotency_key.is_empty()
    }

    /// The assignment mode that will be sent (after promotion).
    pub fn effective_mode(&self) -> TaskAssignmentMode {
        match self.mode {
            Some(mode) => mode,
            None if !self.req.target_agent_id.is_empty() => TaskAssignmentMode::Targeted,
            None if !self.req.target_implementation.is_empty() => TaskAssignmentMode::Pool,
            None => TaskAssignmentMode::SelfAssign,
        }
    }

    /// The request as sent (without a request id).
    pub fn to_proto(&self) -> proto::CreateTaskRequest {
        let mut req = self.req.clone();
        req.set_assignment_mode(self.effective_mode());
        req
    }

    /// Checks what the gateway would refuse without a correlated reply
    /// (an invalid workspace or implementation), and obvious mistakes.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.req.task_type.is_empty() {
            return Err(Error::invalid("task_type is required"));
        }
        if !self.req.workspace.is_empty() {
            Segment::new(&self.req.workspace)?;
        }
        if !self.req.target_implementation.is_empty() {
            Segment::new(&self.req.target_implementation)?;
        }
        for (what, id) in [
            ("target agent", &self.req.target_agent_id),
            ("target identity", &self.req.target_identity),
        ] {
            if !id.is_empty() {
                id.parse::<Topic>()
                    .map_err(|e| Error::invalid(format!("invalid {what} {id:?}: {e}")))?;
            }
        }
        match self.effective_mode() {
            TaskAssignmentMode::Targeted if self.req.target_agent_id.is_empty() => {
                Err(Error::invalid("a TARGETED task needs target_agent"))
            }
            TaskAssignmentMode::Pool if self.req.target_implementation.is_empty() => {
                Err(Error::invalid("a POOL task needs target_implementation"))
            }
            _ => Ok(()),
        }
    }
}

/// What the gateway answered to a create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTask {
    /// The task's id (for an idempotent repeat: the first task's id, or
    /// empty if the first create is still in flight).
    pub task_id: String,
    /// The creation status: `"assigned"`, `"pending_pool"`,
    /// `"orchestration_triggered"`, or empty for an idempotent repeat.
    pub status: String,
    /// Who the task went to (empty for orchestrated tasks, and for pool
    /// tasks no consumer took at once; upstream gateways leave it empty for
    /// every pool task).
    pub assigned_to: String,
    /// A per-task token for [`TaskSpec::target_identity`] (empty otherwise).
    pub task_token: String,
    /// The authority grant derived for the task, if any.
    pub authority_grant_id: String,
}

impl CreatedTask {
    pub(crate) fn from_response(r: proto::CreateTaskResponse) -> Result<Self> {
        if !r.success {
            let message = if r.error_message.is_empty() {
                r.error_code.clone()
            } else {
                r.error_message.clone()
            };
            let kind = if r.error_code == "ERR_PERMISSION_DENIED" {
                ErrorKind::PermissionDenied
            } else {
                ErrorKind::Rejected
            };
            let mut err = Error::new(
                kind,
                format!("create_task rejected by the gateway: {message}"),
            );
            if !r.error_code.is_empty() {
                err = err.with_code(r.error_code);
            }
            return Err(err);
        }
        Ok(CreatedTask {
            task_id: r.task_id,
            status: r.status,
            assigned_to: r.assigned_to,
            task_token: r.task_token,
            authority_grant_id: r.authority_grant_id,
        })
    }

    /// Whether this answer is a repeat of an earlier create with the same
    /// idempotency key (nothing new was created).
    pub fn is_idempotent_repeat(&self) -> bool {
        self.status.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotes_the_mode_unless_set() {
        let m = |s: TaskSpec| s.to_proto().assignment_mode();
        assert_eq!(m(TaskSpec::new("t")), TaskAssignmentMode::SelfAssign);
        assert_eq!(
            m(TaskSpec::new("t").target_agent("ag::ws::i::s")),
            TaskAssignmentMode::Targeted
        );
        assert_eq!(
            m(TaskSpec::new("t").target_implementation("i")),
            TaskAssignmentMode::Pool
        );
        assert_eq!(
            m(TaskSpec::new("t")
                .target_agent("ag::ws::i::s")
                .target_implementation("i")),
            TaskAssignmentMode::Targeted
        );
        assert_eq!(
            m(TaskSpec::new("t")
                .target_agent("ag::ws::i::s")
                .mode(TaskAssignmentMode::SelfAssign)),
            TaskAssignmentMode::SelfAssign
        );
    }

    #[test]
    fn carries_every_option() {
        let req = TaskSpec::new("job")
            .workspace("ws")
            .launch_param("profile", "p")
            .launch_param_overrides([("a", "1")])
            .metadata("k", "v")
            .metadata_map([("k2", "v2")])
            .payload("data")
            .priority(TaskPriority::High)
            .retry_policy(RetryPolicy {
                max_attempts: 4,
                ..Default::default()
            })
            .task_class(TaskClass::Batch)
            .parent_task("parent")
            .target_offline_policy(TargetOfflinePolicy::Queue)
            .idempotency_key("idem")
            .correlation_id("corr")
            .root_task("root")
            .context_id("ctx")
            .target_identity("ag::ws::w::1")
            .completion_event(TaskCompletionEvent {
                enabled: true,
                ..Default::default()
            })
            .authorization(AuthorizationContext::default())
            .required_downstream_authority_hops(2)
            .originating_schedule_id("sched")
            .to_proto();
        assert_eq!(req.task_type, "job");
        assert_eq!(req.workspace, "ws");
        assert_eq!(req.launch_param_overrides.len(), 2);
        assert_eq!(req.metadata.len(), 2);
        assert_eq!(&req.payload[..], b"data");
        assert_eq!(req.priority(), TaskPriority::High);
        assert_eq!(req.retry_policy.as_ref().unwrap().max_attempts, 4);
        assert_eq!(req.task_class(), TaskClass::Batch);
        assert_eq!(req.parent_task_id, "parent");
        assert_eq!(req.target_offline_policy(), TargetOfflinePolicy::Queue);
        assert_eq!(req.idempotency_key, "idem");
        assert_eq!(req.correlation_id, "corr");
        assert_eq!(req.root_task_id, "root");
        assert_eq!(req.context_id, "ctx");
        assert_eq!(req.target_identity, "ag::ws::w::1");
        assert!(req.completion_event.as_ref().unwrap().enabled);
        assert!(req.authorization.is_some());
        assert_eq!(req.required_downstream_authority_hops, 2);
        assert_eq!(req.originating_schedule_id, "sched");
        assert!(req.request_id.is_empty());
    }

    #[test]
    fn validates_before_sending() {
        assert!(TaskSpec::new("t").validate().is_ok());
        assert!(TaskSpec::new("").validate().is_err());
        assert!(TaskSpec::new("t").workspace("a b").validate().is_err());
        assert!(
            TaskSpec::new("t")
                .target_implementation("x::y")
                .validate()
                .is_err()
        );
        assert!(TaskSpec::new("t").target_agent("nope").validate().is_err());
        let err = TaskSpec::new("t")
            .mode(TaskAssignmentMode::Pool)
            .validate()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn a_failed_create_is_rejected_with_its_code() {
        let err = CreatedTask::from_response(proto::CreateTaskResponse {
            success: false,
            error_code: "ERR_TASK_CREATE_FAILED".into(),
            error_message: "target not found".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected);
        assert_eq!(err.code(), Some("ERR_TASK_CREATE_FAILED"));
        assert!(err.message().contains("target not found"));
    }
}
