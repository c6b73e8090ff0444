//! The tonic service: `Connect` returns the response stream at once (tonic
//! sends headers only when the handler returns) and runs the session in a
//! spawned task.

use std::sync::Arc;

use aether_protocol::proto::UpstreamMessage;
use tonic::transport::server::TlsConnectInfo;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Peer;
use crate::credential::secret;
use crate::hub::Hub;
use crate::listener::ConnInfo;
use crate::outbound::{self, Out, OutboundStream, QueueLimits};
use crate::proto::aether_gateway_server::AetherGateway;
use crate::session;

/// Replies a session may queue before its task waits for room.
const REPLY_ITEMS: usize = 256;
/// Bytes of replies a session may queue before its task waits (a larger
/// reply goes alone).
const REPLY_BYTES: usize = 4 * 1024 * 1024;

/// The `AetherGateway` implementation.
pub(crate) struct GatewayService {
    pub(crate) hub: Arc<Hub>,
}

#[tonic::async_trait]
impl AetherGateway for GatewayService {
    type ConnectStream = OutboundStream;

    async fn connect(
        &self,
        request: Request<Streaming<UpstreamMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
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
