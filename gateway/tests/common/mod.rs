//! A raw tonic client for driving the gateway in tests.
#![allow(dead_code)]

pub mod auth;
pub mod proxy;
pub mod state;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aether_client::proto::aether_gateway_client::AetherGatewayClient;
use aether_gateway::{GatewayConfig, RunningGateway};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    ConnectionAck, ConnectionStatusRequest, DownstreamMessage, ErrorResponse, IncomingMessage,
    InitConnection, MessageType, PrincipalRef, SendMessage, UpstreamMessage, downstream_message,
    upstream_message,
};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Status, Streaming};

/// Guard for every wait: a test that hangs fails instead.
pub const GUARD: Duration = Duration::from_secs(10);

/// Starts the `aether-gateway` binary in dev mode on `dir` (with `extra`
/// arguments); returns it and its URL.
pub async fn spawn_binary(dir: &Path, extra: &[&str]) -> (Child, String) {
    let dir = dir.to_str().expect("a UTF-8 data dir");
    let mut args = vec!["--dev", "--data-dir", dir];
    args.extend_from_slice(extra);
    spawn_gateway_binary(&args).await
}

/// Starts the `aether-gateway` binary on an ephemeral loopback port with
/// `args`; returns it and the URL its first line announces.
pub async fn spawn_gateway_binary(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aether-gateway"))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(GUARD, line)
        .await
        .expect("prints in time")
        .expect("join")
        .expect("reads");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, format!("http://{addr}"))
}

/// Kills `child` with SIGKILL (no chance to flush anything) and reaps it.
pub async fn kill_9(mut child: Child) {
    let killed = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
}

pub async fn dev_gateway() -> RunningGateway {
    aether_gateway::start(GatewayConfig::dev())
        .await
        .expect("gateway starts")
}

pub async fn channel(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connects")
}

pub fn init(p: &Principal) -> InitConnection {
    InitConnection {
        client_type: Some(p.to_client_type()),
        ..Default::default()
    }
}

pub fn up(payload: upstream_message::Payload) -> UpstreamMessage {
    UpstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
}

/// One `Connect` stream.
pub struct Conn {
    pub tx: mpsc::Sender<UpstreamMessage>,
    pub rx: Streaming<DownstreamMessage>,
    seq: u64,
}

impl Conn {
    /// Opens a stream on `channel` and sends `init` as the first frame.
    pub async fn open_on(channel: Channel, init: InitConnection) -> Conn {
        let conn = Conn::open_raw(channel).await;
        conn.send(up(upstream_message::Payload::Init(Box::new(init))))
            .await;
        conn
    }

    /// Opens a stream without sending anything.
    pub async fn open_raw(channel: Channel) -> Conn {
        let (tx, rx) = mpsc::channel(1024);
        let mut client = AetherGatewayClient::new(channel)
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024);
        let resp = tokio::time::timeout(GUARD, client.connect(ReceiverStream::new(rx)))
            .await
            .expect("headers in time")
            .expect("stream opens");
        Conn {
            tx,
            rx: resp.into_inner(),
            seq: 0,
        }
    }

    pub async fn open(url: &str, init: InitConnection) -> Conn {
        Conn::open_on(channel(url).await, init).await
    }

    /// Connects as `p` and returns the stream and its ack; for agents and
    /// tasks also checks that a `ConfigSnapshot` follows the ack.
    pub async fn connect(url: &str, p: &Principal) -> (Conn, ConnectionAck) {
        let mut c = Conn::open(url, init(p)).await;
        let ack = c.ack().await;
        if matches!(p, Principal::Agent { .. } | Principal::Task { .. }) {
            match c.payload().await {
                downstream_message::Payload::Config(_) => {}
                other => panic!("expected config after the ack, got {other:?}"),
            }
        }
        (c, ack)
    }

    pub async fn send(&self, msg: UpstreamMessage) {
        self.tx.send(msg).await.expect("upstream open");
    }

    pub async fn send_message(&self, topic: &str, payload: &'static [u8], t: MessageType) {
        self.send(up(upstream_message::Payload::Send(Box::new(SendMessage {
            target_topic: topic.to_string(),
            payload: Bytes::from_static(payload),
            message_type: t as i32,
            ..Default::default()
        }))))
        .await;
    }

    /// The next item, or `None` at a clean end.
    pub async fn next(&mut self) -> Result<Option<DownstreamMessage>, Status> {
        tokio::time::timeout(GUARD, self.rx.message())
            .await
            .expect("downstream item in time")
    }

    pub async fn payload(&mut self) -> downstream_message::Payload {
        self.next()
            .await
            .expect("no error")
            .expect("not ended")
            .payload
            .expect("payload set")
    }

    pub async fn ack(&mut self) -> ConnectionAck {
        match self.payload().await {
            downstream_message::Payload::ConnectionAck(a) => *a,
            other => panic!("expected ack, got {other:?}"),
        }
    }

    pub async fn msg(&mut self) -> IncomingMessage {
        loop {
            match self.payload().await {
                downstream_message::Payload::Msg(m) => return *m,
                downstream_message::Payload::Config(_) => continue,
                other => panic!("expected message, got {other:?}"),
            }
        }
    }

    pub async fn error(&mut self) -> ErrorResponse {
        match self.payload().await {
            downstream_message::Payload::Error(e) => *e,
            other => panic!("expected error, got {other:?}"),
        }
    }

    /// The status the stream ends with.
    pub async fn status(&mut self) -> Status {
        loop {
            match self.next().await {
                Err(s) => return s,
                Ok(None) => panic!("stream ended OK"),
                Ok(Some(_)) => continue,
            }
        }
    }

    /// A round trip: once this returns, every earlier frame of this stream
    /// has been processed by the gateway. Returns frames received meanwhile.
    pub async fn barrier(&mut self) -> Vec<downstream_message::Payload> {
        self.seq += 1;
        let id = format!("barrier-{}", self.seq);
        self.send(up(upstream_message::Payload::ConnectionStatusRequest(
            Box::new(ConnectionStatusRequest {
                request_id: id.clone(),
                principal: Some(PrincipalRef {
                    principal_type: "workflow_engine".into(),
                    principal_id: String::new(),
                }),
            }),
        )))
        .await;
        let mut seen = Vec::new();
        loop {
            match self.payload().await {
                downstream_message::Payload::ConnectionStatusResponse(r) if r.request_id == id => {
                    return seen;
                }
                other => seen.push(other),
            }
        }
    }
}
