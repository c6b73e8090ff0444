//! Accepting connections: the listen socket (backlog 1024), the accept loop
//! (connection limit; errors such as `EMFILE` back off instead of
//! spinning) and each connection's guard ([`GuardedIo`]), which closes a
//! connection that has not completed a handshake in time.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tonic::transport::server::Connected;

use crate::stats::Stats;

/// Listen backlog: room for a burst of clients connecting at once.
pub(crate) const BACKLOG: u32 = 1024;
/// First pause after an accept error that is not about one connection.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause after repeated accept errors.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Binds `addr` with a listen backlog of [`BACKLOG`].
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What the accept loop enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptLimits {
    /// Most connections open at once; more are closed at once.
    pub(crate) max_connections: usize,
    /// How long a connection may take to complete a session handshake.
    pub(crate) handshake_timeout: Duration,
}

/// One connection's state, shared with the sessions on it.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// A session on this connection completed its handshake.
    established: AtomicBool,
    /// The pre-authentication deadline closed it (counted once).
    timed_out: AtomicBool,
    stats: Arc<Stats>,
}

impl ConnState {
    /// A session on this connection was admitted: the handshake deadline
    /// no longer applies.
    pub(crate) fn establish(&self) {
        self.established.store(true, Ordering::Release);
    }

    fn is_established(&self) -> bool {
        self.established.load(Ordering::Acquire)
    }
}

/// The connection info tonic puts in each request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub(crate) state: Arc<ConnState>,
    /// The peer's address.
    pub(crate) remote: Option<SocketAddr>,
}

/// A TCP connection that fails its I/O once the handshake deadline passes
/// without an admitted session (whatever the peer did or did not send:
/// nothing, part of the HTTP/2 preface or TLS handshake, streams without
/// `InitConnection`, refused handshakes), so the server closes it.
pub(crate) struct GuardedIo {
    io: TcpStream,
    state: Arc<ConnState>,
    /// Until the connection is established.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl GuardedIo {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(deadline) = &mut self.deadline else {
            return Ok(());
        };
        if self.state.is_established() {
            self.deadline = None;
            return Ok(());
        }
        if deadline.as_mut().poll(cx).is_ready() {
            if !self.state.timed_out.swap(true, Ordering::AcqRel) {
                Stats::bump(&self.state.stats.connections_timed_out);
                tracing::debug!("closing a connection that completed no handshake in time");
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no session handshake completed in time",
            ));
        }
        Ok(())
    }
}

impl Drop for GuardedIo {
    fn drop(&mut self) {
        self.state
            .stats
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Connected for GuardedIo {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            state: self.state.clone(),
            remote: self.io.peer_addr().ok(),
        }
    }
}

/// Whether an accept error concerns only the connection being accepted
/// (the next accept may succeed at once).
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::BrokenPipe
    )
}

/// The accepted connections, as tonic's incoming stream. The accept loop
/// runs in its own task and ends (closing the listen socket) when the
/// stream is dropped.
pub(crate) fn incoming(
    listener: TcpListener,
    limits: AcceptLimits,
    stats: Arc<Stats>,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<GuardedIo>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(accept_loop(listener, limits, stats, tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    limits: AcceptLimits,
    stats: Arc<Stats>,
    tx: mpsc::Sender<io::Result<GuardedIo>>,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            r = listener.accept() => r,
        };
        let io = match accepted {
            Ok((io, _)) => {
                backoff = BACKOFF_MIN;
                io
            }
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory: accepting again at once
                // would fail again. Pause (doubling), so the loop does not spin.
                let before = stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                if backoff == BACKOFF_MIN || before.is_multiple_of(64) {
                    tracing::warn!(error = %e, pause = ?backoff, "accept failed; backing off");
                }
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let open = stats.connections_open.fetch_add(1, Ordering::Relaxed);
        if open as usize >= limits.max_connections {
            stats.connections_open.fetch_sub(1, Ordering::Relaxed);
            let n = stats.connections_refused.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(1024) {
                tracing::warn!(
                    max = limits.max_connections,
                    refused_total = n + 1,
                    "connection limit reached; closing new connections"
                );
            }
            drop(io);
            continue;
        }
        Stats::bump(&stats.connections_total);
        let _ = io.set_nodelay(true);
        let state = Arc::new(ConnState {
            established: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
            stats: stats.clone(),
        });
        let guarded = GuardedIo {
            io,
            state,
            deadline: Some(Box::pin(tokio::time::sleep(limits.handshake_timeout))),
        };
        if tx.send(Ok(guarded)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_backlog_holds_a_burst_of_a_thousand_connections() {
        // Nothing accepts: every connection must still complete its TCP
        // handshake, queued in the backlog (the default of 128 would leave
        // the rest waiting for a SYN retry).
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = (0..1_000).map(|_| TcpStream::connect(addr));
        let all = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::future::try_join_all(connects),
        )
        .await
        .expect("every connection completes without being accepted")
        .expect("connects");
        assert_eq!(all.len(), 1_000);
        drop(listener);
    }

    #[test]
    fn accept_errors_about_one_connection_do_not_back_off() {
        assert!(is_per_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        // EMFILE: "Too many open files".
        assert!(!is_per_connection(&io::Error::from_raw_os_error(24)));
    }
}
