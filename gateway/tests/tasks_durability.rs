//! Tasks, tokens, idempotency keys and the registry survive an in-process
//! restart on the same data directory; pending pool tasks are delivered
//! when a consumer connects afterwards.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, CreateTaskRequest, TaskFilter, agent_operation,
    task_operation::OpType,
};
use th::{Peer, pool, self_assign};

#[tokio::test]
async fn tasks_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || GatewayConfig::dev().with_data_dir(dir.path());
    let boss = Principal::agent("w", "boss", "b").unwrap();

    let gw = aether_gateway::start(config()).await.expect("starts");
    let mut a = Peer::connect(&gw.url(), &boss).await;
    let held = a.create_ok(pool("w", "later")).await;
    let done = a
        .create_ok(CreateTaskRequest {
            idempotency_key: "k".into(),
            context_id: "ctx".into(),
            ..self_assign("w", "done")
        })
        .await;
    a.op(OpType::Claim, &done).await;
    a.op_with(OpType::Fail, &done, "oops", None).await;
    let r = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: "keeper".into(),
                description: "kept".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success);
    let before_held = a.get(&held).await.expect("held");
    let before_done = a.get(&done).await.expect("done");
    drop(a);
    gw.shutdown().await;

    let gw = aether_gateway::start(config()).await.expect("restarts");
    let url = gw.url();
    let mut a = Peer::connect(&url, &boss).await;
    assert_eq!(a.get(&held).await, Some(before_held), "TaskInfo unchanged");
    assert_eq!(a.get(&done).await, Some(before_done));
    let again = a
        .create(CreateTaskRequest {
            idempotency_key: "k".into(),
            ..self_assign("w", "done")
        })
        .await;
    assert_eq!(
        (again.task_id.as_str(), again.status.as_str()),
        (done.as_str(), "")
    );
    let got = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Get as i32,
            implementation: "keeper".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(got.agent.map(|a| a.description), Some("kept".into()));
    let mut consumer = Peer::connect(&url, &Principal::agent("w", "later", "c").unwrap()).await;
    assert_eq!(consumer.assignment().await.task_id, held);
    let l = a
        .list(TaskFilter {
            context_id: "ctx".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);
    gw.shutdown().await;
}
