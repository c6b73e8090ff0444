//! The `AetherGateway` gRPC service: `Connect` returns the response stream
//! at once (headers go when the handler returns) and runs the session in a
//! spawned task.
//!
//! The route is served by hand ([`ConnectRoute`]) rather than through the
//! generated server stub, so that both directions of the stream are framed
//! by [`aether_protocol::frames`] (no copy of body and tunnel chunks) with
//! the same errors, limits and trailers tonic's codec has.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aether_protocol::frames::{CONNECT_PATH, CONTENT_TYPE, FrameBody, FrameStream, SERVICE};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::transport::server::TlsConnectInfo;
use tonic::{Request, Response, Status};
use tower_service::Service;

use crate::auth::Peer;
use crate::credential::secret;
use crate::hub::Hub;
use crate::listener::ConnInfo;
use crate::outbound::{self, Out, OutboundStream, QueueLimits};
use crate::session::{self, Upstream};

/// Replies a session may queue before its task waits for room.
const REPLY_ITEMS: usize = 256;
/// Bytes of replies a session may queue before its task waits (a larger
/// reply goes alone).
const REPLY_BYTES: usize = 4 * 1024 * 1024;

/// The `AetherGateway` implementation.
pub(crate) struct GatewayService {
    pub(crate) hub: Arc<Hub>,
}

impl GatewayService {
    /// `Connect`: the session's downstream frames.
    async fn connect(
        &self,
        request: Request<Upstream>,
    ) -> Result<Response<OutboundStream>, Status> {
        // The connection this stream came on (absent only off our
        // listener), wrapped by tonic when it carries TLS.
        let ext = request.extensions();
        let (conn, certs) = match ext.get::<TlsConnectInfo<ConnInfo>>() {
            Some(tls) => (Some(tls.get_ref().clone()), tls.peer_certs()),
            None => (ext.get::<ConnInfo>().cloned(), None),
        };
        let peer = Peer {
            ip: conn.as_ref().and_then(|c| c.remote).map(|a| a.ip()),
            cert: certs.and_then(|chain| {
                chain
                    .first()
                    .map(|leaf| secret::digest_bytes(leaf.as_ref()))
            }),
        };
        let conn = conn.map(|c| c.state);
        let upstream = request.into_inner();
        let limits = &self.hub.cx.config.limits;
        let queue = QueueLimits {
            reply_items: REPLY_ITEMS,
            reply_bytes: REPLY_BYTES,
            push_items: limits.max_push_backlog,
            push_bytes: limits.max_push_backlog_bytes,
        };
        let (tx, outlet, stream) = outbound::channel(queue, self.hub.cx.stats.clone());
        if self.hub.cx.is_closing() {
            // Like every other refusal, an item on the stream.
            let _ = tx.control(Out::End(Status::unavailable("server shutting down")));
            return Ok(Response::new(stream));
        }
        let admitted = move || {
            if let Some(conn) = conn {
                conn.establish();
            }
        };
        tokio::spawn(session::run(
            self.hub.clone(),
            upstream,
            tx,
            outlet,
            admitted,
            peer,
        ));
        Ok(Response::new(stream))
    }
}

/// `AetherGateway` as a tower service for tonic's router: `Connect`, framed
/// by [`aether_protocol::frames`]; any other method is `UNIMPLEMENTED`.
#[derive(Clone)]
pub(crate) struct ConnectRoute {
    service: Arc<GatewayService>,
    /// Largest upstream frame decoded.
    max_decode: usize,
    /// Largest downstream frame sent.
    max_encode: usize,
}

impl ConnectRoute {
    pub(crate) fn new(service: GatewayService, max_decode: usize, max_encode: usize) -> Self {
        ConnectRoute {
            service: Arc::new(service),
            max_decode,
            max_encode,
        }
    }
}

impl NamedService for ConnectRoute {
    const NAME: &'static str = SERVICE;
}

type RouteFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl Service<http::Request<Body>> for ConnectRoute {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> RouteFuture {
        if request.uri().path() != CONNECT_PATH {
            return Box::pin(std::future::ready(
                Ok(Status::unimplemented("").into_http()),
            ));
        }
        let (parts, body) = request.into_parts();
        let upstream = FrameStream::request(body, self.max_decode);
        let request = Request::from_http(http::Request::from_parts(parts, upstream));
        let (service, max_encode) = (self.service.clone(), self.max_encode);
        Box::pin(async move {
            let (metadata, downstream, extensions) = match service.connect(request).await {
                Ok(response) => response.into_parts(),
                Err(status) => return Ok(status.into_http()),
            };
            let body = Body::new(FrameBody::response(downstream, max_encode));
            let mut response = http::Response::new(body);
            *response.headers_mut() = metadata.into_headers();
            *response.extensions_mut() = extensions;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(CONTENT_TYPE),
            );
            Ok(response)
        })
    }
}
