//! Starting, observing and stopping a gateway.

mod guard;
mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::config::GatewayConfig;
use crate::context::IdentityTables;
use crate::error::GatewayError;
use crate::hub::Hub;
use crate::listener;
use crate::service::{ConnectRoute, GatewayService};
use crate::stats::GatewayStats;
use crate::store::Store;
use crate::tasks::clockwork;

/// Hard cap for the frame decoder; frames between `max_frame_bytes` and
/// this are decoded and refused in-stream, so the session survives.
const DECODE_HARD_CAP: usize = 64 * 1024 * 1024;
/// Largest downstream frame.
const ENCODE_LIMIT: usize = 16 * 1024 * 1024;
/// How long shutdown waits for connections to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often expired KV entries and checkpoints are removed.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A gateway serving in the background.
pub struct RunningGateway {
    addr: SocketAddr,
    tls: bool,
    hub: Arc<Hub>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    sweeper: JoinHandle<()>,
    /// Fires the task timers.
    clockwork: JoinHandle<()>,
    metrics_addr: Option<SocketAddr>,
    metrics: Option<JoinHandle<()>>,
}

/// Sweeps expired state until the gateway is gone.
async fn sweep(hub: std::sync::Weak<Hub>) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match hub.upgrade() {
            Some(hub) => hub.sweep(),
            None => return,
        }
    }
}

/// Starts a gateway: binds `config.bind` and serves until
/// [`RunningGateway::shutdown`] (or drop).
pub async fn start(config: GatewayConfig) -> Result<RunningGateway, GatewayError> {
    let listener = listener::bind(config.bind).map_err(|source| GatewayError::Bind {
        addr: config.bind,
        source,
    })?;
    let addr = listener.local_addr()?;

    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_concurrent_streams(Some(1000))
        // One stream carries everything a client sends, large HTTP bodies
        // and tunnels included: windows the size of the proxy lanes keep
        // the sender from stalling on window updates, and large frames
        // cut the per-frame cost of big messages.
        .initial_stream_window_size(Some(4 * 1024 * 1024))
        .initial_connection_window_size(Some(8 * 1024 * 1024))
        .max_frame_size(Some(256 * 1024));
    let tls = config.tls.is_some();
    if let Some(t) = &config.tls {
        let mut server_tls =
            ServerTlsConfig::new().identity(Identity::from_pem(&t.cert_pem, &t.key_pem));
        if let Some(ca) = &t.client_ca_pem {
            server_tls = server_tls.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder
            .tls_config(server_tls)
            .map_err(|e| GatewayError::Tls(e.to_string()))?;
    }

    let hard_cap = DECODE_HARD_CAP.max(config.limits.max_frame_bytes);
    let store_error = |e| GatewayError::from_store(config.data_dir.as_deref(), e);
    let store = match &config.data_dir {
        Some(dir) => Store::open(dir).map_err(store_error)?,
        None => Store::memory(),
    };
    let dev = config.dev;
    let open_door = !dev
        && config.admin_key.is_none()
        && config
            .tls
            .as_ref()
            .is_none_or(|t| t.client_principals.is_empty());
    let hub = Hub::new(config.clone(), store.clone()).map_err(|e| {
        match e {
            // Not a clean close of a trusted file: leave the mark off.
            GatewayError::Corrupt { .. } | GatewayError::Store(_) => store.abandon(),
            _ => store.close(),
        }
        e
    })?;
    if dev {
        tracing::warn!(
            "dev mode: every connection is admitted without credentials and is an administrator; \
             do not expose this gateway"
        );
    } else if open_door {
        tracing::warn!(
            "no admin key and no mapped client certificates: only API tokens minted earlier can connect"
        );
    }
    if let Some(path) = store.path() {
        tracing::info!(path = %path.display(), "durable state loaded");
    }
    let hub = Arc::new(hub);
    let metrics = match hub.cx.config.metrics_addr {
        Some(addr) => Some(metrics::start(addr, &hub).await.map_err(|source| {
            hub.store.close();
            GatewayError::Bind { addr, source }
        })?),
        None => None,
    };
    let sweeper = tokio::spawn({
        let (hub, proxy) = (Arc::downgrade(&hub), Arc::downgrade(&hub.proxy));
        async move {
            tokio::join!(sweep(hub), crate::proxy::run_timers(proxy));
        }
    });
    let clockwork = tokio::spawn(clockwork::run(Arc::downgrade(&hub.tasks)));
    let service = ConnectRoute::new(GatewayService { hub: hub.clone() }, hard_cap, ENCODE_LIMIT);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let limits = &hub.cx.config.limits;
    let incoming = listener::incoming(
        listener,
        listener::AcceptLimits {
            max_connections: limits.max_connections.max(1),
            handshake_timeout: limits.handshake_timeout,
        },
        hub.cx.stats.clone(),
    );
    let router = builder
        .layer(guard::FirstFrameLimitLayer {
            limit: limits.max_handshake_bytes,
        })
        .add_service(service);
    let server = tokio::spawn(async move {
        let signal = async {
            let _ = stop_rx.await;
        };
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
            tracing::error!(error = %e, "gateway server failed");
        }
    });
    tracing::info!(%addr, tls, "gateway listening");
    let (metrics_addr, metrics) = metrics.unzip();
    Ok(RunningGateway {
        addr,
        tls,
        hub,
        stop: Some(stop_tx),
        server: Some(server),
        sweeper,
        clockwork,
        metrics_addr,
        metrics,
    })
}

impl RunningGateway {
    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, when [`GatewayConfig::metrics_addr`] is
    /// set (with the real port when 0 was asked for).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// `http://ADDR`, or `https://ADDR` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> GatewayStats {
        self.hub.cx.stats.snapshot()
    }

    /// Messages the mailbox of `topic` refused because it was full
    /// (`None` if that mailbox does not exist).
    pub fn mailbox_refusals(&self, topic: &str) -> Option<u64> {
        self.hub.cx.mailboxes.get(topic).map(|m| m.refusals())
    }

    /// The sizes of the tables keyed by identity (a diagnostic: they return
    /// to their size before a crowd of identities came and went, once
    /// their resume window has passed).
    pub fn identity_tables(&self) -> IdentityTables {
        self.hub.cx.identity_tables()
    }

    /// Messages waiting in the mailbox of `topic` (`None` if it does not exist).
    pub fn mailbox_len(&self, topic: &str) -> Option<usize> {
        self.hub.cx.mailboxes.get(topic).map(|m| m.len())
    }

    /// Graceful shutdown: every session gets `Signal{GRACEFUL_DISCONNECT,
    /// "server shutting down"}` and its stream ends; then the listener
    /// closes and connections drain (up to 10 s); last, the journal is
    /// flushed and the database released (a new gateway may open the same
    /// data directory as soon as this returns).
    pub async fn shutdown(mut self) {
        self.hub.cx.shut_down_sessions();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(DRAIN_TIMEOUT, &mut server)
                .await
                .is_err()
        {
            tracing::warn!("connections did not drain in time; closing them");
            server.abort();
        }
        self.sweeper.abort();
        self.clockwork.abort();
        if let Some(m) = self.metrics.take() {
            m.abort();
        }
        self.hub.store.close();
        tracing::info!(addr = %self.addr, "gateway stopped");
    }
}

impl Drop for RunningGateway {
    /// Ends every session, stops the listener and releases the database at
    /// once (messages still in flight to connected identities stay in
    /// memory only, as always).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            self.hub.cx.shut_down_sessions();
            let _ = stop.send(());
        }
        self.sweeper.abort();
        self.clockwork.abort();
        if let Some(m) = self.metrics.take() {
            m.abort();
        }
        self.hub.store.close();
    }
}

impl std::fmt::Debug for RunningGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGateway")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}
