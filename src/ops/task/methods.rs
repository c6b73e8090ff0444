//! The task methods, on every client: create, query, operate, report
//! progress, subscribe.

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::handle::TaskHandle;
use super::ops::{CreateTask, GetTask, QueryTasks, ReportProgress, TaskOp};
use super::progress::ProgressReport;
use super::query::{TaskPage, TaskQuery};
use super::retry::TaskFailure;
use super::spec::{CreatedTask, TaskSpec};
use super::subscription::{SubscribeOptions, TaskSubscription};
use super::wait::{Hibernation, WaitFor, WaitSpec};
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::{TaskAssignment, TaskInfo, task_operation::OpType as TaskOpType};
use crate::stack::NoWait;

/// Every task of a listing, page after page (see
/// [`Client::query_tasks_stream`]).
pub type TaskStream = BoxStream<'static, Result<TaskInfo>>;

impl<P: PrincipalType> Client<P> {
    /// Creates a task and waits for the gateway's answer.
    ///
    /// A refusal (`success = false`) is an error of kind
    /// [`Rejected`](ErrorKind::Rejected) whose [`code`](Error::code) is the
    /// gateway's `error_code` (e.g. `ERR_TASK_CREATE_FAILED`). The create is
    /// retried by the retry layer only when it carries an idempotency key.
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use aether_client::tasks::TaskSpec;
    /// let task = agent
    ///     .create_task(TaskSpec::new("summarize").target_implementation("summarizer").payload("doc"))
    ///     .await?;
    /// println!("{} is {}", task.task_id, task.status);
    /// # Ok(()) }
    /// ```
    pub async fn create_task(&self, spec: TaskSpec) -> Result<CreatedTask> {
        spec.validate()?;
        self.run(CreateTask(spec)).await
    }

    /// Creates a task without waiting for an answer (the gateway sends
    /// none; a refusal may reach `on_error`). Waits only for room in the
    /// outbound queue.
    pub async fn create_task_nowait(&self, spec: TaskSpec) -> Result<()> {
        spec.validate()?;
        self.run(NoWait(CreateTask(spec))).await
    }

    /// One task. A task that does not exist, or that the caller may not
    /// see, is [`NotFound`](ErrorKind::NotFound).
    pub async fn get_task(&self, task_id: &str) -> Result<TaskInfo> {
        check_id(task_id)?;
        self.run(GetTask(task_id.to_string())).await
    }

    /// One page of tasks matching `query`.
    pub async fn query_tasks(&self, query: TaskQuery) -> Result<TaskPage> {
        self.run(QueryTasks(query)).await
    }

    /// Every task matching `query`, fetching the following pages as the
    /// stream is read.
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use aether_client::tasks::TaskQuery;
    /// use futures_util::TryStreamExt;
    /// let all: Vec<_> = agent.query_tasks_stream(TaskQuery::new().limit(100)).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn query_tasks_stream(&self, query: TaskQuery) -> TaskStream {
        let client = self.clone();
        stream::try_unfold(Some(query), move |next| {
            let client = client.clone();
            async move {
                let Some(query) = next else {
                    return Ok(None);
                };
                let page = client.query_tasks(query.clone()).await?;
                let next = if !page.has_more() {
                    None
                } else if page.next_page_token == query.current_page_token() {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        "query_tasks: the gateway returned the same page token again",
                    ));
                } else {
                    Some(query.page_token(page.next_page_token.clone()))
                };
                Ok(Some((page.tasks, next)))
            }
        })
        .map_ok(|tasks| stream::iter(tasks.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Queues a failed or cancelled task again (`pending`).
    pub async fn retry_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Retry, task_id, String::new(), None)
            .await
    }

    /// Cancels a task that has not ended.
    pub async fn cancel_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Cancel, task_id, reason.to_string(), None)
            .await
    }

    /// Marks a task completed.
    pub async fn complete_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Complete, task_id, String::new(), None)
            .await
    }

    /// Marks a task failed with `reason` (with a retry policy, the gateway
    /// may queue it again later: the task returned is then QUEUED, see
    /// [`TaskInfoExt`](super::TaskInfoExt)).
    pub async fn fail_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Fail, task_id, reason.to_string(), None)
            .await
    }

    /// Marks a task failed, with the status code and retry-after the
    /// worker got (they decide whether and when the gateway retries it).
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use std::time::Duration;
    /// use aether_client::tasks::{TaskFailure, TaskInfoExt};
    /// let task = agent
    ///     .fail_task_with(
    ///         "task-1",
    ///         TaskFailure::new("upstream busy").status_code(503).retry_after(Duration::from_secs(2)),
    ///     )
    ///     .await?;
    /// if let Some(at) = task.next_attempt_at_unix_ms() {
    ///     println!("attempt {} failed; the next starts at {at}", task.attempt);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn fail_task_with(&self, task_id: &str, failure: TaskFailure) -> Result<TaskInfo> {
        let (reason, spec) = failure.into_parts();
        self.task_op(TaskOpType::Fail, task_id, reason, spec).await
    }

    /// Pauses a running task until what `wait` describes happens.
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use aether_client::tasks::WaitSpec;
    /// agent.pause_task("task-1", WaitSpec::input().reason("needs approval")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn pause_task(&self, task_id: &str, wait: WaitSpec) -> Result<TaskInfo> {
        let (spec, reason) = wait.into_parts()?;
        self.task_op(TaskOpType::Pause, task_id, reason, Some(spec))
            .await
    }

    /// Makes a task wait for other tasks (`waiting_dependency`); it runs
    /// again when all (or with [`WaitFor::any`], any) of them have ended.
    pub async fn wait_for_task(&self, task_id: &str, wait: WaitFor) -> Result<TaskInfo> {
        let (spec, reason) = wait.into_parts()?;
        self.task_op(TaskOpType::WaitFor, task_id, reason, Some(spec))
            .await
    }

    /// Resumes a waiting or hibernated task (`running`).
    pub async fn resume_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Resume, task_id, String::new(), None)
            .await
    }

    /// Rejects a task that has not started running.
    pub async fn reject_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Reject, task_id, reason.to_string(), None)
            .await
    }

    /// Claims a task (it becomes `running`): what a worker does on
    /// receiving an assignment. Claiming twice is harmless.
    pub async fn claim_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOpType::Claim, task_id, String::new(), None)
            .await
    }

    /// Hibernates a running task until woken; it resumes from the
    /// checkpoint named in `hibernation` (save it first).
    pub async fn hibernate_until(
        &self,
        task_id: &str,
        hibernation: Hibernation,
    ) -> Result<TaskInfo> {
        let (spec, reason) = hibernation.into_parts()?;
        self.task_op(TaskOpType::Pause, task_id, reason, Some(spec))
            .await
    }

    /// Reports progress (fire-and-forget: waits only for room in the
    /// outbound queue). Subscribers of the task see a `progress` event;
    /// progress listeners (`on_progress`) of the workspace, or the
    /// report's recipient, get a `ProgressUpdate`.
    pub async fn report_progress(&self, report: ProgressReport) -> Result<()> {
        self.run(ReportProgress(report.to_proto())).await
    }

    /// Subscribes to a task's events, as a `Stream` that survives
    /// reconnects (see [`TaskSubscription`]). A missing task is
    /// [`NotFound`](ErrorKind::NotFound).
    pub async fn subscribe_to_task(
        &self,
        task_id: &str,
        options: SubscribeOptions,
    ) -> Result<TaskSubscription> {
        TaskSubscription::start(self.erase(), task_id, options).await
    }

    /// A handle on one task, with its operations as methods.
    pub fn task(&self, task_id: impl Into<String>) -> TaskHandle {
        TaskHandle::new(self.erase(), task_id.into())
    }

    /// A handle on the task of an assignment pushed to this client.
    pub fn task_for(&self, assignment: &TaskAssignment) -> TaskHandle {
        self.task(assignment.task_id.clone())
    }

    /// Runs one task operation; the task after it (fetched when the
    /// gateway's answer does not include it).
    async fn task_op(
        &self,
        op: TaskOpType,
        task_id: &str,
        reason: String,
        wait_spec: Option<crate::proto::WaitSpec>,
    ) -> Result<TaskInfo> {
        check_id(task_id)?;
        match self
            .run(TaskOp::new(op, task_id, reason, wait_spec))
            .await?
        {
            Some(task) => Ok(task),
            None => self.get_task(task_id).await,
        }
    }
}

fn check_id(task_id: &str) -> Result<()> {
    if task_id.is_empty() {
        Err(Error::invalid("a task id is required"))
    } else {
        Ok(())
    }
}
