//! Progress (§2.10): a `ProgressReport` from an agent, task or service
//! becomes a `ProgressUpdate` on `pg::{workspace}` or `pg::us::{user}`,
//! fanned out to the live sessions that receive it by
//! [`context::progress`](crate::context::progress). A report naming a task
//! also emits a `TaskEvent` progress to the task's subscribers, so this
//! handler sits above the tasks component. There is no reply on success.

use aether_protocol::identity::PrincipalKind;
use aether_protocol::proto::{ProgressReport, ProgressUpdate, TaskProgressEvent, task_event};

use crate::context::Context;
use crate::context::handle::SessionHandle;
use crate::context::progress::deliver;
use crate::rate::TokenBucket;
use crate::reply::{ErrorReply, code};
use crate::tasks::{Tasks, Txn};

/// Handles a `ProgressReport` from `sender` (on `workspace`), rate limited
/// with the session's message bucket.
pub(crate) async fn report(
    cx: &Context,
    tasks: &Tasks,
    sender: &SessionHandle,
    workspace: &str,
    rate: Option<&mut TokenBucket>,
    r: ProgressReport,
) -> Result<(), ErrorReply> {
    if !matches!(
        sender.kind,
        PrincipalKind::Agent
            | PrincipalKind::UniqueTask
            | PrincipalKind::PooledTask
            | PrincipalKind::Service
    ) {
        return Err(ErrorReply::new(
            code::INVALID_PRINCIPAL,
            "only agents, tasks, and services can report progress",
        ));
    }
    if let Some(bucket) = rate
        && !bucket.try_take()
    {
        return Err(ErrorReply::new(code::RATE_LIMITED, "rate limit exceeded")
            .retryable(bucket.retry_after_ms()));
    }
    let now = crate::tasks::model::now_ms();
    let (ws, settle) = {
        let mut txn = Txn::begin(tasks);
        let task = (!r.task_id.is_empty())
            .then(|| txn.get(&r.task_id))
            .flatten();
        let ws = if workspace.is_empty() {
            task.as_ref()
                .map(|t| t.workspace.clone())
                .unwrap_or_default()
        } else {
            workspace.to_string()
        };
        if let Some(t) = &task {
            txn.publish(
                t,
                task_event::Event::Progress(TaskProgressEvent {
                    state: r.state.clone(),
                    progress: r.completion,
                    message: r.summary.clone(),
                    metadata: r.metadata.clone(),
                }),
            );
        }
        (ws, txn.finish())
    };
    let update = ProgressUpdate {
        source: sender
            .topic
            .clone()
            .unwrap_or_else(|| sender.identity.clone()),
        task_id: r.task_id,
        state: r.state,
        completion: r.completion,
        summary: r.summary,
        step: r.step,
        timestamp_ms: now,
        workspace: ws,
        request_id: r.request_id,
        metadata: r.metadata,
        recipient: r.recipient,
        kind: r.kind,
    };
    // Task events change nothing durable: this resolves at once.
    let _ = settle.settle().await;
    deliver(cx, update);
    Ok(())
}
