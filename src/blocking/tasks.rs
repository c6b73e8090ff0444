//! Blocking twins of the task operations, handles, listings and subscriptions.

use std::time::Duration;

use futures_util::StreamExt;

use super::Client;
use crate::error::Result;
use crate::proto::{TaskAssignment, TaskEvent, TaskInfo};
use crate::tasks::{
    CreatedTask, Hibernation, ProgressReport, SubscribeOptions, TaskPage, TaskQuery, TaskSpec,
    TaskStream, WaitFor, WaitSpec,
};

/// `fn name(args) -> T;` becomes a method that blocks on the async method
/// of the same name.
macro_rules! blocking_twins {
    ($( $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) -> $ret:ty; )*) => {
        $(
            $(#[$m])*
            pub fn $name(&self $(, $arg: $t)*) -> $ret {
                self.block_on(self.client.$name($($arg),*))
            }
        )*
    };
}

impl Client {
    blocking_twins! {
        /// Creates a task and waits for the answer (see [`crate::Client::create_task`]).
        fn create_task(spec: TaskSpec) -> Result<CreatedTask>;
        /// Creates a task without waiting for an answer.
        fn create_task_nowait(spec: TaskSpec) -> Result<()>;
        /// One task (`NotFound` when missing or hidden).
        fn get_task(task_id: &str) -> Result<TaskInfo>;
        /// One page of tasks.
        fn query_tasks(query: TaskQuery) -> Result<TaskPage>;
        /// Queues a failed or cancelled task again.
        fn retry_task(task_id: &str) -> Result<TaskInfo>;
        /// Cancels a task.
        fn cancel_task(task_id: &str, reason: &str) -> Result<TaskInfo>;
        /// Marks a task completed.
        fn complete_task(task_id: &str) -> Result<TaskInfo>;
        /// Marks a task failed.
        fn fail_task(task_id: &str, reason: &str) -> Result<TaskInfo>;
        /// Pauses a task.
        fn pause_task(task_id: &str, wait: WaitSpec) -> Result<TaskInfo>;
        /// Makes a task wait for others.
        fn wait_for_task(task_id: &str, wait: WaitFor) -> Result<TaskInfo>;
        /// Resumes a task.
        fn resume_task(task_id: &str) -> Result<TaskInfo>;
        /// Rejects a task.
        fn reject_task(task_id: &str, reason: &str) -> Result<TaskInfo>;
        /// Claims a task.
        fn claim_task(task_id: &str) -> Result<TaskInfo>;
        /// Hibernates a task.
        fn hibernate_until(task_id: &str, hibernation: Hibernation) -> Result<TaskInfo>;
        /// Reports progress (fire-and-forget).
        fn report_progress(report: ProgressReport) -> Result<()>;
    }

    /// Every task matching `query`, page after page, as a blocking iterator.
    pub fn query_tasks_iter(&self, query: TaskQuery) -> TaskIter {
        TaskIter {
            stream: self.client.query_tasks_stream(query),
            client: self.clone(),
        }
    }

    /// Subscribes to a task's events (survives reconnects; see
    /// [`crate::tasks::TaskSubscription`]).
    pub fn subscribe_to_task(
        &self,
        task_id: &str,
        options: SubscribeOptions,
    ) -> Result<TaskSubscription> {
        let inner = self.block_on(self.client.subscribe_to_task(task_id, options))?;
        Ok(TaskSubscription {
            inner,
            client: self.clone(),
        })
    }

    /// A handle on one task.
    pub fn task(&self, task_id: impl Into<String>) -> TaskHandle {
        TaskHandle {
            client: self.clone(),
            task_id: task_id.into(),
        }
    }

    /// A handle on the task of an assignment.
    pub fn task_for(&self, assignment: &TaskAssignment) -> TaskHandle {
        self.task(assignment.task_id.clone())
    }

    /// The reference SDK's name for `on_task_event`.
    pub fn register_task_event_handler<F>(&self, f: F) -> &Self
    where
        F: Fn(TaskEvent) + Send + Sync + 'static,
    {
        self.on_task_event(f)
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
    inner: crate::tasks::TaskSubscription,
    client: Client,
}

impl TaskSubscription {
    /// Waits at most `timeout` for the next event.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<TaskEvent> {
        let inner = &mut self.inner;
        self.client.block_on(async {
            tokio::time::timeout(timeout, inner.next())
                .await
                .ok()
                .flatten()
        })
    }

    /// The current subscription id (changes after a reconnect).
    pub fn subscription_id(&self) -> String {
        self.inner.subscription_id()
    }

    /// How many times the subscription was made again after a reconnect.
    pub fn resubscribes(&self) -> u64 {
        self.inner.resubscribes()
    }

    /// Frames skipped because the subscription lagged.
    pub fn missed(&self) -> u64 {
        self.inner.missed()
    }

    /// Why the iterator ended early, if it did.
    pub fn error(&self) -> Option<crate::Error> {
        self.inner.error()
    }

    /// Unsubscribes and waits for the gateway's answer.
    pub fn unsubscribe(self) -> Result<()> {
        let TaskSubscription { inner, client } = self;
        client.block_on(inner.unsubscribe())
    }
}

/// `next()` blocks until the next event, or returns `None` once the
/// subscription has ended (the client closed, or resubscribing failed).
impl Iterator for TaskSubscription {
    type Item = TaskEvent;
    fn next(&mut self) -> Option<TaskEvent> {
        let inner = &mut self.inner;
        self.client.block_on(inner.next())
    }
}

/// `fn name(args) -> T => target;` becomes a method that blocks on
/// `Client::target(task_id, args)`.
macro_rules! handle_twins {
    ($( $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) -> $ret:ty => $target:ident; )*) => {
        $(
            $(#[$m])*
            pub fn $name(&self $(, $arg: $t)*) -> $ret {
                self.client.block_on(self.client.as_async().$target(&self.task_id $(, $arg)*))
            }
        )*
    };
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

    handle_twins! {
        /// The task as the gateway has it now.
        fn info() -> Result<TaskInfo> => get_task;
        /// Claims the task.
        fn claim() -> Result<TaskInfo> => claim_task;
        /// Marks the task completed.
        fn complete() -> Result<TaskInfo> => complete_task;
        /// Marks the task failed.
        fn fail(reason: &str) -> Result<TaskInfo> => fail_task;
        /// Cancels the task.
        fn cancel(reason: &str) -> Result<TaskInfo> => cancel_task;
        /// Queues the failed or cancelled task again.
        fn retry() -> Result<TaskInfo> => retry_task;
        /// Rejects the task.
        fn reject(reason: &str) -> Result<TaskInfo> => reject_task;
        /// Pauses the task.
        fn pause(wait: WaitSpec) -> Result<TaskInfo> => pause_task;
        /// Makes the task wait for others.
        fn wait_for(wait: WaitFor) -> Result<TaskInfo> => wait_for_task;
        /// Resumes the task.
        fn resume() -> Result<TaskInfo> => resume_task;
        /// Hibernates the task.
        fn hibernate_until(hibernation: Hibernation) -> Result<TaskInfo> => hibernate_until;
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
