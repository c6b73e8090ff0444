//! Quickstart: agents and a user exchanging typed messages.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one instead. It exits 0 in a few
//! seconds.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --gateway http://127.0.0.1:50051
//! ```

mod support;

use std::time::Duration;

use aether_client::{AgentClient, MessageType, UserClient};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A gateway: the embedded one, unless told otherwise (`--gateway URL`).
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // 2. Two agents and a user. The planner answers questions; the
    //    researcher asks them; the user watches the workspace.
    let planner = AgentClient::builder("demo", "planner", "p1")?
        .gateway(&url)
        .build();
    let researcher = AgentClient::builder("demo", "researcher", "r1")?
        .gateway(&url)
        .build();
    let user = UserClient::builder("alice", "tab-1")?.gateway(&url).build();

    // Typed handlers fire first, then the catch-all `on_message`.
    let answerer = planner.clone();
    planner.on_chat_message(move |msg| {
        let planner = answerer.clone();
        async move {
            println!(
                "[planner]    CHAT from {}: {}",
                msg.source_topic(),
                msg.payload_str().unwrap_or("<binary>")
            );
            let reply = format!(
                "plan for '{}': step 1, step 2",
                msg.payload_str().unwrap_or("")
            );
            if let Err(e) = planner
                .send_message_to_agent("demo", "researcher", "r1", reply, MessageType::Chat)
                .await
            {
                eprintln!("reply failed: {e}");
            }
        }
    });
    planner.on_tool_call(|msg| async move {
        println!(
            "[planner]    TOOL_CALL from {}: {}",
            msg.source_topic(),
            msg.payload_str().unwrap_or("")
        );
    });
    planner.on_message(|msg| async move {
        println!(
            "[planner]    (catch-all) {:?} message of {} bytes",
            msg.message_type(),
            msg.payload().len()
        );
    });

    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<&'static str>();
    let researcher_done = done_tx.clone();
    researcher.on_chat_message(move |msg| {
        let done = researcher_done.clone();
        async move {
            println!(
                "[researcher] CHAT from {}: {}",
                msg.source_topic(),
                msg.payload_str().unwrap_or("")
            );
            let _ = done.send("researcher got its plan");
        }
    });
    let user_done = done_tx.clone();
    user.on_event(move |msg| {
        let done = user_done.clone();
        async move {
            println!(
                "[user]       EVENT from {}: {}",
                msg.source_topic(),
                msg.payload_str().unwrap_or("")
            );
            let _ = done.send("user saw the broadcast");
        }
    });

    // 3. Connect: each call returns after the gateway's ConnectionAck.
    for (name, session) in [
        ("planner", planner.connect().await?),
        ("researcher", researcher.connect().await?),
        ("user", user.connect().await?),
    ] {
        println!(
            "{name:<10} connected as {} (session {})",
            session.identity, session.session_id
        );
    }
    user.switch_workspace("demo").await?;
    // SwitchWorkspace has no reply; a round trip makes sure it took effect.
    user.connection_status("user", "alice").await?;

    // 4. Typed messages.
    researcher
        .send_message_to_agent(
            "demo",
            "planner",
            "p1",
            "how do we ship v1?",
            MessageType::Chat,
        )
        .await?;
    researcher
        .send_message_to_agent(
            "demo",
            "planner",
            "p1",
            r#"{"tool":"search"}"#,
            MessageType::ToolCall,
        )
        .await?;
    planner
        .send_broadcast_to_users("demo", "planning started", MessageType::Event)
        .await?;

    // 5. Wait for both outcomes, then close everything.
    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(10), done_rx.recv()).await {
            Ok(Some(what)) => println!("✓ {what}"),
            _ => return Err("timed out waiting for messages".into()),
        }
    }
    planner.close().await;
    researcher.close().await;
    user.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}
