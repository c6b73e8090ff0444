//! TaskOperation (§5.8) and the status machine (§5.1): every op, state
//! violations, dependency wake-up, hibernation and info hiding.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    CheckpointOperation, HibernationDescriptor, TaskStatus, WaitReason, WaitSpec,
    checkpoint_operation, downstream_message::Payload, task_operation::OpType, upstream_message,
};
use bytes::Bytes;
use common::dev_gateway;
use th::{Peer, self_assign};

fn agent(ws: &str, spec: &str) -> Principal {
    Principal::agent(ws, "i", spec).unwrap()
}

fn status(r: &aether_protocol::proto::TaskOperationResponse) -> i32 {
    r.task.as_ref().map(|t| t.status).unwrap_or_default()
}

#[tokio::test]
async fn the_lifecycle_ops_and_their_violations() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("w", "a")).await;
    let id = a.create_ok(self_assign("w", "t")).await;

    let r = a.op(OpType::Claim, &id).await;
    assert_eq!((r.success, r.message.as_str()), (true, "task claimed"));
    assert_eq!(status(&r), TaskStatus::Running as i32);
    assert!(r.task.as_ref().is_some_and(|t| t.started_at > 0));
    assert!(
        a.op(OpType::Claim, &id).await.success,
        "claim is idempotent"
    );

    let r = a.op(OpType::Retry, &id).await;
    assert!(!r.success);
    assert!(r.error.contains("cannot retry"), "{}", r.error);

    let r = a.op_with(OpType::Fail, &id, "boom", None).await;
    assert_eq!(r.message, "task marked as failed");
    let t = r.task.unwrap();
    assert_eq!(
        (t.status, t.error.as_str(), t.attempt),
        (TaskStatus::Failed as i32, "boom", 1)
    );
    assert!(t.completed_at > 0);
    assert!(!a.op(OpType::Complete, &id).await.success, "terminal");
    assert!(!a.op(OpType::Fail, &id).await.success, "terminal");
    assert!(!a.op(OpType::Cancel, &id).await.success, "terminal");

    let r = a.op(OpType::Retry, &id).await;
    assert_eq!(r.message, "task queued for retry");
    let t = r.task.unwrap();
    assert_eq!(t.status, TaskStatus::Queued as i32);
    assert!(t.error.is_empty() && t.assigned_to.is_empty() && t.completed_at == 0);
    assert_eq!(t.attempt, 1, "the retry count is kept");

    let r = a.op(OpType::Resume, &id).await;
    assert!(!r.success, "pending cannot resume");
    a.op(OpType::Claim, &id).await;

    let r = a.op_with(OpType::Pause, &id, "", None).await;
    assert_eq!(r.error, "invalid request: wait_spec required for PAUSE");
    let input = WaitSpec {
        reason: WaitReason::Input as i32,
        expected_principal: "us::bob::w".into(),
        ..Default::default()
    };
    let r = a.op_with(OpType::Pause, &id, "", Some(input.clone())).await;
    assert_eq!(r.message, "task paused");
    let t = r.task.unwrap();
    assert_eq!(t.status, TaskStatus::WaitingInput as i32);
    assert!(t.paused_at > 0);
    assert_eq!(
        t.wait_spec.map(|w| w.expected_principal),
        Some("us::bob::w".into())
    );
    assert!(!a.op_with(OpType::Pause, &id, "", Some(input)).await.success);

    let r = a.op(OpType::Resume, &id).await;
    assert_eq!(r.message, "task resumed");
    let t = r.task.unwrap();
    assert_eq!(t.status, TaskStatus::Running as i32);
    assert!(t.wait_spec.is_none());

    let r = a.op(OpType::Complete, &id).await;
    assert_eq!((r.message.as_str(), status(&r)), ("task completed", 3));
    assert!(!a.op(OpType::Complete, &id).await.success);
    assert!(
        !a.op(OpType::Retry, &id).await.success,
        "completed is final"
    );

    let id2 = a.create_ok(self_assign("w", "t")).await;
    let r = a.op_with(OpType::Reject, &id2, "", None).await;
    assert_eq!(r.message, "task rejected");
    let t = r.task.unwrap();
    assert_eq!(
        (t.status, t.error.as_str()),
        (TaskStatus::Rejected as i32, "rejected")
    );
    assert!(!a.op(OpType::Claim, &id2).await.success);

    let id3 = a.create_ok(self_assign("w", "t")).await;
    let r = a
        .op_with(OpType::Cancel, &id3, "no longer needed", None)
        .await;
    assert_eq!((r.message.as_str(), status(&r)), ("task cancelled", 5));
    assert!(
        a.op(OpType::Retry, &id3).await.success,
        "cancelled can be retried"
    );

    let r = a.op(OpType::Complete, "missing").await;
    assert_eq!(r.error, "task not found");
    assert!(
        a.op(OpType::Claim, &id3).await.success,
        "retried, then claimed"
    );
    let rid = "raw-op";
    a.send(upstream_message::Payload::TaskOp(Box::new(
        aether_protocol::proto::TaskOperation {
            op: 42,
            task_id: id3.clone(),
            request_id: rid.into(),
            ..Default::default()
        },
    )))
    .await;
    let r = a
        .take(|p| match p {
            Payload::TaskOp(r) if r.request_id == rid => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(r.error, "unknown task operation");
}

#[tokio::test]
async fn wait_for_wakes_on_terminal_dependencies() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("w", "a")).await;
    let dep1 = a.create_ok(self_assign("w", "dep")).await;
    let dep2 = a.create_ok(self_assign("w", "dep")).await;
    let other_ws = a.create_ok(self_assign("v", "dep")).await;
    let waiter = a.create_ok(self_assign("w", "waiter")).await;
    a.op(OpType::Claim, &waiter).await;
    let spec = |deps: Vec<String>| WaitSpec {
        depends_on: deps,
        ..Default::default()
    };
    let r = a.op_with(OpType::WaitFor, &waiter, "", None).await;
    assert!(r.error.contains("depends_on required"), "{}", r.error);
    let r = a
        .op_with(
            OpType::WaitFor,
            &waiter,
            "",
            Some(spec(vec![other_ws.clone()])),
        )
        .await;
    assert_eq!(r.error, format!("dependency not found: {other_ws}"));
    let r = a
        .op_with(
            OpType::WaitFor,
            &waiter,
            "",
            Some(spec(vec![dep1.clone(), dep2.clone()])),
        )
        .await;
    assert_eq!(r.message, "task waiting on dependencies");
    let t = r.task.unwrap();
    assert_eq!(t.status, TaskStatus::WaitingDependency as i32);
    assert_eq!(t.depends_on, vec![dep1.clone(), dep2.clone()]);
    assert_eq!(
        t.wait_spec.map(|w| w.reason),
        Some(WaitReason::Dependency as i32)
    );
    a.op(OpType::Complete, &dep1).await;
    assert_eq!(
        a.get(&waiter).await.unwrap().status,
        TaskStatus::WaitingDependency as i32
    );
    a.op(OpType::Cancel, &dep2).await;
    assert_eq!(
        a.get(&waiter).await.unwrap().status,
        TaskStatus::Running as i32,
        "all dependencies finished"
    );
}

#[tokio::test]
async fn hibernation_needs_the_assignees_checkpoint() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("w", "a")).await;
    let id = a.create_ok(self_assign("w", "sleepy")).await;
    a.op(OpType::Claim, &id).await;
    let spec = WaitSpec {
        reason: WaitReason::Hibernation as i32,
        hibernation: Some(HibernationDescriptor {
            checkpoint_key: "snap".into(),
            resume_session_id: "s-1".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = a.op_with(OpType::Pause, &id, "", Some(spec.clone())).await;
    assert!(!r.success);
    assert!(r.error.contains("checkpoint"), "{}", r.error);
    a.send(upstream_message::Payload::CheckpointOp(Box::new(
        CheckpointOperation {
            op: checkpoint_operation::OpType::Save as i32,
            key: "snap".into(),
            data: Bytes::from_static(b"state"),
            request_id: "ck".into(),
            ttl: 0,
        },
    )))
    .await;
    a.take(|p| match p {
        Payload::Checkpoint(c) if c.request_id == "ck" => Some(()),
        _ => None,
    })
    .await;
    let r = a.op_with(OpType::Pause, &id, "", Some(spec)).await;
    assert!(r.success, "{}", r.error);
    assert_eq!(status(&r), TaskStatus::Hibernated as i32);
    let h = a
        .take(|p| match p {
            Payload::TaskHibernated(h) => Some(h.clone()),
            _ => None,
        })
        .await;
    assert_eq!(h.task_id, id);
    assert_eq!(h.descriptor.map(|d| d.checkpoint_key), Some("snap".into()));
    let r = a.op(OpType::Resume, &id).await;
    assert_eq!(status(&r), TaskStatus::Running as i32);
}

#[tokio::test]
async fn tasks_of_another_workspace_are_not_found() {
    // Outside dev mode: sessions with the admin key see every task; a
    // principal without rights on the task's workspace sees none of it.
    let gw = aether_gateway::start(GatewayConfig::default().with_admin_key("k"))
        .await
        .unwrap();
    let url = gw.url();
    let key = [("api_key", "k")];
    let (mut a, _) = Peer::connect_with_credentials(&url, &agent("w", "a"), &key)
        .await
        .unwrap();
    let (mut admin_elsewhere, _) = Peer::connect_with_credentials(&url, &agent("v", "c"), &key)
        .await
        .unwrap();
    // An agent of another workspace with a token: no rights on `w`.
    let minter = {
        let mut i = common::init(&agent("v", "minter"));
        i.credentials.insert("api_key".into(), "k".into());
        i
    };
    let mut minter = common::Conn::open(&url, minter).await;
    let (secret, _) = common::auth::mint(&mut minter, "Agent", &["x"], "ag::x::i::1").await;
    let (mut orc, _) =
        Peer::connect_with_credentials(&url, &agent("x", "1"), &[("api_key", secret.as_str())])
            .await
            .unwrap();
    let id = a.create_ok(self_assign("w", "t")).await;
    assert!(orc.get(&id).await.is_none());
    assert_eq!(orc.op(OpType::Cancel, &id).await.error, "task not found");
    assert!(admin_elsewhere.get(&id).await.is_some(), "superadmin");
    // The creator may act from anywhere: a task it created in another workspace.
    let far = a.create_ok(self_assign("v", "t")).await;
    assert!(a.get(&far).await.is_some());
}
