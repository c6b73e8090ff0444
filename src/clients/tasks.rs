//! Tasks on the [`Client`] core (every principal may use them): create,
//! query, operate, report progress, subscribe.

use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::core::unexpected;
use crate::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::OpRequest;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    self, TaskInfo, task_operation::OpType as TaskOp, task_query::OpType as QueryOp,
};
use crate::tasks::{
    CreatedTask, Hibernation, ProgressReport, SubscribeOptions, TaskHandle, TaskPage, TaskQuery,
    TaskSpec, TaskSubscription, WaitFor, WaitSpec, refused,
};

/// Every task of a listing, page after page (see
/// [`Client::query_tasks_stream`]).
pub type TaskStream = BoxStream<'static, Result<TaskInfo>>;

impl Client {
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
        let mut req = OpRequest::awaited("create_task", Up::CreateTask(Box::new(spec.to_proto())))
            .idempotent(spec.is_safe_to_repeat());
        if let Some(t) = spec.call_timeout() {
            req = req.timeout(t);
        }
        match self.reply(req).await? {
            Down::CreateTask(r) => CreatedTask::from_response(*r),
            other => Err(unexpected("create_task", &other)),
        }
    }

    /// Creates a task without waiting for an answer (the gateway sends
    /// none; a refusal may reach `on_error`). Waits only for room in the
    /// outbound queue.
    pub async fn create_task_nowait(&self, spec: TaskSpec) -> Result<()> {
        spec.validate()?;
        let req =
            OpRequest::fire_and_forget("create_task", Up::CreateTask(Box::new(spec.to_proto())));
        self.call(req).await.map(|_| ())
    }

    /// One task. A task that does not exist, or that the caller may not
    /// see, is [`NotFound`](ErrorKind::NotFound).
    pub async fn get_task(&self, task_id: &str) -> Result<TaskInfo> {
        check_id(task_id)?;
        let resp = self
            .task_query(QueryOp::Get, task_id.to_string(), None)
            .await?;
        resp.task
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("task {task_id} not found")))
    }

    /// One page of tasks matching `query`.
    pub async fn query_tasks(&self, query: TaskQuery) -> Result<TaskPage> {
        let resp = self
            .task_query(QueryOp::List, String::new(), Some(query.to_proto()))
            .await?;
        Ok(TaskPage::from_response(resp))
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
        self.task_op(TaskOp::Retry, task_id, String::new(), None)
            .await
    }

    /// Cancels a task that has not ended.
    pub async fn cancel_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Cancel, task_id, reason.to_string(), None)
            .await
    }

    /// Marks a task completed.
    pub async fn complete_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Complete, task_id, String::new(), None)
            .await
    }

    /// Marks a task failed with `reason` (with a retry policy, the gateway
    /// may queue it again later).
    pub async fn fail_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Fail, task_id, reason.to_string(), None)
            .await
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
        self.task_op(TaskOp::Pause, task_id, reason, Some(spec))
            .await
    }

    /// Makes a task wait for other tasks (`waiting_dependency`); it runs
    /// again when all (or with [`WaitFor::any`], any) of them have ended.
    pub async fn wait_for_task(&self, task_id: &str, wait: WaitFor) -> Result<TaskInfo> {
        let (spec, reason) = wait.into_parts()?;
        self.task_op(TaskOp::WaitFor, task_id, reason, Some(spec))
            .await
    }

    /// Resumes a waiting or hibernated task (`running`).
    pub async fn resume_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Resume, task_id, String::new(), None)
            .await
    }

    /// Rejects a task that has not started running.
    pub async fn reject_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Reject, task_id, reason.to_string(), None)
            .await
    }

    /// Claims a task (it becomes `running`): what a worker does on
    /// receiving an assignment. Claiming twice is harmless.
    pub async fn claim_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.task_op(TaskOp::Claim, task_id, String::new(), None)
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
        self.task_op(TaskOp::Pause, task_id, reason, Some(spec))
            .await
    }

    /// Reports progress (fire-and-forget: waits only for room in the
    /// outbound queue). Subscribers of the task see a `progress` event;
    /// progress listeners (`on_progress`) of the workspace, or the
    /// report's recipient, get a `ProgressUpdate`.
    pub async fn report_progress(&self, report: ProgressReport) -> Result<()> {
        let req = OpRequest::fire_and_forget("progress", Up::Progress(Box::new(report.to_proto())));
        self.call(req).await.map(|_| ())
    }

    /// Subscribes to a task's events, as a `Stream` that survives
    /// reconnects (see [`TaskSubscription`]). A missing task is
    /// [`NotFound`](ErrorKind::NotFound).
    pub async fn subscribe_to_task(
        &self,
        task_id: &str,
        options: SubscribeOptions,
    ) -> Result<TaskSubscription> {
        TaskSubscription::start(self, task_id, options).await
    }

    /// A handle on one task, with its operations as methods.
    pub fn task(&self, task_id: impl Into<String>) -> TaskHandle {
        TaskHandle::new(self.clone(), task_id.into())
    }

    /// The reference SDK's name for [`on_task_event`](Self::on_task_event):
    /// every task event of every subscription of this client.
    pub fn register_task_event_handler<F, Fut>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_task_event(f)
    }

    /// Runs an awaited operation and returns its reply.
    pub(crate) async fn reply(&self, req: OpRequest) -> Result<Down> {
        let name = req.name();
        self.call(req)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("{name}: no reply")))
    }

    async fn task_query(
        &self,
        op: QueryOp,
        task_id: String,
        filter: Option<proto::TaskFilter>,
    ) -> Result<proto::TaskQueryResponse> {
        let req = OpRequest::awaited(
            "task_query",
            Up::TaskQuery(Box::new(proto::TaskQuery {
                op: op as i32,
                task_id,
                filter,
                request_id: String::new(),
            })),
        )
        .idempotent(true);
        match self.reply(req).await? {
            Down::TaskQuery(r) if r.success => Ok(*r),
            Down::TaskQuery(r) => Err(refused("task_query", &r.error)),
            other => Err(unexpected("task_query", &other)),
        }
    }

    async fn task_op(
        &self,
        op: TaskOp,
        task_id: &str,
        reason: String,
        wait_spec: Option<proto::WaitSpec>,
    ) -> Result<TaskInfo> {
        check_id(task_id)?;
        let req = OpRequest::awaited(
            "task_op",
            Up::TaskOp(Box::new(proto::TaskOperation {
                op: op as i32,
                task_id: task_id.to_string(),
                reason,
                request_id: String::new(),
                wait_spec,
            })),
        )
        // CLAIM is idempotent at the gateway; the other operations are not.
        .idempotent(op == TaskOp::Claim);
        match self.reply(req).await? {
            Down::TaskOp(r) if r.success => match r.task {
                Some(task) => Ok(task),
                None => self.get_task(task_id).await,
            },
            Down::TaskOp(r) => {
                let why = if r.error.is_empty() {
                    &r.message
                } else {
                    &r.error
                };
                Err(refused("task_op", why))
            }
            other => Err(unexpected("task_op", &other)),
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
