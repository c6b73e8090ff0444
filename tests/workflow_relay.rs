//! `workflow_op` relayed through the gateway to the connected workflow
//! engine and back (§6.6), through the SDK: the engine sees a gateway id
//! and a gateway-stamped request context; answers reach only their
//! requester; no engine, a silent engine and a forged on-behalf-of
//! context are typed refusals.

mod common;

use std::time::Duration;

use aether_client::admin::AdminClient;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{WorkflowOperation, WorkflowResponse, workflow_operation::OpType};
use aether_client::stack::OpRequest;
use aether_client::stack::authority::obo_context;
use aether_client::{AgentClient, ErrorKind, FrameStream, WorkflowEngineClient};
use aether_gateway::{GatewayConfig, Limits};
use common::within;
use futures_util::StreamExt;

async fn agent(url: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder("w", "caller", spec)
        .unwrap()
        .gateway(url)
        .build();
    a.connect().await.unwrap();
    a
}

fn list_rules() -> WorkflowOperation {
    WorkflowOperation {
        op: OpType::ListRules as i32,
        workspace: "w".into(),
        ..Default::default()
    }
}

async fn next_op(frames: &mut FrameStream) -> WorkflowOperation {
    within("a forwarded workflow_op", async {
        loop {
            if let Some(Ok(Down::WorkflowOp(op))) = frames.next().await {
                return *op;
            }
        }
    })
    .await
}

/// The engine answers `op` with `data`.
async fn answer(engine: &WorkflowEngineClient, op: &WorkflowOperation, data: &str) {
    let resp = WorkflowResponse {
        success: true,
        data: data.as_bytes().to_vec().into(),
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    engine
        .call(OpRequest::fire_and_forget(
            "workflow_response",
            Up::WorkflowResponse(Box::new(resp)),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn operations_reach_the_engine_and_answers_reach_their_requester() {
    let gw = common::gateway().await;
    let url = gw.url();
    let a = AdminClient::new(&agent(&url, "a").await);
    let b = AdminClient::new(&agent(&url, "b").await);
    // No engine yet.
    let e = a.workflow_op(list_rules()).await.unwrap_err();
    assert!(
        e.to_string().contains("workflow engine not connected"),
        "{e}"
    );

    let engine = WorkflowEngineClient::builder().gateway(&url).build();
    engine.connect().await.unwrap();
    let mut ops = engine.frames();
    let from_a = tokio::spawn({
        let a = a.clone();
        async move { a.workflow_op(list_rules()).await }
    });
    let op_a = next_op(&mut ops).await;
    let from_b = tokio::spawn({
        let b = b.clone();
        async move { b.workflow_op(list_rules()).await }
    });
    let op_b = next_op(&mut ops).await;
    assert!(op_a.request_id.starts_with("wf-"), "{}", op_a.request_id);
    assert_ne!(op_a.request_id, op_b.request_id);
    let ctx = op_a.request_context.clone().expect("stamped");
    assert_eq!(ctx.actor.unwrap().principal_id, "ag::w::caller::a");
    assert!(!ctx.actor_session_id.is_empty());
    // Answered out of order: each answer reaches its own requester.
    answer(&engine, &op_b, "for b").await;
    answer(&engine, &op_a, "for a").await;
    let got_a = within("a's answer", from_a).await.unwrap().unwrap();
    let got_b = within("b's answer", from_b).await.unwrap().unwrap();
    assert_eq!(&got_a.data[..], b"for a");
    assert_eq!(&got_b.data[..], b"for b");

    // Only the engine answers: a requester's forged response is dropped.
    let pending = tokio::spawn({
        let a = a.clone();
        async move { a.workflow_op(list_rules()).await }
    });
    let op = next_op(&mut ops).await;
    let forger = agent(&url, "forger").await;
    let forged = WorkflowResponse {
        success: true,
        data: b"forged".to_vec().into(),
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    forger
        .call(OpRequest::fire_and_forget(
            "workflow_response",
            Up::WorkflowResponse(Box::new(forged)),
        ))
        .await
        .unwrap();
    // A round trip on the forger's session: its frames are handled in
    // order, so the forged answer has been seen (and dropped) by now.
    AdminClient::new(&forger)
        .check_access(aether_client::admin::AccessRequest::new(
            aether_client::admin::AclResource::workspace("w"),
            aether_client::admin::AccessLevel::Read,
        ))
        .await
        .unwrap();
    answer(&engine, &op, "genuine").await;
    let got = within("the genuine answer", pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.data[..], b"genuine");
}

#[tokio::test]
async fn silent_engines_time_out_and_forged_contexts_are_refused() {
    let limits = Limits::default().with_workflow_timeout(Duration::from_millis(200));
    let gw = common::gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let url = gw.url();
    let engine = WorkflowEngineClient::builder().gateway(&url).build();
    engine.connect().await.unwrap();
    let a = AdminClient::new(&agent(&url, "a").await);
    let e = a.workflow_op(list_rules()).await.unwrap_err();
    assert!(
        e.to_string().contains("workflow operation timed out"),
        "{e}"
    );
    let mut forged = list_rules();
    forged.authorization = Some(obo_context(
        &aether_client::admin::AclPrincipal::user("alice"),
        "grant-nope",
    ));
    let e = a.workflow_op(forged).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("authority grant is not valid for this actor and subject"),
        "{e}"
    );
    assert_ne!(e.kind(), ErrorKind::Timeout);
}
