//! What happens when a task changes status: timestamps, token revocation,
//! the status notification to its creator (§2.10), `TaskEvent`s
//! (status_changed on the task, child_lifecycle on its parent, §5.9), the
//! completion event of a finished task, the wake-up of tasks waiting on it
//! (§5.8), and the failure path with its retry decision.
//!
//! A failed attempt with retries left is not a failed task: the task goes
//! back to `pending` (wire QUEUED) with its next attempt scheduled, its
//! assignment cleared and `error` kept, announced by a `status_changed`
//! event to QUEUED whose reason names the failure and the next attempt,
//! and a `progress` event `retry_scheduled` whose metadata carries
//! `attempt`, `max_attempts`, `next_attempt_at_unix_ms` and `delay_ms`.
//! Only a final failure reaches `failed`, revokes tokens, wakes dependants
//! and publishes a completion event.

use std::collections::HashMap;

use aether_protocol::proto::{
    ProgressKind, ProgressUpdate, TaskChildLifecycleEvent, TaskEvent, TaskProgressEvent,
    TaskStatusChangedEvent, task_event,
};

use super::Txn;
use super::index::Key;
use super::model::{Status, TaskRecord};
use super::retry::{self, Failure, Verdict};
use crate::stats::Stats;

/// `ProgressUpdate.source` of the gateway's own notifications.
const GATEWAY_SOURCE: &str = "aether-gateway";

/// How a status change is announced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Announce<'a> {
    /// `TaskStatusChangedEvent.reason`.
    pub(crate) reason: &'a str,
    /// Publish `status_changed` (not for retry, assignment, worker start).
    pub(crate) event: bool,
    /// Notify the creator (`ProgressUpdate` kind TASK).
    pub(crate) notify: bool,
}

impl Announce<'_> {
    /// Event and notification.
    pub(crate) const fn all(reason: &str) -> Announce<'_> {
        Announce {
            reason,
            event: true,
            notify: true,
        }
    }
}

impl Txn<'_> {
    /// Moves `r` to `to` (the caller checked that it may) and stores it.
    pub(crate) fn set_status(
        &mut self,
        mut r: TaskRecord,
        to: Status,
        how: Announce<'_>,
    ) -> TaskRecord {
        let from = r.state();
        let now = self.now;
        r.set_state(to, now);
        if to == Status::Running && r.started_ms == 0 {
            r.started_ms = now;
        }
        if to.is_terminal() {
            r.completed_ms = now;
            let revoked = self.st.tokens.revoke_task(&r.id, now);
            for m in revoked {
                self.write(m);
            }
        }
        self.put(r.clone());
        if how.notify {
            self.notify_creator(&r);
        }
        if how.event {
            self.publish(
                &r,
                task_event::Event::StatusChanged(TaskStatusChangedEvent {
                    from_status: from.wire() as i32,
                    to_status: to.wire() as i32,
                    reason: how.reason.to_string(),
                }),
            );
        }
        if !r.parent_task_id.is_empty() && (to.is_terminal() || to.is_waiting()) {
            self.child_lifecycle(&r, to);
        }
        if to.is_terminal() {
            self.completion_event(&r, to);
            self.wake_dependants(&r.id);
        }
        r
    }

    /// Records a failed attempt of `r`: retried later when its policy
    /// allows (back to `pending`, not offered before the next attempt's
    /// time), otherwise `failed` for good.
    pub(crate) fn fail(&mut self, mut r: TaskRecord, f: Failure) -> TaskRecord {
        r.attempt = r.attempt.saturating_add(1);
        r.error = f.reason.clone();
        let max = retry::max_attempts(r.retry_policy.as_ref());
        let verdict = retry::decide(r.retry_policy.as_ref(), r.attempt, &f, retry::unit_sample());
        match verdict {
            Verdict::Retry { delay_ms } => {
                let at = self.now.saturating_add(delay_ms);
                r.assigned_to.clear();
                r.started_ms = 0;
                r.disconnected_ms = 0;
                r.grace_deadline_ms = 0;
                r.paused_ms = 0;
                r.wait_spec = None;
                r.not_before_ms = at.max(1);
                let why = format!(
                    "attempt {} of {max} failed: {}; next attempt at {at}",
                    r.attempt, f.reason
                );
                let r = self.set_status(r, Status::Pending, Announce::all(&why));
                let mut meta = HashMap::from([
                    ("attempt".to_string(), r.attempt.to_string()),
                    ("max_attempts".to_string(), max.to_string()),
                    ("next_attempt_at_unix_ms".to_string(), at.to_string()),
                    ("delay_ms".to_string(), delay_ms.to_string()),
                    ("error".to_string(), f.reason.clone()),
                ]);
                if let Some(code) = f.status_code {
                    meta.insert("status_code".to_string(), code.to_string());
                }
                self.note(&r, "retry_scheduled", &why, meta);
                Stats::bump(&self.cx.stats.task_retries_scheduled);
                r
            }
            Verdict::Final(why) => {
                let reason = match why {
                    Some(w) => format!("{}; not retried: {w}", f.reason),
                    None => f.reason,
                };
                self.set_status(r, Status::Failed, Announce::all(&reason))
            }
        }
    }

    /// Publishes a `progress` event about `r` that is the gateway's own
    /// note (a retry, a purge, an escalation), not a worker's report.
    pub(crate) fn note(
        &mut self,
        r: &TaskRecord,
        state: &str,
        message: &str,
        metadata: HashMap<String, String>,
    ) {
        self.publish(
            r,
            task_event::Event::Progress(TaskProgressEvent {
                state: state.to_string(),
                progress: 0.0,
                message: message.to_string(),
                metadata,
            }),
        );
    }

    /// Publishes a `TaskEvent` about `r` to its subscribers.
    pub(crate) fn publish(&mut self, r: &TaskRecord, event: task_event::Event) {
        let e = TaskEvent {
            task_id: r.id.clone(),
            emitted_at_unix_ms: self.now,
            workspace: r.workspace.clone(),
            parent_task_id: r.parent_task_id.clone(),
            subscription_id: String::new(),
            event: Some(event),
        };
        let pushes = self.st.subs.publish(e);
        self.fx.extend(pushes);
    }

    fn child_lifecycle(&mut self, child: &TaskRecord, to: Status) {
        let Some(parent) = self.get(&child.parent_task_id) else {
            return;
        };
        let lifecycle = if to.is_terminal() {
            "completed"
        } else {
            "transitioned"
        };
        self.publish(
            &parent,
            task_event::Event::ChildLifecycle(TaskChildLifecycleEvent {
                child_task_id: child.id.clone(),
                child_status: to.wire() as i32,
                lifecycle: lifecycle.to_string(),
            }),
        );
    }

    /// `ProgressUpdate{kind: TASK}` to the creator on `pg::{ws}`.
    fn notify_creator(&mut self, r: &TaskRecord) {
        if r.creator.is_empty() || r.workspace.is_empty() {
            return;
        }
        let status = r.state().as_str();
        let summary = if r.error.is_empty() {
            format!("task {status}")
        } else {
            format!("task {status}: {}", r.error)
        };
        self.fx.progress(ProgressUpdate {
            source: GATEWAY_SOURCE.to_string(),
            task_id: r.id.clone(),
            state: status.to_string(),
            summary,
            timestamp_ms: self.now,
            workspace: r.workspace.clone(),
            recipient: r.creator.clone(),
            kind: ProgressKind::Task as i32,
            ..Default::default()
        });
    }

    /// Resumes tasks waiting on `id` once their dependencies are done
    /// (all of them, or any with `wake_on_any`); a dependency is done when
    /// it is terminal (whatever the outcome: the dependant decides).
    fn wake_dependants(&mut self, id: &str) {
        for d in self.st.table.ids(&Key::Dependants(id.to_string())) {
            let Some(dep) = self.get(&d) else { continue };
            if self.dependencies_met(&dep) {
                self.resume_waiting(dep, "dependencies satisfied");
            }
        }
    }

    /// Whether a `waiting_dependency` task may run.
    pub(crate) fn dependencies_met(&self, r: &TaskRecord) -> bool {
        let any = r.wait_spec.as_ref().is_some_and(|w| w.wake_on_any);
        let done = |id: &String| {
            self.st
                .table
                .get(id)
                .is_none_or(|t| t.state().is_terminal())
        };
        if any {
            r.depends_on.iter().any(done)
        } else {
            r.depends_on.iter().all(done)
        }
    }

    /// Moves a waiting task back to `running` and clears its wait.
    pub(crate) fn resume_waiting(&mut self, mut r: TaskRecord, reason: &str) -> TaskRecord {
        r.wait_spec = None;
        r.paused_ms = 0;
        self.set_status(r, Status::Running, Announce::all(reason))
    }
}
