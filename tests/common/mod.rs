//! Shared test helpers: an in-process gateway and quick client builders.
#![allow(dead_code)]

pub mod secured;

use std::time::Duration;

use aether_client::ReconnectPolicy;
use aether_gateway::{GatewayConfig, RunningGateway};

/// A guard for awaiting events: fails the test instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn gateway() -> RunningGateway {
    aether_gateway::start(GatewayConfig::dev())
        .await
        .expect("gateway starts")
}

pub async fn gateway_with(config: GatewayConfig) -> RunningGateway {
    aether_gateway::start(config).await.expect("gateway starts")
}

/// Fast reconnects for tests.
pub fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .max_retries(0)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
}

/// Awaits `fut` or panics after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A TCP proxy between a client and the gateway that a test can freeze (stop
/// forwarding) and cut (drop every connection), to lose a stream without
/// stopping the gateway.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    frozen: tokio::sync::watch::Sender<bool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        use tokio::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen, frozen_rx) = tokio::sync::watch::channel(false);
        let (cut, cut_rx) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                let Ok(outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                // Small frames must not wait for delayed ACKs (40 ms each).
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let mut cut_rx = cut_rx.clone();
                cut_rx.borrow_and_update();
                let f1 = frozen_rx.clone();
                let f2 = frozen_rx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = pump(&mut ri, &mut wo, f1) => {}
                        _ = pump(&mut ro, &mut wi, f2) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, frozen, cut }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops forwarding bytes (connections stay open).
    pub fn freeze(&self, yes: bool) {
        self.frozen.send_replace(yes);
    }

    /// Drops every proxied connection (new ones are accepted).
    pub fn cut(&self) {
        self.frozen.send_replace(false);
        self.cut.send_modify(|n| *n += 1);
    }
}

async fn pump(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
