//! [`Body`]: the streaming body of responses received over Aether and of
//! requests served from it, as an `http_body::Body`; and the conversion of
//! any `http_body::Body` into what the wire sends.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::ops::http::{self as wire, CHUNK_BYTES, IncomingBody, ResponseBody};

/// A body that streams over Aether: the body of a response the
/// [`AetherHttp`](super::AetherHttp) service returns, and of a request the
/// terminator hands to its service. Its frames are the chunks as they
/// arrive; an error ends it (a typed [`Error`]: the peer went away, a
/// chunk was late, the size limit was passed).
pub struct Body {
    inner: Inner,
    limit: Option<Limit>,
}

enum Inner {
    Empty,
    Full(Option<Bytes>),
    Response(ResponseBody),
    Incoming(IncomingBody),
    #[cfg(feature = "hyper")]
    Hyper(hyper::body::Incoming),
}

/// A cap on the bytes a body may yield; passing it ends the body with a
/// `PayloadTooLarge` error and marks the shared flag.
struct Limit {
    remaining: u64,
    max: u64,
    tripped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.inner {
            Inner::Empty => "empty",
            Inner::Full(_) => "full",
            Inner::Response(_) => "response",
            Inner::Incoming(_) => "incoming",
            #[cfg(feature = "hyper")]
            Inner::Hyper(_) => "hyper",
        };
        f.debug_tuple("Body").field(&what).finish()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self::of(Inner::Empty)
    }

    /// A body in memory.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::of(Inner::Full(Some(bytes.into())))
    }

    fn of(inner: Inner) -> Self {
        Body { inner, limit: None }
    }

    pub(crate) fn response(body: ResponseBody) -> Self {
        Self::of(Inner::Response(body))
    }

    pub(crate) fn incoming(body: IncomingBody) -> Self {
        Self::of(Inner::Incoming(body))
    }

    #[cfg(feature = "hyper")]
    pub(crate) fn hyper(body: hyper::body::Incoming) -> Self {
        Self::of(Inner::Hyper(body))
    }

    /// This body, ending with a `PayloadTooLarge` error past `max` bytes
    /// (and setting `tripped`).
    pub(crate) fn limited(mut self, max: u64, tripped: Arc<AtomicBool>) -> Self {
        self.limit = Some(Limit {
            remaining: max,
            max,
            tripped,
        });
        self
    }

    /// The whole body.
    pub async fn collect_bytes(self) -> Result<Bytes> {
        Ok(BodyExt::collect(self).await?.to_bytes())
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::full(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::full(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::full(v)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>>>> {
        let this = &mut *self;
        let next: Option<Result<Bytes>> = match &mut this.inner {
            Inner::Empty => None,
            Inner::Full(b) => b.take().filter(|b| !b.is_empty()).map(Ok),
            Inner::Response(r) => ready!(r.poll_next_unpin(cx)),
            Inner::Incoming(r) => ready!(r.poll_next_unpin(cx)),
            #[cfg(feature = "hyper")]
            Inner::Hyper(b) => loop {
                match ready!(Pin::new(&mut *b).poll_frame(cx)) {
                    None => break None,
                    Some(Err(e)) => {
                        break Some(Err(Error::new(
                            ErrorKind::Closed,
                            format!("the request body failed: {e}"),
                        )
                        .with_source(e)));
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            break Some(Ok(data));
                        }
                    }
                }
            },
        };
        let Some(Ok(data)) = next else {
            return Poll::Ready(next.map(|r| r.map(Frame::data)));
        };
        if let Some(limit) = &mut this.limit {
            let n = data.len() as u64;
            if n > limit.remaining {
                limit.tripped.store(true, Ordering::Release);
                let max = limit.max;
                this.inner = Inner::Empty;
                return Poll::Ready(Some(Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!("the body exceeds {max} bytes"),
                ))));
            }
            limit.remaining -= n;
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            #[cfg(feature = "hyper")]
            Inner::Hyper(b) => http_body::Body::is_end_stream(b),
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            #[cfg(feature = "hyper")]
            Inner::Hyper(b) => http_body::Body::size_hint(b),
            _ => SizeHint::default(),
        }
    }
}

/// What the wire sends for a request or response body: in memory when its
/// size is known to fit one frame (256 KiB), else streamed in chunks as it
/// is produced, never buffered whole.
pub(crate) async fn to_wire<B>(body: B) -> Result<wire::Body>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let small = body
        .size_hint()
        .upper()
        .is_some_and(|n| n <= CHUNK_BYTES as u64);
    if body.is_end_stream() {
        return Ok(wire::Body::Full(Bytes::new()));
    }
    if small {
        let collected = body.collect().await.map_err(body_failed)?;
        return Ok(wire::Body::Full(collected.to_bytes()));
    }
    Ok(wire::Body::Stream(Box::pin(stream_of(body))))
}

/// The data frames of a body (trailers are not carried over Aether).
fn stream_of<B>(body: B) -> DataStream<B> {
    DataStream(Box::pin(body))
}

struct DataStream<B>(Pin<Box<B>>);

impl<B> Stream for DataStream<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Item = std::result::Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        use bytes::Buf;
        loop {
            match ready!(self.0.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data.copy_to_bytes(data.remaining()))));
                    }
                }
            }
        }
    }
}

fn body_failed(e: impl Into<BoxError>) -> Error {
    let e = e.into();
    Error::new(ErrorKind::InvalidArgument, format!("the body failed: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn bodies_can_cross_threads_and_be_shared() {
        // reqwest::Body::wrap needs Send + Sync.
        assert_send_sync::<Body>();
    }

    #[tokio::test]
    async fn small_known_bodies_go_inline_and_others_stream() {
        let small = to_wire(http_body_util::Full::new(Bytes::from_static(b"hi")))
            .await
            .unwrap();
        assert!(matches!(small, wire::Body::Full(b) if b == "hi"));
        let big = to_wire(http_body_util::Full::new(Bytes::from(vec![
            1u8;
            CHUNK_BYTES + 1
        ])))
        .await
        .unwrap();
        assert!(matches!(big, wire::Body::Stream(_)));
        let empty = to_wire(http_body_util::Empty::<Bytes>::new())
            .await
            .unwrap();
        assert!(matches!(empty, wire::Body::Full(b) if b.is_empty()));
    }
}
