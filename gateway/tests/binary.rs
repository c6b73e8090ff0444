//! The `aether-gateway` binary: prints its address, serves, and exits 0 on
//! SIGTERM after a graceful shutdown.

mod common;

use std::process::Command;

use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message;
use common::Conn;

#[tokio::test]
async fn binary_serves_and_stops_on_sigterm() {
    let (mut child, url) = common::spawn_gateway_binary(&["--dev"]).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (mut c, ack) = Conn::connect(&url, &Principal::user("u", "bin").unwrap()).await;
    assert!(ack.server_version.starts_with("aether-rs-gateway "));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    match c.payload().await {
        downstream_message::Payload::Signal(s) => assert_eq!(s.reason, "server shutting down"),
        other => panic!("expected signal, got {other:?}"),
    }
    let exit = tokio::time::timeout(
        common::GUARD,
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("exits in time")
    .expect("join")
    .expect("wait");
    assert_eq!(exit.code(), Some(0));
}
