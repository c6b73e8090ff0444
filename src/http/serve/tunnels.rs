//! The terminator's service over tunnels: each accepted tunnel is an
//! HTTP/1.1 or HTTP/2 (prior knowledge) connection served by hyper.

use futures_util::StreamExt;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use super::super::body::Body;
use crate::error::BoxError;
use crate::ops::tunnel::TunnelListener;

/// Accepts tunnels until stopped, then lets their connections finish the
/// requests they are serving.
pub(super) fn spawn<S, B>(
    mut listener: TunnelListener,
    service: S,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    S: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut connections = JoinSet::new();
        loop {
            let incoming = tokio::select! {
                biased;
                _ = stopped.wait_for(|s| *s) => break,
                incoming = listener.next() => match incoming {
                    Some(t) => t,
                    None => break,
                },
            };
            while connections.try_join_next().is_some() {}
            let caller = incoming.caller.clone();
            let service = service.clone();
            let hyper_service =
                hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let mut req = req.map(Body::hyper);
                    req.extensions_mut().insert(caller.clone());
                    service.clone().oneshot(req)
                });
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder
                .serve_connection(TokioIo::new(incoming.tunnel), hyper_service)
                .into_owned();
            let connection = graceful.watch(connection);
            connections.spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "an HTTP connection over a tunnel ended with an error");
                }
            });
        }
        drop(listener);
        graceful.shutdown().await;
        connections.shutdown().await;
    })
}
