//! An echo agent: connects as `ag::WS::echo::SPEC` (or another
//! implementation) and sends every message back to its source topic with the
//! same payload and message type, until Ctrl-C.
//!
//! ```text
//! cargo run --example echo_agent -- --gateway http://127.0.0.1:50051 --workspace demo --specifier one
//! ```

use aether_client::{AgentClient, Credentials, OutgoingMessage};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: echo_agent --gateway URL --workspace WS [--implementation echo] --specifier SPEC";
    let gateway = arg(&args, "--gateway").ok_or(usage)?;
    let workspace = arg(&args, "--workspace").ok_or(usage)?;
    let implementation = arg(&args, "--implementation").unwrap_or_else(|| "echo".into());
    let specifier = arg(&args, "--specifier").ok_or(usage)?;

    let mut builder =
        AgentClient::builder(&workspace, &implementation, &specifier)?.gateway(gateway);
    if let Ok(key) = std::env::var("AETHER_API_KEY") {
        builder = builder.credentials(Credentials::new().with_api_key(key));
    }
    let agent = builder.build();
    let echo = agent.clone();
    agent.on_message(move |msg| {
        let echo = echo.clone();
        async move {
            let reply = OutgoingMessage::to(msg.source_topic(), msg.payload().clone())
                .map(|m| m.message_type(msg.message_type()));
            let result = match reply {
                Ok(m) => echo.send(m).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                eprintln!("echo to {} failed: {e}", msg.source_topic());
            }
        }
    });
    let session = agent.connect().await?;
    // One line on stdout so scripts know we are ready.
    println!("echo agent ready as {}", session.identity);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = agent.wait_until_disconnected() => {}
    }
    agent.close().await;
    Ok(())
}
