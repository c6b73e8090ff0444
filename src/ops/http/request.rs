//! [`ProxyRequest`] and the frames that carry it: the request header, then
//! its body in chunks when it is large or streamed.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

use super::Headers;
use super::options::{CHUNK_BYTES, ProxyOptions, millis};
use crate::connection::{Expect, OpRequest, StreamBounds};
use crate::error::{Error, Result};
use crate::identity::Topic;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, ProxyHttpBodyChunk};

/// A body produced piece by piece (an upload that is not in memory).
pub type BodyStream =
    Pin<Box<dyn Stream<Item = std::result::Result<Bytes, crate::BoxError>> + Send + 'static>>;

/// The body of a request or a response being sent.
pub enum Body {
    /// All of it, in memory (sent inline up to 256 KiB, else in chunks).
    Full(Bytes),
    /// Produced as it goes (always sent in chunks of at most 256 KiB).
    Stream(BodyStream),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(b) => f.debug_tuple("Full").field(&b.len()).finish(),
            Body::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::Full(Bytes::new())
    }
}

impl Body {
    /// Whether it goes out in chunks rather than inline.
    pub(crate) fn is_chunked(&self) -> bool {
        match self {
            Body::Full(b) => b.len() > CHUNK_BYTES,
            Body::Stream(_) => true,
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Full(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Full(b.into())
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::Full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::Full(s.into())
    }
}

/// An HTTP request to send over Aether to a topic (a service instance
/// `sv::IMPL::SPEC`, any instance `sv::IMPL`, or any other topic whose
/// principal terminates HTTP).
///
/// ```
/// use aether_client::proxy::ProxyRequest;
/// let req = ProxyRequest::new("sv::search", "post", "/query?q=rust")?
///     .header("content-type", "application/json")
///     .body(r#"{"limit": 10}"#);
/// assert_eq!(req.method(), "POST");
/// # Ok::<(), aether_client::Error>(())
/// ```
#[derive(Debug)]
pub struct ProxyRequest {
    target: String,
    method: String,
    path: String,
    headers: Headers,
    body: Body,
}

impl ProxyRequest {
    /// A request to `target` (validated as a topic); `path` includes the
    /// query; the method is upper-cased.
    pub fn new(target: &str, method: &str, path: &str) -> Result<Self> {
        let topic: Topic = target.parse()?;
        Self::to_validated(topic.to_string(), method, path)
    }

    /// [`new`](Self::new) for a target already validated as a topic (in its
    /// canonical form).
    pub(crate) fn to_validated(target: String, method: &str, path: &str) -> Result<Self> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::invalid(format!("invalid HTTP method {method:?}")));
        }
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "the path must start with '/': {path:?}"
            )));
        }
        Ok(ProxyRequest {
            target,
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            headers: Headers::new(),
            body: Body::default(),
        })
    }

    /// Adds a header (a repeated name replaces the value: the wire carries
    /// one value per name; join values with `, ` to send several).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets every header at once.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    pub(crate) fn headers_ref(&self) -> &Headers {
        &self.headers
    }

    /// The target topic.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path and query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The operation: the header frame, opened as a stream of the response
    /// frames (keyed by its request id); the body (when chunked) is sent
    /// after it by the caller.
    pub(crate) fn into_parts(self, opts: &ProxyOptions) -> (OpRequest, Body) {
        let chunked = self.body.is_chunked();
        let (inline, body) = match self.body {
            Body::Full(b) if !chunked => (b, Body::Full(Bytes::new())),
            other => (Bytes::new(), other),
        };
        let frame = proto::ProxyHttpRequest {
            request_id: String::new(),
            target_topic: self.target,
            method: self.method,
            path: self.path,
            headers: self.headers.into_wire(),
            headers_skipped: 0,
            body: inline,
            body_chunked: chunked,
            authorization: opts.authorization.clone(),
            app_workspace: opts.app_workspace.clone(),
            timeout_ms: millis(opts.timeout),
            follow_redirects: opts.follow_redirects,
            backend_name: opts.backend.clone(),
            stream_response_indefinitely: opts.stream_indefinitely,
            stream_idle_timeout_ms: millis(opts.idle_timeout),
            max_response_body_bytes: i64::try_from(opts.max_response_bytes).unwrap_or(i64::MAX),
            proxy_chain_depth: 0,
            checked_access: None,
            access_receipt: None,
        };
        let req = OpRequest::new(
            "proxy_http",
            Up::ProxyHttpRequest(Box::new(frame)),
            Expect::Stream(StreamBounds::new(64, 4 * 1024 * 1024)),
        );
        (req, body)
    }
}

/// One body chunk frame (fire-and-forget).
pub(crate) fn chunk(
    request_id: &str,
    is_request: bool,
    seq: u32,
    data: Bytes,
    fin: bool,
) -> OpRequest {
    OpRequest::fire_and_forget(
        "proxy_http_chunk",
        Up::ProxyHttpBodyChunk(Box::new(ProxyHttpBodyChunk {
            request_id: request_id.to_string(),
            is_request,
            seq,
            data,
            fin,
        })),
    )
}
