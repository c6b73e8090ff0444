//! Shared by the benches: the bare tonic server each one compares against.

use std::time::Duration;

use aether_gateway::proto::aether_gateway_server::{AetherGateway, AetherGatewayServer};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// How long a bare server may take to stop before it is aborted.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// A bare `AetherGateway` service served on 127.0.0.1 with the embedded
/// gateway's server settings and message size limits.
pub struct BareServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl BareServer {
    /// Serves `service` on an ephemeral port; `name` labels errors.
    pub async fn start<S: AetherGateway>(service: S, name: &str) -> Result<BareServer, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("{name} bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("{name} addr: {e}"))?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = AetherGatewayServer::new(service)
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(16 * 1024 * 1024);
        let router = Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .max_concurrent_streams(Some(1000))
            .add_service(service);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let name = name.to_string();
        let server = tokio::spawn(async move {
            let signal = async {
                let _ = stop_rx.await;
            };
            if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
                eprintln!("{name} failed: {e}");
            }
        });
        Ok(BareServer {
            url: format!("http://{addr}"),
            stop,
            server,
        })
    }

    /// Stops the server (bounded; aborted if it lingers).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}
