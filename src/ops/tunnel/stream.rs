//! [`Tunnel`]: a byte stream to another principal through the gateway,
//! with end-to-end credit flow control, as tokio's `AsyncRead` +
//! `AsyncWrite`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes};
use futures_util::Stream;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::options::{ACK_THRESHOLD, FRAME_BYTES, INITIAL_CREDITS};
use super::staging::Staging;
use crate::clients::Client;
use crate::clients::principal::AnyPrincipal;
use crate::connection::{OpRequest, ReplyStream};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{TunnelAck, TunnelClose, TunnelData, tunnel_close};
use crate::stack::StackFuture;

/// Unacknowledged bytes a peer may have in flight towards us before it is
/// taken to ignore flow control (generous: peers may assume more initial
/// credits than the reference SDK's 1 MiB).
pub(crate) const RECEIVE_LIMIT: u64 = 4 * INITIAL_CREDITS as u64;

/// Where a tunnel's frames come from.
pub(crate) enum Frames {
    /// A tunnel this client dialled: its stream in the stream table.
    Dialled(ReplyStream),
    /// A tunnel this client accepted: fed by the listener, which counts
    /// the bytes it queued (taken off here as they are received).
    Accepted(mpsc::Receiver<Result<Down>>, Arc<AtomicU64>),
}

impl Frames {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Down>>> {
        match self {
            Frames::Dialled(s) => Pin::new(s).poll_next(cx),
            Frames::Accepted(rx, queued) => {
                let frame = ready!(rx.poll_recv(cx));
                if let Some(Ok(Down::TunnelData(d))) = &frame {
                    queued.fetch_sub(d.data.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(frame)
            }
        }
    }
}

/// A tunnel: bytes both ways between this client and its peer, through the
/// gateway.
///
/// * **Flow control** is end to end and compatible with the reference SDK:
///   each side may send 1 MiB before the other grants more, frames carry
///   at most 256 KiB, and a reader grants credits back (`TunnelAck`) once
///   it has consumed 256 KiB. A writer whose credits are spent waits; a
///   reader that does not read stops its peer. Memory stays bounded.
/// * **Half-close**: `shutdown()` sends a final (`fin`) frame; the peer
///   reads EOF and may keep writing.
/// * **Errors** are `io::Error`s whose inner error is an
///   [`aether_client::Error`](crate::Error) with the close reason as its
///   [`code`](crate::Error::code): `PEER_RESET` (`ConnectionReset`),
///   `IDLE_TIMEOUT` (`TimedOut`), `QUOTA`, `ERROR`; a lost connection is
///   `ConnectionAborted`.
/// * **Without copies**: `AsyncRead`/`AsyncWrite` copy every byte once on
///   each end, as their API requires (`AsyncWrite` into at most four
///   reused 256 KiB buffers, the 1 MiB of credits in flight; a flush or
///   shutdown lets go of those no frame still needs). [`write_chunk`](Self::write_chunk)
///   sends a [`Bytes`] as it is, [`read_chunk`](Self::read_chunk) hands
///   out the bytes as they arrived, and the `AsyncBufRead` impl lends them
///   (`tokio::io::copy_buf`); all three keep the same flow control.
/// * **Dropping** it closes it (`TunnelClose{NORMAL}`, best effort);
///   [`close`](Self::close) does it and waits for the frame to be queued.
pub struct Tunnel {
    id: String,
    client: Client<AnyPrincipal>,
    frames: Frames,
    // Receiving.
    buffer: VecDeque<Bytes>,
    next_recv_seq: u32,
    unacked: u64,
    consumed: u64,
    read_eof: bool,
    failure: Option<Error>,
    peer_closed: bool,
    // Sending.
    credits: u64,
    next_send_seq: u32,
    sending: Option<StackFuture>,
    /// Where `AsyncWrite` copies outgoing bytes.
    staging: Staging,
    acking: Option<StackFuture>,
    fin_sent: bool,
    close_sent: bool,
    runtime: tokio::runtime::Handle,
    /// The tasks waiting to read and to write. Both halves take frames from
    /// one source, which wakes only the last task that polled it, so the
    /// half that takes in a frame the other one waits for wakes it.
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("id", &self.id)
            .field("credits", &self.credits)
            .field("read_eof", &self.read_eof)
            .finish_non_exhaustive()
    }
}

impl Tunnel {
    pub(crate) fn new(
        id: String,
        client: Client<AnyPrincipal>,
        frames: Frames,
        send_credits: u32,
    ) -> Self {
        Tunnel {
            id,
            client,
            frames,
            buffer: VecDeque::new(),
            next_recv_seq: 0,
            unacked: 0,
            consumed: 0,
            read_eof: false,
            failure: None,
            peer_closed: false,
            credits: u64::from(send_credits),
            next_send_seq: 0,
            sending: None,
            staging: Staging::default(),
            acking: None,
            fin_sent: false,
            close_sent: false,
            runtime: tokio::runtime::Handle::current(),
            read_waker: None,
            write_waker: None,
        }
    }

    /// The id its frames carry.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Closes the tunnel (`TunnelClose{NORMAL}`): the peer reads EOF.
    pub async fn close(mut self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_sends(cx)).await?;
        self.close_sent = true;
        self.client
            .call(close_frame(&self.id, tunnel_close::Reason::Normal))
            .await
            .map(drop)
    }

    /// Sends `data` without copying it: cut into frames of at most
    /// [`FRAME_BYTES`](super::FRAME_BYTES) (slices of `data`), each sent
    /// as the peer's credits allow. Returns once every frame is queued; on
    /// an error, the frames before it may have been sent.
    ///
    /// ```no_run
    /// # async fn demo(tunnel: &mut aether_client::tunnel::Tunnel) -> std::io::Result<()> {
    /// let piece = bytes::Bytes::from(vec![0u8; 1 << 20]);
    /// tunnel.write_chunk(piece.clone()).await?; // the buffer is shared, not copied
    /// # Ok(()) }
    /// ```
    pub async fn write_chunk(&mut self, mut data: Bytes) -> io::Result<()> {
        while !data.is_empty() {
            std::future::poll_fn(|cx| self.poll_send(cx, data.len(), |n| data.split_to(n))).await?;
        }
        std::future::poll_fn(|cx| self.poll_sends(cx))
            .await
            .map_err(|e| to_io(&e))
    }

    /// Receives the next bytes the peer sent, as they arrived (no copy):
    /// `None` at the end of the stream. Reading grants the peer credits,
    /// as `AsyncRead` does.
    ///
    /// ```no_run
    /// # async fn demo(tunnel: &mut aether_client::tunnel::Tunnel) -> std::io::Result<()> {
    /// let mut total = 0;
    /// while let Some(chunk) = tunnel.read_chunk().await? {
    ///     total += chunk.len();
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn read_chunk(&mut self) -> io::Result<Option<Bytes>> {
        std::future::poll_fn(|cx| self.poll_read_chunk(cx)).await
    }

    /// [`read_chunk`](Self::read_chunk) as a poll function.
    pub fn poll_read_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        ready!(self.poll_fill(cx))?;
        let Some(chunk) = self.buffer.pop_front() else {
            return Poll::Ready(Ok(None));
        };
        self.consume_bytes(chunk.len(), cx);
        Poll::Ready(Ok(Some(chunk)))
    }

    /// Takes in one frame from the peer.
    fn absorb(&mut self, frame: Option<Result<Down>>) {
        match frame {
            None => {
                if !self.read_eof && self.failure.is_none() {
                    self.failure = Some(Error::connection_lost(true, "the tunnel's stream ended"));
                }
                self.peer_closed = true;
            }
            Some(Err(e)) => {
                self.failure.get_or_insert(e);
                self.peer_closed = true;
            }
            Some(Ok(Down::TunnelData(d))) => self.absorb_data(*d),
            Some(Ok(Down::TunnelAck(a))) => {
                self.credits = self.credits.saturating_add(u64::from(a.credits));
            }
            Some(Ok(Down::TunnelClose(c))) => {
                self.peer_closed = true;
                if c.reason == tunnel_close::Reason::Normal as i32 {
                    self.read_eof = true;
                } else {
                    self.failure
                        .get_or_insert(Error::tunnel_closed(c.reason, &c.detail));
                }
            }
            Some(Ok(_)) => {}
        }
    }

    fn absorb_data(&mut self, d: TunnelData) {
        if self.read_eof || self.failure.is_some() {
            return;
        }
        if d.seq != self.next_recv_seq {
            self.violation(format!(
                "tunnel frame {} arrived where {} was expected",
                d.seq, self.next_recv_seq
            ));
            return;
        }
        self.next_recv_seq = self.next_recv_seq.wrapping_add(1);
        self.unacked = self.unacked.saturating_add(d.data.len() as u64);
        if self.unacked > RECEIVE_LIMIT {
            self.violation("the peer sent past its credits".to_string());
            return;
        }
        if !d.data.is_empty() {
            self.buffer.push_back(d.data);
        }
        if d.fin {
            self.read_eof = true;
        }
    }

    /// The peer broke the protocol: the tunnel fails and is reset.
    fn violation(&mut self, why: String) {
        self.failure = Some(Error::protocol(why));
        self.buffer.clear();
        if !self.close_sent {
            self.close_sent = true;
            let frame = close_frame(&self.id, tunnel_close::Reason::Error);
            let client = self.client.clone();
            self.runtime.spawn(async move {
                let _ = client.call(frame).await;
            });
        }
    }

    /// Absorbs every frame ready now; `Ready` when the source ended. Wakes
    /// the reader when something to read (or the end) came in, and the
    /// writer when credits (or the end) came in.
    fn poll_absorb(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (buffered, credits) = (self.buffer.len(), self.credits);
        let (eof, failed, closed) = (self.read_eof, self.failure.is_some(), self.peer_closed);
        let polled = loop {
            match self.frames.poll_next(cx) {
                Poll::Ready(frame) => {
                    let end = frame.is_none();
                    self.absorb(frame);
                    if end {
                        break Poll::Ready(());
                    }
                }
                Poll::Pending => break Poll::Pending,
            }
        };
        let ended =
            (self.read_eof, self.failure.is_some(), self.peer_closed) != (eof, failed, closed);
        if (self.buffer.len() != buffered || ended)
            && let Some(w) = self.read_waker.take()
        {
            w.wake();
        }
        if (self.credits != credits || ended)
            && let Some(w) = self.write_waker.take()
        {
            w.wake();
        }
        polled
    }

    /// Drives the frames this side is sending (data, acks) to the queue.
    fn poll_sends(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(ack) = self.acking.as_mut() {
            // An ack that cannot be queued yet is retried; it never fails
            // the tunnel.
            if Pin::new(ack).poll(cx).is_ready() {
                self.acking = None;
            }
        }
        if let Some(send) = self.sending.as_mut() {
            let sent = ready!(Pin::new(send).poll(cx));
            self.sending = None;
            sent?;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes up to `n` bytes off the front of the received bytes as read
    /// by the user.
    fn consume_front(&mut self, n: usize, cx: &mut Context<'_>) {
        let Some(front) = self.buffer.front_mut() else {
            return;
        };
        let n = n.min(front.len());
        front.advance(n);
        if front.is_empty() {
            self.buffer.pop_front();
        }
        self.consume_bytes(n, cx);
    }

    /// Counts `n` bytes as read by the user, granting credits back once
    /// enough were.
    fn consume_bytes(&mut self, n: usize, cx: &mut Context<'_>) {
        self.consumed = self.consumed.saturating_add(n as u64);
        self.maybe_ack(cx);
    }

    /// Grants credits back once enough was consumed.
    fn maybe_ack(&mut self, cx: &mut Context<'_>) {
        if self.consumed < ACK_THRESHOLD || self.acking.is_some() || self.peer_closed {
            return;
        }
        let credits = u32::try_from(self.consumed).unwrap_or(u32::MAX);
        self.consumed -= u64::from(credits);
        self.unacked = self.unacked.saturating_sub(u64::from(credits));
        let frame = OpRequest::fire_and_forget(
            "tunnel_ack",
            Up::TunnelAck(Box::new(TunnelAck {
                tunnel_id: self.id.clone(),
                ack_seq: self.next_recv_seq.wrapping_sub(1),
                credits,
            })),
        );
        let mut ack = self.client.core.ops.call(frame);
        if Pin::new(&mut ack).poll(cx).is_pending() {
            self.acking = Some(ack);
        }
    }

    fn io_failure(&self) -> Option<io::Error> {
        self.failure.as_ref().map(to_io)
    }
}

fn close_frame(id: &str, reason: tunnel_close::Reason) -> OpRequest {
    OpRequest::fire_and_forget(
        "tunnel_close",
        Up::TunnelClose(Box::new(TunnelClose {
            tunnel_id: id.to_string(),
            reason: reason as i32,
            detail: String::new(),
        })),
    )
}

/// An SDK error as an `io::Error` of the fitting kind, the SDK error inside.
fn to_io(e: &Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::Unavailable => io::ErrorKind::ConnectionReset,
        ErrorKind::Timeout => io::ErrorKind::TimedOut,
        ErrorKind::Closed => io::ErrorKind::BrokenPipe,
        ErrorKind::ConnectionLost { .. } => io::ErrorKind::ConnectionAborted,
        ErrorKind::Protocol => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.clone_lossy())
}

impl Tunnel {
    /// Waits until there is something to read, the end of the stream, or a
    /// failure: `Ok` with `buffer` non-empty, or empty at the end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = self.poll_sends(cx);
        loop {
            if !self.buffer.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = self.io_failure() {
                return Poll::Ready(Err(e));
            }
            if self.read_eof {
                return Poll::Ready(Ok(()));
            }
            if self.poll_absorb(cx).is_pending()
                && self.buffer.is_empty()
                && !self.read_eof
                && self.failure.is_none()
            {
                self.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_fill(cx))?;
        let Some(front) = this.buffer.front_mut() else {
            return Poll::Ready(Ok(()));
        };
        let n = front.len().min(buf.remaining());
        buf.put_slice(&front[..n]);
        this.consume_front(n, cx);
        Poll::Ready(Ok(()))
    }
}

/// Lends the received bytes where they are: `tokio::io::copy_buf` moves a
/// tunnel's bytes with no copy of its own.
impl AsyncBufRead for Tunnel {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(this.buffer.front().map_or(&[][..], |b| &b[..])))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        // No context here: an ack that cannot be queued at once is kept
        // and driven by the next poll of either half.
        self.get_mut()
            .consume_front(amt, &mut Context::from_waker(Waker::noop()));
    }
}

impl Tunnel {
    /// Sends the first bytes of `len` ready to go as one frame, as credits
    /// allow: `take(n)` hands over those `n` bytes. `Ready(Ok(n))` once
    /// the frame is accepted.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        take: impl FnOnce(usize) -> Bytes,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_sends(cx)).map_err(|e| to_io(&e))?;
        if self.fin_sent || self.close_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the tunnel was shut down for writing",
            )));
        }
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        while self.credits == 0 {
            if let Some(e) = self.io_failure() {
                return Poll::Ready(Err(e));
            }
            if self.peer_closed {
                return Poll::Ready(Err(peer_closed()));
            }
            // Credits come back in acks, on the same stream as data.
            if self.poll_absorb(cx).is_pending() && self.credits == 0 {
                self.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        // A close that came in (a quota, a reset) stops writing at once.
        let _ = self.poll_absorb(cx);
        if let Some(e) = self.io_failure() {
            return Poll::Ready(Err(e));
        }
        if self.peer_closed {
            return Poll::Ready(Err(peer_closed()));
        }
        let n = len
            .min(FRAME_BYTES)
            .min(usize::try_from(self.credits).unwrap_or(usize::MAX));
        self.credits -= n as u64;
        let seq = self.next_send_seq;
        self.next_send_seq = seq.wrapping_add(1);
        let mut send = self
            .client
            .core
            .ops
            .call(data_frame(&self.id, seq, take(n), false));
        match Pin::new(&mut send).poll(cx) {
            Poll::Ready(Err(e)) => return Poll::Ready(Err(to_io(&e))),
            Poll::Ready(Ok(_)) => {}
            // Accepted: flushing (or the next write) drives it.
            Poll::Pending => self.sending = Some(send),
        }
        Poll::Ready(Ok(n))
    }
}

fn peer_closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the peer closed the tunnel")
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut staging = std::mem::take(&mut this.staging);
        let sent = this.poll_send(cx, buf.len(), |n| staging.copy(&buf[..n]));
        this.staging = staging;
        sent
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_sends(cx)).map_err(|e| to_io(&e))?;
        self.staging.release_idle();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_sends(cx)).map_err(|e| to_io(&e))?;
        if this.fin_sent || this.close_sent {
            return Poll::Ready(Ok(()));
        }
        this.fin_sent = true;
        let seq = this.next_send_seq;
        this.next_send_seq = seq.wrapping_add(1);
        this.sending = Some(this.client.core.ops.call(data_frame(
            &this.id,
            seq,
            Bytes::new(),
            true,
        )));
        ready!(this.poll_sends(cx)).map_err(|e| to_io(&e))?;
        this.staging.release_idle();
        Poll::Ready(Ok(()))
    }
}

fn data_frame(id: &str, seq: u32, data: Bytes, fin: bool) -> OpRequest {
    OpRequest::fire_and_forget(
        "tunnel_data",
        Up::TunnelData(Box::new(TunnelData {
            tunnel_id: id.to_string(),
            seq,
            data,
            fin,
        })),
    )
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        if self.close_sent || self.peer_closed {
            return;
        }
        // Best effort, never waiting: the gateway also ends a tunnel with
        // either peer's session.
        let frame = close_frame(&self.id, tunnel_close::Reason::Normal);
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let _ = client.call(frame).await;
        });
    }
}
