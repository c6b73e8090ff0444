//! [`ProxyResponse`]: the response of a request sent over Aether, its body
//! streamed as its chunks arrive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::connection::ReplyStream;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::ProxyHttpResponse;
use crate::proto::downstream_message::Payload as Down;

/// The response to a [`ProxyRequest`](super::ProxyRequest).
///
/// Its status and headers are known; its body arrives as a `Stream` of
/// byte chunks ([`ResponseBody`]), or all at once with
/// [`bytes`](Self::bytes).
#[derive(Debug)]
pub struct ProxyResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: super::Headers,
    /// The body.
    pub body: ResponseBody,
}

impl ProxyResponse {
    /// The whole body (bounded by the request's `max_response_bytes`).
    pub async fn bytes(self) -> Result<Bytes> {
        self.body.collect().await
    }
}

/// Aborts the request's upload when the response goes away.
#[derive(Debug)]
pub(crate) struct Upload(pub(crate) Option<JoinHandle<Result<()>>>);

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A response body, as it arrives: a `Stream<Item = Result<Bytes>>`.
///
/// Errors end it: the terminator or the gateway failed the request
/// ([`Error::code`] names the proxy error, e.g. `UPSTREAM_RESET`), the
/// idle timeout passed ([`Timeout`](ErrorKind::Timeout)), the body
/// exceeded `max_response_bytes` ([`PayloadTooLarge`](ErrorKind::PayloadTooLarge)),
/// chunks came out of order ([`Protocol`](ErrorKind::Protocol)), or the
/// connection was lost. Dropping it abandons the request.
pub struct ResponseBody {
    state: State,
    received: u64,
    max: u64,
    idle: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    _upload: Upload,
}

enum State {
    Full(Option<Bytes>),
    Chunks { stream: ReplyStream, next_seq: u32 },
    Done,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub(crate) fn new(
        header: &mut ProxyHttpResponse,
        stream: ReplyStream,
        max: u64,
        idle: Option<Duration>,
        upload: Upload,
    ) -> Self {
        let state = if header.body_chunked {
            State::Chunks {
                stream,
                next_seq: 0,
            }
        } else {
            State::Full(Some(std::mem::take(&mut header.body)))
        };
        ResponseBody {
            state,
            received: 0,
            max,
            idle,
            timer: None,
            _upload: upload,
        }
    }

    /// The whole body.
    pub async fn collect(mut self) -> Result<Bytes> {
        use futures_util::StreamExt;
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.is_empty() && self.is_done() {
                return Ok(chunk);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Counts `n` bytes against the limit.
    fn count(&mut self, n: usize) -> Result<()> {
        self.received = self.received.saturating_add(n as u64);
        if self.max > 0 && self.received > self.max {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!("the response body exceeds {} bytes", self.max),
            ));
        }
        Ok(())
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Bytes>>> {
        self.state = State::Done;
        Poll::Ready(Some(Err(e)))
    }
}

impl Stream for ResponseBody {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let frame = match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Full(body) => {
                    let body = body.take().unwrap_or_default();
                    this.state = State::Done;
                    if body.is_empty() {
                        return Poll::Ready(None);
                    }
                    if let Err(e) = this.count(body.len()) {
                        return this.fail(e);
                    }
                    return Poll::Ready(Some(Ok(body)));
                }
                State::Chunks { stream, .. } => match Pin::new(stream).poll_next(cx) {
                    Poll::Ready(frame) => frame,
                    Poll::Pending => {
                        if let Some(idle) = this.idle {
                            let timer = this
                                .timer
                                .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                            ready!(timer.as_mut().poll(cx));
                            return this.fail(Error::new(
                                ErrorKind::Timeout,
                                format!("no response body chunk within {idle:?}"),
                            ));
                        }
                        return Poll::Pending;
                    }
                },
            };
            // A frame arrived: the idle timer starts over.
            this.timer = None;
            let State::Chunks { next_seq, .. } = &mut this.state else {
                return Poll::Ready(None);
            };
            match frame {
                None => {
                    return this.fail(Error::connection_lost(
                        true,
                        "the response ended before its last chunk",
                    ));
                }
                Some(Err(e)) => return this.fail(e),
                Some(Ok(Down::ProxyHttpBodyChunk(c))) if !c.is_request => {
                    if c.seq != *next_seq {
                        let expected = *next_seq;
                        return this.fail(Error::protocol(format!(
                            "response chunk {} arrived where {expected} was expected",
                            c.seq
                        )));
                    }
                    *next_seq = next_seq.wrapping_add(1);
                    if c.fin {
                        this.state = State::Done;
                    }
                    if let Err(e) = this.count(c.data.len()) {
                        return this.fail(e);
                    }
                    if !c.data.is_empty() {
                        return Poll::Ready(Some(Ok(c.data)));
                    }
                }
                Some(Ok(Down::ProxyHttpResponse(r))) => {
                    // A second response header: only an error may follow one.
                    let e = match r.error {
                        Some(e) => Error::proxy(e.kind, &e.message),
                        None => Error::protocol("a second response header arrived"),
                    };
                    return this.fail(e);
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
