//! The terminator: any `tower::Service<http::Request<Body>>` (an axum
//! `Router` as it is) served as the HTTP endpoint of a service principal.

mod config;
mod handle;
#[cfg(feature = "hyper")]
mod tunnels;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use http::{Request, Response};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use config::ServeConfig;

use super::body::Body;
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::error::BoxError;
use crate::ops::http::{IncomingRequests, ProxyErrorKind, ServeOptions};

/// Serves `service` to the HTTP requests addressed to `client` (and, with
/// [`ServeConfig::serve_tunnels`], over the tunnels opened to it). Call it
/// before `client.connect()` so that no request is missed.
///
/// Each request reaches the service as an `http::Request<`[`Body`]`>`: its
/// body streams as its chunks arrive, and its
/// [`Caller`](crate::proxy::Caller) (identity topic, principal type,
/// workspace, authorization; from the headers the gateway minted) is a
/// request extension. The response streams back: inline when small and of
/// known size, else in 256 KiB chunks as the body produces them (so
/// indefinitely streaming responses work). Paths outside the allow-list
/// are answered `ACL_DENIED`; a handler that fails or panics answers 500
/// and the service keeps serving; one that does not answer in time answers
/// `TIMEOUT`; a body over the limit answers `PAYLOAD_TOO_LARGE`.
///
/// ```no_run
/// # async fn demo() -> aether_client::Result<()> {
/// use aether_client::ServiceClient;
/// use aether_client::http::{ServeConfig, serve};
/// use axum::{Router, routing::get};
///
/// let client = ServiceClient::builder("web", "1")?.gateway("http://127.0.0.1:50051").build();
/// let app = Router::new().route("/hello", get(|| async { "hello" }));
/// let server = serve(&client, app, ServeConfig::new());
/// client.connect().await?;
/// tokio::signal::ctrl_c().await.ok();
/// server.shutdown().await; // waits for the requests in flight
/// # Ok(()) }
/// ```
pub fn serve<P, S, B>(client: &Client<P>, service: S, config: ServeConfig) -> Server
where
    P: PrincipalType,
    S: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let requests = client.http_requests(
        ServeOptions::new()
            .allow_paths(config.allow_paths.clone())
            .queue(64)
            .body_idle_timeout(config.body_idle_timeout),
    );
    let (stop, stopped) = watch::channel(false);
    let capacity = config
        .concurrency_limit
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let limit = Arc::new(Semaphore::new(capacity));
    #[cfg(feature = "hyper")]
    let tunnels = config
        .serve_tunnels
        .then(|| tunnels::spawn(client.tunnel_listener(), service.clone(), stopped.clone()));
    let config = Arc::new(config);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(run(
        requests,
        service,
        config,
        limit,
        capacity,
        in_flight.clone(),
        stopped,
    ));
    Server {
        stop,
        in_flight,
        task: Some(task),
        #[cfg(feature = "hyper")]
        tunnels,
    }
}

/// A running terminator. [`shutdown`](Self::shutdown) stops it
/// gracefully; dropping it does the same in the background.
#[must_use = "dropping the Server stops serving"]
pub struct Server {
    stop: watch::Sender<bool>,
    in_flight: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
    #[cfg(feature = "hyper")]
    tunnels: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Stops taking requests (new ones are answered `SIDECAR_UNAVAILABLE`,
    /// so their callers fail at once and may retry elsewhere), waits for
    /// the requests in flight to be answered (and, over tunnels, for their
    /// connections to finish their requests), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        #[cfg(feature = "hyper")]
        if let Some(task) = self.tunnels.take() {
            let _ = task.await;
        }
    }

    /// Waits until serving ends by itself (the client closed).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Counts a request as in flight while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Takes requests while a permit is free and hands each to its own task;
/// once stopped, refuses new requests until the ones in flight are done.
async fn run<S, B>(
    mut requests: IncomingRequests,
    service: S,
    config: Arc<ServeConfig>,
    limit: Arc<Semaphore>,
    capacity: usize,
    in_flight: Arc<AtomicUsize>,
    mut stopped: watch::Receiver<bool>,
) where
    S: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stop = async |stopped: &mut watch::Receiver<bool>| {
        let _ = stopped.wait_for(|s| *s).await;
    };
    loop {
        let permit = tokio::select! {
            biased;
            _ = stop(&mut stopped) => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let request = tokio::select! {
            biased;
            _ = stop(&mut stopped) => break,
            request = requests.next() => match request {
                Some(r) => r,
                None => return,
            },
        };
        let service = service.clone();
        let config = config.clone();
        let busy = InFlight::enter(&in_flight);
        tokio::spawn(async move {
            handle::handle(service, request, config).await;
            drop(busy);
            drop(permit);
        });
    }
    // Draining: every permit back means nothing is in flight.
    let all = u32::try_from(capacity).unwrap_or(u32::MAX);
    let drained = limit.acquire_many(all);
    tokio::pin!(drained);
    loop {
        tokio::select! {
            biased;
            _ = &mut drained => return,
            request = requests.next() => match request {
                Some(r) => {
                    let _ = r
                        .responder
                        .error(ProxyErrorKind::SidecarUnavailable, "the service is shutting down")
                        .await;
                }
                None => return,
            },
        }
    }
}
