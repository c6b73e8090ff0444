//! Stream correlation and push streams, end to end: abandoned streams
//! leave nothing behind, a message stream fed at full speed loses nothing,
//! and a loss the client cannot avoid is reported in place.

mod common;

use std::time::Duration;

use aether_client::proto::upstream_message::Payload as Up;
use aether_client::proto::{self, downstream_message::Payload as Down};
use aether_client::stack::{Expect, OpRequest, Reply, StreamBounds};
use aether_client::tasks::{ProgressReport, SubscribeOptions, TaskSpec};
use aether_client::{AgentClient, ConnectOptions, ErrorKind, MessageType};
use aether_gateway::{GatewayConfig, Limits};
use common::{Proxy, fast_reconnect, gateway, gateway_with, within};
use futures_util::{FutureExt, StreamExt};

async fn agent(url: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "streams", spec)
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    a.connect().await.unwrap();
    a
}

/// Whether a frame is the gateway's refusal of an HTTP request (no
/// instance of the target is connected).
fn refused(frame: &Down) -> bool {
    matches!(frame, Down::ProxyHttpResponse(r) if r.error.is_some())
}

/// An HTTP request to a service nobody provides, opened as a stream keyed
/// by its request id: the gateway refuses it on that stream at once.
fn streamed_request() -> OpRequest {
    OpRequest::new(
        "proxy_http",
        Up::ProxyHttpRequest(Box::new(proto::ProxyHttpRequest {
            target_topic: "sv::nobody".into(),
            method: "GET".into(),
            path: "/".into(),
            ..Default::default()
        })),
        Expect::Stream(StreamBounds::new(4, 64 * 1024)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_abandoned_streams_leave_the_table_empty() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let a = agent(&proxy.url(), "owner").await;
    let worker = agent(&gw.url(), "worker").await;
    let task = worker
        .create_task(TaskSpec::new("job"))
        .await
        .unwrap()
        .task_id;
    worker.claim_task(&task).await.unwrap();

    // A stream keyed by its request id, read to its first frame: the
    // gateway's refusal of the request arrives on the stream itself.
    let Reply::Stream(mut s) = a.call(streamed_request()).await.unwrap() else {
        panic!("a stream was asked for")
    };
    let first = within("the stream's first frame", s.next()).await.unwrap();
    assert!(refused(&first.unwrap()), "the refusal comes on the stream");
    drop(s);

    let mut opened = 0;
    let mut abandoned_early = 0;
    for round in 0..2_500u32 {
        // 1. Abandoned before the subscription's reply (the call is
        //    dropped after its frame was queued).
        //    (Rarely the reply wins the race and it is a live one instead.)
        let mut pending = Box::pin(a.subscribe_to_task(&task, SubscribeOptions::new()));
        if pending.as_mut().now_or_never().is_none() {
            abandoned_early += 1;
        }
        drop(pending);
        // 2. Abandoned after the reply, never read.
        let live = a
            .subscribe_to_task(&task, SubscribeOptions::new())
            .await
            .unwrap();
        // 3. Abandoned mid-stream, with events queued.
        let mut busy = a
            .subscribe_to_task(&task, SubscribeOptions::new().buffer(2))
            .await
            .unwrap();
        worker
            .report_progress(ProgressReport::new(task.clone()).summary(format!("r{round}")))
            .await
            .unwrap();
        within("an event", busy.next()).await.unwrap().unwrap();
        // 4. A request-keyed stream dropped unread.
        let keyed = a.call(streamed_request()).await.unwrap();
        opened += 4;
        if round % 500 == 0 {
            assert!(a.open_streams() >= 2, "live streams are in the table");
        }
        drop((live, busy, keyed));
    }
    assert_eq!(opened, 10_000);
    assert!(
        abandoned_early > 2_000,
        "{abandoned_early} abandoned before their reply"
    );
    // Streams open when the connection is lost end, and leave the table too.
    let mut survivor = a
        .subscribe_to_task(&task, SubscribeOptions::new())
        .await
        .unwrap();
    let orphan = a.call(streamed_request()).await.unwrap();
    proxy.cut();
    drop(orphan);
    // The subscription renews itself on the new session and goes on. A
    // report made before it is renewed reaches nobody, so the worker
    // reports again until the survivor hears one.
    within("an event after the cut", async {
        loop {
            worker
                .report_progress(ProgressReport::new(task.clone()).summary("after the cut"))
                .await
                .unwrap();
            let next = tokio::time::timeout(Duration::from_millis(200), survivor.next()).await;
            if let Ok(Some(Ok(e))) = next
                && matches!(&e.event, Some(aether_client::tasks::TaskEventKind::Progress(p)) if p.message == "after the cut")
            {
                break;
            }
        }
    })
    .await;
    drop(survivor);
    assert_eq!(a.open_streams(), 0, "every abandoned stream was removed");
    assert_eq!(a.pending_calls(), 0, "every abandoned call was removed");
    a.close().await;
    worker.close().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stream_fed_at_full_speed_loses_nothing() {
    const N: u64 = 100_000;
    let limits = Limits::default().with_mailbox_max_messages(1_000);
    let gw = gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let sender = agent(&gw.url(), "tx").await;
    let mut options = ConnectOptions::default();
    options.gateway = gw.url();
    options.stream_capacity = 64;
    let receiver = AgentClient::builder("ws", "streams", "rx")
        .unwrap()
        .options(options)
        .build();
    let mut inbox = receiver.messages();
    receiver.connect().await.unwrap();

    let send = tokio::spawn(async move {
        for i in 0..N {
            sender
                .send_message_to_agent("ws", "streams", "rx", i.to_string(), MessageType::Opaque)
                .await
                .unwrap();
        }
        sender
    });
    let mut next = 0u64;
    while next < N {
        let msg = within("the next message", inbox.next())
            .await
            .expect("the stream goes on")
            .expect("nothing is lost");
        assert_eq!(
            msg.payload_str(),
            Some(next.to_string().as_str()),
            "in order"
        );
        next += 1;
        // A consumer slower than the sender for a while: the stream fills
        // up and the connection slows down instead of dropping.
        if next < 2_000 {
            tokio::task::yield_now().await;
        }
    }
    let sender = send.await.unwrap();
    assert_eq!(receiver.dropped_pushes(), 0);
    assert_eq!(gw.stats().refused.mailbox_full, 0);
    sender.close().await;
    receiver.close().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loss_the_client_cannot_avoid_is_an_error_item_in_place() {
    let gw = gateway().await;
    let sender = agent(&gw.url(), "loud").await;
    let mut options = ConnectOptions::default();
    options.gateway = gw.url();
    options.stream_capacity = 4;
    options.overflow_budget = 0;
    options.dispatch_stall = Duration::from_millis(20);
    let receiver = AgentClient::builder("ws", "streams", "quiet")
        .unwrap()
        .options(options)
        .build();
    let mut unread = receiver.messages();
    let mut watcher = receiver.messages();
    receiver.connect().await.unwrap();

    // A call that awaits a reply the gateway never sends (a SwitchWorkspace
    // frame has no reply), so the reader must not wait for the full
    // stream: waiting could deadlock a consumer awaiting a reply.
    let stuck = receiver.clone();
    let call = tokio::spawn(async move {
        stuck
            .call(
                OpRequest::awaited(
                    "never_answered",
                    Up::SwitchWorkspace(Box::new(proto::SwitchWorkspace {
                        new_workspace_id: "ws".into(),
                    })),
                )
                .timeout(Duration::from_secs(60)),
            )
            .await
    });
    within("the call to be pending", async {
        while receiver.pending_calls() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;

    const N: usize = 12;
    // The other stream is read as messages come: it sees every one.
    let watching = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < N {
            let m = within("a message", watcher.next()).await.unwrap().unwrap();
            seen.push(m.payload_str().unwrap().to_string());
        }
        seen
    });
    for i in 0..N {
        sender
            .send_message_to_agent("ws", "streams", "quiet", i.to_string(), MessageType::Chat)
            .await
            .unwrap();
    }
    let seen = watching.await.unwrap();
    assert_eq!(seen, (0..N).map(|i| i.to_string()).collect::<Vec<_>>());
    // The unread stream kept what fit, then reports what it lost, in place.
    let mut kept = Vec::new();
    let mut lost = 0;
    while kept.len() as u64 + lost < N as u64 {
        match within("an item", unread.next()).await.unwrap() {
            Ok(m) => kept.push(m.payload_str().unwrap().to_string()),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Lagged);
                assert!(e.lagged_items() > 0);
                lost += e.lagged_items();
            }
        }
    }
    assert!(lost > 0, "the unread stream could not keep everything");
    assert_eq!(
        kept[..4],
        ["0", "1", "2", "3"],
        "what fit came first, in order"
    );
    assert_eq!(receiver.dropped_pushes(), lost, "counted by the client too");
    call.abort();
    sender.close().await;
    receiver.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn frames_of_a_stream_go_to_it_not_to_handlers() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "solo").await;
    let errors = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = errors.clone();
    a.on_error(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {}
    });
    let mut frames = a.frames();
    let Reply::Stream(mut s) = a.call(streamed_request()).await.unwrap() else {
        panic!("a stream was asked for")
    };
    let first = within("the refusal", s.next()).await.unwrap().unwrap();
    assert!(refused(&first));
    // A round trip later, nothing of it reached the pushes.
    assert!(
        a.connection_status("agent", "ag::ws::streams::solo")
            .await
            .unwrap()
    );
    assert!(
        !matches!(
            frames.next().now_or_never(),
            Some(Some(Ok(Down::Error(_) | Down::ProxyHttpResponse(_))))
        ),
        "the stream's frame is not a push"
    );
    assert_eq!(errors.load(std::sync::atomic::Ordering::SeqCst), 0);
    a.close().await;
    gw.shutdown().await;
}
