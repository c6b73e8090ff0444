//! The `aether-gateway` binary: prints its address, serves, and exits 0 on
//! SIGTERM after a graceful shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message;
use common::Conn;

#[tokio::test]
async fn binary_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aether-gateway"))
        .args(["--port", "0", "--dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(common::GUARD, line)
        .await
        .expect("prints in time")
        .expect("join")
        .expect("reads");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let (mut c, ack) = Conn::connect(
        &format!("http://{addr}"),
        &Principal::user("u", "bin").unwrap(),
    )
    .await;
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
