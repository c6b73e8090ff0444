//! `tunnel_dial`: opens a tunnel to a topic.

use super::options::TunnelOptions;
use super::stream::{Frames, Tunnel};
use crate::clients::Client;
use crate::clients::principal::PrincipalType;
use crate::connection::{Expect, OpRequest, Reply, StreamBounds};
use crate::error::{Error, Result};
use crate::identity::Topic;
use crate::proto::TunnelOpen;
use crate::proto::upstream_message::Payload as Up;

impl<P: PrincipalType> Client<P> {
    /// Opens a tunnel to `target` (a service instance `sv::IMPL::SPEC`, any
    /// instance `sv::IMPL`, or any topic whose principal listens). Returns
    /// at once: the protocol has no open acknowledgement, so a target that
    /// refuses shows as an error on the first read or write.
    ///
    /// ```no_run
    /// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// use aether_client::tunnel::TunnelOptions;
    /// let mut tunnel = agent.tunnel_dial("sv::echo", &TunnelOptions::new()).await?;
    /// tunnel.write_all(b"ping").await?;
    /// tunnel.shutdown().await?;
    /// let mut back = Vec::new();
    /// tunnel.read_to_end(&mut back).await?;
    /// # Ok(()) }
    /// ```
    pub async fn tunnel_dial(&self, target: &str, opts: &TunnelOptions) -> Result<Tunnel> {
        let topic: Topic = target.parse()?;
        let open = TunnelOpen {
            tunnel_id: String::new(),
            target_topic: topic.to_string(),
            protocol: opts.protocol.wire(),
            remote_hint: opts.remote_hint.clone(),
            metadata: opts.metadata.clone(),
            authorization: opts.authorization.clone(),
            idle_timeout_ms: i64::try_from(opts.idle_timeout.as_millis()).unwrap_or(i64::MAX),
            max_bytes: i64::try_from(opts.max_bytes).unwrap_or(i64::MAX),
            session_token: String::new(),
            backend_name: opts.backend.clone(),
            proxy_chain_depth: 0,
        };
        let req = OpRequest::new(
            "tunnel_open",
            Up::TunnelOpen(Box::new(open)),
            Expect::Stream(StreamBounds::new(1024, 8 * 1024 * 1024)),
        );
        let Reply::Stream(stream) = self.call(req).await? else {
            return Err(Error::protocol("tunnel_dial: no tunnel stream"));
        };
        let id = stream
            .id()
            .ok_or_else(|| Error::protocol("tunnel_dial: the tunnel has no id"))?;
        Ok(Tunnel::new(
            id,
            self.erase(),
            Frames::Dialled(stream),
            opts.initial_credits,
        ))
    }
}
