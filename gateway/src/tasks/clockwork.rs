//! The clockwork: one task that sleeps until the earliest task timer is
//! due, fires every timer that is due, and sleeps again. A change that
//! adds a timer earlier than all others wakes it ([`Txn::finish`]). Nothing
//! is polled: with no timer pending it waits for one to appear.
//!
//! What a timer does (§5.8's task waker, retry scheduler, stale-task
//! cleanup and disconnect reaper, as timers):
//!
//! * **Start** — a retry's backoff is over: the task is offered again by
//!   its mode (`progress` event `retry_started`).
//! * **Wake** — `scheduled_wake_unix_ms` passed: a waiting task resumes
//!   (`running`, it kept its worker); a hibernated one goes back to
//!   `pending` for a fresh worker, its checkpoint key and resume session
//!   kept in the reserved metadata keys `_hibernation_checkpoint_key` /
//!   `_hibernation_resume_session_id` and carried by its next
//!   `TaskAssignment`.
//! * **WaitTimeout** — `timeout_ms` since the pause passed: the task fails
//!   with "wait timeout" (its retry policy applies). A hibernated task
//!   follows `escalation_policy`: `retry` wakes it as above, `alert` keeps
//!   it hibernated and publishes a `progress` event `hibernation_timeout`
//!   (once), anything else (`""`, `fail`, unknown) fails it.
//! * **Grace** — a dropped token-bound worker did not come back: its task
//!   fails (an attempt).
//! * **Stale** — an unfinished task did not change for the stuck-task TTL:
//!   it is cancelled ("stuck: …"), counted in `tasks_expired`.
//! * **Purge** — a finished task's retention is over: it is deleted (with
//!   its idempotency key), after a `progress` event `purged` to its
//!   subscribers; counted in `tasks_purged`.
//!
//! Every firing changes the record in the same commit, which removes the
//! timer, so a timer fires once, also across a crash (before the commit it
//! is still due after the restart; after it, it is gone).

use std::sync::Weak;
use std::time::Duration;

use super::Tasks;
use super::Txn;
use super::lifecycle::Announce;
use super::model::{HIBERNATION_CHECKPOINT_KEY, HIBERNATION_RESUME_KEY, Status, TaskRecord};
use super::retry::Failure;
use super::timers::{Entry, Timer};
use crate::stats::Stats;

/// Most timers fired under one lock (and committed together).
const BATCH: usize = 256;

/// Runs the clockwork of `tasks` until the component is gone.
pub(crate) async fn run(tasks: Weak<Tasks>) {
    let Some((wake, clock)) = tasks.upgrade().map(|t| (t.wake.clone(), t.cx.clock)) else {
        return;
    };
    loop {
        let next = match tasks.upgrade() {
            Some(t) => {
                t.fire_due().await;
                t.next_due()
            }
            None => return,
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(clock.instant_at(at)) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

impl Tasks {
    /// When the earliest timer is due.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.state.lock().table.timers.first()
    }

    /// Fires every timer due now, a batch per commit.
    pub(crate) async fn fire_due(&self) {
        loop {
            let (fired, settle) = {
                let mut txn = Txn::begin(self);
                let due = txn.st.table.timers.due(txn.now, BATCH);
                let fired = due.len();
                for e in due {
                    txn.fire(e);
                }
                (fired, txn.finish())
            };
            let _ = settle.settle().await;
            if fired < BATCH {
                return;
            }
        }
    }
}

/// A duration for people: "90s", "2h", "3d".
fn human(ms: i64) -> String {
    let d = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let s = d.as_secs();
    match s {
        0 => format!("{ms}ms"),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl Txn<'_> {
    /// Fires timer `e`.
    fn fire(&mut self, e: Entry) {
        let (_, id, kind) = &e;
        if let Some(r) = self.get(id) {
            Stats::bump(&self.cx.stats.task_timers_fired);
            match kind {
                Timer::Start => self.start_due(r),
                Timer::Wake => self.wake_due(r),
                Timer::WaitTimeout => self.timeout_due(r),
                Timer::Grace => self.grace_due(r),
                Timer::Stale => self.stale_due(r),
                Timer::Purge => self.purge_due(r),
            }
        }
        if self.st.table.timers.contains(&e) {
            // Cannot happen: every firing changes what derives the timer.
            // Drop it rather than spin; the record's next change recomputes it.
            tracing::error!(task = %id, timer = ?kind, "a task timer fired without effect");
            self.st.table.timers.forget(&e);
        }
    }

    fn start_due(&mut self, mut r: TaskRecord) {
        r.not_before_ms = 0;
        r.updated_ms = self.now;
        self.put(r.clone());
        let meta = [("attempt".to_string(), r.attempt.to_string())].into();
        self.note(&r, "retry_started", "the next attempt is due", meta);
        self.requeue(r);
    }

    fn wake_due(&mut self, r: TaskRecord) {
        if r.state() == Status::Hibernated {
            self.wake_hibernated(r, "scheduled wake");
        } else {
            self.resume_waiting(r, "scheduled wake");
        }
    }

    fn timeout_due(&mut self, mut r: TaskRecord) {
        let escalation = r
            .wait_spec
            .as_ref()
            .and_then(|w| w.hibernation.as_ref())
            .map(|h| h.escalation_policy.clone())
            .unwrap_or_default();
        if r.state() == Status::Hibernated {
            match escalation.as_str() {
                "retry" => {
                    self.wake_hibernated(r, "hibernation timeout");
                    return;
                }
                "alert" => {
                    r.timeout_alerted = true;
                    r.updated_ms = self.now;
                    self.put(r.clone());
                    let meta = [("escalation_policy".to_string(), "alert".to_string())].into();
                    self.note(
                        &r,
                        "hibernation_timeout",
                        "hibernation timed out; the task stays hibernated",
                        meta,
                    );
                    return;
                }
                _ => {}
            }
        }
        self.fail(r, Failure::new("wait timeout"));
    }

    fn grace_due(&mut self, mut r: TaskRecord) {
        r.grace_deadline_ms = 0;
        if r.state().is_waiting() {
            r.updated_ms = self.now;
            self.put(r);
            return;
        }
        self.fail(
            r,
            Failure::new("worker disconnected and did not reconnect within its grace window"),
        );
    }

    fn stale_due(&mut self, mut r: TaskRecord) {
        let ttl = self
            .cx
            .config
            .limits
            .task_stuck_ttl
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        let why = format!(
            "stuck: no status change for {} in status {}",
            human(ttl),
            r.status
        );
        r.error = why.clone();
        self.set_status(r, Status::Cancelled, Announce::all(&why));
        Stats::bump(&self.cx.stats.tasks_expired);
    }

    fn purge_due(&mut self, r: TaskRecord) {
        let retention = self.cx.config.limits.task_retention.as_millis();
        let why = format!(
            "finished task purged after its retention ({})",
            human(i64::try_from(retention).unwrap_or(i64::MAX))
        );
        let meta = [("status".to_string(), r.status.clone())].into();
        self.note(&r, "purged", &why, meta);
        if let Some((_, m)) = self.st.table.remove(&r.id) {
            self.write(m);
        }
        if !r.idempotency_key.is_empty()
            && let Some(m) = self
                .st
                .ledger
                .forget(&r.workspace, &r.idempotency_key, &r.id)
        {
            self.write(m);
        }
        self.st.subs.forget(&r.id);
        Stats::bump(&self.cx.stats.tasks_purged);
    }

    /// Ends a hibernation: back to `pending` (its worker was released),
    /// the checkpoint and session to resume kept for the next assignment,
    /// then offered by its mode.
    pub(crate) fn wake_hibernated(&mut self, mut r: TaskRecord, reason: &str) -> TaskRecord {
        if let Some(h) = r.wait_spec.take().and_then(|w| w.hibernation) {
            r.metadata
                .insert(HIBERNATION_CHECKPOINT_KEY.to_string(), h.checkpoint_key);
            if !h.resume_session_id.is_empty() {
                r.metadata
                    .insert(HIBERNATION_RESUME_KEY.to_string(), h.resume_session_id);
            }
        }
        r.paused_ms = 0;
        r.assigned_to.clear();
        let r = self.set_status(r, Status::Pending, Announce::all(reason));
        self.requeue(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(500), "500ms");
        assert_eq!(human(90_000), "90s");
        assert_eq!(human(120_000), "2m");
        assert_eq!(human(7_200_000), "2h");
        assert_eq!(human(3 * 86_400_000), "3d");
    }
}
