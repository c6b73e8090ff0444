//! Sessions coming and going (§1.9, §5.4, §5.6).
//!
//! On connect a session gets the work waiting for it ([`Txn::deliver_waiting_work`]);
//! a worker admitted with a task token moves its task to `running` (and a
//! reconnect clears its disconnect marker); a worker bound to an ordinary
//! task that was pending or assigned also gets its `TaskAssignment`. On disconnect its task
//! subscriptions end; a token-bound worker's task is **completed** on a
//! graceful end of stream, only stamped `disconnected_at` when the gateway
//! ended the session (admin disconnect, takeover, shutdown), and **fails**
//! (an attempt: its retry policy applies) after the grace window (30 s
//! interactive, 5 min batch, 10 min background) when the stream broke and
//! the worker did not come back. The window's end is a durable timer
//! (`grace_deadline_ms` in the record, fired by the clockwork) rather than
//! upstream's 10 s reaper, so it also runs out across a restart; and a
//! worker that was working when the gateway stopped (crash included) gets
//! its window from the restart ([`after_restart`]). A task
//! that waits (hibernated, waiting for input, authority or dependencies)
//! is left alone whichever way its worker leaves: a hibernating worker is
//! expected to go (upstream's reaper skips waiting tasks too). Pool tasks
//! the session held unclaimed go back to the pool when its identity is not
//! connected any more.

use aether_protocol::proto::TaskClass;

use super::lifecycle::Announce;
use super::model::{Status, TaskRecord};
use super::{Tasks, Txn};
use crate::context::handle::SessionHandle;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// The client half-closed the stream.
    Graceful,
    /// The gateway ended it (admin, takeover, shutdown).
    ByGateway,
    /// The stream broke.
    Abrupt,
}

/// The grace window of a task class.
pub(crate) fn grace_window_ms(task_class: i32) -> i64 {
    match TaskClass::try_from(task_class) {
        Ok(TaskClass::Batch) => 5 * 60 * 1000,
        Ok(TaskClass::Background) => 10 * 60 * 1000,
        _ => 30 * 1000,
    }
}

/// After a restart no worker is connected: the task of every worker bound
/// by a live token that was working (assigned, starting, running) gets
/// its grace window from now, as if its stream had broken, so a worker
/// that does not come back cannot leave its task running for ever. Returns
/// the change to settle.
pub(crate) fn after_restart(tasks: &Tasks) -> super::Settle {
    let mut txn = Txn::begin(tasks);
    for (task_id, identity) in txn.st.tokens.bound(txn.now) {
        let Some(mut r) = txn.get(&task_id) else {
            continue;
        };
        let working = matches!(
            r.state(),
            Status::Assigned | Status::Starting | Status::Running
        );
        if !working || r.grace_deadline_ms > 0 || r.assigned_to != identity {
            continue;
        }
        let grace = if r.grace_window_ms > 0 {
            r.grace_window_ms
        } else {
            grace_window_ms(0)
        };
        if r.disconnected_ms == 0 {
            r.disconnected_ms = txn.now;
        }
        r.grace_deadline_ms = txn.now.saturating_add(grace);
        r.updated_ms = txn.now;
        txn.put(r);
    }
    txn.finish()
}

/// Hands a new session its waiting work and starts its bound task.
pub(crate) async fn session_started(tasks: &Tasks, s: &SessionHandle) {
    let settle = {
        let mut txn = Txn::begin(tasks);
        if let Some(id) = &s.worker_task
            && let Some(r) = txn.get(id)
        {
            worker_connected(&mut txn, r, s);
        }
        txn.deliver_waiting_work(s);
        txn.finish()
    };
    let _ = settle.settle().await;
}

fn worker_connected(txn: &mut Txn<'_>, mut r: TaskRecord, s: &SessionHandle) {
    let st = r.state();
    if st.is_terminal() {
        return;
    }
    r.disconnected_ms = 0;
    r.grace_deadline_ms = 0;
    r.assigned_to = s.identity.clone();
    if matches!(st, Status::Pending | Status::Assigned | Status::Starting) {
        let r = txn.set_status(
            r,
            Status::Running,
            Announce {
                reason: "worker connected",
                event: false,
                notify: true,
            },
        );
        // A worker spawned for a task (`target_identity`) that was never
        // handed to it gets its assignment (payload included).
        if !r.is_startup() && st != Status::Starting {
            txn.push_assignment(&r, s);
        }
    } else {
        r.updated_ms = txn.now;
        txn.put(r);
    }
}

/// Cleans up after a session that ended.
pub(crate) async fn session_ended(tasks: &Tasks, s: &SessionHandle, how: Departure) {
    let settle = {
        let mut txn = Txn::begin(tasks);
        txn.st.subs.end_session(&s.session_id);
        let back = txn.cx.is_connected(&s.identity);
        if let Some(id) = &s.worker_task
            && !back
            && let Some(mut r) = txn
                .get(id)
                .filter(|r| !r.state().is_terminal() && !r.state().is_waiting())
        {
            match how {
                Departure::Graceful => {
                    txn.set_status(r, Status::Completed, Announce::all("worker exited"));
                }
                Departure::ByGateway | Departure::Abrupt => {
                    r.disconnected_ms = txn.now;
                    r.updated_ms = txn.now;
                    if how == Departure::Abrupt {
                        let grace = if r.grace_window_ms > 0 {
                            r.grace_window_ms
                        } else {
                            grace_window_ms(0)
                        };
                        r.grace_deadline_ms = txn.now.saturating_add(grace);
                    }
                    txn.put(r);
                }
            }
        }
        if !back {
            txn.return_unclaimed(&s.identity);
        }
        txn.finish()
    };
    let _ = settle.settle().await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Limits;
    use crate::tasks::testkit::{Kit, kit};
    use aether_protocol::identity::Principal;

    async fn put(k: &Kit, status: Status) {
        k.put(TaskRecord {
            id: "t".into(),
            status: status.as_str().into(),
            workspace: "w".into(),
            grace_window_ms: grace_window_ms(0),
            ..Default::default()
        })
        .await;
    }

    fn status(k: &Kit) -> Status {
        k.get("t").map(|r| r.state()).unwrap()
    }

    fn worker() -> Principal {
        Principal::agent("w", "i", "s").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_worker_fails_after_its_grace_window() {
        let k = kit(Limits::default());
        put(&k, Status::Assigned).await;
        let w = k.connect(worker(), Some("t")).await;
        assert_eq!(status(&k), Status::Running);
        k.disconnect(w, Departure::Abrupt).await;
        let r = k.get("t").unwrap();
        assert!(r.disconnected_ms > 0);
        assert_eq!(r.grace_deadline_ms, r.disconnected_ms + 30_000);
        tokio::time::sleep(Duration::from_millis(29_000)).await;
        assert_eq!(status(&k), Status::Running, "still within the window");
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        assert_eq!(status(&k), Status::Failed);
        assert!(k.get("t").unwrap().error.contains("grace window"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_reconnects_in_time_keeps_its_task() {
        let k = kit(Limits::default());
        put(&k, Status::Assigned).await;
        let w = k.connect(worker(), Some("t")).await;
        k.disconnect(w, Departure::Abrupt).await;
        let again = k.connect(worker(), Some("t")).await;
        let r = k.get("t").unwrap();
        assert_eq!((r.disconnected_ms, r.grace_deadline_ms), (0, 0));
        tokio::time::sleep(Duration::from_millis(31_000)).await;
        assert_eq!(status(&k), Status::Running);
        // Ended by the gateway: only stamped; a graceful end completes it.
        k.tasks.cx.remove(&again.handle);
        session_ended(&k.tasks, &again.handle, Departure::ByGateway).await;
        assert_eq!(status(&k), Status::Running);
        assert_eq!(k.get("t").unwrap().grace_deadline_ms, 0);
        session_ended(&k.tasks, &again.handle, Departure::Graceful).await;
        assert_eq!(status(&k), Status::Completed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_task_is_left_alone_when_its_worker_goes() {
        let k = kit(Limits::default());
        put(&k, Status::Hibernated).await;
        let w = k.connect(worker(), Some("t")).await;
        assert_eq!(status(&k), Status::Hibernated);
        k.tasks.cx.remove(&w.handle);
        session_ended(&k.tasks, &w.handle, Departure::Graceful).await;
        assert_eq!(status(&k), Status::Hibernated, "not completed");
        session_ended(&k.tasks, &w.handle, Departure::Abrupt).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(status(&k), Status::Hibernated, "no grace window");
        assert_eq!(k.get("t").unwrap().grace_deadline_ms, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_restart_a_working_worker_gets_its_grace_window() {
        let k = kit(Limits::default());
        for (id, status, to) in [
            ("t", Status::Running, "ag::w::i::s"),
            ("other", Status::Assigned, "orc::o::x"),
            ("idle", Status::Running, "ag::w::i::s"),
        ] {
            k.put(TaskRecord {
                id: id.into(),
                status: status.as_str().into(),
                assigned_to: to.into(),
                grace_window_ms: grace_window_ms(0),
                ..Default::default()
            })
            .await;
        }
        {
            let mut txn = Txn::begin(&k.tasks);
            let now = txn.now;
            for task in ["t", "other"] {
                let (_, m) = txn.st.tokens.mint("ag::w::i::s", task, now);
                txn.write(m);
            }
            txn.finish().settle().await.unwrap();
        }
        after_restart(&k.tasks).settle().await.unwrap();
        let t = k.get("t").unwrap();
        assert_eq!(t.grace_deadline_ms, t.disconnected_ms + 30_000);
        assert_eq!(
            k.get("other").unwrap().grace_deadline_ms,
            0,
            "its worker never started"
        );
        assert_eq!(k.get("idle").unwrap().grace_deadline_ms, 0, "no token");
        tokio::time::sleep(Duration::from_millis(30_001)).await;
        assert_eq!(status(&k), Status::Failed);
        assert_eq!(k.get("idle").unwrap().state(), Status::Running);
    }

    #[test]
    fn grace_windows_by_class() {
        assert_eq!(grace_window_ms(0), 30_000);
        assert_eq!(grace_window_ms(TaskClass::Batch as i32), 300_000);
        assert_eq!(grace_window_ms(TaskClass::Background as i32), 600_000);
    }
}
