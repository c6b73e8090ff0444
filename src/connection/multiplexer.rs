//! The innermost service of every operation stack: registers the waiter,
//! queues the frame, and resolves with the correlated reply.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::oneshot;
use tower_service::Service;

use super::outbound::Frame;
use super::pending::PendingGuard;
use super::{ConnectionState, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{OpRequest, OpResponse};
use crate::proto::UpstreamMessage;
use crate::proto::downstream_message::Payload as Down;

/// Multiplexes operations over the client's single stream.
///
/// `call` registers the waiter *before* queueing the frame (so a fast reply
/// cannot be missed), queues the frame, and returns a future that resolves
/// with the reply whose request id matches (or at once, for a
/// fire-and-forget frame). Backpressure: when the bounded outbound queue is
/// full, the returned future first waits for room. `poll_ready` is always
/// ready, so cloning this service is cheap and no capacity is ever reserved
/// and leaked. Dropping the future removes the waiter, and a frame whose
/// caller gave up is never written.
#[derive(Clone)]
pub struct Multiplexer {
    shared: Arc<Shared>,
}

impl Multiplexer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Multiplexer { shared }
    }
}

impl std::fmt::Debug for Multiplexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multiplexer").finish_non_exhaustive()
    }
}

impl Service<OpRequest> for Multiplexer {
    type Response = OpResponse;
    type Error = Error;
    type Future = MuxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: OpRequest) -> MuxFuture {
        if let Some(err) = unusable(&self.shared) {
            return MuxFuture::failed(err);
        }
        let expects_reply = req.expects_reply();
        let (payload, request_id) = req.into_parts();
        let msg = UpstreamMessage {
            payload: Some(payload),
            active_extensions: Vec::new(),
        };
        let waiter = if expects_reply {
            let Some(id) = request_id.filter(|id| !id.is_empty()) else {
                return MuxFuture::failed(Error::new(
                    ErrorKind::Protocol,
                    "an operation expecting a reply reached the multiplexer without a request id",
                ));
            };
            let (rx, guard, flag) = self.shared.pending.register(id);
            Some((rx, guard, flag))
        } else {
            None
        };
        let flag = waiter.as_ref().map(|(_, _, f)| f.clone());
        let then = waiter.map(|(rx, guard, _)| (rx, guard));
        match self.shared.out_tx.try_send(Frame { msg, flag }) {
            Ok(()) => MuxFuture::queued(then),
            Err(TrySendError::Full(frame)) => {
                let tx = self.shared.out_tx.clone();
                let send = Box::pin(async move { tx.send(frame).await.map_err(|_| ()) });
                MuxFuture {
                    state: MuxState::Sending { send, then },
                }
            }
            Err(TrySendError::Closed(_)) => MuxFuture::failed(closed()),
        }
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the client's outbound queue is closed")
}

fn unusable(shared: &Shared) -> Option<Error> {
    if !shared.started() {
        return Some(Error::new(
            ErrorKind::NotConnected,
            "call connect() before using the client",
        ));
    }
    match &*shared.state.borrow() {
        ConnectionState::Closed { reason } => Some(Error::new(
            ErrorKind::Closed,
            format!("the client is closed: {reason}"),
        )),
        _ => None,
    }
}

type Waiter = (oneshot::Receiver<Result<Down>>, PendingGuard);
type SendFuture = Pin<Box<dyn Future<Output = std::result::Result<(), ()>> + Send>>;

pin_project_lite::pin_project! {
    /// Resolves with the correlated reply of one operation.
    pub struct MuxFuture {
        state: MuxState,
    }
}

enum MuxState {
    Failed(Option<Error>),
    /// Waiting for room in a full outbound queue.
    Sending {
        send: SendFuture,
        then: Option<Waiter>,
    },
    /// Queued; waiting for the reply, if one is expected.
    Queued(Option<Waiter>),
}

impl MuxFuture {
    fn failed(e: Error) -> Self {
        MuxFuture {
            state: MuxState::Failed(Some(e)),
        }
    }

    fn queued(then: Option<Waiter>) -> Self {
        MuxFuture {
            state: MuxState::Queued(then),
        }
    }
}

impl Future for MuxFuture {
    type Output = Result<OpResponse>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        loop {
            match this.state {
                MuxState::Failed(e) => {
                    return Poll::Ready(Err(e.take().unwrap_or_else(|| {
                        Error::new(ErrorKind::Protocol, "future polled after completion")
                    })));
                }
                MuxState::Sending { send, then } => match send.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(())) => *this.state = MuxState::Failed(Some(closed())),
                    Poll::Ready(Ok(())) => *this.state = MuxState::Queued(then.take()),
                },
                MuxState::Queued(None) => return Poll::Ready(Ok(None)),
                MuxState::Queued(Some((rx, guard))) => {
                    return match Pin::new(rx).poll(cx) {
                        Poll::Ready(Ok(reply)) => {
                            guard.disarm();
                            Poll::Ready(reply.map(Some))
                        }
                        Poll::Ready(Err(_)) => {
                            guard.disarm();
                            Poll::Ready(Err(Error::connection_lost(
                                true,
                                "the reply channel closed",
                            )))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}
