//! Agents, tasks and users exchanging typed messages through the embedded
//! gateway.

mod common;

use aether_client::{AgentClient, MessageType, TaskClient, UserClient};
use common::{gateway, within};
use futures_util::StreamExt;
use tokio::sync::mpsc;

#[tokio::test]
async fn agents_exchange_typed_messages_with_typed_and_catch_all_handlers() {
    let gw = gateway().await;
    let alice = AgentClient::builder("ws", "chat", "alice")
        .unwrap()
        .gateway(gw.url())
        .build();
    let bob = AgentClient::builder("ws", "chat", "bob")
        .unwrap()
        .gateway(gw.url())
        .build();

    let (typed_tx, mut typed_rx) = mpsc::unbounded_channel();
    let (all_tx, mut all_rx) = mpsc::unbounded_channel();
    bob.on_chat_message(move |m| {
        let tx = typed_tx.clone();
        async move {
            tx.send(("chat", m)).unwrap();
        }
    });
    bob.on_message(move |m| {
        let tx = all_tx.clone();
        async move {
            tx.send(m).unwrap();
        }
    });
    alice.connect().await.unwrap();
    bob.connect().await.unwrap();

    alice
        .send_message_to_agent("ws", "chat", "bob", "hello bob", MessageType::Chat)
        .await
        .unwrap();
    alice
        .send_message_to_agent("ws", "chat", "bob", vec![1u8, 2, 3], MessageType::Opaque)
        .await
        .unwrap();

    let (kind, typed) = within("typed handler", typed_rx.recv()).await.unwrap();
    assert_eq!(kind, "chat");
    assert_eq!(typed.payload_str(), Some("hello bob"));
    assert_eq!(typed.source_topic(), "ag::ws::chat::alice");
    assert_eq!(typed.message_type(), MessageType::Chat);
    assert_eq!(typed.workspace(), "ws");

    let first = within("catch-all 1", all_rx.recv()).await.unwrap();
    let second = within("catch-all 2", all_rx.recv()).await.unwrap();
    assert_eq!(first.payload_str(), Some("hello bob"));
    assert_eq!(second.payload().as_ref(), &[1u8, 2, 3]);
    assert_eq!(second.message_type(), MessageType::Opaque);
    // The OPAQUE message fired no typed handler.
    assert!(typed_rx.try_recv().is_err());

    alice.close().await;
    bob.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn users_tasks_and_streams() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "helper", "a1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let user = UserClient::builder("u1", "w1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let task = TaskClient::builder("ws", "job", "t1")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    user.connect().await.unwrap();
    task.connect().await.unwrap();

    let mut user_msgs = user.messages();
    let mut user_msgs_2 = user.messages();
    let mut task_msgs = task.messages();
    let mut agent_msgs = agent.messages();

    agent
        .send_message_to_user_session("u1", "w1", "hi user", MessageType::Chat)
        .await
        .unwrap();
    let m = within("user message", user_msgs.next())
        .await
        .unwrap()
        .expect("user message: an item");
    assert_eq!(m.payload_str(), Some("hi user"));
    let m2 = within("second subscriber", user_msgs_2.next())
        .await
        .unwrap()
        .expect("second subscriber: an item");
    assert_eq!(m2, m);

    user.send_message_to_agent("ws", "helper", "a1", "hi agent", MessageType::ToolCall)
        .await
        .unwrap();
    let m = within("agent message", agent_msgs.next())
        .await
        .unwrap()
        .expect("agent message: an item");
    assert_eq!(m.source_topic(), "us::u1::w1");
    assert_eq!(m.message_type(), MessageType::ToolCall);

    agent
        .send_message_to_task("ws", "job", "t1", "work", MessageType::Control)
        .await
        .unwrap();
    let m = within("task message", task_msgs.next())
        .await
        .unwrap()
        .expect("task message: an item");
    assert_eq!(m.payload_str(), Some("work"));

    // Workspace broadcasts reach users only after they switch.
    user.switch_workspace("ws").await.unwrap();
    // The switch has no reply; a round trip through the gateway orders it.
    assert!(user.connection_status("user", "u1").await.unwrap());
    agent
        .send_broadcast_to_users("ws", "to all users", MessageType::Event)
        .await
        .unwrap();
    let m = within("gu broadcast", user_msgs.next())
        .await
        .unwrap()
        .expect("gu broadcast: an item");
    assert_eq!(m.payload_str(), Some("to all users"));

    for c in [agent.erase(), user.erase(), task.erase()] {
        c.close().await;
    }
    gw.shutdown().await;
}
