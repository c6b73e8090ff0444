//! Routing (§2): identity topics, mailboxes, broadcast lanes, fan-in,
//! permission matrix and metric rules.

mod common;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AuthorizationContext, MessageType, Metric, MetricEntry, SendMessage, SwitchWorkspace,
    downstream_message, upstream_message,
};
use bytes::Bytes;
use common::{Conn, dev_gateway, up};
use prost::Message;

fn no_messages(seen: &[downstream_message::Payload]) -> bool {
    !seen
        .iter()
        .any(|p| matches!(p, downstream_message::Payload::Msg(_)))
}

#[tokio::test]
async fn agent_to_agent_message_is_delivered_with_envelope() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (a, _) = Conn::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let (mut b, _) = Conn::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    a.send_message("ag::w::i::b", b"hello", MessageType::Chat)
        .await;
    let m = b.msg().await;
    assert_eq!(m.source_topic, "ag::w::i::a");
    assert_eq!(&m.payload[..], b"hello");
    assert_eq!(m.message_type, MessageType::Chat as i32);
    assert_eq!(m.workspace, "w");
    assert!(m.on_behalf_subject.is_none());

    // app_workspace wins over the sender's workspace; self-delivery works.
    a.send(up(upstream_message::Payload::Send(Box::new(SendMessage {
        target_topic: "ag::w::i::b".into(),
        payload: Bytes::from_static(b"x"),
        app_workspace: "elsewhere".into(),
        ..Default::default()
    }))))
    .await;
    assert_eq!(b.msg().await.workspace, "elsewhere");
    assert_eq!(gw.stats().messages_routed, 2);
}

#[tokio::test]
async fn offline_messages_wait_in_the_mailbox() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut sender, _) =
        Conn::connect(&url, &Principal::service("svc", "s", false).unwrap()).await;
    for p in [b"1", b"2", b"3"] {
        sender
            .send_message("us::alice::win", p, MessageType::Chat)
            .await;
    }
    sender.barrier().await;
    assert_eq!(gw.mailbox_len("us::alice::win"), Some(3));

    let (mut alice, _) = Conn::connect(&url, &Principal::user("alice", "win").unwrap()).await;
    for p in [b"1", b"2", b"3"] {
        let m = alice.msg().await;
        assert_eq!(&m.payload[..], p);
        assert_eq!(m.source_topic, "sv::svc::s");
        assert_eq!(m.workspace, "");
    }
    assert_eq!(gw.mailbox_len("us::alice::win"), Some(0));
}

#[tokio::test]
async fn a_full_mailbox_refuses_the_newest_and_tells_the_sender() {
    let config = GatewayConfig::dev().with_limits(Limits::default().with_mailbox_max_messages(3));
    let gw = aether_gateway::start(config).await.unwrap();
    let url = gw.url();
    let (mut sender, _) = Conn::connect(&url, &Principal::agent("w", "i", "s").unwrap()).await;
    for p in [b"0", b"1", b"2", b"3", b"4"] {
        sender
            .send_message("ag::w::i::r", p, MessageType::Chat)
            .await;
    }
    let seen = sender.barrier().await;
    let refusals: Vec<_> = seen
        .iter()
        .map(|p| match p {
            downstream_message::Payload::Error(e) => e,
            other => panic!("expected only refusals, got {other:?}"),
        })
        .collect();
    assert_eq!(refusals.len(), 2);
    for e in refusals {
        assert_eq!(e.code, "ERR_MAILBOX_FULL");
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, 1000, "nobody reads it: retry later");
        assert!(e.message.contains("ag::w::i::r"), "{}", e.message);
    }
    let stats = gw.stats();
    assert_eq!(stats.refused.mailbox_full, 2);
    assert_eq!(stats.send_errors, 2);
    assert_eq!(stats.messages_routed, 3);
    assert_eq!(gw.mailbox_refusals("ag::w::i::r"), Some(2));

    // Nothing accepted was dropped to make room.
    let (mut r, _) = Conn::connect(&url, &Principal::agent("w", "i", "r").unwrap()).await;
    for p in [b"0", b"1", b"2"] {
        assert_eq!(&r.msg().await.payload[..], p);
    }
    assert!(no_messages(&r.barrier().await));
}

#[tokio::test]
async fn a_broadcast_tells_the_sender_which_mailboxes_refused_it() {
    let config = GatewayConfig::dev().with_limits(Limits::default().with_mailbox_max_messages(1));
    let gw = aether_gateway::start(config).await.unwrap();
    let url = gw.url();
    let (mut svc, _) = Conn::connect(&url, &Principal::service("svc", "s", false).unwrap()).await;
    let (_a1, _) = Conn::connect(&url, &Principal::agent("w", "i", "1").unwrap()).await;
    let (_a2, _) = Conn::connect(&url, &Principal::agent("w", "i", "2").unwrap()).await;
    // Fill agent 1's mailbox: nobody reads its stream, so once a few large
    // messages fill its HTTP/2 window the mailbox fills; offer until one is
    // refused.
    let mut refused = None;
    for _ in 0..64 {
        svc.send(up(upstream_message::Payload::Send(Box::new(SendMessage {
            target_topic: "ag::w::i::1".into(),
            payload: Bytes::from(vec![b'.'; 64 * 1024]),
            message_type: MessageType::Chat as i32,
            ..Default::default()
        }))))
        .await;
        if let Some(e) = svc.barrier().await.into_iter().find_map(|p| match p {
            downstream_message::Payload::Error(e) => Some(e),
            _ => None,
        }) {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(
        refused.expect("agent 1's mailbox fills").code,
        "ERR_MAILBOX_FULL"
    );
    let before = gw.stats().refused.mailbox_full;
    svc.send_message("ga::w", b"all", MessageType::Control)
        .await;
    let seen = svc.barrier().await;
    let e = match seen.as_slice() {
        [downstream_message::Payload::Error(e)] => e,
        other => panic!("expected one refusal, got {other:?}"),
    };
    assert_eq!(e.code, "ERR_MAILBOX_FULL");
    assert!(e.message.contains("1 of 2 subscribers"), "{}", e.message);
    assert_eq!(gw.stats().refused.mailbox_full, before + 1);
}

#[tokio::test]
async fn sends_nobody_can_receive_are_refused() {
    let gw = dev_gateway().await;
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    for (topic, code) in [
        ("ag::w::i", "ERR_INVALID_TOPIC"),
        ("us::only-user", "ERR_INVALID_TOPIC"),
        ("pg::w", "ERR_INVALID_TOPIC"),
        ("tk::task-1", "ERR_NOT_IMPLEMENTED"),
    ] {
        a.send_message(topic, b"x", MessageType::Chat).await;
        assert_eq!(a.error().await.code, code, "{topic}");
    }
    let stats = gw.stats();
    assert_eq!(stats.messages_routed, 0);
    assert_eq!(stats.send_errors, 4);
    assert_eq!(stats.refused.invalid_topic, 3);
    assert_eq!(stats.refused.other, 1);
}

#[tokio::test]
async fn broadcast_lanes_reach_connected_subscribers() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut svc, _) = Conn::connect(&url, &Principal::service("svc", "s", false).unwrap()).await;

    // ga: every agent of the workspace, not the others.
    let (mut a1, _) = Conn::connect(&url, &Principal::agent("w", "i", "1").unwrap()).await;
    let (mut a2, _) = Conn::connect(&url, &Principal::agent("w", "j", "2").unwrap()).await;
    let (mut other, _) = Conn::connect(&url, &Principal::agent("v", "i", "3").unwrap()).await;
    svc.send_message("ga::w", b"ga", MessageType::Control).await;
    assert_eq!(&a1.msg().await.payload[..], b"ga");
    assert_eq!(&a2.msg().await.payload[..], b"ga");
    svc.barrier().await;
    assert!(no_messages(&other.barrier().await));

    // gu / uw after SwitchWorkspace; uu to every window.
    let (mut u1, _) = Conn::connect(&url, &Principal::user("bob", "w1").unwrap()).await;
    let (mut u2, _) = Conn::connect(&url, &Principal::user("bob", "w2").unwrap()).await;
    svc.send_message("gu::w", b"before", MessageType::Chat)
        .await;
    svc.barrier().await;
    assert!(no_messages(&u1.barrier().await));
    u1.send(up(upstream_message::Payload::SwitchWorkspace(Box::new(
        SwitchWorkspace {
            new_workspace_id: "w".into(),
        },
    ))))
    .await;
    u1.barrier().await;
    svc.send_message("gu::w", b"gu", MessageType::Chat).await;
    assert_eq!(&u1.msg().await.payload[..], b"gu");
    svc.send_message("uw::bob::w", b"uw", MessageType::Chat)
        .await;
    assert_eq!(&u1.msg().await.payload[..], b"uw");
    svc.send_message("uu::bob", b"uu", MessageType::Chat).await;
    assert_eq!(&u1.msg().await.payload[..], b"uu");
    let m = u2.msg().await;
    assert_eq!(&m.payload[..], b"uu");
    assert_eq!(m.source_topic, "sv::svc::s");
    svc.barrier().await;
    assert!(no_messages(&u2.barrier().await));

    // A user's messages carry its current workspace.
    u1.send_message("ag::w::i::1", b"from-user", MessageType::Chat)
        .await;
    let m = a1.msg().await;
    assert_eq!(m.source_topic, "us::bob::w1");
    assert_eq!(m.workspace, "w");

    // tb: every pooled task instance of ws:impl.
    let pooled = Principal::pooled_task("w", "worker").unwrap();
    let (mut t1, ack1) = Conn::connect(&url, &pooled).await;
    let (mut t2, _) = Conn::connect(&url, &pooled).await;
    svc.send_message("tb::w::worker", b"tb", MessageType::Control)
        .await;
    assert_eq!(&t1.msg().await.payload[..], b"tb");
    assert_eq!(&t2.msg().await.payload[..], b"tb");
    // ...and each instance has its own topic.
    let own = format!("ta::w::worker::{}", ack1.assigned_id);
    svc.send_message(&own, b"ta", MessageType::Chat).await;
    assert_eq!(&t1.msg().await.payload[..], b"ta");
    svc.barrier().await;
    assert!(no_messages(&t2.barrier().await));
}

#[tokio::test]
async fn events_and_metrics_fan_in_to_their_receivers() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut wfe, _) = Conn::connect(&url, &Principal::workflow_engine()).await;
    let (mut mb, _) = Conn::connect(&url, &Principal::metrics_bridge()).await;
    let (agent, _) = Conn::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;

    agent
        .send_message("event::*", b"ev", MessageType::Event)
        .await;
    let m = wfe.msg().await;
    assert_eq!(m.source_topic, "ag::w::i::a");
    assert_eq!(m.workspace, "w");
    assert_eq!(m.message_type, MessageType::Event as i32);

    let metric = Metric {
        entries: vec![MetricEntry {
            name: "tokens".into(),
            kind: "llm".into(),
            qty: 3.0,
        }],
        ..Default::default()
    }
    .encode_to_vec();
    agent
        .send(up(upstream_message::Payload::Send(Box::new(SendMessage {
            target_topic: "metric::other".into(),
            payload: Bytes::from(metric.clone()),
            message_type: MessageType::Metric as i32,
            ..Default::default()
        }))))
        .await;
    let m = mb.msg().await;
    assert_eq!(m.workspace, "other");
    assert_eq!(m.payload, Bytes::from(metric));

    // The workflow engine's own messages come from event::receiver0.
    wfe.send_message("ag::w::i::a", b"wf", MessageType::Control)
        .await;
    let mut agent = agent;
    assert_eq!(agent.msg().await.source_topic, "event::receiver0");
}

async fn expect_error(c: &mut Conn, code: &str) -> String {
    let e = c.error().await;
    assert_eq!(e.code, code, "{e:?}");
    assert!(e.request_id.is_empty());
    e.message
}

#[tokio::test]
async fn permission_matrix_and_topic_rules() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut user, _) = Conn::connect(&url, &Principal::user("u", "w").unwrap()).await;
    user.send_message("event::*", b"x", MessageType::Event)
        .await;
    assert_eq!(
        expect_error(&mut user, "ERR_PERMISSION_DENIED").await,
        "not authorized to send to topic event::*"
    );
    user.send_message("uu::u", b"x", MessageType::Chat).await;
    expect_error(&mut user, "ERR_PERMISSION_DENIED").await;

    let (mut mb, _) = Conn::connect(&url, &Principal::metrics_bridge()).await;
    mb.send_message("ag::w::i::s", b"x", MessageType::Chat)
        .await;
    expect_error(&mut mb, "ERR_PERMISSION_DENIED").await;

    let orch = Principal::orchestrator("o", "x", vec!["p".into()]).unwrap();
    let (mut orc, _) = Conn::connect(&url, &orch).await;
    orc.send_message("us::u::w", b"x", MessageType::Chat).await;
    expect_error(&mut orc, "ERR_PERMISSION_DENIED").await;
    orc.send_message("ag::w::i::s", b"ok", MessageType::Chat)
        .await;
    assert!(orc.barrier().await.is_empty());

    user.send_message("zz::nope", b"x", MessageType::Chat).await;
    assert_eq!(
        expect_error(&mut user, "ERR_INVALID_TOPIC").await,
        "invalid target topic: invalid topic prefix"
    );
    user.send_message("", b"x", MessageType::Chat).await;
    assert_eq!(
        expect_error(&mut user, "ERR_INVALID_TOPIC").await,
        "topic length must be 1-256 characters"
    );

    // sv wildcard: no instance, then one.
    user.send_message("sv::calc", b"x", MessageType::Chat).await;
    let e = user.error().await;
    assert_eq!(e.code, "ERR_SV_UNAVAILABLE");
    assert!(e.retryable);
    let (mut calc, _) = Conn::connect(&url, &Principal::service("calc", "1", false).unwrap()).await;
    user.send_message("sv::calc", b"any", MessageType::Chat)
        .await;
    assert_eq!(&calc.msg().await.payload[..], b"any");

    // On-behalf-of needs a subject and a grant.
    user.send(up(upstream_message::Payload::Send(Box::new(SendMessage {
        target_topic: "ag::w::i::s".into(),
        authorization: Some(Box::new(AuthorizationContext {
            authority_mode: "on_behalf_of".into(),
            grant_id: "g".into(),
            ..Default::default()
        })),
        ..Default::default()
    }))))
    .await;
    assert_eq!(
        expect_error(&mut user, "ERR_PERMISSION_DENIED").await,
        "invalid authorization context: subject is required"
    );

    // Only users switch workspaces; the new one must be a valid identifier.
    let (mut agent, _) = Conn::connect(&url, &Principal::agent("w", "i", "sw").unwrap()).await;
    agent
        .send(up(upstream_message::Payload::SwitchWorkspace(Box::new(
            SwitchWorkspace {
                new_workspace_id: "x".into(),
            },
        ))))
        .await;
    assert_eq!(
        expect_error(&mut agent, "ERR_INVALID_PRINCIPAL").await,
        "only users can switch workspaces"
    );
    user.send(up(upstream_message::Payload::SwitchWorkspace(Box::new(
        SwitchWorkspace {
            new_workspace_id: "a::b".into(),
        },
    ))))
    .await;
    expect_error(&mut user, "ERR_INVALID_ARGUMENT").await;
    assert!(gw.stats().send_errors >= 8);
}

#[tokio::test]
async fn metric_payloads_are_validated() {
    let gw = dev_gateway().await;
    let (mut agent, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "m").unwrap()).await;
    let send = |payload: Vec<u8>| {
        up(upstream_message::Payload::Send(Box::new(SendMessage {
            target_topic: "metric::*".into(),
            payload: Bytes::from(payload),
            message_type: MessageType::Metric as i32,
            ..Default::default()
        })))
    };
    let metric = |entries: Vec<(&str, f64)>| {
        Metric {
            entries: entries
                .into_iter()
                .map(|(n, q)| MetricEntry {
                    name: n.into(),
                    kind: String::new(),
                    qty: q,
                })
                .collect(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    agent.send(send(vec![0xff, 0xff, 0xff])).await;
    expect_error(&mut agent, "ERR_METRIC_INVALID").await;
    agent.send(send(metric(vec![]))).await;
    expect_error(&mut agent, "ERR_METRIC_EMPTY").await;
    agent.send(send(metric(vec![("", 1.0)]))).await;
    expect_error(&mut agent, "ERR_METRIC_INVALID_ENTRY").await;
    agent.send(send(metric(vec![("a", f64::INFINITY)]))).await;
    expect_error(&mut agent, "ERR_METRIC_INVALID_ENTRY").await;
    agent.send(send(metric(vec![("a", -1.0)]))).await;
    expect_error(&mut agent, "ERR_METRIC_NEGATIVE_FORBIDDEN").await;
    agent.send(send(metric(vec![("a", 1.0)]))).await;
    assert!(agent.barrier().await.is_empty());
    assert_eq!(gw.mailbox_len("metric::receiver0"), Some(1));
}
