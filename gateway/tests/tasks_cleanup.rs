//! Stale-task cleanup: a task stuck without a status change for the
//! stuck-task TTL is cancelled, a finished task is purged after the
//! retention, both announced in the task's events and counted in the
//! gateway stats.

mod common;
#[path = "common/tasks.rs"]
mod th;

use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    TaskStatus, TaskSubscriptionOperation, task_event, task_operation::OpType,
    task_subscription_operation,
};
use th::{Peer, self_assign};

#[tokio::test]
async fn stuck_tasks_are_cancelled_and_finished_tasks_purged() {
    let limits = Limits::default()
        .with_task_stuck_ttl(Some(Duration::from_millis(500)))
        .with_task_retention(Duration::from_millis(1_000));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .expect("starts");
    let mut a = Peer::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let id = a.create_ok(self_assign("w", "slow")).await;
    assert!(a.op(OpType::Claim, &id).await.success);
    let r = a
        .subscription(TaskSubscriptionOperation {
            op: task_subscription_operation::OpType::Subscribe as i32,
            task_id: id.clone(),
            ..Default::default()
        })
        .await;
    assert!(r.success);

    let e = a.event().await;
    let Some(task_event::Event::StatusChanged(s)) = e.event else {
        panic!("{e:?}")
    };
    assert_eq!(s.to_status, TaskStatus::Cancelled as i32);
    assert_eq!(
        s.reason,
        "stuck: no status change for 500ms in status running"
    );
    let t = a.get(&id).await.expect("kept until its retention ends");
    assert_eq!(t.error, s.reason);
    assert_eq!(gw.stats().tasks_expired, 1);

    let e = a.event().await;
    let Some(task_event::Event::Progress(p)) = e.event else {
        panic!("{e:?}")
    };
    assert_eq!(p.state, "purged");
    assert_eq!(p.metadata["status"], "cancelled");
    assert_eq!(a.get(&id).await, None, "gone");
    let stats = gw.stats();
    assert_eq!(stats.tasks_purged, 1);
    assert_eq!(stats.task_timers_pending, 0);
    gw.shutdown().await;
}
