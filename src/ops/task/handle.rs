//! [`TaskHandle`]: one task and a client, with the task's operations as methods.

use super::progress::ProgressReport;
use super::retry::TaskFailure;
use super::subscription::{SubscribeOptions, TaskSubscription};
use super::wait::{Hibernation, WaitFor, WaitSpec};
use crate::clients::Client;
use crate::error::Result;
use crate::proto::TaskInfo;

/// A task id bound to the client that works on it (whatever its principal
/// type: every principal may operate on tasks). Cheap to clone.
///
/// ```no_run
/// # async fn demo(worker: aether_client::AgentClient, assignment: aether_client::proto::TaskAssignment) -> aether_client::Result<()> {
/// use aether_client::tasks::ProgressReport;
/// let task = worker.task_for(&assignment);
/// task.claim().await?;
/// task.progress(ProgressReport::new("").completion(0.5)).await?;
/// task.complete().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TaskHandle {
    client: Client,
    task_id: String,
}

impl TaskHandle {
    pub(crate) fn new(client: Client, task_id: String) -> Self {
        TaskHandle { client, task_id }
    }

    /// The task's id.
    pub fn id(&self) -> &str {
        &self.task_id
    }

    /// The client the operations go through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The task as the gateway has it now.
    pub async fn info(&self) -> Result<TaskInfo> {
        self.client.get_task(&self.task_id).await
    }

    /// Claims the task (`running`).
    pub async fn claim(&self) -> Result<TaskInfo> {
        self.client.claim_task(&self.task_id).await
    }

    /// Reports progress; the report's task id is set to this task.
    pub async fn progress(&self, report: ProgressReport) -> Result<()> {
        self.client
            .report_progress(report.task_id(self.task_id.clone()))
            .await
    }

    /// Marks the task completed.
    pub async fn complete(&self) -> Result<TaskInfo> {
        self.client.complete_task(&self.task_id).await
    }

    /// Marks the task failed.
    pub async fn fail(&self, reason: &str) -> Result<TaskInfo> {
        self.client.fail_task(&self.task_id, reason).await
    }

    /// Marks the task failed, with a status code and retry-after.
    pub async fn fail_with(&self, failure: TaskFailure) -> Result<TaskInfo> {
        self.client.fail_task_with(&self.task_id, failure).await
    }

    /// Cancels the task.
    pub async fn cancel(&self, reason: &str) -> Result<TaskInfo> {
        self.client.cancel_task(&self.task_id, reason).await
    }

    /// Queues the failed or cancelled task again.
    pub async fn retry(&self) -> Result<TaskInfo> {
        self.client.retry_task(&self.task_id).await
    }

    /// Rejects the task.
    pub async fn reject(&self, reason: &str) -> Result<TaskInfo> {
        self.client.reject_task(&self.task_id, reason).await
    }

    /// Pauses the task.
    pub async fn pause(&self, wait: WaitSpec) -> Result<TaskInfo> {
        self.client.pause_task(&self.task_id, wait).await
    }

    /// Makes the task wait for others.
    pub async fn wait_for(&self, wait: WaitFor) -> Result<TaskInfo> {
        self.client.wait_for_task(&self.task_id, wait).await
    }

    /// Resumes the task.
    pub async fn resume(&self) -> Result<TaskInfo> {
        self.client.resume_task(&self.task_id).await
    }

    /// Hibernates the task.
    pub async fn hibernate_until(&self, hibernation: Hibernation) -> Result<TaskInfo> {
        self.client
            .hibernate_until(&self.task_id, hibernation)
            .await
    }

    /// The task's events as a `Stream` that survives reconnects.
    pub async fn subscribe(&self, options: SubscribeOptions) -> Result<TaskSubscription> {
        self.client.subscribe_to_task(&self.task_id, options).await
    }
}
