//! A `Stream` of incoming messages; any number of subscribers.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::message::Message;

/// Incoming messages as a `Stream`, for those who prefer streams to
/// handlers. Each subscriber sees every message that arrives after it
/// subscribed. A subscriber that falls more than the configured capacity
/// behind skips the oldest messages; [`missed`](Self::missed) counts them.
/// The stream ends when the client closes.
pub struct MessageStream {
    inner: BroadcastStream<Message>,
    missed: u64,
}

impl MessageStream {
    pub(crate) fn new(rx: tokio::sync::broadcast::Receiver<Message>) -> Self {
        MessageStream {
            inner: BroadcastStream::new(rx),
            missed: 0,
        }
    }

    /// How many messages this subscriber skipped because it lagged.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

impl Stream for MessageStream {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(m))) => return Poll::Ready(Some(m)),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                    tracing::warn!(skipped = n, "message stream subscriber lagged");
                    self.missed += n;
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("missed", &self.missed)
            .finish()
    }
}
