//! The innermost service of every operation stack: registers what the
//! caller waits for (a reply, a stream), queues the frame, and resolves.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::oneshot;
use tower_service::Service;

use super::Connection;
use super::call::{Expect, OpRequest, Reply};
use super::outbound::Frame;
use super::pending::PendingGuard;
use super::streams::ReplyStream;
use super::streams::request_stream_key;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::UpstreamMessage;
use crate::proto::downstream_message::Payload as Down;

/// Multiplexes operations over the client's single stream.
///
/// `call` registers the waiter (a pending reply, a stream, or both)
/// *before* queueing the frame, so a fast reply cannot be missed, queues
/// the frame, and returns a future that resolves with the [`Reply`].
/// Backpressure: when the bounded outbound queue is full, the future first
/// waits for room. `poll_ready` is always ready, so cloning this service is
/// cheap and no capacity is ever reserved and leaked. Dropping the future
/// (or the stream) removes its entry, and a frame whose caller gave up is
/// never written.
#[derive(Clone)]
pub(crate) struct Multiplexer {
    connection: Connection,
}

impl Multiplexer {
    pub(super) fn new(connection: Connection) -> Self {
        Multiplexer { connection }
    }
}

impl std::fmt::Debug for Multiplexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multiplexer").finish_non_exhaustive()
    }
}

impl Multiplexer {
    /// Queues a fire-and-forget frame if there is room right now: `Ok`
    /// with the outcome when it was queued (or can never be), `Err` with
    /// the request when it must go the way of [`call`](Service::call)
    /// (it expects something, the connection is unusable, the queue is
    /// full or closed).
    pub(crate) fn try_queue(&self, req: OpRequest) -> std::result::Result<Result<()>, OpRequest> {
        if req.expect() != Expect::Nothing || self.connection.unusable().is_some() {
            return Err(req);
        }
        let (payload, shell) = req.take_payload();
        let frame = Frame {
            msg: UpstreamMessage {
                payload: Some(payload),
                active_extensions: Vec::new(),
            },
            flag: None,
        };
        match self.connection.shared.out_tx.try_send(frame) {
            Ok(()) => Ok(Ok(())),
            Err(TrySendError::Full(frame) | TrySendError::Closed(frame)) => match frame.msg.payload
            {
                Some(payload) => Err(shell.fill(payload)),
                // Never: the frame was built with its payload just above.
                None => Ok(Err(Error::protocol("a queued frame lost its payload"))),
            },
        }
    }
}

impl Service<OpRequest> for Multiplexer {
    type Response = Reply;
    type Error = Error;
    type Future = MuxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: OpRequest) -> MuxFuture {
        if let Some(err) = self.connection.unusable() {
            return MuxFuture::failed(err);
        }
        let (payload, request_id, expect) = req.into_parts();
        let id = match expect {
            Expect::Nothing => None,
            _ => match request_id.filter(|id| !id.is_empty()) {
                Some(id) => Some(id),
                None => {
                    return MuxFuture::failed(Error::protocol(
                        "an operation expecting a reply reached the multiplexer without a request id",
                    ));
                }
            },
        };
        let shared = &self.connection.shared;
        let (then, flag) = match (expect, id) {
            (Expect::Reply, Some(id)) => {
                let (rx, guard, flag) = shared.pending.register(id, None);
                (Then::Reply(rx, guard), Some(flag))
            }
            (Expect::Stream(bounds), Some(id)) => {
                let flag = Arc::new(super::pending::FrameFlag::default());
                let key = request_stream_key(&payload, id);
                match shared.streams.open_keyed(key, bounds, Some(flag.clone())) {
                    Ok(stream) => (Then::Stream(stream), Some(flag)),
                    Err(e) => return MuxFuture::failed(e),
                }
            }
            (Expect::ReplyThenStream(bounds), Some(id)) => {
                let (opener, stream) = shared.streams.open_unkeyed(bounds);
                let (rx, guard, flag) = shared.pending.register(id, Some(opener));
                (Then::Subscribed(rx, guard, stream), Some(flag))
            }
            _ => (Then::Sent, None),
        };
        let msg = UpstreamMessage {
            payload: Some(payload),
            active_extensions: Vec::new(),
        };
        match shared.out_tx.try_send(Frame { msg, flag }) {
            Ok(()) => MuxFuture::queued(then),
            Err(TrySendError::Full(frame)) => {
                let tx = shared.out_tx.clone();
                let send = Box::pin(async move { tx.send(frame).await.map_err(|_| ()) });
                MuxFuture {
                    state: MuxState::Sending {
                        send,
                        then: Some(then),
                    },
                }
            }
            Err(TrySendError::Closed(_)) => MuxFuture::failed(closed()),
        }
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the client's outbound queue is closed")
}

type ReplyRx = oneshot::Receiver<Result<Down>>;
type SendFuture = Pin<Box<dyn Future<Output = std::result::Result<(), ()>> + Send>>;

/// What the caller gets once the frame is queued.
enum Then {
    Sent,
    Reply(ReplyRx, PendingGuard),
    Stream(ReplyStream),
    Subscribed(ReplyRx, PendingGuard, ReplyStream),
}

pin_project_lite::pin_project! {
    /// Resolves with the [`Reply`] of one operation.
    pub(crate) struct MuxFuture {
        state: MuxState,
    }
}

enum MuxState {
    Failed(Option<Error>),
    /// Waiting for room in a full outbound queue.
    Sending {
        send: SendFuture,
        then: Option<Then>,
    },
    /// Queued; waiting for the reply, if one is expected.
    Queued(Option<Then>),
}

impl MuxFuture {
    fn failed(e: Error) -> Self {
        MuxFuture {
            state: MuxState::Failed(Some(e)),
        }
    }

    fn queued(then: Then) -> Self {
        MuxFuture {
            state: MuxState::Queued(Some(then)),
        }
    }
}

fn polled_after_completion() -> Error {
    Error::protocol("future polled after completion")
}

/// Polls a reply receiver; disarms the guard once the reply is in.
fn poll_reply(
    rx: &mut ReplyRx,
    guard: &mut PendingGuard,
    cx: &mut Context<'_>,
) -> Poll<Result<Down>> {
    match Pin::new(rx).poll(cx) {
        Poll::Ready(Ok(reply)) => {
            guard.disarm();
            Poll::Ready(reply)
        }
        Poll::Ready(Err(_)) => {
            guard.disarm();
            Poll::Ready(Err(Error::connection_lost(
                true,
                "the reply channel closed",
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl Future for MuxFuture {
    type Output = Result<Reply>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        loop {
            match this.state {
                MuxState::Failed(e) => {
                    return Poll::Ready(Err(e.take().unwrap_or_else(polled_after_completion)));
                }
                MuxState::Sending { send, then } => match send.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(())) => *this.state = MuxState::Failed(Some(closed())),
                    Poll::Ready(Ok(())) => *this.state = MuxState::Queued(then.take()),
                },
                MuxState::Queued(then) => {
                    let ready = match then {
                        None => Err(polled_after_completion()),
                        Some(Then::Reply(rx, guard)) => match poll_reply(rx, guard, cx) {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(r) => r.map(Reply::Frame),
                        },
                        Some(Then::Subscribed(rx, guard, _)) => match poll_reply(rx, guard, cx) {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(Err(e)) => Err(e),
                            Poll::Ready(Ok(frame)) => match then.take() {
                                Some(Then::Subscribed(_, _, stream)) => {
                                    Ok(Reply::Subscribed(frame, stream))
                                }
                                _ => Err(polled_after_completion()),
                            },
                        },
                        Some(Then::Sent) | Some(Then::Stream(_)) => match then.take() {
                            Some(Then::Stream(stream)) => Ok(Reply::Stream(stream)),
                            _ => Ok(Reply::Sent),
                        },
                    };
                    *then = None;
                    return Poll::Ready(ready);
                }
            }
        }
    }
}
