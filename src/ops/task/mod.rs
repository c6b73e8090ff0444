//! Tasks: what to create ([`TaskSpec`]), what to list ([`TaskQuery`]), what
//! a paused task waits for ([`WaitSpec`], [`WaitFor`], [`Hibernation`]),
//! progress reports ([`ProgressReport`]), event streams
//! ([`TaskSubscription`]) and typed handles ([`TaskHandle`]).
//!
//! The operations themselves are methods of every client
//! ([`Client<P>`](crate::Client) for any principal type): `create_task`, `get_task`,
//! `query_tasks`, `claim_task`, `complete_task`, `fail_task`,
//! `fail_task_with`, `cancel_task`, `retry_task`, `pause_task`, `wait_for_task`,
//! `resume_task`, `reject_task`, `hibernate_until`, `report_progress`,
//! `subscribe_to_task`. A worker typically claims what it is assigned,
//! reports progress and completes:
//!
//! ```no_run
//! # async fn demo() -> aether_client::Result<()> {
//! use aether_client::AgentClient;
//! use aether_client::tasks::{ProgressReport, TaskSpec};
//!
//! let worker = AgentClient::builder("ws", "summarizer", "w1")?.build();
//! let w = worker.clone();
//! worker.on_task_assignment(move |assignment| {
//!     let task = w.task_for(&assignment);
//!     async move {
//!         let _ = task.claim().await;
//!         let _ = task.progress(ProgressReport::new("").completion(0.5)).await;
//!         let _ = task.complete().await;
//!     }
//! });
//! worker.connect().await?;
//! worker.create_task(TaskSpec::new("summarize").target_implementation("summarizer")).await?;
//! # Ok(()) }
//! ```
//!
//! Queries are safe to repeat (the retry layer may resend them);
//! operations and creates are not, except a create with an idempotency key
//! and CLAIM.
//!
//! A task created with a retry policy ([`Retry`]) is run again by the
//! gateway after a failed attempt; a worker may say more about a failure
//! ([`TaskFailure`]: a status code, a retry-after), and [`TaskInfoExt`]
//! reads the attempt count and the next attempt's time. A task with a
//! [`TaskCompletionEvent`] tells the workflow engine how it ended (an
//! EVENT message, see `on_event`).

mod handle;
mod info;
mod methods;
mod ops;
mod progress;
mod query;
mod retry;
mod spec;
mod subscription;
mod wait;

pub use methods::TaskStream;

pub use handle::TaskHandle;
pub use info::{HIBERNATION_CHECKPOINT_KEY, NEXT_ATTEMPT_AT_KEY, TaskInfoExt};
pub use progress::ProgressReport;
pub use query::{TaskPage, TaskQuery};
pub use retry::{FAILURE_RETRY_AFTER_KEY, FAILURE_STATUS_CODE_KEY, Retry, TaskFailure};
pub use spec::{CreatedTask, TaskSpec};
pub use subscription::{SubscribeOptions, TaskSubscription};
pub use wait::{Hibernation, WaitFor, WaitSpec};

pub use crate::proto::task_event::Event as TaskEventKind;
pub use crate::proto::{
    BackoffStrategy, ProgressKind, ProgressUpdate, RetryPolicy, TargetOfflinePolicy,
    TaskAssignment, TaskAssignmentMode, TaskClass, TaskCompletionEvent, TaskEvent, TaskInfo,
    TaskPriority, TaskStatus,
};

/// Whether a task status is final (completed, failed, cancelled, rejected).
/// Failed and cancelled tasks can still be retried.
pub fn is_terminal(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled | TaskStatus::Rejected
    )
}
