//! The driver task: connects, reads, reconnects.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use aether_protocol::frames::{CONNECT_PATH, CONTENT_TYPE, Downstream, FrameBody, FrameStream};
use futures_util::{Stream, StreamExt};
use tokio::sync::oneshot;
use tonic::codegen::http;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tower::ServiceExt;

use super::pushes::Push;
use super::router::{Routable, Router};
use super::{ConnectionState, SessionInfo, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, DownstreamMessage, UpstreamMessage};

/// How long `close()` waits for the gateway to end the stream after our EOF.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);

/// Largest upstream frame encoded (the gateway refuses what exceeds its
/// own, lower, limit in-stream).
const MAX_UPSTREAM_FRAME: usize = 64 * 1024 * 1024;

/// The frames the gateway sends on the `Connect` stream.
type Inbound = FrameStream<Downstream>;

/// A live connection after a successful handshake.
struct Established {
    session: SessionInfo,
    inbound: Inbound,
    early: Vec<Downstream>,
}

/// Why a connection ended.
enum End {
    /// `close()` was called.
    Closed,
    /// The gateway sent FORCE_DISCONNECT.
    Forced(String),
    /// The gateway ended the stream with a status.
    Status(tonic::Status),
    /// The stream ended cleanly (a loss, not a stop).
    Eof,
}

pub(super) async fn run(shared: Arc<Shared>, first: oneshot::Sender<Result<SessionInfo>>) {
    let mut first = Some(first);
    let mut attempt: u32 = 0;
    let policy = shared.options.reconnect.clone();
    let mut router = Router::new(
        shared.pending.clone(),
        shared.out_tx.clone(),
        shared.streams.clone(),
        shared.subscribers.clone(),
        shared.options.dispatch_stall,
        shared.lost.clone(),
    );
    let reason: String = loop {
        let result = tokio::select! {
            r = connect_once(&shared) => r,
            _ = shared.shutdown.cancelled() => break "closed by the client".to_string(),
        };
        match result {
            Ok(conn) => {
                attempt = 0;
                let session = conn.session.clone();
                *shared.last_session.lock() = Some(session.clone());
                shared
                    .state
                    .send_replace(ConnectionState::Connected(session.clone()));
                router.event(Push::Connected(Box::new(session.clone())));
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(session));
                }
                let mut reader = Reader {
                    shared: &shared,
                    router: &mut router,
                    forced: None,
                };
                for msg in conn.early {
                    reader.route(msg).await;
                }
                let end = reader.read(conn.inbound).await;
                let why = match &end {
                    End::Closed => "closed by the client".to_string(),
                    End::Forced(r) => format!("force-disconnected by the gateway: {r}"),
                    End::Status(s) => format!("stream ended: {:?}: {}", s.code(), s.message()),
                    End::Eof => "the gateway ended the stream".to_string(),
                };
                shared.queue.end_epoch();
                shared.pending.fail_all(&why);
                shared
                    .streams
                    .fail_all(|| Error::connection_lost(true, &why));
                router.event(Push::Disconnected(why.clone()));
                tracing::info!(reason = %why, "disconnected");
                match end {
                    End::Closed | End::Forced(_) => break why,
                    End::Status(s) if Error::from_status(&s).is_permanent() => break why,
                    _ if !policy.enabled => break why,
                    _ => {}
                }
            }
            Err(e) => {
                shared.queue.end_epoch();
                if let Some(tx) = first.take() {
                    let why = e.to_string();
                    let _ = tx.send(Err(e));
                    break why;
                }
                tracing::warn!(error = %e, attempt, "reconnect attempt failed");
                if e.is_permanent() {
                    let why = format!("reconnect refused: {e}");
                    router.event(Push::Disconnected(why.clone()));
                    break why;
                }
            }
        }
        attempt += 1;
        if policy.max_retries > 0 && attempt > policy.max_retries {
            break format!("gave up reconnecting after {} attempts", policy.max_retries);
        }
        shared
            .state
            .send_replace(ConnectionState::Reconnecting { attempt });
        let delay = policy.delay(attempt, rand::random::<f64>());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shared.shutdown.cancelled() => break "closed by the client".to_string(),
        }
    };
    let stopped = || Error::new(ErrorKind::Closed, format!("the client stopped: {reason}"));
    shared.pending.fail_all_with(stopped);
    shared.streams.fail_all(stopped);
    shared.subscribers.close_all();
    shared.closed.store(true, Ordering::Release);
    shared
        .state
        .send_replace(ConnectionState::Closed { reason });
}

async fn connect_once(shared: &Arc<Shared>) -> Result<Established> {
    let opts = &shared.options;
    let attempt = async {
        let channel = channel(shared).await?;
        let mut first = vec![init_frame(shared)];
        if let Some(ws) = shared.workspace.lock().clone() {
            first.push(UpstreamMessage {
                payload: Some(Up::SwitchWorkspace(Box::new(proto::SwitchWorkspace {
                    new_workspace_id: ws,
                }))),
                active_extensions: Vec::new(),
            });
        }
        let stream = shared.queue.stream(first);
        let mut inbound = open_stream(channel, stream, opts.max_inbound_frame).await?;
        let mut early = Vec::new();
        loop {
            match inbound.message().await {
                Ok(Some(Downstream::Frame(DownstreamMessage {
                    payload: Some(Down::ConnectionAck(ack)),
                    ..
                }))) => {
                    check_extensions(shared, &ack)?;
                    let identity = shared
                        .principal
                        .identity_string_with(Some(&ack.assigned_id));
                    let session = SessionInfo::from_ack(&ack, identity);
                    return Ok(Established {
                        session,
                        inbound,
                        early,
                    });
                }
                Ok(Some(other)) => early.push(other),
                Ok(None) => {
                    return Err(Error::new(
                        ErrorKind::Unreachable,
                        "the gateway ended the stream before its ConnectionAck",
                    ));
                }
                Err(status) => return Err(Error::from_status(&status)),
            }
        }
    };
    match tokio::time::timeout(opts.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("no ConnectionAck within {:?}", opts.connect_timeout),
        )),
    }
}

/// Opens the `Connect` stream: `upstream` as its request body, framed by
/// [`aether_protocol::frames`] both ways (no copy of body and tunnel
/// chunks), with tonic's request headers and response handling.
async fn open_stream(
    channel: Channel,
    upstream: impl futures_util::Stream<Item = UpstreamMessage> + Send + 'static,
    max_inbound: usize,
) -> Result<Inbound> {
    let body = FrameBody::request(upstream.map(Ok::<_, Status>), MAX_UPSTREAM_FRAME);
    let mut request = http::Request::new(tonic::body::Body::new(body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static(CONNECT_PATH);
    *request.version_mut() = http::Version::HTTP_2;
    let headers = request.headers_mut();
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    let transport =
        |e: tonic::transport::Error| Error::from_status(&Status::from_error(Box::new(e)));
    let response = channel.oneshot(request).await.map_err(transport)?;
    // A response of headers only carries its status there.
    if let Some(status) = Status::from_header_map(response.headers()) {
        return Err(if status.code() == Code::Ok {
            Error::new(
                ErrorKind::Unreachable,
                "the gateway ended the stream before its ConnectionAck",
            )
        } else {
            Error::from_status(&status)
        });
    }
    let status = response.status();
    Ok(FrameStream::response(
        response.into_body(),
        status,
        max_inbound,
    ))
}

fn check_extensions(shared: &Shared, ack: &proto::ConnectionAck) -> Result<()> {
    for ext in shared.options.extensions.iter().filter(|e| e.required) {
        let ok = ack
            .negotiated_extensions
            .iter()
            .any(|n| n.uri == ext.uri && n.supported);
        if !ok {
            let mut e = Error::new(
                ErrorKind::Unimplemented,
                format!(
                    "the gateway does not support the required extension {}",
                    ext.uri
                ),
            );
            e = e.with_code("ERR_EXTENSION_UNSUPPORTED");
            return Err(e.permanent());
        }
    }
    Ok(())
}

async fn channel(shared: &Shared) -> Result<Channel> {
    let opts = &shared.options;
    let url = opts.normalized_url();
    let mut ep = Endpoint::from_shared(url.clone())
        .map_err(|e| Error::invalid(format!("invalid gateway URL {url:?}: {e}")).with_source(e))?
        .connect_timeout(opts.connect_timeout)
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(4 * 1024 * 1024))
        .initial_connection_window_size(Some(8 * 1024 * 1024))
        // Frames up to 256 KiB (the largest tunnel and body chunk) arrive in
        // one HTTP/2 frame rather than sixteen.
        .max_frame_size(Some(256 * 1024));
    if let Some(k) = opts.keepalive {
        ep = ep
            .http2_keep_alive_interval(k.max(Duration::from_secs(10)))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
    }
    let https = url.starts_with("https://");
    if opts.tls.is_some() || https {
        let tls = opts.tls.clone().unwrap_or_default();
        let host = ep.uri().host().map(str::to_string);
        let cfg = tls.to_tonic(host.as_deref())?;
        ep = ep.tls_config(cfg).map_err(|e| {
            Error::new(ErrorKind::Tls, format!("TLS configuration rejected: {e}")).with_source(e)
        })?;
    }
    ep.connect().await.map_err(|e| {
        Error::new(
            ErrorKind::Unreachable,
            format!("cannot reach the gateway at {url}: {e}"),
        )
        .with_source(e)
    })
}

fn init_frame(shared: &Shared) -> UpstreamMessage {
    let resume = shared
        .last_session
        .lock()
        .as_ref()
        .map(|s| s.session_id.clone())
        .unwrap_or_default();
    let init = proto::InitConnection {
        client_type: Some(shared.principal.to_client_type()),
        credentials: shared.options.credentials.to_map(),
        resume_session_id: resume,
        extensions: shared.options.extensions.clone(),
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        client_sdk: "rust".to_string(),
        client_build_info: Some(proto::BuildInfo {
            commit: String::new(),
            built_at: String::new(),
            runtime: "rust".to_string(),
            os: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }),
    };
    UpstreamMessage {
        payload: Some(Up::Init(Box::new(init))),
        active_extensions: Vec::new(),
    }
}

/// What the reader's poll found: an item to route that may wait, a close,
/// or the end of the stream (with the gateway's status, if any).
enum Step {
    Route(Routable),
    Close,
    Ended(Option<tonic::Status>),
}

struct Reader<'a> {
    shared: &'a Arc<Shared>,
    router: &'a mut Router,
    forced: Option<String>,
}

impl Reader<'_> {
    async fn read(&mut self, mut inbound: Inbound) -> End {
        // One shutdown future for the whole loop, not one per frame.
        let shared = self.shared;
        let shutdown = shared.shutdown.cancelled();
        tokio::pin!(shutdown);
        loop {
            // Frames that route at once are routed in the poll that decoded
            // them: no future per frame, and a message is not moved through
            // one. The shutdown future is polled only when no frame is
            // ready; the flag costs no lock.
            let step = std::future::poll_fn(|cx| {
                loop {
                    if shared.closing.load(Ordering::Acquire) {
                        return Poll::Ready(Step::Close);
                    }
                    let frame = match Pin::new(&mut inbound).poll_next(cx) {
                        Poll::Ready(Some(Ok(frame))) => frame,
                        Poll::Ready(Some(Err(status))) => {
                            return Poll::Ready(Step::Ended(Some(status)));
                        }
                        Poll::Ready(None) => return Poll::Ready(Step::Ended(None)),
                        Poll::Pending => {
                            return shutdown.as_mut().poll(cx).map(|()| Step::Close);
                        }
                    };
                    if let Some(item) = self
                        .note(frame)
                        .and_then(|item| self.router.route_now(item))
                    {
                        return Poll::Ready(Step::Route(item));
                    }
                }
            })
            .await;
            match step {
                // Routing waits only for a full consumer (see the router);
                // close() must not wait behind it.
                Step::Route(item) => {
                    let routed = self.router.route(item);
                    tokio::select! {
                        biased;
                        _ = routed => {}
                        _ = &mut shutdown => return End::Closed,
                    }
                }
                Step::Close => return self.drain_on_close(inbound).await,
                Step::Ended(status) => {
                    return match (self.forced.take(), status) {
                        (Some(reason), _) => End::Forced(reason),
                        (None, Some(status)) => End::Status(status),
                        (None, None) => End::Eof,
                    };
                }
            }
        }
    }

    /// `close()`: flush what is queued, end our side, and keep routing
    /// replies until the gateway ends its side (bounded).
    async fn drain_on_close(&mut self, mut inbound: Inbound) -> End {
        self.shared.queue.close();
        let drain = async {
            while let Ok(Some(msg)) = inbound.message().await {
                self.route(msg).await;
            }
        };
        let _ = tokio::time::timeout(CLOSE_DRAIN, drain).await;
        End::Closed
    }

    /// Routes one frame (see the router), noting a forced disconnect.
    async fn route(&mut self, frame: Downstream) {
        if let Some(item) = self.note(frame)
            && let Some(item) = self.router.route_now(item)
        {
            self.router.route(item).await;
        }
    }

    /// What the router gets of a frame: a message as the push it is, any
    /// other frame's payload, noting a forced disconnect on the way.
    #[inline]
    fn note(&mut self, frame: Downstream) -> Option<Routable> {
        let payload = match frame {
            Downstream::Message(m) => return Some(Routable::Push(Push::Message(m.into()))),
            Downstream::Frame(f) => f.payload?,
        };
        match payload {
            Down::Msg(m) => Some(Routable::Push(Push::Message(m.into()))),
            Down::Signal(sig)
                if sig.r#type == proto::signal::SignalType::ForceDisconnect as i32 =>
            {
                self.forced = Some(sig.reason.clone());
                Some(Routable::Frame(Down::Signal(sig)))
            }
            other => Some(Routable::Frame(other)),
        }
    }
}
