//! The blocking twins: handlers run off the reader, so a blocking call made
//! inside a handler cannot deadlock.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use aether_client::MessageType;
use aether_client::blocking::{AgentClient, UserClient};

#[test]
fn a_blocking_call_inside_a_handler_does_not_deadlock() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let url = gw.url();

    let server = AgentClient::builder("ws", "blk", "server")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    let client = AgentClient::builder("ws", "blk", "client")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();

    let responder = server.clone();
    server.on_chat_message(move |msg| {
        // Blocking operations inside the handler: a round trip to the
        // gateway, then a reply.
        let online = responder
            .connection_status("agent", msg.source_topic())
            .unwrap();
        let reply = format!("{}:{online}", msg.payload_str().unwrap_or(""));
        responder
            .send_message_to_agent("ws", "blk", "client", reply, MessageType::Chat)
            .unwrap();
    });
    client.on_message(move |msg| {
        tx.send(msg.payload_str().unwrap_or("").to_string())
            .unwrap();
    });
    server.connect().unwrap();
    client.connect().unwrap();

    for i in 0..20 {
        client
            .send_message_to_agent("ws", "blk", "server", format!("ping{i}"), MessageType::Chat)
            .unwrap();
    }
    for i in 0..20 {
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("reply without deadlock");
        assert_eq!(got, format!("ping{i}:true"));
    }

    // The blocking message iterator.
    let user = UserClient::builder("bob", "tab")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    user.connect().unwrap();
    let mut inbox = user.messages();
    client
        .send_message_to_user_session("bob", "tab", "hey", MessageType::Chat)
        .unwrap();
    let m = inbox
        .next_timeout(Duration::from_secs(10))
        .expect("message")
        .expect("not an error");
    assert_eq!(m.payload_str(), Some("hey"));

    server.close();
    client.close();
    user.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn a_panicking_blocking_handler_does_not_stop_dispatch() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let agent = AgentClient::builder("ws", "blk", "panicky")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    let peer = AgentClient::builder("ws", "blk", "peer")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    agent.on_message(move |msg| {
        if msg.payload_str() == Some("boom") {
            panic!("handler failure");
        }
        tx.send(msg.payload_str().unwrap_or("").to_string())
            .unwrap();
    });
    agent.connect().unwrap();
    peer.connect().unwrap();
    peer.send_message_to_agent("ws", "blk", "panicky", "boom", MessageType::Chat)
        .unwrap();
    peer.send_message_to_agent("ws", "blk", "panicky", "after", MessageType::Chat)
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "after");
    assert!(agent.is_connected());
    agent.close();
    peer.close();
    rt.block_on(gw.shutdown());
}
