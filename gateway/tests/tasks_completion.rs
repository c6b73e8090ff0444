//! Completion events (§5.9 "feed B"): a task created with
//! `completion_event.enabled` that finishes with a selected status sends
//! the workflow engine an EVENT message in a normal envelope carrying the
//! task's workspace, also when the engine connects later.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    BackoffStrategy, CreateTaskRequest, MessageType, RetryPolicy, TaskCompletionEvent, TaskStatus,
    downstream_message::Payload, task_operation::OpType,
};
use common::{Conn, dev_gateway};
use th::{Peer, pool, self_assign};

fn completion(name: &str, on: &[TaskStatus]) -> Option<TaskCompletionEvent> {
    Some(TaskCompletionEvent {
        enabled: true,
        event_name: name.to_string(),
        on_statuses: on.iter().map(|s| *s as i32).collect(),
    })
}

#[tokio::test]
async fn the_workflow_engine_hears_a_task_complete() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut engine, _) = Conn::connect(&url, &Principal::workflow_engine()).await;
    let mut boss = Peer::connect(&url, &Principal::agent("jobs", "boss", "b").unwrap()).await;
    let mut w = Peer::connect(&url, &Principal::agent("jobs", "crunch", "1").unwrap()).await;
    let id = boss
        .create_ok(CreateTaskRequest {
            correlation_id: "job-42".into(),
            metadata: [("part".to_string(), "7".to_string())].into(),
            completion_event: completion("", &[]),
            retry_policy: Some(RetryPolicy {
                max_attempts: 2,
                backoff: BackoffStrategy::Fixed as i32,
                initial_delay_ms: 10,
                ..Default::default()
            }),
            ..pool("jobs", "crunch")
        })
        .await;
    // A failed attempt that will be retried is not an ending: no event.
    assert_eq!(w.assignment().await.task_id, id);
    assert!(w.op(OpType::Claim, &id).await.success);
    assert!(w.op_with(OpType::Fail, &id, "once", None).await.success);
    assert_eq!(w.assignment().await.task_id, id);
    assert!(w.op(OpType::Claim, &id).await.success);
    assert!(w.op(OpType::Complete, &id).await.success);

    let m = engine.msg().await;
    assert_eq!(m.message_type, MessageType::Event as i32);
    assert_eq!(m.workspace, "jobs");
    assert_eq!(m.source_topic, "aether-gateway");
    let json = m.payload_str();
    for part in [
        "\"source_agent\":\"orchestrator\"",
        "\"workspace\":\"jobs\"",
        "\"event_names\":[\"task.completed\"]",
        &format!("\"task_id\":\"{id}\""),
        "\"status\":\"completed\"",
        "\"task_type\":\"work\"",
        "\"correlation_id\":\"job-42\"",
        &format!("\"root_task_id\":\"{id}\""),
        "\"metadata\":{\"part\":\"7\"}",
    ] {
        assert!(json.contains(part), "{part} missing from {json}");
    }
    assert!(
        engine
            .barrier()
            .await
            .iter()
            .all(|p| !matches!(p, Payload::Msg(_))),
        "exactly one event"
    );
    assert_eq!(gw.stats().task_completion_events, 1);
}

#[tokio::test]
async fn only_selected_statuses_publish_and_an_offline_engine_gets_them_later() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let quiet = a
        .create_ok(CreateTaskRequest {
            completion_event: completion("", &[TaskStatus::Failed]),
            ..self_assign("w", "t")
        })
        .await;
    assert!(a.op(OpType::Complete, &quiet).await.success);
    let loud = a
        .create_ok(CreateTaskRequest {
            completion_event: completion("jobs.dropped", &[TaskStatus::Cancelled]),
            ..self_assign("w", "t")
        })
        .await;
    assert!(a.op_with(OpType::Cancel, &loud, "nope", None).await.success);
    let off = a.create_ok(self_assign("w", "t")).await;
    assert!(a.op(OpType::Reject, &off).await.success);

    let (mut engine, _) = Conn::connect(&url, &Principal::workflow_engine()).await;
    let m = engine.msg().await;
    let json = m.payload_str();
    assert!(
        json.contains("\"event_names\":[\"jobs.dropped\"]"),
        "{json}"
    );
    assert!(json.contains(&format!("\"task_id\":\"{loud}\"")), "{json}");
    assert!(json.contains("\"status\":\"cancelled\""), "{json}");
    assert!(
        engine
            .barrier()
            .await
            .iter()
            .all(|p| !matches!(p, Payload::Msg(_))),
        "nothing for the others"
    );
}

trait PayloadStr {
    fn payload_str(&self) -> String;
}

impl PayloadStr for aether_protocol::proto::IncomingMessage {
    fn payload_str(&self) -> String {
        String::from_utf8(self.payload.to_vec()).expect("utf-8")
    }
}
