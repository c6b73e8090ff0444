//! Operations are tower services: users can wrap the stack in their own
//! layers, and call raw operations through it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use aether_client::stack::{OpRequest, OperationService, Reply};
use aether_client::{AgentClient, Error, MessageType};
use common::gateway;
use tower::{Layer, Service};

/// Counts operations by name.
#[derive(Clone)]
struct CountLayer(Arc<AtomicUsize>);

#[derive(Clone)]
struct Count<S> {
    inner: S,
    n: Arc<AtomicUsize>,
}

impl<S> Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            n: self.0.clone(),
        }
    }
}

impl<S: Service<OpRequest, Response = Reply, Error = Error>> Service<OpRequest> for Count<S> {
    type Response = Reply;
    type Error = Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: OpRequest) -> S::Future {
        self.n.fetch_add(1, Ordering::SeqCst);
        self.inner.call(req)
    }
}

#[tokio::test]
async fn user_layers_wrap_every_operation() {
    let gw = gateway().await;
    let counter = Arc::new(AtomicUsize::new(0));
    let agent = AgentClient::builder("ws", "impl", "layered")
        .unwrap()
        .gateway(gw.url())
        .layer(CountLayer(counter.clone()))
        .layer(tower::limit::ConcurrencyLimitLayer::new(4))
        .build();
    agent.connect().await.unwrap();
    agent
        .send_message_to_agent("ws", "impl", "layered", "self", MessageType::Chat)
        .await
        .unwrap();
    assert!(
        agent
            .connection_status("agent", "ag::ws::impl::layered")
            .await
            .unwrap()
    );
    assert_eq!(counter.load(Ordering::SeqCst), 2);

    // The stack is an ordinary tower service.
    let mut svc: OperationService = agent.operations();
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
    let reply = svc
        .call(OpRequest::awaited(
            "connection_status",
            aether_client::proto::upstream_message::Payload::ConnectionStatusRequest(Box::new(
                aether_client::proto::ConnectionStatusRequest {
                    request_id: String::new(),
                    principal: Some(aether_client::proto::PrincipalRef {
                        principal_type: "agent".into(),
                        principal_id: "ag::ws::impl::layered".into(),
                    }),
                },
            )),
        ))
        .await
        .unwrap();
    assert!(
        matches!(reply, Reply::Frame(aether_client::proto::downstream_message::Payload::ConnectionStatusResponse(r)) if r.connected && !r.request_id.is_empty())
    );
    assert_eq!(counter.load(Ordering::SeqCst), 3);
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn sends_that_do_not_wait_go_through_the_same_stack() {
    use aether_client::{KvScope, OutgoingMessage};
    let gw = gateway().await;
    let counter = Arc::new(AtomicUsize::new(0));
    let agent = AgentClient::builder("ws", "impl", "nowait")
        .unwrap()
        .gateway(gw.url())
        .layer(CountLayer(counter.clone()))
        .build();
    let mut inbox = agent.messages();
    agent.connect().await.unwrap();
    agent
        .try_send(OutgoingMessage::to("ag::ws::impl::nowait", "self").unwrap())
        .unwrap();
    agent
        .kv_put_nowait("k", "v", &KvScope::Global, None)
        .unwrap();
    agent.checkpoint_delete_nowait("cp").unwrap();
    assert_eq!(
        counter.load(Ordering::SeqCst),
        3,
        "every frame passed the layer"
    );
    let m = common::within(
        "the message sent with try_send",
        futures_util::StreamExt::next(&mut inbox),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(m.payload_str(), Some("self"));
    // A layer that is not ready at once makes try_send refuse rather than
    // wait: nothing is sent behind the caller's back.
    let blocked = AgentClient::builder("ws", "impl", "blocked")
        .unwrap()
        .gateway(gw.url())
        .layer(tower::limit::ConcurrencyLimitLayer::new(1))
        .build();
    blocked.connect().await.unwrap();
    let held = blocked.operations();
    let mut held = held;
    std::future::poll_fn(|cx| held.poll_ready(cx))
        .await
        .unwrap();
    let err = blocked
        .try_send(OutgoingMessage::to("ag::ws::impl::nowait", "never").unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), aether_client::ErrorKind::QueueFull);
    drop(held);
    agent.close().await;
    blocked.close().await;
    gw.shutdown().await;
}
