//! Typed handlers for every push a gateway may send besides messages,
//! config, signals, errors, assignments, progress and task events:
//! `TaskHibernated`, `AuthorityRequestEvent`, `AuthorityGrantRevocation`
//! and forwarded `WorkflowOperation`s, async and blocking. The embedded
//! gateway sends only the first, so a scripted gRPC server on loopback
//! sends all four right after the ack.

mod common;

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use aether_client::proto::{
    AuthorityGrantRevocation, AuthorityRequestEvent, ConnectionAck, DownstreamMessage,
    HibernationDescriptor, TaskHibernated, UpstreamMessage, WorkflowOperation,
    authority_request_event, downstream_message::Payload,
};
use aether_gateway::proto::aether_gateway_server::{AetherGateway, AetherGatewayServer};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// A gateway that acks, pushes the four frames, and waits for the end.
#[derive(Clone)]
struct Scripted;

fn pushes() -> Vec<Payload> {
    vec![
        Payload::TaskHibernated(Box::new(TaskHibernated {
            task_id: "t1".into(),
            descriptor: Some(HibernationDescriptor {
                checkpoint_key: "ck".into(),
                ..Default::default()
            }),
        })),
        Payload::AuthorityRequestEvent(Box::new(AuthorityRequestEvent {
            event_type: authority_request_event::EventType::AuthorityRequestEventApproved as i32,
            emitted_at: 7,
            ..Default::default()
        })),
        Payload::AuthorityGrantRevocation(Box::new(AuthorityGrantRevocation {
            grant_id: "g1".into(),
            reason: "revoked".into(),
            ..Default::default()
        })),
        Payload::WorkflowOp(Box::new(WorkflowOperation {
            request_id: "wf-1".into(),
            ..Default::default()
        })),
    ]
}

#[tonic::async_trait]
impl AetherGateway for Scripted {
    type ConnectStream = ReceiverStream<Result<DownstreamMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<UpstreamMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let mut upstream = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            if !matches!(upstream.message().await, Ok(Some(_))) {
                return;
            }
            let ack = Payload::ConnectionAck(Box::new(ConnectionAck {
                session_id: "s1".into(),
                ..Default::default()
            }));
            for p in std::iter::once(ack).chain(pushes()) {
                let m = DownstreamMessage {
                    payload: Some(p),
                    active_extensions: Vec::new(),
                };
                if tx.send(Ok(m)).await.is_err() {
                    return;
                }
            }
            while let Ok(Some(_)) = upstream.message().await {}
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AetherGatewayServer::new(Scripted))
            .serve_with_incoming(incoming),
    );
    format!("http://{addr}")
}

/// What a handler saw, as one comparable line.
fn seen(kind: &str, detail: &str) -> String {
    format!("{kind}:{detail}")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn expected() -> Vec<String> {
    sorted(vec![
        seen("hibernated", "t1/ck"),
        seen("authority_request", "2@7"),
        seen("revocation", "g1/revoked"),
        seen("workflow_op", "wf-1"),
    ])
}

#[tokio::test]
async fn every_push_has_a_typed_handler() {
    let url = serve().await;
    let engine = aether_client::WorkflowEngineClient::builder()
        .gateway(&url)
        .build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = tx.clone();
    engine.on_task_hibernated(move |h| {
        let key = h.descriptor.map(|d| d.checkpoint_key).unwrap_or_default();
        let _ = t.send(seen("hibernated", &format!("{}/{key}", h.task_id)));
        async {}
    });
    let t = tx.clone();
    engine.on_authority_request_event(move |e| {
        let _ = t.send(seen(
            "authority_request",
            &format!("{}@{}", e.event_type, e.emitted_at),
        ));
        async {}
    });
    let t = tx.clone();
    engine.on_authority_grant_revocation(move |r| {
        let _ = t.send(seen("revocation", &format!("{}/{}", r.grant_id, r.reason)));
        async {}
    });
    let t = tx.clone();
    engine.on_workflow_op(move |op| {
        let _ = t.send(seen("workflow_op", &op.request_id));
        async {}
    });
    engine.connect().await.expect("connects");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(common::within("a push", rx.recv()).await.expect("open"));
    }
    assert_eq!(sorted(got), expected());
    engine.close().await;
}

#[test]
fn every_push_has_a_blocking_handler_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(serve());
    let engine = aether_client::blocking::WorkflowEngineClient::builder()
        .gateway(&url)
        .build()
        .unwrap();
    let (tx, rx) = std_mpsc::channel();
    let t = tx.clone();
    engine.on_task_hibernated(move |h| {
        let key = h.descriptor.map(|d| d.checkpoint_key).unwrap_or_default();
        let _ = t.send(seen("hibernated", &format!("{}/{key}", h.task_id)));
    });
    let t = tx.clone();
    engine.on_authority_request_event(move |e| {
        let _ = t.send(seen(
            "authority_request",
            &format!("{}@{}", e.event_type, e.emitted_at),
        ));
    });
    let t = tx.clone();
    engine.on_authority_grant_revocation(move |r| {
        let _ = t.send(seen("revocation", &format!("{}/{}", r.grant_id, r.reason)));
    });
    engine.on_workflow_op(move |op| {
        let _ = tx.send(seen("workflow_op", &op.request_id));
    });
    engine.connect().expect("connects");
    let got: Vec<String> = (0..4)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("a push"))
        .collect();
    assert_eq!(sorted(got), expected());
    engine.close();
}
