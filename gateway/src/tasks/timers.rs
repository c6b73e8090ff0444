//! The task timers: every moment at which a task changes by itself, derived
//! from its record and kept in one time-ordered index.
//!
//! A timer is not stored anywhere of its own: it is a function of the
//! record's fields ([`of`]), and the index is updated with every change of
//! a record, like the other indexes, and rebuilt when the gateway loads.
//! Records are durable, so timers are too: one that fell due while the
//! gateway was down is due at once after a restart, and firing it changes
//! the record (in the same commit), so it fires once.

use std::collections::BTreeSet;

use crate::config::Limits;

use super::model::TaskRecord;

/// What happens when a timer is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    /// A pending task's scheduled start (a retry after its backoff): it is
    /// offered again.
    Start,
    /// A waiting task's `scheduled_wake_unix_ms`: it resumes (a hibernated
    /// one is queued for a fresh worker).
    Wake,
    /// A waiting task's `timeout_ms` since it paused: it fails (a
    /// hibernated one follows its escalation policy).
    WaitTimeout,
    /// A dropped token-bound worker's grace window ends: its task fails.
    Grace,
    /// A task that has not finished and has not changed for the stuck-task
    /// TTL: it is cancelled.
    Stale,
    /// A finished task's retention ends: it is purged.
    Purge,
}

/// The configured durations the timers depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timing {
    /// How long finished tasks are kept (ms).
    pub(crate) retention_ms: i64,
    /// When set, unfinished tasks unchanged for this long are cancelled (ms).
    pub(crate) stuck_ttl_ms: Option<i64>,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl From<&Limits> for Timing {
    fn from(l: &Limits) -> Self {
        Timing {
            retention_ms: ms(l.task_retention),
            stuck_ttl_ms: l.task_stuck_ttl.map(ms),
        }
    }
}

/// The timers of `r`: when each is due (unix ms).
pub(crate) fn of(r: &TaskRecord, t: &Timing) -> Vec<(i64, Timer)> {
    let st = r.state();
    if st.is_terminal() {
        let finished = r.completed_ms.max(r.status_changed_ms);
        return vec![(finished.saturating_add(t.retention_ms), Timer::Purge)];
    }
    let mut out = Vec::new();
    let mut latest = r.status_changed_ms;
    if r.is_scheduled() {
        out.push((r.not_before_ms, Timer::Start));
        latest = latest.max(r.not_before_ms);
    }
    if st.is_waiting()
        && let Some(w) = &r.wait_spec
    {
        if w.scheduled_wake_unix_ms > 0 {
            out.push((w.scheduled_wake_unix_ms, Timer::Wake));
            latest = latest.max(w.scheduled_wake_unix_ms);
        }
        if w.timeout_ms > 0 && !r.timeout_alerted {
            out.push((r.paused_ms.saturating_add(w.timeout_ms), Timer::WaitTimeout));
        }
    }
    if r.grace_deadline_ms > 0 {
        out.push((r.grace_deadline_ms, Timer::Grace));
    }
    if let Some(ttl) = t.stuck_ttl_ms {
        out.push((latest.saturating_add(ttl), Timer::Stale));
    }
    out
}

/// One pending timer: due time, task id, kind.
pub(crate) type Entry = (i64, String, Timer);

/// Every pending timer, in due order.
#[derive(Default)]
pub(crate) struct Timers {
    set: BTreeSet<Entry>,
    timing: Timing,
}

impl Timers {
    /// An empty index for `timing`.
    pub(crate) fn new(timing: Timing) -> Self {
        Timers {
            set: BTreeSet::new(),
            timing,
        }
    }

    /// Moves a record's timers from those of `old` to those of `new`
    /// (either may be absent: insert, delete).
    pub(crate) fn update(&mut self, old: Option<&TaskRecord>, new: Option<&TaskRecord>) {
        let before = old.map(|o| of(o, &self.timing)).unwrap_or_default();
        let after = new.map(|n| of(n, &self.timing)).unwrap_or_default();
        if before == after && old.map(|o| &o.id) == new.map(|n| &n.id) {
            return;
        }
        if let Some(o) = old {
            for (at, kind) in before {
                self.set.remove(&(at, o.id.clone(), kind));
            }
        }
        if let Some(n) = new {
            for (at, kind) in after {
                self.set.insert((at, n.id.clone(), kind));
            }
        }
    }

    /// When the earliest timer is due.
    pub(crate) fn first(&self) -> Option<i64> {
        self.set.first().map(|(at, _, _)| *at)
    }

    /// Up to `max` timers due at `now`, earliest first (they stay in the
    /// index until their records change).
    pub(crate) fn due(&self, now: i64, max: usize) -> Vec<Entry> {
        self.set
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .take(max)
            .cloned()
            .collect()
    }

    /// Whether `e` is still pending.
    pub(crate) fn contains(&self, e: &Entry) -> bool {
        self.set.contains(e)
    }

    /// Drops `e` without a change of its record (a timer that fired and
    /// could not act; it comes back with the record's next change).
    pub(crate) fn forget(&mut self, e: &Entry) {
        self.set.remove(e);
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::model::Status;
    use aether_protocol::proto::WaitSpec;

    fn rec(status: Status) -> TaskRecord {
        TaskRecord {
            id: "t".into(),
            status: status.as_str().into(),
            status_changed_ms: 1_000,
            ..Default::default()
        }
    }

    const T: Timing = Timing {
        retention_ms: 10_000,
        stuck_ttl_ms: None,
    };

    #[test]
    fn timers_follow_the_record() {
        assert!(of(&rec(Status::Running), &T).is_empty());
        let mut done = rec(Status::Completed);
        done.completed_ms = 2_000;
        assert_eq!(of(&done, &T), vec![(12_000, Timer::Purge)]);

        let mut retry = rec(Status::Pending);
        retry.not_before_ms = 5_000;
        assert_eq!(of(&retry, &T), vec![(5_000, Timer::Start)]);
        // Only a pending task waits for its start.
        retry.status = Status::Running.as_str().into();
        assert!(of(&retry, &T).is_empty());

        let mut paused = rec(Status::Hibernated);
        paused.paused_ms = 1_000;
        paused.wait_spec = Some(WaitSpec {
            timeout_ms: 500,
            scheduled_wake_unix_ms: 9_000,
            ..Default::default()
        });
        let stuck = Timing {
            stuck_ttl_ms: Some(100_000),
            ..T
        };
        assert_eq!(
            of(&paused, &stuck),
            vec![
                (9_000, Timer::Wake),
                (1_500, Timer::WaitTimeout),
                (109_000, Timer::Stale)
            ]
        );
        paused.timeout_alerted = true;
        paused.grace_deadline_ms = 3_000;
        assert_eq!(
            of(&paused, &T),
            vec![(9_000, Timer::Wake), (3_000, Timer::Grace)]
        );
    }

    #[test]
    fn the_index_orders_and_moves_timers() {
        let mut ix = Timers::new(T);
        let mut a = rec(Status::Pending);
        a.not_before_ms = 50;
        let mut b = rec(Status::Completed);
        b.id = "b".into();
        b.completed_ms = 0;
        b.status_changed_ms = 0;
        ix.update(None, Some(&a));
        ix.update(None, Some(&b));
        assert_eq!(ix.first(), Some(50));
        assert_eq!(ix.due(49, 10), vec![]);
        assert_eq!(ix.due(10_000, 10).len(), 2);
        assert_eq!(ix.due(10_000, 1), vec![(50, "t".into(), Timer::Start)]);
        let mut started = a.clone();
        started.set_state(Status::Assigned, 60);
        ix.update(Some(&a), Some(&started));
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.first(), Some(10_000));
        ix.update(Some(&b), None);
        assert_eq!(ix.len(), 0);
        let e = (1, "x".to_string(), Timer::Grace);
        assert!(!ix.contains(&e));
    }
}
