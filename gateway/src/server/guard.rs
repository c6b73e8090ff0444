//! The first upstream frame of every stream is held to the handshake limit
//! before tonic buffers it.
//!
//! tonic reserves room for a whole message as soon as it has read the
//! 5-byte gRPC frame header, up to its decode limit (64 MiB here, so that
//! authenticated sessions can be told in-stream that a frame is too
//! large). Before authentication that would let anyone make the gateway
//! hold 64 MiB per stream. This layer reads the header of the first frame
//! as it goes by and fails the request body with `RESOURCE_EXHAUSTED`
//! when the declared length is above [`Limits::max_handshake_bytes`]
//! (crate::Limits::max_handshake_bytes), before the chunk that completes
//! the header reaches tonic. Later frames pass through untouched.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body as TonicBody;
use tonic::codegen::http::Request;
use tower_layer::Layer;
use tower_service::Service;

/// Wraps every request body in a [`FirstFrameLimit`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstFrameLimitLayer {
    pub(crate) limit: usize,
}

impl<S> Layer<S> for FirstFrameLimitLayer {
    type Service = FirstFrameLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FirstFrameLimitService {
            inner,
            limit: self.limit,
        }
    }
}

/// See [`FirstFrameLimitLayer`].
#[derive(Debug, Clone)]
pub(crate) struct FirstFrameLimitService<S> {
    inner: S,
    limit: usize,
}

impl<S> Service<Request<TonicBody>> for FirstFrameLimitService<S>
where
    S: Service<Request<TonicBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<TonicBody>) -> Self::Future {
        let limit = self.limit;
        self.inner.call(req.map(|body| {
            TonicBody::new(FirstFrameLimit {
                inner: body,
                limit,
                header: [0; 5],
                seen: 0,
            })
        }))
    }
}

/// A request body whose first gRPC frame may declare at most `limit` bytes.
pub(crate) struct FirstFrameLimit {
    inner: TonicBody,
    limit: usize,
    header: [u8; 5],
    /// Header bytes seen so far; 5 once checked.
    seen: usize,
}

impl FirstFrameLimit {
    /// Takes header bytes from `data`; `Err` when the declared length is
    /// above the limit.
    fn inspect(&mut self, data: &Bytes) -> Result<(), Status> {
        let mut rest = data.clone();
        while self.seen < 5 && rest.has_remaining() {
            self.header[self.seen] = rest.get_u8();
            self.seen += 1;
        }
        if self.seen == 5 {
            let [_, a, b, c, d] = self.header;
            let len = u32::from_be_bytes([a, b, c, d]) as usize;
            if len > self.limit {
                return Err(Status::resource_exhausted(format!(
                    "the first frame (InitConnection) is {len} bytes; the limit before \
                     authentication is {} bytes",
                    self.limit
                )));
            }
        }
        Ok(())
    }
}

impl Body for FirstFrameLimit {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if this.seen < 5
            && let Some(Ok(f)) = &frame
            && let Some(data) = f.data_ref()
            && let Err(e) = this.inspect(data)
        {
            return Poll::Ready(Some(Err(e)));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(limit: usize) -> FirstFrameLimit {
        FirstFrameLimit {
            inner: TonicBody::empty(),
            limit,
            header: [0; 5],
            seen: 0,
        }
    }

    fn header(len: u32) -> Vec<u8> {
        let mut h = vec![0u8];
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn a_first_frame_over_the_limit_is_refused_even_split() {
        let mut g = guard(100);
        let h = header(101);
        assert!(g.inspect(&Bytes::copy_from_slice(&h[..2])).is_ok());
        let e = g.inspect(&Bytes::copy_from_slice(&h[2..])).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    }

    #[test]
    fn a_first_frame_within_the_limit_passes_and_later_ones_are_not_read() {
        let mut g = guard(100);
        let mut first = header(100);
        first.extend_from_slice(&[7; 100]);
        assert!(g.inspect(&Bytes::from(first)).is_ok());
        assert_eq!(g.seen, 5);
    }
}
