//! [`TunnelListener`]: the tunnels other principals open to this client.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::Stream;
use prost::Message as _;
use tokio::sync::mpsc;

use super::options::{INITIAL_CREDITS, TunnelProtocol};
use super::stream::{Frames, RECEIVE_LIMIT, Tunnel};
use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::connection::{OpRequest, Push, PushFilter, PushReceiver, Slot};
use crate::error::{Error, Result};
use crate::ops::http::Caller;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{TunnelClose, TunnelOpen, tunnel_close};

/// Frames a tunnel's feed holds before its peer is taken to ignore flow
/// control (1 MiB of credits is at most 4 full frames, or many small ones).
const FEED_FRAMES: usize = 1024;

/// A tunnel another principal opened to this client, and what it said
/// when it opened it.
#[derive(Debug)]
#[non_exhaustive]
pub struct IncomingTunnel {
    /// The tunnel (`AsyncRead` + `AsyncWrite`).
    pub tunnel: Tunnel,
    /// What it carries.
    pub protocol: TunnelProtocol,
    /// Where the caller asked it to be connected.
    pub remote_hint: String,
    /// The caller's metadata.
    pub metadata: std::collections::HashMap<String, String>,
    /// Who opened it, from the entries the gateway minted into the
    /// metadata (it removes any the caller sent itself).
    pub caller: Caller,
    /// The idle timeout the caller asked for, in ms (0 = none).
    pub idle_timeout_ms: i64,
    /// The byte cap the caller asked for (0 = none).
    pub max_bytes: i64,
}

/// The tunnels opened to this client, as a `Stream` (or with
/// [`accept`](Self::accept)). Make it before `connect()` so that none is
/// missed. Dropping it stops accepting: tunnels opened afterwards are
/// reset.
pub struct TunnelListener {
    rx: mpsc::Receiver<IncomingTunnel>,
    demux: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TunnelListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelListener").finish_non_exhaustive()
    }
}

impl TunnelListener {
    /// The next tunnel; `None` when the client is gone.
    pub async fn accept(&mut self) -> Option<IncomingTunnel> {
        self.rx.recv().await
    }
}

impl Stream for TunnelListener {
    type Item = IncomingTunnel;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<IncomingTunnel>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for TunnelListener {
    fn drop(&mut self) {
        self.demux.abort();
    }
}

impl<P: PrincipalType> Client<P> {
    /// Starts accepting the tunnels opened to this client's topic; call it
    /// before `connect()`.
    pub fn tunnel_listener(&self) -> TunnelListener {
        let pushes = self.subscribe(PushFilter::Tunnels);
        let (tx, rx) = mpsc::channel(64);
        let demux = tokio::spawn(demux(self.erase(), pushes, tx));
        TunnelListener { rx, demux }
    }
}

fn reset(id: &str, detail: &str) -> OpRequest {
    OpRequest::fire_and_forget(
        "tunnel_close",
        Up::TunnelClose(Box::new(TunnelClose {
            tunnel_id: id.to_string(),
            reason: tunnel_close::Reason::Error as i32,
            detail: detail.to_string(),
        })),
    )
}

/// The frames on their way to one accepted tunnel.
struct Feed {
    tx: mpsc::Sender<Result<Down>>,
    queued: Arc<AtomicU64>,
}

/// Turns the frames of tunnels opened to this client into tunnels, in
/// arrival order.
async fn demux(
    client: Client<AnyPrincipal>,
    mut pushes: PushReceiver,
    tx: mpsc::Sender<IncomingTunnel>,
) {
    let mut feeds: HashMap<String, Feed> = HashMap::new();
    while let Some(slot) = pushes.recv().await {
        let frame = match slot {
            Slot::Item(Push::Frame(frame)) => frame,
            Slot::Item(_) => continue,
            Slot::Lost(n) => {
                tracing::error!(lost = n, "tunnel frames were lost: their tunnels will fail");
                continue;
            }
        };
        let id = match &frame {
            Down::TunnelData(d) => d.tunnel_id.clone(),
            Down::TunnelAck(a) => a.tunnel_id.clone(),
            Down::TunnelClose(c) => c.tunnel_id.clone(),
            _ => continue,
        };
        if let Some(feed) = feeds.get(&id) {
            let closing = matches!(frame, Down::TunnelClose(_));
            let bytes = match &frame {
                Down::TunnelData(d) => d.data.len() as u64,
                _ => 0,
            };
            // Bytes queued for the tunnel but not yet received by it: a peer
            // within its credits never has more in flight than the limit.
            let queued = feed.queued.fetch_add(bytes, Ordering::Relaxed) + bytes;
            let sent = if queued > RECEIVE_LIMIT {
                Err(mpsc::error::TrySendError::Full(Ok(frame)))
            } else {
                feed.tx.try_send(Ok(frame))
            };
            match sent {
                Ok(()) if closing => {
                    feeds.remove(&id);
                }
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let _ = feed
                        .tx
                        .try_send(Err(Error::protocol("the peer sent past its credits")));
                    feeds.remove(&id);
                    let _ = client.call(reset(&id, "flow control violated")).await;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    feeds.remove(&id);
                }
            }
            continue;
        }
        // A new tunnel: its first frame carries the open.
        let Down::TunnelData(d) = frame else {
            tracing::debug!(tunnel_id = %id, "frame of an unknown tunnel dropped");
            continue;
        };
        let open = match (d.seq, TunnelOpen::decode(d.data.clone())) {
            (0, Ok(open)) => open,
            _ => {
                let _ = client
                    .call(reset(&id, "a tunnel must begin with its open"))
                    .await;
                continue;
            }
        };
        feeds.retain(|_, f| !f.tx.is_closed());
        let (tx_frames, frames) = mpsc::channel(FEED_FRAMES);
        let queued = Arc::new(AtomicU64::new(0));
        feeds.insert(
            id.clone(),
            Feed {
                tx: tx_frames,
                queued: queued.clone(),
            },
        );
        let metadata = |name: &str| {
            open.metadata
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let caller = Caller::from_minted(metadata, "", open.authorization.clone());
        let incoming = IncomingTunnel {
            tunnel: Tunnel::new(
                id,
                client.clone(),
                Frames::Accepted(frames, queued),
                INITIAL_CREDITS,
            ),
            protocol: TunnelProtocol::from_wire(open.protocol),
            remote_hint: open.remote_hint,
            metadata: open.metadata,
            caller,
            idle_timeout_ms: open.idle_timeout_ms,
            max_bytes: open.max_bytes,
        };
        if tx.send(incoming).await.is_err() {
            return;
        }
    }
}
