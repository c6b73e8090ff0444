//! Serving HTTP over Aether at the wire level: the requests addressed to
//! this client, each with its body (streamed as its chunks arrive), its
//! caller, and a [`Responder`].

use std::collections::HashMap;

use super::Headers;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::chunks::send_body;
use super::request::Body;
use crate::clients::Client;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::connection::{OpRequest, Push, PushFilter, PushReceiver, Slot};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, AuthorizationContext, ProxyHttpRequest, proxy_error};

/// How this client serves HTTP requests.
///
/// ```
/// use std::time::Duration;
/// use aether_client::proxy::ServeOptions;
/// let opts = ServeOptions::new().allow_paths(["/api/*", "/health"]).body_idle_timeout(Duration::from_secs(10));
/// assert!(opts.allows("/api/items"));
/// assert!(!opts.allows("/admin"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Paths served (`*` / `/*` = all, `prefix/*`, exact paths, and `*`
    /// anywhere as a wildcard); others are refused with `ACL_DENIED`.
    pub allow_paths: Vec<String>,
    /// Requests waiting to be taken before the connection slows down.
    pub queue: usize,
    /// Chunked request bodies in progress at once; beyond, new chunked
    /// requests are refused (`UNKNOWN`, "too many request bodies").
    pub max_pending_bodies: usize,
    /// Longest wait for the next chunk of a request body, and for a handler
    /// to take one: past it the body ends with a `Timeout` error.
    pub body_idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            allow_paths: vec!["/*".to_string()],
            queue: 64,
            max_pending_bodies: 1024,
            body_idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ServeOptions {
    /// Every path, 64 queued requests, 1,024 bodies in progress, 60 s idle.
    pub fn new() -> Self {
        Self::default()
    }

    /// The paths served.
    pub fn allow_paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Requests waiting to be taken.
    pub fn queue(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// Chunked bodies in progress at once.
    pub fn max_pending_bodies(mut self, n: usize) -> Self {
        self.max_pending_bodies = n.max(1);
        self
    }

    /// Longest wait for a body chunk.
    pub fn body_idle_timeout(mut self, t: Duration) -> Self {
        self.body_idle_timeout = t;
        self
    }

    /// Whether `path` (without its query) is served.
    pub fn allows(&self, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or("/");
        self.allow_paths.iter().any(|p| path_matches(p, path))
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    if pattern == "*" || pattern == "/*" || pattern == path {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix("/*")
        && !prefix.contains('*')
    {
        return path == prefix || path.starts_with(&format!("{prefix}/"));
    }
    glob(pattern.as_bytes(), path.as_bytes())
}

/// `*` matches any run of characters (including `/`), as `fnmatch` does.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == text[t] || pattern[p] == b'?') {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Who sent a request, from the identity headers the gateway minted (it
/// strips any the caller sent), and the request's authorization.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Caller {
    /// The caller's identity topic (`X-Aether-Caller-Topic`).
    pub topic: String,
    /// The caller's principal type, lower-case (`agent`, `user`, ...).
    pub principal_type: String,
    /// The acting principal's id (`X-Auth-Actor-ID`).
    pub actor_id: String,
    /// The user id (`X-Auth-User-ID`: the user's id for users, the
    /// identity otherwise).
    pub user_id: String,
    /// The request's workspace: its app workspace, else the tenant header.
    pub workspace: String,
    /// The request's authorization context, if any.
    pub authorization: Option<AuthorizationContext>,
}

impl Caller {
    /// A caller known only by its identity topic (a tunnel's caller): the
    /// principal type comes from the topic's prefix.
    pub fn from_topic(topic: &str) -> Self {
        let principal_type = match topic.split("::").next().unwrap_or("") {
            "ag" => "agent",
            "tk" => "task",
            "us" => "user",
            "or" => "orchestrator",
            "wf" => "workflow_engine",
            "mb" => "metrics_bridge",
            "sv" => "service",
            "br" => "bridge",
            _ => "",
        };
        Caller {
            topic: topic.to_string(),
            principal_type: principal_type.to_string(),
            ..Caller::default()
        }
    }

    fn from_request(r: &ProxyHttpRequest) -> Self {
        Self::from_minted(
            |name| r.header(name),
            &r.app_workspace,
            r.authorization.clone(),
        )
    }

    /// The caller the gateway-minted entries name (request headers, or a
    /// tunnel's open metadata), read with `lookup` (a name in any case).
    pub(crate) fn from_minted<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
        app_workspace: &str,
        authorization: Option<AuthorizationContext>,
    ) -> Self {
        let header = |name: &str| lookup(name).unwrap_or_default().to_string();
        let workspace = if app_workspace.is_empty() {
            header("x-auth-tenant-id")
        } else {
            app_workspace.to_string()
        };
        Caller {
            topic: header("x-aether-caller-topic"),
            principal_type: header("x-auth-principal-type").to_ascii_lowercase(),
            actor_id: header("x-auth-actor-id"),
            user_id: header("x-auth-user-id"),
            workspace,
            authorization,
        }
    }
}

/// The kinds of failure a terminator can answer with (`ProxyError.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyErrorKind {
    /// Unclassified.
    Unknown,
    /// The backend could not be reached.
    DialFailed,
    /// The backend took too long.
    Timeout,
    /// The backend went away mid-response.
    UpstreamReset,
    /// Not allowed.
    AclDenied,
    /// No instance available.
    SidecarUnavailable,
    /// The request or response is too large.
    PayloadTooLarge,
    /// The request could not be decoded.
    DecodeFailed,
}

impl ProxyErrorKind {
    /// The proxy error kind of an error, when it is a proxy failure (the
    /// gateway or the terminator answered with a `ProxyError`).
    ///
    /// ```
    /// use aether_client::proxy::ProxyErrorKind;
    /// assert_eq!(ProxyErrorKind::from_code("SIDECAR_UNAVAILABLE"), Some(ProxyErrorKind::SidecarUnavailable));
    /// ```
    pub fn of(e: &Error) -> Option<Self> {
        e.code().and_then(Self::from_code)
    }

    /// The kind named by its wire name (`SIDECAR_UNAVAILABLE`, ...).
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "UNKNOWN" => ProxyErrorKind::Unknown,
            "DIAL_FAILED" => ProxyErrorKind::DialFailed,
            "TIMEOUT" => ProxyErrorKind::Timeout,
            "UPSTREAM_RESET" => ProxyErrorKind::UpstreamReset,
            "ACL_DENIED" => ProxyErrorKind::AclDenied,
            "SIDECAR_UNAVAILABLE" => ProxyErrorKind::SidecarUnavailable,
            "PAYLOAD_TOO_LARGE" => ProxyErrorKind::PayloadTooLarge,
            "DECODE_FAILED" => ProxyErrorKind::DecodeFailed,
            _ => return None,
        })
    }

    /// Its wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyErrorKind::Unknown => "UNKNOWN",
            ProxyErrorKind::DialFailed => "DIAL_FAILED",
            ProxyErrorKind::Timeout => "TIMEOUT",
            ProxyErrorKind::UpstreamReset => "UPSTREAM_RESET",
            ProxyErrorKind::AclDenied => "ACL_DENIED",
            ProxyErrorKind::SidecarUnavailable => "SIDECAR_UNAVAILABLE",
            ProxyErrorKind::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ProxyErrorKind::DecodeFailed => "DECODE_FAILED",
        }
    }

    pub(crate) fn wire(self) -> i32 {
        use proxy_error::Kind;
        (match self {
            ProxyErrorKind::Unknown => Kind::Unknown,
            ProxyErrorKind::DialFailed => Kind::DialFailed,
            ProxyErrorKind::Timeout => Kind::Timeout,
            ProxyErrorKind::UpstreamReset => Kind::UpstreamReset,
            ProxyErrorKind::AclDenied => Kind::AclDenied,
            ProxyErrorKind::SidecarUnavailable => Kind::SidecarUnavailable,
            ProxyErrorKind::PayloadTooLarge => Kind::PayloadTooLarge,
            ProxyErrorKind::DecodeFailed => Kind::DecodeFailed,
        }) as i32
    }
}

/// One piece of a request body on its way to the handler.
enum Piece {
    Data(Bytes),
    Fin,
    Failed(Error),
}

/// A request body, as it arrives: a `Stream<Item = Result<Bytes>>` that
/// ends after the last chunk, or with an error (the caller went away, a
/// chunk did not come within the idle timeout, chunks out of order).
pub struct IncomingBody {
    state: BodyState,
}

enum BodyState {
    Full(Option<Bytes>),
    Chunks {
        rx: mpsc::Receiver<Piece>,
        idle: Duration,
        timer: Option<Pin<Box<Sleep>>>,
    },
    Done,
}

impl std::fmt::Debug for IncomingBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingBody").finish_non_exhaustive()
    }
}

impl IncomingBody {
    /// The whole body.
    pub async fn collect(mut self) -> Result<Bytes> {
        use futures_util::StreamExt;
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }
}

impl Stream for IncomingBody {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = &mut *self;
        match &mut this.state {
            BodyState::Done => Poll::Ready(None),
            BodyState::Full(body) => {
                let body = body.take().unwrap_or_default();
                this.state = BodyState::Done;
                Poll::Ready((!body.is_empty()).then_some(Ok(body)))
            }
            BodyState::Chunks { rx, idle, timer } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Piece::Data(d))) => {
                    *timer = None;
                    Poll::Ready(Some(Ok(d)))
                }
                Poll::Ready(Some(Piece::Fin)) => {
                    this.state = BodyState::Done;
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Piece::Failed(e))) => {
                    this.state = BodyState::Done;
                    Poll::Ready(Some(Err(e)))
                }
                Poll::Ready(None) => {
                    this.state = BodyState::Done;
                    Poll::Ready(Some(Err(Error::connection_lost(
                        true,
                        "the request body ended before its last chunk",
                    ))))
                }
                Poll::Pending => {
                    let idle = *idle;
                    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    ready!(t.as_mut().poll(cx));
                    this.state = BodyState::Done;
                    Poll::Ready(Some(Err(Error::new(
                        ErrorKind::Timeout,
                        format!("no request body chunk within {idle:?}"),
                    ))))
                }
            },
        }
    }
}

/// Answers one request. Dropping it unanswered (or mid-way through a
/// streamed response: a cancelled or panicking handler) answers
/// `UPSTREAM_RESET`, so no caller waits for a response that will never
/// come.
pub struct Responder {
    client: Client<AnyPrincipal>,
    id: String,
    answered: bool,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("id", &self.id).finish()
    }
}

impl Responder {
    fn new(client: Client<AnyPrincipal>, id: String) -> Self {
        Responder {
            client,
            id,
            answered: false,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Sends the response: inline when the body is in memory and at most
    /// 256 KiB, otherwise a header then the body in chunks (streamed as it
    /// is produced). Returns once the last frame is queued. With more than
    /// [`Headers::MAX`] headers it answers `PAYLOAD_TOO_LARGE` instead and
    /// returns an invalid-input error.
    pub async fn respond(
        mut self,
        status: u16,
        headers: Headers,
        body: impl Into<Body>,
    ) -> Result<()> {
        if let Err(e) = headers.check_count() {
            let why = e.to_string();
            let _ = self.error(ProxyErrorKind::PayloadTooLarge, &why).await;
            return Err(e);
        }
        let body = body.into();
        let chunked = body.is_chunked();
        let (inline, body) = match body {
            Body::Full(b) if !chunked => (b, None),
            other => (Bytes::new(), Some(other)),
        };
        let header = proto::ProxyHttpResponse {
            request_id: self.id.clone(),
            status_code: i32::from(status),
            headers: headers.into_wire(),
            headers_skipped: 0,
            body: inline,
            body_chunked: chunked,
            error: None,
        };
        let sent = self.client.call(response_frame(header)).await;
        let Some(body) = body else {
            self.answered = true;
            return sent.map(drop);
        };
        sent?;
        let sent = send_body(&self.client, &self.id, false, body).await;
        self.answered = true;
        if let Err(e) = &sent {
            // The caller learns the body broke off rather than waiting for
            // a last chunk that will not come.
            let why = format!("the response body failed: {e}");
            let kind = match e.kind() {
                ErrorKind::PayloadTooLarge => ProxyErrorKind::PayloadTooLarge,
                ErrorKind::Timeout => ProxyErrorKind::Timeout,
                _ => ProxyErrorKind::UpstreamReset,
            };
            let _ = self.client.call(error_frame(&self.id, kind, &why)).await;
        }
        sent
    }

    /// Answers with a proxy error instead of a response.
    pub async fn error(mut self, kind: ProxyErrorKind, message: &str) -> Result<()> {
        self.answered = true;
        self.client
            .call(error_frame(&self.id, kind, message))
            .await
            .map(drop)
    }

    /// The request's wire id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let frame = error_frame(
            &self.id,
            ProxyErrorKind::UpstreamReset,
            "the handler dropped the request without answering",
        );
        // Best effort, never waiting.
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let _ = client.call(frame).await;
        });
    }
}

fn response_frame(r: proto::ProxyHttpResponse) -> OpRequest {
    OpRequest::fire_and_forget("proxy_http_response", Up::ProxyHttpResponse(Box::new(r)))
}

fn error_frame(id: &str, kind: ProxyErrorKind, message: &str) -> OpRequest {
    response_frame(proto::ProxyHttpResponse {
        request_id: id.to_string(),
        error: Some(proto::ProxyError {
            kind: kind.wire(),
            message: message.to_string(),
        }),
        ..Default::default()
    })
}

/// One HTTP request addressed to this client.
#[derive(Debug)]
#[non_exhaustive]
pub struct IncomingRequest {
    /// The method (upper-case).
    pub method: String,
    /// The path, with its query.
    pub path: String,
    /// The headers, as the gateway delivered them (identity headers minted
    /// by the gateway; the caller's own `x-auth-*`/`x-aether-*` removed).
    pub headers: Headers,
    /// Who sent it.
    pub caller: Caller,
    /// The caller's time to first byte, if it set one.
    pub timeout: Option<Duration>,
    /// Longest pause the caller accepts between response chunks, if set.
    pub idle_timeout: Option<Duration>,
    /// Largest response body the caller accepts (0 = unlimited).
    pub max_response_bytes: u64,
    /// Whether the caller asked for an indefinitely streaming response.
    pub stream_indefinitely: bool,
    /// The body.
    pub body: IncomingBody,
    /// Answers the request.
    pub responder: Responder,
}

fn duration(ms: i64) -> Option<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

impl IncomingRequest {
    fn new(r: ProxyHttpRequest, body: IncomingBody, responder: Responder) -> Self {
        let caller = Caller::from_request(&r);
        IncomingRequest {
            method: r.method.to_ascii_uppercase(),
            path: if r.path.is_empty() {
                "/".to_string()
            } else {
                r.path
            },
            headers: Headers::from_wire(r.headers, r.body.len()),
            caller,
            timeout: duration(r.timeout_ms),
            idle_timeout: duration(r.stream_idle_timeout_ms),
            max_response_bytes: u64::try_from(r.max_response_body_bytes).unwrap_or(0),
            stream_indefinitely: r.stream_response_indefinitely,
            body,
            responder,
        }
    }
}

/// The HTTP requests addressed to this client, as a `Stream`, in arrival
/// order. Bounded: requests nobody takes slow the connection down. Ends
/// when the client closes. Dropping it stops serving: requests that arrive
/// afterwards are no longer answered by it.
pub struct IncomingRequests {
    rx: mpsc::Receiver<IncomingRequest>,
    demux: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for IncomingRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingRequests").finish_non_exhaustive()
    }
}

impl Drop for IncomingRequests {
    fn drop(&mut self) {
        self.demux.abort();
    }
}

impl Stream for IncomingRequests {
    type Item = IncomingRequest;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<IncomingRequest>> {
        self.rx.poll_recv(cx)
    }
}

impl<P: PrincipalType> Client<P> {
    /// Starts serving the HTTP requests addressed to this client's topic;
    /// call it before `connect()` so that none is missed. The `http`
    /// feature's terminator serves them with any tower service.
    pub fn http_requests(&self, opts: ServeOptions) -> IncomingRequests {
        let pushes = self.subscribe(PushFilter::ProxyRequests);
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let demux = tokio::spawn(demux(self.erase(), pushes, tx, opts));
        IncomingRequests { rx, demux }
    }
}

/// A chunked body being fed to its handler.
struct Feed {
    tx: mpsc::Sender<Piece>,
    next_seq: u32,
}

/// Hands one chunk to its body; whether the body is over (its last chunk,
/// a broken sequence, or a handler that does not take it in time).
async fn feed_chunk(feed: &mut Feed, seq: u32, data: Bytes, fin: bool, idle: Duration) -> bool {
    if seq != feed.next_seq {
        let e = Error::protocol(format!(
            "request chunk {seq} arrived where {} was expected",
            feed.next_seq
        ));
        let _ = feed.tx.try_send(Piece::Failed(e));
        return true;
    }
    feed.next_seq = feed.next_seq.wrapping_add(1);
    let mut pieces = Vec::with_capacity(2);
    if !data.is_empty() {
        pieces.push(Piece::Data(data));
    }
    if fin {
        pieces.push(Piece::Fin);
    }
    for piece in pieces {
        let handed = tokio::time::timeout(idle, feed.tx.send(piece)).await;
        if !matches!(handed, Ok(Ok(()))) {
            return true;
        }
    }
    fin
}

/// Turns request headers and body chunks, in arrival order, into requests
/// and their body streams.
async fn demux(
    client: Client<AnyPrincipal>,
    mut pushes: PushReceiver,
    tx: mpsc::Sender<IncomingRequest>,
    opts: ServeOptions,
) {
    let mut feeds: HashMap<String, Feed> = HashMap::new();
    while let Some(slot) = pushes.recv().await {
        let frame = match slot {
            Slot::Item(Push::Frame(frame)) => frame,
            Slot::Item(_) => continue,
            Slot::Lost(n) => {
                tracing::error!(
                    lost = n,
                    "HTTP request frames were lost: their callers will time out"
                );
                continue;
            }
        };
        match frame {
            Down::ProxyHttpRequest(r) => {
                if r.request_id.is_empty() {
                    continue;
                }
                let responder = Responder::new(client.clone(), r.request_id.clone());
                if r.headers_skipped > 0 {
                    let why = format!("the request has more than {} headers", Headers::MAX);
                    let _ = responder.error(ProxyErrorKind::PayloadTooLarge, &why).await;
                    continue;
                }
                if !opts.allows(&r.path) {
                    let why = format!("no terminator permits {} {}", r.method, r.path);
                    let _ = responder.error(ProxyErrorKind::AclDenied, &why).await;
                    continue;
                }
                let body = if r.body_chunked {
                    feeds.retain(|_, f| !f.tx.is_closed());
                    if feeds.len() >= opts.max_pending_bodies {
                        let _ = responder
                            .error(
                                ProxyErrorKind::Unknown,
                                "too many request bodies in progress",
                            )
                            .await;
                        continue;
                    }
                    let (btx, brx) = mpsc::channel(16);
                    feeds.insert(
                        r.request_id.clone(),
                        Feed {
                            tx: btx,
                            next_seq: 0,
                        },
                    );
                    IncomingBody {
                        state: BodyState::Chunks {
                            rx: brx,
                            idle: opts.body_idle_timeout,
                            timer: None,
                        },
                    }
                } else {
                    IncomingBody {
                        state: BodyState::Full(Some(r.body.clone())),
                    }
                };
                let request = IncomingRequest::new(*r, body, responder);
                if tx.send(request).await.is_err() {
                    return;
                }
            }
            Down::ProxyHttpBodyChunk(c) if c.is_request => {
                let c = *c;
                let Some(feed) = feeds.get_mut(&c.request_id) else {
                    tracing::debug!(request_id = %c.request_id, "request body chunk for no request dropped");
                    continue;
                };
                let ended = feed_chunk(feed, c.seq, c.data, c.fin, opts.body_idle_timeout).await;
                if ended {
                    feeds.remove(&c.request_id);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::options::CHUNK_BYTES;
    use super::*;

    #[test]
    fn paths_match_like_the_reference_terminator() {
        let opts = ServeOptions::new().allow_paths(["/api/*", "/health", "/files/*.txt"]);
        assert!(opts.allows("/api"));
        assert!(opts.allows("/api/v1/items?x=1"));
        assert!(!opts.allows("/apix"));
        assert!(opts.allows("/health"));
        assert!(!opts.allows("/healthz"));
        assert!(opts.allows("/files/a/b.txt"));
        assert!(!opts.allows("/files/a.bin"));
        assert!(ServeOptions::new().allows("/anything"));
    }

    #[test]
    fn the_caller_comes_from_the_minted_headers() {
        use aether_protocol::shared::Header;
        let r = ProxyHttpRequest {
            headers: vec![
                Header::from_static("X-Aether-Caller-Topic", "ag::ws::i::s"),
                Header::from_static("x-auth-principal-type", "Agent"),
                Header::from_static("X-Auth-Tenant-ID", "ws"),
            ],
            ..Default::default()
        };
        let c = Caller::from_request(&r);
        assert_eq!(c.topic, "ag::ws::i::s");
        assert_eq!(c.principal_type, "agent");
        assert_eq!(c.workspace, "ws");
    }

    #[test]
    fn small_bodies_go_inline() {
        assert!(!Body::from(vec![0u8; CHUNK_BYTES]).is_chunked());
        assert!(Body::from(vec![0u8; CHUNK_BYTES + 1]).is_chunked());
    }
}
