//! Blocking twins of the task operations, handles, listings and subscriptions.

use std::time::Duration;

use futures_util::StreamExt;

use super::Client;
use crate::clients::principal::PrincipalType;
use crate::error::Result;
use crate::ops::task::{
    CreatedTask, Hibernation, ProgressReport, SubscribeOptions, TaskFailure, TaskPage, TaskQuery,
    TaskSpec, TaskStream, WaitFor, WaitSpec,
};
use crate::proto::{TaskAssignment, TaskEvent, TaskInfo};

impl<P: PrincipalType> Client<P> {
    /// Creates a task and waits for the answer (see [`crate::Client::create_task`]).
    pub fn create_task(&self, spec: TaskSpec) -> Result<CreatedTask> {
        self.block_on(self.as_async().create_task(spec))
    }

    /// Creates a task without waiting for an answer.
    pub fn create_task_nowait(&self, spec: TaskSpec) -> Result<()> {
        self.block_on(self.as_async().create_task_nowait(spec))
    }

    /// One task (`NotFound` when missing or hidden).
    pub fn get_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().get_task(task_id))
    }

    /// One page of tasks.
    pub fn query_tasks(&self, query: TaskQuery) -> Result<TaskPage> {
        self.block_on(self.as_async().query_tasks(query))
    }

    /// Queues a failed or cancelled task again.
    pub fn retry_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().retry_task(task_id))
    }

    /// Cancels a task.
    pub fn cancel_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().cancel_task(task_id, reason))
    }

    /// Marks a task completed.
    pub fn complete_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().complete_task(task_id))
    }

    /// Marks a task failed.
    pub fn fail_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().fail_task(task_id, reason))
    }

    /// Marks a task failed, with a status code and retry-after (see
    /// [`crate::Client::fail_task_with`]).
    pub fn fail_task_with(&self, task_id: &str, failure: TaskFailure) -> Result<TaskInfo> {
        self.block_on(self.as_async().fail_task_with(task_id, failure))
    }

    /// Pauses a task.
    pub fn pause_task(&self, task_id: &str, wait: WaitSpec) -> Result<TaskInfo> {
        self.block_on(self.as_async().pause_task(task_id, wait))
    }

    /// Makes a task wait for others.
    pub fn wait_for_task(&self, task_id: &str, wait: WaitFor) -> Result<TaskInfo> {
        self.block_on(self.as_async().wait_for_task(task_id, wait))
    }

    /// Resumes a task.
    pub fn resume_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().resume_task(task_id))
    }

    /// Rejects a task.
    pub fn reject_task(&self, task_id: &str, reason: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().reject_task(task_id, reason))
    }

    /// Claims a task.
    pub fn claim_task(&self, task_id: &str) -> Result<TaskInfo> {
        self.block_on(self.as_async().claim_task(task_id))
    }

    /// Hibernates a task.
    pub fn hibernate_until(&self, task_id: &str, hibernation: Hibernation) -> Result<TaskInfo> {
        self.block_on(self.as_async().hibernate_until(task_id, hibernation))
    }

    /// Reports progress (fire-and-forget).
    pub fn report_progress(&self, report: ProgressReport) -> Result<()> {
        self.block_on(self.as_async().report_progress(report))
    }

    /// Every task matching `query`, page after page, as a blocking iterator.
    pub fn query_tasks_iter(&self, query: TaskQuery) -> TaskIter {
        TaskIter {
            stream: self.as_async().query_tasks_stream(query),
            client: self.erase(),
        }
    }

    /// Subscribes to a task's events (survives reconnects; see
    /// [`crate::tasks::TaskSubscription`]).
    pub fn subscribe_to_task(
        &self,
        task_id: &str,
        options: SubscribeOptions,
    ) -> Result<TaskSubscription> {
        let inner = self.block_on(self.as_async().subscribe_to_task(task_id, options))?;
        Ok(TaskSubscription {
            inner: Some(inner),
            client: self.erase(),
        })
    }

    /// A handle on one task.
    pub fn task(&self, task_id: impl Into<String>) -> TaskHandle {
        TaskHandle {
            client: self.erase(),
            task_id: task_id.into(),
        }
    }

    /// A handle on the task of an assignment.
    pub fn task_for(&self, assignment: &TaskAssignment) -> TaskHandle {
        self.task(assignment.task_id.clone())
    }
}

/// A blocking iterator over every task of a listing.
pub struct TaskIter {
    stream: TaskStream,
    client: Client,
}

impl Iterator for TaskIter {
    type Item = Result<TaskInfo>;
    fn next(&mut self) -> Option<Result<TaskInfo>> {
        let stream = &mut self.stream;
        self.client.block_on(stream.next())
    }
}

impl std::fmt::Debug for TaskIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskIter").finish_non_exhaustive()
    }
}

/// A task's events as a blocking iterator; survives reconnects and
/// unsubscribes when dropped (see [`crate::tasks::TaskSubscription`]).
#[derive(Debug)]
pub struct TaskSubscription {
    inner: Option<crate::tasks::TaskSubscription>,
    client: Client,
}

impl TaskSubscription {
    /// Waits at most `timeout` for the next event; `None` when none came in
    /// time or the subscription ended.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<TaskEvent>> {
        let inner = self.inner.as_mut()?;
        self.client.block_on(async {
            tokio::time::timeout(timeout, inner.next())
                .await
                .ok()
                .flatten()
        })
    }

    /// The current subscription id (changes after a reconnect).
    pub fn subscription_id(&self) -> &str {
        self.inner.as_ref().map_or("", |s| s.subscription_id())
    }

    /// How many times the subscription was made again after a reconnect.
    pub fn resubscribes(&self) -> u64 {
        self.inner.as_ref().map_or(0, |s| s.resubscribes())
    }

    /// Unsubscribes and waits for the gateway's answer.
    pub fn unsubscribe(mut self) -> Result<()> {
        match self.inner.take() {
            Some(inner) => self.client.block_on(inner.unsubscribe()),
            None => Ok(()),
        }
    }
}

/// `next()` blocks until the next event, or returns `None` once the
/// subscription has ended (the client closed, or resubscribing failed
/// after one error item).
impl Iterator for TaskSubscription {
    type Item = Result<TaskEvent>;
    fn next(&mut self) -> Option<Result<TaskEvent>> {
        let inner = self.inner.as_mut()?;
        self.client.block_on(inner.next())
    }
}

/// Blocking twin of [`crate::tasks::TaskHandle`].
#[derive(Clone, Debug)]
pub struct TaskHandle {
    client: Client,
    task_id: String,
}

impl TaskHandle {
    /// The task's id.
    pub fn id(&self) -> &str {
        &self.task_id
    }

    /// The task as the gateway has it now.
    pub fn info(&self) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().get_task(&self.task_id))
    }

    /// Claims the task.
    pub fn claim(&self) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().claim_task(&self.task_id))
    }

    /// Marks the task completed.
    pub fn complete(&self) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().complete_task(&self.task_id))
    }

    /// Marks the task failed.
    pub fn fail(&self, reason: &str) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().fail_task(&self.task_id, reason))
    }

    /// Marks the task failed, with a status code and retry-after.
    pub fn fail_with(&self, failure: TaskFailure) -> Result<TaskInfo> {
        self.client.block_on(
            self.client
                .as_async()
                .fail_task_with(&self.task_id, failure),
        )
    }

    /// Cancels the task.
    pub fn cancel(&self, reason: &str) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().cancel_task(&self.task_id, reason))
    }

    /// Queues the failed or cancelled task again.
    pub fn retry(&self) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().retry_task(&self.task_id))
    }

    /// Rejects the task.
    pub fn reject(&self, reason: &str) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().reject_task(&self.task_id, reason))
    }

    /// Pauses the task.
    pub fn pause(&self, wait: WaitSpec) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().pause_task(&self.task_id, wait))
    }

    /// Makes the task wait for others.
    pub fn wait_for(&self, wait: WaitFor) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().wait_for_task(&self.task_id, wait))
    }

    /// Resumes the task.
    pub fn resume(&self) -> Result<TaskInfo> {
        self.client
            .block_on(self.client.as_async().resume_task(&self.task_id))
    }

    /// Hibernates the task.
    pub fn hibernate_until(&self, hibernation: Hibernation) -> Result<TaskInfo> {
        self.client.block_on(
            self.client
                .as_async()
                .hibernate_until(&self.task_id, hibernation),
        )
    }

    /// Reports progress about this task.
    pub fn progress(&self, report: ProgressReport) -> Result<()> {
        self.client
            .report_progress(report.task_id(self.task_id.clone()))
    }

    /// The task's events as a blocking iterator.
    pub fn subscribe(&self, options: SubscribeOptions) -> Result<TaskSubscription> {
        self.client.subscribe_to_task(&self.task_id, options)
    }
}
