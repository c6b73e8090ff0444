//! Pushes as `Stream`s: incoming messages, and every other frame.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;

use crate::connection::{Push, PushReceiver, Slot};
use crate::error::{Error, Result};
use crate::message::Message;
use crate::proto::downstream_message::Payload as Down;

/// Incoming messages as a `Stream`, for those who prefer streams to
/// handlers. Each stream sees every message that arrives after it was
/// made; any number may exist at once. It ends when the client closes.
///
/// Lossless by default: a stream that is not read holds up to
/// [`stream_capacity`](crate::ConnectOptions::stream_capacity) messages,
/// then slows the connection down, and with it the gateway and the
/// sender, exactly as a slow handler does. Only if the stream falls
/// behind while calls await replies, past the client's
/// [`overflow_budget`](crate::ConnectOptions::overflow_budget), are
/// messages lost; the stream then yields one
/// [`Lagged`](crate::ErrorKind::Lagged) error where they would have been
/// (with [`Error::lagged_items`]), and goes on.
///
/// ```no_run
/// # async fn demo(agent: aether_client::AgentClient) -> aether_client::Result<()> {
/// use futures_util::StreamExt;
/// let mut messages = agent.messages();
/// while let Some(msg) = messages.next().await {
///     let msg = msg?;
///     println!("{}: {:?}", msg.source_topic(), msg.payload_str());
/// }
/// # Ok(()) }
/// ```
pub struct MessageStream {
    pushes: PushReceiver,
}

impl MessageStream {
    pub(crate) fn new(pushes: PushReceiver) -> Self {
        MessageStream { pushes }
    }
}

impl Stream for MessageStream {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.pushes).poll_next(cx) {
                Poll::Ready(Some(Slot::Item(Push::Message(m)))) => Poll::Ready(Some(Ok(m))),
                Poll::Ready(Some(Slot::Item(_))) => continue,
                Poll::Ready(Some(Slot::Lost(n))) => Poll::Ready(Some(Err(Error::lagged(n)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream").finish_non_exhaustive()
    }
}

/// Every uncorrelated frame other than messages, as a `Stream`: task
/// events, assignments, progress updates, signals, errors... Lossless in
/// the same way as [`MessageStream`].
pub struct FrameStream {
    pushes: PushReceiver,
}

impl FrameStream {
    pub(crate) fn new(pushes: PushReceiver) -> Self {
        FrameStream { pushes }
    }
}

impl Stream for FrameStream {
    type Item = Result<Down>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.pushes).poll_next(cx) {
                Poll::Ready(Some(Slot::Item(Push::Frame(f)))) => Poll::Ready(Some(Ok(f))),
                Poll::Ready(Some(Slot::Item(_))) => continue,
                Poll::Ready(Some(Slot::Lost(n))) => Poll::Ready(Some(Err(Error::lagged(n)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl std::fmt::Debug for FrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream").finish_non_exhaustive()
    }
}
