//! Messages out of an HTTP/2 body: gRPC frames parsed straight off the
//! body's data chunks.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::Stream;
use http::{HeaderMap, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use prost::bytes::{Buf, BufMut, Bytes, BytesMut};
use tonic::{Code, Status};

use super::{DecodeFrame, HEADER_BYTES};

type BoxedBody = Pin<Box<dyn Body<Data = Bytes, Error = Status> + Send + 'static>>;

/// What the body carries: a request ends with its last frame; a response
/// ends with its status in trailers (or, missing, inferred from the HTTP
/// status).
#[derive(Debug, Clone, Copy)]
enum Carries {
    Request,
    Response(StatusCode),
}

#[derive(Debug)]
enum State {
    Open,
    /// Ended cleanly: `None` from now on.
    Ended,
    /// The error to yield once, then the end.
    Failed(Option<Status>),
}

/// The messages of one gRPC stream, decoded from its HTTP/2 body.
///
/// tonic's `Streaming` copies every data chunk into one growing buffer
/// before decoding, and grows (reallocating, copying again) to fit each
/// large frame. Here the chunks are kept as they arrived: a frame inside
/// one chunk is decoded from it directly, and one spanning chunks is read
/// across them, so a large bytes field (a body or tunnel chunk) is a slice
/// of the chunk it arrived in, never copied. Nothing is reserved ahead for
/// a declared length; what is buffered is what the peer sent, which HTTP/2
/// flow control bounds.
///
/// Errors match tonic's: an over-limit length is `OUT_OF_RANGE`, an
/// undecodable frame, a compressed frame or a truncated body `INTERNAL`, a
/// body error the status it maps to; a response's trailers carry its final
/// status.
pub struct FrameStream<M> {
    body: BoxedBody,
    chunks: Chunks,
    /// The length of the frame whose header was read.
    pending: Option<usize>,
    max: usize,
    carries: Carries,
    trailers: Option<HeaderMap>,
    state: State,
    _message: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for FrameStream<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream")
            .field("buffered", &self.chunks.len)
            .field("pending", &self.pending)
            .field("max", &self.max)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<M: DecodeFrame> FrameStream<M> {
    /// The messages of a request body (server side), none over `max` bytes.
    pub fn request<B>(body: B, max: usize) -> Self
    where
        B: Body + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self::new(body, max, Carries::Request)
    }

    /// The messages of a response body (client side) with HTTP status
    /// `status`, none over `max` bytes; its trailers' status ends it.
    pub fn response<B>(body: B, status: StatusCode, max: usize) -> Self
    where
        B: Body + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self::new(body, max, Carries::Response(status))
    }

    fn new<B>(body: B, max: usize, carries: Carries) -> Self
    where
        B: Body + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let body = body
            .map_frame(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
            .map_err(|e| Status::from_error(e.into()));
        FrameStream {
            body: Box::pin(body),
            chunks: Chunks::default(),
            pending: None,
            max,
            carries,
            trailers: None,
            state: State::Open,
            _message: PhantomData,
        }
    }

    /// The next message: `Ok(None)` at the clean end of the stream.
    pub async fn message(&mut self) -> Result<Option<M>, Status> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// A whole frame, if one is buffered.
    fn decode_buffered(&mut self) -> Result<Option<M>, Status> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                let Some(header) = self.chunks.header() else {
                    return Ok(None);
                };
                self.chunks.skip(HEADER_BYTES);
                match header[0] {
                    0 => {}
                    1 => {
                        return Err(Status::internal(
                            "protocol error: received message with compressed-flag but no grpc-encoding was specified",
                        ));
                    }
                    flag => {
                        return Err(Status::internal(format!(
                            "protocol error: received message with invalid compression flag: {flag} (valid flags are 0 and 1)"
                        )));
                    }
                }
                let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
                if len > self.max {
                    return Err(Status::out_of_range(format!(
                        "Error, decoded message length too large: found {len} bytes, the limit is: {} bytes",
                        self.max
                    )));
                }
                self.pending = Some(len);
                len
            }
        };
        if self.chunks.len < len {
            return Ok(None);
        }
        self.pending = None;
        let decoded = match self.chunks.split_frame(len) {
            Frame::One(bytes) => M::decode_frame(bytes),
            Frame::Spread(chunks) => M::decode_frame(chunks),
        };
        decoded
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }

    /// The stream's end once the body has ended.
    fn end(&mut self) -> Option<Result<M, Status>> {
        if self.chunks.len > 0 || self.pending.is_some() {
            return self.fail(Status::internal("Unexpected EOF decoding stream."));
        }
        match self.carries {
            Carries::Request => {
                self.state = State::Ended;
                None
            }
            Carries::Response(status) => match final_status(self.trailers.as_ref(), status) {
                Ok(()) => {
                    self.state = State::Ended;
                    None
                }
                Err(status) => self.fail(status),
            },
        }
    }

    fn fail(&mut self, status: Status) -> Option<Result<M, Status>> {
        self.state = State::Failed(None);
        self.chunks = Chunks::default();
        self.pending = None;
        Some(Err(status))
    }
}

impl<M: DecodeFrame> Stream for FrameStream<M> {
    type Item = Result<M, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {}
                State::Ended => return Poll::Ready(None),
                State::Failed(status) => return Poll::Ready(status.take().map(Err)),
            }
            match this.decode_buffered() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(status) => return Poll::Ready(this.fail(status)),
            }
            match ready!(this.body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.chunks.push(data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            match &mut this.trailers {
                                Some(t) => t.extend(trailers),
                                None => this.trailers = Some(trailers),
                            }
                        }
                    }
                },
                // A client that cancels its request ends it (as tonic has it).
                Some(Err(status))
                    if matches!(this.carries, Carries::Request)
                        && status.code() == Code::Cancelled =>
                {
                    this.state = State::Ended;
                    return Poll::Ready(None);
                }
                Some(Err(status)) => return Poll::Ready(this.fail(status)),
                None => return Poll::Ready(this.end()),
            }
        }
    }
}

/// A response's final status from its trailers, or, without one, from its
/// HTTP status (gRPC's HTTP-to-status mapping, as tonic applies it).
fn final_status(trailers: Option<&HeaderMap>, http: StatusCode) -> Result<(), Status> {
    if let Some(status) = trailers.and_then(Status::from_header_map) {
        return if status.code() == Code::Ok {
            Ok(())
        } else {
            Err(status)
        };
    }
    let code = match http {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        StatusCode::OK => {
            return Err(Status::unknown(
                "protocol error: missing grpc-status trailer, stream was terminated without a final status",
            ));
        }
        _ => Code::Unknown,
    };
    Err(Status::new(
        code,
        format!(
            "grpc-status header missing, mapped from HTTP status code {}",
            http.as_u16()
        ),
    ))
}

/// The body's data chunks not yet decoded, in order; none is empty. A
/// frame spread over several is read through them as one buffer, where a
/// bytes field inside one chunk is a slice of it.
///
/// Chunks are kept as slices, except that once 8 entries are queued, a
/// chunk under 1 KiB is copied into `open`, a block that collects small
/// chunks: a slice keeps the HTTP/2 read buffer it points into alive, so a
/// peer sending a large frame a byte per data frame would otherwise make
/// the gateway hold ten times what it sent, and a queue entry per byte.
/// Frames that arrive whole (the usual case) stay zero-copy.
#[derive(Debug, Default)]
struct Chunks {
    queue: VecDeque<Bytes>,
    /// Small chunks, after everything in `queue`.
    open: BytesMut,
    len: usize,
}

/// Chunks below this size are copied together into one block once
/// [`SLICES_BEFORE_COPYING`] entries are queued.
const SMALL_CHUNK: usize = 1024;
/// Queue entries kept as slices before small chunks are copied.
const SLICES_BEFORE_COPYING: usize = 8;

/// One frame's bytes: in one chunk, or spread over several.
enum Frame {
    One(Bytes),
    Spread(Chunks),
}

impl Chunks {
    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        let crowded = self.queue.len() >= SLICES_BEFORE_COPYING || !self.open.is_empty();
        if data.len() < SMALL_CHUNK && crowded {
            self.open.extend_from_slice(&data);
        } else {
            self.seal();
            self.queue.push_back(data);
        }
    }

    /// Moves the small chunks collected so far to the queue, so that
    /// everything buffered is in `queue`.
    #[inline]
    fn seal(&mut self) {
        if !self.open.is_empty() {
            self.queue.push_back(self.open.split().freeze());
        }
    }

    /// The next 5-byte frame header, if buffered.
    fn header(&mut self) -> Option<[u8; HEADER_BYTES]> {
        if self.len < HEADER_BYTES {
            return None;
        }
        self.seal();
        if let Some(header) = self.queue.front().and_then(|f| f.first_chunk()) {
            return Some(*header);
        }
        let mut header = [0u8; HEADER_BYTES];
        let mut at = 0;
        for chunk in &self.queue {
            let n = chunk.len().min(HEADER_BYTES - at);
            header[at..at + n].copy_from_slice(&chunk[..n]);
            at += n;
            if at == HEADER_BYTES {
                break;
            }
        }
        Some(header)
    }

    /// Drops `n` buffered bytes (`n <= len`).
    fn skip(&mut self, mut n: usize) {
        assert!(n <= self.len, "skipping past the buffered bytes");
        // Only what the queue cannot cover needs the open block sealed.
        if n > self.len - self.open.len() {
            self.seal();
        }
        self.len -= n;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if front.len() > n {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.queue.pop_front();
        }
    }

    /// The next `n` buffered bytes (`n <= len`), without copying.
    fn split_frame(&mut self, n: usize) -> Frame {
        self.seal();
        if let Some(front) = self.queue.front_mut()
            && front.len() >= n
        {
            self.len -= n;
            let bytes = front.split_to(n);
            if front.is_empty() {
                self.queue.pop_front();
            }
            return Frame::One(bytes);
        }
        let mut frame = Chunks::default();
        while frame.len < n {
            let Some(mut front) = self.queue.pop_front() else {
                break;
            };
            if front.len() > n - frame.len {
                self.queue.push_front(front.split_off(n - frame.len));
            }
            frame.len += front.len();
            frame.queue.push_back(front);
        }
        self.len -= frame.len;
        Frame::Spread(frame)
    }
}

impl Buf for Chunks {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        self.queue.front().map_or(&[], |b| &b[..])
    }

    fn advance(&mut self, n: usize) {
        self.skip(n);
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        assert!(len <= self.len, "copying past the buffered bytes");
        match self.split_frame(len) {
            Frame::One(bytes) => bytes,
            Frame::Spread(mut spread) => {
                let mut out = BytesMut::with_capacity(spread.len);
                while let Some(piece) = spread.queue.pop_front() {
                    out.put(piece);
                }
                out.freeze()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, Chunks, Frame};

    #[test]
    fn tiny_chunks_are_held_in_one_block_not_one_entry_each() {
        let mut chunks = Chunks::default();
        for i in 0..10_000u32 {
            chunks.push(Bytes::copy_from_slice(&[i as u8]));
        }
        // Eight slices, then one block for the rest.
        assert_eq!((chunks.queue.len(), chunks.open.len()), (8, 9_992));
        // A large chunk goes in as it is, after the block.
        let large = Bytes::from(vec![7u8; 4096]);
        chunks.push(large.clone());
        assert_eq!(chunks.queue.len(), 10);
        match chunks.split_frame(10_000) {
            Frame::Spread(spread) => assert_eq!(spread.queue.len(), 9),
            Frame::One(_) => panic!("eight slices and a block"),
        }
        match chunks.split_frame(4096) {
            Frame::One(rest) => assert_eq!(rest.as_ptr(), large.as_ptr()),
            Frame::Spread(_) => panic!("the large chunk is one chunk"),
        }
    }
}
