//! The tonic service: `Connect` returns the response stream at once (tonic
//! sends headers only when the handler returns) and runs the session in a
//! spawned task.

use std::sync::Arc;

use aether_protocol::proto::UpstreamMessage;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Peer;
use crate::credential::secret;
use crate::hub::Hub;
use crate::outbound::{self, Out, OutboundStream};
use crate::proto::aether_gateway_server::AetherGateway;
use crate::session;

/// Direct replies a session may queue before its reader waits.
const DIRECT_CAPACITY: usize = 256;

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
        let peer = Peer {
            ip: request.remote_addr().map(|a| a.ip()),
            cert: request.peer_certs().and_then(|chain| {
                chain
                    .first()
                    .map(|leaf| secret::digest_bytes(leaf.as_ref()))
            }),
        };
        let upstream = request.into_inner();
        let (tx, outlet, stream) = outbound::channel(DIRECT_CAPACITY, self.hub.cx.stats.clone());
        if self.hub.cx.is_closing() {
            // Like every other refusal, an item on the stream.
            let _ = tx.try_send(Out::End(Status::unavailable("server shutting down")));
            return Ok(Response::new(stream));
        }
        tokio::spawn(session::run(self.hub.clone(), upstream, tx, outlet, peer));
        Ok(Response::new(stream))
    }
}
