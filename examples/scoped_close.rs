//! Closing clients: on scope exit (drop), explicitly (idempotent), and
//! waiting for a client to stop for good.
//!
//! 1. A client that goes out of scope closes itself: the gateway soon
//!    reports it offline.
//! 2. A clone keeps the connection open; `close()` closes it for every
//!    clone and may be called any number of times.
//! 3. `wait_until_disconnected()` returns when a client stops for good:
//!    here because an admin forces its session off.
//!
//! With no arguments it starts the embedded gateway in-process (in dev
//! mode, so session admin is allowed); with `--gateway URL` it uses an
//! external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example scoped_close
//! ```

mod support;

use std::time::Duration;

use aether_client::{AgentClient, ConnectionState};

const WS: &str = "demo";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // An observer that asks the gateway who is online.
    let observer = AgentClient::builder(WS, "observer", "o1")?
        .gateway(&url)
        .build();
    observer.connect().await?;

    // 1. Scope exit: dropping the last clone closes the client.
    {
        let scoped = AgentClient::builder(WS, "scoped", "s1")?
            .gateway(&url)
            .build();
        scoped.connect().await?;
        println!(
            "1. scoped client online: {}",
            observer
                .connection_status("agent", "ag::demo::scoped::s1")
                .await?
        );
    } // <- dropped here: it closes in the background
    wait_offline(&observer, "ag::demo::scoped::s1").await?;
    println!("   after its scope ended: offline");

    // 2. Clones share one connection; close() is for all of them, and
    //    idempotent.
    let client = AgentClient::builder(WS, "shared", "c1")?
        .gateway(&url)
        .build();
    client.connect().await?;
    let clone = client.clone();
    drop(client); // a clone is still alive: still connected
    println!(
        "2. after dropping one clone: connected = {}",
        clone.is_connected()
    );
    clone.close().await;
    clone.close().await; // no-op
    assert!(matches!(clone.state(), ConnectionState::Closed { .. }));
    println!("   after close() twice: {:?}", clone.state());
    wait_offline(&observer, "ag::demo::shared::c1").await?;

    // 3. wait_until_disconnected(): returns when the client stops for
    //    good (not while it reconnects). An admin forces it off here.
    let worker = AgentClient::builder(WS, "worker", "w1")?
        .gateway(&url)
        .build();
    let session = worker.connect().await?;
    let waiter = {
        let worker = worker.clone();
        tokio::spawn(async move {
            worker.wait_until_disconnected().await;
            worker.state()
        })
    };
    observer.disconnect_session(&session.session_id).await?;
    let state = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .map_err(|_| "timed out waiting for the disconnect")??;
    println!("3. wait_until_disconnected returned: {state:?}");
    worker.close().await; // already closed: still fine

    observer.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}

/// Polls the gateway (bounded) until `identity` is offline.
async fn wait_offline(
    observer: &AgentClient,
    identity: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while observer.connection_status("agent", identity).await? {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{identity} is still online").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
