//! An HTTP/2 body out of messages: gRPC frames written with their large
//! bytes fields left where they are.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use http::HeaderMap;
use http_body::{Body, Frame};
use prost::bytes::buf::UninitSlice;
use prost::bytes::{Buf, BufMut, Bytes, BytesMut};
use tonic::Status;

use super::{EncodeFrame, HEADER_BYTES};
// The batching of the generated stubs' codec: frames are handed to HTTP/2
// once 6 KiB is batched, in a buffer of 8 KiB that a batch of small frames
// fits without growing.
use crate::codec::{BUFFER as BATCH_CAPACITY, YIELD_AT};

/// Bytes fields from this size on are sent as their own data chunk.
const SHARE_FROM: usize = 16 * 1024;

/// Who writes: a server ends its response with the status in trailers; a
/// client ends its request body, and fails it on an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    Request,
    Response,
}

#[derive(Debug)]
enum State {
    Open,
    /// The trailers to send, then the end.
    Trailers(Option<HeaderMap>),
    /// The request body's error to yield, then the end.
    Failed(Option<Status>),
    Ended,
}

/// The body of one gRPC stream, encoded from a stream of messages.
///
/// Like tonic's encoder it batches small frames (up to 6 KiB) into one data
/// chunk; unlike it, a bytes field of 16 KiB or more (a body or tunnel
/// chunk) is not copied into the batch: it goes out as its own data chunk,
/// the same `Bytes` the message held, and HTTP/2 writes it from there.
///
/// A frame over `max` bytes, or an error from the source, ends the stream:
/// a response with that status in its trailers, a request with that
/// error. A response that ends cleanly carries `grpc-status: 0`.
pub struct FrameBody<S> {
    source: Pin<Box<S>>,
    batch: BytesMut,
    ready: VecDeque<Bytes>,
    /// Where the current frame's shared fields go (offsets in `batch`).
    shared: Vec<(usize, Bytes)>,
    max: usize,
    writes: Writes,
    state: State,
}

impl<S> std::fmt::Debug for FrameBody<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBody")
            .field("batched", &self.batch.len())
            .field("ready", &self.ready.len())
            .field("max", &self.max)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<S, M> FrameBody<S>
where
    S: Stream<Item = Result<M, Status>>,
    M: EncodeFrame,
{
    /// A response body (server side): frames up to `max` bytes, then the
    /// final status in trailers.
    pub fn response(source: S, max: usize) -> Self {
        Self::new(source, max, Writes::Response)
    }

    /// A request body (client side): frames up to `max` bytes; it ends
    /// when `source` does.
    pub fn request(source: S, max: usize) -> Self {
        Self::new(source, max, Writes::Request)
    }

    fn new(source: S, max: usize, writes: Writes) -> Self {
        FrameBody {
            source: Box::pin(source),
            batch: BytesMut::with_capacity(BATCH_CAPACITY),
            ready: VecDeque::new(),
            shared: Vec::new(),
            max,
            writes,
            state: State::Open,
        }
    }

    /// Appends one frame to the batch, its shared fields to `ready`.
    fn encode(&mut self, message: &M) -> Result<(), Status> {
        let start = self.batch.len();
        self.batch.put_bytes(0, HEADER_BYTES);
        message.encode_frame(&mut Writer {
            batch: &mut self.batch,
            shared: &mut self.shared,
        });
        let len = self.batch.len() - start - HEADER_BYTES
            + self.shared.iter().map(|(_, b)| b.len()).sum::<usize>();
        let Some(wire_len) = u32::try_from(len).ok().filter(|_| len <= self.max) else {
            // The frame is dropped whole; frames batched before it stay.
            self.batch.truncate(start);
            self.shared.clear();
            return Err(Status::out_of_range(format!(
                "Error, encoded message length too large: found {len} bytes, the limit is: {} bytes",
                self.max
            )));
        };
        self.batch[start + 1..start + HEADER_BYTES].copy_from_slice(&wire_len.to_be_bytes());
        // The batch up to each shared field, then the field itself.
        let mut taken = 0;
        for (at, bytes) in self.shared.drain(..) {
            self.ready
                .push_back(self.batch.split_to(at - taken).freeze());
            taken = at;
            self.ready.push_back(bytes);
        }
        Ok(())
    }

    /// The end of the stream, with `error` or cleanly.
    fn finish(&mut self, error: Option<Status>) {
        self.state = match (self.writes, error) {
            (Writes::Response, error) => {
                let status = error.unwrap_or_else(|| Status::ok(""));
                let mut trailers = HeaderMap::new();
                // Only a status whose details cannot be a header fails here;
                // then the status alone (its code) goes.
                if status.add_header(&mut trailers).is_err() {
                    trailers.clear();
                    let _ = Status::new(status.code(), "").add_header(&mut trailers);
                }
                State::Trailers(Some(trailers))
            }
            (Writes::Request, Some(status)) => State::Failed(Some(status)),
            (Writes::Request, None) => State::Ended,
        };
    }

    fn flush_batch(&mut self) {
        if !self.batch.is_empty() {
            self.ready.push_back(self.batch.split().freeze());
        }
    }
}

impl<S, M> Body for FrameBody<S>
where
    S: Stream<Item = Result<M, Status>>,
    M: EncodeFrame,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if let Some(data) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            match &mut this.state {
                State::Open => {}
                State::Trailers(trailers) => {
                    let trailers = trailers.take();
                    this.state = State::Ended;
                    return Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))));
                }
                State::Failed(status) => {
                    let status = status.take();
                    this.state = State::Ended;
                    return Poll::Ready(status.map(Err));
                }
                State::Ended => return Poll::Ready(None),
            }
            let mut waiting = false;
            while this.ready.is_empty() && this.batch.len() < YIELD_AT {
                match this.source.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(message))) => {
                        if let Err(status) = this.encode(&message) {
                            this.finish(Some(status));
                            break;
                        }
                    }
                    Poll::Ready(Some(Err(status))) => {
                        this.finish(Some(status));
                        break;
                    }
                    Poll::Ready(None) => {
                        this.finish(None);
                        break;
                    }
                    Poll::Pending => {
                        waiting = true;
                        break;
                    }
                }
            }
            this.flush_batch();
            if waiting && this.ready.is_empty() {
                return Poll::Pending;
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Ended) && self.ready.is_empty()
    }
}

/// prost's output: into the batch, except large `Bytes` fields, which are
/// noted with their place and kept as they are.
struct Writer<'a> {
    batch: &'a mut BytesMut,
    shared: &'a mut Vec<(usize, Bytes)>,
}

// SAFETY: every method delegates to `BytesMut`'s own implementation, whose
// contract this therefore keeps: `chunk_mut` is the batch's spare capacity
// and `advance_mut` the batch's, over the same bytes. `put` only adds a
// safe path beside it.
#[allow(unsafe_code)]
unsafe impl BufMut for Writer<'_> {
    #[inline]
    fn remaining_mut(&self) -> usize {
        self.batch.remaining_mut()
    }

    #[inline]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's promise (`cnt` bytes of `chunk_mut` written)
        // is about the batch's spare capacity, which `chunk_mut` returned.
        unsafe { self.batch.advance_mut(cnt) }
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.batch.chunk_mut()
    }

    #[inline]
    fn put<T: Buf>(&mut self, mut src: T)
    where
        Self: Sized,
    {
        if src.remaining() >= SHARE_FROM {
            // `Bytes` hands itself over here without a copy.
            let bytes = src.copy_to_bytes(src.remaining());
            self.shared.push((self.batch.len(), bytes));
        } else {
            self.batch.put(src);
        }
    }

    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        self.batch.put_slice(src);
    }

    #[inline]
    fn put_u8(&mut self, n: u8) {
        self.batch.put_u8(n);
    }

    #[inline]
    fn put_bytes(&mut self, val: u8, cnt: usize) {
        self.batch.put_bytes(val, cnt);
    }
}
