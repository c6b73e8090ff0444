//! The innermost service of every operation stack: registers the waiter,
//! queues the frame, and resolves with the correlated reply.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio_util::sync::PollSender;
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
/// `poll_ready` reserves a slot in the bounded outbound queue (that is the
/// backpressure), `call` registers the waiter *before* queueing the frame so
/// a fast reply cannot be missed, and the returned future resolves with the
/// reply whose request id matches. Dropping the future removes the waiter.
pub struct Multiplexer {
    shared: Arc<Shared>,
    sender: PollSender<Frame>,
}

impl Multiplexer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let sender = PollSender::new(shared.out_tx.clone());
        Multiplexer { shared, sender }
    }
}

impl Clone for Multiplexer {
    fn clone(&self) -> Self {
        // A fresh sender: a clone never inherits a reservation.
        Multiplexer::new(self.shared.clone())
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.sender
            .poll_reserve(cx)
            .map_err(|_| Error::new(ErrorKind::Closed, "the client's outbound queue is closed"))
    }

    fn call(&mut self, req: OpRequest) -> MuxFuture {
        if let Some(err) = unusable(&self.shared) {
            self.sender.abort_send();
            return MuxFuture::failed(err);
        }
        let expects_reply = req.expects_reply();
        let (payload, request_id) = req.into_parts();
        let msg = UpstreamMessage {
            payload: Some(payload),
            active_extensions: Vec::new(),
        };
        if !expects_reply {
            return match self.sender.send_item(Frame { msg, flag: None }) {
                Ok(()) => MuxFuture::done(),
                Err(_) => MuxFuture::failed(Error::new(
                    ErrorKind::Closed,
                    "the client's outbound queue is closed",
                )),
            };
        }
        let Some(id) = request_id.filter(|id| !id.is_empty()) else {
            self.sender.abort_send();
            return MuxFuture::failed(Error::new(
                ErrorKind::Protocol,
                "an operation expecting a reply reached the multiplexer without a request id",
            ));
        };
        let (rx, guard, flag) = self.shared.pending.register(id);
        match self.sender.send_item(Frame {
            msg,
            flag: Some(flag),
        }) {
            Ok(()) => MuxFuture::waiting(rx, guard),
            Err(_) => MuxFuture::failed(Error::new(
                ErrorKind::Closed,
                "the client's outbound queue is closed",
            )),
        }
    }
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

pin_project_lite::pin_project! {
    /// Resolves with the correlated reply of one operation.
    pub struct MuxFuture {
        state: MuxState,
    }
}

enum MuxState {
    Failed(Option<Error>),
    Queued,
    Waiting {
        rx: oneshot::Receiver<Result<Down>>,
        guard: PendingGuard,
    },
}

impl MuxFuture {
    fn failed(e: Error) -> Self {
        MuxFuture {
            state: MuxState::Failed(Some(e)),
        }
    }
    fn done() -> Self {
        MuxFuture {
            state: MuxState::Queued,
        }
    }
    fn waiting(rx: oneshot::Receiver<Result<Down>>, guard: PendingGuard) -> Self {
        MuxFuture {
            state: MuxState::Waiting { rx, guard },
        }
    }
}

impl Future for MuxFuture {
    type Output = Result<OpResponse>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state {
            MuxState::Failed(e) => Poll::Ready(Err(e.take().unwrap_or_else(|| {
                Error::new(ErrorKind::Protocol, "future polled after completion")
            }))),
            MuxState::Queued => Poll::Ready(Ok(None)),
            MuxState::Waiting { rx, guard } => match Pin::new(rx).poll(cx) {
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
            },
        }
    }
}
