//! Sessions coming and going (§1.9, §5.4, §5.6).
//!
//! On connect a session gets the work waiting for it ([`Txn::deliver_waiting_work`]);
//! a worker admitted with a task token moves its task to `running` (and a
//! reconnect clears its disconnect marker); a worker bound to an ordinary
//! task that was pending or assigned also gets its `TaskAssignment`. On disconnect its task
//! subscriptions end; a token-bound worker's task is **completed** on a
//! graceful end of stream, only stamped `disconnected_at` when the gateway
//! ended the session (admin disconnect, takeover, shutdown), and **failed**
//! after the grace window (30 s interactive, 5 min batch, 10 min
//! background) when the stream broke and the worker did not come back — a
//! timer task per drop rather than upstream's 10 s reaper. Pool tasks the
//! session held unclaimed go back to the pool when its identity is not
//! connected any more.

use std::sync::Arc;
use std::time::Duration;

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
pub(crate) async fn session_ended(tasks: &Arc<Tasks>, s: &SessionHandle, how: Departure) {
    let mut timer = None;
    let settle = {
        let mut txn = Txn::begin(tasks);
        txn.st.subs.end_session(&s.session_id);
        let back = txn.cx.is_connected(&s.identity);
        if let Some(id) = &s.worker_task
            && !back
            && let Some(mut r) = txn.get(id).filter(|r| !r.state().is_terminal())
        {
            match how {
                Departure::Graceful => {
                    txn.set_status(r, Status::Completed, Announce::all("worker exited"));
                }
                Departure::ByGateway | Departure::Abrupt => {
                    r.disconnected_ms = txn.now;
                    r.updated_ms = txn.now;
                    if how == Departure::Abrupt {
                        timer = Some((r.id.clone(), r.disconnected_ms, r.grace_window_ms));
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
    if let Some((id, at, grace)) = timer {
        let tasks = tasks.clone();
        let grace = if grace > 0 { grace } else { grace_window_ms(0) };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(grace as u64)).await;
            grace_expired(&tasks, &id, at).await;
        });
    }
}

/// Fails a worker's task if it is still disconnected since `at`.
async fn grace_expired(tasks: &Tasks, id: &str, at: i64) {
    let settle = {
        let mut txn = Txn::begin(tasks);
        if let Some(mut r) = txn.get(id)
            && r.disconnected_ms == at
            && !r.state().is_terminal()
        {
            r.error = "worker disconnected and did not reconnect within its grace window".into();
            txn.set_status(r, Status::Failed, Announce::all("grace window expired"));
        }
        txn.finish()
    };
    let _ = settle.settle().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoints;
    use crate::config::GatewayConfig;
    use crate::context::Context;
    use crate::context::handle::NewSession;
    use crate::mailbox::MailboxStore;
    use crate::outbound;
    use crate::push::Pusher;
    use crate::store::Store;
    use aether_protocol::identity::Principal;

    /// A task component over memory, with no session connected.
    fn tasks() -> Arc<Tasks> {
        let store = Store::memory();
        let config = GatewayConfig::dev();
        let mailboxes = MailboxStore::restore((&config.limits).into(), &store).unwrap();
        let checkpoints =
            Checkpoints::load(store.clone(), config.limits.max_checkpoint_bytes).unwrap();
        let audit = crate::audit::Audit::load(store.clone(), 16).unwrap();
        let cx = Arc::new(Context::new(config, mailboxes, audit));
        Arc::new(Tasks::load(store, cx, Arc::new(checkpoints)).unwrap())
    }

    /// A worker session bound to `task` (its stream is discarded).
    fn worker(tasks: &Tasks, task: &str) -> SessionHandle {
        let (tx, outlet, _stream) = outbound::channel(8, tasks.cx.stats.clone());
        let principal = Principal::agent("w", "i", "s").unwrap();
        SessionHandle::new(NewSession {
            session_id: uuid::Uuid::new_v4().to_string(),
            identity: principal.identity_string(),
            topic: principal.topic_with(None),
            principal,
            admin: true,
            administrator: true,
            credential: crate::credential::Credential::Open,
            mailbox: None,
            outlet,
            pusher: Pusher::new(&tx),
            worker_task: Some(task.to_string()),
        })
    }

    fn put(tasks: &Tasks, status: Status) {
        let mut txn = Txn::begin(tasks);
        txn.put(TaskRecord {
            id: "t".into(),
            status: status.as_str().into(),
            workspace: "w".into(),
            grace_window_ms: grace_window_ms(0),
            ..Default::default()
        });
        drop(txn.finish());
    }

    fn status(tasks: &Tasks) -> Status {
        Txn::begin(tasks).get("t").map(|r| r.state()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_worker_fails_after_its_grace_window() {
        let tasks = tasks();
        put(&tasks, Status::Assigned);
        let w = worker(&tasks, "t");
        session_started(&tasks, &w).await;
        assert_eq!(status(&tasks), Status::Running);
        session_ended(&tasks, &w, Departure::Abrupt).await;
        assert!(Txn::begin(&tasks).get("t").unwrap().disconnected_ms > 0);
        tokio::time::sleep(Duration::from_millis(29_000)).await;
        assert_eq!(status(&tasks), Status::Running, "still within the window");
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        assert_eq!(status(&tasks), Status::Failed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_reconnects_in_time_keeps_its_task() {
        let tasks = tasks();
        put(&tasks, Status::Assigned);
        let w = worker(&tasks, "t");
        session_started(&tasks, &w).await;
        session_ended(&tasks, &w, Departure::Abrupt).await;
        let again = worker(&tasks, "t");
        session_started(&tasks, &again).await;
        assert_eq!(Txn::begin(&tasks).get("t").unwrap().disconnected_ms, 0);
        tokio::time::sleep(Duration::from_millis(31_000)).await;
        assert_eq!(status(&tasks), Status::Running);
        // Ended by the gateway: only stamped; a graceful end completes it.
        session_ended(&tasks, &again, Departure::ByGateway).await;
        assert_eq!(status(&tasks), Status::Running);
        session_ended(&tasks, &again, Departure::Graceful).await;
        assert_eq!(status(&tasks), Status::Completed);
    }

    #[test]
    fn grace_windows_by_class() {
        assert_eq!(grace_window_ms(0), 30_000);
        assert_eq!(grace_window_ms(TaskClass::Batch as i32), 300_000);
        assert_eq!(grace_window_ms(TaskClass::Background as i32), 600_000);
    }
}
